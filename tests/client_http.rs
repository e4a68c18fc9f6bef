//! The client against small axum servers over real HTTP on 127.0.0.1: how it
//! builds requests, pages, and reads error bodies, headers and broken
//! connections. The servers return fixed raw bodies, so these tests check
//! our parsing against real responses, not a model of our own client.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, header};
use axum::response::Response;
use chat_reconcile::chat::auth::{AccessToken, StaticToken};
use chat_reconcile::chat::error::TransportKind;
use chat_reconcile::chat::model::MembershipRole;
use chat_reconcile::chat::{ChatClient, ChatError, ClientOptions, ListMembersOptions};
use serde_json::{Value, json};
use url::Url;

const TOKEN: &str = "test-token-5f1d";

/// One request as the server saw it.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    /// Path and query exactly as sent, percent-encoding included.
    uri: String,
    body: Option<Value>,
}

type Log = Arc<Mutex<Vec<Seen>>>;

async fn serve(router: Router) -> Url {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    Url::parse(&format!("http://{address}")).unwrap()
}

/// Starts the scripted server and returns its URL and request log.
async fn start() -> (Url, Log) {
    let log: Log = Arc::default();
    let router = Router::new().fallback(respond).with_state(log.clone());
    (serve(router).await, log)
}

fn client(endpoint: &Url, options: ClientOptions) -> ChatClient {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let tokens = Arc::new(StaticToken::new(AccessToken::new(TOKEN.to_string())));
    ChatClient::new(endpoint, tokens, options).unwrap()
}

fn raw(status: u16, headers: &[(&str, &str)], body: impl Into<Body>) -> Response {
    let mut response = Response::builder().status(status);
    for (name, value) in headers {
        response = response.header(*name, *value);
    }
    response.body(body.into()).unwrap()
}

fn json_response(status: u16, body: Value) -> Response {
    raw(
        status,
        &[("content-type", "application/json")],
        body.to_string(),
    )
}

fn google_error(http_status: u16, status: &str, message: &str) -> Value {
    json!({"error": {"code": http_status, "message": message, "status": status}})
}

fn is_authorized(headers: &HeaderMap) -> bool {
    let expected = format!("Bearer {TOKEN}");
    headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        == Some(expected.as_str())
}

async fn respond(State(log): State<Log>, request: Request) -> Response {
    let method = request.method().to_string();
    let uri = request.uri().to_string();
    let authorized = is_authorized(request.headers());
    let bytes = axum::body::to_bytes(request.into_body(), usize::MAX)
        .await
        .unwrap();
    let body = serde_json::from_slice(&bytes).ok();
    log.lock().unwrap().push(Seen {
        method: method.clone(),
        uri: uri.clone(),
        body,
    });

    if !authorized {
        return json_response(
            401,
            google_error(401, "UNAUTHENTICATED", "missing or invalid credentials"),
        );
    }
    let path = uri.split('?').next().unwrap_or_default();
    let query = uri
        .split_once('?')
        .map(|(_, query)| query)
        .unwrap_or_default();
    match path {
        "/v1/spaces/quota" => {
            let body = json!({"error": {
                "code": 429,
                "message": "Quota exceeded for quota metric 'Read requests'.",
                "status": "RESOURCE_EXHAUSTED",
                "details": [{
                    "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                    "reason": "RATE_LIMIT_EXCEEDED",
                    "domain": "googleapis.com"
                }]
            }});
            raw(
                429,
                &[("retry-after", "7"), ("content-type", "application/json")],
                body.to_string(),
            )
        }
        "/v1/spaces/dated" => {
            let date = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(30));
            raw(
                503,
                &[("retry-after", date.as_str())],
                google_error(503, "UNAVAILABLE", "try later").to_string(),
            )
        }
        "/v1/spaces/html" => raw(
            502,
            &[("content-type", "text/html")],
            "<html>\n<head><title>502 Bad Gateway</title></head>\n<body>upstream went away</body>\n</html>",
        ),
        "/v1/spaces/empty" => raw(500, &[], ""),
        "/v1/spaces/bad-json" => {
            json_response(200, json!({"name": "spaces/bad-json", "spaceType": 7}))
        }
        "/v1/spaces/bad-page/members" => json_response(
            200,
            json!({"memberships": [{"name": "spaces/bad-page/members/1"}, {"name": "spaces/bad-page/members/2", "member": {"name": 5}}]}),
        ),
        "/v1/spaces/slow" => {
            tokio::time::sleep(Duration::from_secs(3)).await;
            json_response(200, json!({"name": "spaces/slow"}))
        }
        "/v1/spaces/A" => json_response(
            200,
            json!({"name": "spaces/A", "displayName": "Alpha", "spaceType": "SPACE"}),
        ),
        "/v1/spaces/A/members" if method == "GET" => {
            if query.contains("pageToken=second") {
                json_response(
                    200,
                    json!({"memberships": [{"name": "spaces/A/members/3"}], "nextPageToken": ""}),
                )
            } else {
                json_response(
                    200,
                    json!({"memberships": [{"name": "spaces/A/members/1"}, {"name": "spaces/A/members/2"}], "nextPageToken": "second"}),
                )
            }
        }
        "/v1/spaces" => {
            if query.contains("pageToken=more") {
                json_response(200, json!({"spaces": [{"name": "spaces/B"}]}))
            } else {
                json_response(
                    200,
                    json!({"spaces": [{"name": "spaces/A"}], "nextPageToken": "more"}),
                )
            }
        }
        "/v1/spaces/A/members/missing" => {
            json_response(404, google_error(404, "NOT_FOUND", "Membership not found."))
        }
        _ => json_response(
            200,
            json!({"name": "spaces/A/members/1", "role": "ROLE_MEMBER"}),
        ),
    }
}

