//! The owner rule: a SPACE keeps a joined owner after every operation.

mod plan_common;

use chat_reconcile::chat::model::SpaceType;
use chat_reconcile::observe::ObservedState;
use chat_reconcile::plan::{self, BlockReason, Reason, SimulationError, SuccessorRule};
use chat_reconcile::policy::{Mode, Policy, Role};
use plan_common::*;

/// Plans, runs the plan in memory, and checks that planning again finds
/// nothing to do.
fn plan_and_replan(policy: &Policy, observed: &ObservedState) -> plan::Plan {
    let plan = plan::plan(policy, observed);
    let after = plan::simulate_state(observed, &plan).expect("the plan keeps the owner rule");
    let again = plan::plan(policy, &after);
    assert!(again.is_empty(), "planning again: {again:#?}");
    plan
}

#[test]
fn two_owners_one_leaves() {
    let policy = policy(space_policy(&[(by_email(1), Role::Owner)]));
    let plan = plan_and_replan(&policy, &state(vec![user(1).owner(), user(2).owner()]));

    assert_eq!(
        lines(&only_space(&plan).operations),
        vec!["0 remove u2@example.com not_in_policy"]
    );
}

#[test]
fn policy_owner_promoted_first() {
    let policy = policy(space_policy(&[(by_email(2), Role::Owner)]));
    let plan = plan_and_replan(&policy, &state(vec![user(1).owner(), user(2)]));

    assert_eq!(
        lines(&only_space(&plan).operations),
        vec![
            "0 set_role u2@example.com member->owner role_differs",
            "1 remove u1@example.com not_in_policy requires [0]",
        ]
    );
}

#[test]
fn policy_owner_added_first() {
    let policy = policy(space_policy(&[(by_email(2), Role::Owner)]));
    let plan = plan_and_replan(&policy, &state(vec![user(1).owner()]));

    assert_eq!(
        lines(&only_space(&plan).operations),
        vec![
            "0 add u2@example.com missing",
            "1 set_role u2@example.com member->owner role_differs requires [0]",
            "2 remove u1@example.com not_in_policy requires [1]",
        ]
    );
}

#[test]
fn joined_promotion_preferred_over_add() {
    let policy = policy(space_policy(&[
        (by_email(2), Role::Owner),
        (by_email(3), Role::Owner),
    ]));
    let plan = plan_and_replan(&policy, &state(vec![user(1).owner(), user(3)]));

    assert_eq!(
        lines(&only_space(&plan).operations),
        vec![
            "0 add u2@example.com missing",
            "1 set_role u2@example.com member->owner role_differs requires [0]",
            "2 set_role u3@example.com member->owner role_differs",
            "3 remove u1@example.com not_in_policy requires [2]",
        ]
    );
}

#[test]
fn demoted_owner_waits_for_promotion() {
    let policy = policy(space_policy(&[
        (by_email(1), Role::Member),
        (by_email(2), Role::Owner),
    ]));
    let plan = plan_and_replan(&policy, &state(vec![user(1).owner(), user(2)]));

    assert_eq!(
        lines(&only_space(&plan).operations),
        vec![
            "0 set_role u2@example.com member->owner role_differs",
            "1 set_role u1@example.com owner->member role_differs requires [0]",
        ]
    );
}

#[test]
fn space_successor_promoted() {
    let mut space_policy =
        space_policy(&[(by_email(2), Role::Member), (by_email(3), Role::Member)]);
    space_policy.successors = vec![by_email(9), by_email(3), by_email(2)];
    let mut policy = policy(space_policy);
    policy.offboard = vec![by_email(1)];

    let plan = plan_and_replan(&policy, &state(vec![user(1).owner(), user(2), user(3)]));

    let space = only_space(&plan);
    assert_eq!(
        lines(&space.operations),
        vec![
            "0 set_role u3@example.com member->owner successor(u1@example.com, SpaceSuccessors)",
            "1 remove u1@example.com offboarded requires [0]",
        ]
    );
    assert_eq!(space.warnings.len(), 1);
    assert!(
        space.warnings[0].starts_with("u3@example.com becomes owner to replace u1@example.com")
    );
}

