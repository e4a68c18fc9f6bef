//! The planner's per-member rules: adds, roles, removals, scope and order.

mod plan_common;

use chat_reconcile::chat::model::{MembershipRole, SpaceType};
use chat_reconcile::plan::{self, Action, BlockReason, Reason};
use chat_reconcile::policy::{Mode, Principal, Role};
use plan_common::*;

#[test]
fn missing_space_warns() {
    let policy = policy(space_policy(&[(by_email(1), Role::Owner)]));
    let plan = plan::plan(&policy, &Default::default());

    let space = only_space(&plan);
    assert_eq!(space.space, SPACE);
    assert!(space.operations.is_empty());
    assert_eq!(
        space.warnings,
        vec!["space not found or not visible".to_string()]
    );
}

#[test]
fn space_in_line_is_omitted() {
    let policy = policy(space_policy(&[
        (by_email(1), Role::Owner),
        (by_email(2), Role::Member),
    ]));
    let observed = state(vec![user(1).owner(), user(2)]);

    let plan = plan::plan(&policy, &observed);

    assert!(plan.spaces.is_empty(), "plan: {plan:#?}");
}

#[test]
fn spaces_sorted_by_name() {
    let mut first = space_policy(&[(by_email(1), Role::Member)]);
    first.space = "spaces/BBBB".to_string();
    let second = space_policy(&[(by_email(1), Role::Member)]);
    let mut policy = policy(first);
    policy.spaces.push(second);

    let plan = plan::plan(&policy, &state(vec![user(2).owner()]));

    let names: Vec<&str> = plan.spaces.iter().map(|s| s.space.as_str()).collect();
    assert_eq!(names, vec![SPACE, "spaces/BBBB"]);
}

#[test]
fn add_missing_member_by_email() {
    let policy = policy(space_policy(&[
        (by_email(1), Role::Owner),
        (by_email(2), Role::Member),
    ]));
    let plan = plan::plan(&policy, &state(vec![user(1).owner()]));

    let space = only_space(&plan);
    assert_eq!(
        lines(&space.operations),
        vec!["0 add u2@example.com missing"]
    );
    let Action::Add { member } = &space.operations[0].action else {
        panic!("expected an add: {space:#?}");
    };
    assert_eq!(member.resource, "users/u2@example.com");
}

#[test]
fn add_by_id_and_group() {
    let policy = policy(space_policy(&[
        (by_email(1), Role::Owner),
        (by_id(7), Role::Member),
        (Principal::Group("groups/0abc".into()), Role::Member),
    ]));
    let plan = plan::plan(&policy, &state(vec![user(1).owner()]));

    let space = only_space(&plan);
    let resources: Vec<&str> = space
        .operations
        .iter()
        .map(|op| op.action.member().resource.as_str())
        .collect();
    assert_eq!(resources, vec!["groups/0abc", "users/7"]);
}

#[test]
fn added_manager_gets_role_after_add() {
    let policy = policy(space_policy(&[
        (by_email(1), Role::Owner),
        (by_email(2), Role::Manager),
    ]));
    let plan = plan::plan(&policy, &state(vec![user(1).owner()]));

    let space = only_space(&plan);
    assert_eq!(
        lines(&space.operations),
        vec![
            "0 add u2@example.com missing",
            "1 set_role u2@example.com member->manager role_differs requires [0]",
        ]
    );
    let Action::SetRole { membership, .. } = &space.operations[1].action else {
        panic!("expected a role change");
    };
    assert_eq!(*membership, None);
}

#[test]
fn role_differs_sets_role() {
    let policy = policy(space_policy(&[
        (by_email(1), Role::Owner),
        (by_email(2), Role::Manager),
    ]));
    let plan = plan::plan(&policy, &state(vec![user(1).owner(), user(2)]));

    let space = only_space(&plan);
    assert_eq!(
        lines(&space.operations),
        vec!["0 set_role u2@example.com member->manager role_differs"]
    );
    let Action::SetRole { membership, .. } = &space.operations[0].action else {
        panic!("expected a role change");
    };
    assert_eq!(membership.as_deref(), Some("spaces/AAAAeng/members/2"));
}

