//! Injected latency and faults: errors, connection resets and hangs, and a
//! seed that repeats the same faults.

mod emulator_support;

use std::time::{Duration, Instant};

use chat_reconcile::emulator::{EmulatorState, FaultSettings, MethodFaults};
use emulator_support::{Fixture, STATE, TOKEN};

fn state_with(faults: &str) -> String {
    format!("{STATE}faults:\n{faults}")
}

/// Sends spaces.get `count` times in sequence; each outcome is the HTTP
/// status, or "reset" when the connection dropped without an answer.
async fn outcomes(fixture: &Fixture, count: usize) -> Vec<String> {
    let url = fixture.emulator.url().join("v1/spaces/AAAAeng").unwrap();
    let mut seen = Vec::new();
    for _ in 0..count {
        // A fresh client per request, so that a reset connection is not reused.
        let client = reqwest::Client::new();
        let outcome = match client.get(url.clone()).bearer_auth(TOKEN).send().await {
            Ok(response) => response.status().as_u16().to_string(),
            Err(error) => {
                assert!(!error.is_timeout(), "{error}");
                "reset".to_string()
            }
        };
        seen.push(outcome);
    }
    seen
}

const MIXED: &str = "  methods:\n    spaces.get: {error_500: 0.15, error_503: 0.15, error_504: 0.15, reset: 0.15}\n";

#[tokio::test]
async fn same_seed_same_faults() {
    let state = state_with(&format!("  seed: 7\n{MIXED}"));
    let first = Fixture::start(&state).await;
    let first_run = outcomes(&first, 40).await;
    let second = Fixture::start(&state).await;
    let second_run = outcomes(&second, 40).await;
    assert_eq!(first_run, second_run);
    for kind in ["200", "500", "503", "504", "reset"] {
        assert!(
            first_run.iter().any(|seen| seen == kind),
            "no {kind} in {first_run:?}"
        );
    }
    assert_eq!(first.emulator.counters().fault_seed, 7);

    let other = Fixture::start(&state_with(&format!("  seed: 8\n{MIXED}"))).await;
    assert_ne!(outcomes(&other, 40).await, first_run);
}

#[tokio::test]
async fn injected_errors_and_resets_are_logged() {
    let fixture = Fixture::start(&state_with(
        "  seed: 1\n  methods:\n    \"*\": {error_503: 1.0}\n",
    ))
    .await;
    let reply = fixture.get("v1/spaces/AAAAeng", &[]).await;
    reply.assert_error(
        503,
        "UNAVAILABLE",
        "fault injected by the emulator into spaces.get",
    );

    let fixture = Fixture::start(&state_with(
        "  methods:\n    spaces.members.delete: {reset: 1.0}\n",
    ))
    .await;
    let url = fixture
        .emulator
        .url()
        .join("v1/spaces/AAAAops/members/1004")
        .unwrap();
    let result = reqwest::Client::new()
        .delete(url)
        .bearer_auth(TOKEN)
        .send()
        .await;
    assert!(
        result.is_err(),
        "a reset connection gives no response: {result:?}"
    );
    // The method did not run.
    let snapshot = fixture.emulator.snapshot();
    assert!(
        snapshot
            .space("spaces/AAAAops")
            .unwrap()
            .membership("users/1004")
            .is_some()
    );
    let log = fixture.emulator.requests();
    let last = log.last().unwrap();
    assert_eq!((last.status, last.fault.as_deref()), (0, Some("reset")));
    assert_eq!(fixture.emulator.counters().faults_injected["reset"], 1);
    // Other methods are untouched.
    fixture.get("v1/spaces/AAAAops", &[]).await.ok();
}

#[tokio::test]
async fn hang_holds_the_answer() {
    let fixture = Fixture::start(&state_with(
        "  methods:\n    spaces.get: {hang: 1.0, hang_for: 400ms}\n",
    ))
    .await;
    let url = fixture.emulator.url().join("v1/spaces/AAAAeng").unwrap();
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_millis(100))
        .build()
        .unwrap();
    let error = impatient
        .get(url.clone())
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap_err();
    assert!(error.is_timeout(), "{error}");

    let started = Instant::now();
    let response = reqwest::Client::new()
        .get(url)
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(started.elapsed() >= Duration::from_millis(400));
    assert_eq!(fixture.emulator.counters().faults_injected["hang"], 2);
}

#[tokio::test]
async fn latency_delays_every_answer() {
    let fixture = Fixture::start(&state_with(
        "  methods:\n    \"*\": {latency: 150ms, jitter: 20ms}\n",
    ))
    .await;
    let started = Instant::now();
    fixture.get("v1/spaces", &[]).await.ok();
    assert!(started.elapsed() >= Duration::from_millis(150));
    assert!(fixture.emulator.counters().faults_injected.is_empty());
}

