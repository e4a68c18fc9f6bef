//! When to retry a failed call and how long to wait.
//!
//! Google recommends truncated exponential backoff for its APIs: wait 1, 2,
//! 4, ... seconds plus up to 1 s of random jitter, up to a cap. Which errors
//! are worth a retry is decided by [`ChatError::is_retryable`].

use std::future::Future;
use std::time::Duration;

use rand::Rng;

use super::ChatError;
use crate::limits::SlowDown;

/// Maximum wait a server's `Retry-After` header can impose. It is larger than
/// [`RetryPolicy::max_delay`] because the server can tell when its quota
/// refills, but bounded so that a broken header cannot stall a run for hours.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(300);

/// Capped, jittered exponential backoff.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// Wait before the second attempt; doubles each time.
    pub base_delay: Duration,
    /// Upper bound of one computed wait, jitter included. A `Retry-After`
    /// header may ask for more, up to [`MAX_RETRY_AFTER`].
    pub max_delay: Duration,
    /// Upper bound of the random jitter added to each wait.
    pub max_jitter: Duration,
}

impl Default for RetryPolicy {
    /// Six attempts, waits of 1, 2, 4, 8 and 16 s plus up to 1 s of jitter,
    /// capped at 32 s.
    fn default() -> Self {
        Self {
            max_attempts: 6,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(32),
            max_jitter: Duration::from_secs(1),
        }
    }
}

impl RetryPolicy {
    /// Returns the wait before attempt `attempt + 1`, or `None` when the error
    /// must not be retried or the attempts are used up. `attempt` starts at 1.
    ///
    /// The wait is `base_delay * 2^(attempt - 1)` plus random jitter, capped
    /// at `max_delay`. When the server sent `Retry-After`, the wait is the
    /// larger of that and the computed one, with `Retry-After` capped at
    /// [`MAX_RETRY_AFTER`].
    pub fn delay_after(&self, error: &ChatError, attempt: u32) -> Option<Duration> {
        let jitter = random_up_to(self.max_jitter);
        self.delay_with_jitter(error, attempt, jitter)
    }

    /// Does the work of [`Self::delay_after`] with the jitter chosen by the
    /// caller, so that tests can check exact values.
    fn delay_with_jitter(
        &self,
        error: &ChatError,
        attempt: u32,
        jitter: Duration,
    ) -> Option<Duration> {
        if !error.is_retryable() || attempt >= self.max_attempts {
            return None;
        }
        let doubling = 1u32
            .checked_shl(attempt.saturating_sub(1))
            .unwrap_or(u32::MAX);
        let backoff = self
            .base_delay
            .saturating_mul(doubling)
            .saturating_add(jitter)
            .min(self.max_delay);
        let requested = error
            .retry_after()
            .unwrap_or(Duration::ZERO)
            .min(MAX_RETRY_AFTER);
        Some(backoff.max(requested))
    }
}

fn random_up_to(max: Duration) -> Duration {
    if max.is_zero() {
        return Duration::ZERO;
    }
    let nanos = u64::try_from(max.as_nanos()).unwrap_or(u64::MAX);
    Duration::from_nanos(rand::rng().random_range(0..=nanos))
}

