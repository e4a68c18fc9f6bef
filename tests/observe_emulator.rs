//! The observe step against the emulator over real HTTP on 127.0.0.1: a
//! missing space, conversion and order, and email resolution through
//! `spaces.members.get` when the API leaves emails out.

use chat_reconcile::chat::model::{MembershipRole, MembershipState, SpaceType, UserType};
use chat_reconcile::observe::{self, ObservedMember, ObservedState};
use chat_reconcile::policy::model::{Mode, Policy, Principal, Role, SpacePolicy};

const TOKEN: &str = "observe-test-token";

/// AAAAeng: alice (owner), bob, carol (invited), a group.
/// AAAAops: alice, dave.
fn state(show_emails: bool) -> String {
    format!(
        r#"
tokens: [{TOKEN}]
show_emails: {show_emails}
users:
  - {{id: "100000000001", email: alice@example.com}}
  - {{id: "100000000002", email: bob@example.com}}
  - {{id: "100000000003", email: carol@example.com, auto_accept: false}}
  - {{id: "100000000004", email: dave@example.com}}
  - {{id: "100000000005", email: erin@example.com}}
  - {{id: "100000000009", email: ceo@example.com}}
groups:
  - id: "0abc123"
spaces:
  - name: spaces/AAAAeng
    display_name: Engineering
    type: SPACE
    memberships:
      - {{user: "100000000001", role: ROLE_MANAGER, create_time: "2021-01-04T09:00:00Z"}}
      - {{user: "100000000002"}}
      - {{user: "100000000003", state: INVITED}}
      - {{group: "0abc123"}}
  - name: spaces/AAAAops
    display_name: Operations
    type: SPACE
    memberships:
      - {{user: "100000000001", role: ROLE_MANAGER}}
      - {{user: "100000000004"}}
"#
    )
}

fn email(value: &str) -> Principal {
    Principal::Email(value.to_string())
}

fn space_policy(space: &str, members: &[(Principal, Role)]) -> SpacePolicy {
    SpacePolicy {
        space: space.to_string(),
        display_name: None,
        mode: Mode::Exact,
        members: members.iter().cloned().collect(),
        successors: Vec::new(),
        keep: Vec::new(),
        location: format!("policy.yaml: {space}"),
    }
}

/// Builds the policy. It names alice, bob and erin in AAAAeng, where erin is
/// not a member, and alice and dave (in upper case) in AAAAops. AAAAgone does
/// not exist. Globally it protects ceo, who is in no space, and offboards dave.
fn policy() -> Policy {
    Policy {
        spaces: vec![
            space_policy(
                "spaces/AAAAeng",
                &[
                    (email("alice@example.com"), Role::Owner),
                    (email("bob@example.com"), Role::Member),
                    (email("erin@example.com"), Role::Member),
                    (Principal::Group("groups/0abc123".to_string()), Role::Member),
                ],
            ),
            space_policy(
                "spaces/AAAAgone",
                &[(email("alice@example.com"), Role::Owner)],
            ),
            space_policy(
                "spaces/AAAAops",
                &[
                    (email("alice@example.com"), Role::Owner),
                    (email("DAVE@example.com"), Role::Member),
                ],
            ),
        ],
        protect: vec![email("ceo@example.com")],
        offboard: vec![email("dave@example.com")],
        successors: Vec::new(),
        successor_fallback: false,
        guards: Default::default(),
    }
}

/// Distinct policy emails absent from each space's listing when the API
/// sends no emails: the bound on `spaces.members.get` calls.
/// AAAAeng: alice, bob, erin, ceo, dave. AAAAops: alice, dave, ceo.
const MAX_LOOKUPS: u64 = 5 + 3;

/// spaces.get for three spaces and one members.list page for each of the
/// two that exist.
const FETCH_REQUESTS: u64 = 3 + 2;

mod harness;
use harness::Harness;

/// Returns the email observed for `membership` in `space`.
fn email_of(state: &ObservedState, space: &str, membership: &str) -> Option<String> {
    let space = state
        .spaces
        .iter()
        .find(|s| s.name == space)
        .expect("space observed");
    let found = space
        .memberships
        .iter()
        .find(|m| m.name == membership)
        .expect("membership observed");
    match &found.member {
        ObservedMember::User { email, .. } => email.clone(),
        ObservedMember::Group { .. } => None,
    }
}

fn assert_resolved(state: &ObservedState) {
    let alice = Some("alice@example.com".to_string());
    assert_eq!(
        email_of(
            state,
            "spaces/AAAAeng",
            "spaces/AAAAeng/members/100000000001"
        ),
        alice
    );
    assert_eq!(
        email_of(
            state,
            "spaces/AAAAops",
            "spaces/AAAAops/members/100000000001"
        ),
        alice
    );
    assert_eq!(
        email_of(
            state,
            "spaces/AAAAeng",
            "spaces/AAAAeng/members/100000000002"
        ),
        Some("bob@example.com".to_string())
    );
    assert_eq!(
        email_of(
            state,
            "spaces/AAAAops",
            "spaces/AAAAops/members/100000000004"
        ),
        Some("dave@example.com".to_string())
    );
}

