//! The emulator's `POST /token` over real HTTP, with assertions signed here
//! by ring with a key openssl generates for the test; and the client's
//! refresh-once-on-401 path.

use std::net::{Ipv4Addr, SocketAddr};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use futures::future::BoxFuture;
use serde_json::{Value, json};

use chat_reconcile::chat::auth::{AccessToken, AuthError, TokenProvider};
use chat_reconcile::chat::{ChatClient, ClientOptions};
use chat_reconcile::emulator::{Emulator, EmulatorState};

const ACCOUNT: &str = "reconciler@project.iam.gserviceaccount.com";

struct Keys {
    /// PKCS#8 DER, for ring.
    private: Vec<u8>,
    public_pem: String,
}

fn generate_keys() -> Keys {
    let dir = std::env::temp_dir().join(format!("chat-reconcile-token-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let path = dir.join(format!("key-{}.pem", NEXT.fetch_add(1, Ordering::SeqCst)));
    let status = Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
        ])
        .arg(&path)
        .stderr(Stdio::null())
        .status()
        .expect("run openssl genpkey");
    assert!(status.success());
    let public = Command::new("openssl")
        .args(["pkey", "-pubout", "-in"])
        .arg(&path)
        .output()
        .expect("run openssl pkey");
    let pem = std::fs::read_to_string(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    let body: String = pem
        .lines()
        .filter(|line| !line.starts_with("-----"))
        .collect();
    Keys {
        private: STANDARD.decode(body).unwrap(),
        public_pem: String::from_utf8(public.stdout).unwrap(),
    }
}

fn state(public_pem: &str, lifetime: u64) -> String {
    let indented: String = public_pem.lines().map(|l| format!("      {l}\n")).collect();
    format!(
        r#"tokens: [demo-token]
token_lifetime: {lifetime}
users:
  - id: "100000000001"
    email: alice@example.com
  - id: "100000000002"
    email: bob@example.com
  - id: "100000000003"
    email: guest@partner.example
    affiliation: EXTERNAL
spaces:
  - name: spaces/AAAAeng
    type: SPACE
    memberships:
      - user: "100000000001"
        role: ROLE_MANAGER
service_accounts:
  - client_email: {ACCOUNT}
    public_key: |
{indented}    scopes: [chat.memberships.readonly, chat.spaces.readonly]
    domain_wide_delegation: true
    impersonate: [alice@example.com]
"#
    )
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn sign(keys: &Keys, claims: &Value) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256","typ":"JWT"}"#);
    let claims = URL_SAFE_NO_PAD.encode(claims.to_string());
    let signed = format!("{header}.{claims}");
    let pair = ring::signature::RsaKeyPair::from_pkcs8(&keys.private).expect("a PKCS#8 RSA key");
    let mut signature = vec![0; pair.public().modulus_len()];
    pair.sign(
        &ring::signature::RSA_PKCS1_SHA256,
        &ring::rand::SystemRandom::new(),
        signed.as_bytes(),
        &mut signature,
    )
    .unwrap();
    format!("{signed}.{}", URL_SAFE_NO_PAD.encode(signature))
}

struct Fixture {
    emulator: Emulator,
    keys: Keys,
    http: reqwest::Client,
}

impl Fixture {
    async fn start(lifetime: u64) -> Fixture {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let keys = generate_keys();
        let state = EmulatorState::parse(&state(&keys.public_pem, lifetime)).unwrap();
        let emulator = Emulator::start(state, SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
            .await
            .unwrap();
        Fixture {
            emulator,
            keys,
            http: reqwest::Client::new(),
        }
    }

    fn token_uri(&self) -> String {
        format!("{}token", self.emulator.url())
    }

    fn claims(&self) -> Value {
        json!({
            "iss": ACCOUNT,
            "scope": "https://www.googleapis.com/auth/chat.memberships.readonly",
            "aud": self.token_uri(),
            "iat": now(),
            "exp": now() + 3600,
            "sub": "alice@example.com",
        })
    }

    async fn grant(&self, assertion: &str) -> (u16, Value) {
        let form = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer")
            .append_pair("assertion", assertion)
            .finish();
        let response = self
            .http
            .post(self.token_uri())
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap())
    }

    async fn list_members(&self, token: &str) -> u16 {
        self.http
            .get(format!("{}v1/spaces/AAAAeng/members", self.emulator.url()))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }
}

fn with(mut claims: Value, key: &str, value: Value) -> Value {
    claims[key] = value;
    claims
}

#[tokio::test]
async fn grant_issues_token_the_api_accepts() {
    let fixture = Fixture::start(3600).await;
    let (status, body) = fixture.grant(&sign(&fixture.keys, &fixture.claims())).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    let token = body["access_token"].as_str().unwrap();
    assert_eq!(fixture.list_members(token).await, 200);
}

#[tokio::test]
async fn issued_token_carries_only_granted_scopes() {
    let fixture = Fixture::start(3600).await;
    let claims = with(
        fixture.claims(),
        "scope",
        json!("https://www.googleapis.com/auth/chat.spaces.readonly"),
    );
    let (_, body) = fixture.grant(&sign(&fixture.keys, &claims)).await;
    let token = body["access_token"].as_str().unwrap();
    assert_eq!(fixture.list_members(token).await, 403);
}

#[tokio::test]
async fn expired_token_is_unauthenticated() {
    let fixture = Fixture::start(1).await;
    let (_, body) = fixture.grant(&sign(&fixture.keys, &fixture.claims())).await;
    let token = body["access_token"].as_str().unwrap().to_string();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(fixture.list_members(&token).await, 401);
}

#[tokio::test]
async fn refusals_use_google_error_bodies() {
    let fixture = Fixture::start(3600).await;
    let other = generate_keys();
    let unknown_scope = with(
        fixture.claims(),
        "scope",
        json!("https://www.googleapis.com/auth/chat.memberships"),
    );
    let cases = [
        (
            "wrong key",
            sign(&other, &fixture.claims()),
            400,
            "invalid_grant",
            "Signature",
        ),
        (
            "wrong audience",
            sign(
                &fixture.keys,
                &with(
                    fixture.claims(),
                    "aud",
                    json!("https://oauth2.googleapis.com/token"),
                ),
            ),
            400,
            "invalid_grant",
            "audience",
        ),
        (
            "expired assertion",
            sign(
                &fixture.keys,
                &with(fixture.claims(), "exp", json!(now() - 10)),
            ),
            400,
            "invalid_grant",
            "iat and exp",
        ),
        (
            "unknown account",
            sign(
                &fixture.keys,
                &with(
                    fixture.claims(),
                    "iss",
                    json!("other@p.iam.gserviceaccount.com"),
                ),
            ),
            400,
            "invalid_grant",
            "account not found",
        ),
        (
            "scope not authorised",
            sign(&fixture.keys, &unknown_scope),
            401,
            "unauthorized_client",
            "scopes",
        ),
        (
            "user not listed",
            sign(
                &fixture.keys,
                &with(fixture.claims(), "sub", json!("bob@example.com")),
            ),
            401,
            "unauthorized_client",
            "impersonate",
        ),
        (
            "no app user",
            sign(&fixture.keys, &with(fixture.claims(), "sub", Value::Null)),
            401,
            "unauthorized_client",
            "app_user",
        ),
        ("not a JWT", "abc".to_string(), 400, "invalid_grant", "JWT"),
    ];
    for (case, assertion, status, code, part) in cases {
        let (got, body) = fixture.grant(&assertion).await;
        assert_eq!(got, status, "{case}: {body}");
        assert_eq!(body["error"], code, "{case}: {body}");
        let description = body["error_description"].as_str().unwrap_or_default();
        assert!(description.contains(part), "{case}: {body}");
    }
    assert_eq!(fixture.emulator.counters().tokens_issued, 0);
}

/// Hands out a token the API rejects, then a good one on refresh.
struct StaleFirst {
    renewable: bool,
    refreshes: AtomicUsize,
}

impl TokenProvider for StaleFirst {
    fn token(&self) -> BoxFuture<'_, Result<AccessToken, AuthError>> {
        Box::pin(async { Ok(AccessToken::new("stale-token".to_string())) })
    }

    fn refresh(&self, rejected: &AccessToken) -> BoxFuture<'_, Result<AccessToken, AuthError>> {
        assert_eq!(rejected.expose(), "stale-token");
        self.refreshes.fetch_add(1, Ordering::SeqCst);
        Box::pin(async { Ok(AccessToken::new("demo-token".to_string())) })
    }

    fn renewable(&self) -> bool {
        self.renewable
    }
}

#[tokio::test]
async fn client_refreshes_once_after_401() {
    let fixture = Fixture::start(3600).await;
    for renewable in [true, false] {
        let provider = Arc::new(StaleFirst {
            renewable,
            refreshes: AtomicUsize::new(0),
        });
        let client = ChatClient::new(
            &fixture.emulator.url(),
            provider.clone(),
            ClientOptions::default(),
        )
        .unwrap();
        let result = client.get_space("spaces/AAAAeng").await;
        assert_eq!(
            result.is_ok(),
            renewable,
            "renewable {renewable}: {result:?}"
        );
        let expected = usize::from(renewable);
        assert_eq!(provider.refreshes.load(Ordering::SeqCst), expected);
    }
    let statuses: Vec<u16> = fixture
        .emulator
        .requests()
        .iter()
        .map(|request| request.status)
        .collect();
    assert_eq!(statuses, [401, 200, 401]);
}
