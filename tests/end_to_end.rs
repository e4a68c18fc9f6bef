//! The whole job on the sample organisation, over real HTTP: observe, plan,
//! apply and plan again against the emulator, checking the plan rules on the
//! emulator's own state rather than on what the tool reports.

use std::path::Path;

use chat_reconcile::apply::{self, EventSink};
use chat_reconcile::chat::model::MembershipRole;
use chat_reconcile::emulator::{EmulatorState, Snapshot};
use chat_reconcile::observe::{self, ObservedState};
use chat_reconcile::plan::{self, Action, Plan};
use chat_reconcile::policy::{self, Policy};

const SAMPLE_ORG: &str = "examples/sample-org.yaml";
const EXAMPLE_POLICY: &str = "policies/example.yaml";
const DAVE: &str = "dave.departed@example.com";

mod harness;
use harness::Harness;

/// Starts the emulator with the sample organisation.
async fn start() -> Harness {
    let state = EmulatorState::load(Path::new(SAMPLE_ORG)).expect("sample organisation loads");
    Harness::start(state, "demo-token").await
}

async fn observe(run: &Harness, policy: &Policy) -> ObservedState {
    observe::observe(&run.observe_context(4), policy)
        .await
        .expect("observe succeeds")
}

async fn apply(run: &Harness, plan: &Plan) -> apply::ApplyReport {
    apply::apply(plan, &run.apply_context(4), EventSink::discard()).await
}

fn space_named<'a>(
    snapshot: &'a Snapshot,
    display_name: &str,
) -> &'a chat_reconcile::emulator::SpaceSnapshot {
    snapshot
        .spaces
        .iter()
        .find(|space| space.display_name.as_deref() == Some(display_name))
        .unwrap_or_else(|| panic!("no space named {display_name} in the sample organisation"))
}

#[tokio::test]
async fn sample_org_converges() {
    let policy = policy::load(Path::new(EXAMPLE_POLICY)).expect("example policy is valid");
    let run = start().await;
    let before = run.emulator.snapshot();

    let observed = observe(&run, &policy).await;
    let first = plan::plan(&policy, &observed);
    assert!(
        !first.is_empty(),
        "the example policy changes the sample organisation"
    );
    assert_eq!(
        first.blocked_count(),
        0,
        "the example policy blocks nothing"
    );

    // Rule 3: in every space, an owner's removal comes after every promotion.
    for space in &first.spaces {
        let last_promotion = space.operations.iter().rposition(
            |op| matches!(&op.action, Action::SetRole { to, .. } if *to == MembershipRole::Manager),
        );
        let first_owner_removal = space.operations.iter().position(|op| {
            matches!(&op.action, Action::Remove { role, .. } if *role == MembershipRole::Manager)
        });
        if let (Some(promotion), Some(removal)) = (last_promotion, first_owner_removal) {
            assert!(
                promotion < removal,
                "{}: owner removed before a promotion",
                space.space
            );
        }
    }

    let report = apply(&run, &first).await;
    assert_eq!(
        report.summary.unsuccessful(),
        0,
        "every operation succeeds: {report:?}"
    );

    // Rules 1 and 2, as the emulator counts them.
    let counters = run.emulator.counters();
    assert_eq!(
        counters.only_owner_refusals, 0,
        "the tool asked to remove an only owner"
    );
    assert_eq!(
        counters.spaces_left_without_owner, 0,
        "a space lost its last owner"
    );

    // Rule 5: planning again against the result gives an empty plan.
    let again = plan::plan(&policy, &observe(&run, &policy).await);
    assert_eq!(
        again.operation_count(),
        0,
        "second plan is not empty: {again:?}"
    );

    let after = run.emulator.snapshot();
    let policy_spaces: Vec<&str> = policy
        .spaces
        .iter()
        .map(|entry| entry.space.as_str())
        .collect();
    for space in &after.spaces {
        let named = policy_spaces.contains(&space.name.as_str());
        let was = before.space(&space.name).unwrap();

        // Rule 4: Dave is gone from every space the policy names.
        if named {
            assert!(
                space.membership(DAVE).is_none(),
                "{}: Dave is still a member",
                space.name
            );
        }
        // Rule 6: spaces the policy does not name are exactly as they were.
        if !named {
            let names = |s: &chat_reconcile::emulator::SpaceSnapshot| {
                s.memberships
                    .iter()
                    .map(|m| (m.name.clone(), m.role))
                    .collect::<Vec<_>>()
            };
            assert_eq!(
                names(space),
                names(was),
                "{}: changed outside the policy",
                space.name
            );
        }
        // Rule 1: every space that had an owner still has one.
        if !was.owners().is_empty() {
            assert!(
                !space.owners().is_empty(),
                "{}: left without an owner",
                space.name
            );
        }
    }

    // The successors the plan chose are owners now.
    for (space, successor) in [
        ("Platform Team", "heidi.lead@example.com"),
        ("Release Train", "judy.next@example.com"),
        ("Design Reviews", "ivan.admin@example.com"),
        ("Incident Response", "frank.oncall@example.com"),
    ] {
        let space = space_named(&after, space);
        let membership = space.membership(successor).expect("successor is a member");
        let member = membership.member.as_str();
        assert!(
            space.owners().contains(&member),
            "{}: {successor} is not an owner",
            space.name
        );
    }

    // Apps are left alone unless listed: the Pager Bot stays.
    let incident = space_named(&after, "Incident Response");
    assert!(
        incident
            .membership("pager-bot@system.example.com")
            .is_some(),
        "the Pager Bot was removed"
    );
    // Exact mode removes the unlisted external partner.
    let council = space_named(&after, "Security Council");
    assert!(
        council.membership("partner0@partner.example.net").is_none(),
        "the partner stayed"
    );
    assert!(
        council.membership("groups/0sec4ops2").is_some(),
        "the listed group was removed"
    );
}

#[tokio::test]
async fn no_successor_blocks_removal() {
    let policy = policy::load(Path::new("policies/no-successor.yaml")).expect("policy is valid");
    let run = start().await;

    let plan = plan::plan(&policy, &observe(&run, &policy).await);
    assert_eq!(
        plan.blocked_count(),
        1,
        "Dave's removal is blocked: {plan:?}"
    );
    assert_eq!(plan.operation_count(), 0, "nothing else changes: {plan:?}");

    let report = apply(&run, &plan).await;
    assert_eq!(report.summary.total(), 0);
    let archive = space_named(&run.emulator.snapshot(), "Legacy Archive").clone();
    assert!(
        archive.membership(DAVE).is_some(),
        "Dave is still the owner"
    );
    assert_eq!(run.emulator.counters().only_owner_refusals, 0);
}
