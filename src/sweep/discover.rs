//! Finds the spaces a sweep looks in.
//!
//! With admin access, `spaces.search` lists the organisation's named spaces
//! (`space_type = "SPACE"` is the only type the search accepts). Without it,
//! `spaces.list` lists the spaces the caller is a member of, of every type.

use crate::chat::model::{Space, SpaceType};
use crate::chat::{ChatError, SEARCH_ALL_SPACES};
use crate::observe::ObserveContext;

/// How the sweep found its spaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Discovery {
    /// `spaces.search` with `useAdminAccess=true`: every `SPACE` of the
    /// organisation, and no group chat or direct message.
    AdminSearch,
    /// `spaces.list`: only the caller's own spaces, of every type.
    CallerSpaces,
}

/// A space the sweep looks in, as the listing returned it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// `spaces/{id}`.
    pub name: String,
    pub display_name: Option<String>,
    pub space_type: SpaceType,
}

/// Lists the candidate spaces, sorted by name, without duplicates.
///
/// A search or listing counts against the project's space-read quota, so it
/// waits on the space-read limiter and is retried like any read.
pub async fn discover(
    context: &ObserveContext<'_>,
    discovery: Discovery,
) -> Result<Vec<Candidate>, ChatError> {
    let spaces = match discovery {
        Discovery::AdminSearch => {
            crate::observe::read_space(context, "spaces", "spaces.search", || {
                context.client.search_spaces(SEARCH_ALL_SPACES)
            })
            .await?
        }
        Discovery::CallerSpaces => {
            crate::observe::read_space(context, "spaces", "spaces.list", || {
                context.client.list_spaces()
            })
            .await?
        }
    };
    Ok(candidates(spaces))
}

/// Converts the listing into candidates; a space without a name is dropped,
/// since no later call could address it.
fn candidates(spaces: Vec<Space>) -> Vec<Candidate> {
    let mut candidates: Vec<Candidate> = spaces
        .into_iter()
        .filter_map(|space| {
            let name = space.name.filter(|name| !name.is_empty())?;
            Some(Candidate {
                name,
                display_name: space.display_name,
                space_type: space.space_type.unwrap_or(SpaceType::Unspecified),
            })
        })
        .collect();
    candidates.sort_by(|a, b| a.name.cmp(&b.name));
    candidates.dedup_by(|a, b| a.name == b.name);
    candidates
}

#[cfg(test)]
mod tests {
    use super::*;

    fn space(name: Option<&str>, space_type: Option<SpaceType>) -> Space {
        Space {
            name: name.map(str::to_string),
            space_type,
            ..Space::default()
        }
    }

    #[test]
    fn candidates_sorted_and_deduplicated() {
        let listed = vec![
            space(Some("spaces/B"), Some(SpaceType::Space)),
            space(Some("spaces/A"), Some(SpaceType::DirectMessage)),
            space(Some("spaces/B"), Some(SpaceType::Space)),
            space(None, Some(SpaceType::Space)),
            space(Some("spaces/C"), None),
        ];
        let names: Vec<_> = candidates(listed)
            .into_iter()
            .map(|candidate| (candidate.name, candidate.space_type))
            .collect();
        assert_eq!(
            names,
            [
                ("spaces/A".to_string(), SpaceType::DirectMessage),
                ("spaces/B".to_string(), SpaceType::Space),
                ("spaces/C".to_string(), SpaceType::Unspecified),
            ]
        );
    }
}