#[test]
fn invited_member_is_not_added_again() {
    let policy = policy(space_policy(&[
        (by_email(1), Role::Owner),
        (by_email(2), Role::Member),
    ]));
    let plan = plan::plan(&policy, &state(vec![user(1).owner(), user(2).invited()]));

    assert!(plan.spaces.is_empty(), "plan: {plan:#?}");
}

#[test]
fn user_id_principal_matches_without_email() {
    let policy = policy(space_policy(&[
        (by_email(1), Role::Owner),
        (by_id(2), Role::Manager),
    ]));
    let plan = plan::plan(&policy, &state(vec![user(1).owner(), user(2).no_email()]));

    let space = only_space(&plan);
    assert_eq!(
        lines(&space.operations),
        vec!["0 set_role users/2 member->manager role_differs"]
    );
}

#[test]
fn group_chat_sets_no_roles() {
    let policy = policy(space_policy(&[
        (by_email(1), Role::Owner),
        (by_email(2), Role::Member),
    ]));
    let mut observed = state(vec![user(1), user(2), user(3)]);
    observed.spaces[0].space_type = SpaceType::GroupChat;

    let plan = plan::plan(&policy, &observed);

    let space = only_space(&plan);
    assert_eq!(
        lines(&space.operations),
        vec!["0 remove u3@example.com not_in_policy"]
    );
    assert_eq!(space.warnings.len(), 1, "warnings: {:?}", space.warnings);
    assert!(
        space.warnings[0].contains("u1@example.com is listed as owner"),
        "{:?}",
        space.warnings
    );
}

#[test]
fn direct_message_is_never_left() {
    let mut policy = policy(space_policy(&[(by_email(1), Role::Member)]));
    policy.offboard = vec![by_email(2)];
    let mut observed = state(vec![user(1), user(2)]);
    observed.spaces[0].space_type = SpaceType::DirectMessage;

    let plan = plan::plan(&policy, &observed);

    let space = only_space(&plan);
    assert!(space.operations.is_empty(), "{space:#?}");
    assert_eq!(space.warnings.len(), 1);
    assert!(
        space.warnings[0].contains("direct message cannot be left"),
        "{:?}",
        space.warnings
    );
}

#[test]
fn exact_mode_removes_unlisted() {
    let mut space_policy = space_policy(&[(by_email(1), Role::Owner), (by_id(9), Role::Member)]);
    space_policy.keep = vec![by_email(3)];
    let mut policy = policy(space_policy);
    policy.protect = vec![by_email(4)];
    let observed = state(vec![
        user(1).owner(),
        user(2),
        user(3).manager(),
        user(4),
        user(5).bot(),
        user(9).bot(),
        user(6).manager(),
        group("0abc"),
    ]);

    let plan = plan::plan(&policy, &observed);

    let space = only_space(&plan);
    assert_eq!(
        lines(&space.operations),
        vec![
            "0 remove groups/0abc not_in_policy",
            "1 remove u2@example.com not_in_policy",
            "2 remove u6@example.com not_in_policy",
        ]
    );
    assert!(space.blocked.is_empty());
}

#[test]
fn additive_mode_removes_nothing() {
    let mut space_policy = space_policy(&[(by_email(1), Role::Owner)]);
    space_policy.mode = Mode::Additive;
    let plan = plan::plan(
        &policy(space_policy),
        &state(vec![user(1).owner(), user(2), group("0abc")]),
    );

    assert!(plan.spaces.is_empty(), "plan: {plan:#?}");
}

