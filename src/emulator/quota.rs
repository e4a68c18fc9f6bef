//! Quotas: one token bucket per documented Chat API quota.
//!
//! Three buckets are per Cloud project (membership writes, membership reads,
//! space reads) and two are per space (reads and writes, shared by every
//! caller acting in that space). Each bucket contains at most `limit` tokens,
//! starts full and refills continuously at `limit` per `period`, so a burst
//! of `limit` requests passes at once and the rate over a longer run
//! approaches `limit` per `period`.
//!
//! Google lists neither members.patch in the membership-write bucket nor
//! member create or delete in the per-space limits by name. The emulator
//! counts patch only against the per-space writes, and create and delete
//! against both the project's membership writes and the per-space writes.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde::Serialize;
use serde_json::json;

use super::error::{ApiError, Status};
use super::server::ApiCall;

/// A quota: at most `limit` requests per `period`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub limit: u32,
    pub period: Duration,
}

impl Rate {
    pub fn per_minute(limit: u32) -> Rate {
        Rate {
            limit,
            period: Duration::from_secs(60),
        }
    }

    pub fn per_second(limit: u32) -> Rate {
        Rate {
            limit,
            period: Duration::from_secs(1),
        }
    }

    /// Reads `LIMIT/PERIOD`: `300/min`, `15/s`, `40/2s`, `100/500ms`.
    pub fn parse(text: &str) -> anyhow::Result<Rate> {
        let shape = || {
            format!("invalid quota {text:?}: expected LIMIT/PERIOD such as 300/min, 15/s or 40/2s")
        };
        let (limit, period) = text.trim().split_once('/').with_context(shape)?;
        let limit: u32 = limit.trim().parse().ok().with_context(shape)?;
        let period = period.trim();
        let (count, unit) = period.split_at(
            period
                .find(|c: char| c.is_ascii_alphabetic())
                .with_context(shape)?,
        );
        let count: u64 = if count.is_empty() {
            1
        } else {
            count.parse().ok().with_context(shape)?
        };
        let period = match unit {
            "ms" => Duration::from_millis(count),
            "s" => Duration::from_secs(count),
            "min" => Duration::from_secs(60 * count),
            _ => bail!("{}", shape()),
        };
        if limit == 0 || period.is_zero() {
            bail!(
                "invalid quota {text:?}: the limit and the period must be above 0; use `off` for no quota"
            );
        }
        Ok(Rate { limit, period })
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let millis = self.period.as_millis();
        match millis {
            60_000 => write!(f, "{}/min", self.limit),
            1_000 => write!(f, "{}/s", self.limit),
            m if m % 1_000 == 0 => write!(f, "{}/{}s", self.limit, m / 1_000),
            m => write!(f, "{}/{}ms", self.limit, m),
        }
    }
}

/// One of the documented quota buckets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Bucket {
    /// Per project: members.create and members.delete.
    MembershipWrites,
    /// Per project: members.get and members.list.
    MembershipReads,
    /// Per project: spaces.get, spaces.list and spaces.search.
    SpaceReads,
    /// Per space: every read in that space.
    PerSpaceReads,
    /// Per space: every write in that space, members.patch included.
    PerSpaceWrites,
}

impl Bucket {
    pub const ALL: [Bucket; 5] = [
        Bucket::MembershipWrites,
        Bucket::MembershipReads,
        Bucket::SpaceReads,
        Bucket::PerSpaceReads,
        Bucket::PerSpaceWrites,
    ];