#[tokio::test]
async fn observe_reports_missing_space() {
    let run = Harness::from_yaml(&state(true), TOKEN).await;
    let state = observe::observe(&run.observe_context(4), &policy())
        .await
        .unwrap();

    assert_eq!(state.missing, ["spaces/AAAAgone"]);
    let names: Vec<_> = state
        .spaces
        .iter()
        .map(|space| space.name.as_str())
        .collect();
    assert_eq!(names, ["spaces/AAAAeng", "spaces/AAAAops"]);
    run.emulator.shutdown().await;
}

#[tokio::test]
async fn observe_converts_memberships() {
    let run = Harness::from_yaml(&state(true), TOKEN).await;
    let state = observe::observe(&run.observe_context(4), &policy())
        .await
        .unwrap();

    let eng = &state.spaces[0];
    assert_eq!(eng.display_name.as_deref(), Some("Engineering"));
    assert_eq!(eng.space_type, SpaceType::Space);
    let names: Vec<_> = eng.memberships.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "spaces/AAAAeng/members/0abc123",
            "spaces/AAAAeng/members/100000000001",
            "spaces/AAAAeng/members/100000000002",
            "spaces/AAAAeng/members/100000000003",
        ],
        "sorted by name, groups and invited members included"
    );
    assert_eq!(
        eng.memberships[0].member,
        ObservedMember::Group {
            id: "groups/0abc123".to_string()
        }
    );
    let alice = &eng.memberships[1];
    assert_eq!(alice.role, MembershipRole::Manager);
    assert_eq!(alice.state, MembershipState::Joined);
    assert_eq!(alice.create_time.as_deref(), Some("2021-01-04T09:00:00Z"));
    assert_eq!(
        alice.member,
        ObservedMember::User {
            id: "users/100000000001".to_string(),
            email: Some("alice@example.com".to_string()),
            user_type: UserType::Human,
        }
    );
    assert_eq!(eng.memberships[3].state, MembershipState::Invited);
    run.emulator.shutdown().await;
}

#[tokio::test]
async fn listed_emails_need_no_lookup() {
    let run = Harness::from_yaml(&state(true), TOKEN).await;
    let state = observe::observe(&run.observe_context(4), &policy())
        .await
        .unwrap();

    assert_resolved(&state);
    // dave's id comes from the AAAAops listing, so AAAAeng needs no lookup
    // for him. erin (AAAAeng) and ceo (both spaces) appear in no listing and
    // cost one lookup per space each, because a listed email may be the
    // primary address of a person the policy names by an alias.
    let lookups = run.emulator.counters().requests - FETCH_REQUESTS;
    assert_eq!(lookups, 3);
    run.emulator.shutdown().await;
}

#[tokio::test]
async fn hidden_emails_resolved_by_alias() {
    let run = Harness::from_yaml(&state(false), TOKEN).await;
    let state = observe::observe(&run.observe_context(4), &policy())
        .await
        .unwrap();

    assert_resolved(&state);
    assert_eq!(
        email_of(
            &state,
            "spaces/AAAAeng",
            "spaces/AAAAeng/members/100000000003"
        ),
        None,
        "carol is not in the policy, so she is not looked up"
    );
    let lookups = run.emulator.counters().requests - FETCH_REQUESTS;
    assert!(
        lookups >= 4,
        "at least alice, bob and dave need a lookup: {lookups}"
    );
    assert!(lookups <= MAX_LOOKUPS, "{lookups} members.get calls");
    run.emulator.shutdown().await;
}

#[tokio::test]
async fn hidden_emails_serial_reuse_cache() {
    let run = Harness::from_yaml(&state(false), TOKEN).await;
    let state = observe::observe(&run.observe_context(1), &policy())
        .await
        .unwrap();

    assert_resolved(&state);
    // One space at a time, in name order: AAAAeng looks up alice, bob, ceo,
    // dave and erin; AAAAops reuses alice's id and looks up ceo and dave,
    // who were not found in AAAAeng.
    let lookups = run.emulator.counters().requests - FETCH_REQUESTS;
    assert_eq!(lookups, 7);
    run.emulator.shutdown().await;
}

#[tokio::test]
async fn observe_spaces_subset() {
    let run = Harness::from_yaml(&state(false), TOKEN).await;
    let spaces = vec!["spaces/AAAAops".to_string()];
    let state = observe::observe_spaces(&run.observe_context(2), &policy(), &spaces)
        .await
        .unwrap();

    let names: Vec<_> = state
        .spaces
        .iter()
        .map(|space| space.name.as_str())
        .collect();
    assert_eq!(names, ["spaces/AAAAops"]);
    assert!(state.missing.is_empty());
    assert_eq!(
        email_of(
            &state,
            "spaces/AAAAops",
            "spaces/AAAAops/members/100000000004"
        ),
        Some("dave@example.com".to_string())
    );
    run.emulator.shutdown().await;
}

#[tokio::test]
async fn observe_error_names_space() {
    let run = Harness::from_yaml(&state(true), "not-a-known-token").await;
    let error = observe::observe(&run.observe_context(1), &policy())
        .await
        .unwrap_err();
    assert_eq!(error.space, "spaces/AAAAeng");
    assert_eq!(error.source.http_status(), Some(401));
    assert_eq!(error.to_string(), "could not observe spaces/AAAAeng");
    run.emulator.shutdown().await;
}
