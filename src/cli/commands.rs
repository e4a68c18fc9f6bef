//! The runners of `plan`, `apply` and `emulator`.
//!
//! Every check that can fail without the API (the policy, the confirmation
//! rule, the flags) runs before the first request, so exit 2 always means
//! that no API call was made.

use std::io::{self, IsTerminal, Write};
use std::sync::{Arc, Mutex};

use anyhow::{Context as _, anyhow};
use indicatif::MultiProgress;
use tracing::warn;

use super::Failure;
use super::args::{ApplyArgs, CommonArgs, EmulatorArgs, Format, OutputFormat, PlanArgs};
use super::lock::Lock;
use super::output::Output;
use super::safety::{
    guard_limits, policy_bytes, read_saved_plan, report_violations, write_saved_plan,
};
use super::session::{Session, load_policy};
use crate::apply::{self, ApplyContext, Event, EventSink, StopFlag, Verification};
use crate::emulator::EmulatorState;
use crate::exit::Exit;
use crate::guard::{self, Limits};
use crate::observe::{self, ObservedState};
use crate::plan::preflight::{self, Refusal};
use crate::plan::saved::{self, Drift, SavedPlan};
use crate::plan::{self, Operation, Plan, subset};
use crate::policy::{Policy, Principal};
use crate::report::audit::AuditLog;
use crate::report::jsonl::{
    RunTotals, drift_record, event_record, plan_records, preflight_record, summary_record,
    verification_record,
};
use crate::report::markdown::render_markdown;
use crate::report::{Progress, ProgressMode, plan_json, render_plan, render_summary};

/// `chat-reconcile plan`.
pub async fn plan(args: &PlanArgs, quiet: bool) -> Result<Exit, Failure> {
    let policy = admin_scope(load_policy(&args.common.policy)?, args.common.admin);
    let limits = guard_limits(&policy, &args.common.guards, None, false)?;
    let policy_bytes = match &args.out {
        Some(_) => Some(policy_bytes(&args.common.policy)?),
        None => None,
    };
    let _lock = hold_lock(&args.common)?;
    let session = Session::connect(&args.common, crate::chat::oauth::Access::Read).await?;
    let result = plan_with(&session, &policy, args, &limits, policy_bytes.as_deref()).await;
    session.close(quiet).await;
    result
}

async fn plan_with(
    session: &Session,
    policy: &Policy,
    args: &PlanArgs,
    limits: &Limits,
    policy_bytes: Option<&[u8]>,
) -> Result<Exit, Failure> {
    let caller = args.common.caller.as_deref();
    let (observed, plan) = observe_and_plan(session, policy, caller).await?;
    let refusals = caller.map(|caller| preflight::check(&plan, &observed, caller));
    let in_scope = policy.spaces.len();
    let jsonl = args.common.output == Some(OutputFormat::Jsonl);
    let mut output = Output::new();
    if jsonl {
        for record in plan_records(&plan, in_scope) {
            output.println(&record.to_string())?;
        }
        for refusal in refusals.iter().flatten() {
            output.println(&preflight_record(refusal).to_string())?;
        }
    } else {
        let preflight = match (caller, &refusals) {
            (Some(caller), Some(refusals)) => preflight_text(caller, refusals),
            _ => String::new(),
        };
        match args.common.format {
            Format::Table => {
                output.print(&format!("{}{preflight}", render_plan(&plan, in_scope)))?
            }
            Format::Markdown => {
                output.print(&format!("{}{preflight}", render_markdown(&plan, in_scope)))?
            }
            Format::Json => {
                let mut document = plan_json(&plan, in_scope);
                if let (Some(caller), Some(refusals)) = (caller, &refusals) {
                    document["preflight"] = serde_json::json!({
                        "caller": caller,
                        "refusals": refusals,
                    });
                }
                let document = serde_json::to_string_pretty(&document).map_err(Failure::failed)?;
                output.println(&document)?;
            }
        }
    }
    if let (Some(path), Some(bytes)) = (&args.out, policy_bytes) {
        write_saved_plan(path, &plan, &observed, bytes)?;
    }
    let mut violations = guard::check(&plan, &observed, limits, None);
    violations.extend(guard::check_protect(&plan, false));
    if report_violations(&violations, jsonl, &mut output)? {
        return Ok(Exit::Refused);
    }
    if report_missing_spaces(&plan) > 0 {
        return Ok(Exit::Failure);
    }
    Ok(Exit::for_plan(
        args.detailed_exitcode,
        plan.operation_count(),
        plan.blocked_count(),
    ))
}

