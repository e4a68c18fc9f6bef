//! spaces.list, spaces.get and spaces.search, and the resource-name and
//! visibility checks that the membership methods share.

use serde_json::{Value, json};

use super::caller::Caller;
use super::error::{ApiError, ApiResult, Status};
use super::filter::SpaceFilter;
use super::paging::{PageRequest, next_page_token, page_request};
use super::search::SpaceQuery;
use super::server::{Access, Query};
use super::state::{EmulatorState, MembershipState, Space, is_space_id};
use super::wire::space_json;

/// Decodes a percent-encoded path segment.
pub(crate) fn percent_decode(segment: &str) -> Result<String, ApiError> {
    let bytes = segment.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%' {
            let byte = segment
                .get(index + 1..index + 3)
                .and_then(|hex| u8::from_str_radix(hex, 16).ok())
                .ok_or_else(|| {
                    ApiError::invalid_argument(format!("invalid percent-encoding in {segment:?}"))
                })?;
            decoded.push(byte);
            index += 3;
        } else {
            decoded.push(bytes[index]);
            index += 1;
        }
    }
    String::from_utf8(decoded)
        .map_err(|_| ApiError::invalid_argument(format!("{segment:?} is not UTF-8")))
}

/// Decodes and checks the `{space}` of `spaces/{space}`.
pub(crate) fn space_id(segment: &str) -> Result<String, ApiError> {
    let id = percent_decode(segment)?;
    if !is_space_id(&id) {
        return Err(ApiError::invalid_argument(format!(
            "invalid space name \"spaces/{id}\": expected spaces/ followed by letters, digits, _ or -"
        )));
    }
    Ok(id)
}

/// Finds a space by id, or returns NOT_FOUND naming it.
pub(crate) fn find<'a>(state: &'a EmulatorState, id: &str) -> Result<&'a Space, ApiError> {
    state
        .spaces
        .get(id)
        .ok_or_else(|| ApiError::not_found(format!("space spaces/{id} not found")))
}

/// Finds a space by id for a change, or returns NOT_FOUND naming it.
pub(crate) fn find_mut<'a>(
    state: &'a mut EmulatorState,
    id: &str,
) -> Result<&'a mut Space, ApiError> {
    state
        .spaces
        .get_mut(id)
        .ok_or_else(|| ApiError::not_found(format!("space spaces/{id} not found")))
}

/// Whether the caller is a joined member of the space. The default caller
/// counts as a member of every space.
pub(crate) fn is_member(space: &Space, caller: &Caller) -> bool {
    match &caller.user {
        None => true,
        Some(user) => space
            .memberships
            .get(user)
            .is_some_and(|m| m.state == MembershipState::Joined),
    }
}

/// Finds a space the caller may see: any space in admin mode, otherwise
/// only those the caller is a joined member of. Like Google, the emulator
/// returns NOT_FOUND for a space the caller may not see.
pub(crate) fn find_visible<'a>(
    state: &'a EmulatorState,
    access: &Access<'_>,
    id: &str,
) -> Result<&'a Space, ApiError> {
    let space = find(state, id)?;
    if access.admin_mode || is_member(space, access.caller) {
        Ok(space)
    } else {
        Err(ApiError::not_found(format!(
            "space spaces/{id} not found, or the caller is not a member of it"
        )))
    }
}

/// Lists the spaces the caller is a joined member of (every space for the
/// default caller). spaces.list has no admin mode.
pub(crate) fn list(state: &EmulatorState, access: &Access<'_>, query: &Query) -> ApiResult {
    let filter_text = query.get("filter").unwrap_or("");
    let filter = match filter_text {
        "" => None,
        text => Some(SpaceFilter::parse(text)?),
    };
    let fingerprint = format!("spaces.list\n{filter_text}");
    let page = page_request(query.get("pageSize"), query.get("pageToken"), &fingerprint)?;

    let matching = state.spaces.iter().filter(|(_, space)| {
        is_member(space, access.caller)
            && filter
                .as_ref()
                .is_none_or(|filter| filter.matches(space.space_type))
    });
    let (spaces, next) = page_of(state, matching, &page, &fingerprint);
    let mut body = json!({});
    if !spaces.is_empty() {
        body["spaces"] = Value::Array(spaces);
    }
    if let Some(token) = next {
        body["nextPageToken"] = json!(token);
    }
    Ok(body)
}

