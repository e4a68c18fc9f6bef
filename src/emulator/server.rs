//! The HTTP side: one axum fallback handler receives every request, so that
//! routing, authentication, parameter checks, counting and the request log
//! all happen in one place ([`handle`]). [`admit`] runs the checks that come
//! before a method (caller, scopes, quotas, injected faults) and [`run`] the
//! method itself.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use tokio::sync::watch;

use super::caller::Caller;
use super::error::{ApiError, ApiResult, Status};
use super::faults::{ConnectionReset, Decision, Fault, Injector};
use super::quota::{Bucket, Quotas};
use super::state::EmulatorState;
use super::token::{self, IssuedTokens};
use super::{Counters, RequestRecord, members, snapshot, spaces};

/// Request bodies larger than this are rejected; a Membership is far smaller.
const MAX_BODY_BYTES: usize = 64 * 1024;

/// How many requests the in-memory log keeps; older ones are dropped first.
pub const REQUEST_LOG_CAPACITY: usize = 100_000;

/// Everything the server mutates, behind one lock. Handlers never await
/// while holding it, so a plain mutex is enough.
pub(crate) struct Inner {
    pub state: EmulatorState,
    pub counters: Counters,
    pub requests: VecDeque<RequestRecord>,
    pub quotas: Quotas,
    pub injector: Injector,
    /// Set to true on shutdown, which ends delays and hangs early.
    pub stopping: watch::Sender<bool>,
    /// Access tokens issued by `POST /token`.
    pub issued: IssuedTokens,
    /// Authorization codes and refresh tokens of the installed-app flow.
    pub grants: token::Grants,
}

/// Who is calling, and whether in admin mode (`useAdminAccess=true`).
pub(crate) struct Access<'a> {
    pub caller: &'a Caller,
    pub admin_mode: bool,
}

pub(crate) type Shared = Arc<Mutex<Inner>>;

/// A Chat API method, with its path parameters still undecoded.
#[derive(Debug)]
pub(crate) enum ApiCall {
    SpacesList,
    SpacesGet { space: String },
    SpacesSearch,
    MembersList { space: String },
    MembersGet { space: String, member: String },
    MembersCreate { space: String },
    MembersPatch { space: String, member: String },
    MembersDelete { space: String, member: String },
}

impl ApiCall {
    /// The method's name in the discovery document, used in counters.
    pub fn method_name(&self) -> &'static str {
        match self {
            ApiCall::SpacesList => "spaces.list",
            ApiCall::SpacesGet { .. } => "spaces.get",
            ApiCall::SpacesSearch => "spaces.search",
            ApiCall::MembersList { .. } => "spaces.members.list",
            ApiCall::MembersGet { .. } => "spaces.members.get",
            ApiCall::MembersCreate { .. } => "spaces.members.create",
            ApiCall::MembersPatch { .. } => "spaces.members.patch",
            ApiCall::MembersDelete { .. } => "spaces.members.delete",
        }
    }

    /// The query parameters the discovery document lists for the method,
    /// path parameters excluded.
    fn parameters(&self) -> &'static [&'static str] {
        match self {
            ApiCall::SpacesList => &["filter", "pageSize", "pageToken"],
            ApiCall::SpacesGet { .. } => &["useAdminAccess"],
            ApiCall::SpacesSearch => &[
                "orderBy",
                "pageSize",
                "pageToken",
                "query",
                "useAdminAccess",
            ],
            ApiCall::MembersList { .. } => &[
                "filter",
                "pageSize",
                "pageToken",
                "showGroups",
                "showInvited",
                "useAdminAccess",
            ],
            ApiCall::MembersGet { .. }
            | ApiCall::MembersCreate { .. }
            | ApiCall::MembersDelete { .. } => &["useAdminAccess"],
            ApiCall::MembersPatch { .. } => &["updateMask", "useAdminAccess"],
        }
    }
}

/// Standard parameters that every Google API accepts and the emulator
/// accepts too. `alt` must be `json` and `$.xgafv` 1 or 2, while
/// `prettyPrint` and `quotaUser` are checked and otherwise ignored.
const ACCEPTED_STANDARD_PARAMETERS: [&str; 4] = ["$.xgafv", "alt", "prettyPrint", "quotaUser"];

/// Standard parameters the emulator rejects, because ignoring them would
/// change the meaning of a request: `fields` requests a partial response,
/// `access_token`/`oauth_token`/`key` carry credentials outside the
/// Authorization header, and the rest serve JSONP and uploads.
const REJECTED_STANDARD_PARAMETERS: [&str; 7] = [
    "fields",
    "key",
    "access_token",
    "oauth_token",
    "callback",
    "uploadType",
    "upload_protocol",
];

