//! The planner: resolved policy plus observed state in, plan out. No I/O.
//!
//! For each space the policy names, `space.rs` works out the changes the
//! policy requires member by member. `successor.rs` then makes sure a
//! `SPACE` keeps a joined owner after every operation, and `step.rs` puts
//! the operations in run order. [`simulate()`] runs a plan on an observed
//! state in memory, which is how the tests check the plan's guarantees.

mod member;
pub mod model;
pub mod preflight;
pub mod saved;
mod simulate;
mod space;
mod step;
pub mod subset;
mod successor;

use std::collections::BTreeMap;

use crate::observe::{ObservedSpace, ObservedState};
use crate::policy::{Policy, SpacePolicy};

pub use model::{
    Action, BlockReason, Blocked, MemberRef, Operation, Plan, Reason, SpacePlan, SuccessorRule,
};
pub use simulate::{SimulationError, simulate, simulate_state};

/// The warning for a policy space the observed state lacks.
pub const SPACE_NOT_FOUND: &str = "space not found or not visible";

/// Computes the plan. Deterministic: the same input gives the same plan,
/// whatever the order of the observed spaces and memberships.
///
/// The plan holds a space only when it has operations, blocked changes or
/// warnings, and lists spaces by name.
pub fn plan(policy: &Policy, observed: &ObservedState) -> Plan {
    let observed_spaces: BTreeMap<&str, &ObservedSpace> = observed
        .spaces
        .iter()
        .map(|space| (space.name.as_str(), space))
        .collect();

    let mut space_policies: Vec<&SpacePolicy> = policy.spaces.iter().collect();
    space_policies.sort_by(|a, b| a.space.cmp(&b.space));

    let spaces = space_policies
        .into_iter()
        .map(
            |space_policy| match observed_spaces.get(space_policy.space.as_str()) {
                Some(observed) => plan_space(policy, space_policy, observed),
                None => SpacePlan {
                    space: space_policy.space.clone(),
                    display_name: space_policy.display_name.clone(),
                    operations: Vec::new(),
                    blocked: Vec::new(),
                    warnings: vec![SPACE_NOT_FOUND.to_string()],
                },
            },
        )
        .filter(|space| {
            !space.operations.is_empty() || !space.blocked.is_empty() || !space.warnings.is_empty()
        })
        .collect();
    Plan { spaces }
}

fn plan_space(policy: &Policy, space_policy: &SpacePolicy, observed: &ObservedSpace) -> SpacePlan {
    let mut draft = space::draft(policy, space_policy, observed);
    if member::has_roles(&observed.space_type) {
        successor::keep_space_owned(policy, space_policy, &mut draft);
    }

    let mut blocked = draft.blocked;
    blocked.sort_by(|a, b| (&a.member, a.action.kind()).cmp(&(&b.member, b.action.kind())));

    SpacePlan {
        space: observed.name.clone(),
        display_name: observed
            .display_name
            .clone()
            .or_else(|| space_policy.display_name.clone()),
        operations: step::into_operations(draft.steps),
        blocked,
        warnings: draft.warnings,
    }
}
