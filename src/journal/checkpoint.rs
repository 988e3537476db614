//! Checkpoints: a whole state image written from a published snapshot, so that recovery
//! replays only the records after it and old segments can be removed.
//!
//! # Checkpoint file
//!
//! `NNNNNNNNNNNNNNNNNNNN.checkpoint` (the `last_seq` it includes, 20 decimal digits), written
//! as `….checkpoint.tmp`, synced, renamed into place, and the directory synced. Little-endian:
//!
//! ```text
//! offset  size  field
//! 0       8     magic "SNAPCKPT"
//! 8       4     checkpoint format version (1)
//! 12      8     body length L
//! 20      L     body: postcard of CheckpointBody (format name, seq, counters, configuration,
//!               state image)
//! 20+L    4     CRC-32C of bytes 0..20+L
//! ```
//!
//! # Writer stall
//!
//! None: the checkpointer loads the current snapshot from the publication cell itself (one
//! reference count), waits until its `last_seq` is durable, and serialises it on its own
//! thread. The writer does not know a checkpoint is being written.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::engine::{Counters, Seq, Snapshot};
use crate::sync::thread::JoinHandle;
use crate::sync::{Arc, PublicationCell};

use super::appender::DurableState;
use super::format::{u32_at, u64_at};
use super::segment::parse_segment_name;
use super::{CodecError, Durable, JournalConfig, RecoveryError, Storage};

/// The magic bytes that open every checkpoint.
pub const CHECKPOINT_MAGIC: &[u8; 8] = b"SNAPCKPT";
/// The checkpoint format this code writes and reads.
pub const CHECKPOINT_VERSION: u32 = 1;
/// The file name suffix of checkpoints.
pub const CHECKPOINT_SUFFIX: &str = ".checkpoint";
/// The suffix of a checkpoint being written.
pub const TEMPORARY_SUFFIX: &str = ".tmp";

/// The file name of the checkpoint that includes everything up to `seq`.
pub(crate) fn checkpoint_name(seq: Seq) -> String {
    super::numbered_name(seq, CHECKPOINT_SUFFIX)
}

/// The sequence number a checkpoint's name declares, if it is a checkpoint's name.
pub(crate) fn parse_checkpoint_name(name: &str) -> Option<Seq> {
    super::parse_numbered_name(name, CHECKPOINT_SUFFIX)
}

/// The outcome counters as stored: by name, so that a label added later still lines up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct CountersImage {
    pub(crate) applied: u64,
    pub(crate) rejected: u64,
    pub(crate) panicked: u64,
    pub(crate) applied_by_label: Vec<(String, u64)>,
    pub(crate) rejected_by_label: Vec<(String, u64)>,
}

impl CountersImage {
    pub(crate) fn of(counters: &Counters) -> Self {
        let named = |pairs: &mut dyn Iterator<Item = (&'static str, u64)>| {
            pairs
                .map(|(name, count)| (name.to_owned(), count))
                .collect()
        };
        Self {
            applied: counters.applied,
            rejected: counters.rejected,
            panicked: counters.panicked,
            applied_by_label: named(&mut counters.applied_by_label()),
            rejected_by_label: named(&mut counters.rejected_by_label()),
        }
    }

    /// Counters with these counts, for a state machine whose labels are `applied_labels` and
    /// `rejected_labels`; a count under a name no longer known goes to "unlabelled".
    pub(crate) fn restore(
        &self,
        applied_labels: &'static [&'static str],
        rejected_labels: &'static [&'static str],
    ) -> Counters {
        let mut counters = Counters::new(applied_labels, rejected_labels);
        counters.applied = self.applied;
        counters.rejected = self.rejected;
        counters.panicked = self.panicked;
        counters.applied_by_label = by_label(applied_labels, &self.applied_by_label).into();
        counters.rejected_by_label = by_label(rejected_labels, &self.rejected_by_label).into();
        counters
    }
}

