//! A replay's engine and reconciler: applies each valid line's commands through the engine and
//! reconciles at each venue snapshot.
//!
//! # Validation
//!
//! A line is applied whole or not at all. Before its commands reach the engine, they are
//! applied to a copy of the replay's own book (a clone of a persistent book costs O(1)); if
//! the book rejects any of them, the line is invalid and nothing of it is applied. Otherwise
//! the copy becomes the replay's book and the commands go to the engine, whose writer applies
//! the same deterministic function. At the end the engine's final book must equal the
//! replay's; a difference would be a bug in the engine, and fails the replay.

use std::sync::Arc;

use snapstate::book::{Book, BookCommand, BookConfig, Grid};
use snapstate::engine::{
    Engine, EngineConfig, FlushError, ReadHandle, ShutdownError, StartError, SubmitError,
    WriteHandle,
};
use snapstate::reconcile::{
    Action, CycleConfig, CycleError, Finding, ReconcileConfig, ReconcileConfigError, Reconciler,
};
use snapstate::time::{Clock, ManualClock, Timestamp};
use snapstate::venue::{OpenOrdersError, Venue, VenueReport};

use super::report::{CorrectionTotals, FinalBook, FindingRecord};
use super::source::{LineError, Source};

/// Why the replay's engine or reconciler failed (never because of the input).
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// The engine did not start.
    #[error("the engine did not start")]
    Start(#[source] StartError),
    /// The reconciliation settings are invalid.
    #[error("invalid reconciliation settings")]
    Config(#[source] ReconcileConfigError),
    /// The engine closed before the replay ended.
    #[error("the engine closed during the replay")]
    Closed,
    /// The engine's writer failed (a bug).
    #[error("the engine's writer failed: {0}")]
    WriterFailed(String),
    /// The recorded venue gave no answer (a bug: it answers with the snapshot being
    /// reconciled).
    #[error("the recorded venue gave no answer")]
    Venue(#[source] OpenOrdersError),
    /// The engine's book differs from the replay's own (a bug in the engine).
    #[error("the engine's final book differs from the replay's own validation copy")]
    Diverged,
}

/// The most one stamp moves the replay's clock: the book's own default step, so that the
/// engine's and the book's notions of the stream's time move alike.
const MAX_CLOCK_STEP: std::time::Duration = BookConfig::DEFAULT_MAX_CLOCK_STEP;

/// The venue of a replay: it answers with the snapshot being reconciled.
#[derive(Debug, Default)]
pub struct RecordedVenue {
    answer: Option<VenueReport>,
}

impl Venue for RecordedVenue {
    fn open_orders(&mut self) -> Result<VenueReport, OpenOrdersError> {
        self.answer.clone().ok_or_else(|| OpenOrdersError::Failed {
            reason: "no venue snapshot recorded yet".to_owned(),
        })
    }
}

/// The engine, the replay's validation copy of the book, and the reconciler.
pub struct Session {
    engine: Engine<Book>,
    writer: WriteHandle<Book>,
    reader: ReadHandle<Book>,
    book: Book,
    clock: ManualClock,
    reconciler: Reconciler<RecordedVenue>,
    apply_corrections: bool,
    corrections: CorrectionTotals,
    commands: u64,
    snapshots: u64,
}

impl Session {
    /// Starts an engine on an empty book over `grid`.
    ///
    /// # Errors
    ///
    /// A [`SessionError`] if the engine does not start or `reconcile` does not validate.
    pub fn start(
        grid: Grid,
        reconcile: ReconcileConfig,
        apply_corrections: bool,
    ) -> Result<Self, SessionError> {
        // The replay's time is the stream's, followed step by step (`advance_clock`).
        let clock = ManualClock::new(Timestamp::EPOCH);
        let book = Book::new(BookConfig::new(grid));
        let engine = Engine::start(
            book.clone(),
            EngineConfig {
                clock: Arc::new(clock.clone()),
                record_metrics: false,
                ..EngineConfig::default()
            },
        )
        .map_err(SessionError::Start)?;
        let runner = CycleConfig {
            dry_run: !apply_corrections,
            clock: Arc::new(clock.clone()),
            record_metrics: false,
            ..CycleConfig::default()
        };
        let reconciler = Reconciler::new(RecordedVenue::default(), reconcile, runner)
            .map_err(SessionError::Config)?;
        Ok(Self {
            writer: engine.write_handle(),
            reader: engine.read_handle(),
            engine,
            book,
            clock,
            reconciler,
            apply_corrections,
            corrections: CorrectionTotals::default(),
            commands: 0,
            snapshots: 0,
        })
    }

    /// Applies one line's commands, all or none.
    ///
    /// # Errors
    ///
    /// `Ok(Err(_))`: the line is invalid (the book rejects one of its commands) and nothing of
    /// it was applied. `Err(_)`: the engine failed.
    pub fn apply_line(
        &mut self,
        commands: Vec<BookCommand>,
        source: &Source,
    ) -> Result<Result<(), LineError>, SessionError> {
        let mut trial = self.book.clone();
        for command in &commands {
            if let Err(reason) = trial.apply(command) {
                return Ok(Err(LineError::Rejected {
                    command: command.kind(),
                    order: command
                        .order_id()
                        .map_or_else(|| "none".to_owned(), |id| source.display(id)),
                    reason,
                }));
            }
        }
        self.book = trial;
        for command in commands {
            self.advance_clock(command.at());
            self.writer
                .submit(command)
                .map_err(|SubmitError::Closed(_)| SessionError::Closed)?;
            self.commands += 1;
        }
        Ok(Ok(()))
    }

    /// Reconciles the engine's book, with everything applied so far, against `report`, and
    /// returns the findings, recorded under `line` (as many as the reconciler reports for one
    /// cycle: bounded by the book and the snapshot, not by the stream's length).
    ///
    /// # Errors
    ///
    /// A [`SessionError`] if the engine failed.
    pub fn reconcile(
        &mut self,
        line: usize,
        report: VenueReport,
        source: &Source,
    ) -> Result<Vec<FindingRecord>, SessionError> {
        self.writer.flush().map_err(|error| match error {
            FlushError::Closed | FlushError::Timeout => SessionError::Closed,
        })?;
        self.advance_clock(report.as_of);
        let venue_as_of = report.as_of;
        self.reconciler.venue_mut().answer = Some(report);
        let cycle = match self.reconciler.run_cycle(&self.writer) {
            Ok(cycle) => cycle,
            Err(CycleError::EngineClosed) => return Err(SessionError::Closed),
            // The recorded venue answers with the report just set; kept as an error, not a
            // panic, should that ever change.
            Err(CycleError::Venue(error)) => return Err(SessionError::Venue(error)),
        };
        self.snapshots += 1;
        let findings = cycle
            .reconciliation
            .findings
            .iter()
            .map(|finding| record(line, venue_as_of, cycle.snapshot_version.0, finding, source))
            .collect();
        if self.apply_corrections {
            self.corrections.add(&cycle);
            // The corrections went through the engine (the cycle flushed them): the engine's
            // book is now the one to validate the next lines against.
            self.book = self.reader.load().state().clone();
        }
        Ok(findings)
    }

    /// Moves the replay's clock towards a time the stream carried: never back, and by at most
    /// [`MAX_CLOCK_STEP`] per stamp, so that one line stamped far in the future (a unit
    /// mix-up) cannot move the clock that stamps snapshots and times the reconciler for good.
    /// The first stamp sets the clock, as the book's first command sets its own.
    fn advance_clock(&self, at: Timestamp) {
        let now = self.clock.now();
        if now == Timestamp::EPOCH {
            self.clock.advance_to(at);
        } else {
            self.clock.advance_to(now.step_towards(at, MAX_CLOCK_STEP));
        }
    }

    /// Commands applied so far.
    pub fn commands(&self) -> u64 {
        self.commands
    }

    /// Venue snapshots reconciled so far.
    pub fn snapshots(&self) -> u64 {
        self.snapshots
    }

    /// Shuts the engine down and returns the corrections and the final book.
    ///
    /// # Errors
    ///
    /// A [`SessionError`] if the engine failed, or its book is not the replay's.
    pub fn finish(self, source: &Source) -> Result<(CorrectionTotals, FinalBook), SessionError> {
        drop(self.reconciler);
        let last = self.engine.shutdown().map_err(|error| match error {
            ShutdownError::WriterFailed { message, .. } => SessionError::WriterFailed(message),
        })?;
        if *last.state() != self.book {
            return Err(SessionError::Diverged);
        }
        Ok((self.corrections, FinalBook::new(&last, source)))
    }
}

fn record(
    line: usize,
    venue_as_of: Timestamp,
    version: u64,
    finding: &Finding,
    source: &Source,
) -> FindingRecord {
    let order_id = match finding.mismatch.subject() {
        snapstate::reconcile::Subject::Order(order_id) => Some(order_id),
        _ => None,
    };
    FindingRecord {
        line,
        venue_as_of: venue_as_of.as_nanos(),
        reconciled_version: version,
        class: finding.class().as_str(),
        subject: finding.mismatch.subject().to_string(),
        client_order_id: order_id.and_then(|id| source.client_order_id(id)),
        confirmed: finding.confirmed,
        observations: finding.observations,
        first_seen: finding.first_seen.as_nanos(),
        action: describe(&finding.action),
        detail: finding.mismatch.to_string(),
    }
}

/// An action in words.
pub fn describe(action: &Action) -> String {
    use snapstate::reconcile::ReportOnlyReason;
    match action {
        Action::Wait => "wait for more evidence".to_owned(),
        Action::ReportOnly(reason) => match reason {
            ReportOnlyReason::Policy => "report only (policy)",
            ReportOnlyReason::NotAdoptable => "report only (not adoptable)",
            ReportOnlyReason::NoActionForCase => "report only (no action for this case)",
            ReportOnlyReason::OneActionPerOrder => "report only (one action per order per cycle)",
        }
        .to_owned(),
        Action::Correct(correction) => format!(
            "correct: {} (precondition {})",
            correction.kind(),
            correction.expected()
        ),
        Action::CancelAtVenue(cancels) => {
            let orders: Vec<String> = cancels
                .iter()
                .map(|cancel| cancel.order_id.to_string())
                .collect();
            format!("cancel at the venue: {}", orders.join(", "))
        }
    }
}

#[cfg(test)]
mod tests {
    use snapstate::Decimal;
    use snapstate::book::Level;

    use super::*;

    /// Issue 10, defect 3: the replay's clock used to jump to any stamp a line carried and
    /// never come back, so one line stamped far ahead moved it for good.
    #[test]
    fn one_far_future_stamp_moves_the_replay_clock_by_one_step_only() {
        let grid = Grid::new(Decimal::from(100), Decimal::ONE, Level(-5), Level(5)).expect("grid");
        let session =
            Session::start(grid, ReconcileConfig::default(), false).expect("session starts");
        let start = Timestamp::from_millis(1_764_000_000_000);
        session.advance_clock(start);
        assert_eq!(session.clock.now(), start, "the first stamp sets the clock");
        session.advance_clock(Timestamp::from_nanos(u64::MAX));
        let stepped = start.saturating_add(MAX_CLOCK_STEP);
        assert_eq!(session.clock.now(), stepped);
        session.advance_clock(start);
        assert_eq!(session.clock.now(), stepped, "never back");
    }
}
