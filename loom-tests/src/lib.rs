//! Support for the loom models of snapstate's concurrency promises; the models themselves live in
//! `tests/`, one file per promise.
//!
//! Everything here is compiled only with `RUSTFLAGS="--cfg loom"` (see `docs/verification.md`);
//! without it this library is empty and the model files compile to nothing.
//!
//! Each model runs the crate's real engine under loom: `snapstate` is built with the same
//! `--cfg loom`, so its `sync` module hands the engine loom's threads, locks, atomics, a
//! loom-visible publication cell and a loom-visible bounded channel.
//!
//! * `explore` runs a model under a `loom::model::Builder`, counts the executions it explored
//!   and prints the count, the preemption bound and the wall time.
//! * `Observed` collects outcomes across all executions, so a test can assert afterwards that
//!   an interesting interleaving really happened (loom's own `tests/litmus.rs` idiom): a model
//!   that never exercises its race cannot fail, and these assertions make sure it does.
//! * `Marks` is the smallest state machine that lets a reader tell exactly which commands a
//!   snapshot holds; `assert_whole` and `assert_prefix` check a snapshot against its own
//!   metadata.
//! * `book` builds the position-book fixtures for the models that use the real `Book`.
#![forbid(unsafe_code)]

#[cfg(loom)]
mod support;

#[cfg(loom)]
pub use support::*;
