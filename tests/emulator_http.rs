//! The emulator's HTTP surface: authentication, routing, query parameters,
//! resource names, spaces, members.get, and the inspection routes.

mod emulator_support;

use emulator_support::{Fixture, TOKEN};
use reqwest::Method;
use serde_json::Value;

#[tokio::test]
async fn missing_token_unauthenticated() {
    let fixture = Fixture::standard().await;
    let reply = fixture
        .call_as(None, Method::GET, "v1/spaces", &[], None)
        .await;
    reply.assert_error(401, "UNAUTHENTICATED", "missing Authorization header");
}

#[tokio::test]
async fn unknown_token_unauthenticated() {
    let fixture = Fixture::standard().await;
    let reply = fixture
        .call_as(
            Some("stolen-token"),
            Method::GET,
            "v1/spaces/AAAAeng/members",
            &[],
            None,
        )
        .await;
    reply.assert_error(401, "UNAUTHENTICATED", "not one of the emulator's `tokens`");
    let message = reply.body["error"]["message"].as_str().unwrap();
    assert!(
        !message.contains("stolen-token"),
        "the token must not be echoed: {message}"
    );
}

#[tokio::test]
async fn second_token_accepted() {
    let fixture = Fixture::standard().await;
    let reply = fixture
        .call_as(Some("second-token"), Method::GET, "v1/spaces", &[], None)
        .await;
    reply.ok();
}

#[tokio::test]
async fn unknown_route_names_method_and_path() {
    let fixture = Fixture::standard().await;
    let reply = fixture.get("v1/rooms", &[]).await;
    reply.assert_error(404, "NOT_FOUND", "GET /v1/rooms");

    let reply = fixture
        .call(Method::PUT, "v1/spaces/AAAAeng/members/1001", &[], None)
        .await;
    reply.assert_error(404, "NOT_FOUND", "PUT /v1/spaces/AAAAeng/members/1001");

    let reply = fixture.call(Method::POST, "v1/spaces", &[], None).await;
    reply.assert_error(404, "NOT_FOUND", "POST /v1/spaces");
}

#[tokio::test]
async fn unknown_route_checked_before_token() {
    let fixture = Fixture::standard().await;
    let reply = fixture
        .call_as(None, Method::GET, "v2/spaces", &[], None)
        .await;
    reply.assert_error(404, "NOT_FOUND", "GET /v2/spaces");
}

#[tokio::test]
async fn search_not_implemented() {
    let fixture = Fixture::standard().await;
    let reply = fixture.get("v1/spaces:search", &[("query", "x")]).await;
    reply.assert_error(501, "UNIMPLEMENTED", "spaces.search");
}

#[tokio::test]
async fn unknown_parameter_named() {
    let fixture = Fixture::standard().await;
    let reply = fixture
        .get("v1/spaces/AAAAeng/members", &[("showDeleted", "true")])
        .await;
    reply.assert_error(
        400,
        "INVALID_ARGUMENT",
        "unknown query parameter `showDeleted` for spaces.members.list",
    );

    let reply = fixture.get("v1/spaces/AAAAeng", &[("pageSize", "5")]).await;
    reply.assert_error(400, "INVALID_ARGUMENT", "`pageSize` for spaces.get");

    let reply = fixture
        .call(
            Method::DELETE,
            "v1/spaces/AAAAeng/members/1002",
            &[("updateMask", "role")],
            None,
        )
        .await;
    reply.assert_error(
        400,
        "INVALID_ARGUMENT",
        "`updateMask` for spaces.members.delete",
    );
}

#[tokio::test]
async fn standard_parameters() {
    let fixture = Fixture::standard().await;
    let accepted = [
        ("prettyPrint", "false"),
        ("alt", "json"),
        ("quotaUser", "x"),
        ("$.xgafv", "2"),
    ];
    let reply = fixture.get("v1/spaces/AAAAeng", &accepted).await;
    reply.ok();

    let reply = fixture
        .get("v1/spaces/AAAAeng", &[("fields", "name")])
        .await;
    reply.assert_error(400, "INVALID_ARGUMENT", "`fields` is not supported");

    let reply = fixture.get("v1/spaces/AAAAeng", &[("alt", "proto")]).await;
    reply.assert_error(400, "INVALID_ARGUMENT", "alt=json");

    let reply = fixture
        .get(
            "v1/spaces/AAAAeng/members/1001",
            &[("useAdminAccess", "maybe")],
        )
        .await;
    reply.assert_error(400, "INVALID_ARGUMENT", "`useAdminAccess`");
}

