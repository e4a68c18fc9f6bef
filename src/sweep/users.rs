//! The `--users-file` format: one email per line; blank lines and text
//! after `#` are ignored.

use std::fmt;

use crate::policy::member::parse_email;

/// Every invalid line of a user list, each as `origin:line: message`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct UserListError {
    pub problems: Vec<String>,
}

impl fmt::Display for UserListError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.problems.join("\n"))
    }
}

/// Parses a user list into lowercased emails, in file order, without
/// repeats. `origin` names the file in messages.
///
/// # Errors
///
/// Lists every line that is not a valid email, and every repeated email,
/// with its line number.
pub fn parse_user_list(text: &str, origin: &str) -> Result<Vec<String>, UserListError> {
    let mut emails: Vec<String> = Vec::new();
    let mut problems = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        let entry = line
            .split_once('#')
            .map_or(line, |(before, _)| before)
            .trim();
        if entry.is_empty() {
            continue;
        }
        match parse_email(entry) {
            Ok(email) if emails.contains(&email) => {
                problems.push(format!("{origin}:{number}: {email} is listed twice"));
            }
            Ok(email) => emails.push(email),
            Err(invalid) => problems.push(format!(
                "{origin}:{number}: invalid email {entry:?}: {}",
                invalid.reason
            )),
        }
    }
    if problems.is_empty() {
        Ok(emails)
    } else {
        Err(UserListError { problems })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_and_blank_lines_ignored() {
        let text = "# leavers, March\n\nDave@Example.com\n  erin@example.com  # last day Friday\n";
        assert_eq!(
            parse_user_list(text, "users.txt").unwrap(),
            ["dave@example.com", "erin@example.com"]
        );
    }

    #[test]
    fn invalid_lines_reported_with_line_numbers() {
        let text = "dave@example.com\nnot-an-email\n\nerin@@example.com\nDAVE@example.com\n";
        let error = parse_user_list(text, "users.txt").unwrap_err();
        assert_eq!(error.problems.len(), 3, "{error}");
        assert!(error.problems[0].starts_with("users.txt:2: invalid email \"not-an-email\""));
        assert!(error.problems[1].starts_with("users.txt:4: invalid email"));
        assert_eq!(
            error.problems[2],
            "users.txt:5: dave@example.com is listed twice"
        );
    }

    #[test]
    fn empty_list_is_valid() {
        assert_eq!(
            parse_user_list("# nobody\n", "u").unwrap(),
            Vec::<String>::new()
        );
    }
}
