//! Observes the current memberships of the spaces in scope.
//!
//! Lists every space's memberships (groups and invited members included),
//! then resolves the policy's emails to `users/{id}`: from `member.email`
//! where the API returns it, otherwise with `spaces.members.get` on the
//! email alias. Each email is looked up at most once per space where it is
//! still unknown, and an id learnt in one space serves every other space.

pub mod model;

use std::collections::{BTreeSet, HashMap};
use std::future::Future;
use std::sync::Mutex;

use futures::{StreamExt, TryStreamExt, stream};
use tracing::Instrument;

use crate::chat::model::{Membership, MembershipRole, MembershipState, Space, SpaceType, UserType};
use crate::chat::retry::{RetryPolicy, with_retries};
use crate::chat::{ChatClient, ChatError, ListMembersOptions};
use crate::limits::{RateLimits, SlowDown};
use crate::policy::model::{Policy, Principal};

pub use model::{ObservedMember, ObservedMembership, ObservedSpace, ObservedState};

/// The client, limiters and settings of an observation.
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
///
/// A space for which `spaces.get` returns 404 is listed in
/// [`ObservedState::missing`] and has no entry in `spaces`. Any other error
/// that retries did not cure fails the whole observation.
pub async fn observe(
    context: &ObserveContext<'_>,
    policy: &Policy,
) -> Result<ObservedState, ObserveError> {
    let spaces: Vec<String> = policy
        .spaces
        .iter()
        .map(|space| space.space.clone())
        .collect();
    observe_spaces(context, policy, &spaces).await
}

/// Fetches the named spaces again (after an apply, for verification).
///
/// The policy decides which emails are resolved in each space: those the
/// space's entry names, and the global `protect`, `offboard` and
/// `successors` lists.
pub async fn observe_spaces(
    context: &ObserveContext<'_>,
    policy: &Policy,
    spaces: &[String],
) -> Result<ObservedState, ObserveError> {
    let concurrency = context.concurrency.max(1);
    let names: BTreeSet<&str> = spaces.iter().map(String::as_str).collect();

    let fetched: Vec<Option<ObservedSpace>> = stream::iter(names.iter().copied())
        .map(|space| fetch_space(context, space).instrument(tracing::info_span!("observe", space)))
        .buffer_unordered(concurrency)
        .try_collect()
        .await?;

    let mut state = ObservedState::default();
    let mut found = Vec::new();
    for (name, space) in names.iter().zip(sorted_by_name(fetched, &names)) {
        match space {
            Some(space) => found.push(space),
            None => state.missing.push(name.to_string()),
        }
    }

    let directory = EmailDirectory::from_spaces(&found);
    state.spaces = stream::iter(found)
        .map(|space| {
            let span = tracing::info_span!("resolve", space = %space.name);
            resolve_emails(context, policy, &directory, space).instrument(span)
        })
        .buffer_unordered(concurrency)
        .try_collect()
        .await?;
    state.spaces.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(state)
}

/// Puts the results of `buffer_unordered` back in the order of `names`,
/// with `None` for each missing space.
fn sorted_by_name(
    fetched: Vec<Option<ObservedSpace>>,
    names: &BTreeSet<&str>,
) -> Vec<Option<ObservedSpace>> {
    let mut by_name: HashMap<String, ObservedSpace> = fetched
        .into_iter()
        .flatten()
        .map(|space| (space.name.clone(), space))
        .collect();
    names.iter().map(|name| by_name.remove(*name)).collect()
}