#[tokio::test]
async fn duplicate_parameter_rejected() {
    let fixture = Fixture::standard().await;
    let query = [("pageSize", "1"), ("pageSize", "2")];
    let reply = fixture.get("v1/spaces/AAAAeng/members", &query).await;
    reply.assert_error(
        400,
        "INVALID_ARGUMENT",
        "`pageSize` is given more than once",
    );
}

#[tokio::test]
async fn malformed_names_rejected() {
    let fixture = Fixture::standard().await;
    let cases = [
        (Method::GET, "v1/spaces/", "invalid space name \"spaces/\""),
        (
            Method::GET,
            "v1/spaces//members",
            "invalid space name \"spaces/\"",
        ),
        (
            Method::GET,
            "v1/spaces/AA%20AA",
            "invalid space name \"spaces/AA AA\"",
        ),
        (
            Method::GET,
            "v1/spaces/AAAAeng/members/",
            "invalid membership name",
        ),
        (
            Method::DELETE,
            "v1/spaces/AAAAeng/members/a.b",
            "invalid membership name",
        ),
    ];
    for (method, path, message) in cases {
        let reply = fixture.call(method, path, &[], None).await;
        reply.assert_error(400, "INVALID_ARGUMENT", message);
    }
}

#[tokio::test]
async fn error_body_shape() {
    let fixture = Fixture::standard().await;
    let reply = fixture.get("v1/spaces/AAAAnone", &[]).await;
    let error = reply.body["error"].as_object().expect("an error object");
    let mut keys: Vec<&str> = error.keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(keys, ["code", "message", "status"]);
    assert_eq!(
        reply.body["error"]["message"],
        "space spaces/AAAAnone not found"
    );
}

#[tokio::test]
async fn space_json_fields() {
    let fixture = Fixture::standard().await;
    let reply = fixture.get("v1/spaces/AAAAeng", &[]).await;
    let space = reply.ok();
    assert_eq!(space["name"], "spaces/AAAAeng");
    assert_eq!(space["displayName"], "Engineering");
    assert_eq!(space["spaceType"], "SPACE");
    assert_eq!(space["createTime"], "2021-01-04T09:00:00Z");
    assert_eq!(space["membershipCount"]["joinedDirectHumanUserCount"], 2);
    assert_eq!(space["membershipCount"]["joinedGroupCount"], 1);
}

