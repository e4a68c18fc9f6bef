//! Quotas: each bucket refuses a burst over its limit with 429 and an
//! ErrorInfo, counts its requests, and admits the configured rate over time.

mod emulator_support;

use std::time::{Duration, Instant};

use chat_reconcile::emulator::{Bucket, EmulatorState, QuotaSettings, Rate};
use emulator_support::{Fixture, Reply, STATE};
use reqwest::Method;
use serde_json::json;

/// The standard state with every bucket off but `bucket`, set to `rate`.
fn state_with(bucket: &str, rate: &str) -> String {
    format!("{STATE}quotas:\n  all: \"off\"\n  {bucket}: {rate}\n")
}

/// Sends the `index`-th request that charges `bucket`. Writes alternate so
/// that each one succeeds when admitted.
async fn charge(fixture: &Fixture, bucket: Bucket, index: usize) -> Reply {
    match bucket {
        Bucket::SpaceReads => fixture.get("v1/spaces", &[]).await,
        Bucket::MembershipReads => fixture.get("v1/spaces/AAAAops/members", &[]).await,
        Bucket::PerSpaceReads => fixture.get("v1/spaces/AAAAops", &[]).await,
        Bucket::MembershipWrites if index % 2 == 0 => {
            let body = json!({"groupMember": {"name": "groups/0grp2"}});
            fixture
                .call(Method::POST, "v1/spaces/AAAAops/members", &[], Some(body))
                .await
        }
        Bucket::MembershipWrites => {
            fixture
                .call(Method::DELETE, "v1/spaces/AAAAops/members/0grp2", &[], None)
                .await
        }
        Bucket::PerSpaceWrites => {
            let role = if index % 2 == 0 {
                "ROLE_ASSISTANT_MANAGER"
            } else {
                "ROLE_MEMBER"
            };
            fixture
                .call(
                    Method::PATCH,
                    "v1/spaces/AAAAops/members/1004",
                    &[("updateMask", "role")],
                    Some(json!({ "role": role })),
                )
                .await
        }
    }
}

#[tokio::test]
async fn burst_over_each_bucket_refused() {
    for bucket in Bucket::ALL {
        let fixture = Fixture::start(&state_with(bucket.as_str(), "3/min")).await;
        for index in 0..3 {
            charge(&fixture, bucket, index).await.ok();
        }
        let reply = charge(&fixture, bucket, 3).await;
        reply.assert_error(429, "RESOURCE_EXHAUSTED", "quota exceeded");
        let detail = &reply.body["error"]["details"][0];
        assert_eq!(
            detail["@type"], "type.googleapis.com/google.rpc.ErrorInfo",
            "{bucket:?}"
        );
        assert_eq!(detail["reason"], "RATE_LIMIT_EXCEEDED");
        assert_eq!(detail["domain"], "googleapis.com");
        assert_eq!(detail["metadata"]["quota_limit"], bucket.as_str());
        assert_eq!(detail["metadata"]["quota_limit_value"], "3");
        assert!(
            detail["metadata"]["quota_metric"]
                .as_str()
                .is_some_and(|metric| metric.starts_with("chat.googleapis.com/")),
            "{detail}"
        );

        let counters = fixture.emulator.counters();
        let counted = counters.quota[bucket.as_str()];
        assert_eq!((counted.requests, counted.exhausted), (4, 1), "{bucket:?}");
        fixture.emulator.shutdown().await;
    }
}

#[tokio::test]
async fn refused_request_changes_nothing() {
    let fixture = Fixture::start(&state_with("membership_writes", "1/min")).await;
    charge(&fixture, Bucket::MembershipWrites, 0).await.ok();
    let reply = charge(&fixture, Bucket::MembershipWrites, 1).await;
    assert_eq!(reply.status, 429);
    let snapshot = fixture.emulator.snapshot();
    let ops = snapshot.space("spaces/AAAAops").unwrap();
    assert!(ops.membership("groups/0grp2").is_some());
}

