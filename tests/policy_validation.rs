//! Malformed policies: each must be rejected with the right position and a
//! message that names the problem.

use std::path::PathBuf;

use chat_reconcile::policy::{self, PolicyError};

const ORIGIN: &str = "policies/test.yaml";

/// One malformed policy and what its error must contain.
struct Case {
    name: &'static str,
    yaml: String,
    /// `line:column` of the issue.
    at: &'static str,
    /// A phrase the reported problem's message or hint must contain.
    phrase: &'static str,
}

fn case(name: &'static str, yaml: &str, at: &'static str, phrase: &'static str) -> Case {
    Case {
        name,
        yaml: yaml.to_string(),
        at,
        phrase,
    }
}

/// Prefixes `body` with a valid version line, so that the case fails only
/// on what it is about.
fn v1(body: &str) -> String {
    format!("version: 1\n{body}")
}

fn cases() -> Vec<Case> {
    let mut cases = vec![
        // Empty or not a mapping.
        case("empty text", "", "1:1", "the policy is empty"),
        case(
            "only comments",
            "# nothing yet\n\n",
            "1:1",
            "the policy is empty",
        ),
        case("only null", "~\n", "1:1", "the policy is empty"),
        case(
            "root is a list",
            "- version: 1\n",
            "1:1",
            "the policy is a list",
        ),
        case(
            "root is a string",
            "hello\n",
            "1:1",
            "the policy is a string",
        ),
        case(
            "root is a number",
            "\n\n42\n",
            "3:1",
            "the policy is a number",
        ),
        // Version.
        case(
            "missing version",
            "spaces: []\n",
            "1:1",
            "missing `version`",
        ),
        case(
            "missing version after comment",
            "# header\nprotect: []\n",
            "2:1",
            "add `version: 1`",
        ),
        case(
            "version 2",
            "version: 2\n",
            "1:10",
            "unsupported policy version 2",
        ),
        case("version 0", "version: 0\n", "1:10", "reads version 1"),
        case(
            "version is a word",
            "version: one\n",
            "1:10",
            "unsupported policy version \"one\"",
        ),
        case(
            "version is quoted",
            "version: \"1\"\n",
            "1:10",
            "(a number)",
        ),
        case(
            "version is a fraction",
            "version: 1.5\n",
            "1:10",
            "version 1.5",
        ),
        case(
            "version is a list",
            "version: [1]\n",
            "1:10",
            "version [...]",
        ),
        // Unknown keys, at each level.
        case(
            "unknown top key",
            &v1("bogus: 2\n"),
            "2:1",
            "unknown field `bogus`",
        ),
        case(
            "misspelled top key",
            &v1("offbaord: [a@example.com]\n"),
            "2:1",
            "unknown field `offbaord`",
        ),
        case(
            "unknown space key",
            &v1("spaces:\n  - space: spaces/A\n    ownrs: [a@example.com]\n"),
            "4:5",
            "unknown field `ownrs`",
        ),
        case(
            "mapping as member",
            &v1("spaces:\n  - space: spaces/A\n    owners:\n      - email: a@example.com\n"),
            "5:9",
            "expected",
        ),
        // Duplicate keys.
        case(
            "duplicate version key",
            "version: 1\nversion: 1\n",
            "2:1",
            "duplicate mapping key",
        ),
        case(
            "duplicate space key",
            &v1(
                "spaces:\n  - space: spaces/A\n    owners: [a@example.com]\n    owners: [b@example.com]\n",
            ),
            "5:5",
            "duplicate mapping key",
        ),
        // YAML syntax.
        case(
            "unclosed bracket",
            &v1("spaces:\n  - space: spaces/A\n    owners: [a@example.com\n"),
            "4:13",
            "unclosed",
        ),
        case(
            "unclosed quote",
            &v1("protect: [\"a@example.com]\n"),
            "2:11",
            "unclosed quote",
        ),
        case(
            "tab indentation",
            "version: 1\n\tspaces: []\n",
            "1:10",
            "tab",
        ),
        case(
            "two documents",
            "version: 1\n---\nversion: 1\n",
            "3:1",
            "one policy in each file",
        ),
        // Wrong types.
        case(
            "spaces is a mapping",
            &v1("spaces: {a: 1}\n"),
            "2:9",
            "takes a list",
        ),
        case(
            "space entry is a string",
            &v1("spaces: [spaces/A]\n"),
            "2:10",
            "mapping",
        ),
        case(
            "owners is null",
            &v1("spaces:\n  - space: spaces/A\n    owners: ~\n"),
            "4:13",
            "takes a list",
        ),
        case(
            "nested list member",
            &v1("protect: [a@example.com, [b@example.com]]\n"),
            "2:26",
            "expected",
        ),
        case(
            "display name is a list",
            &v1("spaces:\n  - space: spaces/A\n    display_name: [Eng]\n"),
            "4:19",
            "expected",
        ),
        case(
            "unknown mode",
            &v1("spaces:\n  - space: spaces/A\n    mode: replace\n"),
            "4:11",
            "unknown variant `replace`",
        ),
        case(
            "fallback is yes",
            &v1("successor_fallback: yes\n"),
            "2:21",
            "expected one of none, longest-standing",
        ),
        case(
            "missing space name",
            &v1("spaces:\n  - display_name: Eng\n"),
            "3:5",
            "missing field `space`",
        ),
        // Space names.
        case(
            "space without prefix",
            &v1("spaces:\n  - space: AAAAeng\n"),
            "3:12",
            "does not start with spaces/",
        ),
        case(
            "space with empty id",
            &v1("spaces:\n  - space: spaces/\n"),
            "3:12",
            "the id after spaces/ is missing",
        ),
        case(
            "space id with slash",
            &v1("spaces:\n  - space: spaces/AAA/members\n"),
            "3:12",
            "the id contains '/'",
        ),
        case(
            "duplicate spaces",
            &v1("spaces:\n  - space: spaces/A\n  - space: spaces/B\n  - space: spaces/A\n"),
            "5:5",
            "duplicate space spaces/A: it is also listed at policies/test.yaml:3:5",
        ),
        // Emails and resource names.
        case(
            "email without domain",
            &v1("spaces:\n  - space: spaces/AAA\n    owners: [bob@]\n"),
            "4:14",
            "invalid email \"bob@\" in spaces/AAA owners: the domain part is missing",
        ),
        case(
            "email without local part",
            &v1("protect: [\"@example.com\"]\n"),
            "2:11",
            "the part before the @ is missing",
        ),
        case(
            "email with two ats",
            &v1("offboard: [a@b@example.com]\n"),
            "2:12",
            "more than one @",
        ),
        case(
            "email without dot",
            &v1("successors: [admin@localhost]\n"),
            "2:14",
            "no dot",
        ),
        case(
            "email with space",
            &v1("protect: [\"bob smith@example.com\"]\n"),
            "2:11",
            "contains ' '",
        ),
        case(
            "bare word member",
            &v1("protect: [bob]\n"),
            "2:11",
            "users/{id} or groups/{id}",
        ),
        case(
            "empty member",
            &v1("protect: [\"\"]\n"),
            "2:11",
            "the value is empty",
        ),
        case(
            "space as member",
            &v1("protect: [spaces/AAA]\n"),
            "2:11",
            "only users/ and groups/",
        ),
        case(
            "empty user id",
            &v1("protect: [users/]\n"),
            "2:11",
            "the id after users/ is missing",
        ),
        case(
            "user id with bang",
            &v1("protect: [users/12!3]\n"),
            "2:11",
            "the id contains '!'",
        ),
        case(
            "non-numeric user id",
            &v1("protect: [users/abc]\n"),
            "2:11",
            "a user id is numeric",
        ),
        case(
            "empty group id",
            &v1("protect: [groups/]\n"),
            "2:11",
            "the id after groups/ is missing",
        ),
        case(
            "group named by email",
            &v1("protect: [groups/team@example.com]\n"),
            "2:11",
            "not its email",
        ),
        case(
            "bad email as user name",
            &v1("protect: [users/bob@]\n"),
            "2:11",
            "invalid user name \"users/bob@\"",
        ),
        // Roles.
        case(
            "owner and member",
            &v1(
                "spaces:\n  - space: spaces/A\n    owners: [a@example.com]\n    members: [a@example.com]\n",
            ),
            "5:15",
            "two roles in spaces/A: owner (policies/test.yaml:4:14) and member",
        ),
        case(
            "roles differ in case",
            &v1(
                "spaces:\n  - space: spaces/A\n    managers: [Alice@Example.com]\n    members: [alice@example.com]\n",
            ),
            "5:15",
            "alice@example.com has two roles",
        ),
        case(
            "user alias and email",
            &v1(
                "spaces:\n  - space: spaces/A\n    owners: [users/alice@example.com]\n    managers: [alice@example.com]\n",
            ),
            "5:16",
            "two roles",
        ),
        case(
            "member twice in list",
            &v1(
                "spaces:\n  - space: spaces/A\n    members:\n      - b@example.com\n      - B@example.com\n",
            ),
            "6:9",
            "b@example.com is listed twice in spaces/A members (first at policies/test.yaml:5:9)",
        ),
        case(
            "keep and owners",
            &v1(
                "spaces:\n  - space: spaces/A\n    owners: [a@example.com]\n    keep: [a@example.com]\n",
            ),
            "5:12",
            "keep leaves a member as it is",
        ),
        case(
            "group as owner",
            &v1("spaces:\n  - space: spaces/A\n    owners: [groups/eng]\n"),
            "4:14",
            "group groups/eng in spaces/A owners cannot be an owner",
        ),
        case(
            "group as manager",
            &v1("spaces:\n  - space: spaces/A\n    managers: [groups/eng]\n"),
            "4:16",
            "cannot be a manager",
        ),
        case(
            "group as successor",
            &v1("spaces:\n  - space: spaces/A\n    successors: [groups/eng]\n"),
            "4:18",
            "cannot be a successor",
        ),
        // Offboarding.
        case(
            "offboarded member listed",
            &v1(
                "offboard: [dave@example.com]\nspaces:\n  - space: spaces/A\n    members: [Dave@example.com]\n",
            ),
            "5:15",
            "dave@example.com is offboarded (policies/test.yaml:2:12) but listed in spaces/A members",
        ),
        case(
            "offboarded owner listed",
            &v1("offboard: [users/42]\nspaces:\n  - space: spaces/A\n    owners: [users/42]\n"),
            "5:14",
            "is offboarded",
        ),
        case(
            "offboarded space successor",
            &v1(
                "offboard: [dave@example.com]\nspaces:\n  - space: spaces/A\n    successors: [dave@example.com]\n",
            ),
            "5:18",
            "listed in spaces/A successors",
        ),
        case(
            "offboarded global successor",
            &v1("offboard: [dave@example.com]\nsuccessors: [dave@example.com]\n"),
            "3:14",
            "listed in successors",
        ),
        case(
            "protected and offboarded",
            &v1("protect: [ceo@example.com]\noffboard: [CEO@example.com]\n"),
            "3:12",
            "ceo@example.com is in both protect (policies/test.yaml:2:11) and offboard",
        ),
    ];

    // Nesting far past the parser's depth budget, in the one place where
    // the policy accepts any value (a root that is not a mapping).
    let depth = 5_000;
    cases.push(Case {
        name: "deep nesting",
        yaml: format!("{}{}\n", "[".repeat(depth), "]".repeat(depth)),
        at: "1:17",
        phrase: "it nests more than 16 levels deep",
    });
    cases.push(Case {
        name: "deep block nesting",
        yaml: format!("{}x\n", "- ".repeat(depth)),
        at: "1:33",
        phrase: "it nests 17 levels deep",
    });

    // A billion-laughs document: each level repeats the previous one ten
    // times, so expanding it would take 10^9 nodes.
    let mut bomb = String::from("- &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for level in 1..9 {
        let previous = format!("*a{}", level - 1);
        let items = [previous.as_str(); 10].join(", ");
        bomb.push_str(&format!("- &a{level} [{items}]\n"));
    }
    cases.push(Case {
        name: "alias bomb",
        yaml: bomb,
        at: "6:18",
        phrase: "too large or too complex",
    });

    // Many aliases of one space entry, where the policy's own types apply.
    let mut flood = v1("spaces:\n  - &s {space: spaces/A, members: [a@example.com]}\n");
    for _ in 0..20_000 {
        flood.push_str("  - *s\n");
    }
    cases.push(Case {
        name: "alias flood",
        yaml: flood,
        at: "10004:5",
        phrase: "it uses 10001 aliases",
    });
    cases
}

