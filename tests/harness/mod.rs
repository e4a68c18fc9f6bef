//! An emulator on 127.0.0.1 with a client and the limiters of a run, for the
//! tests that drive the observer or the engine over real HTTP.

// Each test binary uses a different part of this module.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use chat_reconcile::apply::{ApplyContext, StopFlag};
use chat_reconcile::chat::auth::{AccessToken, StaticToken};
use chat_reconcile::chat::retry::RetryPolicy;
use chat_reconcile::chat::{ChatClient, ClientOptions};
use chat_reconcile::emulator::{Emulator, EmulatorState};
use chat_reconcile::limits::{LimitSettings, RateLimits, SlowDown};
use chat_reconcile::observe::ObserveContext;

pub struct Harness {
    pub emulator: Emulator,
    pub client: ChatClient,
    pub limits: RateLimits,
    pub slow_down: SlowDown,
    pub retry: RetryPolicy,
    pub stop: StopFlag,
}

impl Harness {
    /// Starts the emulator from `state` on a free port and builds a client
    /// that sends `token`, with limits high enough that tests spend their
    /// time on requests, not on Google's quotas.
    pub async fn start(state: EmulatorState, token: &str) -> Self {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let emulator = Emulator::start(state, "127.0.0.1:0".parse().unwrap())
            .await
            .expect("emulator starts");
        let tokens = Arc::new(StaticToken::new(AccessToken::new(token.to_string())));
        let client = ChatClient::new(&emulator.url(), tokens, ClientOptions::default())
            .expect("loopback endpoint is accepted");
        let limits = LimitSettings {
            writes_per_minute: 60_000,
            reads_per_minute: 60_000,
            space_writes_per_second: 200.0,
            space_reads_per_second: 200.0,
        };
        Self {
            emulator,
            client,
            limits: RateLimits::new(&limits).unwrap(),
            slow_down: SlowDown::new(),
            retry: RetryPolicy {
                max_attempts: 2,
                base_delay: Duration::from_millis(10),
                max_delay: Duration::from_millis(50),
                max_jitter: Duration::from_millis(5),
            },
            stop: StopFlag::new(),
        }
    }

    /// Parses `yaml` as an emulator state and starts it.
    pub async fn from_yaml(yaml: &str, token: &str) -> Self {
        let state = EmulatorState::parse(yaml).expect("valid emulator state");
        Self::start(state, token).await
    }

    pub fn observe_context(&self, concurrency: usize) -> ObserveContext<'_> {
        ObserveContext {
            client: &self.client,
            limits: &self.limits,
            slow_down: &self.slow_down,
            retry: &self.retry,
            concurrency,
        }
    }

    pub fn apply_context(&self, concurrency: usize) -> ApplyContext<'_> {
        ApplyContext {
            client: &self.client,
            limits: &self.limits,
            slow_down: &self.slow_down,
            retry: &self.retry,
            concurrency,
            stop: &self.stop,
        }
    }
}
