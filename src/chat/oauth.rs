//! OAuth token providers built on yup-oauth2: a service account acting for
//! a user through domain-wide delegation or as its Chat app, and a person
//! signed in once with `chat-reconcile login` (the installed-app flow).
//!
//! yup-oauth2 neither combines concurrent fetches nor bounds them in time,
//! so [`OAuthTokens`] keeps its own cache behind a tokio mutex:
//! one fetch at a time, each with a timeout, and a refresh shortly before
//! the token expires. Errors name the file and the reason, never a key or
//! a token.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use tokio::sync::Mutex;
use yup_oauth2::authenticator::DefaultAuthenticator;

use super::auth::{AccessToken, AuthError, TokenProvider};

/// The environment variable naming a service account key file.
pub const CREDENTIALS_ENV_VAR: &str = "GOOGLE_APPLICATION_CREDENTIALS";

/// How long one token request may take.
pub const TOKEN_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// A token is refreshed when less than this remains of its life (or less
/// than half of it, for tokens that live under two minutes).
const REFRESH_MARGIN: Duration = Duration::from_secs(60);

const SCOPE_PREFIX: &str = "https://www.googleapis.com/auth/";

/// What a command does with the API, which decides the scopes it asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// `plan`, `export`, dry runs: reads only.
    Read,
    /// `apply`: adds, removes and changes memberships.
    Write,
}

/// Who the token acts as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Principal {
    /// A user: installed-app login, domain-wide delegation, or a fixed token.
    User,
    /// A user in admin mode (`useAdminAccess=true`).
    Admin,
    /// The Chat app (app authentication).
    App,
}

/// The scopes, without prefix, a principal needs for an access. The least
/// that lets the commands work: read-only scopes for reads.
pub fn scopes_for(principal: Principal, access: Access) -> &'static [&'static str] {
    match (principal, access) {
        (Principal::User, Access::Read) => &["chat.memberships.readonly", "chat.spaces.readonly"],
        (Principal::User, Access::Write) => &["chat.memberships", "chat.spaces.readonly"],
        (Principal::Admin, Access::Read) => &[
            "chat.admin.memberships.readonly",
            "chat.admin.spaces.readonly",
        ],
        (Principal::Admin, Access::Write) => {
            &["chat.admin.memberships", "chat.admin.spaces.readonly"]
        }
        // The chat.app.* scopes have no read-only form; chat.bot reads
        // spaces and memberships the app belongs to.
        (Principal::App, Access::Read) => &["chat.bot"],
        (Principal::App, Access::Write) => &["chat.app.memberships", "chat.bot"],
    }
}

/// The full scope URLs for a principal and access.
pub fn scope_urls(principal: Principal, access: Access) -> Vec<String> {
    scopes_for(principal, access)
        .iter()
        .map(|scope| format!("{SCOPE_PREFIX}{scope}"))
        .collect()
}

/// Finds the service account key file: `--credentials`, else
/// `GOOGLE_APPLICATION_CREDENTIALS`.
pub fn credentials_path(flag: Option<&Path>) -> Option<PathBuf> {
    if let Some(path) = flag {
        return Some(path.to_path_buf());
    }
    std::env::var_os(CREDENTIALS_ENV_VAR)
        .filter(|value| !value.is_empty())
        .map(PathBuf::from)
}

struct Cached {
    token: AccessToken,
    refresh_at: Instant,
}

/// Tokens from a yup-oauth2 authenticator: a service account's, or a
/// signed-in person's refreshed from the token cache.
pub struct OAuthTokens {
    authenticator: DefaultAuthenticator,
    scopes: Vec<String>,
    /// Shown in errors: the key file and, if any, the user impersonated.
    origin: String,
    cached: Mutex<Option<Cached>>,
    timeout: Duration,
}

impl std::fmt::Debug for OAuthTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthTokens")
            .field("origin", &self.origin)
            .field("scopes", &self.scopes)
            .finish_non_exhaustive()
    }
}

