//! `offboard` entries with a `scope`: the mapping form, its checks, and the
//! resolved `offboard_all_spaces` list.

use chat_reconcile::policy::{self, Principal};

fn email(text: &str) -> Principal {
    Principal::Email(text.to_string())
}

#[test]
fn scope_all_spaces_resolved() {
    let text = "version: 1\noffboard:\n  - erin@example.com\n  - {member: Dave@Example.com, scope: all-spaces}\n  - {member: frank@example.com, scope: named-spaces}\n";
    let policy = policy::parse(text, "p.yaml").unwrap();
    assert_eq!(
        policy.offboard,
        [
            email("erin@example.com"),
            email("dave@example.com"),
            email("frank@example.com")
        ]
    );
    assert_eq!(policy.offboard_all_spaces, [email("dave@example.com")]);
}

#[test]
fn scope_errors_reported() {
    let cases = [
        (
            "  - {member: dave@example.com, scope: everywhere}\n",
            "everywhere",
        ),
        (
            "  - {member: dave@example.com, reach: all-spaces}\n",
            "reach",
        ),
        ("  - {scope: all-spaces}\n", "member"),
    ];
    for (entry, expected) in cases {
        let text = format!("version: 1\noffboard:\n{entry}");
        let error = policy::parse(&text, "p.yaml").unwrap_err().to_string();
        assert!(error.contains(expected), "{entry}: {error}");
        assert!(error.contains("p.yaml:3"), "{entry}: {error}");
    }
}

#[test]
fn scope_entry_member_checked() {
    let text = "version: 1\noffboard:\n  - {member: not-an-email, scope: all-spaces}\nprotect: [carol@example.com]\n";
    let error = policy::parse(text, "p.yaml").unwrap_err().to_string();
    assert!(error.contains("p.yaml:3:14"), "{error}");
    assert!(error.contains("not-an-email"), "{error}");
}