#[test]
fn global_successor_after_space_list() {
    let mut space_policy =
        space_policy(&[(by_email(2), Role::Member), (by_email(3), Role::Member)]);
    space_policy.successors = vec![by_email(4)];
    let mut policy = policy(space_policy);
    policy.successors = vec![by_email(2)];
    policy.offboard = vec![by_email(1)];

    let plan = plan_and_replan(
        &policy,
        &state(vec![user(1).owner(), user(2), user(3), user(4).invited()]),
    );

    let space = only_space(&plan);
    let Reason::Successor { rule, .. } = &space.operations[0].reason else {
        panic!("expected a successor: {space:#?}");
    };
    assert_eq!(*rule, SuccessorRule::GlobalSuccessors);
    assert_eq!(
        space.operations[0].action.member().display,
        "u2@example.com"
    );
}

#[test]
fn successor_list_skips_invalid() {
    let mut space_policy = space_policy(&[(by_email(6), Role::Member)]);
    space_policy.mode = Mode::Additive;
    space_policy.successors = vec![
        by_email(2),
        by_email(3),
        by_email(4),
        by_email(5),
        by_email(6),
    ];
    space_policy.keep = vec![by_email(5)];
    let mut policy = policy(space_policy);
    policy.offboard = vec![by_email(1), by_email(4)];

    let observed = state(vec![
        user(1).owner(),
        user(2).invited(),
        user(3).bot(),
        user(4),
        user(5),
        user(6),
    ]);
    let plan = plan_and_replan(&policy, &observed);

    let space = only_space(&plan);
    assert_eq!(
        lines(&space.operations),
        vec![
            "0 set_role u6@example.com member->owner successor(u1@example.com, SpaceSuccessors)",
            "1 remove u4@example.com offboarded",
            "2 remove u1@example.com offboarded requires [0]",
        ]
    );
}

#[test]
fn added_successor_is_promoted() {
    let mut space_policy = space_policy(&[(by_email(2), Role::Member)]);
    space_policy.successors = vec![by_email(2)];
    let mut policy = policy(space_policy);
    policy.offboard = vec![by_email(1)];

    let plan = plan_and_replan(&policy, &state(vec![user(1).owner()]));

    assert_eq!(
        lines(&only_space(&plan).operations),
        vec![
            "0 add u2@example.com missing",
            "1 set_role u2@example.com member->owner successor(u1@example.com, SpaceSuccessors) requires [0]",
            "2 remove u1@example.com offboarded requires [1]",
        ]
    );
}

#[test]
fn fallback_longest_standing_manager() {
    let mut policy = policy(space_policy(&[]));
    policy.space_mut_mode(Mode::Additive);
    policy.successor_fallback = true;
    policy.offboard = vec![by_email(1)];
    let observed = state(vec![
        user(1).owner(),
        user(2).created("2020-05-01T00:00:00Z"),
        user(3).manager().external().created("2019-01-01T00:00:00Z"),
        user(4).manager().created("2022-01-01T00:00:00Z"),
        user(5).manager().created("2021-06-01T00:00:00Z"),
        user(6).manager().bot().created("2018-01-01T00:00:00Z"),
        user(7).manager().invited().created("2018-01-01T00:00:00Z"),
    ]);

    let plan = plan_and_replan(&policy, &observed);

    assert_eq!(
        lines(&only_space(&plan).operations),
        vec![
            "0 set_role u5@example.com manager->owner successor(u1@example.com, LongestStanding)",
            "1 remove u1@example.com offboarded requires [0]",
        ]
    );
}

#[test]
fn fallback_member_when_no_manager() {
    let mut policy = policy(space_policy(&[]));
    policy.space_mut_mode(Mode::Additive);
    policy.successor_fallback = true;
    policy.offboard = vec![by_email(1)];
    let observed = state(vec![
        user(1).owner(),
        user(2).created("2020-05-01T00:00:00Z"),
        user(3).created("2020-05-01T00:00:00Z"),
        user(4),
    ]);

    let plan = plan_and_replan(&policy, &observed);

    assert_eq!(
        lines(&only_space(&plan).operations)[0],
        "0 set_role u2@example.com member->owner successor(u1@example.com, LongestStanding)"
    );
}