#[tokio::test]
async fn shutdown_ends_a_hang() {
    let fixture = Fixture::start(&state_with(
        "  methods:\n    spaces.list: {hang: 1.0, hang_for: 60s}\n",
    ))
    .await;
    let url = fixture.emulator.url().join("v1/spaces").unwrap();
    let pending = tokio::spawn(async move {
        reqwest::Client::new()
            .get(url)
            .bearer_auth(TOKEN)
            .send()
            .await
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = Instant::now();
    fixture.emulator.shutdown().await;
    assert!(started.elapsed() < Duration::from_secs(10));
    let response = pending.await.unwrap().unwrap();
    assert_eq!(response.status(), 503);
}

#[test]
fn settings_overrides() {
    let mut faults = FaultSettings::default();
    faults.apply("spaces.members.delete:error_503=0.1").unwrap();
    faults.apply("*:latency=20ms").unwrap();
    faults.apply("*:jitter=1.5s").unwrap();
    let delete = faults.methods["spaces.members.delete"];
    assert_eq!(delete.unavailable, 0.1);
    assert_eq!(faults.methods["*"].jitter, Duration::from_millis(1500));
    assert_eq!(faults.methods["*"].latency, Duration::from_millis(20));

    for (bad, part) in [
        ("spaces.delete:reset=0.1", "unknown method"),
        ("*:error_418=0.1", "unknown fault setting"),
        ("*:reset=2", "from 0 to 1"),
        ("*:latency=20", "invalid duration"),
        ("*:hang=0.5", "hang_for"),
        ("no colon", "METHOD:NAME=VALUE"),
    ] {
        let error = faults.clone().apply(bad).unwrap_err().to_string();
        assert!(error.contains(part), "{bad}: {error}");
    }

    let mut state = EmulatorState::parse(STATE).unwrap();
    let mut too_much = FaultSettings::default();
    too_much.methods.insert(
        "spaces.get".into(),
        MethodFaults {
            internal: 0.6,
            unavailable: 0.6,
            ..MethodFaults::default()
        },
    );
    assert!(state.set_faults(too_much).is_err());
    state.set_faults(faults.clone()).unwrap();
    assert_eq!(state.faults(), &faults);

    let error = EmulatorState::parse(&state_with("  methods:\n    spaces.get: {reset: 1.5}\n"))
        .unwrap_err()
        .to_string();
    assert!(error.contains("from 0 to 1"), "{error}");
}

#[tokio::test]
async fn inspection_shows_settings_and_counters() {
    let yaml = format!(
        "{STATE}quotas:\n  membership_reads: 1/min\ncallers:\n  - {{token: app-token, kind: app, user: \"2001\", scopes: [chat.bot]}}\nfaults:\n  seed: 3\n  methods:\n    spaces.get: {{error_504: 1.0}}\n"
    );
    let fixture = Fixture::start(&yaml).await;
    let members = "v1/spaces/AAAAeng/members";
    fixture.get(members, &[]).await.ok();
    assert_eq!(fixture.get(members, &[]).await.status, 429);
    assert_eq!(fixture.get("v1/spaces/AAAAeng", &[]).await.status, 504);

    let fetch = |path: &'static str| {
        let url = fixture.emulator.url().join(path).unwrap();
        async move {
            let response = reqwest::get(url).await.unwrap();
            assert_eq!(response.status(), 200);
            response.json::<serde_json::Value>().await.unwrap()
        }
    };
    let settings = fetch("emulator/v1/settings").await;
    assert_eq!(settings["quotas"]["membership_reads"], "1/min");
    assert_eq!(settings["quotas"]["per_space_writes"], "1/s");
    assert_eq!(settings["faults"]["seed"], 3);
    assert_eq!(
        settings["faults"]["methods"]["spaces.get"]["error_504"],
        1.0
    );
    let callers = settings["callers"].as_array().unwrap();
    assert!(
        callers
            .iter()
            .any(|caller| caller["kind"] == "app" && caller["user"] == "users/2001")
    );
    assert!(
        !settings.to_string().contains("app-token"),
        "tokens must not be shown"
    );

    let counters = fetch("emulator/v1/counters").await;
    assert_eq!(counters["quota"]["membership_reads"]["exhausted"], 1);
    assert_eq!(counters["faults_injected"]["error_504"], 1);
    assert_eq!(counters["fault_seed"], 3);
    let requests = fetch("emulator/v1/requests").await;
    let last = requests["requests"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(
        (last["status"].clone(), last["fault"].clone()),
        (504.into(), "error_504".into())
    );
}
