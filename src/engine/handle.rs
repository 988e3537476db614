//! The engine and its role-named handles: [`Engine`] owns the writer thread, [`WriteHandle`]
//! submits, [`ReadHandle`] and [`Reader`] load snapshots.

use std::fmt;
use std::time::{Duration, Instant};

use crate::sync::channel::{self, SendTimeoutError, Sender, TrySendError};
use crate::sync::thread::JoinHandle;
use crate::sync::{Arc, CachedLoad, Mutex, PublicationCell, RwLock};

use super::core::WriterCore;
use super::deadline::Deadline;
use super::error::WaitError;
use super::error::{
    FlushError, ShutdownError, StartError, SubmitError, SubmitTimeoutError, TrySubmitError,
};
use super::outcome::{HealthCell, OutcomeStream};
use super::signal::{Signal, WaitEnd};
use super::snapshot::{Seq, Snapshot, Version};
use super::writer::{Message, Reply, Writer};
use super::{EngineConfig, Health, StateMachine};
use crate::journal::{DurableState, DurableWaitError, LockGuard};

/// What the engine and its write handles share: the intake (the only sender into the queue),
/// the writer thread, the publication cell and the health record.
pub(super) struct Intake<S: StateMachine> {
    /// `None` once the engine is closed. Submitters hold the read lock only while they hand a
    /// message to the channel, so closing (taking the write lock and dropping the sender) waits
    /// for in-flight submits to finish: a command is either in the queue before the close, and
    /// so applied before the writer stops, or refused with the command handed back.
    pub(super) sender: RwLock<Option<Sender<Message<S::Command>>>>,
    writer: Mutex<Option<JoinHandle<()>>>,
    cell: PublicationCell<Snapshot<S>>,
    published_signal: Arc<Signal>,
    /// Raised when the writer makes room in the queue; closed when intake closes or the writer
    /// stops. Async submitters wait on it.
    pub(super) space_signal: Arc<Signal>,
    health: Arc<HealthCell>,
    /// The journal's threads and lock, when the engine journals.
    journal: Option<JournalRuntime>,
}

/// A journaling engine's journal thread, checkpointer and directory lock.
pub(super) struct JournalRuntime {
    pub(super) durable: Arc<DurableState>,
    pub(super) appender: Mutex<Option<JoinHandle<()>>>,
    pub(super) checkpointer: Mutex<Option<JoinHandle<()>>>,
    /// The directory's lock: held while the journal's threads may write, released by
    /// [`join`](Self::join) once they have stopped. Not held until the last handle is dropped:
    /// a producer's leftover [`WriteHandle`] can write nothing after a shutdown, and must not
    /// keep a restart in the same process (`Engine::recover` on the same directory) out.
    pub(super) lock: Mutex<Option<Box<dyn LockGuard>>>,
}

impl JournalRuntime {
    /// Waits for the journal thread to write and sync what the writer handed it, then stops
    /// the checkpointer, then releases the directory's lock. Call after the writer has stopped
    /// (its hook holds the journal's queue).
    pub(super) fn join(&self) {
        // The journal thread stops by itself once the writer's queue is gone, after a final
        // sync; only then is the journal closed (durable waiters get their answer first), which
        // stops the checkpointer.
        Self::join_thread(&self.appender);
        self.durable.close();
        Self::join_thread(&self.checkpointer);
        // Nothing writes to the directory any more.
        drop(
            self.lock
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .take(),
        );
    }

    /// Waits until every command up to `target` is durable (at most `timeout`), and says why
    /// not otherwise: the one mapping of a journal wait's end that both writers' durable
    /// barriers use.
    pub(super) fn wait_durable(
        &self,
        target: Seq,
        timeout: Option<Duration>,
    ) -> Result<Seq, DurableWaitError> {
        self.durable
            .wait_for(target, timeout)
            .map_err(|end| match end {
                crate::journal::WaitEnd::Failed(failure) => DurableWaitError::Failed(failure),
                crate::journal::WaitEnd::Closed => DurableWaitError::Closed,
                crate::journal::WaitEnd::Timeout => DurableWaitError::Timeout,
            })
    }

    fn join_thread(thread: &Mutex<Option<JoinHandle<()>>>) {
        let handle = thread
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take();
        if let Some(handle) = handle
            && handle.join().is_err()
        {
            tracing::error!("a snapstate journal thread ended with a panic");
        }
    }
}

