//! The writer's core: the one publication path that both writers drive.
//!
//! [`WriterCore`] owns everything that happens between "here is a batch of commands" and "the
//! batch is visible": the working state, the last published snapshot, the publication cell,
//! sequence numbers, the outcome tally, metrics, the outcome stream, panic recovery, and the
//! release of replaced versions. The threaded [`Writer`](super::writer::Writer) only waits for
//! commands, collects a batch from the queue and hands it to the core; the inline writer hands
//! it the caller's commands. Neither has a publication path of its own.
//!
//! # One batch
//!
//! 1. The driver fills the core's batch buffer ([`WriterCore::batch_mut`]).
//! 2. [`WriterCore::apply_batch`] numbers each command with the next [`Seq`], applies it to the
//!    working state (catching a panic and re-deriving the state without it), and tallies its
//!    outcome.
//! 3. [`WriterCore::publish`] stores the working state as the next [`Version`] with one store
//!    into the publication cell.
//! 4. [`WriterCore::finish_batch`] delivers the batch's outcome records, reuses the version
//!    the batch replaced if it can ([`WriterCore::reuse`]: applies the batch to it again and
//!    makes it the working state), calls the [publish hook](PublishHook) with the batch's
//!    commands, empties the batch and frees replaced versions that no reader holds any more.
//!
//! [`WriterCore::run_batch`] does all four in order, with a callback between 3 and 4 for the
//! threaded writer's barriers.
//!
//! # Invariants
//!
//! * The working state equals the published state between batches: a clone of it (sharing its
//!   structure) or the replaced version brought up to date (sharing only what neither wrote).
//! * A version is written in place only when the writer holds its only reference: no reader
//!   holds it and the cell no longer points at it.
//! * Every command of a batch gets exactly one sequence number and one outcome, counted in the
//!   tally before the snapshot that includes it is published, so each snapshot's counters
//!   account for exactly the commands up to its `last_seq` (asserted in debug builds).
//! * The hook sees each batch once, after its snapshot is visible, in sequence order.

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};

// The metrics' durations are read from the processor's time-stamp counter where it is
// invariant (quanta falls back to the operating system's monotonic clock where it is not): a
// reading costs about 40 ns there against about 70 ns for `std::time::Instant` on the
// benchmark machine, and a batch with metrics on takes five (docs/benchmarks.md, issue 13).
use quanta::Instant;

use crate::sync::channel::{Sender, TrySendError};
use crate::sync::{Arc, PublicationCell};
use crate::time::Clock;

use crate::journal::DurableState;

use super::config;
use super::outcome::{HealthCell, panic_message};
use super::signal::Signal;
use super::snapshot::{Counters, Seq, Snapshot, Version};
use super::{EngineConfig, EngineStatus, Labelled, Outcome, OutcomeRecord, StateMachine};

/// The most replaced versions the writer keeps for freeing itself (see [`WriterCore::release`]).
const MAX_RETIRED: usize = 64;

/// What a command's first application gave, kept for the batch: applying the command again
/// (to the version the batch replaced, or after a panic in the batch) must give the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FirstResult {
    /// Applied, with this label index.
    Applied(usize),
    /// Refused, with this label index.
    Rejected(usize),
    /// Panicked: skipped when the batch is applied again.
    Panicked,
}

/// What [`WriterCore::reuse`] hands back: the replaced version when it was not reused (for
/// release), or the payload of a panic in the second application.
type Reused<S> = Result<Option<Arc<Snapshot<S>>>, Box<dyn Any + Send>>;

/// One command's outcome record, for a state machine `S`.
pub(crate) type Record<S> =
    OutcomeRecord<<S as StateMachine>::Applied, <S as StateMachine>::Rejected>;

/// A batch that has just been published, as the [`PublishHook`] sees it.
pub(crate) struct PublishedBatch<'batch, C> {
    /// The batch's commands, in sequence order: `commands[i]` has sequence number
    /// `first_seq + i`. The hook may take them (`std::mem::take`); the core clears whatever is
    /// left afterwards, so nothing is cloned either way.
    pub(crate) commands: &'batch mut Vec<C>,
    /// The sequence number of the batch's first command.
    pub(crate) first_seq: Seq,
    /// The sequence number of the batch's last command; the published snapshot's `last_seq`.
    pub(crate) last_seq: Seq,
}

