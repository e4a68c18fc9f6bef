//! The command-line arguments, as clap reads them. Syntax only: values are
//! checked here, files are read later.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{ArgAction, Args, Parser, Subcommand, ValueEnum};
use url::Url;

use crate::exit::Exit;

/// Keep Google Chat space memberships in line with a YAML policy.
///
/// `plan` is a dry run: it observes the spaces the policy names and prints
/// what would change. `apply` makes the changes.
#[derive(Debug, Parser)]
#[command(name = "chat-reconcile", version, after_help = Exit::help_table())]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,

    /// Print more log lines on stderr: -v info, -vv debug, -vvv trace.
    /// RUST_LOG, if set, takes precedence.
    #[arg(short, long, action = ArgAction::Count, global = true, help_heading = "Logging")]
    pub verbose: u8,

    /// Print only errors on stderr, and no progress.
    #[arg(short, long, global = true, help_heading = "Logging")]
    pub quiet: bool,

    /// Format of the log lines on stderr: `text`, or `json` for one JSON
    /// object per line.
    #[arg(long, value_enum, value_name = "FORMAT", default_value_t = LogFormat::Text, global = true, help_heading = "Logging")]
    pub log_format: LogFormat,
}

/// Format of the log lines on stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show the changes the policy requires, without making them.
    #[command(after_help = Exit::help_table())]
    Plan(PlanArgs),
    /// Make the changes the policy requires, then verify the result.
    #[command(after_help = Exit::help_table())]
    Apply(ApplyArgs),
    /// Remove departing users from every space found, handing over
    /// ownership first. A dry run unless --apply is given.
    #[command(after_help = super::offboard::AFTER_HELP)]
    Offboard(super::offboard::OffboardArgs),
    /// Write the current memberships of spaces as a policy in exact mode.
    Export(super::export::ExportArgs),
    /// Serve a local Chat API emulator from a state file, until Ctrl-C.
    Emulator(EmulatorArgs),
    /// Print a shell completion script on stdout.
    Completions(CompletionsArgs),
    /// Print the manual page (roff) on stdout.
    Man,
    /// Sign in once in a browser (OAuth installed-app flow) and store the
    /// tokens, for later runs with --client-secret.
    Login(super::login::LoginArgs),
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for, such as `bash`: save the output where the
    /// shell loads completions, e.g.
    /// `chat-reconcile completions bash > /etc/bash_completion.d/chat-reconcile`.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub common: CommonArgs,

    /// Exit with 3 when changes are pending, instead of 0.
    #[arg(long, help_heading = "Output")]
    pub detailed_exitcode: bool,

    /// Also save the plan to FILE as JSON, with the policy's hash and the
    /// observed state of the spaces it changes, for `apply --plan FILE`.
    #[arg(long, value_name = "FILE", help_heading = "Output")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    #[command(flatten)]
    pub common: CommonArgs,

    /// Apply without asking for confirmation. Required when stdin is not a
    /// terminal.
    #[arg(short, long, help_heading = "Apply")]
    pub yes: bool,

    /// Skip observing the changed spaces again after the apply.
    #[arg(long, help_heading = "Apply")]
    pub no_verify: bool,

    /// Apply a plan saved by `plan --out FILE` instead of planning anew.
    /// Operations whose starting state changed since are skipped.
    #[arg(long, value_name = "FILE", help_heading = "Apply")]
    pub plan: Option<PathBuf>,

    /// Apply at most N operations, in plan order, and leave the rest for the
    /// next run (exit 3). A promotion and the removal that needs it are
    /// never split; a first group larger than N runs whole.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..), help_heading = "Apply")]
    pub max_operations: Option<u64>,

    /// Let this run through the removal guards (`max_removals`,
    /// `max_removed_fraction`) if it removes at most N members. Needs
    /// --reason.
    #[arg(long, value_name = "N", requires = "reason", help_heading = "Guards")]
    pub allow_removals: Option<usize>,

    /// Let this run through the `protect` guard: the rest of the plan is
    /// applied and the protected members the policy would change stay as
    /// they are. Needs --reason.
    #[arg(long, requires = "reason", help_heading = "Guards")]
    pub allow_protected: bool,

    /// Why the guards are overridden: recorded in the audit log with every
    /// operation. Required by --allow-removals, --allow-protected and by a
    /// guard flag that loosens the policy's value.
    #[arg(long, value_name = "TEXT", value_parser = non_blank, help_heading = "Guards")]
    pub reason: Option<String>,

    /// Append one JSON line per applied or failed operation to FILE: time,
    /// caller, space, member, operation, outcome, reason, override reason.
    #[arg(
        long,
        value_name = "FILE",
        env = "CHAT_RECONCILE_AUDIT_LOG",
        help_heading = "Output"
    )]
    pub audit_log: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct EmulatorArgs {
    /// The emulator's YAML state file: tokens, users, groups, spaces.
    #[arg(long, value_name = "FILE")]
    pub state: PathBuf,

    /// Address to listen on.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8085")]
    pub listen: SocketAddr,

    /// Override one quota bucket, as BUCKET=RATE: `all=google` for Google's
    /// published quotas, `per_space_writes=2/s`, `membership_writes=300/min`,
    /// `membership_reads=off`. Repeatable; applied after the state file.
    #[arg(long, value_name = "BUCKET=RATE", help_heading = "Quotas and faults")]
    pub quota: Vec<String>,

    /// Inject a fault or latency, as METHOD:NAME=VALUE: `'*:latency=20ms'`,
    /// `spaces.members.delete:error_503=0.1` (a fraction of requests),
    /// `*:reset=0.01`, `*:hang=0.01`. Repeatable; applied after the state
    /// file.
    #[arg(
        long,
        value_name = "METHOD:NAME=VALUE",
        help_heading = "Quotas and faults"
    )]
    pub fault: Vec<String>,

    /// Seed of the fault generator, so that a run injects the same faults
    /// again. Without one, the emulator picks a seed and reports it in its
    /// counters.
    #[arg(long, value_name = "N", help_heading = "Quotas and faults")]
    pub fault_seed: Option<u64>,
}