/// Fetches one space and its memberships; `None` when the space is not found.
async fn fetch_space(
    context: &ObserveContext<'_>,
    space: &str,
) -> Result<Option<ObservedSpace>, ObserveError> {
    tracing::debug!("fetching space");
    let fail = |source| ObserveError {
        space: space.to_string(),
        source,
    };

    let details = match read_space(context, space, "spaces.get", || {
        context.client.get_space(space)
    })
    .await
    {
        Ok(details) => details,
        Err(error) if error.is_not_found() => {
            tracing::warn!(error = %error, "space not found; it will not be changed");
            return Ok(None);
        }
        Err(error) => return Err(fail(error)),
    };

    let memberships = match list_memberships(context, space).await {
        Ok(memberships) => memberships,
        // The space was deleted between the two calls.
        Err(error) if error.is_not_found() => {
            tracing::warn!(error = %error, "space not found while listing its members; it will not be changed");
            return Ok(None);
        }
        Err(error) => return Err(fail(error)),
    };

    let observed = observe_space(space, details, memberships).map_err(fail)?;
    tracing::debug!(memberships = observed.memberships.len(), "fetched space");
    Ok(Some(observed))
}

/// Lists every membership of `space`, groups and invited members included,
/// with each page rate-limited and retried on its own.
async fn list_memberships(
    context: &ObserveContext<'_>,
    space: &str,
) -> Result<Vec<Membership>, ChatError> {
    let options = ListMembersOptions {
        show_groups: true,
        show_invited: true,
        filter: None,
    };
    let mut memberships = Vec::new();
    let mut page_token: Option<String> = None;
    loop {
        let token = page_token.as_deref();
        let page = read(context, space, "spaces.members.list", || {
            context.client.list_members_page(space, &options, token)
        })
        .await?;
        memberships.extend(page.memberships);
        page_token = page.next_page_token;
        if page_token.is_none() {
            return Ok(memberships);
        }
    }
}

/// Runs a space read (`spaces.get`, `spaces.list`, `spaces.search`) under
/// the space's read limiter and the project's space-read limiter, with
/// retries logged at warn level. `method` names the call in logs.
pub(crate) async fn read_space<T, Call, Attempt>(
    context: &ObserveContext<'_>,
    space: &str,
    method: &'static str,
    call: Call,
) -> Result<T, ChatError>
where
    Call: Fn() -> Attempt,
    Attempt: Future<Output = Result<T, ChatError>>,
{
    with_retries(
        context.retry,
        context.slow_down,
        || async {
            context.limits.until_space_read_ready(space).await;
            let result = call().await;
            context.limits.read_completed(space);
            result
        },
        |error, attempt, delay| log_retry(method, error, attempt, delay),
    )
    .await
}

/// Runs one membership read under the space's and the project's
/// membership-read limiters, with retries logged at warn level.
pub(crate) async fn read<T, Call, Attempt>(
    context: &ObserveContext<'_>,
    space: &str,
    method: &'static str,
    call: Call,
) -> Result<T, ChatError>
where
    Call: Fn() -> Attempt,
    Attempt: Future<Output = Result<T, ChatError>>,
{
    with_retries(
        context.retry,
        context.slow_down,
        || async {
            context.limits.until_read_ready(space).await;
            let result = call().await;
            context.limits.read_completed(space);
            result
        },
        |error, attempt, delay| log_retry(method, error, attempt, delay),
    )
    .await
}

fn log_retry(method: &'static str, error: &ChatError, attempt: u32, delay: std::time::Duration) {
    tracing::warn!(
        method,
        attempt,
        delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
        error = %error,
        "retrying"
    );
}

/// Converts the API's space and memberships into the observed form, sorted
/// by membership name.
fn observe_space(
    space: &str,
    details: Space,
    memberships: Vec<Membership>,
) -> Result<ObservedSpace, ChatError> {
    let mut observed = Vec::with_capacity(memberships.len());
    for (index, membership) in memberships.into_iter().enumerate() {
        observed.push(observe_membership(space, index, membership)?);
    }
    observed.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(ObservedSpace {
        name: space.to_string(),
        display_name: details.display_name,
        space_type: details.space_type.unwrap_or(SpaceType::Unspecified),
        memberships: observed,
    })
}

