//! Preflight: predicts which operations the API would reject because the
//! caller lacks an owner's rights in the space. Pure, like the planner.
//!
//! The rules come from the Chat API reference: only an owner (`ROLE_MANAGER`)
//! may remove an owner, change an owner's role, or make another member an
//! owner, unless the request uses admin access. Managers have every other
//! owner right. Admin access is not used by `plan` and `apply`, so preflight
//! never assumes it.

use serde::Serialize;

use crate::chat::model::{MembershipRole, MembershipState};
use crate::observe::{ObservedMember, ObservedSpace, ObservedState};

use super::model::{Action, Plan};

/// An operation the API is expected to reject.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Refusal {
    pub space: String,
    /// The operation's index in its space.
    pub index: usize,
    pub member: String,
    pub reason: String,
}

/// The caller's standing in one space as the plan's operations run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Standing {
    Owner,
    NotOwner,
    /// The caller's email does not appear among the space's memberships.
    Unknown,
    /// An earlier operation of the plan removes the caller.
    Removed,
}

/// Lists the operations of `plan` that `caller` (a lowercased email) may
/// not make, walking each space's operations in order so that a change to
/// the caller's own role counts for the operations after it.
pub fn check(plan: &Plan, observed: &ObservedState, caller: &str) -> Vec<Refusal> {
    let mut refusals = Vec::new();
    for space_plan in &plan.spaces {
        let Some(space) = observed.spaces.iter().find(|s| s.name == space_plan.space) else {
            continue;
        };
        let mut standing = standing_of(space, caller);
        for operation in &space_plan.operations {
            let member = operation.action.member().display.as_str();
            if let Some(reason) = refusal_reason(&operation.action, standing, caller, &space.name) {
                refusals.push(Refusal {
                    space: space.name.clone(),
                    index: operation.index,
                    member: member.to_string(),
                    reason,
                });
                // A rejected operation leaves the caller's standing as it was.
                continue;
            }
            if member.eq_ignore_ascii_case(caller) {
                standing = match &operation.action {
                    Action::Remove { .. } => Standing::Removed,
                    Action::SetRole { to, .. } if *to == MembershipRole::Manager => Standing::Owner,
                    Action::SetRole { .. } => Standing::NotOwner,
                    Action::Add { .. } => standing,
                };
            }
        }
    }
    refusals
}

fn standing_of(space: &ObservedSpace, caller: &str) -> Standing {
    let membership = space.memberships.iter().find(|membership| {
        matches!(&membership.member, ObservedMember::User { email: Some(email), .. } if email == caller)
    });
    match membership {
        None => Standing::Unknown,
        Some(m) if m.role == MembershipRole::Manager && m.state == MembershipState::Joined => {
            Standing::Owner
        }
        Some(_) => Standing::NotOwner,
    }
}