fn by_label(labels: &[&str], stored: &[(String, u64)]) -> Vec<u64> {
    let mut counts = vec![0; labels.len() + 1];
    for (name, count) in stored {
        let index = labels
            .iter()
            .position(|label| label == name)
            .unwrap_or(labels.len());
        counts[index] += count;
    }
    counts
}

/// A checkpoint's body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct CheckpointBody {
    pub(crate) format: String,
    pub(crate) seq: u64,
    pub(crate) counters: CountersImage,
    pub(crate) config: Vec<u8>,
    pub(crate) state: Vec<u8>,
}

/// Encodes a checkpoint file of `snapshot`.
pub(crate) fn encode_checkpoint<S: Durable>(snapshot: &Snapshot<S>) -> Result<Vec<u8>, CodecError> {
    let mut config = Vec::new();
    S::encode_config(&snapshot.state().config(), &mut config)?;
    let mut state = Vec::new();
    snapshot.state().encode_state(&mut state)?;
    let body = CheckpointBody {
        format: S::FORMAT.to_owned(),
        seq: snapshot.last_seq().0,
        counters: CountersImage::of(snapshot.counters()),
        config,
        state,
    };
    // The body is encoded straight behind the file's header, whose length field is filled in
    // afterwards, so that the state image is copied once (into the file), not twice.
    let mut file = Vec::with_capacity(body.state.len() + body.config.len() + 256);
    file.extend_from_slice(CHECKPOINT_MAGIC);
    file.extend_from_slice(&CHECKPOINT_VERSION.to_le_bytes());
    file.extend_from_slice(&0_u64.to_le_bytes());
    let mut file = postcard::to_extend(&body, file)?;
    let body_len = (file.len() - 20) as u64;
    file[12..20].copy_from_slice(&body_len.to_le_bytes());
    let crc = crc32c::crc32c(&file);
    file.extend_from_slice(&crc.to_le_bytes());
    Ok(file)
}

/// Decodes and checks a checkpoint file's framing; `file` names it in errors.
pub(crate) fn decode_checkpoint(file: &str, bytes: &[u8]) -> Result<CheckpointBody, RecoveryError> {
    let corrupt = |offset: u64, reason: &str| RecoveryError::Corrupt {
        file: file.to_owned(),
        offset,
        reason: reason.to_owned(),
    };
    if bytes.len() < 24 || &bytes[..8] != CHECKPOINT_MAGIC {
        return Err(corrupt(0, "not a checkpoint (bad magic or too short)"));
    }
    if u32_at(bytes, 8) != CHECKPOINT_VERSION {
        return Err(corrupt(8, "unsupported checkpoint format version"));
    }
    let body_len = u64_at(bytes, 12);
    if body_len != (bytes.len() - 24) as u64 {
        return Err(corrupt(12, "checkpoint length does not match the file"));
    }
    let end = bytes.len() - 4;
    if crc32c::crc32c(&bytes[..end]) != u32_at(bytes, end) {
        return Err(corrupt(end as u64, "checkpoint checksum does not match"));
    }
    postcard::from_bytes(&bytes[20..end])
        .map_err(|error| corrupt(20, &format!("checkpoint body: {error}")))
}

/// Writes `snapshot` as a checkpoint (temporary file, sync, rename, sync the directory), then
/// removes older checkpoints beyond `kept` and the segments the oldest kept one covers.
///
/// # Errors
///
/// A message naming the file and the failed step.
pub(crate) fn write_checkpoint<S: Durable>(
    storage: &dyn Storage,
    snapshot: &Snapshot<S>,
    kept: usize,
) -> Result<(), String> {
    let bytes = encode_checkpoint(snapshot).map_err(|error| format!("encoding: {error}"))?;
    let name = checkpoint_name(snapshot.last_seq());
    let temporary = format!("{name}{TEMPORARY_SUFFIX}");
    let step = |what: &str, error: std::io::Error| format!("{what} {temporary}: {error}");
    let mut file = storage
        .create(&temporary)
        .map_err(|error| step("creating", error))?;
    file.write_at(0, &bytes)
        .map_err(|error| step("writing", error))?;
    file.sync_data().map_err(|error| step("syncing", error))?;
    drop(file);
    storage
        .rename(&temporary, &name)
        .map_err(|error| step("renaming", error))?;
    storage
        .sync_dir()
        .map_err(|error| step("syncing the directory after", error))?;
    remove_covered(storage, kept).map_err(|error| format!("removing old files: {error}"))
}