/// Leaves the policy's groups out in admin mode, with a warning naming
/// them. Admin mode must filter memberships by `member.type`, which no group
/// membership has, so the run can neither see nor check them.
fn admin_scope(mut policy: Policy, admin: bool) -> Policy {
    if !admin {
        return policy;
    }
    let mut unchecked = Vec::new();
    for space in &mut policy.spaces {
        let before = space.members.len() + space.keep.len();
        space
            .members
            .retain(|principal, _| !matches!(principal, Principal::Group(_)));
        space
            .keep
            .retain(|principal| !matches!(principal, Principal::Group(_)));
        if space.members.len() + space.keep.len() < before {
            unchecked.push(space.space.clone());
        }
    }
    if !unchecked.is_empty() {
        warn!(
            spaces = %unchecked.join(", "),
            "admin mode cannot list group memberships, so the policy's groups in these spaces are left unchecked"
        );
    }
    policy
}

/// Prints an error naming the policy's spaces that the API did not return,
/// and returns how many there are. A missing space means a typo in the
/// policy or a caller without access. The policy is not enforced there in
/// either case, so the run must not exit 0.
fn report_missing_spaces(plan: &Plan) -> usize {
    let missing: Vec<&str> = plan
        .spaces
        .iter()
        .filter(|space| space.warnings.iter().any(|w| w == plan::SPACE_NOT_FOUND))
        .map(|space| space.space.as_str())
        .collect();
    if !missing.is_empty() {
        eprintln!(
            "error: {} of the policy's spaces were not found or are not visible to the caller: {}; check the names in the policy and that the caller is a member of each space",
            missing.len(),
            missing.join(", ")
        );
    }
    missing.len()
}

/// The settings of one `apply`, checked before the first request.
struct ApplySetup {
    policy: Policy,
    limits: Limits,
    saved: Option<SavedPlan>,
    audit: Option<Arc<AuditLog>>,
    jsonl: bool,
}

/// `chat-reconcile apply`.
pub async fn apply(
    args: &ApplyArgs,
    progress: ProgressMode,
    multi: &MultiProgress,
    quiet: bool,
) -> Result<Exit, Failure> {
    let policy = admin_scope(load_policy(&args.common.policy)?, args.common.admin);
    if !args.yes && !io::stdin().is_terminal() {
        return Err(Failure::usage(anyhow!(
            "apply needs confirmation, but stdin is not a terminal; pass --yes to apply without asking"
        )));
    }
    if args.common.format == Format::Markdown {
        return Err(Failure::usage(anyhow!(
            "--format markdown is for `plan`; apply prints a table, or JSON Lines with --output jsonl"
        )));
    }
    let limits = guard_limits(&policy, &args.common.guards, args.reason.as_deref(), true)?;
    let saved = match &args.plan {
        Some(path) => Some(read_saved_plan(path, &policy_bytes(&args.common.policy)?)?),
        None => None,
    };
    let audit = match &args.audit_log {
        Some(path) => Some(Arc::new(
            AuditLog::open(path, CALLER_UNKNOWN, args.reason.as_deref())
                .with_context(|| format!("could not open the audit log {}", path.display()))
                .map_err(Failure::usage)?,
        )),
        None => None,
    };
    let setup = ApplySetup {
        policy,
        limits,
        saved,
        audit,
        jsonl: args.common.output == Some(OutputFormat::Jsonl)
            || args.common.format == Format::Json,
    };
    let _lock = hold_lock(&args.common)?;
    let session = Session::connect(&args.common, crate::chat::oauth::Access::Write).await?;
    let result = apply_with(&session, &setup, args, progress, multi).await;
    session.close(quiet).await;
    if let Some(audit) = &setup.audit
        && let Err(error) = audit.finish()
    {
        warn!(path = %audit.path().display(), %error, "could not sync the audit log to disk");
    }
    result
}

