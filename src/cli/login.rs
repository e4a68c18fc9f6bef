//! `chat-reconcile login`: signs a person in once with Google's
//! installed-app flow and stores the tokens in the token cache, so that
//! later runs with `--client-secret` refresh silently and never open a
//! browser.

use std::io::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::anyhow;
use clap::Args;

use super::Failure;
use crate::chat::oauth::{self, Access, CacheFile, Principal};
use crate::exit::Exit;

/// How long `login` waits for the person to allow access in the browser.
const CONSENT_TIMEOUT: Duration = Duration::from_secs(600);

#[derive(Debug, Args)]
pub struct LoginArgs {
    /// The OAuth client secret of a Desktop app client, downloaded from the
    /// Cloud console (`client_secret_*.json`).
    #[arg(long, value_name = "FILE", env = "CHAT_RECONCILE_CLIENT_SECRET")]
    pub client_secret: PathBuf,

    /// Where to store the tokens. Default:
    /// `$XDG_CONFIG_HOME/chat-reconcile/token-cache.json` (else under
    /// `~/.config`).
    #[arg(long, value_name = "PATH", env = "CHAT_RECONCILE_TOKEN_CACHE")]
    pub token_cache: Option<PathBuf>,

    /// Also ask for the chat.admin.* scopes, for `--admin` of `export` and
    /// `offboard`.
    #[arg(long)]
    pub admin: bool,
}

/// Scopes a sign-in consents to: what `plan` reads and `apply` writes, so
/// that one sign-in serves both.
pub fn login_scopes(admin: bool) -> Vec<String> {
    let mut principals = vec![Principal::User];
    if admin {
        principals.push(Principal::Admin);
    }
    let mut scopes: Vec<String> = principals
        .into_iter()
        .flat_map(|principal| {
            let mut both = oauth::scope_urls(principal, Access::Read);
            both.extend(oauth::scope_urls(principal, Access::Write));
            both
        })
        .collect();
    scopes.sort();
    scopes.dedup();
    scopes
}

/// Runs the installed-app flow: prints the sign-in address on stderr, waits
/// for the browser's redirect to a local port, and writes the token cache.
pub async fn run(args: &LoginArgs) -> Result<Exit, Failure> {
    let cache = match &args.token_cache {
        Some(path) => path.clone(),
        None => oauth::default_token_cache().ok_or_else(|| {
            Failure::usage(anyhow!(
                "no configuration directory: set HOME or XDG_CONFIG_HOME, or pass --token-cache PATH"
            ))
        })?,
    };
    let secret = oauth::read_client_secret(&args.client_secret)
        .await
        .map_err(Failure::failed)?;
    let authenticator = yup_oauth2::InstalledFlowAuthenticator::builder(
        secret,
        yup_oauth2::InstalledFlowReturnMethod::HTTPRedirect,
    )
    .flow_delegate(Box::new(ShowAddress))
    .with_storage(Box::new(CacheFile::for_login(cache.clone())))
    .build()
    .await
    .map_err(Failure::failed)?;

    let scopes = login_scopes(args.admin);
    let token = tokio::time::timeout(CONSENT_TIMEOUT, authenticator.token(&scopes)).await;
    match token {
        Err(_) => Err(Failure::failed(anyhow!(
            "no sign-in within {} minutes; run `chat-reconcile login` again",
            CONSENT_TIMEOUT.as_secs() / 60
        ))),
        Ok(Err(error)) => Err(Failure::failed(anyhow!("sign-in failed: {error}"))),
        Ok(Ok(_)) => {
            let _ = writeln!(
                std::io::stderr(),
                "signed in; the tokens are stored in {}",
                cache.display()
            );
            Ok(Exit::Success)
        }
    }
}

/// Prints the sign-in address for the person to open.
struct ShowAddress;

impl yup_oauth2::authenticator_delegate::InstalledFlowDelegate for ShowAddress {
    fn present_user_url<'a>(
        &'a self,
        url: &'a str,
        _need_code: bool,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<String, String>> + Send + 'a>>
    {
        let _ = writeln!(
            std::io::stderr(),
            "Open this address in a browser, sign in and allow access:\n\n  {url}\n"
        );
        Box::pin(async { Ok(String::new()) })
    }
}
