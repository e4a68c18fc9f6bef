//! `chat-reconcile offboard`: the sweep that removes departing users from
//! every space it finds, with the planner and engine of `apply`.

use std::io::{self, IsTerminal};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use anyhow::anyhow;
use clap::{Args, ValueEnum};
use indicatif::MultiProgress;
use serde_json::json;

use super::Failure;
use super::args::{ConnectionArgs, Format, LimitArgs};
use super::commands::{confirm, event_sink, lock, stop_on_ctrl_c};
use super::output::Output;
use super::session::{Session, load_policy};
use crate::apply::{self, ApplyContext, StopFlag};
use crate::chat::ClientOptions;
use crate::exit::Exit;
use crate::plan::{self, Plan};
use crate::policy::member::parse_email;
use crate::policy::{Policy, Principal};
use crate::report::jsonl::{
    RunTotals, plan_records, summary_record, sweep_record, verification_record,
};
use crate::report::markdown::render_markdown;
use crate::report::{ProgressMode, plan_json, render_plan, render_summary};
use crate::sweep::{self, Coverage, Discovery, Sweep, SweepRequest, parse_user_list};

/// Shown after `offboard --help`.
pub const AFTER_HELP: &str = "\
Spaces searched:
  --admin    spaces.search over the organisation (useAdminAccess=true); it
             returns spaces of type SPACE only, so group chats and direct
             messages are not searched.
  otherwise  spaces.list of the caller: every type, but only the spaces the
             caller is a member of.

Reads: one spaces.members.get per candidate space and departing user, plus
spaces.get and spaces.members.list in the spaces where an owner leaves (and,
without --admin, in every SPACE where a user was found). See
docs/OFFBOARDING.md.

Exit codes: as plan without --apply, as apply with --apply.";

/// Arguments of `offboard`.
#[derive(Debug, Args)]
pub struct OffboardArgs {
    /// Email of a departing user. Repeatable.
    #[arg(long = "user", value_name = "EMAIL", help_heading = "Users")]
    pub users: Vec<String>,

    /// File of departing users: one email per line; blank lines and text
    /// after `#` are ignored.
    #[arg(long, value_name = "FILE", help_heading = "Users")]
    pub users_file: Option<PathBuf>,

    /// Policy whose `offboard` entries with `scope: all-spaces` are swept
    /// too, and whose `protect`, `successors`, `successor_fallback` and
    /// per-space `successors` and `keep` apply. Its spaces are not
    /// enforced.
    #[arg(long, value_name = "FILE", help_heading = "Users")]
    pub policy: Option<PathBuf>,

    /// Successor candidate for a space whose every owner leaves, tried in
    /// the order given, after the space's own successors in --policy and
    /// before the policy's global ones. Repeatable.
    #[arg(long = "successor", value_name = "EMAIL", help_heading = "Successors")]
    pub successors: Vec<String>,

    /// Where an owner's removal is blocked because no successor is in the
    /// space, add the first --successor to the space and make it owner.
    #[arg(long, requires = "successors", help_heading = "Successors")]
    pub add_successor: bool,

    /// When no listed successor is in the space: `longest-standing` promotes
    /// the joined internal human manager, then member, with the oldest
    /// membership; `none` blocks the owner's removal. Default: the policy's
    /// setting, else none.
    #[arg(long, value_enum, value_name = "RULE", help_heading = "Successors")]
    pub successor_fallback: Option<SuccessorFallback>,

    /// Search every space of the organisation with administrator access
    /// (useAdminAccess=true). Needs an administrator's token with the
    /// chat.admin.spaces and chat.admin.memberships scopes.
    #[arg(long, help_heading = "Scope")]
    pub admin: bool,

    /// Make the changes. Without it, the sweep only prints the plan.
    #[arg(long, help_heading = "Apply")]
    pub apply: bool,

    /// Apply without asking for confirmation. Required with --apply when
    /// stdin is not a terminal.
    #[arg(short, long, requires = "apply", help_heading = "Apply")]
    pub yes: bool,

    /// Skip observing the changed spaces again after the apply.
    #[arg(long, requires = "apply", help_heading = "Apply")]
    pub no_verify: bool,

    /// Without --apply: exit with 3 when changes are pending, instead of 0.
    #[arg(long, conflicts_with = "apply", help_heading = "Output")]
    pub detailed_exitcode: bool,

    /// Output format on stdout: a table for people, or JSON (one document
    /// for the dry run, JSON Lines with --apply).
    #[arg(long, value_enum, default_value_t = Format::Table, help_heading = "Output")]
    pub format: Format,

    #[command(flatten)]
    pub connection: ConnectionArgs,

    #[command(flatten)]
    pub limits: LimitArgs,
}

/// `--successor-fallback`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SuccessorFallback {
    None,
    LongestStanding,
}

