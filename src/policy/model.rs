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
    /// Limits that refuse a whole run before anything is written.
    pub guards: Guards,
}

/// The policy's safety guards. The command line may tighten or loosen each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Guards {
    /// Most removals one run may make over all spaces; `None`: no limit.
    pub max_removals: Option<usize>,
    /// Largest share of one space's memberships one run may remove.
    pub max_removed_fraction: Fraction,
    /// Fewest joined owners a `SPACE` may be left with by a plan that
    /// lowers its owner count.
    pub min_owners: usize,
}

impl Guards {
    /// The share of a space's memberships one run may remove unless the
    /// policy says otherwise.
    pub const DEFAULT_MAX_REMOVED_FRACTION: f64 = 0.5;
}

impl Default for Guards {
    fn default() -> Self {
        Self {
            max_removals: None,
            max_removed_fraction: Fraction::new(Self::DEFAULT_MAX_REMOVED_FRACTION)
                .expect("the default fraction is between 0 and 1"),
            min_owners: 1,
        }
    }
}

/// A number from 0 to 1, never NaN, so it compares like an integer.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Serialize, Deserialize)]
#[serde(try_from = "f64", into = "f64")]
pub struct Fraction(f64);

impl Fraction {
    /// Returns `None` unless `value` is from 0 to 1.
    pub fn new(value: f64) -> Option<Self> {
        (0.0..=1.0).contains(&value).then_some(Self(value))
    }

    pub fn get(self) -> f64 {
        self.0
    }
}

// NaN is ruled out by the constructor, so equality is reflexive.
impl Eq for Fraction {}

impl TryFrom<f64> for Fraction {
    type Error = String;

    fn try_from(value: f64) -> Result<Self, String> {
        Self::new(value).ok_or_else(|| format!("{value} is not from 0 to 1"))
    }
}

impl From<Fraction> for f64 {
    fn from(fraction: Fraction) -> f64 {
        fraction.0
    }
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
