//! Renders plans and engine events for people and machines.
//!
//! People get a table of the plan ([`table`]), progress on stderr
//! ([`progress`]) and a closing summary ([`summary`]). Machines get the plan
//! as one JSON document ([`json`]) and a run as JSON Lines ([`jsonl`]).
//! Reviewers get the plan as Markdown ([`markdown`]); auditors get one line
//! per write ([`audit`]).

pub mod audit;
pub mod json;
pub mod jsonl;
pub mod markdown;
pub mod progress;
pub mod summary;
pub mod table;
mod text;

#[cfg(test)]
mod sample;

pub use json::plan_json;
pub use progress::{LogWriter, Progress, ProgressMode, choose_progress, is_ci, multi_progress};
pub use summary::render_summary;
pub use table::{Counts, closing_line, render_plan};
pub use text::{reason_text, role_change};
