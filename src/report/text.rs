//! The words shared by the human table and the JSON output.

use crate::chat::model::MembershipRole;
use crate::plan::{Action, BlockReason, Reason, SuccessorRule};

/// Describes why an operation exists, such as "successor for
/// dave@example.com (space successors)".
pub fn reason_text(reason: &Reason) -> String {
    match reason {
        Reason::MissingMember => "listed in the policy, missing from the space".to_string(),
        Reason::NotInPolicy => "not in the policy".to_string(),
        Reason::Offboarded => "offboarded".to_string(),
        Reason::RoleDiffers => "role differs from the policy".to_string(),
        Reason::Successor { replaces, rule } => {
            format!("successor for {replaces} ({})", rule_words(*rule))
        }
    }
}

/// Returns the stable code of a reason, as in the JSON output.
pub fn reason_code(reason: &Reason) -> &'static str {
    match reason {
        Reason::MissingMember => "missing_member",
        Reason::NotInPolicy => "not_in_policy",
        Reason::Offboarded => "offboarded",
        Reason::RoleDiffers => "role_differs",
        Reason::Successor { .. } => "successor",
    }
}

/// Names the rule that picked a successor.
pub fn rule_words(rule: SuccessorRule) -> &'static str {
    match rule {
        SuccessorRule::PolicyOwner => "policy owner",
        SuccessorRule::SpaceSuccessors => "space successors",
        SuccessorRule::GlobalSuccessors => "global successors",
        SuccessorRule::LongestStanding => "longest-standing member",
    }
}

/// Returns the stable code of a successor rule, as in the JSON output.
pub fn rule_code(rule: SuccessorRule) -> &'static str {
    match rule {
        SuccessorRule::PolicyOwner => "policy_owner",
        SuccessorRule::SpaceSuccessors => "space_successors",
        SuccessorRule::GlobalSuccessors => "global_successors",
        SuccessorRule::LongestStanding => "longest_standing",
    }
}

/// Describes why a change was blocked.
pub fn block_text(block: &BlockReason) -> &'static str {
    match block {
        BlockReason::NoSuccessor => "only owner and no successor",
        BlockReason::Protected => "protected",
    }
}

/// Returns the stable code of a block reason, as in the JSON output.
pub fn block_code(block: &BlockReason) -> &'static str {
    match block {
        BlockReason::NoSuccessor => "no_successor",
        BlockReason::Protected => "protected",
    }
}

/// Describes the roles an action touches in admin words: `member` for an
/// add, `member -> owner` for a role change, the current role for a removal.
pub fn role_change(action: &Action) -> String {
    match action {
        Action::Add { .. } => MembershipRole::Member.admin_word().to_string(),
        Action::SetRole { from, to, .. } => {
            format!("{} -> {}", from.admin_word(), to.admin_word())
        }
        Action::Remove { role, .. } => role.admin_word().to_string(),
    }
}
