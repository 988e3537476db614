//! The inline writer: the engine's writer, driven on the caller's own thread.
//!
//! [`InlineWriter`] owns the same [`WriterCore`] the threaded engine's writer thread drives, so
//! it publishes the same [`Snapshot`]s through the same cell to the same [`ReadHandle`]s and
//! [`Reader`](super::Reader)s, with the same sequence numbers, outcome counters, metrics, panic
//! recovery and freeing of replaced versions. What it leaves out is the queue and the thread:
//! a call applies its commands and publishes before it returns, and hands the outcomes straight
//! back.
//!
//! # Choosing a writer
//!
//! * **Inline** when one thread produces every command (one venue connection per account, one
//!   strategy loop) and latency comes first: a command is visible to readers when `apply`
//!   returns, with no queue hop and no thread wake-up, and its outcome is the return value.
//!   The producing thread pays for the book work and for freeing replaced versions.
//! * **Threaded** ([`Engine`](super::Engine)) when many threads produce, or when the producing
//!   thread (a feed handler) must never do book work: producers only enqueue, backpressure is a
//!   bounded queue, and the writer thread batches whatever accumulated.
//!
//! Switching is a constructor change: both take an initial state and an [`EngineConfig`], both
//! hand out [`ReadHandle`]s, both shut down into the final snapshot.

use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::time::Duration;

use crate::journal::{Durable, DurableWaitError, RecoveryError, RecoveryReport};
use crate::sync::Arc;

use super::core::{JournalFailed, WriterCore};
use super::error::{ApplyError, ShutdownError, StartError};
use super::handle::{JournalRuntime, ReadHandle};
use super::outcome::Health;
use super::recover::start_journal;
use super::snapshot::Seq;
use super::snapshot::Snapshot;
use super::{EngineConfig, OutcomeRecordOf, StateMachine};

/// The writer on the caller's thread: applies commands and publishes each call's batch before
/// returning. One per engine, by construction: it is `Send` (move it to the thread that
/// produces) but not `Clone`.
///
/// ```
/// use snapstate::engine::{EngineConfig, InlineWriter, Labelled, Outcome, StateMachine};
///
/// #[derive(Clone, Default)]
/// struct Counter(u64);
///
/// #[derive(Debug)]
/// struct Added;
/// impl Labelled for Added {
///     const LABELS: &'static [&'static str] = &["added"];
///     fn label_index(&self) -> usize { 0 }
/// }
///
/// #[derive(Debug, thiserror::Error)]
/// #[error("would overflow")]
/// struct Overflow;
/// impl Labelled for Overflow {
///     const LABELS: &'static [&'static str] = &["overflow"];
///     fn label_index(&self) -> usize { 0 }
/// }
///
/// impl StateMachine for Counter {
///     type Command = u64;
///     type Applied = Added;
///     type Rejected = Overflow;
///     fn apply(&mut self, amount: &u64) -> Result<Added, Overflow> {
///         self.0 = self.0.checked_add(*amount).ok_or(Overflow)?;
///         Ok(Added)
///     }
/// }
///
/// let mut writer = InlineWriter::start(Counter::default(), EngineConfig::default())?;
/// let reader = writer.read_handle(); // clone one per reader thread, as with `Engine`
///
/// let record = writer.apply(40)?;
/// assert!(matches!(record.outcome, Outcome::Applied(Added)));
/// assert_eq!(reader.load().state().0, 40); // visible as soon as `apply` returns
///
/// let records = writer.apply_all([1, 1, u64::MAX])?; // one publication for the three
/// assert!(matches!(records[2].outcome, Outcome::Rejected(Overflow)));
/// assert_eq!(reader.load().state().0, 42);
///
/// let last = writer.shutdown()?;
/// assert_eq!(last.counters().applied(), 3);
/// assert_eq!(last.counters().rejected(), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// It is `Send`:
///
/// ```
/// # use snapstate::engine::InlineWriter;
/// fn assert_send<T: Send>() {}
/// assert_send::<InlineWriter<snapstate::book::Book>>();
/// ```
///
/// and not `Clone`, so there is one writer:
///
/// ```compile_fail
/// # use snapstate::engine::InlineWriter;
/// fn assert_clone<T: Clone>() {}
/// assert_clone::<InlineWriter<snapstate::book::Book>>();
/// ```
pub struct InlineWriter<S: StateMachine> {
    core: WriterCore<S>,
    max_batch: usize,
    /// Set when a batch unwound through the core; nothing is applied after.
    failed: bool,
    /// Set once the core has been finished (shutdown) or marked failed, so that `Drop` does
    /// neither twice.
    closed: bool,
    /// The journal thread, checkpointer and directory lock, when the writer journals.
    journal: Option<JournalRuntime>,
}

