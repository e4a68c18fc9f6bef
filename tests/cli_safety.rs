//! Guards, `--max-operations`, saved plans, the audit log, the lock file
//! and the JSON Lines stream, run through the real binary against an
//! emulator that this test process serves on 127.0.0.1.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use chat_reconcile::emulator::{Emulator, EmulatorState, Snapshot};
use serde_json::Value;

const BINARY: &str = env!("CARGO_BIN_EXE_chat-reconcile");

const USERS: &str = r#"tokens: [demo-token]
users:
  - {id: "100000000001", email: alice@example.com}
  - {id: "100000000002", email: carol@example.com}
  - {id: "100000000003", email: dave@example.com}
  - {id: "100000000004", email: bob@example.com}
  - {id: "100000000005", email: erin@example.com}
  - {id: "100000000006", email: frank@example.com}
  - {id: "100000000007", email: gina@example.com}
  - {id: "100000000008", email: hank@example.com}
"#;

/// Engineering: dave owns it, seven members. Ops: dave and alice own it.
const GUARD_SPACES: &str = r#"spaces:
  - name: spaces/AAAAeng
    type: SPACE
    memberships:
      - {user: "100000000003", role: ROLE_MANAGER}
      - {user: "100000000001"}
      - {user: "100000000002"}
      - {user: "100000000004"}
      - {user: "100000000005"}
      - {user: "100000000006"}
      - {user: "100000000007"}
      - {user: "100000000008"}
  - name: spaces/AAAAops
    type: SPACE
    memberships:
      - {user: "100000000003", role: ROLE_MANAGER}
      - {user: "100000000001", role: ROLE_MANAGER}
      - {user: "100000000002"}
"#;

/// An emulator served from a runtime this test owns.
struct Served {
    runtime: tokio::runtime::Runtime,
    emulator: Option<Emulator>,
    url: String,
    dir: PathBuf,
}

impl Served {
    fn start(test: &str, spaces: &str) -> Self {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let state = EmulatorState::parse(&format!("{USERS}{spaces}")).expect("valid state");
        let emulator = runtime
            .block_on(Emulator::start(state, "127.0.0.1:0".parse().unwrap()))
            .expect("emulator starts");
        let url = emulator.url().to_string();
        Self {
            runtime,
            emulator: Some(emulator),
            url,
            dir: scratch_dir(test),
        }
    }

    fn emulator(&self) -> &Emulator {
        self.emulator.as_ref().unwrap()
    }

    fn snapshot(&self) -> Snapshot {
        self.emulator().snapshot()
    }

    fn writes(&self) -> u64 {
        let counters = self.emulator().counters();
        ["create", "patch", "delete"]
            .iter()
            .map(|verb| {
                counters
                    .requests_by_method
                    .get(&format!("spaces.members.{verb}"))
                    .copied()
                    .unwrap_or(0)
            })
            .sum()
    }

    fn file(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.join(name);
        fs::write(&path, text).unwrap();
        path
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Runs the binary with `args`, then `--policy policy` and the endpoint.
    fn run(&self, args: &[&str], policy: &Path) -> Output {
        Command::new(BINARY)
            .args(args)
            .arg("--policy")
            .arg(policy)
            .args(["--endpoint", &self.url])
            .env("GOOGLE_OAUTH_ACCESS_TOKEN", "demo-token")
            .env_remove("CHAT_RECONCILE_ENDPOINT")
            .env_remove("CHAT_RECONCILE_AUDIT_LOG")
            .env_remove("CHAT_RECONCILE_LOCK_FILE")
            .env_remove("RUST_LOG")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .output()
            .expect("binary runs")
    }

    /// Sends one request to the emulator as its default caller: the change
    /// "someone else" makes between plan and apply.
    fn send(&self, method: reqwest::Method, path: &str, body: Option<Value>) {
        let url = format!("{}{path}", self.url);
        let status = self.runtime.block_on(async {
            let mut request = reqwest::Client::new()
                .request(method, url)
                .bearer_auth("demo-token");
            if let Some(body) = body {
                request = request.json(&body);
            }
            request.send().await.unwrap().status()
        });
        assert!(status.is_success(), "{path}: {status}");
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        if let Some(emulator) = self.emulator.take() {
            self.runtime.block_on(emulator.shutdown());
        }
    }
}

fn scratch_dir(test: &str) -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "chat-reconcile-safety-{test}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    ));
    fs::create_dir_all(&dir).unwrap();
    dir
}