/// Removes checkpoints beyond the newest `kept`, and the segments wholly covered by the oldest
/// checkpoint kept.
fn remove_covered(storage: &dyn Storage, kept: usize) -> std::io::Result<()> {
    let names = storage.list()?;
    let mut checkpoints: Vec<Seq> = names
        .iter()
        .filter_map(|name| parse_checkpoint_name(name))
        .collect();
    checkpoints.sort();
    let excess = checkpoints.len().saturating_sub(kept);
    for seq in checkpoints.drain(..excess) {
        storage.remove(&checkpoint_name(seq))?;
    }
    let Some(&oldest_kept) = checkpoints.first() else {
        return Ok(());
    };
    let mut segments: Vec<Seq> = names
        .iter()
        .filter_map(|name| parse_segment_name(name))
        .collect();
    segments.sort();
    // A segment is wholly covered when the next one starts at or before the record after the
    // checkpoint; the last segment is never removed (the journal writes to it).
    for pair in segments.windows(2) {
        if pair[1].0 <= oldest_kept.0 + 1 {
            storage.remove(&super::segment::segment_name(pair[0]))?;
        }
    }
    storage.sync_dir()
}

/// Starts the checkpointer thread: every `every_commands` commands or `interval`, it loads the
/// current snapshot, waits until it is durable, and writes it.
///
/// # Errors
///
/// The thread could not be spawned.
pub(crate) fn spawn_checkpointer<S: Durable>(
    config: &JournalConfig,
    cell: PublicationCell<Snapshot<S>>,
    durable: Arc<DurableState>,
    mut last_checkpoint: Seq,
) -> std::io::Result<Option<JoinHandle<()>>> {
    if config.checkpoint_every_commands.is_none() && config.checkpoint_interval.is_none() {
        return Ok(None);
    }
    let storage = Arc::clone(&config.storage);
    let every = config.checkpoint_every_commands;
    let interval = config.checkpoint_interval;
    let kept = config.checkpoints_kept;
    // Wake up often enough to notice the count, and never sleep past the interval; but never
    // poll without a pause, however short the interval.
    let poll = interval.map_or(Duration::from_millis(100), |interval| {
        interval.clamp(Duration::from_millis(1), Duration::from_millis(100))
    });
    let thread = crate::sync::spawn_named("snapstate-checkpoint".to_owned(), move || {
        let mut last_time = Instant::now();
        loop {
            let stopping = durable.wait_change(poll);
            if stopping {
                return;
            }
            let durable_seq = durable.durable_seq();
            let by_count = due_by_count(every, durable_seq, last_checkpoint);
            let by_time = interval.is_some_and(|interval| last_time.elapsed() >= interval)
                && durable_seq > last_checkpoint;
            if !(by_count || by_time) {
                continue;
            }
            let snapshot = cell.load_full();
            if snapshot.last_seq() <= last_checkpoint {
                continue;
            }
            if durable.wait_for(snapshot.last_seq(), None).is_err() {
                return;
            }
            match write_checkpoint(storage.as_ref(), &snapshot, kept) {
                Ok(()) => {
                    last_checkpoint = snapshot.last_seq();
                    tracing::debug!(seq = %last_checkpoint, "checkpoint written");
                }
                Err(failure) => {
                    // The journal still holds every record: a failed checkpoint costs replay
                    // time, not data. Try again at the next trigger.
                    tracing::error!(%failure, "writing a checkpoint failed");
                }
            }
            last_time = Instant::now();
        }
    })?;
    Ok(Some(thread))
}

