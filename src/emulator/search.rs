//! The `query` grammar of spaces.search in admin mode.
//!
//! A query is a conjunction (`AND`) of terms, each a condition or a
//! parenthesized group of conditions on one field. Within a group,
//! `display_name` allows only `OR`, and the two time fields allow `OR` or
//! `AND` (an interval) but not both. `customer = "customers/my_customer"`
//! and `space_type = "SPACE"` are required and may appear once. The fields
//! `external_user_allowed` and `space_history_state` exist in Google's
//! grammar but not in the emulator's state, so they are rejected by name.

use super::error::ApiError;
use super::state::Space;
use super::time::instant_of;

/// Google's limit on the length of a query.
const MAX_QUERY_CHARS: usize = 1000;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Word(String),
    Quoted(String),
    Operator(Operator),
    Open,
    Close,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Operator {
    Equal,
    Has,
    Less,
    LessOrEqual,
    Greater,
    GreaterOrEqual,
}

impl Operator {
    fn as_str(self) -> &'static str {
        match self {
            Operator::Equal => "=",
            Operator::Has => ":",
            Operator::Less => "<",
            Operator::LessOrEqual => "<=",
            Operator::Greater => ">",
            Operator::GreaterOrEqual => ">=",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Customer,
    SpaceType,
    DisplayName,
    CreateTime,
    LastActiveTime,
}

impl Field {
    fn parse(word: &str, query: &str) -> Result<Field, ApiError> {
        Ok(match word {
            "customer" => Field::Customer,
            "space_type" => Field::SpaceType,
            "display_name" => Field::DisplayName,
            "create_time" => Field::CreateTime,
            "last_active_time" => Field::LastActiveTime,
            "external_user_allowed" | "space_history_state" => {
                return Err(invalid(
                    query,
                    format!("`{word}` is valid for Google but not supported by the emulator"),
                ));
            }
            other => {
                return Err(invalid(
                    query,
                    format!(
                        "unknown field `{other}`; expected customer, space_type, display_name, create_time or last_active_time"
                    ),
                ));
            }
        })
    }

    fn as_str(self) -> &'static str {
        match self {
            Field::Customer => "customer",
            Field::SpaceType => "space_type",
            Field::DisplayName => "display_name",
            Field::CreateTime => "create_time",
            Field::LastActiveTime => "last_active_time",
        }
    }
}

#[derive(Debug, Clone)]
enum Value {
    Text(String),
    /// Nanoseconds since the epoch.
    Instant(i128),
}

#[derive(Debug, Clone)]
struct Condition {
    operator: Operator,
    value: Value,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Joiner {
    And,
    Or,
}

/// One term: conditions on one field, joined by one kind of joiner.
#[derive(Debug, Clone)]
struct Term {
    field: Field,
    joiner: Joiner,
    conditions: Vec<Condition>,
}

/// A parsed admin-mode search query.
#[derive(Debug)]
pub struct SpaceQuery {
    terms: Vec<Term>,
}

fn invalid(query: &str, detail: impl std::fmt::Display) -> ApiError {
    ApiError::invalid_argument(format!("invalid query {query:?}: {detail}"))
}

fn tokenize(query: &str) -> Result<Vec<Token>, ApiError> {
    let mut tokens = Vec::new();
    let mut chars = query.chars().peekable();
    while let Some(c) = chars.next() {
        let operator = match c {
            c if c.is_whitespace() => continue,
            '(' => {
                tokens.push(Token::Open);
                continue;
            }
            ')' => {
                tokens.push(Token::Close);
                continue;
            }
            '=' => Operator::Equal,
            ':' => Operator::Has,
            '<' | '>' => {
                let or_equal = chars.next_if_eq(&'=').is_some();
                match (c, or_equal) {
                    ('<', false) => Operator::Less,
                    ('<', true) => Operator::LessOrEqual,
                    ('>', false) => Operator::Greater,
                    _ => Operator::GreaterOrEqual,
                }
            }
            '"' => {
                let mut value = String::new();
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some(c) => value.push(c),
                        None => return Err(invalid(query, "unterminated string")),
                    }
                }
                tokens.push(Token::Quoted(value));
                continue;
            }
            c if c.is_ascii_alphanumeric() || c == '_' || c == '.' => {
                let mut word = c.to_string();
                while let Some(next) =
                    chars.next_if(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '.')
                {
                    word.push(next);
                }
                tokens.push(Token::Word(word));
                continue;
            }
            other => return Err(invalid(query, format!("unexpected character {other:?}"))),
        };
        tokens.push(Token::Operator(operator));
    }
    Ok(tokens)
}