fn describe(output: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn records(output: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{line:?}: {e}")))
        .collect()
}

fn last_summary(output: &Output) -> Value {
    let records = records(output);
    let last = records.last().cloned().unwrap_or_default();
    assert_eq!(last["type"], "summary", "{}", describe(output));
    last
}

fn audit_lines(path: &Path) -> Vec<Value> {
    fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

/// Owners per space: every SPACE must keep one.
fn owners(snapshot: &Snapshot) -> BTreeMap<String, usize> {
    snapshot
        .spaces
        .iter()
        .map(|space| (space.name.clone(), space.owners().len()))
        .collect()
}

/// Removes four of eng's eight members (dave, frank, gina, hank).
const FOUR_REMOVALS: &str = r#"version: 1
guards: {max_removals: 2}
spaces:
  - space: spaces/AAAAeng
    owners: [alice@example.com]
    members: [carol@example.com, bob@example.com, erin@example.com]
"#;

#[test]
fn max_removals_refuses() {
    let served = Served::start("max-removals", GUARD_SPACES);
    let policy = served.file("policy.yaml", FOUR_REMOVALS);
    let output = served.run(&["apply", "--yes", "--output", "jsonl"], &policy);
    assert_eq!(output.status.code(), Some(5), "{}", describe(&output));
    assert_eq!(served.writes(), 0, "{}", describe(&output));
    let text = stderr(&output);
    assert!(
        text.contains("max_removals: the plan removes 4 members, above the limit of 2"),
        "{text}"
    );
    assert!(text.contains("--allow-removals 4 --reason"), "{text}");
    let summary = last_summary(&output);
    assert_eq!(summary["exit_code"], 5);
    assert_eq!(summary["applied"], 0);
}

#[test]
fn max_removals_override_is_audited() {
    let served = Served::start("max-removals-override", GUARD_SPACES);
    let policy = served.file("policy.yaml", FOUR_REMOVALS);
    let audit = served.path("audit.jsonl");
    let output = served.run(
        &[
            "apply",
            "--yes",
            "--allow-removals",
            "4",
            "--reason",
            "reorg approved",
        ]
        .iter()
        .copied()
        .chain(["--audit-log", audit.to_str().unwrap()])
        .collect::<Vec<_>>(),
        &policy,
    );
    assert_eq!(output.status.code(), Some(0), "{}", describe(&output));
    let lines = audit_lines(&audit);
    assert_eq!(lines.len(), 5, "{lines:?}");
    for line in &lines {
        assert_eq!(line["override_reason"], "reorg approved", "{line}");
        assert_eq!(line["outcome"], "applied", "{line}");
        assert_eq!(line["caller"], "unknown", "{line}");
        assert_eq!(line["space"], "spaces/AAAAeng", "{line}");
    }
    let removed: Vec<&str> = lines
        .iter()
        .filter(|line| line["operation"] == "remove")
        .map(|line| line["member"].as_str().unwrap())
        .collect();
    assert_eq!(removed.len(), 4, "{removed:?}");
}

#[test]
fn allow_removals_below_plan_still_refuses() {
    let served = Served::start("allow-too-few", GUARD_SPACES);
    let policy = served.file("policy.yaml", FOUR_REMOVALS);
    let output = served.run(
        &["apply", "--yes", "--allow-removals", "3", "--reason", "x"],
        &policy,
    );
    assert_eq!(output.status.code(), Some(5), "{}", describe(&output));
    assert_eq!(served.writes(), 0);
}

/// Removes six of eng's eight memberships and two of ops' three.
const MOST_REMOVED: &str = r#"version: 1
spaces:
  - space: spaces/AAAAeng
    owners: [alice@example.com]
    members: [carol@example.com]
  - space: spaces/AAAAops
    owners: [alice@example.com]
"#;

#[test]
fn removed_fraction_refuses_naming_each_space() {
    let served = Served::start("fraction", GUARD_SPACES);
    let policy = served.file("policy.yaml", MOST_REMOVED);
    let output = served.run(&["apply", "--yes", "--output", "jsonl"], &policy);
    assert_eq!(output.status.code(), Some(5), "{}", describe(&output));
    assert_eq!(served.writes(), 0);
    let text = stderr(&output);
    assert!(
        text.contains(
            "spaces/AAAAeng would lose 6 of its 8 memberships (75%), above the limit of 50%"
        ),
        "{text}"
    );
    assert!(
        text.contains("spaces/AAAAops would lose 2 of its 3 memberships (67%)"),
        "{text}"
    );
    let refused: Vec<Value> = records(&output)
        .into_iter()
        .filter(|record| record["type"] == "guard_refused")
        .collect();
    assert_eq!(refused.len(), 2, "{refused:?}");
    assert_eq!(refused[0]["guard"], "max_removed_fraction");
    assert_eq!(refused[0]["limit"], 0.5);
    assert_eq!(refused[0]["fix"], "--allow-removals 8 --reason \"TEXT\"");
}

#[test]
fn removed_fraction_override_is_audited() {
    let served = Served::start("fraction-override", GUARD_SPACES);
    let policy = served.file("policy.yaml", MOST_REMOVED);
    let audit = served.path("audit.jsonl");
    let output = served.run(
        &[
            "apply",
            "--yes",
            "--allow-removals",
            "8",
            "--reason",
            "team moved",
            "--audit-log",
            audit.to_str().unwrap(),
        ],
        &policy,
    );
    assert_eq!(output.status.code(), Some(0), "{}", describe(&output));
    let lines = audit_lines(&audit);
    assert_eq!(lines.len(), 9, "{lines:?}");
    assert!(
        lines
            .iter()
            .all(|line| line["override_reason"] == "team moved")
    );
}

/// Offboards dave, leaving ops with one owner where the policy wants two.
const TWO_OWNERS: &str = r#"version: 1
guards: {min_owners: 2}
offboard: [dave@example.com]
spaces:
  - space: spaces/AAAAops
    mode: additive
"#;

#[test]
fn min_owners_refuses() {
    let served = Served::start("min-owners", GUARD_SPACES);
    let policy = served.file("policy.yaml", TWO_OWNERS);
    let output = served.run(&["apply", "--yes"], &policy);
    assert_eq!(output.status.code(), Some(5), "{}", describe(&output));
    assert_eq!(served.writes(), 0);
    let text = stderr(&output);
    assert!(
        text.contains(
            "min_owners: spaces/AAAAops would keep 1 of its 2 owners, below the minimum of 2"
        ),
        "{text}"
    );
    assert!(text.contains("--min-owners 1 --reason"), "{text}");

    let planned = served.run(&["plan"], &policy);
    assert_eq!(planned.status.code(), Some(5), "{}", describe(&planned));
}

#[test]
fn min_owners_override_is_audited() {
    let served = Served::start("min-owners-override", GUARD_SPACES);
    let policy = served.file("policy.yaml", TWO_OWNERS);
    let audit = served.path("audit.jsonl");

    let no_reason = served.run(&["apply", "--yes", "--min-owners", "1"], &policy);
    assert_eq!(no_reason.status.code(), Some(2), "{}", describe(&no_reason));
    assert!(
        stderr(&no_reason).contains("--min-owners 1 (the policy asks for 2)"),
        "{}",
        describe(&no_reason)
    );

    let output = served.run(
        &[
            "apply",
            "--yes",
            "--min-owners",
            "1",
            "--reason",
            "dave left",
            "--audit-log",
            audit.to_str().unwrap(),
        ],
        &policy,
    );
    assert_eq!(output.status.code(), Some(0), "{}", describe(&output));
    let lines = audit_lines(&audit);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0]["member"], "dave@example.com");
    assert_eq!(lines[0]["reason"], "offboarded");
    assert_eq!(lines[0]["override_reason"], "dave left");
}

