//! The `chat-reconcile` binary: parses arguments, runs the library, and
//! turns the result into an exit code.

use clap::Parser;

use chat_reconcile::cli::{self, Cli};

fn main() -> std::process::ExitCode {
    // reqwest is built without a default TLS crypto provider, so one must be
    // installed before the first client exists.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cli = Cli::parse();
    cli::run(cli).into()
}
