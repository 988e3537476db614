//! One reconciliation cycle against a running engine, and the reconciler that runs it: load a
//! snapshot, query the venue, diff, send the guarded corrections and venue cancels, record
//! metrics.
//!
//! [`Reconciler::run_cycle`] is synchronous and reads time only from its configured clock, so
//! a deterministic harness can drive it step by step; the [`Runner`](super::Runner) thread
//! calls it on an interval.

use std::time::{Duration, Instant};

use crate::book::{Book, BookCommand, Storage};
use crate::engine::{FlushError, Snapshot, SubmitTimeoutError, Version, WriteHandle};
use crate::sync::Arc;
use crate::time::{Clock, SystemClock, Timestamp};
use crate::venue::{OpenOrdersError, Venue};

use super::metrics;
use super::reconcile;
use super::{Evidence, MismatchClass, ReconcileConfig, ReconcileConfigError, Reconciliation};

/// How one cycle runs: its thresholds and limits, and its clock. The thread that repeats
/// cycles has its own settings ([`RunnerConfig`](super::RunnerConfig)), so code that runs
/// cycles itself (a deterministic harness, a replay) needs none of them.
#[derive(Clone, Debug)]
pub struct CycleConfig {
    /// A snapshot older than this (by `clock`) is reconciled, with a warning: the writer may be
    /// stalled, or simply idle. Default 10 s.
    pub stale_snapshot_threshold: Duration,
    /// Compute and report corrections and venue cancels, but send none. Default `false`.
    pub dry_run: bool,
    /// The longest wait for room in the engine's queue for one correction; a correction that
    /// does not fit is dropped for this cycle (the next cycle finds the difference again).
    /// Default 1 s.
    pub submit_timeout: Duration,
    /// The longest wait for the engine to apply this cycle's corrections, to count how they
    /// ended. Default 5 s.
    pub flush_timeout: Duration,
    /// Where `now` comes from. Default [`SystemClock`].
    pub clock: Arc<dyn Clock>,
    /// Record the metrics of [`metrics`](super::metrics). Default `true`.
    pub record_metrics: bool,
}

impl Default for CycleConfig {
    fn default() -> Self {
        Self {
            stale_snapshot_threshold: Self::DEFAULT_STALE_SNAPSHOT_THRESHOLD,
            dry_run: false,
            submit_timeout: Duration::from_secs(1),
            flush_timeout: Duration::from_secs(5),
            clock: Arc::new(SystemClock),
            record_metrics: true,
        }
    }
}

impl CycleConfig {
    /// The default age beyond which a snapshot is reported as stale.
    pub const DEFAULT_STALE_SNAPSHOT_THRESHOLD: Duration = Duration::from_secs(10);
}

/// Why a cycle ended without a reconciliation.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CycleError {
    /// The venue gave no answer. No evidence changed.
    #[error("the venue gave no answer")]
    Venue(#[from] OpenOrdersError),
    /// The engine has shut down.
    #[error("the engine is closed")]
    EngineClosed,
}

/// What one cycle saw and did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CycleReport {
    /// The diff's result.
    pub reconciliation: Reconciliation,
    /// The version of the snapshot reconciled.
    pub snapshot_version: Version,
    /// How old that snapshot was when loaded.
    pub snapshot_age: Duration,
    /// Whether this was a dry run (nothing sent).
    pub dry_run: bool,
    /// What the cycle did about its findings.
    pub actions: ActionCounts,
}

/// What reconciliation did about its findings: corrections sent through the engine and cancels
/// sent to the venue, and how each ended. One cycle's in a [`CycleReport`]; summed in
/// [`Totals`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ActionCounts {
    /// Corrections handed to the engine.
    pub corrections_submitted: u64,
    /// Corrections dropped because the engine's queue stayed full.
    pub corrections_not_submitted: u64,
    /// Corrections the engine applied, counted after a flush (engine-wide: see
    /// [`metrics::CORRECTIONS_TOTAL`](super::metrics::CORRECTIONS_TOTAL)).
    pub corrections_applied: u64,
    /// Corrections the engine rejected as stale, counted the same way.
    pub corrections_rejected_stale: u64,
    /// Cancels the venue accepted.
    pub venue_cancels_sent: u64,
    /// Cancels the venue refused or could not take.
    pub venue_cancels_failed: u64,
    /// Cancels not sent because the book had moved on since the diff.
    pub venue_cancels_skipped_stale: u64,
}

