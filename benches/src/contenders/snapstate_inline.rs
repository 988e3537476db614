//! Contender 6: snapstate's inline writer — the engine's writer driven on the producer's own
//! thread ([`InlineWriter`]): no queue, no second thread; the same snapshots, readers and
//! publication as the threaded engine.
//!
//! It runs with the engine's metrics off, as the designs it is compared with (which apply on
//! the producer's thread too) have none: with them on, each call reads the clock five times and
//! records six figures into the benchmark's probe (four locks), about 0.5 µs a call on the
//! benchmark machine, which a producer publishing every update pays per update
//! (`docs/benchmarks.md`, "Reusing the replaced version"). It reports no writer stall (the
//! writer never waits for a reader, and the publication's own time is a metric). Its updates
//! become visible when the snapshot that includes them is stored into the cell: the producer
//! reads that snapshot's `published_at` (stamped by the engine with the comparison's monotonic
//! clock as the last step of filling in the snapshot, just before the store) after
//! each call, which also gives the gaps between publications.

use std::sync::Arc;

use hdrhistogram::Histogram;
use snapstate::book::{Book, BookCommand, Persistent};
use snapstate::engine::{EngineConfig, InlineWriter, OutcomeRecordOf};
use snapstate::time::Timestamp;

use crate::contender::{Contender, Producer, Settings, nanos_histogram, record_nanos};
use crate::contenders::{EngineReader, engine_config};
use crate::journal::TemporaryJournal;
use crate::probe::VISIBLE_LOG_EVERY;
use crate::workload::{MonotonicClock, Workload, duration_nanos};

/// The inline writer with the comparison's engine configuration (the defaults, a monotonic
/// clock), metrics off; the producer applies on its own thread.
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
        let batch = settings.inline_batch.max(1);
        let clock = MonotonicClock::new();
        let defaults = engine_config();
        let config = EngineConfig {
            // One call, one publication, also for `--inline-batch` above the default
            // `max_batch`: the visibility log has one entry per call.
            max_batch: defaults.max_batch.max(batch),
            reuse_limit: settings.reuse_limit,
            record_metrics: false,
            clock: Arc::new(clock.clone()),
            ..defaults
        };
        // With a journal, the writer starts through recovery on a fresh directory, as a
        // journaled writer always does; the directory goes when the producer finishes.
        let (writer, journal_directory) = match settings.journal {
            Some(journal) => {
                let (writer, directory) =
                    journal.start_writer(config, |config| InlineWriter::recover(state, config));
                (writer, Some(directory))
            }
            None => (
                InlineWriter::start(state, config).expect("the writer starts"),
                None,
            ),
        };
        let reader = EngineReader::from(writer.read_handle());
        let producer = InlineProducer {
            writer,
            batch,
            pending: Vec::with_capacity(batch),
            records: Vec::with_capacity(batch),
            clock,
            published: Vec::new(),
            gaps: nanos_histogram(),
            last_published: None,
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
/// its n-th command is `Seq(n)`), read from the writer itself when the call returns — what a
/// reader's next load sees.
///
/// Stall: none reported (the writer never waits for a reader; its metrics, which would time
/// each publication, are off: see the module's docs).
pub struct InlineProducer {
    writer: InlineWriter<Book>,
    batch: usize,
    pending: Vec<BookCommand>,
    records: Vec<OutcomeRecordOf<Book>>,
    /// The clock the writer stamps its snapshots with.
    clock: MonotonicClock,
    /// `(last sequence number, publication)` of each published batch that includes a multiple
    /// of [`VISIBLE_LOG_EVERY`], since last taken.
    published: Vec<(u64, std::time::Instant)>,
    /// Between consecutive publications, nanoseconds, since last taken.
    gaps: Histogram<u64>,
    /// The last publication's stamp.
    last_published: Option<Timestamp>,
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
        let first = self.writer.snapshot().last_seq().0 + 1;
        self.writer
            .apply_all_into(self.pending.drain(..), &mut self.records)
            .expect("the inline writer runs until the producer finishes");
        self.records.clear();
        self.log_publication(first);
    }

    /// Records the gap since the previous publication, and logs when the batch that began with
    /// sequence number `first` became visible if it includes a sampled update.
    fn log_publication(&mut self, first: u64) {
        let snapshot = self.writer.snapshot();
        let published_at = snapshot.published_at();
        if let Some(previous) = self.last_published.replace(published_at) {
            record_nanos(
                &mut self.gaps,
                duration_nanos(published_at.saturating_duration_since(previous)),
            );
        }
        let last = snapshot.last_seq().0;
        if last / VISIBLE_LOG_EVERY >= first.div_ceil(VISIBLE_LOG_EVERY) {
            let published = self.clock.instant_at(published_at);
            self.published.push((last, published));
        }
    }
}

impl Producer for InlineProducer {
    fn send(&mut self, command: BookCommand) {
        if self.batch == 1 {
            let record = self
                .writer
                .apply(command)
                .expect("the inline writer runs until the producer finishes");
            self.log_publication(record.seq.0);
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
        None
    }

    fn publications(&mut self) -> Option<Vec<(u64, std::time::Instant)>> {
        Some(std::mem::take(&mut self.published))
    }

    fn take_publication_gaps(&mut self) -> Option<Histogram<u64>> {
        self.last_published = None;
        Some(std::mem::replace(&mut self.gaps, nanos_histogram()))
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
