//! Typed client for the Google Chat API methods the job uses.
//!
//! One function per API method, one HTTP attempt per call; paging is handled
//! inside the list functions. Retries belong to the caller (see [`retry`]),
//! so that the engine can report each retry as an event.

pub mod auth;
pub mod error;
pub mod model;
pub mod oauth;
pub mod retry;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{AUTHORIZATION, HeaderValue, RETRY_AFTER};
use reqwest::{Method, RequestBuilder};
use serde::de::DeserializeOwned;
use url::{Host, Url};

pub use error::ChatError;
use model::{
    Group, ListMembershipsResponse, ListSpacesResponse, Membership, MembershipRole,
    SearchSpacesResponse, Space, User, UserType,
};

/// Largest page the API serves; larger `pageSize` values are lowered to it.
const PAGE_SIZE: &str = "1000";

/// The member filter sent in admin mode when the caller gives none on
/// `member.type`: the API requires one there, and this one drops only apps.
pub const ADMIN_MEMBER_FILTER: &str = r#"member.type != "BOT""#;

/// The `spaces.search` query for every named space of the caller's
/// organisation. The API requires both terms, and `space_type` accepts only
/// `SPACE`, so group chats and direct messages cannot be searched.
pub const SEARCH_ALL_SPACES: &str =
    r#"customer = "customers/my_customer" AND space_type = "SPACE""#;

/// Options shared by every request of a client.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Sends `useAdminAccess=true` on every call that takes it.
    pub use_admin_access: bool,
    /// Timeout of one HTTP request, from connect to the end of the body.
    pub request_timeout: Duration,
    /// The token is a Chat app's (app authentication). An app cannot list
    /// invitations, so `showInvited` is left out of its member listings.
    pub app_authentication: bool,
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self {
            use_admin_access: false,
            request_timeout: Duration::from_secs(30),
            app_authentication: false,
        }
    }
}

/// Options that select the memberships `spaces.members.list` returns.
#[derive(Debug, Clone, Default)]
pub struct ListMembersOptions {
    pub show_groups: bool,
    pub show_invited: bool,
    /// A filter in the documented grammar, sent as given.
    pub filter: Option<String>,
}

/// One page of `spaces.members.list`.
#[derive(Debug, Clone, Default)]
pub struct MembersPage {
    pub memberships: Vec<Membership>,
    /// Token of the next page; `None` on the last page.
    pub next_page_token: Option<String>,
}

/// Client for one endpoint and one token provider. Cheap to clone.
#[derive(Clone)]
pub struct ChatClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    /// The endpoint with a path ending in `/`, so that `v1/...` joins below it.
    base: Url,
    tokens: Arc<dyn auth::TokenProvider>,
    options: ClientOptions,
}

impl std::fmt::Debug for ChatClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatClient")
            .field("endpoint", &self.inner.base.as_str())
            .field("options", &self.inner.options)
            .finish_non_exhaustive()
    }
}

/// A request the client is about to send: the API method for messages, the
/// resource it targets, and the URL path below `v1/`.
struct Call<'a> {
    method: &'static str,
    target: &'a str,
    http_method: Method,
    /// Path segments after `v1`, each percent-encoded on its own.
    segments: Vec<&'a str>,
    query: Vec<(&'static str, String)>,
}

