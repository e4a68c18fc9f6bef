//! Injected latency and faults, per API method, reproducible from a seed.
//!
//! For each request the emulator draws from one seeded generator, in the
//! order requests reach the fault step: first the outcome (a connection
//! reset, a hang, an injected 500, 503, 504 or 429, or none), then the jitter.
//! The same seed and the same sequence of requests give the same faults.
//!
//! An injected error or reset happens before the method runs, so the state
//! is unchanged. A hang delays the response for its duration and then runs the
//! method; if the client gives up first, the request is dropped unrun.

use std::collections::BTreeMap;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use anyhow::{Context, bail};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

use super::error::{ApiError, Status};

/// The method key that applies to every method without its own entry.
pub const EVERY_METHOD: &str = "*";

/// Latency and fault rates for one method. Rates are probabilities from 0
/// to 1 and their sum must not exceed 1.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct MethodFaults {
    /// Latency added to every response.
    pub latency: Duration,
    /// Up to this much more, drawn uniformly per request.
    pub jitter: Duration,
    /// Share of requests that get 500 INTERNAL.
    pub internal: f64,
    /// Share of requests that get 503 UNAVAILABLE.
    pub unavailable: f64,
    /// Share of requests that get 504 DEADLINE_EXCEEDED.
    pub deadline: f64,
    /// Share of requests that get 429 RESOURCE_EXHAUSTED, with the same
    /// ErrorInfo shape as a quota refusal, whatever the quotas.
    pub rate_limited: f64,
    /// Share of requests whose connection is dropped without a response.
    pub reset: f64,
    /// Share of requests held for `hang_for` before they get a response.
    pub hang: f64,
    pub hang_for: Duration,
}

impl MethodFaults {
    /// Sets one field from `NAME=VALUE`; durations take `ms` or `s`.
    fn set(&mut self, name: &str, value: &str) -> anyhow::Result<()> {
        let rate = || -> anyhow::Result<f64> {
            let rate: f64 = value
                .parse()
                .ok()
                .filter(|rate: &f64| (0.0..=1.0).contains(rate))
                .with_context(|| {
                    format!("invalid rate {value:?} for `{name}`: expected a number from 0 to 1")
                })?;
            Ok(rate)
        };
        match name {
            "latency" => self.latency = parse_duration(value)?,
            "jitter" => self.jitter = parse_duration(value)?,
            "hang_for" => self.hang_for = parse_duration(value)?,
            "error_500" => self.internal = rate()?,
            "error_503" => self.unavailable = rate()?,
            "error_504" => self.deadline = rate()?,
            "error_429" => self.rate_limited = rate()?,
            "reset" => self.reset = rate()?,
            "hang" => self.hang = rate()?,
            _ => bail!(
                "unknown fault setting `{name}`; expected latency, jitter, error_500, error_503, error_504, error_429, reset, hang or hang_for"
            ),
        }
        Ok(())
    }

    fn check(&self, method: &str) -> anyhow::Result<()> {
        let sum = self.internal
            + self.unavailable
            + self.deadline
            + self.rate_limited
            + self.reset
            + self.hang;
        if sum > 1.0 + 1e-9 {
            bail!("the fault rates of {method} add up to {sum}, more than 1");
        }
        if self.hang > 0.0 && self.hang_for.is_zero() {
            bail!("{method} has a hang rate but no `hang_for` duration");
        }
        Ok(())
    }
}

/// Reads `250ms`, `2s` or `1.5s`.
pub(crate) fn parse_duration(text: &str) -> anyhow::Result<Duration> {
    let text = text.trim();
    let invalid = || {
        format!("invalid duration {text:?}: expected a number with ms or s, such as 250ms or 2s")
    };
    let (number, scale) = if let Some(number) = text.strip_suffix("ms") {
        (number, 0.001)
    } else if let Some(number) = text.strip_suffix('s') {
        (number, 1.0)
    } else {
        bail!("{}", invalid());
    };
    let value: f64 = number.trim().parse().ok().with_context(invalid)?;
    if !value.is_finite() || value < 0.0 {
        bail!("{}", invalid());
    }
    Ok(Duration::from_secs_f64(value * scale))
}

