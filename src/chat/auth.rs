//! Bearer tokens for the client. The OAuth flows plug in behind
//! [`TokenProvider`]; this module keeps tokens out of logs and `Debug`.

use std::path::Path;

use futures::future::BoxFuture;

/// The environment variable a fixed access token is read from.
pub const TOKEN_ENV_VAR: &str = "GOOGLE_OAUTH_ACCESS_TOKEN";

/// A bearer token whose `Debug` never shows the value. It has no `Display`.
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

/// A failure to obtain a token. No variant carries the token itself.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("no access token: set GOOGLE_OAUTH_ACCESS_TOKEN or pass --access-token-file")]
    Missing,
    #[error("could not read the access token file {path}: {message}")]
    File { path: String, message: String },
    #[error("the access token file {path} is empty")]
    EmptyFile { path: String },
    /// The token contains white space or control characters, so it cannot
    /// go into an HTTP header.
    #[error(
        "the access token from {origin} contains characters not allowed in an HTTP header; check that it holds only the token"
    )]
    Invalid { origin: String },
    /// No service account key file was given.
    #[error(
        "no credentials: pass --credentials KEY.json or set GOOGLE_APPLICATION_CREDENTIALS to a service account key file"
    )]
    MissingCredentials,
    /// The key file is not a usable service account key.
    #[error("the credentials file {path} cannot be used: {reason}")]
    KeyFile { path: String, reason: String },
    /// The token endpoint refused or did not answer.
    #[error("could not get an access token for {origin}: {reason}")]
    Fetch { origin: String, reason: String },
}

/// Hands out bearer tokens.
pub trait TokenProvider: Send + Sync {
    /// Returns a token valid for at least the next request.
    fn token(&self) -> BoxFuture<'_, Result<AccessToken, AuthError>>;

    /// Returns a new token after the API rejected `rejected` as expired or
    /// invalid. A fixed token cannot be renewed and is returned as it is.
    fn refresh(&self, rejected: &AccessToken) -> BoxFuture<'_, Result<AccessToken, AuthError>> {
        let _ = rejected;
        self.token()
    }

    /// Whether [`TokenProvider::refresh`] can return a different token, so
    /// that a request rejected with 401 is worth sending again.
    fn renewable(&self) -> bool {
        false
    }
}

/// A fixed token, from `GOOGLE_OAUTH_ACCESS_TOKEN` or a file.
pub struct StaticToken(AccessToken);

impl StaticToken {
    pub fn new(token: AccessToken) -> Self {
        Self(token)
    }

    /// Reads the token from a file, trimming surrounding white space.
    ///
    /// Fails when the file cannot be read, is empty, or contains more than one
    /// word (a token never contains white space).
    pub fn from_file(path: &Path) -> Result<Self, AuthError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|error| AuthError::File {
            path: shown.clone(),
            message: error.to_string(),
        })?;
        let value = text.trim();
        if value.is_empty() {
            return Err(AuthError::EmptyFile { path: shown });
        }
        check_token(value, &format!("the file {shown}"))?;
        Ok(Self(AccessToken::new(value.to_string())))
    }
}

impl std::fmt::Debug for StaticToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StaticToken(<redacted>)")
    }
}

impl TokenProvider for StaticToken {
    fn token(&self) -> BoxFuture<'_, Result<AccessToken, AuthError>> {
        let token = self.0.clone();
        Box::pin(async move { Ok(token) })
    }
}

/// Reads a fixed token from `file` when one is given, otherwise from the
/// `GOOGLE_OAUTH_ACCESS_TOKEN` environment variable.
///
/// Fails with [`AuthError::Missing`] when no file is given and the variable
/// is unset or blank.
pub fn token_from_env_or_file(file: Option<&Path>) -> Result<StaticToken, AuthError> {
    let from_env = std::env::var(TOKEN_ENV_VAR).ok();
    token_from(file, from_env.as_deref())
}

/// Does the work of [`token_from_env_or_file`] with the variable's value
/// passed in, so that tests need not change the process environment.
fn token_from(file: Option<&Path>, from_env: Option<&str>) -> Result<StaticToken, AuthError> {
    if let Some(path) = file {
        return StaticToken::from_file(path);
    }
    let value = from_env.map(str::trim).unwrap_or_default();
    if value.is_empty() {
        return Err(AuthError::Missing);
    }
    check_token(value, TOKEN_ENV_VAR)?;
    Ok(StaticToken::new(AccessToken::new(value.to_string())))
}

/// Accepts only visible ASCII, which is what OAuth access tokens are made of
/// and what an `Authorization` header can carry.
fn check_token(value: &str, origin: &str) -> Result<(), AuthError> {
    if value.bytes().all(|byte| byte.is_ascii_graphic()) {
        Ok(())
    } else {
        Err(AuthError::Invalid {
            origin: origin.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_file(name: &str, contents: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("chat-reconcile-auth-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, contents).unwrap();
        path
    }

    async fn value_of(token: &StaticToken) -> String {
        token.token().await.unwrap().expose().to_string()
    }

    #[tokio::test]
    async fn from_file_trims_white_space() {
        let path = temp_file("trim", "  ya29.abc-DEF_123\n\n");
        let token = StaticToken::from_file(&path).unwrap();
        assert_eq!(value_of(&token).await, "ya29.abc-DEF_123");
    }

    #[test]
    fn from_file_rejects_empty_file() {
        let path = temp_file("empty", " \n");
        let error = StaticToken::from_file(&path).unwrap_err();
        assert!(matches!(error, AuthError::EmptyFile { .. }), "{error:?}");
    }

    #[test]
    fn from_file_reports_missing_file() {
        let path = std::env::temp_dir().join("chat-reconcile-auth-no-such-file");
        let error = StaticToken::from_file(&path).unwrap_err();
        assert!(matches!(error, AuthError::File { .. }), "{error:?}");
        assert!(
            error
                .to_string()
                .contains("chat-reconcile-auth-no-such-file")
        );
    }

    #[test]
    fn from_file_rejects_two_words_without_echoing_them() {
        let path = temp_file("two-words", "secret-one secret-two\n");
        let error = StaticToken::from_file(&path).unwrap_err();
        assert!(matches!(error, AuthError::Invalid { .. }), "{error:?}");
        assert!(!error.to_string().contains("secret"));
        assert!(!format!("{error:?}").contains("secret-one"));
    }

    #[tokio::test]
    async fn file_wins_over_environment() {
        let path = temp_file("wins", "from-file");
        let token = token_from(Some(&path), Some("from-env")).unwrap();
        assert_eq!(value_of(&token).await, "from-file");
    }

    #[tokio::test]
    async fn environment_used_without_file() {
        let token = token_from(None, Some(" from-env\n")).unwrap();
        assert_eq!(value_of(&token).await, "from-env");
    }

    #[test]
    fn missing_without_file_or_environment() {
        assert!(matches!(token_from(None, None), Err(AuthError::Missing)));
        assert!(matches!(
            token_from(None, Some("  ")),
            Err(AuthError::Missing)
        ));
    }

    #[test]
    fn debug_hides_token() {
        let token = StaticToken::new(AccessToken::new("top-secret".to_string()));
        assert!(!format!("{token:?}").contains("top-secret"));
        assert!(!format!("{:?}", token.0).contains("top-secret"));
    }
}
