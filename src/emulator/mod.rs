//! A local, stateful, strict emulator of the Chat API over real HTTP.
//!
//! It serves spaces.list, spaces.get, spaces.search (admin mode) and
//! spaces.members list, get, create, patch and delete under `/v1/`, from a
//! YAML state file (see [`EmulatorState`]). Each token belongs to a caller
//! whose kind and scopes are enforced ([`Caller`]). Quotas
//! ([`QuotaSettings`]) and injected latency and faults ([`FaultSettings`])
//! come from the state file or from overrides. It is strict on purpose: an unknown route, query
//! parameter, body field or filter term is an error that names it, so a
//! client bug fails a test instead of passing silently. Where Google
//! documents no behaviour, the choice is written next to the code.
//!
//! Inspection routes need no token and are neither counted nor logged:
//! `GET /emulator/v1/counters`, `GET /emulator/v1/state` (a [`Snapshot`]),
//! `GET /emulator/v1/requests` (the [`RequestRecord`] log) and
//! `GET /emulator/v1/settings` (quotas, faults, and callers without tokens).

mod caller;
mod error;
mod faults;
mod filter;
mod members;
mod paging;
mod quota;
mod search;
mod server;
mod snapshot;
mod spaces;
mod state;
pub(crate) mod time;
mod token;
mod wire;

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};

use anyhow::Context;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use caller::{Caller, CallerKind, SCOPE_PREFIX};
pub use faults::{EVERY_METHOD, FaultSettings, METHODS, MethodFaults};
pub use quota::{Bucket, BucketCounter, QuotaSettings, Rate};
pub use server::REQUEST_LOG_CAPACITY;
pub use snapshot::{MembershipSnapshot, Snapshot, SpaceSnapshot};
pub use state::{Affiliation, EmulatorState, MembershipState, Role, SpaceType, UserType};

impl EmulatorState {
    /// Reads a YAML state file.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read emulator state file {}", path.display()))?;
        Self::parse(&text)
            .with_context(|| format!("invalid emulator state file {}", path.display()))
    }

    /// Parses YAML state text. Unknown keys, duplicate keys, YAML 1.1
    /// booleans, unknown enum values, references to unknown users or groups,
    /// and duplicate ids, emails, spaces or memberships are errors. Each
    /// error names its line and the space or user concerned.
    pub fn parse(text: &str) -> anyhow::Result<Self> {
        Self::parse_text(text)
    }
}

/// Counters a test or the CLI reads after a run.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Counters {
    /// Every request under `/v1/`, including rejected and unrouted ones.
    pub requests: u64,
    /// Routed requests by method name, such as `spaces.members.delete`.
    pub requests_by_method: BTreeMap<String, u64>,
    /// Requests refused because they would remove or demote a space's only owner.
    pub only_owner_refusals: u64,
    /// Times a SPACE that had an owner was left with none. The only-owner
    /// rule prevents this, so anything but 0 is an emulator bug.
    pub spaces_left_without_owner: u64,
    /// Requests refused with 403 PERMISSION_DENIED: a missing scope, the
    /// wrong kind of caller, or a caller who may not change an owner.
    pub permission_denials: u64,
    /// Requests charged and refused (429) per quota bucket, keyed by
    /// [`Bucket::as_str`]. Only buckets that were charged appear.
    pub quota: BTreeMap<String, BucketCounter>,
    /// Injected faults by kind: `error_500`, `error_503`, `error_504`, `error_429`,
    /// `reset` and `hang`.
    pub faults_injected: BTreeMap<String, u64>,
    /// Access tokens issued by `POST /token`.
    pub tokens_issued: u64,
    /// Token requests refused by `POST /token`.
    pub token_refusals: u64,
    /// The seed of the fault generator; give it back as `faults.seed` to
    /// repeat a run's faults.
    pub fault_seed: u64,
}

/// One request to the Chat API routes, as logged by the emulator.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RequestRecord {
    pub method: String,
    pub path: String,
    /// The raw query string, without the `?`.
    pub query: String,
    /// The API method the request was routed to, such as `spaces.members.list`.
    pub api_method: Option<String>,
    /// The HTTP status code of the response; 0 when the connection was
    /// reset instead.
    pub status: u16,
    /// The injected fault, if any: `error_500`, `error_503`, `error_504`, `error_429`,
    /// `reset` or `hang`.
    pub fault: Option<String>,
}