#[tokio::test]
async fn per_space_buckets_are_separate() {
    let fixture = Fixture::start(&state_with("per_space_reads", "2/min")).await;
    for _ in 0..2 {
        fixture.get("v1/spaces/AAAAops", &[]).await.ok();
    }
    let reply = fixture.get("v1/spaces/AAAAops", &[]).await;
    assert_eq!(reply.status, 429);
    fixture.get("v1/spaces/AAAAeng", &[]).await.ok();
    // members.list in the exhausted space counts against the same bucket.
    let reply = fixture.get("v1/spaces/AAAAops/members", &[]).await;
    assert_eq!(reply.status, 429);
}

#[tokio::test]
async fn patch_counts_only_per_space() {
    let fixture = Fixture::start(&state_with("membership_writes", "1/min")).await;
    for index in 0..3 {
        charge(&fixture, Bucket::PerSpaceWrites, index).await.ok();
    }
    let counters = fixture.emulator.counters();
    assert!(!counters.quota.contains_key("membership_writes"));
    assert_eq!(counters.quota["per_space_writes"].requests, 3);
}

#[tokio::test]
async fn admitted_rate_matches_quota() {
    // 50 per second, measured over three periods after the initial burst.
    let fixture = Fixture::start(&state_with("space_reads", "50/s")).await;
    loop {
        if fixture.get("v1/spaces", &[]).await.status == 429 {
            break;
        }
    }
    let window = Duration::from_secs(3);
    let started = Instant::now();
    let mut admitted = 0;
    while started.elapsed() < window {
        match fixture.get("v1/spaces", &[]).await.status {
            200 => admitted += 1,
            429 => {}
            other => panic!("unexpected status {other}"),
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let expected = 150.0;
    let error = (f64::from(admitted) - expected).abs() / expected;
    assert!(
        error <= 0.05,
        "admitted {admitted} requests in 3 s, expected {expected} within 5%"
    );
}

#[test]
fn settings_overrides() {
    let mut quotas = QuotaSettings::google();
    assert_eq!(
        quotas.rate(Bucket::MembershipWrites),
        Some(Rate::per_minute(300))
    );
    assert_eq!(
        quotas.rate(Bucket::PerSpaceWrites),
        Some(Rate::per_second(1))
    );
    quotas.apply("per-space-writes=60/min").unwrap();
    quotas.apply("membership_reads=off").unwrap();
    quotas.apply("space_reads=40/2s").unwrap();
    assert_eq!(
        quotas.rate(Bucket::PerSpaceWrites),
        Some(Rate::per_minute(60))
    );
    assert_eq!(quotas.rate(Bucket::MembershipReads), None);
    let rate = quotas.rate(Bucket::SpaceReads).unwrap();
    assert_eq!((rate.limit, rate.period), (40, Duration::from_secs(2)));
    assert_eq!(rate.to_string(), "40/2s");

    for bad in [
        "space_reads",
        "nope=1/s",
        "space_reads=0/s",
        "space_reads=5/fortnight",
    ] {
        let error = quotas.apply(bad).unwrap_err().to_string();
        assert!(error.contains("quota"), "{bad}: {error}");
    }

    let mut state = EmulatorState::parse(STATE).unwrap();
    assert_eq!(state.quotas(), &QuotaSettings::unlimited());
    state.set_quotas(quotas.clone());
    assert_eq!(state.quotas(), &quotas);
}

#[test]
fn state_file_quotas() {
    let state =
        EmulatorState::parse(&format!("{STATE}quotas:\n  per_space_writes: 2/s\n")).unwrap();
    // Buckets the section leaves out keep Google's defaults.
    assert_eq!(
        state.quotas().rate(Bucket::MembershipReads),
        Some(Rate::per_minute(3000))
    );
    assert_eq!(
        state.quotas().rate(Bucket::PerSpaceWrites),
        Some(Rate::per_second(2))
    );
    let error = EmulatorState::parse(&format!("{STATE}quotas:\n  space_writes: 2/s\n"))
        .unwrap_err()
        .to_string();
    assert!(error.contains("unknown quota bucket"), "{error}");
}
