//! Operations before they have a place: the planner collects steps, then
//! sorts them into the order the engine runs and numbers them.

use std::collections::BTreeMap;

use crate::chat::model::MembershipRole;

use super::member::role_rank;
use super::model::{Action, MemberRef, Operation, Reason};

/// An operation without its index. Dependencies name other steps by key
/// because indexes exist only after sorting.
#[derive(Debug, Clone)]
pub(crate) struct Step {
    pub action: Action,
    pub reason: Reason,
    pub requires: Vec<StepKey>,
}

/// Names one step of a space: its kind and its member's resource. A space
/// has at most one step of each kind per member.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct StepKey {
    pub kind: &'static str,
    pub resource: String,
}

impl Step {
    pub fn add(member: MemberRef) -> Self {
        Self {
            action: Action::Add { member },
            reason: Reason::MissingMember,
            requires: Vec::new(),
        }
    }

    /// Builds the role change that follows an add in the same plan. It
    /// patches the membership the add creates.
    pub fn set_role_after_add(member: MemberRef, to: MembershipRole, reason: Reason) -> Self {
        let add = StepKey {
            kind: "add",
            resource: member.resource.clone(),
        };
        Self {
            action: Action::SetRole {
                member,
                membership: None,
                from: MembershipRole::Member,
                to,
            },
            reason,
            requires: vec![add],
        }
    }

    pub fn set_role(
        member: MemberRef,
        membership: &str,
        from: MembershipRole,
        to: MembershipRole,
        reason: Reason,
    ) -> Self {
        Self {
            action: Action::SetRole {
                member,
                membership: Some(membership.to_string()),
                from,
                to,
            },
            reason,
            requires: Vec::new(),
        }
    }

    pub fn remove(
        member: MemberRef,
        membership: &str,
        role: MembershipRole,
        reason: Reason,
    ) -> Self {
        Self {
            action: Action::Remove {
                member,
                membership: membership.to_string(),
                role,
            },
            reason,
            requires: Vec::new(),
        }
    }

    pub fn key(&self) -> StepKey {
        StepKey {
            kind: self.action.kind(),
            resource: self.action.member().resource.clone(),
        }
    }

    /// Returns true for a removal or a role change that lowers the role.
    pub fn lowers_role(&self) -> bool {
        match &self.action {
            Action::Add { .. } => false,
            Action::SetRole { from, to, .. } => role_rank(to) < role_rank(from),
            Action::Remove { .. } => true,
        }
    }

    /// Returns the step's group in the run order: adds, promotions,
    /// demotions, removals, and the removals of owners last.
    fn group(&self) -> u8 {
        match &self.action {
            Action::Add { .. } => 0,
            Action::SetRole { from, to, .. } if role_rank(to) > role_rank(from) => 1,
            Action::SetRole { .. } => 2,
            Action::Remove { role, .. } if *role != MembershipRole::Manager => 3,
            Action::Remove { .. } => 4,
        }
    }

    /// Returns the key that sorts steps into the run order, ties broken by
    /// member so the order does not depend on the input's order.
    pub fn order_key(&self) -> (u8, String, String) {
        let member = self.action.member();
        (
            self.group(),
            member.display.clone(),
            member.resource.clone(),
        )
    }
}

/// Sorts steps into run order and numbers them.
///
/// # Panics
///
/// Panics when a step requires a step that is missing or does not come
/// before it, which would be a planner bug.
pub(crate) fn into_operations(mut steps: Vec<Step>) -> Vec<Operation> {
    steps.sort_by_key(Step::order_key);

    let positions: BTreeMap<StepKey, usize> = steps
        .iter()
        .enumerate()
        .map(|(index, step)| (step.key(), index))
        .collect();

    steps
        .into_iter()
        .enumerate()
        .map(|(index, step)| {
            let mut requires: Vec<usize> = step
                .requires
                .iter()
                .map(|key| {
                    let required = positions[key];
                    assert!(
                        required < index,
                        "step {index} requires later step {required}"
                    );
                    required
                })
                .collect();
            requires.sort_unstable();
            requires.dedup();
            Operation {
                index,
                action: step.action,
                reason: step.reason,
                requires,
            }
        })
        .collect()
}