/// The decoded query string; each parameter may appear once.
pub(crate) struct Query(BTreeMap<String, String>);

impl Query {
    fn parse(raw: &str) -> Result<Query, ApiError> {
        let mut parameters = BTreeMap::new();
        for (name, value) in url::form_urlencoded::parse(raw.as_bytes()) {
            if parameters
                .insert(name.to_string(), value.to_string())
                .is_some()
            {
                return Err(ApiError::invalid_argument(format!(
                    "query parameter `{name}` is given more than once"
                )));
            }
        }
        Ok(Query(parameters))
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// Reads a boolean parameter: absent is false; only `true` and `false`
    /// are accepted.
    pub fn flag(&self, name: &str) -> Result<bool, ApiError> {
        match self.get(name) {
            None | Some("false") => Ok(false),
            Some("true") => Ok(true),
            Some(other) => Err(ApiError::invalid_argument(format!(
                "invalid value {other:?} for `{name}`: expected true or false"
            ))),
        }
    }

    /// Checks every parameter against the method's list and the standard ones.
    fn check(&self, call: &ApiCall) -> Result<(), ApiError> {
        let allowed = call.parameters();
        for name in self.0.keys() {
            if allowed.contains(&name.as_str())
                || ACCEPTED_STANDARD_PARAMETERS.contains(&name.as_str())
            {
                continue;
            }
            if REJECTED_STANDARD_PARAMETERS.contains(&name.as_str()) {
                return Err(ApiError::invalid_argument(format!(
                    "standard parameter `{name}` is not supported by the emulator"
                )));
            }
            return Err(ApiError::invalid_argument(format!(
                "unknown query parameter `{name}` for {}; accepted: {}",
                call.method_name(),
                allowed.join(", ")
            )));
        }

        if self.get("alt").is_some_and(|alt| alt != "json") {
            return Err(ApiError::invalid_argument("only alt=json is supported"));
        }
        if self.get("$.xgafv").is_some_and(|v| v != "1" && v != "2") {
            return Err(ApiError::invalid_argument(
                "invalid `$.xgafv`: expected 1 or 2",
            ));
        }
        for name in ["prettyPrint", "showGroups", "showInvited", "useAdminAccess"] {
            self.flag(name)?;
        }
        Ok(())
    }
}

/// Builds the axum service around the shared state.
pub(crate) fn router(shared: Shared) -> axum::Router {
    axum::Router::new().fallback(handle).with_state(shared)
}

/// Receives every request: inspection routes under `/emulator/v1/`, and the
/// Chat API under `/v1/`.
async fn handle(
    State(shared): State<Shared>,
    ConnectInfo(connection): ConnectInfo<ConnectionReset>,
    request: Request,
) -> Response {
    let (parts, body) = request.into_parts();
    let path = parts.uri.path().to_string();
    let raw_query = parts.uri.query().unwrap_or("").to_string();

    if path == "/token" {
        return token_endpoint(&shared, &parts, body).await;
    }
    if path == "/o/oauth2/auth" || path == "/revoke" {
        return oauth_endpoint(&shared, &parts, &path, &raw_query, body).await;
    }
    if path.starts_with("/emulator/") {
        let result = inspect(&shared, &parts.method, &path, &raw_query);
        return json_response(result);
    }

    let body = match axum::body::to_bytes(body, MAX_BODY_BYTES).await {
        Ok(bytes) => bytes,
        Err(_) => {
            lock(&shared).counters.requests += 1;
            let error = ApiError::invalid_argument(format!(
                "request body is larger than {MAX_BODY_BYTES} bytes"
            ));
            let request = RequestLine::new(&parts.method, &path, &raw_query, None);
            return record(&shared, request, Err(error));
        }
    };

    let call = route(&parts.method, &path);
    let method_name = call.as_ref().ok().map(ApiCall::method_name);
    let mut request = RequestLine::new(&parts.method, &path, &raw_query, method_name);
    let (admitted, mut stopping) = {
        let mut inner = lock(&shared);
        let admitted = admit(&mut inner, call.as_ref(), &parts.headers, &raw_query);
        (admitted, inner.stopping.subscribe())
    };
    let admitted = match admitted {
        Ok(admitted) => admitted,
        Err(error) => return record(&shared, request, Err(error)),
    };

    if !admitted.decision.delay.is_zero() {
        tokio::select! {
            () = tokio::time::sleep(admitted.decision.delay) => {}
            _ = stopping.wait_for(|stopping| *stopping) => {
                let error = ApiError::new(Status::Unavailable, "the emulator is shutting down");
                return record(&shared, request, Err(error));
            }
        }
    }
    let method = admitted.call_name;
    match admitted.decision.fault {
        Some(Fault::Reset) => {
            request.fault = Some(Fault::Reset);
            connection.trigger();
            record(
                &shared,
                request,
                Err(ApiError::new(Status::Unavailable, "connection reset")),
            );
            // The body is never written: the connection fails first.
            return StatusCode::SERVICE_UNAVAILABLE.into_response();
        }
        Some(
            fault @ (Fault::Internal | Fault::Unavailable | Fault::Deadline | Fault::RateLimited),
        ) => {
            request.fault = Some(fault);
            let error = fault.error(method).expect("an error fault has an error");
            return record(&shared, request, Err(error));
        }
        Some(Fault::Hang) => request.fault = Some(Fault::Hang),
        None => {}
    }

    let call = call.expect("admit accepts only routed calls");
    let result = {
        let mut inner = lock(&shared);
        run(&mut inner, &call, &admitted, &body)
    };
    record(&shared, request, result)
}

/// Serves `POST /token`, the OAuth 2.0 token endpoint. The assertion's
/// audience must be this endpoint's address as the client reached it.
async fn token_endpoint(
    shared: &Shared,
    parts: &axum::http::request::Parts,
    body: Body,
) -> Response {
    if parts.method != Method::POST {
        let error = ApiError::not_found("the token endpoint takes POST only");
        return json_response(Err(error));
    }
    let Ok(body) = axum::body::to_bytes(body, MAX_BODY_BYTES).await else {
        let error = ApiError::invalid_argument("the token request body is too large");
        return json_response(Err(error));
    };
    let host = parts
        .headers
        .get(header::HOST)
        .and_then(|host| host.to_str().ok())
        .unwrap_or("127.0.0.1");
    let token_uri = format!("http://{host}/token");
    let mut guard = lock(shared);
    let inner = &mut *guard;
    let result = token::grant(
        &inner.state,
        &mut inner.issued,
        &mut inner.grants,
        &token_uri,
        &body,
    );
    match result {
        Ok(body) => {
            inner.counters.tokens_issued += 1;
            axum::Json(body).into_response()
        }
        Err(error) => {
            inner.counters.token_refusals += 1;
            error.into_response()
        }
    }
}

/// Serves the consent page (`GET /o/oauth2/auth`) and the revocation
/// endpoint (`POST /revoke`) of the installed-app flow.
async fn oauth_endpoint(
    shared: &Shared,
    parts: &axum::http::request::Parts,
    path: &str,
    raw_query: &str,
    body: Body,
) -> Response {
    let Ok(body) = axum::body::to_bytes(body, MAX_BODY_BYTES).await else {
        let error = ApiError::invalid_argument("the request body is too large");
        return json_response(Err(error));
    };
    let mut guard = lock(shared);
    let inner = &mut *guard;
    match (parts.method.as_str(), path) {
        ("GET", "/o/oauth2/auth") => {
            match token::consent(&inner.state, &mut inner.grants, raw_query) {
                Ok(location) => (StatusCode::FOUND, [(header::LOCATION, location)]).into_response(),
                Err(error) => error.into_response(),
            }
        }
        ("POST", "/revoke") => {
            if token::revoke(&mut inner.issued, &mut inner.grants, &body, raw_query) {
                StatusCode::OK.into_response()
            } else {
                let body = json!({ "error": "invalid_token", "error_description": "Token expired or revoked" });
                (StatusCode::BAD_REQUEST, axum::Json(body)).into_response()
            }
        }
        _ => json_response(Err(ApiError::not_found(format!(
            "no route for {} {path}; use GET /o/oauth2/auth or POST /revoke",
            parts.method
        )))),
    }
}

fn lock(shared: &Shared) -> std::sync::MutexGuard<'_, Inner> {
    shared
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A request that passed every check before its method runs.
struct Admitted {
    call_name: &'static str,
    caller: Caller,
    query: Query,
    admin_mode: bool,
    decision: Decision,
}

/// Checks one API request before it runs, in this order: route,
/// authentication, query parameters, the caller's kind and scopes, quotas,
/// then draws its injected latency and fault.
fn admit(
    inner: &mut Inner,
    call: Result<&ApiCall, &ApiError>,
    headers: &HeaderMap,
    raw_query: &str,
) -> Result<Admitted, ApiError> {
    inner.counters.requests += 1;
    let call = call.map_err(Clone::clone)?;
    *inner
        .counters
        .requests_by_method
        .entry(call.method_name().to_string())
        .or_default() += 1;

    let caller = authenticate(&inner.state, &inner.issued, headers)?.clone();
    let query = Query::parse(raw_query)?;
    query.check(call)?;
    let admin_mode = query.flag("useAdminAccess")?;
    if let Err(error) = caller.authorize(call, admin_mode) {
        inner.counters.permission_denials += 1;
        return Err(error);
    }
    inner
        .quotas
        .charge(&inner.state.quotas, &mut inner.counters.quota, call)?;
    let decision = inner
        .injector
        .decide(&inner.state.faults, call.method_name());
    if let Some(fault) = decision.fault {
        *inner
            .counters
            .faults_injected
            .entry(fault.as_str().to_string())
            .or_default() += 1;
    }
    Ok(Admitted {
        call_name: call.method_name(),
        caller,
        query,
        admin_mode,
        decision,
    })
}

/// Runs an admitted request's method against the state.
fn run(inner: &mut Inner, call: &ApiCall, admitted: &Admitted, body: &[u8]) -> ApiResult {
    let Inner {
        state, counters, ..
    } = inner;
    let access = Access {
        caller: &admitted.caller,
        admin_mode: admitted.admin_mode,
    };
    let query = &admitted.query;
    let result = match call {
        ApiCall::SpacesList => spaces::list(state, &access, query),
        ApiCall::SpacesGet { space } => spaces::get(state, &access, space),
        ApiCall::SpacesSearch => spaces::search(state, &access, query),
        ApiCall::MembersList { space } => members::list(state, &access, space, query),
        ApiCall::MembersGet { space, member } => members::get(state, &access, space, member),
        ApiCall::MembersCreate { space } => members::create(state, &access, space, body),
        ApiCall::MembersPatch { space, member } => {
            members::patch(state, counters, &access, space, member, query, body)
        }
        ApiCall::MembersDelete { space, member } => {
            members::delete(state, counters, &access, space, member)
        }
    };
    if let Err(error) = &result
        && error.status == Status::PermissionDenied
    {
        counters.permission_denials += 1;
    }
    result
}

/// Finds the caller of the request's bearer token.
fn authenticate<'a>(
    state: &'a EmulatorState,
    issued: &'a IssuedTokens,
    headers: &HeaderMap,
) -> Result<&'a Caller, ApiError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Err(ApiError::unauthenticated(
            "missing Authorization header; send `Authorization: Bearer TOKEN` with a token from the emulator's state file",
        ));
    };
    let token = value
        .to_str()
        .ok()
        .and_then(|value| value.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim());
    match token {
        Some(token) => match token::issued_caller(issued, token) {
            Ok(Some(caller)) => Ok(caller),
            Err(reason) => Err(ApiError::unauthenticated(reason)),
            Ok(None) => state.caller(token).ok_or_else(|| {
                ApiError::unauthenticated(
                    "the bearer token is not one of the emulator's `tokens` or `callers`, nor issued by its token endpoint",
                )
            }),
        },
        None => Err(ApiError::unauthenticated(
            "the Authorization header must have the form `Bearer TOKEN`",
        )),
    }
}

