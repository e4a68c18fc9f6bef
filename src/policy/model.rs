//! The resolved policy: validated types the planner works on.
//!
//! Values of these types are built only by [`crate::policy::resolve`], which
//! has already rejected duplicate spaces, a person in two roles of one space,
//! malformed emails and resource names.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::chat::model::MembershipRole;

/// A member as the policy names it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum Principal {
    /// A user by email, lowercased (emails compare case-insensitively).
    Email(String),
    /// A user or app by resource name, `users/{id}`.
    User(String),
    /// A Google Group, `groups/{id}`.
    Group(String),
}

impl fmt::Display for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Email(email) => f.write_str(email),
            Self::User(name) | Self::Group(name) => f.write_str(name),
        }
    }
}

/// A role in the words admins see in Chat.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// API `ROLE_MANAGER`.
    Owner,
    /// API `ROLE_ASSISTANT_MANAGER`.
    Manager,
    /// API `ROLE_MEMBER`.
    Member,
}

impl Role {
    /// Returns the API value for this role.
    pub fn to_api(self) -> MembershipRole {
        match self {
            Self::Owner => MembershipRole::Manager,
            Self::Manager => MembershipRole::AssistantManager,
            Self::Member => MembershipRole::Member,
        }
    }
}

/// Whether members the policy does not list are removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Members not listed are removed (except `keep`, `protect` and apps).
    #[default]
    Exact,
    /// Nothing is removed; missing members are added and roles set.
    Additive,
}

/// The whole resolved policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Policy {
    /// Sorted by space name, no duplicates.
    pub spaces: Vec<SpacePolicy>,
    /// Never removed or demoted in any space.
    pub protect: Vec<Principal>,
    /// Removed from every space the policy names.
    pub offboard: Vec<Principal>,
    /// The members of `offboard` with `scope: all-spaces`, which
    /// `chat-reconcile offboard --policy` also removes from every space it
    /// finds. `plan` and `apply` treat them like the rest of `offboard`.
    #[serde(default)]
    pub offboard_all_spaces: Vec<Principal>,
    /// Ordered successor candidates used in every space after its own list.
    pub successors: Vec<Principal>,
    /// Whether the planner may fall back to the longest-standing joined
    /// human manager, then member, of the organisation.
    pub successor_fallback: bool,
}

/// Desired state of one space.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpacePolicy {
    /// `spaces/{id}`.
    pub space: String,
    /// Checked against the API; a mismatch is a warning.
    pub display_name: Option<String>,
    pub mode: Mode,
    /// Every listed member with the one role the policy gives it.
    pub members: BTreeMap<Principal, Role>,
    /// Ordered candidates to promote when every owner leaves.
    pub successors: Vec<Principal>,
    /// Left alone whatever their role.
    pub keep: Vec<Principal>,
    /// Where the space's entry starts, for messages (`file:line:column`).
    pub location: String,
}
