//! Rate limiters that keep the run inside the API's quotas.
//!
//! Two project-wide limiters (membership writes, membership reads) and two
//! keyed per-space limiters, built with `Quota::with_period` and a small
//! burst. Callers wait on the per-space limiter first, then the project one,
//! so that no project-wide cell is spent while a task still waits for a busy
//! space. A [`SlowDown`] gate makes every worker pause after a 429.

use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::Duration;

use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Jitter, Quota, RateLimiter};
use tokio::time::Instant;

/// Largest random delay added when a waiter wakes, so that tasks waiting on
/// one limiter do not all retry at the same instant.
const WAKE_JITTER: Duration = Duration::from_millis(10);

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

/// A limit setting that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("invalid {setting} {value}: {expected}")]
pub struct LimitError {
    /// The setting in words, such as `space writes per second`.
    pub setting: &'static str,
    pub value: String,
    pub expected: &'static str,
}

impl LimitSettings {
    /// Checks that every rate is positive and, for the per-space rates,
    /// finite and at most one per nanosecond.
    pub fn validate(&self) -> Result<(), LimitError> {
        per_minute_quota("writes per minute", self.writes_per_minute)?;
        per_minute_quota("reads per minute", self.reads_per_minute)?;
        per_second_quota("space writes per second", self.space_writes_per_second)?;
        per_second_quota("space reads per second", self.space_reads_per_second)?;
        Ok(())
    }
}

/// Builds a quota that lets at most `per_minute` requests through in any
/// 60-second window.
///
/// `Quota::per_minute(n)` would allow a burst of n, so about 2n requests in
/// the first minute. Here the burst is one second's worth, `max(1, n / 60)`,
/// which lets workers start together, and the steady period is stretched to
/// `60 s / (n - burst)` so that burst plus refill stays at n per minute.
fn per_minute_quota(setting: &'static str, per_minute: u32) -> Result<Quota, LimitError> {
    let Some(limit) = NonZeroU32::new(per_minute) else {
        return Err(LimitError {
            setting,
            value: per_minute.to_string(),
            expected: "must be at least 1",
        });
    };
    let burst = (limit.get() / 60).max(1);
    let refills = limit.get().saturating_sub(burst).max(1);
    let period = Duration::from_secs(60) / refills;
    let quota = Quota::with_period(period).expect("60 s divided by a u32 is at least 13 ns");
    Ok(quota.allow_burst(NonZeroU32::new(burst).expect("burst is at least 1")))
}

/// The slowest per-space rate accepted, in requests per second.
const MIN_PER_SECOND: f64 = 0.001;

/// Builds a quota of one request every `1 / per_second` seconds with no
/// burst. Fractional rates work: 0.5 lets one request through every 2 s.
fn per_second_quota(setting: &'static str, per_second: f64) -> Result<Quota, LimitError> {
    let invalid = |expected| LimitError {
        setting,
        value: per_second.to_string(),
        expected,
    };
    if !per_second.is_finite() || per_second <= 0.0 {
        return Err(invalid("must be a positive number"));
    }
    // A slower rate is almost always a typo, and the run would sit silently
    // for longer than a cron interval before its first request.
    if per_second < MIN_PER_SECOND {
        return Err(invalid("must be at least 0.001 (one request every 1000 s)"));
    }
    let period = Duration::try_from_secs_f64(1.0 / per_second).map_err(|_| {
        invalid("is too small: one request would wait longer than a Duration holds")
    })?;
    let quota = Quota::with_period(period).ok_or_else(|| invalid("must be at most 1000000000"))?;
    Ok(quota.allow_burst(NonZeroU32::MIN))
}

/// The run's shared limiters.
pub struct RateLimits {
    project_writes: DefaultDirectRateLimiter,
    project_reads: DefaultDirectRateLimiter,
    space_writes: DefaultKeyedRateLimiter<String>,
    space_reads: DefaultKeyedRateLimiter<String>,
}

impl RateLimits {
    /// Builds the limiters; fails when a setting is zero, negative or not a
    /// number.
    pub fn new(settings: &LimitSettings) -> Result<Self, LimitError> {
        Ok(Self {
            project_writes: RateLimiter::direct(per_minute_quota(
                "writes per minute",
                settings.writes_per_minute,
            )?),
            project_reads: RateLimiter::direct(per_minute_quota(
                "reads per minute",
                settings.reads_per_minute,
            )?),
            space_writes: RateLimiter::keyed(per_second_quota(
                "space writes per second",
                settings.space_writes_per_second,
            )?),
            space_reads: RateLimiter::keyed(per_second_quota(
                "space reads per second",
                settings.space_reads_per_second,
            )?),
        })
    }

