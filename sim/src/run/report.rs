//! The simulation's report, as a table for people or one JSON object for programs.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::time::Duration;

use crate::venue::FaultCounts;
use hdrhistogram::Histogram as Hdr;
use serde::Serialize;
use snapstate::book::Book;
use snapstate::engine::Snapshot;
use snapstate::reconcile::{MismatchClass, Totals};

use super::compare::Comparison;
use super::settings::Settings;

/// What the driver did, counted as it went.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Activity {
    /// Commands the driver submitted (venue updates and placements; not the corrections).
    pub commands_submitted: u64,
    /// Venue updates delivered to the engine.
    pub updates_delivered: u64,
    /// Placements the book accepted and the venue took.
    pub orders_placed: u64,
    /// Placements the book refused (a correction occupied the slot first).
    pub places_refused_by_book: u64,
    /// Placements the venue refused (its update backlog was full).
    pub places_refused_by_venue: u64,
    /// Cancels the venue took.
    pub cancels_sent: u64,
    /// Cancels the venue refused (the order had already finished there).
    pub cancels_refused: u64,
}

/// How long each phase took, and whether the book converged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Phases {
    /// Time spent trading.
    pub trading: Duration,
    /// Commands the engine had taken when trading stopped.
    pub commands_while_trading: u64,
    /// Time spent converging.
    pub converging: Duration,
    /// Whether the book agreed with the venue before the timeout.
    pub converged: bool,
}

/// Percentiles of a distribution, in the unit its field's name says.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Percentiles {
    /// How many values were recorded.
    pub samples: u64,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p99_9: f64,
    /// Largest.
    pub max: f64,
}

impl Percentiles {
    /// The percentiles of a histogram of nanoseconds, divided by `nanos_per_unit`.
    pub fn of(histogram: &Hdr<u64>, nanos_per_unit: f64) -> Self {
        let at = |quantile: f64| histogram.value_at_quantile(quantile) as f64 / nanos_per_unit;
        Self {
            samples: histogram.len(),
            p50: at(0.5),
            p90: at(0.9),
            p99: at(0.99),
            p99_9: at(0.999),
            max: histogram.max() as f64 / nanos_per_unit,
        }
    }
}

/// The phases, in seconds.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PhaseReport {
    /// Seconds of trading.
    pub trading_s: f64,
    /// Seconds of the convergence phase.
    pub converging_s: f64,
    /// Whether the book agreed with the venue before the convergence timeout.
    pub converged: bool,
}

/// What went through the engine.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Throughput {
    /// Commands the engine took while trading.
    pub commands_while_trading: u64,
    /// Of those, per second of trading.
    pub commands_per_second: f64,
    /// Every command the engine took, corrections included.
    pub commands: u64,
    /// Applied commands by class (stale and duplicate reports are applied and change nothing).
    pub applied: BTreeMap<&'static str, u64>,
    /// Rejected commands by reason.
    pub rejected: BTreeMap<&'static str, u64>,
    /// Versions published.
    pub versions: u64,
    /// Commands per version.
    pub mean_batch_size: f64,
}

/// What the venue did.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct VenueActivity {
    /// What the driver exchanged with the venue.
    #[serde(flatten)]
    pub activity: Activity,
    /// Faults injected, by kind.
    pub faults_injected: BTreeMap<&'static str, u64>,
}

/// What the reconciler did.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ReconciliationReport {
    /// Cycles with a venue answer.
    pub runs: u64,
    /// Cycles without one.
    pub venue_errors: u64,
    /// Cycle durations, in milliseconds, from the reconciler's own histogram.
    pub duration_ms: Percentiles,
    /// Confirmed mismatches by class, every class listed.
    pub mismatches: BTreeMap<&'static str, u64>,
    /// Confirmed mismatches of every class.
    pub mismatches_total: u64,
    /// Differences seen but not (yet) confirmed, summed over cycles.
    pub suspected: u64,
    /// Corrections handed to the engine.
    pub corrections_submitted: u64,
    /// Corrections the engine applied.
    pub corrections_applied: u64,
    /// Corrections the engine rejected because the order had moved on.
    pub corrections_rejected_stale: u64,
    /// Cancels the reconciler sent to the venue.
    pub venue_cancels_sent: u64,
}

/// Everything a simulation measured.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Report {
    /// What was asked for.
    pub settings: Settings,
    /// How long each phase took.
    pub phases: PhaseReport,
    /// What went through the engine.
    pub throughput: Throughput,
    /// From each command's submit to the return of the flush barrier that the driver sends
    /// after it, in microseconds: an upper bound on when the command became visible in a
    /// published snapshot (the barrier is answered once that version is published).
    pub submit_to_visible_us: Percentiles,
    /// What the venue did.
    pub venue: VenueActivity,
    /// What the reconciler did.
    pub reconciliation: ReconciliationReport,
    /// Whether the final book agrees with the venue on every order and on the net position.
    pub book_equals_venue: bool,
    /// The final book against the venue's truth.
    pub final_state: Comparison,
    /// The journal's figures, when the run was journaled (`--journal`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub journal: Option<JournalReport>,
}

