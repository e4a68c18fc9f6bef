//! The YAML policy: parsed into plain structs, then resolved into
//! [`model::Policy`].
//!
//! [`parse`] reads the text with serde-saphyr into the syntax structs of
//! `raw` (unknown keys, duplicate keys and wrong types stop there, with their
//! line and column). [`resolve`] then validates names, emails and roles and
//! reports every problem it finds at once.

mod error;
pub(crate) mod member;
pub mod model;
mod raw;
pub mod resolve;
mod syntax;

use std::io::Read;
use std::path::Path;

pub use error::{PolicyError, PolicyIssue, Position};
pub use model::{Fraction, Guards, Mode, Policy, Principal, Role, SpacePolicy};
pub use resolve::SUPPORTED_VERSION;

use error::Issues;
use raw::{MAX_POLICY_BYTES, Root};

const EXAMPLE_HINT: &str = "a policy starts with `version: 1` and lists its spaces \
                            under `spaces:`, each as `- space: spaces/{id}`";

/// Reads, parses and resolves the policy file at `path`.
///
/// # Errors
///
/// The file cannot be read, is larger than 16 MiB, is not UTF-8, or contains
/// an invalid policy (see [`parse`]).
pub fn load(path: &Path) -> Result<Policy, PolicyError> {
    let origin = path.display().to_string();
    let mut issues = Issues::new(&origin);

    let bytes = match read_capped(path) {
        Ok(bytes) => bytes,
        Err(error) => {
            issues.push(None, format!("failed to read the policy: {error}"), None);
            return issues.into_result(Policy::default());
        }
    };
    if bytes.len() > MAX_POLICY_BYTES {
        push_too_large(&mut issues);
        return issues.into_result(Policy::default());
    }
    match std::str::from_utf8(&bytes) {
        Ok(text) => parse(text, &origin),
        Err(error) => {
            let valid = &bytes[..error.valid_up_to()];
            let prefix = String::from_utf8_lossy(valid);
            let bad_byte = bytes[error.valid_up_to()];
            issues.push(
                Some(end_position(&prefix)),
                format!("the policy is not UTF-8 text: invalid byte 0x{bad_byte:02X}"),
                Some("check that this is the policy file, and save it as UTF-8".to_string()),
            );
            issues.into_result(Policy::default())
        }
    }
}

/// Parses and resolves policy text; `origin` names it in messages.
///
/// # Errors
///
/// Returns every problem found. A YAML syntax error, an unknown or repeated
/// key, or a value of the wrong type stops parsing, so it comes alone. In a
/// well-formed file, all validation problems come together: version, space
/// names, emails, resource names, conflicting roles and lists.
pub fn parse(text: &str, origin: &str) -> Result<Policy, PolicyError> {
    let mut issues = Issues::new(origin);
    if text.len() > MAX_POLICY_BYTES {
        push_too_large(&mut issues);
        return issues.into_result(Policy::default());
    }

    let root = match raw::read(text) {
        Ok(Some(root)) => root,
        Ok(None) => {
            issues.push(
                Some(Position { line: 1, column: 1 }),
                "the policy is empty".to_string(),
                Some(EXAMPLE_HINT.to_string()),
            );
            return issues.into_result(Policy::default());
        }
        Err(error) => {
            syntax::push_syntax_error(&error, &mut issues);
            return issues.into_result(Policy::default());
        }
    };

    let position = Position::from(root.referenced);
    let policy = match root.value {
        Root::Policy(raw) => resolve::resolve(raw, position, &mut issues),
        Root::NotMapping(found) => {
            issues.push(
                Some(position),
                format!("the policy is {found}, but it must be a mapping of keys to values"),
                Some(EXAMPLE_HINT.to_string()),
            );
            Policy::default()
        }
    };
    issues.into_result(policy)
}

/// Reads at most one byte more than the limit, so that a huge file (or an
/// endless one such as /dev/zero) is not read whole.
fn read_capped(path: &Path) -> std::io::Result<Vec<u8>> {
    let file = std::fs::File::open(path)?;
    let mut bytes = Vec::new();
    file.take(MAX_POLICY_BYTES as u64 + 1)
        .read_to_end(&mut bytes)?;
    Ok(bytes)
}

fn push_too_large(issues: &mut Issues) {
    issues.push(
        None,
        format!(
            "the policy is larger than {} MiB",
            MAX_POLICY_BYTES / (1024 * 1024)
        ),
        Some("split it into several policy files and run each one".to_string()),
    );
}

/// Returns the position just after `text`.
fn end_position(text: &str) -> Position {
    let line = text.matches('\n').count() + 1;
    let last_line = text.rsplit('\n').next().unwrap_or("");
    let column = last_line.chars().count() + 1;
    Position {
        line: line as u64,
        column: column as u64,
    }
}
