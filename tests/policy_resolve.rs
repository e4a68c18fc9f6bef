//! Valid policies: the resolved structure the planner receives.

use std::path::Path;

use chat_reconcile::chat::model::MembershipRole;
use chat_reconcile::policy::{self, Mode, Policy, Principal, Role};

const ORIGIN: &str = "policies/test.yaml";

fn parse(yaml: &str) -> Policy {
    match policy::parse(yaml, ORIGIN) {
        Ok(policy) => policy,
        Err(error) => panic!("policy rejected:\n{error}"),
    }
}

fn email(address: &str) -> Principal {
    Principal::Email(address.to_string())
}

const FULL: &str = "\
version: 1
protect: [CEO@Example.com]
offboard: [dave@example.com]
successors: [it-admin@example.com, users/100000000007]
successor_fallback: longest-standing
spaces:
  - space: spaces/ZZZZsales
    mode: additive
    members: [Eve@Example.com]
    keep: [users/100000000009]
  - space: spaces/AAAAeng
    display_name: Engineering
    mode: exact
    owners: [Alice@Example.COM]
    managers: [users/100000000002]
    members: [groups/0abc123, bob@example.com, users/Frank@Example.com]
    successors: [carol@example.com, alice@example.com]
    keep: [users/100000000009, groups/ops]
";

#[test]
fn full_policy_top_level() {
    let policy = parse(FULL);
    assert_eq!(policy.protect, [email("ceo@example.com")]);
    assert_eq!(policy.offboard, [email("dave@example.com")]);
    assert_eq!(
        policy.successors,
        [
            email("it-admin@example.com"),
            Principal::User("users/100000000007".into())
        ]
    );
    assert!(policy.successor_fallback);
}

#[test]
fn spaces_sorted_by_name() {
    let policy = parse(FULL);
    let names: Vec<&str> = policy
        .spaces
        .iter()
        .map(|space| space.space.as_str())
        .collect();
    assert_eq!(names, ["spaces/AAAAeng", "spaces/ZZZZsales"]);
}

#[test]
fn space_location_is_entry_start() {
    let policy = parse(FULL);
    assert_eq!(policy.spaces[0].location, "policies/test.yaml:11:5");
    assert_eq!(policy.spaces[1].location, "policies/test.yaml:7:5");
}

#[test]
fn members_carry_roles() {
    let policy = parse(FULL);
    let engineering = &policy.spaces[0];
    let expected = [
        (email("alice@example.com"), Role::Owner),
        (Principal::User("users/100000000002".into()), Role::Manager),
        (Principal::Group("groups/0abc123".into()), Role::Member),
        (email("bob@example.com"), Role::Member),
        (email("frank@example.com"), Role::Member),
    ];
    assert_eq!(engineering.members.len(), expected.len());
    for (principal, role) in expected {
        assert_eq!(
            engineering.members.get(&principal),
            Some(&role),
            "{principal}"
        );
    }
}

#[test]
fn roles_map_to_api() {
    assert_eq!(Role::Owner.to_api(), MembershipRole::Manager);
    assert_eq!(Role::Manager.to_api(), MembershipRole::AssistantManager);
    assert_eq!(Role::Member.to_api(), MembershipRole::Member);
}

#[test]
fn space_fields_resolved() {
    let policy = parse(FULL);
    let engineering = &policy.spaces[0];
    assert_eq!(engineering.display_name.as_deref(), Some("Engineering"));
    assert_eq!(engineering.mode, Mode::Exact);
    assert_eq!(
        engineering.successors,
        [email("carol@example.com"), email("alice@example.com")]
    );
    assert_eq!(
        engineering.keep,
        [
            Principal::User("users/100000000009".into()),
            Principal::Group("groups/ops".into())
        ]
    );

    let sales = &policy.spaces[1];
    assert_eq!(sales.mode, Mode::Additive);
    assert_eq!(sales.display_name, None);
    assert_eq!(
        sales.members.get(&email("eve@example.com")),
        Some(&Role::Member)
    );
    assert_eq!(sales.keep, [Principal::User("users/100000000009".into())]);
}

