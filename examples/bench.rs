//! Benchmarks: how close a run gets to the API's quotas, and how planning
//! scales.
//!
//! ```sh
//! cargo build --release --bin chat-reconcile
//! cargo run --release --example bench -- --scenario all --output docs/BENCHMARKS.md
//! ```
//!
//! Each network scenario starts `chat-reconcile emulator` as its own process
//! with the scenario's quotas and latency, then runs the tool's release
//! binary (or, for the sequential loop, the library client) against it. The
//! scale scenario runs in child processes of this example, one per size, so
//! that each size's peak RSS is measured on its own. `--output FILE` replaces
//! the part of FILE between the `bench:begin` and `bench:end` markers with
//! the results; without it the results go to stdout.

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use chat_reconcile::chat::auth::{AccessToken, StaticToken};
use chat_reconcile::chat::model::{MembershipRole, MembershipState, SpaceType, UserType};
use chat_reconcile::chat::{ChatClient, ClientOptions};
use chat_reconcile::observe::{ObservedMember, ObservedMembership, ObservedSpace, ObservedState};
use serde_json::Value;

const TOKEN: &str = "bench-token";
const BEGIN_MARKER: &str = "<!-- bench:begin -->";
const END_MARKER: &str = "<!-- bench:end -->";

/// Latency the network scenarios add to every response, and the jitter on top.
const LATENCY: &str = "20ms";
const JITTER: &str = "10ms";

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(position) = args.iter().position(|arg| arg == "--scale-child") {
        let memberships = parse_number(args.get(position + 1), "--scale-child MEMBERSHIPS")?;
        let spaces = parse_number(args.get(position + 2), "--scale-child SPACES")?;
        return scale_child(memberships, spaces);
    }

    let options = Options::parse(&args)?;
    rustls::crypto::ring::default_provider()
        .install_default()
        .map_err(|_| anyhow!("could not install the ring crypto provider"))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;

    let started = utc_now();
    let load_before = load_average();
    let mut rows = Vec::new();
    let mut notes = Vec::new();
    let wanted = |name: &str| options.scenario == "all" || options.scenario == name;

    if wanted("apply") {
        let result = runtime.block_on(apply_scenario(&options))?;
        eprintln!("apply: {result:?}");
        rows.push(result.row());
        notes.push(result.note());
    }
    if wanted("loop") {
        let result = runtime.block_on(loop_scenario(&options))?;
        eprintln!("loop: {result:?}");
        rows.push(result.row());
        notes.push(result.note());
    }
    if wanted("observe") {
        let result = runtime.block_on(observe_scenario(&options))?;
        eprintln!("observe: {result:?}");
        rows.push(result.row());
        notes.push(result.note());
    }
    if wanted("scale") {
        let (scale_rows, note) = scale_scenario(&options)?;
        rows.extend(scale_rows);
        notes.push(note);
    }
    if rows.is_empty() {
        bail!(
            "unknown scenario {:?}; expected apply, loop, observe, scale or all",
            options.scenario
        );
    }

    let report = render_report(&options, &started, &load_before, &rows, &notes);
    match &options.output {
        Some(path) => write_between_markers(path, &report)?,
        None => print!("{report}"),
    }
    Ok(())
}

/// Command-line options of the benchmark.
struct Options {
    scenario: String,
    /// Divides the sizes of the network scenarios (not their rates), for a
    /// quick try-out.
    divisor: usize,
    binary: PathBuf,
    output: Option<PathBuf>,
    /// Spaces worked on at the same time by the tool.
    concurrency: u32,
    command_line: String,
}

