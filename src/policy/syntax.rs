//! Turns serde-saphyr's errors (YAML syntax, unknown or repeated keys,
//! wrong types, parser limits) into policy issues with hints.

use serde_saphyr::budget::BudgetBreach;
use serde_saphyr::{Error, MessageFormatter, UserMessageFormatter};

use super::error::{Issues, Position};
use super::raw::MAX_DEPTH;

const LIMIT_HINT: &str = "a policy needs no deep nesting and few aliases: \
                          check what generated this file";

/// Records a serde-saphyr error: its position, its message without the
/// location suffix, and a hint for the common cases.
pub(crate) fn push_syntax_error(error: &Error, issues: &mut Issues) {
    let mut message = match error {
        Error::Budget { breach, .. } => budget_message(breach),
        _ => escape_controls(&UserMessageFormatter.format_message(error)),
    };
    if message.contains("recursion limit exceeded") {
        // The scanner's flow nesting limit arrives as a plain scanner error.
        message = format!(
            "the policy is too large or too complex: it nests more than {MAX_DEPTH} levels \
             deep, past the parser's limit"
        );
    }
    let hint = if is_past_limit(error, &message) {
        Some(LIMIT_HINT)
    } else {
        syntax_hint(&message)
    };
    let position = error.location().map(Position::from);
    issues.push(position, message, hint.map(str::to_string));
}

/// Escapes control characters: the message may quote input text, which
/// must not move the terminal's cursor or forge extra lines.
fn escape_controls(message: &str) -> String {
    let mut escaped = String::with_capacity(message.len());
    for c in message.chars() {
        if c.is_control() {
            escaped.extend(c.escape_debug());
        } else {
            escaped.push(c);
        }
    }
    escaped
}

/// Describes a parser budget breach in words, with the limit that was hit.
fn budget_message(breach: &BudgetBreach) -> String {
    let what = match breach {
        BudgetBreach::Depth { depth } => format!("it nests {depth} levels deep"),
        BudgetBreach::Aliases { aliases } => format!("it uses {aliases} aliases"),
        BudgetBreach::Anchors { anchors } => format!("it defines {anchors} anchors"),
        BudgetBreach::Nodes { nodes } => format!("it has {nodes} values"),
        BudgetBreach::Events { events } => format!("it has {events} parser events"),
        BudgetBreach::AliasAnchorRatio { aliases, anchors } => {
            format!("it uses {aliases} aliases for {anchors} anchors")
        }
        other => format!("{other:?}"),
    };
    format!("the policy is too large or too complex: {what}, past the parser's limit")
}

/// Tells whether `error` comes from one of the parser's resource limits.
fn is_past_limit(error: &Error, message: &str) -> bool {
    let limit_error = matches!(
        error,
        Error::Budget { .. }
            | Error::AliasReplayCounterOverflow { .. }
            | Error::AliasReplayLimitExceeded { .. }
            | Error::AliasExpansionLimitExceeded { .. }
            | Error::AliasReplayStackDepthExceeded { .. }
    );
    // Alias limits may arrive wrapped in an error that names the alias.
    limit_error || message.contains("too large or too complex")
}

fn syntax_hint(message: &str) -> Option<&'static str> {
    let hints = [
        (
            "expected sequence start",
            "this key takes a list: `[a, b]`, or one `- item` per line",
        ),
        (
            "expected mapping start",
            "each entry of `spaces` is a mapping that starts with `space: spaces/{id}`",
        ),
        (
            "missing field `space`",
            "each entry of `spaces` is a mapping that starts with `space: spaces/{id}`",
        ),
        (
            "expected string scalar",
            "a single value is expected here, not a list or a mapping",
        ),
        (
            "duplicate mapping key",
            "a key may appear once in each mapping: remove or merge the repeated one",
        ),
        (
            "multiple",
            "put one policy in each file, without `---` separators between documents",
        ),
        ("tab", "indent with spaces: YAML does not allow tabs there"),
    ];
    hints
        .into_iter()
        .find(|(pattern, _)| message.contains(pattern))
        .map(|(_, hint)| hint)
}
