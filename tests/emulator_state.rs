//! Validation of the emulator's YAML state file.

mod emulator_support;

use chat_reconcile::emulator::EmulatorState;

/// Wraps `users`, `groups` and `spaces` sections in a state with a token.
fn state(body: &str) -> String {
    format!("tokens: [t]\n{body}")
}

fn error_of(yaml: &str) -> String {
    match EmulatorState::parse(yaml) {
        Ok(_) => panic!("expected an error for:\n{yaml}"),
        Err(error) => format!("{error:#}"),
    }
}

#[test]
fn fixture_state_parses() {
    let parsed = EmulatorState::parse(emulator_support::STATE).unwrap();
    assert_eq!(parsed.tokens(), ["test-token", "second-token"]);
}

#[test]
fn invalid_states_named() {
    let alice = "users:\n  - {id: \"1\", email: a@example.com}\n";
    let cases: Vec<(String, &str)> = vec![
        (
            "users: []\n".into(),
            "`tokens`, `callers`, `service_accounts` and `oauth_clients` are all empty",
        ),
        (
            "tokens: []\n".into(),
            "`tokens`, `callers`, `service_accounts` and `oauth_clients` are all empty",
        ),
        ("tokens: [\"a b\"]\n".into(), "no whitespace"),
        (state("colour: blue\n"), "colour"),
        (state("show_emails: yes\n"), "show_emails"),
        (
            state("users:\n  - {id: \"1\", email: a@example.com, nickname: A}\n"),
            "nickname",
        ),
        (
            state("users:\n  - {id: \"1\", email: a@example.com, type: ROBOT}\n"),
            "ROBOT",
        ),
        (
            state("users:\n  - {id: \"1\", email: a@example.com, affiliation: GUEST}\n"),
            "GUEST",
        ),
        (
            state("users:\n  - {id: \"1\", email: a@example.com, auto_accept: no}\n"),
            "auto_accept",
        ),
        (
            state("users:\n  - {id: \"u1\", email: a@example.com}\n"),
            "user id \"u1\" must be digits only",
        ),
        (
            state("users:\n  - {id: \"1\", email: not-an-email}\n"),
            "invalid email \"not-an-email\"",
        ),
        (
            state(
                "users:\n  - {id: \"1\", email: a@example.com}\n  - {id: \"1\", email: b@example.com}\n",
            ),
            "line 4: duplicate user id \"1\"",
        ),
        (
            state(
                "users:\n  - {id: \"1\", email: a@example.com}\n  - {id: \"2\", email: A@Example.com}\n",
            ),
            "duplicate user email \"A@Example.com\"",
        ),
        (
            state("groups:\n  - id: g1\n  - id: g1\n"),
            "duplicate group id \"g1\"",
        ),
        (state("groups:\n  - id: \"g-1\"\n"), "letters and digits"),
        (
            state(&format!("{alice}groups:\n  - id: \"1\"\n")),
            "is also a user id",
        ),
        (
            state(
                "spaces:\n  - {name: spaces/A, type: SPACE}\n  - {name: spaces/A, type: SPACE}\n",
            ),
            "duplicate space spaces/A",
        ),
        (
            state("spaces:\n  - {name: rooms/A, type: SPACE}\n"),
            "space name \"rooms/A\"",
        ),
        (state("spaces:\n  - {name: spaces/A, type: ROOM}\n"), "ROOM"),
        (
            state("spaces:\n  - {name: spaces/A, type: SPACE, create_time: yesterday}\n"),
            "invalid timestamp \"yesterday\"",
        ),
        (
            state(
                "spaces:\n  - name: spaces/A\n    type: SPACE\n    memberships:\n      - {user: \"7\"}\n",
            ),
            "line 6: spaces/A: user \"7\" is not listed under `users`",
        ),
        (
            state(
                "spaces:\n  - name: spaces/A\n    type: SPACE\n    memberships:\n      - {group: g9}\n",
            ),
            "spaces/A: group \"g9\" is not listed under `groups`",
        ),
        (
            state(&format!(
                "{alice}spaces:\n  - name: spaces/A\n    type: SPACE\n    memberships:\n      - {{user: \"1\", role: OWNER}}\n"
            )),
            "OWNER",
        ),
        (
            state(&format!(
                "{alice}spaces:\n  - name: spaces/A\n    type: GROUP_CHAT\n    memberships:\n      - {{user: \"1\", role: ROLE_MANAGER}}\n"
            )),
            "role ROLE_MANAGER is not possible in a GROUP_CHAT",
        ),
        (
            state(&format!(
                "{alice}spaces:\n  - name: spaces/A\n    type: SPACE\n    memberships:\n      - {{user: \"1\", role: ROLE_MANAGER, state: INVITED}}\n"
            )),
            "invited user \"1\" must have role ROLE_MEMBER",
        ),
        (
            state(&format!(
                "{alice}spaces:\n  - name: spaces/A\n    type: SPACE\n    memberships:\n      - {{user: \"1\"}}\n      - {{user: \"1\"}}\n"
            )),
            "spaces/A: member \"1\" is listed twice",
        ),
        (
            state(&format!(
                "{alice}spaces:\n  - name: spaces/A\n    type: SPACE\n    memberships:\n      - {{user: \"1\", group: g1}}\n"
            )),
            "exactly one of `user` or `group`",
        ),
        (
            state(
                "groups:\n  - id: g1\nspaces:\n  - name: spaces/A\n    type: SPACE\n    memberships:\n      - {group: g1, role: ROLE_MEMBER}\n",
            ),
            "group \"g1\" cannot have a role",
        ),
    ];
    for (yaml, expected) in cases {
        let error = error_of(&yaml);
        assert!(
            error.contains(expected),
            "error for\n{yaml}\nwas\n{error}\nexpected it to contain {expected:?}"
        );
    }
}

#[test]
fn every_problem_reported() {
    let yaml = state("users:\n  - {id: \"x\", email: nope}\n");
    let error = error_of(&yaml);
    assert!(error.contains("user id \"x\""), "{error}");
    assert!(error.contains("invalid email \"nope\""), "{error}");
}

#[test]
fn load_names_the_file() {
    let directory = std::env::temp_dir().join(format!(
        "chat-reconcile-emulator-state-{}",
        std::process::id()
    ));
    std::fs::create_dir_all(&directory).unwrap();

    let good = directory.join("good.yaml");
    std::fs::write(&good, emulator_support::STATE).unwrap();
    let loaded = EmulatorState::load(&good).unwrap();
    assert_eq!(loaded.tokens()[0], "test-token");

    let bad = directory.join("bad.yaml");
    std::fs::write(&bad, "tokens: [t]\nspaces: 3\n").unwrap();
    let error = format!("{:#}", EmulatorState::load(&bad).err().unwrap());
    assert!(error.contains("bad.yaml"), "{error}");

    let missing = directory.join("missing.yaml");
    let error = format!("{:#}", EmulatorState::load(&missing).err().unwrap());
    assert!(error.contains("cannot read emulator state file"), "{error}");
    assert!(error.contains("missing.yaml"), "{error}");

    std::fs::remove_dir_all(&directory).unwrap();
}
