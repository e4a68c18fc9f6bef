//! The emulator's OAuth 2.0 token endpoint, `POST /token`, shaped like
//! Google's: it takes the JWT-bearer grant of a service account and issues
//! access tokens that stand for a caller and expire.
//!
//! A service account is declared in the state file with its public key, the
//! scopes it may be granted, and whether domain-wide delegation lets it act
//! for users (`sub` in the assertion). Without `sub` it acts as its Chat
//! app, the BOT user named by `app_user`. Errors use Google's token error
//! body: `{"error": "invalid_grant", "error_description": "..."}`.

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{
    GeneralPurpose, GeneralPurposeConfig, STANDARD, URL_SAFE_NO_PAD,
};
use rand::Rng as _;
use serde::Deserialize;
use serde_json::json;

use super::caller::{ALL_SCOPES, Caller, CallerKind, short_scope};
use super::state::{Affiliation, EmulatorState, UserType};

/// The grant type of a signed JWT assertion (RFC 7523).
pub const JWT_BEARER_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// Token lifetime when the state file sets none, as Google's.
pub const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(3600);

/// How far `iat` may lie in the future, for clocks that disagree a little.
const CLOCK_SKEW_SECONDS: i64 = 300;

/// Google refuses assertions valid for longer than an hour.
const MAX_ASSERTION_SECONDS: i64 = 3600;

/// Base64url that accepts padding or none: JWT forbids padding, yet some
/// clients (yup-oauth2 among them) send it and Google accepts it.
const JWT_BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// A service account as the state file declares it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ServiceAccountFile {
    pub client_email: String,
    /// PEM: `BEGIN PUBLIC KEY` (SubjectPublicKeyInfo) or `BEGIN RSA PUBLIC KEY`.
    pub public_key: String,
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Whether an administrator authorised domain-wide delegation, which
    /// lets the account impersonate users.
    #[serde(default)]
    pub domain_wide_delegation: bool,
    /// Emails of the users it may impersonate.
    #[serde(default)]
    pub impersonate: Vec<String>,
    /// Whether it may impersonate any INTERNAL user of the directory.
    #[serde(default)]
    pub impersonate_any_internal: bool,
    /// Id of the BOT user the account acts as without `sub`.
    pub app_user: Option<String>,
}

/// A validated service account.
#[derive(Debug, Clone)]
pub(crate) struct ServiceAccount {
    /// PKCS#1 `RSAPublicKey` DER, the form ring verifies with.
    public_key: Vec<u8>,
    scopes: BTreeSet<String>,
    domain_wide_delegation: bool,
    impersonate: BTreeSet<String>,
    impersonate_any_internal: bool,
    app_user: Option<String>,
}

/// Checks a service account entry, returning it keyed by its email, or a
/// description of what is wrong.
pub(crate) fn check_service_account(
    file: ServiceAccountFile,
    users: &std::collections::BTreeMap<String, super::state::User>,
) -> Result<(String, ServiceAccount), String> {
    let email = file.client_email.trim().to_lowercase();
    let public_key = rsa_public_key(&file.public_key)
        .map_err(|reason| format!("service account {email}: public_key: {reason}"))?;
    let mut scopes = BTreeSet::new();
    for scope in &file.scopes {
        let short = short_scope(scope);
        if !ALL_SCOPES.contains(&short) {
            return Err(format!("service account {email}: unknown scope {scope:?}"));
        }
        scopes.insert(short.to_string());
    }
    if let Some(app_user) = &file.app_user {
        match users.get(app_user) {
            Some(user) if user.user_type == UserType::Bot => {}
            _ => {
                return Err(format!(
                    "service account {email}: app_user {app_user:?} must be a BOT user listed under `users`"
                ));
            }
        }
    }
    let account = ServiceAccount {
        public_key,
        scopes,
        domain_wide_delegation: file.domain_wide_delegation,
        impersonate: file
            .impersonate
            .iter()
            .map(|email| email.to_lowercase())
            .collect(),
        impersonate_any_internal: file.impersonate_any_internal,
        app_user: file.app_user,
    };
    Ok((email, account))
}

/// A token the endpoint issued.
#[derive(Debug, Clone)]
pub(crate) struct Issued {
    pub caller: Caller,
    pub expires: Instant,
}

/// The tokens the endpoint issued, keyed by token.
pub(crate) type IssuedTokens = HashMap<String, Issued>;

/// A token endpoint error, in Google's shape.
#[derive(Debug)]
pub(crate) struct GrantError {
    status: StatusCode,
    code: &'static str,
    description: String,
}