impl Options {
    fn parse(args: &[String]) -> anyhow::Result<Self> {
        let mut options = Options {
            scenario: "all".to_string(),
            divisor: 1,
            binary: PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/release/chat-reconcile"),
            output: None,
            concurrency: 200,
            command_line: std::iter::once("cargo run --release --example bench --".to_string())
                .chain(args.iter().cloned())
                .collect::<Vec<_>>()
                .join(" "),
        };
        let mut iter = args.iter();
        while let Some(flag) = iter.next() {
            let mut value = || {
                iter.next()
                    .cloned()
                    .ok_or_else(|| anyhow!("{flag} needs a value"))
            };
            match flag.as_str() {
                "--scenario" => options.scenario = value()?,
                "--divisor" => options.divisor = parse_number(Some(&value()?), "--divisor")?.max(1),
                "--binary" => options.binary = PathBuf::from(value()?),
                "--output" => options.output = Some(PathBuf::from(value()?)),
                "--concurrency" => {
                    options.concurrency = parse_number(Some(&value()?), "--concurrency")? as u32
                }
                other => bail!(
                    "unknown flag {other}; expected --scenario NAME, --divisor N, --binary PATH, --output FILE or --concurrency N"
                ),
            }
        }
        if !options.binary.exists() && options.scenario != "scale" {
            bail!(
                "{} not found; build it first with `cargo build --release --bin chat-reconcile`, or pass --binary PATH",
                options.binary.display()
            );
        }
        Ok(options)
    }
}

fn parse_number(text: Option<&String>, what: &str) -> anyhow::Result<usize> {
    let text = text.ok_or_else(|| anyhow!("{what} needs a number"))?;
    text.replace(['_', ','], "")
        .parse()
        .with_context(|| format!("invalid number {text:?} for {what}"))
}

// ---------------------------------------------------------------------------
// The emulator process

/// `chat-reconcile emulator` running as a child process.
struct EmulatorProcess {
    child: Child,
    url: String,
    http: reqwest::Client,
}

impl EmulatorProcess {
    fn start(binary: &Path, state: &Path, flags: &[String]) -> anyhow::Result<Self> {
        let mut child = Command::new(binary)
            .arg("emulator")
            .arg("--state")
            .arg(state)
            .args(["--listen", "127.0.0.1:0"])
            .args(flags)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("could not start {}", binary.display()))?;
        let stderr = child.stderr.take().expect("stderr is piped");
        let mut lines = BufReader::new(stderr).lines();
        let mut early = Vec::new();
        let url = loop {
            let Some(line) = lines.next() else {
                let _ = child.wait();
                bail!(
                    "the emulator exited before it listened:\n{}",
                    early.join("\n")
                );
            };
            let line = line?;
            early.push(line.clone());
            if let Some(rest) = line.strip_prefix("emulator listening on ") {
                break rest
                    .split_whitespace()
                    .next()
                    .unwrap_or_default()
                    .to_string();
            }
        };
        // Keep draining stderr so the emulator never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Ok(Self {
            child,
            url,
            http: reqwest::Client::new(),
        })
    }

    async fn counters(&self) -> anyhow::Result<Value> {
        let url = format!("{}emulator/v1/counters", self.url);
        Ok(self.http.get(url).send().await?.json().await?)
    }

    fn client(&self) -> anyhow::Result<ChatClient> {
        let tokens = Arc::new(StaticToken::new(AccessToken::new(TOKEN.to_string())));
        Ok(ChatClient::new(
            &url::Url::parse(&self.url)?,
            tokens,
            ClientOptions::default(),
        )?)
    }
}

impl Drop for EmulatorProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sum of the 429s the emulator sent, over every quota bucket.
fn quota_refusals(counters: &Value) -> u64 {
    counters["quota"]
        .as_object()
        .map(|buckets| {
            buckets
                .values()
                .map(|bucket| bucket["exhausted"].as_u64().unwrap_or(0))
                .sum()
        })
        .unwrap_or(0)
}

fn method_count(counters: &Value, method: &str) -> u64 {
    counters["requests_by_method"][method].as_u64().unwrap_or(0)
}