/// What a journaled run (`simulate --journal DIR`) left in its journal.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct JournalReport {
    /// The journal's directory.
    pub directory: String,
    /// The journal's sync policy in [`SyncPolicy`](snapstate::journal::SyncPolicy)'s spelling:
    /// `every_batch`, `os` or `interval:PERIOD`.
    pub sync: String,
    /// The sequence number of the last command the engine applied.
    pub last_seq: u64,
    /// Every command up to this one is durable (after the final durability barrier).
    pub durable_seq: u64,
    /// The final book's state digest ([`Book::state_digest`]), 64 hexadecimal digits.
    pub state_digest: String,
    /// What recovery found, when the directory already held a journal.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recovery: Option<RecoveryFigures>,
    /// What the startup reconciliation did before the runner started.
    pub startup: StartupFigures,
}

/// What recovery found in a journal that was already there.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RecoveryFigures {
    /// The sequence number of the checkpoint recovery started from, if any.
    pub checkpoint_seq: Option<u64>,
    /// Records replayed after the checkpoint.
    pub records_replayed: u64,
    /// Bytes of a torn last write that recovery cut off.
    pub torn_bytes_truncated: u64,
    /// Segment files read.
    pub segments_read: u64,
    /// The last sequence number recovered.
    pub last_seq: u64,
}

/// What the startup reconciliation did on a journaled run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StartupFigures {
    /// Actions it applied (corrections and adoptions).
    pub actions: usize,
    /// Orders it adopted from the venue.
    pub adopted_orders: usize,
    /// Orders it corrected.
    pub corrected_orders: usize,
    /// Whether it left nothing unresolved.
    pub complete: bool,
}

/// What the report is built from.
pub struct Measurements<'a> {
    /// The settings.
    pub settings: Settings,
    /// The phases.
    pub phases: Phases,
    /// The engine's final snapshot.
    pub last: &'a Snapshot<Book>,
    /// The driver's counts.
    pub activity: Activity,
    /// Submit-to-visible latencies, in nanoseconds.
    pub latency: &'a Hdr<u64>,
    /// Reconciliation cycle durations, in nanoseconds.
    pub cycle_durations: &'a Hdr<u64>,
    /// The reconciler's totals.
    pub totals: &'a Totals,
    /// The venue's fault counts.
    pub faults: &'a FaultCounts,
    /// The final comparison.
    pub final_state: Comparison,
}

impl Report {
    /// The report of a finished simulation.
    pub fn new(measured: Measurements<'_>) -> Self {
        let Measurements {
            settings,
            phases,
            last,
            activity,
            latency,
            cycle_durations,
            totals,
            faults,
            final_state,
        } = measured;
        let counters = last.counters();
        let versions = last.version().0;
        Self {
            settings,
            phases: PhaseReport {
                trading_s: phases.trading.as_secs_f64(),
                converging_s: phases.converging.as_secs_f64(),
                converged: phases.converged,
            },
            throughput: Throughput {
                commands_while_trading: phases.commands_while_trading,
                commands_per_second: per_second(phases.commands_while_trading, phases.trading),
                commands: counters.total(),
                applied: counters
                    .applied_by_label()
                    .filter(|(_, n)| *n > 0)
                    .collect(),
                rejected: counters
                    .rejected_by_label()
                    .filter(|(_, n)| *n > 0)
                    .collect(),
                versions,
                mean_batch_size: counters.total() as f64 / versions.max(1) as f64,
            },
            submit_to_visible_us: Percentiles::of(latency, 1e3),
            venue: VenueActivity {
                activity,
                faults_injected: faults
                    .iter()
                    .map(|(kind, count)| (kind.as_str(), count))
                    .collect(),
            },
            reconciliation: reconciliation(totals, cycle_durations),
            book_equals_venue: final_state.agrees(),
            final_state,
            journal: None,
        }
    }

    /// Writes the report as one JSON object and a newline.
    ///
    /// # Errors
    ///
    /// The writer's error.
    pub fn write_json(&self, out: &mut impl Write) -> io::Result<()> {
        serde_json::to_writer_pretty(&mut *out, self)?;
        writeln!(out)
    }

    /// Writes the report as a table.
    ///
    /// # Errors
    ///
    /// The writer's error.
    pub fn write_table(&self, out: &mut impl Write) -> io::Result<()> {
        super::table::write(self, out)
    }
}

fn reconciliation(totals: &Totals, durations: &Hdr<u64>) -> ReconciliationReport {
    ReconciliationReport {
        runs: totals.cycles,
        venue_errors: totals.venue_errors,
        duration_ms: Percentiles::of(durations, 1e6),
        mismatches: MismatchClass::ALL
            .into_iter()
            .map(|class| (class.as_str(), totals.mismatches(class)))
            .collect(),
        mismatches_total: totals.mismatches_total(),
        suspected: totals.suspected,
        corrections_submitted: totals.actions.corrections_submitted,
        corrections_applied: totals.actions.corrections_applied,
        corrections_rejected_stale: totals.actions.corrections_rejected_stale,
        venue_cancels_sent: totals.actions.venue_cancels_sent,
    }
}

fn per_second(count: u64, over: Duration) -> f64 {
    if over.is_zero() {
        0.0
    } else {
        count as f64 / over.as_secs_f64()
    }
}

/// A histogram from one nanosecond to an hour with three significant digits: latencies and
/// durations of everything the simulation measures.
pub fn latency_histogram() -> Hdr<u64> {
    const ONE_HOUR_NANOS: u64 = 3_600 * 1_000_000_000;
    // The bounds are constants that satisfy the constructor's conditions (low >= 1,
    // high >= 2 * low, 0..=5 significant digits), so it cannot fail.
    match Hdr::new_with_bounds(1, ONE_HOUR_NANOS, 3) {
        Ok(histogram) => histogram,
        Err(error) => unreachable!("constant histogram bounds are valid: {error}"),
    }
}
