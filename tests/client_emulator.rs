//! Every client method against the emulator over real HTTP on 127.0.0.1:
//! paging past one full page, groups and invited members, the email alias,
//! and the error statuses the apply engine relies on (404, 409, 400
//! FAILED_PRECONDITION, 401).

use std::fmt::Write;
use std::sync::Arc;

use chat_reconcile::chat::auth::{AccessToken, StaticToken};
use chat_reconcile::chat::model::{MembershipRole, MembershipState, SpaceType, UserType};
use chat_reconcile::chat::{ChatClient, ClientOptions, ListMembersOptions};
use chat_reconcile::emulator::{Emulator, EmulatorState};

const TOKEN: &str = "client-test-token";

/// AAAAeng: alice the only owner, bob a member, carol invited, a group.
/// AAAAops: alice and bob both owners.
const STATE: &str = r#"
tokens: [client-test-token]
show_emails: true
users:
  - {id: "100000000001", email: alice@example.com, display_name: Alice Adams}
  - {id: "100000000002", email: bob@example.com, display_name: Bob Brown}
  - {id: "100000000003", email: carol@example.com, display_name: Carol Chen, auto_accept: false}
  - {id: "100000000004", email: dave@example.com, display_name: Dave Diaz}
groups:
  - id: "0abc123"
spaces:
  - name: spaces/AAAAeng
    display_name: Engineering
    type: SPACE
    create_time: "2021-01-04T09:00:00Z"
    memberships:
      - {user: "100000000001", role: ROLE_MANAGER}
      - {user: "100000000002"}
      - {user: "100000000003", state: INVITED}
      - {group: "0abc123"}
  - name: spaces/AAAAops
    display_name: Operations
    type: SPACE
    memberships:
      - {user: "100000000001", role: ROLE_MANAGER}
      - {user: "100000000002", role: ROLE_MANAGER}
"#;

async fn start(state: &str) -> (Emulator, ChatClient) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let state = EmulatorState::parse(state).expect("valid emulator state");
    let emulator = Emulator::start(state, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let client = client_with_token(&emulator, TOKEN);
    (emulator, client)
}

fn client_with_token(emulator: &Emulator, token: &str) -> ChatClient {
    let tokens = Arc::new(StaticToken::new(AccessToken::new(token.to_string())));
    ChatClient::new(&emulator.url(), tokens, ClientOptions::default()).unwrap()
}

fn all_members() -> ListMembersOptions {
    ListMembersOptions {
        show_groups: true,
        show_invited: true,
        filter: None,
    }
}

/// Builds a state with `space_count` spaces and, in `spaces/AAAAbig`, `member_count`
/// joined users, an invited user and a group.
fn big_state(space_count: usize, member_count: usize) -> String {
    let mut yaml = format!("tokens: [{TOKEN}]\nusers:\n");
    for index in 0..=member_count {
        let id = 200_000_000_000 + index;
        let accept = if index == member_count {
            ", auto_accept: false"
        } else {
            ""
        };
        writeln!(
            yaml,
            "  - {{id: \"{id}\", email: user{id}@example.com{accept}}}"
        )
        .unwrap();
    }
    yaml.push_str("groups:\n  - id: \"0big\"\nspaces:\n");
    yaml.push_str("  - name: spaces/AAAAbig\n    type: SPACE\n    memberships:\n");
    for index in 0..member_count {
        let id = 200_000_000_000 + index;
        let role = if index == 0 {
            ", role: ROLE_MANAGER"
        } else {
            ""
        };
        writeln!(yaml, "      - {{user: \"{id}\"{role}}}").unwrap();
    }
    let invited = 200_000_000_000 + member_count;
    writeln!(yaml, "      - {{user: \"{invited}\", state: INVITED}}").unwrap();
    yaml.push_str("      - {group: \"0big\"}\n");
    for index in 1..space_count {
        writeln!(
            yaml,
            "  - name: spaces/AAAAs{index:05}\n    type: SPACE\n    memberships: []"
        )
        .unwrap();
    }
    yaml
}

