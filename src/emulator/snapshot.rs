//! A plain copy of the spaces and memberships, for test assertions and the
//! `/emulator/v1/state` inspection route. Emails are always included here,
//! whatever the value of `show_emails`, because this view is for the operator.

use serde::Serialize;

use super::state::{EmulatorState, Member, MembershipState, Role, SpaceType};

/// Every space and membership at one moment.
#[derive(Debug, Clone, Serialize)]
pub struct Snapshot {
    pub spaces: Vec<SpaceSnapshot>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SpaceSnapshot {
    /// `spaces/{space}`.
    pub name: String,
    pub display_name: Option<String>,
    pub space_type: SpaceType,
    /// In listing order, which is the order of the `{member}` ids.
    pub memberships: Vec<MembershipSnapshot>,
}

#[derive(Debug, Clone, Serialize)]
pub struct MembershipSnapshot {
    /// `spaces/{space}/members/{member}`.
    pub name: String,
    /// `users/{id}` or `groups/{id}`.
    pub member: String,
    /// The user's email; `None` for a group.
    pub email: Option<String>,
    pub role: Role,
    pub state: MembershipState,
    pub create_time: String,
}

impl Snapshot {
    /// Finds a space by `spaces/{space}`.
    pub fn space(&self, name: &str) -> Option<&SpaceSnapshot> {
        self.spaces.iter().find(|space| space.name == name)
    }
}

impl SpaceSnapshot {
    /// Finds a membership by `users/{id}`, `groups/{id}` or email (ignoring case).
    pub fn membership(&self, member: &str) -> Option<&MembershipSnapshot> {
        self.memberships.iter().find(|membership| {
            membership.member == member
                || membership
                    .email
                    .as_deref()
                    .is_some_and(|email| email.eq_ignore_ascii_case(member))
        })
    }

    /// Lists the members (`users/{id}`) of the joined owners.
    pub fn owners(&self) -> Vec<&str> {
        self.memberships
            .iter()
            .filter(|m| m.role == Role::RoleManager && m.state == MembershipState::Joined)
            .map(|m| m.member.as_str())
            .collect()
    }
}

pub(crate) fn take(state: &EmulatorState) -> Snapshot {
    let spaces = state
        .spaces
        .iter()
        .map(|(space_id, space)| SpaceSnapshot {
            name: format!("spaces/{space_id}"),
            display_name: space.display_name.clone(),
            space_type: space.space_type,
            memberships: space
                .memberships
                .iter()
                .map(|(key, membership)| {
                    let (member, email) = match &membership.member {
                        Member::User(id) => (
                            format!("users/{id}"),
                            state.users.get(id).map(|user| user.email.clone()),
                        ),
                        Member::Group(id) => (format!("groups/{id}"), None),
                    };
                    MembershipSnapshot {
                        name: format!("spaces/{space_id}/members/{key}"),
                        member,
                        email,
                        role: membership.role,
                        state: membership.state,
                        create_time: membership.create_time.clone(),
                    }
                })
                .collect(),
        })
        .collect();
    Snapshot { spaces }
}
