//! The offboarding sweep: removes departing users from every space it can
//! find, not only from the spaces a policy names.
//!
//! A sweep runs in four steps:
//!
//! 1. `discover` lists the candidate spaces (`spaces.search` in admin mode,
//!    otherwise `spaces.list` of the caller);
//! 2. `probe` looks each departing user up in each candidate with one
//!    `spaces.members.get`;
//! 3. the spaces where a user was found are observed: in full (`spaces.get`
//!    and `spaces.members.list`) where an owner leaves, since choosing a
//!    successor needs every member, and outside admin mode in every `SPACE`,
//!    since only the listing shows group memberships; elsewhere the probed
//!    membership is all the planner needs;
//! 4. [`Sweep::policy`] is a policy with one `additive` entry per such space
//!    and the users under `offboard`, so the ordinary planner and engine do
//!    the rest: successors, direct messages, group chats and blocked owners.

mod discover;
mod probe;
mod users;

use std::collections::{BTreeMap, BTreeSet};

use crate::chat::model::{MembershipRole, MembershipState, SpaceType};
use crate::observe::{self, ObserveContext, ObserveError, ObservedMember, ObservedSpace};
use crate::plan::Plan;
use crate::policy::{Mode, Policy, Principal, SpacePolicy};

pub use discover::{Candidate, Discovery, discover};
pub use probe::{Found, probe};
pub use users::{UserListError, parse_user_list};

/// Where a sweep's policy entry comes from, for messages.
const SWEEP_LOCATION: &str = "offboarding sweep";

/// What to sweep, and the rules for successors.
#[derive(Debug, Clone)]
pub struct SweepRequest {
    /// Lowercased emails of the departing users, without repeats.
    pub users: Vec<String>,
    pub discovery: Discovery,
    /// The policy's `protect`, `successors`, `successor_fallback` and, for
    /// the spaces it names, their `successors` and `keep`. Its own `spaces`
    /// are not enforced: the sweep only removes the departing users.
    pub rules: Policy,
}

/// The sweep's findings, ready for the planner.
#[derive(Debug, Clone)]
pub struct Sweep {
    /// One additive entry per space where a departing user was found, with
    /// the users under `offboard` and `offboard_all_spaces`.
    pub policy: Policy,
    /// Those spaces: observed in full or from the probed memberships.
    pub observed: ObservedState,
    pub coverage: Coverage,
}

pub use crate::observe::ObservedState;

/// What the sweep looked at, for the report and for the read budget.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Coverage {
    /// Candidate spaces by type.
    pub candidates: BTreeMap<String, usize>,
    /// `spaces.members.get` requests: candidates times users.
    pub lookups: usize,
    /// Memberships of departing users found.
    pub found: usize,
    /// Spaces where at least one departing user was found.
    pub spaces_with_users: usize,
    /// Spaces observed in full, with `spaces.get` and `spaces.members.list`.
    pub listed: usize,
    /// Direct messages with a departing user: they cannot be left, so the
    /// plan skips them.
    pub direct_messages: usize,
}

impl Coverage {
    /// Counts the candidate spaces of every type.
    pub fn candidate_count(&self) -> usize {
        self.candidates.values().sum()
    }
}

/// Runs discovery, the lookups and the observation of the spaces found.
///
/// Fails when the listing, a lookup or an observation fails with an error
/// retries did not cure; the error names the space.
pub async fn sweep(
    context: &ObserveContext<'_>,
    request: &SweepRequest,
) -> Result<Sweep, ObserveError> {
    let candidates = discover(context, request.discovery)
        .await
        .map_err(|source| ObserveError {
            space: "spaces".to_string(),
            source,
        })?;
    tracing::info!(spaces = candidates.len(), "found candidate spaces");
    let found = probe(context, &candidates, &request.users).await?;

    let mut coverage = Coverage {
        lookups: candidates.len() * request.users.len(),
        found: found.len(),
        ..Coverage::default()
    };
    for candidate in &candidates {
        *coverage
            .candidates
            .entry(candidate.space_type.as_str().to_string())
            .or_default() += 1;
    }

    let by_space = group_by_space(&found);
    let candidates: BTreeMap<&str, &Candidate> = candidates
        .iter()
        .map(|candidate| (candidate.name.as_str(), candidate))
        .collect();
    let admin = request.discovery == Discovery::AdminSearch;
    let mut policy = sweep_policy(request, by_space.keys().copied());

    let to_list: Vec<String> = by_space
        .iter()
        .filter(|(space, found)| needs_listing(candidates[*space], found, admin))
        .map(|(space, _)| space.to_string())
        .collect();
    let mut observed = observe::observe_spaces(context, &policy, &to_list).await?;
    for (space, found) in &by_space {
        if to_list.iter().any(|listed| listed == space) {
            continue;
        }
        observed.spaces.push(from_probes(candidates[*space], found));
    }
    observed.spaces.sort_by(|a, b| a.name.cmp(&b.name));
    // A space deleted between the lookup and the listing has nothing left
    // to change, so it leaves the policy instead of showing as not found.
    policy
        .spaces
        .retain(|entry| !observed.missing.contains(&entry.space));

    coverage.spaces_with_users = by_space.len();
    coverage.listed = to_list.len() - observed.missing.len();
    coverage.direct_messages = by_space
        .keys()
        .filter(|space| candidates[**space].space_type == SpaceType::DirectMessage)
        .count();
    Ok(Sweep {
        policy,
        observed,
        coverage,
    })
}