impl OAuthTokens {
    /// Tokens for a service account, acting for `subject` (domain-wide
    /// delegation) or, without one, as itself (app authentication). Reads
    /// the key file and prepares the flow; fetches nothing yet.
    ///
    /// Fails when the file cannot be read, is not JSON, or is not a service
    /// account key (`type` is not `service_account`, or `private_key`,
    /// `client_email` or `token_uri` is missing). The message names the
    /// file and the field, never the key.
    pub async fn service_account(
        key_file: &Path,
        subject: Option<&str>,
        scopes: Vec<String>,
    ) -> Result<Self, AuthError> {
        let file_name = key_file.display().to_string();
        let text = std::fs::read(key_file).map_err(|error| AuthError::File {
            path: file_name.clone(),
            message: error.to_string(),
        })?;
        check_key_file(&text).map_err(|reason| AuthError::KeyFile {
            path: file_name.clone(),
            reason,
        })?;
        let key = yup_oauth2::parse_service_account_key(&text).map_err(|_| AuthError::KeyFile {
            path: file_name.clone(),
            reason: "it does not hold a valid service account key".to_string(),
        })?;
        let mut builder = yup_oauth2::ServiceAccountAuthenticator::builder(key);
        if let Some(subject) = subject {
            builder = builder.subject(subject);
        }
        let authenticator = builder.build().await.map_err(|_| AuthError::KeyFile {
            path: file_name.clone(),
            reason: "its private_key is not a PKCS#8 RSA key in PEM form".to_string(),
        })?;
        let origin = match subject {
            Some(subject) => format!("the service account in {file_name} acting for {subject}"),
            None => format!("the service account in {file_name}"),
        };
        Ok(Self {
            authenticator,
            scopes,
            origin,
            cached: Mutex::new(None),
            timeout: TOKEN_REQUEST_TIMEOUT,
        })
    }

    /// Tokens for a person who signed in with `chat-reconcile login`,
    /// refreshed from `cache`. Never opens a browser or waits for one: when
    /// the cache is missing or its refresh token is expired or revoked,
    /// [`TokenProvider::token`] fails at once, saying to run `login`.
    pub async fn installed(
        client_secret: &Path,
        cache: &Path,
        scopes: Vec<String>,
    ) -> Result<Self, AuthError> {
        let secret = read_client_secret(client_secret).await?;
        let authenticator = yup_oauth2::InstalledFlowAuthenticator::builder(
            secret,
            yup_oauth2::InstalledFlowReturnMethod::Interactive,
        )
        .flow_delegate(Box::new(NoBrowser {
            client_secret: client_secret.display().to_string(),
        }))
        .with_storage(Box::new(CacheFile::new(cache.to_path_buf())))
        .build()
        .await
        .map_err(|error| AuthError::File {
            path: cache.display().to_string(),
            message: error.to_string(),
        })?;
        Ok(Self {
            authenticator,
            scopes,
            origin: format!("the sign-in cached in {}", cache.display()),
            cached: Mutex::new(None),
            timeout: TOKEN_REQUEST_TIMEOUT,
        })
    }