impl ActionCounts {
    fn add(&mut self, other: &ActionCounts) {
        self.corrections_submitted += other.corrections_submitted;
        self.corrections_not_submitted += other.corrections_not_submitted;
        self.corrections_applied += other.corrections_applied;
        self.corrections_rejected_stale += other.corrections_rejected_stale;
        self.venue_cancels_sent += other.venue_cancels_sent;
        self.venue_cancels_failed += other.venue_cancels_failed;
        self.venue_cancels_skipped_stale += other.venue_cancels_skipped_stale;
    }
}

/// Running totals over a reconciler's cycles.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    /// Cycles completed (with a venue answer).
    pub cycles: u64,
    /// Cycles without a venue answer.
    pub venue_errors: u64,
    /// Confirmed mismatches, by class, in [`MismatchClass::ALL`] order.
    pub mismatches: [u64; MismatchClass::ALL.len()],
    /// Findings not (yet) confirmed, summed over cycles: differences seen while updates were
    /// in flight, or while evidence was still gathering.
    pub suspected: u64,
    /// What the cycles did about their findings, summed.
    pub actions: ActionCounts,
}

impl Totals {
    /// Confirmed mismatches of `class` so far.
    pub fn mismatches(&self, class: MismatchClass) -> u64 {
        self.mismatches[class.index()]
    }

    /// Confirmed mismatches of every class so far.
    pub fn mismatches_total(&self) -> u64 {
        self.mismatches.iter().sum()
    }

    /// Adds `other`'s totals to these: the totals of two reconcilers that ran one after the
    /// other (a restart starts a new one, with no evidence and zero totals).
    pub fn merge(&mut self, other: &Totals) {
        self.cycles += other.cycles;
        self.venue_errors += other.venue_errors;
        for (total, count) in self.mismatches.iter_mut().zip(&other.mismatches) {
            *total += count;
        }
        self.suspected += other.suspected;
        self.actions.add(&other.actions);
    }

    /// Adds one cycle, whose confirmed findings by class are `confirmed`.
    fn add(&mut self, report: &CycleReport, confirmed: &ByClass) {
        self.cycles += 1;
        for (total, count) in self.mismatches.iter_mut().zip(confirmed) {
            *total += count;
        }
        let findings = report.reconciliation.findings.len() as u64;
        self.suspected += findings - confirmed.iter().sum::<u64>();
        self.actions.add(&report.actions);
    }
}

/// A count per mismatch class, in [`MismatchClass::ALL`] order.
type ByClass = [u64; MismatchClass::ALL.len()];

/// How many of a reconciliation's findings are confirmed, by class.
fn confirmed_by_class(reconciliation: &Reconciliation) -> ByClass {
    let mut by_class = [0; MismatchClass::ALL.len()];
    for finding in reconciliation.confirmed() {
        by_class[finding.class().index()] += 1;
    }
    by_class
}

/// The engine's outcome classes that count corrections.
const CORRECTED_LABEL: &str = "corrected";
const STALE_LABEL: &str = "stale_precondition";

/// A venue, the diff's configuration, and the evidence carried between cycles.
#[derive(Debug)]
pub struct Reconciler<V> {
    venue: V,
    config: ReconcileConfig,
    cycle: CycleConfig,
    evidence: Evidence,
    totals: Totals,
}

impl<V: Venue> Reconciler<V> {
    /// A reconciler with no evidence yet.
    ///
    /// # Errors
    ///
    /// A [`ReconcileConfigError`] if `config` does not validate.
    pub fn new(
        venue: V,
        config: ReconcileConfig,
        cycle: CycleConfig,
    ) -> Result<Self, ReconcileConfigError> {
        config.validate()?;
        Ok(Self {
            venue,
            config,
            cycle,
            evidence: Evidence::new(),
            totals: Totals::default(),
        })
    }

    /// The venue.
    pub fn venue(&self) -> &V {
        &self.venue
    }

    /// The venue, to drive it (a simulated one) between cycles.
    pub fn venue_mut(&mut self) -> &mut V {
        &mut self.venue
    }

    /// Forgets the evidence and starts the totals again, as the new reconciler of a restarted
    /// process would (the crash simulation keeps the venue across a crash); returns the totals
    /// gathered before.
    pub fn restart(&mut self) -> Totals {
        self.evidence = Evidence::new();
        std::mem::take(&mut self.totals)
    }

    /// The diff's configuration.
    pub fn config(&self) -> &ReconcileConfig {
        &self.config
    }

    /// How each cycle runs.
    pub fn cycle_config(&self) -> &CycleConfig {
        &self.cycle
    }

    /// The evidence carried into the next cycle.
    pub fn evidence(&self) -> &Evidence {
        &self.evidence
    }

