//! The simulation's driver: the [`World`] (the engine, the venue shared with the reconciler's
//! runner thread, the market maker), stepped to the wall clock.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crate::venue::{SimulatedVenue, SimulatedVenueConfig, SimulatedVenueConfigError};
use crate::world::{CancelPolicy, StepError, StepHook, Submission, Threaded, World, lock};
use hdrhistogram::Histogram as Hdr;
use snapstate::book::{Book, BookCommand, BookConfig};
use snapstate::engine::{
    Engine, EngineConfig, ShutdownError, Snapshot, StartError, SubmitError, WriteHandle,
};
use snapstate::journal::{
    DurableWaitError, JournalConfig, RecoveryError, RecoveryReport, SyncPolicy,
};
use snapstate::reconcile::{
    CycleConfig, ReconcileConfig, ReconcileConfigError, Reconciler, Runner, RunnerConfig,
    RunnerStartError, RunnerStopError,
    startup::{
        self, IncompleteStartup, StartupClearance, StartupConfig, StartupError, StartupReport,
    },
};
use snapstate::time::{Clock, SystemClock, Timestamp};

use super::compare::compare;
use super::progress::{Progress, Sample};
use super::report::latency_histogram;
use super::report::{
    Activity, JournalReport, Measurements, Phases, RecoveryFigures, Report, StartupFigures,
};
use super::settings::{Settings, SettingsError};
use crate::market_maker::{GridMarketMaker, MarketMakerConfig};

/// How often the convergence phase compares the book with the venue's truth.
pub const CONVERGENCE_CHECK_INTERVAL: Duration = Duration::from_millis(50);
/// Most new orders per tick: the initial grid goes out over a few ticks rather than at once.
const MAX_PLACES_PER_TICK: usize = 50;