/// Arguments shared by `plan` and `apply`.
#[derive(Debug, Args)]
pub struct CommonArgs {
    /// The YAML policy file.
    #[arg(long, value_name = "FILE", env = "CHAT_RECONCILE_POLICY")]
    pub policy: PathBuf,

    /// Output format on stdout: a table for people, or JSON (one document for
    /// `plan`, JSON Lines for `apply`).
    #[arg(long, value_enum, default_value_t = Format::Table, help_heading = "Output")]
    pub format: Format,

    /// Print JSON Lines on stdout: one object per plan entry and per event,
    /// each with a `type` field, as docs/OUTPUT.md describes. Takes the
    /// place of --format.
    #[arg(long, value_enum, value_name = "FORMAT", help_heading = "Output")]
    pub output: Option<OutputFormat>,

    /// Hold this lock file for the whole run, so that two runs never
    /// overlap. A second run exits 1 and names the process holding it.
    #[arg(long, value_name = "PATH", env = "CHAT_RECONCILE_LOCK_FILE")]
    pub lock_file: Option<PathBuf>,

    #[command(flatten)]
    pub guards: GuardArgs,

    /// Email of the user the access token acts for. With it, `plan` and
    /// `apply` check each operation against that user's role in the space
    /// (preflight) and list those the API would reject: only an owner may
    /// remove an owner, change an owner's role or make a member an owner.
    /// Without it, no preflight runs.
    #[arg(
        long,
        value_name = "EMAIL",
        env = "CHAT_RECONCILE_CALLER",
        value_parser = parse_caller,
        conflicts_with = "admin",
        help_heading = "Preflight"
    )]
    pub caller: Option<String>,

    /// Use administrator access: send useAdminAccess=true and ask for the
    /// chat.admin.* scopes. Needs a Workspace administrator with the Chat
    /// privilege. Admin mode cannot see or change app memberships.
    #[arg(long, help_heading = "Connection")]
    pub admin: bool,

    #[command(flatten)]
    pub connection: ConnectionArgs,

    #[command(flatten)]
    pub limits: LimitArgs,
}

/// Checks `--caller` and lowercases it, as emails compare without case.
fn parse_caller(text: &str) -> Result<String, String> {
    crate::policy::member::parse_email(text).map_err(|invalid| invalid.reason)
}

#[derive(Debug, Args)]
#[command(next_help_heading = "Connection")]
pub struct ConnectionArgs {
    /// Base URL of the Chat API.
    #[arg(
        long,
        value_name = "URL",
        env = "CHAT_RECONCILE_ENDPOINT",
        default_value = "https://chat.googleapis.com"
    )]
    pub endpoint: Url,

    /// File holding an OAuth access token. Without it, the token is read
    /// from the GOOGLE_OAUTH_ACCESS_TOKEN environment variable.
    #[arg(long, value_name = "PATH", env = "CHAT_RECONCILE_ACCESS_TOKEN_FILE")]
    pub access_token_file: Option<PathBuf>,

    /// Service account key file (JSON). Without it, the file named by
    /// GOOGLE_APPLICATION_CREDENTIALS is used when --impersonate or --app is
    /// given. Scopes requested (under https://www.googleapis.com/auth/):
    /// `plan`, `export` and dry runs: chat.memberships.readonly and
    /// chat.spaces.readonly; `apply`: chat.memberships and
    /// chat.spaces.readonly. Admin mode uses the chat.admin.* forms; --app
    /// uses chat.bot, plus chat.app.memberships to write.
    #[arg(long, value_name = "KEY.json", conflicts_with = "access_token_file")]
    pub credentials: Option<PathBuf>,

    /// OAuth client secret of a Desktop app: act as the person who signed in
    /// with `chat-reconcile login`, refreshing the stored tokens. Never opens
    /// a browser: without a valid sign-in the run fails at once.
    #[arg(
        long,
        value_name = "FILE",
        env = "CHAT_RECONCILE_CLIENT_SECRET",
        conflicts_with_all = ["access_token_file", "credentials"]
    )]
    pub client_secret: Option<PathBuf>,

    /// The token cache `login` wrote. Default:
    /// `$XDG_CONFIG_HOME/chat-reconcile/token-cache.json` (else under
    /// `~/.config`).
    #[arg(long, value_name = "PATH", env = "CHAT_RECONCILE_TOKEN_CACHE")]
    pub token_cache: Option<PathBuf>,

    /// With a service account: act for this user through domain-wide
    /// delegation. An administrator must authorise the account's client id
    /// for the scopes in the Admin console.
    #[arg(
        long,
        value_name = "EMAIL",
        env = "CHAT_RECONCILE_IMPERSONATE",
        conflicts_with = "access_token_file"
    )]
    pub impersonate: Option<String>,

    /// With a service account: act as its Chat app (app authentication,
    /// chat.bot and chat.app.* scopes). An app may not remove groups or
    /// other apps, nor use admin mode.
    #[arg(long, conflicts_with_all = ["impersonate", "access_token_file"])]
    pub app: bool,

    /// Run against an in-process emulator loaded from this state file, on
    /// 127.0.0.1 with a free port. Nothing leaves the machine. Cannot be
    /// combined with --endpoint (or CHAT_RECONCILE_ENDPOINT) or
    /// --access-token-file.
    #[arg(
        long,
        value_name = "STATE",
        conflicts_with_all = ["access_token_file", "endpoint", "credentials", "app"]
    )]
    pub emulator: Option<PathBuf>,
}