/// Who runs the tool, as the audit log records it. A bare access token does
/// not say whose it is.
const CALLER_UNKNOWN: &str = "unknown";

async fn apply_with(
    session: &Session,
    setup: &ApplySetup,
    args: &ApplyArgs,
    progress: ProgressMode,
    multi: &MultiProgress,
) -> Result<Exit, Failure> {
    let policy = &setup.policy;
    let jsonl = setup.jsonl;
    let (observed, plan, drifts) = match &setup.saved {
        Some(saved) => observe_saved(session, policy, saved).await?,
        None => {
            let (observed, plan) =
                observe_and_plan(session, policy, args.common.caller.as_deref()).await?;
            (observed, plan, Vec::new())
        }
    };
    let in_scope = policy.spaces.len();
    let output = Arc::new(Mutex::new(Output::new()));
    let mut totals = RunTotals {
        blocked: plan.blocked_count(),
        drifted: drifts.len(),
        verification: "skipped",
        ..RunTotals::default()
    };
    let caller = args.common.caller.as_deref();
    let refusals = caller.map(|caller| preflight::check(&plan, &observed, caller));
    if jsonl {
        let mut out = lock(&output);
        for record in plan_records(&plan, in_scope) {
            out.println(&record.to_string())?;
        }
        for refusal in refusals.iter().flatten() {
            out.println(&preflight_record(refusal).to_string())?;
        }
        for drift in &drifts {
            out.println(&drift_record(drift).to_string())?;
        }
    } else {
        let mut text = render_plan(&plan, in_scope);
        if let (Some(caller), Some(refusals)) = (caller, &refusals) {
            text.push_str(&preflight_text(caller, refusals));
        }
        for drift in &drifts {
            text.push_str(&format!(
                "drifted: {} {} {} (operation {} of the saved plan): {}\n",
                drift.space, drift.kind, drift.member, drift.index, drift.detail
            ));
        }
        lock(&output).print(&text)?;
    }
    // NOTE: preflight only warns. Its rules may be stricter than a space's
    // settings, so the operations still run and a real rejection is reported
    // as a failed operation.

    let mut violations = guard::check(&plan, &observed, &setup.limits, args.allow_removals);
    violations.extend(guard::check_protect(&plan, args.allow_protected));
    if report_violations(&violations, jsonl, &mut lock(&output))? {
        if jsonl {
            let record = summary_record(&totals, Exit::Refused);
            lock(&output).println(&record.to_string())?;
        }
        return Ok(Exit::Refused);
    }

    let missing = report_missing_spaces(&plan);
    let (run_plan, left) = match args.max_operations {
        Some(limit) => {
            subset::first_operations(&plan, usize::try_from(limit).unwrap_or(usize::MAX))
        }
        None => (plan.clone(), 0),
    };
    totals.left = left;
    if plan.is_empty() && plan.blocked_count() == 0 {
        let exit = if drifts.is_empty() {
            Exit::for_apply(0, missing, None)
        } else {
            Exit::Incomplete
        };
        if jsonl {
            lock(&output).println(&summary_record(&totals, exit).to_string())?;
        }
        return Ok(exit);
    }
    // A plan of blocked changes only still runs through the engine, which
    // writes nothing, so that the summary and the JSON events explain exit 4.
    if !run_plan.is_empty() && !args.yes && !confirm(&run_plan).await {
        return Err(Failure::failed(anyhow!(
            "apply cancelled; nothing was changed"
        )));
    }

    let stop = Arc::new(StopFlag::new());
    let signals = tokio::spawn(stop_on_ctrl_c(Arc::clone(&stop)));
    let context = ApplyContext {
        client: &session.client,
        limits: &session.limits,
        slow_down: &session.slow_down,
        retry: &session.retry,
        concurrency: session.concurrency,
        stop: &stop,
    };
    let sink = event_sink(
        &run_plan,
        jsonl,
        progress,
        multi,
        Arc::clone(&output),
        setup.audit.clone(),
    );
    let report = apply::apply(&run_plan, &context, sink).await;

    // The handler stays until verification ends: once tokio handles SIGINT,
    // the default action (end the process) does not come back. With
    // operations left for a later run, verification would only count them.
    let verification = if args.no_verify || left > 0 {
        Ok(None)
    } else {
        verify(session, policy, &run_plan).await.map(Some)
    };
    signals.abort();
    let verification = verification?;
    let unsuccessful = report.summary.unsuccessful() + drifts.len();
    let exit = match Exit::for_apply(
        unsuccessful,
        plan.blocked_count() + missing,
        verification
            .as_ref()
            .map(|verification| verification.remaining.operation_count()),
    ) {
        Exit::Success if left > 0 => Exit::ChangesPending,
        exit => exit,
    };
    totals.summary = report.summary.clone();
    totals.stopped = stop.is_stopped();
    totals.verification = match &verification {
        Some(verification) if verification.passed() => "passed",
        Some(_) => "failed",
        None => "skipped",
    };
    if jsonl {
        let mut out = lock(&output);
        if let Some(verification) = &verification {
            out.println(&verification_record(verification).to_string())?;
        }
        out.println(&summary_record(&totals, exit).to_string())?;
    } else {
        let mut summary = render_summary(&run_plan, &report, verification.as_ref());
        if left > 0 {
            summary.push_str(&format!(
                "Left for the next run: {left} operations (--max-operations {}); verification skipped\n",
                args.max_operations.unwrap_or_default()
            ));
        }
        lock(&output).print(&format!("\n{summary}"))?;
    }
    Ok(exit)
}

