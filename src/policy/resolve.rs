//! Resolution: turns the syntax tree into a validated [`Policy`].
//!
//! Every check runs to the end and records its problems, so that one run
//! shows the operator all of them.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde_saphyr::Spanned;

use super::error::{Issues, Position};
use super::member::parse_member;
use super::model::{Fraction, Guards, Mode, Policy, Principal, Role, SpacePolicy};
use super::raw::{
    RawGuards, RawMode, RawOffboard, RawOffboardScope, RawPolicy, RawSpace, RawSuccessorFallback,
    RawVersion,
};

/// The only policy format version this build reads.
pub const SUPPORTED_VERSION: i64 = 1;

/// A member as written, with where it was written.
struct Listed {
    principal: Principal,
    position: Position,
}

/// Resolves `raw`, whose mapping starts at `root`, recording every problem
/// in `issues`. The returned policy is only meaningful when no issue was
/// recorded.
pub(crate) fn resolve(raw: RawPolicy, root: Position, issues: &mut Issues) -> Policy {
    check_version(raw.version.as_ref(), root, issues);

    let protect = read_list(&raw.protect, "protect", issues);
    let (offboard_members, everywhere) = split_offboard(&raw.offboard);
    let offboard = read_list(&offboard_members, "offboard", issues);
    let successors = read_list(&raw.successors, "successors", issues);
    reject_groups(&successors, "successors", "a successor", issues);

    let offboarded: HashMap<&Principal, Position> = offboard
        .iter()
        .map(|listed| (&listed.principal, listed.position))
        .collect();
    for listed in &protect {
        if let Some(&offboarded_at) = offboarded.get(&listed.principal) {
            issues.push(
                Some(offboarded_at),
                format!(
                    "{} is in both protect ({}) and offboard",
                    listed.principal,
                    issues.locate(listed.position)
                ),
                Some(
                    "a protected member is never removed: drop it from protect to offboard it, \
                     or from offboard to keep it"
                        .to_string(),
                ),
            );
        }
    }
    reject_offboarded(&successors, "successors", &offboarded, issues);

    let mut spaces = Vec::with_capacity(raw.spaces.len());
    let mut first_seen: HashMap<String, Position> = HashMap::new();
    for entry in &raw.spaces {
        let position = Position::from(entry.referenced);
        let space = resolve_space(&entry.value, position, &offboarded, issues);
        match first_seen.get(&space.space) {
            Some(&first) => issues.push(
                Some(position),
                format!(
                    "duplicate space {}: it is also listed at {}",
                    space.space,
                    issues.locate(first)
                ),
                Some("list each space once and merge the two entries".to_string()),
            ),
            None => {
                first_seen.insert(space.space.clone(), position);
            }
        }
        spaces.push(space);
    }
    spaces.sort_by(|left, right| left.space.cmp(&right.space));
    let guards = resolve_guards(raw.guards.as_deref(), issues);

    Policy {
        spaces,
        protect: principals(protect),
        offboard_all_spaces: offboard
            .iter()
            .filter(|listed| everywhere.contains(&listed.position))
            .map(|listed| listed.principal.clone())
            .collect(),
        offboard: principals(offboard),
        successors: principals(successors),
        successor_fallback: raw.successor_fallback == RawSuccessorFallback::LongestStanding,
        guards,
    }
}

/// Validates `guards`, keeping the default of every value that is absent
/// or invalid.
fn resolve_guards(raw: Option<&RawGuards>, issues: &mut Issues) -> Guards {
    let mut guards = Guards::default();
    let Some(raw) = raw else {
        return guards;
    };
    if let Some(value) = &raw.max_removals {
        match usize::try_from(value.value) {
            Ok(limit) => guards.max_removals = Some(limit),
            Err(_) => issues.push(
                Some(Position::from(value.referenced)),
                format!(
                    "guards.max_removals is {}, but it must be 0 or more",
                    value.value
                ),
                Some("leave it out for no limit on the number of removals".to_string()),
            ),
        }
    }
    if let Some(value) = &raw.max_removed_fraction {
        match Fraction::new(value.value) {
            Some(fraction) => guards.max_removed_fraction = fraction,
            None => issues.push(
                Some(Position::from(value.referenced)),
                format!(
                    "guards.max_removed_fraction is {}, but it must be from 0 to 1",
                    value.value
                ),
                Some(
                    "write a share of the space's members, such as 0.25 for a quarter".to_string(),
                ),
            ),
        }
    }
    if let Some(value) = &raw.min_owners {
        match usize::try_from(value.value) {
            Ok(minimum) if minimum >= 1 => guards.min_owners = minimum,
            _ => issues.push(
                Some(Position::from(value.referenced)),
                format!(
                    "guards.min_owners is {}, but it must be 1 or more",
                    value.value
                ),
                Some(
                    "a space always keeps at least one owner, so 1 is the lowest limit".to_string(),
                ),
            ),
        }
    }
    guards
}

