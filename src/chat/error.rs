//! Errors of the Chat client, keeping Google's own status and message.

use std::time::Duration;

/// A failed Chat API call.
#[derive(Debug, thiserror::Error)]
pub enum ChatError {
    /// The API answered with an error body.
    #[error("{method} {target}: HTTP {http_status} {}: {message}", status.as_deref().unwrap_or("(no status)"))]
    Api {
        method: &'static str,
        target: String,
        http_status: u16,
        /// Google's `error.status`, such as `FAILED_PRECONDITION`.
        status: Option<String>,
        message: String,
        /// From a `Retry-After` header, if one was sent.
        retry_after: Option<Duration>,
    },
    /// No response: connection refused or reset, DNS, TLS, or a timeout.
    #[error("{method} {target}: {kind}: {message}")]
    Transport {
        method: &'static str,
        target: String,
        kind: TransportKind,
        message: String,
    },
    /// A response arrived but its body did not decode.
    #[error("{method} {target}: invalid response body at {path}: {message}")]
    Decode {
        method: &'static str,
        target: String,
        /// JSON path of the field that failed.
        path: String,
        message: String,
    },
    /// The endpoint would send the token in clear text.
    #[error(
        "refusing to send a bearer token over plain http to {endpoint}; use https, or a loopback address for a local emulator"
    )]
    InsecureEndpoint { endpoint: String },
    /// The token provider failed.
    #[error("could not get an access token")]
    Auth(#[from] super::auth::AuthError),
}

/// The kind of a transport failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportKind {
    Timeout,
    Connect,
    /// The connection closed before a complete response.
    Reset,
    Other,
}

impl std::fmt::Display for TransportKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Timeout => "timed out",
            Self::Connect => "connection failed",
            Self::Reset => "connection reset",
            Self::Other => "request failed",
        })
    }
}
