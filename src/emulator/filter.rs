//! The `filter` grammars of spaces.list and spaces.members.list.
//!
//! Both follow Google's filtering language (AIP-160) in the small subset the
//! Chat API documents: comparisons `field = "VALUE"` (and `!=` on
//! `member.type`), joined by `OR` and `AND`. As in AIP-160, `OR` binds
//! tighter than `AND`, so a filter is a conjunction of OR-groups; a group may
//! be wrapped in parentheses. The Chat API documents `OR` only between
//! conditions on one field and `AND` only between different fields, so the
//! emulator rejects anything else with INVALID_ARGUMENT naming the bad part.
//! Values must be double-quoted and are case-sensitive.

use super::error::ApiError;
use super::state::{Role, SpaceType, UserType};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Operator {
    Equal,
    NotEqual,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Word(String),
    Quoted(String),
    Equal,
    NotEqual,
    Open,
    Close,
}

#[derive(Debug)]
struct Condition {
    field: String,
    operator: Operator,
    value: String,
}

/// One OR-group: conditions on a single field, any of which may match.
#[derive(Debug)]
struct Group {
    field: String,
    conditions: Vec<Condition>,
}

fn invalid(filter: &str, detail: impl std::fmt::Display) -> ApiError {
    ApiError::invalid_argument(format!("invalid filter {filter:?}: {detail}"))
}

fn tokenize(filter: &str) -> Result<Vec<Token>, ApiError> {
    let mut tokens = Vec::new();
    let mut chars = filter.char_indices().peekable();
    while let Some((start, c)) = chars.next() {
        match c {
            c if c.is_whitespace() => {}
            '(' => tokens.push(Token::Open),
            ')' => tokens.push(Token::Close),
            '=' => tokens.push(Token::Equal),
            '!' if chars.peek().is_some_and(|&(_, next)| next == '=') => {
                chars.next();
                tokens.push(Token::NotEqual);
            }
            '"' => {
                let mut value = String::new();
                loop {
                    match chars.next() {
                        Some((_, '"')) => break,
                        Some((_, c)) => value.push(c),
                        None => {
                            return Err(invalid(
                                filter,
                                format!("unterminated string at offset {start}"),
                            ));
                        }
                    }
                }
                tokens.push(Token::Quoted(value));
            }
            c if c.is_ascii_alphanumeric() || c == '_' || c == '.' => {
                let mut word = c.to_string();
                while let Some(&(_, next)) = chars.peek() {
                    if next.is_ascii_alphanumeric() || next == '_' || next == '.' {
                        word.push(next);
                        chars.next();
                    } else {
                        break;
                    }
                }
                tokens.push(Token::Word(word));
            }
            other => {
                return Err(invalid(
                    filter,
                    format!("unexpected character {other:?} at offset {start}"),
                ));
            }
        }
    }
    Ok(tokens)
}

/// Parses a filter into AND-joined OR-groups, each on one field.
fn parse_groups(filter: &str) -> Result<Vec<Group>, ApiError> {
    let tokens = tokenize(filter)?;
    if tokens.is_empty() {
        return Err(invalid(filter, "the filter is empty"));
    }
    let mut position = 0;
    let mut groups: Vec<Group> = Vec::new();
    loop {
        let parenthesized = tokens.get(position) == Some(&Token::Open);
        if parenthesized {
            position += 1;
        }
        let mut conditions = vec![parse_condition(filter, &tokens, &mut position)?];
        while tokens.get(position) == Some(&Token::Word("OR".into())) {
            position += 1;
            conditions.push(parse_condition(filter, &tokens, &mut position)?);
        }
        if parenthesized {
            if tokens.get(position) != Some(&Token::Close) {
                return Err(invalid(filter, "missing `)`"));
            }
            position += 1;
        }

        let field = conditions[0].field.clone();
        if let Some(other) = conditions.iter().find(|c| c.field != field) {
            let detail = format!(
                "OR joins conditions on one field, but `{field}` and `{}` are joined by OR; use AND between different fields",
                other.field
            );
            return Err(invalid(filter, detail));
        }
        if groups.iter().any(|group| group.field == field) {
            let detail = format!(
                "`{field}` appears on both sides of AND; use OR between values of one field"
            );
            return Err(invalid(filter, detail));
        }
        groups.push(Group { field, conditions });

        match tokens.get(position) {
            None => return Ok(groups),
            Some(Token::Word(word)) if word == "AND" => position += 1,
            Some(other) => {
                return Err(invalid(
                    filter,
                    format!("expected AND, OR or the end, found {}", describe(other)),
                ));
            }
        }
    }
}

