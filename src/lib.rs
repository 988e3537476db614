//! snapstate (crate docs are written in full below the module list once the book lands).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod book;
pub mod engine;
pub mod reconcile;
mod sync;
pub mod time;
pub mod venue;