/// Matches a method and path to an API call. Path segments stay encoded
/// here and are decoded by the handlers that validate them.
fn route(method: &Method, path: &str) -> Result<ApiCall, ApiError> {
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    let owned = |text: &str| text.to_string();
    let call = match (method.as_str(), segments.as_slice()) {
        ("GET", ["v1", "spaces"]) => Some(ApiCall::SpacesList),
        ("GET", ["v1", "spaces:search"]) => Some(ApiCall::SpacesSearch),
        ("GET", ["v1", "spaces", space]) => Some(ApiCall::SpacesGet {
            space: owned(space),
        }),
        ("GET", ["v1", "spaces", space, "members"]) => Some(ApiCall::MembersList {
            space: owned(space),
        }),
        ("POST", ["v1", "spaces", space, "members"]) => Some(ApiCall::MembersCreate {
            space: owned(space),
        }),
        (verb, ["v1", "spaces", space, "members", member]) => {
            let (space, member) = (owned(space), owned(member));
            match verb {
                "GET" => Some(ApiCall::MembersGet { space, member }),
                "PATCH" => Some(ApiCall::MembersPatch { space, member }),
                "DELETE" => Some(ApiCall::MembersDelete { space, member }),
                _ => None,
            }
        }
        _ => None,
    };
    call.ok_or_else(|| {
        ApiError::not_found(format!(
            "no route for {method} {path}; the emulator serves spaces.list, spaces.get, spaces.search and \
             spaces.members list, get, create, patch and delete under /v1/"
        ))
    })
}