/// Converts one membership. Missing role, state and user type become the
/// API's `..._UNSPECIFIED` values, and a missing member name is taken from
/// the membership name, whose last segment is the member's id. Only a
/// missing membership name is an error, because nothing could change it.
pub(crate) fn observe_membership(
    space: &str,
    index: usize,
    membership: Membership,
) -> Result<ObservedMembership, ChatError> {
    let Some(name) = membership.name.filter(|name| !name.is_empty()) else {
        return Err(ChatError::Decode {
            method: "spaces.members.list",
            target: space.to_string(),
            path: format!("memberships[{index}].name"),
            message: "missing membership name".to_string(),
        });
    };
    let member_id = name.rsplit('/').next().unwrap_or_default().to_string();

    let member = match (membership.group_member, membership.member) {
        (Some(group), _) => ObservedMember::Group {
            id: group
                .name
                .filter(|id| !id.is_empty())
                .unwrap_or_else(|| format!("groups/{member_id}")),
        },
        (None, user) => {
            let user = user.unwrap_or_default();
            ObservedMember::User {
                id: user
                    .name
                    .filter(|id| !id.is_empty())
                    .unwrap_or_else(|| format!("users/{member_id}")),
                email: user.email.as_deref().and_then(normalize_email),
                user_type: user.user_type.unwrap_or(UserType::Unspecified),
            }
        }
    };

    Ok(ObservedMembership {
        name,
        member,
        role: membership.role.unwrap_or(MembershipRole::Unspecified),
        state: membership.state.unwrap_or(MembershipState::Unspecified),
        affiliation: membership.affiliation,
        create_time: membership.create_time,
    })
}

fn normalize_email(email: &str) -> Option<String> {
    let email = email.trim();
    (!email.is_empty()).then(|| email.to_lowercase())
}

/// The run's email → `users/{id}` cache, shared by the spaces being resolved.
struct EmailDirectory {
    ids: Mutex<HashMap<String, String>>,
}

impl EmailDirectory {
    /// Starts from every `member.email` the listings returned.
    fn from_spaces(spaces: &[ObservedSpace]) -> Self {
        let mut ids = HashMap::new();
        for membership in spaces.iter().flat_map(|space| &space.memberships) {
            if let ObservedMember::User {
                id,
                email: Some(email),
                ..
            } = &membership.member
            {
                ids.insert(email.clone(), id.clone());
            }
        }
        Self {
            ids: Mutex::new(ids),
        }
    }

    fn get(&self, email: &str) -> Option<String> {
        self.lock().get(email).cloned()
    }

