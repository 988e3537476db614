//! The reconciler's thread: a [`Reconciler`] run on an interval until stopped or until the
//! engine shuts down.

use std::fmt;

use crate::book::Book;
use crate::engine::{EngineStatus, WriteHandle};
use crate::sync::channel::{self, RecvTimeoutError, Sender};
use crate::sync::thread::JoinHandle;
use crate::sync::{Arc, Mutex};
use crate::venue::Venue;

use super::{CycleError, CycleReport, Reconciler, Totals};

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
    stop: Option<Sender<()>>,
    thread: Option<JoinHandle<Reconciler<V>>>,
    shared: Arc<Shared>,
}

/// Why the runner thread could not be started.
#[derive(Debug, thiserror::Error)]
pub enum RunnerStartError {
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
    /// # Errors
    ///
    /// [`RunnerStartError::Spawn`] when the operating system refuses the thread.
    pub fn start(
        reconciler: Reconciler<V>,
        writer: WriteHandle<Book>,
    ) -> Result<Self, RunnerStartError> {
        let (stop, stopped) = channel::bounded::<()>(1);
        let shared = Arc::new(Shared::default());
        let thread_shared = Arc::clone(&shared);
        let name = reconciler.runner_config().thread_name.clone();
        let thread = crate::sync::thread::Builder::new()
            .name(name)
            .spawn(move || run(reconciler, &writer, &stopped, &thread_shared))
            .map_err(RunnerStartError::Spawn)?;
        Ok(Self {
            stop: Some(stop),
            thread: Some(thread),
            shared,
        })
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
    writer: &WriteHandle<Book>,
    stopped: &channel::Receiver<()>,
    shared: &Shared,
) -> Reconciler<V> {
    let interval = reconciler.runner_config().interval;
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
