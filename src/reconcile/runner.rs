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
use crate::sync::thread::{Builder, JoinHandle};
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
    thread: Option<JoinHandle<Option<Reconciler<V>>>>,
    shared: Arc<Shared>,
}

/// Why the runner thread could not be started: the [`error`](RunnerStartFailure::error) of a
/// [`RunnerStartFailure`], which also hands back what [`Runner::start`] was given.
#[derive(Debug, thiserror::Error)]
pub enum RunnerStartError {
    /// A [`RunnerConfig`] value is out of range.
    #[error("invalid runner configuration: {0}")]
    InvalidConfig(&'static str),
    /// The operating system refused the thread.
    #[error("could not spawn the reconciler thread")]
    Spawn(#[source] std::io::Error),
}

/// What [`Runner::start`] was given, handed back by a [`RunnerStartFailure`] so that a caller
/// can correct the configuration and start again without reconnecting to the venue or running
/// the startup pass again.
pub struct RunnerStartParts<V> {
    /// The reconciler, with its venue, evidence and totals as they were.
    pub reconciler: Reconciler<V>,
    /// The engine's write handle.
    pub writer: WriteHandle<Book>,
    /// The runner's configuration, as given.
    pub config: RunnerConfig,
    /// The startup clearance, as given.
    pub clearance: StartupClearance,
}

impl<V> fmt::Debug for RunnerStartParts<V> {
    // By hand, so that it does not ask for `V: Debug`; the venue is left out.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunnerStartParts")
            .field("config", &self.config)
            .field("clearance", &self.clearance)
            .finish_non_exhaustive()
    }
}

/// The error of [`Runner::start`]: why the thread did not start, and everything `start` was
/// given (like the value of std's `TrySendError` or `PoisonError`), so nothing is lost.
///
/// Its `Display` and `source` are those of its [`RunnerStartError`].
///
/// # Example
///
/// ```
/// use std::time::Duration;
///
/// use rust_decimal::Decimal;
/// use snapstate::book::{Book, BookConfig, Grid, Level};
/// use snapstate::engine::{Engine, EngineConfig};
/// use snapstate::reconcile::startup::StartupClearance;
/// use snapstate::reconcile::{CycleConfig, ReconcileConfig, Reconciler, Runner, RunnerConfig};
/// use snapstate::time::Timestamp;
/// use snapstate_sim::venue::{SimulatedVenue, SimulatedVenueConfig};
///
/// let now = Timestamp::from_millis(1_000);
/// let grid = Grid::new(Decimal::new(100, 0), Decimal::ONE, Level(-10), Level(10))?;
/// let engine = Engine::start(Book::new(BookConfig::new(grid)), EngineConfig::default())?;
/// let venue = SimulatedVenue::new(SimulatedVenueConfig::new(1, now, Decimal::new(100, 0)))?;
/// let reconciler = Reconciler::new(venue, ReconcileConfig::default(), CycleConfig::default())?;
/// let zero = RunnerConfig { interval: Duration::ZERO, ..RunnerConfig::default() };
/// let clearance = StartupClearance::waived("a doctest");
///
/// let failure = Runner::start(reconciler, engine.write_handle(), zero, clearance)
///     .expect_err("a zero interval is refused");
/// assert!(failure.is_invalid_config());
/// // The same reconciler (and venue) start again under a corrected configuration.
/// let parts = failure.into_parts();
/// let config = RunnerConfig { interval: Duration::from_millis(100), ..parts.config };
/// let runner = Runner::start(parts.reconciler, parts.writer, config, parts.clearance)?;
/// runner.stop()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct RunnerStartFailure<V> {
    error: RunnerStartError,
    // Boxed: a reconciler is large, and the error path should not make every `Result` of
    // `start` as large as it.
    parts: Box<RunnerStartParts<V>>,
}

impl<V> RunnerStartFailure<V> {
    /// Why the thread did not start.
    pub fn error(&self) -> &RunnerStartError {
        &self.error
    }

    /// Whether a [`RunnerConfig`] value was out of range
    /// ([`RunnerStartError::InvalidConfig`]).
    pub fn is_invalid_config(&self) -> bool {
        matches!(self.error, RunnerStartError::InvalidConfig(_))
    }

    /// Whether the operating system refused the thread ([`RunnerStartError::Spawn`]).
    pub fn is_spawn(&self) -> bool {
        matches!(self.error, RunnerStartError::Spawn(_))
    }

    /// The reconciler handed back, to look at without taking the failure apart.
    pub fn reconciler(&self) -> &Reconciler<V> {
        &self.parts.reconciler
    }

    /// The reason alone; the parts are dropped (and with them the reconciler's venue).
    pub fn into_error(self) -> RunnerStartError {
        self.error
    }

