//! The owner rule: no operation removes or demotes the last joined owner
//! of a `SPACE`.
//!
//! Steps run in the order adds, promotions, demotions, removals, so every
//! owner the plan gains exists before the first owner leaves, and the owner
//! count only falls after that. The space therefore stays owned after every
//! step exactly when at least one joined owner is left at the end. When the
//! draft would leave none, this pass keeps the space owned, in this order:
//!
//! 1. owners the policy names and the draft already promotes (joined
//!    members first, then members it adds); departures wait for them;
//! 2. a departing owner that is itself a valid successor stays owner;
//! 3. a successor is promoted: the first valid one of the space's
//!    `successors`, then of the global `successors`, then, if the policy
//!    allows it, the longest-standing joined internal human manager, then
//!    member;
//! 4. otherwise one departing owner is blocked and the others go on.
//!
//! Step 2 comes before step 3 so that planning again after the plan ran
//! changes nothing: the successor promoted in the first run is the only
//! owner in the second one, and it stays.

use std::cmp::Reverse;

use crate::chat::model::{MembershipRole, MembershipState};
use crate::policy::model::{Policy, Principal, Role, SpacePolicy};

use super::member::{
    is_internal, is_joined_human, is_joined_owner, principal_matches, principal_ref, role_rank,
};
use super::model::{Action, BlockReason, Blocked, MemberRef, Reason, SuccessorRule};
use super::space::{Draft, Present, role_word};
use super::step::{Step, StepKey};

/// A member chosen to become owner.
enum Successor {
    /// An existing membership, by position in `Draft::present`.
    Present(usize),
    /// A listed principal the draft adds.
    Added(Principal),
}

/// Changes the draft of a `SPACE` so that it never leaves the space without
/// a joined owner.
pub(crate) fn keep_space_owned(policy: &Policy, space_policy: &SpacePolicy, draft: &mut Draft<'_>) {
    let mut departing = Vec::new();
    for (index, present) in draft.present.iter().enumerate() {
        if !is_joined_owner(present.membership) {
            continue;
        }
        match draft.step_of(present) {
            Some(step) if step.lowers_role() => departing.push(index),
            _ => return, // This owner stays, so the space stays owned.
        }
    }
    if departing.is_empty() {
        return;
    }

    let promotions = owner_promotions(draft);
    if !promotions.is_empty() {
        require_before_departures(draft, &departing, &promotions);
        return;
    }

    if let Some(stayer) = find_stayer(policy, space_policy, draft, &departing) {
        let position = step_position(draft, stayer);
        draft.steps.remove(position);
        let present = &draft.present[stayer];
        let warning = format!(
            "{} stays owner because it is the last owner and a valid successor, although the policy {}",
            present.member,
            policy_stance(present.listed)
        );
        draft.warnings.push(warning);
        return;
    }

    let replaces = last_departure(draft, &departing);
    match find_successor(policy, space_policy, draft) {
        Some((successor, rule)) => {
            let reason = Reason::Successor {
                replaces: replaces.display.clone(),
                rule,
            };
            let key = promote(draft, successor, reason, &replaces);
            require_before_departures(draft, &departing, &[key]);
        }
        None => block_one(draft, &departing),
    }
}

/// Lists the promotions to owner the draft already makes: those of joined
/// members if any, otherwise those of members it adds, whose membership may
/// still turn out invited.
fn owner_promotions(draft: &Draft<'_>) -> Vec<StepKey> {
    let mut joined = Vec::new();
    let mut added = Vec::new();
    for step in &draft.steps {
        let Action::SetRole { membership, to, .. } = &step.action else {
            continue;
        };
        if *to != MembershipRole::Manager {
            continue;
        }
        match membership {
            None => added.push(step.key()),
            Some(name) => {
                let present = draft.present.iter().find(|p| p.membership.name == *name);
                if present.is_some_and(|p| p.membership.state == MembershipState::Joined) {
                    joined.push(step.key());
                }
            }
        }
    }
    if joined.is_empty() { added } else { joined }
}

fn require_before_departures(draft: &mut Draft<'_>, departing: &[usize], keys: &[StepKey]) {
    for &index in departing {
        let position = step_position(draft, index);
        draft.steps[position].requires.extend(keys.iter().cloned());
    }
}

