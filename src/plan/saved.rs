//! Saved plans: `plan --out FILE` writes one, `apply --plan FILE` runs it.
//!
//! The file holds a format version, the SHA-256 of the policy file's bytes,
//! the observed state of the spaces the plan changes, and the plan. Before a
//! saved plan runs, the spaces are observed again and every operation whose
//! starting state no longer holds is dropped and reported as drifted.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::member::ref_matches;
use super::model::{Action, Plan};
use super::subset::retain;
use crate::observe::{ObservedSpace, ObservedState};

/// The saved-plan format this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;

/// A plan with what it was made from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedPlan {
    pub format_version: u32,
    /// The chat-reconcile version that wrote the file.
    pub tool_version: String,
    /// Lowercase hex SHA-256 of the policy file's bytes.
    pub policy_sha256: String,
    /// RFC 3339 time the plan was saved.
    pub created: String,
    /// The observed state of every space with operations, as planned.
    pub observed: Vec<ObservedSpace>,
    pub plan: Plan,
}

impl SavedPlan {
    /// Bundles `plan` with the observed state of the spaces it changes.
    pub fn new(
        plan: &Plan,
        observed: &ObservedState,
        policy_bytes: &[u8],
        created: String,
    ) -> Self {
        let observed = observed
            .spaces
            .iter()
            .filter(|space| {
                plan.spaces
                    .iter()
                    .any(|p| p.space == space.name && !p.operations.is_empty())
            })
            .cloned()
            .collect();
        Self {
            format_version: FORMAT_VERSION,
            tool_version: env!("CARGO_PKG_VERSION").to_string(),
            policy_sha256: policy_hash(policy_bytes),
            created,
            observed,
            plan: plan.clone(),
        }
    }

    /// Returns the names of the spaces with operations.
    pub fn spaces(&self) -> Vec<String> {
        self.plan
            .spaces
            .iter()
            .filter(|space| !space.operations.is_empty())
            .map(|space| space.space.clone())
            .collect()
    }
}

/// Returns the lowercase hex SHA-256 of `bytes`.
pub fn policy_hash(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// An operation of a saved plan whose starting state changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Drift {
    pub space: String,
    /// The operation's index in the saved plan.
    pub index: usize,
    pub kind: &'static str,
    pub member: String,
    /// What differs, for people.
    pub detail: String,
}

/// Keeps the operations of `plan` whose starting state holds in `now`, and
/// reports the others. An operation that requires a drifted one is dropped
/// and reported too. The kept operations are numbered again from 0.
pub fn drop_drifted(plan: &Plan, now: &ObservedState) -> (Plan, Vec<Drift>) {
    let mut drifts = Vec::new();
    let mut drifted: BTreeMap<&str, Vec<bool>> = BTreeMap::new();
    for space_plan in &plan.spaces {
        let space = now
            .spaces
            .iter()
            .find(|space| space.name == space_plan.space);
        let mut bad = vec![false; space_plan.operations.len()];
        for operation in &space_plan.operations {
            let detail = match (operation.requires.iter().find(|&&r| bad[r]), space) {
                (Some(required), _) => {
                    Some(format!("operation {required}, which it requires, drifted"))
                }
                (None, None) => Some("the space was not found".to_string()),
                (None, Some(space)) => drift_detail(space, &operation.action),
            };
            if let Some(detail) = detail {
                bad[operation.index] = true;
                drifts.push(Drift {
                    space: space_plan.space.clone(),
                    index: operation.index,
                    kind: operation.action.kind(),
                    member: operation.action.member().display.clone(),
                    detail,
                });
            }
        }
        drifted.insert(&space_plan.space, bad);
    }
    let kept = retain(plan, |space, index| !drifted[space][index]);
    (kept, drifts)
}

/// Returns why `action` no longer fits `space`, or `None` if it does.
fn drift_detail(space: &ObservedSpace, action: &Action) -> Option<String> {
    match action {
        Action::Add { member } => space
            .memberships
            .iter()
            .any(|membership| ref_matches(member, membership))
            .then(|| format!("{member} is already a member")),
        // Patches a membership an earlier add creates: holds with the add.
        Action::SetRole {
            membership: None, ..
        } => None,
        Action::SetRole {
            membership: Some(name),
            from,
            ..
        } => expect_role(space, name, from),
        Action::Remove {
            membership, role, ..
        } => expect_role(space, membership, role),
    }
}

fn expect_role(
    space: &ObservedSpace,
    name: &str,
    expected: &crate::chat::model::MembershipRole,
) -> Option<String> {
    match space.memberships.iter().find(|m| m.name == name) {
        None => Some(format!("{name} is gone")),
        Some(membership) if membership.role != *expected => Some(format!(
            "{name} is now {}, the plan expected {}",
            membership.role.admin_word(),
            expected.admin_word()
        )),
        Some(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_hash_is_sha256_hex() {
        assert_eq!(
            policy_hash(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