impl<S: StateMachine> InlineWriter<S> {
    /// A writer whose version 0 is `initial`, configured as an [`Engine`](super::Engine) would
    /// be.
    ///
    /// Of the configuration, it uses [`max_batch`](EngineConfig::max_batch) (a longer call
    /// publishes once per `max_batch` commands), [`reuse_limit`](EngineConfig::reuse_limit)
    /// (a batch of at most that many commands is applied again, after its publication, to the
    /// version it replaced, when no one holds that version), [`clock`](EngineConfig::clock) and
    /// [`record_metrics`](EngineConfig::record_metrics) (registered now, on this thread).
    /// The queue's capacity, the wait strategy and the thread's name have no queue or thread to
    /// apply to and are ignored.
    ///
    /// # Errors
    ///
    /// [`StartError::InvalidConfig`] for a zero batch or queue size, and for an
    /// [`outcome_capacity`](EngineConfig::outcome_capacity): the inline writer returns each
    /// outcome to its caller instead of streaming it; and for a
    /// [`journal`](EngineConfig::journal): a journaled writer starts through
    /// [`recover`](Self::recover), so that a restart never silently starts empty over an
    /// existing journal.
    pub fn start(initial: S, config: EngineConfig) -> Result<Self, StartError> {
        config.validate().map_err(StartError::InvalidConfig)?;
        if config.journal.is_some() {
            return Err(StartError::InvalidConfig(
                "a journaled writer starts through InlineWriter::recover",
            ));
        }
        Self::check_outcomes(&config).map_err(StartError::InvalidConfig)?;
        let core = WriterCore::new(initial, &config, None, true);
        Ok(Self::from_core(core, &config, None))
    }

