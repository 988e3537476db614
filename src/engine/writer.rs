//! The writer thread: wait, drain a batch, apply, publish, answer barriers.

use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::time::Instant;

use crate::sync::channel::{Receiver, Sender, TryRecvError, TrySendError};
use crate::sync::{Arc, PublicationCell, spin_hint};
use crate::time::Clock;

use super::outcome::{HealthCell, panic_message};
use super::snapshot::{Counters, Seq, Snapshot, Version};
use super::{EngineConfig, EngineStatus, Labelled, Outcome, OutcomeRecord, StateMachine};
use super::{WaitStrategy, config};

/// What travels through the command queue.
pub(crate) enum Message<C> {
    /// A command to apply.
    Command(C),
    /// A barrier: answer with the version that includes everything queued before it.
    Barrier(Sender<Version>),
}

impl<C> Message<C> {
    /// The command inside a message that was sent as a command and handed back by the channel.
    pub(crate) fn into_command(self) -> C {
        match self {
            Self::Command(command) => command,
            // Only `submit*` hands messages back as commands, and they send only commands.
            Self::Barrier(_) => unreachable!("a barrier is never handed back as a command"),
        }
    }
}

/// The most replaced versions the writer keeps for freeing itself (see `Writer::release`).
const MAX_RETIRED: usize = 64;

type Record<S> = OutcomeRecord<<S as StateMachine>::Applied, <S as StateMachine>::Rejected>;

/// The writer's private world. Only the writer thread touches it.
pub(crate) struct Writer<S: StateMachine> {
    receiver: Receiver<Message<S::Command>>,
    cell: PublicationCell<Snapshot<S>>,
    health: Arc<HealthCell>,
    outcomes: Option<Sender<Record<S>>>,
    clock: Arc<dyn Clock>,
    wait_strategy: WaitStrategy,
    max_batch: usize,
    queue_capacity: usize,
    record_metrics: bool,
    /// Registered when the writer thread starts, if `record_metrics`.
    metrics: Option<WriterMetrics>,
    /// The last published snapshot: the base to re-derive from after a panic.
    published: Arc<Snapshot<S>>,
    /// The working copy. Equal to `published.state` between batches; shares its structure.
    working: S,
    next_seq: u64,
    tally: Tally,
    batch: Vec<S::Command>,
    barriers: Vec<Sender<Version>>,
    /// Replaced versions that readers still held when they were replaced; see
    /// [`release`](Self::release).
    retired: Vec<Arc<Snapshot<S>>>,
    records: Vec<Record<S>>,
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

    /// The counters as of now; copies a per-class array only when it changed.
    fn freeze(&mut self) -> Counters {
        if self.changed {
            self.applied
                .freeze_into(&mut self.counters.applied_by_label);
            self.rejected
                .freeze_into(&mut self.counters.rejected_by_label);
            self.changed = false;
        }
        self.counters.clone()
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
}

impl ClassCounts {
    fn new(counts: &[u64]) -> Self {
        Self {
            counts: counts.to_vec(),
            unfrozen: false,
            unexported: false,
        }
    }

    /// Counts one more at `index`; the last slot counts out-of-range indexes.
    fn bump(&mut self, index: usize) {
        let last = self.counts.len() - 1;
        self.counts[index.min(last)] += 1;
        self.unfrozen = true;
        self.unexported = true;
    }

