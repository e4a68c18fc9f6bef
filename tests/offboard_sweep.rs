//! The offboarding sweep over the emulator on 127.0.0.1: the sample
//! organisation end to end, the reads it makes per space, a caller that sees
//! only some spaces, admin mode, and the group access warning.

mod harness;

use std::sync::Arc;

use chat_reconcile::apply::{self, EventSink};
use chat_reconcile::chat::auth::{AccessToken, StaticToken};
use chat_reconcile::chat::model::SpaceType;
use chat_reconcile::chat::{ChatClient, ClientOptions};
use chat_reconcile::emulator::{self, EmulatorState};
use chat_reconcile::plan;
use chat_reconcile::policy::{Policy, Principal};
use chat_reconcile::sweep::{self, Discovery, SweepRequest};
use harness::Harness;

const DAVE: &str = "dave.departed@example.com";

fn request(users: &[&str], discovery: Discovery, rules: Policy) -> SweepRequest {
    SweepRequest {
        users: users.iter().map(|user| user.to_string()).collect(),
        discovery,
        rules,
    }
}

/// Switches the harness's client to admin mode (`useAdminAccess=true`).
fn use_admin(harness: &mut Harness, token: &str) {
    let tokens = Arc::new(StaticToken::new(AccessToken::new(token.to_string())));
    let options = ClientOptions {
        use_admin_access: true,
        ..ClientOptions::default()
    };
    harness.client = ChatClient::new(&harness.emulator.url(), tokens, options).unwrap();
}

/// Counts the requests the emulator logged for one API method.
fn count(harness: &Harness, method: &str) -> usize {
    harness
        .emulator
        .requests()
        .iter()
        .filter(|request| request.api_method.as_deref() == Some(method))
        .count()
}

#[tokio::test]
async fn sample_org_dave_leaves_everywhere() {
    let state = EmulatorState::load("examples/sample-org.yaml".as_ref()).unwrap();
    let harness = Harness::start(state, "demo-token").await;
    let rules = Policy {
        successors: vec![Principal::Email("ivan.admin@example.com".to_string())],
        successor_fallback: true,
        ..Policy::default()
    };
    let request = request(&[DAVE], Discovery::CallerSpaces, rules);

    let mut found = sweep::sweep(&harness.observe_context(4), &request)
        .await
        .unwrap();
    let first = plan::plan(&found.policy, &found.observed);
    let adopted = sweep::adopt_orphans(&mut found.policy, &first, "ivan.admin@example.com");
    assert_eq!(
        adopted,
        ["spaces/AAAAn073DZl"],
        "the space with no successor"
    );
    let plan = plan::plan(&found.policy, &found.observed);
    assert_eq!(plan.blocked_count(), 0, "{plan:#?}");
    assert_eq!(found.coverage.direct_messages, 1);

    let report = apply::apply(&plan, &harness.apply_context(8), EventSink::discard()).await;
    assert_eq!(report.summary.unsuccessful(), 0, "{report:#?}");

    let counters = harness.emulator.counters();
    assert_eq!(counters.only_owner_refusals, 0);
    assert_eq!(counters.spaces_left_without_owner, 0);
    let snapshot = harness.emulator.snapshot();
    for space in &snapshot.spaces {
        let has_dave = space.membership(DAVE).is_some();
        if space.space_type == emulator::SpaceType::DirectMessage {
            continue;
        }
        assert!(!has_dave, "{} still has dave", space.name);
        if space.space_type == emulator::SpaceType::Space {
            assert!(!space.owners().is_empty(), "{} has no owner", space.name);
        }
    }
    let direct_message = snapshot.space("spaces/AAAAWb5Y7sF").unwrap();
    assert!(
        direct_message.membership(DAVE).is_some(),
        "a direct message cannot be left"
    );

    let verification = apply::verify(
        &harness.observe_context(4),
        &found.policy,
        &found
            .policy
            .spaces
            .iter()
            .map(|entry| entry.space.clone())
            .collect::<Vec<_>>(),
    )
    .await
    .unwrap();
    assert!(verification.passed(), "{verification:#?}");
}

