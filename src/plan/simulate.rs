//! Runs a plan on an observed state in memory, as the API would if every
//! call succeeded, and checks the owner rule after every operation.
//!
//! Tests use it to check the planner's guarantees, and the engine's tests to
//! compute the state a run should reach.

use crate::chat::model::{MembershipRole, MembershipState, SpaceType, UserType};
use crate::observe::model::{ObservedMember, ObservedMembership, ObservedSpace, ObservedState};

use super::member::{is_joined_owner, ref_matches};
use super::model::{Action, MemberRef, Operation, Plan};

/// An operation that cannot run on the simulated state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SimulationError {
    #[error(
        "operation {index} in {space} would leave the space without a joined owner by changing {member}"
    )]
    LastOwner {
        space: String,
        index: usize,
        member: String,
    },
    #[error("operation {index} in {space} targets {membership}, which the space does not have")]
    MembershipNotFound {
        space: String,
        index: usize,
        membership: String,
    },
    #[error("operation {index} in {space} adds {member}, who is already a member")]
    AlreadyMember {
        space: String,
        index: usize,
        member: String,
    },
    #[error("operation {index} in {space} expects role {expected} but the membership has {actual}")]
    RoleMismatch {
        space: String,
        index: usize,
        expected: MembershipRole,
        actual: MembershipRole,
    },
    #[error(
        "operation at position {position} in {space} is numbered {index} or requires a later operation"
    )]
    BadOrder {
        space: String,
        position: usize,
        index: usize,
    },
    #[error("the plan has operations for {space}, which the observed state lacks")]
    SpaceNotFound { space: String },
}

/// Applies the operations to a copy of the space in order and returns the
/// final state, with memberships sorted by name.
///
/// An add creates a joined `ROLE_MEMBER` membership (a group's role stays
/// unspecified), named after the resource the add sends.
///
/// # Errors
///
/// Returns an error for the first operation that cannot run. That is one
/// that would remove or demote the last joined owner of a `SPACE`, targets a
/// membership the space lacks, adds an existing member, expects a `from`
/// role the membership does not have, or is out of order.
pub fn simulate(
    space: &ObservedSpace,
    operations: &[Operation],
) -> Result<ObservedSpace, SimulationError> {
    let mut state = space.clone();
    for (position, operation) in operations.iter().enumerate() {
        let in_order = operation.index == position
            && operation
                .requires
                .iter()
                .all(|&required| required < position);
        if !in_order {
            return Err(SimulationError::BadOrder {
                space: space.name.clone(),
                position,
                index: operation.index,
            });
        }
        run(&mut state, operation)?;
    }
    state.memberships.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(state)
}

/// Applies every space's operations of the plan to the observed state.
///
/// # Errors
///
/// Returns the first error of [`simulate`], or `SpaceNotFound` when the plan
/// has operations for a space the state lacks.
pub fn simulate_state(
    observed: &ObservedState,
    plan: &Plan,
) -> Result<ObservedState, SimulationError> {
    let mut state = observed.clone();
    for space_plan in &plan.spaces {
        if space_plan.operations.is_empty() {
            continue;
        }
        let Some(space) = state.spaces.iter_mut().find(|s| s.name == space_plan.space) else {
            return Err(SimulationError::SpaceNotFound {
                space: space_plan.space.clone(),
            });
        };
        *space = simulate(space, &space_plan.operations)?;
    }
    Ok(state)
}

fn run(state: &mut ObservedSpace, operation: &Operation) -> Result<(), SimulationError> {
    let index = operation.index;
    match &operation.action {
        Action::Add { member } => {
            if state.memberships.iter().any(|m| ref_matches(member, m)) {
                return Err(SimulationError::AlreadyMember {
                    space: state.name.clone(),
                    index,
                    member: member.display.clone(),
                });
            }
            let membership = new_membership(&state.name, member);
            state.memberships.push(membership);
        }
        Action::SetRole {
            member,
            membership,
            from,
            to,
        } => {
            let position = match membership {
                Some(name) => find(state, index, name)?,
                None => state
                    .memberships
                    .iter()
                    .position(|m| ref_matches(member, m))
                    .ok_or_else(|| not_found(state, index, &member.resource))?,
            };
            let current = &state.memberships[position];
            if current.role != *from {
                return Err(SimulationError::RoleMismatch {
                    space: state.name.clone(),
                    index,
                    expected: from.clone(),
                    actual: current.role.clone(),
                });
            }
            if *to != MembershipRole::Manager {
                check_owner_left(state, position, index)?;
            }
            state.memberships[position].role = to.clone();
        }
        Action::Remove { membership, .. } => {
            let position = find(state, index, membership)?;
            check_owner_left(state, position, index)?;
            state.memberships.remove(position);
        }
    }
    Ok(())
}

fn find(state: &ObservedSpace, index: usize, name: &str) -> Result<usize, SimulationError> {
    state
        .memberships
        .iter()
        .position(|m| m.name == name)
        .ok_or_else(|| not_found(state, index, name))
}

fn not_found(state: &ObservedSpace, index: usize, membership: &str) -> SimulationError {
    SimulationError::MembershipNotFound {
        space: state.name.clone(),
        index,
        membership: membership.to_string(),
    }
}

/// Fails when the membership at `position` is the last joined owner of a
/// `SPACE` and is about to lose the role.
fn check_owner_left(
    state: &ObservedSpace,
    position: usize,
    index: usize,
) -> Result<(), SimulationError> {
    let membership = &state.memberships[position];
    if state.space_type != SpaceType::Space || !is_joined_owner(membership) {
        return Ok(());
    }
    let owners = state
        .memberships
        .iter()
        .filter(|m| is_joined_owner(m))
        .count();
    if owners > 1 {
        return Ok(());
    }
    Err(SimulationError::LastOwner {
        space: state.name.clone(),
        index,
        member: membership.name.clone(),
    })
}

fn new_membership(space: &str, member: &MemberRef) -> ObservedMembership {
    let (observed, role) = match member.resource.strip_prefix("users/") {
        Some(id) => {
            let email = id.contains('@').then(|| id.to_lowercase());
            let user = ObservedMember::User {
                id: member.resource.clone(),
                email,
                user_type: UserType::Human,
            };
            (user, MembershipRole::Member)
        }
        None => (
            ObservedMember::Group {
                id: member.resource.clone(),
            },
            MembershipRole::Unspecified,
        ),
    };
    let suffix = member
        .resource
        .split_once('/')
        .map_or(member.resource.as_str(), |(_, id)| id);
    ObservedMembership {
        name: format!("{space}/members/{suffix}"),
        member: observed,
        role,
        state: MembershipState::Joined,
        affiliation: None,
        create_time: None,
    }
}