impl<S: StateMachine> Intake<S> {
    /// Hands `message` to `send` with the live sender, or returns it if the engine is closed.
    pub(super) fn send_with<T>(
        &self,
        message: Message<S::Command>,
        send: impl FnOnce(&Sender<Message<S::Command>>, Message<S::Command>) -> T,
    ) -> Result<T, Message<S::Command>> {
        // Nothing panics while this lock is held for writing, so poisoning carries no meaning.
        let guard = self
            .sender
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        match guard.as_ref() {
            Some(sender) => Ok(send(sender, message)),
            None => Err(message),
        }
    }

    /// Stops intake and waits for the writer to apply and publish everything already queued.
    fn close_and_join(&self) {
        let sender = self
            .sender
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take();
        // Dropping the only sender disconnects the channel; the writer sees that only after it
        // has received every message queued before.
        drop(sender);
        // Async submitters waiting for room retry, and find intake closed.
        self.space_signal.close();
        // Joining under the lock makes a second caller wait until the first join has finished.
        let mut writer = self
            .writer
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(handle) = writer.take()
            && handle.join().is_err()
        {
            // The writer's failure guard has already recorded why in the health cell.
            tracing::error!("snapstate writer thread ended with a panic");
        }
        drop(writer);
        if let Some(journal) = &self.journal {
            journal.join();
        }
    }
}

impl<S: StateMachine> Intake<S> {
    fn read_handle(&self) -> ReadHandle<S> {
        ReadHandle::new(self.cell.clone(), Arc::clone(&self.published_signal)).with_durable(
            self.journal
                .as_ref()
                .map(|journal| Arc::clone(&journal.durable)),
        )
    }
}

impl<S: StateMachine> Drop for Intake<S> {
    fn drop(&mut self) {
        self.close_and_join();
    }
}

/// The outcome stream's two ends, if the configuration asks for one.
pub(super) fn outcome_channel<S: StateMachine>(
    config: &EngineConfig,
) -> (
    Option<Sender<super::core::Record<S>>>,
    Option<OutcomeStream<S>>,
) {
    match config.outcome_capacity {
        Some(capacity) => {
            let (sender, receiver) = channel::bounded(capacity);
            (Some(sender), Some(OutcomeStream { receiver }))
        }
        None => (None, None),
    }
}

/// A running engine: owns the writer thread and hands out handles.
///
/// Dropping the engine and every [`WriteHandle`] shuts it down the same way as
/// [`shutdown`](Self::shutdown) does. [`ReadHandle`]s do not keep it running: after shutdown
/// they keep returning the final snapshot.
pub struct Engine<S: StateMachine> {
    intake: Arc<Intake<S>>,
    outcomes: Option<OutcomeStream<S>>,
}

impl<S: StateMachine> Engine<S> {
    /// Starts the writer thread on `initial`, which becomes version 0.
    ///
    /// # Errors
    ///
    /// [`StartError::InvalidConfig`] for a zero capacity or batch size, [`StartError::Spawn`]
    /// when the operating system refuses the thread.
    pub fn start(initial: S, config: EngineConfig) -> Result<Self, StartError> {
        config.validate().map_err(StartError::InvalidConfig)?;
        if config.journal.is_some() {
            return Err(StartError::InvalidConfig(
                "an engine with a journal starts with Engine::recover",
            ));
        }
        let (sender, receiver) = channel::bounded(config.queue_capacity);
        let (outcome_sender, outcomes) = outcome_channel(&config);
        let core = WriterCore::new(initial, &config, outcome_sender, false);
        Self::launch(core, &config, sender, receiver, outcomes, None).map_err(StartError::Spawn)
    }