fn parse_condition(
    filter: &str,
    tokens: &[Token],
    position: &mut usize,
) -> Result<Condition, ApiError> {
    let field = match tokens.get(*position) {
        Some(Token::Word(word)) if word != "AND" && word != "OR" => word.clone(),
        Some(other) => {
            return Err(invalid(
                filter,
                format!("expected a field name, found {}", describe(other)),
            ));
        }
        None => return Err(invalid(filter, "expected a field name, found the end")),
    };
    let operator = match tokens.get(*position + 1) {
        Some(Token::Equal) => Operator::Equal,
        Some(Token::NotEqual) => Operator::NotEqual,
        Some(other) => {
            return Err(invalid(
                filter,
                format!(
                    "expected = or != after `{field}`, found {}",
                    describe(other)
                ),
            ));
        }
        None => {
            return Err(invalid(
                filter,
                format!("expected = or != after `{field}`, found the end"),
            ));
        }
    };
    let value = match tokens.get(*position + 2) {
        Some(Token::Quoted(value)) => value.clone(),
        Some(Token::Word(word)) => {
            return Err(invalid(
                filter,
                format!("the value {word} must be double-quoted, as in \"{word}\""),
            ));
        }
        Some(other) => {
            return Err(invalid(
                filter,
                format!("expected a quoted value, found {}", describe(other)),
            ));
        }
        None => return Err(invalid(filter, "expected a quoted value, found the end")),
    };
    *position += 3;
    Ok(Condition {
        field,
        operator,
        value,
    })
}

fn describe(token: &Token) -> String {
    match token {
        Token::Word(word) => format!("`{word}`"),
        Token::Quoted(value) => format!("\"{value}\""),
        Token::Equal => "`=`".into(),
        Token::NotEqual => "`!=`".into(),
        Token::Open => "`(`".into(),
        Token::Close => "`)`".into(),
    }
}

/// A parsed spaces.members.list filter.
#[derive(Debug, Default)]
pub struct MemberFilter {
    roles: Option<Vec<(Operator, Role)>>,
    types: Option<Vec<(Operator, UserType)>>,
}

impl MemberFilter {
    /// Parses a members filter. `role` accepts `=` only, because the API
    /// documents `!=` for `member.type` alone.
    pub fn parse(filter: &str) -> Result<MemberFilter, ApiError> {
        let mut parsed = MemberFilter::default();
        for group in parse_groups(filter)? {
            match group.field.as_str() {
                "role" => {
                    let mut roles = Vec::new();
                    for condition in &group.conditions {
                        if condition.operator == Operator::NotEqual {
                            return Err(invalid(
                                filter,
                                "`!=` is supported only for member.type; use = with role",
                            ));
                        }
                        let role = Role::parse(&condition.value)
                            .filter(|role| *role != Role::Unspecified)
                            .ok_or_else(|| {
                                let detail = format!(
                                    "invalid role \"{}\"; expected ROLE_MANAGER, ROLE_ASSISTANT_MANAGER or ROLE_MEMBER",
                                    condition.value
                                );
                                invalid(filter, detail)
                            })?;
                        roles.push((condition.operator, role));
                    }
                    parsed.roles = Some(roles);
                }
                "member.type" => {
                    let mut types = Vec::new();
                    for condition in &group.conditions {
                        let user_type = match condition.value.as_str() {
                            "HUMAN" => UserType::Human,
                            "BOT" => UserType::Bot,
                            other => {
                                let detail = format!(
                                    "invalid member.type \"{other}\"; expected HUMAN or BOT"
                                );
                                return Err(invalid(filter, detail));
                            }
                        };
                        types.push((condition.operator, user_type));
                    }
                    parsed.types = Some(types);
                }
                other => {
                    let detail =
                        format!("unsupported field `{other}`; filter on `role` or `member.type`");
                    return Err(invalid(filter, detail));
                }
            }
        }
        Ok(parsed)
    }

    /// Checks the rule for `useAdminAccess=true`: the filter must contain
    /// `member.type = "HUMAN"` or `member.type != "BOT"` and no other
    /// member.type condition.
    pub fn check_admin_access(&self, filter: &str) -> Result<(), ApiError> {
        let allowed = [
            (Operator::Equal, UserType::Human),
            (Operator::NotEqual, UserType::Bot),
        ];
        match self.types.as_deref() {
            Some([only]) if allowed.contains(only) => Ok(()),
            _ => Err(invalid(
                filter,
                "with useAdminAccess=true the filter must contain member.type = \"HUMAN\" or member.type != \"BOT\"",
            )),
        }
    }

    /// Tests a membership. `user_type` is `None` for a group membership, which
    /// has no member.type and so matches no member.type condition, `!=` included.
    pub fn matches(&self, role: Role, user_type: Option<UserType>) -> bool {
        let role_ok = self.roles.as_ref().is_none_or(|roles| {
            roles.iter().any(|&(operator, wanted)| match operator {
                Operator::Equal => role == wanted,
                Operator::NotEqual => role != wanted,
            })
        });
        let type_ok = self.types.as_ref().is_none_or(|types| {
            types
                .iter()
                .any(|&(operator, wanted)| match (operator, user_type) {
                    (_, None) => false,
                    (Operator::Equal, Some(actual)) => actual == wanted,
                    (Operator::NotEqual, Some(actual)) => actual != wanted,
                })
        });
        role_ok && type_ok
    }
}