#[test]
fn defaults_apply() {
    let policy = parse("version: 1\nspaces:\n  - space: spaces/A\n");
    assert!(!policy.successor_fallback);
    assert!(policy.protect.is_empty());
    assert!(policy.offboard.is_empty());
    assert!(policy.successors.is_empty());

    let space = &policy.spaces[0];
    assert_eq!(space.mode, Mode::Exact);
    assert!(space.members.is_empty());
    assert!(space.successors.is_empty());
    assert!(space.keep.is_empty());
    assert_eq!(space.display_name, None);
}

#[test]
fn version_alone_is_valid() {
    assert_eq!(parse("version: 1\n"), Policy::default());
}

#[test]
fn fallback_none_is_false() {
    let policy = parse("version: 1\nsuccessor_fallback: none\n");
    assert!(!policy.successor_fallback);
}

#[test]
fn yes_and_no_stay_strings() {
    let policy = parse("version: 1\nspaces:\n  - space: spaces/A\n    display_name: no\n");
    assert_eq!(policy.spaces[0].display_name.as_deref(), Some("no"));
}

#[test]
fn successors_may_be_anyone() {
    let yaml = "\
version: 1
successors: [root@example.com]
spaces:
  - space: spaces/A
    owners: [a@example.com]
    members: [b@example.com]
    successors: [b@example.com, a@example.com, outsider@example.com]
";
    let policy = parse(yaml);
    assert_eq!(
        policy.spaces[0].successors,
        [
            email("b@example.com"),
            email("a@example.com"),
            email("outsider@example.com")
        ]
    );
}

#[test]
fn member_in_two_spaces() {
    let yaml = "\
version: 1
spaces:
  - space: spaces/A
    owners: [a@example.com]
  - space: spaces/B
    members: [a@example.com]
";
    let policy = parse(yaml);
    assert_eq!(
        policy.spaces[0].members[&email("a@example.com")],
        Role::Owner
    );
    assert_eq!(
        policy.spaces[1].members[&email("a@example.com")],
        Role::Member
    );
}

#[test]
fn offboarded_group_and_protected_user() {
    let policy = parse("version: 1\nprotect: [users/1]\noffboard: [groups/old-team]\n");
    assert_eq!(policy.protect, [Principal::User("users/1".into())]);
    assert_eq!(
        policy.offboard,
        [Principal::Group("groups/old-team".into())]
    );
}

#[test]
fn aliases_share_lists() {
    let yaml = "\
version: 1
spaces:
  - space: spaces/A
    owners: &admins [a@example.com, b@example.com]
  - space: spaces/B
    owners: *admins
";
    let policy = parse(yaml);
    assert_eq!(policy.spaces[1].members.len(), 2);
    assert_eq!(
        policy.spaces[1].members[&email("b@example.com")],
        Role::Owner
    );
}

#[test]
fn minimal_fixture_loads() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/minimal.yaml");
    let policy = policy::load(&path).expect("minimal policy loads");
    assert_eq!(policy.spaces.len(), 1);
    let space = &policy.spaces[0];
    assert_eq!(space.space, "spaces/AAAAeng");
    assert_eq!(space.members[&email("alice@example.com")], Role::Owner);
    assert!(
        space.location.ends_with("policies/minimal.yaml:6:5"),
        "{}",
        space.location
    );
}

#[test]
fn bom_and_crlf_accepted() {
    let policy = parse(
        "\u{feff}version: 1\r\nspaces:\r\n  - space: spaces/A\r\n    owners: [a@example.com]\r\n",
    );
    assert_eq!(
        policy.spaces[0].members[&email("a@example.com")],
        Role::Owner
    );
    assert_eq!(policy.spaces[0].location, "policies/test.yaml:3:5");
}

#[test]
fn merge_key_shares_defaults() {
    let yaml = "\
version: 1
spaces:
  - &defaults
    space: spaces/A
    mode: additive
    owners: [a@example.com]
  - <<: *defaults
    space: spaces/B
";
    let policy = parse(yaml);
    assert_eq!(policy.spaces[1].space, "spaces/B");
    assert_eq!(policy.spaces[1].mode, Mode::Additive);
    assert_eq!(
        policy.spaces[1].members[&email("a@example.com")],
        Role::Owner
    );
}