#[test]
fn fallback_off_blocks_last_owner() {
    let mut policy = policy(space_policy(&[(by_email(2), Role::Member)]));
    policy.offboard = vec![by_email(1)];

    let plan = plan_and_replan(&policy, &state(vec![user(1).owner(), user(2), user(3)]));

    let space = only_space(&plan);
    assert_eq!(
        lines(&space.operations),
        vec!["0 remove u3@example.com not_in_policy"]
    );
    assert_eq!(space.blocked.len(), 1);
    assert_eq!(space.blocked[0].member.display, "u1@example.com");
    assert_eq!(space.blocked[0].block, BlockReason::NoSuccessor);
    assert_eq!(space.blocked[0].requested_because, Reason::Offboarded);
}

#[test]
fn blocked_owner_is_the_demoted_one() {
    let mut policy = policy(space_policy(&[(by_email(2), Role::Member)]));
    policy.offboard = vec![by_email(1)];

    let plan = plan_and_replan(&policy, &state(vec![user(1).owner(), user(2).owner()]));

    let space = only_space(&plan);
    assert_eq!(
        lines(&space.operations),
        vec!["0 remove u1@example.com offboarded"]
    );
    assert_eq!(space.blocked[0].member.display, "u2@example.com");
    assert_eq!(space.blocked[0].action.kind(), "set_role");
}

#[test]
fn unlisted_successor_stays_owner() {
    let mut space_policy = space_policy(&[(by_email(2), Role::Member)]);
    space_policy.successors = vec![by_email(1)];
    let plan = plan_and_replan(
        &policy(space_policy),
        &state(vec![user(1).owner(), user(2)]),
    );

    let space = only_space(&plan);
    assert!(space.operations.is_empty(), "{space:#?}");
    assert!(space.blocked.is_empty());
    assert!(
        space.warnings[0].starts_with("u1@example.com stays owner"),
        "{:?}",
        space.warnings
    );
}

#[test]
fn unlisted_successor_promoted_not_removed() {
    let mut space_policy = space_policy(&[(by_email(2), Role::Member)]);
    space_policy.successors = vec![by_email(3)];
    let mut policy = policy(space_policy);
    policy.offboard = vec![by_email(1)];

    let plan = plan_and_replan(&policy, &state(vec![user(1).owner(), user(2), user(3)]));

    let space = only_space(&plan);
    assert_eq!(
        lines(&space.operations),
        vec![
            "0 set_role u3@example.com member->owner successor(u1@example.com, SpaceSuccessors)",
            "1 remove u1@example.com offboarded requires [0]",
        ]
    );
    assert!(
        space.warnings[0].contains("does not list it"),
        "{:?}",
        space.warnings
    );
}

#[test]
fn protected_owner_keeps_space_owned() {
    let mut policy = policy(space_policy(&[(by_email(3), Role::Member)]));
    policy.protect = vec![by_email(1)];
    policy.offboard = vec![by_email(1), by_email(2)];

    let plan = plan_and_replan(
        &policy,
        &state(vec![user(1).owner(), user(2).owner(), user(3)]),
    );

    let space = only_space(&plan);
    assert_eq!(
        lines(&space.operations),
        vec!["0 remove u2@example.com offboarded"]
    );
    assert_eq!(space.blocked[0].block, BlockReason::Protected);
}

#[test]
fn every_departing_owner_requires_successor() {
    let mut space_policy = space_policy(&[(by_email(3), Role::Member)]);
    space_policy.successors = vec![by_email(3)];
    let mut policy = policy(space_policy);
    policy.offboard = vec![by_email(1), by_email(2)];

    let plan = plan_and_replan(
        &policy,
        &state(vec![user(1).owner(), user(2).owner(), user(3)]),
    );

    assert_eq!(
        lines(&only_space(&plan).operations),
        vec![
            "0 set_role u3@example.com member->owner successor(u2@example.com, SpaceSuccessors)",
            "1 remove u1@example.com offboarded requires [0]",
            "2 remove u2@example.com offboarded requires [0]",
        ]
    );
}

