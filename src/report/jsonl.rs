//! The JSON Lines stream of `--output jsonl`: every record type, in one
//! place. `docs/OUTPUT.md` describes each field, and a test parses real
//! output against that page.
//!
//! A run prints, in order: the plan (`plan_entry`, `blocked`, `warning`,
//! `drifted`, then `plan_summary`), any `guard_refused`, then for `apply` the
//! engine's events (`run_started`, `operation_started`,
//! `operation_retrying`, `operation_finished`, `space_finished`),
//! `verification`, and last a `summary`, also when the run was stopped or
//! refused. Roles are admin words; durations are whole milliseconds.

use serde_json::{Value, json};

use super::json::{action_fields, insert_reason, operation_json, summary_json};
use super::table::Counts;
use super::text::{block_code, block_text};
use crate::apply::{Event, Outcome, Summary, Verification};
use crate::exit::Exit;
use crate::guard::Violation;
use crate::plan::Plan;
use crate::plan::preflight::Refusal;
use crate::plan::saved::Drift;

/// Every record type, in the order a run can print them.
pub const RECORD_TYPES: [&str; 15] = [
    "plan_entry",
    "blocked",
    "warning",
    "drifted",
    "plan_summary",
    "preflight_refusal",
    "sweep",
    "guard_refused",
    "run_started",
    "operation_started",
    "operation_retrying",
    "operation_finished",
    "space_finished",
    "verification",
    "summary",
];

/// Renders the plan: one `plan_entry` per operation, one `blocked` per
/// blocked change, one `warning` per space warning, then `plan_summary`.
pub fn plan_records(plan: &Plan, spaces_in_scope: usize) -> Vec<Value> {
    let mut records = Vec::new();
    for space in &plan.spaces {
        for operation in &space.operations {
            records.push(typed("plan_entry", operation_json(&space.space, operation)));
        }
        for item in &space.blocked {
            let mut record = action_fields(&space.space, &item.action);
            record.insert("block".into(), json!(block_code(&item.block)));
            record.insert("block_text".into(), json!(block_text(&item.block)));
            insert_reason(&mut record, &item.requested_because);
            records.push(typed("blocked", Value::Object(record)));
        }
        for warning in &space.warnings {
            records.push(json!({
                "type": "warning",
                "space": space.space,
                "text": warning,
            }));
        }
    }
    let counts = Counts::of(plan);
    records.push(json!({
        "type": "plan_summary",
        "add": counts.add,
        "set_role": counts.set_role,
        "remove": counts.remove,
        "blocked": counts.blocked,
        "spaces_changed": counts.spaces,
        "spaces_in_scope": spaces_in_scope,
    }));
    records
}

/// Renders an operation of a saved plan that no longer fits its space.
pub fn drift_record(drift: &Drift) -> Value {
    json!({
        "type": "drifted",
        "space": drift.space,
        "index": drift.index,
        "kind": drift.kind,
        "member": drift.member,
        "detail": drift.detail,
    })
}

/// Renders an operation that preflight expects the API to reject.
pub fn preflight_record(refusal: &Refusal) -> Value {
    json!({
        "type": "preflight_refusal",
        "space": refusal.space,
        "index": refusal.index,
        "member": refusal.member,
        "reason": refusal.reason,
    })
}

/// Renders the `sweep` record of `offboard`: `coverage` is an object of
/// counts, to which the `type` field is added.
pub fn sweep_record(mut coverage: Value) -> Value {
    coverage["type"] = json!("sweep");
    coverage
}

/// Renders a guard the plan breaks.
pub fn guard_record(violation: &Violation) -> Value {
    json!({
        "type": "guard_refused",
        "guard": violation.guard.name(),
        "space": violation.space,
        "value": violation.value,
        "limit": violation.limit,
        "message": violation.message,
        "fix": violation.fix,
    })
}