/// Fault settings for every method, and the seed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FaultSettings {
    /// Seeds the generator; `None` picks a random seed, which the counters
    /// report so that a run can be repeated.
    pub seed: Option<u64>,
    /// Keyed by method name such as `spaces.members.delete`, or `*` for
    /// every method without its own entry.
    pub methods: BTreeMap<String, MethodFaults>,
}

impl FaultSettings {
    /// Applies one `METHOD:NAME=VALUE` override, the form taken by
    /// `chat-reconcile emulator --fault`; METHOD may be `*`. Example:
    /// `spaces.members.delete:error_503=0.1`.
    pub fn apply(&mut self, spec: &str) -> anyhow::Result<()> {
        let shape = || {
            format!(
                "invalid fault setting {spec:?}: expected METHOD:NAME=VALUE such as *:error_503=0.05"
            )
        };
        let (method, setting) = spec.split_once(':').with_context(shape)?;
        let (name, value) = setting.split_once('=').with_context(shape)?;
        let method = method.trim();
        check_method(method)?;
        let faults = self.methods.entry(method.to_string()).or_default();
        faults.set(name.trim(), value.trim())?;
        faults.check(method)
    }

    /// Checks every method name and rate.
    pub fn check(&self) -> anyhow::Result<()> {
        for (method, faults) in &self.methods {
            check_method(method)?;
            faults.check(method)?;
        }
        Ok(())
    }

    pub(crate) fn for_method(&self, method: &str) -> Option<&MethodFaults> {
        self.methods
            .get(method)
            .or_else(|| self.methods.get(EVERY_METHOD))
    }
}

/// The methods the emulator serves, the keys accepted in fault settings.
pub const METHODS: [&str; 8] = [
    "spaces.list",
    "spaces.get",
    "spaces.search",
    "spaces.members.list",
    "spaces.members.get",
    "spaces.members.create",
    "spaces.members.patch",
    "spaces.members.delete",
];

fn check_method(method: &str) -> anyhow::Result<()> {
    if method == EVERY_METHOD || METHODS.contains(&method) {
        return Ok(());
    }
    bail!(
        "unknown method {method:?} in fault settings; expected * or one of {}",
        METHODS.join(", ")
    )
}

/// The fault step's decision for one request: a delay and maybe a fault.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Decision {
    pub delay: Duration,
    pub fault: Option<Fault>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Fault {
    Internal,
    Unavailable,
    Deadline,
    RateLimited,
    Reset,
    Hang,
}

impl Fault {
    pub fn as_str(self) -> &'static str {
        match self {
            Fault::Internal => "error_500",
            Fault::Unavailable => "error_503",
            Fault::Deadline => "error_504",
            Fault::RateLimited => "error_429",
            Fault::Reset => "reset",
            Fault::Hang => "hang",
        }
    }

    /// The error returned for an injected 500, 503, 504 or 429.
    pub fn error(self, method: &str) -> Option<ApiError> {
        let (status, text) = match self {
            Fault::Internal => (Status::Internal, "internal error"),
            Fault::Unavailable => (Status::Unavailable, "the service is currently unavailable"),
            Fault::Deadline => (Status::DeadlineExceeded, "the request timed out"),
            Fault::RateLimited => return Some(injected_rate_limit(method)),
            Fault::Reset | Fault::Hang => return None,
        };
        Some(ApiError::new(
            status,
            format!("{text} (fault injected by the emulator into {method})"),
        ))
    }
}

