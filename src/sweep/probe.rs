//! Finds each departing user's membership in each candidate space with one
//! `spaces.members.get` on `spaces/{space}/members/{email}`.
//!
//! One request per space and user costs far less than listing every space's
//! members: a listing takes at least one request per space too, and more for
//! spaces over 1,000 members, and it returns everyone else as well. A 404
//! means the user is not a member.

use futures::{StreamExt, TryStreamExt, stream};
use tracing::Instrument;

use crate::observe::{ObserveContext, ObserveError, ObservedMember, ObservedMembership};

use super::discover::Candidate;

/// A departing user's membership found in a candidate space.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// `spaces/{id}`.
    pub space: String,
    /// The email the sweep looked up, lowercased.
    pub email: String,
    /// The membership, with `email` filled in when the API left it out.
    pub membership: ObservedMembership,
}

/// Looks up every user in every candidate, `concurrency` requests at a time.
/// Returns the memberships found, sorted by space, then email.
///
/// Fails on the first error other than 404 that retries did not cure.
pub async fn probe(
    context: &ObserveContext<'_>,
    candidates: &[Candidate],
    users: &[String],
) -> Result<Vec<Found>, ObserveError> {
    let lookups = candidates
        .iter()
        .flat_map(|candidate| users.iter().map(move |email| (candidate, email)));
    let results: Vec<Option<Found>> = stream::iter(lookups)
        .map(|(candidate, email)| {
            let span = tracing::info_span!("probe", space = %candidate.name, email = %email);
            probe_one(context, &candidate.name, email).instrument(span)
        })
        .buffer_unordered(context.concurrency.max(1))
        .try_collect()
        .await?;

    let mut found: Vec<Found> = results.into_iter().flatten().collect();
    found.sort_by(|a, b| (&a.space, &a.email).cmp(&(&b.space, &b.email)));
    Ok(found)
}

async fn probe_one(
    context: &ObserveContext<'_>,
    space: &str,
    email: &str,
) -> Result<Option<Found>, ObserveError> {
    let name = format!("{space}/members/{email}");
    let result = crate::observe::read(context, space, "spaces.members.get", || {
        context.client.get_member(&name)
    })
    .await;
    let membership = match result {
        Ok(membership) => membership,
        Err(error) if error.is_not_found() => return Ok(None),
        Err(source) => {
            return Err(ObserveError {
                space: space.to_string(),
                source,
            });
        }
    };
    let mut membership =
        crate::observe::observe_membership(space, 0, membership).map_err(|source| {
            ObserveError {
                space: space.to_string(),
                source,
            }
        })?;
    if let ObservedMember::User { email: listed, .. } = &mut membership.member {
        // The lookup was by this email, so it names the member even when
        // the API hides emails or returns the primary address for an alias.
        *listed = Some(email.to_string());
    }
    tracing::debug!(membership = %membership.name, "found a membership");
    Ok(Some(Found {
        space: space.to_string(),
        email: email.to_string(),
        membership,
    }))
}
