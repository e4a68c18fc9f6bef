//! Conformance with the discovery document (`tests/fixtures/chat.v1.trimmed.json`):
//!
//! - every JSON field of the client's model, fully populated and
//!   serialized, exists in the document's schema with the same name and
//!   JSON type, and every enum value the model defines is a documented one;
//! - every request the client sends to the emulator matches a documented
//!   method by HTTP method and path template, with documented query
//!   parameters only;
//! - a behaviour table: for each documented rule, a request and the status
//!   the emulator must answer.

mod emulator_support;

use std::collections::BTreeSet;
use std::sync::Arc;

use chat_reconcile::chat::auth::{AccessToken, StaticToken};
use chat_reconcile::chat::model::{
    Affiliation, Group, ListMembershipsResponse, ListSpacesResponse, Membership, MembershipCount,
    MembershipRole, MembershipState, Space, SpaceType, User, UserType,
};
use chat_reconcile::chat::{ChatClient, ClientOptions, ListMembersOptions};
use emulator_support::{Fixture, TOKEN};
use reqwest::Method;
use serde::Serialize;
use serde_json::{Value, json};

fn discovery() -> Value {
    let text = include_str!("fixtures/chat.v1.trimmed.json");
    serde_json::from_str(text).expect("the trimmed discovery document is JSON")
}

/// Checks `value` against the schema `schema_name`, naming the JSON path of
/// every mismatch in `problems`.
fn check_value(
    document: &Value,
    schema_name: &str,
    value: &Value,
    path: &str,
    problems: &mut Vec<String>,
) {
    let schema = &document["schemas"][schema_name];
    let Some(object) = value.as_object() else {
        problems.push(format!(
            "{path}: expected a {schema_name} object, got {value}"
        ));
        return;
    };
    for (key, inner) in object {
        let property = &schema["properties"][key];
        if property.is_null() {
            problems.push(format!(
                "{path}.{key}: no property `{key}` in schema {schema_name}"
            ));
            continue;
        }
        check_property(
            document,
            property,
            inner,
            &format!("{path}.{key}"),
            problems,
        );
    }
}

fn check_property(
    document: &Value,
    property: &Value,
    value: &Value,
    path: &str,
    problems: &mut Vec<String>,
) {
    if let Some(reference) = property["$ref"].as_str() {
        check_value(document, reference, value, path, problems);
        return;
    }
    let kind = property["type"].as_str().unwrap_or("");
    let format = property["format"].as_str().unwrap_or("");
    let matches = match (kind, value) {
        ("string", Value::String(text)) => {
            if let Some(allowed) = property["enum"].as_array()
                && !allowed.iter().any(|v| v == text)
            {
                problems.push(format!(
                    "{path}: {text:?} is not one of the documented values {allowed:?}"
                ));
            }
            true
        }
        // 64-bit integers travel as strings in Google's JSON.
        ("integer", Value::String(_)) => format == "int64" || format == "uint64",
        ("integer", Value::Number(number)) => number.is_i64() || number.is_u64(),
        ("number", Value::Number(_)) => true,
        ("boolean", Value::Bool(_)) => true,
        ("array", Value::Array(items)) => {
            for (index, item) in items.iter().enumerate() {
                check_property(
                    document,
                    &property["items"],
                    item,
                    &format!("{path}[{index}]"),
                    problems,
                );
            }
            true
        }
        ("object", Value::Object(_)) => true,
        _ => false,
    };
    if !matches {
        problems.push(format!(
            "{path}: documented as {kind} {format}, the client uses {value}"
        ));
    }
}

fn full_user(user_type: UserType) -> User {
    User {
        name: Some("users/1001".into()),
        display_name: Some("Alice".into()),
        domain_id: Some("domain".into()),
        user_type: Some(user_type),
        is_anonymous: Some(false),
        email: Some("alice@example.com".into()),
    }
}

fn full_membership(
    role: MembershipRole,
    state: MembershipState,
    affiliation: Affiliation,
) -> Membership {
    Membership {
        name: Some("spaces/AAAA/members/1001".into()),
        state: Some(state),
        role: Some(role),
        member: Some(full_user(UserType::Human)),
        group_member: Some(Group {
            name: Some("groups/0abc".into()),
        }),
        create_time: Some("2021-01-04T09:00:00Z".into()),
        delete_time: Some("2021-01-04T09:00:00Z".into()),
        affiliation: Some(affiliation),
    }
}