/// Serves the inspection routes, which need no token and are neither
/// counted nor logged.
fn inspect(shared: &Shared, method: &Method, path: &str, raw_query: &str) -> ApiResult {
    let inner = lock(shared);
    let known = [
        "/emulator/v1/counters",
        "/emulator/v1/state",
        "/emulator/v1/requests",
        "/emulator/v1/settings",
    ];
    if method != Method::GET || !known.contains(&path) {
        return Err(ApiError::not_found(format!(
            "no route for {method} {path}; inspection routes are GET {}",
            known.join(", ")
        )));
    }
    if let Some((name, _)) = url::form_urlencoded::parse(raw_query.as_bytes()).next() {
        return Err(ApiError::invalid_argument(format!(
            "unknown query parameter `{name}`; inspection routes take none"
        )));
    }
    let body = match path {
        "/emulator/v1/counters" => serde_json::to_value(&inner.counters),
        "/emulator/v1/state" => serde_json::to_value(snapshot::take(&inner.state)),
        "/emulator/v1/settings" => Ok(settings_json(&inner.state)),
        _ => serde_json::to_value(json!({ "requests": inner.requests })),
    };
    Ok(body.expect("inspection values serialize to JSON"))
}

/// The quotas, fault settings and callers, for `/emulator/v1/settings`.
/// Callers are shown without their tokens.
fn settings_json(state: &EmulatorState) -> serde_json::Value {
    let quotas: serde_json::Map<String, serde_json::Value> = Bucket::ALL
        .into_iter()
        .map(|bucket| {
            let rate = state
                .quotas
                .rate(bucket)
                .map_or("off".to_string(), |rate| rate.to_string());
            (bucket.as_str().to_string(), json!(rate))
        })
        .collect();
    let methods: serde_json::Map<String, serde_json::Value> = state
        .faults
        .methods
        .iter()
        .map(|(method, faults)| {
            let value = json!({
                "latency_ms": faults.latency.as_millis() as u64,
                "jitter_ms": faults.jitter.as_millis() as u64,
                "error_500": faults.internal,
                "error_503": faults.unavailable,
                "error_504": faults.deadline,
                "error_429": faults.rate_limited,
                "reset": faults.reset,
                "hang": faults.hang,
                "hang_for_ms": faults.hang_for.as_millis() as u64,
            });
            (method.clone(), value)
        })
        .collect();
    let mut callers: Vec<serde_json::Value> = state
        .tokens
        .iter()
        .filter_map(|token| state.callers.get(token))
        .map(|caller| {
            json!({
                "kind": caller.kind.as_str(),
                "user": caller.user.as_ref().map(|id| format!("users/{id}")),
                "scopes": caller.scopes,
            })
        })
        .collect();
    callers.dedup();
    json!({
        "quotas": quotas,
        "faults": { "seed": state.faults.seed, "methods": methods },
        "callers": callers,
    })
}