/// Runs `operation` until it succeeds, fails with an error that is not worth
/// a retry, or uses up the policy's attempts; returns the last result.
///
/// Every attempt first waits at the `slow_down` gate. A 429 closes that gate
/// for the retry's wait, so that every worker of the run backs off, not only
/// this one. `on_retry` is called with the error, the attempt that failed
/// (from 1) and the wait before the next one.
pub async fn with_retries<T, Operation, Attempt, OnRetry>(
    policy: &RetryPolicy,
    slow_down: &SlowDown,
    mut operation: Operation,
    mut on_retry: OnRetry,
) -> Result<T, ChatError>
where
    Operation: FnMut() -> Attempt,
    Attempt: Future<Output = Result<T, ChatError>>,
    OnRetry: FnMut(&ChatError, u32, Duration),
{
    let mut attempt = 1;
    loop {
        slow_down.wait().await;
        let error = match operation().await {
            Ok(value) => return Ok(value),
            Err(error) => error,
        };
        let Some(delay) = policy.delay_after(&error, attempt) else {
            return Err(error);
        };
        if error.is_rate_limited() {
            slow_down.pause_for(delay);
        }
        on_retry(&error, attempt, delay);
        tokio::time::sleep(delay).await;
        attempt += 1;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;
    use crate::chat::error::TransportKind;

    fn api(http_status: u16) -> ChatError {
        ChatError::Api {
            method: "spaces.members.delete",
            target: "spaces/A/members/1".to_string(),
            http_status,
            status: None,
            message: "test".to_string(),
            retry_after: None,
        }
    }

    fn transport(kind: TransportKind) -> ChatError {
        ChatError::Transport {
            method: "spaces.members.list",
            target: "spaces/A".to_string(),
            kind,
            message: "test".to_string(),
        }
    }

    fn with_retry_after(seconds: u64) -> ChatError {
        ChatError::Api {
            method: "spaces.members.create",
            target: "spaces/A".to_string(),
            http_status: 429,
            status: Some("RESOURCE_EXHAUSTED".to_string()),
            message: "quota".to_string(),
            retry_after: Some(Duration::from_secs(seconds)),
        }
    }

    #[test]
    fn retry_table() {
        let cases: Vec<(ChatError, bool)> = vec![
            (api(429), true),
            (api(500), true),
            (api(502), true),
            (api(503), true),
            (api(504), true),
            (api(400), false),
            (api(401), false),
            (api(403), false),
            (api(404), false),
            (api(409), false),
            (api(501), false),
            (transport(TransportKind::Timeout), true),
            (transport(TransportKind::Connect), true),
            (transport(TransportKind::Reset), true),
            (transport(TransportKind::Other), false),
            (
                ChatError::Decode {
                    method: "spaces.get",
                    target: "spaces/A".to_string(),
                    path: "spaceType".to_string(),
                    message: "invalid type".to_string(),
                },
                false,
            ),
            (
                ChatError::Auth(crate::chat::auth::AuthError::Missing),
                false,
            ),
            (
                ChatError::InsecureEndpoint {
                    endpoint: "http://chat.example.com/".to_string(),
                },
                false,
            ),
        ];
        let policy = RetryPolicy::default();
        for (error, retried) in cases {
            assert_eq!(
                policy.delay_after(&error, 1).is_some(),
                retried,
                "{error:?}"
            );
            assert_eq!(error.is_retryable(), retried, "{error:?}");
        }
    }

    #[test]
    fn delays_double_without_jitter() {
        let policy = RetryPolicy::default();
        let error = api(503);
        let delays: Vec<_> = (1..6)
            .map(|attempt| policy.delay_with_jitter(&error, attempt, Duration::ZERO))
            .collect();
        let expected: Vec<_> = [1, 2, 4, 8, 16]
            .map(|s| Some(Duration::from_secs(s)))
            .to_vec();
        assert_eq!(delays, expected);
    }

    #[test]
    fn attempts_run_out() {
        let policy = RetryPolicy::default();
        assert!(policy.delay_after(&api(503), 5).is_some());
        assert_eq!(policy.delay_after(&api(503), 6), None);
        assert_eq!(policy.delay_after(&api(503), 60), None);
    }

    #[test]
    fn delays_capped_with_jitter() {
        let policy = RetryPolicy {
            max_attempts: 100,
            ..RetryPolicy::default()
        };
        let error = api(500);
        for attempt in 1..100 {
            let floor = Duration::from_secs(1u64 << (attempt - 1).min(20)).min(policy.max_delay);
            for _ in 0..20 {
                let delay = policy.delay_after(&error, attempt).unwrap();
                assert!(delay >= floor, "attempt {attempt}: {delay:?} < {floor:?}");
                assert!(
                    delay <= floor + policy.max_jitter,
                    "attempt {attempt}: {delay:?}"
                );
                assert!(delay <= policy.max_delay, "attempt {attempt}: {delay:?}");
            }
        }
    }

    #[test]
    fn jitter_varies() {
        let policy = RetryPolicy::default();
        let delays: std::collections::BTreeSet<_> = (0..50)
            .map(|_| policy.delay_after(&api(503), 1).unwrap())
            .collect();
        assert!(delays.len() > 1, "50 delays all equal: {delays:?}");
    }

    #[test]
    fn retry_after_longer_than_backoff_wins() {
        let policy = RetryPolicy::default();
        let delay = policy.delay_with_jitter(&with_retry_after(45), 1, Duration::ZERO);
        assert_eq!(delay, Some(Duration::from_secs(45)));
    }

    #[test]
    fn retry_after_shorter_than_backoff_ignored() {
        let policy = RetryPolicy::default();
        let delay = policy.delay_with_jitter(&with_retry_after(1), 4, Duration::ZERO);
        assert_eq!(delay, Some(Duration::from_secs(8)));
    }

    #[test]
    fn retry_after_capped() {
        let policy = RetryPolicy::default();
        let delay = policy.delay_with_jitter(&with_retry_after(86_400), 1, Duration::ZERO);
        assert_eq!(delay, Some(MAX_RETRY_AFTER));
    }

    fn fast_policy() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(5),
            max_jitter: Duration::from_millis(1),
        }
    }

    #[tokio::test]
    async fn with_retries_stops_on_success() {
        let calls = AtomicU32::new(0);
        let mut retries = Vec::new();
        let result = with_retries(
            &fast_policy(),
            &SlowDown::new(),
            || async {
                let call = calls.fetch_add(1, Ordering::SeqCst) + 1;
                if call < 3 { Err(api(503)) } else { Ok(call) }
            },
            |error, attempt, _delay| retries.push((error.http_status(), attempt)),
        )
        .await;
        assert_eq!(result.unwrap(), 3);
        assert_eq!(retries, vec![(Some(503), 1), (Some(503), 2)]);
    }

    #[tokio::test]
    async fn with_retries_gives_up_after_max_attempts() {
        let calls = AtomicU32::new(0);
        let result: Result<(), _> = with_retries(
            &fast_policy(),
            &SlowDown::new(),
            || async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err(api(500))
            },
            |_, _, _| {},
        )
        .await;
        assert_eq!(result.unwrap_err().http_status(), Some(500));
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn with_retries_never_repeats_not_found() {
        let calls = AtomicU32::new(0);
        let result: Result<(), _> = with_retries(
            &fast_policy(),
            &SlowDown::new(),
            || async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err(api(404))
            },
            |_, _, _| panic!("a 404 must not be retried"),
        )
        .await;
        assert!(result.unwrap_err().is_not_found());
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn with_retries_pauses_everyone_on_429() {
        let slow_down = SlowDown::new();
        let calls = AtomicU32::new(0);
        let mut paused = None;
        let _ = with_retries(
            &fast_policy(),
            &slow_down,
            || async {
                if calls.fetch_add(1, Ordering::SeqCst) == 0 {
                    Err(api(429))
                } else {
                    Ok(())
                }
            },
            |_, _, _| paused = slow_down.remaining(),
        )
        .await;
        assert!(paused.is_some(), "a 429 must close the slow-down gate");
    }
}
