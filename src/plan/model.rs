//! The plan: pure data, printable and saved as JSON.
//!
//! A plan lists, for each space, the operations to run in order. Every
//! operation carries the reason it exists and the operations it depends on,
//! so the engine can skip a removal whose successor promotion failed.

use serde::{Deserialize, Serialize};

use crate::chat::model::MembershipRole;

/// Every space's operations, sorted by space name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Plan {
    pub spaces: Vec<SpacePlan>,
}

/// The operations of one space, in the order they must run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpacePlan {
    /// `spaces/{id}`.
    pub space: String,
    pub display_name: Option<String>,
    pub operations: Vec<Operation>,
    /// Changes the policy requests that a safety rule prevents.
    pub blocked: Vec<Blocked>,
    /// Notes for the operator that change nothing (a display name mismatch).
    pub warnings: Vec<String>,
}

/// A member as the plan shows it: the email where known, the id otherwise.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct MemberRef {
    /// The text shown to people: an email, `users/{id}` or `groups/{id}`.
    pub display: String,
    /// The resource name to send in `members.create`: `users/{id}`,
    /// `users/{email}` or `groups/{id}`.
    pub resource: String,
}

impl std::fmt::Display for MemberRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.display)
    }
}

/// One change to one membership.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Operation {
    /// Position in the space's list, starting at 0.
    pub index: usize,
    pub action: Action,
    pub reason: Reason,
    /// Indexes of earlier operations in the same space that must have
    /// succeeded (applied or already done) before this one may run.
    pub requires: Vec<usize>,
}

/// The change an operation makes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Action {
    /// `spaces.members.create`; the new membership is `ROLE_MEMBER`.
    Add { member: MemberRef },
    /// `spaces.members.patch` with `updateMask=role`.
    SetRole {
        member: MemberRef,
        /// The membership to patch; `None` when an earlier `Add` in the same
        /// space creates it, and the engine takes the name from that result.
        membership: Option<String>,
        from: MembershipRole,
        to: MembershipRole,
    },
    /// `spaces.members.delete`.
    Remove {
        member: MemberRef,
        membership: String,
        role: MembershipRole,
    },
}

impl Action {
    /// Returns the member the action changes.
    pub fn member(&self) -> &MemberRef {
        match self {
            Self::Add { member } | Self::SetRole { member, .. } | Self::Remove { member, .. } => {
                member
            }
        }
    }

    /// Returns the short name used in output: `add`, `set_role`, `remove`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Add { .. } => "add",
            Self::SetRole { .. } => "set_role",
            Self::Remove { .. } => "remove",
        }
    }
}

/// The reason an operation exists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Reason {
    /// The policy lists the member and the space lacks it.
    MissingMember,
    /// The member is in an `exact` space and the policy does not list it.
    NotInPolicy,
    /// The member is on the policy's `offboard` list.
    Offboarded,
    /// The member's role differs from the policy's.
    RoleDiffers,
    /// The member is promoted so that a departing owner can be removed or
    /// demoted.
    Successor {
        /// The owner whose departure needs this promotion.
        replaces: String,
        rule: SuccessorRule,
    },
}

/// The rule that picked a successor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SuccessorRule {
    /// An owner the policy names for the space.
    PolicyOwner,
    /// The first present member of the space's `successors` list.
    SpaceSuccessors,
    /// The first present member of the policy's top-level `successors` list.
    GlobalSuccessors,
    /// The longest-standing joined human manager, then member.
    LongestStanding,
}

/// A change the policy requests that the plan does not make.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Blocked {
    pub member: MemberRef,
    /// The change the policy requests, had it been allowed.
    pub action: Action,
    /// The reason the change was requested.
    pub requested_because: Reason,
    pub block: BlockReason,
}

/// The reason a change was not planned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "block", rename_all = "snake_case")]
pub enum BlockReason {
    /// The member is the space's last owner and no successor exists.
    NoSuccessor,
    /// The member is on the `protect` list.
    Protected,
}

impl Plan {
    /// Counts operations over all spaces.
    pub fn operation_count(&self) -> usize {
        self.spaces.iter().map(|s| s.operations.len()).sum()
    }

    /// Counts blocked changes over all spaces.
    pub fn blocked_count(&self) -> usize {
        self.spaces.iter().map(|s| s.blocked.len()).sum()
    }

    /// Returns true when there is nothing to apply.
    pub fn is_empty(&self) -> bool {
        self.operation_count() == 0
    }
}