/// Whether `every` commands have become durable since the checkpoint at `last_checkpoint`.
///
/// Counted as a difference, never as `last_checkpoint + every`: a count near `u64::MAX` (a
/// configuration's way of saying "practically never") overflowed that sum once a checkpoint
/// had been written, which killed the checkpointer thread in a debug build and, wrapped in a
/// release build, made it checkpoint after every batch.
fn due_by_count(every: Option<u64>, durable_seq: Seq, last_checkpoint: Seq) -> bool {
    every.is_some_and(|every| durable_seq.0.saturating_sub(last_checkpoint.0) >= every)
}

#[cfg(test)]
mod tests {
    use rust_decimal::Decimal;

    use super::*;
    use crate::book::{Book, BookCommand, BookConfig, FillReport, Grid, OrderId};
    use crate::engine::EngineConfig;
    use crate::engine::core::WriterCore;
    use crate::time::Timestamp;

    /// A book's snapshot after one refused command, so that its counters are not all zero.
    fn snapshot() -> Arc<Snapshot<Book>> {
        let grid = Grid::centred(Decimal::new(100, 0), Decimal::new(1, 2), 10).expect("grid");
        let config = EngineConfig {
            record_metrics: false,
            ..EngineConfig::default()
        };
        let mut core = WriterCore::new(Book::new(BookConfig::new(grid)), &config, None, false);
        core.batch_mut().push(BookCommand::Fill(FillReport {
            order_id: OrderId(1),
            cumulative_filled: Decimal::ONE,
            fill_price: None,
            trade_id: None,
            venue_seq: None,
            at: Timestamp::EPOCH,
        }));
        core.run_batch(None, |_| {}).expect("no journal");
        core.cell().load_full()
    }

    #[test]
    fn a_checkpoint_is_due_after_every_commands_however_large_every_is() {
        assert!(!due_by_count(None, Seq(u64::MAX), Seq(0)));
        assert!(!due_by_count(Some(10), Seq(109), Seq(100)));
        assert!(due_by_count(Some(10), Seq(110), Seq(100)));
        assert!(!due_by_count(Some(u64::MAX), Seq(207), Seq(206)));
        assert!(!due_by_count(
            Some(u64::MAX - 5),
            Seq(u64::MAX - 1),
            Seq(10)
        ));
        assert!(due_by_count(Some(u64::MAX), Seq(u64::MAX), Seq(0)));
        // A durable sequence behind the checkpoint (never expected) is not a reason to write one.
        assert!(!due_by_count(Some(1), Seq(5), Seq(10)));
    }

    #[test]
    fn a_checkpoint_reads_back_and_every_flipped_bit_and_cut_is_detected() {
        let snapshot = snapshot();
        assert_eq!(snapshot.counters().rejected(), 1);
        let bytes = encode_checkpoint(&snapshot).expect("encode");
        let body = decode_checkpoint("c", &bytes).expect("decode");
        let mut state = Vec::new();
        snapshot.state().encode_state(&mut state).expect("state");
        assert_eq!(body.format, Book::FORMAT);
        assert_eq!(body.seq, snapshot.last_seq().0);
        assert_eq!(body.counters, CountersImage::of(snapshot.counters()));
        assert_eq!(body.state, state);
        for bit in 0..bytes.len() * 8 {
            let mut flipped = bytes.clone();
            flipped[bit / 8] ^= 1 << (bit % 8);
            assert!(decode_checkpoint("c", &flipped).is_err(), "bit {bit}");
        }
        for cut in 0..bytes.len() {
            assert!(
                decode_checkpoint("c", &bytes[..cut]).is_err(),
                "cut at {cut}"
            );
        }
    }
}