fn refusal_reason(
    action: &Action,
    standing: Standing,
    caller: &str,
    space: &str,
) -> Option<String> {
    let needs_owner = match action {
        Action::Remove { role, .. } => {
            (*role == MembershipRole::Manager).then_some("remove an owner")
        }
        Action::SetRole { from, .. } if *from == MembershipRole::Manager => {
            Some("change an owner's role")
        }
        Action::SetRole { to, .. } if *to == MembershipRole::Manager => {
            Some("make a member an owner")
        }
        _ => None,
    };
    match standing {
        Standing::Removed => Some(format!(
            "an earlier operation removes the caller {caller} from {space}"
        )),
        Standing::Owner => None,
        Standing::NotOwner => needs_owner.map(|right| {
            format!("only an owner of {space} may {right}, and the caller {caller} is not one")
        }),
        Standing::Unknown => needs_owner.map(|right| {
            format!(
                "only an owner of {space} may {right}, and the caller {caller} was not found among its members"
            )
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::model::{SpaceType, UserType};
    use crate::observe::ObservedMembership;
    use crate::plan::model::{MemberRef, Operation, Reason, SpacePlan};

    const SPACE: &str = "spaces/AAA";

    fn user(id: u32, email: &str, role: MembershipRole) -> ObservedMembership {
        ObservedMembership {
            name: format!("{SPACE}/members/{id}"),
            member: ObservedMember::User {
                id: format!("users/{id}"),
                email: Some(email.to_string()),
                user_type: UserType::Human,
            },
            role,
            state: MembershipState::Joined,
            affiliation: None,
            create_time: None,
        }
    }

    fn observed(memberships: Vec<ObservedMembership>) -> ObservedState {
        ObservedState {
            spaces: vec![ObservedSpace {
                name: SPACE.to_string(),
                display_name: None,
                space_type: SpaceType::Space,
                memberships,
            }],
            missing: Vec::new(),
        }
    }

    fn member(email: &str) -> MemberRef {
        MemberRef {
            display: email.to_string(),
            resource: format!("users/{email}"),
        }
    }

    fn plan(actions: Vec<Action>) -> Plan {
        let operations = actions
            .into_iter()
            .enumerate()
            .map(|(index, action)| Operation {
                index,
                action,
                reason: Reason::NotInPolicy,
                requires: vec![],
            })
            .collect();
        Plan {
            spaces: vec![SpacePlan {
                space: SPACE.to_string(),
                display_name: None,
                operations,
                blocked: vec![],
                warnings: vec![],
            }],
        }
    }

    fn remove(email: &str, id: u32, role: MembershipRole) -> Action {
        Action::Remove {
            member: member(email),
            membership: format!("{SPACE}/members/{id}"),
            role,
        }
    }

    fn promote(email: &str, id: u32) -> Action {
        Action::SetRole {
            member: member(email),
            membership: Some(format!("{SPACE}/members/{id}")),
            from: MembershipRole::Member,
            to: MembershipRole::Manager,
        }
    }

    #[test]
    fn owner_caller_passes() {
        let state = observed(vec![
            user(1, "caller@example.com", MembershipRole::Manager),
            user(2, "dave@example.com", MembershipRole::Manager),
        ]);
        let plan = plan(vec![remove("dave@example.com", 2, MembershipRole::Manager)]);
        assert!(check(&plan, &state, "caller@example.com").is_empty());
    }

    #[test]
    fn manager_caller_cannot_remove_owner() {
        let state = observed(vec![
            user(1, "caller@example.com", MembershipRole::AssistantManager),
            user(2, "dave@example.com", MembershipRole::Manager),
            user(3, "erin@example.com", MembershipRole::Member),
        ]);
        let plan = plan(vec![
            promote("erin@example.com", 3),
            remove("dave@example.com", 2, MembershipRole::Manager),
            remove("bob@example.com", 4, MembershipRole::Member),
        ]);
        let refusals = check(&plan, &state, "caller@example.com");
        let indexes: Vec<usize> = refusals.iter().map(|r| r.index).collect();
        assert_eq!(indexes, vec![0, 1], "{refusals:?}");
        assert!(refusals[0].reason.contains("make a member an owner"));
        assert!(refusals[1].reason.contains("remove an owner"));
    }

    #[test]
    fn refused_self_promotion_changes_nothing() {
        let state = observed(vec![
            user(1, "caller@example.com", MembershipRole::Member),
            user(2, "dave@example.com", MembershipRole::Manager),
        ]);
        // The caller may not promote itself, so it is still no owner when
        // the removal of the owner comes.
        let plan = plan(vec![
            promote("caller@example.com", 1),
            remove("dave@example.com", 2, MembershipRole::Manager),
        ]);
        let refusals = check(&plan, &state, "caller@example.com");
        let indexes: Vec<usize> = refusals.iter().map(|r| r.index).collect();
        assert_eq!(indexes, vec![0, 1], "{refusals:?}");
    }

    #[test]
    fn caller_demoting_itself_loses_rights() {
        let state = observed(vec![
            user(1, "caller@example.com", MembershipRole::Manager),
            user(2, "dave@example.com", MembershipRole::Manager),
            user(3, "erin@example.com", MembershipRole::Manager),
        ]);
        let demote_self = Action::SetRole {
            member: member("caller@example.com"),
            membership: Some(format!("{SPACE}/members/1")),
            from: MembershipRole::Manager,
            to: MembershipRole::Member,
        };
        let plan = plan(vec![
            demote_self,
            remove("erin@example.com", 3, MembershipRole::Manager),
        ]);
        let refusals = check(&plan, &state, "caller@example.com");
        let indexes: Vec<usize> = refusals.iter().map(|r| r.index).collect();
        assert_eq!(indexes, vec![1], "{refusals:?}");
    }

    #[test]
    fn caller_removed_blocks_later_operations() {
        let state = observed(vec![
            user(1, "caller@example.com", MembershipRole::Manager),
            user(2, "dave@example.com", MembershipRole::Member),
            user(3, "erin@example.com", MembershipRole::Member),
        ]);
        let plan = plan(vec![
            remove("caller@example.com", 1, MembershipRole::Member),
            remove("erin@example.com", 3, MembershipRole::Member),
        ]);
        let refusals = check(&plan, &state, "caller@example.com");
        assert_eq!(refusals.len(), 1, "{refusals:?}");
        assert_eq!(refusals[0].index, 1);
        assert!(refusals[0].reason.contains("removes the caller"));
    }

    #[test]
    fn unknown_caller_is_named() {
        let state = observed(vec![user(2, "dave@example.com", MembershipRole::Manager)]);
        let plan = plan(vec![remove("dave@example.com", 2, MembershipRole::Manager)]);
        let refusals = check(&plan, &state, "ghost@example.com");
        assert_eq!(refusals.len(), 1);
        assert!(
            refusals[0]
                .reason
                .contains("was not found among its members")
        );
    }
}