/// Runs `chat-reconcile offboard`.
pub async fn run(
    args: &OffboardArgs,
    progress: ProgressMode,
    multi: &MultiProgress,
    quiet: bool,
) -> Result<Exit, Failure> {
    let request = build_request(args)?;
    if args.apply && !args.yes && !io::stdin().is_terminal() {
        return Err(Failure::usage(anyhow!(
            "offboard --apply needs confirmation, but stdin is not a terminal; pass --yes to apply without asking"
        )));
    }
    let options = ClientOptions {
        use_admin_access: args.admin,
        ..ClientOptions::default()
    };
    let session = Session::connect_with(
        &args.connection,
        &args.limits,
        options,
        if args.apply {
            crate::chat::oauth::Access::Write
        } else {
            crate::chat::oauth::Access::Read
        },
    )
    .await?;
    let result = sweep_with(&session, &request, args, progress, multi, quiet).await;
    session.close(quiet).await;
    result
}

/// Checks the flags and files and builds the sweep's request. Every failure
/// is a usage error (exit 2), before any request.
fn build_request(args: &OffboardArgs) -> Result<SweepRequest, Failure> {
    let mut rules = match &args.policy {
        Some(path) => load_policy(path)?,
        None => Policy::default(),
    };

    let mut users: Vec<String> = Vec::new();
    for user in &args.users {
        let email = parse_email(user.trim()).map_err(|invalid| {
            Failure::usage(anyhow!(
                "invalid email {user:?} in --user: {}",
                invalid.reason
            ))
        })?;
        push_new(&mut users, email);
    }
    if let Some(path) = &args.users_file {
        let text = std::fs::read_to_string(path).map_err(|error| {
            Failure::usage(
                anyhow::Error::new(error)
                    .context(format!("could not read the users file {}", path.display())),
            )
        })?;
        let listed = parse_user_list(&text, &path.display().to_string()).map_err(Failure::usage)?;
        for email in listed {
            push_new(&mut users, email);
        }
    }
    for principal in &rules.offboard_all_spaces {
        match principal {
            Principal::Email(email) => push_new(&mut users, email.clone()),
            other => {
                return Err(Failure::usage(anyhow!(
                    "the policy offboards {other} with scope all-spaces, but the sweep looks users up by email; write the person's email instead"
                )));
            }
        }
    }
    if users.is_empty() {
        return Err(Failure::usage(anyhow!(
            "no departing user given; name one with --user EMAIL, --users-file FILE, or a policy `offboard` entry with `scope: all-spaces`"
        )));
    }

    let mut successors = Vec::new();
    for successor in &args.successors {
        let email = parse_email(successor.trim()).map_err(|invalid| {
            Failure::usage(anyhow!(
                "invalid email {successor:?} in --successor: {}",
                invalid.reason
            ))
        })?;
        if users.contains(&email) {
            return Err(Failure::usage(anyhow!(
                "{email} is both a departing user and a --successor; a departing user cannot take over a space"
            )));
        }
        let principal = Principal::Email(email);
        if !successors.contains(&principal) {
            successors.push(principal);
        }
    }
    for principal in rules.successors.drain(..) {
        if !successors.contains(&principal) {
            successors.push(principal);
        }
    }
    rules.successors = successors;
    if let Some(fallback) = args.successor_fallback {
        rules.successor_fallback = fallback == SuccessorFallback::LongestStanding;
    }

    for principal in &rules.protect {
        if let Principal::Email(email) = principal
            && users.contains(email)
        {
            return Err(Failure::usage(anyhow!(
                "{email} is departing but the policy protects it; remove it from `protect` or from the users to offboard"
            )));
        }
    }

    Ok(SweepRequest {
        users,
        discovery: if args.admin {
            Discovery::AdminSearch
        } else {
            Discovery::CallerSpaces
        },
        rules,
    })
}

fn push_new(list: &mut Vec<String>, email: String) {
    if !list.contains(&email) {
        list.push(email);
    }
}

async fn sweep_with(
    session: &Session,
    request: &SweepRequest,
    args: &OffboardArgs,
    progress: ProgressMode,
    multi: &MultiProgress,
    quiet: bool,
) -> Result<Exit, Failure> {
    let mut found = sweep::sweep(&session.observe_context(), request)
        .await
        .map_err(Failure::failed)?;
    if !quiet {
        warn_scope(request.discovery, &found.coverage);
    }
    let mut plan = plan::plan(&found.policy, &found.observed);
    if args.add_successor
        && let Some(Principal::Email(successor)) = request.rules.successors.first()
    {
        let adopted = sweep::adopt_orphans(&mut found.policy, &plan, successor);
        if !adopted.is_empty() {
            plan = plan::plan(&found.policy, &found.observed);
        }
    }
    sweep::warn_group_access(&mut plan, &found.observed, &request.users);
    // Only spaces where a user was found are in the policy, so they are the
    // scope the closing line counts.
    let in_scope = found.policy.spaces.len();

    let output = Arc::new(Mutex::new(Output::new()));
    match (args.format, args.apply) {
        (Format::Table, _) => {
            let text = render_plan(&plan, in_scope);
            lock(&output).print(&format!("{text}{}\n", coverage_text(&found.coverage)))?;
        }
        (Format::Json, false) => {
            let mut document = plan_json(&plan, in_scope);
            document["sweep"] = coverage_json(request.discovery, &found.coverage);
            let text = serde_json::to_string_pretty(&document).map_err(Failure::failed)?;
            lock(&output).println(&text)?;
        }
        (Format::Json, true) => {
            let mut out = lock(&output);
            for record in plan_records(&plan, in_scope) {
                out.println(&record.to_string())?;
            }
            let sweep = sweep_record(coverage_json(request.discovery, &found.coverage));
            out.println(&sweep.to_string())?;
        }
        (Format::Markdown, false) => lock(&output).print(&render_markdown(&plan, in_scope))?,
        (Format::Markdown, true) => {
            return Err(Failure::usage(anyhow!(
                "--format markdown is for the dry run; with --apply use table or json"
            )));
        }
    }

    if !args.apply {
        return Ok(Exit::for_plan(
            args.detailed_exitcode,
            plan.operation_count(),
            plan.blocked_count(),
        ));
    }
    apply_sweep(session, &found, &plan, args, progress, multi, output).await
}

