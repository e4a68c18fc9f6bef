//! Callers and permissions: each rule is tested by sending the forbidden
//! request and checking its status and message, and the allowed one.

mod emulator_support;

use chat_reconcile::emulator::{CallerKind, EmulatorState};
use emulator_support::{Fixture, Reply};
use reqwest::Method;
use serde_json::{Value, json};

/// AAAAtwo has two owners (alice, dave), a manager (bob), an app and a
/// group; AAAAeng has one owner (alice). Ada is an administrator in no space.
const STATE: &str = r#"
tokens: [default-token]
callers:
  - {token: alice-token, kind: user, user: "1001", scopes: [chat.memberships, chat.spaces]}
  - {token: bob-token, kind: user, user: "1002", scopes: [chat.memberships, chat.spaces.readonly]}
  - {token: reader-token, kind: user, user: "1001", scopes: ["https://www.googleapis.com/auth/chat.memberships.readonly"]}
  - {token: app-token, kind: app, user: "2001", scopes: [chat.bot, chat.app.memberships]}
  - {token: admin-token, kind: admin, user: "1006", scopes: [chat.admin.memberships, chat.admin.spaces.readonly]}
  - {token: plain-admin-token, kind: admin, user: "1006", scopes: [chat.memberships, chat.spaces]}
users:
  - {id: "1001", email: alice@example.com}
  - {id: "1002", email: bob@example.com}
  - {id: "1003", email: carol@example.com, auto_accept: false}
  - {id: "1004", email: dave@example.com}
  - {id: "1005", email: erin@partner.example, affiliation: EXTERNAL}
  - {id: "1006", email: ada@example.com}
  - {id: "2001", email: helper-bot@example.com, type: BOT}
  - {id: "2002", email: other-bot@example.com, type: BOT}
groups:
  - id: "0grp1"
spaces:
  - name: spaces/AAAAtwo
    type: SPACE
    memberships:
      - {user: "1001", role: ROLE_MANAGER}
      - {user: "1004", role: ROLE_MANAGER}
      - {user: "1002", role: ROLE_ASSISTANT_MANAGER}
      - {user: "1003", state: INVITED}
      - {user: "2001"}
      - {user: "2002"}
      - {group: "0grp1"}
  - name: spaces/AAAAeng
    type: SPACE
    memberships:
      - {user: "1001", role: ROLE_MANAGER}
      - {user: "1004"}
"#;

async fn fixture() -> Fixture {
    Fixture::start(STATE).await
}

async fn send(
    fixture: &Fixture,
    token: &str,
    method: Method,
    path: &str,
    query: &[(&str, &str)],
    body: Option<Value>,
) -> Reply {
    fixture
        .call_as(Some(token), method, path, query, body)
        .await
}

async fn get(fixture: &Fixture, token: &str, path: &str, query: &[(&str, &str)]) -> Reply {
    send(fixture, token, Method::GET, path, query, None).await
}

