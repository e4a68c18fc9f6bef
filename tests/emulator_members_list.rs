//! spaces.members.list against the emulator over HTTP: visibility of groups
//! and invited members, the JSON fields, paging and the filter grammar.

mod emulator_support;

use emulator_support::{Fixture, big_space_state};

const ENG: &str = "v1/spaces/AAAAeng/members";

#[tokio::test]
async fn list_hides_groups_and_invited() {
    let fixture = Fixture::standard().await;
    let reply = fixture.get(ENG, &[]).await;
    assert_eq!(reply.member_ids(), ["1001", "1002", "2001"]);
    assert!(reply.body.get("nextPageToken").is_none(), "{}", reply.body);
}

#[tokio::test]
async fn list_show_groups() {
    let fixture = Fixture::standard().await;
    let reply = fixture.get(ENG, &[("showGroups", "true")]).await;
    assert_eq!(reply.member_ids(), ["0grp1", "1001", "1002", "2001"]);
    let group = &reply.body["memberships"][0];
    assert_eq!(group["groupMember"]["name"], "groups/0grp1");
    assert_eq!(group["role"], "MEMBERSHIP_ROLE_UNSPECIFIED");
    assert_eq!(group["state"], "JOINED");
    assert!(group.get("member").is_none(), "{group}");
}

#[tokio::test]
async fn list_show_invited() {
    let fixture = Fixture::standard().await;
    let reply = fixture.get(ENG, &[("showInvited", "true")]).await;
    assert_eq!(reply.member_ids(), ["1001", "1002", "1003", "2001"]);
    assert_eq!(reply.body["memberships"][2]["state"], "INVITED");
}

#[tokio::test]
async fn list_boolean_parameter_invalid() {
    let fixture = Fixture::standard().await;
    let reply = fixture.get(ENG, &[("showGroups", "yes")]).await;
    reply.assert_error(400, "INVALID_ARGUMENT", "showGroups");
}

#[tokio::test]
async fn membership_json_fields() {
    let fixture = Fixture::standard().await;
    let reply = fixture.get(ENG, &[]).await;
    let alice = &reply.ok()["memberships"][0];
    assert_eq!(alice["name"], "spaces/AAAAeng/members/1001");
    assert_eq!(alice["state"], "JOINED");
    assert_eq!(alice["role"], "ROLE_MANAGER");
    assert_eq!(alice["createTime"], "2021-01-04T09:00:00Z");
    assert_eq!(alice["affiliation"], "INTERNAL");
    assert_eq!(alice["member"]["name"], "users/1001");
    assert_eq!(alice["member"]["displayName"], "Alice Adams");
    assert_eq!(alice["member"]["type"], "HUMAN");
    assert_eq!(alice["member"]["email"], "alice@example.com");
    let bot = &reply.body["memberships"][2];
    assert_eq!(bot["member"]["type"], "BOT");
}

#[tokio::test]
async fn emails_hidden_when_configured() {
    let state = emulator_support::STATE.replace("tokens:", "show_emails: false\ntokens:");
    let fixture = Fixture::start(&state).await;
    let reply = fixture.get(ENG, &[]).await;
    let alice = &reply.ok()["memberships"][0]["member"];
    assert!(alice.get("email").is_none(), "{alice}");
    assert_eq!(alice["name"], "users/1001");
}

#[tokio::test]
async fn list_unknown_space() {
    let fixture = Fixture::standard().await;
    let reply = fixture.get("v1/spaces/AAAAnone/members", &[]).await;
    reply.assert_error(404, "NOT_FOUND", "spaces/AAAAnone");
}

