//! Errors of the Chat client, keeping Google's own status and message.

use std::time::{Duration, SystemTime};

use serde::Deserialize;

/// A failed Chat API call.
#[derive(Debug, thiserror::Error)]
pub enum ChatError {
    /// The API returned an error body.
    #[error("{method} {target}: HTTP {http_status} {}: {message}", status.as_deref().unwrap_or("(no status)"))]
    Api {
        method: &'static str,
        target: String,
        http_status: u16,
        /// Google's `error.status`, such as `FAILED_PRECONDITION`.
        status: Option<String>,
        /// Google's `error.message`, or an excerpt of a body that is not
        /// Google's error JSON.
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
    /// The endpoint is not an `http` or `https` URL that a path can be
    /// joined to.
    #[error("invalid Chat API endpoint {endpoint}: {reason}")]
    InvalidEndpoint { endpoint: String, reason: String },
    /// A resource name passed to the client does not have the form the
    /// method needs, so no request was sent.
    #[error("{method}: invalid resource name {name:?}, expected {expected}")]
    InvalidName {
        method: &'static str,
        name: String,
        expected: &'static str,
    },
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

impl ChatError {
    /// Returns the HTTP status of an API error.
    pub fn http_status(&self) -> Option<u16> {
        match self {
            Self::Api { http_status, .. } => Some(*http_status),
            _ => None,
        }
    }

    /// Returns Google's `error.status` of an API error, such as `NOT_FOUND`.
    pub fn api_status(&self) -> Option<&str> {
        match self {
            Self::Api { status, .. } => status.as_deref(),
            _ => None,
        }
    }

    /// Returns the wait a `Retry-After` header asked for.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Api { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// Checks whether the API returned 404: no such space or membership, or
    /// one the caller may not see.
    pub fn is_not_found(&self) -> bool {
        self.http_status() == Some(404)
    }

    /// Checks whether the API returned 409: the member is already in the space.
    pub fn is_already_exists(&self) -> bool {
        self.http_status() == Some(409)
    }

    /// Tells whether the API answered 429: a quota is used up.
    pub fn is_rate_limited(&self) -> bool {
        self.http_status() == Some(429)
    }

    /// Tells whether the API refused the change because of the space's state,
    /// such as removing or demoting its only owner.
    pub fn is_failed_precondition(&self) -> bool {
        self.api_status() == Some("FAILED_PRECONDITION")
    }

    /// Tells whether the same request may succeed later: HTTP 429, 500, 502,
    /// 503, 504, and timeouts, failed connections and resets. Every other
    /// error, 4xx answers included, fails the same way again.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Api { http_status, .. } => matches!(http_status, 429 | 500 | 502 | 503 | 504),
            Self::Transport { kind, .. } => kind != &TransportKind::Other,
            Self::Decode { .. }
            | Self::InsecureEndpoint { .. }
            | Self::InvalidEndpoint { .. }
            | Self::InvalidName { .. }
            | Self::Auth(_) => false,
        }
    }
}

/// Google's error envelope, `{"error": {"code", "message", "status", "details"}}`.
#[derive(Deserialize)]
struct ErrorEnvelope {
    error: ErrorBody,
}

#[derive(Deserialize)]
struct ErrorBody {
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    status: Option<String>,
}

/// Maximum length, in characters, of the excerpt kept from a body that is
/// not Google's error JSON.
const EXCERPT_CHARS: usize = 200;

/// Builds [`ChatError::Api`] from an error response's status, `Retry-After`
/// header value and body.
pub(crate) fn api_error(
    method: &'static str,
    target: &str,
    http_status: u16,
    retry_after: Option<&str>,
    body: &[u8],
) -> ChatError {
    let (status, message) = match serde_json::from_slice::<ErrorEnvelope>(body) {
        Ok(envelope) => (
            envelope.error.status.filter(|status| !status.is_empty()),
            envelope.error.message.unwrap_or_default(),
        ),
        Err(_) => (None, excerpt(body)),
    };
    ChatError::Api {
        method,
        target: target.to_string(),
        http_status,
        status,
        message,
        retry_after: retry_after.and_then(|value| parse_retry_after(value, SystemTime::now())),
    }
}