/// Guard limits that take the place of the policy's `guards:` values.
#[derive(Debug, Args)]
#[command(next_help_heading = "Guards")]
pub struct GuardArgs {
    /// Refuse the run if it removes more than N members over all spaces.
    /// Default: the policy's guards.max_removals, else no limit.
    #[arg(long, value_name = "N")]
    pub max_removals: Option<usize>,

    /// Refuse the run if it removes more than this share (0 to 1) of one
    /// space's memberships. Default: the policy's value, else 0.5.
    #[arg(long, value_name = "FRACTION", value_parser = fraction)]
    pub max_removed_fraction: Option<f64>,

    /// Refuse the run if it leaves a space with fewer joined owners than N
    /// (and fewer than it had). Default: the policy's value, else 1.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub min_owners: Option<u64>,
}

#[derive(Debug, Args)]
#[command(next_help_heading = "Limits")]
pub struct LimitArgs {
    /// Spaces worked on at the same time.
    #[arg(long, value_name = "N", default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..))]
    pub concurrency: u32,

    /// Membership writes (create, delete) per minute for the whole project.
    #[arg(long, value_name = "N", default_value_t = 300, value_parser = clap::value_parser!(u32).range(1..))]
    pub writes_per_minute: u32,

    /// Reads per minute for the whole project, applied to membership reads
    /// (get, list) and, as a separate quota of the same size, to space reads
    /// (spaces.get, list, search).
    #[arg(long, value_name = "N", default_value_t = 3000, value_parser = clap::value_parser!(u32).range(1..))]
    pub reads_per_minute: u32,

    /// Writes (create, delete, role change) per second in one space.
    #[arg(long, value_name = "RATE", default_value_t = 1.0, value_parser = positive_rate)]
    pub space_writes_per_second: f64,

    /// Reads per second in one space.
    #[arg(long, value_name = "RATE", default_value_t = 15.0, value_parser = positive_rate)]
    pub space_reads_per_second: f64,

    /// Attempts per request, the first included. Transient failures (such
    /// as 429, 503, timeouts) are retried after 1 s, doubling up to 32 s, plus
    /// up to 1 s of random jitter.
    #[arg(long, value_name = "N", default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_attempts: u32,
}

/// Output format of `plan` and `apply` on stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    /// `plan`: one JSON document. `apply`: the same JSON Lines as
    /// `--output jsonl`.
    Json,
    /// `plan` only: Markdown for a code-review comment.
    Markdown,
}

/// The machine-readable stream of `--output`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Jsonl,
}

fn fraction(value: &str) -> Result<f64, String> {
    let number: f64 = value
        .parse()
        .map_err(|_| format!("`{value}` is not a number"))?;
    if (0.0..=1.0).contains(&number) {
        Ok(number)
    } else {
        Err(format!("`{value}` must be from 0 to 1"))
    }
}

fn non_blank(value: &str) -> Result<String, String> {
    if value.trim().is_empty() {
        Err("the reason must not be empty".to_string())
    } else {
        Ok(value.trim().to_string())
    }
}

fn positive_rate(value: &str) -> Result<f64, String> {
    let rate: f64 = value
        .parse()
        .map_err(|_| format!("`{value}` is not a number"))?;
    if rate.is_finite() && rate > 0.0 {
        Ok(rate)
    } else {
        Err(format!("`{value}` must be a number above 0"))
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn cli_definition_is_valid() {
        Cli::command().debug_assert();
    }

    #[test]
    fn positive_rate_rejects_zero() {
        assert!(positive_rate("0").is_err());
        assert!(positive_rate("-1").is_err());
        assert!(positive_rate("inf").is_err());
        assert_eq!(positive_rate("0.5"), Ok(0.5));
    }
}
