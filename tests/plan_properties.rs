//! Property tests of the planner over random spaces and policies drawn from
//! one pool of eight users and two groups.
//!
//! The desired state of a membership, as these tests define it:
//! - in `keep`, or any membership of a direct message: unchanged;
//! - named on the offboard list: absent;
//! - listed: present, with the listed role in a `SPACE` for users (groups
//!   and other space types keep their role);
//! - unlisted in an `exact` space and not protected and not an app: absent;
//! - otherwise unchanged.
//!
//! A listed principal that matches no membership and is not on the offboard
//! list is present afterwards (outside direct messages). Two exceptions are
//! allowed. A member the plan reports as blocked stays as it was. The owner
//! rule may leave one member as the sole joined owner, which the plan then
//! names in a warning, and this may promote a protected member whose
//! demotion is blocked.

mod plan_common;

use std::collections::{BTreeMap, BTreeSet};

use chat_reconcile::chat::model::{
    Affiliation, MembershipRole, MembershipState, SpaceType, UserType,
};
use chat_reconcile::observe::{ObservedMember, ObservedMembership, ObservedSpace, ObservedState};
use chat_reconcile::plan::{self, Action, Reason, SpacePlan};
use chat_reconcile::policy::{Mode, Policy, Principal, Role, SpacePolicy};
use plan_common::{SPACE, email};
use proptest::prelude::*;

/// One pool user as seen in the space: present, role index, invited,
/// affiliation index, creation time index, email known, app.
type UserState = (bool, u8, bool, u8, u8, bool, bool);

/// One pool user as the policy names it: listed role index, protected,
/// offboarded, kept, named by email, rank in the space's and the global
/// successor lists.
type UserPolicy = (Option<u8>, bool, bool, bool, bool, Option<u8>, Option<u8>);

#[derive(Debug, Clone)]
struct Case {
    space_type: u8,
    exact: bool,
    fallback: bool,
    users: Vec<(UserState, UserPolicy)>,
    /// Per group: present, listed, offboarded, kept.
    groups: Vec<(bool, bool, bool, bool)>,
}

fn user_state() -> impl Strategy<Value = UserState> {
    (
        prop::bool::weighted(0.7),
        0u8..3,
        prop::bool::weighted(0.15),
        0u8..3,
        0u8..4,
        prop::bool::weighted(0.8),
        prop::bool::weighted(0.15),
    )
}

fn user_policy() -> impl Strategy<Value = UserPolicy> {
    (
        prop::option::weighted(0.5, 0u8..3),
        prop::bool::weighted(0.15),
        prop::bool::weighted(0.2),
        prop::bool::weighted(0.1),
        any::<bool>(),
        prop::option::weighted(0.3, 0u8..8),
        prop::option::weighted(0.2, 0u8..8),
    )
}

fn case() -> impl Strategy<Value = Case> {
    (
        0u8..10,
        any::<bool>(),
        any::<bool>(),
        prop::collection::vec((user_state(), user_policy()), 8),
        prop::collection::vec(
            (
                any::<bool>(),
                any::<bool>(),
                prop::bool::weighted(0.2),
                prop::bool::weighted(0.1),
            ),
            2,
        ),
    )
        .prop_map(|(space_type, exact, fallback, users, groups)| Case {
            space_type,
            exact,
            fallback,
            users,
            groups,
        })
}

const ROLES: [Role; 3] = [Role::Owner, Role::Manager, Role::Member];
const TIMES: [Option<&str>; 4] = [
    Some("2020-01-01T00:00:00Z"),
    Some("2021-01-01T00:00:00Z"),
    Some("2021-01-01T00:00:00Z"),
    None,
];

fn space_type(case: &Case) -> SpaceType {
    match case.space_type {
        0..=5 => SpaceType::Space,
        6..=8 => SpaceType::GroupChat,
        _ => SpaceType::DirectMessage,
    }
}

