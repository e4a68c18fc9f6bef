//! The engine: runs a plan against the API and emits events.
//!
//! Spaces run concurrently, at most `concurrency` at a time. Inside one
//! space the operations run one at a time in plan order. A space therefore
//! never receives two concurrent writes, and the only-owner rule, which the
//! plan keeps after each operation, also holds when a run stops half-way. Each request waits for the per-space and project limiters and
//! for the run-wide [`SlowDown`] gate, which a 429 closes. The engine prints
//! nothing: reporters read the [`Event`] stream.
//!
//! Stopping: once [`StopFlag::stop`] is called, requests in flight finish,
//! no retry starts, and every operation not yet started is skipped.

mod events;
mod space;
mod verify;

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use futures::StreamExt;
use tokio::sync::Notify;

use crate::chat::ChatClient;
use crate::chat::retry::RetryPolicy;
use crate::limits::{RateLimits, SlowDown};
use crate::plan::{Plan, SpacePlan};

pub use events::{Event, EventSink, Outcome, Summary};
pub use verify::{Verification, verify};

/// The client, limiters and settings of a run.
pub struct ApplyContext<'a> {
    pub client: &'a ChatClient,
    pub limits: &'a RateLimits,
    pub slow_down: &'a SlowDown,
    pub retry: &'a RetryPolicy,
    /// Spaces in flight at the same time; 0 counts as 1.
    pub concurrency: usize,
    pub stop: &'a StopFlag,
}

/// A request to stop the run early, set from a signal handler.
#[derive(Debug, Default)]
pub struct StopFlag {
    stopped: AtomicBool,
    /// Wakes workers waiting on a limiter or a retry backoff.
    notify: Notify,
}

impl StopFlag {
    pub fn new() -> Self {
        Self::default()
    }

    /// Tells the engine to start no further request.
    pub fn stop(&self) {
        self.stopped.store(true, Ordering::SeqCst);
        self.notify.notify_waiters();
    }

    pub fn is_stopped(&self) -> bool {
        self.stopped.load(Ordering::SeqCst)
    }

    /// Waits until [`StopFlag::stop`] is called; returns at once if it was.
    pub async fn stopped(&self) {
        loop {
            // Registered before the check, so a stop between the check and
            // the await still wakes this waiter.
            let notified = self.notify.notified();
            if self.is_stopped() {
                return;
            }
            notified.await;
        }
    }
}

/// The outcome of every operation of a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplyReport {
    /// Spaces that had operations, sorted by space name.
    pub spaces: Vec<SpaceReport>,
    pub summary: Summary,
}

/// The outcomes in one space, in plan order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpaceReport {
    /// `spaces/{id}`.
    pub space: String,
    pub results: Vec<OperationResult>,
    pub summary: Summary,
}

/// The outcome of one operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperationResult {
    /// The operation's index in its space's plan.
    pub index: usize,
    pub outcome: Outcome,
    /// Requests sent for it, retries and membership lookups included; 0 when
    /// skipped.
    pub attempts: u32,
}

impl ApplyReport {
    /// Finds the outcome of operation `index` in `space`.
    pub fn outcome(&self, space: &str, index: usize) -> Option<&Outcome> {
        let space = self.spaces.iter().find(|report| report.space == space)?;
        let result = space.results.iter().find(|result| result.index == index)?;
        Some(&result.outcome)
    }
}

/// Runs every operation of `plan` and reports each step to `events`.
///
/// Returns a report rather than an error: an operation the API rejects is
/// recorded as [`Outcome::Failed`], and the operations that require it are
/// skipped.
pub async fn apply(plan: &Plan, context: &ApplyContext<'_>, events: EventSink) -> ApplyReport {
    let started = Instant::now();
    let spaces: Vec<&SpacePlan> = plan
        .spaces
        .iter()
        .filter(|space| !space.operations.is_empty())
        .collect();
    events.send(Event::RunStarted {
        spaces: spaces.len(),
        operations: plan.operation_count(),
    });

    let mut reports: Vec<SpaceReport> = futures::stream::iter(spaces)
        .map(|space| space::run_space(space, context, &events))
        .buffer_unordered(context.concurrency.max(1))
        .collect()
        .await;
    reports.sort_by(|a, b| a.space.cmp(&b.space));

    let mut summary = Summary::default();
    for report in &reports {
        summary.absorb(&report.summary);
    }
    summary.duration = started.elapsed();
    events.send(Event::RunFinished {
        summary: summary.clone(),
    });
    ApplyReport {
        spaces: reports,
        summary,
    }
}