    fn check_outcomes(config: &EngineConfig) -> Result<(), &'static str> {
        if config.outcome_capacity.is_some() {
            return Err(
                "the inline writer returns each outcome to its caller: outcome_capacity must be \
                 None",
            );
        }
        Ok(())
    }

    fn from_core(
        mut core: WriterCore<S>,
        config: &EngineConfig,
        journal: Option<JournalRuntime>,
    ) -> Self {
        core.register_metrics();
        Self {
            core,
            max_batch: config.max_batch,
            failed: false,
            closed: false,
            journal,
        }
    }

    /// Applies one command and publishes it: when this returns, every reader's next load sees
    /// it. Returns the command's outcome record (its [`Seq`](super::Seq), the version that
    /// first includes it, and what became of it).
    ///
    /// A command whose application panics is rejected like a refused one (its record says
    /// `Panicked`) and the writer carries on, as the threaded writer does.
    ///
    /// # Errors
    ///
    /// [`ApplyError::Failed`], with the command, once the writer has failed (see
    /// [`health`](Self::health)).
    ///
    /// # Panics
    ///
    /// When the state machine turns out not to be deterministic (a command that applied cleanly
    /// panics, or gives another result, when re-applied: during panic recovery, or when the
    /// writer applies the call's commands again to the version they replaced, after their
    /// publication, see [`EngineConfig::reuse_limit`]): the panic is the state machine's, or
    /// one naming the two results, passed on, and the writer is failed from then on. Readers keep the last good snapshot (in the second case,
    /// the one the call published: its commands are applied, counted and journaled).
    pub fn apply(
        &mut self,
        command: S::Command,
    ) -> Result<OutcomeRecordOf<S>, ApplyError<S::Command>> {
        if self.refuses() {
            return Err(ApplyError::Failed(command));
        }
        self.core.batch_mut().clear();
        self.core.batch_mut().push(command);
        if let Err(failed) = self.run_batch() {
            // Before applying, the batch is untouched: the command goes back to the caller.
            let refused = match failed {
                JournalFailed::BeforeApplying(_) => self.core.batch_mut().pop(),
                JournalFailed::AfterPublishing(_) => None,
            };
            self.fail_for_journal(&failed);
            if let Some(command) = refused {
                return Err(ApplyError::Failed(command));
            }
            // After publishing, it was applied and is visible, but not journaled: the writer
            // refuses everything after it, and `flush_durable` reports the failure.
        }
        let record = self.core.records_mut().pop();
        debug_assert!(
            self.core.records_mut().is_empty(),
            "one command, one record"
        );
        Ok(record.expect("the core keeps one record per command for the inline writer"))
    }

    /// Applies `commands` in order and publishes them together (once per
    /// [`max_batch`](EngineConfig::max_batch) commands for a longer sequence); returns one
    /// outcome record per command, in order. An empty sequence publishes nothing.
    ///
    /// # Errors
    ///
    /// [`ApplyError::Failed`], with the iterator untouched, once the writer has failed. If the
    /// journal fails during the call, the error carries the rest of the iterator: the batches
    /// applied before stay applied (their records are appended), and the commands taken for
    /// the batch that found the failure are dropped unapplied and counted in
    /// [`Health::unapplied_on_failure`].
    ///
    /// # Panics
    ///
    /// As for [`apply`](Self::apply), and when the iterator panics (the commands taken from it
    /// in the unfinished batch are then dropped unapplied, with nothing published for them).
    pub fn apply_all<I>(
        &mut self,
        commands: I,
    ) -> Result<Vec<OutcomeRecordOf<S>>, ApplyError<I::IntoIter>>
    where
        I: IntoIterator<Item = S::Command>,
    {
        let mut records = Vec::new();
        self.apply_all_into(commands, &mut records)?;
        Ok(records)
    }

    /// [`apply_all`](Self::apply_all), appending the records to `records`: a caller that
    /// reuses the vector allocates nothing per call.
    ///
    /// # Errors
    ///
    /// As for [`apply_all`](Self::apply_all).
    ///
    /// # Panics
    ///
    /// As for [`apply_all`](Self::apply_all).
    pub fn apply_all_into<I>(
        &mut self,
        commands: I,
        records: &mut Vec<OutcomeRecordOf<S>>,
    ) -> Result<(), ApplyError<I::IntoIter>>
    where
        I: IntoIterator<Item = S::Command>,
    {
        let mut commands = commands.into_iter();
        if self.refuses() {
            return Err(ApplyError::Failed(commands));
        }
        // Commands left by a call whose iterator panicked were never applied; not this call's.
        self.core.batch_mut().clear();
        loop {
            let limit = self.max_batch;
            self.core.batch_mut().extend(commands.by_ref().take(limit));
            if self.core.batch_mut().is_empty() {
                return Ok(());
            }
            let full = self.core.batch_mut().len() == limit;
            if let Err(failed) = self.run_batch() {
                self.fail_for_journal(&failed);
                records.append(self.core.records_mut());
                return Err(ApplyError::Failed(commands));
            }
            records.append(self.core.records_mut());
            if !full {
                return Ok(());
            }
        }
    }

    /// The latest published snapshot, without touching the publication cell: the writer knows
    /// it already.
    pub fn snapshot(&self) -> &Arc<Snapshot<S>> {
        self.core.published()
    }

    /// A handle for loading snapshots, on any thread; clone it for each reader. It keeps
    /// working after the writer shuts down (it returns the final snapshot).
    pub fn read_handle(&self) -> ReadHandle<S> {
        ReadHandle::new(
            self.core.cell().clone(),
            Arc::clone(self.core.published_signal()),
        )
        .with_durable(
            self.journal
                .as_ref()
                .map(|journal| Arc::clone(&journal.durable)),
        )
    }

    /// The writer's health: running, stopped or failed, and how many commands panicked.
    pub fn health(&self) -> Health {
        self.core.health().read()
    }

    /// Frees the replaced versions that readers have let go of since the last call that
    /// applied anything. Each call that applies commands does this after publishing; a producer
    /// that goes quiet while readers still hold old snapshots calls this to return their memory
    /// without applying anything (readers never free the state's memory themselves).
    ///
    /// Does nothing once the writer has failed.
    pub fn reclaim(&mut self) {
        if !self.refuses() {
            self.core.release(None);
        }
    }

    /// Stops the writer and returns the final snapshot. Readers keep it; waiters for a later
    /// version are told the engine stopped.
    ///
    /// # Errors
    ///
    /// [`ShutdownError::WriterFailed`] if the writer failed earlier; it carries the last good
    /// snapshot.
    pub fn shutdown(mut self) -> Result<Arc<Snapshot<S>>, ShutdownError<S>> {
        self.refuses();
        self.close();
        ShutdownError::check(Arc::clone(self.core.published()), self.core.health().read())
    }

    /// Fails the writer for a journal failure found inside a batch: the commands of a batch
    /// found before applying are counted unapplied (`apply` hands its one command back; those
    /// `apply_all` took from its iterator for that batch are dropped, and counted).
    fn fail_for_journal(&mut self, failed: &JournalFailed) {
        let unapplied = match failed {
            JournalFailed::BeforeApplying(_) => self.core.batch_mut().len() as u64,
            JournalFailed::AfterPublishing(_) => 0,
        };
        self.core.fail(unapplied, failed.message());
        self.failed = true;
        self.closed = true;
    }

    /// Runs the core's batch. A panic that unwinds through the core (a non-deterministic state
    /// machine) fails the writer before it reaches the caller, so that its health and its
    /// readers' waiters learn it at once, not at the next call.
    fn run_batch(&mut self) -> Result<(), JournalFailed> {
        match catch_unwind(AssertUnwindSafe(|| self.core.run_batch(None, |_| {}))) {
            Ok(ran) => ran,
            Err(payload) => {
                self.refuses();
                resume_unwind(payload)
            }
        }
    }

    /// Whether the writer refuses work because it failed; marks it failed the first time a
    /// batch is found to have unwound through the core.
    fn refuses(&mut self) -> bool {
        if !self.failed
            && let Some(failure) = self.core.journal_failure()
        {
            // Checked before a call takes anything: the core checks again before each batch
            // (and returns the failure rather than panicking) for a journal that fails after.
            self.core.fail(0, &failure);
            self.failed = true;
            self.closed = true;
        }
        if !self.failed && self.core.batch_unwound() {
            let unapplied = self.core.batch_mut().len() as u64;
            self.core.fail(
                unapplied,
                "the inline writer panicked while applying a batch",
            );
            self.failed = true;
            // A failed core is never finished: its status stays failed.
            self.closed = true;
        }
        self.failed
    }

    /// Finishes the core once: publishes final counts and marks the engine stopped; then, if
    /// it journals, closes the journal's queue and waits for the journal thread's final sync.
    fn close(&mut self) {
        if !self.closed {
            self.core.finish();
            self.closed = true;
        }
        if let Some(journal) = self.journal.take() {
            // The hook holds the journal's queue: dropping it lets the journal thread drain,
            // sync and stop.
            drop(self.core.take_publish_hook());
            journal.join();
        }
    }
}

