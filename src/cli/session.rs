//! The setup `plan` and `apply` share: the policy, the client and its
//! limits, and the optional in-process emulator.

use std::io::Write as _;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, anyhow};

use super::Failure;
use super::args::{CommonArgs, ConnectionArgs, LimitArgs};
use crate::chat::auth::{AccessToken, AuthError, StaticToken, TokenProvider};
use crate::chat::oauth::{self, Access, OAuthTokens, Principal};
use crate::chat::retry::RetryPolicy;
use crate::chat::{ChatClient, ClientOptions};
use crate::emulator::{Emulator, EmulatorState};
use crate::limits::{LimitSettings, RateLimits, SlowDown};
use crate::observe::ObserveContext;
use crate::policy::{self, Policy};

/// The environment variable holding an access token.
pub const TOKEN_VARIABLE: &str = "GOOGLE_OAUTH_ACCESS_TOKEN";

/// Reads and resolves the policy. Fails with exit 2; the message names the
/// file, line and column.
pub fn load_policy(path: &Path) -> Result<Policy, Failure> {
    policy::load(path).map_err(Failure::usage)
}

/// A connected run: the client, its limiters, and the emulator it talks to.
pub struct Session {
    pub client: ChatClient,
    pub limits: RateLimits,
    pub slow_down: SlowDown,
    pub retry: RetryPolicy,
    pub concurrency: usize,
    emulator: Option<Emulator>,
}

impl Session {
    /// Starts the emulator if one is asked for, and builds the client.
    ///
    /// Fails with exit 2 on an invalid state file or an invalid endpoint (one
    /// that would send the token in clear text included), and with exit 1 on
    /// missing credentials.
    pub async fn connect(args: &CommonArgs, access: Access) -> Result<Self, Failure> {
        let options = ClientOptions {
            use_admin_access: args.admin,
            ..ClientOptions::default()
        };
        Self::connect_with(&args.connection, &args.limits, options, access).await
    }

    /// Like [`Session::connect`], for commands without a policy file, with
    /// the client's options (admin mode) given. `access` picks the OAuth
    /// scopes asked for.
    ///
    /// The first token is fetched here, before any worker starts, so that
    /// bad credentials fail the run at once.
    pub async fn connect_with(
        connection: &ConnectionArgs,
        limit_args: &LimitArgs,
        mut options: ClientOptions,
        access: Access,
    ) -> Result<Self, Failure> {
        options.app_authentication = connection.app;
        let limits = build_limits(limit_args)?;
        let retry = RetryPolicy {
            max_attempts: limit_args.max_attempts,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(32),
            max_jitter: Duration::from_secs(1),
        };

        let (endpoint, tokens, emulator) = match &connection.emulator {
            Some(state_path) => {
                let (emulator, token) = start_emulator(state_path).await?;
                let tokens: Arc<dyn TokenProvider> = Arc::new(StaticToken::new(token));
                (emulator.url(), tokens, Some(emulator))
            }
            None => {
                let principal = principal(connection, options.use_admin_access)?;
                let tokens = real_token(connection, principal, access).await?;
                (connection.endpoint.clone(), tokens, None)
            }
        };
        if let Err(error) = tokens.token().await {
            if let Some(emulator) = emulator {
                emulator.shutdown().await;
            }
            return Err(Failure::failed(error));
        }

        let client = match ChatClient::new(&endpoint, tokens, options) {
            Ok(client) => client,
            Err(error) => {
                if let Some(emulator) = emulator {
                    emulator.shutdown().await;
                }
                // Building the client sends nothing, so every failure here is
                // a bad endpoint flag.
                return Err(Failure::usage(error));
            }
        };

        Ok(Self {
            client,
            limits,
            slow_down: SlowDown::new(),
            retry,
            concurrency: limit_args.concurrency as usize,
            emulator,
        })
    }

    pub fn observe_context(&self) -> ObserveContext<'_> {
        ObserveContext {
            client: &self.client,
            limits: &self.limits,
            slow_down: &self.slow_down,
            retry: &self.retry,
            concurrency: self.concurrency,
        }
    }

    /// Stops the emulator, if any, after printing how many requests it
    /// rejected to protect a space's only owner,
    /// unless `quiet` is set.
    pub async fn close(self, quiet: bool) {
        if let Some(emulator) = self.emulator {
            let refusals = emulator.counters().only_owner_refusals;
            if !quiet {
                // A closed stderr must not turn the run's exit code into a panic.
                let _ = writeln!(
                    std::io::stderr(),
                    "emulator: {refusals} requests rejected because they would remove or demote a space's only owner"
                );
            }
            emulator.shutdown().await;
        }
    }
}

