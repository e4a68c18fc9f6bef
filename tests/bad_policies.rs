//! Malformed policies through the real binary: each must exit 2 with a
//! message that names the file and the place, and no request may reach the
//! API. The emulator runs as its own process, and its counters show that it
//! received nothing.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

const BINARY: &str = env!("CARGO_BIN_EXE_chat-reconcile");

/// One malformed policy file.
struct Case {
    name: &'static str,
    contents: Vec<u8>,
    /// `line:column` the first message must name after the file name, or
    /// `None` for problems of the whole file (the file name alone).
    at: Option<&'static str>,
    /// A phrase the output must contain.
    phrase: &'static str,
}

fn case(name: &'static str, yaml: &str, at: &'static str, phrase: &'static str) -> Case {
    Case {
        name,
        contents: yaml.as_bytes().to_vec(),
        at: Some(at),
        phrase,
    }
}

fn whole_file(name: &'static str, contents: Vec<u8>, phrase: &'static str) -> Case {
    Case {
        name,
        contents,
        at: None,
        phrase,
    }
}

/// A valid head, so that a case fails only on what it is about.
fn v1(body: &str) -> String {
    format!("version: 1\n{body}")
}

/// `v1` with one space entry whose body is `entry` (indented under it).
fn space(entry: &str) -> String {
    v1(&format!("spaces:\n  - space: spaces/AAAA6bHCiWM\n{entry}"))
}