impl<S: Durable> InlineWriter<S> {
    /// A writer that journals into [`EngineConfig::journal`], recovering whatever the
    /// journal's directory holds first; on an empty directory it starts fresh on `initial`.
    ///
    /// The same recovery, journal thread, checkpointer and file format as
    /// [`Engine::recover`](super::Engine::recover): a directory written by one writer recovers
    /// into the other. The journal thread and the checkpointer still run on threads of their
    /// own, so an `fdatasync` never sits on the caller's `apply`; the caller blocks only while
    /// the journal's bounded queue is full.
    ///
    /// ```
    /// use snapstate::engine::{EngineConfig, InlineWriter};
    /// use snapstate::journal::JournalConfig;
    /// # use snapstate::book::{Book, BookConfig, Grid};
    /// # use rust_decimal::Decimal;
    /// # let grid = Grid::centred(Decimal::new(100, 0), Decimal::new(1, 2), 20)?;
    /// # let book = Book::new(BookConfig::new(grid));
    /// # let directory = std::env::temp_dir().join(format!("snapstate-inline-doc-{}", std::process::id()));
    /// # let _ = std::fs::remove_dir_all(&directory);
    /// let config = EngineConfig {
    ///     journal: Some(JournalConfig::new(&directory)?),
    ///     ..EngineConfig::default()
    /// };
    /// let (mut writer, report) = InlineWriter::recover(book.clone(), config.clone())?;
    /// assert_eq!(report.last_seq.0, 0); // an empty directory: a fresh start
    /// # let command = snapstate::book::BookCommand::Cancel(snapstate::book::StatusReport {
    /// #     order_id: snapstate::book::OrderId(1), venue_seq: None,
    /// #     at: snapstate::time::Timestamp::EPOCH });
    /// writer.apply(command)?;                    // visible when it returns
    /// assert_eq!(writer.flush_durable()?.0, 1); // and now durable
    /// writer.shutdown()?;
    ///
    /// let (writer, report) = InlineWriter::recover(book, config)?; // a restart
    /// assert_eq!(report.last_seq.0, 1);
    /// assert_eq!(writer.snapshot().last_seq().0, 1);
    /// # writer.shutdown()?;
    /// # std::fs::remove_dir_all(&directory)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As for [`Engine::recover`](super::Engine::recover), and
    /// [`RecoveryError::InvalidConfig`] for an
    /// [`outcome_capacity`](EngineConfig::outcome_capacity), as for [`start`](Self::start).
    pub fn recover(
        initial: S,
        config: EngineConfig,
    ) -> Result<(Self, RecoveryReport), RecoveryError> {
        Self::check_outcomes(&config).map_err(RecoveryError::InvalidConfig)?;
        let (core, report, runtime) = start_journal(initial, &config, true)?;
        Ok((Self::from_core(core, &config, Some(runtime)), report))
    }
}

