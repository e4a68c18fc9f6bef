//! The engine against the emulator over real HTTP, with hand-built plans, so
//! that each test controls exactly which operations run.

use std::time::Duration;

use chat_reconcile::apply::{self, ApplyContext, Event, EventSink, Outcome};
use chat_reconcile::chat::model::MembershipRole;
use chat_reconcile::limits::{LimitSettings, RateLimits};
use chat_reconcile::plan::{Action, MemberRef, Operation, Plan, Reason, SpacePlan, SuccessorRule};

/// Dave is the only owner. Carol is invited but has not joined, and bob is
/// not in the space yet.
const STATE: &str = r#"tokens: [demo-token]
users:
  - id: "100000000002"
    email: carol@example.com
  - id: "100000000003"
    email: dave@example.com
  - id: "100000000004"
    email: bob@example.com
spaces:
  - name: spaces/AAAAeng
    display_name: Engineering
    type: SPACE
    memberships:
      - user: "100000000003"
        role: ROLE_MANAGER
      - user: "100000000002"
        state: INVITED
"#;

const SPACE: &str = "spaces/AAAAeng";

mod harness;
use harness::Harness;

fn member(email: &str, id: &str) -> MemberRef {
    MemberRef {
        display: email.to_string(),
        resource: format!("users/{id}"),
    }
}

fn single_space(operations: Vec<Operation>) -> Plan {
    Plan {
        spaces: vec![SpacePlan {
            space: SPACE.to_string(),
            display_name: Some("Engineering".to_string()),
            operations,
            blocked: vec![],
            warnings: vec![],
        }],
    }
}

