//! `pageSize` and `pageToken` for the list methods.
//!
//! A page token is opaque to callers: hex of the key of the last item
//! returned and a fingerprint of the listing's other parameters. Resuming
//! after a key, rather than at an offset, keeps a listing exact while
//! memberships are added or removed between pages. A token used with other
//! parameters is rejected with INVALID_ARGUMENT; Google only warns that this
//! "might lead to unexpected results", and an error makes that client bug
//! visible. `pageSize` is not part of the fingerprint, because AIP-158 lets
//! a caller change it between pages.

use super::error::ApiError;

pub const DEFAULT_PAGE_SIZE: usize = 100;
pub const MAX_PAGE_SIZE: usize = 1000;

/// The start and maximum size of a requested page.
#[derive(Debug)]
pub struct PageRequest {
    pub size: usize,
    /// Items with keys up to and including this one were already returned.
    pub after: Option<String>,
}

/// Reads `pageSize` and `pageToken`. `fingerprint` identifies the listing
/// (route and every parameter but the paging ones).
pub fn page_request(
    page_size: Option<&str>,
    page_token: Option<&str>,
    fingerprint: &str,
) -> Result<PageRequest, ApiError> {
    let size = match page_size {
        None => DEFAULT_PAGE_SIZE,
        Some(text) => {
            let value: i64 = text.parse().map_err(|_| {
                ApiError::invalid_argument(format!(
                    "invalid pageSize {text:?}: expected an integer"
                ))
            })?;
            if value < 0 {
                return Err(ApiError::invalid_argument(format!(
                    "invalid pageSize {value}: must not be negative"
                )));
            }
            match value as u64 {
                0 => DEFAULT_PAGE_SIZE,
                small if small <= MAX_PAGE_SIZE as u64 => small as usize,
                _ => MAX_PAGE_SIZE,
            }
        }
    };

    let after = match page_token {
        None | Some("") => None,
        Some(token) => Some(decode(token, fingerprint)?),
    };
    Ok(PageRequest { size, after })
}

/// Builds the `nextPageToken` that resumes after `last_key`.
pub fn next_page_token(last_key: &str, fingerprint: &str) -> String {
    let plain = format!("{:016x}\n{last_key}", fnv1a(fingerprint));
    plain.bytes().map(|b| format!("{b:02x}")).collect()
}

fn decode(token: &str, fingerprint: &str) -> Result<String, ApiError> {
    let malformed = || {
        ApiError::invalid_argument(format!(
            "invalid pageToken {token:?}: pass the nextPageToken of the previous response unchanged"
        ))
    };
    if token.len() % 2 != 0 {
        return Err(malformed());
    }
    let bytes = (0..token.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(token.get(i..i + 2)?, 16).ok())
        .collect::<Option<Vec<u8>>>()
        .ok_or_else(malformed)?;
    let plain = String::from_utf8(bytes).map_err(|_| malformed())?;
    let (hash, last_key) = plain.split_once('\n').ok_or_else(malformed)?;
    if hash != format!("{:016x}", fnv1a(fingerprint)) {
        return Err(ApiError::invalid_argument(
            "pageToken was issued for a listing with other parameters; \
             repeat the first request's parameters (only pageSize may change) or start again without pageToken",
        ));
    }
    Ok(last_key.to_string())
}

/// FNV-1a, 64-bit: stable across runs and Rust versions, unlike `DefaultHasher`.
fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_round_trip() {
        let token = next_page_token("100000000007", "members|spaces/A");
        let request = page_request(None, Some(&token), "members|spaces/A").unwrap();
        assert_eq!(request.after.as_deref(), Some("100000000007"));
    }

    #[test]
    fn token_other_fingerprint() {
        let token = next_page_token("1", "members|spaces/A");
        let error = page_request(None, Some(&token), "members|spaces/B").unwrap_err();
        assert!(
            error.message.contains("other parameters"),
            "{}",
            error.message
        );
    }

    #[test]
    fn page_sizes() {
        let size = |text| page_request(Some(text), None, "").map(|request| request.size);
        assert_eq!(size("0").unwrap(), DEFAULT_PAGE_SIZE);
        assert_eq!(size("7").unwrap(), 7);
        assert_eq!(size("5000").unwrap(), MAX_PAGE_SIZE);
        assert!(size("-1").is_err());
        assert!(size("ten").is_err());
    }
}
