//! Safety guards: limits checked after planning and before the first write.
//!
//! A plan that breaks a guard is refused whole (exit 5). The refusal lists
//! every guard and every space that breaks it, with the numbers and the
//! flag that lets the run through, so that one run shows all there is to
//! decide. The `protect` list is not checked here: the planner never plans
//! a change to a protected member, and reports it as blocked instead.

use std::fmt;

use crate::chat::model::{MembershipRole, MembershipState, SpaceType};
use crate::observe::{ObservedSpace, ObservedState};
use crate::plan::{Action, BlockReason, Plan, simulate};
use crate::policy::Guards;

/// The limits of one run: the policy's guards after the command-line flags.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    pub max_removals: Option<usize>,
    pub max_removed_fraction: f64,
    pub min_owners: usize,
}

/// Guard values given on the command line; `None` keeps the policy's.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Requested {
    pub max_removals: Option<usize>,
    pub max_removed_fraction: Option<f64>,
    pub min_owners: Option<usize>,
}

/// Combines the policy's guards with the flags. Returns the limits and, for
/// every flag that loosens a policy value, a note such as
/// `--max-removals 50 (the policy allows 20)`. A loosening flag needs a
/// reason, which the caller enforces.
pub fn limits(policy: &Guards, requested: &Requested) -> (Limits, Vec<String>) {
    let mut loosened = Vec::new();
    let max_removals = match (policy.max_removals, requested.max_removals) {
        (Some(allowed), Some(flag)) if flag > allowed => {
            loosened.push(format!(
                "--max-removals {flag} (the policy allows {allowed})"
            ));
            Some(flag)
        }
        (_, Some(flag)) => Some(flag),
        (allowed, None) => allowed,
    };
    let policy_fraction = policy.max_removed_fraction.get();
    let max_removed_fraction = match requested.max_removed_fraction {
        Some(flag) => {
            if flag > policy_fraction {
                loosened.push(format!(
                    "--max-removed-fraction {flag} (the policy allows {policy_fraction})"
                ));
            }
            flag
        }
        None => policy_fraction,
    };
    let min_owners = match requested.min_owners {
        Some(flag) => {
            if flag < policy.min_owners {
                loosened.push(format!(
                    "--min-owners {flag} (the policy asks for {})",
                    policy.min_owners
                ));
            }
            flag
        }
        None => policy.min_owners,
    };
    let limits = Limits {
        max_removals,
        max_removed_fraction,
        min_owners,
    };
    (limits, loosened)
}

/// The guards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Guard {
    /// Removals over all spaces.
    MaxRemovals,
    /// Share of one space's memberships removed.
    MaxRemovedFraction,
    /// Joined owners a `SPACE` is left with.
    MinOwners,
    /// A change the policy requests to a member on the `protect` list.
    Protect,
}

impl Guard {
    /// Returns the name used in the policy, messages and JSON.
    pub fn name(self) -> &'static str {
        match self {
            Self::MaxRemovals => "max_removals",
            Self::MaxRemovedFraction => "max_removed_fraction",
            Self::MinOwners => "min_owners",
            Self::Protect => "protect",
        }
    }
}

/// One guard the plan breaks, in one space or over the whole run.
#[derive(Debug, Clone, PartialEq)]
pub struct Violation {
    pub guard: Guard,
    /// The space, or `None` for a run-wide guard.
    pub space: Option<String>,
    /// The plan's value: removals, a share of memberships, or owners left.
    pub value: f64,
    pub limit: f64,
    /// What the numbers mean, for people.
    pub message: String,
    /// The flags that let this run through.
    pub fix: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {}; to allow it: {}",
            self.guard.name(),
            self.message,
            self.fix
        )
    }
}