    /// Totals over every cycle so far.
    pub fn totals(&self) -> &Totals {
        &self.totals
    }

    /// Queries the venue and diffs `book` against its answer at `now`, carrying the evidence
    /// forward. Sends nothing.
    ///
    /// # Errors
    ///
    /// [`CycleError::Venue`] when the venue gives no answer; the evidence is then unchanged.
    pub fn observe<S: Storage>(
        &mut self,
        book: &Book<S>,
        now: Timestamp,
    ) -> Result<Reconciliation, CycleError> {
        let answer = self
            .venue
            .open_orders()
            .and_then(|answer| answer.check().map(|()| answer))
            .inspect_err(|error| {
                self.totals.venue_errors += 1;
                if self.cycle.record_metrics {
                    let kind = match error {
                        OpenOrdersError::Failed { .. } => "failed",
                        OpenOrdersError::TimedOut { .. } => "timed_out",
                        OpenOrdersError::Impossible { .. } => "impossible",
                    };
                    ::metrics::counter!(metrics::VENUE_ERRORS_TOTAL, "kind" => kind).increment(1);
                }
            })?;
        let reconciliation = reconcile(book, &answer, &self.config, now, &self.evidence);
        self.evidence = reconciliation.evidence.clone();
        Ok(reconciliation)
    }

    /// One full cycle: loads the latest snapshot, warns if it is older than the threshold,
    /// queries the venue, diffs, then (unless a dry run) sends the corrections through
    /// `writer` and the cancels to the venue, and records metrics.
    ///
    /// # Consistency
    ///
    /// The diff runs on one snapshot, loaded once: a whole version, never a half-applied
    /// update. The writer never waits for any of this; corrections carry the revisions the
    /// diff saw, and the writer rejects those the book has moved past.
    ///
    /// # Errors
    ///
    /// [`CycleError::Venue`] when the venue gives no answer (nothing changes, evidence
    /// included); [`CycleError::EngineClosed`] once the engine has shut down.
    pub fn run_cycle(&mut self, writer: &WriteHandle<Book>) -> Result<CycleReport, CycleError> {
        let started = Instant::now();
        let snapshot = writer.read_handle().load();
        let now = self.cycle.clock.now();
        let snapshot_age = now.saturating_duration_since(snapshot.published_at());
        if snapshot_age > self.cycle.stale_snapshot_threshold {
            tracing::warn!(
                snapshot_age_s = snapshot_age.as_secs_f64(),
                threshold_s = self.cycle.stale_snapshot_threshold.as_secs_f64(),
                version = snapshot.version().0,
                "reconciling a snapshot older than the threshold: the writer is stalled or idle"
            );
        }
        let reconciliation = self.observe(snapshot.state(), now)?;
        let mut report = CycleReport {
            reconciliation,
            snapshot_version: snapshot.version(),
            snapshot_age,
            dry_run: self.cycle.dry_run,
            actions: ActionCounts::default(),
        };
        if !self.cycle.dry_run {
            self.send_corrections(writer, &snapshot, &mut report)?;
            self.send_venue_cancels(writer, &mut report);
        }
        let confirmed = confirmed_by_class(&report.reconciliation);
        self.totals.add(&report, &confirmed);
        if self.cycle.record_metrics {
            record_cycle_metrics(&snapshot, &report, &confirmed, writer, started.elapsed());
        }
        Ok(report)
    }

    fn send_corrections(
        &mut self,
        writer: &WriteHandle<Book>,
        snapshot: &Snapshot<Book>,
        report: &mut CycleReport,
    ) -> Result<(), CycleError> {
        for correction in report.reconciliation.corrections() {
            let command = BookCommand::Correct(correction.clone());
            match writer.submit_timeout(command, self.cycle.submit_timeout) {
                Ok(()) => {
                    report.actions.corrections_submitted += 1;
                    if self.cycle.record_metrics {
                        ::metrics::counter!(
                            metrics::CORRECTIONS_SUBMITTED_TOTAL,
                            "kind" => correction.kind()
                        )
                        .increment(1);
                    }
                }
                Err(SubmitTimeoutError::Timeout(_)) => {
                    report.actions.corrections_not_submitted += 1
                }
                Err(SubmitTimeoutError::Closed(_)) => return Err(CycleError::EngineClosed),
            }
        }
        if report.actions.corrections_submitted == 0 {
            return Ok(());
        }
        match writer.flush_timeout(self.cycle.flush_timeout) {
            Ok(_) => {
                let after = writer.read_handle().load();
                let before = snapshot.counters();
                report.actions.corrections_applied =
                    after.counters().applied_count(CORRECTED_LABEL)
                        - before.applied_count(CORRECTED_LABEL);
                report.actions.corrections_rejected_stale =
                    after.counters().rejected_count(STALE_LABEL)
                        - before.rejected_count(STALE_LABEL);
                Ok(())
            }
            // The corrections stay queued and will be applied or rejected; this cycle just
            // cannot say which. The metrics read the engine's counters and catch up.
            Err(FlushError::Timeout) => Ok(()),
            Err(FlushError::Closed) => Err(CycleError::EngineClosed),
        }
    }

