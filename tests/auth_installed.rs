//! The installed-app flow end to end: `chat-reconcile login` against the
//! emulator's consent page and token endpoint, with this test playing the
//! browser; then `plan` and `apply` refreshing from the token cache, and a
//! revoked sign-in failing at once.

use std::fs;
use std::io::{BufRead as _, BufReader};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use chat_reconcile::emulator::{Emulator, EmulatorState};

const STATE: &str = r#"token_lifetime: 2
oauth_clients:
  - client_id: 123-desktop.apps.googleusercontent.com
    client_secret: emulator-client-secret
    scopes: [chat.memberships, chat.memberships.readonly, chat.spaces.readonly]
users:
  - id: "100000000001"
    email: alice@example.com
  - id: "100000000002"
    email: bob@example.com
spaces:
  - name: spaces/AAAAeng
    type: SPACE
    memberships:
      - user: "100000000001"
        role: ROLE_MANAGER
"#;

const POLICY: &str = "version: 1
spaces:
  - space: spaces/AAAAeng
    mode: additive
    members: [bob@example.com]
";

struct Setup {
    emulator: Emulator,
    dir: PathBuf,
    secret: PathBuf,
    cache: PathBuf,
}

async fn setup(test: &str) -> Setup {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = std::env::temp_dir().join(format!(
        "chat-reconcile-login-{test}-{}",
        std::process::id()
    ));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    let emulator = Emulator::start(
        EmulatorState::parse(STATE).unwrap(),
        SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
    )
    .await
    .unwrap();
    let url = emulator.url();
    let secret = serde_json::json!({
        "installed": {
            "client_id": "123-desktop.apps.googleusercontent.com",
            "client_secret": "emulator-client-secret",
            "auth_uri": format!("{url}o/oauth2/auth"),
            "token_uri": format!("{url}token"),
            "redirect_uris": ["http://127.0.0.1"],
        }
    });
    let secret_path = dir.join("client_secret.json");
    fs::write(&secret_path, secret.to_string()).unwrap();
    fs::write(dir.join("policy.yaml"), POLICY).unwrap();
    Setup {
        emulator,
        cache: dir.join("config").join("token-cache.json"),
        secret: secret_path,
        dir,
    }
}

fn binary() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_chat-reconcile"));
    command
        .env_remove("GOOGLE_OAUTH_ACCESS_TOKEN")
        .env_remove("GOOGLE_APPLICATION_CREDENTIALS")
        .env_remove("CHAT_RECONCILE_ENDPOINT")
        .env_remove("RUST_LOG")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null());
    command
}