/// The core's one extension point: called once per non-empty batch, on the writer's thread
/// (the writer thread, or the inline writer's caller), after the batch's snapshot is published,
/// its barriers are answered, its outcome records are delivered and the batch is applied again
/// to the replaced version if the writer reuses it (the hook may take the commands, which that
/// second application needs), and before replaced versions are freed.
///
/// Commands rejected or panicked are included: replaying the batch through the same `apply`
/// reproduces the same outcomes, so a journal records every command, not only the applied ones.
/// The hook runs inside the writer's loop: whatever it blocks on delays the next batch (never a
/// reader). A panic in the hook is a writer failure, as any panic outside `apply` is; an `Err`
/// (the journal thread is gone) makes [`WriterCore::run_batch`] return
/// [`JournalFailed::AfterPublishing`].
pub(crate) type PublishHook<C> = Box<dyn FnMut(PublishedBatch<'_, C>) -> Result<(), String> + Send>;

/// Why [`WriterCore::run_batch`] stopped: the journal the writer feeds has failed, and an
/// engine that journals never runs on unjournaled. The failure is already in the writer's
/// health; the caller fails the writer its own way (the threaded writer's thread stops, the
/// inline writer refuses from then on and returns an error, never a panic, to its caller).
#[derive(Debug)]
pub(crate) enum JournalFailed {
    /// Found before applying anything: the batch is untouched, still in the core's batch.
    BeforeApplying(String),
    /// The published batch could not be handed to the journal thread: it is applied and
    /// visible, its outcome records delivered, but it is not journaled.
    AfterPublishing(String),
}

impl JournalFailed {
    /// The failure, as the writer's health words it.
    pub(crate) fn message(&self) -> &str {
        match self {
            Self::BeforeApplying(message) | Self::AfterPublishing(message) => message,
        }
    }
}

/// The publication path, shared by the threaded and the inline writer. Only the thread that
/// drives the writer touches it.
pub(crate) struct WriterCore<S: StateMachine> {
    cell: PublicationCell<Snapshot<S>>,
    /// Raised after each publication, and closed when the writer stops or fails, for readers
    /// that wait for a version.
    published_signal: Arc<Signal>,
    health: Arc<HealthCell>,
    /// Where outcome records go when the engine has an outcome stream.
    outcomes: Option<Sender<Record<S>>>,
    /// Whether `apply_batch` keeps a record per command (for the stream, or for the caller).
    keep_records: bool,
    clock: Arc<dyn Clock>,
    /// Registered by [`register_metrics`](Self::register_metrics), if the configuration asks.
    metrics: Option<WriterMetrics>,
    record_metrics: bool,
    /// The last published snapshot: the base to re-derive from after a panic.
    published: Arc<Snapshot<S>>,
    /// The next version, unpublished: its `state` is the working copy, its other fields are
    /// filled in by [`publish`](Self::publish), which then stores this very allocation into the
    /// cell. Between batches its state equals `published.state`: either a clone of it (sharing
    /// its structure, so the next batch copies what it writes) or the replaced version, brought
    /// up to date in place (see [`reuse`](Self::reuse)).
    ///
    /// It is only ever written through `Arc::make_mut`, so a version anyone else holds is never
    /// written: where `working` is shared (with the version just published, until the batch's
    /// end provides the next working copy; a reused version is one no one else holds), writing
    /// first clones it.
    working: Arc<Snapshot<S>>,
    /// The largest batch after which the writer reuses the version it replaced
    /// ([`EngineConfig::reuse_limit`]).
    reuse_limit: usize,
    /// What each command of the batch gave when it was applied, in order: a re-application
    /// skips the ones that panicked and must give the same for the others.
    first_results: Vec<FirstResult>,
    /// How many replaced versions the writer has reused (for the unit tests' teeth).
    #[cfg(test)]
    reused: u64,
    next_seq: u64,
    tally: Tally,
    batch: Vec<S::Command>,
    /// Replaced versions that readers still held when they were replaced; see
    /// [`release`](Self::release).
    retired: Vec<Arc<Snapshot<S>>>,
    records: Vec<Record<S>>,
    hook: Option<PublishHook<S::Command>>,
    /// The journal's shared state, when the engine journals.
    journal: Option<Arc<DurableState>>,
    /// Set while a batch runs; still set afterwards only if the batch unwound (a writer failure,
    /// not a panicking command, which is caught).
    in_batch: bool,
}

impl<S: StateMachine> WriterCore<S> {
    /// A core whose first published version, version 0, is `initial`.
    ///
    /// `outcomes` is the sending side of the outcome stream, if the engine has one;
    /// `keep_records` asks for records even without a stream (the inline writer returns them).
    pub(crate) fn new(
        initial: S,
        config: &EngineConfig,
        outcomes: Option<Sender<Record<S>>>,
        keep_records: bool,
    ) -> Self {
        let counters = Counters::new(
            <S::Applied as Labelled>::LABELS,
            <S::Rejected as Labelled>::LABELS,
        );
        Self::resume(initial, Seq(0), counters, config, outcomes, keep_records)
    }

    /// A core that continues after `last_seq`, whose commands `counters` account for (a state
    /// recovered from a journal); version 0 is `state`.
    pub(crate) fn resume(
        state: S,
        last_seq: Seq,
        counters: Counters,
        config: &EngineConfig,
        outcomes: Option<Sender<Record<S>>>,
        keep_records: bool,
    ) -> Self {
        debug_assert_eq!(
            counters.total(),
            last_seq.0,
            "counters must account for last_seq"
        );
        let first = Arc::new(Snapshot {
            state,
            version: Version(0),
            last_seq,
            durable_seq: Seq(0),
            published_at: config.clock.now(),
            counters: counters.clone(),
        });
        Self {
            cell: PublicationCell::new(Arc::clone(&first)),
            published_signal: Arc::default(),
            health: HealthCell::new(),
            keep_records: keep_records || outcomes.is_some(),
            outcomes,
            clock: Arc::clone(&config.clock),
            metrics: None,
            record_metrics: config.record_metrics,
            working: Arc::clone(&first),
            reuse_limit: config.reuse_limit,
            first_results: Vec::new(),
            #[cfg(test)]
            reused: 0,
            published: first,
            next_seq: last_seq.0,
            tally: Tally::new(counters),
            batch: Vec::with_capacity(config.max_batch.min(config::BATCH_PREALLOCATION)),
            retired: Vec::new(),
            records: Vec::new(),
            hook: None,
            journal: None,
            in_batch: false,
        }
    }

    /// Sends outcome records to `outcomes` from now on (after a recovery replayed without).
    pub(crate) fn set_outcomes(&mut self, outcomes: Option<Sender<Record<S>>>) {
        self.keep_records = self.keep_records || outcomes.is_some();
        self.outcomes = outcomes;
    }

    /// Keeps an outcome record per command from now on (the inline writer returns them), or
    /// only for an outcome stream.
    pub(crate) fn set_keep_records(&mut self, keep_records: bool) {
        self.keep_records = keep_records || self.outcomes.is_some();
    }

    /// Takes the publish hook out (the inline writer drops it to close the journal's queue).
    pub(crate) fn take_publish_hook(&mut self) -> Option<PublishHook<S::Command>> {
        self.hook.take()
    }

    /// Ties the core to a journal: each snapshot records the journal's `durable_seq` as of its
    /// publication, and the core refuses to apply another batch once the journal has failed.
    pub(crate) fn set_journal(&mut self, journal: Arc<DurableState>) {
        self.journal = Some(journal);
    }

    /// The publication cell readers load from.
    pub(crate) fn cell(&self) -> &PublicationCell<Snapshot<S>> {
        &self.cell
    }

    /// The signal raised after each publication.
    pub(crate) fn published_signal(&self) -> &Arc<Signal> {
        &self.published_signal
    }

    /// The last published snapshot.
    pub(crate) fn published(&self) -> &Arc<Snapshot<S>> {
        &self.published
    }

    /// Whether a batch started and never finished: it unwound through the core (a writer
    /// failure; a panicking command is caught), so the working state may be torn and nothing
    /// more may be applied.
    pub(crate) fn batch_unwound(&self) -> bool {
        self.in_batch
    }

    /// The outcome records kept since they were last taken (the inline writer returns them to
    /// its caller).
    pub(crate) fn records_mut(&mut self) -> &mut Vec<Record<S>> {
        &mut self.records
    }

    /// The health record the handles read.
    pub(crate) fn health(&self) -> &Arc<HealthCell> {
        &self.health
    }

    /// Registers the metric handles with the global recorder, if the configuration asks for
    /// metrics. Call it on the thread that drives the core (the handles bind to the recorder
    /// that is global when they are registered).
    pub(crate) fn register_metrics(&mut self) {
        if self.record_metrics && self.metrics.is_none() {
            self.metrics = Some(WriterMetrics::register(&self.tally.counters));
            // The first reading calibrates the counter against the monotonic clock (about a
            // millisecond, once per process): here, rather than inside the first batch.
            let _ = Instant::now();
        }
    }

    /// Whether the core records metrics (registered, and asked for by the configuration): a
    /// driver reads what only a metric needs (the queue depth) only then.
    pub(crate) fn records_metrics(&self) -> bool {
        self.metrics.is_some()
    }

    /// Installs the hook called after each published batch, replacing any earlier one.
    pub(crate) fn set_publish_hook(&mut self, hook: PublishHook<S::Command>) {
        self.hook = Some(hook);
    }

    /// The batch buffer the driver fills before [`run_batch`](Self::run_batch).
    pub(crate) fn batch_mut(&mut self) -> &mut Vec<S::Command> {
        &mut self.batch
    }

    /// Applies, publishes and finishes the buffered batch; `published` runs between the
    /// publication and the delivery of the batch's outcomes (the threaded writer answers its
    /// barriers there). An empty batch publishes nothing but still calls `published` with the
    /// current version and frees what readers let go of.
    ///
    /// `queue_depth` is reported as a metric when given (see
    /// [`records_metrics`](Self::records_metrics)).
    ///
    /// # Errors
    ///
    /// [`JournalFailed`] once the journal has failed: before applying (the batch untouched) or
    /// after publishing (the journal thread gone).
    pub(crate) fn run_batch(
        &mut self,
        queue_depth: Option<usize>,
        published: impl FnOnce(Version),
    ) -> Result<(), JournalFailed> {
        if let Some(message) = self.journal_failure() {
            self.note_failure(&message);
            return Err(JournalFailed::BeforeApplying(message));
        }
        self.in_batch = true;
        let commands = self.batch.len();
        let mut replaced = None;
        let first_seq = Seq(self.next_seq + 1);
        if commands > 0 {
            let apply_started = self.metrics.is_some().then(Instant::now);
            self.apply_batch();
            let publish_started = self.metrics.is_some().then(Instant::now);
            replaced = Some(self.publish());
            if let (Some(apply_started), Some(publish_started)) = (apply_started, publish_started) {
                self.record_batch_metrics(commands, queue_depth, apply_started, publish_started);
            }
        }
        published(self.published.version);
        let handed = self.finish_batch(first_seq, replaced);
        self.in_batch = false;
        handed.map_err(|message| {
            self.note_failure(&message);
            JournalFailed::AfterPublishing(message)
        })
    }

    /// Records why the writer must stop, unless a failure is recorded already (the journal
    /// thread records its own first).
    fn note_failure(&self, message: &str) {
        self.health.update(|health| {
            health.failure.get_or_insert_with(|| message.to_owned());
        });
    }

    /// Why the writer must not apply anything more, if the journal it feeds has failed; the
    /// one wording of a journal failure in the writer's health, for both writers.
    pub(crate) fn journal_failure(&self) -> Option<String> {
        let failure = self.journal.as_ref()?.failure()?;
        Some(format!("journal: {failure}"))
    }

    /// Applies every command of the batch to the working state, in order, numbering each.
    fn apply_batch(&mut self) {
        let version = self.published.version.next();
        self.first_results.clear();
        // Made unique once per batch, and again only where the loop replaces it.
        let mut working = &mut Arc::make_mut(&mut self.working).state;
        for index in 0..self.batch.len() {
            self.next_seq += 1;
            let seq = Seq(self.next_seq);
            // DELIBERATELY BROKEN, for the loom models' teeth check only: compiled solely with
            // `--cfg loom --cfg snapstate_broken_publish` (docs/verification.md). It publishes
            // before the batch's last command is applied, so the snapshot claims a `last_seq`
            // whose command its state and counters lack; the models must reject it.
            #[cfg(all(loom, snapstate_broken_publish))]
            if index + 1 == self.batch.len() {
                self.publish();
                working = &mut Arc::make_mut(&mut self.working).state;
            }
            let result = catch_unwind(AssertUnwindSafe(|| working.apply(&self.batch[index])));
            let outcome = match result {
                Ok(Ok(applied)) => {
                    self.tally.applied(applied.label_index());
                    self.first_results
                        .push(FirstResult::Applied(applied.label_index()));
                    Outcome::Applied(applied)
                }
                Ok(Err(rejected)) => {
                    self.tally.rejected(rejected.label_index());
                    self.first_results
                        .push(FirstResult::Rejected(rejected.label_index()));
                    Outcome::Rejected(rejected)
                }
                Err(payload) => {
                    let message = panic_message(payload.as_ref());
                    self.tally.panicked();
                    self.report_panic(seq, &message);
                    self.rederive(index);
                    self.first_results.push(FirstResult::Panicked);
                    working = &mut Arc::make_mut(&mut self.working).state;
                    Outcome::Panicked { message }
                }
            };
            if self.keep_records {
                self.records.push(OutcomeRecord {
                    seq,
                    version,
                    outcome,
                });
            }
        }
    }

    /// After a panic the working state may be torn: rebuild it from the last published version
    /// by re-applying the batch's commands before `upto`, except those that panicked.
    fn rederive(&mut self, upto: usize) {
        self.working = Arc::clone(&self.published);
        let working = &mut Arc::make_mut(&mut self.working).state;
        let replayed = Self::reapply(
            working,
            &self.batch[..upto],
            &self.first_results[..upto],
            &self.health,
        );
        if let Err(payload) = replayed {
            resume_unwind(payload);
        }
    }

    /// Applies `commands` again to `state`, skipping those that panicked the first time, and
    /// checks that each of the others gives what it gave the first time (`first`, one per
    /// command): applied or refused, and under the same label.
    ///
    /// # Errors
    ///
    /// A panic payload (the command's own, or one naming the difference), after recording the
    /// writer's failure: a command that panicked, or gave another result, when applied again
    /// means that `apply` is not deterministic, and no state this writer could publish is
    /// trustworthy (a command refused the second time after it was applied the first would
    /// leave the re-applied state without it, silently). The caller unwinds with it, once it
    /// has left the writer's bookkeeping consistent.
    fn reapply(
        state: &mut S,
        commands: &[S::Command],
        first: &[FirstResult],
        health: &HealthCell,
    ) -> Result<(), Box<dyn Any + Send>> {
        debug_assert_eq!(commands.len(), first.len(), "one first result per command");
        for (command, &first) in commands.iter().zip(first) {
            if first == FirstResult::Panicked {
                continue;
            }
            let again = catch_unwind(AssertUnwindSafe(|| match state.apply(command) {
                Ok(applied) => FirstResult::Applied(applied.label_index()),
                Err(rejected) => FirstResult::Rejected(rejected.label_index()),
            }));
            let (failure, payload) = match again {
                Ok(again) if again == first => continue,
                Ok(again) => (
                    format!(
                        "non-deterministic state machine: a command applied again gave \
                         {again:?} where it first gave {first:?}"
                    ),
                    None,
                ),
                Err(payload) => (
                    format!(
                        "non-deterministic state machine: a command that applied cleanly \
                         panicked when re-applied: {}",
                        panic_message(payload.as_ref())
                    ),
                    Some(payload),
                ),
            };
            health.update(|health| {
                health.failure = Some(failure.clone());
            });
            return Err(payload.unwrap_or_else(|| Box::new(failure)));
        }
        Ok(())
    }

    /// Makes the version the batch replaced the working state, brought up to date by applying
    /// the batch to it again, when the batch has at most `reuse_limit` commands and no reader
    /// holds that version; otherwise hands it back for [`release`](Self::release).
    ///
    /// Why: the working state cloned from the published one shares all its structure with it,
    /// so the next batch copies every node it writes (a leaf and the path above it, per
    /// structure, per distinct place written), and freeing the replaced version frees the
    /// previous batch's copies. The replaced version is a complete state one batch behind that
    /// no one else holds: applying the batch to it again writes mostly nodes that only it
    /// owns, in place, and nothing is freed. For a small batch, applying it twice costs less
    /// than the copies (docs/benchmarks.md, "Reusing the replaced version"); the price is
    /// memory, up to a second copy of whatever the batches write (docs/decisions.md).
    ///
    /// Only the writer holds a reference to a replaced version once no reader does: the cell no
    /// longer points at it, so a count of one cannot rise again, and `get_mut` is decisive.
    /// The version's allocation is reused too: the next publication fills in its fields and
    /// stores it.
    ///
    /// # Errors
    ///
    /// The payload of a panic in the second application (a non-deterministic state machine,
    /// recorded in the health): the torn version is dropped, the caller makes the working
    /// state a clone of the published one, finishes the batch, then unwinds.
    fn reuse(&mut self, replaced: Arc<Snapshot<S>>) -> Reused<S> {
        // The deliberately broken build (see `apply_batch`) publishes a version in the middle
        // of the batch, which the batch's own publication then replaces: applying the whole
        // batch again to it would apply its first commands twice, which the comparison with
        // their first results reports as a non-deterministic state machine before any reader
        // sees the torn snapshot the loom models must catch. It never reuses.
        if self.batch.len() > self.reuse_limit || cfg!(all(loom, snapstate_broken_publish)) {
            return Ok(Some(replaced));
        }
        let mut replaced = replaced;
        let Some(snapshot) = Arc::get_mut(&mut replaced) else {
            return Ok(Some(replaced));
        };
        Self::reapply(
            &mut snapshot.state,
            &self.batch,
            &self.first_results,
            &self.health,
        )?;
        self.working = replaced;
        #[cfg(test)]
        {
            self.reused += 1;
        }
        Ok(None)
    }

    fn report_panic(&self, seq: Seq, message: &str) {
        tracing::error!(%seq, panic = message, "applying a command panicked; it was rejected");
        self.health.update(|health| {
            health.panicked_commands += 1;
            health.last_panic = Some(message.to_owned());
        });
    }

    /// Makes the working state the next version, visible to readers with one store, and
    /// returns the version it replaces (for [`release`](Self::release)).
    ///
    /// The unpublished snapshot that holds the working state is itself published: its header
    /// is filled in and the same allocation stored, so nothing is cloned, moved or allocated
    /// for the state. The batch's end provides the next working state, the replaced version
    /// reused or else a clone of this one ([`finish_batch`](Self::finish_batch)). Not cloning
    /// leaves this version the only owner of its structure, so that it can be reused in turn.
    fn publish(&mut self) -> Arc<Snapshot<S>> {
        let version = self.published.version.next();
        let last_seq = Seq(self.next_seq);
        let durable_seq = self
            .journal
            .as_ref()
            .map_or(Seq(0), |journal| journal.durable_seq());
        // Every field of the header, named: a reused allocation holds the header of the version
        // two publications back, and a field added to `Snapshot` must not keep it unnoticed.
        let Snapshot {
            state: _,
            version: next_version,
            last_seq: next_last_seq,
            durable_seq: next_durable_seq,
            published_at: next_published_at,
            counters: next_counters,
        } = Arc::make_mut(&mut self.working);
        self.tally.freeze_into(next_counters);
        *next_version = version;
        *next_last_seq = last_seq;
        *next_durable_seq = durable_seq;
        // Last, so that the stamp comes as close to the store as it can.
        *next_published_at = self.clock.now();
        // Until the batch's end provides the next working copy, `working` shares the new
        // version (a reference count, no clone), so that it is never written.
        let snapshot = Arc::clone(&self.working);
        // Deliberately not worded "torn snapshot": under `snapstate_broken_publish` this fires
        // first in a debug build, and the loom models' teeth check must catch the torn snapshot
        // with their own assertions (docs/verification.md), so it runs in release only.
        debug_assert_eq!(
            snapshot.counters.total(),
            snapshot.last_seq.0,
            "the writer is publishing {snapshot:?}, whose counters do not account for exactly the \
             commands up to its last_seq"
        );
        debug_assert!(
            snapshot.version > self.published.version,
            "the writer is publishing {} after {}",
            snapshot.version,
            self.published.version
        );
        self.cell.store(Arc::clone(&snapshot));
        // After the store: a waiter that registers before this sees the new version or is woken.
        self.published_signal.notify();
        std::mem::replace(&mut self.published, snapshot)
    }

    /// Completes a published batch: delivers its outcome records, hands its commands to the
    /// hook, empties the batch and releases the version it replaced.
    fn finish_batch(
        &mut self,
        first_seq: Seq,
        replaced: Option<Arc<Snapshot<S>>>,
    ) -> Result<(), String> {
        self.deliver_outcomes();
        let (replaced, non_deterministic) = match replaced.map(|replaced| self.reuse(replaced)) {
            Some(Ok(replaced)) => (replaced, None),
            Some(Err(payload)) => (None, Some(payload)),
            None => (None, None),
        };
        // Not reused: the next batch writes to a clone of this version, made here rather than
        // inside the next batch's time to visibility.
        Arc::make_mut(&mut self.working);
        let mut handed = Ok(());
        if !self.batch.is_empty()
            && let Some(hook) = &mut self.hook
        {
            handed = hook(PublishedBatch {
                commands: &mut self.batch,
                first_seq,
                last_seq: Seq(self.next_seq),
            });
        }
        self.batch.clear();
        self.release(replaced);
        if let Some(payload) = non_deterministic {
            // The batch is published, its outcomes delivered and its commands with the hook:
            // nothing of it is lost. Unwinding leaves `in_batch` set, which fails the writer.
            resume_unwind(payload);
        }
        handed
    }

    /// Publishes the final counts if anything changed since the last publication (outcome
    /// records dropped after it), releases what readers let go of, and marks the engine stopped.
    pub(crate) fn finish(&mut self) {
        if self.tally.changed {
            // Outcome records dropped after the last publication: publish the final counts, so
            // the final snapshot accounts for every record.
            let replaced = self.publish();
            self.release(Some(replaced));
        }
        // A failure recorded by another thread (the journal's) stays: stopping cleanly after it
        // must not report the engine as merely stopped.
        self.health.update(|health| {
            if health.status != EngineStatus::Failed {
                health.status = EngineStatus::Stopped;
            }
        });
        self.published_signal.close();
    }

    /// Records a writer failure (a panic outside any command's application): readers keep the
    /// last good snapshot, waiters are told the engine stopped. `unapplied` commands were
    /// accepted and will never be applied.
    pub(crate) fn fail(&mut self, unapplied: u64, default_message: &str) {
        tracing::error!(unapplied, "the snapstate writer failed");
        self.health.update(|health| {
            health.status = EngineStatus::Failed;
            health.unapplied_on_failure = unapplied;
            if health.failure.is_none() {
                health.failure = Some(default_message.to_owned());
            }
        });
        self.published_signal.close();
    }

    /// Lets go of the version a batch replaced, once the new one is visible and its barriers
    /// are answered, and frees retired versions that readers have let go of since.
    ///
    /// Freeing a version frees everything its batch changed (thousands of trie nodes and
    /// records in a large batch): the writer's own work, which delays the next batch but no
    /// reader and no flusher. A version a reader still holds is kept in `retired` instead, so
    /// that the writer, not the reader, frees it once the reader lets go: readers never free
    /// the state's memory. With an allocator that locks per arena (glibc's), a reader freeing
    /// thousands of nodes the writer allocated would hold the lock the writer's next allocation
    /// needs — and on a busy machine a preempted reader holds it for a whole time slice.
    pub(crate) fn release(&mut self, replaced: Option<Arc<Snapshot<S>>>) {
        let started = self.metrics.is_some().then(Instant::now);
        if let Some(replaced) = replaced {
            self.retired.push(replaced);
        }
        // A count of one is the writer's own reference: the cell no longer points at a retired
        // version, so no reader can obtain a new reference to it.
        self.retired
            .retain(|version| Arc::strong_count(version) > 1);
        if self.retired.len() > MAX_RETIRED {
            // Readers hold many old versions: let the oldest go (their readers free them).
            let excess = self.retired.len() - MAX_RETIRED;
            self.retired.drain(..excess);
        }
        if let (Some(metrics), Some(started)) = (&self.metrics, started) {
            metrics
                .reclaim_seconds
                .record(started.elapsed().as_secs_f64());
        }
    }

    /// Sends the batch's outcome records, never waiting: a full stream drops and counts.
    fn deliver_outcomes(&mut self) {
        let Some(sender) = &self.outcomes else {
            return;
        };
        let mut consumer_gone = false;
        for record in self.records.drain(..) {
            match sender.try_send(record) {
                Ok(()) => {}
                Err(TrySendError::Full(_)) => {
                    self.tally.counters.outcomes_dropped += 1;
                    self.tally.changed = true;
                }
                Err(TrySendError::Disconnected(_)) => {
                    consumer_gone = true;
                    break;
                }
            }
        }
        if consumer_gone {
            // The consumer dropped its stream on purpose: stop producing records for it.
            self.records.clear();
            self.outcomes = None;
            self.keep_records = false;
        }
    }

    fn record_batch_metrics(
        &mut self,
        commands: usize,
        queue_depth: Option<usize>,
        apply_started: Instant,
        publish_started: Instant,
    ) {
        let Some(metrics) = &self.metrics else {
            return;
        };
        let published = Instant::now();
        metrics.batch_size.record(commands as f64);
        metrics
            .apply_seconds
            .record(publish_started.duration_since(apply_started).as_secs_f64());
        metrics
            .publish_seconds
            .record(published.duration_since(publish_started).as_secs_f64());
        if let Some(depth) = queue_depth {
            metrics.queue_depth.set(depth as f64);
        }
        metrics.version.set(self.published.version.0 as f64);
        self.tally.applied.export(&metrics.applied);
        self.tally.rejected.export(&metrics.rejected);
        metrics.panicked.absolute(self.tally.counters.panicked);
    }
}

/// Running outcome counts, copied into each snapshot's [`Counters`].
struct Tally {
    counters: Counters,
    applied: ClassCounts,
    rejected: ClassCounts,
    /// Whether anything in `counters` is newer than the last published snapshot.
    changed: bool,
}

impl Tally {
    fn new(counters: Counters) -> Self {
        Self {
            applied: ClassCounts::new(&counters.applied_by_label),
            rejected: ClassCounts::new(&counters.rejected_by_label),
            counters,
            changed: false,
        }
    }

    fn applied(&mut self, index: usize) {
        self.counters.applied += 1;
        self.applied.bump(index);
        self.changed = true;
    }

    fn rejected(&mut self, index: usize) {
        self.counters.rejected += 1;
        self.rejected.bump(index);
        self.changed = true;
    }

    fn panicked(&mut self) {
        self.counters.panicked += 1;
        self.changed = true;
    }

    /// Makes `target` (the next snapshot's counters) the counters as of now. A per-class array
    /// is copied only when it changed, into `target`'s own array where no one else holds it (a
    /// reused version's, two publications old), so that a publication allocates none.
    fn freeze_into(&mut self, target: &mut Counters) {
        if self.changed {
            self.applied.freeze_into(
                &mut self.counters.applied_by_label,
                &mut target.applied_by_label,
            );
            self.rejected.freeze_into(
                &mut self.counters.rejected_by_label,
                &mut target.rejected_by_label,
            );
            self.changed = false;
        }
        target.clone_from(&self.counters);
    }
}

/// One outcome's running per-class counts (applied or rejected).
struct ClassCounts {
    /// One slot per label, and a last one for out-of-range label indexes.
    counts: Vec<u64>,
    /// Changed since last frozen into a snapshot.
    unfrozen: bool,
    /// Changed since last exported as metrics.
    unexported: bool,
    /// How many frozen copies went into a reused array (for the unit tests' teeth).
    #[cfg(test)]
    arrays_reused: u64,
}

impl ClassCounts {
    fn new(counts: &[u64]) -> Self {
        Self {
            counts: counts.to_vec(),
            unfrozen: false,
            unexported: false,
            #[cfg(test)]
            arrays_reused: 0,
        }
    }

    /// Counts one more at `index`; the last slot counts out-of-range indexes.
    fn bump(&mut self, index: usize) {
        let last = self.counts.len() - 1;
        self.counts[index.min(last)] += 1;
        self.unfrozen = true;
        self.unexported = true;
    }

    /// Replaces `frozen` with a copy of the counts if they changed since the last copy: written
    /// into `spare` if no one else holds it, else into a new array.
    fn freeze_into(&mut self, frozen: &mut Arc<[u64]>, spare: &mut Arc<[u64]>) {
        if self.unfrozen {
            match Arc::get_mut(spare) {
                Some(array) if array.len() == self.counts.len() => {
                    array.copy_from_slice(&self.counts);
                    *frozen = Arc::clone(spare);
                    #[cfg(test)]
                    {
                        self.arrays_reused += 1;
                    }
                }
                _ => *frozen = self.counts.as_slice().into(),
            }
            self.unfrozen = false;
        }
    }

    /// Sets each class's counter (`handles`, in label order) if the counts changed since the
    /// last export.
    fn export(&mut self, handles: &[metrics::Counter]) {
        if self.unexported {
            for (handle, &count) in handles.iter().zip(&self.counts) {
                handle.absolute(count);
            }
            self.unexported = false;
        }
    }
}

/// The writer's metric handles, registered once with the global recorder when the writer
/// thread starts (see [`EngineConfig::record_metrics`]).
struct WriterMetrics {
    batch_size: metrics::Histogram,
    apply_seconds: metrics::Histogram,
    publish_seconds: metrics::Histogram,
    reclaim_seconds: metrics::Histogram,
    queue_depth: metrics::Gauge,
    version: metrics::Gauge,
    /// `snapstate_commands_total` per class, in the order of [`Counters::applied_by_label`].
    applied: Vec<metrics::Counter>,
    /// As `applied`, for rejections.
    rejected: Vec<metrics::Counter>,
    panicked: metrics::Counter,
}

impl WriterMetrics {
    fn register(counters: &Counters) -> Self {
        let commands = |outcome: &'static str, (class, _): (&'static str, u64)| {
            metrics::counter!(
                "snapstate_commands_total", "outcome" => outcome, "class" => class
            )
        };
        Self {
            batch_size: metrics::histogram!("snapstate_batch_size"),
            apply_seconds: metrics::histogram!("snapstate_apply_seconds"),
            publish_seconds: metrics::histogram!("snapstate_publish_seconds"),
            reclaim_seconds: metrics::histogram!("snapstate_reclaim_seconds"),
            queue_depth: metrics::gauge!("snapstate_queue_depth"),
            version: metrics::gauge!("snapstate_version"),
            applied: counters
                .applied_by_label()
                .map(|class| commands("applied", class))
                .collect(),
            rejected: counters
                .rejected_by_label()
                .map(|class| commands("rejected", class))
                .collect(),
            panicked: metrics::counter!(
                "snapstate_commands_total", "outcome" => "panicked", "class" => "panic"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::engine::test_machine::Sum;

    fn config() -> EngineConfig {
        EngineConfig {
            record_metrics: false,
            ..EngineConfig::default()
        }
    }

    type Seen = Arc<Mutex<Vec<(Vec<u64>, u64, u64)>>>;

    fn core_with_hook(take: bool) -> (WriterCore<Sum>, Seen) {
        let mut core = WriterCore::new(Sum::default(), &config(), None, false);
        let seen: Seen = Arc::default();
        let sink = Arc::clone(&seen);
        core.set_publish_hook(Box::new(move |batch: PublishedBatch<'_, u64>| {
            let commands = if take {
                std::mem::take(batch.commands)
            } else {
                batch.commands.clone()
            };
            sink.lock()
                .expect("hook log")
                .push((commands, batch.first_seq.0, batch.last_seq.0));
            Ok(())
        }));
        (core, seen)
    }

    fn run(core: &mut WriterCore<Sum>, commands: &[u64]) -> Version {
        core.batch_mut().extend_from_slice(commands);
        let mut visible = None;
        core.run_batch(None, |version| visible = Some(version))
            .expect("no journal to fail");
        visible.expect("the callback runs once per batch")
    }

    #[test]
    fn the_hook_sees_every_command_once_in_sequence_order_after_publication() {
        for take in [true, false] {
            let (mut core, seen) = core_with_hook(take);
            assert_eq!(run(&mut core, &[2, 3, 4]), Version(1));
            assert_eq!(
                run(&mut core, &[]),
                Version(1),
                "an empty batch publishes nothing"
            );
            assert_eq!(run(&mut core, &[6]), Version(2));
            assert_eq!(
                *seen.lock().expect("hook log"),
                vec![(vec![2, 3, 4], 1, 3), (vec![6], 4, 4)],
                "taking the commands: {take}"
            );
            assert!(
                core.batch_mut().is_empty(),
                "the core empties the batch either way"
            );
            let last = core.cell().load_full();
            assert_eq!(last.state().0, 12);
            assert_eq!(last.last_seq(), Seq(4));
            assert_eq!(last.counters().rejected(), 1);
        }
    }

    #[test]
    fn the_hook_gets_a_panicking_command_too_and_the_state_drops_only_it() {
        let (mut core, seen) = core_with_hook(true);
        // The panic's message shows in the test's output; the core catches it.
        run(&mut core, &[2, 13, 4]);
        assert_eq!(
            *seen.lock().expect("hook log"),
            vec![(vec![2, 13, 4], 1, 3)]
        );
        let last = core.cell().load_full();
        assert_eq!(last.state().0, 6);
        assert_eq!(last.counters().panicked(), 1);
        assert_eq!(core.health().read().panicked_commands, 1);
    }

    /// What [`published_after`] saw.
    struct Published {
        /// Every published snapshot, held or copied.
        snapshots: Vec<Arc<Snapshot<Sum>>>,
        /// How many replaced versions the writer reused.
        reused: u64,
        /// How many per-class arrays it wrote in place.
        arrays_reused: u64,
        /// Publications whose allocation was the one of the version two publications back.
        allocations_reused: usize,
    }

    /// Runs `batches` on a core with `reuse_limit` and a clock that steps between batches,
    /// holding the snapshot published after each batch whose position is in `hold` (the others
    /// are copied, their arrays too, so that nothing but the writer holds them).
    fn published_after(batches: &[&[u64]], reuse_limit: usize, hold: &[usize]) -> Published {
        let clock = crate::time::ManualClock::new(crate::time::Timestamp::from_nanos(1));
        let config = EngineConfig {
            reuse_limit,
            clock: Arc::new(clock.clone()),
            ..config()
        };
        let mut core = WriterCore::new(Sum::default(), &config, None, false);
        // A journal that makes everything published before each batch durable, as a syncing
        // journal thread would: a stale durable_seq in a reused allocation would differ.
        let durable = DurableState::new(Seq(0));
        core.set_journal(Arc::clone(&durable));
        let mut snapshots = Vec::new();
        let mut addresses = Vec::new();
        for (position, batch) in batches.iter().enumerate() {
            clock.advance(std::time::Duration::from_nanos(10));
            let durable_before = core.published().last_seq();
            durable.advance(durable_before);
            run(&mut core, batch);
            if !batch.is_empty() {
                assert_eq!(
                    core.published().durable_seq(),
                    durable_before,
                    "a publication records the journal's durable_seq as of then"
                );
            }
            let snapshot = core.cell().load_full();
            addresses.push(Arc::as_ptr(&snapshot));
            if hold.contains(&position) {
                snapshots.push(Arc::clone(&snapshot));
            } else {
                // Not held: the writer may take this version back after the next batch.
                let counters = Counters {
                    applied_by_label: Arc::from(&snapshot.counters.applied_by_label[..]),
                    rejected_by_label: Arc::from(&snapshot.counters.rejected_by_label[..]),
                    ..snapshot.counters.clone()
                };
                snapshots.push(Arc::new(Snapshot {
                    state: snapshot.state.clone(),
                    counters,
                    ..*snapshot
                }));
            }
        }
        let allocations_reused = addresses
            .windows(3)
            .filter(|window| window[0] == window[2] && window[1] != window[2])
            .count();
        Published {
            snapshots,
            reused: core.reused,
            arrays_reused: core.tally.applied.arrays_reused + core.tally.rejected.arrays_reused,
            allocations_reused,
        }
    }

    #[test]
    fn reusing_the_replaced_version_publishes_exactly_what_cloning_the_published_one_does() {
        // Rejected (odd) and panicking (multiples of 13) commands among applied ones, in
        // batches below and above the limit of 3.
        let batches: &[&[u64]] = &[
            &[2],
            &[4, 13],
            &[3, 6],
            &[26, 8, 39],
            &[10, 12, 14, 16],
            &[18],
            &[],
            &[20, 65, 22],
            &[1],
        ];
        for hold in [&[][..], &[0, 2, 3][..], &[1, 4, 5, 7][..]] {
            let cloning = published_after(batches, 0, hold);
            let reusing = published_after(batches, 3, hold);
            assert_eq!(cloning.reused, 0, "a limit of 0 never reuses");
            assert_eq!(cloning.arrays_reused, 0);
            assert_eq!(cloning.allocations_reused, 0);
            if hold.is_empty() {
                // Every batch but the empty one and the one above the limit.
                assert_eq!(reusing.reused, 7);
                assert!(reusing.arrays_reused > 0, "the counters' arrays are reused");
                assert!(
                    reusing.allocations_reused > 0,
                    "a publication stores the reused version's own allocation"
                );
            } else {
                assert!(
                    reusing.reused > 0 && reusing.reused < 7,
                    "held: {hold:?}, reused {}",
                    reusing.reused
                );
            }
            for (cloned, reused) in cloning.snapshots.iter().zip(&reusing.snapshots) {
                assert_eq!(cloned.state, reused.state, "held: {hold:?}");
                assert_eq!(cloned.version, reused.version);
                assert_eq!(cloned.last_seq, reused.last_seq);
                assert_eq!(cloned.durable_seq, reused.durable_seq);
                assert_eq!(cloned.counters, reused.counters);
                // The clock stepped before each batch: a stale stamp in a reused allocation
                // would differ.
                assert_eq!(cloned.published_at, reused.published_at);
            }
            assert_eq!(
                reusing.snapshots.last().map(|last| last.state.0),
                Some(2 + 4 + 6 + 8 + (10 + 12 + 14 + 16) + 18 + (20 + 22))
            );
        }
    }

    #[test]
    fn a_held_version_is_never_reused_and_keeps_its_state() {
        let config = EngineConfig {
            reuse_limit: 8,
            ..config()
        };
        let mut core = WriterCore::new(Sum::default(), &config, None, false);
        run(&mut core, &[2]);
        let held = core.cell().load_full();
        run(&mut core, &[4]);
        run(&mut core, &[6]);
        assert_eq!(held.state.0, 2, "the version a reader holds is untouched");
        assert_eq!(
            core.retired.len(),
            1,
            "the held version waits in `retired` for its reader to let go"
        );
        // [2] reused version 0; [4] found version 1 held; [6] reused version 2.
        assert_eq!(core.reused, 2);
        run(&mut core, &[8]);
        assert_eq!(core.reused, 3, "a version no one holds is reused");
        assert_eq!(core.published().state.0, 20);
        assert_eq!(core.working.state, core.published().state);
    }

    /// Applies cleanly once, and panics when applied again to the other copy: a
    /// non-deterministic state machine.
    #[derive(Clone, Default)]
    struct Once(Arc<std::sync::atomic::AtomicBool>);

    impl StateMachine for Once {
        type Command = u64;
        type Applied = crate::engine::test_machine::Added;
        type Rejected = crate::engine::test_machine::Odd;
        fn apply(&mut self, _: &u64) -> Result<Self::Applied, Self::Rejected> {
            let again = self.0.swap(true, std::sync::atomic::Ordering::SeqCst);
            assert!(!again, "deliberate: applied a second time");
            Ok(crate::engine::test_machine::Added)
        }
    }

    #[test]
    fn a_panic_in_the_second_application_fails_the_writer_after_the_batch_is_handed_on() {
        let mut core = WriterCore::new(Once::default(), &config(), None, false);
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&seen);
        core.set_publish_hook(Box::new(move |batch: PublishedBatch<'_, u64>| {
            sink.lock()
                .expect("hook log")
                .extend(batch.commands.drain(..));
            Ok(())
        }));
        core.batch_mut().push(7);
        let unwound = catch_unwind(AssertUnwindSafe(|| core.run_batch(None, |_| {})));
        assert!(unwound.is_err(), "the second application's panic unwinds");
        assert_eq!(
            *seen.lock().expect("hook log"),
            vec![7],
            "the published batch reached the hook (the journal)"
        );
        assert!(
            core.batch_mut().is_empty(),
            "nothing is left to count as unapplied"
        );
        assert!(core.batch_unwound(), "the writer is failed");
        assert_eq!(core.published().last_seq(), Seq(1));
        assert!(
            core.health()
                .read()
                .failure
                .is_some_and(|failure| failure.contains("non-deterministic"))
        );
    }

    #[test]
    fn a_failed_journal_stops_a_batch_before_it_applies_and_leaves_the_batch_untouched() {
        let mut core = WriterCore::new(Sum::default(), &config(), None, false);
        let durable = DurableState::new(Seq(0));
        core.set_journal(Arc::clone(&durable));
        durable.fail("disk full".to_owned());
        core.batch_mut().push(2);
        let ran = core.run_batch(None, |_| panic!("nothing is published"));
        assert!(
            matches!(&ran, Err(JournalFailed::BeforeApplying(message)) if message.contains("disk full")),
            "{ran:?}"
        );
        assert_eq!(
            core.batch_mut().as_slice(),
            &[2],
            "the command is still there"
        );
        assert_eq!(core.published().last_seq(), Seq(0));
        let failure = core.health().read().failure;
        assert!(failure.is_some_and(|failure| failure.contains("disk full")));
    }

    #[test]
    fn a_hook_that_cannot_hand_a_batch_on_fails_it_after_its_publication_without_a_panic() {
        let mut core = WriterCore::new(Sum::default(), &config(), None, false);
        core.set_publish_hook(Box::new(|_: PublishedBatch<'_, u64>| {
            Err("journal: the journal thread stopped".to_owned())
        }));
        core.batch_mut().push(2);
        let ran = core.run_batch(None, |_| {});
        assert!(
            matches!(&ran, Err(JournalFailed::AfterPublishing(_))),
            "{ran:?}"
        );
        assert_eq!(core.published().last_seq(), Seq(1), "applied and visible");
        assert_eq!(core.published().state().0, 2);
        assert!(core.batch_mut().is_empty());
        assert!(core.health().read().failure.is_some());
    }
}
