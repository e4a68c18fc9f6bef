//! Errors in a policy file, each with the place it was found.

use std::fmt;

/// A line and column in the policy file, both counted from 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Position {
    pub line: u64,
    pub column: u64,
}

impl From<serde_saphyr::Location> for Position {
    fn from(location: serde_saphyr::Location) -> Self {
        Self {
            line: location.line(),
            column: location.column(),
        }
    }
}

/// One problem found in a policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyIssue {
    /// The file name, or whatever the caller of [`super::parse`] named the text.
    pub origin: String,
    /// The problem's line and column, absent when the file could not be read at all.
    pub position: Option<Position>,
    /// The problem and the value it concerns.
    pub message: String,
    /// The next step for the operator, when the message alone leaves it unclear.
    pub hint: Option<String>,
}

impl PolicyIssue {
    /// Returns `file:line:column`, or only the file name when the position is unknown.
    pub fn location(&self) -> String {
        match self.position {
            Some(position) => format!("{}:{}:{}", self.origin, position.line, position.column),
            None => self.origin.clone(),
        }
    }
}

impl fmt::Display for PolicyIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.location(), self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, "\n  hint: {hint}")?;
        }
        Ok(())
    }
}

/// An invalid policy: every problem found, in file order.
///
/// A syntax error stops parsing, so it comes alone. Once the file parses,
/// all validation problems are collected and reported together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError {
    issues: Vec<PolicyIssue>,
}

impl PolicyError {
    /// Builds an error from at least one issue, sorted by position.
    pub(crate) fn new(mut issues: Vec<PolicyIssue>) -> Self {
        debug_assert!(!issues.is_empty(), "a policy error needs an issue");
        issues.sort_by_key(|issue| issue.position);
        Self { issues }
    }

    /// Returns the problems found, in file order.
    pub fn issues(&self) -> &[PolicyIssue] {
        &self.issues
    }
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, issue) in self.issues.iter().enumerate() {
            if index > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{issue}")?;
        }
        Ok(())
    }
}

impl std::error::Error for PolicyError {}

/// Collects issues found in one policy text.
pub(crate) struct Issues {
    origin: String,
    found: Vec<PolicyIssue>,
}

impl Issues {
    pub(crate) fn new(origin: &str) -> Self {
        Self {
            origin: origin.to_string(),
            found: Vec::new(),
        }
    }

    /// Formats `position` as `file:line:column`.
    pub(crate) fn locate(&self, position: Position) -> String {
        format!("{}:{}:{}", self.origin, position.line, position.column)
    }

    pub(crate) fn push(
        &mut self,
        position: Option<Position>,
        message: String,
        hint: Option<String>,
    ) {
        self.found.push(PolicyIssue {
            origin: self.origin.clone(),
            position,
            message,
            hint,
        });
    }

    /// Returns `Ok(value)` when nothing was found, else every issue.
    pub(crate) fn into_result<T>(self, value: T) -> Result<T, PolicyError> {
        if self.found.is_empty() {
            Ok(value)
        } else {
            Err(PolicyError::new(self.found))
        }
    }
}
