//! Runs the real binary against its in-process emulator (`--emulator`), with
//! a state file and a policy written to a scratch directory.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

const STATE: &str = r#"tokens: [demo-token]
users:
  - id: "100000000001"
    email: alice@example.com
    display_name: Alice Adams
  - id: "100000000002"
    email: carol@example.com
    display_name: Carol Chen
  - id: "100000000003"
    email: dave@example.com
    display_name: Dave Dunn
  - id: "100000000004"
    email: bob@example.com
    display_name: Bob Brown
spaces:
  - name: spaces/AAAAeng
    display_name: Engineering
    type: SPACE
    create_time: "2021-01-04T09:00:00Z"
    memberships:
      - user: "100000000003"
        role: ROLE_MANAGER
        create_time: "2021-01-04T09:00:00Z"
      - user: "100000000002"
        create_time: "2021-02-01T09:00:00Z"
      - user: "100000000001"
        create_time: "2021-03-01T09:00:00Z"
"#;

/// Offboards the only owner, names carol as successor, and adds bob.
const POLICY: &str = r#"version: 1
offboard: [dave@example.com]
spaces:
  - space: spaces/AAAAeng
    display_name: Engineering
    mode: additive
    members: [alice@example.com, bob@example.com]
    successors: [carol@example.com]
"#;

/// Creates a fresh directory under the system's temporary directory.
fn scratch_dir(test: &str) -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "chat-reconcile-{test}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    ));
    fs::create_dir_all(&dir).expect("create scratch directory");
    dir
}

/// Writes the state and the policy into a scratch directory.
fn write_files(test: &str, policy: &str) -> (PathBuf, PathBuf) {
    let dir = scratch_dir(test);
    let state = dir.join("state.yaml");
    let policy_path = dir.join("policy.yaml");
    fs::write(&state, STATE).expect("write state");
    fs::write(&policy_path, policy).expect("write policy");
    (state, policy_path)
}

/// Runs the binary with stdin closed and no credentials in the environment.
fn run(args: &[&str], state: &Path, policy: &Path) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_chat-reconcile"));
    command
        .args(args)
        .arg("--policy")
        .arg(policy)
        .arg("--emulator")
        .arg(state)
        .env_remove("GOOGLE_OAUTH_ACCESS_TOKEN")
        .env_remove("CHAT_RECONCILE_ENDPOINT")
        .env_remove("RUST_LOG")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null());
    command.output().expect("run chat-reconcile")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn describe(output: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        output.status.code(),
        stdout(output),
        stderr(output)
    )
}

#[test]
fn plan_promotes_successor_before_removal() {
    let (state, policy) = write_files("plan-order", POLICY);
    let output = run(&["plan"], &state, &policy);
    assert_eq!(output.status.code(), Some(0), "{}", describe(&output));

    let text = stdout(&output);
    let promotion = text
        .lines()
        .position(|line| line.contains("successor for dave@example.com (space successors)"))
        .unwrap_or_else(|| panic!("no successor line in:\n{text}"));
    let removal = text
        .lines()
        .position(|line| line.contains("- remove") && line.contains("dave@example.com"))
        .unwrap_or_else(|| panic!("no removal line in:\n{text}"));
    assert!(promotion < removal, "promotion after removal:\n{text}");
    assert!(text.contains("carol@example.com"), "{text}");
    assert!(text.contains("member -> owner"), "{text}");
    assert!(
        text.contains("Plan: 1 to add, 1 role change, 1 to remove, in 1 of 1 space."),
        "{text}"
    );
}

#[test]
fn plan_detailed_exitcode_exits_3() {
    let (state, policy) = write_files("plan-detailed", POLICY);
    let output = run(&["plan", "--detailed-exitcode"], &state, &policy);
    assert_eq!(output.status.code(), Some(3), "{}", describe(&output));
}

#[test]
fn plan_json_is_one_document() {
    let (state, policy) = write_files("plan-json", POLICY);
    let output = run(&["plan", "--format", "json"], &state, &policy);
    assert_eq!(output.status.code(), Some(0), "{}", describe(&output));

    let document: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("stdout is one JSON document");
    let kinds: Vec<&str> = document["operations"]
        .as_array()
        .expect("operations array")
        .iter()
        .map(|operation| operation["kind"].as_str().unwrap_or("?"))
        .collect();
    assert_eq!(kinds, ["add", "set_role", "remove"]);
    assert_eq!(document["operations"][1]["reason"], "successor");
    assert_eq!(document["operations"][1]["to"], "owner");
    assert_eq!(document["summary"]["spaces_in_scope"], 1);
}

