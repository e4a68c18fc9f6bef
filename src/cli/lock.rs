//! `--lock-file`: keeps two runs from overlapping, with the standard
//! library only.
//!
//! The lock is a file created with `create_new` (atomic on local file
//! systems) that holds the owner's process id, and is removed when the run
//! ends. A run killed hard (SIGKILL, a second Ctrl-C) leaves the file
//! behind; on Linux the next run sees that the recorded process is gone,
//! says so on stderr and takes the lock over. Elsewhere, and when the file
//! holds no process id, the operator is asked to remove it.

use std::fs::{self, OpenOptions};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};

use anyhow::anyhow;
use tracing::warn;

use super::Failure;

/// A held lock, released when dropped.
#[derive(Debug)]
pub struct Lock {
    path: PathBuf,
}

impl Lock {
    /// Creates the lock file at `path` with this process's id.
    ///
    /// # Errors
    ///
    /// Exit 1 when another live run holds the lock or the file cannot be
    /// created; the message names the file and the holder.
    pub fn acquire(path: &Path) -> Result<Self, Failure> {
        for _ in 0..2 {
            match OpenOptions::new().write(true).create_new(true).open(path) {
                Ok(mut file) => {
                    let written =
                        writeln!(file, "{}", std::process::id()).and_then(|()| file.sync_all());
                    let lock = Self {
                        path: path.to_path_buf(),
                    };
                    written.map_err(|error| {
                        Failure::failed(anyhow!(
                            "could not write the lock file {}: {error}",
                            path.display()
                        ))
                    })?;
                    return Ok(lock);
                }
                Err(error) if error.kind() == ErrorKind::AlreadyExists => {
                    let holder = fs::read_to_string(path)
                        .ok()
                        .and_then(|text| text.trim().parse::<u32>().ok());
                    match holder {
                        Some(pid) if !process_is_running(pid) => {
                            warn!(
                                lock_file = %path.display(),
                                pid,
                                "taking over a stale lock file: process {pid} is no longer running"
                            );
                            let _ = fs::remove_file(path);
                        }
                        Some(pid) => {
                            return Err(Failure::failed(anyhow!(
                                "another run holds the lock file {} (process {pid}); wait for it to end, or remove the file if that process is not chat-reconcile",
                                path.display()
                            )));
                        }
                        None => {
                            return Err(Failure::failed(anyhow!(
                                "the lock file {} exists but holds no process id; remove it if no other run is active",
                                path.display()
                            )));
                        }
                    }
                }
                Err(error) => {
                    return Err(Failure::failed(anyhow!(
                        "could not create the lock file {}: {error}",
                        path.display()
                    )));
                }
            }
        }
        Err(Failure::failed(anyhow!(
            "another run took the lock file {} at the same time; try again",
            path.display()
        )))
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

/// Returns false only when the process is known to be gone.
fn process_is_running(pid: u32) -> bool {
    if cfg!(target_os = "linux") {
        Path::new(&format!("/proc/{pid}")).exists()
    } else {
        true
    }
}
