//! The command line: clap definitions and the runners of `plan`, `apply` and
//! `emulator`. The binary only parses arguments and calls [`run`].

mod args;
mod commands;
mod export;
mod lock;
pub mod login;
mod offboard;
mod output;
mod safety;
mod session;

use std::io::IsTerminal;

use clap::CommandFactory;
use indicatif::MultiProgress;
use tracing_subscriber::EnvFilter;

pub use args::{
    ApplyArgs, Cli, Command, CommonArgs, EmulatorArgs, Format, GuardArgs, LogFormat, OutputFormat,
    PlanArgs,
};

use crate::exit::Exit;
use crate::report::{LogWriter, ProgressMode, choose_progress, is_ci, multi_progress};

/// A run that ended early, with the exit it maps to.
#[derive(Debug)]
pub struct Failure {
    pub exit: Exit,
    pub error: anyhow::Error,
}

impl Failure {
    /// Builds a failure for a usage error or an invalid policy or state file
    /// (exit 2).
    pub fn usage(error: impl Into<anyhow::Error>) -> Self {
        Self {
            exit: Exit::Usage,
            error: error.into(),
        }
    }

    /// Builds a failure for credentials, network, API or verification
    /// (exit 1).
    pub fn failed(error: impl Into<anyhow::Error>) -> Self {
        Self {
            exit: Exit::Failure,
            error: error.into(),
        }
    }
}

/// Runs the command `cli` names and returns its exit. Errors are printed on
/// stderr with their cause chain.
pub fn run(cli: Cli) -> Exit {
    let ci = is_ci(std::env::var("CI").ok().as_deref());
    let progress = choose_progress(std::io::stderr().is_terminal(), ci, cli.quiet);
    let multi = multi_progress(progress);
    init_logging(cli.verbose, cli.quiet, cli.log_format, &multi);

    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: could not start the async runtime: {error}");
            return Exit::Failure;
        }
    };
    let result = runtime.block_on(dispatch(cli.command, progress, &multi, cli.quiet));
    match result {
        Ok(exit) => exit,
        Err(failure) => {
            eprintln!("error: {:#}", failure.error);
            failure.exit
        }
    }
}

async fn dispatch(
    command: Command,
    progress: ProgressMode,
    multi: &MultiProgress,
    quiet: bool,
) -> Result<Exit, Failure> {
    match command {
        Command::Plan(args) => commands::plan(&args, quiet).await,
        Command::Apply(args) => commands::apply(&args, progress, multi, quiet).await,
        Command::Offboard(args) => offboard::run(&args, progress, multi, quiet).await,
        Command::Export(args) => export::run(&args, quiet).await,
        Command::Emulator(args) => commands::emulator(&args).await,
        Command::Completions(args) => print_completions(args.shell),
        Command::Man => print_man_page(),
        Command::Login(args) => login::run(&args).await,
    }
}

/// Sends log lines to stderr, through `multi` so they do not tear a bar.
/// `RUST_LOG` overrides the level that `-v` and `--quiet` pick. With
/// `--log-format json`, each line is one JSON object with the span fields.
fn init_logging(verbose: u8, quiet: bool, format: LogFormat, multi: &MultiProgress) {
    let level = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "warn,chat_reconcile=info",
        (false, 2) => "info,chat_reconcile=debug",
        (false, _) => "trace",
    };
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(level))
        // yup-oauth2 logs tokens and token responses at debug level, so it
        // stays silent whatever RUST_LOG asks for.
        .add_directive("yup_oauth2=off".parse().expect("a valid directive"));
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|value| !value.is_empty());
    let ansi = std::io::stderr().is_terminal() && !no_color;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(LogWriter::new(multi));
    let _ = match format {
        LogFormat::Text => builder.with_ansi(ansi).try_init(),
        LogFormat::Json => builder.json().with_ansi(false).try_init(),
    };
}

/// Writes the completion script for `shell`, generated from the clap
/// definitions, to stdout.
fn print_completions(shell: clap_complete::Shell) -> Result<Exit, Failure> {
    let mut command = Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command, "chat-reconcile", &mut script);
    output::Output::new().print(&String::from_utf8_lossy(&script))?;
    Ok(Exit::Success)
}

/// Writes the manual page, generated from the clap definitions, to stdout.
fn print_man_page() -> Result<Exit, Failure> {
    let mut page = Vec::new();
    clap_mangen::Man::new(Cli::command())
        .render(&mut page)
        .map_err(Failure::failed)?;
    output::Output::new().print(&String::from_utf8_lossy(&page))?;
    Ok(Exit::Success)
}
