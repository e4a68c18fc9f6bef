//! Export, then plan: for random emulator states, the exported policy
//! planned against the same state gives no operation, no blocked change
//! and no warning.

mod harness;

use chat_reconcile::export::{Selection, observe_selection, policy_yaml};
use chat_reconcile::observe;
use chat_reconcile::plan;
use chat_reconcile::policy;
use harness::Harness;
use proptest::prelude::*;

const ROLES: [&str; 3] = ["ROLE_MEMBER", "ROLE_ASSISTANT_MANAGER", "ROLE_MANAGER"];
const TYPES: [&str; 3] = ["SPACE", "GROUP_CHAT", "DIRECT_MESSAGE"];

/// One membership: a user (index into the users) or a group, a role index,
/// and whether it is invited.
#[derive(Debug, Clone)]
struct Member {
    user: Option<usize>,
    group: usize,
    role: usize,
    invited: bool,
}

#[derive(Debug, Clone)]
struct Case {
    show_emails: bool,
    /// Per user: whether it is an app (BOT).
    bots: Vec<bool>,
    spaces: Vec<(usize, String, Vec<Member>)>,
}

fn member() -> impl Strategy<Value = Member> {
    (
        proptest::option::weighted(0.85, 0..8usize),
        0..2usize,
        0..3usize,
        proptest::bool::weighted(0.15),
    )
        .prop_map(|(user, group, role, invited)| Member {
            user,
            group,
            role,
            invited,
        })
}

fn case() -> impl Strategy<Value = Case> {
    let space = (
        0..3usize,
        prop_oneof![
            Just(String::new()),
            "[A-Za-z ]{1,12}",
            Just("Ops: \"on-call\" #1 \\ ü".to_string()),
        ],
        proptest::collection::vec(member(), 0..7),
    );
    (
        any::<bool>(),
        proptest::collection::vec(proptest::bool::weighted(0.2), 8),
        proptest::collection::vec(space, 1..5),
    )
        .prop_map(|(show_emails, bots, spaces)| Case {
            show_emails,
            bots,
            spaces,
        })
}

/// Writes the case as an emulator state, keeping only what the emulator
/// accepts: one membership per member and space, roles and groups only in a
/// `SPACE`, apps and invited people as members, two people in a direct
/// message.
fn state_yaml(case: &Case) -> String {
    let mut text = format!(
        "tokens: [demo-token]\nshow_emails: {}\nusers:\n",
        case.show_emails
    );
    for (index, bot) in case.bots.iter().enumerate() {
        let kind = if *bot { "BOT" } else { "HUMAN" };
        text.push_str(&format!(
            "  - {{id: \"10{index}\", email: user{index}@example.com, type: {kind}}}\n"
        ));
    }
    text.push_str("groups:\n  - {id: \"0g0\"}\n  - {id: \"0g1\"}\nspaces:\n");
    for (index, (space_type, display_name, members)) in case.spaces.iter().enumerate() {
        let space_type = TYPES[*space_type];
        text.push_str(&format!(
            "  - name: spaces/AAAA{index}\n    type: {space_type}\n"
        ));
        if !display_name.is_empty() && space_type != "DIRECT_MESSAGE" {
            let quoted = display_name.replace('\\', "\\\\").replace('"', "\\\"");
            text.push_str(&format!("    display_name: \"{quoted}\"\n"));
        }
        text.push_str("    memberships:\n");
        let mut seen = Vec::new();
        for member in members {
            let key = match member.user {
                Some(user) => format!("u{user}"),
                None => format!("g{}", member.group),
            };
            if seen.contains(&key) {
                continue;
            }
            if space_type == "DIRECT_MESSAGE" && (member.user.is_none() || seen.len() == 2) {
                continue;
            }
            seen.push(key);
            match member.user {
                None if space_type != "SPACE" => {
                    seen.pop();
                }
                None => text.push_str(&format!("      - {{group: \"0g{}\"}}\n", member.group)),
                Some(user) => {
                    let bot = case.bots[user];
                    let role = if space_type == "SPACE" && !bot && !member.invited {
                        ROLES[member.role]
                    } else {
                        "ROLE_MEMBER"
                    };
                    let state = if member.invited && !bot {
                        "INVITED"
                    } else {
                        "JOINED"
                    };
                    text.push_str(&format!(
                        "      - {{user: \"10{user}\", role: {role}, state: {state}}}\n"
                    ));
                }
            }
        }
        if seen.is_empty() {
            text.push_str("      []\n");
        }
    }
    text
}

fn check(case: &Case) -> Result<(), TestCaseError> {
    let yaml = state_yaml(case);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let harness = Harness::from_yaml(&yaml, "demo-token").await;
        let spaces: Vec<String> = (0..case.spaces.len())
            .map(|index| format!("spaces/AAAA{index}"))
            .collect();
        let observed = observe_selection(&harness.observe_context(4), &Selection::Spaces(spaces))
            .await
            .unwrap();
        let text = policy_yaml(&observed);
        let policy = policy::parse(&text, "export")
            .map_err(|error| TestCaseError::fail(format!("{error}\n{text}")))?;
        prop_assert_eq!(policy.spaces.len(), case.spaces.len());

        let again = observe::observe(&harness.observe_context(4), &policy)
            .await
            .unwrap();
        let plan = plan::plan(&policy, &again);
        prop_assert_eq!(
            plan.operation_count(),
            0,
            "state:\n{}\npolicy:\n{}\nplan: {:#?}",
            yaml,
            text,
            plan
        );
        prop_assert_eq!(plan.blocked_count(), 0, "{:#?}", plan);
        prop_assert!(plan.spaces.is_empty(), "warnings: {:#?}", plan);
        Ok(())
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn export_then_plan_is_empty(case in case()) {
        check(&case)?;
    }
}
