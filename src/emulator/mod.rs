//! A local, stateful, strict emulator of the Chat API over real HTTP.

use std::net::SocketAddr;
use std::path::Path;

/// The emulator's state file, parsed.
pub struct EmulatorState {}

impl EmulatorState {
    /// Reads a YAML state file.
    pub fn load(_path: &Path) -> anyhow::Result<Self> {
        todo!()
    }

    /// Parses YAML state text.
    pub fn parse(_text: &str) -> anyhow::Result<Self> {
        todo!()
    }

    /// Returns the bearer tokens the emulator accepts, in file order.
    pub fn tokens(&self) -> &[String] {
        todo!()
    }
}

/// Serves the state file at `state_path` on `listen` until Ctrl-C, for
/// `chat-reconcile emulator`.
pub async fn run_standalone(_state_path: &Path, _listen: SocketAddr) -> anyhow::Result<()> {
    todo!()
}

/// Counters a test or the CLI reads after a run.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Counters {
    pub requests: u64,
    /// Requests refused because they would remove or demote a space's only owner.
    pub only_owner_refusals: u64,
}

/// A running emulator.
pub struct Emulator {}

impl Emulator {
    /// Starts serving `state` on `addr` (`127.0.0.1:0` picks a free port).
    pub async fn start(_state: EmulatorState, _addr: SocketAddr) -> anyhow::Result<Self> {
        todo!()
    }

    /// Returns the base URL, such as `http://127.0.0.1:41234`.
    pub fn url(&self) -> url::Url {
        todo!()
    }

    pub fn counters(&self) -> Counters {
        todo!()
    }

    /// Stops serving and waits for the server task.
    pub async fn shutdown(self) {
        todo!()
    }
}