/// Collapses white space and cuts the body to [`EXCERPT_CHARS`], so that an
/// HTML error page from a proxy stays one readable line.
fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let words: Vec<&str> = text.split_whitespace().collect();
    let joined = words.join(" ");
    if joined.is_empty() {
        return "(empty body)".to_string();
    }
    if joined.chars().count() <= EXCERPT_CHARS {
        return joined;
    }
    let cut: String = joined.chars().take(EXCERPT_CHARS).collect();
    format!("{cut}...")
}

/// Reads `Retry-After` as delay seconds or as an HTTP date. A date in the
/// past means no wait.
pub(crate) fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let date = httpdate::parse_http_date(value).ok()?;
    Some(date.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Sorts a reqwest failure into a [`TransportKind`] and a message made of its
/// cause chain. The URL is left out: the error already names the resource.
pub(crate) fn transport_error(
    method: &'static str,
    target: &str,
    error: reqwest::Error,
) -> ChatError {
    let kind = transport_kind(&error);
    let error = error.without_url();
    let mut message = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        // hyper and the OS often repeat the text of the layer above.
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    ChatError::Transport {
        method,
        target: target.to_string(),
        kind,
        message,
    }
}

fn transport_kind(error: &reqwest::Error) -> TransportKind {
    if error.is_timeout() {
        return TransportKind::Timeout;
    }
    if error.is_connect() {
        return TransportKind::Connect;
    }
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(cause) = source {
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            use std::io::ErrorKind;
            match io.kind() {
                ErrorKind::TimedOut => return TransportKind::Timeout,
                ErrorKind::ConnectionRefused => return TransportKind::Connect,
                ErrorKind::ConnectionReset
                | ErrorKind::ConnectionAborted
                | ErrorKind::BrokenPipe
                | ErrorKind::UnexpectedEof => return TransportKind::Reset,
                _ => {}
            }
        }
        if let Some(hyper_error) = cause.downcast_ref::<hyper::Error>()
            && hyper_error.is_incomplete_message()
        {
            return TransportKind::Reset;
        }
        source = cause.source();
    }
    TransportKind::Other
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds() {
        let now = SystemTime::now();
        assert_eq!(parse_retry_after("7", now), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
    }

    #[test]
    fn retry_after_reads_http_date() {
        let now = httpdate::parse_http_date("Wed, 21 Oct 2026 07:28:00 GMT").unwrap();
        let delay = parse_retry_after("Wed, 21 Oct 2026 07:28:30 GMT", now);
        assert_eq!(delay, Some(Duration::from_secs(30)));
    }

    #[test]
    fn retry_after_date_in_past_is_zero() {
        let now = httpdate::parse_http_date("Wed, 21 Oct 2026 07:28:00 GMT").unwrap();
        let delay = parse_retry_after("Wed, 21 Oct 2026 07:00:00 GMT", now);
        assert_eq!(delay, Some(Duration::ZERO));
    }

    #[test]
    fn retry_after_ignores_garbage() {
        assert_eq!(parse_retry_after("soon", SystemTime::now()), None);
        assert_eq!(parse_retry_after("-3", SystemTime::now()), None);
    }

    #[test]
    fn excerpt_collapses_and_cuts() {
        let body = format!("<html>\n  <body>{}</body>\n</html>", "x".repeat(500));
        let text = excerpt(body.as_bytes());
        assert!(text.starts_with("<html> <body>xxx"), "{text}");
        assert!(text.ends_with("..."));
        assert_eq!(text.chars().count(), EXCERPT_CHARS + 3);
        assert_eq!(excerpt(b" \n"), "(empty body)");
    }

    #[test]
    fn api_error_without_status_field() {
        let error = api_error(
            "spaces.get",
            "spaces/A",
            400,
            None,
            br#"{"error": {"code": 400, "message": "bad"}}"#,
        );
        assert_eq!(error.api_status(), None);
        assert!(error.to_string().contains("(no status): bad"), "{error}");
    }
}