fn cases() -> Vec<Case> {
    let mut cases = vec![
        // YAML syntax.
        case(
            "unclosed flow list",
            &space("    owners: [a@example.com\n"),
            "4:13",
            "unclosed bracket",
        ),
        case(
            "unclosed quote",
            &space("    owners: [\"a@example.com]\n"),
            "4:14",
            "unclosed quote",
        ),
        case(
            "tab indentation",
            "version: 1\nspaces:\n\t- space: spaces/A\n",
            "3:2",
            "tabs disallowed",
        ),
        case(
            "bad indentation",
            "version: 1\nspaces:\n  - space: spaces/A\n   owners: []\n",
            "4:4",
            "did not find expected '-'",
        ),
        case(
            "stray closing bracket",
            "version: 1\n]\n",
            "2:1",
            "misplaced bracket",
        ),
        case(
            "invalid escape",
            &space("    owners: [\"a\\qb@example.com\"]\n"),
            "4:14",
            "unknown escape character",
        ),
        case(
            "undefined alias",
            &space("    owners: *nobody\n"),
            "4:13",
            "reference to unknown value",
        ),
        case(
            "two documents",
            "version: 1\n---\nversion: 1\n",
            "3:1",
            "multiple found",
        ),
        case(
            "colon in plain value",
            &space("    display_name: a: b\n"),
            "4:20",
            "mapping values are not allowed",
        ),
        case(
            "key without value",
            "version: 1\nspaces\n",
            "2:1",
            "simple key expected ':'",
        ),
        // Wrong types.
        case(
            "version as string",
            "version: \"1\"\nspaces: []\n",
            "1:10",
            "version",
        ),
        case(
            "version 2",
            "version: 2\nspaces: []\n",
            "1:10",
            "unsupported policy version 2",
        ),
        case(
            "version as list",
            "version: [1]\nspaces: []\n",
            "1:10",
            "version",
        ),
        case(
            "version as float",
            "version: 1.5\nspaces: []\n",
            "1:10",
            "version",
        ),
        case(
            "spaces as map",
            &v1("spaces: {space: spaces/A}\n"),
            "2:9",
            "sequence",
        ),
        case(
            "spaces as string",
            &v1("spaces: spaces/A\n"),
            "2:9",
            "sequence",
        ),
        case(
            "space entry as string",
            &v1("spaces:\n  - spaces/A\n"),
            "3:5",
            "map",
        ),
        case(
            "owners as string",
            &space("    owners: a@example.com\n"),
            "4:13",
            "sequence",
        ),
        case(
            "owners as map",
            &space("    owners: {a: b}\n"),
            "4:13",
            "sequence",
        ),
        case(
            "members as numbers",
            &space("    members: [1, 2]\n"),
            "4:15",
            "invalid member \"1\"",
        ),
        case(
            "member as list",
            &space("    members: [[a@example.com]]\n"),
            "4:15",
            "string",
        ),
        case(
            "mode as boolean",
            &space("    mode: true\n"),
            "4:11",
            "expected one of exact, additive",
        ),
        case(
            "mode unknown",
            &space("    mode: strict\n"),
            "4:11",
            "strict",
        ),
        case(
            "display name as list",
            &space("    display_name: [a]\n"),
            "4:19",
            "string",
        ),
        case(
            "successors as string",
            &space("    successors: a@example.com\n"),
            "4:17",
            "sequence",
        ),
        case(
            "keep as number",
            &space("    keep: 3\n"),
            "4:11",
            "sequence",
        ),
        case(
            "protect as map",
            &v1("protect: {a: b}\nspaces: []\n"),
            "2:10",
            "sequence",
        ),
        case(
            "offboard as string",
            &v1("offboard: a@example.com\nspaces: []\n"),
            "2:11",
            "sequence",
        ),
        case(
            "fallback unknown",
            &v1("successor_fallback: oldest\nspaces: []\n"),
            "2:21",
            "oldest",
        ),
        case(
            "fallback as boolean",
            &v1("successor_fallback: yes\nspaces: []\n"),
            "2:21",
            "yes",
        ),
        case(
            "space name as number",
            &v1("spaces:\n  - space: 42\n"),
            "3:12",
            "does not start with spaces/",
        ),
        // Unknown keys.
        case(
            "unknown top-level key",
            &v1("spaecs: []\n"),
            "2:1",
            "spaecs",
        ),
        case(
            "unknown space key",
            &space("    owner: [a@example.com]\n"),
            "4:5",
            "owner",
        ),
        case(
            "capitalised key",
            &space("    Members: [a@example.com]\n"),
            "4:5",
            "Members",
        ),
        case("role key", &space("    role: owner\n"), "4:5", "role"),
        // Missing keys.
        case("missing version", "spaces: []\n", "1:1", "version"),
        case(
            "missing space name",
            &v1("spaces:\n  - owners: [a@example.com]\n"),
            "3:5",
            "space",
        ),
        // Duplicates.
        case(
            "duplicate version key",
            "version: 1\nversion: 1\nspaces: []\n",
            "2:1",
            "duplicate",
        ),
        case(
            "duplicate owners key",
            &space("    owners: [a@example.com]\n    owners: [b@example.com]\n"),
            "5:5",
            "duplicate",
        ),
        case(
            "duplicate space",
            &v1("spaces:\n  - space: spaces/A\n  - space: spaces/A\n"),
            "4:5",
            "spaces/A",
        ),
        case(
            "duplicate owner",
            &space("    owners: [a@example.com, a@example.com]\n"),
            "4:29",
            "a@example.com",
        ),
        case(
            "duplicate in other case",
            &space("    owners: [a@example.com]\n    members: [A@Example.com]\n"),
            "5:15",
            "a@example.com",
        ),
        // Invalid emails and names.
        case(
            "email without domain",
            &space("    owners: [bob@]\n"),
            "4:14",
            "bob@",
        ),
        case(
            "email without local part",
            &space("    owners: [\"@example.com\"]\n"),
            "4:14",
            "@example.com",
        ),
        case(
            "email with space",
            &space("    members: [bob smith@example.com]\n"),
            "4:15",
            "bob smith@example.com",
        ),
        case(
            "plain word member",
            &space("    members: [bob]\n"),
            "4:15",
            "bob",
        ),
        case(
            "user id not numeric",
            &space("    members: [users/abc]\n"),
            "4:15",
            "users/abc",
        ),
        case(
            "empty user id",
            &space("    members: [users/]\n"),
            "4:15",
            "users/",
        ),
        case(
            "empty group id",
            &space("    members: [groups/]\n"),
            "4:15",
            "groups/",
        ),
        case(
            "space without prefix",
            &v1("spaces:\n  - space: AAAA6bHCiWM\n"),
            "3:12",
            "AAAA6bHCiWM",
        ),
        case(
            "empty space id",
            &v1("spaces:\n  - space: spaces/\n"),
            "3:12",
            "the id after spaces/ is missing",
        ),
        case(
            "membership name as space",
            &v1("spaces:\n  - space: spaces/A/members/1\n"),
            "3:12",
            "spaces/A/members/1",
        ),
        case(
            "invalid protect email",
            &v1("protect: [ceo@]\nspaces: []\n"),
            "2:11",
            "ceo@",
        ),
        case(
            "invalid successor",
            &space("    successors: [users/x1]\n"),
            "4:18",
            "users/x1",
        ),
        // Conflicting roles.
        case(
            "owner and manager",
            &space("    owners: [a@example.com]\n    managers: [a@example.com]\n"),
            "5:16",
            "a@example.com",
        ),
        case(
            "manager and member",
            &space("    managers: [users/1]\n    members: [users/1]\n"),
            "5:15",
            "users/1",
        ),
        case(
            "protected and offboarded",
            &v1("protect: [ceo@example.com]\noffboard: [ceo@example.com]\nspaces: []\n"),
            "3:12",
            "ceo@example.com",
        ),
        case(
            "group as owner",
            &space("    owners: [groups/eng]\n"),
            "4:14",
            "groups/eng",
        ),
        case(
            "offboarded listed as owner",
            &v1(
                "offboard: [a@example.com]\nspaces:\n  - space: spaces/A\n    owners: [a@example.com]\n",
            ),
            "5:14",
            "a@example.com",
        ),
        // Empty and not a mapping.
        case("empty file", "", "1:1", "the policy is empty"),
        case(
            "only comments",
            "# nothing yet\n",
            "1:1",
            "the policy is empty",
        ),
        case("only a document marker", "---\n", "1:1", "empty"),
        case(
            "root is a list",
            "- version: 1\n",
            "1:1",
            "the policy is a list",
        ),
        case(
            "root is a string",
            "hello\n",
            "1:1",
            "the policy is a string",
        ),
    ];

    // Binary data.
    cases.push(Case {
        name: "invalid UTF-8",
        contents: b"version: 1\nspaces: [\xff\xfe]\n".to_vec(),
        at: Some("2:10"),
        phrase: "not UTF-8",
    });
    cases.push(Case {
        name: "NUL bytes",
        contents: b"version: 1\n\0\0\0\0spaces: []\n".to_vec(),
        at: Some("2:1"),
        phrase: "",
    });
    let noise: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    cases.push(Case {
        name: "random bytes",
        contents: noise,
        at: Some("1:2"),
        phrase: "not UTF-8",
    });

    // Deep nesting, alias bombs, huge files.
    let depth = 10_000;
    cases.push(case_owned(
        "deep flow nesting",
        format!("{}{}\n", "[".repeat(depth), "]".repeat(depth)),
        "1:17",
        "levels deep",
    ));
    cases.push(case_owned(
        "deep block nesting",
        format!("{}x\n", "- ".repeat(depth)),
        "1:33",
        "levels deep",
    ));
    let mut bomb = String::from("- &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for level in 1..9 {
        let previous = format!("*a{}", level - 1);
        let items = [previous.as_str(); 10].join(", ");
        bomb.push_str(&format!("- &a{level} [{items}]\n"));
    }
    cases.push(case_owned(
        "alias bomb",
        bomb,
        "6:18",
        "too large or too complex",
    ));
    let mut flood = v1("spaces:\n  - &s {space: spaces/A, members: [a@example.com]}\n");
    for _ in 0..20_000 {
        flood.push_str("  - *s\n");
    }
    cases.push(case_owned("alias flood", flood, "10004:5", "aliases"));
    let mut huge = v1("spaces:\n");
    while huge.len() <= 17 * 1024 * 1024 {
        huge.push_str("  # padding padding padding padding padding padding padding padding\n");
    }
    cases.push(whole_file(
        "huge file",
        huge.into_bytes(),
        "larger than 16 MiB",
    ));
    let mut long_line = v1("spaces:\n  - space: spaces/A\n    display_name: ");
    long_line.push_str(&"x".repeat(2 * 1024 * 1024));
    long_line.push_str("\n    owners: [bad@]\n");
    cases.push(case_owned(
        "long line before error",
        long_line,
        "5:14",
        "bad@",
    ));
    cases
}

