//! The first pass over one space: the changes the policy requires, member
//! by member, before the owner rule is applied.
//!
//! Every existing membership gets at most one step, a role change or a
//! removal. Every listed principal the space lacks gets an add, followed by
//! a role change when its role is above member.

use crate::chat::model::SpaceType;
use crate::observe::model::{ObservedMembership, ObservedSpace};
use crate::policy::model::{Mode, Policy, Principal, Role, SpacePolicy};

use super::member::{
    has_roles, is_bot, is_group, observed_ref, principal_matches, principal_ref, role_rank,
};
use super::model::{Action, BlockReason, Blocked, MemberRef, Reason};
use super::step::Step;

/// The planner's view of one existing membership.
#[derive(Debug)]
pub(crate) struct Present<'a> {
    pub membership: &'a ObservedMembership,
    pub member: MemberRef,
    /// The role the policy lists the member with.
    pub listed: Option<Role>,
    pub offboarded: bool,
    pub protected: bool,
    pub kept: bool,
}

/// One space's plan while it is being built.
#[derive(Debug, Default)]
pub(crate) struct Draft<'a> {
    /// Existing memberships, sorted by membership name.
    pub present: Vec<Present<'a>>,
    /// Listed principals the plan adds, with their listed role.
    pub added: Vec<(Principal, Role)>,
    pub steps: Vec<Step>,
    pub blocked: Vec<Blocked>,
    pub warnings: Vec<String>,
}

impl Draft<'_> {
    /// Finds the step of the given kind for a member.
    pub fn step_position(&self, kind: &str, resource: &str) -> Option<usize> {
        self.steps.iter().position(|step| {
            step.action.kind() == kind && step.action.member().resource == resource
        })
    }

    /// Finds the removal or role change planned for an existing membership.
    pub fn step_of(&self, present: &Present<'_>) -> Option<&Step> {
        self.steps.iter().find(|step| match &step.action {
            Action::SetRole {
                membership: Some(name),
                ..
            }
            | Action::Remove {
                membership: name, ..
            } => *name == present.membership.name,
            _ => false,
        })
    }
}

/// Builds the steps the policy requires in one space, without the owner
/// rule.
pub(crate) fn draft<'a>(
    policy: &Policy,
    space_policy: &SpacePolicy,
    observed: &'a ObservedSpace,
) -> Draft<'a> {
    let mut draft = Draft::default();
    check_display_name(space_policy, observed, &mut draft.warnings);

    // Sorting here makes the plan independent of the order the API listed
    // memberships in.
    let mut memberships: Vec<&ObservedMembership> = observed.memberships.iter().collect();
    memberships.sort_by(|a, b| a.name.cmp(&b.name));

    let mut claimed: Vec<Option<&Principal>> = vec![None; memberships.len()];
    let mut missing = Vec::new();
    for (principal, role) in &space_policy.members {
        let Some(position) = memberships
            .iter()
            .position(|m| principal_matches(principal, m))
        else {
            missing.push((principal, *role));
            continue;
        };
        match claimed[position] {
            None => claimed[position] = Some(principal),
            Some(first) => draft.warnings.push(format!(
                "{first} and {principal} name the same member; the role listed for {first} applies"
            )),
        }
    }

    let mut present = Vec::with_capacity(memberships.len());
    for (membership, principal) in memberships.into_iter().zip(claimed) {
        let named = |list: &[Principal]| list.iter().any(|p| principal_matches(p, membership));
        present.push(Present {
            membership,
            member: observed_ref(membership),
            listed: principal.map(|p| space_policy.members[p]),
            offboarded: named(&policy.offboard),
            protected: named(&policy.protect),
            kept: named(&space_policy.keep),
        });
    }

    for member in &present {
        plan_present(space_policy.mode, &observed.space_type, member, &mut draft);
    }
    draft.present = present;
    for (principal, role) in missing {
        plan_missing(policy, &observed.space_type, principal, role, &mut draft);
    }
    draft
}

fn check_display_name(
    space_policy: &SpacePolicy,
    observed: &ObservedSpace,
    warnings: &mut Vec<String>,
) {
    let Some(expected) = &space_policy.display_name else {
        return;
    };
    if observed.display_name.as_ref() != Some(expected) {
        let actual = observed.display_name.as_deref().unwrap_or("");
        warnings.push(format!(
            "display name is \"{actual}\" in Chat but \"{expected}\" in the policy"
        ));
    }
}

