//! Machine output: the plan as one JSON document, and a run as JSON Lines.
//!
//! Field names here are a stable interface. Roles are admin words (`owner`,
//! `manager`, `member`); durations are whole milliseconds (`*_ms`).
//!
//! Plan document:
//! - `spaces`: every space in the plan: `space`, `display_name` (or null),
//!   `operations` and `blocked` (counts), `warnings` (strings).
//! - `operations`, in plan order per space: `space`, `index`, `kind` (`add`,
//!   `set_role`, `remove`), `member` (email or resource name),
//!   `member_resource`, `membership`, `role` (add, remove) or `from`/`to`
//!   (set_role), `reason`, `reason_text` and `requires` (indexes).
//!   `membership` is null for an add, and for a role change of a membership
//!   that an earlier add creates. `reason` is one of `missing_member`,
//!   `not_in_policy`, `offboarded`, `role_differs`, `successor`; successors
//!   also carry `replaces` and `successor_rule`.
//! - `blocked`: `space`, `kind`, `member`, the role fields as above,
//!   `block` (`no_successor`, `protected`), `block_text`, `reason`,
//!   `reason_text`.
//! - `summary`: `add`, `set_role`, `remove`, `blocked`, `spaces_changed`,
//!   `spaces_in_scope`.
//!
//! The JSON Lines stream of `--output jsonl` is defined in [`super::jsonl`].

use serde_json::{Map, Value, json};

use super::table::Counts;
use super::text::{block_code, block_text, reason_code, reason_text, rule_code};
use crate::apply::Summary;
use crate::plan::{Action, Operation, Plan, Reason};

/// Renders `plan` as the plan document.
pub fn plan_json(plan: &Plan, spaces_in_scope: usize) -> Value {
    let spaces: Vec<Value> = plan
        .spaces
        .iter()
        .map(|space| {
            json!({
                "space": space.space,
                "display_name": space.display_name,
                "operations": space.operations.len(),
                "blocked": space.blocked.len(),
                "warnings": space.warnings,
            })
        })
        .collect();

    let mut operations = Vec::new();
    let mut blocked = Vec::new();
    for space in &plan.spaces {
        for operation in &space.operations {
            operations.push(operation_json(&space.space, operation));
        }
        for item in &space.blocked {
            let mut record = action_fields(&space.space, &item.action);
            record.insert("block".into(), json!(block_code(&item.block)));
            record.insert("block_text".into(), json!(block_text(&item.block)));
            insert_reason(&mut record, &item.requested_because);
            blocked.push(Value::Object(record));
        }
    }

    let counts = Counts::of(plan);
    json!({
        "spaces": spaces,
        "operations": operations,
        "blocked": blocked,
        "summary": {
            "add": counts.add,
            "set_role": counts.set_role,
            "remove": counts.remove,
            "blocked": counts.blocked,
            "spaces_changed": counts.spaces,
            "spaces_in_scope": spaces_in_scope,
        },
    })
}

pub(crate) fn operation_json(space: &str, operation: &Operation) -> Value {
    let mut record = action_fields(space, &operation.action);
    record.insert("index".into(), json!(operation.index));
    insert_reason(&mut record, &operation.reason);
    record.insert("requires".into(), json!(operation.requires));
    Value::Object(record)
}

/// Fields naming the space, the change and the member.
pub(crate) fn action_fields(space: &str, action: &Action) -> Map<String, Value> {
    let member = action.member();
    let mut record = Map::new();
    record.insert("space".into(), json!(space));
    record.insert("kind".into(), json!(action.kind()));
    record.insert("member".into(), json!(member.display));
    record.insert("member_resource".into(), json!(member.resource));
    match action {
        Action::Add { .. } => {
            record.insert("membership".into(), Value::Null);
            record.insert("role".into(), json!("member"));
        }
        Action::SetRole {
            membership,
            from,
            to,
            ..
        } => {
            record.insert("membership".into(), json!(membership));
            record.insert("from".into(), json!(from.admin_word()));
            record.insert("to".into(), json!(to.admin_word()));
        }
        Action::Remove {
            membership, role, ..
        } => {
            record.insert("membership".into(), json!(membership));
            record.insert("role".into(), json!(role.admin_word()));
        }
    }
    record
}

pub(crate) fn insert_reason(record: &mut Map<String, Value>, reason: &Reason) {
    record.insert("reason".into(), json!(reason_code(reason)));
    record.insert("reason_text".into(), json!(reason_text(reason)));
    if let Reason::Successor { replaces, rule } = reason {
        record.insert("replaces".into(), json!(replaces));
        record.insert("successor_rule".into(), json!(rule_code(*rule)));
    }
}

pub(crate) fn summary_json(summary: &Summary) -> Value {
    json!({
        "applied": summary.applied,
        "already_done": summary.already_done,
        "skipped": summary.skipped,
        "failed": summary.failed,
        "retries": summary.retries,
        "rate_limited": summary.rate_limited,
        "duration_ms": summary.duration.as_millis() as u64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::sample::sample_plan;

    #[test]
    fn plan_json_operations() {
        let document = plan_json(&sample_plan(), 5);
        let operations = document["operations"].as_array().unwrap();
        assert_eq!(operations.len(), 4);

        assert_eq!(
            operations[0],
            json!({
                "space": "spaces/AAAAeng",
                "index": 0,
                "kind": "add",
                "member": "bob@example.com",
                "member_resource": "users/bob@example.com",
                "membership": null,
                "role": "member",
                "reason": "missing_member",
                "reason_text": "listed in the policy, missing from the space",
                "requires": [],
            })
        );
        assert_eq!(
            operations[1],
            json!({
                "space": "spaces/AAAAeng",
                "index": 1,
                "kind": "set_role",
                "member": "carol@example.com",
                "member_resource": "users/200",
                "membership": "spaces/AAAAeng/members/200",
                "from": "member",
                "to": "owner",
                "reason": "successor",
                "reason_text": "successor for dave@example.com (space successors)",
                "replaces": "dave@example.com",
                "successor_rule": "space_successors",
                "requires": [],
            })
        );
        assert_eq!(operations[2]["kind"], "remove");
        assert_eq!(operations[2]["role"], "owner");
        assert_eq!(operations[2]["requires"], json!([1]));
        assert_eq!(operations[3]["space"], "spaces/AAAAops");
        assert_eq!(operations[3]["from"], "manager");
    }

    #[test]
    fn plan_json_blocked_spaces_summary() {
        let document = plan_json(&sample_plan(), 5);
        assert_eq!(
            document["blocked"],
            json!([{
                "space": "spaces/AAAAeng",
                "kind": "remove",
                "member": "ceo@example.com",
                "member_resource": "users/400",
                "membership": "spaces/AAAAeng/members/400",
                "role": "member",
                "block": "protected",
                "block_text": "protected",
                "reason": "not_in_policy",
                "reason_text": "not in the policy",
            }])
        );
        assert_eq!(document["spaces"].as_array().unwrap().len(), 3);
        assert_eq!(document["spaces"][1]["display_name"], "People");
        assert_eq!(document["spaces"][2]["display_name"], Value::Null);
        assert_eq!(
            document["summary"],
            json!({
                "add": 1,
                "set_role": 2,
                "remove": 1,
                "blocked": 1,
                "spaces_changed": 2,
                "spaces_in_scope": 5,
            })
        );
    }
}
