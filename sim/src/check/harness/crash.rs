//! A crash while trading: the disk loses what was not synced, the engine is recovered from
//! what survived, the venue trades on while it is down, and the startup reconciliation runs
//! before trading resumes (see [`check::crash`](crate::check::CrashConfig) for the model).

use std::collections::BTreeSet;
use std::sync::Arc;

use snapstate::book::{Book, BookCommand, OrderId};
use snapstate::engine::{Engine, EngineConfig};
use snapstate::journal::{JournalConfig, SimulatedStorage};
use snapstate::reconcile::Totals;
use snapstate::reconcile::startup::{ActionKind, StartupConfig, StartupReport};
use snapstate::time::Clock;

use super::{FailureReason, Recorded, SimFailure, Simulation, step_error_message};
use crate::check::crash::policy_name;
use crate::check::ledger::Source;
use crate::check::{CrashFigures, CrashSchedule, PlannedCrash};
use crate::venue::SimulatedVenue;

/// What a crashing run keeps across its crashes.
pub(super) struct CrashState {
    schedule: CrashSchedule,
    next: usize,
    /// The disk as the running process sees it (replaced by the survivor at each crash).
    storage: SimulatedStorage,
    engine_config: EngineConfig,
    /// The pure book as of the last recovery, and its sequence number: the ledger's log
    /// replays from here.
    base: Book,
    base_seq: u64,
    placements_lost: BTreeSet<OrderId>,
    /// The reconciler's totals before its last restart.
    earlier_totals: Totals,
    figures: CrashFigures,
}

impl CrashState {
    /// The figures so far.
    pub(super) fn figures(&self) -> &CrashFigures {
        &self.figures
    }

    /// Orders whose placement a crash took from the journal.
    pub(super) fn placements_lost(&self) -> &BTreeSet<OrderId> {
        &self.placements_lost
    }

    /// The reconciler's totals before its last restart.
    pub(super) fn earlier_totals(&self) -> &Totals {
        &self.earlier_totals
    }
}

/// Starts the engine of a crashing run: journaled on a fresh simulated disk, through recovery
/// (of nothing), as every journaled engine starts.
pub(super) fn start_journaled(
    config: &crate::check::SimConfig,
    book: &Book,
    mut engine_config: EngineConfig,
) -> Result<Option<(Engine<Book>, CrashState)>, String> {
    let Some(crash) = &config.crash else {
        return Ok(None);
    };
    let schedule = CrashSchedule::draw(crash, config.seed, config.trading_steps(), config.step);
    let storage = SimulatedStorage::new();
    engine_config.journal = Some(journal_config(crash, &schedule, &storage));
    let (engine, _) =
        Engine::recover(book.clone(), engine_config.clone()).map_err(|error| error.to_string())?;
    let figures = CrashFigures {
        sync_policy: policy_name(schedule.sync),
        ..CrashFigures::default()
    };
    let state = CrashState {
        schedule,
        next: 0,
        storage,
        engine_config,
        base: book.clone(),
        base_seq: 0,
        placements_lost: BTreeSet::new(),
        earlier_totals: Totals::default(),
        figures,
    };
    Ok(Some((engine, state)))
}

fn journal_config(
    crash: &crate::check::CrashConfig,
    schedule: &CrashSchedule,
    storage: &SimulatedStorage,
) -> JournalConfig {
    let mut journal = JournalConfig::with_storage(Arc::new(storage.clone()));
    journal.sync = schedule.sync;
    journal.segment_bytes = crash.segment_bytes;
    // The checkpointer runs on its own thread and by the wall clock: whether it wrote a
    // checkpoint before a crash would depend on thread timing. Recovery replays the journal.
    journal.checkpoint_every_commands = None;
    journal.checkpoint_interval = None;
    journal
}

