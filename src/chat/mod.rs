//! Typed client for the Google Chat API methods the job uses.
//!
//! One function per API method, one HTTP attempt per call; paging is handled
//! inside the list functions. Retries belong to the caller (see [`retry`]),
//! so that the engine can report each retry as an event.

pub mod auth;
pub mod error;
pub mod model;
pub mod retry;

use std::sync::Arc;
use std::time::Duration;

use url::Url;

pub use error::ChatError;
use model::{Membership, MembershipRole, Space};

/// Options shared by every request of a client.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Sends `useAdminAccess=true` on every call that takes it.
    pub use_admin_access: bool,
    /// Timeout of one HTTP request, from connect to the end of the body.
    pub request_timeout: Duration,
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self {
            use_admin_access: false,
            request_timeout: Duration::from_secs(30),
        }
    }
}

/// Which memberships `spaces.members.list` returns.
#[derive(Debug, Clone, Default)]
pub struct ListMembersOptions {
    pub show_groups: bool,
    pub show_invited: bool,
    /// A filter in the documented grammar, sent as given.
    pub filter: Option<String>,
}

/// Client for one endpoint and one token provider. Cheap to clone.
#[derive(Clone)]
pub struct ChatClient {
    _inner: Arc<()>,
}

impl ChatClient {
    /// Builds a client for `endpoint` (for Google, `https://chat.googleapis.com`).
    ///
    /// Fails with [`ChatError::InsecureEndpoint`] when the endpoint is plain
    /// `http://` on a host that is not loopback, since the bearer token would
    /// travel in clear text.
    pub fn new(
        _endpoint: &Url,
        _tokens: Arc<dyn auth::TokenProvider>,
        _options: ClientOptions,
    ) -> Result<Self, ChatError> {
        todo!()
    }

    /// `spaces.list`, every page.
    pub async fn list_spaces(&self) -> Result<Vec<Space>, ChatError> {
        todo!()
    }

    /// `spaces.get` on `spaces/{id}`.
    pub async fn get_space(&self, _space: &str) -> Result<Space, ChatError> {
        todo!()
    }

    /// `spaces.members.list` on `spaces/{id}`, every page, `pageSize=1000`.
    pub async fn list_members(
        &self,
        _space: &str,
        _options: &ListMembersOptions,
    ) -> Result<Vec<Membership>, ChatError> {
        todo!()
    }

    /// `spaces.members.get` on `spaces/{space}/members/{id or email}`.
    pub async fn get_member(&self, _name: &str) -> Result<Membership, ChatError> {
        todo!()
    }

    /// `spaces.members.create` in `spaces/{id}` for `member` (`users/{id}`,
    /// `users/{email}` or `groups/{id}`).
    pub async fn create_member(
        &self,
        _space: &str,
        _member: &str,
    ) -> Result<Membership, ChatError> {
        todo!()
    }

    /// `spaces.members.patch` with `updateMask=role`.
    pub async fn set_member_role(
        &self,
        _name: &str,
        _role: &MembershipRole,
    ) -> Result<Membership, ChatError> {
        todo!()
    }

    /// `spaces.members.delete`; returns the deleted membership.
    pub async fn delete_member(&self, _name: &str) -> Result<Membership, ChatError> {
        todo!()
    }
}
