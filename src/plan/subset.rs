//! Parts of a plan: the first operations of a run with `--max-operations`,
//! and the operations of a saved plan that still hold. Both keep whole
//! dependency groups and number the kept operations again from 0.

use super::model::{Plan, SpacePlan};

/// Keeps the operations for which `keep(space, operation index)` is true,
/// and drops every operation that requires a dropped one. Kept operations
/// are numbered again from 0 in their old order, with `requires` to match.
/// Blocked changes and warnings stay.
pub fn retain(plan: &Plan, mut keep: impl FnMut(&str, usize) -> bool) -> Plan {
    let spaces = plan
        .spaces
        .iter()
        .map(|space| {
            let mut kept: Vec<bool> = Vec::with_capacity(space.operations.len());
            for operation in &space.operations {
                // `requires` names earlier operations only, so `kept` has them.
                let requirements_kept = operation.requires.iter().all(|&r| kept[r]);
                kept.push(requirements_kept && keep(&space.space, operation.index));
            }
            renumber(space, &kept)
        })
        .collect();
    Plan { spaces }
}

/// Returns the first operations of `plan` up to `limit`, in plan order,
/// never splitting a dependency group (a successor promotion and the
/// removal that needs it), and the count of operations left out. A first
/// group larger than `limit` is kept whole, so that every run makes
/// progress.
pub fn first_operations(plan: &Plan, limit: usize) -> (Plan, usize) {
    let mut taken = 0;
    let mut full = false;
    let mut chosen: Vec<Vec<bool>> = Vec::with_capacity(plan.spaces.len());
    for space in &plan.spaces {
        let groups = groups(space);
        let mut keep = vec![false; space.operations.len()];
        let mut seen = vec![false; space.operations.len()];
        for start in 0..space.operations.len() {
            let group = groups[start];
            if full || seen[group] {
                continue;
            }
            seen[group] = true;
            let size = groups.iter().filter(|&&g| g == group).count();
            if taken > 0 && taken + size > limit {
                full = true;
                continue;
            }
            taken += size;
            for (position, &g) in groups.iter().enumerate() {
                if g == group {
                    keep[position] = true;
                }
            }
        }
        chosen.push(keep);
    }
    let left = plan.operation_count() - taken;
    let spaces = plan
        .spaces
        .iter()
        .zip(&chosen)
        .map(|(space, keep)| renumber(space, keep))
        .collect();
    (Plan { spaces }, left)
}

/// Labels each operation with its dependency group: the lowest position
/// among the operations linked to it through `requires`.
fn groups(space: &SpacePlan) -> Vec<usize> {
    let mut parent: Vec<usize> = (0..space.operations.len()).collect();
    fn root(parent: &mut [usize], mut at: usize) -> usize {
        while parent[at] != at {
            parent[at] = parent[parent[at]];
            at = parent[at];
        }
        at
    }
    for (position, operation) in space.operations.iter().enumerate() {
        for &required in &operation.requires {
            let a = root(&mut parent, position);
            let b = root(&mut parent, required);
            parent[a.max(b)] = a.min(b);
        }
    }
    (0..parent.len()).map(|at| root(&mut parent, at)).collect()
}

fn renumber(space: &SpacePlan, keep: &[bool]) -> SpacePlan {
    let mut new_index = vec![usize::MAX; space.operations.len()];
    let mut operations = Vec::new();
    for (position, operation) in space.operations.iter().enumerate() {
        if !keep[position] {
            continue;
        }
        new_index[position] = operations.len();
        let mut kept = operation.clone();
        kept.index = operations.len();
        kept.requires = operation.requires.iter().map(|&r| new_index[r]).collect();
        operations.push(kept);
    }
    SpacePlan {
        operations,
        ..space.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::model::MembershipRole;
    use crate::plan::model::{Action, MemberRef, Operation, Reason};

    fn member(name: &str) -> MemberRef {
        MemberRef {
            display: name.to_string(),
            resource: format!("users/{name}"),
        }
    }

    /// add a; promote b; remove c (requires the promotion); remove d.
    fn sample() -> Plan {
        let operations = vec![
            Operation {
                index: 0,
                action: Action::Add {
                    member: member("a"),
                },
                reason: Reason::MissingMember,
                requires: vec![],
            },
            Operation {
                index: 1,
                action: Action::SetRole {
                    member: member("b"),
                    membership: Some("spaces/S/members/b".to_string()),
                    from: MembershipRole::Member,
                    to: MembershipRole::Manager,
                },
                reason: Reason::RoleDiffers,
                requires: vec![],
            },
            Operation {
                index: 2,
                action: Action::Remove {
                    member: member("c"),
                    membership: "spaces/S/members/c".to_string(),
                    role: MembershipRole::Manager,
                },
                reason: Reason::Offboarded,
                requires: vec![1],
            },
            Operation {
                index: 3,
                action: Action::Remove {
                    member: member("d"),
                    membership: "spaces/S/members/d".to_string(),
                    role: MembershipRole::Member,
                },
                reason: Reason::NotInPolicy,
                requires: vec![],
            },
        ];
        Plan {
            spaces: vec![SpacePlan {
                space: "spaces/S".to_string(),
                display_name: None,
                operations,
                blocked: vec![],
                warnings: vec![],
            }],
        }
    }

    fn members(plan: &Plan) -> Vec<String> {
        plan.spaces[0]
            .operations
            .iter()
            .map(|operation| operation.action.member().display.clone())
            .collect()
    }

    #[test]
    fn first_operations_keeps_groups_whole() {
        let (part, left) = first_operations(&sample(), 2);
        assert_eq!(members(&part), ["a"]);
        assert_eq!(left, 3);

        let (part, left) = first_operations(&sample(), 3);
        assert_eq!(members(&part), ["a", "b", "c"]);
        assert_eq!(part.spaces[0].operations[2].requires, [1]);
        assert_eq!(left, 1);
    }

    #[test]
    fn first_group_larger_than_limit_runs_whole() {
        let plan = retain(&sample(), |_, index| index != 0);
        let (part, left) = first_operations(&plan, 1);
        assert_eq!(members(&part), ["b", "c"]);
        assert_eq!(left, 1);
    }

    #[test]
    fn retain_drops_dependents_and_renumbers() {
        let part = retain(&sample(), |_, index| index != 1);
        assert_eq!(members(&part), ["a", "d"]);
        assert_eq!(part.spaces[0].operations[1].index, 1);
    }
}
