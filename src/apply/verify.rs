//! Verification: observe the changed spaces again and plan again.

use crate::observe::{self, ObserveContext, ObserveError};
use crate::plan::{self, Plan};
use crate::policy::Policy;

/// The plan computed against the spaces after an apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    /// Spaces observed again.
    pub spaces: Vec<String>,
    /// The plan of those spaces after the apply. It may list blocked
    /// changes; any operation in it means the apply did not reach the policy.
    pub remaining: Plan,
}

impl Verification {
    /// Returns true when planning again finds no operation to run.
    pub fn passed(&self) -> bool {
        self.remaining.is_empty()
    }
}

/// Observes `spaces` again and plans the policy's entries for them.
///
/// Fails when a space cannot be observed; the error names the space.
pub async fn verify(
    context: &ObserveContext<'_>,
    policy: &Policy,
    spaces: &[String],
) -> Result<Verification, ObserveError> {
    let mut scoped = policy.clone();
    scoped.spaces.retain(|entry| spaces.contains(&entry.space));
    let observed = observe::observe_spaces(context, &scoped, spaces).await?;
    Ok(Verification {
        spaces: spaces.to_vec(),
        remaining: plan::plan(&scoped, &observed),
    })
}
