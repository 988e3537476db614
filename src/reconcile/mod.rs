//! Reconciliation: compare a snapshot of the book with what the venue reports, classify every
//! difference, gather evidence across cycles, and send guarded corrections through the writer.
//!
//! # Entry points
//!
//! * [`reconcile`]: the pure diff. A book (any storage), a [`VenueReport`], a
//!   [`ReconcileConfig`], `now` and the previous [`Evidence`] in; a [`Reconciliation`] out:
//!   sorted [`Finding`]s, each with its [`Mismatch`], evidence and planned [`Action`], and the
//!   evidence for the next cycle. No I/O, no clock, no randomness.
//! * [`Reconciler`]: a venue plus the evidence between cycles.
//!   [`run_cycle`](Reconciler::run_cycle) loads a snapshot, queries the venue, diffs, sends
//!   the corrections and venue cancels, and records [`metrics`]. Synchronous, and it reads time
//!   only from its configured clock, so a deterministic harness can step it.
//! * [`Runner`]: a thread that runs a [`Reconciler`] on an interval and stops cleanly with the
//!   engine (not built under `cfg(loom)`). It starts only with the [`StartupClearance`] of a
//!   complete startup pass.
//! * [`startup`]: the startup reconciliation, run once after recovery (or on a cold start)
//!   before trading resumes; it fails closed.
//!
//! Each cycle's settings are a [`CycleConfig`]; the runner thread's own (interval, thread
//! name) are a [`RunnerConfig`].
//!
//! [`StartupClearance`]: startup::StartupClearance
//!
//! # Invariants
//!
//! 1. The diff reads one snapshot: a whole version of the book, never a half-applied update.
//! 2. The output is a function of the inputs: the same book, answer, configuration, time and
//!    evidence give the same result; the venue list's order and repeated entries do not
//!    matter; findings are sorted (`docs/architecture.md`, invariant 8).
//! 3. A difference is acted on only when confirmed: both sides quiet for the in-flight grace
//!    window, and seen in enough consecutive answers (three absences for a missing order).
//! 4. A venue query that fails or times out changes no evidence and is never read as absence.
//! 5. Every correction carries the revision of the order (or slot) the diff saw; the writer
//!    applies it only if that still holds, and otherwise rejects it as stale
//!    (`docs/architecture.md`, invariant 6). At most one action per order per cycle.
//! 6. The reconciler never blocks the writer: it loads snapshots and submits like any producer.
//!
//! `docs/reconciliation.md` describes the mismatch classes, the evidence rules, the policies
//! and the metrics, with a worked example.

mod config;
mod cycle;
mod diff;
mod evidence;
pub mod metrics;
mod mismatch;
mod plan;
mod report;
#[cfg(not(loom))]
mod runner;
pub mod startup;
#[cfg(all(test, not(loom)))]
mod tests;

pub use config::{Policies, Policy, ReconcileConfig, ReconcileConfigError};
pub use cycle::{ActionCounts, CycleConfig, CycleError, CycleReport, Reconciler, Totals};
pub use diff::reconcile;
pub use evidence::{Evidence, Observation};
pub use mismatch::{Mismatch, MismatchClass, StatusDifference, Subject};
pub use report::{Action, Finding, Reconciliation, ReportOnlyReason, VenueCancel};
#[cfg(not(loom))]
pub use runner::{
    Runner, RunnerConfig, RunnerStartError, RunnerStartFailure, RunnerStartParts, RunnerStopError,
};

#[cfg(doc)]
use crate::venue::VenueReport;