impl ChatClient {
    /// Builds a client for `endpoint` (for Google, `https://chat.googleapis.com`).
    ///
    /// Fails with [`ChatError::InsecureEndpoint`] when the endpoint is plain
    /// `http://` on a host that is not loopback, since the bearer token would
    /// travel in clear text, and with [`ChatError::InvalidEndpoint`] for
    /// other schemes, query strings and fragments.
    ///
    /// A rustls crypto provider must be installed as the process default
    /// before this is called, or reqwest panics.
    pub fn new(
        endpoint: &Url,
        tokens: Arc<dyn auth::TokenProvider>,
        options: ClientOptions,
    ) -> Result<Self, ChatError> {
        let base = check_endpoint(endpoint)?;
        let http = reqwest::Client::builder()
            .timeout(options.request_timeout)
            .connect_timeout(options.request_timeout.min(Duration::from_secs(10)))
            // The API never redirects, and a redirect could carry the token
            // to another host.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("chat-reconcile/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|error| ChatError::InvalidEndpoint {
                endpoint: endpoint.to_string(),
                reason: format!("could not build the HTTP client: {error}"),
            })?;
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                base,
                tokens,
                options,
            }),
        })
    }

    /// Returns the endpoint requests go to.
    pub fn endpoint(&self) -> &Url {
        &self.inner.base
    }

    /// `spaces.list`, every page. Lists only spaces the caller is a member
    /// of; this method has no admin mode.
    pub async fn list_spaces(&self) -> Result<Vec<Space>, ChatError> {
        let mut spaces = Vec::new();
        let mut page_token: Option<String> = None;
        loop {
            let mut query = vec![("pageSize", PAGE_SIZE.to_string())];
            if let Some(token) = &page_token {
                query.push(("pageToken", token.clone()));
            }
            let call = Call {
                method: "spaces.list",
                target: "spaces",
                http_method: Method::GET,
                segments: vec!["spaces"],
                query,
            };
            let page: ListSpacesResponse = self.send(call, None).await?;
            spaces.extend(page.spaces);
            page_token = page.next_page_token.filter(|token| !token.is_empty());
            if page_token.is_none() {
                return Ok(spaces);
            }
        }
    }

    /// `spaces.search` with `useAdminAccess=true`, every page, `pageSize=1000`.
    /// Needs an administrator's token; `query` is sent as given (see
    /// [`SEARCH_ALL_SPACES`]).
    pub async fn search_spaces(&self, query: &str) -> Result<Vec<Space>, ChatError> {
        let mut spaces = Vec::new();
        let mut page_token: Option<String> = None;
        loop {
            let mut query = vec![
                ("useAdminAccess", "true".to_string()),
                ("query", query.to_string()),
                ("pageSize", PAGE_SIZE.to_string()),
            ];
            if let Some(token) = &page_token {
                query.push(("pageToken", token.clone()));
            }
            let call = Call {
                method: "spaces.search",
                target: "spaces",
                http_method: Method::GET,
                segments: vec!["spaces:search"],
                query,
            };
            let page: SearchSpacesResponse = self.send(call, None).await?;
            spaces.extend(page.spaces);
            page_token = page.next_page_token.filter(|token| !token.is_empty());
            if page_token.is_none() {
                return Ok(spaces);
            }
        }
    }

    /// Tells whether the client sends `useAdminAccess=true`.
    pub fn uses_admin_access(&self) -> bool {
        self.inner.options.use_admin_access
    }

    /// `spaces.get` on `spaces/{id}`.
    pub async fn get_space(&self, space: &str) -> Result<Space, ChatError> {
        const METHOD: &str = "spaces.get";
        let segments = space_segments(METHOD, space)?;
        let call = Call {
            method: METHOD,
            target: space,
            http_method: Method::GET,
            segments,
            query: self.admin_query(),
        };
        self.send(call, None).await
    }

    /// `spaces.members.list` on `spaces/{id}`, every page, `pageSize=1000`.
    pub async fn list_members(
        &self,
        space: &str,
        options: &ListMembersOptions,
    ) -> Result<Vec<Membership>, ChatError> {
        let mut memberships = Vec::new();
        let mut page_token: Option<String> = None;
        loop {
            let page = self
                .list_members_page(space, options, page_token.as_deref())
                .await?;
            memberships.extend(page.memberships);
            page_token = page.next_page_token;
            if page_token.is_none() {
                return Ok(memberships);
            }
        }
    }

    /// One page of `spaces.members.list`, for callers that rate-limit and
    /// retry each page on its own. `page_token` is `None` for the first page;
    /// later pages repeat the same `options`, as the API requires.
    pub async fn list_members_page(
        &self,
        space: &str,
        options: &ListMembersOptions,
        page_token: Option<&str>,
    ) -> Result<MembersPage, ChatError> {
        const METHOD: &str = "spaces.members.list";
        let mut segments = space_segments(METHOD, space)?;
        segments.push("members");

        let mut query = vec![("pageSize", PAGE_SIZE.to_string())];
        if options.show_groups {
            query.push(("showGroups", "true".to_string()));
        }
        if options.show_invited && !self.inner.options.app_authentication {
            query.push(("showInvited", "true".to_string()));
        }
        if let Some(filter) = self.member_filter(options.filter.as_deref()) {
            query.push(("filter", filter));
        }
        query.extend(self.admin_query());
        if let Some(token) = page_token {
            query.push(("pageToken", token.to_string()));
        }

        let call = Call {
            method: METHOD,
            target: space,
            http_method: Method::GET,
            segments,
            query,
        };
        let page: ListMembershipsResponse = self.send(call, None).await?;
        Ok(MembersPage {
            memberships: page.memberships,
            next_page_token: page.next_page_token.filter(|token| !token.is_empty()),
        })
    }

    /// `spaces.members.get` on `spaces/{space}/members/{id or email}`.
    pub async fn get_member(&self, name: &str) -> Result<Membership, ChatError> {
        const METHOD: &str = "spaces.members.get";
        let call = Call {
            method: METHOD,
            target: name,
            http_method: Method::GET,
            segments: membership_segments(METHOD, name)?,
            query: self.admin_query(),
        };
        self.send(call, None).await
    }

    /// `spaces.members.create` in `spaces/{id}` for `member` (`users/{id}`,
    /// `users/{email}` or `groups/{id}`).
    pub async fn create_member(&self, space: &str, member: &str) -> Result<Membership, ChatError> {
        const METHOD: &str = "spaces.members.create";
        let mut segments = space_segments(METHOD, space)?;
        segments.push("members");

        let body = if is_name_of(member, "users") {
            Membership {
                member: Some(User {
                    name: Some(member.to_string()),
                    user_type: Some(UserType::Human),
                    ..User::default()
                }),
                ..Membership::default()
            }
        } else if is_name_of(member, "groups") {
            Membership {
                group_member: Some(Group {
                    name: Some(member.to_string()),
                }),
                ..Membership::default()
            }
        } else {
            return Err(ChatError::InvalidName {
                method: METHOD,
                name: member.to_string(),
                expected: "users/{id}, users/{email} or groups/{id}",
            });
        };

        let target = format!("{space} {member}");
        let call = Call {
            method: METHOD,
            target: &target,
            http_method: Method::POST,
            segments,
            query: self.admin_query(),
        };
        self.send(call, Some(&body)).await
    }

    /// `spaces.members.patch` with `updateMask=role`.
    pub async fn set_member_role(
        &self,
        name: &str,
        role: &MembershipRole,
    ) -> Result<Membership, ChatError> {
        const METHOD: &str = "spaces.members.patch";
        let body = Membership {
            role: Some(role.clone()),
            ..Membership::default()
        };
        let mut query = vec![("updateMask", "role".to_string())];
        query.extend(self.admin_query());
        let call = Call {
            method: METHOD,
            target: name,
            http_method: Method::PATCH,
            segments: membership_segments(METHOD, name)?,
            query,
        };
        self.send(call, Some(&body)).await
    }

    /// `spaces.members.delete`; returns the deleted membership.
    pub async fn delete_member(&self, name: &str) -> Result<Membership, ChatError> {
        const METHOD: &str = "spaces.members.delete";
        let call = Call {
            method: METHOD,
            target: name,
            http_method: Method::DELETE,
            segments: membership_segments(METHOD, name)?,
            query: self.admin_query(),
        };
        self.send(call, None).await
    }

    /// Returns the filter to send: the caller's, with [`ADMIN_MEMBER_FILTER`]
    /// added in admin mode unless it already has a `member.type` term.
    fn member_filter(&self, filter: Option<&str>) -> Option<String> {
        if !self.inner.options.use_admin_access {
            return filter.map(str::to_string);
        }
        match filter {
            Some(filter) if filter.contains("member.type") => Some(filter.to_string()),
            Some(filter) => Some(format!("{ADMIN_MEMBER_FILTER} AND {filter}")),
            None => Some(ADMIN_MEMBER_FILTER.to_string()),
        }
    }

    fn admin_query(&self) -> Vec<(&'static str, String)> {
        if self.inner.options.use_admin_access {
            vec![("useAdminAccess", "true".to_string())]
        } else {
            Vec::new()
        }
    }

    /// Sends one request with a fresh bearer token and decodes the response.
    /// When the API rejects the token (401) and the provider can renew it,
    /// the token is refreshed and the request sent once more.
    async fn send<T: DeserializeOwned>(
        &self,
        call: Call<'_>,
        body: Option<&Membership>,
    ) -> Result<T, ChatError> {
        let url = self.url_for(&call);
        let mut token = self.inner.tokens.token().await?;
        let mut renewed = false;
        loop {
            let request = self
                .inner
                .http
                .request(call.http_method.clone(), url.clone());
            let request = authorize(request, &token)?;
            let request = match body {
                Some(body) => request.json(body),
                None => request,
            };

            tracing::debug!(
                method = call.method,
                target = call.target,
                "sending request"
            );
            let response = request
                .send()
                .await
                .map_err(|error| error::transport_error(call.method, call.target, error))?;

            let status = response.status();
            if status == reqwest::StatusCode::UNAUTHORIZED
                && !renewed
                && self.inner.tokens.renewable()
            {
                tracing::info!(
                    method = call.method,
                    target = call.target,
                    "the API rejected the access token; refreshing it and sending again"
                );
                token = self.inner.tokens.refresh(&token).await?;
                renewed = true;
                continue;
            }
            let retry_after = response
                .headers()
                .get(RETRY_AFTER)
                .and_then(|value| value.to_str().ok())
                .map(str::to_string);
            let bytes = response
                .bytes()
                .await
                .map_err(|error| error::transport_error(call.method, call.target, error))?;

            if !status.is_success() {
                return Err(error::api_error(
                    call.method,
                    call.target,
                    status.as_u16(),
                    retry_after.as_deref(),
                    &bytes,
                ));
            }
            return decode(call.method, call.target, &bytes);
        }
    }

    fn url_for(&self, call: &Call<'_>) -> Url {
        let mut url = self.inner.base.clone();
        {
            // The base is checked in `new` to be a hierarchical http(s) URL,
            // which always has path segments.
            let mut path = url.path_segments_mut().expect("http(s) URL has a path");
            path.pop_if_empty().push("v1").extend(&call.segments);
        }
        if !call.query.is_empty() {
            url.query_pairs_mut()
                .extend_pairs(call.query.iter().map(|(key, value)| (*key, value.as_str())));
        }
        url
    }
}

