//! The real binary against a standalone emulator process, as an operator
//! would run it: `plan --detailed-exitcode`, `apply --yes`, then `plan`
//! again.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};

const BINARY: &str = env!("CARGO_BIN_EXE_chat-reconcile");

/// A standalone emulator, killed when dropped.
struct Standalone {
    child: Child,
    url: String,
}

impl Standalone {
    fn start(state: &str) -> Self {
        let mut child = Command::new(BINARY)
            .args(["emulator", "--state", state, "--listen", "127.0.0.1:0"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("emulator starts");
        let stderr = child.stderr.take().unwrap();
        let mut lines = BufReader::new(stderr).lines();
        let url = loop {
            let line = lines
                .next()
                .expect("the emulator prints its address before anything else")
                .unwrap();
            if let Some(rest) = line.split("listening on ").nth(1) {
                break rest.split_whitespace().next().unwrap().to_string();
            }
        };
        // Keep reading stderr so the emulator never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        Self { child, url }
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(BINARY)
            .args(args)
            .args(["--endpoint", &self.url, "--policy", "policies/example.yaml"])
            .env("GOOGLE_OAUTH_ACCESS_TOKEN", "demo-token")
            .env_remove("CHAT_RECONCILE_ENDPOINT")
            .stdin(Stdio::null())
            .output()
            .expect("binary runs")
    }

    fn counters(&self) -> serde_json::Value {
        self.inspect("counters")
    }

    /// Reads one of the emulator's inspection routes, such as `requests`.
    fn inspect(&self, route: &str) -> serde_json::Value {
        let url = format!("{}emulator/v1/{route}", self.url);
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(async {
            let _ = rustls::crypto::ring::default_provider().install_default();
            reqwest::get(url).await.unwrap().json().await.unwrap()
        })
    }
}

impl Drop for Standalone {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn describe(output: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn plan_apply_plan_converges() {
    let emulator = Standalone::start("examples/sample-org.yaml");

    let pending = emulator.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(pending.status.code(), Some(3), "{}", describe(&pending));

    let applied = emulator.run(&[
        "apply",
        "--yes",
        "--space-writes-per-second",
        "50",
        "--writes-per-minute",
        "6000",
    ]);
    assert_eq!(applied.status.code(), Some(0), "{}", describe(&applied));
    let summary = String::from_utf8_lossy(&applied.stdout);
    assert!(
        summary.contains("verification   passed"),
        "{}",
        describe(&applied)
    );

    let settled = emulator.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(settled.status.code(), Some(0), "{}", describe(&settled));
    let text = String::from_utf8_lossy(&settled.stdout);
    assert!(text.contains("No changes."), "{}", describe(&settled));

    let counters = emulator.counters();
    assert_eq!(counters["only_owner_refusals"], 0, "{counters}");
    assert_eq!(counters["spaces_left_without_owner"], 0, "{counters}");
}

#[test]
fn invalid_policy_makes_no_request() {
    let emulator = Standalone::start("examples/sample-org.yaml");
    let dir = std::env::temp_dir().join(format!("cr-standalone-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let policy = dir.join("bad.yaml");
    std::fs::write(
        &policy,
        "version: 1\nspaces:\n  - space: spaces/AAAA\n    owners: [bob@]\n",
    )
    .unwrap();

    let output = Command::new(BINARY)
        .args(["plan", "--endpoint", &emulator.url, "--policy"])
        .arg(&policy)
        .env("GOOGLE_OAUTH_ACCESS_TOKEN", "demo-token")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", describe(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("bad.yaml:4:"), "{}", describe(&output));

    let counters = emulator.counters();
    assert_eq!(
        counters["requests"], 0,
        "the emulator saw a request: {counters}"
    );
}

#[test]
fn missing_space_is_not_success() {
    let dir = std::env::temp_dir().join(format!("cr-missing-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let policy = dir.join("missing.yaml");
    std::fs::write(
        &policy,
        "version: 1\nspaces:\n  - space: spaces/AAAAnosuchspace\n    mode: additive\n",
    )
    .unwrap();

    for (command, expected) in [("plan", 1), ("apply", 4)] {
        let args: &[&str] = if command == "apply" {
            &["apply", "--yes"]
        } else {
            &["plan"]
        };
        let output = run_with_emulator_args(args, policy.to_str().unwrap());
        assert_eq!(
            output.status.code(),
            Some(expected),
            "{}",
            describe(&output)
        );
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("spaces/AAAAnosuchspace"),
            "{}",
            describe(&output)
        );
    }
}

#[test]
fn bad_endpoints_are_usage_errors() {
    let cases: [&[&str]; 4] = [
        &["--endpoint", "ftp://127.0.0.1:1"],
        &["--endpoint", "https://admin:s3cret@127.0.0.1:1"],
        &["--endpoint", "http://chat.example.com"],
        &[
            "--endpoint",
            "http://127.0.0.1:1",
            "--emulator",
            "examples/sample-org.yaml",
        ],
    ];
    for flags in cases {
        let output = Command::new(BINARY)
            .args(["plan", "--policy", "policies/minimal.yaml"])
            .args(flags)
            .env("GOOGLE_OAUTH_ACCESS_TOKEN", "demo-token")
            .env_remove("CHAT_RECONCILE_ENDPOINT")
            .stdin(Stdio::null())
            .output()
            .expect("binary runs");
        assert_eq!(
            output.status.code(),
            Some(2),
            "{flags:?}: {}",
            describe(&output)
        );
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            !stderr.contains("s3cret"),
            "{flags:?} printed a password: {stderr}"
        );
    }
}

#[test]
fn quiet_hides_emulator_line() {
    let output = run_with_emulator_args(&["plan", "-q"], "policies/example.yaml");
    assert_eq!(output.status.code(), Some(0), "{}", describe(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("emulator:"), "{}", describe(&output));
}

#[test]
fn blocked_only_apply_prints_summary() {
    let output = run_with_emulator_args(&["apply", "--yes"], "policies/no-successor.yaml");
    assert_eq!(output.status.code(), Some(4), "{}", describe(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("Summary:"), "{}", describe(&output));
    assert!(stdout.contains("blocked        1"), "{}", describe(&output));
}

#[cfg(unix)]
#[test]
fn sigterm_stops_apply_gracefully() {
    let emulator = Standalone::start("examples/sample-org.yaml");
    let slow = Command::new(BINARY)
        .args(["apply", "--yes", "--space-writes-per-second", "0.5"])
        .args([
            "--endpoint",
            &emulator.url,
            "--policy",
            "policies/example.yaml",
        ])
        .env("GOOGLE_OAUTH_ACCESS_TOKEN", "demo-token")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("binary runs");

    // Long enough to observe and start writing, far shorter than the run.
    std::thread::sleep(std::time::Duration::from_secs(3));
    let killed = Command::new("kill")
        .args(["-TERM", &slow.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let stopped = slow.wait_with_output().unwrap();
    assert_eq!(stopped.status.code(), Some(4), "{}", describe(&stopped));
    let stdout = String::from_utf8_lossy(&stopped.stdout);
    assert!(stdout.contains("Summary:"), "{}", describe(&stopped));
    assert!(stdout.contains("skipped"), "{}", describe(&stopped));

    let rerun = emulator.run(&["apply", "--yes", "--space-writes-per-second", "50"]);
    assert_eq!(rerun.status.code(), Some(0), "{}", describe(&rerun));
    let counters = emulator.counters();
    assert_eq!(counters["only_owner_refusals"], 0, "{counters}");
    assert_eq!(counters["spaces_left_without_owner"], 0, "{counters}");
}

fn run_with_emulator_args(args: &[&str], policy: &str) -> Output {
    Command::new(BINARY)
        .args(args)
        .args(["--emulator", "examples/sample-org.yaml", "--policy", policy])
        .stdin(Stdio::null())
        .output()
        .expect("binary runs")
}

#[cfg(unix)]
#[test]
fn sigterm_ends_jsonl_with_summary() {
    let emulator = Standalone::start("examples/sample-org.yaml");
    let slow = Command::new(BINARY)
        .args(["apply", "--yes", "--output", "jsonl"])
        .args(["--space-writes-per-second", "0.5"])
        .args([
            "--endpoint",
            &emulator.url,
            "--policy",
            "policies/example.yaml",
        ])
        .env("GOOGLE_OAUTH_ACCESS_TOKEN", "demo-token")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("binary runs");
    std::thread::sleep(std::time::Duration::from_secs(3));
    let killed = Command::new("kill")
        .args(["-TERM", &slow.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let stopped = slow.wait_with_output().unwrap();
    assert_eq!(stopped.status.code(), Some(4), "{}", describe(&stopped));
    let stdout = String::from_utf8_lossy(&stopped.stdout);
    let last: serde_json::Value =
        serde_json::from_str(stdout.lines().last().unwrap_or("null")).unwrap();
    assert_eq!(last["type"], "summary", "{}", describe(&stopped));
    assert_eq!(last["stopped"], true, "{last}");
    assert_eq!(last["exit_code"], 4, "{last}");
    assert!(last["skipped"].as_u64().unwrap() > 0, "{last}");
}

#[test]
fn admin_flag_sends_admin_access() {
    let emulator = Standalone::start("examples/sample-org.yaml");
    let applied = emulator.run(&[
        "apply",
        "--yes",
        "--admin",
        "--space-writes-per-second",
        "50",
        "--writes-per-minute",
        "6000",
    ]);
    assert_eq!(applied.status.code(), Some(0), "{}", describe(&applied));
    let stderr = String::from_utf8_lossy(&applied.stderr);
    assert!(
        stderr.contains("admin mode cannot list group memberships"),
        "{}",
        describe(&applied)
    );

    let log = emulator.inspect("requests");
    let records = log
        .as_array()
        .or_else(|| log["requests"].as_array())
        .expect("the request log is a list");
    let member_calls: Vec<&serde_json::Value> = records
        .iter()
        .filter(|r| {
            r["api_method"]
                .as_str()
                .is_some_and(|m| m.starts_with("spaces.members."))
        })
        .collect();
    assert!(!member_calls.is_empty(), "no member calls in {log}");
    for record in member_calls {
        let query = record["query"].as_str().unwrap_or("");
        assert!(query.contains("useAdminAccess=true"), "{record}");
    }

    let caller_with_admin =
        emulator.run(&["plan", "--admin", "--caller", "ivan.admin@example.com"]);
    assert_eq!(
        caller_with_admin.status.code(),
        Some(2),
        "{}",
        describe(&caller_with_admin)
    );
}