impl SpaceQuery {
    pub fn parse(query: &str) -> Result<SpaceQuery, ApiError> {
        if query.chars().count() > MAX_QUERY_CHARS {
            return Err(ApiError::invalid_argument(format!(
                "query is longer than {MAX_QUERY_CHARS} characters"
            )));
        }
        let tokens = tokenize(query)?;
        let mut position = 0;
        let mut terms = Vec::new();
        loop {
            terms.push(parse_term(query, &tokens, &mut position)?);
            match tokens.get(position) {
                None => break,
                Some(Token::Word(word)) if word == "AND" => position += 1,
                Some(Token::Word(word)) if word == "OR" => {
                    return Err(invalid(
                        query,
                        "OR may only join conditions on one field inside parentheses; join fields with AND",
                    ));
                }
                Some(other) => {
                    return Err(invalid(
                        query,
                        format!("expected AND, found {}", describe(other)),
                    ));
                }
            }
        }
        // Several top-level terms on one time field are joined by AND, which
        // describes an interval just as AND inside parentheses does.
        let parsed = SpaceQuery { terms };
        parsed.check(query)?;
        Ok(parsed)
    }

    fn check(&self, query: &str) -> Result<(), ApiError> {
        for field in [Field::Customer, Field::SpaceType, Field::DisplayName] {
            let terms: Vec<&Term> = self.terms.iter().filter(|t| t.field == field).collect();
            let conditions: usize = terms.iter().map(|t| t.conditions.len()).sum();
            let once = matches!(field, Field::Customer | Field::SpaceType);
            if (once && conditions > 1) || (!once && terms.len() > 1) {
                return Err(invalid(
                    query,
                    format!(
                        "`{}` may appear only once{}",
                        field.as_str(),
                        if once {
                            ""
                        } else {
                            " (join its values with OR in one group)"
                        }
                    ),
                ));
            }
            if field == Field::DisplayName
                && terms
                    .iter()
                    .any(|t| t.joiner == Joiner::And && t.conditions.len() > 1)
            {
                return Err(invalid(
                    query,
                    "display_name conditions may only be joined with OR",
                ));
            }
        }
        for term in &self.terms {
            for condition in &term.conditions {
                let allowed: &[Operator] = match term.field {
                    Field::Customer | Field::SpaceType => &[Operator::Equal],
                    Field::DisplayName => &[Operator::Has],
                    Field::CreateTime | Field::LastActiveTime => &[
                        Operator::Equal,
                        Operator::Less,
                        Operator::LessOrEqual,
                        Operator::Greater,
                        Operator::GreaterOrEqual,
                    ],
                };
                if !allowed.contains(&condition.operator) {
                    let names: Vec<&str> = allowed.iter().map(|o| o.as_str()).collect();
                    return Err(invalid(
                        query,
                        format!(
                            "`{}` takes the operator {}, not {}",
                            term.field.as_str(),
                            names.join(" "),
                            condition.operator.as_str()
                        ),
                    ));
                }
            }
        }
        let text_of = |field: Field| {
            self.terms
                .iter()
                .find(|t| t.field == field)
                .and_then(|t| t.conditions.first())
                .map(|c| match &c.value {
                    Value::Text(text) => text.clone(),
                    Value::Instant(_) => String::new(),
                })
        };
        match text_of(Field::Customer) {
            Some(customer) if customer == "customers/my_customer" => {}
            Some(other) => {
                return Err(invalid(
                    query,
                    format!(
                        "customer {other:?} is not supported; the only value is \"customers/my_customer\""
                    ),
                ));
            }
            None => {
                return Err(invalid(
                    query,
                    "with useAdminAccess=true the query must contain customer = \"customers/my_customer\"",
                ));
            }
        }
        match text_of(Field::SpaceType) {
            Some(space_type) if space_type == "SPACE" => Ok(()),
            Some(other) => Err(invalid(
                query,
                format!("space_type {other:?} is not supported; the only value is \"SPACE\""),
            )),
            None => Err(invalid(
                query,
                "the query must contain space_type = \"SPACE\"",
            )),
        }
    }

    /// Whether a space matches every term.
    pub fn matches(&self, space: &Space) -> bool {
        self.terms.iter().all(|term| {
            let mut results = term
                .conditions
                .iter()
                .map(|c| condition_matches(term.field, c, space));
            match term.joiner {
                Joiner::And => results.all(|matched| matched),
                Joiner::Or => results.any(|matched| matched),
            }
        })
    }
}

fn condition_matches(field: Field, condition: &Condition, space: &Space) -> bool {
    match (field, &condition.value) {
        (Field::Customer, _) => true,
        (Field::SpaceType, Value::Text(text)) => space.space_type.as_str() == text,
        (Field::DisplayName, Value::Text(text)) => {
            display_name_matches(space.display_name.as_deref().unwrap_or(""), text)
        }
        (Field::CreateTime, Value::Instant(at)) => {
            compare(instant_of(&space.create_time), condition.operator, *at)
        }
        (Field::LastActiveTime, Value::Instant(at)) => compare(
            space.last_active_time.as_deref().and_then(instant_of),
            condition.operator,
            *at,
        ),
        _ => false,
    }
}