/// Decodes a success body, keeping the JSON path of a field that fails.
fn decode<T: DeserializeOwned>(
    method: &'static str,
    target: &str,
    bytes: &[u8],
) -> Result<T, ChatError> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(&mut deserializer).map_err(|error| ChatError::Decode {
        method,
        target: target.to_string(),
        path: error.path().to_string(),
        message: error.into_inner().to_string(),
    })
}

/// Decodes `bytes` as every response body the client reads: a space, a
/// membership, both list pages, and Google's error envelope, with `bytes`
/// also read as a `Retry-After` value. For the fuzz targets, which need the
/// client's own decoding without a server. Returns how many success bodies
/// decoded; any panic inside is a bug.
#[doc(hidden)]
pub fn decode_every_response(bytes: &[u8]) -> usize {
    let target = "spaces/FUZZ";
    let decoded = [
        decode::<Space>("spaces.get", target, bytes).is_ok(),
        decode::<Membership>("spaces.members.get", target, bytes).is_ok(),
        decode::<ListMembershipsResponse>("spaces.members.list", target, bytes).is_ok(),
        decode::<ListSpacesResponse>("spaces.list", target, bytes).is_ok(),
    ];
    let retry_after = std::str::from_utf8(bytes).ok();
    let error = error::api_error("spaces.members.delete", target, 429, retry_after, bytes);
    // Rendering walks every field of the error, as a message would.
    let _ = error.to_string();
    let _ = error.is_retryable();
    decoded.iter().filter(|ok| **ok).count()
}

