//! The audit log: one JSON line per applied or failed operation, appended
//! to a file that outlives the run.
//!
//! Each line holds `time` (RFC 3339, UTC), `caller`, `space`, `member`,
//! `operation`, `outcome`, `reason`, `error` (or null) and
//! `override_reason` (the `--reason` of a run let through a guard, or null).
//! Skipped operations are not written: they changed nothing. The file is
//! opened in append mode, so several runs (and `tail -f`) share it; it is
//! flushed after every line and synced to disk when the run ends.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde_json::json;

use super::text::reason_code;
use crate::apply::Outcome;
use crate::emulator::time::now_rfc3339;
use crate::plan::Operation;

/// An open audit log.
#[derive(Debug)]
pub struct AuditLog {
    path: PathBuf,
    file: Mutex<File>,
    caller: String,
    override_reason: Option<String>,
}

impl AuditLog {
    /// Opens `path` for appending, creating it if needed. `caller` names who
    /// runs the tool (`unknown` when the credentials do not say);
    /// `override_reason` goes on every line.
    ///
    /// # Errors
    ///
    /// The file cannot be opened for writing.
    pub fn open(path: &Path, caller: &str, override_reason: Option<&str>) -> io::Result<Self> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        Ok(Self {
            path: path.to_path_buf(),
            file: Mutex::new(file),
            caller: caller.to_string(),
            override_reason: override_reason.map(str::to_string),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends the line for `operation` in `space`. Skipped operations
    /// write nothing.
    ///
    /// # Errors
    ///
    /// The write fails (disk full, file removed from a full volume).
    pub fn record(&self, space: &str, operation: &Operation, outcome: &Outcome) -> io::Result<()> {
        let error = match outcome {
            Outcome::Skipped { .. } => return Ok(()),
            Outcome::Failed { error } => Some(error.as_str()),
            Outcome::Applied | Outcome::AlreadyDone => None,
        };
        let line = json!({
            "time": now_rfc3339(),
            "caller": self.caller,
            "space": space,
            "member": operation.action.member().display,
            "operation": operation.action.kind(),
            "outcome": outcome.kind(),
            "reason": reason_code(&operation.reason),
            "error": error,
            "override_reason": self.override_reason,
        });
        let mut file = self
            .file
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        writeln!(file, "{line}")?;
        file.flush()
    }

    /// Syncs the file to disk.
    ///
    /// # Errors
    ///
    /// The sync fails.
    pub fn finish(&self) -> io::Result<()> {
        self.file
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .sync_all()
    }
}