impl GrantError {
    fn invalid_grant(description: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            code: "invalid_grant",
            description: description.into(),
        }
    }

    fn invalid_request(description: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            code: "invalid_request",
            description: description.into(),
        }
    }

    fn unauthorized_client(description: impl Into<String>) -> Self {
        Self {
            status: StatusCode::UNAUTHORIZED,
            code: "unauthorized_client",
            description: description.into(),
        }
    }
}

impl IntoResponse for GrantError {
    fn into_response(self) -> Response {
        let body = json!({ "error": self.code, "error_description": self.description });
        (self.status, axum::Json(body)).into_response()
    }
}

#[derive(Deserialize)]
struct JwtHeader {
    alg: String,
}

#[derive(Deserialize)]
struct Claims {
    iss: String,
    #[serde(default)]
    scope: String,
    aud: String,
    exp: i64,
    iat: i64,
    sub: Option<String>,
}

/// The grant type of an authorization code (installed-app flow).
pub const AUTHORIZATION_CODE_GRANT: &str = "authorization_code";

/// The grant type of a refresh token.
pub const REFRESH_TOKEN_GRANT: &str = "refresh_token";

/// An OAuth client of the installed-app flow, as the state file declares it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct OAuthClientFile {
    pub client_id: String,
    pub client_secret: String,
    /// Scopes users may consent to for this client.
    #[serde(default)]
    pub scopes: Vec<String>,
}

/// A validated installed-app client.
#[derive(Debug, Clone)]
pub(crate) struct OAuthClient {
    secret: String,
    scopes: BTreeSet<String>,
}

/// Checks an OAuth client entry, returning it keyed by its client id.
pub(crate) fn check_oauth_client(file: OAuthClientFile) -> Result<(String, OAuthClient), String> {
    let mut scopes = BTreeSet::new();
    for scope in &file.scopes {
        let short = short_scope(scope);
        if !ALL_SCOPES.contains(&short) {
            return Err(format!(
                "oauth client {}: unknown scope {scope:?}",
                file.client_id
            ));
        }
        scopes.insert(short.to_string());
    }
    let client = OAuthClient {
        secret: file.client_secret,
        scopes,
    };
    Ok((file.client_id, client))
}

/// What a user consented to: the client, the user and the scopes.
#[derive(Debug, Clone)]
struct Consent {
    client_id: String,
    redirect_uri: String,
    caller: Caller,
}

/// Authorization codes and refresh tokens of the installed-app flow.
#[derive(Debug, Default)]
pub(crate) struct Grants {
    codes: HashMap<String, Consent>,
    refresh_tokens: HashMap<String, Consent>,
}

/// Serves one `POST /token` request. `token_uri` is the address the
/// assertion's `aud` must name; `body` is the form-encoded request body.
pub(crate) fn grant(
    state: &EmulatorState,
    issued: &mut IssuedTokens,
    grants: &mut Grants,
    token_uri: &str,
    body: &[u8],
) -> Result<serde_json::Value, GrantError> {
    let form: HashMap<String, String> = url::form_urlencoded::parse(body).into_owned().collect();
    let field = |name: &str| form.get(name).map(String::as_str).unwrap_or("");
    let grant_type = field("grant_type");
    let mut refresh_token = None;
    let caller = match grant_type {
        JWT_BEARER_GRANT => {
            let Some(assertion) = form.get("assertion") else {
                return Err(GrantError::invalid_request("missing `assertion`"));
            };
            check_assertion(state, assertion, token_uri, unix_now())?
        }
        AUTHORIZATION_CODE_GRANT => {
            check_client(state, field("client_id"), field("client_secret"))?;
            let Some(consent) = grants.codes.remove(field("code")) else {
                return Err(GrantError::invalid_grant("Malformed auth code."));
            };
            if consent.client_id != field("client_id")
                || consent.redirect_uri != field("redirect_uri")
            {
                return Err(GrantError::invalid_grant(
                    "the code was issued to another client or redirect_uri",
                ));
            }
            let token = new_token("1//emulated-refresh-");
            grants.refresh_tokens.insert(token.clone(), consent.clone());
            refresh_token = Some(token);
            consent.caller
        }
        REFRESH_TOKEN_GRANT => {
            check_client(state, field("client_id"), field("client_secret"))?;
            match grants.refresh_tokens.get(field("refresh_token")) {
                Some(consent) if consent.client_id == field("client_id") => consent.caller.clone(),
                _ => {
                    return Err(GrantError::invalid_grant(
                        "Token has been expired or revoked.",
                    ));
                }
            }
        }
        other => {
            return Err(GrantError {
                status: StatusCode::BAD_REQUEST,
                code: "unsupported_grant_type",
                description: format!(
                    "grant_type {other:?} is not supported; use {JWT_BEARER_GRANT}, \
                     {AUTHORIZATION_CODE_GRANT} or {REFRESH_TOKEN_GRANT}"
                ),
            });
        }
    };

    // Drop expired tokens so that a long run does not grow the map forever.
    let now = Instant::now();
    issued.retain(|_, token| token.expires > now);
    let lifetime = state.token_lifetime;
    let token = new_token("ya29.emulated-");
    let scope: Vec<String> = caller
        .scopes
        .iter()
        .map(|scope| format!("{}{scope}", super::caller::SCOPE_PREFIX))
        .collect();
    issued.insert(
        token.clone(),
        Issued {
            caller,
            expires: now + lifetime,
        },
    );
    let mut body = json!({
        "access_token": token,
        "token_type": "Bearer",
        "expires_in": lifetime.as_secs(),
        "scope": scope.join(" "),
    });
    if let Some(refresh_token) = refresh_token {
        body["refresh_token"] = json!(refresh_token);
    }
    Ok(body)
}

