//! Callers: who a bearer token stands for, and the scope each method needs.
//!
//! A caller is a user (user authentication), an app (app authentication) or
//! an admin user, who may also ask for admin mode with `useAdminAccess=true`.
//! A token listed only under `tokens:` stands for the default caller: a user
//! with every scope, allowed admin mode, who counts as a joined owner of
//! every space. It keeps state files written before callers existed working
//! exactly as before.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::error::ApiError;
use super::server::ApiCall;

/// Prefix of every OAuth scope of the Chat API.
pub const SCOPE_PREFIX: &str = "https://www.googleapis.com/auth/";

/// The kind of caller, which decides how it authenticates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CallerKind {
    /// User authentication, as a person of the organisation.
    User,
    /// App authentication, as a Chat app.
    App,
    /// User authentication, as a Workspace administrator with the Chat
    /// privilege, who may use admin mode.
    Admin,
}

impl CallerKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CallerKind::User => "user",
            CallerKind::App => "app",
            CallerKind::Admin => "admin",
        }
    }
}

/// The caller behind one bearer token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub kind: CallerKind,
    /// The caller's user id (a BOT user for an app); `None` only for the
    /// default caller.
    pub user: Option<String>,
    /// Scopes without the `https://www.googleapis.com/auth/` prefix.
    pub scopes: BTreeSet<String>,
}

impl Caller {
    /// The caller of a token listed only under `tokens:`.
    pub fn default_caller() -> Caller {
        Caller {
            kind: CallerKind::Admin,
            user: None,
            scopes: ALL_SCOPES.iter().map(|scope| scope.to_string()).collect(),
        }
    }

    /// Whether this is the default caller, who is a member and owner of
    /// every space.
    pub fn is_default(&self) -> bool {
        self.user.is_none()
    }

    fn has_any(&self, scopes: &[&str]) -> bool {
        scopes.iter().any(|scope| self.scopes.contains(*scope))
    }

    /// Checks the caller's kind and scopes for a call. `admin_mode` is the
    /// request's `useAdminAccess`.
    pub(crate) fn authorize(&self, call: &ApiCall, admin_mode: bool) -> Result<(), ApiError> {
        let method = call.method_name();
        if admin_mode {
            if self.kind != CallerKind::Admin {
                return Err(ApiError::permission_denied(format!(
                    "useAdminAccess=true needs an administrator with the Chat privilege; this token is a {} caller",
                    self.kind.as_str()
                )));
            }
            if !self
                .scopes
                .iter()
                .any(|scope| scope.starts_with("chat.admin."))
            {
                return Err(ApiError::permission_denied(format!(
                    "useAdminAccess=true needs a chat.admin.* scope; the token has none ({method})"
                )));
            }
        }
        let accepted = needed_scopes(call, self.kind, admin_mode);
        if self.has_any(accepted) {
            return Ok(());
        }
        let named: Vec<String> = accepted
            .iter()
            .map(|s| format!("{SCOPE_PREFIX}{s}"))
            .collect();
        Err(ApiError::permission_denied(format!(
            "request had insufficient authentication scopes: {method} needs {}",
            named.join(" or ")
        )))
    }
}

/// Every scope the emulator recognises. The default caller has them all.
pub const ALL_SCOPES: [&str; 13] = [
    "chat.memberships",
    "chat.memberships.readonly",
    "chat.memberships.app",
    "chat.spaces",
    "chat.spaces.readonly",
    "chat.bot",
    "chat.app.memberships",
    "chat.app.spaces",
    "chat.admin.memberships",
    "chat.admin.memberships.readonly",
    "chat.admin.spaces",
    "chat.admin.spaces.readonly",
    "chat.import",
];

/// The scopes, any one of which allows the call.
fn needed_scopes(call: &ApiCall, kind: CallerKind, admin_mode: bool) -> &'static [&'static str] {
    let read_members = matches!(
        call,
        ApiCall::MembersList { .. } | ApiCall::MembersGet { .. }
    );
    let write_members = matches!(
        call,
        ApiCall::MembersCreate { .. }
            | ApiCall::MembersPatch { .. }
            | ApiCall::MembersDelete { .. }
    );
    match (kind, admin_mode) {
        (_, true) if read_members => &["chat.admin.memberships", "chat.admin.memberships.readonly"],
        (_, true) if write_members => &["chat.admin.memberships"],
        (_, true) => &["chat.admin.spaces", "chat.admin.spaces.readonly"],
        (CallerKind::App, false) if read_members => &["chat.bot", "chat.app.memberships"],
        (CallerKind::App, false) if write_members => &["chat.app.memberships"],
        (CallerKind::App, false) => &["chat.bot", "chat.app.spaces"],
        (_, false) if read_members => &["chat.memberships", "chat.memberships.readonly"],
        (_, false) if write_members => &["chat.memberships"],
        (_, false) => &["chat.spaces", "chat.spaces.readonly"],
    }
}

/// Strips the scope prefix, so the state file may use either form.
pub(crate) fn short_scope(scope: &str) -> &str {
    scope.strip_prefix(SCOPE_PREFIX).unwrap_or(scope)
}
