//! Rate limiters that keep the run inside the API's quotas.
//!
//! Two project-wide limiters (membership writes, membership reads) and two
//! keyed per-space limiters, built with `Quota::with_period` and a small
//! burst. Callers wait on the per-space limiter first, then the project one.
//! A [`SlowDown`] gate makes every worker pause after a 429.

use std::time::Duration;

/// Limits, by default Google's published quotas.
#[derive(Debug, Clone)]
pub struct LimitSettings {
    /// Membership writes (create, delete) per minute for the project.
    pub writes_per_minute: u32,
    /// Membership reads (get, list) per minute for the project.
    pub reads_per_minute: u32,
    /// Writes (create, delete, patch) per second in one space.
    pub space_writes_per_second: f64,
    /// Reads per second in one space.
    pub space_reads_per_second: f64,
}

impl Default for LimitSettings {
    fn default() -> Self {
        Self {
            writes_per_minute: 300,
            reads_per_minute: 3000,
            space_writes_per_second: 1.0,
            space_reads_per_second: 15.0,
        }
    }
}

/// The run's shared limiters.
pub struct RateLimits {}

impl RateLimits {
    pub fn new(_settings: &LimitSettings) -> Self {
        todo!()
    }

    /// Waits until one write in `space` is allowed.
    pub async fn until_write_ready(&self, _space: &str) {
        todo!()
    }

    /// Waits until one read in `space` is allowed.
    pub async fn until_read_ready(&self, _space: &str) {
        todo!()
    }

    /// Drops per-space state of spaces that are done.
    pub fn forget_idle_spaces(&self) {
        todo!()
    }
}

/// A gate every worker passes before a request; a 429 closes it for a while,
/// so that the whole run slows down and not only the request that failed.
pub struct SlowDown {}

impl SlowDown {
    pub fn new() -> Self {
        todo!()
    }

    /// Waits while the gate is closed.
    pub async fn wait(&self) {
        todo!()
    }

    /// Closes the gate for `delay` from now (keeps a later reopening time).
    pub fn pause_for(&self, _delay: Duration) {
        todo!()
    }
}