fn last(log: &Log) -> Seen {
    log.lock().unwrap().last().cloned().unwrap()
}

fn admin() -> ClientOptions {
    ClientOptions {
        use_admin_access: true,
        ..ClientOptions::default()
    }
}

#[tokio::test]
async fn google_error_body_parsed() {
    let (url, _log) = start().await;
    let error = client(&url, ClientOptions::default())
        .get_space("spaces/quota")
        .await
        .unwrap_err();
    let ChatError::Api {
        method,
        target,
        http_status,
        status,
        message,
        retry_after,
    } = &error
    else {
        panic!("expected an API error, got {error:?}");
    };
    assert_eq!(*method, "spaces.get");
    assert_eq!(target, "spaces/quota");
    assert_eq!(*http_status, 429);
    assert_eq!(status.as_deref(), Some("RESOURCE_EXHAUSTED"));
    assert_eq!(message, "Quota exceeded for quota metric 'Read requests'.");
    assert_eq!(*retry_after, Some(Duration::from_secs(7)));
    assert!(error.is_rate_limited());
    assert!(error.is_retryable());
}

#[tokio::test]
async fn retry_after_http_date() {
    let (url, _log) = start().await;
    let error = client(&url, ClientOptions::default())
        .get_space("spaces/dated")
        .await
        .unwrap_err();
    assert_eq!(error.http_status(), Some(503));
    let wait = error.retry_after().expect("a Retry-After date");
    assert!(wait > Duration::from_secs(25), "{wait:?}");
    assert!(wait <= Duration::from_secs(30), "{wait:?}");
}

#[tokio::test]
async fn html_error_body_excerpted() {
    let (url, _log) = start().await;
    let error = client(&url, ClientOptions::default())
        .get_space("spaces/html")
        .await
        .unwrap_err();
    assert_eq!(error.http_status(), Some(502));
    assert_eq!(error.api_status(), None);
    let text = error.to_string();
    assert!(text.contains("502 Bad Gateway"), "{text}");
    assert!(text.contains("upstream went away"), "{text}");
    assert!(!text.contains('\n'), "{text}");
}

#[tokio::test]
async fn empty_error_body_keeps_status() {
    let (url, _log) = start().await;
    let error = client(&url, ClientOptions::default())
        .get_space("spaces/empty")
        .await
        .unwrap_err();
    assert_eq!(error.http_status(), Some(500));
    assert!(error.to_string().contains("(empty body)"), "{error}");
}