fn work_dir(name: &str) -> anyhow::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!(
        "chat-reconcile-bench-{}-{name}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

fn user_id(index: usize) -> String {
    format!("{}", 100_000_000_000u64 + index as u64)
}

fn latency_flags() -> Vec<String> {
    vec![
        "--fault".into(),
        format!("*:latency={LATENCY}"),
        "--fault".into(),
        format!("*:jitter={JITTER}"),
    ]
}

fn quota_flags(settings: &[&str]) -> Vec<String> {
    settings
        .iter()
        .flat_map(|setting| ["--quota".to_string(), setting.to_string()])
        .collect()
}

// ---------------------------------------------------------------------------
// Scenarios 1 and 2: removals

/// The organisation of the removal scenarios: `spaces` spaces, each with one
/// owner the policy keeps and `per_space` members it removes.
struct RemovalOrg {
    spaces: usize,
    per_space: usize,
}

impl RemovalOrg {
    fn new(options: &Options) -> Self {
        Self {
            spaces: 1500 / options.divisor,
            per_space: 4,
        }
    }

    fn space(&self, index: usize) -> String {
        format!("spaces/BENCH{index:06}")
    }

    /// Returns the user removed as the `slot`-th member of space `index`.
    fn member(&self, index: usize, slot: usize) -> usize {
        1 + (index * self.per_space + slot) % 5000
    }

    fn state_yaml(&self) -> String {
        let mut text = format!("tokens: [{TOKEN}]\nusers:\n");
        for user in 0..=5000 {
            let _ = writeln!(
                text,
                "  - {{id: \"{}\", email: user{user}@example.com}}",
                user_id(user)
            );
        }
        text.push_str("spaces:\n");
        for index in 0..self.spaces {
            let _ = writeln!(
                text,
                "  - name: {}\n    display_name: Bench {index}\n    type: SPACE\n    memberships:",
                self.space(index)
            );
            let _ = writeln!(
                text,
                "      - {{user: \"{}\", role: ROLE_MANAGER}}",
                user_id(0)
            );
            for slot in 0..self.per_space {
                let _ = writeln!(
                    text,
                    "      - {{user: \"{}\"}}",
                    user_id(self.member(index, slot))
                );
            }
        }
        text
    }

    fn policy_yaml(&self) -> String {
        let mut text = "version: 1\nspaces:\n".to_string();
        for index in 0..self.spaces {
            let _ = writeln!(
                text,
                "  - space: {}\n    owners: [users/{}]",
                self.space(index),
                user_id(0)
            );
        }
        text
    }

    fn removals(&self) -> usize {
        self.spaces * self.per_space
    }

    /// Returns the quota-bound ideal: the larger of all writes over the
    /// project rate and the busiest space's writes over the per-space rate.
    fn ideal(&self, writes_per_minute: f64, space_writes_per_second: f64) -> Duration {
        let project = self.removals() as f64 / (writes_per_minute / 60.0);
        let space = self.per_space as f64 / space_writes_per_second;
        Duration::from_secs_f64(project.max(space))
    }
}

#[derive(Debug)]
struct ApplyResult {
    removals: usize,
    applied: u64,
    wall: Duration,
    ideal: Duration,
    tool_429s: u64,
    emulator_429s: u64,
    concurrency: u32,
    writes_per_minute: u32,
}

impl ApplyResult {
    fn row(&self) -> Row {
        Row {
            scenario: "1. apply".into(),
            size: format!("{} removals, {} per space", self.removals, 4),
            measured: format!("{:.1} s", self.wall.as_secs_f64()),
            ideal: format!("{:.1} s", self.ideal.as_secs_f64()),
            ratio: format!("{:.3}", ratio(self.wall, self.ideal)),
            extra: format!(
                "applied {}, 429s {} (tool saw {})",
                self.applied, self.emulator_429s, self.tool_429s
            ),
        }
    }

    fn note(&self) -> String {
        format!(
            "Apply: `--writes-per-minute {} --space-writes-per-second 1 --concurrency {}`, emulator `--quota membership_writes={}/min --quota per_space_writes=1/s`, latency {LATENCY} plus up to {JITTER} jitter. The time is the apply phase from the tool's JSON summary (observation excluded, `--no-verify`).",
            self.writes_per_minute, self.concurrency, self.writes_per_minute
        )
    }
}

async fn apply_scenario(options: &Options) -> anyhow::Result<ApplyResult> {
    let org = RemovalOrg::new(options);
    let dir = work_dir("apply")?;
    let state = dir.join("state.yaml");
    let policy = dir.join("policy.yaml");
    std::fs::write(&state, org.state_yaml())?;
    std::fs::write(&policy, org.policy_yaml())?;

    let writes_per_minute = 6000;
    let mut flags = quota_flags(&[
        "all=off",
        &format!("membership_writes={writes_per_minute}/min"),
        "per_space_writes=1/s",
    ]);
    flags.extend(latency_flags());
    let emulator = EmulatorProcess::start(&options.binary, &state, &flags)?;

    let output = Command::new(&options.binary)
        .args([
            "apply",
            "--yes",
            "--no-verify",
            "--format",
            "json",
            "--quiet",
        ])
        .arg("--policy")
        .arg(&policy)
        .args(["--endpoint", &emulator.url])
        .args(["--writes-per-minute", &writes_per_minute.to_string()])
        .args(["--space-writes-per-second", "1"])
        .args(["--reads-per-minute", "1000000"])
        .args(["--space-reads-per-second", "1000"])
        .args(["--concurrency", &options.concurrency.to_string()])
        .env("GOOGLE_OAUTH_ACCESS_TOKEN", TOKEN)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .context("could not run chat-reconcile apply")?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let finished = stdout
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .find(|record| record["type"] == "run_finished")
        .ok_or_else(|| {
            anyhow!(
                "apply printed no run_finished record; exit {}",
                output.status
            )
        })?;
    let summary = &finished["summary"];
    let counters = emulator.counters().await?;
    let _ = std::fs::remove_dir_all(&dir);

    Ok(ApplyResult {
        removals: org.removals(),
        applied: summary["applied"].as_u64().unwrap_or(0),
        wall: Duration::from_millis(summary["duration_ms"].as_u64().unwrap_or(0)),
        ideal: org.ideal(f64::from(writes_per_minute), 1.0),
        tool_429s: summary["rate_limited"].as_u64().unwrap_or(0),
        emulator_429s: quota_refusals(&counters),
        concurrency: options.concurrency,
        writes_per_minute,
    })
}

#[derive(Debug)]
struct LoopResult {
    removals: usize,
    deleted: usize,
    wall: Duration,
    emulator_429s: u64,
}

impl LoopResult {
    fn row(&self) -> Row {
        let project_ideal = Duration::from_secs_f64(self.removals as f64 / 100.0);
        Row {
            scenario: "2. sequential loop".into(),
            size: format!("{} removals", self.removals),
            measured: format!("{:.1} s", self.wall.as_secs_f64()),
            ideal: format!("{:.1} s", project_ideal.as_secs_f64()),
            ratio: format!("{:.3}", ratio(self.wall, project_ideal)),
            extra: format!("deleted {}, 429s {}", self.deleted, self.emulator_429s),
        }
    }

    fn note(&self) -> String {
        format!(
            "Sequential loop: one `spaces.members.delete` after another through the library client, no limiter and no concurrency, as Google's sample does in a loop, against the same emulator settings. The removals go round-robin over the spaces, so no space gets two writes within a second. {:.1} requests per second.",
            self.deleted as f64 / self.wall.as_secs_f64()
        )
    }
}

async fn loop_scenario(options: &Options) -> anyhow::Result<LoopResult> {
    let org = RemovalOrg::new(options);
    let dir = work_dir("loop")?;
    let state = dir.join("state.yaml");
    std::fs::write(&state, org.state_yaml())?;
    let writes_per_minute = 6000;
    let mut flags = quota_flags(&[
        "all=off",
        &format!("membership_writes={writes_per_minute}/min"),
        "per_space_writes=1/s",
    ]);
    flags.extend(latency_flags());
    let emulator = EmulatorProcess::start(&options.binary, &state, &flags)?;
    let client = emulator.client()?;

    let started = Instant::now();
    let mut deleted = 0;
    for slot in 0..org.per_space {
        for index in 0..org.spaces {
            let name = format!(
                "{}/members/{}",
                org.space(index),
                user_id(org.member(index, slot))
            );
            if client.delete_member(&name).await.is_ok() {
                deleted += 1;
            }
        }
    }
    let wall = started.elapsed();
    let counters = emulator.counters().await?;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(LoopResult {
        removals: org.removals(),
        deleted,
        wall,
        emulator_429s: quota_refusals(&counters),
    })
}

// ---------------------------------------------------------------------------
// Scenario 3: observe

#[derive(Debug)]
struct ObserveResult {
    spaces: usize,
    memberships: usize,
    wall: Duration,
    ideal: Duration,
    space_reads: u64,
    membership_reads: u64,
    emulator_429s: u64,
    exit: i32,
}

impl ObserveResult {
    fn row(&self) -> Row {
        Row {
            scenario: "3. observe".into(),
            size: format!("{} spaces, {} memberships", self.spaces, self.memberships),
            measured: format!("{:.1} s", self.wall.as_secs_f64()),
            ideal: format!("{:.1} s", self.ideal.as_secs_f64()),
            ratio: format!("{:.3}", ratio(self.wall, self.ideal)),
            extra: format!(
                "{} space reads, {} membership reads, 429s {}, exit {}",
                self.space_reads, self.membership_reads, self.emulator_429s, self.exit
            ),
        }
    }

    fn note(&self) -> String {
        "Observe: `chat-reconcile plan` with the default read limits (3,000 membership reads and 3,000 space reads per minute, 15 reads per second per space) and concurrency 8, against an emulator with Google's default quotas and the same latency. The time is the whole process, start to exit; the ideal is the larger of space reads over 3,000/min, membership reads over 3,000/min and the busiest space's reads over 15/s.".to_string()
    }
}

/// Returns the member count of observe space `index`: mostly small spaces, some mid-sized,
/// and one in fifty above one page of 1,000.
fn observe_space_size(index: usize) -> usize {
    let draw = (index * 7919) % 100;
    match draw {
        0..=1 => 1001 + (index * 31) % 600,
        2..=16 => 31 + (index * 13) % 370,
        _ => 3 + (index * 7) % 28,
    }
}

async fn observe_scenario(options: &Options) -> anyhow::Result<ObserveResult> {
    let spaces = 5000 / options.divisor;
    let users = 3000;
    let dir = work_dir("observe")?;
    let state = dir.join("state.yaml");
    let policy = dir.join("policy.yaml");

    let mut memberships = 0;
    let mut busiest_pages = 1;
    let mut text = format!("tokens: [{TOKEN}]\nusers:\n");
    for user in 0..users {
        let _ = writeln!(
            text,
            "  - {{id: \"{}\", email: user{user}@example.com}}",
            user_id(user)
        );
    }
    text.push_str("spaces:\n");
    let mut policy_text = "version: 1\nspaces:\n".to_string();
    for index in 0..spaces {
        let name = format!("spaces/OBS{index:06}");
        let size = observe_space_size(index);
        memberships += size;
        busiest_pages = busiest_pages.max(size.div_ceil(1000));
        let _ = writeln!(
            text,
            "  - name: {name}\n    display_name: Observe {index}\n    type: SPACE\n    memberships:"
        );
        let _ = writeln!(
            text,
            "      - {{user: \"{}\", role: ROLE_MANAGER}}",
            user_id(index % users)
        );
        for slot in 1..size {
            let _ = writeln!(
                text,
                "      - {{user: \"{}\"}}",
                user_id((index + slot) % users)
            );
        }
        let _ = writeln!(policy_text, "  - space: {name}\n    mode: additive");
    }
    std::fs::write(&state, text)?;
    std::fs::write(&policy, policy_text)?;

    let mut flags = quota_flags(&["all=google"]);
    flags.extend(latency_flags());
    let emulator = EmulatorProcess::start(&options.binary, &state, &flags)?;

    let started = Instant::now();
    let output = Command::new(&options.binary)
        .args(["plan", "--format", "json", "--quiet"])
        .arg("--policy")
        .arg(&policy)
        .args(["--endpoint", &emulator.url])
        .env("GOOGLE_OAUTH_ACCESS_TOKEN", TOKEN)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .status()
        .context("could not run chat-reconcile plan")?;
    let wall = started.elapsed();

    let counters = emulator.counters().await?;
    let space_reads =
        method_count(&counters, "spaces.get") + method_count(&counters, "spaces.list");
    let membership_reads = method_count(&counters, "spaces.members.list")
        + method_count(&counters, "spaces.members.get");
    let per_minute = 3000.0 / 60.0;
    let ideal = (space_reads as f64 / per_minute)
        .max(membership_reads as f64 / per_minute)
        .max((1 + busiest_pages) as f64 / 15.0);
    let _ = std::fs::remove_dir_all(&dir);

    Ok(ObserveResult {
        spaces,
        memberships,
        wall,
        ideal: Duration::from_secs_f64(ideal),
        space_reads,
        membership_reads,
        emulator_429s: quota_refusals(&counters),
        exit: output.code().unwrap_or(-1),
    })
}

// ---------------------------------------------------------------------------
// Scenario 4: scale

/// What one scale child measured.
#[derive(Debug, serde::Deserialize, serde::Serialize)]
struct ScaleMeasurement {
    memberships: usize,
    spaces: usize,
    operations: usize,
    parse_ms: f64,
    /// Best of five runs of `plan::plan`, in CPU milliseconds of the
    /// planning thread.
    plan_cpu_ms: f64,
    /// Peak RSS once the policy is parsed, before the observed state exists.
    parse_peak_rss_mb: f64,
    peak_rss_mb: f64,
}

fn scale_scenario(options: &Options) -> anyhow::Result<(Vec<Row>, String)> {
    let sizes = [(100_000, 2_000), (1_000_000, 20_000)];
    let mut measurements = Vec::new();
    for (memberships, spaces) in sizes {
        let output = Command::new(std::env::current_exe()?)
            .args([
                "--scale-child",
                &memberships.to_string(),
                &spaces.to_string(),
            ])
            .stderr(Stdio::inherit())
            .output()
            .context("could not run the scale child")?;
        if !output.status.success() {
            bail!(
                "the scale child for {memberships} memberships failed: {}",
                output.status
            );
        }
        let measurement: ScaleMeasurement = serde_json::from_slice(&output.stdout)?;
        eprintln!("scale: {measurement:?}");
        measurements.push(measurement);
    }
    let _ = options;

    let rows = measurements
        .iter()
        .map(|m| Row {
            scenario: "4. scale".into(),
            size: format!("{} memberships, {} spaces", m.memberships, m.spaces),
            measured: format!("plan {:.0} ms CPU", m.plan_cpu_ms),
            ideal: "< 1,000 ms".into(),
            ratio: "".into(),
            extra: format!(
                "{} operations; policy parse {:.0} ms, peak RSS {:.0} MB after the parse, {:.0} MB for the whole run",
                m.operations, m.parse_ms, m.parse_peak_rss_mb, m.peak_rss_mb
            ),
        })
        .collect();
    let growth = measurements[1].plan_cpu_ms / measurements[0].plan_cpu_ms;
    let note = format!(
        "Scale: in-process, no network. A generated observed state and a policy (YAML text through `policy::parse`) that keeps most members, removes about 5%, adds about 2% and changes about 1% of roles, and offboards one person present in every space. Planning time is the CPU time of `plan::plan` on its thread, best of five; peak RSS is the child process's VmHWM (state, policy text, policy and plan together). 10x the input took {growth:.1}x the planning time."
    );
    Ok((rows, note))
}

/// A short user id for the scale scenario, so that a policy naming
/// 1,000,000 memberships stays under the 16 MiB policy size limit.
fn scale_user_id(index: usize) -> String {
    format!("{}", 10_000 + index)
}

/// One generated space of the scale scenario: its memberships, and the
/// owners and members its policy entry lists.
struct ScaleSpace {
    name: String,
    memberships: Vec<ObservedMembership>,
    owners: Vec<usize>,
    members: Vec<usize>,
}

/// Users of the scale scenario; user `SCALE_USERS` is offboarded and sits
/// in every space.
const SCALE_USERS: usize = 50_000;

fn scale_space(index: usize, per_space: usize) -> ScaleSpace {
    let name = format!("spaces/SCALE{index:07}");
    let offboarded = SCALE_USERS;
    let mut memberships = Vec::with_capacity(per_space);
    let mut owners = Vec::new();
    let mut members = Vec::new();
    for slot in 0..per_space {
        let user = if slot == per_space - 1 {
            offboarded
        } else {
            (index * 37 + slot * 101) % SCALE_USERS
        };
        let role = if slot == 0 {
            MembershipRole::Manager
        } else {
            MembershipRole::Member
        };
        memberships.push(ObservedMembership {
            name: format!("{name}/members/{}", scale_user_id(user)),
            member: ObservedMember::User {
                id: format!("users/{}", scale_user_id(user)),
                email: Some(format!("user{user}@example.com")),
                user_type: UserType::Human,
            },
            role,
            state: MembershipState::Joined,
            affiliation: None,
            create_time: Some(format!(
                "2021-01-01T00:{:02}:{:02}Z",
                slot / 60 % 60,
                slot % 60
            )),
        });
        if user == offboarded {
            continue;
        }
        // Slot 0 stays owner; about 5% of the others are left out (removed)
        // and 1% listed as owner (role change).
        match slot % 100 {
            _ if slot == 0 => owners.push(user),
            7 | 23 | 41 | 59 | 88 => {}
            50 => owners.push(user),
            _ => members.push(user),
        }
    }
    memberships.sort_by(|a, b| a.name.cmp(&b.name));
    // About 2% new members to add.
    for extra in 0..per_space.div_ceil(50) {
        members.push(SCALE_USERS + 1 + (index * 7 + extra) % 10_000);
    }
    ScaleSpace {
        name,
        memberships,
        owners,
        members,
    }
}

/// Builds one scale size, plans it and prints a [`ScaleMeasurement`] as JSON.
///
/// The order follows a real run: the policy is read and its text dropped
/// before the observed state exists.
fn scale_child(memberships: usize, spaces: usize) -> anyhow::Result<()> {
    let per_space = memberships / spaces;
    let list = |ids: &[usize]| {
        ids.iter()
            .map(|id| format!("users/{}", scale_user_id(*id)))
            .collect::<Vec<_>>()
            .join(", ")
    };

    let mut policy_text = String::with_capacity(memberships * 16);
    let _ = writeln!(
        policy_text,
        "version: 1\noffboard: [users/{}]\nspaces:",
        scale_user_id(SCALE_USERS)
    );
    for index in 0..spaces {
        let space = scale_space(index, per_space);
        let _ = writeln!(
            policy_text,
            "  - space: {}\n    owners: [{}]\n    members: [{}]",
            space.name,
            list(&space.owners),
            list(&space.members)
        );
    }
    let parse_started = Instant::now();
    let policy = chat_reconcile::policy::parse(&policy_text, "scale.yaml")
        .map_err(|error| anyhow!("{error}"))?;
    let parse_ms = parse_started.elapsed().as_secs_f64() * 1000.0;
    drop(policy_text);
    let parse_peak_rss_mb = peak_rss_kb()? as f64 / 1024.0;

    let mut observed = ObservedState::default();
    for index in 0..spaces {
        let space = scale_space(index, per_space);
        observed.spaces.push(ObservedSpace {
            name: space.name,
            display_name: None,
            space_type: SpaceType::Space,
            memberships: space.memberships,
        });
    }
    observed.spaces.sort_by(|a, b| a.name.cmp(&b.name));
    if std::env::var_os("BENCH_DEBUG_RSS").is_some() {
        eprintln!(
            "rss before planning: {} kB, peak {} kB",
            current_rss_kb()?,
            peak_rss_kb()?
        );
    }

    let mut best = f64::MAX;
    let mut operations = 0;
    for _ in 0..5 {
        let before = thread_cpu_ns()?;
        let plan = chat_reconcile::plan::plan(&policy, &observed);
        let after = thread_cpu_ns()?;
        best = best.min((after - before) as f64 / 1e6);
        operations = plan.operation_count();
        drop(plan);
    }

    let measurement = ScaleMeasurement {
        memberships: spaces * per_space,
        spaces,
        operations,
        parse_ms,
        plan_cpu_ms: best,
        parse_peak_rss_mb,
        peak_rss_mb: peak_rss_kb()? as f64 / 1024.0,
    };
    println!("{}", serde_json::to_string(&measurement)?);
    Ok(())
}

/// CPU time of the calling thread, in nanoseconds, from the first field of
/// `/proc/thread-self/schedstat`.
fn thread_cpu_ns() -> anyhow::Result<u64> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat")
        .context("could not read /proc/thread-self/schedstat (Linux only)")?;
    text.split_whitespace()
        .next()
        .and_then(|field| field.parse().ok())
        .ok_or_else(|| anyhow!("unexpected /proc/thread-self/schedstat: {text:?}"))
}

