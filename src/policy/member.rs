//! Member syntax: an email, `users/{id}` or `groups/{id}`.

use super::model::Principal;

/// Why a member string was rejected. The caller's message names the value,
/// and `reason` describes what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct InvalidMember {
    /// The kind of value it was read as: "email", "user name", "group name" or "member".
    pub kind: &'static str,
    pub reason: String,
    pub hint: Option<String>,
}

impl InvalidMember {
    fn new(kind: &'static str, reason: impl Into<String>) -> Self {
        Self {
            kind,
            reason: reason.into(),
            hint: None,
        }
    }

    fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

const ACCEPTED_FORMS: &str =
    "write a member as an email (alice@example.com), users/{id} or groups/{id}";

/// Parses one member as written in the policy.
///
/// Emails are lowercased because Google compares them case-insensitively.
/// `users/{email}` is an alias the Chat API accepts, so it resolves to the
/// same [`Principal::Email`] as the bare email.
pub(crate) fn parse_member(text: &str) -> Result<Principal, InvalidMember> {
    if let Some(id) = text.strip_prefix("users/") {
        return parse_user(id);
    }
    if let Some(id) = text.strip_prefix("groups/") {
        return parse_group(id);
    }
    if text.contains('@') {
        return parse_email(text).map(Principal::Email);
    }

    let reason = if text.is_empty() {
        "the value is empty".to_string()
    } else if text.contains('/') {
        "only users/ and groups/ resource names can be members".to_string()
    } else {
        "it is neither an email nor a resource name".to_string()
    };
    Err(InvalidMember::new("member", reason).with_hint(ACCEPTED_FORMS))
}

fn parse_user(id: &str) -> Result<Principal, InvalidMember> {
    if id.is_empty() {
        return Err(
            InvalidMember::new("user name", "the id after users/ is missing").with_hint(
                "write users/{id} with the numeric id from the Admin console, or the email",
            ),
        );
    }
    if id.contains('@') {
        return match parse_email(id) {
            Ok(email) => Ok(Principal::Email(email)),
            Err(invalid) => Err(InvalidMember {
                kind: "user name",
                ..invalid
            }),
        };
    }
    // The API names every user and app `users/{numeric id}`, so any other id
    // could never match a membership and would only fail at apply time.
    if let Some(bad) = id.chars().find(|c| !c.is_ascii_digit()) {
        return Err(
            InvalidMember::new("user name", format!("the id contains {bad:?}")).with_hint(
                "a user id is numeric (users/123456789); name a person by email if you do not know the id",
            ),
        );
    }
    Ok(Principal::User(format!("users/{id}")))
}

fn parse_group(id: &str) -> Result<Principal, InvalidMember> {
    if id.is_empty() {
        return Err(
            InvalidMember::new("group name", "the id after groups/ is missing")
                .with_hint("write groups/{id} with the group's id from the Admin console"),
        );
    }
    if id.contains('@') {
        return Err(
            InvalidMember::new("group name", "the id is an email").with_hint(
                "Chat names a group by its id, not its email: look the id up in the Admin console",
            ),
        );
    }
    if let Some(bad) = id.chars().find(|&c| !is_user_id_char(c)) {
        return Err(
            InvalidMember::new("group name", format!("the id contains {bad:?}"))
                .with_hint("a group id contains only letters, digits and _ . + -"),
        );
    }
    Ok(Principal::Group(format!("groups/{id}")))
}

fn is_user_id_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '@' | '+' | '-')
}

/// Checks the shape of an email and returns it lowercased.
///
/// This is a plausibility check, not RFC 5321: it catches typos (no domain,
/// two `@`, a space, a missing dot) and leaves the rest to Google.
pub(crate) fn parse_email(text: &str) -> Result<String, InvalidMember> {
    let invalid = |reason: &str| Err(InvalidMember::new("email", reason));

    if let Some(bad) = text.chars().find(|&c| c.is_whitespace() || c.is_control()) {
        return invalid(&format!("it contains {bad:?}"));
    }
    if let Some(bad) = text.chars().find(|c| {
        matches!(
            c,
            '<' | '>' | '(' | ')' | '[' | ']' | ',' | ';' | ':' | '\\' | '"'
        )
    }) {
        return invalid(&format!("it contains {bad:?}"));
    }
    let Some((local, domain)) = text.split_once('@') else {
        return invalid("the @ is missing");
    };
    if domain.contains('@') {
        return invalid("it contains more than one @");
    }
    if local.is_empty() {
        return invalid("the part before the @ is missing");
    }
    if domain.is_empty() {
        return invalid("the domain part is missing");
    }
    if !domain.contains('.') {
        return invalid("the domain has no dot");
    }
    if domain.split('.').any(str::is_empty) {
        return invalid("the domain has an empty label");
    }
    if let Some(bad) = domain
        .chars()
        .find(|&c| !(c.is_alphanumeric() || c == '-' || c == '.'))
    {
        return invalid(&format!("the domain contains {bad:?}"));
    }
    if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
        return invalid("the part before the @ has a misplaced dot");
    }
    Ok(text.to_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_is_lowercased() {
        assert_eq!(
            parse_member("Alice.Adams@Example.COM"),
            Ok(Principal::Email("alice.adams@example.com".into()))
        );
    }

    #[test]
    fn user_with_email_is_email() {
        assert_eq!(
            parse_member("users/Bob@Example.com"),
            Ok(Principal::Email("bob@example.com".into()))
        );
    }

    #[test]
    fn user_and_group_names_are_kept() {
        assert_eq!(
            parse_member("users/100000000002"),
            Ok(Principal::User("users/100000000002".into()))
        );
        assert_eq!(
            parse_member("groups/0abc123"),
            Ok(Principal::Group("groups/0abc123".into()))
        );
    }

    #[test]
    fn email_reasons() {
        let cases = [
            ("bob@", "the domain part is missing"),
            ("@example.com", "the part before the @ is missing"),
            ("a@b@example.com", "more than one @"),
            ("bob@example", "the domain has no dot"),
            ("bob@example..com", "empty label"),
            ("bob@.example.com", "empty label"),
            ("bob smith@example.com", "contains ' '"),
            ("bob@exa_mple.com", "the domain contains '_'"),
            ("bob.@example.com", "misplaced dot"),
            ("<bob@example.com>", "contains '<'"),
        ];
        for (text, reason) in cases {
            let error = parse_member(text).expect_err(text);
            assert_eq!(error.kind, "email", "{text}");
            assert!(error.reason.contains(reason), "{text}: {}", error.reason);
        }
    }

    #[test]
    fn other_forms_are_rejected() {
        let cases = [
            ("", "member", "empty"),
            ("bob", "member", "neither"),
            ("spaces/AAA", "member", "only users/ and groups/"),
            ("users/", "user name", "missing"),
            ("users/12 3", "user name", "' '"),
            ("users/12!3", "user name", "'!'"),
            ("groups/", "group name", "missing"),
            ("groups/team@example.com", "group name", "is an email"),
            ("groups/a/b", "group name", "'/'"),
        ];
        for (text, kind, reason) in cases {
            let error = parse_member(text).expect_err(text);
            assert_eq!(error.kind, kind, "{text}");
            assert!(error.reason.contains(reason), "{text}: {}", error.reason);
        }
    }
}
