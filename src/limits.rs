//! Rate limiters that keep the run inside the API's quotas.
//!
//! Three project-wide limiters (membership writes, membership reads, space
//! reads), built with `Quota::with_period` and a small burst, and two
//! per-space pacers (writes, reads). A caller first waits until its space
//! may send, then takes a project cell, and only then books the space's
//! next slot. So a space's requests are spaced from the moment they are
//! sent, however long the project limiter held them. A [`SlowDown`] gate
//! makes every worker pause after a 429.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::Duration;

use governor::{DefaultDirectRateLimiter, Jitter, Quota, RateLimiter};
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
        per_second_period("space writes per second", self.space_writes_per_second)?;
        per_second_period("space reads per second", self.space_reads_per_second)?;
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

/// Share of a per-space period added as a margin. The API counts a request
/// when it arrives, and arrivals vary by a little (a new connection, a busy
/// scheduler), so two requests sent exactly one period apart can arrive
/// slightly closer and the second be refused.
const SPACE_MARGIN: f64 = 0.01;

/// Returns the interval between two requests in one space at `per_second`,
/// with [`SPACE_MARGIN`] added. Fractional rates work: 0.5 gives about 2 s.
fn per_second_period(setting: &'static str, per_second: f64) -> Result<Duration, LimitError> {
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
    if per_second > 1e9 {
        return Err(invalid("must be at most 1000000000"));
    }
    let period = Duration::try_from_secs_f64(1.0 / per_second).map_err(|_| {
        invalid("is too small: one request would wait longer than a Duration holds")
    })?;
    Ok(period.mul_f64(1.0 + SPACE_MARGIN))
}

/// Spaces requests to each space: one request per `period`, counted from
/// the moment the previous one was sent.
///
/// governor's keyed limiter books a slot when its wait ends, which is before
/// the project limiter lets the request go. Under a busy project limiter the
/// space's next slot then comes less than a period after the request was
/// really sent, and the API rejects it with 429. Here a slot is booked only
/// by [`SpacePacer::book`], right before sending.
struct SpacePacer {
    period: Duration,
    /// When each space may send next. Entries in the past are stale.
    next: Mutex<HashMap<String, Instant>>,
}

impl SpacePacer {
    fn new(period: Duration) -> Self {
        Self {
            period,
            next: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Instant>> {
        self.next
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Waits until `space` may send, without booking.
    async fn until_ready(&self, space: &str) {
        loop {
            let next = self.lock().get(space).copied();
            match next {
                Some(next) if next > Instant::now() => tokio::time::sleep_until(next).await,
                _ => return,
            }
        }
    }

    /// Books the next slot of `space` if it is free now, and returns `true`;
    /// returns `false` when another request took it meanwhile.
    fn book(&self, space: &str) -> bool {
        let now = Instant::now();
        let mut next = self.lock();
        match next.get(space) {
            Some(at) if *at > now => false,
            _ => {
                next.insert(space.to_string(), now + self.period);
                true
            }
        }
    }

    /// Moves the next slot of `space` to a period from now, unless it is
    /// later already.
    fn book_from_now(&self, space: &str) {
        let at = Instant::now() + self.period;
        let mut next = self.lock();
        let slot = next.entry(space.to_string()).or_insert(at);
        if *slot < at {
            *slot = at;
        }
    }

    /// Drops the spaces whose next slot has come.
    fn forget_idle(&self) {
        let now = Instant::now();
        let mut next = self.lock();
        next.retain(|_, at| *at > now);
        next.shrink_to_fit();
    }

    fn len(&self) -> usize {
        self.lock().len()
    }
}

/// The run's shared limiters.
pub struct RateLimits {
    project_writes: DefaultDirectRateLimiter,
    project_reads: DefaultDirectRateLimiter,
    /// spaces.get and the other space reads, a separate project quota from
    /// membership reads at Google. Built from `reads_per_minute`, since
    /// Google's default is 3000 per minute for both.
    project_space_reads: DefaultDirectRateLimiter,
    space_writes: SpacePacer,
    space_reads: SpacePacer,
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
            project_space_reads: RateLimiter::direct(per_minute_quota(
                "reads per minute",
                settings.reads_per_minute,
            )?),
            space_writes: SpacePacer::new(per_second_period(
                "space writes per second",
                settings.space_writes_per_second,
            )?),
            space_reads: SpacePacer::new(per_second_period(
                "space reads per second",
                settings.space_reads_per_second,
            )?),
        })
    }

