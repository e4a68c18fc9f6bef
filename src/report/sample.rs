//! A hand-built plan shared by the rendering tests.

use crate::chat::model::MembershipRole;
use crate::plan::{
    Action, BlockReason, Blocked, MemberRef, Operation, Plan, Reason, SpacePlan, SuccessorRule,
};

fn member(display: &str, resource: &str) -> MemberRef {
    MemberRef {
        display: display.to_string(),
        resource: resource.to_string(),
    }
}

/// Two spaces: an offboarded owner replaced by a successor, an add, a
/// protected member, and a role change with a display name warning.
pub fn sample_plan() -> Plan {
    let bob = member("bob@example.com", "users/bob@example.com");
    let carol = member("carol@example.com", "users/200");
    let dave = member("dave@example.com", "users/300");
    let ceo = member("ceo@example.com", "users/400");
    let numeric = member("users/123", "users/123");

    let engineering = SpacePlan {
        space: "spaces/AAAAeng".to_string(),
        display_name: Some("Engineering".to_string()),
        operations: vec![
            Operation {
                index: 0,
                action: Action::Add { member: bob },
                reason: Reason::MissingMember,
                requires: vec![],
            },
            Operation {
                index: 1,
                action: Action::SetRole {
                    member: carol,
                    membership: Some("spaces/AAAAeng/members/200".to_string()),
                    from: MembershipRole::Member,
                    to: MembershipRole::Manager,
                },
                reason: Reason::Successor {
                    replaces: "dave@example.com".to_string(),
                    rule: SuccessorRule::SpaceSuccessors,
                },
                requires: vec![],
            },
            Operation {
                index: 2,
                action: Action::Remove {
                    member: dave,
                    membership: "spaces/AAAAeng/members/300".to_string(),
                    role: MembershipRole::Manager,
                },
                reason: Reason::Offboarded,
                requires: vec![1],
            },
        ],
        blocked: vec![Blocked {
            member: ceo.clone(),
            action: Action::Remove {
                member: ceo,
                membership: "spaces/AAAAeng/members/400".to_string(),
                role: MembershipRole::Member,
            },
            requested_because: Reason::NotInPolicy,
            block: BlockReason::Protected,
        }],
        warnings: vec![],
    };

    let unchanged = SpacePlan {
        space: "spaces/AAAAhr".to_string(),
        display_name: Some("People".to_string()),
        operations: vec![],
        blocked: vec![],
        warnings: vec![],
    };

    let operations = SpacePlan {
        space: "spaces/AAAAops".to_string(),
        display_name: None,
        operations: vec![Operation {
            index: 0,
            action: Action::SetRole {
                member: numeric,
                membership: Some("spaces/AAAAops/members/123".to_string()),
                from: MembershipRole::AssistantManager,
                to: MembershipRole::Member,
            },
            reason: Reason::RoleDiffers,
            requires: vec![],
        }],
        blocked: vec![],
        warnings: vec![
            "the display name is \"Ops\" in the API but \"Operations\" in the policy".to_string(),
        ],
    };

    Plan {
        spaces: vec![engineering, unchanged, operations],
    }
}