#[tokio::test]
async fn paging_walks_every_page() {
    let fixture = Fixture::start(&big_space_state(25)).await;
    let path = "v1/spaces/AAAAbig/members";

    let first = fixture.get(path, &[("pageSize", "10")]).await;
    assert_eq!(first.member_ids().len(), 10);
    let token = first.body["nextPageToken"]
        .as_str()
        .expect("a second page")
        .to_string();

    let second = fixture
        .get(path, &[("pageSize", "10"), ("pageToken", &token)])
        .await;
    assert_eq!(second.member_ids().len(), 10);
    let token = second.body["nextPageToken"]
        .as_str()
        .expect("a third page")
        .to_string();

    let third = fixture
        .get(path, &[("pageSize", "10"), ("pageToken", &token)])
        .await;
    assert_eq!(third.member_ids().len(), 5);
    assert!(third.body.get("nextPageToken").is_none(), "{}", third.body);

    let mut all: Vec<String> = [first, second, third]
        .iter()
        .flat_map(|reply| reply.member_ids())
        .collect();
    all.dedup();
    assert_eq!(all.len(), 25);
}

#[tokio::test]
async fn paging_survives_removal_between_pages() {
    let fixture = Fixture::start(&big_space_state(6)).await;
    let path = "v1/spaces/AAAAbig/members";
    let first = fixture.get(path, &[("pageSize", "3")]).await;
    assert_eq!(first.member_ids(), ["5000", "5001", "5002"]);
    let token = first.body["nextPageToken"].as_str().unwrap().to_string();

    let removed = fixture
        .call(
            reqwest::Method::DELETE,
            "v1/spaces/AAAAbig/members/5001",
            &[],
            None,
        )
        .await;
    removed.ok();

    let second = fixture
        .get(path, &[("pageSize", "3"), ("pageToken", &token)])
        .await;
    assert_eq!(second.member_ids(), ["5003", "5004", "5005"]);
}

#[tokio::test]
async fn page_size_default_and_maximum() {
    let fixture = Fixture::start(&big_space_state(120)).await;
    let path = "v1/spaces/AAAAbig/members";

    let default = fixture.get(path, &[]).await;
    assert_eq!(default.member_ids().len(), 100);
    assert!(default.body["nextPageToken"].is_string());

    let zero = fixture.get(path, &[("pageSize", "0")]).await;
    assert_eq!(zero.member_ids().len(), 100);

    let lowered = fixture.get(path, &[("pageSize", "5000")]).await;
    assert_eq!(lowered.member_ids().len(), 120);
    assert!(lowered.body.get("nextPageToken").is_none());
}

#[tokio::test]
async fn page_size_negative_rejected() {
    let fixture = Fixture::standard().await;
    let reply = fixture.get(ENG, &[("pageSize", "-1")]).await;
    reply.assert_error(400, "INVALID_ARGUMENT", "pageSize");
    let reply = fixture.get(ENG, &[("pageSize", "ten")]).await;
    reply.assert_error(400, "INVALID_ARGUMENT", "pageSize");
}