/// An injected 429, shaped like a quota refusal so that a client cannot tell
/// the two apart, with `injected_fault` as the quota name.
fn injected_rate_limit(method: &str) -> ApiError {
    let detail = serde_json::json!({
        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
        "reason": "RATE_LIMIT_EXCEEDED",
        "domain": "googleapis.com",
        "metadata": {
            "service": "chat.googleapis.com",
            "quota_metric": "chat.googleapis.com/injected_fault_requests",
            "quota_limit": "injected_fault",
        },
    });
    ApiError::new(
        Status::ResourceExhausted,
        format!("quota exceeded (fault injected by the emulator into {method}); retry with exponential backoff"),
    )
    .with_detail(detail)
}

/// The seeded generator of a running emulator.
pub(crate) struct Injector {
    rng: StdRng,
    pub seed: u64,
}

impl Injector {
    pub fn new(seed: Option<u64>) -> Injector {
        let seed = seed.unwrap_or_else(rand::random);
        Injector {
            rng: StdRng::seed_from_u64(seed),
            seed,
        }
    }

    /// Draws the outcome and delay of one request to `method`. Methods
    /// without settings draw nothing, so they do not shift the sequence.
    pub fn decide(&mut self, settings: &FaultSettings, method: &str) -> Decision {
        let Some(faults) = settings.for_method(method) else {
            return Decision {
                delay: Duration::ZERO,
                fault: None,
            };
        };
        let draw: f64 = self.rng.random();
        let jitter: f64 = self.rng.random();
        let mut threshold = 0.0;
        let mut fault = None;
        for (rate, kind) in [
            (faults.reset, Fault::Reset),
            (faults.hang, Fault::Hang),
            (faults.internal, Fault::Internal),
            (faults.unavailable, Fault::Unavailable),
            (faults.deadline, Fault::Deadline),
            // Last, so that settings without it draw the same faults as
            // before it existed.
            (faults.rate_limited, Fault::RateLimited),
        ] {
            threshold += rate;
            if draw < threshold {
                fault = Some(kind);
                break;
            }
        }
        let mut delay = faults.latency + faults.jitter.mul_f64(jitter);
        if fault == Some(Fault::Hang) {
            delay += faults.hang_for;
        }
        Decision { delay, fault }
    }
}

/// Lets a request handler drop its own connection without a response.
/// Each accepted connection gets one; axum hands it to the handler as
/// connect info.
#[derive(Debug, Clone, Default)]
pub(crate) struct ConnectionReset(Arc<AtomicBool>);

impl ConnectionReset {
    /// Marks the connection: its next read or write fails, and the socket
    /// closes with a TCP reset.
    pub fn trigger(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    fn triggered(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

impl axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, ResettableListener>>
    for ConnectionReset
{
    fn connect_info(stream: axum::serve::IncomingStream<'_, ResettableListener>) -> Self {
        stream.remote_addr().clone()
    }
}

/// A TCP listener whose connections can be reset by their handler.
pub(crate) struct ResettableListener(pub TcpListener);

impl axum::serve::Listener for ResettableListener {
    type Io = ResettableStream;
    type Addr = ConnectionReset;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.0.accept().await {
                Ok((stream, _)) => {
                    let _ = stream.set_nodelay(true);
                    let reset = ConnectionReset::default();
                    let io = ResettableStream {
                        stream,
                        reset: reset.clone(),
                    };
                    return (io, reset);
                }
                Err(error) => {
                    // Running out of file descriptors and similar errors
                    // pass; wait instead of spinning.
                    tracing::warn!(%error, "emulator cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        Ok(ConnectionReset::default())
    }
}

/// A TCP stream that fails once its [`ConnectionReset`] is triggered.
pub(crate) struct ResettableStream {
    stream: TcpStream,
    reset: ConnectionReset,
}

impl ResettableStream {
    fn check(&self) -> io::Result<()> {
        if self.reset.triggered() {
            // A zero linger turns the close into a TCP reset.
            let _ = self.stream.set_zero_linger();
            return Err(io::Error::new(
                io::ErrorKind::ConnectionReset,
                "connection reset injected by the emulator",
            ));
        }
        Ok(())
    }
}

impl AsyncRead for ResettableStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.check()?;
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for ResettableStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.check()?;
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<io::Result<()>> {
        self.check()?;
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}