    /// The name used in the state file, in flags and in counters.
    pub fn as_str(self) -> &'static str {
        match self {
            Bucket::MembershipWrites => "membership_writes",
            Bucket::MembershipReads => "membership_reads",
            Bucket::SpaceReads => "space_reads",
            Bucket::PerSpaceReads => "per_space_reads",
            Bucket::PerSpaceWrites => "per_space_writes",
        }
    }

    /// Accepts the name with `_` or `-`.
    pub fn parse(text: &str) -> Option<Bucket> {
        let text = text.trim().replace('-', "_");
        Bucket::ALL
            .into_iter()
            .find(|bucket| bucket.as_str() == text)
    }

    /// The `quota_metric` reported in the ErrorInfo of a 429. Google's
    /// metric names for the Chat API are not documented; these follow the
    /// `SERVICE/METRIC` shape of other Google APIs.
    fn metric(self) -> &'static str {
        match self {
            Bucket::MembershipWrites => "chat.googleapis.com/membership_write_requests",
            Bucket::MembershipReads => "chat.googleapis.com/membership_read_requests",
            Bucket::SpaceReads => "chat.googleapis.com/space_read_requests",
            Bucket::PerSpaceReads => "chat.googleapis.com/per_space_read_requests",
            Bucket::PerSpaceWrites => "chat.googleapis.com/per_space_write_requests",
        }
    }

    fn google_default(self) -> Rate {
        match self {
            Bucket::MembershipWrites => Rate::per_minute(300),
            Bucket::MembershipReads | Bucket::SpaceReads => Rate::per_minute(3000),
            Bucket::PerSpaceReads => Rate::per_second(15),
            Bucket::PerSpaceWrites => Rate::per_second(1),
        }
    }
}

/// The quota of each bucket; `None` means unlimited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuotaSettings {
    rates: BTreeMap<Bucket, Option<Rate>>,
}

impl Default for QuotaSettings {
    /// No quotas, as when the state file has no `quotas:` section.
    fn default() -> Self {
        QuotaSettings::unlimited()
    }
}

impl QuotaSettings {
    /// Every bucket unlimited.
    pub fn unlimited() -> Self {
        QuotaSettings {
            rates: Bucket::ALL
                .into_iter()
                .map(|bucket| (bucket, None))
                .collect(),
        }
    }

    /// Google's published defaults: 300 membership writes, 3000 membership
    /// reads and 3000 space reads per minute per project; 15 reads and 1
    /// write per second per space.
    pub fn google() -> Self {
        QuotaSettings {
            rates: Bucket::ALL
                .into_iter()
                .map(|bucket| (bucket, Some(bucket.google_default())))
                .collect(),
        }
    }

    pub fn rate(&self, bucket: Bucket) -> Option<Rate> {
        self.rates.get(&bucket).copied().flatten()
    }

    pub fn set_rate(&mut self, bucket: Bucket, rate: Option<Rate>) {
        self.rates.insert(bucket, rate);
    }

    /// Applies one `BUCKET=LIMIT/PERIOD` or `BUCKET=off` override, the form
    /// taken by `chat-reconcile emulator --quota`. The bucket may also be
    /// `all`, and the value `google` for Google's default.
    pub fn apply(&mut self, spec: &str) -> anyhow::Result<()> {
        let (name, value) = spec.split_once('=').with_context(|| {
            format!("invalid quota setting {spec:?}: expected BUCKET=LIMIT/PERIOD or BUCKET=off")
        })?;
        let buckets: Vec<Bucket> = if name.trim() == "all" {
            Bucket::ALL.to_vec()
        } else {
            let bucket = Bucket::parse(name).with_context(|| {
                format!(
                    "unknown quota bucket {:?}; expected all or one of {}",
                    name.trim(),
                    Bucket::ALL.map(Bucket::as_str).join(", ")
                )
            })?;
            vec![bucket]
        };
        for bucket in buckets {
            let rate = match value.trim() {
                "off" => None,
                "google" => Some(bucket.google_default()),
                text => Some(Rate::parse(text)?),
            };
            self.set_rate(bucket, rate);
        }
        Ok(())
    }

    /// Describes the settings for the startup line of the standalone emulator.
    pub fn describe(&self) -> String {
        let parts: Vec<String> = self
            .rates
            .iter()
            .filter_map(|(bucket, rate)| rate.map(|rate| format!("{} {rate}", bucket.as_str())))
            .collect();
        if parts.is_empty() {
            "no quotas".to_string()
        } else {
            parts.join(", ")
        }
    }
}

/// Requests and refusals of one bucket, summed over spaces for the
/// per-space buckets.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct BucketCounter {
    /// Requests charged to the bucket, admitted or not.
    pub requests: u64,
    /// Requests refused with 429 because this bucket was empty.
    pub exhausted: u64,
}

struct TokenBucket {
    tokens: f64,
    updated: Instant,
}

impl TokenBucket {
    fn full(rate: Rate, now: Instant) -> Self {
        TokenBucket {
            tokens: f64::from(rate.limit),
            updated: now,
        }
    }