fn full_space(space_type: SpaceType) -> Space {
    Space {
        name: Some("spaces/AAAA".into()),
        display_name: Some("Engineering".into()),
        space_type: Some(space_type),
        membership_count: Some(MembershipCount {
            joined_direct_human_user_count: Some(3),
            joined_group_count: Some(1),
        }),
        external_user_allowed: Some(true),
        create_time: Some("2021-01-04T09:00:00Z".into()),
        last_active_time: Some("2021-01-04T09:00:00Z".into()),
        space_uri: Some("https://chat.google.com/room/AAAA".into()),
    }
}

fn json_of(value: &impl Serialize) -> Value {
    serde_json::to_value(value).expect("model values serialize")
}

#[test]
fn model_fields_are_documented() {
    let document = discovery();
    let mut problems = Vec::new();
    let mut check = |schema: &str, value: Value| {
        assert!(
            !document["schemas"][schema].is_null(),
            "schema {schema} is missing"
        );
        check_value(&document, schema, &value, schema, &mut problems);
    };

    let roles = [
        MembershipRole::Unspecified,
        MembershipRole::Member,
        MembershipRole::AssistantManager,
        MembershipRole::Manager,
    ];
    let states = [
        MembershipState::Unspecified,
        MembershipState::Joined,
        MembershipState::Invited,
        MembershipState::NotAMember,
    ];
    let affiliations = [
        Affiliation::Unspecified,
        Affiliation::Internal,
        Affiliation::External,
        Affiliation::ManagedExternal,
    ];
    for (index, role) in roles.iter().enumerate() {
        let membership = full_membership(
            role.clone(),
            states[index].clone(),
            affiliations[index].clone(),
        );
        check("Membership", json_of(&membership));
    }
    for user_type in [UserType::Unspecified, UserType::Human, UserType::Bot] {
        check("User", json_of(&full_user(user_type)));
    }
    let space_types = [
        SpaceType::Unspecified,
        SpaceType::Space,
        SpaceType::GroupChat,
        SpaceType::DirectMessage,
    ];
    for space_type in space_types.clone() {
        check("Space", json_of(&full_space(space_type)));
    }
    let members = ListMembershipsResponse {
        memberships: vec![full_membership(
            MembershipRole::Manager,
            MembershipState::Joined,
            Affiliation::Internal,
        )],
        next_page_token: Some("next".into()),
    };
    check("ListMembershipsResponse", json_of(&members));
    let spaces = ListSpacesResponse {
        spaces: vec![full_space(SpaceType::Space)],
        next_page_token: Some("next".into()),
    };
    check("ListSpacesResponse", json_of(&spaces));

    assert!(
        problems.is_empty(),
        "client model differs from the discovery document:\n{}",
        problems.join("\n")
    );
}

/// The check itself must catch a renamed field and a wrong type.
#[test]
fn model_check_catches_renames() {
    let document = discovery();
    let mut problems = Vec::new();
    let mut membership = json_of(&full_membership(
        MembershipRole::Member,
        MembershipState::Joined,
        Affiliation::Internal,
    ));
    membership["groupMembers"] = membership["groupMember"].take();
    membership["member"]["isAnonymous"] = json!("no");
    membership["role"] = json!("ROLE_OWNER");
    check_value(
        &document,
        "Membership",
        &membership,
        "Membership",
        &mut problems,
    );
    let text = problems.join("\n");
    assert!(text.contains("no property `groupMembers`"), "{text}");
    assert!(text.contains("Membership.member.isAnonymous"), "{text}");
    assert!(text.contains("\"ROLE_OWNER\" is not one of"), "{text}");
}