#[test]
fn offboarded_removed_in_any_mode() {
    let mut space_policy = space_policy(&[(by_email(1), Role::Owner), (by_email(2), Role::Member)]);
    space_policy.mode = Mode::Additive;
    let mut policy = policy(space_policy);
    policy.offboard = vec![by_email(2), by_id(3), by_email(8)];

    let plan = plan::plan(
        &policy,
        &state(vec![user(1).owner(), user(2), user(3).no_email()]),
    );

    let space = only_space(&plan);
    assert_eq!(
        lines(&space.operations),
        vec![
            "0 remove u2@example.com offboarded",
            "1 remove users/3 offboarded"
        ]
    );
    assert!(
        space
            .warnings
            .iter()
            .any(|w| w.contains("u2@example.com is listed as member and on the offboard list"))
    );
}

#[test]
fn offboarded_listed_member_not_added() {
    let mut policy = policy(space_policy(&[
        (by_email(1), Role::Owner),
        (by_email(2), Role::Member),
    ]));
    policy.offboard = vec![by_email(2)];

    let plan = plan::plan(&policy, &state(vec![user(1).owner()]));

    let space = only_space(&plan);
    assert!(space.operations.is_empty());
    assert!(
        space.warnings[0].contains("not added"),
        "{:?}",
        space.warnings
    );
}

#[test]
fn offboarded_app_is_removed() {
    let mut policy = policy(space_policy(&[(by_email(1), Role::Owner)]));
    policy.offboard = vec![by_id(5)];

    let plan = plan::plan(&policy, &state(vec![user(1).owner(), user(5).bot()]));

    assert_eq!(
        lines(&only_space(&plan).operations),
        vec!["0 remove u5@example.com offboarded"]
    );
}

#[test]
fn protected_member_blocked() {
    let mut policy = policy(space_policy(&[
        (by_email(1), Role::Owner),
        (by_email(2), Role::Member),
    ]));
    policy.protect = vec![by_email(2), by_email(3)];
    policy.offboard = vec![by_email(3)];

    let plan = plan::plan(
        &policy,
        &state(vec![user(1).owner(), user(2).manager(), user(3)]),
    );

    let space = only_space(&plan);
    assert!(space.operations.is_empty(), "{space:#?}");
    assert_eq!(space.blocked.len(), 2);
    assert_eq!(space.blocked[0].member.display, "u2@example.com");
    assert_eq!(space.blocked[0].block, BlockReason::Protected);
    assert_eq!(space.blocked[0].requested_because, Reason::RoleDiffers);
    assert_eq!(space.blocked[1].member.display, "u3@example.com");
    assert_eq!(space.blocked[1].requested_because, Reason::Offboarded);
    assert_eq!(space.blocked[1].action.kind(), "remove");
}

#[test]
fn protected_member_may_be_promoted() {
    let mut policy = policy(space_policy(&[
        (by_email(1), Role::Owner),
        (by_email(2), Role::Owner),
    ]));
    policy.protect = vec![by_email(2)];

    let plan = plan::plan(&policy, &state(vec![user(1).owner(), user(2)]));

    assert_eq!(
        lines(&only_space(&plan).operations),
        vec!["0 set_role u2@example.com member->owner role_differs"]
    );
}

#[test]
fn keep_member_left_alone() {
    let mut space_policy = space_policy(&[(by_email(1), Role::Owner), (by_email(2), Role::Member)]);
    space_policy.keep = vec![by_email(2), by_email(3)];
    let mut policy = policy(space_policy);
    policy.offboard = vec![by_email(3)];

    let plan = plan::plan(
        &policy,
        &state(vec![user(1).owner(), user(2).owner(), user(3)]),
    );

    let space = only_space(&plan);
    assert!(space.operations.is_empty(), "{space:#?}");
    assert!(
        space.warnings[0].contains("also in keep"),
        "{:?}",
        space.warnings
    );
}