/// Returns the endpoint as text with any user name and password replaced by
/// `***`, so that an error message never repeats a credential.
fn redact_credentials(endpoint: &Url) -> String {
    let mut shown = endpoint.clone();
    if !shown.username().is_empty() {
        let _ = shown.set_username("***");
    }
    if shown.password().is_some() {
        let _ = shown.set_password(Some("***"));
    }
    shown.to_string()
}

/// Accepts `https` anywhere and plain `http` only on loopback hosts, and
/// returns the endpoint with a path ending in `/`.
fn check_endpoint(endpoint: &Url) -> Result<Url, ChatError> {
    let shown = redact_credentials(endpoint);
    let invalid = |reason: &str| ChatError::InvalidEndpoint {
        endpoint: shown.clone(),
        reason: reason.to_string(),
    };
    match endpoint.scheme() {
        "https" => {}
        "http" => {
            if !is_loopback(endpoint) {
                return Err(ChatError::InsecureEndpoint {
                    endpoint: shown.clone(),
                });
            }
        }
        _ => return Err(invalid("use an https:// URL")),
    }
    if endpoint.host().is_none() {
        return Err(invalid("the URL has no host"));
    }
    if endpoint.query().is_some() || endpoint.fragment().is_some() {
        return Err(invalid("remove the query string and fragment"));
    }
    if !endpoint.username().is_empty() || endpoint.password().is_some() {
        return Err(invalid("remove the user name and password"));
    }

    let mut base = endpoint.clone();
    if !base.path().ends_with('/') {
        let path = format!("{}/", base.path());
        base.set_path(&path);
    }
    Ok(base)
}