fn space_names(reply: &Reply) -> Vec<String> {
    reply.ok()["spaces"]
        .as_array()
        .map(|spaces| {
            spaces
                .iter()
                .map(|space| space["name"].as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn callers_parse() {
    let state = EmulatorState::parse(STATE).unwrap();
    assert_eq!(state.tokens()[0], "default-token");
    assert_eq!(state.tokens().len(), 7);
    let reader = state.caller("reader-token").unwrap();
    assert!(reader.scopes.contains("chat.memberships.readonly"));
    assert_eq!(state.caller("app-token").unwrap().kind, CallerKind::App);
    let default = state.caller("default-token").unwrap();
    assert!(default.is_default());

    let bad = [
        (
            "callers: [{token: t, kind: user, user: \"2001\", scopes: []}]",
            "must be a user of type HUMAN",
        ),
        (
            "callers: [{token: t, kind: app, user: \"1001\"}]",
            "must be a user of type BOT",
        ),
        ("callers: [{token: t, kind: user}]", "needs `user`"),
        (
            "callers: [{token: t, kind: user, user: \"9\"}]",
            "not listed under `users`",
        ),
        (
            "callers: [{token: t, kind: user, user: \"1001\", scopes: [chat.everything]}]",
            "unknown scope",
        ),
        (
            "callers: [{token: default-token, kind: user, user: \"1001\"}]",
            "listed twice",
        ),
        (
            "callers: [{token: t, kind: robot, user: \"1001\"}]",
            "robot",
        ),
    ];
    // Keep the users and spaces, replace the callers.
    let directory = &STATE[STATE.find("users:").unwrap()..];
    for (callers, part) in bad {
        let text = format!("tokens: [default-token]\n{callers}\n{directory}");
        let error = format!("{:#}", EmulatorState::parse(&text).unwrap_err());
        assert!(error.contains(part), "{callers}: {error}");
    }
}

#[tokio::test]
async fn missing_scope_named() {
    let fixture = fixture().await;
    let reply = send(
        &fixture,
        "reader-token",
        Method::DELETE,
        "v1/spaces/AAAAtwo/members/1002",
        &[],
        None,
    )
    .await;
    reply.assert_error(
        403,
        "PERMISSION_DENIED",
        "spaces.members.delete needs https://www.googleapis.com/auth/chat.memberships",
    );
    let reply = get(&fixture, "reader-token", "v1/spaces", &[]).await;
    reply.assert_error(
        403,
        "PERMISSION_DENIED",
        "https://www.googleapis.com/auth/chat.spaces or https://www.googleapis.com/auth/chat.spaces.readonly",
    );
    get(&fixture, "reader-token", "v1/spaces/AAAAtwo/members", &[])
        .await
        .ok();

    let reply = send(
        &fixture,
        "bob-token",
        Method::GET,
        "v1/spaces/AAAAtwo",
        &[],
        None,
    )
    .await;
    reply.ok();
    assert_eq!(fixture.emulator.counters().permission_denials, 2);
}

#[tokio::test]
async fn only_owner_or_admin_changes_an_owner() {
    let fixture = fixture().await;
    let path = "v1/spaces/AAAAtwo/members/1004";
    let reply = send(&fixture, "bob-token", Method::DELETE, path, &[], None).await;
    reply.assert_error(403, "PERMISSION_DENIED", "only an owner of spaces/AAAAtwo");
    let demote = json!({"role": "ROLE_MEMBER"});
    let reply = send(
        &fixture,
        "bob-token",
        Method::PATCH,
        path,
        &[("updateMask", "role")],
        Some(demote.clone()),
    )
    .await;
    reply.assert_error(
        403,
        "PERMISSION_DENIED",
        "cannot change spaces/AAAAtwo/members/1004",
    );

    // A non-owner may still change a non-owner.
    send(
        &fixture,
        "bob-token",
        Method::DELETE,
        "v1/spaces/AAAAtwo/members/0grp1",
        &[],
        None,
    )
    .await
    .ok();
    // An owner may demote another owner; an administrator in admin mode may
    // remove one without being a member.
    send(
        &fixture,
        "alice-token",
        Method::PATCH,
        path,
        &[("updateMask", "role")],
        Some(demote),
    )
    .await
    .ok();
    send(
        &fixture,
        "alice-token",
        Method::PATCH,
        path,
        &[("updateMask", "role")],
        Some(json!({"role": "ROLE_MANAGER"})),
    )
    .await
    .ok();
    send(
        &fixture,
        "admin-token",
        Method::DELETE,
        path,
        &[("useAdminAccess", "true")],
        None,
    )
    .await
    .ok();
    assert_eq!(fixture.emulator.counters().spaces_left_without_owner, 0);
}

#[tokio::test]
async fn app_caller_never_lists_apps() {
    let fixture = fixture().await;
    let query = [("showGroups", "true")];
    let as_user = get(&fixture, "alice-token", "v1/spaces/AAAAtwo/members", &query).await;
    assert!(as_user.member_ids().contains(&"2001".to_string()));
    let as_app = get(&fixture, "app-token", "v1/spaces/AAAAtwo/members", &query).await;
    assert_eq!(as_app.member_ids(), ["0grp1", "1001", "1002", "1004"]);
    let filtered = get(
        &fixture,
        "app-token",
        "v1/spaces/AAAAtwo/members",
        &[("filter", "member.type = \"BOT\"")],
    )
    .await;
    assert!(filtered.member_ids().is_empty());
}

#[tokio::test]
async fn app_caller_cannot_remove_groups_or_apps() {
    let fixture = fixture().await;
    let reply = send(
        &fixture,
        "app-token",
        Method::DELETE,
        "v1/spaces/AAAAtwo/members/0grp1",
        &[],
        None,
    )
    .await;
    reply.assert_error(
        403,
        "PERMISSION_DENIED",
        "an app caller cannot remove groups",
    );
    let reply = send(
        &fixture,
        "app-token",
        Method::DELETE,
        "v1/spaces/AAAAtwo/members/2002",
        &[],
        None,
    )
    .await;
    reply.assert_error(
        403,
        "PERMISSION_DENIED",
        "an app caller cannot remove Chat apps",
    );
    send(
        &fixture,
        "app-token",
        Method::DELETE,
        "v1/spaces/AAAAtwo/members/1003",
        &[],
        None,
    )
    .await
    .ok();
}

#[tokio::test]
async fn show_invited_needs_user_caller() {
    let fixture = fixture().await;
    let query = [("showInvited", "true")];
    let reply = get(&fixture, "app-token", "v1/spaces/AAAAtwo/members", &query).await;
    reply.assert_error(
        403,
        "PERMISSION_DENIED",
        "showInvited=true needs user authentication",
    );
    let as_user = get(&fixture, "alice-token", "v1/spaces/AAAAtwo/members", &query).await;
    assert!(as_user.member_ids().contains(&"1003".to_string()));
}

#[tokio::test]
async fn admin_access_needs_admin_with_admin_scope() {
    let fixture = fixture().await;
    let query = [
        ("useAdminAccess", "true"),
        ("filter", "member.type = \"HUMAN\""),
    ];
    let path = "v1/spaces/AAAAtwo/members";
    let reply = get(&fixture, "alice-token", path, &query).await;
    reply.assert_error(403, "PERMISSION_DENIED", "needs an administrator");
    let reply = get(&fixture, "app-token", path, &query).await;
    reply.assert_error(403, "PERMISSION_DENIED", "this token is a app caller");
    let reply = get(&fixture, "plain-admin-token", path, &query).await;
    reply.assert_error(403, "PERMISSION_DENIED", "needs a chat.admin.* scope");
    // The filter rule still applies in admin mode.
    let reply = get(&fixture, "admin-token", path, &[("useAdminAccess", "true")]).await;
    reply.assert_error(
        400,
        "INVALID_ARGUMENT",
        "a filter with member.type = \"HUMAN\"",
    );
    let members = get(&fixture, "admin-token", path, &query).await;
    assert_eq!(members.member_ids(), ["1001", "1002", "1004"]);
    // Without admin mode, an administrator is a user who is in no space.
    let reply = get(&fixture, "admin-token", path, &[]).await;
    reply.assert_error(403, "PERMISSION_DENIED", "chat.memberships");
    let reply = get(&fixture, "plain-admin-token", path, &[]).await;
    reply.assert_error(404, "NOT_FOUND", "not a member");
}

#[tokio::test]
async fn admin_mode_leaves_apps_and_outsiders_alone() {
    let fixture = fixture().await;
    let admin = [("useAdminAccess", "true")];
    let reply = send(
        &fixture,
        "admin-token",
        Method::DELETE,
        "v1/spaces/AAAAtwo/members/2002",
        &admin,
        None,
    )
    .await;
    reply.assert_error(
        403,
        "PERMISSION_DENIED",
        "admin mode cannot remove app memberships",
    );
    let body = json!({"member": {"name": "users/erin@partner.example", "type": "HUMAN"}});
    let reply = send(
        &fixture,
        "admin-token",
        Method::POST,
        "v1/spaces/AAAAtwo/members",
        &admin,
        Some(body),
    )
    .await;
    reply.assert_error(403, "PERMISSION_DENIED", "outside the organisation");
}

#[tokio::test]
async fn spaces_list_only_the_callers_spaces() {
    let fixture = fixture().await;
    let alice = get(&fixture, "alice-token", "v1/spaces", &[]).await;
    assert_eq!(space_names(&alice), ["spaces/AAAAeng", "spaces/AAAAtwo"]);
    let bob = get(&fixture, "bob-token", "v1/spaces", &[]).await;
    assert_eq!(space_names(&bob), ["spaces/AAAAtwo"]);
    let ada = get(&fixture, "plain-admin-token", "v1/spaces", &[]).await;
    assert!(space_names(&ada).is_empty());
    // spaces.list has no admin mode.
    let reply = get(
        &fixture,
        "admin-token",
        "v1/spaces",
        &[("useAdminAccess", "true")],
    )
    .await;
    reply.assert_error(
        400,
        "INVALID_ARGUMENT",
        "unknown query parameter `useAdminAccess`",
    );
    let default = get(&fixture, "default-token", "v1/spaces", &[]).await;
    assert_eq!(space_names(&default).len(), 2);
}

#[tokio::test]
async fn non_member_sees_not_found() {
    let fixture = fixture().await;
    let reply = get(&fixture, "bob-token", "v1/spaces/AAAAeng", &[]).await;
    reply.assert_error(404, "NOT_FOUND", "spaces/AAAAeng");
    let reply = get(&fixture, "bob-token", "v1/spaces/AAAAeng/members/1001", &[]).await;
    reply.assert_error(404, "NOT_FOUND", "spaces/AAAAeng");
    let reply = get(
        &fixture,
        "admin-token",
        "v1/spaces/AAAAeng",
        &[("useAdminAccess", "true")],
    )
    .await;
    reply.ok();
}
