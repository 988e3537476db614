//! Contenders 2 and 3: one `RwLock<Book>` updated in place by the producer.
//!
//! * `rwlock_deep_copy`: a snapshot is a clone of the book taken under the read lock; the
//!   writer waits while the copy runs.
//! * `rwlock_held`: a snapshot is the read guard itself; the reader (and the reconciler, for its
//!   whole comparison) holds the lock while it uses the book, and the writer waits.

use std::sync::{Arc, RwLock, RwLockReadGuard, TryLockError};

use hdrhistogram::Histogram;
use snapstate::book::{Book, BookCommand, Standard};

use crate::contender::{Contender, Copied, Producer, SnapshotReader, Stalls};
use crate::workload::Workload;

type SharedBook = Arc<RwLock<Book<Standard>>>;

/// `RwLock<Book>`, updated in place; snapshot = deep copy under the read lock.
#[derive(Debug)]
pub struct RwLockDeepCopy;

/// `RwLock<Book>`, updated in place; the reader holds the read lock while it uses the book.
#[derive(Debug)]
pub struct RwLockHeld;

impl Contender for RwLockDeepCopy {
    const NAME: &'static str = "rwlock_deep_copy";
    type Storage = Standard;
    type State = SharedBook;
    type Producer = LockProducer;
    type Reader = DeepCopyReader;

    fn build_state(workload: &Workload) -> SharedBook {
        Arc::new(RwLock::new(workload.initial_standard_book()))
    }

    fn start(state: SharedBook) -> (LockProducer, DeepCopyReader) {
        (
            LockProducer::new(Arc::clone(&state)),
            DeepCopyReader { book: state },
        )
    }
}

impl Contender for RwLockHeld {
    const NAME: &'static str = "rwlock_held";
    const SNAPSHOT_BLOCKS_WRITER: bool = true;
    type Storage = Standard;
    type State = SharedBook;
    type Producer = LockProducer;
    type Reader = HeldLockReader;

    fn build_state(workload: &Workload) -> SharedBook {
        Arc::new(RwLock::new(workload.initial_standard_book()))
    }

    fn start(state: SharedBook) -> (LockProducer, HeldLockReader) {
        (
            LockProducer::new(Arc::clone(&state)),
            HeldLockReader { book: state },
        )
    }
}

/// The producer applies each update under the write lock.
///
/// Stall: it first tries the write lock without waiting. Only readers ever take the lock
/// besides the producer, so a failed try means a reader holds it; the time from that failure
/// until the lock is acquired is the stall. An update whose try succeeds stalled for zero.
#[derive(Debug)]
pub struct LockProducer {
    book: SharedBook,
    sent: u64,
    stalls: Stalls,
}

impl LockProducer {
    fn new(book: SharedBook) -> Self {
        Self {
            book,
            sent: 0,
            stalls: Stalls::default(),
        }
    }
}

impl Producer for LockProducer {
    fn send(&mut self, command: BookCommand) {
        let mut guard = match self.book.try_write() {
            Ok(guard) => {
                self.stalls.uncontended();
                guard
            }
            Err(TryLockError::WouldBlock) => self.stalls.time(|| {
                self.book
                    .write()
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
            }),
            Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
        };
        // Refused updates count too: the book did the work of refusing them (the workload
        // sends none that it refuses).
        let _ = guard.apply(&command);
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

/// Takes the read lock, clones the book, releases the lock.
#[derive(Clone, Debug)]
pub struct DeepCopyReader {
    book: SharedBook,
}

impl SnapshotReader for DeepCopyReader {
    type Storage = Standard;
    type Snapshot<'a> = Copied<Standard>;

    fn snapshot(&mut self) -> Copied<Standard> {
        let guard = self
            .book
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        Copied(guard.clone())
    }
}

/// Takes the read lock and keeps it while the snapshot is held.
#[derive(Clone, Debug)]
pub struct HeldLockReader {
    book: SharedBook,
}

impl SnapshotReader for HeldLockReader {
    type Storage = Standard;
    type Snapshot<'a> = RwLockReadGuard<'a, Book<Standard>>;

    fn snapshot(&mut self) -> RwLockReadGuard<'_, Book<Standard>> {
        self.book
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
