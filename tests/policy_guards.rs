//! The policy's `guards:` section: values, defaults and invalid cases.

use chat_reconcile::policy::{self, Guards};

fn guards(body: &str) -> Result<Guards, String> {
    policy::parse(&format!("version: 1\n{body}"), "policy.yaml")
        .map(|policy| policy.guards)
        .map_err(|error| error.to_string())
}

#[test]
fn guards_default_without_section() {
    let found = guards("spaces: []\n").unwrap();
    assert_eq!(found, Guards::default());
    assert_eq!(found.max_removals, None);
    assert_eq!(found.max_removed_fraction.get(), 0.5);
    assert_eq!(found.min_owners, 1);
}

#[test]
fn guards_read_every_value() {
    let found =
        guards("guards:\n  max_removals: 20\n  max_removed_fraction: 0.25\n  min_owners: 2\n")
            .unwrap();
    assert_eq!(found.max_removals, Some(20));
    assert_eq!(found.max_removed_fraction.get(), 0.25);
    assert_eq!(found.min_owners, 2);
}

#[test]
fn fraction_accepts_whole_numbers() {
    let found = guards("guards: {max_removed_fraction: 1}\n").unwrap();
    assert_eq!(found.max_removed_fraction.get(), 1.0);
}

#[test]
fn invalid_guard_values_are_rejected() {
    // (name, body, place, phrase in the message)
    let cases = [
        (
            "negative removals",
            "guards:\n  max_removals: -1\n",
            "policy.yaml:3:17",
            "must be 0 or more",
        ),
        (
            "fraction above one",
            "guards:\n  max_removed_fraction: 1.5\n",
            "policy.yaml:3:25",
            "must be from 0 to 1",
        ),
        (
            "negative fraction",
            "guards:\n  max_removed_fraction: -0.1\n",
            "policy.yaml:3:25",
            "must be from 0 to 1",
        ),
        (
            "zero owners",
            "guards:\n  min_owners: 0\n",
            "policy.yaml:3:15",
            "must be 1 or more",
        ),
        (
            "text removals",
            "guards:\n  max_removals: many\n",
            "policy.yaml:3:17",
            "invalid",
        ),
        (
            "unknown guard",
            "guards:\n  max_removal: 3\n",
            "policy.yaml:3",
            "max_removal",
        ),
        (
            "list instead of mapping",
            "guards: [3]\n",
            "policy.yaml:2",
            "expected mapping",
        ),
    ];
    for (name, body, place, phrase) in cases {
        let message = match guards(body) {
            Ok(found) => panic!("{name}: accepted as {found:?}"),
            Err(message) => message,
        };
        assert!(message.contains(place), "{name}: no {place} in: {message}");
        assert!(
            message.contains(phrase),
            "{name}: no `{phrase}` in: {message}"
        );
    }
}

#[test]
fn every_guard_problem_is_reported() {
    let message =
        guards("guards:\n  max_removals: -3\n  max_removed_fraction: 2\n  min_owners: 0\n")
            .unwrap_err();
    for guard in ["max_removals", "max_removed_fraction", "min_owners"] {
        assert!(message.contains(guard), "no {guard} in: {message}");
    }
}