fn check_client<'a>(
    state: &'a EmulatorState,
    client_id: &str,
    client_secret: &str,
) -> Result<&'a OAuthClient, GrantError> {
    match state.oauth_clients.get(client_id) {
        Some(client) if client.secret == client_secret => Ok(client),
        _ => Err(GrantError {
            status: StatusCode::UNAUTHORIZED,
            code: "invalid_client",
            description: "The OAuth client was not found.".to_string(),
        }),
    }
}

/// Serves the consent page, `GET /o/oauth2/auth`. The emulator has no
/// browser: whoever opens the URL adds `user=EMAIL`, which stands for that
/// user signing in and allowing the request. Returns the redirect to
/// `redirect_uri` with a one-time code.
pub(crate) fn consent(
    state: &EmulatorState,
    grants: &mut Grants,
    raw_query: &str,
) -> Result<String, GrantError> {
    let query: HashMap<String, String> = url::form_urlencoded::parse(raw_query.as_bytes())
        .into_owned()
        .collect();
    let field = |name: &str| query.get(name).map(String::as_str).unwrap_or("");
    if field("response_type") != "code" {
        return Err(GrantError::invalid_request("response_type must be `code`"));
    }
    let client_id = field("client_id");
    let Some(client) = state.oauth_clients.get(client_id) else {
        return Err(GrantError {
            status: StatusCode::UNAUTHORIZED,
            code: "invalid_client",
            description: format!("The OAuth client was not found: {client_id:?}"),
        });
    };
    let redirect_uri = field("redirect_uri");
    let loopback = ["http://127.0.0.1", "http://localhost", "http://[::1]"];
    if !loopback
        .iter()
        .any(|prefix| redirect_uri.starts_with(prefix))
    {
        return Err(GrantError::invalid_request(format!(
            "redirect_uri {redirect_uri:?} must be a loopback address of an installed app"
        )));
    }
    let mut scopes = BTreeSet::new();
    for scope in field("scope").split_whitespace() {
        let short = short_scope(scope);
        if !client.scopes.contains(short) {
            return Err(GrantError::invalid_request(format!(
                "Some requested scopes were invalid: {scope}"
            )));
        }
        scopes.insert(short.to_string());
    }
    let email = field("user");
    let Some(user) = state.user_by_email(email) else {
        return Err(GrantError::invalid_request(format!(
            "no user signed in: add user=EMAIL (a user of the state file) to consent as them; got {email:?}"
        )));
    };
    if user.user_type != UserType::Human {
        return Err(GrantError::invalid_request(format!(
            "{email} is not a person"
        )));
    }
    let kind = if state.admins.contains(&user.id) {
        CallerKind::Admin
    } else {
        CallerKind::User
    };
    let code = new_token("4/emulated-code-");
    grants.codes.insert(
        code.clone(),
        Consent {
            client_id: client_id.to_string(),
            redirect_uri: redirect_uri.to_string(),
            caller: Caller {
                kind,
                user: Some(user.id.clone()),
                scopes,
            },
        },
    );
    let mut location = url::Url::parse(redirect_uri)
        .map_err(|_| GrantError::invalid_request("redirect_uri is not a URL"))?;
    location.query_pairs_mut().append_pair("code", &code);
    Ok(location.to_string())
}