    fn learn(&self, email: &str, id: &str) {
        self.lock().insert(email.to_string(), id.to_string());
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, String>> {
        self.ids
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Lowercased emails the policy names that matter in `space`: those in the
/// space's own entry, and the global `protect`, `offboard` and `successors`.
fn policy_emails(policy: &Policy, space: &str) -> BTreeSet<String> {
    let global = policy
        .protect
        .iter()
        .chain(&policy.offboard)
        .chain(&policy.successors);
    let local = policy
        .spaces
        .iter()
        .filter(|entry| entry.space == space)
        .flat_map(|entry| {
            entry
                .members
                .keys()
                .chain(&entry.successors)
                .chain(&entry.keep)
        });
    global
        .chain(local)
        .filter_map(|principal| match principal {
            Principal::Email(email) => normalize_email(email),
            Principal::User(_) | Principal::Group(_) => None,
        })
        .collect()
}

/// Fills in the email of each membership the policy names by email but the
/// listing returned without one.
async fn resolve_emails(
    context: &ObserveContext<'_>,
    policy: &Policy,
    directory: &EmailDirectory,
    mut space: ObservedSpace,
) -> Result<ObservedSpace, ObserveError> {
    let listed: BTreeSet<String> = space
        .memberships
        .iter()
        .filter_map(|membership| match &membership.member {
            ObservedMember::User {
                email: Some(email), ..
            } => Some(email.clone()),
            _ => None,
        })
        .collect();
    let wanted = policy_emails(policy, &space.name);
    let unresolved: Vec<&String> = wanted
        .iter()
        .filter(|email| !listed.contains(*email))
        .collect();

    let mut lookups = 0;
    for email in unresolved {
        let id = match directory.get(email) {
            Some(id) => Some(id),
            None => {
                lookups += 1;
                look_up_email(context, &space.name, email)
                    .await
                    .map_err(|source| ObserveError {
                        space: space.name.clone(),
                        source,
                    })?
            }
        };
        let Some(id) = id else { continue };
        directory.learn(email, &id);
        set_email(&mut space, &id, email, &wanted);
    }
    tracing::debug!(lookups, "resolved emails");
    Ok(space)
}

/// Asks `spaces.members.get` for `spaces/{space}/members/{email}`; returns
/// the member's `users/{id}`, or `None` when the person is not in the space.
async fn look_up_email(
    context: &ObserveContext<'_>,
    space: &str,
    email: &str,
) -> Result<Option<String>, ChatError> {
    let name = format!("{space}/members/{email}");
    match read(context, space, "spaces.members.get", || {
        context.client.get_member(&name)
    })
    .await
    {
        Ok(membership) => {
            let id = membership
                .member
                .and_then(|user| user.name)
                .filter(|id| !id.is_empty())
                .or_else(|| {
                    let member_id = membership.name?.rsplit('/').next()?.to_string();
                    Some(format!("users/{member_id}"))
                });
            tracing::debug!(
                email,
                id = id.as_deref().unwrap_or("(none)"),
                "looked up email"
            );
            Ok(id)
        }
        Err(error) if error.is_not_found() => Ok(None),
        Err(error) => Err(error),
    }
}

/// Sets `email` on the user membership with `id`.
///
/// A membership listed with another email (the person's primary address,
/// when the policy names an alias) takes the policy's spelling, so that the
/// planner matches it, unless the listed email is itself one the policy
/// names for this space.
fn set_email(space: &mut ObservedSpace, id: &str, email: &str, policy_emails: &BTreeSet<String>) {
    for membership in &mut space.memberships {
        let ObservedMember::User {
            id: member_id,
            email: member_email,
            ..
        } = &mut membership.member
        else {
            continue;
        };
        if member_id != id {
            continue;
        }
        match member_email {
            None => *member_email = Some(email.to_string()),
            Some(listed) if !policy_emails.contains(listed.as_str()) => {
                tracing::debug!(listed = %listed, policy = email, "policy names the member by another email");
                *member_email = Some(email.to_string());
            }
            Some(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::model::{Group, User};

    fn membership(name: &str) -> Membership {
        Membership {
            name: Some(name.to_string()),
            ..Membership::default()
        }
    }

    #[test]
    fn user_membership_converted() {
        let wire = Membership {
            role: Some(MembershipRole::Manager),
            state: Some(MembershipState::Joined),
            member: Some(User {
                name: Some("users/1".to_string()),
                email: Some(" Alice@Example.COM ".to_string()),
                user_type: Some(UserType::Human),
                ..User::default()
            }),
            create_time: Some("2021-01-04T09:00:00Z".to_string()),
            ..membership("spaces/A/members/1")
        };
        let observed = observe_membership("spaces/A", 0, wire).unwrap();
        assert_eq!(observed.name, "spaces/A/members/1");
        assert_eq!(observed.role, MembershipRole::Manager);
        assert_eq!(observed.state, MembershipState::Joined);
        assert_eq!(
            observed.create_time.as_deref(),
            Some("2021-01-04T09:00:00Z")
        );
        assert_eq!(
            observed.member,
            ObservedMember::User {
                id: "users/1".to_string(),
                email: Some("alice@example.com".to_string()),
                user_type: UserType::Human,
            }
        );
    }

    #[test]
    fn group_membership_converted() {
        let wire = Membership {
            group_member: Some(Group {
                name: Some("groups/0abc".to_string()),
            }),
            ..membership("spaces/A/members/0abc")
        };
        let observed = observe_membership("spaces/A", 0, wire).unwrap();
        assert_eq!(
            observed.member,
            ObservedMember::Group {
                id: "groups/0abc".to_string()
            }
        );
        assert_eq!(observed.role, MembershipRole::Unspecified);
    }

    #[test]
    fn missing_fields_get_defaults() {
        let observed = observe_membership("spaces/A", 0, membership("spaces/A/members/7")).unwrap();
        assert_eq!(
            observed.member,
            ObservedMember::User {
                id: "users/7".to_string(),
                email: None,
                user_type: UserType::Unspecified,
            }
        );
        assert_eq!(observed.state, MembershipState::Unspecified);
        assert_eq!(observed.affiliation, None);
    }

    #[test]
    fn unknown_role_kept() {
        let wire = Membership {
            role: Some(MembershipRole::from("ROLE_SUPREME_LEADER")),
            ..membership("spaces/A/members/1")
        };
        let observed = observe_membership("spaces/A", 0, wire).unwrap();
        assert_eq!(observed.role.as_str(), "ROLE_SUPREME_LEADER");
    }

    #[test]
    fn missing_membership_name_is_error() {
        let error = observe_membership("spaces/A", 3, Membership::default()).unwrap_err();
        assert!(error.to_string().contains("memberships[3].name"), "{error}");
    }

    #[test]
    fn memberships_sorted_by_name() {
        let wire = vec![
            membership("spaces/A/members/3"),
            membership("spaces/A/members/1"),
            membership("spaces/A/members/2"),
        ];
        let space = observe_space("spaces/A", Space::default(), wire).unwrap();
        let names: Vec<_> = space.memberships.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "spaces/A/members/1",
                "spaces/A/members/2",
                "spaces/A/members/3"
            ]
        );
        assert_eq!(space.space_type, SpaceType::Unspecified);
    }

    #[test]
    fn policy_emails_cover_space_and_global_lists() {
        use crate::policy::model::{Mode, Role, SpacePolicy};
        let entry = |space: &str, email: &str| SpacePolicy {
            space: space.to_string(),
            display_name: None,
            mode: Mode::Exact,
            members: [(Principal::Email(email.to_string()), Role::Member)].into(),
            successors: vec![Principal::Email("Heir@example.com".to_string())],
            keep: vec![Principal::User("users/9".to_string())],
            location: String::new(),
        };
        let policy = Policy {
            spaces: vec![
                entry("spaces/A", "a@example.com"),
                entry("spaces/B", "b@example.com"),
            ],
            protect: vec![Principal::Email("boss@example.com".to_string())],
            offboard: vec![Principal::Email("gone@example.com".to_string())],
            successors: vec![Principal::Group("groups/x".to_string())],
            successor_fallback: false,
            ..Policy::default()
        };
        let emails: Vec<_> = policy_emails(&policy, "spaces/A").into_iter().collect();
        assert_eq!(
            emails,
            [
                "a@example.com",
                "boss@example.com",
                "gone@example.com",
                "heir@example.com"
            ]
        );
    }

    #[test]
    fn set_email_fills_or_replaces_unnamed_email() {
        let user = |id: &str, email: Option<&str>| Membership {
            member: Some(User {
                name: Some(format!("users/{id}")),
                email: email.map(str::to_string),
                ..User::default()
            }),
            ..membership(&format!("spaces/A/members/{id}"))
        };
        let wire = vec![
            user("1", None),
            user("2", Some("primary@example.com")),
            user("3", Some("named@example.com")),
        ];
        let mut space = observe_space("spaces/A", Space::default(), wire).unwrap();
        let wanted: BTreeSet<String> = [
            "one@example.com",
            "alias@example.com",
            "named@example.com",
            "other@example.com",
        ]
        .map(str::to_string)
        .into();
        set_email(&mut space, "users/1", "one@example.com", &wanted);
        set_email(&mut space, "users/2", "alias@example.com", &wanted);
        set_email(&mut space, "users/3", "other@example.com", &wanted);
        let emails: Vec<_> = space
            .memberships
            .iter()
            .map(|m| match &m.member {
                ObservedMember::User { email, .. } => email.clone().unwrap_or_default(),
                ObservedMember::Group { .. } => String::new(),
            })
            .collect();
        assert_eq!(
            emails,
            ["one@example.com", "alias@example.com", "named@example.com"]
        );
    }
}
