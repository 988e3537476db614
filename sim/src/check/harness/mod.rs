//! The stepped run: a manual clock, the engine, the simulated venue behind the reconciler, the
//! grid market maker, and the ledger that checks and attributes everything.

mod crash;
mod finish;
mod settle;

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::venue::{FaultSubject, InjectedFault, SimulatedVenue};
use crate::world::{CancelPolicy, StepError, StepHook, StepReport, Submission, World};
use snapstate::book::{Applied, Book, BookCommand, BookConfig};
use snapstate::engine::{Engine, EngineConfig, OutcomeStream, WriteHandle};
use snapstate::reconcile::{
    Action, CycleConfig, CycleError, CycleReport, Mismatch, MismatchClass, Reconciler,
};
use snapstate::time::{Clock, ManualClock};
use snapstate::venue::CancelError;

use super::ledger::{Ledger, Source};
use super::{FailureReason, Resolution, RunReport, SimConfig, SimFailure, config};
use crate::market_maker::GridMarketMaker;

/// Room for the engine's outcome records and the venue's fault journal between two reads.
/// Far above what one step or one cycle produces; the checks fail the run if it ever is not.
const RECORD_CAPACITY: usize = 1 << 16;

/// Runs one simulation: trading with faults, then a halt, then reconciliation until the book
/// agrees with the venue, checking everything on the way (see the [module](super) docs).
///
/// # Errors
///
/// The first check that failed, with the seed and the command that replays the run.
pub fn run(config: &SimConfig) -> Result<RunReport, SimFailure> {
    let mut simulation = Simulation::start(config)?;
    for step in 0..config.trading_steps() {
        simulation.trade_step()?;
        simulation.crash_if_due(step)?;
    }
    simulation.halt()?;
    let cycles_to_converge = simulation.settle()?;
    simulation.finish(cycles_to_converge)
}

/// What the harness counts itself (everything else comes from the library's own counters).
#[derive(Default)]
struct Counts {
    trading_steps: u64,
    orders_placed: u64,
    updates_delivered: u64,
    maker_cancels_sent: u64,
    maker_cancels_refused: u64,
    corrections: BTreeMap<(MismatchClass, &'static str), u64>,
}

struct Simulation<'a> {
    config: &'a SimConfig,
    clock: ManualClock,
    /// The venue (owned by the reconciler that the harness cycles), the engine and the market
    /// maker, stepped to the manual clock.
    world: World<Reconciler<SimulatedVenue>>,
    outcomes: OutcomeStream<Book>,
    ledger: Ledger,
    counts: Counts,
    /// A crashing run's journal, schedule and figures; `None` for a run that does not crash.
    crash: Option<crash::CrashState>,
}

impl<'a> Simulation<'a> {
    fn start(config: &'a SimConfig) -> Result<Self, SimFailure> {
        let setup =
            |error: String| SimFailure::new(config, config::START, FailureReason::Setup(error));
        let clock = ManualClock::new(config::START);
        let book = Book::new(BookConfig::new(config::grid()));
        let retention = book.config().tombstone_retention;
        if config.longest_run() >= retention {
            return Err(setup(format!(
                "a run of up to {:?} outlasts the book's tombstone retention ({retention:?})",
                config.longest_run()
            )));
        }
        let engine_config = EngineConfig {
            clock: Arc::new(clock.clone()),
            record_metrics: false,
            outcome_capacity: Some(RECORD_CAPACITY),
            thread_name: "snapstate-sim-writer".to_owned(),
            ..EngineConfig::default()
        };
        let (mut engine, crash) =
            match crash::start_journaled(config, &book, engine_config.clone()).map_err(setup)? {
                Some((engine, crash)) => (engine, Some(crash)),
                None => (
                    Engine::start(book.clone(), engine_config)
                        .map_err(|error| setup(error.to_string()))?,
                    None,
                ),
            };
        let outcomes = engine
            .take_outcomes()
            .ok_or_else(|| setup("the engine gave no outcome stream".to_owned()))?;
        let mut venue =
            SimulatedVenue::new(config.venue_config()).map_err(|error| setup(error.to_string()))?;
        venue.enable_fault_journal(RECORD_CAPACITY);
        let runner = CycleConfig {
            clock: Arc::new(clock.clone()),
            record_metrics: false,
            ..CycleConfig::default()
        };
        let reconciler = Reconciler::new(venue, config.reconcile.clone(), runner)
            .map_err(|error| setup(error.to_string()))?;
        // Every cancel of every decision goes to the venue: the documented figures count the
        // ones it refuses because the order finished there first.
        let maker = GridMarketMaker::new(config.maker.clone(), 1);
        Ok(Self {
            config,
            world: World::new(engine, reconciler, maker, CancelPolicy::EveryDecision),
            outcomes,
            ledger: {
                let mut ledger = Ledger::new(book);
                if crash.is_some() {
                    ledger.keep_log();
                }
                ledger
            },
            counts: Counts::default(),
            crash,
            clock,
        })
    }