fn build_observed(case: &Case) -> ObservedState {
    let space_type = space_type(case);
    let mut memberships = Vec::new();
    let mut owners = 0;
    for (index, ((present, role, invited, affiliation, created, email_known, bot), _)) in
        case.users.iter().enumerate()
    {
        if !present {
            continue;
        }
        let n = index + 1;
        let mut role = if space_type == SpaceType::Space {
            ROLES[*role as usize].to_api()
        } else {
            MembershipRole::Member
        };
        // At most three owners, as real spaces in scope tend to have.
        if role == MembershipRole::Manager {
            owners += 1;
            if owners > 3 {
                role = MembershipRole::Member;
            }
        }
        memberships.push(ObservedMembership {
            name: format!("{SPACE}/members/{n}"),
            member: ObservedMember::User {
                id: format!("users/{n}"),
                email: email_known.then(|| email(n as u32)),
                user_type: if *bot { UserType::Bot } else { UserType::Human },
            },
            role,
            state: if *invited {
                MembershipState::Invited
            } else {
                MembershipState::Joined
            },
            affiliation: [
                None,
                Some(Affiliation::Internal),
                Some(Affiliation::External),
            ][*affiliation as usize]
                .clone(),
            create_time: TIMES[*created as usize].map(str::to_string),
        });
    }
    for (index, (present, ..)) in case.groups.iter().enumerate() {
        if *present {
            memberships.push(plan_common::group(&format!("g{index}")));
        }
    }
    ObservedState {
        spaces: vec![ObservedSpace {
            name: SPACE.to_string(),
            display_name: None,
            space_type,
            memberships,
        }],
        missing: Vec::new(),
    }
}

fn user_principal(n: usize, by_email: bool) -> Principal {
    if by_email {
        Principal::Email(email(n as u32))
    } else {
        Principal::User(format!("users/{n}"))
    }
}

fn build_policy(case: &Case) -> Policy {
    let mut policy = Policy {
        successor_fallback: case.fallback,
        ..Policy::default()
    };
    let mut space = SpacePolicy {
        space: SPACE.to_string(),
        display_name: None,
        mode: if case.exact {
            Mode::Exact
        } else {
            Mode::Additive
        },
        members: BTreeMap::new(),
        successors: Vec::new(),
        keep: Vec::new(),
        location: "policy.yaml:1:1".to_string(),
    };

    let mut space_successors = Vec::new();
    let mut global_successors = Vec::new();
    for (index, (_, (listed, protect, offboard, keep, by_email, space_rank, global_rank))) in
        case.users.iter().enumerate()
    {
        let principal = user_principal(index + 1, *by_email);

        if let Some(role) = listed {
            space
                .members
                .insert(principal.clone(), ROLES[*role as usize]);
        }
        if *protect {
            policy.protect.push(principal.clone());
        }
        if *offboard {
            policy.offboard.push(principal.clone());
        }
        if *keep {
            space.keep.push(principal.clone());
        }

        // Successor lists name users the other way round half the time, so
        // both forms of matching are exercised.
        let other = user_principal(index + 1, !*by_email);
        if let Some(rank) = space_rank {
            space_successors.push((*rank, other.clone()));
        }
        if let Some(rank) = global_rank {
            global_successors.push((*rank, principal));
        }
    }

    for (index, (_, listed, offboard, keep)) in case.groups.iter().enumerate() {
        let principal = Principal::Group(format!("groups/g{index}"));
        if *listed {
            space.members.insert(principal.clone(), Role::Member);
        }
        if *offboard {
            policy.offboard.push(principal.clone());
        }
        if *keep {
            space.keep.push(principal);
        }
    }

    space_successors.sort();
    global_successors.sort();
    space.successors = space_successors.into_iter().map(|(_, p)| p).collect();
    policy.successors = global_successors.into_iter().map(|(_, p)| p).collect();
    policy.spaces.push(space);
    policy
}

fn matches(principal: &Principal, membership: &ObservedMembership) -> bool {
    match (principal, &membership.member) {
        (Principal::Email(wanted), ObservedMember::User { email, .. }) => {
            email.as_deref() == Some(wanted.as_str())
        }
        (Principal::User(wanted), ObservedMember::User { id, .. })
        | (Principal::Group(wanted), ObservedMember::Group { id }) => id == wanted,
        _ => false,
    }
}

fn display(membership: &ObservedMembership) -> String {
    match &membership.member {
        ObservedMember::User { id, email, .. } => email.clone().unwrap_or_else(|| id.clone()),
        ObservedMember::Group { id } => id.clone(),
    }
}

fn is_bot(membership: &ObservedMembership) -> bool {
    matches!(
        membership.member,
        ObservedMember::User {
            user_type: UserType::Bot,
            ..
        }
    )
}

fn is_joined_owner(membership: &ObservedMembership) -> bool {
    membership.role == MembershipRole::Manager && membership.state == MembershipState::Joined
}

#[derive(Debug, Clone, PartialEq)]
enum Expected {
    Unchanged,
    Absent,
    Present(MembershipRole),
}

