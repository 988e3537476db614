//! Contender 4, naive copy-on-write: `ArcSwap<Book>`; every update clones the whole book,
//! applies itself to the clone and stores it. A snapshot is an `Arc` to one version, as in
//! snapstate, but without structural sharing each update costs O(n).

use std::sync::Arc;

use arc_swap::ArcSwap;
use hdrhistogram::Histogram;
use snapstate::book::{Book, BookCommand, Standard};

use crate::contender::{Contender, Producer, SnapshotReader, Stalls};
use crate::workload::Workload;

/// `ArcSwap<Book>` with a full copy per update.
#[derive(Debug)]
pub struct NaiveCow;

impl Contender for NaiveCow {
    const NAME: &'static str = "naive_cow";
    // An update costs a copy of the whole book (milliseconds at 10k slots): sample each one.
    const SAMPLE_EVERY: u64 = 1;
    type Storage = Standard;
    type State = Arc<Book<Standard>>;
    type Producer = CowProducer;
    type Reader = CowReader;

    fn build_state(workload: &Workload) -> Arc<Book<Standard>> {
        Arc::new(workload.initial_standard_book())
    }

    fn start(state: Arc<Book<Standard>>) -> (CowProducer, CowReader) {
        let cell = Arc::new(ArcSwap::new(Arc::clone(&state)));
        let producer = CowProducer {
            cell: Arc::clone(&cell),
            latest: state,
            sent: 0,
            stalls: Stalls::default(),
        };
        (producer, CowReader { cell })
    }
}

/// Clones, applies, stores.
///
/// Stall: the copy is the design's own cost, whatever readers do, so it shows in the
/// throughput, not here. A reader can delay the writer only inside the store, where arc-swap
/// settles the readers' outstanding loads; the stall is the time of that store.
#[derive(Debug)]
pub struct CowProducer {
    cell: Arc<ArcSwap<Book<Standard>>>,
    latest: Arc<Book<Standard>>,
    sent: u64,
    stalls: Stalls,
}

impl Producer for CowProducer {
    fn send(&mut self, command: BookCommand) {
        let mut next = Book::clone(&self.latest);
        let _ = next.apply(&command);
        let next = Arc::new(next);
        let previous = self.stalls.time(|| self.cell.swap(Arc::clone(&next)));
        self.latest = next;
        // Freeing the previous version (when no reader holds it) is the writer's own work.
        drop(previous);
        self.sent += 1;
    }

    fn visible_through(&mut self) -> u64 {
        self.sent
    }

    fn flush(&mut self) {}

    fn take_stalls(&mut self) -> Option<Histogram<u64>> {
        Some(self.stalls.take())
    }

    fn finish(self) {}
}

/// Loads the current version.
#[derive(Clone, Debug)]
pub struct CowReader {
    cell: Arc<ArcSwap<Book<Standard>>>,
}

impl SnapshotReader for CowReader {
    type Storage = Standard;
    type Snapshot<'a> = Arc<Book<Standard>>;

    fn snapshot(&mut self) -> Arc<Book<Standard>> {
        self.cell.load_full()
    }
}