/// Tells whether the endpoint's host is `localhost`, `127.0.0.0/8` or `::1`.
fn is_loopback(endpoint: &Url) -> bool {
    match endpoint.host() {
        Some(Host::Domain(domain)) => domain.eq_ignore_ascii_case("localhost"),
        Some(Host::Ipv4(address)) => IpAddr::V4(address).is_loopback(),
        Some(Host::Ipv6(address)) => IpAddr::V6(address).is_loopback(),
        None => false,
    }
}

fn is_name_of(name: &str, collection: &str) -> bool {
    name.split_once('/')
        .is_some_and(|(head, id)| head == collection && is_plain_segment(id))
}

/// A path segment that percent-encoding keeps as one segment and that no
/// server reads as a relative step.
fn is_plain_segment(segment: &str) -> bool {
    !segment.is_empty() && segment != "." && segment != ".." && !segment.contains('/')
}

/// Splits `spaces/{id}`.
fn space_segments<'a>(method: &'static str, space: &'a str) -> Result<Vec<&'a str>, ChatError> {
    match space.split('/').collect::<Vec<_>>().as_slice() {
        ["spaces", id] if is_plain_segment(id) => Ok(vec!["spaces", id]),
        _ => Err(ChatError::InvalidName {
            method,
            name: space.to_string(),
            expected: "spaces/{space}",
        }),
    }
}

/// Splits `spaces/{space}/members/{member}`; `{member}` may be an email.
fn membership_segments<'a>(method: &'static str, name: &'a str) -> Result<Vec<&'a str>, ChatError> {
    match name.split('/').collect::<Vec<_>>().as_slice() {
        ["spaces", space, "members", member]
            if is_plain_segment(space) && is_plain_segment(member) =>
        {
            Ok(vec!["spaces", space, "members", member])
        }
        _ => Err(ChatError::InvalidName {
            method,
            name: name.to_string(),
            expected: "spaces/{space}/members/{member}",
        }),
    }
}

/// Adds the bearer token to a request, marked sensitive so that it is never
/// logged.
fn authorize(
    request: RequestBuilder,
    token: &auth::AccessToken,
) -> Result<RequestBuilder, ChatError> {
    let mut value = HeaderValue::from_str(&format!("Bearer {}", token.expose())).map_err(|_| {
        auth::AuthError::Invalid {
            origin: "the token provider".to_string(),
        }
    })?;
    value.set_sensitive(true);
    Ok(request.header(AUTHORIZATION, value))
}

#[cfg(test)]
mod tests {
    use super::*;

    struct NoToken;