/// Computes the desired state described in the module documentation, keyed
/// by membership name (the name an add creates for new members).
fn desired(policy: &Policy, space: &ObservedSpace) -> BTreeMap<String, Expected> {
    let space_policy = &policy.spaces[0];
    let named = |list: &[Principal], m: &ObservedMembership| list.iter().any(|p| matches(p, m));
    let direct = space.space_type == SpaceType::DirectMessage;
    let roles = space.space_type == SpaceType::Space;

    let mut expected = BTreeMap::new();
    for membership in &space.memberships {
        let listed = space_policy
            .members
            .iter()
            .find(|(p, _)| matches(p, membership));
        let value = if direct || named(&space_policy.keep, membership) {
            Expected::Unchanged
        } else if named(&policy.offboard, membership) {
            Expected::Absent
        } else if let Some((_, role)) = listed {
            let group = matches!(membership.member, ObservedMember::Group { .. });
            Expected::Present(if roles && !group {
                role.to_api()
            } else {
                membership.role.clone()
            })
        } else if space_policy.mode == Mode::Exact
            && !named(&policy.protect, membership)
            && !is_bot(membership)
        {
            Expected::Absent
        } else {
            Expected::Unchanged
        };
        expected.insert(membership.name.clone(), value);
    }
    if direct {
        return expected;
    }
    for (principal, role) in &space_policy.members {
        let present = space.memberships.iter().any(|m| matches(principal, m));
        if present || policy.offboard.contains(principal) {
            continue;
        }
        let (suffix, role) = match principal {
            Principal::Email(email) => (
                email.clone(),
                if roles {
                    role.to_api()
                } else {
                    MembershipRole::Member
                },
            ),
            Principal::User(name) => (
                name["users/".len()..].to_string(),
                if roles {
                    role.to_api()
                } else {
                    MembershipRole::Member
                },
            ),
            Principal::Group(name) => (
                name["groups/".len()..].to_string(),
                MembershipRole::Unspecified,
            ),
        };
        expected.insert(format!("{SPACE}/members/{suffix}"), Expected::Present(role));
    }
    expected
}

fn find<'a>(space: &'a ObservedSpace, name: &str) -> Option<&'a ObservedMembership> {
    space.memberships.iter().find(|m| m.name == name)
}

/// Checks the final state against the desired state, allowing only the two
/// documented exceptions.
fn check_desired(
    policy: &Policy,
    initial: &ObservedSpace,
    plan: Option<&SpacePlan>,
    after: &ObservedSpace,
) -> Result<(), TestCaseError> {
    let expected = desired(policy, initial);
    for membership in &after.memberships {
        prop_assert!(
            expected.contains_key(&membership.name),
            "unexpected membership {}",
            membership.name
        );
    }
    let blocked: BTreeSet<&str> = plan
        .iter()
        .flat_map(|p| &p.blocked)
        .map(|b| b.member.display.as_str())
        .collect();
    let warnings: Vec<&String> = plan.iter().flat_map(|p| &p.warnings).collect();
    let joined_owners = after
        .memberships
        .iter()
        .filter(|m| is_joined_owner(m))
        .count();

    for (name, value) in &expected {
        let before = find(initial, name);
        let now = find(after, name);
        let reached = match value {
            Expected::Unchanged => before.map(|m| &m.role) == now.map(|m| &m.role),
            Expected::Absent => now.is_none(),
            Expected::Present(role) => now.is_some_and(|m| m.role == *role),
        };
        if reached {
            continue;
        }
        let Some(member) = now.or(before) else {
            return Err(TestCaseError::fail(format!(
                "{name} has no membership before or after"
            )));
        };
        let member_display = display(member);
        let unchanged_blocked = blocked.contains(member_display.as_str())
            && before.map(|m| &m.role) == now.map(|m| &m.role);
        let kept_owner = now.is_some_and(is_joined_owner)
            && joined_owners == 1
            && warnings.iter().any(|w| w.contains(&member_display));
        prop_assert!(
            unchanged_blocked || kept_owner,
            "{} is {:?} after the plan, expected {:?}",
            name,
            now.map(|m| &m.role),
            value
        );
    }
    Ok(())
}