/// Three spaces each owned by dave alone: offboarding him takes a promotion
/// and a removal per space.
const THREE_SPACES: &str = r#"spaces:
  - name: spaces/AAAAeng
    type: SPACE
    memberships:
      - {user: "100000000003", role: ROLE_MANAGER}
      - {user: "100000000002"}
  - name: spaces/AAAAhr
    type: SPACE
    memberships:
      - {user: "100000000003", role: ROLE_MANAGER}
      - {user: "100000000006"}
  - name: spaces/AAAAops
    type: SPACE
    memberships:
      - {user: "100000000003", role: ROLE_MANAGER}
      - {user: "100000000005"}
"#;

const OFFBOARD_DAVE: &str = r#"version: 1
offboard: [dave@example.com]
successors: [carol@example.com, frank@example.com, erin@example.com]
spaces:
  - {space: spaces/AAAAeng, mode: additive}
  - {space: spaces/AAAAhr, mode: additive}
  - {space: spaces/AAAAops, mode: additive}
"#;

#[test]
fn max_operations_converges_in_three_runs() {
    let served = Served::start("max-operations", THREE_SPACES);
    let policy = served.file("policy.yaml", OFFBOARD_DAVE);
    let expected = [(3, 2, 4), (3, 2, 2), (0, 2, 0)];
    for (run, (exit, applied, left)) in expected.into_iter().enumerate() {
        // 3 would split the second promotion from its removal.
        let output = served.run(
            &[
                "apply",
                "--yes",
                "--max-operations",
                "3",
                "--output",
                "jsonl",
            ],
            &policy,
        );
        assert_eq!(
            output.status.code(),
            Some(exit),
            "run {run}: {}",
            describe(&output)
        );
        let summary = last_summary(&output);
        assert_eq!(summary["applied"], applied, "run {run}: {summary}");
        assert_eq!(summary["left"], left, "run {run}: {summary}");
        let owners = owners(&served.snapshot());
        assert!(
            owners.values().all(|&count| count >= 1),
            "run {run}: {owners:?}"
        );
    }
    let again = served.run(&["plan", "--detailed-exitcode"], &policy);
    assert_eq!(again.status.code(), Some(0), "{}", describe(&again));
    assert_eq!(served.emulator().counters().only_owner_refusals, 0);
}

