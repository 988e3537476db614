//! What a design under comparison must offer the workload: build its state, take updates from
//! one producer, and hand snapshots to readers.

use std::ops::Deref;

use hdrhistogram::Histogram;
use snapstate::book::{Book, BookCommand, Storage};
use snapstate::engine::WaitStrategy;

use super::journal::JournalSettings;
use super::probe::Batches;
use super::workload::Workload;

/// One design under comparison.
pub trait Contender {
    /// Its name in reports and in the JSON output.
    const NAME: &'static str;
    /// Whether holding a snapshot blocks the producer (a held read lock). Such a design cannot
    /// apply updates while a snapshot is held, so it has no `memory_held_bytes`.
    const SNAPSHOT_BLOCKS_WRITER: bool = false;
    /// How often the producer samples a submit time for the visible-latency figure: every
    /// this many updates. Cheap designs sample sparsely, so that reading the clock does not
    /// slow them down; slow ones sample every update, so that they get enough samples.
    const SAMPLE_EVERY: u64 = 64;

    /// The book's storage in this design.
    type Storage: Storage;
    /// The state with the workload's initial load applied, before any thread starts.
    type State: Send + 'static;
    /// The single producer's handle.
    type Producer: Producer + Send + 'static;
    /// A reader's handle; cloned for each reading thread.
    type Reader: SnapshotReader<Storage = Self::Storage> + Clone + Send + 'static;

    /// Builds the state holding the initial load. `memory_bytes` is what this allocates.
    fn build_state(workload: &Workload) -> Self::State;

    /// Starts the design on `state` (threads, queues, publication).
    fn start(state: Self::State) -> (Self::Producer, Self::Reader);

    /// Starts the design with the run's [`Settings`]; designs without settings ignore them.
    fn start_with_settings(
        state: Self::State,
        settings: &Settings,
    ) -> (Self::Producer, Self::Reader) {
        let _ = settings;
        Self::start(state)
    }
}

/// What a run may change in the designs that have settings (snapstate's two writers).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Settings {
    /// How the threaded engine's idle writer waits (`--wait-strategy`).
    pub wait_strategy: WaitStrategy,
    /// The most updates the inline writer's producer applies in one call (`--inline-batch`):
    /// it applies what it has sent when it pauses or when this many are pending. 1 applies
    /// (and publishes) every update on its own.
    pub inline_batch: usize,
    /// The journal both snapstate writers write (`--journal`, `--checkpoint-every`); `None`:
    /// none, the engine's default.
    pub journal: Option<JournalSettings>,
    /// The largest batch after which both snapstate writers reuse the version it replaced
    /// (`--reuse-limit`; `EngineConfig::reuse_limit`, 0: never).
    pub reuse_limit: usize,
    /// The most commands the threaded engine applies per published version (`--max-batch`;
    /// `EngineConfig::max_batch`).
    pub max_batch: usize,
    /// How long the threaded engine aims to spend on one batch under a backlog
    /// (`--batch-time`; `EngineConfig::batch_time`, `None`: no aim).
    pub batch_time: Option<std::time::Duration>,
}

/// The inline writer's default batch: every update applied and published on its own, so that
/// it is visible when `send` returns, as with the designs that update in place.
pub const DEFAULT_INLINE_BATCH: usize = 1;

impl Default for Settings {
    fn default() -> Self {
        Self {
            wait_strategy: WaitStrategy::default(),
            inline_batch: DEFAULT_INLINE_BATCH,
            journal: None,
            reuse_limit: snapstate::engine::EngineConfig::default().reuse_limit,
            max_batch: snapstate::engine::EngineConfig::default().max_batch,
            batch_time: snapstate::engine::EngineConfig::default().batch_time,
        }
    }
}

/// The producer's side of a design: it applies (or queues) updates one at a time.
pub trait Producer {
    /// Applies or queues one update. The design records how long the update waited because of
    /// a reader, where that happens on this call.
    fn send(&mut self, command: BookCommand);

    /// How many of the updates sent so far are visible to a snapshot taken now: every update
    /// up to that count is. For designs that apply in place, all of them.
    fn visible_through(&mut self) -> u64;

    /// Returns once every update sent is visible.
    fn flush(&mut self);

    /// For designs that publish on another thread: when updates became visible, as the writer
    /// stamped it right after each publication, as `(last sequence number, instant)` per
    /// published batch, in order, since the design started or the last call. Only batches that
    /// include a multiple of [`probe::VISIBLE_LOG_EVERY`](crate::probe::VISIBLE_LOG_EVERY)
    /// need be listed. `None` (the default): an update is visible once the producer's call that
    /// applied it has returned, and the producer observes it through
    /// [`visible_through`](Self::visible_through).
    fn publications(&mut self) -> Option<Vec<(u64, std::time::Instant)>> {
        None
    }

