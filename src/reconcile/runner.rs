//! The reconciler's thread: a [`Reconciler`] run on an interval until stopped or until the
//! engine shuts down.
//!
//! It starts only with a [`StartupClearance`]: the proof that the startup reconciliation
//! ([`startup`](super::startup)) completed, so that an embedder cannot begin continuous
//! reconciliation (and trading) on a book the venue has not confirmed after a restart.

use std::fmt;
use std::time::Duration;

use crate::book::Book;
use crate::engine::{EngineStatus, WriteHandle};
use crate::sync::channel::{self, RecvTimeoutError, Sender};
use crate::sync::thread::JoinHandle;
use crate::sync::{Arc, Mutex};
use crate::venue::Venue;

use super::startup::StartupClearance;
use super::{CycleError, CycleReport, Reconciler, Totals};

/// The runner thread's own settings; what each cycle does is the reconciler's
/// [`CycleConfig`](super::CycleConfig).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunnerConfig {
    /// Time between the end of one cycle and the start of the next. Default 1 s. Positive: a
    /// zero interval would query the venue back to back, as fast as it answers (most venues
    /// limit the rate of such queries and punish those who exceed it).
    pub interval: Duration,
    /// Name of the runner's thread. Default `"snapstate-reconciler"`. It may not contain a NUL
    /// byte (the operating system's thread names are C strings).
    pub thread_name: String,
}

impl Default for RunnerConfig {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(1),
            thread_name: "snapstate-reconciler".to_owned(),
        }
    }
}

/// What the runner thread shares with its handle: the totals and the last cycle's report.
#[derive(Default)]
struct Shared {
    totals: Mutex<Totals>,
    last: Mutex<Option<Arc<CycleReport>>>,
}

/// A running reconciler thread.
///
/// Each interval (measured from the end of the previous cycle) it runs one
/// [`Reconciler::run_cycle`]. It stops when [`stop`](Self::stop) is called, when the handle is
/// dropped, or on its own once the engine has shut down (its next cycle finds the engine
/// closed). It never blocks the engine's writer: it reads snapshots and submits commands like
/// any producer.
pub struct Runner<V: Venue + Send + 'static> {
    clearance: StartupClearance,
    stop: Option<Sender<()>>,
    thread: Option<JoinHandle<Reconciler<V>>>,
    shared: Arc<Shared>,
}

/// Why the runner thread could not be started.
#[derive(Debug, thiserror::Error)]
pub enum RunnerStartError {
    /// A [`RunnerConfig`] value is out of range.
    #[error("invalid runner configuration: {0}")]
    InvalidConfig(&'static str),
    /// The operating system refused the thread.
    #[error("could not spawn the reconciler thread")]
    Spawn(#[source] std::io::Error),
}

/// Why [`Runner::stop`] could not hand the reconciler back.
#[derive(Debug, thiserror::Error)]
pub enum RunnerStopError {
    /// The thread panicked (a bug); its last totals are kept.
    #[error("the reconciler thread panicked: {message}")]
    Panicked {
        /// The panic's message, when it was a string.
        message: String,
        /// The totals published before the panic.
        totals: Box<Totals>,
    },
}

impl<V: Venue + Send + 'static> Runner<V> {
    /// Starts the thread. The first cycle runs one interval after the start.
    ///
    /// `clearance` comes from a complete startup pass
    /// ([`StartupReport::clearance`](super::startup::StartupReport::clearance)), run after
    /// recovery or on a fresh engine; a harness that needs none says so with
    /// [`StartupClearance::waived`].
    ///
    /// # Errors
    ///
    /// [`RunnerStartError::InvalidConfig`] for a zero interval or a thread name with a NUL
    /// byte;
    /// [`RunnerStartError::Spawn`] when the operating system refuses the thread.
    ///
    /// # Example
    ///
    /// ```
    /// use rust_decimal::Decimal;
    /// use snapstate::book::{Book, BookConfig, Grid, Level};
    /// use snapstate::engine::{Engine, EngineConfig};
    /// use snapstate::reconcile::startup::{self, StartupConfig};
    /// use snapstate::reconcile::{CycleConfig, ReconcileConfig, Reconciler, Runner, RunnerConfig};
    /// use snapstate::time::Timestamp;
    /// use snapstate_sim::venue::{SimulatedVenue, SimulatedVenueConfig};
    ///
    /// let now = Timestamp::from_millis(1_000);
    /// let grid = Grid::new(Decimal::new(100, 0), Decimal::ONE, Level(-10), Level(10))?;
    /// let engine = Engine::start(Book::new(BookConfig::new(grid)), EngineConfig::default())?;
    /// let mut venue = SimulatedVenue::new(SimulatedVenueConfig::new(1, now, Decimal::new(100, 0)))?;
    ///
    /// // First the startup pass; only a complete one gives the clearance.
    /// let report = startup::run(&mut venue, &engine.write_handle(), &StartupConfig::default(), now)?;
    /// let clearance = report.clearance()?;
    ///
    /// let reconciler = Reconciler::new(venue, ReconcileConfig::default(), CycleConfig::default())?;
    /// let runner = Runner::start(reconciler, engine.write_handle(), RunnerConfig::default(), clearance)?;
    /// let _reconciler = runner.stop()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn start(
        reconciler: Reconciler<V>,
        writer: WriteHandle<Book>,
        config: RunnerConfig,
        clearance: StartupClearance,
    ) -> Result<Self, RunnerStartError> {
        if config.interval.is_zero() {
            return Err(RunnerStartError::InvalidConfig(
                "interval must be longer than zero",
            ));
        }
        if config.thread_name.contains('\0') {
            return Err(RunnerStartError::InvalidConfig(
                "thread_name must not contain a NUL byte",
            ));
        }
        let (stop, stopped) = channel::bounded::<()>(1);
        let shared = Arc::new(Shared::default());
        let thread_shared = Arc::clone(&shared);
        let interval = config.interval;
        let thread = crate::sync::thread::Builder::new()
            .name(config.thread_name)
            .spawn(move || run(reconciler, interval, &writer, &stopped, &thread_shared))
            .map_err(RunnerStartError::Spawn)?;
        Ok(Self {
            clearance,
            stop: Some(stop),
            thread: Some(thread),
            shared,
        })
    }