/// A running emulator.
pub struct Emulator {
    url: url::Url,
    shared: server::Shared,
    stop: oneshot::Sender<()>,
    task: JoinHandle<std::io::Result<()>>,
}

impl Emulator {
    /// Starts serving `state` on `addr` (`127.0.0.1:0` picks a free port).
    pub async fn start(state: EmulatorState, addr: SocketAddr) -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr} for the emulator"))?;
        let local = listener.local_addr()?;
        let url =
            url::Url::parse(&format!("http://{local}/")).expect("a socket address forms a URL");

        let injector = faults::Injector::new(state.faults.seed);
        let counters = Counters {
            fault_seed: injector.seed,
            ..Counters::default()
        };
        let shared = Arc::new(Mutex::new(server::Inner {
            state,
            counters,
            requests: VecDeque::new(),
            quotas: quota::Quotas::default(),
            injector,
            stopping: tokio::sync::watch::Sender::new(false),
            issued: token::IssuedTokens::default(),
            grants: token::Grants::default(),
        }));
        let (stop, stopped) = oneshot::channel::<()>();
        let app = server::router(shared.clone())
            .into_make_service_with_connect_info::<faults::ConnectionReset>();
        let listener = faults::ResettableListener(listener);
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await
        });
        tracing::debug!(%url, "emulator started");
        Ok(Emulator {
            url,
            shared,
            stop,
            task,
        })
    }

    /// Returns the base URL, such as `http://127.0.0.1:41234/`.
    pub fn url(&self) -> url::Url {
        self.url.clone()
    }

    pub fn counters(&self) -> Counters {
        self.lock().counters.clone()
    }

    /// Copies the current spaces and memberships.
    pub fn snapshot(&self) -> Snapshot {
        snapshot::take(&self.lock().state)
    }

    /// Copies the request log, oldest first; it keeps the last
    /// [`REQUEST_LOG_CAPACITY`] requests to the Chat API routes.
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.lock().requests.iter().cloned().collect()
    }

    /// Stops serving and waits for the server task.
    pub async fn shutdown(self) {
        self.lock().stopping.send_replace(true);
        let _ = self.stop.send(());
        match self.task.await {
            Ok(Ok(())) => tracing::debug!(url = %self.url, "emulator stopped"),
            Ok(Err(error)) => tracing::warn!(%error, "emulator server failed"),
            Err(error) => tracing::warn!(%error, "emulator server task failed"),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, server::Inner> {
        self.shared
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Serves the state file at `state_path` on `listen` until Ctrl-C, for
/// `chat-reconcile emulator`. Prints the URL to stderr on start and the
/// counters on stop.
pub async fn run_standalone(state_path: &Path, listen: SocketAddr) -> anyhow::Result<()> {
    let state = EmulatorState::load(state_path)?;
    run_state(state, state_path, listen).await
}

/// Serves an already loaded state, for `chat-reconcile emulator` after it
/// has applied command-line overrides with [`EmulatorState::set_quotas`]
/// and [`EmulatorState::set_faults`]. `state_path` is only shown.
pub async fn run_state(
    state: EmulatorState,
    state_path: &Path,
    listen: SocketAddr,
) -> anyhow::Result<()> {
    let quotas = state.quotas().describe();
    let emulator = Emulator::start(state, listen).await?;
    let url = emulator.url();
    let seed = emulator.counters().fault_seed;
    eprintln!(
        "emulator listening on {url} (state from {}; {quotas}; fault seed {seed})",
        state_path.display()
    );
    eprintln!(
        "inspect it at {url}emulator/v1/state, {url}emulator/v1/counters, {url}emulator/v1/requests and {url}emulator/v1/settings; press Ctrl-C to stop"
    );

    tokio::signal::ctrl_c()
        .await
        .context("cannot wait for Ctrl-C")?;
    let counters = emulator.counters();
    emulator.shutdown().await;
    let refused: u64 = counters.quota.values().map(|bucket| bucket.exhausted).sum();
    eprintln!(
        "emulator stopped after {} requests ({} only-owner refusals, {} over quota, {} permission denials)",
        counters.requests, counters.only_owner_refusals, refused, counters.permission_denials
    );
    Ok(())
}