    fn fail(&self, reason: FailureReason) -> SimFailure {
        let mut failure = SimFailure::new(self.config, self.clock.now(), reason);
        let totals = self.world.reconciler().totals();
        failure.progress = format!(
            "after {} steps of trading and {} cycles ({} without an answer); faults injected \
             so far: {}; corrections sent: {}",
            self.counts.trading_steps,
            totals.cycles + totals.venue_errors,
            totals.venue_errors,
            self.world.venue().fault_counts(),
            self.ledger.corrections_sent()
        );
        failure
    }

    /// One step of trading: the world's [`step`](World::step) to the next tick (the market
    /// maker decides on the previous step's snapshot, the venue delivers its due updates, the
    /// engine applies them and the placements, the venue receives the placements and cancels),
    /// checked; every `steps_per_cycle` steps, a reconciliation cycle.
    fn trade_step(&mut self) -> Result<(), SimFailure> {
        let report = self.step()?;
        if let Some((_, error)) = report.place_errors.first() {
            return Err(self.fail(FailureReason::Venue(error.to_string())));
        }
        self.counts.orders_placed += report.places_sent;
        for (_, error) in &report.cancel_errors {
            match error {
                // The book has not heard yet that the order finished: its update is in
                // flight, or was lost and waits for reconciliation.
                CancelError::AlreadyFinished { .. } => self.counts.maker_cancels_refused += 1,
                error => return Err(self.fail(FailureReason::Venue(error.to_string()))),
            }
        }
        // A refused cancel was sent all the same.
        self.counts.maker_cancels_sent += report.cancels_sent + report.cancel_errors.len() as u64;
        self.counts.trading_steps += 1;
        if self
            .counts
            .trading_steps
            .is_multiple_of(u64::from(self.config.steps_per_cycle.max(1)))
        {
            self.cycle()?;
        }
        Ok(())
    }

    /// Advances the clock one step and steps the world to it, with the ledger recording every
    /// submission and following every update fault; then checks the engine's outcomes and the
    /// new snapshot.
    fn step(&mut self) -> Result<StepReport, SimFailure> {
        self.clock.advance(self.config.step);
        self.step_to_now()
    }

    /// Steps the world to the clock's time and checks the result.
    fn step_to_now(&mut self) -> Result<StepReport, SimFailure> {
        let now = self.clock.now();
        let mut hook = Recorded {
            ledger: &mut self.ledger,
            follow_faults: true,
        };
        let report = self
            .world
            .step(now, &mut hook)
            .map_err(|error| self.fail(FailureReason::Engine(step_error_message(error))))?;
        self.counts.updates_delivered += report.updates_delivered;
        self.collect()?;
        Ok(report)
    }

    /// Checks the engine's outcomes for everything sent and flushed, and the new snapshot.
    fn collect(&mut self) -> Result<(), SimFailure> {
        self.ledger
            .collect(&self.outcomes)
            .map_err(|divergence| self.fail(FailureReason::Diverged(divergence.0)))?;
        self.check_snapshot()
    }

    /// The snapshot invariants, and that its counters account for every command sent.
    fn check_snapshot(&self) -> Result<(), SimFailure> {
        let snapshot = self.world.reader().load();
        if let Err(violation) = snapshot.state().check_invariants() {
            return Err(self.fail(FailureReason::Invariant(violation.to_string())));
        }
        let counters = snapshot.counters();
        let sent = self.ledger.sent();
        let accounted = counters.applied() + counters.rejected();
        if accounted != sent || snapshot.last_seq().0 != sent || counters.panicked() != 0 {
            return Err(self.fail(FailureReason::Invariant(format!(
                "{sent} commands sent; the snapshot includes {} and counts {} applied, {} \
                 rejected, {} panicked",
                snapshot.last_seq().0,
                counters.applied(),
                counters.rejected(),
                counters.panicked()
            ))));
        }
        if counters.outcomes_dropped() != 0 {
            return Err(self.fail(FailureReason::Invariant(format!(
                "{} outcome records dropped",
                counters.outcomes_dropped()
            ))));
        }
        if let Some(rejection) = self.ledger.rejections().first() {
            return Err(self.fail(FailureReason::Rejected(rejection.clone())));
        }
        Ok(())
    }