/// Renders one engine event; `None` for the end of the run, which the
/// `summary` record reports. `plan` adds the kind and member of the
/// operation an event names.
pub fn event_record(event: &Event, plan: &Plan) -> Option<Value> {
    let record = match event {
        Event::RunStarted { spaces, operations } => json!({
            "type": "run_started",
            "spaces": spaces,
            "operations": operations,
        }),
        Event::OperationStarted {
            space,
            index,
            attempt,
        } => {
            let mut record = operation_fields("operation_started", plan, space, *index);
            record["attempt"] = json!(attempt);
            record
        }
        Event::OperationRetrying {
            space,
            index,
            attempt,
            delay,
            error,
        } => {
            let mut record = operation_fields("operation_retrying", plan, space, *index);
            record["attempt"] = json!(attempt);
            record["delay_ms"] = json!(delay.as_millis() as u64);
            record["error"] = json!(error);
            record
        }
        Event::OperationFinished {
            space,
            index,
            outcome,
            duration,
        } => {
            let mut record = operation_fields("operation_finished", plan, space, *index);
            record["outcome"] = json!(outcome.kind());
            match outcome {
                Outcome::Skipped { reason } => record["skip_reason"] = json!(reason),
                Outcome::Failed { error } => record["error"] = json!(error),
                Outcome::Applied | Outcome::AlreadyDone => {}
            }
            record["duration_ms"] = json!(duration.as_millis() as u64);
            record
        }
        Event::SpaceFinished { space, summary } => json!({
            "type": "space_finished",
            "space": space,
            "summary": summary_json(summary),
        }),
        Event::RunFinished { .. } => return None,
    };
    Some(record)
}

/// Renders the verification result.
pub fn verification_record(verification: &Verification) -> Value {
    json!({
        "type": "verification",
        "passed": verification.passed(),
        "spaces": verification.spaces,
        "remaining_operations": verification.remaining.operation_count(),
        "blocked": verification.remaining.blocked_count(),
    })
}

/// What the last record of an `apply` reports.
#[derive(Debug, Clone, Default)]
pub struct RunTotals {
    /// The engine's counts; default when nothing ran.
    pub summary: Summary,
    pub blocked: usize,
    pub drifted: usize,
    /// Operations left for a later run by `--max-operations`.
    pub left: usize,
    pub stopped: bool,
    /// `passed`, `failed` or `skipped`.
    pub verification: &'static str,
}

/// Renders the last record of an `apply`, with its exit code.
pub fn summary_record(totals: &RunTotals, exit: Exit) -> Value {
    let summary = &totals.summary;
    json!({
        "type": "summary",
        "exit_code": exit.code(),
        "applied": summary.applied,
        "already_done": summary.already_done,
        "skipped": summary.skipped,
        "failed": summary.failed,
        "blocked": totals.blocked,
        "drifted": totals.drifted,
        "left": totals.left,
        "stopped": totals.stopped,
        "verification": totals.verification,
        "retries": summary.retries,
        "rate_limited": summary.rate_limited,
        "duration_ms": summary.duration.as_millis() as u64,
    })
}

fn typed(kind: &str, mut record: Value) -> Value {
    if let Value::Object(fields) = &mut record {
        fields.insert("type".into(), json!(kind));
    }
    record
}

fn operation_fields(kind: &str, plan: &Plan, space: &str, index: usize) -> Value {
    let mut record = json!({
        "type": kind,
        "space": space,
        "index": index,
    });
    let operation = plan
        .spaces
        .iter()
        .find(|candidate| candidate.space == space)
        .and_then(|candidate| candidate.operations.iter().find(|op| op.index == index));
    if let Some(operation) = operation {
        record["kind"] = json!(operation.action.kind());
        record["member"] = json!(operation.action.member().display);
    }
    record
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::report::sample::sample_plan;

    #[test]
    fn finished_failed_record() {
        let event = Event::OperationFinished {
            space: "spaces/AAAAeng".to_string(),
            index: 1,
            outcome: Outcome::Failed {
                error: "HTTP 400 FAILED_PRECONDITION".to_string(),
            },
            duration: Duration::from_millis(1500),
        };
        assert_eq!(
            event_record(&event, &sample_plan()),
            Some(json!({
                "type": "operation_finished",
                "space": "spaces/AAAAeng",
                "index": 1,
                "kind": "set_role",
                "member": "carol@example.com",
                "outcome": "failed",
                "error": "HTTP 400 FAILED_PRECONDITION",
                "duration_ms": 1500,
            }))
        );
    }

    #[test]
    fn plan_records_end_with_summary() {
        let records = plan_records(&sample_plan(), 5);
        let types: Vec<&str> = records
            .iter()
            .map(|record| record["type"].as_str().unwrap())
            .collect();
        assert_eq!(types.iter().filter(|t| **t == "plan_entry").count(), 4);
        assert_eq!(types.last(), Some(&"plan_summary"));
        for kind in types {
            assert!(RECORD_TYPES.contains(&kind), "{kind}");
        }
    }
}