    /// Starts the writer thread on `core` and wraps it in an engine.
    pub(super) fn launch(
        core: WriterCore<S>,
        config: &EngineConfig,
        sender: Sender<Message<S::Command>>,
        receiver: channel::Receiver<Message<S::Command>>,
        outcomes: Option<OutcomeStream<S>>,
        journal: Option<JournalRuntime>,
    ) -> std::io::Result<Self> {
        let cell = core.cell().clone();
        let health = Arc::clone(core.health());
        let published_signal = Arc::clone(core.published_signal());
        let space_signal = Arc::new(Signal::default());
        let writer = Writer::new(receiver, core, Arc::clone(&space_signal), config);
        let thread = crate::sync::spawn_named(config.thread_name.clone(), move || writer.run())?;
        Ok(Self {
            intake: Arc::new(Intake {
                sender: RwLock::new(Some(sender)),
                writer: Mutex::new(Some(thread)),
                cell,
                published_signal,
                space_signal,
                health,
                journal,
            }),
            outcomes,
        })
    }

    /// A handle for submitting commands; clone it for each producer.
    pub fn write_handle(&self) -> WriteHandle<S> {
        WriteHandle {
            intake: Arc::clone(&self.intake),
        }
    }

    /// A handle for loading snapshots; clone it for each reader.
    pub fn read_handle(&self) -> ReadHandle<S> {
        self.intake.read_handle()
    }

    /// The per-command outcome stream, if [`EngineConfig::outcome_capacity`] asked for one.
    /// Returns it once; later calls return `None`.
    pub fn take_outcomes(&mut self) -> Option<OutcomeStream<S>> {
        self.outcomes.take()
    }

    /// The engine's health: running, stopped or failed, and how many commands panicked.
    pub fn health(&self) -> Health {
        self.intake.health.read()
    }

    /// Stops intake, applies and publishes everything accepted before, joins the writer thread
    /// and returns the final snapshot. Other write handles' submits fail with `Closed` from now
    /// on and hand their commands back.
    ///
    /// # Errors
    ///
    /// [`ShutdownError::WriterFailed`] if the writer thread failed (a bug, not a rejected
    /// command); it carries the last good snapshot.
    pub fn shutdown(self) -> Result<Arc<Snapshot<S>>, ShutdownError<S>> {
        self.intake.close_and_join();
        ShutdownError::check(self.intake.cell.load_full(), self.intake.health.read())
    }
}

impl<S: StateMachine> fmt::Debug for Engine<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Engine")
            .field("health", &self.health())
            .finish_non_exhaustive()
    }
}

/// Submits commands to the writer. Cheap to clone; `Send` and `Sync`.
pub struct WriteHandle<S: StateMachine> {
    pub(super) intake: Arc<Intake<S>>,
}

impl<S: StateMachine> Clone for WriteHandle<S> {
    fn clone(&self) -> Self {
        Self {
            intake: Arc::clone(&self.intake),
        }
    }
}