#[tokio::test]
async fn list_spaces_pages_past_1000() {
    let (emulator, client) = start(&big_state(1003, 2)).await;
    let before = emulator.counters().requests;

    let spaces = client.list_spaces().await.unwrap();

    assert_eq!(spaces.len(), 1003);
    assert_eq!(
        emulator.counters().requests - before,
        2,
        "1003 spaces take two pages of 1000"
    );
    let mut names: Vec<_> = spaces
        .iter()
        .map(|space| space.name.clone().unwrap())
        .collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), 1003, "no space listed twice");
    emulator.shutdown().await;
}

#[tokio::test]
async fn list_members_pages_past_1000() {
    let (emulator, client) = start(&big_state(1, 1205)).await;

    let before = emulator.counters().requests;
    let memberships = client
        .list_members("spaces/AAAAbig", &all_members())
        .await
        .unwrap();
    assert_eq!(
        emulator.counters().requests - before,
        2,
        "1207 memberships take two pages"
    );
    assert_eq!(memberships.len(), 1207);
    let groups = memberships
        .iter()
        .filter(|m| m.group_member.is_some())
        .count();
    assert_eq!(groups, 1);
    let invited = memberships
        .iter()
        .filter(|m| m.state == Some(MembershipState::Invited))
        .count();
    assert_eq!(invited, 1);

    let joined_users = client
        .list_members("spaces/AAAAbig", &ListMembersOptions::default())
        .await
        .unwrap();
    assert_eq!(
        joined_users.len(),
        1205,
        "groups and invited members only when asked for"
    );
    emulator.shutdown().await;
}

#[tokio::test]
async fn list_members_groups_and_invited() {
    let (emulator, client) = start(STATE).await;
    let memberships = client
        .list_members("spaces/AAAAeng", &all_members())
        .await
        .unwrap();
    let mut names: Vec<_> = memberships
        .iter()
        .map(|m| m.name.clone().unwrap())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "spaces/AAAAeng/members/0abc123",
            "spaces/AAAAeng/members/100000000001",
            "spaces/AAAAeng/members/100000000002",
            "spaces/AAAAeng/members/100000000003",
        ]
    );
    let group = memberships
        .iter()
        .find(|m| m.group_member.is_some())
        .unwrap();
    assert_eq!(
        group.group_member.as_ref().unwrap().name.as_deref(),
        Some("groups/0abc123")
    );
    assert!(group.member.is_none());
    emulator.shutdown().await;
}

#[tokio::test]
async fn get_space_found_and_missing() {
    let (emulator, client) = start(STATE).await;
    let space = client.get_space("spaces/AAAAeng").await.unwrap();
    assert_eq!(space.name.as_deref(), Some("spaces/AAAAeng"));
    assert_eq!(space.display_name.as_deref(), Some("Engineering"));
    assert_eq!(space.space_type, Some(SpaceType::Space));

    let error = client.get_space("spaces/AAAAnone").await.unwrap_err();
    assert!(error.is_not_found(), "{error:?}");
    assert_eq!(error.api_status(), Some("NOT_FOUND"));
    emulator.shutdown().await;
}

#[tokio::test]
async fn get_member_by_id_and_email() {
    let (emulator, client) = start(STATE).await;
    let by_id = client
        .get_member("spaces/AAAAeng/members/100000000002")
        .await
        .unwrap();
    let by_email = client
        .get_member("spaces/AAAAeng/members/bob@example.com")
        .await
        .unwrap();
    assert_eq!(by_id, by_email);
    assert_eq!(
        by_id.name.as_deref(),
        Some("spaces/AAAAeng/members/100000000002")
    );
    let user = by_id.member.unwrap();
    assert_eq!(user.name.as_deref(), Some("users/100000000002"));
    assert_eq!(user.email.as_deref(), Some("bob@example.com"));
    assert_eq!(user.user_type, Some(UserType::Human));

    let error = client
        .get_member("spaces/AAAAeng/members/dave@example.com")
        .await
        .unwrap_err();
    assert!(error.is_not_found(), "dave is not in AAAAeng: {error:?}");
    emulator.shutdown().await;
}