#[test]
fn operations_in_run_order() {
    let policy = policy(space_policy(&[
        (by_email(1), Role::Owner),
        (by_email(2), Role::Owner),
        (by_email(3), Role::Member),
        (by_email(4), Role::Manager),
        (by_email(9), Role::Member),
        (by_email(8), Role::Manager),
    ]));
    let observed = state(vec![
        user(1).owner(),
        user(2),
        user(3).manager(),
        user(4),
        user(5).owner(),
        user(6),
        user(7).manager(),
    ]);

    let plan = plan::plan(&policy, &observed);

    let space = only_space(&plan);
    assert_eq!(
        lines(&space.operations),
        vec![
            "0 add u8@example.com missing",
            "1 add u9@example.com missing",
            "2 set_role u2@example.com member->owner role_differs",
            "3 set_role u4@example.com member->manager role_differs",
            "4 set_role u8@example.com member->manager role_differs requires [0]",
            "5 set_role u3@example.com manager->member role_differs",
            "6 remove u6@example.com not_in_policy",
            "7 remove u7@example.com not_in_policy",
            "8 remove u5@example.com not_in_policy",
        ]
    );
}

#[test]
fn display_falls_back_to_id() {
    let policy = policy(space_policy(&[(by_email(1), Role::Owner)]));
    let plan = plan::plan(&policy, &state(vec![user(1).owner(), user(2).no_email()]));

    let space = only_space(&plan);
    let member = space.operations[0].action.member();
    assert_eq!(member.display, "users/2");
    assert_eq!(member.resource, "users/2");
}

#[test]
fn display_name_mismatch_warns() {
    let mut space_policy = space_policy(&[(by_email(1), Role::Owner)]);
    space_policy.display_name = Some("Eng".to_string());

    let plan = plan::plan(&policy(space_policy), &state(vec![user(1).owner()]));

    let space = only_space(&plan);
    assert!(space.operations.is_empty());
    assert_eq!(
        space.warnings,
        vec!["display name is \"Engineering\" in Chat but \"Eng\" in the policy".to_string()]
    );
}

#[test]
fn same_member_named_twice_warns() {
    let policy = policy(space_policy(&[
        (by_email(1), Role::Owner),
        (by_id(1), Role::Member),
    ]));
    let plan = plan::plan(&policy, &state(vec![user(1).owner()]));

    let space = only_space(&plan);
    assert!(space.operations.is_empty());
    assert!(
        space.warnings[0].contains("name the same member"),
        "{:?}",
        space.warnings
    );
}

#[test]
fn plan_json_ignores_input_order() {
    let mut space_policy = space_policy(&[
        (by_email(1), Role::Member),
        (by_email(2), Role::Manager),
        (by_email(8), Role::Owner),
    ]);
    space_policy.successors = vec![by_email(4)];
    let mut policy = policy(space_policy);
    policy.offboard = vec![by_email(3)];
    let memberships = vec![
        user(1).owner(),
        user(2),
        user(3).owner(),
        user(4),
        user(5).manager(),
        user(6).no_email(),
        group("0abc"),
    ];
    let expected =
        serde_json::to_string(&plan::plan(&policy, &state(memberships.clone()))).unwrap();

    let mut shuffled = memberships;
    for round in 0..shuffled.len() {
        shuffled.rotate_left(3);
        shuffled.swap(0, round);
        let actual = serde_json::to_string(&plan::plan(&policy, &state(shuffled.clone()))).unwrap();
        assert_eq!(actual, expected, "round {round}");
    }
}

#[test]
fn roles_map_to_api_values() {
    let policy = policy(space_policy(&[
        (by_email(1), Role::Owner),
        (by_email(2), Role::Owner),
    ]));
    let plan = plan::plan(&policy, &state(vec![user(1).owner(), user(2).manager()]));

    let Action::SetRole { from, to, .. } = &only_space(&plan).operations[0].action else {
        panic!("expected a role change");
    };
    assert_eq!(*from, MembershipRole::AssistantManager);
    assert_eq!(*to, MembershipRole::Manager);
}