/// Checks `plan`, made from `observed`, against `limits`.
///
/// `allow_removals` is the `--allow-removals` override: when the plan
/// removes no more than that, the removal guards pass. Returns every
/// violation: run-wide first, then by space name.
pub fn check(
    plan: &Plan,
    observed: &ObservedState,
    limits: &Limits,
    allow_removals: Option<usize>,
) -> Vec<Violation> {
    let removals = count_removals(plan);
    let removals_allowed = allow_removals.is_some_and(|allowed| removals <= allowed);
    let fix_removals = format!("--allow-removals {removals} --reason \"TEXT\"");
    let mut violations = Vec::new();

    if let Some(limit) = limits.max_removals
        && removals > limit
        && !removals_allowed
    {
        violations.push(Violation {
            guard: Guard::MaxRemovals,
            space: None,
            value: removals as f64,
            limit: limit as f64,
            message: format!("the plan removes {removals} members, above the limit of {limit}"),
            fix: fix_removals.clone(),
        });
    }

    for space_plan in &plan.spaces {
        let Some(space) = observed.spaces.iter().find(|s| s.name == space_plan.space) else {
            continue;
        };
        let space_removals = space_plan
            .operations
            .iter()
            .filter(|operation| matches!(operation.action, Action::Remove { .. }))
            .count();
        let members = space.memberships.len();
        if space_removals > 0 && members > 0 && !removals_allowed {
            let share = space_removals as f64 / members as f64;
            if share > limits.max_removed_fraction {
                violations.push(Violation {
                    guard: Guard::MaxRemovedFraction,
                    space: Some(space.name.clone()),
                    value: share,
                    limit: limits.max_removed_fraction,
                    message: format!(
                        "{} would lose {space_removals} of its {members} memberships ({}), above the limit of {}",
                        space.name,
                        percent(share),
                        percent(limits.max_removed_fraction)
                    ),
                    fix: fix_removals.clone(),
                });
            }
        }

        if space.space_type != SpaceType::Space {
            continue;
        }
        let before = joined_owners(space);
        let Ok(after) = simulate(space, &space_plan.operations).map(|end| joined_owners(&end))
        else {
            continue;
        };
        if after < before && after < limits.min_owners {
            violations.push(Violation {
                guard: Guard::MinOwners,
                space: Some(space.name.clone()),
                value: after as f64,
                limit: limits.min_owners as f64,
                message: format!(
                    "{} would keep {after} of its {before} owners, below the minimum of {}",
                    space.name, limits.min_owners
                ),
                fix: format!("--min-owners {after} --reason \"TEXT\""),
            });
        }
    }
    violations
}

/// Lists the changes the policy requests to protected members, which the
/// planner blocked. Each refuses the run unless `allowed`
/// (`--allow-protected`), and then the rest of the plan runs while the
/// protected members stay as they are.
pub fn check_protect(plan: &Plan, allowed: bool) -> Vec<Violation> {
    if allowed {
        return Vec::new();
    }
    let mut violations = Vec::new();
    for space in &plan.spaces {
        for blocked in &space.blocked {
            if blocked.block != BlockReason::Protected {
                continue;
            }
            let change = match &blocked.action {
                Action::Remove { .. } => "remove",
                Action::SetRole { .. } => "change the role of",
                Action::Add { .. } => "add",
            };
            violations.push(Violation {
                guard: Guard::Protect,
                space: Some(space.space.clone()),
                value: 1.0,
                limit: 0.0,
                message: format!(
                    "the policy would {change} {} in {}, but it is on the protect list; \
                     change the policy or the protect list",
                    blocked.member.display, space.space
                ),
                fix: "--allow-protected --reason \"TEXT\" (the protected member stays as it is)"
                    .to_string(),
            });
        }
    }
    violations
}

/// Counts removals over all spaces.
pub fn count_removals(plan: &Plan) -> usize {
    plan.spaces
        .iter()
        .flat_map(|space| &space.operations)
        .filter(|operation| matches!(operation.action, Action::Remove { .. }))
        .count()
}

fn joined_owners(space: &ObservedSpace) -> usize {
    space
        .memberships
        .iter()
        .filter(|m| m.role == MembershipRole::Manager && m.state == MembershipState::Joined)
        .count()
}

fn percent(share: f64) -> String {
    format!("{:.0}%", share * 100.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::Fraction;

    fn policy_guards(max_removals: Option<usize>, fraction: f64, min_owners: usize) -> Guards {
        Guards {
            max_removals,
            max_removed_fraction: Fraction::new(fraction).unwrap(),
            min_owners,
        }
    }

    #[test]
    fn flags_tighten_without_note() {
        let (limits, loosened) = limits(
            &policy_guards(Some(20), 0.5, 1),
            &Requested {
                max_removals: Some(5),
                max_removed_fraction: Some(0.1),
                min_owners: Some(2),
            },
        );
        assert_eq!(limits.max_removals, Some(5));
        assert_eq!(limits.max_removed_fraction, 0.1);
        assert_eq!(limits.min_owners, 2);
        assert!(loosened.is_empty(), "{loosened:?}");
    }

    #[test]
    fn flags_loosen_with_notes() {
        let (limits, loosened) = limits(
            &policy_guards(Some(20), 0.5, 2),
            &Requested {
                max_removals: Some(50),
                max_removed_fraction: Some(0.9),
                min_owners: Some(1),
            },
        );
        assert_eq!(limits.max_removals, Some(50));
        assert_eq!(loosened.len(), 3, "{loosened:?}");
        assert!(loosened[0].contains("--max-removals 50"), "{loosened:?}");
    }

    #[test]
    fn policy_values_without_flags() {
        let (limits, loosened) = limits(&Guards::default(), &Requested::default());
        assert_eq!(limits.max_removals, None);
        assert_eq!(limits.max_removed_fraction, 0.5);
        assert_eq!(limits.min_owners, 1);
        assert!(loosened.is_empty());
    }
}