fn build_limits(args: &LimitArgs) -> Result<RateLimits, Failure> {
    let settings = LimitSettings {
        writes_per_minute: args.writes_per_minute,
        reads_per_minute: args.reads_per_minute,
        space_writes_per_second: args.space_writes_per_second,
        space_reads_per_second: args.space_reads_per_second,
    };
    RateLimits::new(&settings).map_err(Failure::usage)
}

/// Starts the emulator on a free loopback port and returns it with the
/// first token its state file lists.
async fn start_emulator(state_path: &Path) -> Result<(Emulator, AccessToken), Failure> {
    let state = EmulatorState::load(state_path).map_err(Failure::usage)?;
    let Some(token) = state.tokens().first().cloned() else {
        return Err(Failure::usage(anyhow!(
            "the emulator state file {} lists no tokens; add one under `tokens:`",
            state_path.display()
        )));
    };
    let address = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
    let emulator = Emulator::start(state, address)
        .await
        .context("could not start the emulator on 127.0.0.1")
        .map_err(Failure::failed)?;
    Ok((emulator, AccessToken::new(token)))
}

/// Who the token acts as, from `--app` and admin mode.
fn principal(args: &ConnectionArgs, admin: bool) -> Result<Principal, Failure> {
    match (args.app, admin) {
        (true, true) => Err(Failure::usage(anyhow!(
            "--app cannot be combined with admin mode: a Chat app cannot use useAdminAccess; \
             use --impersonate with an administrator instead"
        ))),
        (true, false) => Ok(Principal::App),
        (false, true) => Ok(Principal::Admin),
        (false, false) => Ok(Principal::User),
    }
}

/// Picks the token source: a service account when `--credentials`,
/// `--impersonate` or `--app` is given, else the signed-in person's cached
/// tokens with `--client-secret`, else `--access-token-file`, else
/// `GOOGLE_OAUTH_ACCESS_TOKEN`.
async fn real_token(
    args: &ConnectionArgs,
    principal: Principal,
    access: Access,
) -> Result<Arc<dyn TokenProvider>, Failure> {
    if args.credentials.is_some() || args.impersonate.is_some() || args.app {
        let Some(key_file) = oauth::credentials_path(args.credentials.as_deref()) else {
            return Err(Failure::failed(AuthError::MissingCredentials));
        };
        if args.impersonate.is_none() && !args.app {
            return Err(Failure::usage(anyhow!(
                "a service account needs --impersonate EMAIL (act for a user through domain-wide \
                 delegation) or --app (act as the Chat app)"
            )));
        }
        let scopes = oauth::scope_urls(principal, access);
        let subject = args.impersonate.as_deref();
        let tokens = OAuthTokens::service_account(&key_file, subject, scopes)
            .await
            .map_err(Failure::failed)?;
        return Ok(Arc::new(tokens));
    }
    if let Some(client_secret) = &args.client_secret {
        let cache = match &args.token_cache {
            Some(path) => path.clone(),
            None => oauth::default_token_cache().ok_or_else(|| {
                Failure::usage(anyhow!(
                    "no configuration directory: set HOME or XDG_CONFIG_HOME, or pass --token-cache PATH"
                ))
            })?,
        };
        let scopes = super::login::login_scopes(principal == Principal::Admin);
        let tokens = OAuthTokens::installed(client_secret, &cache, scopes)
            .await
            .map_err(Failure::failed)?;
        return Ok(Arc::new(tokens));
    }
    if let Some(path) = &args.access_token_file {
        let token = StaticToken::from_file(path).map_err(Failure::failed)?;
        return Ok(Arc::new(token));
    }
    match std::env::var(TOKEN_VARIABLE) {
        Ok(value) if !value.trim().is_empty() => Ok(Arc::new(StaticToken::new(AccessToken::new(
            value.trim().to_string(),
        )))),
        _ => Err(Failure::failed(AuthError::Missing)),
    }
}
