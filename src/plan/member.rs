//! Member references and the matching of policy principals to memberships.

use crate::chat::model::{Affiliation, MembershipRole, MembershipState, SpaceType, UserType};
use crate::observe::model::{ObservedMember, ObservedMembership};
use crate::policy::model::Principal;

use super::model::MemberRef;

/// Returns true when the policy principal names the membership's member.
///
/// Emails compare exactly because both sides are already lowercased; a
/// membership whose email the run could not resolve never matches an email.
pub(crate) fn principal_matches(principal: &Principal, membership: &ObservedMembership) -> bool {
    match (principal, &membership.member) {
        (Principal::Email(wanted), ObservedMember::User { email, .. }) => {
            email.as_deref() == Some(wanted.as_str())
        }
        (Principal::User(wanted), ObservedMember::User { id, .. }) => id == wanted,
        (Principal::Group(wanted), ObservedMember::Group { id }) => id == wanted,
        _ => false,
    }
}

/// Returns the reference of an existing membership's member: the email as
/// display where known, and the id as resource.
pub(crate) fn observed_ref(membership: &ObservedMembership) -> MemberRef {
    match &membership.member {
        ObservedMember::User { id, email, .. } => MemberRef {
            display: email.clone().unwrap_or_else(|| id.clone()),
            resource: id.clone(),
        },
        ObservedMember::Group { id } => MemberRef {
            display: id.clone(),
            resource: id.clone(),
        },
    }
}

/// Returns the reference of a member the plan adds: `users/{email}` for an
/// email, the resource name as written otherwise.
pub(crate) fn principal_ref(principal: &Principal) -> MemberRef {
    match principal {
        Principal::Email(email) => MemberRef {
            display: email.clone(),
            resource: format!("users/{email}"),
        },
        Principal::User(name) | Principal::Group(name) => MemberRef {
            display: name.clone(),
            resource: name.clone(),
        },
    }
}

/// Returns true when `member` is the membership's member, whether the
/// resource is `users/{id}`, `users/{email}` or `groups/{id}`.
pub(crate) fn ref_matches(member: &MemberRef, membership: &ObservedMembership) -> bool {
    match &membership.member {
        ObservedMember::User { id, email, .. } => {
            *id == member.resource
                || email
                    .as_deref()
                    .is_some_and(|email| member.resource == format!("users/{email}"))
        }
        ObservedMember::Group { id } => *id == member.resource,
    }
}

/// Ranks roles for ordering: member < manager < owner. Roles the API may
/// add later rank below member, so moving to a known role is a promotion.
pub(crate) fn role_rank(role: &MembershipRole) -> u8 {
    match role {
        MembershipRole::Member => 1,
        MembershipRole::AssistantManager => 2,
        MembershipRole::Manager => 3,
        MembershipRole::Unspecified | MembershipRole::Other(_) => 0,
    }
}

/// Returns true for a joined owner (`ROLE_MANAGER`), the only kind of
/// owner that keeps a space administered. An invited owner has not accepted
/// and cannot act, so it does not count.
pub(crate) fn is_joined_owner(membership: &ObservedMembership) -> bool {
    membership.role == MembershipRole::Manager && membership.state == MembershipState::Joined
}

pub(crate) fn is_bot(membership: &ObservedMembership) -> bool {
    matches!(
        &membership.member,
        ObservedMember::User {
            user_type: UserType::Bot,
            ..
        }
    )
}

pub(crate) fn is_group(membership: &ObservedMembership) -> bool {
    matches!(membership.member, ObservedMember::Group { .. })
}

/// Returns true for a joined human, the only kind of member the owner rule
/// picks as a successor.
pub(crate) fn is_joined_human(membership: &ObservedMembership) -> bool {
    let human = matches!(
        &membership.member,
        ObservedMember::User {
            user_type: UserType::Human,
            ..
        }
    );
    human && membership.state == MembershipState::Joined
}

/// Returns true when the membership belongs to the organisation. A
/// membership without an affiliation counts as internal.
pub(crate) fn is_internal(membership: &ObservedMembership) -> bool {
    matches!(membership.affiliation, None | Some(Affiliation::Internal))
}

/// Returns true for spaces of type `SPACE`, the only ones with roles.
pub(crate) fn has_roles(space_type: &SpaceType) -> bool {
    *space_type == SpaceType::Space
}