    /// Fetches a new token, holding the cache lock so that fetches never
    /// overlap.
    async fn fetch(
        &self,
        cached: &mut Option<Cached>,
        force: bool,
    ) -> Result<AccessToken, AuthError> {
        let request = async {
            if force {
                self.authenticator.force_refreshed_token(&self.scopes).await
            } else {
                self.authenticator.token(&self.scopes).await
            }
        };
        let token = match tokio::time::timeout(self.timeout, request).await {
            Err(_) => {
                return Err(AuthError::Fetch {
                    origin: self.origin.clone(),
                    reason: format!(
                        "the token endpoint did not answer within {} s",
                        self.timeout.as_secs()
                    ),
                });
            }
            Ok(Err(error)) => {
                return Err(AuthError::Fetch {
                    origin: self.origin.clone(),
                    reason: describe(&error),
                });
            }
            Ok(Ok(token)) => token,
        };
        let Some(value) = token.token() else {
            return Err(AuthError::Fetch {
                origin: self.origin.clone(),
                reason: "the token endpoint returned no access token".to_string(),
            });
        };
        let now = Instant::now();
        let life = token
            .expiration_time()
            .map(|expires| {
                let left = expires.unix_timestamp() - unix_now();
                Duration::from_secs(left.max(0) as u64)
            })
            .unwrap_or(Duration::from_secs(3600));
        let margin = REFRESH_MARGIN.min(life / 2);
        let access = AccessToken::new(value.to_string());
        *cached = Some(Cached {
            token: access.clone(),
            refresh_at: now + life.saturating_sub(margin),
        });
        Ok(access)
    }
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs() as i64)
}

impl TokenProvider for OAuthTokens {
    fn token(&self) -> BoxFuture<'_, Result<AccessToken, AuthError>> {
        Box::pin(async move {
            let mut cached = self.cached.lock().await;
            if let Some(current) = cached.as_ref()
                && Instant::now() < current.refresh_at
            {
                return Ok(current.token.clone());
            }
            self.fetch(&mut cached, false).await
        })
    }

    fn refresh(&self, rejected: &AccessToken) -> BoxFuture<'_, Result<AccessToken, AuthError>> {
        let rejected = rejected.expose().to_string();
        Box::pin(async move {
            let mut cached = self.cached.lock().await;
            // Another request may have refreshed it while this one waited.
            if let Some(current) = cached.as_ref()
                && current.token.expose() != rejected
                && Instant::now() < current.refresh_at
            {
                return Ok(current.token.clone());
            }
            self.fetch(&mut cached, true).await
        })
    }

    fn renewable(&self) -> bool {
        true
    }
}

/// Reads an installed-app client secret (`client_secret.json` from the
/// Cloud console), naming the file and the problem on failure.
pub async fn read_client_secret(path: &Path) -> Result<yup_oauth2::ApplicationSecret, AuthError> {
    let file_name = path.display().to_string();
    let text = std::fs::read(path).map_err(|error| AuthError::File {
        path: file_name.clone(),
        message: error.to_string(),
    })?;
    let bad = |reason: &str| AuthError::KeyFile {
        path: file_name.clone(),
        reason: reason.to_string(),
    };
    let value: serde_json::Value =
        serde_json::from_slice(&text).map_err(|_| bad("it is not a JSON document"))?;
    if value.get("type").and_then(|kind| kind.as_str()) == Some("service_account") {
        return Err(bad(
            "it is a service account key; pass it with --credentials instead",
        ));
    }
    if value.get("installed").is_none() {
        return Err(bad(
            "it has no `installed` section; create an OAuth client of type Desktop app in the Cloud console",
        ));
    }
    yup_oauth2::parse_application_secret(&text).map_err(|_| {
        bad("its `installed` section lacks client_id, client_secret, auth_uri or token_uri")
    })
}

/// The installed flow's delegate for runs that must not wait for a person:
/// it fails at once instead of showing a sign-in URL.
struct NoBrowser {
    client_secret: String,
}

impl yup_oauth2::authenticator_delegate::InstalledFlowDelegate for NoBrowser {
    fn present_user_url<'a>(
        &'a self,
        _url: &'a str,
        _need_code: bool,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<String, String>> + Send + 'a>>
    {
        let message = format!(
            "no valid sign-in: the cached refresh token is missing, expired or revoked; run `chat-reconcile login --client-secret {}` and then this command again",
            self.client_secret
        );
        Box::pin(async move { Err(message) })
    }
}

