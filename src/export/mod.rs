//! Export: writes the current memberships of spaces as a policy in `exact`
//! mode, so that planning it against the same spaces finds nothing to do.
//!
//! Each joined or invited human goes under the list of its role, by email
//! where the API returned one and by `users/{id}` otherwise. Groups go under
//! `members` as `groups/{id}`. Apps, and humans whose role the tool does not
//! know, go under `keep`, which `exact` mode leaves alone. Every list is
//! sorted, so two exports of the same state are byte for byte equal.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use crate::chat::model::{MembershipRole, UserType};
use crate::observe::{self, ObserveContext, ObserveError, ObservedMember, ObservedState};
use crate::policy::{Policy, SUPPORTED_VERSION};
use crate::sweep::{Discovery, discover};

/// The spaces an export reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    /// These spaces, `spaces/{id}`.
    Spaces(Vec<String>),
    /// Every `SPACE` of the organisation, found with `spaces.search` in
    /// admin mode.
    AllSpaces,
}

/// Observes the selected spaces in full. A named space that is not found is
/// listed in [`ObservedState::missing`].
///
/// # Errors
///
/// The search or an observation failed with an error retries did not cure.
pub async fn observe_selection(
    context: &ObserveContext<'_>,
    selection: &Selection,
) -> Result<ObservedState, ObserveError> {
    let spaces = match selection {
        Selection::Spaces(spaces) => spaces.clone(),
        Selection::AllSpaces => discover(context, Discovery::AdminSearch)
            .await
            .map_err(|source| ObserveError {
                space: "spaces".to_string(),
                source,
            })?
            .into_iter()
            .map(|candidate| candidate.name)
            .collect(),
    };
    // An empty policy resolves no email: the export writes what the API
    // returned, and an email only where the listing showed one.
    observe::observe_spaces(context, &Policy::default(), &spaces).await
}

/// The members of one exported space, by list.
#[derive(Debug, Default)]
struct Lists {
    owners: BTreeSet<String>,
    managers: BTreeSet<String>,
    members: BTreeSet<String>,
    keep: BTreeSet<String>,
}

/// Renders the observed spaces as policy YAML, spaces sorted by name.
pub fn policy_yaml(observed: &ObservedState) -> String {
    let mut text = String::new();
    let _ = writeln!(
        text,
        "# Written by `chat-reconcile export` from the memberships as they were read."
    );
    let _ = writeln!(text, "version: {SUPPORTED_VERSION}");
    let mut spaces: Vec<_> = observed.spaces.iter().collect();
    spaces.sort_by(|a, b| a.name.cmp(&b.name));
    if spaces.is_empty() {
        let _ = writeln!(text, "spaces: []");
        return text;
    }
    let _ = writeln!(text, "spaces:");
    for space in spaces {
        let _ = writeln!(text, "  - space: {}", scalar(&space.name));
        if let Some(display_name) = &space.display_name {
            let _ = writeln!(text, "    display_name: {}", quoted(display_name));
        }
        let _ = writeln!(text, "    mode: exact");
        let lists = sort_into_lists(space);
        for (key, list) in [
            ("owners", &lists.owners),
            ("managers", &lists.managers),
            ("members", &lists.members),
            ("keep", &lists.keep),
        ] {
            if list.is_empty() {
                continue;
            }
            let _ = writeln!(text, "    {key}:");
            for member in list {
                let _ = writeln!(text, "      - {}", scalar(member));
            }
        }
    }
    text
}

fn sort_into_lists(space: &observe::ObservedSpace) -> Lists {
    let mut lists = Lists::default();
    for membership in &space.memberships {
        match &membership.member {
            ObservedMember::Group { id } => {
                lists.members.insert(id.clone());
            }
            ObservedMember::User {
                id,
                email,
                user_type,
            } => {
                if *user_type == UserType::Bot {
                    lists.keep.insert(id.clone());
                    continue;
                }
                let name = email.clone().unwrap_or_else(|| id.clone());
                let list = match membership.role {
                    MembershipRole::Manager => &mut lists.owners,
                    MembershipRole::AssistantManager => &mut lists.managers,
                    MembershipRole::Member => &mut lists.members,
                    // A role this build does not know is left as it is.
                    _ => &mut lists.keep,
                };
                list.insert(name);
            }
        }
    }
    lists
}

/// Writes a member or space name plain when YAML reads it back as the same
/// string, and double-quoted otherwise.
fn scalar(value: &str) -> String {
    let plain = value
        .chars()
        .next()
        .is_some_and(|first| first.is_ascii_alphanumeric())
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '@' | '+' | '/' | '-'));
    if plain {
        value.to_string()
    } else {
        quoted(value)
    }
}

/// Writes a YAML double-quoted string. Control characters, and the
/// characters YAML does not allow unescaped in a stream, become `\uXXXX`.
fn quoted(value: &str) -> String {
    let mut text = String::with_capacity(value.len() + 2);
    text.push('"');
    for c in value.chars() {
        match c {
            '"' => text.push_str("\\\""),
            '\\' => text.push_str("\\\\"),
            c if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\u{feff}') => {
                let _ = write!(text, "\\u{:04X}", u32::from(c));
            }
            c => text.push(c),
        }
    }
    text.push('"');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalar_plain_only_when_safe() {
        assert_eq!(scalar("alice+chat@example.com"), "alice+chat@example.com");
        assert_eq!(scalar("users/123"), "users/123");
        assert_eq!(scalar("-dash@example.com"), "\"-dash@example.com\"");
        assert_eq!(scalar("a b"), "\"a b\"");
    }

    #[test]
    fn quoted_escapes_specials() {
        assert_eq!(quoted("say \"hi\" \\ now"), r#""say \"hi\" \\ now""#);
        assert_eq!(quoted("tab\there"), r#""tab\u0009here""#);
        assert_eq!(quoted("x\u{85}y"), r#""x\u0085y""#);
        assert_eq!(quoted("Équipe 🚀"), "\"Équipe 🚀\"");
    }

    #[test]
    fn empty_state_is_valid_policy() {
        let text = policy_yaml(&ObservedState::default());
        let policy = crate::policy::parse(&text, "export").unwrap();
        assert!(policy.spaces.is_empty());
    }
}
