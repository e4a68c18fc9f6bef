//! The runners of `plan`, `apply` and `emulator`.
//!
//! Every check that can fail without the API (the policy, the confirmation
//! rule, the flags) runs before the first request, so exit 2 always means
//! that no API call was made.

use std::io::{self, IsTerminal, Write};
use std::sync::{Arc, Mutex};

use anyhow::anyhow;

use crate::emulator::EmulatorState;
use indicatif::MultiProgress;
use tracing::warn;

use super::Failure;
use super::args::{ApplyArgs, EmulatorArgs, Format, PlanArgs};
use super::output::Output;
use super::session::{Session, load_policy};
use crate::apply::{self, ApplyContext, EventSink, StopFlag, Verification};
use crate::exit::Exit;
use crate::observe;
use crate::plan::{self, Plan};
use crate::policy::Policy;
use crate::report::{
    Progress, ProgressMode, event_json, plan_json, plan_record, render_plan, render_summary,
    verification_json,
};

/// `chat-reconcile plan`.
pub async fn plan(args: &PlanArgs, quiet: bool) -> Result<Exit, Failure> {
    let policy = load_policy(&args.common.policy)?;
    let session = Session::connect(&args.common).await?;
    let result = plan_with(&session, &policy, args).await;
    session.close(quiet).await;
    result
}

async fn plan_with(session: &Session, policy: &Policy, args: &PlanArgs) -> Result<Exit, Failure> {
    let plan = observe_and_plan(session, policy).await?;
    let in_scope = policy.spaces.len();
    let mut output = Output::new();
    match args.common.format {
        Format::Table => output.print(&render_plan(&plan, in_scope))?,
        Format::Json => {
            let document = serde_json::to_string_pretty(&plan_json(&plan, in_scope))
                .map_err(Failure::failed)?;
            output.println(&document)?;
        }
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

/// `chat-reconcile apply`.
pub async fn apply(
    args: &ApplyArgs,
    progress: ProgressMode,
    multi: &MultiProgress,
    quiet: bool,
) -> Result<Exit, Failure> {
    let policy = load_policy(&args.common.policy)?;
    if !args.yes && !io::stdin().is_terminal() {
        return Err(Failure::usage(anyhow!(
            "apply needs confirmation, but stdin is not a terminal; pass --yes to apply without asking"
        )));
    }
    let session = Session::connect(&args.common).await?;
    let result = apply_with(&session, &policy, args, progress, multi).await;
    session.close(quiet).await;
    result
}

async fn apply_with(
    session: &Session,
    policy: &Policy,
    args: &ApplyArgs,
    progress: ProgressMode,
    multi: &MultiProgress,
) -> Result<Exit, Failure> {
    let plan = observe_and_plan(session, policy).await?;
    let in_scope = policy.spaces.len();
    let format = args.common.format;
    let output = Arc::new(Mutex::new(Output::new()));
    match format {
        Format::Table => lock(&output).print(&render_plan(&plan, in_scope))?,
        Format::Json => lock(&output).println(&plan_record(&plan, in_scope).to_string())?,
    }

    let missing = report_missing_spaces(&plan);
    if plan.is_empty() && plan.blocked_count() == 0 {
        return Ok(Exit::for_apply(0, missing, None));
    }
    // A plan of blocked changes only still runs through the engine, which
    // writes nothing, so that the summary and the JSON events explain exit 4.
    if !plan.is_empty() && !args.yes && !confirm(&plan).await {
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
    let sink = event_sink(&plan, format, progress, multi, Arc::clone(&output));
    let report = apply::apply(&plan, &context, sink).await;

    // The handler stays until verification ends: once tokio handles SIGINT,
    // the default action (end the process) does not come back.
    let verification = if args.no_verify {
        Ok(None)
    } else {
        verify(session, policy, &plan).await.map(Some)
    };
    signals.abort();
    let verification = verification?;
    match format {
        Format::Table => {
            let summary = render_summary(&plan, &report, verification.as_ref());
            lock(&output).print(&format!("\n{summary}"))?;
        }
        Format::Json => {
            if let Some(verification) = &verification {
                lock(&output).println(&verification_json(verification).to_string())?;
            }
        }
    }

    Ok(Exit::for_apply(
        report.summary.unsuccessful(),
        plan.blocked_count() + missing,
        verification.map(|verification| verification.remaining.operation_count()),
    ))
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

async fn observe_and_plan(session: &Session, policy: &Policy) -> Result<Plan, Failure> {
    let observed = observe::observe(&session.observe_context(), policy)
        .await
        .map_err(Failure::failed)?;
    Ok(plan::plan(policy, &observed))
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

/// Routes engine events to the progress display and, for JSON, to stdout.
pub(super) fn event_sink(
    plan: &Plan,
    format: Format,
    progress: ProgressMode,
    multi: &MultiProgress,
    output: Arc<Mutex<Output>>,
) -> EventSink {
    let display = Mutex::new(Progress::new(progress, multi));
    let plan = plan.clone();
    EventSink::new(move |event| {
        lock(&display).handle(&event);
        if format == Format::Json {
            let line = event_json(&event, &plan).to_string();
            if let Err(failure) = lock(&output).println(&line) {
                warn!(error = %failure.error, "could not write an event to stdout");
            }
        }
    })
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