fn check_version(version: Option<&Spanned<RawVersion>>, root: Position, issues: &mut Issues) {
    let Some(version) = version else {
        issues.push(
            Some(root),
            "missing `version`".to_string(),
            Some(format!(
                "add `version: {SUPPORTED_VERSION}` at the top of the policy"
            )),
        );
        return;
    };
    let written = match &version.value {
        RawVersion::Integer(SUPPORTED_VERSION) => return,
        RawVersion::Integer(other) => other.to_string(),
        RawVersion::Other(other) => other.clone(),
    };
    issues.push(
        Some(Position::from(version.referenced)),
        format!(
            "unsupported policy version {written}: this chat-reconcile reads version {SUPPORTED_VERSION}"
        ),
        Some(format!(
            "write `version: {SUPPORTED_VERSION}` (a number), or use the chat-reconcile release \
             that wrote this policy"
        )),
    );
}

fn resolve_space(
    raw: &RawSpace,
    position: Position,
    offboarded: &HashMap<&Principal, Position>,
    issues: &mut Issues,
) -> SpacePolicy {
    let name = raw.space.value.clone();
    check_space_name(&raw.space, issues);

    let mut members: BTreeMap<Principal, (Role, Position)> = BTreeMap::new();
    for (list, role) in [
        (&raw.owners, Role::Owner),
        (&raw.managers, Role::Manager),
        (&raw.members, Role::Member),
    ] {
        let context = format!("{name} {}", list_name(role));
        let listed = read_list(list, &context, issues);
        if role != Role::Member {
            let what = if role == Role::Owner {
                "an owner"
            } else {
                "a manager"
            };
            reject_groups(&listed, &context, what, issues);
        }
        reject_offboarded(&listed, &context, offboarded, issues);
        for entry in listed {
            if let Some(&(first_role, first_position)) = members.get(&entry.principal) {
                // Same-list repeats were reported by `read_list` already.
                if first_role != role {
                    issues.push(
                        Some(entry.position),
                        format!(
                            "{} has two roles in {name}: {} ({}) and {}",
                            entry.principal,
                            role_word(first_role),
                            issues.locate(first_position),
                            role_word(role)
                        ),
                        Some(format!(
                            "give each member one role: remove it from {} or {}",
                            list_name(first_role),
                            list_name(role)
                        )),
                    );
                }
                continue;
            }
            members.insert(entry.principal, (role, entry.position));
        }
    }

    let successors_context = format!("{name} successors");
    let successors = read_list(&raw.successors, &successors_context, issues);
    reject_groups(&successors, &successors_context, "a successor", issues);
    reject_offboarded(&successors, &successors_context, offboarded, issues);

    let keep_context = format!("{name} keep");
    let keep = read_list(&raw.keep, &keep_context, issues);
    reject_offboarded(&keep, &keep_context, offboarded, issues);
    for entry in &keep {
        if let Some(&(role, role_position)) = members.get(&entry.principal) {
            issues.push(
                Some(entry.position),
                format!(
                    "{} is in {name} keep and also in {} ({})",
                    entry.principal,
                    list_name(role),
                    issues.locate(role_position)
                ),
                Some(format!(
                    "keep leaves a member as it is, so the role in {} would never be applied: \
                     remove it from one of the two",
                    list_name(role)
                )),
            );
        }
    }

    SpacePolicy {
        space: name,
        display_name: raw.display_name.clone(),
        mode: match raw.mode {
            RawMode::Exact => Mode::Exact,
            RawMode::Additive => Mode::Additive,
        },
        members: members
            .into_iter()
            .map(|(principal, (role, _))| (principal, role))
            .collect(),
        successors: principals(successors),
        keep: principals(keep),
        location: issues.locate(position),
    }
}