/// 40 spaces; dave is a member of spaces 1 to 5 and the only owner of 0.
fn many_spaces_state() -> String {
    let mut state = String::from(
        r#"tokens: [demo-token]
users:
  - {id: "1", email: dave@example.com}
  - {id: "2", email: carol@example.com}
spaces:
"#,
    );
    for index in 0..40 {
        state.push_str(&format!(
            "  - name: spaces/AAAA{index:02}\n    type: SPACE\n    memberships:\n"
        ));
        let dave_role = match index {
            0 => Some("ROLE_MANAGER"),
            1..=5 => Some("ROLE_MEMBER"),
            _ => None,
        };
        if let Some(role) = dave_role {
            state.push_str(&format!(
                "      - {{user: \"1\", role: {role}, create_time: \"2020-01-01T00:00:00Z\"}}\n"
            ));
        }
        let carol_role = if index == 0 {
            "ROLE_MEMBER"
        } else {
            "ROLE_MANAGER"
        };
        state.push_str(&format!(
            "      - {{user: \"2\", role: {carol_role}, create_time: \"2021-01-01T00:00:00Z\"}}\n"
        ));
    }
    state
}

#[tokio::test]
async fn admin_sweep_reads_one_lookup_per_space() {
    let mut harness = Harness::from_yaml(&many_spaces_state(), "demo-token").await;
    use_admin(&mut harness, "demo-token");
    let rules = Policy {
        successor_fallback: true,
        ..Policy::default()
    };
    let request = request(&["dave@example.com"], Discovery::AdminSearch, rules);

    let found = sweep::sweep(&harness.observe_context(8), &request)
        .await
        .unwrap();

    assert_eq!(count(&harness, "spaces.search"), 1, "one page of 40 spaces");
    assert_eq!(count(&harness, "spaces.members.get"), 40, "one per space");
    assert_eq!(
        count(&harness, "spaces.get"),
        1,
        "only where an owner leaves"
    );
    assert_eq!(
        count(&harness, "spaces.members.list"),
        1,
        "only where an owner leaves"
    );
    assert_eq!(count(&harness, "spaces.list"), 0);
    let reads = harness.emulator.requests().len();
    assert_eq!(reads, 40 + 1 + 2, "lookups, the search page, one listing");
    assert_eq!(found.coverage.lookups, 40);
    assert_eq!(found.coverage.spaces_with_users, 6);
    assert_eq!(found.coverage.listed, 1);

    let plan = plan::plan(&found.policy, &found.observed);
    assert_eq!(plan.spaces.len(), 6);
    assert_eq!(plan.blocked_count(), 0, "carol succeeds dave: {plan:#?}");
    let report = apply::apply(&plan, &harness.apply_context(8), EventSink::discard()).await;
    assert_eq!(report.summary.unsuccessful(), 0, "{report:#?}");
    let snapshot = harness.emulator.snapshot();
    assert!(
        snapshot
            .spaces
            .iter()
            .all(|space| space.membership("dave@example.com").is_none())
    );
    assert_eq!(harness.emulator.counters().only_owner_refusals, 0);
}

#[tokio::test]
async fn caller_sweep_reads_one_listing_per_found_space() {
    let harness = Harness::from_yaml(&many_spaces_state(), "demo-token").await;
    let request = request(
        &["dave@example.com"],
        Discovery::CallerSpaces,
        Policy::default(),
    );

    let found = sweep::sweep(&harness.observe_context(8), &request)
        .await
        .unwrap();

    assert_eq!(count(&harness, "spaces.list"), 1);
    assert_eq!(count(&harness, "spaces.members.get"), 40);
    // Outside admin mode every SPACE where dave was found is listed, since
    // only the listing shows group memberships.
    assert_eq!(count(&harness, "spaces.members.list"), 6);
    assert_eq!(count(&harness, "spaces.get"), 6);
    assert_eq!(found.coverage.listed, 6);
}

/// alice is a user caller in only two of the three spaces dave is in.
const CALLER_STATE: &str = r#"
callers:
  - token: alice-token
    kind: user
    user: "1"
    scopes: [chat.memberships, chat.spaces.readonly]
users:
  - {id: "1", email: alice@example.com}
  - {id: "2", email: dave@example.com}
spaces:
  - name: spaces/AAAAone
    type: SPACE
    memberships:
      - {user: "1", role: ROLE_MANAGER}
      - {user: "2"}
  - name: spaces/AAAAtwo
    type: GROUP_CHAT
    memberships:
      - {user: "1"}
      - {user: "2"}
  - name: spaces/AAAAhidden
    type: SPACE
    memberships:
      - {user: "2", role: ROLE_MANAGER}
"#;