    /// Waits until one membership write (create, delete, patch) in `space`
    /// is allowed.
    pub async fn until_write_ready(&self, space: &str) {
        until_ready(&self.space_writes, &self.project_writes, space).await;
    }

    /// Waits until one membership read (list, get) in `space` is allowed.
    pub async fn until_read_ready(&self, space: &str) {
        until_ready(&self.space_reads, &self.project_reads, space).await;
    }

    /// Waits until `spaces.get` on `space` is allowed: a read in the space,
    /// charged to the project's space-read quota.
    pub async fn until_space_read_ready(&self, space: &str) {
        until_ready(&self.space_reads, &self.project_space_reads, space).await;
    }

    /// Spaces the next write in `space` a full period after the response to
    /// the previous one, for callers that send one request at a time.
    ///
    /// The API counts a request when it arrives, and a busy client or
    /// network delays some requests more than others, so spacing from the
    /// send alone lets two arrivals come closer than a period. The previous
    /// request has certainly arrived once its response is back, so spacing
    /// from the response cannot be undercut; the cost is one round trip per
    /// request in a space, which matters only when the per-space rate, not
    /// the project rate, bounds the run.
    pub fn write_completed(&self, space: &str) {
        self.space_writes.book_from_now(space);
    }

    /// Spaces the next read in `space` from the response to the previous
    /// one; see [`RateLimits::write_completed`].
    pub fn read_completed(&self, space: &str) {
        self.space_reads.book_from_now(space);
    }

    /// Drops per-space state of spaces that are done.
    pub fn forget_idle_spaces(&self) {
        self.space_writes.forget_idle();
        self.space_reads.forget_idle();
    }

    /// Returns how many spaces the per-space limiters track.
    pub fn tracked_spaces(&self) -> usize {
        self.space_writes.len().max(self.space_reads.len())
    }
}

/// Waits for the space, then for a project cell, then books the space's
/// slot. Waiting for the space first keeps a task from holding a project
/// cell while its space is busy. Booking last spaces the space's requests
/// from the moment they are sent.
async fn until_ready(pacer: &SpacePacer, project: &DefaultDirectRateLimiter, space: &str) {
    let jitter = Jitter::up_to(WAKE_JITTER);
    pacer.until_ready(space).await;
    project.until_ready_with_jitter(jitter).await;
    // Another request in the same space may have been sent while this one
    // waited for the project; it keeps its project cell and waits again.
    while !pacer.book(space) {
        pacer.until_ready(space).await;
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
    fn per_second_period_has_margin() {
        let period = per_second_period("test", 0.5).unwrap();
        assert_eq!(period, Duration::from_secs(2).mul_f64(1.0 + SPACE_MARGIN));
        let period = per_second_period("test", 15.0).unwrap();
        let expected = (Duration::from_secs(1) / 15).mul_f64(1.0 + SPACE_MARGIN);
        assert!(
            period.abs_diff(expected) < Duration::from_micros(1),
            "{period:?}"
        );
    }

    // The per-space slot is booked after the project wait: a write held by
    // the project limiter pushes the space's next write back with it.
    #[tokio::test]
    async fn space_spacing_counts_from_send() {
        // Project cells every 60/59 s (burst 1); a space slot every 1.12 s.
        let limits = RateLimits::new(&LimitSettings {
            space_writes_per_second: 0.9,
            writes_per_minute: 60,
            ..settings()
        })
        .unwrap();
        limits.until_write_ready("spaces/A").await;
        // B's space is free at once, but its project cell comes after 1.02 s.
        limits.until_write_ready("spaces/B").await;
        let sent = StdInstant::now();
        limits.until_write_ready("spaces/B").await;
        // Booked before the project wait, B's next slot would have come
        // 1.12 s after the first call, so the next project cell (1.02 s
        // after the send) would have let it go early.
        assert!(
            sent.elapsed() >= Duration::from_millis(1100),
            "{:?}",
            sent.elapsed()
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
    async fn space_spacing_counts_from_response() {
        let limits = RateLimits::new(&LimitSettings {
            space_writes_per_second: 2.0,
            ..settings()
        })
        .unwrap();
        limits.until_write_ready("spaces/A").await;
        // A request that takes 300 ms to come back.
        tokio::time::sleep(Duration::from_millis(300)).await;
        limits.write_completed("spaces/A");
        let completed = StdInstant::now();
        limits.until_write_ready("spaces/A").await;
        // Spaced from the send, the next write would wait only about 200 ms.
        assert!(
            completed.elapsed() >= Duration::from_millis(490),
            "{:?}",
            completed.elapsed()
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