/// Why a simulation could not run to its end.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The settings do not build a grid.
    #[error(transparent)]
    Settings(#[from] SettingsError),
    /// The engine did not start.
    #[error("the engine did not start")]
    EngineStart(#[source] StartError),
    /// The simulated venue refused its configuration.
    #[error("the simulated venue refused its configuration")]
    Venue(#[source] SimulatedVenueConfigError),
    /// The reconciler refused its configuration.
    #[error("the reconciler refused its configuration")]
    Reconciler(#[source] ReconcileConfigError),
    /// The reconciler's thread did not start.
    #[error("the reconciler did not start")]
    RunnerStart(#[source] RunnerStartError),
    /// The reconciler's thread panicked.
    #[error("the reconciler failed")]
    RunnerStop(#[source] RunnerStopError),
    /// The engine closed while the simulation still fed it.
    #[error("the engine closed during the simulation")]
    EngineClosed,
    /// The engine's writer failed (a bug in the engine).
    #[error("the engine's writer failed: {0}")]
    EngineFailed(String),
    /// A snapshot broke the book's invariants (a bug).
    #[error("the final book breaks an invariant: {0}")]
    Invariant(String),
    /// The journal's directory could not be opened.
    #[error("cannot open the journal directory {}", directory.display())]
    JournalDirectory {
        /// The directory.
        directory: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The journal could not be recovered (it names the file and offset when damaged).
    #[error("cannot recover the journal")]
    Recovery(#[source] RecoveryError),
    /// The startup reconciliation stopped because the engine closed.
    #[error("the startup reconciliation failed")]
    Startup(#[source] StartupError),
    /// The startup reconciliation left differences unresolved, so the runner may not start.
    #[error("the startup reconciliation gives no clearance")]
    StartupIncomplete(#[source] IncompleteStartup),
    /// The final durability barrier failed.
    #[error("the journal did not make the run durable")]
    Durable(#[source] DurableWaitError),
}

/// Where and how a journaled run (`simulate --journal DIR`) journals.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JournalSettings {
    /// The journal's directory (created if missing; a journal already there is recovered).
    pub directory: PathBuf,
    /// When the journal syncs. Default [`SyncPolicy::EveryBatch`].
    pub sync: SyncPolicy,
}

impl JournalSettings {
    /// Journaling into `directory`, syncing every batch.
    pub fn new(directory: impl Into<PathBuf>) -> Self {
        Self {
            directory: directory.into(),
            sync: SyncPolicy::default(),
        }
    }
}

/// The journal of a journaled run: where it is, what recovery found, what the startup pass did.
struct Journaled {
    directory: PathBuf,
    sync: SyncPolicy,
    recovery: RecoveryReport,
    startup: StartupReport,
}

/// A running simulation: the [`World`] (the engine, the venue shared with the reconciler's
/// runner thread, and the market maker) that the driver steps to the wall clock.
pub struct Simulation {
    settings: Settings,
    world: World<Threaded>,
    clock: SystemClock,
    latency: Hdr<u64>,
    activity: Activity,
    started: Instant,
    journal: Option<Journaled>,
}

impl Simulation {
    /// Starts the engine, the venue and the reconciler's runner.
    ///
    /// # Errors
    ///
    /// A [`RunError`] if any of them refuses to start.
    pub fn start(settings: Settings) -> Result<Self, RunError> {
        Self::start_with(settings, None)
    }

    /// Like [`start`](Self::start); with `journal`, the engine journals and checkpoints into
    /// that directory: it is recovered from what the directory holds (a fresh journal when
    /// empty), and the startup reconciliation runs against the fresh venue before the runner,
    /// instead of being waived.
    ///
    /// # Errors
    ///
    /// A [`RunError`] if any of them refuses to start, the journal cannot be recovered, or the
    /// startup reconciliation is incomplete.
    pub fn start_with(
        settings: Settings,
        journal: Option<&JournalSettings>,
    ) -> Result<Self, RunError> {
        let clock = SystemClock;
        let start = clock.now();
        let grid = settings.grid()?;
        let book = Book::new(BookConfig::new(grid));
        let venue = Arc::new(Mutex::new(
            SimulatedVenue::new(venue_config(&settings, start)).map_err(RunError::Venue)?,
        ));
        let (engine, clearance, journaled) = match journal {
            None => {
                let engine =
                    Engine::start(book, EngineConfig::default()).map_err(RunError::EngineStart)?;
                // A fresh engine against a fresh venue: nothing happened before to reconcile.
                let clearance =
                    StartupClearance::waived("simulate: a fresh engine and a fresh venue");
                (engine, clearance, None)
            }
            Some(journal) => {
                let (engine, recovery) = recover(book, journal)?;
                // The recovered book may hold orders and a position that this fresh venue never
                // saw: the startup pass settles them before the runner may start.
                // The venue is new in this process: nothing the recovered book placed can still
                // be on its way to it, so an order it does not know never arrived.
                let startup_config = StartupConfig {
                    in_flight_grace: Duration::ZERO,
                    ..StartupConfig::default()
                };
                let startup = startup::run(
                    &mut Arc::clone(&venue),
                    &engine.write_handle(),
                    &startup_config,
                    clock.now(),
                )
                .map_err(RunError::Startup)?;
                let clearance = startup.clearance().map_err(RunError::StartupIncomplete)?;
                let journaled = Journaled {
                    directory: journal.directory.clone(),
                    sync: journal.sync,
                    recovery,
                    startup,
                };
                (engine, clearance, Some(journaled))
            }
        };
        // Order ids continue above every order the recovered book holds.
        let first_order_id = engine
            .read_handle()
            .load()
            .state()
            .orders_unordered()
            .map(|order| order.id().0)
            .max()
            .map_or(1, |highest| highest.saturating_add(1));
        let reconcile = ReconcileConfig {
            in_flight_grace: settings.grace,
            ..ReconcileConfig::default()
        };
        let runner_config = RunnerConfig {
            interval: settings.reconcile_interval,
            ..RunnerConfig::default()
        };
        let reconciler = Reconciler::new(Arc::clone(&venue), reconcile, CycleConfig::default())
            .map_err(RunError::Reconciler)?;
        // A simulation that cannot start its runner ends; the venue stays shared through
        // `venue`, so the reconciler the failure hands back is not needed.
        let runner = Runner::start(reconciler, engine.write_handle(), runner_config, clearance)
            .map_err(|failure| RunError::RunnerStart(failure.into_error()))?;
        let maker = GridMarketMaker::new(
            MarketMakerConfig {
                band: settings.levels / 2,
                max_places_per_decision: MAX_PLACES_PER_TICK,
                ..MarketMakerConfig::default()
            },
            first_order_id,
        );
        // The market maker keeps asking to cancel an order until the venue's confirmation
        // arrives, which is not news: each live order's cancel goes once.
        let world = World::new(
            engine,
            Threaded::new(venue, runner),
            maker,
            CancelPolicy::OncePerLiveOrder,
        );
        Ok(Self {
            world,
            clock,
            latency: latency_histogram(),
            activity: Activity::default(),
            started: Instant::now(),
            settings,
            journal: journaled,
        })
    }

    /// Trades for the configured duration, converges, stops everything and reports.
    ///
    /// # Errors
    ///
    /// A [`RunError`] if the engine or the reconciler fails.
    pub fn run(
        mut self,
        progress: &mut Progress,
        cycle_durations: &dyn Fn() -> Hdr<u64>,
    ) -> Result<Report, RunError> {
        let mut next_tick = Instant::now();
        while self.started.elapsed() < self.settings.duration {
            self.tick()?;
            self.show(progress, "trading");
            next_tick = self.sleep_until_next(next_tick);
        }
        let trading = self.started.elapsed();
        let commands_while_trading = self.world.reader().load().counters().total();
        // No more faults, no more price moves (so no more fills), no more quotes. Neither
        // change can fail: no faults are valid rates, and no interval is not zero.
        let _ = self.world.halt();
        let converging_since = Instant::now();
        let mut next_check = converging_since;
        let converged = loop {
            self.tick()?;
            self.show(progress, "converging");
            let now = Instant::now();
            if now >= next_check {
                next_check = now + CONVERGENCE_CHECK_INTERVAL;
                if self.converged() {
                    break true;
                }
            }
            if converging_since.elapsed() >= self.settings.converge_timeout {
                break false;
            }
            next_tick = self.sleep_until_next(next_tick);
        };
        let phases = Phases {
            trading,
            commands_while_trading,
            converging: converging_since.elapsed(),
            converged,
        };
        progress.finish();
        self.finish(phases, cycle_durations)
    }

    /// One step of the world to the wall clock (see [`World::step`]), with each submission
    /// stamped to measure how long it took to become visible.
    fn tick(&mut self) -> Result<(), RunError> {
        let now = self.clock.now();
        let mut hook = Stamped {
            latency: &mut self.latency,
            submitted: Vec::new(),
        };
        let report = self
            .world
            .step(now, &mut hook)
            .map_err(|error| match error {
                StepError::Submit(error) => error,
                StepError::Flush(_) => RunError::EngineClosed,
            })?;
        let activity = &mut self.activity;
        activity.commands_submitted += report.updates_delivered + report.places_submitted;
        activity.updates_delivered += report.updates_delivered;
        activity.orders_placed += report.places_sent;
        activity.places_refused_by_book += report.places_refused_by_book;
        activity.places_refused_by_venue += report.place_errors.len() as u64;
        activity.cancels_sent += report.cancels_sent;
        // Typically filled at the venue before the cancel arrived.
        activity.cancels_refused += report.cancel_errors.len() as u64;
        Ok(())
    }

    /// Whether nothing is in flight and the book agrees with the venue's truth.
    fn converged(&self) -> bool {
        let snapshot = self.world.reader().load();
        let venue = self.world.reach().venue();
        venue.pending_update_count() == 0
            && compare(snapshot.state(), venue.orders(), venue.net_position()).agrees()
    }

    fn show(&self, progress: &mut Progress, phase: &'static str) {
        progress.tick(Instant::now(), || {
            let snapshot = self.world.reader().load();
            let totals = self.world.reach().runner().totals();
            Sample {
                elapsed: self.started.elapsed(),
                phase,
                commands: snapshot.counters().total(),
                version: snapshot.version().0,
                snapshot_age: self
                    .clock
                    .now()
                    .saturating_duration_since(snapshot.published_at()),
                mismatches_found: totals.mismatches_total(),
                corrections_applied: totals.actions.corrections_applied,
            }
        });
    }

    /// Sleeps until the next tick; when the driver falls behind, it skips the missed ticks
    /// rather than running them back to back.
    fn sleep_until_next(&self, scheduled: Instant) -> Instant {
        let next = scheduled + self.settings.tick;
        let now = Instant::now();
        if next > now {
            thread::sleep(next - now);
            next
        } else {
            now
        }
    }

    /// Stops the runner, shuts the engine down, and compares its final book with the venue.
    fn finish(
        self,
        phases: Phases,
        cycle_durations: &dyn Fn() -> Hdr<u64>,
    ) -> Result<Report, RunError> {
        let writer = self.world.writer().clone();
        let (engine, threaded) = self.world.into_parts();
        let (venue, runner) = threaded.into_parts();
        let reconciler = runner.stop().map_err(RunError::RunnerStop)?;
        let totals = reconciler.totals().clone();
        let durable_seq = if self.journal.is_some() {
            Some(writer.flush_durable().map_err(RunError::Durable)?)
        } else {
            None
        };
        drop(writer);
        let last = engine.shutdown().map_err(|error| match error {
            ShutdownError::WriterFailed { message, .. } => RunError::EngineFailed(message),
        })?;
        last.state()
            .check_invariants()
            .map_err(|violation| RunError::Invariant(violation.to_string()))?;
        let venue = lock(&venue);
        let final_state = compare(last.state(), venue.orders(), venue.net_position());
        let mut report = Report::new(Measurements {
            settings: self.settings,
            phases,
            last: &last,
            activity: self.activity,
            latency: &self.latency,
            cycle_durations: &cycle_durations(),
            totals: &totals,
            faults: venue.fault_counts(),
            final_state,
        });
        if let (Some(journaled), Some(durable_seq)) = (self.journal, durable_seq) {
            report.journal = Some(journal_report(journaled, &last, durable_seq.0));
        }
        Ok(report)
    }
}

/// Recovers the engine from the journal in `settings`' directory (a fresh journal when it is
/// empty).
fn recover(
    book: Book,
    settings: &JournalSettings,
) -> Result<(Engine<Book>, RecoveryReport), RunError> {
    let directory: &Path = &settings.directory;
    let mut journal =
        JournalConfig::new(directory).map_err(|source| RunError::JournalDirectory {
            directory: directory.to_path_buf(),
            source,
        })?;
    journal.sync = settings.sync;
    let config = EngineConfig {
        journal: Some(journal),
        ..EngineConfig::default()
    };
    Engine::recover(book, config).map_err(RunError::Recovery)
}

fn journal_report(journaled: Journaled, last: &Snapshot<Book>, durable_seq: u64) -> JournalReport {
    let Journaled {
        directory,
        sync,
        recovery,
        startup,
    } = journaled;
    let held_a_journal = recovery.checkpoint_seq.is_some()
        || recovery.segments_read > 0
        || recovery.records_replayed > 0
        || recovery.torn_bytes_truncated > 0;
    JournalReport {
        directory: directory.display().to_string(),
        sync: sync.to_string(),
        last_seq: last.last_seq().0,
        durable_seq,
        state_digest: last.state().state_digest().to_string(),
        recovery: held_a_journal.then(|| RecoveryFigures {
            checkpoint_seq: recovery.checkpoint_seq.map(|seq| seq.0),
            records_replayed: recovery.records_replayed,
            torn_bytes_truncated: recovery.torn_bytes_truncated,
            segments_read: recovery.segments_read,
            last_seq: recovery.last_seq.0,
        }),
        startup: StartupFigures {
            actions: startup.actions.len(),
            adopted_orders: startup.adopted_orders(),
            corrected_orders: startup.corrected_orders(),
            complete: startup.is_complete(),
        },
    }
}

fn venue_config(settings: &Settings, start: Timestamp) -> SimulatedVenueConfig {
    let mut config = SimulatedVenueConfig::new(settings.seed, start, settings.initial_price());
    config.price_step = super::settings::PRICE_STEP;
    config.price_interval = Some(settings.price_interval);
    config.update_delay = settings.venue_latency;
    config.faults = settings.venue_faults();
    config
}

/// The wall-clock run's [`StepHook`]: stamps each submission, and records how long each took
/// to become visible.
struct Stamped<'a> {
    latency: &'a mut Hdr<u64>,
    submitted: Vec<Instant>,
}

impl StepHook for Stamped<'_> {
    type Error = RunError;

    fn submit(
        &mut self,
        writer: &WriteHandle<Book>,
        command: BookCommand,
        _submission: Submission,
    ) -> Result<(), RunError> {
        self.submitted.push(Instant::now());
        writer
            .submit(command)
            .map_err(|SubmitError::Closed(_)| RunError::EngineClosed)
    }

    fn visible(&mut self) {
        let visible = Instant::now();
        for submitted_at in self.submitted.drain(..) {
            let nanos = visible.saturating_duration_since(submitted_at).as_nanos();
            self.latency
                .saturating_record(u64::try_from(nanos).unwrap_or(u64::MAX));
        }
    }
}
