//! spaces.search in admin mode: the query grammar, paging and totalSize;
//! and page tokens of spaces.list.

mod emulator_support;

use emulator_support::{Fixture, Reply};
use reqwest::Method;

const STATE: &str = r#"
tokens: [default-token]
callers:
  - {token: admin-token, kind: admin, user: "1006", scopes: [chat.admin.spaces.readonly]}
  - {token: user-token, kind: user, user: "1006", scopes: [chat.spaces]}
users:
  - {id: "1006", email: ada@example.com}
spaces:
  - {name: spaces/AAAA1, display_name: Fun event, type: SPACE, create_time: "2019-06-01T00:00:00Z", last_active_time: "2023-03-01T00:00:00Z"}
  - {name: spaces/AAAA2, display_name: The evening was fun, type: SPACE, create_time: "2020-06-01T00:00:00Z"}
  - {name: spaces/AAAA3, display_name: notFun event, type: SPACE, create_time: "2021-06-01T00:00:00+02:00"}
  - {name: spaces/AAAA4, display_name: Fun chat, type: GROUP_CHAT, create_time: "2019-01-01T00:00:00Z"}
  - {name: spaces/AAAA5, display_name: Engineering, type: SPACE, create_time: "2022-06-01T00:00:00Z", last_active_time: "2021-01-01T00:00:00Z"}
"#;

const BASE: &str = r#"customer = "customers/my_customer" AND space_type = "SPACE""#;

async fn search(fixture: &Fixture, query: &str, extra: &[(&str, &str)]) -> Reply {
    let mut parameters = vec![("useAdminAccess", "true"), ("query", query)];
    parameters.extend_from_slice(extra);
    fixture
        .call_as(
            Some("admin-token"),
            Method::GET,
            "v1/spaces:search",
            &parameters,
            None,
        )
        .await
}