/// The token cache of the installed flow: one JSON file holding the
/// signed-in person's tokens, whatever scopes are asked for (a refresh token
/// covers every scope consented to at `login`).
///
/// Writes go to a temporary file in the same directory, created with mode
/// 0600, synced, then renamed over the cache, so a run killed while writing
/// leaves the old cache or the new one, never a partial file.
pub struct CacheFile {
    path: PathBuf,
    /// False for `login`, which must ask for consent even when a cache exists.
    read_existing: bool,
}

impl CacheFile {
    pub fn new(path: PathBuf) -> Self {
        Self {
            path,
            read_existing: true,
        }
    }

    /// A cache that is written but never read, for a fresh sign-in.
    pub fn for_login(path: PathBuf) -> Self {
        Self {
            path,
            read_existing: false,
        }
    }

    /// Writes `contents` to the cache atomically, with mode 0600.
    pub fn write(&self, contents: &[u8]) -> std::io::Result<()> {
        use std::io::Write as _;

        let directory = match self.path.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
            _ => PathBuf::from("."),
        };
        std::fs::create_dir_all(&directory)?;
        let name = self
            .path
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_else(|| "token-cache".to_string());
        let temporary = directory.join(format!(".{name}.{}.tmp", std::process::id()));
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            options.mode(0o600);
        }
        let result = (|| {
            let mut file = options.open(&temporary)?;
            file.write_all(contents)?;
            file.sync_all()?;
            std::fs::rename(&temporary, &self.path)?;
            // Persist the rename itself.
            std::fs::File::open(&directory)?.sync_all()
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&temporary);
        }
        result
    }
}

#[async_trait::async_trait]
impl yup_oauth2::storage::TokenStorage for CacheFile {
    async fn set(
        &self,
        _scopes: &[&str],
        token: yup_oauth2::storage::TokenInfo,
    ) -> Result<(), yup_oauth2::storage::TokenStorageError> {
        let contents = serde_json::to_vec(&token).map_err(|error| {
            yup_oauth2::storage::TokenStorageError::Other(error.to_string().into())
        })?;
        self.write(&contents).map_err(|error| {
            yup_oauth2::storage::TokenStorageError::Other(
                format!(
                    "could not write the token cache {}: {error}",
                    self.path.display()
                )
                .into(),
            )
        })
    }

    async fn get(&self, _scopes: &[&str]) -> Option<yup_oauth2::storage::TokenInfo> {
        if !self.read_existing {
            return None;
        }
        let contents = std::fs::read(&self.path).ok()?;
        serde_json::from_slice(&contents).ok()
    }
}

/// The default token cache: `chat-reconcile/token-cache.json` in the
/// user's configuration directory (`$XDG_CONFIG_HOME`, else `~/.config`).
pub fn default_token_cache() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|value| !value.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".config")))?;
    Some(base.join("chat-reconcile").join("token-cache.json"))
}

/// Checks that a key file is a service account key, naming the field that
/// is wrong. Values are never quoted: they may be the key.
fn check_key_file(text: &[u8]) -> Result<(), String> {
    let value: serde_json::Value =
        serde_json::from_slice(text).map_err(|_| "it is not a JSON document".to_string())?;
    let Some(object) = value.as_object() else {
        return Err("it is not a JSON object".to_string());
    };
    match object.get("type").and_then(|kind| kind.as_str()) {
        Some("service_account") => {}
        Some("authorized_user") => {
            return Err(
                "it holds user credentials (type authorized_user), not a service account key; \
                 download a key for the service account in the Cloud console"
                    .to_string(),
            );
        }
        _ => return Err("its `type` is not `service_account`".to_string()),
    }
    for field in ["private_key", "client_email", "token_uri"] {
        if !object.get(field).is_some_and(serde_json::Value::is_string) {
            return Err(format!("it has no string field `{field}`"));
        }
    }
    Ok(())
}