fn case_owned(name: &'static str, yaml: String, at: &'static str, phrase: &'static str) -> Case {
    Case {
        name,
        contents: yaml.into_bytes(),
        at: Some(at),
        phrase,
    }
}

/// A standalone emulator, killed when dropped.
struct Standalone {
    child: Child,
    url: String,
}

impl Standalone {
    fn start() -> Self {
        let mut child = Command::new(BINARY)
            .args(["emulator", "--state", "examples/sample-org.yaml"])
            .args(["--listen", "127.0.0.1:0"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("emulator starts");
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let url = loop {
            let line = lines
                .next()
                .expect("the emulator prints its address")
                .unwrap();
            if let Some(rest) = line.split("listening on ").nth(1) {
                break rest.split_whitespace().next().unwrap().to_string();
            }
        };
        std::thread::spawn(move || lines.for_each(drop));
        Self { child, url }
    }

    fn requests(&self) -> u64 {
        let url = format!("{}emulator/v1/counters", self.url);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let counters: serde_json::Value = runtime.block_on(async {
            let _ = rustls::crypto::ring::default_provider().install_default();
            reqwest::get(url).await.unwrap().json().await.unwrap()
        });
        counters["requests"].as_u64().unwrap()
    }

    fn run(&self, command: &str, policy: &Path) -> Output {
        let mut args = vec![command];
        if command == "apply" {
            args.push("--yes");
        }
        Command::new(BINARY)
            .args(args)
            .arg("--policy")
            .arg(policy)
            .args(["--endpoint", &self.url])
            .env("GOOGLE_OAUTH_ACCESS_TOKEN", "demo-token")
            .env_remove("CHAT_RECONCILE_ENDPOINT")
            .stdin(Stdio::null())
            .output()
            .expect("binary runs")
    }
}

impl Drop for Standalone {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn work_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("cr-bad-policies-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Returns why `output` does not meet `case`, or `None`.
fn problem(case: &Case, path: &Path, output: &Output) -> Option<String> {
    let stderr = String::from_utf8_lossy(&output.stderr);
    let first = stderr.lines().next().unwrap_or_default().to_string();
    if output.status.code() != Some(2) {
        return Some(format!(
            "exit {:?}, expected 2; stderr: {first}",
            output.status.code()
        ));
    }
    if !output.stdout.is_empty() {
        return Some(format!(
            "printed to stdout: {}",
            String::from_utf8_lossy(&output.stdout)
        ));
    }
    let place = match case.at {
        Some(at) => format!("{}:{at}", path.display()),
        None => path.display().to_string(),
    };
    if !stderr.contains(&place) {
        return Some(format!("no {place} in stderr; first line: {first}"));
    }
    if !stderr.contains(case.phrase) {
        return Some(format!(
            "no {:?} in stderr; first line: {first}",
            case.phrase
        ));
    }
    if stderr.contains("panicked") {
        return Some(format!("panicked: {stderr}"));
    }
    None
}

#[test]
fn bad_policies_exit_2_without_requests() {
    let cases = cases();
    assert!(cases.len() >= 60, "only {} cases", cases.len());
    let emulator = Standalone::start();
    let dir = work_dir();

    let mut failures = Vec::new();
    for (number, case) in cases.iter().enumerate() {
        let path = dir.join(format!("case-{number:02}.yaml"));
        std::fs::write(&path, &case.contents).unwrap();
        // `apply` for every third case, `plan` for the others: both must
        // stop before their first request.
        let command = if number % 3 == 0 { "apply" } else { "plan" };
        let output = emulator.run(command, &path);
        if let Some(problem) = problem(case, &path, &output) {
            failures.push(format!("{} ({command}): {problem}", case.name));
        }
        let _ = std::fs::remove_file(&path);
    }
    let _ = std::fs::remove_dir_all(&dir);

    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert_eq!(emulator.requests(), 0, "a bad policy made a request");
}

#[test]
fn unreadable_policies_exit_2() {
    let emulator = Standalone::start();
    let dir = work_dir().join("unreadable");
    std::fs::create_dir_all(&dir).unwrap();

    let missing = dir.join("missing.yaml");
    let output = emulator.run("plan", &missing);
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(&missing.display().to_string()), "{stderr}");

    let output = emulator.run("apply", &dir);
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(&dir.display().to_string()), "{stderr}");

    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(
        emulator.requests(),
        0,
        "an unreadable policy made a request"
    );
}