fn names(reply: &Reply) -> Vec<String> {
    let body = reply.ok();
    let results: Vec<String> = body["results"]
        .as_array()
        .map(|results| {
            results
                .iter()
                .map(|result| result["space"]["name"].as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default();
    let spaces: Vec<String> = body["spaces"]
        .as_array()
        .map(|spaces| {
            spaces
                .iter()
                .map(|space| space["name"].as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(results, spaces, "results and spaces must agree");
    results
}

#[tokio::test]
async fn required_terms_match_every_space() {
    let fixture = Fixture::start(STATE).await;
    let reply = search(&fixture, BASE, &[]).await;
    assert_eq!(
        names(&reply),
        [
            "spaces/AAAA1",
            "spaces/AAAA2",
            "spaces/AAAA3",
            "spaces/AAAA5"
        ]
    );
    assert_eq!(reply.body["totalSize"], 4);
    assert!(reply.body.get("nextPageToken").is_none());
}

#[tokio::test]
async fn display_name_prefix_per_word() {
    let fixture = Fixture::start(STATE).await;
    let reply = search(
        &fixture,
        &format!(r#"{BASE} AND display_name:"Fun Eve""#),
        &[],
    )
    .await;
    assert_eq!(names(&reply), ["spaces/AAAA1", "spaces/AAAA2"]);
    let query = format!(r#"{BASE} AND (display_name:"engin" OR display_name:"evening")"#);
    let reply = search(&fixture, &query, &[]).await;
    assert_eq!(names(&reply), ["spaces/AAAA2", "spaces/AAAA5"]);
}

#[tokio::test]
async fn time_comparisons() {
    let fixture = Fixture::start(STATE).await;
    let query = format!(
        r#"{BASE} AND (create_time > "2020-01-01T00:00:00+00:00" AND create_time < "2022-01-01T00:00:00+00:00")"#
    );
    let reply = search(&fixture, &query, &[]).await;
    assert_eq!(names(&reply), ["spaces/AAAA2", "spaces/AAAA3"]);
    // Offsets are compared as instants: 2021-06-01T00:00:00+02:00 is 22:00 UTC the day before.
    let query = format!(r#"{BASE} AND create_time <= "2021-05-31T22:00:00Z""#);
    let reply = search(&fixture, &query, &[]).await;
    assert_eq!(
        names(&reply),
        ["spaces/AAAA1", "spaces/AAAA2", "spaces/AAAA3"]
    );
    let query = format!(
        r#"{BASE} AND (last_active_time < "2022-01-01T00:00:00Z" OR last_active_time > "2023-01-01T00:00:00Z")"#
    );
    let reply = search(&fixture, &query, &[]).await;
    assert_eq!(names(&reply), ["spaces/AAAA1", "spaces/AAAA5"]);
}

#[tokio::test]
async fn paging_and_order() {
    let fixture = Fixture::start(STATE).await;
    let first = search(
        &fixture,
        BASE,
        &[("pageSize", "3"), ("orderBy", "create_time DESC")],
    )
    .await;
    assert_eq!(
        names(&first),
        ["spaces/AAAA5", "spaces/AAAA3", "spaces/AAAA2"]
    );
    assert_eq!(first.body["totalSize"], 4);
    let token = first.body["nextPageToken"].as_str().unwrap().to_string();
    let second = search(
        &fixture,
        BASE,
        &[
            ("pageSize", "3"),
            ("orderBy", "create_time DESC"),
            ("pageToken", &token),
        ],
    )
    .await;
    assert_eq!(names(&second), ["spaces/AAAA1"]);
    assert!(second.body.get("nextPageToken").is_none());

    // The token belongs to the DESC listing.
    let reply = search(&fixture, BASE, &[("pageToken", &token)]).await;
    reply.assert_error(400, "INVALID_ARGUMENT", "other parameters");
    let reply = search(&fixture, BASE, &[("orderBy", "relevance DESC")]).await;
    reply.assert_error(400, "INVALID_ARGUMENT", "orderBy");
}

#[tokio::test]
async fn invalid_queries_rejected() {
    let fixture = Fixture::start(STATE).await;
    let cases = [
        (
            r#"space_type = "SPACE""#,
            "customer = \"customers/my_customer\"",
        ),
        (
            r#"customer = "customers/my_customer""#,
            "space_type = \"SPACE\"",
        ),
        (
            r#"customer = "customers/other" AND space_type = "SPACE""#,
            "the only value",
        ),
        (
            r#"customer = "customers/my_customer" AND space_type = "GROUP_CHAT""#,
            "the only value is \"SPACE\"",
        ),
        (
            &format!(r#"{BASE} OR display_name:"x""#),
            "OR may only join",
        ),
        (
            &format!(r#"{BASE} AND display_name = "x""#),
            "takes the operator :",
        ),
        (
            &format!(r#"{BASE} AND (display_name:"a" AND display_name:"b")"#),
            "cannot be joined with AND",
        ),
        (
            &format!(r#"{BASE} AND (display_name:"a" OR create_time > "2020-01-01T00:00:00Z")"#),
            "one field",
        ),
        (
            &format!(r#"{BASE} AND create_time > "yesterday""#),
            "RFC 3339",
        ),
        (
            &format!(r#"{BASE} AND external_user_allowed = "true""#),
            "not supported by the emulator",
        ),
        (
            &format!(r#"{BASE} AND colour = "red""#),
            "unknown field `colour`",
        ),
        (&format!(r#"{BASE} AND display_name:"x"#), "unterminated"),
        (
            &format!(r#"{BASE} AND display_name:"{}""#, "x".repeat(1000)),
            "longer than 1000",
        ),
    ];
    for (query, part) in cases {
        let reply = search(&fixture, query, &[]).await;
        assert_eq!(reply.status, 400, "{query}: {}", reply.body);
        let message = reply.body["error"]["message"].as_str().unwrap();
        assert!(message.contains(part), "{query}: {message}");
    }
}

#[tokio::test]
async fn search_needs_admin_mode_and_admin_scope() {
    let fixture = Fixture::start(STATE).await;
    let reply = fixture
        .call_as(
            Some("admin-token"),
            Method::GET,
            "v1/spaces:search",
            &[("query", BASE)],
            None,
        )
        .await;
    reply.assert_error(403, "PERMISSION_DENIED", "chat.spaces");
    let reply = fixture
        .call_as(
            Some("user-token"),
            Method::GET,
            "v1/spaces:search",
            &[("query", BASE), ("useAdminAccess", "true")],
            None,
        )
        .await;
    reply.assert_error(403, "PERMISSION_DENIED", "administrator");
}

#[tokio::test]
async fn spaces_list_page_token_bound_to_filter() {
    let fixture = Fixture::start(STATE).await;
    let list = |query: Vec<(&'static str, String)>| {
        let fixture = &fixture;
        async move {
            let pairs: Vec<(&str, &str)> = query.iter().map(|(k, v)| (*k, v.as_str())).collect();
            fixture
                .call_as(
                    Some("default-token"),
                    Method::GET,
                    "v1/spaces",
                    &pairs,
                    None,
                )
                .await
        }
    };
    let first = list(vec![("pageSize", "2".into())]).await;
    let token = first.ok()["nextPageToken"].as_str().unwrap().to_string();
    let reply = list(vec![
        ("pageToken", token.clone()),
        ("filter", "space_type = \"SPACE\"".into()),
    ])
    .await;
    reply.assert_error(400, "INVALID_ARGUMENT", "other parameters");
    // pageSize may change between pages.
    let rest = list(vec![("pageToken", token), ("pageSize", "5000".into())]).await;
    assert_eq!(rest.ok()["spaces"].as_array().unwrap().len(), 3);
}