impl<S: StateMachine> WriteHandle<S> {
    /// Queues a command, waiting while the queue is full (backpressure).
    ///
    /// Accepted commands are applied in queue order; see [`Seq`](super::Seq).
    ///
    /// # Errors
    ///
    /// [`SubmitError::Closed`], with the command, once the engine is shut down or failed.
    pub fn submit(&self, command: S::Command) -> Result<(), SubmitError<S::Command>> {
        match self
            .intake
            .send_with(Message::Command(command), |sender, message| {
                sender.send(message)
            }) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(channel::SendError(message))) | Err(message) => {
                Err(SubmitError::Closed(message.into_command()))
            }
        }
    }

    /// Queues a command if there is room now.
    ///
    /// # Errors
    ///
    /// [`TrySubmitError::Full`] when the queue is full, [`TrySubmitError::Closed`] once the
    /// engine is shut down or failed; both hand the command back.
    pub fn try_submit(&self, command: S::Command) -> Result<(), TrySubmitError<S::Command>> {
        match self
            .intake
            .send_with(Message::Command(command), |sender, message| {
                sender.try_send(message)
            }) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(TrySendError::Full(message))) => {
                Err(TrySubmitError::Full(message.into_command()))
            }
            Ok(Err(TrySendError::Disconnected(message))) | Err(message) => {
                Err(TrySubmitError::Closed(message.into_command()))
            }
        }
    }

    /// Queues a command, waiting at most `timeout` for room.
    ///
    /// # Errors
    ///
    /// [`SubmitTimeoutError::Timeout`] when the queue stayed full, and
    /// [`SubmitTimeoutError::Closed`] once the engine is shut down or failed; both hand the
    /// command back.
    pub fn submit_timeout(
        &self,
        command: S::Command,
        timeout: Duration,
    ) -> Result<(), SubmitTimeoutError<S::Command>> {
        match self
            .intake
            .send_with(Message::Command(command), |sender, message| {
                sender.send_timeout(message, timeout)
            }) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(SendTimeoutError::Timeout(message))) => {
                Err(SubmitTimeoutError::Timeout(message.into_command()))
            }
            Ok(Err(SendTimeoutError::Disconnected(message))) | Err(message) => {
                Err(SubmitTimeoutError::Closed(message.into_command()))
            }
        }
    }

    /// A barrier: returns once every command this thread submitted before the call (and every
    /// command any thread queued before the barrier) is applied and published, with the
    /// version that first includes them all.
    ///
    /// # Errors
    ///
    /// [`FlushError::Closed`] if the engine shut down or failed before reaching the barrier.
    pub fn flush(&self) -> Result<Version, FlushError> {
        self.flush_inner(Deadline::NONE)
    }

    /// Like [`flush`](Self::flush), waiting at most `timeout` in all.
    ///
    /// # Errors
    ///
    /// [`FlushError::Timeout`] when the barrier was not reached in time (it stays queued and its
    /// reply is discarded), [`FlushError::Closed`] as for `flush`.
    pub fn flush_timeout(&self, timeout: Duration) -> Result<Version, FlushError> {
        self.flush_inner(Deadline::after(Instant::now(), timeout))
    }

    fn flush_inner(&self, deadline: Deadline) -> Result<Version, FlushError> {
        // The clock is read only when there is a limit to measure against.
        let (reply_sender, reply) = channel::bounded(1);
        let sent = self.intake.send_with(
            Message::Barrier(Reply::Blocking(reply_sender)),
            |sender, message| match deadline.left(Instant::now) {
                None => sender.send(message).map_err(|_| FlushError::Closed),
                Some(left) => sender
                    .send_timeout(message, left)
                    .map_err(|error| match error {
                        SendTimeoutError::Timeout(_) => FlushError::Timeout,
                        SendTimeoutError::Disconnected(_) => FlushError::Closed,
                    }),
            },
        );
        sent.unwrap_or(Err(FlushError::Closed))?;
        match deadline.left(Instant::now) {
            None => reply.recv().map_err(|_| FlushError::Closed),
            Some(left) => reply.recv_timeout(left).map_err(|error| match error {
                channel::RecvTimeoutError::Timeout => FlushError::Timeout,
                channel::RecvTimeoutError::Disconnected => FlushError::Closed,
            }),
        }
    }

    /// A durable barrier: returns once every command this thread submitted before the call
    /// (and every command any thread queued before the barrier) is durable in the journal
    /// under its [`SyncPolicy`](crate::journal::SyncPolicy), with the durable sequence number
    /// reached. [`flush`](Self::flush) waits for visibility; this waits for durability too.
    ///
    /// # Errors
    ///
    /// [`DurableWaitError::NoJournal`] without a journal, [`DurableWaitError::Failed`] once
    /// the journal has failed, [`DurableWaitError::Closed`] if the engine stopped first.
    pub fn flush_durable(&self) -> Result<Seq, DurableWaitError> {
        self.flush_durable_inner(Deadline::NONE)
    }

    /// Like [`flush_durable`](Self::flush_durable), waiting at most `timeout` in all: the
    /// limit is fixed when the call starts, and the wait for durability gets only what the
    /// wait for the barrier to be visible left of it. A `timeout` too long to represent
    /// (`Duration::MAX`) is no limit.
    ///
    /// # Errors
    ///
    /// As for `flush_durable`, and [`DurableWaitError::Timeout`].
    pub fn flush_durable_timeout(&self, timeout: Duration) -> Result<Seq, DurableWaitError> {
        self.flush_durable_inner(Deadline::after(Instant::now(), timeout))
    }

    fn flush_durable_inner(&self, deadline: Deadline) -> Result<Seq, DurableWaitError> {
        let journal = self
            .intake
            .journal
            .as_ref()
            .ok_or(DurableWaitError::NoJournal)?;
        deadline.then(
            Instant::now,
            |deadline| {
                self.flush_inner(deadline).map_err(|error| match error {
                    FlushError::Timeout => DurableWaitError::Timeout,
                    FlushError::Closed => journal
                        .durable
                        .failure()
                        .map_or(DurableWaitError::Closed, DurableWaitError::Failed),
                })
            },
            |_visible, left| {
                // The snapshot loaded now includes everything before the barrier (it is at
                // least the version the barrier returned); waiting for its last_seq may wait
                // for a little more, never for less.
                let target = self.intake.cell.load_full().last_seq;
                journal.wait_durable(target, left)
            },
        )
    }

    /// Commands queued and not yet taken by the writer (a momentary reading).
    pub fn queue_len(&self) -> usize {
        let guard = self
            .intake
            .sender
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        guard.as_ref().map_or(0, Sender::len)
    }

    /// The engine's health.
    pub fn health(&self) -> Health {
        self.intake.health.read()
    }

    /// A read handle on the same engine.
    pub fn read_handle(&self) -> ReadHandle<S> {
        self.intake.read_handle()
    }
}

