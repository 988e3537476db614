//! Contender 5, the ready-made alternative: `left-right`, with the book as its data structure
//! and [`BookCommand`] as its operation log. Reads never block; the writer keeps two copies,
//! applies each operation to both, and after each publish waits until no reader is still in
//! the copy it is about to change. A snapshot is a copy taken out of a read guard.

use hdrhistogram::Histogram;
use left_right::{Absorb, ReadHandle, WriteHandle};
use snapstate::book::{Book, BookCommand, Standard};

use crate::contender::{Contender, Copied, Producer, SnapshotReader, Stalls};
use crate::workload::Workload;

/// One of left-right's two copies of the book.
#[derive(Clone, Debug)]
pub struct Replica(Book<Standard>);

impl Absorb<BookCommand> for Replica {
    fn absorb_first(&mut self, operation: &mut BookCommand, _other: &Self) {
        // `Book::apply` is deterministic, so both copies end equal; a refused update changes
        // neither.
        let _ = self.0.apply(operation);
    }

    fn sync_with(&mut self, first: &Self) {
        self.0.clone_from(&first.0);
    }
}

/// left-right over the book, publishing after every update.
#[derive(Debug)]
pub struct LeftRight;

impl Contender for LeftRight {
    const NAME: &'static str = "left_right";
    type Storage = Standard;
    type State = (WriteHandle<Replica, BookCommand>, ReadHandle<Replica>);
    type Producer = LeftRightProducer;
    type Reader = LeftRightReader;

    fn build_state(workload: &Workload) -> Self::State {
        let (mut writer, reader) =
            left_right::new_from_empty(Replica(workload.initial_standard_book()));
        // The first two publishes set up the two copies (the second one syncs the copy the
        // readers saw first); do them now, so that the measured run sees the steady state.
        writer.publish();
        writer.publish();
        (writer, reader)
    }

    fn start(state: Self::State) -> (LeftRightProducer, LeftRightReader) {
        let (writer, reader) = state;
        let producer = LeftRightProducer {
            writer,
            sent: 0,
            stalls: Stalls::default(),
        };
        (producer, LeftRightReader { reader })
    }
}

/// Appends each update and publishes it at once, so that it is visible as soon as the call
/// returns, as with the lock-based designs.
///
/// Stall: it first tries to publish without waiting (`try_publish`), which fails only when a
/// reader may still be in the copy the writer must change next; then it publishes, waiting
/// for that reader to leave. The stall is the time of that waiting publish (which also
/// applies the update to one copy, a fraction of a microsecond). A successful try stalled for
/// zero.
pub struct LeftRightProducer {
    writer: WriteHandle<Replica, BookCommand>,
    sent: u64,
    stalls: Stalls,
}

impl std::fmt::Debug for LeftRightProducer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LeftRightProducer")
            .field("sent", &self.sent)
            .finish_non_exhaustive()
    }
}

impl Producer for LeftRightProducer {
    fn send(&mut self, command: BookCommand) {
        self.writer.append(command);
        if self.writer.try_publish() {
            self.stalls.uncontended();
        } else {
            let writer = &mut self.writer;
            self.stalls.time(|| {
                writer.publish();
            });
        }
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

/// Enters the read side and copies the book out of the guard.
#[derive(Clone, Debug)]
pub struct LeftRightReader {
    reader: ReadHandle<Replica>,
}

impl SnapshotReader for LeftRightReader {
    type Storage = Standard;
    type Snapshot<'a> = Copied<Standard>;

    /// # Panics
    ///
    /// If the writer is gone (it outlives every reader in the benchmark).
    fn snapshot(&mut self) -> Copied<Standard> {
        let guard = self.reader.enter().expect("the writer outlives readers");
        Copied(guard.0.clone())
    }
}
