//! chat-reconcile: keep Google Chat space memberships in line with a YAML
//! policy. Observe, plan, apply.

pub mod apply;
pub mod chat;
pub mod cli;
pub mod emulator;
pub mod exit;
pub mod export;
pub mod guard;
pub mod limits;
pub mod observe;
pub mod plan;
pub mod policy;
pub mod report;
pub mod sweep;