/// Plans the one change, if any, an existing membership needs.
fn plan_present(mode: Mode, space_type: &SpaceType, present: &Present<'_>, draft: &mut Draft<'_>) {
    let membership = present.membership;
    let member = present.member.clone();

    if present.offboarded {
        if let Some(role) = present.listed {
            draft.warnings.push(format!(
                "{member} is listed as {} and on the offboard list; offboarding applies",
                role_word(role)
            ));
        }
        if present.kept {
            draft.warnings.push(format!(
                "{member} is on the offboard list but also in keep, so it is left alone"
            ));
            return;
        }
        plan_removal(space_type, present, Reason::Offboarded, draft);
        return;
    }
    if present.kept {
        return;
    }

    let Some(role) = present.listed else {
        let outside_scope = present.protected || is_bot(membership);
        if mode == Mode::Exact && !outside_scope {
            plan_removal(space_type, present, Reason::NotInPolicy, draft);
        }
        return;
    };

    if !role_applies(space_type, membership, &member, role, &mut draft.warnings) {
        return;
    }
    let to = role.to_api();
    if membership.role == to {
        return;
    }
    let step = Step::set_role(
        member.clone(),
        &membership.name,
        membership.role.clone(),
        to.clone(),
        Reason::RoleDiffers,
    );
    if present.protected && role_rank(&to) < role_rank(&membership.role) {
        draft.blocked.push(Blocked {
            member,
            action: step.action,
            requested_because: Reason::RoleDiffers,
            block: BlockReason::Protected,
        });
        return;
    }
    draft.steps.push(step);
}

/// Plans a removal, unless the member is protected or the space is a direct
/// message, which cannot be left.
fn plan_removal(
    space_type: &SpaceType,
    present: &Present<'_>,
    reason: Reason,
    draft: &mut Draft<'_>,
) {
    let membership = present.membership;
    let member = present.member.clone();
    if *space_type == SpaceType::DirectMessage {
        draft.warnings.push(format!(
            "{member} is not removed ({}) because a direct message cannot be left",
            reason_words(&reason)
        ));
        return;
    }
    let step = Step::remove(
        member.clone(),
        &membership.name,
        membership.role.clone(),
        reason.clone(),
    );
    if present.protected {
        draft.blocked.push(Blocked {
            member,
            action: step.action,
            requested_because: reason,
            block: BlockReason::Protected,
        });
        return;
    }
    draft.steps.push(step);
}

/// Plans the add of a listed principal the space lacks, and its role.
fn plan_missing(
    policy: &Policy,
    space_type: &SpaceType,
    principal: &Principal,
    role: Role,
    draft: &mut Draft<'_>,
) {
    let member = principal_ref(principal);
    if policy.offboard.contains(principal) {
        draft.warnings.push(format!(
            "{member} is listed as {} and on the offboard list, so it is not added",
            role_word(role)
        ));
        return;
    }
    if *space_type == SpaceType::DirectMessage {
        draft.warnings.push(format!(
            "{member} is not added because members cannot be added to a direct message"
        ));
        return;
    }

    draft.steps.push(Step::add(member.clone()));
    draft.added.push((principal.clone(), role));

    let group = matches!(principal, Principal::Group(_));
    if role == Role::Member {
        return;
    }
    if group || !has_roles(space_type) {
        draft
            .warnings
            .push(role_warning(space_type, &member, role, group));
        return;
    }
    draft.steps.push(Step::set_role_after_add(
        member,
        role.to_api(),
        Reason::RoleDiffers,
    ));
}

/// Returns true when the listed role can be set on the membership, and warns
/// when the policy requests a role that cannot exist there.
fn role_applies(
    space_type: &SpaceType,
    membership: &ObservedMembership,
    member: &MemberRef,
    role: Role,
    warnings: &mut Vec<String>,
) -> bool {
    let group = is_group(membership);
    if !group && has_roles(space_type) {
        return true;
    }
    if role != Role::Member {
        warnings.push(role_warning(space_type, member, role, group));
    }
    false
}

fn role_warning(space_type: &SpaceType, member: &MemberRef, role: Role, group: bool) -> String {
    let role = role_word(role);
    if group {
        format!("{member} is listed as {role}, but a group membership has no role, so none is set")
    } else {
        format!(
            "{member} is listed as {role}, but only spaces of type SPACE have roles, so none is set in this {space_type}"
        )
    }
}

/// Returns the policy's word for a role.
pub(crate) fn role_word(role: Role) -> &'static str {
    match role {
        Role::Owner => "owner",
        Role::Manager => "manager",
        Role::Member => "member",
    }
}

fn reason_words(reason: &Reason) -> &'static str {
    match reason {
        Reason::Offboarded => "offboarded",
        Reason::NotInPolicy => "not in the policy",
        Reason::MissingMember | Reason::RoleDiffers | Reason::Successor { .. } => "policy",
    }
}