/// A parsed spaces.list filter: `space_type = "SPACE"` (or `spaceType`),
/// values joined by OR.
#[derive(Debug)]
pub struct SpaceFilter {
    types: Vec<SpaceType>,
}

impl SpaceFilter {
    pub fn parse(filter: &str) -> Result<SpaceFilter, ApiError> {
        let groups = parse_groups(filter)?;
        if groups.len() > 1 {
            return Err(invalid(
                filter,
                "spaces can be filtered on space_type only, so AND is not supported",
            ));
        }
        let group = &groups[0];
        if group.field != "space_type" && group.field != "spaceType" {
            let detail = format!(
                "unsupported field `{}`; filter on `space_type`",
                group.field
            );
            return Err(invalid(filter, detail));
        }
        let mut types = Vec::new();
        for condition in &group.conditions {
            if condition.operator == Operator::NotEqual {
                return Err(invalid(
                    filter,
                    "`!=` is not supported for space_type; use = joined by OR",
                ));
            }
            let space_type = match condition.value.as_str() {
                "SPACE" => SpaceType::Space,
                "GROUP_CHAT" => SpaceType::GroupChat,
                "DIRECT_MESSAGE" => SpaceType::DirectMessage,
                other => {
                    let detail = format!(
                        "invalid space_type \"{other}\"; expected SPACE, GROUP_CHAT or DIRECT_MESSAGE"
                    );
                    return Err(invalid(filter, detail));
                }
            };
            types.push(space_type);
        }
        Ok(SpaceFilter { types })
    }

    pub fn matches(&self, space_type: SpaceType) -> bool {
        self.types.contains(&space_type)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn or_binds_tighter_than_and() {
        let filter = MemberFilter::parse(
            r#"role = "ROLE_MANAGER" OR role = "ROLE_MEMBER" AND member.type = "HUMAN""#,
        )
        .unwrap();
        assert!(filter.matches(Role::RoleMember, Some(UserType::Human)));
        assert!(!filter.matches(Role::RoleMember, Some(UserType::Bot)));
        assert!(!filter.matches(Role::RoleAssistantManager, Some(UserType::Human)));
    }

    #[test]
    fn parenthesized_group() {
        let filter =
            MemberFilter::parse(r#"member.type != "BOT" AND (role = "ROLE_MANAGER" OR role = "ROLE_ASSISTANT_MANAGER")"#)
                .unwrap();
        assert!(filter.matches(Role::RoleAssistantManager, Some(UserType::Human)));
        assert!(!filter.matches(Role::RoleMember, Some(UserType::Human)));
    }

    #[test]
    fn groups_match_no_member_type() {
        let filter = MemberFilter::parse(r#"member.type != "BOT""#).unwrap();
        assert!(!filter.matches(Role::Unspecified, None));
    }

    #[test]
    fn rejected_filters_name_the_part() {
        let cases = [
            (
                r#"role = "ROLE_MANAGER" AND role = "ROLE_MEMBER""#,
                "`role` appears on both sides of AND",
            ),
            (
                r#"role = "ROLE_MANAGER" OR member.type = "BOT""#,
                "`role` and `member.type` are joined by OR",
            ),
            (r#"state = "JOINED""#, "unsupported field `state`"),
            (r#"role = "ROLE_OWNER""#, "invalid role \"ROLE_OWNER\""),
            (
                r#"role != "ROLE_MEMBER""#,
                "`!=` is supported only for member.type",
            ),
            (r#"role = ROLE_MEMBER"#, "must be double-quoted"),
            (r#"role = "ROLE_MEMBER"#, "unterminated string"),
            (r#"role = "ROLE_MEMBER" XOR"#, "found `XOR`"),
            (r#"(role = "ROLE_MEMBER""#, "missing `)`"),
            (r#"role ~ "x""#, "unexpected character '~'"),
        ];
        for (filter, expected) in cases {
            let error = MemberFilter::parse(filter).unwrap_err();
            assert!(
                error.message.contains(expected),
                "{filter}: {}",
                error.message
            );
        }
    }

    #[test]
    fn space_filter_or_values() {
        let filter = SpaceFilter::parse(r#"spaceType = "GROUP_CHAT" OR space_type = "SPACE""#);
        assert!(filter.is_err(), "two field spellings form two fields");
        let filter =
            SpaceFilter::parse(r#"space_type = "GROUP_CHAT" OR space_type = "SPACE""#).unwrap();
        assert!(filter.matches(SpaceType::Space));
        assert!(!filter.matches(SpaceType::DirectMessage));
    }
}