#[tokio::test]
async fn caller_sweep_covers_only_caller_spaces() {
    let harness = Harness::from_yaml(CALLER_STATE, "alice-token").await;
    let request = request(
        &["dave@example.com"],
        Discovery::CallerSpaces,
        Policy::default(),
    );

    let found = sweep::sweep(&harness.observe_context(4), &request)
        .await
        .unwrap();
    assert_eq!(found.coverage.candidate_count(), 2);
    let spaces: Vec<_> = found
        .policy
        .spaces
        .iter()
        .map(|e| e.space.as_str())
        .collect();
    assert_eq!(spaces, ["spaces/AAAAone", "spaces/AAAAtwo"]);

    let plan = plan::plan(&found.policy, &found.observed);
    let report = apply::apply(&plan, &harness.apply_context(4), EventSink::discard()).await;
    assert_eq!(report.summary.unsuccessful(), 0, "{report:#?}");
    let snapshot = harness.emulator.snapshot();
    let dave_in = |space: &str| {
        snapshot
            .space(space)
            .unwrap()
            .membership("dave@example.com")
            .is_some()
    };
    assert!(!dave_in("spaces/AAAAone"));
    assert!(!dave_in("spaces/AAAAtwo"), "group chats are handled");
    assert!(
        dave_in("spaces/AAAAhidden"),
        "the caller cannot see this space"
    );
}

#[tokio::test]
async fn admin_search_skips_group_chats_and_dms() {
    let state = EmulatorState::load("examples/sample-org.yaml".as_ref()).unwrap();
    let mut harness = Harness::start(state, "demo-token").await;
    use_admin(&mut harness, "demo-token");
    let request = request(&[DAVE], Discovery::AdminSearch, Policy::default());

    let found = sweep::sweep(&harness.observe_context(4), &request)
        .await
        .unwrap();
    assert_eq!(
        found.coverage.candidates.keys().collect::<Vec<_>>(),
        ["SPACE"]
    );
    assert_eq!(found.coverage.direct_messages, 0);
    assert!(
        found
            .observed
            .spaces
            .iter()
            .all(|space| space.space_type == SpaceType::Space)
    );
    // Listed only where dave is a joined owner: six spaces in the sample.
    assert_eq!(
        count(&harness, "spaces.members.list"),
        found.coverage.listed
    );
    assert_eq!(found.coverage.listed, 6);
}

const GROUP_STATE: &str = r#"
tokens: [demo-token]
users:
  - {id: "1", email: alice@example.com}
  - {id: "2", email: dave@example.com}
groups:
  - id: "0eng"
    members: ["2"]
  - id: "0ops"
spaces:
  - name: spaces/AAAAeng
    type: SPACE
    memberships:
      - {user: "1", role: ROLE_MANAGER}
      - {user: "2"}
      - {group: "0eng"}
  - name: spaces/AAAAops
    type: SPACE
    memberships:
      - {user: "1", role: ROLE_MANAGER}
      - {user: "2"}
      - {group: "0ops"}
  - name: spaces/AAAAplain
    type: SPACE
    memberships:
      - {user: "1", role: ROLE_MANAGER}
      - {user: "2"}
"#;

#[tokio::test]
async fn group_membership_warns_of_access() {
    let state = EmulatorState::parse(GROUP_STATE).unwrap();
    assert_eq!(state.group_members("0eng"), ["2"]);
    let harness = Harness::start(state.clone(), "demo-token").await;
    let request = request(
        &["dave@example.com"],
        Discovery::CallerSpaces,
        Policy::default(),
    );

    let found = sweep::sweep(&harness.observe_context(4), &request)
        .await
        .unwrap();
    let mut plan = plan::plan(&found.policy, &found.observed);
    sweep::warn_group_access(&mut plan, &found.observed, &request.users);

    let warned = |space: &str| {
        plan.spaces
            .iter()
            .find(|entry| entry.space == space)
            .unwrap()
            .warnings
            .iter()
            .any(|warning| warning.starts_with("dave@example.com may keep access through groups/"))
    };
    // The warning must reach every space where dave really keeps access
    // through a group, whatever the tool can see.
    for space in &harness.emulator.snapshot().spaces {
        let through_group = space.memberships.iter().any(|membership| {
            membership
                .member
                .strip_prefix("groups/")
                .is_some_and(|group| state.group_members(group).contains(&"2".to_string()))
        });
        if through_group {
            assert!(warned(&space.name), "{} has no warning", space.name);
        }
    }
    assert!(warned("spaces/AAAAops"), "any group may hold dave");
    assert!(!warned("spaces/AAAAplain"), "no group, no warning");
}