    /// The reconciler alone, with its venue; the rest is dropped.
    pub fn into_reconciler(self) -> Reconciler<V> {
        self.parts.reconciler
    }

    /// Everything [`Runner::start`] was given.
    pub fn into_parts(self) -> RunnerStartParts<V> {
        *self.parts
    }
}

impl<V> fmt::Debug for RunnerStartFailure<V> {
    // By hand, so that it does not ask for `V: Debug` (std's `PoisonError` does the same).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunnerStartFailure")
            .field("error", &self.error)
            .finish_non_exhaustive()
    }
}

impl<V> fmt::Display for RunnerStartFailure<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.error, f)
    }
}

impl<V> std::error::Error for RunnerStartFailure<V> {
    // Transparent: the failure says what its reason says, so the reason is not its source
    // (a cause chain would print the same line twice).
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        std::error::Error::source(&self.error)
    }
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
    /// A [`RunnerStartFailure`] that hands back everything it was given (the reconciler with
    /// its venue, the writer, the configuration and the clearance), so that a caller can start
    /// again without reconnecting, and says why:
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
    ) -> Result<Self, RunnerStartFailure<V>> {
        let parts = RunnerStartParts {
            reconciler,
            writer,
            config,
            clearance,
        };
        start_with(parts, |builder, body| builder.spawn(body))
    }

    /// The startup clearance it was started with.
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
            Some(Ok(Some(reconciler))) => Ok(reconciler),
            // The thread returns nothing only if the reconciler was never handed over, and
            // `start_with` returns a runner only after the hand-over succeeded.
            Some(Ok(None)) => unreachable!("a started runner's thread received its reconciler"),
            Some(Err(error)) => Err(error),
            // `join` takes the thread, and only `stop` (which consumes the handle) and `drop`
            // call it, so the thread is always still there.
            None => unreachable!("the reconciler thread is joined only once"),
        }
    }

    fn join(&mut self) -> Option<Result<Option<Reconciler<V>>, RunnerStopError>> {
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

/// The body of a runner's thread as [`start_with`]'s spawner receives it.
type ThreadBody<V> = Box<dyn FnOnce() -> Option<Reconciler<V>> + Send>;

/// [`Runner::start`] with the spawn passed in, so that a test can make it fail the way the
/// operating system would (std's `Builder::spawn` drops the closure when it refuses a thread).
fn start_with<V, S>(
    parts: RunnerStartParts<V>,
    spawn: S,
) -> Result<Runner<V>, RunnerStartFailure<V>>
where
    V: Venue + Send + 'static,
    S: FnOnce(Builder, ThreadBody<V>) -> std::io::Result<JoinHandle<Option<Reconciler<V>>>>,
{
    if let Err(reason) = validate(&parts.config) {
        return Err(RunnerStartFailure {
            error: RunnerStartError::InvalidConfig(reason),
            parts: Box::new(parts),
        });
    }
    let (stop, stopped) = channel::bounded::<()>(1);
    // The thread receives the reconciler and the writer only once the spawn has succeeded: a
    // closure that owned them would be dropped with them, venue and all, if the operating
    // system refused the thread, and nothing could hand them back.
    let (hand_over, handed) = channel::bounded::<(Reconciler<V>, WriteHandle<Book>)>(1);
    let shared = Arc::new(Shared::default());
    let thread_shared = Arc::clone(&shared);
    let interval = parts.config.interval;
    let body: ThreadBody<V> = Box::new(move || {
        // An error means that the hand-over never came; there is nothing to run.
        let (reconciler, writer) = handed.recv().ok()?;
        Some(run(reconciler, interval, &writer, &stopped, &thread_shared))
    });
    let builder = Builder::new().name(parts.config.thread_name.clone());
    let thread = match spawn(builder, body) {
        Ok(thread) => thread,
        Err(error) => {
            return Err(RunnerStartFailure {
                error: RunnerStartError::Spawn(error),
                parts: Box::new(parts),
            });
        }
    };
    let RunnerStartParts {
        reconciler,
        writer,
        config,
        clearance,
    } = parts;
    // The channel has room for the one message, so the send fails only if the receiver is
    // gone: the thread ended without its first statement running, which std does not do. Even
    // so the parts come back rather than being lost with the message.
    if let Err(channel::SendError((reconciler, writer))) = hand_over.send((reconciler, writer)) {
        return Err(RunnerStartFailure {
            error: RunnerStartError::Spawn(std::io::Error::other(
                "the reconciler thread ended before it received the reconciler",
            )),
            parts: Box::new(RunnerStartParts {
                reconciler,
                writer,
                config,
                clearance,
            }),
        });
    }
    Ok(Runner {
        clearance,
        stop: Some(stop),
        thread: Some(thread),
        shared,
    })
}

/// Why `config` cannot start a runner, if it cannot.
fn validate(config: &RunnerConfig) -> Result<(), &'static str> {
    if config.interval.is_zero() {
        return Err("interval must be longer than zero");
    }
    if config.thread_name.contains('\0') {
        return Err("thread_name must not contain a NUL byte");
    }
    Ok(())
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

/// The spawn path, driven through [`start_with`]: the operating system's refusal cannot be
/// provoked on purpose in a test without changing the whole process's limits, so a spawner
/// stands in for it, and does what std's does when it refuses a thread (it drops the body).
/// The configuration path is tested through `Runner::start` in `tests/reconcile_stress.rs`.
#[cfg(test)]
mod tests {
    use std::error::Error as _;
    use std::sync::atomic::{AtomicBool, Ordering};

    use rust_decimal::Decimal;

    use super::*;
    use crate::book::{BookConfig, Grid, Level};
    use crate::engine::{Engine, EngineConfig};
    use crate::reconcile::{CycleConfig, ReconcileConfig};
    use crate::time::Timestamp;
    use crate::venue::{OpenOrdersError, VenueReport};

    /// A venue connection that says which one it is and when it is dropped (closed).
    struct Connection {
        number: u64,
        closed: Arc<AtomicBool>,
    }

    impl Venue for Connection {
        fn open_orders(&mut self) -> Result<VenueReport, OpenOrdersError> {
            Ok(VenueReport {
                as_of: Timestamp::EPOCH,
                orders: Vec::new(),
                net_position: None,
            })
        }
    }

    impl Drop for Connection {
        fn drop(&mut self) {
            self.closed.store(true, Ordering::SeqCst);
        }
    }

    fn engine() -> Engine<Book> {
        let grid =
            Grid::new(Decimal::from(100), Decimal::ONE, Level(-10), Level(10)).expect("valid grid");
        Engine::start(Book::new(BookConfig::new(grid)), EngineConfig::default())
            .expect("engine starts")
    }

    fn parts(engine: &Engine<Book>, closed: &Arc<AtomicBool>) -> RunnerStartParts<Connection> {
        let venue = Connection {
            number: 7,
            closed: Arc::clone(closed),
        };
        RunnerStartParts {
            reconciler: Reconciler::new(venue, ReconcileConfig::default(), CycleConfig::default())
                .expect("valid"),
            writer: engine.write_handle(),
            config: RunnerConfig::default(),
            clearance: StartupClearance::waived("a unit test of the runner's start"),
        }
    }

    /// Checks that the failure handed the same, still open connection back, and that it starts
    /// a runner again.
    fn assert_handed_back(failure: RunnerStartFailure<Connection>, closed: &AtomicBool) {
        assert!(failure.is_spawn(), "{failure:?}");
        assert!(!failure.is_invalid_config());
        assert_eq!(failure.to_string(), "could not spawn the reconciler thread");
        assert!(failure.source().is_some(), "the operating system's error");
        assert!(!closed.load(Ordering::SeqCst), "the venue was dropped");
        let parts = failure.into_parts();
        assert_eq!(parts.reconciler.venue().number, 7);
        let runner = Runner::start(
            parts.reconciler,
            parts.writer,
            parts.config,
            parts.clearance,
        )
        .expect("the handed-back parts start a runner");
        let reconciler = runner.stop().expect("stops");
        assert_eq!(reconciler.venue().number, 7);
        assert!(!closed.load(Ordering::SeqCst));
        drop(reconciler);
        assert!(closed.load(Ordering::SeqCst), "the flag sees a drop");
    }

    #[test]
    fn a_refused_spawn_hands_back_the_reconciler_with_its_venue_open() {
        let engine = engine();
        let closed = Arc::new(AtomicBool::new(false));
        let failure = start_with(parts(&engine, &closed), |_builder, body| {
            drop(body);
            Err(std::io::Error::other("refused by the test"))
        })
        .expect_err("the spawn fails");
        assert_handed_back(failure, &closed);
        engine.shutdown().expect("clean shutdown");
    }

    #[test]
    fn a_thread_that_ends_before_the_hand_over_hands_back_the_reconciler() {
        let engine = engine();
        let closed = Arc::new(AtomicBool::new(false));
        let failure = start_with(parts(&engine, &closed), |builder, body| {
            drop(body);
            builder.spawn(|| None)
        })
        .expect_err("the hand-over fails");
        assert_handed_back(failure, &closed);
        engine.shutdown().expect("clean shutdown");
    }
}
