//! spaces.list and spaces.get, and the resource-name checks that the
//! membership methods share.

use serde_json::{Value, json};

use super::error::{ApiError, ApiResult};
use super::filter::SpaceFilter;
use super::paging::{next_page_token, page_request};
use super::server::Query;
use super::state::{EmulatorState, Space, is_space_id};
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

/// Lists every space in the state file.
///
/// NOTE: Google lists only the spaces the caller is a member of. The
/// emulator has no notion of the caller yet, so it lists them all.
pub(crate) fn list(state: &EmulatorState, query: &Query) -> ApiResult {
    let filter_text = query.get("filter").unwrap_or("");
    let filter = match filter_text {
        "" => None,
        text => Some(SpaceFilter::parse(text)?),
    };
    let fingerprint = format!("spaces.list\n{filter_text}");
    let page = page_request(query.get("pageSize"), query.get("pageToken"), &fingerprint)?;

    let mut matching = state
        .spaces
        .iter()
        .filter(|(id, _)| {
            page.after
                .as_ref()
                .is_none_or(|after| id.as_str() > after.as_str())
        })
        .filter(|(_, space)| {
            filter
                .as_ref()
                .is_none_or(|filter| filter.matches(space.space_type))
        });

    let mut spaces: Vec<Value> = Vec::new();
    let mut last_id = None;
    for (id, space) in matching.by_ref().take(page.size) {
        spaces.push(space_json(id, space, state));
        last_id = Some(id);
    }

    let mut body = json!({});
    if !spaces.is_empty() {
        body["spaces"] = Value::Array(spaces);
    }
    if let (Some(last_id), Some(_)) = (last_id, matching.next()) {
        body["nextPageToken"] = json!(next_page_token(last_id, &fingerprint));
    }
    Ok(body)
}

pub(crate) fn get(state: &EmulatorState, segment: &str) -> ApiResult {
    let id = space_id(segment)?;
    let space = find(state, &id)?;
    Ok(space_json(&id, space, state))
}