/// Checks `spaces/{id}` where the id is letters, digits, `_` and `-`.
fn check_space_name(name: &Spanned<String>, issues: &mut Issues) {
    let reason = match name.value.strip_prefix("spaces/") {
        None => Some("it does not start with spaces/".to_string()),
        Some("") => Some("the id after spaces/ is missing".to_string()),
        Some(id) => id
            .chars()
            .find(|&c| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
            .map(|bad| format!("the id contains {bad:?}")),
    };
    if let Some(reason) = reason {
        issues.push(
            Some(Position::from(name.referenced)),
            format!("invalid space name {:?}: {reason}", name.value),
            Some(
                "write spaces/{id} with the id from the space's URL in Chat \
                 (letters, digits, _ and -), for example spaces/AAAAbCdEfGh"
                    .to_string(),
            ),
        );
    }
}

/// Turns the `offboard` entries into the members as written, and the
/// positions of those whose scope is `all-spaces`.
fn split_offboard(entries: &[Spanned<RawOffboard>]) -> (Vec<Spanned<String>>, BTreeSet<Position>) {
    let mut members = Vec::with_capacity(entries.len());
    let mut everywhere = BTreeSet::new();
    for entry in entries {
        let member = match &entry.value {
            RawOffboard::Member(member) => {
                Spanned::new(member.clone(), entry.referenced, entry.defined)
            }
            RawOffboard::Entry(mapping) => {
                if mapping.scope == RawOffboardScope::AllSpaces {
                    everywhere.insert(Position::from(mapping.member.referenced));
                }
                Spanned::new(
                    mapping.member.value.clone(),
                    mapping.member.referenced,
                    mapping.member.defined,
                )
            }
        };
        members.push(member);
    }
    (members, everywhere)
}

/// Parses every member of one list, recording invalid values and repeats.
/// `context` names the list in messages, for example `spaces/AAA owners`.
fn read_list(list: &[Spanned<String>], context: &str, issues: &mut Issues) -> Vec<Listed> {
    let mut listed: Vec<Listed> = Vec::with_capacity(list.len());
    let mut first_seen: HashMap<Principal, Position> = HashMap::new();

    for entry in list {
        let position = Position::from(entry.referenced);
        let principal = match parse_member(&entry.value) {
            Ok(principal) => principal,
            Err(invalid) => {
                issues.push(
                    Some(position),
                    format!(
                        "invalid {} {:?} in {context}: {}",
                        invalid.kind, entry.value, invalid.reason
                    ),
                    invalid.hint,
                );
                continue;
            }
        };
        if let Some(&first) = first_seen.get(&principal) {
            issues.push(
                Some(position),
                format!(
                    "{principal} is listed twice in {context} (first at {})",
                    issues.locate(first)
                ),
                Some("remove the repeated entry".to_string()),
            );
            continue;
        }
        first_seen.insert(principal.clone(), position);
        listed.push(Listed {
            principal,
            position,
        });
    }
    listed
}

/// Records an issue for every group in a list that gives a role, because
/// Chat gives group memberships no role and a group cannot be promoted.
fn reject_groups(listed: &[Listed], context: &str, what: &str, issues: &mut Issues) {
    for entry in listed {
        if let Principal::Group(_) = entry.principal {
            issues.push(
                Some(entry.position),
                format!("group {} in {context} cannot be {what}", entry.principal),
                Some(
                    "Chat gives groups no role in a space: list the group under members"
                        .to_string(),
                ),
            );
        }
    }
}

fn reject_offboarded(
    listed: &[Listed],
    context: &str,
    offboarded: &HashMap<&Principal, Position>,
    issues: &mut Issues,
) {
    for entry in listed {
        if let Some(&offboarded_at) = offboarded.get(&entry.principal) {
            issues.push(
                Some(entry.position),
                format!(
                    "{} is offboarded ({}) but listed in {context}",
                    entry.principal,
                    issues.locate(offboarded_at)
                ),
                Some(format!(
                    "remove it from {context}, or from offboard if the person stays"
                )),
            );
        }
    }
}

fn principals(listed: Vec<Listed>) -> Vec<Principal> {
    listed.into_iter().map(|entry| entry.principal).collect()
}

fn list_name(role: Role) -> &'static str {
    match role {
        Role::Owner => "owners",
        Role::Manager => "managers",
        Role::Member => "members",
    }
}

fn role_word(role: Role) -> &'static str {
    match role {
        Role::Owner => "owner",
        Role::Manager => "manager",
        Role::Member => "member",
    }
}
