//! Shared set-up for the emulator tests: a state file, an emulator on
//! 127.0.0.1 and a reqwest client that talks to it over real HTTP.

#![allow(dead_code)]

use std::fmt::Write;

use chat_reconcile::emulator::{Emulator, EmulatorState};
use reqwest::Method;
use serde_json::Value;

pub const TOKEN: &str = "test-token";

/// A small organisation. AAAAeng has one owner (alice), a manager (bob), an
/// invited member (carol), an app and a group; AAAAops has two owners.
pub const STATE: &str = r#"
tokens: [test-token, second-token]
users:
  - {id: "1001", email: alice@example.com, display_name: Alice Adams}
  - {id: "1002", email: bob@example.com, display_name: Bob Brown}
  - {id: "1003", email: carol@example.com, display_name: Carol Chen, auto_accept: false}
  - {id: "1004", email: dave@example.com, display_name: Dave Diaz}
  - {id: "1005", email: erin@partner.example, display_name: Erin Evans, affiliation: EXTERNAL}
  - {id: "2001", email: helper-bot@example.com, display_name: Helper, type: BOT}
groups:
  - id: "0grp1"
  - id: "0grp2"
spaces:
  - name: spaces/AAAAeng
    display_name: Engineering
    type: SPACE
    create_time: "2021-01-04T09:00:00Z"
    memberships:
      - {user: "1001", role: ROLE_MANAGER, create_time: "2021-01-04T09:00:00Z"}
      - {user: "1002", role: ROLE_ASSISTANT_MANAGER}
      - {user: "1003", state: INVITED}
      - {user: "2001"}
      - {group: "0grp1"}
  - name: spaces/AAAAops
    display_name: Operations
    type: SPACE
    memberships:
      - {user: "1001", role: ROLE_MANAGER}
      - {user: "1002", role: ROLE_MANAGER}
      - {user: "1004"}
  - name: spaces/AAAAchat
    type: GROUP_CHAT
    memberships:
      - {user: "1001"}
      - {user: "1002"}
  - name: spaces/AAAAdm
    type: DIRECT_MESSAGE
    memberships:
      - {user: "1001"}
      - {user: "1004"}
"#;

/// Builds a state with one SPACE, `spaces/AAAAbig`, of `count` joined members.
pub fn big_space_state(count: usize) -> String {
    let mut yaml = String::from("tokens: [test-token]\nusers:\n");
    for index in 0..count {
        let id = 5000 + index;
        writeln!(yaml, "  - {{id: \"{id}\", email: user{id}@example.com}}").unwrap();
    }
    yaml.push_str("spaces:\n  - name: spaces/AAAAbig\n    type: SPACE\n    memberships:\n");
    for index in 0..count {
        let id = 5000 + index;
        writeln!(yaml, "      - {{user: \"{id}\"}}").unwrap();
    }
    yaml
}

pub struct Fixture {
    pub emulator: Emulator,
    pub client: reqwest::Client,
}

/// A response: HTTP status and JSON body.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
}

impl Reply {
    /// Asserts a Google error body with this code, status and message part.
    #[track_caller]
    pub fn assert_error(&self, code: u16, status: &str, message_part: &str) {
        assert_eq!(self.status, code, "HTTP status of {}", self.body);
        assert_eq!(
            self.body["error"]["code"], code,
            "error.code of {}",
            self.body
        );
        assert_eq!(
            self.body["error"]["status"], status,
            "error.status of {}",
            self.body
        );
        let message = self.body["error"]["message"].as_str().unwrap_or_default();
        assert!(
            message.contains(message_part),
            "error.message {message:?} should contain {message_part:?}"
        );
    }

    /// Asserts a 200 and returns the body.
    #[track_caller]
    pub fn ok(&self) -> &Value {
        assert_eq!(self.status, 200, "expected success, got {}", self.body);
        &self.body
    }

    /// The `{member}` ids of a members.list page, in order.
    pub fn member_ids(&self) -> Vec<String> {
        self.ok()["memberships"]
            .as_array()
            .map(|memberships| {
                memberships
                    .iter()
                    .map(|m| {
                        m["name"]
                            .as_str()
                            .unwrap()
                            .rsplit('/')
                            .next()
                            .unwrap()
                            .to_string()
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl Fixture {
    pub async fn start(yaml: &str) -> Fixture {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let state = EmulatorState::parse(yaml).expect("test state parses");
        let emulator = Emulator::start(state, "127.0.0.1:0".parse().unwrap())
            .await
            .expect("emulator starts");
        Fixture {
            emulator,
            client: reqwest::Client::new(),
        }
    }

    pub async fn standard() -> Fixture {
        Fixture::start(STATE).await
    }

    /// Sends a request with the test token.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<Value>,
    ) -> Reply {
        self.call_as(Some(TOKEN), method, path, query, body).await
    }

    pub async fn get(&self, path: &str, query: &[(&str, &str)]) -> Reply {
        self.call(Method::GET, path, query, None).await
    }

    /// Sends a request with `token` as the bearer token, or none.
    pub async fn call_as(
        &self,
        token: Option<&str>,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<Value>,
    ) -> Reply {
        let url = self.emulator.url().join(path).expect("test path joins");
        let mut request = self.client.request(method, url);
        if !query.is_empty() {
            request = request.query(query);
        }
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("request reaches the emulator");
        let status = response.status().as_u16();
        let body = response.json().await.expect("response body is JSON");
        Reply { status, body }
    }

    /// Lists every membership of a space with `query`, following page tokens.
    pub async fn list_all(&self, space: &str, query: &[(&str, &str)]) -> Vec<String> {
        let mut ids = Vec::new();
        let mut token = String::new();
        loop {
            let mut parameters = query.to_vec();
            if !token.is_empty() {
                parameters.push(("pageToken", &token));
            }
            let reply = self.get(&format!("v1/{space}/members"), &parameters).await;
            ids.extend(reply.member_ids());
            match reply.body["nextPageToken"].as_str() {
                Some(next) if !next.is_empty() => token = next.to_string(),
                _ => return ids,
            }
        }
    }
}
