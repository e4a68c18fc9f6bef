//! The plan as a table for people, grouped by space.
//!
//! ```text
//! spaces/AAAAeng (Engineering)
//!   + add       bob@example.com    member           listed in the policy, missing from the space
//!   ~ set role  carol@example.com  member -> owner  successor for dave@example.com (space successors)
//!   - remove    dave@example.com   owner            offboarded
//!
//! Plan: 1 to add, 1 role change, 1 to remove, in 1 of 3 spaces.
//! ```

use std::fmt::Write as _;

use super::text::{block_text, reason_text, role_change};
use crate::plan::{Action, Plan, SpacePlan};

/// One line of the table.
struct Row {
    symbol: char,
    verb: &'static str,
    member: String,
    roles: String,
    reason: String,
}

/// Renders `plan` with a closing count line. `spaces_in_scope` is the number
/// of spaces the policy names, for "in 4 of 42 spaces".
pub fn render_plan(plan: &Plan, spaces_in_scope: usize) -> String {
    let sections: Vec<(&SpacePlan, Vec<Row>)> = plan
        .spaces
        .iter()
        .map(|space| (space, rows(space)))
        .filter(|(space, rows)| !rows.is_empty() || !space.warnings.is_empty())
        .collect();
    let member_width = column_width(&sections, |row| &row.member);
    let roles_width = column_width(&sections, |row| &row.roles);

    let mut text = String::new();
    for (space, rows) in &sections {
        match &space.display_name {
            Some(display_name) => {
                let _ = writeln!(text, "{} ({display_name})", space.space);
            }
            None => {
                let _ = writeln!(text, "{}", space.space);
            }
        }
        for row in rows {
            let line = format!(
                "  {} {:<8}  {:<member_width$}  {:<roles_width$}  {}",
                row.symbol, row.verb, row.member, row.roles, row.reason
            );
            let _ = writeln!(text, "{}", line.trim_end());
        }
        for warning in &space.warnings {
            let _ = writeln!(text, "  warning: {warning}");
        }
        text.push('\n');
    }
    text.push_str(&closing_line(plan, spaces_in_scope));
    text.push('\n');
    text
}

/// Returns the last line of the table, such as "Plan: 3 to add, 2 role
/// changes, 5 to remove, 1 blocked, in 4 of 42 spaces.".
pub fn closing_line(plan: &Plan, spaces_in_scope: usize) -> String {
    let counts = Counts::of(plan);
    if counts.operations() == 0 && counts.blocked == 0 {
        return "No changes. The spaces match the policy.".to_string();
    }
    let mut line = format!(
        "Plan: {} to add, {} role {}, {} to remove",
        counts.add,
        counts.set_role,
        plural(counts.set_role, "change", "changes"),
        counts.remove
    );
    if counts.blocked > 0 {
        let _ = write!(line, ", {} blocked", counts.blocked);
    }
    let _ = write!(
        line,
        ", in {} of {spaces_in_scope} {}.",
        counts.spaces,
        plural(spaces_in_scope, "space", "spaces")
    );
    line
}

/// Operation counts by kind over a plan.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub add: usize,
    pub set_role: usize,
    pub remove: usize,
    pub blocked: usize,
    /// Spaces with an operation or a blocked change.
    pub spaces: usize,
}

impl Counts {
    pub fn of(plan: &Plan) -> Self {
        let mut counts = Self::default();
        for space in &plan.spaces {
            for operation in &space.operations {
                match operation.action {
                    Action::Add { .. } => counts.add += 1,
                    Action::SetRole { .. } => counts.set_role += 1,
                    Action::Remove { .. } => counts.remove += 1,
                }
            }
            counts.blocked += space.blocked.len();
            if !space.operations.is_empty() || !space.blocked.is_empty() {
                counts.spaces += 1;
            }
        }
        counts
    }

    pub fn operations(&self) -> usize {
        self.add + self.set_role + self.remove
    }
}

fn rows(space: &SpacePlan) -> Vec<Row> {
    let mut rows: Vec<Row> = space
        .operations
        .iter()
        .map(|operation| {
            let (symbol, verb) = match operation.action {
                Action::Add { .. } => ('+', "add"),
                Action::SetRole { .. } => ('~', "set role"),
                Action::Remove { .. } => ('-', "remove"),
            };
            Row {
                symbol,
                verb,
                member: operation.action.member().display.clone(),
                roles: role_change(&operation.action),
                reason: reason_text(&operation.reason),
            }
        })
        .collect();

    for blocked in &space.blocked {
        let roles = match &blocked.action {
            Action::Add { .. } => format!("add {}", role_change(&blocked.action)),
            Action::SetRole { .. } => role_change(&blocked.action),
            Action::Remove { .. } => format!("remove {}", role_change(&blocked.action)),
        };
        rows.push(Row {
            symbol: '!',
            verb: "blocked",
            member: blocked.member.display.clone(),
            roles,
            reason: format!(
                "{} ({})",
                block_text(&blocked.block),
                reason_text(&blocked.requested_because)
            ),
        });
    }
    rows
}

fn column_width(sections: &[(&SpacePlan, Vec<Row>)], column: impl Fn(&Row) -> &String) -> usize {
    sections
        .iter()
        .flat_map(|(_, rows)| rows.iter())
        .map(|row| column(row).chars().count())
        .max()
        .unwrap_or(0)
}

fn plural<'w>(count: usize, one: &'w str, many: &'w str) -> &'w str {
    if count == 1 { one } else { many }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::sample::sample_plan;

    #[test]
    fn table_of_sample_plan() {
        let expected = "\
spaces/AAAAeng (Engineering)
  + add       bob@example.com    member             listed in the policy, missing from the space
  ~ set role  carol@example.com  member -> owner    successor for dave@example.com (space successors)
  - remove    dave@example.com   owner              offboarded
  ! blocked   ceo@example.com    remove member      protected (not in the policy)

spaces/AAAAops
  ~ set role  users/123          manager -> member  role differs from the policy
  warning: the display name is \"Ops\" in the API but \"Operations\" in the policy

Plan: 1 to add, 2 role changes, 1 to remove, 1 blocked, in 2 of 5 spaces.
";
        assert_eq!(render_plan(&sample_plan(), 5), expected);
    }

    #[test]
    fn empty_plan_says_no_changes() {
        let plan = Plan::default();
        assert_eq!(
            render_plan(&plan, 3),
            "No changes. The spaces match the policy.\n"
        );
    }

    #[test]
    fn closing_line_singular_words() {
        let mut plan = sample_plan();
        plan.spaces.truncate(1);
        plan.spaces[0].blocked.clear();
        assert_eq!(
            closing_line(&plan, 1),
            "Plan: 1 to add, 1 role change, 1 to remove, in 1 of 1 space."
        );
    }
}
