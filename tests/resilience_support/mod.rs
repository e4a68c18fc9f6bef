//! Shared by the resilience tests: a standalone emulator process, the real
//! binary, and a generated organisation whose policy needs every kind of
//! operation (adds, promotions, demotions, removals, and an offboarded owner
//! whose removal waits for a successor).

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use serde_json::Value;

pub const BINARY: &str = env!("CARGO_BIN_EXE_chat-reconcile");
pub const TOKEN: &str = "resilience-token";

/// Limits high enough that the tool's own pacing never slows a test down.
pub const FAST_LIMITS: [&str; 10] = [
    "--writes-per-minute",
    "600000",
    "--reads-per-minute",
    "600000",
    "--space-writes-per-second",
    "100",
    "--space-reads-per-second",
    "100",
    "--concurrency",
    "8",
];

/// A temporary directory removed when dropped.
pub struct WorkDir(pub PathBuf);

impl WorkDir {
    pub fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "cr-resilience-{name}-{}-{}",
            std::process::id(),
            rand::random::<u32>()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    pub fn write(&self, file: &str, text: &str) -> PathBuf {
        let path = self.0.join(file);
        std::fs::write(&path, text).unwrap();
        path
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `chat-reconcile emulator` as a child process, killed when dropped.
pub struct Standalone {
    child: Child,
    pub url: String,
}

impl Standalone {
    pub fn start(state: &Path, flags: &[String]) -> Self {
        let mut child = Command::new(BINARY)
            .arg("emulator")
            .arg("--state")
            .arg(state)
            .args(["--listen", "127.0.0.1:0"])
            .args(flags)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("emulator starts");
        let stderr = child.stderr.take().unwrap();
        let mut lines = BufReader::new(stderr).lines();
        let mut early = Vec::new();
        let url = loop {
            let Some(line) = lines.next() else {
                panic!(
                    "the emulator exited before it listened:\n{}",
                    early.join("\n")
                );
            };
            let line = line.unwrap();
            early.push(line.clone());
            if let Some(rest) = line.split("listening on ").nth(1) {
                break rest.split_whitespace().next().unwrap().to_string();
            }
        };
        // Keep reading stderr so the emulator never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        Self { child, url }
    }

    /// Builds a command for the real binary, pointed at this emulator.
    pub fn command(&self, args: &[&str], policy: &Path) -> Command {
        let mut command = Command::new(BINARY);
        command
            .args(args)
            .arg("--policy")
            .arg(policy)
            .args(["--endpoint", &self.url])
            .env("GOOGLE_OAUTH_ACCESS_TOKEN", TOKEN)
            .env_remove("CHAT_RECONCILE_ENDPOINT")
            .env_remove("CHAT_RECONCILE_POLICY")
            .stdin(Stdio::null());
        command
    }

    pub fn run(&self, args: &[&str], policy: &Path) -> Output {
        self.command(args, policy).output().expect("binary runs")
    }

    pub fn inspect(&self, route: &str) -> Value {
        let url = format!("{}emulator/v1/{route}", self.url);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let _ = rustls::crypto::ring::default_provider().install_default();
            reqwest::get(url).await.unwrap().json().await.unwrap()
        })
    }

    pub fn counters(&self) -> Value {
        self.inspect("counters")
    }

    /// Fetches the emulator's request log.
    pub fn requests(&self) -> Vec<Value> {
        self.inspect("requests")["requests"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }
}

impl Drop for Standalone {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn describe(output: &Output) -> String {
    format!(
        "exit {:?}\nstdout (last 4000 bytes):\n{}\nstderr (last 4000 bytes):\n{}",
        output.status.code(),
        tail(&String::from_utf8_lossy(&output.stdout)),
        tail(&String::from_utf8_lossy(&output.stderr))
    )
}

fn tail(text: &str) -> &str {
    let start = text.len().saturating_sub(4000);
    let start = (start..=text.len())
        .find(|index| text.is_char_boundary(*index))
        .unwrap_or(text.len());
    &text[start..]
}

/// Parses the JSON Lines records of an `apply --format json` run.
pub fn records(output: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect()
}

fn user_id(index: usize) -> String {
    format!("{}", 200_000_000_000u64 + index as u64)
}

fn email(index: usize) -> String {
    format!("person{index}@example.com")
}

/// Users of space `space`: its first member is the owner the policy
/// offboards, the next six are members, and one more person is added.
const MEMBERS_PER_SPACE: usize = 7;

fn member_of(space: usize, slot: usize) -> usize {
    if slot == 0 {
        0
    } else {
        1 + (space * 3 + slot) % 60
    }
}

/// Builds an emulator state of `spaces` spaces for [`policy_yaml`].
pub fn state_yaml(spaces: usize) -> String {
    let mut text = format!("tokens: [{TOKEN}]\nusers:\n");
    for user in 0..=200 {
        let _ = writeln!(
            text,
            "  - {{id: \"{}\", email: {}}}",
            user_id(user),
            email(user)
        );
    }
    text.push_str("spaces:\n");
    for space in 0..spaces {
        let _ = writeln!(
            text,
            "  - name: spaces/RES{space:05}\n    display_name: Resilience {space}\n    type: SPACE\n    create_time: \"2021-01-01T00:00:00Z\"\n    memberships:"
        );
        for slot in 0..MEMBERS_PER_SPACE {
            let role = if slot == 0 {
                "ROLE_MANAGER"
            } else {
                "ROLE_MEMBER"
            };
            let _ = writeln!(
                text,
                "      - {{user: \"{}\", role: {role}, create_time: \"2021-02-{:02}T00:00:00Z\"}}",
                user_id(member_of(space, slot)),
                slot + 1
            );
        }
    }
    text
}

/// Builds a policy over the spaces of [`state_yaml`]. Person 0, the owner
/// of every space, is offboarded. Slot 1 becomes owner (named by email) and
/// slot 2 manager. Slots 3 and 4 stay members, slots 5 and 6 are removed,
/// and one person is added. So each space has one add, two role changes
/// and three removals, and the owner's removal requires the promotion.
pub fn policy_yaml(spaces: usize) -> String {
    let mut text = format!("version: 1\noffboard: [{}]\nspaces:\n", email(0));
    for space in 0..spaces {
        let _ = writeln!(
            text,
            "  - space: spaces/RES{space:05}\n    owners: [{}]\n    managers: [users/{}]\n    members: [users/{}, {}, users/{}]",
            email(member_of(space, 1)),
            user_id(member_of(space, 2)),
            user_id(member_of(space, 3)),
            email(member_of(space, 4)),
            user_id(100 + space % 100),
        );
    }
    text
}

/// Counts, per `(HTTP method, path)`, the write requests that got a 2xx
/// status from the emulator.
pub fn successful_writes(requests: &[Value]) -> BTreeMap<(String, String), usize> {
    let mut counts = BTreeMap::new();
    for request in requests {
        let method = request["method"].as_str().unwrap_or_default();
        let status = request["status"].as_u64().unwrap_or(0);
        if method == "GET" || !(200..300).contains(&status) {
            continue;
        }
        let path = request["path"].as_str().unwrap_or_default().to_string();
        *counts.entry((method.to_string(), path)).or_insert(0) += 1;
    }
    counts
}
