//! Progress on stderr while a plan is applied: a bar on a terminal, a plain
//! line every 100 operations or 30 seconds elsewhere (cron, CI, pipes).
//!
//! Log lines go through [`LogWriter`], which pauses the bar while it writes,
//! so a log line never tears the bar.

use std::io::{self, Write};
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use tracing_subscriber::fmt::MakeWriter;

use crate::apply::{Event, Summary};

/// The progress display on stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgressMode {
    /// An indicatif bar, redrawn in place.
    Bar,
    /// A plain line every [`LINE_EVERY_OPERATIONS`] operations or
    /// [`LINE_EVERY`].
    Lines,
    /// Nothing.
    Off,
}

/// Operations between two plain progress lines.
pub const LINE_EVERY_OPERATIONS: usize = 100;
/// Time between two plain progress lines, whatever the count.
pub const LINE_EVERY: Duration = Duration::from_secs(30);

/// Picks the progress display: nothing when quiet, a bar when stderr is a
/// terminal outside CI, plain lines otherwise.
pub fn choose_progress(stderr_is_terminal: bool, ci: bool, quiet: bool) -> ProgressMode {
    if quiet {
        ProgressMode::Off
    } else if stderr_is_terminal && !ci {
        ProgressMode::Bar
    } else {
        ProgressMode::Lines
    }
}

/// Reads the `CI` environment variable's value: set, non-empty and not
/// `false` or `0` means a CI system runs us.
pub fn is_ci(value: Option<&str>) -> bool {
    match value {
        None => false,
        Some(value) => !matches!(value.trim(), "" | "0" | "false" | "FALSE" | "False"),
    }
}

/// Renders engine events as progress on stderr.
pub struct Progress {
    mode: ProgressMode,
    bar: Option<ProgressBar>,
    multi: MultiProgress,
    total: usize,
    summary: Summary,
    started: Instant,
    last_line: Instant,
    done_at_last_line: usize,
}

impl Progress {
    /// Builds the display; the bar, if any, is drawn through `multi`.
    pub fn new(mode: ProgressMode, multi: &MultiProgress) -> Self {
        let now = Instant::now();
        Self {
            mode,
            bar: None,
            multi: multi.clone(),
            total: 0,
            summary: Summary::default(),
            started: now,
            last_line: now,
            done_at_last_line: 0,
        }
    }

    pub fn handle(&mut self, event: &Event) {
        match event {
            Event::RunStarted { operations, .. } => {
                self.total = *operations;
                self.started = Instant::now();
                self.last_line = self.started;
                if self.mode == ProgressMode::Bar {
                    self.bar = Some(self.multi.add(new_bar(*operations as u64)));
                }
            }
            Event::OperationFinished { outcome, .. } => {
                self.summary.count(outcome);
                if let Some(bar) = &self.bar {
                    bar.inc(1);
                    bar.set_message(self.problems());
                }
                if self.mode == ProgressMode::Lines && self.line_due() {
                    self.print_line();
                }
            }
            Event::RunFinished { .. } => {
                if let Some(bar) = self.bar.take() {
                    bar.finish_and_clear();
                    self.multi.remove(&bar);
                }
            }
            Event::OperationStarted { .. }
            | Event::OperationRetrying { .. }
            | Event::SpaceFinished { .. } => {}
        }
    }

    fn line_due(&self) -> bool {
        let done = self.summary.total();
        done - self.done_at_last_line >= LINE_EVERY_OPERATIONS
            || self.last_line.elapsed() >= LINE_EVERY
            || done == self.total
    }

    fn print_line(&mut self) {
        let done = self.summary.total();
        let mut line = format!(
            "progress: {done} of {} operations done, {} s elapsed",
            self.total,
            self.started.elapsed().as_secs()
        );
        let problems = self.problems();
        if !problems.is_empty() {
            line.push_str(", ");
            line.push_str(&problems);
        }
        let _ = writeln!(io::stderr().lock(), "{line}");
        self.last_line = Instant::now();
        self.done_at_last_line = done;
    }

    /// Describes failures and skips so far, such as "2 failed, 1 skipped".
    fn problems(&self) -> String {
        let mut parts = Vec::new();
        if self.summary.failed > 0 {
            parts.push(format!("{} failed", self.summary.failed));
        }
        if self.summary.skipped > 0 {
            parts.push(format!("{} skipped", self.summary.skipped));
        }
        parts.join(", ")
    }
}

fn new_bar(length: u64) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(length), ProgressDrawTarget::stderr());
    let style = ProgressStyle::with_template(
        "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} operations {msg}",
    )
    .expect("the progress template is valid");
    bar.set_style(style);
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

/// Builds the [`MultiProgress`] every bar and log line goes through; hidden
/// unless `mode` is [`ProgressMode::Bar`].
pub fn multi_progress(mode: ProgressMode) -> MultiProgress {
    match mode {
        ProgressMode::Bar => MultiProgress::with_draw_target(ProgressDrawTarget::stderr()),
        ProgressMode::Lines | ProgressMode::Off => {
            MultiProgress::with_draw_target(ProgressDrawTarget::hidden())
        }
    }
}

/// A tracing writer for stderr that hides the bars while a line is written.
#[derive(Clone)]
pub struct LogWriter {
    multi: MultiProgress,
}

impl LogWriter {
    pub fn new(multi: &MultiProgress) -> Self {
        Self {
            multi: multi.clone(),
        }
    }
}

impl<'w> MakeWriter<'w> for LogWriter {
    type Writer = LogLine;

    fn make_writer(&'w self) -> Self::Writer {
        LogLine {
            multi: self.multi.clone(),
            buffer: Vec::new(),
        }
    }
}

/// One log record, buffered and written in one piece when dropped.
pub struct LogLine {
    multi: MultiProgress,
    buffer: Vec<u8>,
}

impl Write for LogLine {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.buffer.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for LogLine {
    fn drop(&mut self) {
        if self.buffer.is_empty() {
            return;
        }
        let buffer = std::mem::take(&mut self.buffer);
        self.multi.suspend(|| {
            let _ = io::stderr().lock().write_all(&buffer);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn choose_progress_cases() {
        let cases = [
            (true, false, false, ProgressMode::Bar),
            (true, true, false, ProgressMode::Lines),
            (false, false, false, ProgressMode::Lines),
            (false, true, false, ProgressMode::Lines),
            (true, false, true, ProgressMode::Off),
            (false, false, true, ProgressMode::Off),
        ];
        for (terminal, ci, quiet, expected) in cases {
            assert_eq!(
                choose_progress(terminal, ci, quiet),
                expected,
                "terminal={terminal} ci={ci} quiet={quiet}"
            );
        }
    }

    #[test]
    fn is_ci_values() {
        assert!(!is_ci(None));
        assert!(!is_ci(Some("")));
        assert!(!is_ci(Some("false")));
        assert!(!is_ci(Some("0")));
        assert!(is_ci(Some("true")));
        assert!(is_ci(Some("1")));
        assert!(is_ci(Some("woodpecker")));
    }
}