/// Every documented method, as (id, HTTP method, flat path, query parameters).
fn documented_methods(document: &Value) -> Vec<(String, String, String, BTreeSet<String>)> {
    let standard: BTreeSet<String> = document["parameters"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    let mut found = Vec::new();
    let groups = [
        &document["resources"]["spaces"]["methods"],
        &document["resources"]["spaces"]["resources"]["members"]["methods"],
    ];
    for group in groups {
        for method in group.as_object().unwrap().values() {
            let mut parameters = standard.clone();
            for (name, parameter) in method["parameters"].as_object().unwrap() {
                if parameter["location"] == "query" {
                    parameters.insert(name.clone());
                }
            }
            found.push((
                method["id"].as_str().unwrap().to_string(),
                method["httpMethod"].as_str().unwrap().to_string(),
                method["flatPath"].as_str().unwrap().to_string(),
                parameters,
            ));
        }
    }
    found
}

/// Matches a request path such as `/v1/spaces/AAAA/members/1001` against a
/// flat path such as `v1/spaces/{spacesId}/members/{membersId}`.
fn path_matches(template: &str, path: &str) -> bool {
    let template: Vec<&str> = template.split('/').collect();
    let path: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    template.len() == path.len()
        && template.iter().zip(&path).all(|(expected, actual)| {
            (expected.starts_with('{') && expected.ends_with('}') && !actual.is_empty())
                || expected == actual
        })
}

fn client(fixture: &Fixture, admin: bool) -> ChatClient {
    let tokens = Arc::new(StaticToken::new(AccessToken::new(TOKEN.to_string())));
    let options = ClientOptions {
        use_admin_access: admin,
        ..ClientOptions::default()
    };
    ChatClient::new(&fixture.emulator.url(), tokens, options).expect("client for the emulator")
}

#[tokio::test]
async fn client_requests_are_documented() {
    let fixture = Fixture::standard().await;
    let user = client(&fixture, false);
    user.list_spaces().await.unwrap();
    user.get_space("spaces/AAAAeng").await.unwrap();
    let every = ListMembersOptions {
        show_groups: true,
        show_invited: true,
        filter: Some("role = \"ROLE_MANAGER\"".into()),
    };
    user.list_members("spaces/AAAAeng", &every).await.unwrap();
    user.list_members("spaces/AAAAeng", &ListMembersOptions::default())
        .await
        .unwrap();
    user.get_member("spaces/AAAAeng/members/1001")
        .await
        .unwrap();
    user.create_member("spaces/AAAAops", "users/erin@partner.example")
        .await
        .unwrap();
    user.create_member("spaces/AAAAops", "groups/0grp2")
        .await
        .unwrap();
    user.set_member_role(
        "spaces/AAAAops/members/1004",
        &MembershipRole::AssistantManager,
    )
    .await
    .unwrap();
    user.delete_member("spaces/AAAAops/members/dave@example.com")
        .await
        .unwrap();

    let admin = client(&fixture, true);
    let humans = ListMembersOptions {
        filter: Some("member.type = \"HUMAN\"".into()),
        ..ListMembersOptions::default()
    };
    admin.list_members("spaces/AAAAeng", &humans).await.unwrap();
    admin
        .get_member("spaces/AAAAeng/members/1002")
        .await
        .unwrap();
    admin
        .delete_member("spaces/AAAAops/members/0grp2")
        .await
        .unwrap();

    let document = discovery();
    let methods = documented_methods(&document);
    let mut used = BTreeSet::new();
    let requests = fixture.emulator.requests();
    assert!(requests.len() >= 12, "{requests:?}");
    for request in &requests {
        assert_eq!(
            request.status, 200,
            "the emulator refused a client request: {request:?}"
        );
        let documented = methods.iter().find(|(_, http, template, _)| {
            *http == request.method && path_matches(template, &request.path)
        });
        let Some((id, _, _, parameters)) = documented else {
            panic!(
                "{} {} matches no documented method",
                request.method, request.path
            );
        };
        assert_eq!(
            Some(id.trim_start_matches("chat.")),
            request.api_method.as_deref()
        );
        for (name, _) in url::form_urlencoded::parse(request.query.as_bytes()) {
            assert!(
                parameters.contains(name.as_ref()),
                "{id} has no query parameter `{name}` (request {} {}?{})",
                request.method,
                request.path,
                request.query
            );
        }
        used.insert(id.clone());
    }
    for method in [
        "chat.spaces.list",
        "chat.spaces.get",
        "chat.spaces.members.list",
        "chat.spaces.members.get",
        "chat.spaces.members.create",
        "chat.spaces.members.patch",
        "chat.spaces.members.delete",
    ] {
        assert!(used.contains(method), "{method} was not exercised");
    }
}

#[test]
fn path_templates_match_segments() {
    let template = "v1/spaces/{spacesId}/members/{membersId}";
    assert!(path_matches(template, "/v1/spaces/A/members/1"));
    assert!(!path_matches(template, "/v1/spaces/A/member/1"));
    assert!(!path_matches(template, "/v1/spaces/A/members"));
    assert!(path_matches("v1/spaces:search", "/v1/spaces:search"));
}

/// The callers of the behaviour table.
const TABLE_STATE: &str = r#"
tokens: [default-token]
callers:
  - {token: bob, kind: user, user: "1002", scopes: [chat.memberships, chat.spaces]}
  - {token: reader, kind: user, user: "1002", scopes: [chat.memberships.readonly]}
  - {token: app, kind: app, user: "2001", scopes: [chat.bot, chat.app.memberships]}
  - {token: admin, kind: admin, user: "1004", scopes: [chat.admin.memberships, chat.admin.spaces]}
users:
  - {id: "1001", email: alice@example.com}
  - {id: "1002", email: bob@example.com}
  - {id: "1003", email: carol@example.com}
  - {id: "1004", email: ada@example.com}
  - {id: "2001", email: bot@example.com, type: BOT}
groups:
  - id: "0grp1"
spaces:
  - name: spaces/AAAAone
    type: SPACE
    memberships:
      - {user: "1001", role: ROLE_MANAGER}
      - {user: "1002", role: ROLE_ASSISTANT_MANAGER}
      - {user: "1003"}
      - {user: "2001"}
      - {group: "0grp1"}
  - name: spaces/AAAAtwo
    type: SPACE
    memberships:
      - {user: "1001", role: ROLE_MANAGER}
      - {user: "1003", role: ROLE_MANAGER}
      - {user: "1002"}
      - {user: "2001"}
  - name: spaces/AAAAdm
    type: DIRECT_MESSAGE
    memberships:
      - {user: "1001"}
      - {user: "1003"}
"#;

struct Row {
    rule: &'static str,
    token: Option<&'static str>,
    method: Method,
    path: &'static str,
    query: &'static [(&'static str, &'static str)],
    body: Option<Value>,
    status: u16,
}

fn row(
    rule: &'static str,
    token: Option<&'static str>,
    method: Method,
    path: &'static str,
    query: &'static [(&'static str, &'static str)],
    status: u16,
) -> Row {
    Row {
        rule,
        token,
        method,
        path,
        query,
        body: None,
        status,
    }
}

#[tokio::test]
async fn behaviour_table() {
    const D: Option<&str> = Some("default-token");
    const HUMANS: &[(&str, &str)] = &[
        ("useAdminAccess", "true"),
        ("filter", "member.type = \"HUMAN\""),
    ];
    let members = "v1/spaces/AAAAone/members";
    let rows = vec![
        row(
            "a request without a token is unauthenticated",
            None,
            Method::GET,
            "v1/spaces",
            &[],
            401,
        ),
        row(
            "an unknown query parameter is rejected",
            D,
            Method::GET,
            "v1/spaces",
            &[("colour", "red")],
            400,
        ),
        row(
            "a negative pageSize is rejected",
            D,
            Method::GET,
            members,
            &[("pageSize", "-1")],
            400,
        ),
        row(
            "a pageSize over 1000 is lowered, not rejected",
            D,
            Method::GET,
            members,
            &[("pageSize", "5000")],
            200,
        ),
        row(
            "OR across filter fields is rejected",
            D,
            Method::GET,
            members,
            &[(
                "filter",
                "role = \"ROLE_MANAGER\" OR member.type = \"HUMAN\"",
            )],
            400,
        ),
        row(
            "AND within one filter field is rejected",
            D,
            Method::GET,
            members,
            &[(
                "filter",
                "role = \"ROLE_MANAGER\" AND role = \"ROLE_MEMBER\"",
            )],
            400,
        ),
        row(
            "admin mode needs a HUMAN member filter",
            Some("admin"),
            Method::GET,
            members,
            &[("useAdminAccess", "true")],
            400,
        ),
        row(
            "admin mode with a HUMAN filter lists",
            Some("admin"),
            Method::GET,
            members,
            HUMANS,
            200,
        ),
        row(
            "admin mode is only for administrators",
            Some("bob"),
            Method::GET,
            members,
            HUMANS,
            403,
        ),
        row(
            "a missing scope is refused",
            Some("reader"),
            Method::DELETE,
            "v1/spaces/AAAAone/members/1003",
            &[],
            403,
        ),
        row(
            "a read-only scope still reads",
            Some("reader"),
            Method::GET,
            members,
            &[],
            200,
        ),
        row(
            "showInvited is for user callers only",
            Some("app"),
            Method::GET,
            members,
            &[("showInvited", "true")],
            403,
        ),
        row(
            "an app cannot remove a group",
            Some("app"),
            Method::DELETE,
            "v1/spaces/AAAAone/members/0grp1",
            &[],
            403,
        ),
        row(
            "a non-owner cannot remove an owner",
            Some("bob"),
            Method::DELETE,
            "v1/spaces/AAAAtwo/members/1003",
            &[],
            403,
        ),
        row(
            "the only owner cannot be removed",
            D,
            Method::DELETE,
            "v1/spaces/AAAAone/members/1001",
            &[],
            400,
        ),
        row(
            "admin scopes serve only admin mode",
            Some("admin"),
            Method::GET,
            "v1/spaces/AAAAone",
            &[("useAdminAccess", "false")],
            403,
        ),
        row(
            "a space the caller is not in is not found",
            Some("bob"),
            Method::GET,
            "v1/spaces/AAAAdm",
            &[],
            404,
        ),
        row(
            "an unknown space is not found",
            D,
            Method::GET,
            "v1/spaces/AAAAnone",
            &[],
            404,
        ),
        row(
            "members.get accepts the email alias",
            D,
            Method::GET,
            "v1/spaces/AAAAone/members/carol@example.com",
            &[],
            200,
        ),
        row(
            "members.patch rejects the email alias",
            D,
            Method::PATCH,
            "v1/spaces/AAAAone/members/carol@example.com",
            &[("updateMask", "role")],
            400,
        ),
        row(
            "nobody leaves a direct message",
            D,
            Method::DELETE,
            "v1/spaces/AAAAdm/members/1003",
            &[],
            400,
        ),
        row(
            "spaces.list has no admin mode",
            Some("admin"),
            Method::GET,
            "v1/spaces",
            &[("useAdminAccess", "true")],
            400,
        ),
        row(
            "spaces.search needs customer and space_type",
            Some("admin"),
            Method::GET,
            "v1/spaces:search",
            &[
                ("useAdminAccess", "true"),
                ("query", "space_type = \"SPACE\""),
            ],
            400,
        ),
        row(
            "spaces.search in admin mode",
            Some("admin"),
            Method::GET,
            "v1/spaces:search",
            &[
                ("useAdminAccess", "true"),
                (
                    "query",
                    "customer = \"customers/my_customer\" AND space_type = \"SPACE\"",
                ),
            ],
            200,
        ),
        Row {
            body: Some(json!({"member": {"name": "users/1002", "type": "HUMAN"}})),
            ..row(
                "adding an existing member conflicts",
                D,
                Method::POST,
                members,
                &[],
                409,
            )
        },
        Row {
            body: Some(json!({"role": "ROLE_MEMBER"})),
            ..row(
                "the only owner cannot be demoted",
                D,
                Method::PATCH,
                "v1/spaces/AAAAone/members/1001",
                &[("updateMask", "role")],
                400,
            )
        },
        Row {
            body: Some(json!({"role": "ROLE_MEMBER"})),
            ..row(
                "a non-owner cannot demote an owner",
                Some("bob"),
                Method::PATCH,
                "v1/spaces/AAAAtwo/members/1003",
                &[("updateMask", "role")],
                403,
            )
        },
    ];

    let fixture = Fixture::start(TABLE_STATE).await;
    let mut failures = Vec::new();
    for row in rows {
        let reply = fixture
            .call_as(
                row.token,
                row.method.clone(),
                row.path,
                row.query,
                row.body.clone(),
            )
            .await;
        if reply.status != row.status {
            failures.push(format!(
                "{}: {} {} answered {}, expected {}: {}",
                row.rule, row.method, row.path, reply.status, row.status, reply.body
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