/// The request as the log shows it.
struct RequestLine {
    method: String,
    path: String,
    query: String,
    api_method: Option<&'static str>,
    fault: Option<Fault>,
}

impl RequestLine {
    fn new(method: &Method, path: &str, query: &str, api_method: Option<&'static str>) -> Self {
        RequestLine {
            method: method.to_string(),
            path: path.to_string(),
            query: query.to_string(),
            api_method,
            fault: None,
        }
    }
}

/// Appends the request to the log and builds its response.
fn record(shared: &Shared, request: RequestLine, result: ApiResult) -> Response {
    let status = match (&result, request.fault) {
        (_, Some(Fault::Reset)) => 0,
        (Ok(_), _) => 200,
        (Err(error), _) => error.status.http().as_u16(),
    };
    if let Err(error) = &result {
        tracing::debug!(method = %request.method, path = %request.path, status, message = %error.message, "emulator rejected a request");
    }
    let entry = RequestRecord {
        method: request.method,
        path: request.path,
        query: request.query,
        api_method: request.api_method.map(str::to_string),
        status,
        fault: request.fault.map(|fault| fault.as_str().to_string()),
    };
    {
        let mut inner = lock(shared);
        if inner.requests.len() == REQUEST_LOG_CAPACITY {
            inner.requests.pop_front();
        }
        inner.requests.push_back(entry);
    }
    json_response(result)
}

fn json_response(result: ApiResult) -> Response {
    let (status, body) = match result {
        Ok(body) => (axum::http::StatusCode::OK, body),
        Err(error) => (error.status.http(), error.body()),
    };
    let text = serde_json::to_string(&body).expect("JSON values serialize");
    (
        status,
        [(header::CONTENT_TYPE, "application/json; charset=UTF-8")],
        Body::from(text),
    )
        .into_response()
}