/// Observes the spaces of a saved plan again and drops the operations whose
/// starting state no longer holds.
async fn observe_saved(
    session: &Session,
    policy: &Policy,
    saved: &SavedPlan,
) -> Result<(ObservedState, Plan, Vec<Drift>), Failure> {
    let names = saved.spaces();
    let scope = Policy {
        spaces: policy
            .spaces
            .iter()
            .filter(|space| names.contains(&space.space))
            .cloned()
            .collect(),
        ..policy.clone()
    };
    let observed = observe::observe(&session.observe_context(), &scope)
        .await
        .map_err(Failure::failed)?;
    let (plan, drifts) = saved::drop_drifted(&saved.plan, &observed);
    for drift in &drifts {
        warn!(space = %drift.space, member = %drift.member, "skipping a drifted operation: {}", drift.detail);
    }
    Ok((observed, plan, drifts))
}

/// Takes `--lock-file`, if given, for the rest of the run.
fn hold_lock(common: &CommonArgs) -> Result<Option<Lock>, Failure> {
    common.lock_file.as_deref().map(Lock::acquire).transpose()
}

/// `chat-reconcile emulator`.
pub async fn emulator(args: &EmulatorArgs) -> Result<Exit, Failure> {
    let mut state = EmulatorState::load(&args.state).map_err(Failure::usage)?;

    let mut quotas = state.quotas().clone();
    for spec in &args.quota {
        quotas.apply(spec).map_err(Failure::usage)?;
    }
    state.set_quotas(quotas);

    let mut faults = state.faults().clone();
    for spec in &args.fault {
        faults.apply(spec).map_err(Failure::usage)?;
    }
    if let Some(seed) = args.fault_seed {
        faults.seed = Some(seed);
    }
    state.set_faults(faults).map_err(Failure::usage)?;

    crate::emulator::run_state(state, &args.state, args.listen)
        .await
        .map_err(Failure::failed)?;
    Ok(Exit::Success)
}

/// Observes the policy's spaces and plans. With a `caller`, its email is
/// resolved like the policy's own, so that preflight can find the caller's
/// membership where the API leaves emails out.
async fn observe_and_plan(
    session: &Session,
    policy: &Policy,
    caller: Option<&str>,
) -> Result<(ObservedState, Plan), Failure> {
    let observed = match caller {
        None => observe::observe(&session.observe_context(), policy).await,
        Some(caller) => {
            // Only the observation sees this copy: `protect` is one of the
            // lists whose emails observe resolves in every space.
            let mut lookup = policy.clone();
            lookup.protect.push(Principal::Email(caller.to_string()));
            observe::observe(&session.observe_context(), &lookup).await
        }
    }
    .map_err(Failure::failed)?;
    let plan = plan::plan(policy, &observed);
    Ok((observed, plan))
}