    impl auth::TokenProvider for NoToken {
        fn token(
            &self,
        ) -> futures::future::BoxFuture<'_, Result<auth::AccessToken, auth::AuthError>> {
            Box::pin(async { Err(auth::AuthError::Missing) })
        }
    }

    fn client(endpoint: &str) -> Result<ChatClient, ChatError> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        ChatClient::new(
            &Url::parse(endpoint).unwrap(),
            Arc::new(NoToken),
            ClientOptions::default(),
        )
    }

    #[test]
    fn endpoint_http_refused_off_loopback() {
        for endpoint in [
            "http://chat.example.com",
            "http://10.0.0.1:8080",
            "http://[fe80::1]/",
            "http://localhost.example.com",
        ] {
            let error = client(endpoint).unwrap_err();
            assert!(
                matches!(error, ChatError::InsecureEndpoint { .. }),
                "{endpoint}: {error:?}"
            );
        }
    }

    #[test]
    fn endpoint_http_allowed_on_loopback() {
        for endpoint in [
            "http://127.0.0.1:8080",
            "http://127.8.9.10/",
            "http://[::1]:9000",
            "http://localhost:1234",
            "http://LOCALHOST",
        ] {
            assert!(client(endpoint).is_ok(), "{endpoint}");
        }
    }

    #[test]
    fn endpoint_https_allowed() {
        assert!(client("https://chat.googleapis.com").is_ok());
        assert!(client("https://proxy.example.com/chat").is_ok());
    }

    #[test]
    fn endpoint_errors_hide_credentials() {
        for endpoint in [
            "https://admin:s3cret@chat.example.com/",
            "http://admin:s3cret@chat.example.com/",
        ] {
            let message = client(endpoint).unwrap_err().to_string();
            assert!(!message.contains("s3cret"), "{message}");
            assert!(!message.contains("admin"), "{message}");
        }
    }

    #[test]
    fn endpoint_other_forms_invalid() {
        for endpoint in [
            "ftp://127.0.0.1/",
            "https://chat.example.com/?key=1",
            "https://user:pass@chat.example.com/",
        ] {
            let error = client(endpoint).unwrap_err();
            assert!(
                matches!(error, ChatError::InvalidEndpoint { .. }),
                "{endpoint}: {error:?}"
            );
        }
    }

    fn url_of(endpoint: &str, segments: Vec<&str>, query: Vec<(&'static str, String)>) -> String {
        let client = client(endpoint).unwrap();
        let call = Call {
            method: "test",
            target: "test",
            http_method: Method::GET,
            segments,
            query,
        };
        client.url_for(&call).to_string()
    }

    #[test]
    fn url_joins_below_endpoint_path() {
        let segments = vec!["spaces", "AAA"];
        assert_eq!(
            url_of("https://chat.googleapis.com", segments.clone(), vec![]),
            "https://chat.googleapis.com/v1/spaces/AAA"
        );
        assert_eq!(
            url_of("https://proxy.example.com/chat", segments.clone(), vec![]),
            "https://proxy.example.com/chat/v1/spaces/AAA"
        );
        assert_eq!(
            url_of("https://proxy.example.com/chat/", segments, vec![]),
            "https://proxy.example.com/chat/v1/spaces/AAA"
        );
    }

    #[test]
    fn url_keeps_email_and_encodes_specials() {
        let name = "spaces/AAA/members/alice+chat@example.com";
        let segments = membership_segments("test", name).unwrap();
        assert_eq!(
            url_of("https://chat.googleapis.com", segments, vec![]),
            "https://chat.googleapis.com/v1/spaces/AAA/members/alice+chat@example.com"
        );
        let segments = vec!["spaces", "a b?c#d%"];
        assert_eq!(
            url_of("https://chat.googleapis.com", segments, vec![]),
            "https://chat.googleapis.com/v1/spaces/a%20b%3Fc%23d%25"
        );
    }

    #[test]
    fn url_encodes_query() {
        let query = vec![("filter", r#"member.type = "HUMAN""#.to_string())];
        assert_eq!(
            url_of("https://chat.googleapis.com", vec!["spaces"], query),
            "https://chat.googleapis.com/v1/spaces?filter=member.type+%3D+%22HUMAN%22"
        );
    }

    #[test]
    fn names_checked_before_sending() {
        assert!(space_segments("m", "spaces/AAA").is_ok());
        for bad in [
            "spaces/",
            "spaces/AAA/members/1",
            "rooms/AAA",
            "spaces/..",
            "",
        ] {
            assert!(space_segments("m", bad).is_err(), "{bad}");
        }
        assert!(membership_segments("m", "spaces/AAA/members/123").is_ok());
        for bad in [
            "spaces/AAA/members/",
            "spaces/AAA/members/1/2",
            "spaces/AAA/users/1",
            "spaces/../members/1",
        ] {
            assert!(membership_segments("m", bad).is_err(), "{bad}");
        }
        assert!(is_name_of("users/alice@example.com", "users"));
        assert!(is_name_of("groups/0abc", "groups"));
        assert!(!is_name_of("users/", "users"));
        assert!(!is_name_of("alice@example.com", "users"));
    }
}