/// Returns a description of the issue at `at` that contains `phrase`, or
/// why none matched.
fn check(error: &PolicyError, at: &str, phrase: &str) -> Result<(), String> {
    let wanted = format!("{ORIGIN}:{at}");
    let at_position: Vec<String> = error
        .issues()
        .iter()
        .filter(|issue| issue.location() == wanted)
        .map(ToString::to_string)
        .collect();
    if at_position.is_empty() {
        return Err(format!("no issue at {wanted}"));
    }
    if !at_position.iter().any(|issue| issue.contains(phrase)) {
        return Err(format!("no issue at {wanted} contains {phrase:?}"));
    }
    Ok(())
}

#[test]
fn malformed_policies_are_rejected() {
    let cases = cases();
    assert!(cases.len() >= 40, "only {} cases", cases.len());

    let mut failures = Vec::new();
    for case in &cases {
        match policy::parse(&case.yaml, ORIGIN) {
            Ok(_) => failures.push(format!("{}: accepted", case.name)),
            Err(error) => {
                if let Err(problem) = check(&error, case.at, case.phrase) {
                    failures.push(format!("{}: {problem}; got:\n{error}", case.name));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn every_issue_is_reported() {
    let yaml = "version: 1
offboard: [dave@example.com]
spaces:
  - space: spaces/A
    owners: [bob@, groups/eng]
    members: [dave@example.com]
  - space: nope
  - space: spaces/A
";
    let error = policy::parse(yaml, ORIGIN).expect_err("four problems");
    let locations: Vec<String> = error
        .issues()
        .iter()
        .map(|issue| issue.location())
        .collect();
    assert_eq!(
        locations,
        [
            "policies/test.yaml:5:14",
            "policies/test.yaml:5:20",
            "policies/test.yaml:6:15",
            "policies/test.yaml:7:12",
            "policies/test.yaml:8:5",
        ]
    );

    let text = error.to_string();
    let first_lines: Vec<&str> = text
        .lines()
        .filter(|line| !line.starts_with("  hint: "))
        .collect();
    assert_eq!(first_lines.len(), 5, "{text}");
    assert!(
        first_lines
            .iter()
            .all(|line| line.starts_with("policies/test.yaml:")),
        "{text}"
    );
}

#[test]
fn issue_display_has_hint() {
    let error = policy::parse("version: 3\n", ORIGIN).expect_err("bad version");
    assert_eq!(
        error.to_string(),
        "policies/test.yaml:1:10: unsupported policy version 3: this chat-reconcile reads version 1\n  \
         hint: write `version: 1` (a number), or use the chat-reconcile release that wrote this policy"
    );
}

#[test]
fn control_characters_are_escaped() {
    let error =
        policy::parse("version: 1\n\"bad\\e[2Jkey\": 1\n", ORIGIN).expect_err("unknown key");
    let text = error.to_string();
    assert!(!text.contains('\u{1b}'), "{text:?}");
    assert!(text.contains("unknown field"), "{text}");
}

fn scratch_file(name: &str, bytes: &[u8]) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    std::fs::write(&path, bytes).expect("write scratch policy");
    path
}

#[test]
fn load_rejects_binary_data() {
    let path = scratch_file("policy-binary.yaml", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR");
    let error = policy::load(&path).expect_err("binary file");
    let issue = &error.issues()[0];
    assert_eq!(issue.location(), format!("{}:1:1", path.display()));
    assert!(
        issue.message.contains("not UTF-8 text: invalid byte 0x89"),
        "{error}"
    );
}

#[test]
fn load_names_invalid_utf8_position() {
    let path = scratch_file(
        "policy-latin1.yaml",
        b"version: 1\nprotect: [jos\xe9@example.com]\n",
    );
    let error = policy::load(&path).expect_err("latin-1 byte");
    assert_eq!(
        error.issues()[0].location(),
        format!("{}:2:14", path.display())
    );
    assert!(error.to_string().contains("invalid byte 0xE9"), "{error}");
}

#[test]
fn load_rejects_nul_bytes() {
    let path = scratch_file(
        "policy-nul.yaml",
        b"version: 1\nspaces: []\n\x00\x00\x00\x00",
    );
    let error = policy::load(&path).expect_err("NUL bytes");
    assert_eq!(
        error.issues()[0].location(),
        format!("{}:3:1", path.display())
    );
}

#[test]
fn load_reports_missing_file() {
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("no-such-policy.yaml");
    let error = policy::load(&path).expect_err("missing file");
    let text = error.to_string();
    assert!(
        text.starts_with(&format!("{}: failed to read the policy: ", path.display())),
        "{text}"
    );
}

#[test]
fn load_rejects_oversized_file() {
    let mut text = v1("spaces: []\n");
    while text.len() <= 16 * 1024 * 1024 {
        text.push_str("# padding padding padding padding padding padding padding padding\n");
    }
    let path = scratch_file("policy-oversized.yaml", text.as_bytes());
    let error = policy::load(&path).expect_err("oversized file");
    assert!(error.to_string().contains("larger than 16 MiB"), "{error}");

    let error = policy::parse(&text, ORIGIN).expect_err("oversized text");
    assert!(error.to_string().contains("larger than 16 MiB"), "{error}");
}

#[test]
fn ten_megabyte_policy_parses() {
    let mut text = v1("spaces:\n");
    let mut space = 0;
    while text.len() < 10 * 1024 * 1024 {
        text.push_str(&format!(
            "  - space: spaces/S{space:06}\n    owners: [owner{space}@example.com]\n    members:\n"
        ));
        for member in 0..50 {
            text.push_str(&format!(
                "      - user{member}.in.space{space}@example.com\n"
            ));
        }
        space += 1;
    }
    let policy = policy::parse(&text, ORIGIN).expect("a large valid policy parses");
    assert_eq!(policy.spaces.len(), space);
    assert_eq!(policy.spaces[0].members.len(), 51);
}