    /// Replaces `frozen` with a copy of the counts if they changed since the last copy.
    fn freeze_into(&mut self, frozen: &mut Arc<[u64]>) {
        if self.unfrozen {
            *frozen = self.counts.as_slice().into();
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

impl<S: StateMachine> Writer<S> {
    pub(crate) fn new(
        receiver: Receiver<Message<S::Command>>,
        cell: PublicationCell<Snapshot<S>>,
        health: Arc<HealthCell>,
        outcomes: Option<Sender<Record<S>>>,
        config: &EngineConfig,
        first: Arc<Snapshot<S>>,
    ) -> Self {
        let counters = first.counters.clone();
        Self {
            receiver,
            cell,
            health,
            outcomes,
            clock: Arc::clone(&config.clock),
            wait_strategy: config.wait_strategy,
            max_batch: config.max_batch,
            queue_capacity: config.queue_capacity,
            record_metrics: config.record_metrics,
            metrics: None,
            working: first.state.clone(),
            published: first,
            next_seq: 0,
            tally: Tally::new(counters),
            batch: Vec::with_capacity(config.max_batch.min(config::BATCH_PREALLOCATION)),
            barriers: Vec::new(),
            retired: Vec::new(),
            records: Vec::new(),
        }
    }

    /// The writer thread's body. Returns once every sender is gone and the queue is drained.
    pub(crate) fn run(mut self) {
        // On the writer thread, so that it is the global recorder the handles bind to.
        if self.record_metrics {
            self.metrics = Some(WriterMetrics::register(&self.tally.counters));
        }
        while let Some(first) = self.wait_for_message() {
            let disconnected = self.collect_batch(first);
            self.process_batch();
            if disconnected {
                break;
            }
        }
        if self.tally.changed {
            // Outcome records dropped after the last publication: publish the final counts, so
            // the final snapshot accounts for every record.
            let replaced = self.publish();
            self.release(Some(replaced));
        }
        self.health
            .update(|health| health.status = EngineStatus::Stopped);
    }

    fn wait_for_message(&self) -> Option<Message<S::Command>> {
        let spins = match self.wait_strategy {
            WaitStrategy::Block => 0,
            WaitStrategy::SpinThenBlock { spins } => spins,
            WaitStrategy::BusySpin => u32::MAX,
        };
        let mut polls = 0_u32;
        while polls < spins || self.wait_strategy == WaitStrategy::BusySpin {
            match self.receiver.try_recv() {
                Ok(message) => return Some(message),
                Err(TryRecvError::Disconnected) => return None,
                Err(TryRecvError::Empty) => spin_hint(),
            }
            polls = polls.saturating_add(1);
        }
        self.receiver.recv().ok()
    }

    /// Takes `first` and whatever else is queued, up to the batch limit, without blocking.
    /// Returns whether the queue is disconnected and drained.
    fn collect_batch(&mut self, first: Message<S::Command>) -> bool {
        self.accept(first);
        while self.batch.len() < self.max_batch {
            match self.receiver.try_recv() {
                Ok(message) => self.accept(message),
                Err(TryRecvError::Empty) => return false,
                Err(TryRecvError::Disconnected) => return true,
            }
        }
        false
    }

    fn accept(&mut self, message: Message<S::Command>) {
        match message {
            Message::Command(command) => self.batch.push(command),
            Message::Barrier(reply) => self.barriers.push(reply),
        }
    }

    fn process_batch(&mut self) {
        let commands = self.batch.len();
        let mut replaced = None;
        if commands > 0 {
            let apply_started = self.metrics.is_some().then(Instant::now);
            self.apply_batch();
            let publish_started = self.metrics.is_some().then(Instant::now);
            replaced = Some(self.publish());
            if let (Some(apply_started), Some(publish_started)) = (apply_started, publish_started) {
                self.record_batch_metrics(commands, apply_started, publish_started);
            }
        }
        let version = self.published.version;
        for reply in self.barriers.drain(..) {
            // A flusher that gave up (timed out) has dropped its receiver; nothing to tell it.
            let _ = reply.try_send(version);
        }
        self.deliver_outcomes();
        self.batch.clear();
        self.release(replaced);
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
    fn release(&mut self, replaced: Option<Arc<Snapshot<S>>>) {
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

    fn apply_batch(&mut self) {
        let version = self.published.version.next();
        let mut panicked: Vec<usize> = Vec::new();
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
            }
            let result = catch_unwind(AssertUnwindSafe(|| self.working.apply(&self.batch[index])));
            let outcome = match result {
                Ok(Ok(applied)) => {
                    self.tally.applied(applied.label_index());
                    Outcome::Applied(applied)
                }
                Ok(Err(rejected)) => {
                    self.tally.rejected(rejected.label_index());
                    Outcome::Rejected(rejected)
                }
                Err(payload) => {
                    let message = panic_message(payload.as_ref());
                    self.tally.panicked();
                    self.report_panic(seq, &message);
                    panicked.push(index);
                    self.rederive(index, &panicked);
                    Outcome::Panicked { message }
                }
            };
            if self.outcomes.is_some() {
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
    fn rederive(&mut self, upto: usize, panicked: &[usize]) {
        self.working = self.published.state.clone();
        for index in (0..upto).filter(|index| !panicked.contains(index)) {
            let replay = catch_unwind(AssertUnwindSafe(|| {
                // The outcome was recorded the first time; `apply` is deterministic.
                let _ = self.working.apply(&self.batch[index]);
            }));
            if let Err(payload) = replay {
                // A command that applied cleanly once now panics: `apply` is not deterministic,
                // so no state this writer could publish is trustworthy. Fail loudly.
                self.health.update(|health| {
                    health.failure = Some(format!(
                        "non-deterministic state machine: a command that applied cleanly \
                         panicked when re-applied: {}",
                        panic_message(payload.as_ref())
                    ));
                });
                resume_unwind(payload);
            }
        }
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
    fn publish(&mut self) -> Arc<Snapshot<S>> {
        let version = self.published.version.next();
        let snapshot = Arc::new(Snapshot {
            state: self.working.clone(),
            version,
            last_seq: Seq(self.next_seq),
            published_at: self.clock.now(),
            counters: self.tally.freeze(),
        });
        // Deliberately not worded "torn snapshot": under `snapstate_broken_publish` this fires
        // first in a debug build, and the loom models' teeth check must catch the torn snapshot
        // with their own assertions (docs/verification.md), so it runs in release only.
        debug_assert_eq!(
            snapshot.counters.total(),
            snapshot.last_seq.0,
            "the writer is publishing {snapshot:?}, whose counters do not account for exactly the \
             commands up to its last_seq"
        );
        self.cell.store(Arc::clone(&snapshot));
        std::mem::replace(&mut self.published, snapshot)
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
        }
    }

    fn record_batch_metrics(
        &mut self,
        commands: usize,
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
        metrics.queue_depth.set(self.receiver.len() as f64);
        metrics.version.set(self.published.version.0 as f64);
        self.tally.applied.export(&metrics.applied);
        self.tally.rejected.export(&metrics.rejected);
        metrics.panicked.absolute(self.tally.counters.panicked);
    }
}

impl<S: StateMachine> Drop for Writer<S> {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            return;
        }
        // The writer is unwinding from a failure outside any command's application. Readers
        // keep the last good snapshot. Drain the queue so that blocked producers are released
        // and the count of what was never applied is reported rather than lost.
        // Bounded, because producers may keep refilling the queue while it drains; whatever
        // arrives after this is refused with the command handed back once the receiver is gone.
        let mut unapplied = self.batch.len() as u64;
        for _ in 0..self.queue_capacity {
            match self.receiver.try_recv() {
                Ok(Message::Command(_)) => unapplied += 1,
                Ok(Message::Barrier(_)) => {}
                Err(_) => break,
            }
        }
        tracing::error!(unapplied, "the snapstate writer failed");
        self.health.update(|health| {
            health.status = EngineStatus::Failed;
            health.unapplied_on_failure = unapplied;
            if health.failure.is_none() {
                health.failure = Some("the writer thread panicked".to_owned());
            }
        });
    }
}