/// Takes one page from spaces in id order, and the token of the next page.
fn page_of<'a>(
    state: &EmulatorState,
    matching: impl Iterator<Item = (&'a String, &'a Space)>,
    page: &PageRequest,
    fingerprint: &str,
) -> (Vec<Value>, Option<String>) {
    let mut matching = matching.filter(|(id, _)| {
        page.after
            .as_ref()
            .is_none_or(|after| id.as_str() > after.as_str())
    });
    let mut spaces = Vec::new();
    let mut last_id = None;
    for (id, space) in matching.by_ref().take(page.size) {
        spaces.push(space_json(id, space, state));
        last_id = Some(id);
    }
    let next = match (last_id, matching.next()) {
        (Some(last_id), Some(_)) => Some(next_page_token(last_id, fingerprint)),
        _ => None,
    };
    (spaces, next)
}

pub(crate) fn get(state: &EmulatorState, access: &Access<'_>, segment: &str) -> ApiResult {
    let id = space_id(segment)?;
    let space = find_visible(state, access, &id)?;
    Ok(space_json(&id, space, state))
}

/// spaces.search in admin mode: every space of the organisation that
/// matches `query`, in id order, with `totalSize`.
///
/// `orderBy` is accepted only as `create_time ASC` or absent; Google's
/// other orders are rejected by name. Without `useAdminAccess=true` the
/// method is not emulated.
pub(crate) fn search(state: &EmulatorState, access: &Access<'_>, query: &Query) -> ApiResult {
    if !access.admin_mode {
        return Err(ApiError::new(
            Status::Unimplemented,
            "spaces.search is emulated only with useAdminAccess=true; use spaces.list for the caller's own spaces",
        ));
    }
    let text = query.get("query").unwrap_or("").trim();
    if text.is_empty() {
        return Err(ApiError::invalid_argument(
            "query is required, such as customer = \"customers/my_customer\" AND space_type = \"SPACE\"",
        ));
    }
    let parsed = SpaceQuery::parse(text)?;
    let order_by = query.get("orderBy").unwrap_or("").trim();
    let descending = match order_by.split_whitespace().collect::<Vec<_>>().as_slice() {
        [] | ["create_time"] | ["create_time", "ASC"] => false,
        ["create_time", "DESC"] => true,
        _ => {
            return Err(ApiError::invalid_argument(format!(
                "orderBy {order_by:?} is not supported by the emulator; use create_time ASC or create_time DESC"
            )));
        }
    };
    let fingerprint = format!("spaces.search\n{text}\n{descending}");
    let page = page_request(query.get("pageSize"), query.get("pageToken"), &fingerprint)?;

    let mut matching: Vec<(&String, &Space)> = state
        .spaces
        .iter()
        .filter(|(_, space)| parsed.matches(space))
        .collect();
    // Order by creation time, then id, so that the page token (the last
    // id returned) finds its place again.
    matching.sort_by(|(a_id, a), (b_id, b)| {
        let key = |space: &Space| crate::emulator::time::instant_of(&space.create_time);
        key(a).cmp(&key(b)).then(a_id.cmp(b_id))
    });
    if descending {
        matching.reverse();
    }
    let total = matching.len();
    let start = match &page.after {
        None => 0,
        Some(after) => matching
            .iter()
            .position(|(id, _)| id.as_str() == after)
            .map(|index| index + 1)
            .ok_or_else(|| {
                ApiError::invalid_argument(
                    "pageToken points to a space that no longer matches; start again without pageToken",
                )
            })?,
    };
    let chosen: Vec<&(&String, &Space)> = matching.iter().skip(start).take(page.size).collect();
    let spaces: Vec<Value> = chosen
        .iter()
        .map(|(id, space)| space_json(id, space, state))
        .collect();
    let mut body = json!({ "totalSize": total });
    if !spaces.is_empty() {
        let results: Vec<Value> = spaces
            .iter()
            .map(|space| json!({ "space": space }))
            .collect();
        body["results"] = Value::Array(results);
        body["spaces"] = Value::Array(spaces);
    }
    if start + chosen.len() < total
        && let Some((last_id, _)) = chosen.last()
    {
        body["nextPageToken"] = json!(next_page_token(last_id, &fingerprint));
    }
    Ok(body)
}