    /// The startup clearance it was started with.
    pub fn clearance(&self) -> &StartupClearance {
        &self.clearance
    }

    /// Totals over the cycles so far.
    pub fn totals(&self) -> Totals {
        with_lock(&self.shared.totals, |totals| totals.clone())
    }

    /// The last completed cycle's report, if any.
    pub fn last_report(&self) -> Option<Arc<CycleReport>> {
        with_lock(&self.shared.last, |last| last.clone())
    }

    /// Whether the thread has ended (stopped, or found the engine closed).
    pub fn is_finished(&self) -> bool {
        self.thread.as_ref().is_none_or(JoinHandle::is_finished)
    }

    /// Stops the thread after its current cycle and hands the reconciler back (its venue,
    /// evidence and totals).
    ///
    /// # Errors
    ///
    /// [`RunnerStopError::Panicked`] if the thread panicked.
    pub fn stop(mut self) -> Result<Reconciler<V>, RunnerStopError> {
        match self.join() {
            Some(joined) => joined,
            // `join` takes the thread, and only `stop` (which consumes the handle) and `drop`
            // call it, so the thread is always still there.
            None => unreachable!("the reconciler thread is joined only once"),
        }
    }

    fn join(&mut self) -> Option<Result<Reconciler<V>, RunnerStopError>> {
        // Dropping the sender wakes the thread's wait with a disconnection.
        drop(self.stop.take());
        let thread = self.thread.take()?;
        Some(thread.join().map_err(|payload| {
            let message = payload
                .downcast_ref::<&'static str>()
                .map(|message| (*message).to_owned())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "panic with a non-string payload".to_owned());
            RunnerStopError::Panicked {
                message,
                totals: Box::new(self.totals()),
            }
        }))
    }
}

impl<V: Venue + Send + 'static> Drop for Runner<V> {
    fn drop(&mut self) {
        if let Some(Err(error)) = self.join() {
            tracing::error!(%error, "the reconciler thread ended badly");
        }
    }
}

impl<V: Venue + Send + 'static> fmt::Debug for Runner<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Runner")
            .field("finished", &self.is_finished())
            .field("totals", &self.totals())
            .finish_non_exhaustive()
    }
}

/// The thread's body. Returns the reconciler when told to stop or when the engine has closed.
fn run<V: Venue>(
    mut reconciler: Reconciler<V>,
    interval: Duration,
    writer: &WriteHandle<Book>,
    stopped: &channel::Receiver<()>,
    shared: &Shared,
) -> Reconciler<V> {
    // A message or a disconnection (the handle dropped its sender) both mean stop.
    while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(interval) {
        if writer.health().status != EngineStatus::Running {
            break;
        }
        match reconciler.run_cycle(writer) {
            Ok(report) => with_lock(&shared.last, |last| *last = Some(Arc::new(report))),
            Err(CycleError::Venue(error)) => {
                tracing::warn!(%error, "reconciliation skipped: the venue gave no answer");
            }
            Err(CycleError::EngineClosed) => break,
        }
        publish_totals(shared, &reconciler);
    }
    publish_totals(shared, &reconciler);
    reconciler
}

fn publish_totals<V: Venue>(shared: &Shared, reconciler: &Reconciler<V>) {
    with_lock(&shared.totals, |totals| {
        totals.clone_from(reconciler.totals())
    });
}

fn with_lock<T, R>(mutex: &Mutex<T>, body: impl FnOnce(&mut T) -> R) -> R {
    // Nothing panics while these locks are held, so poisoning carries no meaning.
    let mut guard = mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    body(&mut guard)
}
