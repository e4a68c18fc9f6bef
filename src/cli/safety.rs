//! The safety steps `plan` and `apply` share: guard limits and their
//! overrides, guard refusals, and saved plans.

use std::fs;
use std::path::Path;

use anyhow::{Context as _, anyhow};

use super::Failure;
use super::args::GuardArgs;
use super::output::Output;
use crate::emulator::time::now_rfc3339;
use crate::guard::{self, Limits, Requested, Violation};
use crate::observe::ObservedState;
use crate::plan::Plan;
use crate::plan::saved::{self, FORMAT_VERSION, SavedPlan};
use crate::policy::Policy;
use crate::report::jsonl::guard_record;

/// Combines the policy's guards with the flags. With `reason_needed`, a
/// flag that loosens a policy value without `--reason` is a usage error.
pub fn guard_limits(
    policy: &Policy,
    flags: &GuardArgs,
    reason: Option<&str>,
    reason_needed: bool,
) -> Result<Limits, Failure> {
    let requested = Requested {
        max_removals: flags.max_removals,
        max_removed_fraction: flags.max_removed_fraction,
        min_owners: flags.min_owners.map(|value| value as usize),
    };
    let (limits, loosened) = guard::limits(&policy.guards, &requested);
    if reason_needed && reason.is_none() && !loosened.is_empty() {
        return Err(Failure::usage(anyhow!(
            "{} loosens the policy's guards; add --reason \"TEXT\" to record why in the audit log",
            loosened.join(" and ")
        )));
    }
    Ok(limits)
}

/// Prints every violation on stderr, and as `guard_refused` records when
/// `jsonl` is set. Returns true when there was any.
pub fn report_violations(
    violations: &[Violation],
    jsonl: bool,
    output: &mut Output,
) -> Result<bool, Failure> {
    if violations.is_empty() {
        return Ok(false);
    }
    let noun = if violations.len() == 1 {
        "guard"
    } else {
        "guards"
    };
    let mut text = format!(
        "error: the plan breaks {} safety {noun}; nothing was applied\n",
        violations.len()
    );
    for violation in violations {
        text.push_str(&format!("  {violation}\n"));
    }
    text.push_str(
        "  hint: fix the policy, or let this run through with the flags named above; \
         the guard values can also be set under `guards:` in the policy\n",
    );
    eprint!("{text}");
    if jsonl {
        for violation in violations {
            output.println(&guard_record(violation).to_string())?;
        }
    }
    Ok(true)
}

/// Writes the saved plan to `path`, through a temporary file and a rename
/// so that a reader never sees half a plan.
pub fn write_saved_plan(
    path: &Path,
    plan: &Plan,
    observed: &ObservedState,
    policy_bytes: &[u8],
) -> Result<(), Failure> {
    let saved = SavedPlan::new(plan, observed, policy_bytes, now_rfc3339());
    let text = serde_json::to_string_pretty(&saved).map_err(Failure::failed)?;
    let temporary = path.with_extension("tmp");
    fs::write(&temporary, format!("{text}\n"))
        .and_then(|()| fs::rename(&temporary, path))
        .with_context(|| format!("could not write the plan to {}", path.display()))
        .map_err(Failure::failed)
}

/// Reads a saved plan and checks that it was made from `policy_bytes`.
///
/// # Errors
///
/// Exit 2 when the file cannot be read, is not a saved plan of this
/// format, or was made from another version of the policy.
pub fn read_saved_plan(path: &Path, policy_bytes: &[u8]) -> Result<SavedPlan, Failure> {
    let text = fs::read_to_string(path)
        .with_context(|| format!("could not read the saved plan {}", path.display()))
        .map_err(Failure::usage)?;
    let version: Option<u64> = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|value| value["format_version"].as_u64());
    if version.is_some_and(|version| version != u64::from(FORMAT_VERSION)) {
        return Err(Failure::usage(anyhow!(
            "the saved plan {} has format version {}, but this chat-reconcile reads version {FORMAT_VERSION}; run `plan --out` again",
            path.display(),
            version.unwrap_or_default()
        )));
    }
    let saved: SavedPlan = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a saved plan", path.display()))
        .map_err(Failure::usage)?;
    let current = saved::policy_hash(policy_bytes);
    if saved.policy_sha256 != current {
        return Err(Failure::usage(anyhow!(
            "the saved plan {} was made from another version of the policy (sha256 {}, the policy file now has {}); run `plan --out` again with this policy",
            path.display(),
            short(&saved.policy_sha256),
            short(&current)
        )));
    }
    Ok(saved)
}

/// Reads the policy file's bytes for its hash.
pub fn policy_bytes(path: &Path) -> Result<Vec<u8>, Failure> {
    fs::read(path)
        .with_context(|| format!("could not read the policy {}", path.display()))
        .map_err(Failure::usage)
}

fn short(hash: &str) -> &str {
    hash.get(..12).unwrap_or(hash)
}
