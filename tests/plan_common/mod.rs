//! Builders for hand-made observed states and policies in planner tests.

#![allow(dead_code)]

use std::collections::BTreeMap;

use chat_reconcile::chat::model::{
    Affiliation, MembershipRole, MembershipState, SpaceType, UserType,
};
use chat_reconcile::observe::{ObservedMember, ObservedMembership, ObservedSpace, ObservedState};
use chat_reconcile::plan::{Action, Operation, Reason, SpacePlan};
use chat_reconcile::policy::{Mode, Policy, Principal, Role, SpacePolicy};

pub const SPACE: &str = "spaces/AAAAeng";

/// Returns the email of pool user `n`.
pub fn email(n: u32) -> String {
    format!("u{n}@example.com")
}

/// Builds a joined, internal, human `ROLE_MEMBER` membership of user `n` in
/// [`SPACE`], with a known email and a creation time that grows with `n`.
pub fn user(n: u32) -> ObservedMembership {
    ObservedMembership {
        name: format!("{SPACE}/members/{n}"),
        member: ObservedMember::User {
            id: format!("users/{n}"),
            email: Some(email(n)),
            user_type: UserType::Human,
        },
        role: MembershipRole::Member,
        state: MembershipState::Joined,
        affiliation: Some(Affiliation::Internal),
        create_time: Some(format!("2021-01-{n:02}T09:00:00Z")),
    }
}

/// Builds the membership of group `id` (`groups/{id}`).
pub fn group(id: &str) -> ObservedMembership {
    ObservedMembership {
        name: format!("{SPACE}/members/{id}"),
        member: ObservedMember::Group {
            id: format!("groups/{id}"),
        },
        role: MembershipRole::Unspecified,
        state: MembershipState::Joined,
        affiliation: None,
        create_time: None,
    }
}

/// Changes a built membership.
pub trait Edit: Sized {
    fn edit(self, change: impl FnOnce(&mut ObservedMembership)) -> Self;

    fn owner(self) -> Self {
        self.edit(|m| m.role = MembershipRole::Manager)
    }
    fn manager(self) -> Self {
        self.edit(|m| m.role = MembershipRole::AssistantManager)
    }
    fn invited(self) -> Self {
        self.edit(|m| m.state = MembershipState::Invited)
    }
    fn external(self) -> Self {
        self.edit(|m| m.affiliation = Some(Affiliation::External))
    }
    fn created(self, time: &str) -> Self {
        self.edit(|m| m.create_time = Some(time.to_string()))
    }
    fn no_email(self) -> Self {
        self.edit(|m| {
            if let ObservedMember::User { email, .. } = &mut m.member {
                *email = None;
            }
        })
    }
    fn bot(self) -> Self {
        self.edit(|m| {
            if let ObservedMember::User { user_type, .. } = &mut m.member {
                *user_type = UserType::Bot;
            }
        })
    }
}

impl Edit for ObservedMembership {
    fn edit(mut self, change: impl FnOnce(&mut ObservedMembership)) -> Self {
        change(&mut self);
        self
    }
}

pub fn space_of(space_type: SpaceType, memberships: Vec<ObservedMembership>) -> ObservedSpace {
    ObservedSpace {
        name: SPACE.to_string(),
        display_name: Some("Engineering".to_string()),
        space_type,
        memberships,
    }
}

pub fn state(memberships: Vec<ObservedMembership>) -> ObservedState {
    ObservedState {
        spaces: vec![space_of(SpaceType::Space, memberships)],
        missing: Vec::new(),
    }
}

pub fn by_email(n: u32) -> Principal {
    Principal::Email(email(n))
}

pub fn by_id(n: u32) -> Principal {
    Principal::User(format!("users/{n}"))
}

/// Builds an `exact` space policy for [`SPACE`] listing the given members.
pub fn space_policy(members: &[(Principal, Role)]) -> SpacePolicy {
    SpacePolicy {
        space: SPACE.to_string(),
        display_name: None,
        mode: Mode::Exact,
        members: members.iter().cloned().collect::<BTreeMap<_, _>>(),
        successors: Vec::new(),
        keep: Vec::new(),
        location: "policy.yaml:3:5".to_string(),
    }
}

pub fn policy(space: SpacePolicy) -> Policy {
    Policy {
        spaces: vec![space],
        ..Policy::default()
    }
}

/// Returns the only space plan, failing the test when there is not one.
pub fn only_space(plan: &chat_reconcile::plan::Plan) -> &SpacePlan {
    assert_eq!(plan.spaces.len(), 1, "plan: {plan:#?}");
    &plan.spaces[0]
}

/// Renders operations as short lines, `kind member reason`, for
/// comparisons that read like a snapshot.
pub fn lines(operations: &[Operation]) -> Vec<String> {
    operations
        .iter()
        .map(|operation| {
            let action = match &operation.action {
                Action::Add { member } => format!("add {member}"),
                Action::SetRole {
                    member, from, to, ..
                } => {
                    format!(
                        "set_role {member} {}->{}",
                        from.admin_word(),
                        to.admin_word()
                    )
                }
                Action::Remove { member, .. } => format!("remove {member}"),
            };
            let reason = match &operation.reason {
                Reason::MissingMember => "missing".to_string(),
                Reason::NotInPolicy => "not_in_policy".to_string(),
                Reason::Offboarded => "offboarded".to_string(),
                Reason::RoleDiffers => "role_differs".to_string(),
                Reason::Successor { replaces, rule } => format!("successor({replaces}, {rule:?})"),
            };
            let requires = if operation.requires.is_empty() {
                String::new()
            } else {
                format!(" requires {:?}", operation.requires)
            };
            format!("{} {action} {reason}{requires}", operation.index)
        })
        .collect()
}