/// Serves `POST /revoke`: forgets a refresh token (and the access tokens
/// are left to expire), as Google's revocation endpoint does for a grant.
pub(crate) fn revoke(
    issued: &mut IssuedTokens,
    grants: &mut Grants,
    body: &[u8],
    raw_query: &str,
) -> bool {
    let token = url::form_urlencoded::parse(body)
        .chain(url::form_urlencoded::parse(raw_query.as_bytes()))
        .find(|(name, _)| name == "token")
        .map(|(_, value)| value.into_owned());
    let Some(token) = token else {
        return false;
    };
    issued.remove(&token).is_some() | grants.refresh_tokens.remove(&token).is_some()
}

/// Verifies a signed assertion and returns the caller a token for it
/// stands for.
fn check_assertion(
    state: &EmulatorState,
    assertion: &str,
    token_uri: &str,
    now: i64,
) -> Result<Caller, GrantError> {
    let (signed, signature) = assertion
        .rsplit_once('.')
        .ok_or_else(|| GrantError::invalid_grant("the assertion is not a JWT"))?;
    let (header, claims) = signed
        .split_once('.')
        .ok_or_else(|| GrantError::invalid_grant("the assertion is not a JWT"))?;
    let header: JwtHeader = decode_part(header)?;
    if header.alg != "RS256" {
        return Err(GrantError::invalid_grant(format!(
            "unsupported JWT algorithm {:?}; use RS256",
            header.alg
        )));
    }
    let claims: Claims = decode_part(claims)?;
    let email = claims.iss.to_lowercase();
    let Some(account) = state.service_accounts.get(&email) else {
        return Err(GrantError::invalid_grant(format!(
            "Invalid grant: account not found ({email})"
        )));
    };
    let signature = JWT_BASE64
        .decode(signature)
        .map_err(|_| GrantError::invalid_grant("Invalid JWT Signature."))?;
    ring::signature::UnparsedPublicKey::new(
        &ring::signature::RSA_PKCS1_2048_8192_SHA256,
        &account.public_key,
    )
    .verify(signed.as_bytes(), &signature)
    .map_err(|_| GrantError::invalid_grant("Invalid JWT Signature."))?;

    if claims.aud != token_uri {
        return Err(GrantError::invalid_grant(format!(
            "Invalid JWT: audience {:?} is not the token endpoint {token_uri}",
            claims.aud
        )));
    }
    if claims.iat > now + CLOCK_SKEW_SECONDS
        || claims.exp <= now
        || claims.exp - claims.iat > MAX_ASSERTION_SECONDS
    {
        return Err(GrantError::invalid_grant(
            "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.",
        ));
    }

    let mut scopes = BTreeSet::new();
    for scope in claims.scope.split_whitespace() {
        let short = short_scope(scope);
        if !account.scopes.contains(short) {
            return Err(GrantError::unauthorized_client(format!(
                "Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the scopes requested ({scope})."
            )));
        }
        scopes.insert(short.to_string());
    }
    if scopes.is_empty() {
        return Err(GrantError::invalid_request(
            "Invalid OAuth scope or ID token audience provided: the assertion requests no scope",
        ));
    }

    match claims.sub.as_deref().filter(|sub| !sub.is_empty()) {
        Some(subject) => impersonated(state, account, subject, scopes),
        None => match &account.app_user {
            Some(user) => Ok(Caller {
                kind: CallerKind::App,
                user: Some(user.clone()),
                scopes,
            }),
            None => Err(GrantError::unauthorized_client(
                "the service account has no Chat app (`app_user` in the emulator state); impersonate a user with `sub`",
            )),
        },
    }
}

/// The caller for a delegated token acting as `subject`.
fn impersonated(
    state: &EmulatorState,
    account: &ServiceAccount,
    subject: &str,
    scopes: BTreeSet<String>,
) -> Result<Caller, GrantError> {
    if !account.domain_wide_delegation {
        return Err(GrantError::unauthorized_client(
            "Client is unauthorized to retrieve access tokens using this method: domain-wide delegation is not authorised for this service account",
        ));
    }
    let Some(user) = state.user_by_email(subject) else {
        return Err(GrantError::invalid_grant(format!(
            "Invalid email or User ID: {subject}"
        )));
    };
    let allowed = account.impersonate.contains(&subject.to_lowercase())
        || (account.impersonate_any_internal
            && user.affiliation == Affiliation::Internal
            && user.user_type == UserType::Human);
    if !allowed {
        return Err(GrantError::unauthorized_client(format!(
            "Client is unauthorized to impersonate {subject}"
        )));
    }
    let kind = if state.admins.contains(&user.id) {
        CallerKind::Admin
    } else {
        CallerKind::User
    };
    Ok(Caller {
        kind,
        user: Some(user.id.clone()),
        scopes,
    })
}