    /// Waits until one write in `space` is allowed.
    pub async fn until_write_ready(&self, space: &str) {
        let key = space.to_string();
        let jitter = Jitter::up_to(WAKE_JITTER);
        self.space_writes
            .until_key_ready_with_jitter(&key, jitter)
            .await;
        self.project_writes.until_ready_with_jitter(jitter).await;
    }

    /// Waits until one read in `space` is allowed.
    pub async fn until_read_ready(&self, space: &str) {
        let key = space.to_string();
        let jitter = Jitter::up_to(WAKE_JITTER);
        self.space_reads
            .until_key_ready_with_jitter(&key, jitter)
            .await;
        self.project_reads.until_ready_with_jitter(jitter).await;
    }

    /// Drops per-space state of spaces that are done.
    ///
    /// governor never evicts keys on its own; this keeps only the spaces whose
    /// limiter is still refilling.
    pub fn forget_idle_spaces(&self) {
        self.space_writes.retain_recent();
        self.space_reads.retain_recent();
        self.space_writes.shrink_to_fit();
        self.space_reads.shrink_to_fit();
    }

    /// Returns how many spaces the per-space limiters track.
    pub fn tracked_spaces(&self) -> usize {
        self.space_writes.len().max(self.space_reads.len())
    }
}

/// A gate every worker passes before a request. A 429 closes it for a while,
/// so that the whole run slows down and not only the request that failed.
#[derive(Debug, Default)]
pub struct SlowDown {
    /// When the gate opens again; `None` or a past instant means open.
    reopens_at: Mutex<Option<Instant>>,
}

impl SlowDown {
    pub fn new() -> Self {
        Self::default()
    }

    /// Waits while the gate is closed. Keeps waiting if the pause is extended
    /// meanwhile.
    pub async fn wait(&self) {
        while let Some(remaining) = self.remaining() {
            tokio::time::sleep(remaining).await;
        }
    }

    /// Closes the gate for `delay` from now (keeps a later reopening time).
    pub fn pause_for(&self, delay: Duration) {
        let until = Instant::now() + delay;
        let mut reopens_at = self
            .reopens_at
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if reopens_at.is_none_or(|current| current < until) {
            *reopens_at = Some(until);
        }
    }

