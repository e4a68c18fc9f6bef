//! The block printed after an apply: counts, failures and verification.

use std::fmt::Write as _;

use crate::apply::{ApplyReport, Outcome, Verification};
use crate::plan::Plan;

/// Renders the summary of `report`. `verification` is `None` when it was
/// skipped with `--no-verify`.
pub fn render_summary(
    plan: &Plan,
    report: &ApplyReport,
    verification: Option<&Verification>,
) -> String {
    let summary = &report.summary;
    let mut text = String::from("Summary:\n");
    let rows = [
        ("applied", summary.applied.to_string()),
        ("already done", summary.already_done.to_string()),
        ("skipped", summary.skipped.to_string()),
        ("failed", summary.failed.to_string()),
        ("blocked", plan.blocked_count().to_string()),
        ("retries", summary.retries.to_string()),
        ("429 responses", summary.rate_limited.to_string()),
        (
            "duration",
            format!("{:.1} s", summary.duration.as_secs_f64()),
        ),
        ("verification", verification_text(verification)),
    ];
    for (label, value) in rows {
        let _ = writeln!(text, "  {label:<14} {value}");
    }

    for (heading, kind) in [("Failed:", "failed"), ("Skipped:", "skipped")] {
        let lines = outcome_lines(plan, report, kind);
        if !lines.is_empty() {
            let _ = writeln!(text, "{heading}");
            for line in lines {
                let _ = writeln!(text, "  {line}");
            }
        }
    }
    text
}

fn verification_text(verification: Option<&Verification>) -> String {
    match verification {
        None => "skipped (--no-verify)".to_string(),
        Some(verification) if verification.passed() => "passed".to_string(),
        Some(verification) => {
            let pending = verification.remaining.operation_count();
            let noun = if pending == 1 {
                "operation"
            } else {
                "operations"
            };
            format!("failed: {pending} {noun} still pending")
        }
    }
}

/// Lists the operations whose outcome is of `kind`, with the error or the
/// skip reason.
fn outcome_lines(plan: &Plan, report: &ApplyReport, kind: &str) -> Vec<String> {
    let mut lines = Vec::new();
    for space in &report.spaces {
        let operations = plan
            .spaces
            .iter()
            .find(|candidate| candidate.space == space.space)
            .map(|candidate| candidate.operations.as_slice())
            .unwrap_or_default();
        for result in &space.results {
            if result.outcome.kind() != kind {
                continue;
            }
            let operation_text = operations
                .iter()
                .find(|operation| operation.index == result.index)
                .map(|operation| {
                    format!(
                        "{} {}",
                        operation.action.kind(),
                        operation.action.member().display
                    )
                })
                .unwrap_or_else(|| format!("operation {}", result.index));
            let detail = match &result.outcome {
                Outcome::Failed { error } => error.as_str(),
                Outcome::Skipped { reason } => reason.as_str(),
                Outcome::Applied | Outcome::AlreadyDone => "",
            };
            lines.push(format!("{} {operation_text}: {detail}", space.space));
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::apply::{OperationResult, SpaceReport, Summary};
    use crate::report::sample::sample_plan;

    #[test]
    fn summary_lists_failed_and_skipped() {
        let summary = Summary {
            applied: 1,
            already_done: 0,
            skipped: 1,
            failed: 1,
            retries: 2,
            rate_limited: 1,
            duration: Duration::from_millis(4200),
        };
        let results = vec![
            OperationResult {
                index: 0,
                outcome: Outcome::Applied,
                attempts: 1,
            },
            OperationResult {
                index: 1,
                outcome: Outcome::Failed {
                    error: "HTTP 400 FAILED_PRECONDITION: invited".to_string(),
                },
                attempts: 1,
            },
            OperationResult {
                index: 2,
                outcome: Outcome::Skipped {
                    reason: "successor promotion of carol@example.com failed".to_string(),
                },
                attempts: 0,
            },
        ];
        let report = ApplyReport {
            spaces: vec![SpaceReport {
                space: "spaces/AAAAeng".to_string(),
                results,
                summary: summary.clone(),
            }],
            summary,
        };
        let expected = "\
Summary:
  applied        1
  already done   0
  skipped        1
  failed         1
  blocked        1
  retries        2
  429 responses  1
  duration       4.2 s
  verification   skipped (--no-verify)
Failed:
  spaces/AAAAeng set_role carol@example.com: HTTP 400 FAILED_PRECONDITION: invited
Skipped:
  spaces/AAAAeng remove dave@example.com: successor promotion of carol@example.com failed
";
        assert_eq!(render_summary(&sample_plan(), &report, None), expected);
    }
}
