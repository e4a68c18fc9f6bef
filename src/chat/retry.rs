//! When to retry a failed call and how long to wait.

use std::time::Duration;

use super::ChatError;

/// Capped, jittered exponential backoff.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// Wait before the second attempt; doubles each time.
    pub base_delay: Duration,
    /// Upper bound of one wait, jitter included.
    pub max_delay: Duration,
    /// Upper bound of the random jitter added to each wait.
    pub max_jitter: Duration,
}

impl RetryPolicy {
    /// Returns the wait before attempt `attempt + 1`, or `None` when the error
    /// must not be retried or the attempts are used up. `attempt` starts at 1.
    pub fn delay_after(&self, _error: &ChatError, _attempt: u32) -> Option<Duration> {
        todo!()
    }
}