fn group_by_space(found: &[Found]) -> BTreeMap<&str, Vec<&Found>> {
    let mut by_space: BTreeMap<&str, Vec<&Found>> = BTreeMap::new();
    for entry in found {
        by_space
            .entry(entry.space.as_str())
            .or_default()
            .push(entry);
    }
    by_space
}

/// Tells whether a space must be listed: a `SPACE` where a departing user
/// is a joined owner (the planner needs every member to pick a successor),
/// or any `SPACE` outside admin mode, where the listing shows the group
/// memberships the group warning needs. Admin mode hides groups from the
/// listing, so there it buys nothing for non-owners.
fn needs_listing(candidate: &Candidate, found: &[&Found], admin: bool) -> bool {
    if candidate.space_type != SpaceType::Space {
        return false;
    }
    let owner_leaves = found.iter().any(|entry| {
        entry.membership.role == MembershipRole::Manager
            && entry.membership.state == MembershipState::Joined
    });
    owner_leaves || !admin
}

/// Builds a space from the probed memberships alone.
fn from_probes(candidate: &Candidate, found: &[&Found]) -> ObservedSpace {
    let mut memberships: Vec<_> = found.iter().map(|entry| entry.membership.clone()).collect();
    memberships.sort_by(|a, b| a.name.cmp(&b.name));
    memberships.dedup_by(|a, b| a.name == b.name);
    ObservedSpace {
        name: candidate.name.clone(),
        display_name: candidate.display_name.clone(),
        space_type: candidate.space_type.clone(),
        memberships,
    }
}

/// Builds the policy the planner runs: the request's rules, the users under
/// `offboard`, and one additive entry per space, which keeps the entry's
/// `successors` and `keep` from the rules when they name the space.
fn sweep_policy<'a>(request: &SweepRequest, spaces: impl Iterator<Item = &'a str>) -> Policy {
    let named: BTreeMap<&str, &SpacePolicy> = request
        .rules
        .spaces
        .iter()
        .map(|entry| (entry.space.as_str(), entry))
        .collect();
    let entries = spaces
        .map(|space| {
            let rules = named.get(space);
            SpacePolicy {
                space: space.to_string(),
                display_name: None,
                mode: Mode::Additive,
                members: BTreeMap::new(),
                successors: rules.map(|r| r.successors.clone()).unwrap_or_default(),
                keep: rules.map(|r| r.keep.clone()).unwrap_or_default(),
                location: rules.map_or_else(|| SWEEP_LOCATION.to_string(), |r| r.location.clone()),
            }
        })
        .collect();
    let users: Vec<Principal> = request
        .users
        .iter()
        .map(|email| Principal::Email(email.clone()))
        .collect();
    Policy {
        spaces: entries,
        protect: request.rules.protect.clone(),
        offboard: users.clone(),
        offboard_all_spaces: users,
        successors: request.rules.successors.clone(),
        successor_fallback: request.rules.successor_fallback,
        // NOTE: a sweep runs no guards: its removals are the departing users
        // the operator named, not an open-ended reconcile.
        guards: Default::default(),
    }
}

/// Names `successor` as owner of every space whose plan blocks an owner's
/// removal for want of a successor, and returns those spaces. Planning
/// again then adds the successor there and promotes it before the owner
/// leaves (the rule for an owner the policy names who is being added).
pub fn adopt_orphans(policy: &mut Policy, plan: &Plan, successor: &str) -> Vec<String> {
    let orphaned: BTreeSet<&str> = plan
        .spaces
        .iter()
        .filter(|space| {
            space
                .blocked
                .iter()
                .any(|blocked| blocked.block == crate::plan::BlockReason::NoSuccessor)
        })
        .map(|space| space.space.as_str())
        .collect();
    let mut adopted = Vec::new();
    for entry in &mut policy.spaces {
        if orphaned.contains(entry.space.as_str()) {
            entry.members.insert(
                Principal::Email(successor.to_string()),
                crate::policy::Role::Owner,
            );
            adopted.push(entry.space.clone());
        }
    }
    adopted
}