#[test]
fn apply_yes_exits_0() {
    let (state, policy) = write_files("apply-yes", POLICY);
    let output = run(&["apply", "--yes"], &state, &policy);
    assert_eq!(output.status.code(), Some(0), "{}", describe(&output));

    let text = stdout(&output);
    assert!(text.contains("applied        3"), "{text}");
    assert!(text.contains("verification   passed"), "{text}");
    assert!(
        stderr(&output).contains("emulator: 0 requests rejected"),
        "{}",
        describe(&output)
    );
}

#[test]
fn apply_json_lines_have_types() {
    let (state, policy) = write_files("apply-json", POLICY);
    let output = run(&["apply", "--yes", "--format", "json"], &state, &policy);
    assert_eq!(output.status.code(), Some(0), "{}", describe(&output));

    let types: Vec<String> = stdout(&output)
        .lines()
        .map(|line| {
            let record: serde_json::Value = serde_json::from_str(line)
                .unwrap_or_else(|error| panic!("invalid JSON line {line:?}: {error}"));
            record["type"].as_str().expect("type field").to_string()
        })
        .collect();
    assert_eq!(types.first().map(String::as_str), Some("plan_entry"));
    let started = types.iter().position(|kind| kind == "run_started");
    let planned = types.iter().position(|kind| kind == "plan_summary");
    assert_eq!(started, planned.map(|position| position + 1), "{types:?}");
    assert_eq!(types[types.len() - 2], "verification", "{types:?}");
    assert_eq!(types.last().map(String::as_str), Some("summary"));
    let finished = types
        .iter()
        .filter(|kind| *kind == "operation_finished")
        .count();
    assert_eq!(finished, 3);
}

#[test]
fn apply_without_terminal_needs_yes() {
    let (state, policy) = write_files("apply-no-yes", POLICY);
    let output = run(&["apply"], &state, &policy);
    assert_eq!(output.status.code(), Some(2), "{}", describe(&output));
    assert!(stderr(&output).contains("--yes"), "{}", describe(&output));
    assert!(stdout(&output).is_empty(), "{}", describe(&output));
}

#[test]
fn invalid_policy_exits_2_with_location() {
    let invalid =
        "version: 1\nspaces:\n  - space: spaces/AAAAeng\n    memberz: [alice@example.com]\n";
    let (state, policy) = write_files("invalid-policy", invalid);
    let output = run(&["plan"], &state, &policy);
    assert_eq!(output.status.code(), Some(2), "{}", describe(&output));

    // The message names the file, then `:line:column`.
    let text = stderr(&output);
    let path = policy.display().to_string();
    let start = text
        .find(&path)
        .unwrap_or_else(|| panic!("policy path missing from:\n{text}"));
    let location: String = text[start + path.len()..]
        .chars()
        .take_while(|c| *c == ':' || c.is_ascii_digit())
        .collect();
    let parts: Vec<&str> = location.trim_end_matches(':').split(':').collect();
    assert_eq!(parts.len(), 3, "no :line:column after the path in:\n{text}");
    assert_eq!(parts[1], "4", "wrong line in:\n{text}");
    assert!(!parts[2].is_empty(), "no column in:\n{text}");
    assert!(
        !text.contains("emulator:"),
        "the emulator started for an invalid policy:\n{text}"
    );
}

#[test]
fn usage_error_exits_2() {
    let output = Command::new(env!("CARGO_BIN_EXE_chat-reconcile"))
        .args(["plan", "--concurrency", "0", "--policy", "missing.yaml"])
        .stdin(Stdio::null())
        .output()
        .expect("run chat-reconcile");
    assert_eq!(output.status.code(), Some(2), "{}", describe(&output));
}

#[test]
fn closed_stdout_is_quiet() {
    let (state, policy) = write_files("closed-pipe", POLICY);
    let mut child = Command::new(env!("CARGO_BIN_EXE_chat-reconcile"))
        .args(["plan", "--detailed-exitcode", "--policy"])
        .arg(&policy)
        .arg("--emulator")
        .arg(&state)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run chat-reconcile");
    // Closing the read end before the plan is printed makes the write fail
    // with a broken pipe.
    drop(child.stdout.take());
    let output = child.wait_with_output().expect("wait for chat-reconcile");
    let text = stderr(&output);
    assert_eq!(output.status.code(), Some(3), "{text}");
    assert!(!text.contains("panicked"), "{text}");
    assert!(!text.contains("error:"), "{text}");
}
