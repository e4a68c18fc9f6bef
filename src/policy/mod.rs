//! The YAML policy: parsed into plain structs, then resolved into
//! [`model::Policy`].

pub mod model;

use std::path::Path;

pub use model::{Mode, Policy, Principal, Role, SpacePolicy};

/// An invalid policy; the message names the file, line and column.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct PolicyError(pub String);

/// Reads, parses and resolves the policy file at `path`.
pub fn load(_path: &Path) -> Result<Policy, PolicyError> {
    todo!()
}

/// Parses and resolves policy text; `origin` names it in messages.
pub fn parse(_text: &str, _origin: &str) -> Result<Policy, PolicyError> {
    todo!()
}