    fn send_venue_cancels(&mut self, writer: &WriteHandle<Book>, report: &mut CycleReport) {
        for cancel in report.reconciliation.venue_cancels() {
            // The venue is not behind the writer, so the precondition is checked here, against
            // the latest snapshot, just before sending. An update that lands in between can
            // still race the cancel; the venue's answer to it then reaches the book as usual.
            let latest = writer.read_handle().load();
            let current = latest
                .state()
                .order(cancel.order_id)
                .map(|order| order.revision());
            let outcome = if current != cancel.expected {
                report.actions.venue_cancels_skipped_stale += 1;
                "skipped_stale"
            } else {
                match self.venue.cancel(cancel.order_id) {
                    Ok(()) => {
                        report.actions.venue_cancels_sent += 1;
                        "sent"
                    }
                    Err(error) => {
                        tracing::warn!(%error, "the venue did not cancel an order");
                        report.actions.venue_cancels_failed += 1;
                        "failed"
                    }
                }
            };
            if self.cycle.record_metrics {
                ::metrics::counter!(metrics::VENUE_CANCELS_TOTAL, "outcome" => outcome)
                    .increment(1);
            }
        }
    }
}

fn record_cycle_metrics(
    snapshot: &Snapshot<Book>,
    report: &CycleReport,
    confirmed: &ByClass,
    writer: &WriteHandle<Book>,
    elapsed: Duration,
) {
    let book = snapshot.state();
    ::metrics::histogram!(metrics::DURATION_SECONDS).record(elapsed.as_secs_f64());
    ::metrics::gauge!(metrics::SNAPSHOT_ENTRIES).set(metrics::snapshot_entries(book) as f64);
    ::metrics::gauge!(metrics::SNAPSHOT_SIZE_BYTES)
        .set(metrics::estimate_snapshot_size_bytes(book) as f64);
    ::metrics::gauge!(metrics::SNAPSHOT_AGE_SECONDS).set(report.snapshot_age.as_secs_f64());
    for (class, &count) in MismatchClass::ALL.into_iter().zip(confirmed) {
        if count > 0 {
            ::metrics::counter!(metrics::MISMATCHES_TOTAL, "class" => class.as_str())
                .increment(count);
        }
    }
    let latest = writer.read_handle().load();
    let counters = latest.counters();
    ::metrics::counter!(metrics::CORRECTIONS_TOTAL, "outcome" => "applied")
        .absolute(counters.applied_count(CORRECTED_LABEL));
    ::metrics::counter!(metrics::CORRECTIONS_TOTAL, "outcome" => "rejected_stale")
        .absolute(counters.rejected_count(STALE_LABEL));
}

/// The label constants above must be the book's own class names.
#[cfg(all(test, not(loom)))]
#[test]
fn correction_labels_are_the_books_class_names() {
    use crate::book::{Applied, GuardTarget, OrderId, Rejection, Revision};
    use crate::engine::Labelled;
    assert_eq!(
        Applied::Corrected { kind: "adopt" }.label(),
        CORRECTED_LABEL
    );
    let stale = Rejection::StalePrecondition {
        target: GuardTarget::Order(OrderId(1)),
        expected: Revision(1),
        actual: Revision(2),
    };
    assert_eq!(stale.label(), STALE_LABEL);
}

#[cfg(test)]
mod totals_tests {
    use super::*;

    #[test]
    fn merged_totals_add_every_count_of_both() {
        let mut first = Totals {
            cycles: 2,
            venue_errors: 1,
            suspected: 3,
            ..Totals::default()
        };
        first.mismatches[0] = 4;
        first.actions.corrections_applied = 5;
        let mut second = first.clone();
        second.mismatches[1] = 1;
        first.merge(&second);
        assert_eq!(
            (first.cycles, first.venue_errors, first.suspected),
            (4, 2, 6)
        );
        assert_eq!((first.mismatches[0], first.mismatches[1]), (8, 1));
        assert_eq!(first.actions.corrections_applied, 10);
    }
}
