//! The engine's event stream: what reporters, progress bars and tests read.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

/// The result of one operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The API made the change.
    Applied,
    /// The API shows the change was made before: 404 `NOT_FOUND` on a
    /// removal, 409 `ALREADY_EXISTS` on an add.
    AlreadyDone,
    /// Not attempted, because an operation it requires did not succeed or the
    /// run was stopped.
    Skipped { reason: String },
    /// The API refused the change or could not be reached; `error` keeps the
    /// method, target, status and Google's message.
    Failed { error: String },
}

impl Outcome {
    /// Returns true for the outcomes a dependent operation may build on.
    pub fn succeeded(&self) -> bool {
        matches!(self, Self::Applied | Self::AlreadyDone)
    }

    /// Returns the short name used in output: `applied`, `already_done`,
    /// `skipped`, `failed`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Applied => "applied",
            Self::AlreadyDone => "already_done",
            Self::Skipped { .. } => "skipped",
            Self::Failed { .. } => "failed",
        }
    }
}

/// Counts over a whole run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    pub applied: usize,
    pub already_done: usize,
    pub skipped: usize,
    pub failed: usize,
    /// Attempts after the first, over all operations.
    pub retries: usize,
    /// HTTP 429 responses seen, retried or not.
    pub rate_limited: usize,
    pub duration: Duration,
}

impl Summary {
    /// Counts operations that ran or were skipped.
    pub fn total(&self) -> usize {
        self.applied + self.already_done + self.skipped + self.failed
    }

    /// Counts operations that neither applied nor were already done.
    pub fn unsuccessful(&self) -> usize {
        self.skipped + self.failed
    }

    /// Adds the counts of `other`, but not its duration: spaces overlap in
    /// time, so their durations do not add up.
    pub(crate) fn absorb(&mut self, other: &Summary) {
        self.applied += other.applied;
        self.already_done += other.already_done;
        self.skipped += other.skipped;
        self.failed += other.failed;
        self.retries += other.retries;
        self.rate_limited += other.rate_limited;
    }

    pub(crate) fn count(&mut self, outcome: &Outcome) {
        match outcome {
            Outcome::Applied => self.applied += 1,
            Outcome::AlreadyDone => self.already_done += 1,
            Outcome::Skipped { .. } => self.skipped += 1,
            Outcome::Failed { .. } => self.failed += 1,
        }
    }
}

/// One thing that happened during a run. Operations are named by their space
/// and their index in that space's plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    RunStarted {
        /// Spaces with at least one operation.
        spaces: usize,
        operations: usize,
    },
    /// An attempt is about to be sent; `attempt` starts at 1.
    OperationStarted {
        space: String,
        index: usize,
        attempt: u32,
    },
    /// Attempt `attempt` failed and the next one follows after `delay`.
    OperationRetrying {
        space: String,
        index: usize,
        attempt: u32,
        delay: Duration,
        error: String,
    },
    OperationFinished {
        space: String,
        index: usize,
        outcome: Outcome,
        /// From the first attempt (or the skip decision) to the outcome.
        duration: Duration,
    },
    SpaceFinished {
        space: String,
        summary: Summary,
    },
    RunFinished {
        summary: Summary,
    },
}

/// The destination of the engine's events. Cheap to clone. Sending calls the
/// handler on the engine's task, so a slow handler slows the run.
#[derive(Clone)]
pub struct EventSink {
    send: Arc<dyn Fn(Event) + Send + Sync>,
}

impl EventSink {
    /// Calls `handler` for every event, on the engine's task. The handler
    /// must return quickly: it runs between requests.
    pub fn new(handler: impl Fn(Event) + Send + Sync + 'static) -> Self {
        Self {
            send: Arc::new(handler),
        }
    }

    /// Sends the events into an unbounded channel. Events sent after the
    /// receiver is dropped are discarded.
    pub fn channel() -> (Self, mpsc::UnboundedReceiver<Event>) {
        let (sender, receiver) = mpsc::unbounded_channel();
        let sink = Self::new(move |event| {
            let _ = sender.send(event);
        });
        (sink, receiver)
    }

    /// Drops every event.
    pub fn discard() -> Self {
        Self::new(|_| {})
    }

    pub fn send(&self, event: Event) {
        (self.send)(event)
    }
}

impl std::fmt::Debug for EventSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EventSink")
    }
}