async fn apply_sweep(
    session: &Session,
    found: &Sweep,
    plan: &Plan,
    args: &OffboardArgs,
    progress: ProgressMode,
    multi: &MultiProgress,
    output: Arc<Mutex<Output>>,
) -> Result<Exit, Failure> {
    if plan.is_empty() && plan.blocked_count() == 0 {
        return Ok(Exit::Success);
    }
    if !plan.is_empty() && !args.yes && !confirm(plan).await {
        return Err(Failure::failed(anyhow!(
            "offboarding cancelled; nothing was changed"
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
    let jsonl = args.format == Format::Json;
    let sink = event_sink(plan, jsonl, progress, multi, Arc::clone(&output), None);
    let report = apply::apply(plan, &context, sink).await;

    let verification = if args.no_verify {
        Ok(None)
    } else {
        let changed: Vec<String> = plan
            .spaces
            .iter()
            .filter(|space| !space.operations.is_empty())
            .map(|space| space.space.clone())
            .collect();
        apply::verify(&session.observe_context(), &found.policy, &changed)
            .await
            .map(Some)
            .map_err(|error| {
                Failure::failed(anyhow::Error::new(error).context("verification failed"))
            })
    };
    signals.abort();
    let verification = verification?;
    let exit = Exit::for_apply(
        report.summary.unsuccessful(),
        plan.blocked_count(),
        verification
            .as_ref()
            .map(|verification| verification.remaining.operation_count()),
    );
    if jsonl {
        let totals = RunTotals {
            summary: report.summary.clone(),
            blocked: plan.blocked_count(),
            stopped: stop.is_stopped(),
            verification: match &verification {
                None => "skipped",
                Some(verification) if verification.passed() => "passed",
                Some(_) => "failed",
            },
            ..RunTotals::default()
        };
        let mut out = lock(&output);
        if let Some(verification) = &verification {
            out.println(&verification_record(verification).to_string())?;
        }
        out.println(&summary_record(&totals, exit).to_string())?;
    } else {
        let summary = render_summary(plan, &report, verification.as_ref());
        lock(&output).print(&format!("\n{summary}"))?;
    }
    Ok(exit)
}

/// Tells the operator on stderr which spaces the sweep could not see.
fn warn_scope(discovery: Discovery, coverage: &Coverage) {
    match discovery {
        Discovery::CallerSpaces => eprintln!(
            "warning: without --admin the sweep covers only the {} spaces the caller is a member of; spaces the caller is not in were not checked. Run with --admin and an administrator's token to search the whole organisation",
            coverage.candidate_count()
        ),
        Discovery::AdminSearch => eprintln!(
            "note: --admin searches spaces of type SPACE only, so group chats and direct messages were not checked; admin mode also hides group memberships, so no group access warning can be given"
        ),
    }
}

fn coverage_text(coverage: &Coverage) -> String {
    let by_type: Vec<String> = coverage
        .candidates
        .iter()
        .map(|(space_type, count)| format!("{count} {space_type}"))
        .collect();
    let by_type = if by_type.is_empty() {
        "none".to_string()
    } else {
        by_type.join(", ")
    };
    format!(
        "Sweep: {} spaces checked ({by_type}), {} lookups, {} memberships found in {} spaces, {} listed in full, {} direct messages skipped.",
        coverage.candidate_count(),
        coverage.lookups,
        coverage.found,
        coverage.spaces_with_users,
        coverage.listed,
        coverage.direct_messages,
    )
}

fn coverage_json(discovery: Discovery, coverage: &Coverage) -> serde_json::Value {
    json!({
        "discovery": match discovery {
            Discovery::AdminSearch => "admin_search",
            Discovery::CallerSpaces => "caller_spaces",
        },
        "candidates": coverage.candidates,
        "lookups": coverage.lookups,
        "memberships_found": coverage.found,
        "spaces_with_users": coverage.spaces_with_users,
        "spaces_listed": coverage.listed,
        "direct_messages_skipped": coverage.direct_messages,
    })
}