/// Resident set size of this process (VmRSS), in KiB.
fn current_rss_kb() -> anyhow::Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| anyhow!("no VmRSS line in /proc/self/status"))
}

/// Peak resident set size of this process (VmHWM), in KiB.
fn peak_rss_kb() -> anyhow::Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| anyhow!("no VmHWM line in /proc/self/status"))
}

// ---------------------------------------------------------------------------
// The report

struct Row {
    scenario: String,
    size: String,
    measured: String,
    ideal: String,
    ratio: String,
    extra: String,
}

fn ratio(measured: Duration, ideal: Duration) -> f64 {
    measured.as_secs_f64() / ideal.as_secs_f64()
}

fn render_report(
    options: &Options,
    started: &str,
    load_before: &str,
    rows: &[Row],
    notes: &[String],
) -> String {
    let mut text = String::new();
    let _ = writeln!(text, "Command: `{}`", options.command_line);
    let _ = writeln!(text);
    let _ = writeln!(
        text,
        "Machine: {}, {} logical CPUs; load average {} before and {} after. Date: {started}.",
        cpu_model(),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        load_before,
        load_average()
    );
    let _ = writeln!(text);
    let _ = writeln!(
        text,
        "| scenario | size | measured | ideal | ratio | notes |"
    );
    let _ = writeln!(text, "|---|---|---|---|---|---|");
    for row in rows {
        let _ = writeln!(
            text,
            "| {} | {} | {} | {} | {} | {} |",
            row.scenario, row.size, row.measured, row.ideal, row.ratio, row.extra
        );
    }
    let _ = writeln!(text);
    for note in notes {
        let _ = writeln!(text, "- {note}");
    }
    text
}

fn write_between_markers(path: &Path, report: &str) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("could not read {}", path.display()))?;
    let (Some(begin), Some(end)) = (text.find(BEGIN_MARKER), text.find(END_MARKER)) else {
        bail!(
            "{} has no {BEGIN_MARKER} ... {END_MARKER} block to replace",
            path.display()
        );
    };
    let updated = format!("{}{BEGIN_MARKER}\n{report}{}", &text[..begin], &text[end..]);
    std::fs::write(path, updated).with_context(|| format!("could not write {}", path.display()))?;
    eprintln!("wrote the results to {}", path.display());
    Ok(())
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find_map(|line| line.strip_prefix("model name"))
                .map(|rest| rest.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_else(|| "unknown CPU".to_string())
}

fn load_average() -> String {
    let mut text = String::new();
    let _ =
        std::fs::File::open("/proc/loadavg").and_then(|mut file| file.read_to_string(&mut text));
    text.split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

/// The current UTC date and time, from `date -u`, without a date crate.
fn utc_now() -> String {
    Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .ok()
        .map(|output| String::from_utf8_lossy(&output.stdout).trim().to_string())
        .unwrap_or_default()
}