impl<S: StateMachine> fmt::Debug for WriteHandle<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WriteHandle").finish_non_exhaustive()
    }
}

/// Loads snapshots. Cheap to clone; `Send` and `Sync`. Never blocks the writer.
pub struct ReadHandle<S> {
    pub(super) cell: PublicationCell<Snapshot<S>>,
    pub(super) published_signal: Arc<Signal>,
    durable: Option<Arc<DurableState>>,
}

impl<S> Clone for ReadHandle<S> {
    fn clone(&self) -> Self {
        Self {
            cell: self.cell.clone(),
            published_signal: Arc::clone(&self.published_signal),
            durable: self.durable.clone(),
        }
    }
}

impl<S> ReadHandle<S> {
    /// A read handle on a writer's publication cell and signal (both writers build theirs so).
    pub(crate) fn new(cell: PublicationCell<Snapshot<S>>, published_signal: Arc<Signal>) -> Self {
        Self {
            cell,
            published_signal,
            durable: None,
        }
    }

    /// The same handle, reporting `durable`'s live [`durable_seq`](Self::durable_seq).
    pub(crate) fn with_durable(mut self, durable: Option<Arc<DurableState>>) -> Self {
        self.durable = durable;
        self
    }

    /// Waits, asleep, until a snapshot of `version` or later is published, and returns the
    /// first such snapshot it loads. Returns at once if one is already published.
    ///
    /// Pass [`Duration::MAX`] to wait without a limit. The writer never waits for a waiting
    /// reader, and publishing costs it one extra atomic operation while nobody waits.
    ///
    /// ```
    /// use std::time::Duration;
    /// # use snapstate::engine::{Engine, EngineConfig, Labelled, StateMachine};
    /// # #[derive(Clone, Default)] struct Counter(u64);
    /// # #[derive(Debug)] struct Added;
    /// # impl Labelled for Added { const LABELS: &'static [&'static str] = &["added"]; fn label_index(&self) -> usize { 0 } }
    /// # #[derive(Debug, thiserror::Error)] #[error("overflow")] struct Overflow;
    /// # impl Labelled for Overflow { const LABELS: &'static [&'static str] = &["overflow"]; fn label_index(&self) -> usize { 0 } }
    /// # impl StateMachine for Counter {
    /// #     type Command = u64; type Applied = Added; type Rejected = Overflow;
    /// #     fn apply(&mut self, amount: &u64) -> Result<Added, Overflow> { self.0 += amount; Ok(Added) }
    /// # }
    /// let engine = Engine::start(Counter::default(), EngineConfig::default())?;
    /// let reader = engine.read_handle();
    /// let seen = reader.load().version();
    /// engine.write_handle().submit(7)?;
    /// // Sleeps until the writer publishes the command, without polling.
    /// let changed = reader.wait_for_change(seen, Duration::from_secs(10))?;
    /// assert_eq!(changed.state().0, 7);
    /// # drop(engine.shutdown()?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`WaitError::Timeout`] when `timeout` passed first; [`WaitError::Stopped`] when the
    /// engine stopped (shut down or failed) without publishing `version`. Both carry the latest
    /// snapshot.
    pub fn wait_for_version(
        &self,
        version: Version,
        timeout: Duration,
    ) -> Result<Arc<Snapshot<S>>, WaitError<S>> {
        // A limit too far away to represent is no limit.
        let deadline = Instant::now().checked_add(timeout);
        let mut found = None;
        let end = self.published_signal.wait_until(
            || {
                let snapshot = self.cell.load_full();
                let ready = snapshot.version >= version;
                if ready {
                    found = Some(snapshot);
                }
                ready
            },
            deadline,
        );
        match (end, found) {
            (WaitEnd::Ready, Some(snapshot)) => {
                debug_assert!(snapshot.version >= version, "a wait returned early");
                Ok(snapshot)
            }
            (WaitEnd::TimedOut, _) => Err(WaitError::Timeout {
                latest: self.cell.load_full(),
            }),
            (WaitEnd::Closed | WaitEnd::Ready, _) => Err(WaitError::Stopped {
                last: self.cell.load_full(),
            }),
        }
    }

