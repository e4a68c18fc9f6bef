//! Errors in Google's shape: `{"error": {"code", "message", "status", "details"}}`,
//! with `details` present only when it has entries.
//!
//! Each status carries the HTTP code that Google's error model pairs with it,
//! so a handler only picks the status and writes the message.

use axum::http::StatusCode;
use serde_json::json;

/// A `google.rpc.Code` name as it appears in the `status` field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    InvalidArgument,
    FailedPrecondition,
    Unauthenticated,
    NotFound,
    AlreadyExists,
    Unimplemented,
    PermissionDenied,
    ResourceExhausted,
    Internal,
    Unavailable,
    DeadlineExceeded,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::InvalidArgument => "INVALID_ARGUMENT",
            Status::FailedPrecondition => "FAILED_PRECONDITION",
            Status::Unauthenticated => "UNAUTHENTICATED",
            Status::NotFound => "NOT_FOUND",
            Status::AlreadyExists => "ALREADY_EXISTS",
            Status::Unimplemented => "UNIMPLEMENTED",
            Status::PermissionDenied => "PERMISSION_DENIED",
            Status::ResourceExhausted => "RESOURCE_EXHAUSTED",
            Status::Internal => "INTERNAL",
            Status::Unavailable => "UNAVAILABLE",
            Status::DeadlineExceeded => "DEADLINE_EXCEEDED",
        }
    }

    pub fn http(self) -> StatusCode {
        match self {
            Status::InvalidArgument | Status::FailedPrecondition => StatusCode::BAD_REQUEST,
            Status::Unauthenticated => StatusCode::UNAUTHORIZED,
            Status::NotFound => StatusCode::NOT_FOUND,
            Status::AlreadyExists => StatusCode::CONFLICT,
            Status::Unimplemented => StatusCode::NOT_IMPLEMENTED,
            Status::PermissionDenied => StatusCode::FORBIDDEN,
            Status::ResourceExhausted => StatusCode::TOO_MANY_REQUESTS,
            Status::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            Status::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Status::DeadlineExceeded => StatusCode::GATEWAY_TIMEOUT,
        }
    }
}

/// An error response: a status and a message for the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: Status,
    pub message: String,
    /// The `details` array of the body, such as an ErrorInfo; often empty.
    pub details: Vec<serde_json::Value>,
}

impl ApiError {
    pub fn new(status: Status, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
            details: Vec::new(),
        }
    }

    /// Adds an entry to `details`.
    pub fn with_detail(mut self, detail: serde_json::Value) -> Self {
        self.details.push(detail);
        self
    }

    pub fn permission_denied(message: impl Into<String>) -> Self {
        Self::new(Status::PermissionDenied, message)
    }

    pub fn invalid_argument(message: impl Into<String>) -> Self {
        Self::new(Status::InvalidArgument, message)
    }

    pub fn failed_precondition(message: impl Into<String>) -> Self {
        Self::new(Status::FailedPrecondition, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(Status::NotFound, message)
    }

    pub fn already_exists(message: impl Into<String>) -> Self {
        Self::new(Status::AlreadyExists, message)
    }

    pub fn unauthenticated(message: impl Into<String>) -> Self {
        Self::new(Status::Unauthenticated, message)
    }

    /// Renders the body Google sends with every error.
    pub fn body(&self) -> serde_json::Value {
        let mut body = json!({
            "error": {
                "code": self.status.http().as_u16(),
                "message": self.message,
                "status": self.status.as_str(),
            }
        });
        if !self.details.is_empty() {
            body["error"]["details"] = serde_json::Value::Array(self.details.clone());
        }
        body
    }
}

/// The result of one API handler: a JSON body for 200, or an error.
pub type ApiResult = Result<serde_json::Value, ApiError>;
