//! The plan as Markdown, for a code-review comment on a policy change: one
//! table per space, blocked changes and warnings under it, the count line
//! last. Member names and reasons are escaped so that a `|` or a `*` in a
//! display name cannot break the table.

use std::fmt::Write as _;

use super::table::closing_line;
use super::text::{block_text, reason_text, role_change};
use crate::plan::Plan;

/// Renders `plan`; `spaces_in_scope` is the number of spaces the policy
/// names.
pub fn render_markdown(plan: &Plan, spaces_in_scope: usize) -> String {
    let mut text = String::from("### chat-reconcile plan\n\n");
    for space in &plan.spaces {
        let title = match &space.display_name {
            Some(name) => format!("`{}` ({})", space.space, escape(name)),
            None => format!("`{}`", space.space),
        };
        let _ = writeln!(text, "#### {title}\n");
        if !space.operations.is_empty() {
            text.push_str("| # | change | member | role | reason |\n");
            text.push_str("|---|---|---|---|---|\n");
            for operation in &space.operations {
                let verb = match operation.action.kind() {
                    "add" => "add",
                    "set_role" => "set role",
                    _ => "**remove**",
                };
                let _ = writeln!(
                    text,
                    "| {} | {verb} | {} | {} | {} |",
                    operation.index,
                    escape(&operation.action.member().display),
                    escape(&role_change(&operation.action)),
                    escape(&reason_text(&operation.reason)),
                );
            }
            text.push('\n');
        }
        for item in &space.blocked {
            let _ = writeln!(
                text,
                "- blocked: {} {} ({}; requested because {})",
                item.action.kind(),
                escape(&item.member.display),
                block_text(&item.block),
                escape(&reason_text(&item.requested_because)),
            );
        }
        for warning in &space.warnings {
            let _ = writeln!(text, "- warning: {}", escape(warning));
        }
        if !space.blocked.is_empty() || !space.warnings.is_empty() {
            text.push('\n');
        }
    }
    let _ = writeln!(text, "**{}**", closing_line(plan, spaces_in_scope));
    text
}

/// Escapes the characters that end a table cell or start emphasis.
fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '|' | '*' | '_' | '`' | '<' | '>' | '[' | ']' | '\\' => {
                escaped.push('\\');
                escaped.push(character);
            }
            '\n' => escaped.push(' '),
            _ => escaped.push(character),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::sample::sample_plan;

    #[test]
    fn markdown_has_a_table_per_space() {
        let text = render_markdown(&sample_plan(), 5);
        assert!(text.contains("#### `spaces/AAAAeng`"), "{text}");
        assert!(
            text.contains("| # | change | member | role | reason |"),
            "{text}"
        );
        assert!(
            text.contains("| 2 | **remove** | dave@example.com |"),
            "{text}"
        );
        assert!(
            text.contains("- blocked: remove ceo@example.com (protected"),
            "{text}"
        );
        assert!(text.trim_end().ends_with("spaces.**"), "{text}");
    }

    #[test]
    fn escape_cell_breakers() {
        assert_eq!(escape("a|b*c_d"), "a\\|b\\*c\\_d");
    }
}
