//! Contender 1: the engine as users embed it — bounded queue, one writer thread, batching,
//! publication through one atomic swap, snapshots as `Arc`s.

use std::ops::Deref;
use std::sync::Arc;

use hdrhistogram::Histogram;
use snapstate::book::{Book, BookCommand, Persistent};
use snapstate::engine::{Engine, EngineConfig, ReadHandle, Reader, Snapshot, WriteHandle};

use crate::contender::{Contender, Producer, Settings, SnapshotReader};
use crate::journal::{JournalSettings, TemporaryJournal};
use crate::probe::{self, Batches};
use crate::workload::{MonotonicClock, Workload};

/// The snapstate engine with its default configuration, but a monotonic clock.
#[derive(Debug)]
pub struct Snapstate;

impl Contender for Snapstate {
    const NAME: &'static str = "snapstate";
    type Storage = Persistent;
    type State = Book;
    type Producer = EngineProducer;
    type Reader = EngineReader;

    fn build_state(workload: &Workload) -> Book {
        workload.initial_book()
    }

    fn start(state: Book) -> (EngineProducer, EngineReader) {
        start_with(state, engine_config())
    }

    fn start_with_settings(state: Book, settings: &Settings) -> (EngineProducer, EngineReader) {
        let config = EngineConfig {
            wait_strategy: settings.wait_strategy,
            reuse_limit: settings.reuse_limit,
            max_batch: settings.max_batch,
            batch_time: settings.batch_time,
            ..engine_config()
        };
        match settings.journal {
            Some(journal) => start_journaled(state, config, journal),
            None => start_with(state, config),
        }
    }
}

/// Starts the engine on `state` with `config`, journaling into a fresh temporary directory
/// under `journal` (through `Engine::recover` on the empty directory, as a journaled engine
/// always starts); the directory is removed when the producer finishes.
///
/// # Panics
///
/// If the directory cannot be made or the engine does not start.
pub fn start_journaled(
    state: Book,
    config: EngineConfig,
    journal: JournalSettings,
) -> (EngineProducer, EngineReader) {
    let (engine, directory) = journal.start_writer(config, |config| Engine::recover(state, config));
    let (mut producer, reader) = producer_for(engine);
    producer.journal_directory = Some(directory);
    (producer, reader)
}

/// The engine configuration the comparison uses: the defaults, with the snapshot clock made
/// monotonic (the defaults' wall clock could step). The batch limit, the queue capacity and
/// the wait strategy are the defaults a user gets (`--wait-strategy` changes the last).
pub fn engine_config() -> EngineConfig {
    EngineConfig {
        clock: Arc::new(MonotonicClock::new()),
        ..EngineConfig::default()
    }
}

/// Starts the engine on `state` with `config` and returns the producer and reader handles.
///
/// # Panics
///
/// If the engine does not start (an invalid configuration, or no thread).
pub fn start_with(state: Book, config: EngineConfig) -> (EngineProducer, EngineReader) {
    producer_for(Engine::start(state, config).expect("the engine starts"))
}

fn producer_for(engine: Engine<Book>) -> (EngineProducer, EngineReader) {
    let read_handle = engine.read_handle();
    if let Some(probe) = probe::installed() {
        // Forget publications from any earlier engine in this process: its new writer's first
        // update is `Seq(1)` again.
        probe.reset();
    }
    let producer = EngineProducer {
        writer: engine.write_handle(),
        observer: read_handle.reader(),
        engine: Some(engine),
        batch_sizes: None,
        journal_directory: None,
    };
    (producer, EngineReader { read_handle })
}

/// Submits through a [`WriteHandle`].
///
/// Visibility: the producer's n-th command is `Seq(n)` (it is the only producer), and a
/// snapshot includes every command up to its `last_seq`, so a cached [`Reader`] tells how far
/// the published state has caught up.
///
/// Stall: the writer never waits for a reader; the one step at which a reader can delay it is
/// the publication (arc-swap settles outstanding reader loads inside the store). The stall of
/// an update is the publication time of its batch, as the engine reports it through `metrics`
/// (see [`probe`]).
pub struct EngineProducer {
    writer: WriteHandle<Book>,
    observer: Reader<Book>,
    engine: Option<Engine<Book>>,
    batch_sizes: Option<Batches>,
    /// The journal's directory, when the engine journals: declared after `engine`, so that it
    /// is removed only after the engine has stopped.
    journal_directory: Option<TemporaryJournal>,
}

impl std::fmt::Debug for EngineProducer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineProducer").finish_non_exhaustive()
    }
}

impl Producer for EngineProducer {
    fn send(&mut self, command: BookCommand) {
        self.writer
            .submit(command)
            .expect("the engine runs until the producer finishes");
    }

    fn visible_through(&mut self) -> u64 {
        self.observer.load().last_seq().0
    }

    fn flush(&mut self) {
        self.writer
            .flush()
            .expect("the engine runs until the producer finishes");
        // Move the observer's cached snapshot to the latest version, so that it does not pin
        // an old one (that would count as memory held by a snapshot).
        let _ = self.observer.load();
    }

    fn reclaim(&mut self) {
        // The writer frees versions readers have let go of after each batch, once it has
        // answered the batch's barriers: the first flush's batch frees them, the second flush
        // returns only after that batch is done.
        self.flush();
        self.flush();
    }

    fn take_stalls(&mut self) -> Option<Histogram<u64>> {
        let (stalls, batch_sizes) = probe::installed()?.take();
        self.batch_sizes = Some(batch_sizes);
        Some(stalls)
    }

    fn publications(&mut self) -> Option<Vec<(u64, std::time::Instant)>> {
        Some(probe::installed()?.take_visible())
    }

    fn take_publication_gaps(&mut self) -> Option<Histogram<u64>> {
        Some(probe::installed()?.take_journal().gaps)
    }

    fn take_batch_sizes(&mut self) -> Option<Batches> {
        self.batch_sizes.take()
    }

    fn finish(mut self) {
        if let Some(engine) = self.engine.take() {
            engine.shutdown().expect("the engine shuts down cleanly");
        }
        // The engine has stopped: its journal can go.
        drop(self.journal_directory.take());
    }
}

/// Loads the latest snapshot (a full `Arc`, for holding).
#[derive(Clone, Debug)]
pub struct EngineReader {
    read_handle: ReadHandle<Book>,
}

impl From<ReadHandle<Book>> for EngineReader {
    fn from(read_handle: ReadHandle<Book>) -> Self {
        Self { read_handle }
    }
}

impl EngineReader {
    /// The underlying read handle.
    pub fn read_handle(&self) -> &ReadHandle<Book> {
        &self.read_handle
    }
}

/// A held engine snapshot, seen as the book it contains.
#[derive(Debug)]
pub struct EngineSnapshot(pub Arc<Snapshot<Book>>);

impl Deref for EngineSnapshot {
    type Target = Book<Persistent>;

    fn deref(&self) -> &Book {
        self.0.state()
    }
}

impl SnapshotReader for EngineReader {
    type Storage = Persistent;
    type Snapshot<'a> = EngineSnapshot;

    fn snapshot(&mut self) -> EngineSnapshot {
        EngineSnapshot(self.read_handle.load())
    }
}