    /// Returns how long the gate stays closed, or `None` when it is open.
    pub fn remaining(&self) -> Option<Duration> {
        let reopens_at = *self
            .reopens_at
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let remaining = reopens_at?.checked_duration_since(Instant::now())?;
        (!remaining.is_zero()).then_some(remaining)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant as StdInstant;

    use super::*;

    fn settings() -> LimitSettings {
        LimitSettings::default()
    }

    #[test]
    fn default_settings_valid() {
        assert!(settings().validate().is_ok());
        assert!(RateLimits::new(&settings()).is_ok());
    }

    #[test]
    fn invalid_settings_rejected() {
        let cases: Vec<(&str, LimitSettings)> = vec![
            (
                "writes per minute",
                LimitSettings {
                    writes_per_minute: 0,
                    ..settings()
                },
            ),
            (
                "reads per minute",
                LimitSettings {
                    reads_per_minute: 0,
                    ..settings()
                },
            ),
            (
                "space writes per second",
                LimitSettings {
                    space_writes_per_second: 0.0,
                    ..settings()
                },
            ),
            (
                "space writes per second",
                LimitSettings {
                    space_writes_per_second: -1.0,
                    ..settings()
                },
            ),
            (
                "space reads per second",
                LimitSettings {
                    space_reads_per_second: f64::NAN,
                    ..settings()
                },
            ),
            (
                "space reads per second",
                LimitSettings {
                    space_reads_per_second: f64::INFINITY,
                    ..settings()
                },
            ),
            (
                "space reads per second",
                LimitSettings {
                    space_reads_per_second: 1e12,
                    ..settings()
                },
            ),
            (
                "space writes per second",
                LimitSettings {
                    space_writes_per_second: 1e-300,
                    ..settings()
                },
            ),
        ];
        for (setting, case) in cases {
            let error = case.validate().unwrap_err();
            assert_eq!(error.setting, setting, "{case:?}");
            assert!(RateLimits::new(&case).is_err(), "{case:?}");
        }
    }

    #[test]
    fn fractional_space_rate_valid() {
        let half = LimitSettings {
            space_writes_per_second: 0.5,
            ..settings()
        };
        assert!(half.validate().is_ok());
    }

    #[test]
    fn per_minute_quota_keeps_the_minute() {
        for per_minute in [1, 2, 59, 60, 300, 3000, 100_000] {
            let quota = per_minute_quota("test", per_minute).unwrap();
            let burst = quota.burst_size().get();
            let refills_per_minute =
                Duration::from_secs(60).as_nanos() / quota.replenish_interval().as_nanos();
            assert!(burst >= 1);
            assert!(
                burst <= per_minute.div_ceil(60),
                "{per_minute}: burst {burst}"
            );
            assert!(
                u128::from(burst) + refills_per_minute <= u128::from(per_minute.max(2)),
                "{per_minute}: burst {burst} + {refills_per_minute} refills"
            );
        }
    }

    #[test]
    fn per_second_quota_period() {
        let quota = per_second_quota("test", 0.5).unwrap();
        assert_eq!(quota.replenish_interval(), Duration::from_secs(2));
        assert_eq!(quota.burst_size().get(), 1);
        let quota = per_second_quota("test", 15.0).unwrap();
        let expected = Duration::from_secs(1) / 15;
        let difference = quota.replenish_interval().abs_diff(expected);
        assert!(
            difference < Duration::from_micros(1),
            "{:?}",
            quota.replenish_interval()
        );
    }

    // governor keeps its own clock, so these run in real time with rates
    // chosen so that a pass takes a fraction of a second and a failure is
    // far from the bound.
    #[tokio::test]
    async fn space_limiter_spaces_writes() {
        let limits = RateLimits::new(&LimitSettings {
            space_writes_per_second: 10.0,
            ..settings()
        })
        .unwrap();
        let started = StdInstant::now();
        for _ in 0..4 {
            limits.until_write_ready("spaces/A").await;
        }
        // One immediate write, then three more 100 ms apart.
        assert!(
            started.elapsed() >= Duration::from_millis(290),
            "{:?}",
            started.elapsed()
        );
    }

    #[tokio::test]
    async fn spaces_limited_separately() {
        let limits = RateLimits::new(&LimitSettings {
            space_writes_per_second: 0.1,
            ..settings()
        })
        .unwrap();
        let started = StdInstant::now();
        for space in ["spaces/A", "spaces/B", "spaces/C"] {
            limits.until_write_ready(space).await;
        }
        // At 0.1 per second a second write in one space would wait 10 s.
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(limits.tracked_spaces(), 3);
    }

    #[tokio::test]
    async fn forget_idle_spaces_drops_refilled_keys() {
        let limits = RateLimits::new(&LimitSettings {
            space_reads_per_second: 100.0,
            space_writes_per_second: 100.0,
            ..settings()
        })
        .unwrap();
        limits.until_read_ready("spaces/A").await;
        limits.until_write_ready("spaces/B").await;
        tokio::time::sleep(Duration::from_millis(50)).await;
        limits.forget_idle_spaces();
        assert_eq!(limits.tracked_spaces(), 0);
    }

    #[tokio::test]
    async fn slow_down_open_by_default() {
        let gate = SlowDown::new();
        assert_eq!(gate.remaining(), None);
        let started = StdInstant::now();
        gate.wait().await;
        assert!(started.elapsed() < Duration::from_secs(1));
    }

    #[tokio::test]
    async fn slow_down_waits_for_pause() {
        let gate = SlowDown::new();
        gate.pause_for(Duration::from_millis(200));
        let started = StdInstant::now();
        gate.wait().await;
        assert!(
            started.elapsed() >= Duration::from_millis(200),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(gate.remaining(), None);
    }

    #[tokio::test]
    async fn slow_down_keeps_later_reopening() {
        let gate = SlowDown::new();
        gate.pause_for(Duration::from_millis(300));
        gate.pause_for(Duration::from_millis(10));
        let started = StdInstant::now();
        gate.wait().await;
        assert!(
            started.elapsed() >= Duration::from_millis(300),
            "{:?}",
            started.elapsed()
        );
    }

    #[tokio::test]
    async fn slow_down_extended_while_waiting() {
        let gate = std::sync::Arc::new(SlowDown::new());
        gate.pause_for(Duration::from_millis(50));
        let waiter = tokio::spawn({
            let gate = gate.clone();
            async move {
                let started = StdInstant::now();
                gate.wait().await;
                started.elapsed()
            }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        gate.pause_for(Duration::from_millis(300));
        let waited = waiter.await.unwrap();
        assert!(waited >= Duration::from_millis(300), "{waited:?}");
    }
}
