//! The planner: resolved policy plus observed state in, plan out. No I/O.

pub mod model;

use crate::observe::ObservedState;
use crate::policy::Policy;

pub use model::{
    Action, BlockReason, Blocked, MemberRef, Operation, Plan, Reason, SpacePlan, SuccessorRule,
};

/// Computes the plan. Deterministic: the same input gives the same plan.
pub fn plan(_policy: &Policy, _observed: &ObservedState) -> Plan {
    todo!()
}
