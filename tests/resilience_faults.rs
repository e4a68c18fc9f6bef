//! Fault soak: the real binary applies a policy against a standalone
//! emulator that fails 10% of requests with 500 or 503, 5% with 429,
//! resets 1% of connections and holds 1% for a while. Every planned
//! operation must end applied or reported, no write may succeed twice, the
//! process must not panic, and a second run must converge.

mod resilience_support;

use std::collections::BTreeMap;

use resilience_support::{
    FAST_LIMITS, Standalone, WorkDir, describe, policy_yaml, records, state_yaml, successful_writes,
};
use serde_json::Value;

/// The soak's faults, for every method.
fn fault_flags(seed: u64) -> Vec<String> {
    let mut flags = Vec::new();
    for setting in [
        "*:error_500=0.05",
        "*:error_503=0.05",
        "*:error_429=0.05",
        "*:reset=0.01",
        // Shorter than the client's 30 s request timeout: a hang here is a
        // slow response, and the method still runs once it ends. (The
        // emulator checks each setting as it comes, so the duration goes
        // before the rate.)
        "*:hang_for=1500ms",
        "*:hang=0.01",
        "*:latency=2ms",
        "*:jitter=3ms",
    ] {
        flags.push("--fault".to_string());
        flags.push(setting.to_string());
    }
    flags.push("--fault-seed".to_string());
    flags.push(seed.to_string());
    flags
}

/// Runs the soak over `spaces` spaces and checks every property.
fn soak(spaces: usize, seed: u64) {
    let dir = WorkDir::new("soak");
    let state = dir.write("state.yaml", &state_yaml(spaces));
    let policy = dir.write("policy.yaml", &policy_yaml(spaces));
    let emulator = Standalone::start(&state, &fault_flags(seed));

    let mut args = vec!["apply", "--yes", "--format", "json"];
    args.extend(FAST_LIMITS);
    let first = emulator.run(&args, &policy);
    let context = format!("seed {seed}\n{}", describe(&first));

    // No panic: a panic exits 101 and prints "panicked".
    let code = first.status.code();
    assert!(
        code == Some(0) || code == Some(4),
        "the first apply must exit 0 or 4\n{context}"
    );
    let stderr = String::from_utf8_lossy(&first.stderr);
    assert!(!stderr.contains("panicked"), "{context}");

    // Every planned operation ends with a reported outcome, exactly once.
    let records = records(&first);
    let plan_entries: Vec<&Value> = records
        .iter()
        .filter(|record| record["type"] == "plan_entry")
        .collect();
    assert!(!plan_entries.is_empty(), "no plan_entry record\n{context}");
    let planned: Vec<(String, u64)> = plan_entries
        .iter()
        .map(|op| {
            (
                op["space"].as_str().unwrap().to_string(),
                op["index"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(planned.len(), spaces * 6, "{context}");
    let mut finished: BTreeMap<(String, u64), Vec<String>> = BTreeMap::new();
    for record in records.iter().filter(|r| r["type"] == "operation_finished") {
        finished
            .entry((
                record["space"].as_str().unwrap().to_string(),
                record["index"].as_u64().unwrap(),
            ))
            .or_default()
            .push(record["outcome"].as_str().unwrap().to_string());
    }
    for operation in &planned {
        let outcomes = finished.get(operation);
        assert_eq!(
            outcomes.map(Vec::len),
            Some(1),
            "operation {operation:?} must finish exactly once\n{context}"
        );
        let outcome = &outcomes.unwrap()[0];
        assert!(
            ["applied", "already_done", "failed", "skipped"].contains(&outcome.as_str()),
            "{operation:?} ended {outcome}\n{context}"
        );
    }
    assert_eq!(finished.len(), planned.len(), "{context}");
    let summary = records
        .iter()
        .find(|record| record["type"] == "summary")
        .unwrap_or_else(|| panic!("no summary record\n{context}"));
    let reported: u64 = ["applied", "already_done", "skipped", "failed"]
        .iter()
        .map(|key| summary[key].as_u64().unwrap())
        .sum();
    assert_eq!(reported, planned.len() as u64, "{context}");

    // Nothing done twice: a delete or a role change succeeds at most once
    // per membership, and the successful adds of a space match the applied
    // adds the tool reported for it.
    let requests = emulator.requests();
    let writes = successful_writes(&requests);
    for ((method, path), count) in &writes {
        if method != "POST" {
            assert_eq!(
                *count, 1,
                "{method} {path} succeeded {count} times\n{context}"
            );
        }
    }
    let mut applied_adds: BTreeMap<String, usize> = BTreeMap::new();
    for op in &plan_entries {
        let key = (
            op["space"].as_str().unwrap().to_string(),
            op["index"].as_u64().unwrap(),
        );
        if op["kind"] == "add" && finished[&key][0] == "applied" {
            *applied_adds
                .entry(format!("/v1/{}/members", key.0))
                .or_default() += 1;
        }
    }
    for ((method, path), count) in &writes {
        if method == "POST" {
            assert_eq!(
                applied_adds.get(path).copied().unwrap_or(0),
                *count,
                "successful adds in {path}\n{context}"
            );
        }
    }

    // The faults did happen, and the emulator saw no owner lost.
    let counters = emulator.counters();
    for kind in ["error_500", "error_503", "error_429", "reset"] {
        assert!(
            counters["faults_injected"][kind].as_u64().unwrap_or(0) > 0,
            "no {kind} injected: {counters}"
        );
    }
    assert_eq!(counters["spaces_left_without_owner"], 0, "{counters}");
    assert_eq!(counters["only_owner_refusals"], 0, "{counters}");

    // A rerun converges, faults still on.
    let second = emulator.run(&args, &policy);
    assert_eq!(
        second.status.code(),
        Some(0),
        "the second apply must finish the job\nseed {seed}\n{}",
        describe(&second)
    );
    let third = emulator.run(&["plan", "--detailed-exitcode"], &policy);
    assert_eq!(third.status.code(), Some(0), "{}", describe(&third));
    let counters = emulator.counters();
    assert_eq!(counters["spaces_left_without_owner"], 0, "{counters}");
}

#[test]
fn fault_soak_converges() {
    soak(12, 7);
}

/// Runs the larger soak: `cargo test --test resilience_faults -- --ignored`.
#[test]
#[ignore = "a few minutes; run with --ignored"]
fn fault_soak_large_converges() {
    for seed in [1, 2] {
        soak(60, seed);
    }
}

#[test]
fn injected_429_looks_like_quota() {
    let dir = WorkDir::new("inject429");
    let state = dir.write("state.yaml", &state_yaml(1));
    let emulator = Standalone::start(
        &state,
        &["--fault".to_string(), "spaces.get:error_429=1".to_string()],
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (status, body): (u16, Value) = runtime.block_on(async {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let response = reqwest::Client::new()
            .get(format!("{}v1/spaces/RES00000", emulator.url))
            .bearer_auth(resilience_support::TOKEN)
            .send()
            .await
            .unwrap();
        (response.status().as_u16(), response.json().await.unwrap())
    });
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["error"]["status"], "RESOURCE_EXHAUSTED", "{body}");
    let detail = &body["error"]["details"][0];
    assert_eq!(detail["reason"], "RATE_LIMIT_EXCEEDED", "{body}");
    assert_eq!(
        detail["metadata"]["quota_limit"], "injected_fault",
        "{body}"
    );
    assert_eq!(emulator.counters()["faults_injected"]["error_429"], 1);
}
