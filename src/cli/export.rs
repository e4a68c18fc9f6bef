//! `chat-reconcile export`: writes the current memberships of spaces as a
//! policy in exact mode, on stdout or atomically into a file.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, anyhow};
use clap::Args;

use super::Failure;
use super::args::{ConnectionArgs, LimitArgs};
use super::output::Output;
use super::session::Session;
use crate::chat::ClientOptions;
use crate::exit::Exit;
use crate::export::{Selection, observe_selection, policy_yaml};

/// Arguments of `export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// A space to export, `spaces/{id}`. Repeatable.
    #[arg(long = "space", value_name = "SPACE", required_unless_present = "all", conflicts_with = "all", value_parser = space_name)]
    pub spaces: Vec<String>,

    /// Export every space of type SPACE in the organisation, found with
    /// spaces.search. Implies --admin.
    #[arg(long)]
    pub all: bool,

    /// Read with administrator access (useAdminAccess=true). Admin mode
    /// hides group memberships and apps, so they are missing from the
    /// export.
    #[arg(long)]
    pub admin: bool,

    /// Write the policy to this file instead of stdout. The file is
    /// replaced at once, so a reader never sees half a policy.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,

    #[command(flatten)]
    pub connection: ConnectionArgs,

    #[command(flatten)]
    pub limits: LimitArgs,
}

fn space_name(value: &str) -> Result<String, String> {
    let valid = value.strip_prefix("spaces/").is_some_and(|id| {
        !id.is_empty()
            && id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    });
    if valid {
        Ok(value.to_string())
    } else {
        Err(format!(
            "`{value}` is not a space name; write spaces/{{id}} with the id from the space's URL"
        ))
    }
}

/// Runs `chat-reconcile export`.
pub async fn run(args: &ExportArgs, quiet: bool) -> Result<Exit, Failure> {
    let admin = args.admin || args.all;
    let selection = if args.all {
        Selection::AllSpaces
    } else {
        Selection::Spaces(args.spaces.clone())
    };
    let options = ClientOptions {
        use_admin_access: admin,
        ..ClientOptions::default()
    };
    let session = Session::connect_with(
        &args.connection,
        &args.limits,
        options,
        crate::chat::oauth::Access::Read,
    )
    .await?;
    let result = export_with(&session, &selection, args, admin, quiet).await;
    session.close(quiet).await;
    result
}

async fn export_with(
    session: &Session,
    selection: &Selection,
    args: &ExportArgs,
    admin: bool,
    quiet: bool,
) -> Result<Exit, Failure> {
    if admin && !quiet {
        eprintln!(
            "warning: in admin mode the Chat API hides group memberships and apps from member listings, so the export lists no groups; applying it without --admin would remove the groups of every space. Add them by hand, or export without --admin"
        );
    }
    let observed = observe_selection(&session.observe_context(), selection)
        .await
        .map_err(Failure::failed)?;
    if !observed.missing.is_empty() {
        return Err(Failure::failed(anyhow!(
            "{} spaces were not found or are not visible to the caller: {}; nothing was written",
            observed.missing.len(),
            observed.missing.join(", ")
        )));
    }
    let text = policy_yaml(&observed);
    match &args.out {
        Some(path) => write_atomically(path, &text).map_err(Failure::failed)?,
        None => Output::new().print(&text)?,
    }
    Ok(Exit::Success)
}

/// Writes `text` into a temporary file next to `path`, syncs it and renames
/// it over `path`, so that `path` holds either the old or the new policy.
fn write_atomically(path: &Path, text: &str) -> anyhow::Result<()> {
    let directory = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let file_name = path
        .file_name()
        .ok_or_else(|| anyhow!("--out {} names no file", path.display()))?;
    let temporary = directory.join(format!(
        ".{}.{}.tmp",
        file_name.to_string_lossy(),
        std::process::id()
    ));
    let written = (|| -> std::io::Result<()> {
        let mut file = std::fs::File::create(&temporary)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        std::fs::rename(&temporary, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    written.with_context(|| format!("could not write the policy to {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn space_name_checked() {
        assert!(space_name("spaces/AAAA-b_1").is_ok());
        for bad in ["AAAA", "spaces/", "spaces/a/b", "rooms/AAAA"] {
            assert!(space_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn atomic_write_replaces_file() {
        let directory = std::env::temp_dir().join(format!("export-test-{}", std::process::id()));
        std::fs::create_dir_all(&directory).unwrap();
        let path = directory.join("policy.yaml");
        std::fs::write(&path, "old").unwrap();
        write_atomically(&path, "new").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new");
        let leftovers = std::fs::read_dir(&directory).unwrap().count();
        assert_eq!(leftovers, 1, "the temporary file must be gone");
        std::fs::remove_dir_all(&directory).unwrap();
    }
}