impl Simulation<'_> {
    /// Crashes the engine if the schedule says so after trading step `step` (from 0).
    pub(super) fn crash_if_due(&mut self, step: u64) -> Result<(), SimFailure> {
        let planned = match &mut self.crash {
            Some(state) => match state.schedule.crashes.get(state.next) {
                Some(planned) if planned.after_step == step => {
                    state.next += 1;
                    planned.clone()
                }
                _ => return Ok(()),
            },
            None => return Ok(()),
        };
        self.crash_and_recover(&planned)?;
        self.stay_down(planned.downtime_steps);
        self.start_up()
    }

    fn crash_state(&mut self) -> &mut CrashState {
        self.crash.as_mut().expect("only a crashing run crashes")
    }

    /// Steps 1 to 3 of the model: quiesce the journal, crash the disk, recover a new engine
    /// and check its book against the pure book replayed to where the journal ends.
    fn crash_and_recover(&mut self, planned: &PlannedCrash) -> Result<(), SimFailure> {
        // Everything published has reached the journal thread, and under `Os` has been written
        // (not synced): what the disk holds no longer depends on thread timing.
        self.world
            .writer()
            .flush_durable()
            .map_err(|error| self.fail(FailureReason::Engine(error.to_string())))?;
        let last_seq = self.ledger.sent();
        let crash = self.config.crash.clone().unwrap_or_default();
        let state = self.crash_state();
        let survivor = if planned.kill {
            state.storage.kill()
        } else {
            state.storage.crash(planned.tear).0
        };
        state.storage = survivor.clone();
        let mut engine_config = state.engine_config.clone();
        engine_config.journal = Some(journal_config(&crash, &state.schedule, &survivor));
        state.engine_config = engine_config.clone();
        let initial = Book::new(state.base.config().clone());
        let (mut engine, report) = Engine::recover(initial, engine_config)
            .map_err(|error| self.fail(FailureReason::Setup(format!("recovery: {error}"))))?;
        let outcomes = engine
            .take_outcomes()
            .ok_or_else(|| self.fail(FailureReason::Setup("no outcome stream".to_owned())))?;
        // The old engine goes now, without a shutdown: its threads find the disk gone, and
        // nothing of theirs reaches the survivor.
        drop(self.world.replace_engine(engine));
        self.outcomes = outcomes;

        let recovered = report.last_seq.0;
        if planned.kill && recovered != last_seq {
            // Everything sent was written (step 1), and a kill keeps what was written.
            return Err(self.fail(FailureReason::Diverged(format!(
                "after a kill recovery reached #{recovered}, where #{last_seq} had been written"
            ))));
        }
        let base_seq = self.crash.as_ref().map_or(0, |state| state.base_seq);
        let replayed = recovered.checked_sub(base_seq).and_then(|count| {
            usize::try_from(count)
                .ok()
                .filter(|&count| count <= self.ledger.log().len())
        });
        let Some(replayed) = replayed else {
            return Err(self.fail(FailureReason::Diverged(format!(
                "recovery reached #{recovered}, outside what was sent since the last one \
                 (#{base_seq} to #{last_seq})"
            ))));
        };
        let state = self.crash.as_mut().expect("a crashing run");
        let mut expected = state.base.clone();
        for command in &self.ledger.log()[..replayed] {
            let _ = expected.apply(command);
        }
        let lost: Vec<OrderId> = self.ledger.log()[replayed..]
            .iter()
            .filter_map(|command| match command {
                BookCommand::Place(place) => Some(place.order_id),
                _ => None,
            })
            .collect();
        for order_id in lost {
            state.placements_lost.insert(order_id);
            state.figures.placements_lost += 1;
            self.ledger.placement_lost(order_id);
        }
        state.figures.crashes += 1;
        if planned.kill {
            state.figures.kills += 1;
        }
        state.figures.records_lost_unsynced += last_seq - recovered;
        if report.torn_bytes_truncated > 0 {
            state.figures.torn_tails += 1;
            state.figures.torn_bytes += report.torn_bytes_truncated;
        }
        state.base = expected.clone();
        state.base_seq = recovered;
        if self.world.reader().load().state() != &expected {
            return Err(self.fail(FailureReason::Diverged(format!(
                "the book recovered to #{recovered} differs from the pure book replayed to it"
            ))));
        }
        self.ledger.restart(expected, recovered);
        self.check_snapshot()
    }

    /// Step 4: the venue trades on while the engine is down; what it sends is lost.
    fn stay_down(&mut self, downtime_steps: u64) {
        for _ in 0..downtime_steps {
            self.clock.advance(self.config.step);
            let now = self.clock.now();
            // A crashing run follows no fault (they would be lost with the process too).
            let lost = self.world.with_venue(|venue| {
                let lost = venue.advance_and_drain(now).len();
                let _ = venue.take_fault_journal();
                lost
            });
            self.crash_state().figures.updates_lost_while_down += lost as u64;
        }
    }

    /// Step 5: the startup reconciliation until it is complete, then a reconciler with no
    /// evidence.
    fn start_up(&mut self) -> Result<(), SimFailure> {
        let passes = self
            .config
            .crash
            .as_ref()
            .map_or(1, |crash| crash.max_startup_passes.max(1));
        for pass in 1..=passes {
            let now = self.clock.now();
            let report = self
                .world
                .startup_pass(&StartupConfig::default(), now)
                .map_err(|error| self.fail(FailureReason::Engine(error.to_string())))?;
            let _ = self.world.with_venue(SimulatedVenue::take_fault_journal);
            self.record_startup(&report)?;
            if report.is_complete() {
                self.no_fill_counted_twice()?;
                let before = self.world.reconciler_mut().restart();
                self.crash_state().earlier_totals.merge(&before);
                return Ok(());
            }
            self.crash_state().figures.startup_retries += 1;
            if pass == passes {
                let unresolved: Vec<String> =
                    report.unresolved.iter().map(ToString::to_string).collect();
                return Err(self.fail(FailureReason::Unsettled(format!(
                    "the startup reconciliation was still incomplete after {passes} passes: {}",
                    unresolved.join("; ")
                ))));
            }
            // Trading waits; updates flow to the engine meanwhile.
            self.clock.advance(self.config.cycle_interval());
            self.deliver_unfollowed()?;
        }
        Ok(())
    }

    /// Steps the world to the clock's time with the market maker sitting out, following no
    /// fault, and checks the result.
    fn deliver_unfollowed(&mut self) -> Result<(), SimFailure> {
        let now = self.clock.now();
        // Like the startup pass's, these faults are not followed: a crashing run is not held
        // to the fault attribution (docs/durability.md).
        let mut hook = Recorded {
            ledger: &mut self.ledger,
            follow_faults: false,
        };
        let report = self
            .world
            .deliver(now, &mut hook)
            .map_err(|error| self.fail(FailureReason::Engine(step_error_message(error))))?;
        self.counts.updates_delivered += report.updates_delivered;
        self.collect()
    }

    /// Records what the startup pass sent, in order, and checks the engine's outcomes.
    fn record_startup(&mut self, report: &StartupReport) -> Result<(), SimFailure> {
        let state = self.crash_state();
        state.figures.startup_passes += 1;
        for action in &report.actions {
            let kind = match (&action.kind, &action.command) {
                (ActionKind::CorrectOrder, BookCommand::Correct(correction)) => {
                    format!("correct_order/{}", correction.kind())
                }
                (kind, _) => kind.as_str().to_owned(),
            };
            *state.figures.startup_corrections.entry(kind).or_default() += 1;
        }
        for action in &report.actions {
            let _ = self.ledger.record(&action.command, Source::Startup);
        }
        self.ledger
            .collect(&self.outcomes)
            .map_err(|divergence| self.fail(FailureReason::Diverged(divergence.0)))?;
        self.check_snapshot()
    }

    /// After a complete startup pass, no order of the book has more filled than the venue
    /// says: a fill recorded before the crash was not counted again.
    fn no_fill_counted_twice(&self) -> Result<(), SimFailure> {
        let snapshot = self.world.reader().load();
        for truth in self.world.venue().orders() {
            if let Some(local) = snapshot.state().order(truth.order_id)
                && local.filled() > truth.filled
            {
                return Err(self.fail(FailureReason::Diverged(format!(
                    "after the startup pass {} has {} filled in the book, {} at the venue",
                    truth.order_id,
                    local.filled(),
                    truth.filled
                ))));
            }
        }
        Ok(())
    }
}