fn decode_part<T: serde::de::DeserializeOwned>(part: &str) -> Result<T, GrantError> {
    let bytes = JWT_BASE64
        .decode(part)
        .map_err(|_| GrantError::invalid_grant("the assertion is not base64url JSON"))?;
    serde_json::from_slice(&bytes)
        .map_err(|error| GrantError::invalid_grant(format!("Invalid JWT: {error}")))
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs() as i64)
}

/// A random opaque value after `prefix`, shaped like Google's tokens.
fn new_token(prefix: &str) -> String {
    let bytes: [u8; 24] = rand::rng().random();
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// Reads an RSA public key from PEM into PKCS#1 DER.
fn rsa_public_key(pem: &str) -> Result<Vec<u8>, String> {
    let text = pem.trim();
    let (label, body) = if let Some(rest) = text.strip_prefix("-----BEGIN PUBLIC KEY-----") {
        ("PUBLIC KEY", rest)
    } else if let Some(rest) = text.strip_prefix("-----BEGIN RSA PUBLIC KEY-----") {
        ("RSA PUBLIC KEY", rest)
    } else {
        return Err("expected a PEM block `BEGIN PUBLIC KEY` or `BEGIN RSA PUBLIC KEY`".into());
    };
    let end = format!("-----END {label}-----");
    let body = body
        .strip_suffix(end.as_str())
        .ok_or_else(|| format!("the PEM block does not end with `{end}`"))?;
    let base64: String = body.split_whitespace().collect();
    let der = STANDARD
        .decode(base64)
        .map_err(|_| "the PEM block is not valid base64".to_string())?;
    if label == "RSA PUBLIC KEY" {
        return Ok(der);
    }
    subject_public_key(&der).ok_or_else(|| "not a DER SubjectPublicKeyInfo".to_string())
}

/// Takes the key out of a SubjectPublicKeyInfo: SEQUENCE { algorithm
/// SEQUENCE, subjectPublicKey BIT STRING }.
fn subject_public_key(der: &[u8]) -> Option<Vec<u8>> {
    let (tag, info, _) = der_element(der)?;
    if tag != 0x30 {
        return None;
    }
    let (tag, _, rest) = der_element(info)?;
    if tag != 0x30 {
        return None;
    }
    let (tag, bits, _) = der_element(rest)?;
    // The first byte of a BIT STRING counts unused bits, 0 for a key.
    match (tag, bits.split_first()) {
        (0x03, Some((0, key))) => Some(key.to_vec()),
        _ => None,
    }
}

/// Splits one DER element into its tag, contents and the bytes after it.
fn der_element(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (length, rest) = if first < 0x80 {
        (first as usize, rest)
    } else {
        let count = (first & 0x7f) as usize;
        if count == 0 || count > 4 || rest.len() < count {
            return None;
        }
        let length = rest[..count]
            .iter()
            .fold(0usize, |length, &byte| (length << 8) | byte as usize);
        (length, &rest[count..])
    };
    if rest.len() < length {
        return None;
    }
    Some((tag, &rest[..length], &rest[length..]))
}

/// Finds the caller of an issued token. `Err` with a reason when the token
/// was issued and has expired; `Ok(None)` when it was never issued here.
pub(crate) fn issued_caller<'a>(
    issued: &'a IssuedTokens,
    token: &str,
) -> Result<Option<&'a Caller>, &'static str> {
    match issued.get(token) {
        None => Ok(None),
        Some(record) if record.expires <= Instant::now() => {
            Err("Request had invalid authentication credentials: the access token expired")
        }
        Some(record) => Ok(Some(&record.caller)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn der_element_reads_long_lengths() {
        let mut input = vec![0x04, 0x81, 0x80];
        input.extend(std::iter::repeat_n(7u8, 0x80));
        input.push(0xff);
        let (tag, contents, rest) = der_element(&input).unwrap();
        assert_eq!(tag, 0x04);
        assert_eq!(contents.len(), 0x80);
        assert_eq!(rest, &[0xff]);
    }

    #[test]
    fn der_element_rejects_truncated_input() {
        assert!(der_element(&[0x30, 0x05, 0x00]).is_none());
    }

    #[test]
    fn rsa_public_key_rejects_other_pem() {
        let error = rsa_public_key("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----")
            .unwrap_err();
        assert!(error.contains("BEGIN PUBLIC KEY"), "{error}");
    }
}
