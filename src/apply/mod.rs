//! The engine: runs a plan against the API and emits events.