/// Adds a warning to every planned space where a departing user is removed
/// while the space has group memberships.
///
/// The Chat API does not list a group's members, so the sweep cannot tell
/// whether the user is in the group: the warning says the user may keep
/// access. Only listed spaces show their groups (see [`needs_listing`]).
pub fn warn_group_access(plan: &mut Plan, observed: &ObservedState, users: &[String]) {
    let groups_by_space: BTreeMap<&str, Vec<&str>> = observed
        .spaces
        .iter()
        .map(|space| {
            let groups = space
                .memberships
                .iter()
                .filter_map(|membership| match &membership.member {
                    ObservedMember::Group { id } => Some(id.as_str()),
                    ObservedMember::User { .. } => None,
                })
                .collect();
            (space.name.as_str(), groups)
        })
        .collect();
    let users: BTreeSet<&str> = users.iter().map(String::as_str).collect();
    for space in &mut plan.spaces {
        let Some(groups) = groups_by_space.get(space.space.as_str()) else {
            continue;
        };
        if groups.is_empty() {
            continue;
        }
        let removed: BTreeSet<String> = space
            .operations
            .iter()
            .filter(|operation| operation.action.kind() == "remove")
            .map(|operation| operation.action.member().display.clone())
            .filter(|member| users.contains(member.as_str()))
            .collect();
        for member in removed {
            space.warnings.push(format!(
                "{member} may keep access through {}: Chat does not list a group's members, so check them in the Admin console",
                groups.join(", ")
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::model::UserType;
    use crate::observe::ObservedMembership;

    fn found(space: &str, role: MembershipRole, state: MembershipState) -> Found {
        Found {
            space: space.to_string(),
            email: "dave@example.com".to_string(),
            membership: ObservedMembership {
                name: format!("{space}/members/1"),
                member: ObservedMember::User {
                    id: "users/1".to_string(),
                    email: Some("dave@example.com".to_string()),
                    user_type: UserType::Human,
                },
                role,
                state,
                affiliation: None,
                create_time: None,
            },
        }
    }

    fn candidate(space_type: SpaceType) -> Candidate {
        Candidate {
            name: "spaces/A".to_string(),
            display_name: None,
            space_type,
        }
    }

    #[test]
    fn listing_needed_cases() {
        use MembershipRole::{Manager, Member};
        use MembershipState::{Invited, Joined};
        use SpaceType::{DirectMessage, GroupChat, Space};
        let cases = [
            (Space, Manager, Joined, true, true),
            (Space, Member, Joined, true, false),
            (Space, Member, Joined, false, true),
            (Space, Member, Invited, true, false),
            (GroupChat, Member, Joined, false, false),
            (DirectMessage, Member, Joined, false, false),
        ];
        for (space_type, role, state, admin, expected) in cases {
            let entry = found("spaces/A", role.clone(), state.clone());
            assert_eq!(
                needs_listing(&candidate(space_type.clone()), &[&entry], admin),
                expected,
                "{space_type:?} {role:?} {state:?} admin={admin}"
            );
        }
    }

    #[test]
    fn sweep_policy_keeps_named_space_rules() {
        let mut rules = Policy::default();
        rules.spaces.push(SpacePolicy {
            space: "spaces/B".to_string(),
            display_name: Some("B".to_string()),
            mode: Mode::Exact,
            members: [(
                Principal::Email("x@example.com".to_string()),
                crate::policy::Role::Owner,
            )]
            .into(),
            successors: vec![Principal::Email("heir@example.com".to_string())],
            keep: vec![Principal::User("users/9".to_string())],
            location: "policy.yaml:4:5".to_string(),
        });
        let request = SweepRequest {
            users: vec!["dave@example.com".to_string()],
            discovery: Discovery::CallerSpaces,
            rules,
        };
        let policy = sweep_policy(&request, ["spaces/A", "spaces/B"].into_iter());
        assert_eq!(policy.spaces.len(), 2);
        assert!(
            policy
                .spaces
                .iter()
                .all(|entry| entry.mode == Mode::Additive)
        );
        assert!(policy.spaces.iter().all(|entry| entry.members.is_empty()));
        assert!(policy.spaces[0].successors.is_empty());
        assert_eq!(policy.spaces[1].successors.len(), 1);
        assert_eq!(policy.spaces[1].keep.len(), 1);
        assert_eq!(
            policy.offboard,
            [Principal::Email("dave@example.com".to_string())]
        );
    }
}