#[tokio::test]
async fn page_token_other_parameters_rejected() {
    let fixture = Fixture::start(&big_space_state(5)).await;
    let path = "v1/spaces/AAAAbig/members";
    let first = fixture.get(path, &[("pageSize", "2")]).await;
    let token = first.body["nextPageToken"].as_str().unwrap().to_string();

    let cases: [&[(&str, &str)]; 3] = [
        &[("filter", r#"role = "ROLE_MEMBER""#)],
        &[("showGroups", "true")],
        &[("showInvited", "true")],
    ];
    for extra in cases {
        let mut query = vec![("pageSize", "2"), ("pageToken", token.as_str())];
        query.extend_from_slice(extra);
        let reply = fixture.get(path, &query).await;
        reply.assert_error(400, "INVALID_ARGUMENT", "other parameters");
    }

    let other_space = fixture.get(ENG, &[("pageToken", &token)]).await;
    assert_eq!(other_space.status, 400, "{}", other_space.body);

    let other_size = fixture
        .get(path, &[("pageSize", "3"), ("pageToken", &token)])
        .await;
    assert_eq!(other_size.member_ids(), ["5002", "5003", "5004"]);
}

#[tokio::test]
async fn page_token_garbage_rejected() {
    let fixture = Fixture::standard().await;
    let reply = fixture.get(ENG, &[("pageToken", "not-a-token")]).await;
    reply.assert_error(400, "INVALID_ARGUMENT", "pageToken");
}

#[tokio::test]
async fn filter_forms() {
    let fixture = Fixture::standard().await;
    let cases: [(&str, &[&str]); 9] = [
        (r#"role = "ROLE_MANAGER""#, &["1001"]),
        (r#"role = "ROLE_ASSISTANT_MANAGER""#, &["1002"]),
        (r#"role = "ROLE_MEMBER""#, &["2001"]),
        (
            r#"role = "ROLE_MANAGER" OR role = "ROLE_MEMBER""#,
            &["1001", "2001"],
        ),
        (r#"member.type = "HUMAN""#, &["1001", "1002"]),
        (r#"member.type = "BOT""#, &["2001"]),
        (r#"member.type != "BOT""#, &["1001", "1002"]),
        (r#"member.type = "HUMAN" AND role = "ROLE_MEMBER""#, &[]),
        (
            r#"member.type != "HUMAN" AND (role = "ROLE_MEMBER" OR role = "ROLE_MANAGER")"#,
            &["2001"],
        ),
    ];
    for (filter, expected) in cases {
        let reply = fixture.get(ENG, &[("filter", filter)]).await;
        assert_eq!(reply.member_ids(), expected, "filter {filter}");
    }
}

#[tokio::test]
async fn filter_with_groups_and_invited() {
    let fixture = Fixture::standard().await;
    let query = [
        ("filter", r#"role = "ROLE_MEMBER""#),
        ("showGroups", "true"),
        ("showInvited", "true"),
    ];
    let reply = fixture.get(ENG, &query).await;
    assert_eq!(
        reply.member_ids(),
        ["1003", "2001"],
        "groups have no role, so a role filter drops them"
    );
}

#[tokio::test]
async fn filter_invalid_forms() {
    let fixture = Fixture::standard().await;
    let cases = [
        (
            r#"role = "ROLE_MANAGER" AND role = "ROLE_MEMBER""#,
            "`role` appears on both sides of AND",
        ),
        (
            r#"member.type = "HUMAN" AND member.type = "BOT""#,
            "`member.type` appears on both sides of AND",
        ),
        (
            r#"role = "ROLE_MANAGER" OR member.type = "BOT""#,
            "joined by OR",
        ),
        (r#"state = "JOINED""#, "unsupported field `state`"),
        (r#"role = "OWNER""#, "invalid role \"OWNER\""),
        (r#"member.type = "APP""#, "invalid member.type \"APP\""),
        (
            r#"role != "ROLE_MEMBER""#,
            "`!=` is supported only for member.type",
        ),
        ("role = ROLE_MEMBER", "must be double-quoted"),
        (
            r#"role = "ROLE_MEMBER" AND"#,
            "expected a field name, found the end",
        ),
        (r#"role > "ROLE_MEMBER""#, "unexpected character '>'"),
    ];
    for (filter, message) in cases {
        let reply = fixture.get(ENG, &[("filter", filter)]).await;
        reply.assert_error(400, "INVALID_ARGUMENT", message);
    }
}

#[tokio::test]
async fn admin_access_needs_human_filter() {
    let fixture = Fixture::standard().await;
    let without = fixture.get(ENG, &[("useAdminAccess", "true")]).await;
    without.assert_error(400, "INVALID_ARGUMENT", "useAdminAccess");

    let bot = fixture
        .get(
            ENG,
            &[
                ("useAdminAccess", "true"),
                ("filter", r#"member.type = "BOT""#),
            ],
        )
        .await;
    bot.assert_error(400, "INVALID_ARGUMENT", "useAdminAccess");

    let human = fixture
        .get(
            ENG,
            &[
                ("useAdminAccess", "true"),
                ("filter", r#"member.type != "BOT""#),
            ],
        )
        .await;
    assert_eq!(human.member_ids(), ["1001", "1002"]);
}