    /// The producer has sent every update that is due and is about to wait for the next one
    /// (a paced producer, before it sleeps). A design that holds back updates to apply them
    /// together applies them now; the others do nothing.
    fn pause(&mut self) {}

    /// Returns once memory that no snapshot holds any more has been freed. Designs whose
    /// readers free what they drop need do nothing.
    fn reclaim(&mut self) {}

    /// The distribution of how long updates waited because of a reader, in nanoseconds, since
    /// the last call (see `docs/benchmarks.md` for what each design counts). `None` when the
    /// design could not measure it in this process.
    fn take_stalls(&mut self) -> Option<Histogram<u64>>;

    /// For designs that publish on a writer of their own: the gaps between consecutive
    /// publications since the last call, nanoseconds (at saturation, how long the writer
    /// took per batch, whatever held it up). `None` (the default): not measured.
    fn take_publication_gaps(&mut self) -> Option<Histogram<u64>> {
        None
    }

    /// For designs that batch: the batches published since the last call to
    /// [`take_stalls`](Self::take_stalls).
    fn take_batch_sizes(&mut self) -> Option<Batches> {
        None
    }

    /// Stops the design (joins its threads, if any).
    fn finish(self);
}

/// A reader's side of a design: it obtains a consistent view of the book.
pub trait SnapshotReader {
    /// The book's storage.
    type Storage: Storage;
    /// A consistent view of the book, as long as it is held.
    type Snapshot<'a>: Deref<Target = Book<Self::Storage>>
    where
        Self: 'a;

    /// Obtains a consistent snapshot the design's way (a reference, a copy, or a held lock).
    fn snapshot(&mut self) -> Self::Snapshot<'_>;
}

/// An owned copy of a book, as a snapshot.
#[derive(Debug)]
pub struct Copied<S: Storage>(pub Book<S>);

impl<S: Storage> Deref for Copied<S> {
    type Target = Book<S>;

    fn deref(&self) -> &Book<S> {
        &self.0
    }
}

/// A latency histogram in nanoseconds: 1 ns to one hour, three significant figures.
///
/// # Panics
///
/// Never: the bounds are valid constants.
pub fn nanos_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 3_600_000_000_000, 3).expect("valid histogram bounds")
}

/// Records `nanos` into `histogram`, clamping values beyond its range.
pub fn record_nanos(histogram: &mut Histogram<u64>, nanos: u64) {
    histogram.saturating_record(nanos);
}

/// How long each update of a design that applies on the producer's thread waited because of a
/// reader: the same definition for every such design (`docs/benchmarks.md`, "What stalled
/// because of a reader means"). An update that did not wait counts as a zero.
#[derive(Debug)]
pub struct Stalls {
    waited: Histogram<u64>,
    uncontended: u64,
}

impl Default for Stalls {
    fn default() -> Self {
        Self {
            waited: nanos_histogram(),
            uncontended: 0,
        }
    }
}

impl Stalls {
    /// One update that did not wait.
    pub fn uncontended(&mut self) {
        self.uncontended += 1;
    }

    /// Runs `wait` (the step that waits for a reader) and records how long it took.
    pub fn time<T>(&mut self, wait: impl FnOnce() -> T) -> T {
        let started = std::time::Instant::now();
        let result = wait();
        record_nanos(
            &mut self.waited,
            super::workload::duration_nanos(started.elapsed()),
        );
        result
    }

    /// Takes the distribution so far (zeros included) and starts again.
    pub fn take(&mut self) -> Histogram<u64> {
        let Self {
            mut waited,
            uncontended,
        } = std::mem::take(self);
        waited.record_n(0, uncontended).expect("zero is in range");
        waited
    }
}

#[cfg(test)]
mod tests {
    use super::Stalls;

    #[test]
    fn stalls_count_every_update_once_zeros_included_and_start_again_when_taken() {
        let mut stalls = Stalls::default();
        stalls.uncontended();
        stalls.uncontended();
        let answer = stalls.time(|| 42);
        assert_eq!(answer, 42, "the timed step's result is handed back");
        let taken = stalls.take();
        assert_eq!(taken.len(), 3);
        assert_eq!(taken.count_at(0), 2, "the uncontended updates are zeros");
        assert_eq!(stalls.take().len(), 0, "taking starts a new distribution");
    }
}