#[test]
fn invited_owner_does_not_count() {
    let mut policy = policy(space_policy(&[(by_email(2), Role::Owner)]));
    policy.offboard = vec![by_email(1)];

    let plan = plan_and_replan(&policy, &state(vec![user(1).owner(), user(2).invited()]));

    let space = only_space(&plan);
    assert_eq!(
        lines(&space.operations),
        vec!["0 set_role u2@example.com member->owner role_differs"]
    );
    assert_eq!(space.blocked[0].block, BlockReason::NoSuccessor);
}

#[test]
fn group_chat_has_no_owner_rule() {
    let mut policy = policy(space_policy(&[(by_email(2), Role::Member)]));
    policy.offboard = vec![by_email(1)];
    let mut observed = state(vec![user(1), user(2)]);
    observed.spaces[0].space_type = SpaceType::GroupChat;

    let plan = plan_and_replan(&policy, &observed);

    assert_eq!(
        lines(&only_space(&plan).operations),
        vec!["0 remove u1@example.com offboarded"]
    );
}

#[test]
fn simulate_rejects_last_owner_removal() {
    let policy = policy(space_policy(&[(by_email(2), Role::Owner)]));
    let observed = state(vec![user(1).owner(), user(2)]);
    let mut plan = plan::plan(&policy, &observed);
    let space = &mut plan.spaces[0];
    space.operations.swap(0, 1);
    space.operations[0].index = 0;
    space.operations[0].requires.clear();
    space.operations[1].index = 1;

    let error = plan::simulate(&observed.spaces[0], &space.operations).unwrap_err();

    assert!(
        matches!(error, SimulationError::LastOwner { index: 0, .. }),
        "{error}"
    );
}

#[test]
fn simulate_reaches_desired_roles() {
    let policy = policy(space_policy(&[
        (by_email(2), Role::Owner),
        (by_email(3), Role::Manager),
    ]));
    let observed = state(vec![user(1).owner(), user(2)]);
    let plan = plan::plan(&policy, &observed);

    let after = plan::simulate(&observed.spaces[0], &plan.spaces[0].operations).unwrap();

    let summary: Vec<(String, &str)> = after
        .memberships
        .iter()
        .map(|m| (m.name.clone(), m.role.admin_word()))
        .collect();
    assert_eq!(
        summary,
        vec![
            ("spaces/AAAAeng/members/2".to_string(), "owner"),
            (
                "spaces/AAAAeng/members/u3@example.com".to_string(),
                "manager"
            ),
        ]
    );
}

/// Sets the mode of the policy's only space.
trait SpaceMode {
    fn space_mut_mode(&mut self, mode: Mode);
}

impl SpaceMode for Policy {
    fn space_mut_mode(&mut self, mode: Mode) {
        self.spaces[0].mode = mode;
    }
}

#[test]
fn app_promoted_to_owner_counts() {
    let mut policy = policy(space_policy(&[
        (by_email(1), Role::Manager),
        (by_email(6), Role::Owner),
    ]));
    policy.successor_fallback = true;
    policy.space_mut_mode(Mode::Additive);

    let plan = plan_and_replan(
        &policy,
        &state(vec![user(1).owner(), user(6).manager().bot()]),
    );

    assert_eq!(
        lines(&only_space(&plan).operations),
        vec![
            "0 set_role u6@example.com manager->owner role_differs",
            "1 set_role u1@example.com owner->manager role_differs requires [0]",
        ]
    );
}

#[test]
fn fallback_counts_added_members() {
    let mut policy = policy(space_policy(&[(by_id(8), Role::Manager)]));
    policy.successor_fallback = true;
    let observed = state(vec![user(2).owner().external().no_email()]);

    let plan = plan_and_replan(&policy, &observed);

    assert_eq!(
        lines(&only_space(&plan).operations),
        vec![
            "0 add users/8 missing",
            "1 set_role users/8 member->owner successor(users/2, LongestStanding) requires [0]",
            "2 remove users/2 not_in_policy requires [1]",
        ]
    );
}
