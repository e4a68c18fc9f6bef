//! Runs the real binary's `offboard` and `export` against its in-process
//! emulator (`--emulator`).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

const SAMPLE: &str = "examples/sample-org.yaml";

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

/// Runs the binary with stdin closed and no credentials in the environment.
fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_chat-reconcile"))
        .args(args)
        .env_remove("GOOGLE_OAUTH_ACCESS_TOKEN")
        .env_remove("CHAT_RECONCILE_ENDPOINT")
        .env_remove("CHAT_RECONCILE_POLICY")
        .env_remove("RUST_LOG")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .output()
        .expect("run chat-reconcile")
}

fn describe(output: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn path(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[test]
fn offboard_sample_org_applies() {
    let output = run(&[
        "offboard",
        "--emulator",
        SAMPLE,
        "--user",
        "dave.departed@example.com",
        "--successor",
        "ivan.admin@example.com",
        "--add-successor",
        "--successor-fallback",
        "longest-standing",
        "--apply",
        "--yes",
        "--space-writes-per-second",
        "100",
    ]);
    let text = describe(&output);
    assert_eq!(output.status.code(), Some(0), "{text}");
    assert!(text.contains("verification   passed"), "{text}");
    assert!(text.contains("blocked        0"), "{text}");
    assert!(
        text.contains("emulator: 0 requests rejected because they would remove or demote"),
        "{text}"
    );
    assert!(text.contains("1 direct messages skipped"), "{text}");
}

#[test]
fn offboard_dry_run_reports_blocked_owner() {
    let output = run(&[
        "offboard",
        "--emulator",
        SAMPLE,
        "--user",
        "dave.departed@example.com",
        "--detailed-exitcode",
    ]);
    let text = describe(&output);
    assert_eq!(output.status.code(), Some(3), "{text}");
    assert!(text.contains("only owner and no successor"), "{text}");
    assert!(text.contains("a direct message cannot be left"), "{text}");
}

const CALLER_STATE: &str = r#"
callers:
  - {token: alice-token, kind: user, user: "1", scopes: [chat.memberships, chat.spaces.readonly]}
users:
  - {id: "1", email: alice@example.com}
  - {id: "2", email: dave@example.com}
spaces:
  - name: spaces/AAAAone
    type: SPACE
    memberships: [{user: "1", role: ROLE_MANAGER}, {user: "2"}]
  - name: spaces/AAAAtwo
    type: SPACE
    memberships: [{user: "1", role: ROLE_MANAGER}]
  - name: spaces/AAAAhidden
    type: SPACE
    memberships: [{user: "2", role: ROLE_MANAGER}]
"#;

#[test]
fn offboard_without_admin_says_scope() {
    let dir = scratch_dir("offboard-caller");
    let state = dir.join("state.yaml");
    fs::write(&state, CALLER_STATE).unwrap();
    let output = run(&[
        "offboard",
        "--emulator",
        path(&state),
        "--user",
        "dave@example.com",
        "--format",
        "json",
    ]);
    let text = describe(&output);
    assert_eq!(output.status.code(), Some(0), "{text}");
    assert!(
        text.contains("covers only the 2 spaces the caller is a member of"),
        "{text}"
    );
    let document: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(document["sweep"]["discovery"], "caller_spaces");
    assert_eq!(document["sweep"]["lookups"], 2);
    assert_eq!(document["sweep"]["spaces_with_users"], 1);
}

#[test]
fn offboard_apply_needs_yes_without_terminal() {
    let output = run(&[
        "offboard",
        "--emulator",
        SAMPLE,
        "--user",
        "dave.departed@example.com",
        "--apply",
    ]);
    assert_eq!(output.status.code(), Some(2), "{}", describe(&output));
    assert!(describe(&output).contains("pass --yes"));
}

#[test]
fn offboard_users_file_rejects_bad_line() {
    let dir = scratch_dir("offboard-users");
    let users = dir.join("users.txt");
    fs::write(
        &users,
        "# leavers\ndave.departed@example.com\nnot an email\n",
    )
    .unwrap();
    let output = run(&[
        "offboard",
        "--emulator",
        SAMPLE,
        "--users-file",
        path(&users),
    ]);
    let text = describe(&output);
    assert_eq!(output.status.code(), Some(2), "{text}");
    assert!(
        text.contains("users.txt:3: invalid email \"not an email\""),
        "{text}"
    );
}

#[test]
fn offboard_policy_scope_all_spaces() {
    let dir = scratch_dir("offboard-policy");
    let policy = dir.join("policy.yaml");
    fs::write(
        &policy,
        "version: 1\noffboard:\n  - {member: dave.departed@example.com, scope: all-spaces}\nsuccessors: [ivan.admin@example.com]\nsuccessor_fallback: longest-standing\n",
    )
    .unwrap();
    let output = run(&[
        "offboard",
        "--emulator",
        SAMPLE,
        "--policy",
        path(&policy),
        "--add-successor",
        "--successor",
        "ivan.admin@example.com",
    ]);
    let text = describe(&output);
    assert_eq!(output.status.code(), Some(0), "{text}");
    assert!(
        text.contains("- remove    dave.departed@example.com"),
        "{text}"
    );
    assert!(
        text.contains("+ add       ivan.admin@example.com"),
        "{text}"
    );
}

#[test]
fn offboard_without_users_is_usage_error() {
    let output = run(&["offboard", "--emulator", SAMPLE]);
    assert_eq!(output.status.code(), Some(2), "{}", describe(&output));
}

/// Lists every space name of the sample organisation.
fn sample_spaces() -> Vec<String> {
    fs::read_to_string(SAMPLE)
        .unwrap()
        .lines()
        .filter_map(|line| line.trim().strip_prefix("- name: "))
        .map(str::to_string)
        .collect()
}

#[test]
fn export_then_plan_finds_nothing() {
    let dir = scratch_dir("export");
    let out = dir.join("exported.yaml");
    let mut args = vec!["export", "--emulator", SAMPLE, "--out", path(&out)];
    let spaces = sample_spaces();
    assert_eq!(spaces.len(), 45);
    for space in &spaces {
        args.push("--space");
        args.push(space);
    }
    let output = run(&args);
    assert_eq!(output.status.code(), Some(0), "{}", describe(&output));
    assert!(output.stdout.is_empty(), "--out writes nothing on stdout");
    let exported = fs::read_to_string(&out).unwrap();
    assert!(exported.contains("mode: exact"));
    assert!(exported.contains("- groups/"), "groups are exported");

    let output = run(&[
        "plan",
        "--emulator",
        SAMPLE,
        "--policy",
        path(&out),
        "--detailed-exitcode",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", describe(&output));
}

#[test]
fn export_all_uses_admin_search() {
    let output = run(&["export", "--emulator", SAMPLE, "--all"]);
    let text = describe(&output);
    assert_eq!(output.status.code(), Some(0), "{text}");
    assert!(text.contains("hides group memberships"), "{text}");
    let exported = String::from_utf8(output.stdout).unwrap();
    let spaces = exported.matches("  - space: ").count();
    assert_eq!(spaces, 36, "only spaces of type SPACE are searchable");
    assert!(!exported.contains("groups/"), "admin mode hides groups");
}

#[test]
fn export_missing_space_fails() {
    let output = run(&["export", "--emulator", SAMPLE, "--space", "spaces/nope"]);
    let text = describe(&output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(text.contains("spaces/nope"), "{text}");
}