#[tokio::test]
async fn decode_error_names_json_path() {
    let (url, _log) = start().await;
    let client = client(&url, ClientOptions::default());

    let error = client.get_space("spaces/bad-json").await.unwrap_err();
    let ChatError::Decode { path, .. } = &error else {
        panic!("expected a decode error, got {error:?}");
    };
    assert_eq!(path, "spaceType");

    let error = client
        .list_members("spaces/bad-page", &ListMembersOptions::default())
        .await
        .unwrap_err();
    let ChatError::Decode { path, .. } = &error else {
        panic!("expected a decode error, got {error:?}");
    };
    assert_eq!(path, "memberships[1].member.name");
    assert!(!error.is_retryable());
}

#[tokio::test]
async fn bearer_token_sent_and_never_shown() {
    let (url, _log) = start().await;
    let good = client(&url, ClientOptions::default());
    assert!(good.get_space("spaces/A").await.is_ok());

    let wrong = Arc::new(StaticToken::new(AccessToken::new(
        "wrong-secret-token".to_string(),
    )));
    let bad = ChatClient::new(&url, wrong, ClientOptions::default()).unwrap();
    let error = bad.get_space("spaces/A").await.unwrap_err();
    assert_eq!(error.api_status(), Some("UNAUTHENTICATED"));
    assert!(!error.to_string().contains("wrong-secret-token"));
    assert!(!format!("{error:?}").contains("wrong-secret-token"));
    assert!(!format!("{bad:?}").contains("wrong-secret-token"));
}

#[tokio::test]
async fn members_paged_with_same_parameters() {
    let (url, log) = start().await;
    let options = ListMembersOptions {
        show_groups: true,
        show_invited: true,
        filter: Some(r#"member.type = "HUMAN""#.to_string()),
    };
    let memberships = client(&url, admin())
        .list_members("spaces/A", &options)
        .await
        .unwrap();
    let names: Vec<_> = memberships
        .iter()
        .map(|m| m.name.clone().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "spaces/A/members/1",
            "spaces/A/members/2",
            "spaces/A/members/3"
        ]
    );

    let uris: Vec<_> = log
        .lock()
        .unwrap()
        .iter()
        .map(|seen| seen.uri.clone())
        .collect();
    let first = "/v1/spaces/A/members?pageSize=1000&showGroups=true&showInvited=true\
                 &filter=member.type+%3D+%22HUMAN%22&useAdminAccess=true";
    assert_eq!(
        uris,
        [first.to_string(), format!("{first}&pageToken=second")]
    );
}

#[tokio::test]
async fn spaces_paged_without_admin_access() {
    let (url, log) = start().await;
    let spaces = client(&url, admin()).list_spaces().await.unwrap();
    let names: Vec<_> = spaces
        .iter()
        .map(|space| space.name.clone().unwrap())
        .collect();
    assert_eq!(names, ["spaces/A", "spaces/B"]);
    let uris: Vec<_> = log
        .lock()
        .unwrap()
        .iter()
        .map(|seen| seen.uri.clone())
        .collect();
    assert_eq!(
        uris,
        [
            "/v1/spaces?pageSize=1000",
            "/v1/spaces?pageSize=1000&pageToken=more"
        ]
    );
}

#[tokio::test]
async fn get_space_with_admin_access() {
    let (url, log) = start().await;
    let space = client(&url, admin()).get_space("spaces/A").await.unwrap();
    assert_eq!(space.display_name.as_deref(), Some("Alpha"));
    assert_eq!(last(&log).uri, "/v1/spaces/A?useAdminAccess=true");
}

#[tokio::test]
async fn get_member_by_email_alias() {
    let (url, log) = start().await;
    let client = client(&url, ClientOptions::default());
    client
        .get_member("spaces/A/members/Alice.Adams@example.com")
        .await
        .unwrap();
    let seen = last(&log);
    assert_eq!(seen.method, "GET");
    assert_eq!(seen.uri, "/v1/spaces/A/members/Alice.Adams@example.com");

    let error = client
        .get_member("spaces/A/members/missing")
        .await
        .unwrap_err();
    assert!(error.is_not_found(), "{error:?}");
    assert_eq!(error.api_status(), Some("NOT_FOUND"));
    assert!(!error.is_already_exists());
    assert!(!error.is_retryable());
    let text = error.to_string();
    let expected =
        "spaces.members.get spaces/A/members/missing: HTTP 404 NOT_FOUND: Membership not found.";
    assert_eq!(text, expected);
}