/// Adds frank, promotes alice, removes bob, erin and dave.
const DRIFT_POLICY: &str = r#"version: 1
guards: {max_removed_fraction: 1}
spaces:
  - space: spaces/AAAAeng
    owners: [alice@example.com]
    members: [carol@example.com, frank@example.com]
"#;

const DRIFT_SPACE: &str = r#"spaces:
  - name: spaces/AAAAeng
    type: SPACE
    memberships:
      - {user: "100000000003", role: ROLE_MANAGER}
      - {user: "100000000001"}
      - {user: "100000000002"}
      - {user: "100000000004"}
      - {user: "100000000005"}
"#;

#[test]
fn saved_plan_skips_exactly_drifted_operations() {
    let served = Served::start("saved-plan", DRIFT_SPACE);
    let policy = served.file("policy.yaml", DRIFT_POLICY);
    let saved = served.path("plan.json");
    let planned = served.run(&["plan", "--out", saved.to_str().unwrap()], &policy);
    assert_eq!(planned.status.code(), Some(0), "{}", describe(&planned));
    let document: Value = serde_json::from_str(&fs::read_to_string(&saved).unwrap()).unwrap();
    assert_eq!(document["format_version"], 1);
    assert_eq!(document["policy_sha256"].as_str().unwrap().len(), 64);
    assert_eq!(document["observed"][0]["name"], "spaces/AAAAeng");
    assert_eq!(
        document["plan"]["spaces"][0]["operations"]
            .as_array()
            .unwrap()
            .len(),
        5
    );

    // Someone removes bob and makes erin a manager by hand.
    served.send(
        reqwest::Method::DELETE,
        "v1/spaces/AAAAeng/members/100000000004",
        None,
    );
    served.send(
        reqwest::Method::PATCH,
        "v1/spaces/AAAAeng/members/100000000005?updateMask=role",
        Some(serde_json::json!({"role": "ROLE_ASSISTANT_MANAGER"})),
    );

    let output = served.run(
        &[
            "apply",
            "--yes",
            "--plan",
            saved.to_str().unwrap(),
            "--output",
            "jsonl",
        ],
        &policy,
    );
    let records = records(&output);
    let drifted: Vec<(String, String)> = records
        .iter()
        .filter(|record| record["type"] == "drifted")
        .map(|record| {
            (
                record["kind"].as_str().unwrap().to_string(),
                record["member"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        drifted,
        [
            ("remove".to_string(), "bob@example.com".to_string()),
            ("remove".to_string(), "erin@example.com".to_string()),
        ],
        "{}",
        describe(&output)
    );
    let applied: Vec<String> = records
        .iter()
        .filter(|record| record["type"] == "operation_finished" && record["outcome"] == "applied")
        .map(|record| {
            format!(
                "{} {}",
                record["kind"].as_str().unwrap(),
                record["member"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(applied.len(), 3, "{applied:?}\n{}", describe(&output));
    assert_eq!(output.status.code(), Some(4), "{}", describe(&output));
    let summary = last_summary(&output);
    assert_eq!(summary["drifted"], 2);
    assert_eq!(summary["applied"], 3);
}

#[test]
fn saved_plan_from_other_policy_is_refused() {
    let served = Served::start("saved-plan-stale", DRIFT_SPACE);
    let policy = served.file("policy.yaml", DRIFT_POLICY);
    let saved = served.path("plan.json");
    let planned = served.run(&["plan", "--out", saved.to_str().unwrap()], &policy);
    assert_eq!(planned.status.code(), Some(0), "{}", describe(&planned));
    fs::write(&policy, format!("{DRIFT_POLICY}# edited\n")).unwrap();
    let requests = served.emulator().counters().requests;

    let output = served.run(
        &["apply", "--yes", "--plan", saved.to_str().unwrap()],
        &policy,
    );
    assert_eq!(output.status.code(), Some(2), "{}", describe(&output));
    assert!(
        stderr(&output).contains("another version of the policy"),
        "{}",
        describe(&output)
    );
    assert_eq!(served.emulator().counters().requests, requests);
}

#[test]
fn lock_file_held_by_live_process_refuses() {
    let served = Served::start("lock-held", GUARD_SPACES);
    let policy = served.file("policy.yaml", TWO_OWNERS);
    let lock = served.file("run.lock", &format!("{}\n", std::process::id()));
    let output = served.run(&["plan", "--lock-file", lock.to_str().unwrap()], &policy);
    assert_eq!(output.status.code(), Some(1), "{}", describe(&output));
    let text = stderr(&output);
    assert!(
        text.contains(&format!("(process {})", std::process::id())),
        "{text}"
    );
    assert!(lock.exists());
    assert_eq!(served.emulator().counters().requests, 0);
}

#[cfg(target_os = "linux")]
#[test]
fn stale_lock_file_is_taken_over_and_removed() {
    let served = Served::start("lock-stale", GUARD_SPACES);
    let policy = served.file(
        "policy.yaml",
        "version: 1\nspaces:\n  - {space: spaces/AAAAops, mode: additive}\n",
    );
    // Above the kernel's largest process id, so never a running process.
    let lock = served.file("run.lock", "4194305\n");
    let output = served.run(&["plan", "--lock-file", lock.to_str().unwrap()], &policy);
    assert_eq!(output.status.code(), Some(0), "{}", describe(&output));
    assert!(
        stderr(&output).contains("stale lock file"),
        "{}",
        describe(&output)
    );
    assert!(!lock.exists());
}

#[test]
fn markdown_plan_is_a_table() {
    let served = Served::start("markdown", GUARD_SPACES);
    let policy = served.file("policy.yaml", TWO_OWNERS);
    let output = served.run(
        &["plan", "--format", "markdown", "--min-owners", "1"],
        &policy,
    );
    assert_eq!(output.status.code(), Some(0), "{}", describe(&output));
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("#### `spaces/AAAAops`"), "{text}");
    assert!(
        text.contains("| 0 | **remove** | dave@example.com | owner | offboarded |"),
        "{text}"
    );
}

/// The field table of each record type in docs/OUTPUT.md: name to (type,
/// optional).
fn documented_records() -> BTreeMap<String, BTreeMap<String, (String, bool)>> {
    let text = fs::read_to_string("docs/OUTPUT.md").unwrap();
    let section = text
        .split("## The JSON Lines stream")
        .nth(1)
        .unwrap()
        .split("\n## ")
        .next()
        .unwrap();
    let mut records = BTreeMap::new();
    let mut current: Option<String> = None;
    for line in section.lines() {
        if let Some(name) = line.strip_prefix("### `") {
            let name = name.trim_end_matches('`').to_string();
            records.insert(name.clone(), BTreeMap::new());
            current = Some(name);
        } else if let (Some(name), Some(row)) = (&current, line.strip_prefix("| `")) {
            let cells: Vec<&str> = row.split(" | ").collect();
            let field = cells[0].trim_end_matches('`').to_string();
            let kind = cells[1].trim();
            let optional = kind.ends_with("(optional)");
            let kind = kind.trim_end_matches("(optional)").trim().to_string();
            records
                .get_mut(name)
                .unwrap()
                .insert(field, (kind, optional));
        }
    }
    records
}

fn type_matches(kind: &str, value: &Value) -> bool {
    kind.split(" or ").any(|option| match option {
        "string" => value.is_string(),
        "integer" => value.is_u64() || value.is_i64(),
        "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        "object" => value.is_object(),
        "array" => value.is_array(),
        "null" => value.is_null(),
        other => panic!("unknown type `{other}` in docs/OUTPUT.md"),
    })
}

fn check_against_docs(output: &Output, seen: &mut Vec<String>) {
    let documented = documented_records();
    for record in records(output) {
        let kind = record["type"].as_str().expect("every record has a type");
        let fields = documented
            .get(kind)
            .unwrap_or_else(|| panic!("record type `{kind}` is not in docs/OUTPUT.md"));
        let object = record.as_object().unwrap();
        for (name, value) in object {
            let (field_type, _) = fields
                .get(name)
                .unwrap_or_else(|| panic!("`{kind}.{name}` is not in docs/OUTPUT.md: {record}"));
            assert!(
                type_matches(field_type, value),
                "`{kind}.{name}` is not {field_type}: {record}"
            );
        }
        for (name, (_, optional)) in fields {
            assert!(
                *optional || object.contains_key(name),
                "`{kind}` lacks `{name}`: {record}"
            );
        }
        seen.push(kind.to_string());
    }
}

#[test]
fn jsonl_matches_output_doc() {
    let mut seen = Vec::new();

    let served = Served::start("jsonl-doc", GUARD_SPACES);
    let refused = served.file("refused.yaml", MOST_REMOVED);
    let output = served.run(&["apply", "--yes", "--output", "jsonl"], &refused);
    check_against_docs(&output, &mut seen);

    let policy = served.file(
        "policy.yaml",
        "version: 1\nprotect: [alice@example.com]\noffboard: [dave@example.com]\nspaces:\n  - space: spaces/AAAAops\n    display_name: Wrong\n    members: [alice@example.com, bob@example.com, carol@example.com]\n",
    );
    let planned = served.run(&["plan", "--output", "jsonl"], &policy);
    check_against_docs(&planned, &mut seen);
    let applied = served.run(
        &[
            "apply",
            "--yes",
            "--format",
            "json",
            "--allow-protected",
            "--reason",
            "alice stays owner",
        ],
        &policy,
    );
    assert_eq!(applied.status.code(), Some(4), "{}", describe(&applied));
    check_against_docs(&applied, &mut seen);

    let drift = Served::start("jsonl-doc-drift", DRIFT_SPACE);
    let drift_policy = drift.file("policy.yaml", DRIFT_POLICY);
    let saved = drift.path("plan.json");
    drift.run(&["plan", "--out", saved.to_str().unwrap()], &drift_policy);
    drift.send(
        reqwest::Method::DELETE,
        "v1/spaces/AAAAeng/members/100000000004",
        None,
    );
    let output = drift.run(
        &[
            "apply",
            "--yes",
            "--output",
            "jsonl",
            "--plan",
            saved.to_str().unwrap(),
        ],
        &drift_policy,
    );
    check_against_docs(&output, &mut seen);

    for kind in chat_reconcile::report::jsonl::RECORD_TYPES {
        if kind == "operation_retrying" {
            continue; // Needs a fault; its fields match `operation_started` plus three.
        }
        if kind == "preflight_refusal" || kind == "sweep" {
            continue; // Checked in cli_preflight.rs and cli_offboard.rs.
        }
        assert!(
            seen.iter().any(|s| s == kind),
            "no `{kind}` record was printed: {seen:?}"
        );
    }
    let documented = documented_records();
    for kind in chat_reconcile::report::jsonl::RECORD_TYPES {
        assert!(documented.contains_key(kind), "`{kind}` is not documented");
    }
}

#[test]
fn json_logs_are_one_object_per_line() {
    let served = Served::start("json-logs", GUARD_SPACES);
    let policy = served.file("policy.yaml", TWO_OWNERS);
    let output = served.run(&["plan", "--log-format", "json", "-vv"], &policy);
    assert_eq!(output.status.code(), Some(5), "{}", describe(&output));
    let text = stderr(&output);
    let logs: Vec<Value> = text
        .lines()
        .filter(|line| line.starts_with('{'))
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{line:?}: {e}")))
        .collect();
    assert!(!logs.is_empty(), "no JSON log line in:\n{text}");
    assert!(logs.iter().all(|log| log["level"].is_string()), "{logs:?}");
}

/// Alice is an owner of Ops but only a manager of Engineering, where dave is
/// the only owner. Emails are hidden, so preflight must look Alice up.
const PREFLIGHT_SPACES: &str = r#"show_emails: false
callers:
  - token: alice-token
    kind: user
    user: "100000000001"
    scopes: [chat.memberships, chat.spaces.readonly]
spaces:
  - name: spaces/AAAAeng
    type: SPACE
    memberships:
      - {user: "100000000003", role: ROLE_MANAGER}
      - {user: "100000000001", role: ROLE_ASSISTANT_MANAGER}
      - {user: "100000000002"}
  - name: spaces/AAAAops
    type: SPACE
    memberships:
      - {user: "100000000003", role: ROLE_MANAGER}
      - {user: "100000000001", role: ROLE_MANAGER}
      - {user: "100000000002"}
"#;

/// Dave leaves both spaces; carol takes over Engineering.
const PREFLIGHT_POLICY: &str = r#"version: 1
offboard: [dave@example.com]
spaces:
  - space: spaces/AAAAeng
    mode: additive
    owners: [carol@example.com]
  - space: spaces/AAAAops
    mode: additive
"#;

fn run_as_alice(served: &Served, args: &[&str], policy: &Path) -> Output {
    Command::new(BINARY)
        .args(args)
        .args(["--caller", "Alice@Example.com", "--policy"])
        .arg(policy)
        .args(["--endpoint", &served.url])
        .env("GOOGLE_OAUTH_ACCESS_TOKEN", "alice-token")
        .env_remove("CHAT_RECONCILE_ENDPOINT")
        .env_remove("CHAT_RECONCILE_CALLER")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .output()
        .expect("binary runs")
}

#[test]
fn preflight_marks_owner_changes() {
    let served = Served::start("preflight", PREFLIGHT_SPACES);
    let policy = served.file("policy.yaml", PREFLIGHT_POLICY);

    let output = run_as_alice(&served, &["plan"], &policy);
    assert_eq!(output.status.code(), Some(0), "{}", describe(&output));
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        text.contains("the API is expected to reject 2 operations for alice@example.com"),
        "{text}"
    );
    assert!(
        text.contains("spaces/AAAAeng #0 carol@example.com: only an owner"),
        "{text}"
    );
    assert!(
        text.contains("spaces/AAAAeng #1 dave@example.com: only an owner"),
        "{text}"
    );
    assert!(
        !text.contains("spaces/AAAAops #"),
        "Alice owns Ops:\n{text}"
    );

    // The JSON Lines records match docs/OUTPUT.md.
    let jsonl = run_as_alice(&served, &["plan", "--output", "jsonl"], &policy);
    let mut seen = Vec::new();
    check_against_docs(&jsonl, &mut seen);
    let refusals = seen
        .iter()
        .filter(|kind| *kind == "preflight_refusal")
        .count();
    assert_eq!(refusals, 2, "{seen:?}");

    // The emulator rejects exactly what preflight predicted.
    let applied = run_as_alice(&served, &["apply", "--yes"], &policy);
    assert_eq!(applied.status.code(), Some(4), "{}", describe(&applied));
    let snapshot = served.snapshot();
    let ops = snapshot.space("spaces/AAAAops").unwrap();
    assert!(
        ops.membership("users/100000000003").is_none(),
        "dave left Ops"
    );
    let eng = snapshot.space("spaces/AAAAeng").unwrap();
    assert!(
        eng.membership("users/100000000003").is_some(),
        "dave stays in Engineering"
    );
    assert_eq!(served.emulator().counters().only_owner_refusals, 0);
}

/// Ops: the policy demotes alice, who is protected, and offboards dave.
const DEMOTES_PROTECTED: &str = r#"version: 1
protect: [alice@example.com]
offboard: [dave@example.com]
spaces:
  - space: spaces/AAAAops
    mode: additive
    members: [alice@example.com]
"#;

#[test]
fn protect_refuses_run() {
    let served = Served::start("protect-refuses", GUARD_SPACES);
    let policy = served.file("policy.yaml", DEMOTES_PROTECTED);

    let plan: &[&str] = &["plan"];
    let apply: &[&str] = &["apply", "--yes"];
    for args in [plan, apply] {
        let output = served.run(args, &policy);
        assert_eq!(output.status.code(), Some(5), "{}", describe(&output));
        let text = stderr(&output);
        assert!(
            text.contains("alice@example.com in spaces/AAAAops"),
            "{}",
            describe(&output)
        );
        assert!(text.contains("--allow-protected"), "{}", describe(&output));
    }
    assert_eq!(served.writes(), 0, "a refused run wrote");
}

#[test]
fn protect_override_is_audited() {
    let served = Served::start("protect-override", GUARD_SPACES);
    let policy = served.file("policy.yaml", DEMOTES_PROTECTED);
    let audit = served.path("audit.jsonl");

    let no_reason = served.run(&["apply", "--yes", "--allow-protected"], &policy);
    assert_eq!(no_reason.status.code(), Some(2), "{}", describe(&no_reason));

    let output = served.run(
        &[
            "apply",
            "--yes",
            "--allow-protected",
            "--reason",
            "alice keeps her role",
            "--audit-log",
            audit.to_str().unwrap(),
        ],
        &policy,
    );
    // Dave leaves; alice's demotion stays blocked, which exits 4.
    assert_eq!(output.status.code(), Some(4), "{}", describe(&output));
    let lines = audit_lines(&audit);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0]["member"], "dave@example.com");
    assert_eq!(lines[0]["override_reason"], "alice keeps her role");
    let snapshot = served.snapshot();
    let ops = snapshot.space("spaces/AAAAops").unwrap();
    assert!(
        ops.owners().contains(&"users/100000000001"),
        "alice lost her role"
    );
}