/// Returns the position in `draft.steps` of an existing membership's step.
fn step_position(draft: &Draft<'_>, present: usize) -> usize {
    let name = &draft.present[present].membership.name;
    draft
        .steps
        .iter()
        .position(|step| match &step.action {
            Action::SetRole {
                membership: Some(target),
                ..
            }
            | Action::Remove {
                membership: target, ..
            } => target == name,
            Action::SetRole {
                membership: None, ..
            }
            | Action::Add { .. } => false,
        })
        .expect("a departing owner has a step")
}

/// Returns the departing owner whose step runs last, the one that would
/// leave the space without an owner.
fn last_departure(draft: &Draft<'_>, departing: &[usize]) -> MemberRef {
    departing
        .iter()
        .map(|&index| &draft.steps[step_position(draft, index)])
        .max_by_key(|step| step.order_key())
        .map(|step| step.action.member().clone())
        .expect("at least one owner departs")
}

/// Returns true when a member of a successor list may become owner: a
/// joined human, not offboarded, not in `keep`, and not leaving for any
/// reason other than being unlisted (a successor wins over that).
fn valid_listed(draft: &Draft<'_>, present: &Present<'_>) -> bool {
    if !is_joined_human(present.membership) || present.offboarded || present.kept {
        return false;
    }
    match draft.step_of(present).map(|step| &step.reason) {
        None | Some(Reason::RoleDiffers | Reason::NotInPolicy) => true,
        Some(_) => false,
    }
}

/// Returns true when the fallback may pick a member: a joined human of the
/// organisation that stays in the space.
fn valid_fallback(draft: &Draft<'_>, present: &Present<'_>) -> bool {
    let stays = !matches!(
        draft.step_of(present).map(|step| &step.action),
        Some(Action::Remove { .. })
    );
    is_joined_human(present.membership)
        && is_internal(present.membership)
        && !present.offboarded
        && !present.kept
        && stays
}

