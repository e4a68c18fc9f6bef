//! The observed state: memberships as fetched from the API for the spaces in
//! scope, with emails filled in wherever the run could resolve them.

use serde::{Deserialize, Serialize};

use crate::chat::model::{Affiliation, MembershipRole, MembershipState, SpaceType, UserType};

/// Memberships of every space in scope, sorted by space name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ObservedState {
    pub spaces: Vec<ObservedSpace>,
    /// Spaces in scope for which `spaces.get` returned 404 (no such space,
    /// or the caller may not see it), sorted. They have no entry in `spaces`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<String>,
}

/// One space and its memberships, sorted by membership name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObservedSpace {
    /// `spaces/{id}`.
    pub name: String,
    pub display_name: Option<String>,
    pub space_type: SpaceType,
    pub memberships: Vec<ObservedMembership>,
}

/// One membership as the API returned it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObservedMembership {
    /// `spaces/{space}/members/{member}`, the name to patch or delete.
    pub name: String,
    pub member: ObservedMember,
    pub role: MembershipRole,
    pub state: MembershipState,
    pub affiliation: Option<Affiliation>,
    /// RFC 3339; the successor fallback ranks by it (oldest first).
    pub create_time: Option<String>,
}

/// The principal behind a membership.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ObservedMember {
    User {
        /// `users/{numeric id}`.
        id: String,
        /// Lowercased; from `member.email` or from the run's email lookup.
        email: Option<String>,
        user_type: UserType,
    },
    Group {
        /// `groups/{id}`.
        id: String,
    },
}

impl ObservedSpace {
    /// Finds the space's owners (`ROLE_MANAGER`) that have joined.
    pub fn owners(&self) -> impl Iterator<Item = &ObservedMembership> {
        self.memberships
            .iter()
            .filter(|m| m.role == MembershipRole::Manager)
    }
}