    /// Refills for the time passed, then reports whether a token is left.
    fn has_token(&mut self, rate: Rate, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.updated).as_secs_f64();
        let per_second = f64::from(rate.limit) / rate.period.as_secs_f64();
        self.tokens = (self.tokens + elapsed * per_second).min(f64::from(rate.limit));
        self.updated = now;
        self.tokens >= 1.0
    }
}

/// The live buckets of a running emulator.
#[derive(Default)]
pub(crate) struct Quotas {
    project: HashMap<Bucket, TokenBucket>,
    per_space: HashMap<(Bucket, String), TokenBucket>,
}

impl Quotas {
    /// Charges one request to every bucket it counts against. Either every
    /// bucket gives a token or none does, so a refused request costs nothing.
    pub fn charge(
        &mut self,
        settings: &QuotaSettings,
        counters: &mut BTreeMap<String, BucketCounter>,
        call: &ApiCall,
    ) -> Result<(), ApiError> {
        let now = Instant::now();
        let charged = buckets_of(call);
        let mut empty = None;
        for (bucket, space) in &charged {
            counters
                .entry(bucket.as_str().to_string())
                .or_default()
                .requests += 1;
            let Some(rate) = settings.rate(*bucket) else {
                continue;
            };
            let live = match space {
                None => self
                    .project
                    .entry(*bucket)
                    .or_insert_with(|| TokenBucket::full(rate, now)),
                Some(space) => self
                    .per_space
                    .entry((*bucket, space.clone()))
                    .or_insert_with(|| TokenBucket::full(rate, now)),
            };
            if !live.has_token(rate, now) && empty.is_none() {
                empty = Some((*bucket, rate));
            }
        }
        if let Some((bucket, rate)) = empty {
            counters
                .entry(bucket.as_str().to_string())
                .or_default()
                .exhausted += 1;
            return Err(exhausted(bucket, rate, call));
        }
        for (bucket, space) in &charged {
            let live = match space {
                None => self.project.get_mut(bucket),
                Some(space) => self.per_space.get_mut(&(*bucket, space.clone())),
            };
            if let Some(live) = live {
                live.tokens -= 1.0;
            }
        }
        Ok(())
    }
}

/// The buckets a call counts against, each with its space for the
/// per-space buckets.
fn buckets_of(call: &ApiCall) -> Vec<(Bucket, Option<String>)> {
    let space = |id: &str| Some(id.to_string());
    match call {
        ApiCall::SpacesList | ApiCall::SpacesSearch => vec![(Bucket::SpaceReads, None)],
        ApiCall::SpacesGet { space: id } => vec![
            (Bucket::SpaceReads, None),
            (Bucket::PerSpaceReads, space(id)),
        ],
        ApiCall::MembersList { space: id } | ApiCall::MembersGet { space: id, .. } => vec![
            (Bucket::MembershipReads, None),
            (Bucket::PerSpaceReads, space(id)),
        ],
        ApiCall::MembersCreate { space: id } | ApiCall::MembersDelete { space: id, .. } => vec![
            (Bucket::MembershipWrites, None),
            (Bucket::PerSpaceWrites, space(id)),
        ],
        ApiCall::MembersPatch { space: id, .. } => vec![(Bucket::PerSpaceWrites, space(id))],
    }
}

fn exhausted(bucket: Bucket, rate: Rate, call: &ApiCall) -> ApiError {
    let scope = match bucket {
        Bucket::PerSpaceReads | Bucket::PerSpaceWrites => "per space",
        _ => "per project",
    };
    let message = format!(
        "quota exceeded for quota metric '{}' ({} {scope}) on {}; retry with exponential backoff",
        bucket.metric(),
        rate,
        call.method_name()
    );
    let limit = format!("{}", rate);
    let detail = json!({
        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
        "reason": "RATE_LIMIT_EXCEEDED",
        "domain": "googleapis.com",
        "metadata": {
            "service": "chat.googleapis.com",
            "quota_metric": bucket.metric(),
            "quota_limit": bucket.as_str(),
            "quota_limit_value": rate.limit.to_string(),
            "quota_period": limit,
        },
    });
    ApiError::new(Status::ResourceExhausted, message).with_detail(detail)
}