fn describe(output: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

impl Setup {
    /// Runs `login`, consents as alice in place of a browser, and waits for
    /// the command to finish.
    async fn login(&self) {
        let mut child = binary()
            .arg("login")
            .arg("--client-secret")
            .arg(&self.secret)
            .arg("--token-cache")
            .arg(&self.cache)
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (address, rest) = tokio::task::spawn_blocking(move || {
            let mut lines = BufReader::new(stderr).lines();
            let address = lines
                .by_ref()
                .map(|line| line.unwrap())
                .find(|line| line.trim_start().starts_with("http://"))
                .expect("login prints the sign-in address");
            (address.trim().to_string(), lines)
        })
        .await
        .unwrap();

        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let consent = http
            .get(format!("{address}&user=alice@example.com"))
            .send()
            .await
            .unwrap();
        assert_eq!(consent.status().as_u16(), 302);
        let location = consent.headers()["location"].to_str().unwrap().to_string();
        let back = http.get(&location).send().await.unwrap();
        assert!(back.status().is_success(), "{}", back.status());

        let (status, rest) = tokio::task::spawn_blocking(move || {
            let rest: Vec<String> = rest.map_while(Result::ok).collect();
            (child.wait().unwrap(), rest)
        })
        .await
        .unwrap();
        assert!(status.success(), "login failed: {rest:?}");
    }

    async fn run(&self, args: &[&str]) -> Output {
        self.run_with(args, None).await
    }

    /// Runs like [`Setup::run`] with every log line on.
    async fn run_traced(&self, args: &[&str]) -> Output {
        self.run_with(args, Some("trace,yup_oauth2=trace")).await
    }

    async fn run_with(&self, args: &[&str], log: Option<&str>) -> Output {
        let mut command = binary();
        if let Some(log) = log {
            command.env("RUST_LOG", log);
        }
        command
            .args(args)
            .arg("--policy")
            .arg(self.dir.join("policy.yaml"))
            .arg("--endpoint")
            .arg(self.emulator.url().as_str())
            .arg("--client-secret")
            .arg(&self.secret)
            .arg("--token-cache")
            .arg(&self.cache);
        tokio::task::spawn_blocking(move || command.output().unwrap())
            .await
            .unwrap()
    }

    fn refresh_token(&self) -> String {
        let cache: serde_json::Value =
            serde_json::from_slice(&fs::read(&self.cache).unwrap()).unwrap();
        cache["refresh_token"]
            .as_str()
            .expect("a refresh token")
            .to_string()
    }
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_then_plan_and_apply() {
    let setup = setup("flow").await;
    setup.login().await;
    #[cfg(unix)]
    assert_eq!(mode(&setup.cache), 0o600);
    let first_refresh = setup.refresh_token();

    let plan = setup.run(&["plan"]).await;
    assert_eq!(plan.status.code(), Some(0), "{}", describe(&plan));
    assert!(
        String::from_utf8_lossy(&plan.stdout).contains("Plan: 1 to add"),
        "{}",
        describe(&plan)
    );
    let apply = setup.run_traced(&["apply", "--yes"]).await;
    assert_eq!(apply.status.code(), Some(0), "{}", describe(&apply));
    let all = describe(&apply);
    assert!(all.contains("TRACE"), "trace logging is not on");
    assert!(!all.contains("ya29."), "an access token leaked");
    assert!(!all.contains(&first_refresh), "the refresh token leaked");
    assert!(
        !all.contains("emulator-client-secret"),
        "the client secret leaked"
    );
    assert_eq!(
        setup
            .emulator
            .counters()
            .requests_by_method
            .get("spaces.members.create"),
        Some(&1)
    );
    // Refreshes rewrote the cache, which kept its mode and refresh token.
    #[cfg(unix)]
    assert_eq!(mode(&setup.cache), 0o600);
    assert_eq!(setup.refresh_token(), first_refresh);
    let leftovers: Vec<_> = fs::read_dir(setup.cache.parent().unwrap())
        .unwrap()
        .map(|entry| entry.unwrap().file_name())
        .collect();
    assert_eq!(leftovers.len(), 1, "{leftovers:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoked_sign_in_fails_at_once() {
    let setup = setup("revoked").await;
    setup.login().await;
    let revoke = reqwest::Client::new()
        .post(format!("{}revoke", setup.emulator.url()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("token={}", setup.refresh_token()))
        .send()
        .await
        .unwrap();
    assert!(revoke.status().is_success());
    // The cached access token lives 2 s; let it expire.
    tokio::time::sleep(Duration::from_millis(2100)).await;

    let started = Instant::now();
    let plan = setup.run(&["plan"]).await;
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(plan.status.code(), Some(1), "{}", describe(&plan));
    let stderr = String::from_utf8_lossy(&plan.stderr);
    assert!(
        stderr.contains("run `chat-reconcile login"),
        "{}",
        describe(&plan)
    );
    assert!(!stderr.contains("1//emulated"), "{}", describe(&plan));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_sign_in_fails_at_once() {
    let setup = setup("never").await;
    let plan = setup.run(&["plan"]).await;
    assert_eq!(plan.status.code(), Some(1), "{}", describe(&plan));
    assert!(
        String::from_utf8_lossy(&plan.stderr).contains("run `chat-reconcile login"),
        "{}",
        describe(&plan)
    );
    assert!(!setup.cache.exists());
}