/// Renders preflight's findings for people, after the plan.
fn preflight_text(caller: &str, refusals: &[Refusal]) -> String {
    if refusals.is_empty() {
        return format!("\nPreflight: {caller} may make every operation.\n");
    }
    let mut text = format!(
        "\nPreflight: the API is expected to reject {} operations for {caller}:\n",
        refusals.len()
    );
    for refusal in refusals {
        text.push_str(&format!(
            "  {} #{} {}: {}\n",
            refusal.space, refusal.index, refusal.member, refusal.reason
        ));
    }
    text
}

/// Observes every space that had operations again and plans once more.
async fn verify(session: &Session, policy: &Policy, plan: &Plan) -> Result<Verification, Failure> {
    let spaces: Vec<String> = plan
        .spaces
        .iter()
        .filter(|space| !space.operations.is_empty())
        .map(|space| space.space.clone())
        .collect();
    apply::verify(&session.observe_context(), policy, &spaces)
        .await
        .map_err(|error| Failure::failed(anyhow::Error::new(error).context("verification failed")))
}

/// Routes engine events to the progress display, for JSON Lines to
/// stdout, and finished operations to the audit log.
pub(super) fn event_sink(
    plan: &Plan,
    jsonl: bool,
    progress: ProgressMode,
    multi: &MultiProgress,
    output: Arc<Mutex<Output>>,
    audit: Option<Arc<AuditLog>>,
) -> EventSink {
    let display = Mutex::new(Progress::new(progress, multi));
    let plan = plan.clone();
    EventSink::new(move |event| {
        lock(&display).handle(&event);
        if let (
            Some(audit),
            Event::OperationFinished {
                space,
                index,
                outcome,
                ..
            },
        ) = (&audit, &event)
            && let Some(operation) = find_operation(&plan, space, *index)
            && let Err(error) = audit.record(space, operation, outcome)
        {
            warn!(path = %audit.path().display(), %error, "could not write to the audit log");
        }
        if jsonl && let Some(record) = event_record(&event, &plan) {
            if let Err(failure) = lock(&output).println(&record.to_string()) {
                warn!(error = %failure.error, "could not write an event to stdout");
            }
        }
    })
}

fn find_operation<'p>(plan: &'p Plan, space: &str, index: usize) -> Option<&'p Operation> {
    plan.spaces
        .iter()
        .find(|candidate| candidate.space == space)?
        .operations
        .iter()
        .find(|operation| operation.index == index)
}

/// Asks on the terminal whether to apply; anything but `y` or `yes` is no.
pub(super) async fn confirm(plan: &Plan) -> bool {
    let operations = plan.operation_count();
    let spaces = plan
        .spaces
        .iter()
        .filter(|space| !space.operations.is_empty())
        .count();
    let question = format!("Apply {operations} operations in {spaces} spaces? [y/N] ");
    let answer = tokio::task::spawn_blocking(move || {
        let mut stderr = io::stderr().lock();
        let _ = stderr.write_all(question.as_bytes());
        let _ = stderr.flush();
        let mut line = String::new();
        io::stdin().read_line(&mut line).map(|_| line)
    })
    .await;
    match answer {
        Ok(Ok(line)) => matches!(line.trim().to_ascii_lowercase().as_str(), "y" | "yes"),
        _ => false,
    }
}

/// On the first Ctrl-C, lets requests in flight finish and skips the rest.
/// On the second, exits at once with 130, the shell's code for SIGINT.
pub(super) async fn stop_on_ctrl_c(stop: Arc<StopFlag>) {
    if !stop_signal().await {
        return;
    }
    stop.stop();
    warn!(
        "stopping: requests in flight finish and the remaining operations are skipped; press Ctrl-C again to quit at once"
    );
    if stop_signal().await {
        std::process::exit(130);
    }
}

/// Waits for Ctrl-C (SIGINT) or, on Unix, SIGTERM, which cron, systemd and
/// Kubernetes send. Returns false if no handler could be installed.
async fn stop_signal() -> bool {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let Ok(mut terminate) = signal(SignalKind::terminate()) else {
            return tokio::signal::ctrl_c().await.is_ok();
        };
        tokio::select! {
            result = tokio::signal::ctrl_c() => result.is_ok(),
            _ = terminate.recv() => true,
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await.is_ok()
    }
}

/// Locks `mutex`, also after a panic in another holder: the guarded values
/// stay usable.
pub(super) fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