    /// Waits, asleep, until a version newer than `after` is published; the twin of
    /// [`wait_for_version`](Self::wait_for_version)`(after.next(), timeout)`. Typical use: load,
    /// act on the snapshot, then wait for the next change after its version.
    ///
    /// # Errors
    ///
    /// As for [`wait_for_version`](Self::wait_for_version).
    pub fn wait_for_change(
        &self,
        after: Version,
        timeout: Duration,
    ) -> Result<Arc<Snapshot<S>>, WaitError<S>> {
        self.wait_for_version(after.next(), timeout)
    }

    /// The latest published snapshot, as a full reference count.
    ///
    /// # Consistency
    ///
    /// The snapshot is one whole version: every command up to its
    /// [`last_seq`](Snapshot::last_seq) and none after. It never changes, however long it is
    /// held, and holding it blocks nobody. Load once per logical operation (a reconciliation, a
    /// risk check) and work on that one value: two loads may return different versions, never
    /// an older one after a newer one. Use this for long holds; for hot loops, use a
    /// [`Reader`].
    ///
    /// Cost: constant, whatever the state's size (a few atomic operations).
    pub fn load(&self) -> Arc<Snapshot<S>> {
        self.cell.load_full()
    }

    /// How far the journal is durable now: every command up to this sequence number is
    /// durable under the journal's [`SyncPolicy`](crate::journal::SyncPolicy). `None` when the
    /// engine has no journal. A live reading, newer than any snapshot's
    /// [`durable_seq`](Snapshot::durable_seq); it never decreases.
    pub fn durable_seq(&self) -> Option<Seq> {
        self.durable.as_ref().map(|durable| durable.durable_seq())
    }

    /// A per-thread reader with a cached load, for hot loops.
    pub fn reader(&self) -> Reader<S> {
        let cached = self.cell.cached();
        Reader {
            cached,
            #[cfg(debug_assertions)]
            last_version: Version(0),
        }
    }
}

impl<S> fmt::Debug for ReadHandle<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReadHandle").finish_non_exhaustive()
    }
}

/// A per-thread reader whose [`load`](Self::load) costs one pointer comparison while nothing has
/// been published since its last load.
///
/// `Send` but not meant to be shared: give each thread its own (from
/// [`ReadHandle::reader`]).
pub struct Reader<S> {
    cached: CachedLoad<Snapshot<S>>,
    /// The version of the last snapshot returned, for the debug assertion in `load`.
    #[cfg(debug_assertions)]
    last_version: Version,
}

impl<S> Reader<S> {
    /// The latest published snapshot.
    ///
    /// # Consistency
    ///
    /// As for [`ReadHandle::load`]: a whole version, never older than the one this reader
    /// returned before. The reader keeps the returned snapshot alive until its next `load`, so a
    /// reader that stops loading pins that version's memory; clone the `Arc` to hold a snapshot
    /// beyond the next load.
    pub fn load(&mut self) -> &Arc<Snapshot<S>> {
        // One cache check, and the assertion is about the snapshot actually returned: loading
        // twice could return a newer snapshot than the one whose version was checked.
        let snapshot = self.cached.load();
        #[cfg(debug_assertions)]
        {
            assert!(
                snapshot.version >= self.last_version,
                "a reader saw {} after {}",
                snapshot.version,
                self.last_version
            );
            self.last_version = snapshot.version;
        }
        snapshot
    }
}

impl<S> fmt::Debug for Reader<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reader").finish_non_exhaustive()
    }
}
