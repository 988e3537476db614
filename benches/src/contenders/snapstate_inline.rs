//! Contender 6: snapstate's inline writer — the engine's writer driven on the producer's own
//! thread ([`InlineWriter`]): no queue, no second thread; the same snapshots, readers and
//! publication as the threaded engine.

use hdrhistogram::Histogram;
use snapstate::book::{Book, BookCommand, Persistent};
use snapstate::engine::{InlineWriter, OutcomeRecordOf};

use crate::contender::{Contender, Producer, Settings};
use crate::contenders::{EngineReader, engine_config};
use crate::journal::TemporaryJournal;
use crate::probe::{self, Batches};
use crate::workload::Workload;

/// The inline writer with the comparison's engine configuration (the defaults, a monotonic
/// clock); the producer applies on its own thread.
#[derive(Debug)]
pub struct SnapstateInline;

impl Contender for SnapstateInline {
    const NAME: &'static str = "snapstate_inline";
    type Storage = Persistent;
    type State = Book;
    type Producer = InlineProducer;
    type Reader = EngineReader;

    fn build_state(workload: &Workload) -> Book {
        workload.initial_book()
    }

    fn start(state: Book) -> (InlineProducer, EngineReader) {
        Self::start_with_settings(state, &Settings::default())
    }

    fn start_with_settings(state: Book, settings: &Settings) -> (InlineProducer, EngineReader) {
        // With a journal, the writer starts through recovery on a fresh directory, as a
        // journaled writer always does; the directory goes when the producer finishes.
        let (writer, journal_directory) = match settings.journal {
            Some(journal) => {
                let (writer, directory) = journal.start_writer(engine_config(), |config| {
                    InlineWriter::recover(state, config)
                });
                (writer, Some(directory))
            }
            None => (
                InlineWriter::start(state, engine_config()).expect("the writer starts"),
                None,
            ),
        };
        if let Some(probe) = probe::installed() {
            // Forget publications from any earlier writer in this process.
            probe.reset();
        }
        let reader = EngineReader::from(writer.read_handle());
        let batch = settings.inline_batch.max(1);
        let producer = InlineProducer {
            writer,
            batch,
            pending: Vec::with_capacity(batch),
            records: Vec::with_capacity(batch),
            batch_sizes: None,
            journal_directory,
        };
        (producer, reader)
    }
}

/// Applies updates through an [`InlineWriter`] on the producer's thread.
///
/// With a batch of 1 (the default,
/// [`DEFAULT_INLINE_BATCH`](crate::contender::DEFAULT_INLINE_BATCH)) every `send` applies and publishes
/// its update: it is visible when `send` returns, as with the designs that update in place.
/// With a larger batch, `send` holds updates back and applies them together (one publication)
/// when `batch` are pending, when the producer pauses, and on `flush`: what an embedder does
/// with the messages one read from its venue connection delivered together.
///
/// Visibility: the writer's published snapshot's `last_seq` (the producer is the only one, so
/// its n-th command is `Seq(n)`), read from the writer itself — what a reader's next load sees.
///
/// Stall: as for the threaded engine, the publication of each update's batch, as the writer
/// reports it through `metrics` (see [`probe`]).
pub struct InlineProducer {
    writer: InlineWriter<Book>,
    batch: usize,
    pending: Vec<BookCommand>,
    records: Vec<OutcomeRecordOf<Book>>,
    batch_sizes: Option<Batches>,
    /// The journal's directory, when the writer journals: declared after `writer`, so that it
    /// is removed only after the writer has stopped.
    journal_directory: Option<TemporaryJournal>,
}

impl std::fmt::Debug for InlineProducer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InlineProducer")
            .field("batch", &self.batch)
            .field("pending", &self.pending.len())
            .finish_non_exhaustive()
    }
}

impl InlineProducer {
    fn apply_pending(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        self.writer
            .apply_all_into(self.pending.drain(..), &mut self.records)
            .expect("the inline writer runs until the producer finishes");
        self.records.clear();
    }
}

impl Producer for InlineProducer {
    fn send(&mut self, command: BookCommand) {
        if self.batch == 1 {
            let _ = self
                .writer
                .apply(command)
                .expect("the inline writer runs until the producer finishes");
            return;
        }
        self.pending.push(command);
        if self.pending.len() >= self.batch {
            self.apply_pending();
        }
    }

    fn visible_through(&mut self) -> u64 {
        self.writer.snapshot().last_seq().0
    }

    fn flush(&mut self) {
        self.apply_pending();
    }

    fn pause(&mut self) {
        self.apply_pending();
    }

    fn reclaim(&mut self) {
        self.apply_pending();
        self.writer.reclaim();
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
        self.apply_pending();
        let Self {
            writer,
            journal_directory,
            ..
        } = self;
        writer
            .shutdown()
            .expect("the inline writer shuts down cleanly");
        // The writer has stopped: its journal can go.
        drop(journal_directory);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contender::SnapshotReader;

    #[test]
    fn held_back_updates_become_visible_on_pause_and_at_once_with_a_batch_of_one() {
        let workload = Workload::new(64);
        let mut updates = workload.updates(7);
        for batch in [1, 8] {
            let settings = Settings {
                inline_batch: batch,
                ..Settings::default()
            };
            let (mut producer, mut reader) =
                SnapstateInline::start_with_settings(workload.initial_book(), &settings);
            let base = producer.visible_through();
            for _ in 0..3 {
                producer.send(updates.next_command());
            }
            let expected_now = if batch == 1 { base + 3 } else { base };
            assert_eq!(producer.visible_through(), expected_now, "batch {batch}");
            producer.pause();
            assert_eq!(producer.visible_through(), base + 3, "batch {batch}");
            assert_eq!(reader.snapshot().0.last_seq().0, base + 3, "batch {batch}");
            producer.finish();
        }
    }
}