/// Returns the successor lists in the order they are tried.
fn successor_lists<'p>(
    policy: &'p Policy,
    space_policy: &'p SpacePolicy,
) -> [(&'p [Principal], SuccessorRule); 2] {
    [
        (&space_policy.successors, SuccessorRule::SpaceSuccessors),
        (&policy.successors, SuccessorRule::GlobalSuccessors),
    ]
}

/// Finds a departing owner that would be a valid successor itself.
fn find_stayer(
    policy: &Policy,
    space_policy: &SpacePolicy,
    draft: &Draft<'_>,
    departing: &[usize],
) -> Option<usize> {
    for (list, _) in successor_lists(policy, space_policy) {
        for principal in list {
            let found = departing.iter().copied().find(|&index| {
                let present = &draft.present[index];
                principal_matches(principal, present.membership) && valid_listed(draft, present)
            });
            if found.is_some() {
                return found;
            }
        }
    }
    if !policy.successor_fallback {
        return None;
    }
    departing
        .iter()
        .copied()
        .filter(|&index| valid_fallback(draft, &draft.present[index]))
        .min_by_key(|&index| {
            let membership = draft.present[index].membership;
            seniority(
                &membership.role,
                membership.create_time.as_deref(),
                &membership.name,
            )
        })
}

/// Finds the member to promote, and the rule that picked it.
fn find_successor(
    policy: &Policy,
    space_policy: &SpacePolicy,
    draft: &Draft<'_>,
) -> Option<(Successor, SuccessorRule)> {
    for (list, rule) in successor_lists(policy, space_policy) {
        for principal in list {
            let present = draft
                .present
                .iter()
                .position(|p| principal_matches(principal, p.membership));
            if let Some(index) = present {
                if valid_listed(draft, &draft.present[index]) {
                    return Some((Successor::Present(index), rule));
                }
                continue;
            }
            // A listed member the plan adds counts as present, so that the
            // choice does not change once the add has run.
            let added = draft.added.iter().any(|(p, _)| p == principal);
            if added && !matches!(principal, Principal::Group(_)) {
                return Some((Successor::Added(principal.clone()), rule));
            }
        }
    }
    if !policy.successor_fallback {
        return None;
    }

    // The fallback ranks members by the role they have once the plan ran,
    // and counts the members it adds, so that planning again after the run
    // finds the same candidates.
    let mut candidates: Vec<(Seniority, Successor)> = Vec::new();
    for (index, present) in draft.present.iter().enumerate() {
        let role = planned_role(draft, present);
        if is_manager_or_member(&role) && valid_fallback(draft, present) {
            let membership = present.membership;
            let key = seniority(&role, membership.create_time.as_deref(), &membership.name);
            candidates.push((key, Successor::Present(index)));
        }
    }
    for (principal, role) in &draft.added {
        if matches!(principal, Principal::Group(_)) {
            continue;
        }
        let resource = principal_ref(principal).resource;
        let key = seniority(&role.to_api(), None, &resource);
        candidates.push((key, Successor::Added(principal.clone())));
    }
    candidates
        .into_iter()
        .min_by(|a, b| a.0.cmp(&b.0))
        .map(|(_, successor)| (successor, SuccessorRule::LongestStanding))
}

fn is_manager_or_member(role: &MembershipRole) -> bool {
    *role == MembershipRole::AssistantManager || *role == MembershipRole::Member
}

/// Returns the role a membership has once the draft's steps ran.
fn planned_role(draft: &Draft<'_>, present: &Present<'_>) -> MembershipRole {
    match draft.step_of(present).map(|step| &step.action) {
        Some(Action::SetRole { to, .. }) => to.clone(),
        _ => present.membership.role.clone(),
    }
}

/// Fallback rank: higher role first, then the oldest membership, then by
/// name (a member the plan adds has no creation time and ranks after those
/// that have one).
type Seniority = (Reverse<u8>, bool, String, String);

/// Builds the fallback rank of a member.
///
/// NOTE: creation times compare as text, which orders RFC 3339 times
/// correctly only when they share one offset and precision, as the API's
/// UTC `Z` times do.
fn seniority(role: &MembershipRole, created: Option<&str>, name: &str) -> Seniority {
    (
        Reverse(role_rank(role)),
        created.is_none(),
        created.unwrap_or("").to_string(),
        name.to_string(),
    )
}

/// Plans the successor's promotion to owner, replacing any step the policy
/// had for it, and returns the promotion's key.
fn promote(
    draft: &mut Draft<'_>,
    successor: Successor,
    reason: Reason,
    replaces: &MemberRef,
) -> StepKey {
    let (step, listed) = match successor {
        Successor::Present(index) => {
            if let Some(position) = draft
                .step_of(&draft.present[index])
                .map(|_| step_position(draft, index))
            {
                draft.steps.remove(position);
            }
            let present = &draft.present[index];
            let membership = present.membership;
            let step = Step::set_role(
                present.member.clone(),
                &membership.name,
                membership.role.clone(),
                MembershipRole::Manager,
                reason,
            );
            (step, present.listed)
        }
        Successor::Added(principal) => {
            let member = principal_ref(&principal);
            if let Some(position) = draft.step_position("set_role", &member.resource) {
                draft.steps.remove(position);
            }
            let listed = draft
                .added
                .iter()
                .find(|(p, _)| *p == principal)
                .map(|(_, role)| *role);
            (
                Step::set_role_after_add(member, MembershipRole::Manager, reason),
                listed,
            )
        }
    };

    if listed != Some(Role::Owner) {
        draft.warnings.push(format!(
            "{} becomes owner to replace {replaces}, although the policy {}",
            step.action.member(),
            policy_stance(listed)
        ));
    }
    let key = step.key();
    draft.steps.push(step);
    key
}

/// Blocks the departure of one owner so the space keeps it. A demotion is
/// blocked before a removal, and an offboarded owner last, so the owner that
/// stays is the one the policy still wants most.
fn block_one(draft: &mut Draft<'_>, departing: &[usize]) {
    let chosen = departing
        .iter()
        .copied()
        .min_by_key(|&index| {
            let step = &draft.steps[step_position(draft, index)];
            let preference = match (&step.action, &step.reason) {
                (Action::SetRole { .. }, _) => 0,
                (_, Reason::Offboarded) => 2,
                _ => 1,
            };
            (preference, step.order_key())
        })
        .expect("at least one owner departs");

    let step = draft.steps.remove(step_position(draft, chosen));
    draft.blocked.push(Blocked {
        member: step.action.member().clone(),
        action: step.action,
        requested_because: step.reason,
        block: BlockReason::NoSuccessor,
    });
}

fn policy_stance(listed: Option<Role>) -> String {
    match listed {
        Some(role) => format!("lists it as {}", role_word(role)),
        None => "does not list it".to_string(),
    }
}