impl<S: StateMachine> InlineWriter<S> {
    /// A durable barrier: returns once every command applied before the call is durable in the
    /// journal under its [`SyncPolicy`](crate::journal::SyncPolicy), with the durable sequence
    /// number reached. Every applied command is already visible; this waits for the journal
    /// thread's sync.
    ///
    /// # Errors
    ///
    /// [`DurableWaitError::NoJournal`] without a journal, [`DurableWaitError::Failed`] once
    /// the journal has failed.
    pub fn flush_durable(&self) -> Result<Seq, DurableWaitError> {
        self.flush_durable_inner(None)
    }

    /// Like [`flush_durable`](Self::flush_durable), waiting at most `timeout` in all (the
    /// inline writer's barrier is visible at once, so its one phase is the wait for the sync,
    /// and it gets the whole limit). A `timeout` too long to represent (`Duration::MAX`) is no
    /// limit.
    ///
    /// # Errors
    ///
    /// As for `flush_durable`, and [`DurableWaitError::Timeout`].
    pub fn flush_durable_timeout(&self, timeout: Duration) -> Result<Seq, DurableWaitError> {
        self.flush_durable_inner(Some(timeout))
    }

    fn flush_durable_inner(&self, timeout: Option<Duration>) -> Result<Seq, DurableWaitError> {
        let journal = self.journal.as_ref().ok_or(DurableWaitError::NoJournal)?;
        journal.wait_durable(self.core.published().last_seq(), timeout)
    }

    /// How far the journal is durable now (see
    /// [`ReadHandle::durable_seq`](super::ReadHandle::durable_seq)); `None` without a journal.
    pub fn durable_seq(&self) -> Option<Seq> {
        self.journal
            .as_ref()
            .map(|journal| journal.durable.durable_seq())
    }
}

impl<S: StateMachine> Drop for InlineWriter<S> {
    /// Dropping the writer shuts it down as [`shutdown`](InlineWriter::shutdown) does (or, while
    /// a batch unwinds, records the failure), so readers and waiters learn it stopped.
    fn drop(&mut self) {
        self.refuses();
        self.close();
    }
}

impl<S: StateMachine> fmt::Debug for InlineWriter<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InlineWriter")
            .field("version", &self.core.published().version())
            .field("health", &self.health())
            .finish_non_exhaustive()
    }
}
