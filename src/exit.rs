//! The process exit codes, one documented table for scripts and cron.

use std::fmt::Write as _;

/// The outcome of a run, as a process exit status. The numeric values are
/// part of the command-line interface, because scripts test them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// `plan`: nothing to change. `apply`: everything applied and verified.
    Success = 0,
    /// The run failed: credentials, network, the API, a bug, or verification
    /// found changes still pending after an apply.
    Failure = 1,
    /// A usage error or an invalid policy or state file; no API call was made.
    Usage = 2,
    /// `plan --detailed-exitcode`: changes are pending (operations to apply or
    /// changes a safety rule blocks). `apply --max-operations`: operations
    /// are left for the next run.
    ChangesPending = 3,
    /// `apply` finished, but some operations failed, were skipped, or were
    /// blocked by a safety rule.
    Incomplete = 4,
    /// A safety guard refused the plan and nothing was applied; `plan` exits
    /// with it when `apply` would be refused.
    Refused = 5,
}

impl Exit {
    /// Every code with its meaning, in numeric order.
    pub const TABLE: [(Exit, &'static str); 6] = [
        (
            Exit::Success,
            "nothing to change (plan), or everything applied and verified (apply)",
        ),
        (
            Exit::Failure,
            "the run failed: credentials, network, API, a bug, verification found pending changes, or (plan) a space of the policy was not found",
        ),
        (
            Exit::Usage,
            "usage error, or an invalid policy or state file; no API call was made",
        ),
        (
            Exit::ChangesPending,
            "plan --detailed-exitcode: changes are pending; apply --max-operations: operations are left for the next run",
        ),
        (
            Exit::Incomplete,
            "apply finished, but some operations failed, were skipped or were blocked, or a space of the policy was not found",
        ),
        (
            Exit::Refused,
            "a safety guard refused the plan; nothing was applied (plan: apply would be refused)",
        ),
    ];

    /// Returns the numeric exit status.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// Picks the exit of `plan`. Blocked changes count as pending, because
    /// the policy still differs from the spaces and an operator must act.
    pub fn for_plan(detailed_exitcode: bool, operations: usize, blocked: usize) -> Exit {
        if detailed_exitcode && operations + blocked > 0 {
            Exit::ChangesPending
        } else {
            Exit::Success
        }
    }

    /// Picks the exit of `apply` from the counts of operations that did not
    /// succeed, the blocked changes, and the verification result (`None` when
    /// verification was skipped, otherwise the operations still pending).
    ///
    /// Unfinished work (exit 4) wins over a failed verification (exit 1),
    /// because failed operations leave pending changes by definition.
    pub fn for_apply(unsuccessful: usize, blocked: usize, still_pending: Option<usize>) -> Exit {
        if unsuccessful + blocked > 0 {
            Exit::Incomplete
        } else if still_pending.is_some_and(|pending| pending > 0) {
            Exit::Failure
        } else {
            Exit::Success
        }
    }

    /// Renders the table for `--help`.
    pub fn help_table() -> String {
        let mut text = String::from("Exit codes:\n");
        for (exit, meaning) in Self::TABLE {
            let _ = writeln!(text, "  {}  {meaning}", exit.code());
        }
        text
    }
}

impl From<Exit> for std::process::ExitCode {
    fn from(exit: Exit) -> Self {
        std::process::ExitCode::from(exit.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_match_documented_numbers() {
        assert_eq!(Exit::Success.code(), 0);
        assert_eq!(Exit::Failure.code(), 1);
        assert_eq!(Exit::Usage.code(), 2);
        assert_eq!(Exit::ChangesPending.code(), 3);
        assert_eq!(Exit::Incomplete.code(), 4);
        assert_eq!(Exit::Refused.code(), 5);
    }

    #[test]
    fn table_is_in_numeric_order() {
        for (position, (exit, _)) in Exit::TABLE.iter().enumerate() {
            assert_eq!(usize::from(exit.code()), position);
        }
    }

    #[test]
    fn plan_exit_cases() {
        let cases = [
            (false, 0, 0, Exit::Success),
            (false, 5, 1, Exit::Success),
            (true, 0, 0, Exit::Success),
            (true, 2, 0, Exit::ChangesPending),
            (true, 0, 1, Exit::ChangesPending),
        ];
        for (detailed, operations, blocked, expected) in cases {
            assert_eq!(
                Exit::for_plan(detailed, operations, blocked),
                expected,
                "detailed={detailed} operations={operations} blocked={blocked}"
            );
        }
    }

    #[test]
    fn apply_exit_cases() {
        let cases = [
            (0, 0, Some(0), Exit::Success),
            (0, 0, None, Exit::Success),
            (0, 0, Some(2), Exit::Failure),
            (1, 0, Some(0), Exit::Incomplete),
            (0, 1, None, Exit::Incomplete),
            (3, 0, Some(3), Exit::Incomplete),
        ];
        for (unsuccessful, blocked, pending, expected) in cases {
            assert_eq!(
                Exit::for_apply(unsuccessful, blocked, pending),
                expected,
                "unsuccessful={unsuccessful} blocked={blocked} pending={pending:?}"
            );
        }
    }

    #[test]
    fn help_table_lists_every_code() {
        let table = Exit::help_table();
        for code in 0..=5 {
            assert!(
                table.contains(&format!("  {code}  ")),
                "code {code} missing from:\n{table}"
            );
        }
    }
}