/// Describes a yup-oauth2 error for the operator. The token endpoint's own
/// error code and description are kept; the rest carries no secret either.
fn describe(error: &yup_oauth2::Error) -> String {
    match error {
        yup_oauth2::Error::AuthError(auth) => {
            let mut text = auth.error.as_str().to_string();
            if let Some(description) = &auth.error_description {
                text.push_str(": ");
                text.push_str(description);
            }
            match auth.error.as_str() {
                "unauthorized_client" => text.push_str(
                    "; check that an administrator authorised this client id for these scopes \
                     (domain-wide delegation in the Admin console)",
                ),
                "invalid_grant" => {
                    text.push_str("; check the key is current and the impersonated user exists")
                }
                _ => {}
            }
            text
        }
        yup_oauth2::Error::HttpError(_) | yup_oauth2::Error::HttpClientError(_) => {
            format!("could not reach the token endpoint: {error}")
        }
        yup_oauth2::Error::UserError(message) => message.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cache_dir(test: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "chat-reconcile-cache-{test}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[cfg(unix)]
    #[test]
    fn cache_write_is_private_and_whole() {
        use std::os::unix::fs::PermissionsExt as _;

        let dir = cache_dir("private");
        let cache = CacheFile::new(dir.join("nested").join("cache.json"));
        cache.write(b"{\"old\": true}").unwrap();
        cache.write(b"{\"new\": true}").unwrap();
        let path = dir.join("nested").join("cache.json");
        assert_eq!(std::fs::read(&path).unwrap(), b"{\"new\": true}");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let entries = std::fs::read_dir(dir.join("nested")).unwrap().count();
        assert_eq!(entries, 1, "a temporary file was left behind");
    }

    /// A writer killed mid-write leaves only its temporary file half
    /// written: the cache keeps the old contents, and the next write works.
    #[test]
    fn killed_writer_leaves_old_cache() {
        let dir = cache_dir("killed");
        let path = dir.join("cache.json");
        let cache = CacheFile::new(path.clone());
        cache.write(b"{\"old\": true}").unwrap();
        let temporary = dir.join(format!(".cache.json.{}.tmp", std::process::id()));
        std::fs::write(&temporary, b"{\"new\": tr").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"{\"old\": true}");
        cache.write(b"{\"new\": true}").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"{\"new\": true}");
    }

    #[test]
    fn plan_scopes_are_read_only() {
        for principal in [Principal::User, Principal::Admin] {
            for scope in scopes_for(principal, Access::Read) {
                assert!(scope.ends_with(".readonly"), "{scope}");
            }
        }
        assert_eq!(scopes_for(Principal::App, Access::Read), ["chat.bot"]);
    }

    #[test]
    fn write_scopes_include_membership_writes() {
        assert!(scopes_for(Principal::User, Access::Write).contains(&"chat.memberships"));
        assert!(scopes_for(Principal::Admin, Access::Write).contains(&"chat.admin.memberships"));
        assert!(scopes_for(Principal::App, Access::Write).contains(&"chat.app.memberships"));
    }

    #[test]
    fn key_file_checks_name_the_field_not_the_value() {
        let wrong_type = br#"{"type": "authorized_user", "refresh_token": "secret-refresh"}"#;
        let reason = check_key_file(wrong_type).unwrap_err();
        assert!(reason.contains("authorized_user"), "{reason}");
        assert!(!reason.contains("secret-refresh"));

        let no_key = br#"{"type": "service_account", "client_email": "a@b", "token_uri": "x"}"#;
        assert!(check_key_file(no_key).unwrap_err().contains("private_key"));

        let numeric = br#"{"type": "service_account", "private_key": 12345678, "client_email": "a@b", "token_uri": "x"}"#;
        let reason = check_key_file(numeric).unwrap_err();
        assert!(!reason.contains("12345678"), "{reason}");

        assert!(
            check_key_file(b"-----BEGIN PRIVATE KEY-----")
                .unwrap_err()
                .contains("JSON")
        );
    }
}
