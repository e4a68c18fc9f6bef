//! Renders plans and engine events for people and machines.
//!
//! People get a table of the plan ([`table`]), progress on stderr
//! ([`progress`]) and a closing summary ([`summary`]). Machines get the plan
//! as one JSON document and a run as JSON Lines ([`json`]).

pub mod json;
pub mod progress;
pub mod summary;
pub mod table;
mod text;

#[cfg(test)]
mod sample;

pub use json::{event_json, plan_json, plan_record, verification_json};
pub use progress::{LogWriter, Progress, ProgressMode, choose_progress, is_ci, multi_progress};
pub use summary::render_summary;
pub use table::{Counts, closing_line, render_plan};
pub use text::{reason_text, role_change};
