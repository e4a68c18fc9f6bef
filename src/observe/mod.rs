//! Observes the current memberships of the spaces in scope.
//!
//! Lists every space's memberships (groups and invited members included),
//! then resolves the policy's emails to `users/{id}`: from `member.email`
//! where the API returns it, otherwise with `spaces.members.get` on the
//! email alias. Each email is looked up at most once per run and per space
//! where it is still unknown.

pub mod model;

use crate::chat::ChatClient;
use crate::chat::retry::RetryPolicy;
use crate::limits::{RateLimits, SlowDown};
use crate::policy::model::Policy;

pub use model::{ObservedMember, ObservedMembership, ObservedSpace, ObservedState};

/// How the observation runs.
pub struct ObserveContext<'a> {
    pub client: &'a ChatClient,
    pub limits: &'a RateLimits,
    pub slow_down: &'a SlowDown,
    pub retry: &'a RetryPolicy,
    /// Spaces fetched at the same time.
    pub concurrency: usize,
}

/// A space could not be observed.
#[derive(Debug, thiserror::Error)]
#[error("could not observe {space}")]
pub struct ObserveError {
    pub space: String,
    #[source]
    pub source: crate::chat::ChatError,
}

/// Fetches the spaces the policy names and their memberships.
pub async fn observe(
    _context: &ObserveContext<'_>,
    _policy: &Policy,
) -> Result<ObservedState, ObserveError> {
    todo!()
}

/// Fetches the named spaces again (after an apply, for verification).
pub async fn observe_spaces(
    _context: &ObserveContext<'_>,
    _policy: &Policy,
    _spaces: &[String],
) -> Result<ObservedState, ObserveError> {
    todo!()
}