/// Each word of `text` must be, ignoring case, the start of some word of
/// the display name: "Fun Eve" matches "The evening was fun" but not
/// "notFun event".
fn display_name_matches(display_name: &str, text: &str) -> bool {
    let words: Vec<String> = display_name
        .split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty())
        .map(str::to_lowercase)
        .collect();
    text.split_whitespace()
        .map(str::to_lowercase)
        .all(|wanted| words.iter().any(|word| word.starts_with(&wanted)))
}

fn compare(value: Option<i128>, operator: Operator, at: i128) -> bool {
    let Some(value) = value else {
        return false;
    };
    match operator {
        Operator::Equal => value == at,
        Operator::Less => value < at,
        Operator::LessOrEqual => value <= at,
        Operator::Greater => value > at,
        Operator::GreaterOrEqual => value >= at,
        Operator::Has => false,
    }
}

fn describe(token: &Token) -> String {
    match token {
        Token::Word(word) => format!("`{word}`"),
        Token::Quoted(text) => format!("{text:?}"),
        Token::Operator(operator) => format!("`{}`", operator.as_str()),
        Token::Open => "`(`".to_string(),
        Token::Close => "`)`".to_string(),
    }
}

fn parse_term(query: &str, tokens: &[Token], position: &mut usize) -> Result<Term, ApiError> {
    if tokens.get(*position) != Some(&Token::Open) {
        let (field, condition) = parse_condition(query, tokens, position)?;
        return Ok(Term {
            field,
            joiner: Joiner::And,
            conditions: vec![condition],
        });
    }
    *position += 1;
    let (field, first) = parse_condition(query, tokens, position)?;
    let mut conditions = vec![first];
    let mut joiner = None;
    loop {
        let next = match tokens.get(*position) {
            Some(Token::Close) => {
                *position += 1;
                break;
            }
            Some(Token::Word(word)) if word == "AND" => Joiner::And,
            Some(Token::Word(word)) if word == "OR" => Joiner::Or,
            Some(other) => {
                return Err(invalid(
                    query,
                    format!("expected AND, OR or `)`, found {}", describe(other)),
                ));
            }
            None => return Err(invalid(query, "missing `)`")),
        };
        if joiner.is_some_and(|joiner| joiner != next) {
            return Err(invalid(
                query,
                "AND and OR cannot be mixed inside one pair of parentheses",
            ));
        }
        joiner = Some(next);
        *position += 1;
        let (other_field, condition) = parse_condition(query, tokens, position)?;
        if other_field != field {
            return Err(invalid(
                query,
                format!(
                    "`{}` and `{}` are in one group; parentheses may only group conditions on one field",
                    field.as_str(),
                    other_field.as_str()
                ),
            ));
        }
        conditions.push(condition);
    }
    let joiner = joiner.unwrap_or(Joiner::And);
    if joiner == Joiner::And
        && conditions.len() > 1
        && !matches!(field, Field::CreateTime | Field::LastActiveTime)
    {
        return Err(invalid(
            query,
            format!("`{}` conditions cannot be joined with AND", field.as_str()),
        ));
    }
    if field == Field::SpaceType && conditions.len() > 1 {
        return Err(invalid(query, "space_type supports neither AND nor OR"));
    }
    Ok(Term {
        field,
        joiner,
        conditions,
    })
}

fn parse_condition(
    query: &str,
    tokens: &[Token],
    position: &mut usize,
) -> Result<(Field, Condition), ApiError> {
    let field = match tokens.get(*position) {
        Some(Token::Word(word)) => Field::parse(word, query)?,
        Some(other) => {
            return Err(invalid(
                query,
                format!("expected a field name, found {}", describe(other)),
            ));
        }
        None => return Err(invalid(query, "expected a field name at the end")),
    };
    let operator = match tokens.get(*position + 1) {
        Some(Token::Operator(operator)) => *operator,
        _ => {
            return Err(invalid(
                query,
                format!(
                    "`{}` must be followed by an operator such as = or :",
                    field.as_str()
                ),
            ));
        }
    };
    let text = match tokens.get(*position + 2) {
        Some(Token::Quoted(text)) => text.clone(),
        _ => {
            return Err(invalid(
                query,
                format!(
                    "the value after `{} {}` must be in double quotes",
                    field.as_str(),
                    operator.as_str()
                ),
            ));
        }
    };
    *position += 3;
    let value = match field {
        Field::CreateTime | Field::LastActiveTime => {
            Value::Instant(instant_of(&text).ok_or_else(|| {
                invalid(
                    query,
                    format!(
                        "{text:?} is not an RFC 3339 timestamp such as 2022-01-01T00:00:00+00:00"
                    ),
                )
            })?)
        }
        _ => Value::Text(text),
    };
    Ok((field, Condition { operator, value }))
}