#[tokio::test]
async fn create_member_user_and_group() {
    let (emulator, client) = start(STATE).await;

    let created = client
        .create_member("spaces/AAAAops", "users/dave@example.com")
        .await
        .unwrap();
    assert_eq!(
        created.name.as_deref(),
        Some("spaces/AAAAops/members/100000000004")
    );
    assert_eq!(created.state, Some(MembershipState::Joined));
    assert_eq!(created.role, Some(MembershipRole::Member));

    let invited = client
        .create_member("spaces/AAAAops", "users/100000000003")
        .await
        .unwrap();
    assert_eq!(
        invited.state,
        Some(MembershipState::Invited),
        "carol does not auto-accept"
    );

    let group = client
        .create_member("spaces/AAAAops", "groups/0abc123")
        .await
        .unwrap();
    assert_eq!(
        group.name.as_deref(),
        Some("spaces/AAAAops/members/0abc123")
    );
    assert!(group.group_member.is_some());
    emulator.shutdown().await;
}

#[tokio::test]
async fn create_member_errors() {
    let (emulator, client) = start(STATE).await;

    let error = client
        .create_member("spaces/AAAAeng", "users/bob@example.com")
        .await
        .unwrap_err();
    assert!(error.is_already_exists(), "{error:?}");
    assert_eq!(error.api_status(), Some("ALREADY_EXISTS"));

    let error = client
        .create_member("spaces/AAAAeng", "users/nobody@example.com")
        .await
        .unwrap_err();
    assert!(error.is_not_found(), "{error:?}");

    let error = client
        .create_member("spaces/AAAAnone", "users/bob@example.com")
        .await
        .unwrap_err();
    assert!(error.is_not_found(), "{error:?}");
    emulator.shutdown().await;
}

#[tokio::test]
async fn set_role_and_only_owner_rule() {
    let (emulator, client) = start(STATE).await;

    let promoted = client
        .set_member_role(
            "spaces/AAAAeng/members/100000000002",
            &MembershipRole::Manager,
        )
        .await
        .unwrap();
    assert_eq!(promoted.role, Some(MembershipRole::Manager));

    let demoted = client
        .set_member_role(
            "spaces/AAAAeng/members/100000000001",
            &MembershipRole::AssistantManager,
        )
        .await
        .unwrap();
    assert_eq!(demoted.role, Some(MembershipRole::AssistantManager));

    let error = client
        .set_member_role(
            "spaces/AAAAeng/members/100000000002",
            &MembershipRole::Member,
        )
        .await
        .unwrap_err();
    assert_eq!(error.http_status(), Some(400));
    assert!(
        error.is_failed_precondition(),
        "bob is now the only owner: {error:?}"
    );
    assert!(!error.is_retryable());
    assert_eq!(emulator.counters().only_owner_refusals, 1);

    let error = client
        .set_member_role(
            "spaces/AAAAeng/members/100000000004",
            &MembershipRole::Manager,
        )
        .await
        .unwrap_err();
    assert!(error.is_not_found(), "{error:?}");
    emulator.shutdown().await;
}

#[tokio::test]
async fn delete_member_and_errors() {
    let (emulator, client) = start(STATE).await;

    let deleted = client
        .delete_member("spaces/AAAAeng/members/bob@example.com")
        .await
        .unwrap();
    assert_eq!(
        deleted.name.as_deref(),
        Some("spaces/AAAAeng/members/100000000002")
    );

    let error = client
        .delete_member("spaces/AAAAeng/members/100000000002")
        .await
        .unwrap_err();
    assert!(error.is_not_found(), "deleted twice: {error:?}");

    let error = client
        .delete_member("spaces/AAAAeng/members/100000000001")
        .await
        .unwrap_err();
    assert_eq!(error.http_status(), Some(400));
    assert!(
        error.is_failed_precondition(),
        "alice is the only owner: {error:?}"
    );
    assert_eq!(emulator.counters().only_owner_refusals, 1);

    client
        .delete_member("spaces/AAAAops/members/100000000001")
        .await
        .unwrap();
    emulator.shutdown().await;
}

#[tokio::test]
async fn wrong_token_unauthenticated() {
    let (emulator, _client) = start(STATE).await;
    let client = client_with_token(&emulator, "not-a-known-token");
    let error = client.get_space("spaces/AAAAeng").await.unwrap_err();
    assert_eq!(error.http_status(), Some(401));
    assert_eq!(error.api_status(), Some("UNAUTHENTICATED"));
    assert!(!error.is_retryable());
    assert!(!error.to_string().contains("not-a-known-token"));
    emulator.shutdown().await;
}
