//! Loom models of snapstate's concurrency promises live in `tests/`; this library is empty.
//!
//! Build and run them with `RUSTFLAGS="--cfg loom"` (see `docs/verification.md`).
