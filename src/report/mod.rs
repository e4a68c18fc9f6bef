//! Renders plans and engine events for people and machines.