    /// One reconciliation cycle, with its faults classified and its corrections checked.
    /// Returns the cycle's report, or `None` when the venue gave no answer.
    fn cycle(&mut self) -> Result<Option<CycleReport>, SimFailure> {
        let evidence_before = self.world.reconciler().evidence().clone();
        let result = self.world.run_cycle();
        let journal = self.world.with_venue(SimulatedVenue::take_fault_journal);
        let answer_faults = self.ledger.absorb(journal);
        match result {
            Ok(report) => {
                // Classified against the book the diff saw, before its corrections.
                for fault in answer_faults {
                    let resolution = self.classify_answer_fault(&fault, &report);
                    self.ledger.resolve(fault.kind, resolution);
                }
                self.record_corrections(&report)?;
                Ok(Some(report))
            }
            Err(CycleError::Venue(_)) => {
                if *self.world.reconciler().evidence() != evidence_before {
                    return Err(self.fail(FailureReason::EvidenceChangedWithoutAnswer));
                }
                for fault in answer_faults {
                    let resolution = match fault.subject {
                        FaultSubject::Query => Resolution::NoAnswerRetriedNextCycle,
                        _ => Resolution::Unresolved,
                    };
                    self.ledger.resolve(fault.kind, resolution);
                }
                Ok(None)
            }
            Err(error) => Err(self.fail(FailureReason::Engine(error.to_string()))),
        }
    }

    /// Records the corrections the cycle sent, in the order it sent them, and checks the
    /// engine's outcomes for them and the snapshot after them.
    fn record_corrections(&mut self, report: &CycleReport) -> Result<(), SimFailure> {
        if report.actions.corrections_not_submitted != 0 {
            return Err(self.fail(FailureReason::Engine(format!(
                "{} corrections did not fit in the queue",
                report.actions.corrections_not_submitted
            ))));
        }
        let mut any = false;
        for finding in &report.reconciliation.findings {
            let Action::Correct(correction) = &finding.action else {
                continue;
            };
            any = true;
            let source = Source::Correction {
                class: finding.class(),
                kind: correction.kind(),
            };
            let result = self
                .ledger
                .record(&BookCommand::Correct(correction.clone()), source);
            if matches!(result, Ok(Applied::Corrected { .. })) {
                *self
                    .counts
                    .corrections
                    .entry((finding.class(), correction.kind()))
                    .or_default() += 1;
            }
        }
        if any {
            self.ledger
                .collect(&self.outcomes)
                .map_err(|divergence| self.fail(FailureReason::Diverged(divergence.0)))?;
            self.check_snapshot()?;
        }
        Ok(())
    }

    /// How an answer that left out a just-finished order affected the reconciler.
    fn classify_answer_fault(&self, fault: &InjectedFault, report: &CycleReport) -> Resolution {
        let FaultSubject::Order(order_id) = fault.subject else {
            return Resolution::Unresolved;
        };
        let Some(local) = self.ledger.shadow().order(order_id) else {
            return Resolution::Unresolved;
        };
        if local.status().is_finished() {
            let venue_filled = self.world.venue().order(order_id).map(|order| order.filled);
            return if venue_filled == Some(local.filled()) {
                Resolution::OmittedNoEffect
            } else {
                Resolution::OmittedDelayedMissedFill
            };
        }
        let absence = report.reconciliation.findings.iter().find(|finding| {
            matches!(finding.mismatch, Mismatch::MissingAtVenue { order_id: id, .. } if id == order_id)
        });
        match absence {
            Some(finding) if finding.confirmed => Resolution::OmittedConfirmedMissing,
            Some(_) => Resolution::OmittedCountedAsAbsence,
            None => Resolution::OmittedNotAnObservation,
        }
    }

    /// Stops faults and trading and holds the price still: from here on nothing new happens
    /// at the venue, and the book must converge to its truth.
    fn halt(&mut self) -> Result<(), SimFailure> {
        self.world
            .halt()
            .map_err(|error| self.fail(FailureReason::Venue(error.to_string())))
    }
}

/// The harness's [`StepHook`]: the ledger records each submission against the pure book, and
/// follows each update fault from the venue's journal (or, where faults are not followed,
/// the journal is emptied).
struct Recorded<'a> {
    ledger: &'a mut Ledger,
    follow_faults: bool,
}

impl StepHook for Recorded<'_> {
    type Error = String;

    fn submit(
        &mut self,
        writer: &WriteHandle<Book>,
        command: BookCommand,
        submission: Submission,
    ) -> Result<(), String> {
        let source = match submission {
            Submission::Update => Source::Update,
            Submission::Place => Source::Place,
        };
        self.ledger.submit(writer, command, source)
    }

    /// Lost updates are watched before anything later is applied, so that the update that
    /// repairs one is never mistaken for something the book already knew.
    fn venue_touched(&mut self, venue: &mut SimulatedVenue) {
        if self.follow_faults {
            absorb_update_faults(self.ledger, venue);
        } else {
            let _ = venue.take_fault_journal();
        }
    }
}

/// What a failed world step reports.
fn step_error_message(error: StepError<String>) -> String {
    match error {
        StepError::Submit(message) => message,
        StepError::Flush(error) => error.to_string(),
    }
}

/// Takes the venue's journal outside a cycle, where only update faults can arise.
fn absorb_update_faults(ledger: &mut Ledger, venue: &mut SimulatedVenue) {
    let stray = ledger.absorb(venue.take_fault_journal());
    for fault in stray {
        ledger.resolve(fault.kind, Resolution::Unresolved);
    }
}