#[tokio::test]
async fn spaces_list_and_filter() {
    let fixture = Fixture::standard().await;
    let names = |reply: &emulator_support::Reply| -> Vec<String> {
        reply.ok()["spaces"]
            .as_array()
            .unwrap()
            .iter()
            .map(|space| space["name"].as_str().unwrap().to_string())
            .collect()
    };

    let all = fixture.get("v1/spaces", &[]).await;
    assert_eq!(
        names(&all),
        [
            "spaces/AAAAchat",
            "spaces/AAAAdm",
            "spaces/AAAAeng",
            "spaces/AAAAops"
        ]
    );

    let rooms = fixture
        .get("v1/spaces", &[("filter", r#"space_type = "SPACE""#)])
        .await;
    assert_eq!(names(&rooms), ["spaces/AAAAeng", "spaces/AAAAops"]);

    let first = fixture.get("v1/spaces", &[("pageSize", "3")]).await;
    assert_eq!(names(&first).len(), 3);
    let token = first.body["nextPageToken"].as_str().unwrap().to_string();
    let rest = fixture.get("v1/spaces", &[("pageToken", &token)]).await;
    assert_eq!(names(&rest), ["spaces/AAAAops"]);

    let bad = fixture
        .get("v1/spaces", &[("filter", r#"displayName = "x""#)])
        .await;
    bad.assert_error(400, "INVALID_ARGUMENT", "unsupported field `displayName`");
}

#[tokio::test]
async fn member_get_by_id_and_email() {
    let fixture = Fixture::standard().await;
    let by_id = fixture.get("v1/spaces/AAAAeng/members/1002", &[]).await;
    assert_eq!(by_id.ok()["role"], "ROLE_ASSISTANT_MANAGER");

    let by_email = fixture
        .get("v1/spaces/AAAAeng/members/Bob@Example.com", &[])
        .await;
    assert_eq!(by_email.ok()["name"], "spaces/AAAAeng/members/1002");

    let invited = fixture
        .get("v1/spaces/AAAAeng/members/carol@example.com", &[])
        .await;
    assert_eq!(invited.ok()["state"], "INVITED");

    let not_member = fixture
        .get("v1/spaces/AAAAeng/members/dave@example.com", &[])
        .await;
    not_member.assert_error(404, "NOT_FOUND", "spaces/AAAAeng/members/dave@example.com");
}

#[tokio::test]
async fn inspection_routes_need_no_token() {
    let fixture = Fixture::standard().await;
    fixture
        .get("v1/spaces/AAAAeng/members", &[("pageSize", "2")])
        .await
        .ok();
    fixture.get("v1/nowhere", &[]).await;

    let url = fixture.emulator.url();
    let fetch = |path: &str| {
        let request = fixture.client.get(url.join(path).unwrap());
        async move {
            let response = request.send().await.unwrap();
            assert_eq!(response.status().as_u16(), 200);
            response.json::<Value>().await.unwrap()
        }
    };

    let counters = fetch("emulator/v1/counters").await;
    assert_eq!(counters["requests"], 2);
    assert_eq!(counters["requests_by_method"]["spaces.members.list"], 1);
    assert_eq!(counters["only_owner_refusals"], 0);

    let state = fetch("emulator/v1/state").await;
    assert_eq!(state["spaces"][2]["name"], "spaces/AAAAeng");
    assert_eq!(
        state["spaces"][2]["memberships"][1]["email"],
        "alice@example.com"
    );

    let requests = fetch("emulator/v1/requests").await;
    let first = &requests["requests"][0];
    assert_eq!(first["method"], "GET");
    assert_eq!(first["path"], "/v1/spaces/AAAAeng/members");
    assert_eq!(first["query"], "pageSize=2");
    assert_eq!(first["status"], 200);
    assert_eq!(first["api_method"], "spaces.members.list");
    assert_eq!(requests["requests"][1]["status"], 404);
    assert_eq!(
        requests["requests"].as_array().unwrap().len(),
        2,
        "inspection is not logged"
    );
}

#[tokio::test]
async fn inspection_unknown_route() {
    let fixture = Fixture::standard().await;
    let reply = fixture.get("emulator/v1/faults", &[]).await;
    reply.assert_error(404, "NOT_FOUND", "GET /emulator/v1/faults");
    let reply = fixture.get("emulator/v1/state", &[("verbose", "1")]).await;
    reply.assert_error(400, "INVALID_ARGUMENT", "`verbose`");
}

#[tokio::test]
async fn request_log_in_process() {
    let fixture = Fixture::standard().await;
    fixture
        .call_as(Some(TOKEN), Method::GET, "v1/spaces", &[], None)
        .await
        .ok();
    fixture
        .call_as(None, Method::GET, "v1/spaces", &[], None)
        .await;
    let log = fixture.emulator.requests();
    let statuses: Vec<u16> = log.iter().map(|record| record.status).collect();
    assert_eq!(statuses, [200, 401]);
    assert_eq!(log[0].api_method.as_deref(), Some("spaces.list"));
}

#[tokio::test]
async fn shutdown_stops_serving() {
    let fixture = Fixture::standard().await;
    let url = fixture.emulator.url();
    let client = fixture.client.clone();
    fixture.emulator.shutdown().await;
    let result = client
        .get(url.join("emulator/v1/counters").unwrap())
        .send()
        .await;
    assert!(result.is_err(), "the port should be closed after shutdown");
}
