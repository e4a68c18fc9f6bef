//! Bearer tokens for the client. The OAuth flows plug in behind
//! [`TokenProvider`]; this module keeps tokens out of logs and `Debug`.

use futures::future::BoxFuture;

/// A bearer token whose `Debug` and `Display` never show the value.
#[derive(Clone)]
pub struct AccessToken(String);

impl AccessToken {
    pub fn new(value: String) -> Self {
        Self(value)
    }

    /// Returns the raw token, for the `Authorization` header only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AccessToken(<redacted>)")
    }
}

/// A failure to obtain a token.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("no access token: set GOOGLE_OAUTH_ACCESS_TOKEN or pass --access-token-file")]
    Missing,
    #[error("could not read the access token file {path}: {message}")]
    File { path: String, message: String },
    #[error("the access token file {path} is empty")]
    EmptyFile { path: String },
}

/// Hands out bearer tokens.
pub trait TokenProvider: Send + Sync {
    /// Returns a token valid for at least the next request.
    fn token(&self) -> BoxFuture<'_, Result<AccessToken, AuthError>>;
}

/// A fixed token, from `GOOGLE_OAUTH_ACCESS_TOKEN` or a file.
pub struct StaticToken(AccessToken);

impl StaticToken {
    pub fn new(token: AccessToken) -> Self {
        Self(token)
    }

    /// Reads the token from a file, trimming surrounding white space.
    pub fn from_file(_path: &std::path::Path) -> Result<Self, AuthError> {
        todo!()
    }
}

impl TokenProvider for StaticToken {
    fn token(&self) -> BoxFuture<'_, Result<AccessToken, AuthError>> {
        let token = self.0.clone();
        Box::pin(async move { Ok(token) })
    }
}