#[tokio::test]
async fn failed_promotion_skips_removal() {
    let harness = Harness::from_yaml(STATE, "demo-token").await;
    let plan = single_space(vec![
        Operation {
            index: 0,
            action: Action::SetRole {
                member: member("carol@example.com", "100000000002"),
                membership: Some(format!("{SPACE}/members/100000000002")),
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
            index: 1,
            action: Action::Remove {
                member: member("dave@example.com", "100000000003"),
                membership: format!("{SPACE}/members/100000000003"),
                role: MembershipRole::Manager,
            },
            reason: Reason::Offboarded,
            requires: vec![0],
        },
    ]);

    let (sink, mut events) = EventSink::channel();
    let report = apply::apply(&plan, &harness.apply_context(4), sink).await;

    match report.outcome(SPACE, 0) {
        Some(Outcome::Failed { error }) => {
            assert!(
                error.contains("FAILED_PRECONDITION"),
                "unexpected error: {error}"
            )
        }
        other => panic!("promotion outcome: {other:?}"),
    }
    assert_eq!(
        report.outcome(SPACE, 1),
        Some(&Outcome::Skipped {
            reason: "successor promotion of carol@example.com failed".to_string()
        })
    );
    assert_eq!(report.summary.failed, 1);
    assert_eq!(report.summary.skipped, 1);
    assert_eq!(report.summary.applied, 0);

    // The owner is still there: the skipped removal sent no request.
    let dave = harness
        .client
        .get_member(&format!("{SPACE}/members/100000000003"))
        .await
        .expect("dave is still a member");
    assert_eq!(dave.role, Some(MembershipRole::Manager));

    let mut received = Vec::new();
    while let Ok(event) = events.try_recv() {
        received.push(event);
    }
    assert_eq!(
        received.first(),
        Some(&Event::RunStarted {
            spaces: 1,
            operations: 2
        })
    );
    assert!(matches!(received.last(), Some(Event::RunFinished { .. })));
    let started_removal = received
        .iter()
        .any(|event| matches!(event, Event::OperationStarted { index: 1, .. }));
    assert!(
        !started_removal,
        "the skipped removal was started: {received:?}"
    );

    harness.emulator.shutdown().await;
}

#[tokio::test]
async fn role_change_after_add_uses_new_membership() {
    let harness = Harness::from_yaml(STATE, "demo-token").await;
    let plan = single_space(vec![
        Operation {
            index: 0,
            action: Action::Add {
                member: MemberRef {
                    display: "bob@example.com".to_string(),
                    resource: "users/bob@example.com".to_string(),
                },
            },
            reason: Reason::MissingMember,
            requires: vec![],
        },
        Operation {
            index: 1,
            action: Action::SetRole {
                member: MemberRef {
                    display: "bob@example.com".to_string(),
                    resource: "users/bob@example.com".to_string(),
                },
                membership: None,
                from: MembershipRole::Member,
                to: MembershipRole::AssistantManager,
            },
            reason: Reason::RoleDiffers,
            requires: vec![0],
        },
    ]);

    let report = apply::apply(&plan, &harness.apply_context(4), EventSink::discard()).await;
    assert_eq!(report.outcome(SPACE, 0), Some(&Outcome::Applied));
    assert_eq!(report.outcome(SPACE, 1), Some(&Outcome::Applied));

    let membership = harness
        .client
        .get_member(&format!("{SPACE}/members/100000000004"))
        .await
        .expect("bob is a member");
    assert_eq!(membership.role, Some(MembershipRole::AssistantManager));

    harness.emulator.shutdown().await;
}

#[tokio::test]
async fn repeated_changes_are_already_done() {
    let harness = Harness::from_yaml(STATE, "demo-token").await;
    let plan = single_space(vec![
        Operation {
            index: 0,
            action: Action::Add {
                member: member("dave@example.com", "100000000003"),
            },
            reason: Reason::MissingMember,
            requires: vec![],
        },
        Operation {
            index: 1,
            action: Action::Remove {
                member: member("bob@example.com", "100000000004"),
                membership: format!("{SPACE}/members/100000000004"),
                role: MembershipRole::Member,
            },
            reason: Reason::NotInPolicy,
            requires: vec![],
        },
    ]);

    let report = apply::apply(&plan, &harness.apply_context(4), EventSink::discard()).await;
    assert_eq!(report.outcome(SPACE, 0), Some(&Outcome::AlreadyDone));
    assert_eq!(report.outcome(SPACE, 1), Some(&Outcome::AlreadyDone));
    assert_eq!(report.summary.already_done, 2);

    harness.emulator.shutdown().await;
}

#[tokio::test]
async fn stopped_run_skips_everything() {
    let harness = Harness::from_yaml(STATE, "demo-token").await;
    harness.stop.stop();
    let plan = single_space(vec![Operation {
        index: 0,
        action: Action::Remove {
            member: member("dave@example.com", "100000000003"),
            membership: format!("{SPACE}/members/100000000003"),
            role: MembershipRole::Manager,
        },
        reason: Reason::Offboarded,
        requires: vec![],
    }]);

    let report = apply::apply(&plan, &harness.apply_context(4), EventSink::discard()).await;
    assert!(
        matches!(report.outcome(SPACE, 0), Some(Outcome::Skipped { .. })),
        "{:?}",
        report.outcome(SPACE, 0)
    );
    assert_eq!(harness.emulator.counters().requests, 0);

    harness.emulator.shutdown().await;
}

#[tokio::test]
async fn stop_interrupts_limiter_wait() {
    let harness = Harness::from_yaml(STATE, "demo-token").await;
    // One write every 10 s in the space: the second operation waits.
    let slow = RateLimits::new(&LimitSettings {
        space_writes_per_second: 0.1,
        ..LimitSettings::default()
    })
    .unwrap();
    let context = ApplyContext {
        limits: &slow,
        ..harness.apply_context(4)
    };
    let bob = member("bob@example.com", "100000000004");
    let plan = single_space(vec![
        Operation {
            index: 0,
            action: Action::Add {
                member: bob.clone(),
            },
            reason: Reason::MissingMember,
            requires: vec![],
        },
        Operation {
            index: 1,
            action: Action::Remove {
                member: bob,
                membership: format!("{SPACE}/members/100000000004"),
                role: MembershipRole::Member,
            },
            reason: Reason::NotInPolicy,
            requires: vec![],
        },
    ]);

    let started = std::time::Instant::now();
    let stopper = async {
        tokio::time::sleep(Duration::from_millis(500)).await;
        harness.stop.stop();
    };
    let (report, ()) = tokio::join!(apply::apply(&plan, &context, EventSink::discard()), stopper);

    // The limiter would hold the removal for about 10 s; the stop ends the
    // wait instead. The bound is loose so that a loaded machine passes.
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(report.outcome(SPACE, 0), Some(&Outcome::Applied));
    assert!(
        matches!(report.outcome(SPACE, 1), Some(Outcome::Skipped { .. })),
        "{:?}",
        report.outcome(SPACE, 1)
    );
    let snapshot = harness.emulator.snapshot();
    let space = snapshot.space(SPACE).unwrap();
    assert!(
        space.membership("bob@example.com").is_some(),
        "the removal ran"
    );
}