#[tokio::test]
async fn create_member_bodies() {
    let (url, log) = start().await;
    let client = client(&url, admin());

    client
        .create_member("spaces/A", "users/alice@example.com")
        .await
        .unwrap();
    let seen = last(&log);
    assert_eq!(seen.method, "POST");
    assert_eq!(seen.uri, "/v1/spaces/A/members?useAdminAccess=true");
    assert_eq!(
        seen.body,
        Some(json!({"member": {"name": "users/alice@example.com", "type": "HUMAN"}}))
    );

    client
        .create_member("spaces/A", "groups/0abc123")
        .await
        .unwrap();
    let seen = last(&log);
    assert_eq!(
        seen.body,
        Some(json!({"groupMember": {"name": "groups/0abc123"}}))
    );

    let error = client
        .create_member("spaces/A", "alice@example.com")
        .await
        .unwrap_err();
    assert!(matches!(error, ChatError::InvalidName { .. }), "{error:?}");
    assert_eq!(
        log.lock().unwrap().len(),
        2,
        "an invalid name must not reach the server"
    );
}

#[tokio::test]
async fn set_role_patches_role_only() {
    let (url, log) = start().await;
    client(&url, ClientOptions::default())
        .set_member_role("spaces/A/members/100", &MembershipRole::Manager)
        .await
        .unwrap();
    let seen = last(&log);
    assert_eq!(seen.method, "PATCH");
    assert_eq!(seen.uri, "/v1/spaces/A/members/100?updateMask=role");
    assert_eq!(seen.body, Some(json!({"role": "ROLE_MANAGER"})));
}

#[tokio::test]
async fn delete_member_request() {
    let (url, log) = start().await;
    let deleted = client(&url, admin())
        .delete_member("spaces/A/members/100")
        .await
        .unwrap();
    assert_eq!(deleted.name.as_deref(), Some("spaces/A/members/1"));
    let seen = last(&log);
    assert_eq!(seen.method, "DELETE");
    assert_eq!(seen.uri, "/v1/spaces/A/members/100?useAdminAccess=true");
    assert_eq!(seen.body, None);
}

#[tokio::test]
async fn endpoint_path_prefix_kept() {
    let (url, log) = start().await;
    let prefixed = url.join("proxy/chat").unwrap();
    // The scripted server returns a membership body for any unknown path.
    let result = client(&prefixed, ClientOptions::default())
        .get_space("spaces/A")
        .await;
    assert!(result.is_ok(), "{result:?}");
    assert_eq!(last(&log).uri, "/proxy/chat/v1/spaces/A");
}

#[tokio::test]
async fn timeout_classified() {
    let (url, _log) = start().await;
    let options = ClientOptions {
        request_timeout: Duration::from_millis(300),
        ..ClientOptions::default()
    };
    let error = client(&url, options)
        .get_space("spaces/slow")
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            ChatError::Transport {
                kind: TransportKind::Timeout,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(error.is_retryable());
}

#[tokio::test]
async fn refused_connection_classified() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    let url = Url::parse(&format!("http://{address}")).unwrap();
    let error = client(&url, ClientOptions::default())
        .get_space("spaces/A")
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            ChatError::Transport {
                kind: TransportKind::Connect,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(error.is_retryable());
}

#[tokio::test]
async fn closed_connection_classified() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut buffer = [0u8; 1024];
            let _ = tokio::io::AsyncReadExt::read(&mut socket, &mut buffer).await;
            drop(socket);
        }
    });
    let url = Url::parse(&format!("http://{address}")).unwrap();
    let error = client(&url, ClientOptions::default())
        .get_space("spaces/A")
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            ChatError::Transport {
                kind: TransportKind::Reset,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(error.is_retryable());
}
