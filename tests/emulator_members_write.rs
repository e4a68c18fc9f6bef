//! spaces.members create, patch and delete against the emulator over HTTP,
//! with the only-owner rule and its counters.

mod emulator_support;

use emulator_support::Fixture;
use reqwest::Method;
use serde_json::json;

const ENG: &str = "v1/spaces/AAAAeng/members";

fn user(name: &str) -> serde_json::Value {
    json!({"member": {"name": name, "type": "HUMAN"}})
}

#[tokio::test]
async fn create_by_id() {
    let fixture = Fixture::standard().await;
    let reply = fixture
        .call(Method::POST, ENG, &[], Some(user("users/1004")))
        .await;
    let created = reply.ok();
    assert_eq!(created["name"], "spaces/AAAAeng/members/1004");
    assert_eq!(created["role"], "ROLE_MEMBER");
    assert_eq!(created["state"], "JOINED");
    assert_eq!(created["member"]["name"], "users/1004");
    assert!(
        created["createTime"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z')),
        "{created}"
    );

    let snapshot = fixture.emulator.snapshot();
    let dave = snapshot
        .space("spaces/AAAAeng")
        .unwrap()
        .membership("users/1004");
    assert!(dave.is_some(), "snapshot should contain the new membership");
}

#[tokio::test]
async fn create_by_email_any_case() {
    let fixture = Fixture::standard().await;
    let reply = fixture
        .call(Method::POST, ENG, &[], Some(user("users/DAVE@Example.com")))
        .await;
    assert_eq!(reply.ok()["name"], "spaces/AAAAeng/members/1004");
    assert_eq!(reply.body["member"]["name"], "users/1004");
}

#[tokio::test]
async fn create_group() {
    let fixture = Fixture::standard().await;
    let body = json!({"groupMember": {"name": "groups/0grp2"}});
    let reply = fixture.call(Method::POST, ENG, &[], Some(body)).await;
    assert_eq!(reply.ok()["name"], "spaces/AAAAeng/members/0grp2");
    assert_eq!(reply.body["groupMember"]["name"], "groups/0grp2");
    assert_eq!(reply.body["role"], "MEMBERSHIP_ROLE_UNSPECIFIED");
}

#[tokio::test]
async fn create_group_outside_space_rejected() {
    let fixture = Fixture::standard().await;
    let body = json!({"groupMember": {"name": "groups/0grp2"}});
    let reply = fixture
        .call(Method::POST, "v1/spaces/AAAAchat/members", &[], Some(body))
        .await;
    reply.assert_error(400, "FAILED_PRECONDITION", "spaces of type SPACE");
}

#[tokio::test]
async fn create_existing_conflicts() {
    let fixture = Fixture::standard().await;
    let joined = fixture
        .call(Method::POST, ENG, &[], Some(user("users/1001")))
        .await;
    joined.assert_error(
        409,
        "ALREADY_EXISTS",
        "users/1001 is already a member of spaces/AAAAeng",
    );

    let invited = fixture
        .call(
            Method::POST,
            ENG,
            &[],
            Some(user("users/carol@example.com")),
        )
        .await;
    invited.assert_error(409, "ALREADY_EXISTS", "state INVITED");

    let group = json!({"groupMember": {"name": "groups/0grp1"}});
    let group = fixture.call(Method::POST, ENG, &[], Some(group)).await;
    group.assert_error(409, "ALREADY_EXISTS", "groups/0grp1");
}

#[tokio::test]
async fn create_unknown_member_not_found() {
    let fixture = Fixture::standard().await;
    let by_id = fixture
        .call(Method::POST, ENG, &[], Some(user("users/9999")))
        .await;
    by_id.assert_error(404, "NOT_FOUND", "users/9999");

    let by_email = fixture
        .call(Method::POST, ENG, &[], Some(user("users/zed@example.com")))
        .await;
    by_email.assert_error(404, "NOT_FOUND", "users/zed@example.com");

    let group = json!({"groupMember": {"name": "groups/0nope"}});
    let group = fixture.call(Method::POST, ENG, &[], Some(group)).await;
    group.assert_error(404, "NOT_FOUND", "groups/0nope");

    let space = fixture
        .call(
            Method::POST,
            "v1/spaces/AAAAnone/members",
            &[],
            Some(user("users/1004")),
        )
        .await;
    space.assert_error(404, "NOT_FOUND", "spaces/AAAAnone");
}

#[tokio::test]
async fn create_without_auto_accept_invites() {
    let fixture = Fixture::standard().await;
    let reply = fixture
        .call(
            Method::POST,
            "v1/spaces/AAAAops/members",
            &[],
            Some(user("users/1003")),
        )
        .await;
    assert_eq!(reply.ok()["state"], "INVITED");

    let listed = fixture.get("v1/spaces/AAAAops/members", &[]).await;
    assert!(
        !listed.member_ids().contains(&"1003".to_string()),
        "invited hidden by default"
    );
}

#[tokio::test]
async fn create_role_rejected() {
    let fixture = Fixture::standard().await;
    let body = json!({"member": {"name": "users/1004", "type": "HUMAN"}, "role": "ROLE_MANAGER"});
    let reply = fixture.call(Method::POST, ENG, &[], Some(body)).await;
    reply.assert_error(400, "INVALID_ARGUMENT", "members.patch");

    let body = json!({"member": {"name": "users/1004", "type": "HUMAN"}, "role": "ROLE_MEMBER"});
    let reply = fixture.call(Method::POST, ENG, &[], Some(body)).await;
    assert_eq!(reply.ok()["role"], "ROLE_MEMBER");
}

#[tokio::test]
async fn create_app_rejected() {
    let fixture = Fixture::standard().await;
    let body = json!({"member": {"name": "users/2001", "type": "BOT"}});
    let reply = fixture
        .call(Method::POST, "v1/spaces/AAAAops/members", &[], Some(body))
        .await;
    reply.assert_error(400, "INVALID_ARGUMENT", "not supported");

    let disguised = fixture
        .call(
            Method::POST,
            "v1/spaces/AAAAops/members",
            &[],
            Some(user("users/2001")),
        )
        .await;
    disguised.assert_error(400, "INVALID_ARGUMENT", "Chat app");
}

#[tokio::test]
async fn create_bad_bodies_rejected() {
    let fixture = Fixture::standard().await;
    let cases = [
        (
            json!({"member": {"name": "users/1004"}}),
            "member.type is required",
        ),
        (
            json!({"member": {"name": "users/1004", "type": "HUMAN"}, "extra": 1}),
            "unknown field `extra`",
        ),
        (
            json!({"member": {"name": "users/1004", "type": "HUMAN", "nick": "d"}}),
            "unknown field `nick`",
        ),
        (
            json!({"member": {"name": "1004", "type": "HUMAN"}}),
            "invalid member.name",
        ),
        (json!({}), "exactly one of `member`"),
        (
            json!({"member": {"name": "users/1004", "type": "HUMAN"}, "groupMember": {"name": "groups/0grp2"}}),
            "exactly one of `member`",
        ),
        (json!([1, 2]), "expected a Membership object"),
    ];
    for (body, message) in cases {
        let reply = fixture.call(Method::POST, ENG, &[], Some(body)).await;
        reply.assert_error(400, "INVALID_ARGUMENT", message);
    }
}

#[tokio::test]
async fn create_in_direct_message_rejected() {
    let fixture = Fixture::standard().await;
    let reply = fixture
        .call(
            Method::POST,
            "v1/spaces/AAAAdm/members",
            &[],
            Some(user("users/1002")),
        )
        .await;
    reply.assert_error(400, "FAILED_PRECONDITION", "direct message");
}

#[tokio::test]
async fn patch_requires_update_mask() {
    let fixture = Fixture::standard().await;
    let body = Some(json!({"role": "ROLE_MANAGER"}));
    let path = "v1/spaces/AAAAeng/members/1002";

    let missing = fixture.call(Method::PATCH, path, &[], body.clone()).await;
    missing.assert_error(400, "INVALID_ARGUMENT", "updateMask is required");

    let other = fixture
        .call(
            Method::PATCH,
            path,
            &[("updateMask", "role,displayName")],
            body.clone(),
        )
        .await;
    other.assert_error(400, "INVALID_ARGUMENT", "`displayName`");

    let bad_role = fixture
        .call(
            Method::PATCH,
            path,
            &[("updateMask", "role")],
            Some(json!({"role": "OWNER"})),
        )
        .await;
    bad_role.assert_error(400, "INVALID_ARGUMENT", "invalid role \"OWNER\"");
}

#[tokio::test]
async fn patch_promotes_and_demotes() {
    let fixture = Fixture::standard().await;
    let mask = [("updateMask", "role")];
    let promoted = fixture
        .call(
            Method::PATCH,
            "v1/spaces/AAAAeng/members/1002",
            &mask,
            Some(json!({"role": "ROLE_MANAGER"})),
        )
        .await;
    assert_eq!(promoted.ok()["role"], "ROLE_MANAGER");

    let demoted = fixture
        .call(
            Method::PATCH,
            "v1/spaces/AAAAeng/members/1001",
            &mask,
            Some(json!({"role": "ROLE_MEMBER"})),
        )
        .await;
    assert_eq!(demoted.ok()["role"], "ROLE_MEMBER");

    let snapshot = fixture.emulator.snapshot();
    assert_eq!(
        snapshot.space("spaces/AAAAeng").unwrap().owners(),
        ["users/1002"]
    );
    assert_eq!(fixture.emulator.counters().only_owner_refusals, 0);
}

#[tokio::test]
async fn patch_only_owner_refused() {
    let fixture = Fixture::standard().await;
    let reply = fixture
        .call(
            Method::PATCH,
            "v1/spaces/AAAAeng/members/1001",
            &[("updateMask", "role")],
            Some(json!({"role": "ROLE_ASSISTANT_MANAGER"})),
        )
        .await;
    reply.assert_error(400, "FAILED_PRECONDITION", "only owner");

    let counters = fixture.emulator.counters();
    assert_eq!(counters.only_owner_refusals, 1);
    assert_eq!(counters.spaces_left_without_owner, 0);
    let snapshot = fixture.emulator.snapshot();
    assert_eq!(
        snapshot.space("spaces/AAAAeng").unwrap().owners(),
        ["users/1001"]
    );
}

#[tokio::test]
async fn patch_refusals_by_kind() {
    let fixture = Fixture::standard().await;
    let mask = [("updateMask", "role")];
    let manager = Some(json!({"role": "ROLE_MANAGER"}));

    let invited = fixture
        .call(
            Method::PATCH,
            "v1/spaces/AAAAeng/members/1003",
            &mask,
            manager.clone(),
        )
        .await;
    invited.assert_error(400, "FAILED_PRECONDITION", "invited");

    let group = fixture
        .call(
            Method::PATCH,
            "v1/spaces/AAAAeng/members/0grp1",
            &mask,
            manager.clone(),
        )
        .await;
    group.assert_error(400, "INVALID_ARGUMENT", "group membership");

    let group_chat = fixture
        .call(
            Method::PATCH,
            "v1/spaces/AAAAchat/members/1001",
            &mask,
            manager.clone(),
        )
        .await;
    group_chat.assert_error(400, "FAILED_PRECONDITION", "GROUP_CHAT");

    let direct = fixture
        .call(
            Method::PATCH,
            "v1/spaces/AAAAdm/members/1001",
            &mask,
            manager.clone(),
        )
        .await;
    direct.assert_error(400, "FAILED_PRECONDITION", "DIRECT_MESSAGE");

    let alias = fixture
        .call(
            Method::PATCH,
            "v1/spaces/AAAAeng/members/bob@example.com",
            &mask,
            manager.clone(),
        )
        .await;
    alias.assert_error(400, "INVALID_ARGUMENT", "does not accept an email");

    let missing = fixture
        .call(
            Method::PATCH,
            "v1/spaces/AAAAeng/members/1004",
            &mask,
            manager.clone(),
        )
        .await;
    missing.assert_error(404, "NOT_FOUND", "spaces/AAAAeng/members/1004");
}

#[tokio::test]
async fn delete_returns_not_a_member() {
    let fixture = Fixture::standard().await;
    let reply = fixture
        .call(Method::DELETE, "v1/spaces/AAAAeng/members/1002", &[], None)
        .await;
    let deleted = reply.ok();
    assert_eq!(deleted["name"], "spaces/AAAAeng/members/1002");
    assert_eq!(deleted["state"], "NOT_A_MEMBER");
    assert_eq!(deleted["member"]["name"], "users/1002");

    let again = fixture.get("v1/spaces/AAAAeng/members/1002", &[]).await;
    again.assert_error(404, "NOT_FOUND", "spaces/AAAAeng/members/1002");
    let snapshot = fixture.emulator.snapshot();
    assert!(
        snapshot
            .space("spaces/AAAAeng")
            .unwrap()
            .membership("users/1002")
            .is_none()
    );
}

#[tokio::test]
async fn delete_by_email_alias() {
    let fixture = Fixture::standard().await;
    let reply = fixture
        .call(
            Method::DELETE,
            "v1/spaces/AAAAops/members/DAVE@example.COM",
            &[],
            None,
        )
        .await;
    assert_eq!(reply.ok()["name"], "spaces/AAAAops/members/1004");

    let unknown = fixture
        .call(
            Method::DELETE,
            "v1/spaces/AAAAops/members/zed@example.com",
            &[],
            None,
        )
        .await;
    unknown.assert_error(404, "NOT_FOUND", "zed@example.com");
}

#[tokio::test]
async fn delete_only_owner_refused() {
    let fixture = Fixture::standard().await;
    let first = fixture
        .call(Method::DELETE, "v1/spaces/AAAAops/members/1001", &[], None)
        .await;
    first.ok();

    let last = fixture
        .call(Method::DELETE, "v1/spaces/AAAAops/members/1002", &[], None)
        .await;
    last.assert_error(
        400,
        "FAILED_PRECONDITION",
        "only owner (ROLE_MANAGER) of spaces/AAAAops",
    );

    let alias = fixture
        .call(
            Method::DELETE,
            "v1/spaces/AAAAeng/members/alice@example.com",
            &[],
            None,
        )
        .await;
    alias.assert_error(400, "FAILED_PRECONDITION", "only owner");

    let counters = fixture.emulator.counters();
    assert_eq!(counters.only_owner_refusals, 2);
    assert_eq!(counters.spaces_left_without_owner, 0);
    assert_eq!(counters.requests_by_method["spaces.members.delete"], 3);
}

#[tokio::test]
async fn delete_invited_and_group() {
    let fixture = Fixture::standard().await;
    let invited = fixture
        .call(Method::DELETE, "v1/spaces/AAAAeng/members/1003", &[], None)
        .await;
    assert_eq!(invited.ok()["state"], "NOT_A_MEMBER");
    let group = fixture
        .call(Method::DELETE, "v1/spaces/AAAAeng/members/0grp1", &[], None)
        .await;
    assert_eq!(group.ok()["groupMember"]["name"], "groups/0grp1");
}

#[tokio::test]
async fn delete_in_direct_message_rejected() {
    let fixture = Fixture::standard().await;
    let reply = fixture
        .call(Method::DELETE, "v1/spaces/AAAAdm/members/1004", &[], None)
        .await;
    reply.assert_error(400, "FAILED_PRECONDITION", "direct message");
}

#[tokio::test]
async fn membership_count_follows_changes() {
    let fixture = Fixture::standard().await;
    let before = fixture.get("v1/spaces/AAAAops", &[]).await;
    assert_eq!(
        before.ok()["membershipCount"]["joinedDirectHumanUserCount"],
        3
    );

    fixture
        .call(Method::DELETE, "v1/spaces/AAAAops/members/1004", &[], None)
        .await
        .ok();
    let body = json!({"groupMember": {"name": "groups/0grp1"}});
    fixture
        .call(Method::POST, "v1/spaces/AAAAops/members", &[], Some(body))
        .await
        .ok();

    let after = fixture.get("v1/spaces/AAAAops", &[]).await;
    assert_eq!(
        after.ok()["membershipCount"]["joinedDirectHumanUserCount"],
        2
    );
    assert_eq!(after.body["membershipCount"]["joinedGroupCount"], 1);
}