/// Checks that no operation touches a membership outside the policy's scope.
fn check_scope(
    policy: &Policy,
    initial: &ObservedSpace,
    plan: &SpacePlan,
) -> Result<(), TestCaseError> {
    let space_policy = &policy.spaces[0];
    let named = |list: &[Principal], m: &ObservedMembership| list.iter().any(|p| matches(p, m));
    prop_assert!(
        initial.space_type != SpaceType::DirectMessage || plan.operations.is_empty(),
        "operations in a direct message"
    );
    for operation in &plan.operations {
        let (target, lowers) = match &operation.action {
            Action::Add { .. }
            | Action::SetRole {
                membership: None, ..
            } => continue,
            Action::SetRole {
                membership: Some(name),
                from,
                to,
                ..
            } => (name, rank(to) < rank(from)),
            Action::Remove { membership, .. } => (membership, true),
        };
        let membership = find(initial, target).expect("operations target observed memberships");
        prop_assert!(
            !named(&space_policy.keep, membership),
            "operation {} touches a kept member",
            operation.index
        );
        prop_assert!(
            !(lowers && named(&policy.protect, membership)),
            "operation {} removes or demotes a protected member",
            operation.index
        );
        if is_bot(membership) {
            let listed = named(
                &space_policy.members.keys().cloned().collect::<Vec<_>>(),
                membership,
            );
            prop_assert!(
                listed || named(&policy.offboard, membership),
                "operation {} touches an unlisted app",
                operation.index
            );
        }
    }
    Ok(())
}

fn rank(role: &MembershipRole) -> u8 {
    match role {
        MembershipRole::Member => 1,
        MembershipRole::AssistantManager => 2,
        MembershipRole::Manager => 3,
        _ => 0,
    }
}

/// Returns each operation's group in the run order.
fn group_of(action: &Action) -> u8 {
    match action {
        Action::Add { .. } => 0,
        Action::SetRole { from, to, .. } if rank(to) > rank(from) => 1,
        Action::SetRole { .. } => 2,
        Action::Remove { role, .. } if *role != MembershipRole::Manager => 3,
        Action::Remove { .. } => 4,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn plan_never_leaves_space_ownerless(case in case()) {
        let (policy, observed) = (build_policy(&case), build_observed(&case));
        let plan = plan::plan(&policy, &observed);
        let result = plan::simulate_state(&observed, &plan);
        prop_assert!(result.is_ok(), "{}", result.unwrap_err());
    }

    #[test]
    fn plan_reaches_desired_state(case in case()) {
        let (policy, observed) = (build_policy(&case), build_observed(&case));
        let plan = plan::plan(&policy, &observed);
        let after = plan::simulate_state(&observed, &plan).unwrap();
        check_desired(&policy, &observed.spaces[0], plan.spaces.first(), &after.spaces[0])?;
    }

    #[test]
    fn replanning_finds_nothing(case in case()) {
        let (policy, observed) = (build_policy(&case), build_observed(&case));
        let plan = plan::plan(&policy, &observed);
        let after = plan::simulate_state(&observed, &plan).unwrap();
        let again = plan::plan(&policy, &after);
        prop_assert_eq!(again.operation_count(), 0, "planning again: {:#?}", again);
        // The second plan blocks only what the first one did, or a
        // protected successor that the policy would now demote.
        let before: BTreeSet<&str> = plan.spaces.iter().flat_map(|s| &s.blocked).map(|b| b.member.display.as_str()).collect();
        let successors: BTreeSet<&str> = plan
            .spaces
            .iter()
            .flat_map(|s| &s.operations)
            .filter(|op| matches!(op.reason, Reason::Successor { .. }))
            .map(|op| op.action.member().display.as_str())
            .collect();
        for blocked in again.spaces.iter().flat_map(|s| &s.blocked) {
            let display = blocked.member.display.as_str();
            prop_assert!(before.contains(display) || successors.contains(display), "newly blocked: {:?}", blocked);
        }
    }

    #[test]
    fn plan_stays_in_scope(case in case()) {
        let (policy, observed) = (build_policy(&case), build_observed(&case));
        let plan = plan::plan(&policy, &observed);
        if let Some(space) = plan.spaces.first() {
            check_scope(&policy, &observed.spaces[0], space)?;
        }
    }

    #[test]
    fn operations_sorted_and_numbered(case in case()) {
        let (policy, observed) = (build_policy(&case), build_observed(&case));
        let plan = plan::plan(&policy, &observed);
        for space in &plan.spaces {
            let groups: Vec<u8> = space.operations.iter().map(|op| group_of(&op.action)).collect();
            prop_assert!(groups.is_sorted(), "groups out of order: {:?}", groups);
            for (position, operation) in space.operations.iter().enumerate() {
                prop_assert_eq!(operation.index, position);
                prop_assert!(operation.requires.iter().all(|&r| r < position));
            }
        }
    }

    #[test]
    fn plan_ignores_membership_order(case in case()) {
        let (policy, observed) = (build_policy(&case), build_observed(&case));
        let mut reversed = observed.clone();
        reversed.spaces[0].memberships.reverse();
        let expected = serde_json::to_string(&plan::plan(&policy, &observed)).unwrap();
        let actual = serde_json::to_string(&plan::plan(&policy, &reversed)).unwrap();
        prop_assert_eq!(actual, expected);
    }
}
