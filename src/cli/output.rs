//! stdout for results. A closed pipe (`| head`) stops the output quietly;
//! the run goes on and exits as it would have.

use std::io::{self, Write};

use super::Failure;

#[derive(Debug, Default)]
pub struct Output {
    closed: bool,
}

impl Output {
    pub fn new() -> Self {
        Self::default()
    }

    /// Writes `text` as is and flushes it.
    ///
    /// Fails on any write error except a closed pipe, after which writes
    /// are dropped.
    pub fn print(&mut self, text: &str) -> Result<(), Failure> {
        if self.closed {
            return Ok(());
        }
        let mut stdout = io::stdout().lock();
        let result = stdout
            .write_all(text.as_bytes())
            .and_then(|()| stdout.flush());
        match result {
            Ok(()) => Ok(()),
            Err(error) if error.kind() == io::ErrorKind::BrokenPipe => {
                self.closed = true;
                Ok(())
            }
            Err(error) => Err(Failure::failed(
                anyhow::Error::new(error).context("could not write to stdout"),
            )),
        }
    }

    /// Writes `text` and a line break.
    pub fn println(&mut self, text: &str) -> Result<(), Failure> {
        self.print(&format!("{text}\n"))
    }
}
