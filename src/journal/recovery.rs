//! Recovery: the newest valid checkpoint, then every journal record after it, replayed through
//! the writer's own core (the same `apply`, with panics caught the same way), so the recovered
//! state, sequence numbers and counters are those the engine had.
//!
//! # Procedure
//!
//! 1. List the directory. Try checkpoints newest first; a damaged one is skipped (counted in
//!    the report) in favour of an older one, whose segments are kept for exactly this. A
//!    checkpoint of another format or configuration is an error, never skipped.
//! 2. Skip the segments wholly covered by the checkpoint; the first one left must start at or
//!    before the record after the checkpoint, and each next one exactly where the previous one
//!    ended, or records are missing.
//! 3. Check each segment's header (format, configuration, first sequence number) and scan its
//!    records: each must carry the next sequence number. A bad record in the last segment with
//!    nothing written after it is a torn tail: it is truncated (zeroed, in repair mode) and
//!    reported. Any other bad record is corruption.
//! 4. Replay each record after the checkpoint through the core, in batches of up to
//!    [`REPLAY_BATCH_COMMANDS`] (see there for why so large). Steps 3 and 4 overlap: a
//!    thread of its own reads, checksums and decodes the records (step 3, unchanged, errors
//!    naming file and offset as before) and hands the commands over in chunks through a bounded
//!    channel, while the recovering thread applies them; nothing is applied out of order, and
//!    an error in step 3 discards everything applied.
//! 5. In repair mode, sync every segment read and the directory: the recovered writer counts
//!    everything read back as durable, and after a process was killed (the machine staying up)
//!    some of it may be only in the operating system's cache.
//!
//! # Replay's batches
//!
//! Nobody can read the state while it is recovered, so replay publishes rarely: a publication
//! shares the whole working state with the published version, and the next batch then copies
//! every node it touches before changing it, where a uniquely owned node is changed in place.
//! The batch size changes how often that copying happens and nothing else: each command still
//! goes through the same `apply` with its panic caught and the state re-derived without it, so
//! the recovered state, sequence numbers and counters are the same whatever the batch size
//! (`replay_batch_size_and_decoding_thread_do_not_change_what_is_recovered`). Only the recovered engine's
//! [`Version`](crate::engine::Version), which counts publications and is not journaled, depends
//! on it.

use std::time::{Duration, Instant};

use crate::engine::core::WriterCore;
use crate::engine::{EngineConfig, Labelled, Seq, Snapshot, StateMachine};
use crate::sync::Arc;

use super::checkpoint::{TEMPORARY_SUFFIX, decode_checkpoint, parse_checkpoint_name};
use super::segment::{self, BadHeader};
use super::storage::LOCK_FILE;
use super::{Durable, RecoveryError, Storage};

/// What recovery found and did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveryReport {
    /// The checkpoint recovery started from; `None`: from the initial state.
    pub checkpoint_seq: Option<Seq>,
    /// Newer checkpoints that were damaged and skipped.
    pub checkpoints_skipped: u64,
    /// Segment files read.
    pub segments_read: u64,
    /// Records replayed after the checkpoint.
    pub records_replayed: u64,
    /// Bytes of a torn final record that were truncated (zero if none).
    pub torn_bytes_truncated: u64,
    /// The segment that held the torn record, if any.
    pub torn_file: Option<String>,
    /// The last sequence number recovered; the engine continues after it.
    pub last_seq: Seq,
    /// How long recovery took.
    pub duration: Duration,
}

/// The most commands replay applies between two publications (unless
/// [`EngineConfig::max_batch`] is larger).
///
/// Measured on the bench's workload (a 10,000-level book, a million updates,
/// `cargo run --release -p snapstate-bench --example durability -- --recovery`): replaying in the
/// writer's batches of 4,096 cost 1.18 s of the recovering thread's CPU, in batches of 65,536
/// 0.72 s, and in one batch 0.67 s, because each publication makes the next batch copy the
/// nodes it touches. This size keeps most of the gain while the buffered commands stay a few
/// MiB, and it bounds what re-deriving the state after a panicking command re-applies (after a
/// batch with a panic, replay goes back to `max_batch`).
pub(crate) const REPLAY_BATCH_COMMANDS: usize = 65_536;

/// Where a recovered engine's journal continues.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Tail {
    /// The next command's sequence number.
    pub(crate) next_seq: Seq,
    /// The newest checkpoint's sequence number (zero if none).
    pub(crate) last_checkpoint: Seq,
}

/// Recovers the state in `storage` without changing anything there (no lock, no truncation):
/// the final snapshot and the report. For inspection tools; an engine uses
/// [`Engine::recover`](crate::engine::Engine::recover).
///
/// # Errors
///
/// As for [`Engine::recover`](crate::engine::Engine::recover), except that it takes no lock.
pub fn recover_read_only<S: Durable>(
    storage: &dyn Storage,
    initial: S,
) -> Result<(Arc<Snapshot<S>>, RecoveryReport), RecoveryError> {
    let config = EngineConfig {
        record_metrics: false,
        ..EngineConfig::default()
    };
    let (core, report, _) = replay(storage, initial, &config, false)?;
    Ok((core.cell().load_full(), report))
}

/// The configuration a journal was written with, as its own files store it: the newest
/// checkpoint that reads back, else the first segment header that does. With it, a tool can
/// recover a journal without being told the configuration (`snapstate recover`); recovery
/// still checks every other file against it. `Ok(None)` for a directory without any files (but
/// the lock's).
///
/// # Errors
///
/// [`RecoveryError::NotAJournal`] for a directory with files, none of them a journal's;
/// [`RecoveryError::FormatMismatch`] for a file written by another state machine;
/// [`RecoveryError::Corrupt`] (the first damage found) when journal files exist but none of
/// them reads back; [`RecoveryError::Io`] when the storage refuses.
pub fn stored_config<S: Durable>(
    storage: &dyn Storage,
) -> Result<Option<S::Config>, RecoveryError> {
    let names = storage
        .list()
        .map_err(|error| RecoveryError::io(storage.location(), error))?;
    refuse_foreign(storage, &names)?;
    let checkpoints = by_seq(&names, parse_checkpoint_name);
    let segments = by_seq(&names, segment::parse_segment_name);
    let mut first_damage = None;
    for (_, name) in checkpoints.iter().rev() {
        let bytes = storage
            .read(name)
            .map_err(|error| RecoveryError::io((*name).clone(), error))?;
        let config = decode_checkpoint(name, &bytes).and_then(|body| {
            file_config::<S>(
                name,
                &body.format,
                &body.config,
                CHECKPOINT_BODY_OFFSET,
                None,
            )
        });
        match config {
            Ok(config) => return Ok(Some(config)),
            Err(error @ RecoveryError::FormatMismatch { .. }) => return Err(error),
            Err(error) => {
                first_damage.get_or_insert(error);
            }
        }
    }
    for (_, name) in &segments {
        let bytes = storage
            .read(name)
            .map_err(|error| RecoveryError::io((*name).clone(), error))?;
        let header = match segment::decode_header(&bytes) {
            Ok(header) => header,
            // A blank segment (a crash while starting one) holds no configuration.
            Err(BadHeader::Blank) => continue,
            Err(BadHeader::Invalid(reason)) => {
                first_damage.get_or_insert(corrupt(name, 0, reason));
                continue;
            }
        };
        match file_config::<S>(
            name,
            &header.format_name,
            &header.config,
            SEGMENT_FORMAT_OFFSET,
            None,
        ) {
            Ok(config) => return Ok(Some(config)),
            Err(error @ RecoveryError::FormatMismatch { .. }) => return Err(error),
            Err(error) => {
                first_damage.get_or_insert(error);
            }
        }
    }
    first_damage.map_or(Ok(None), Err)
}

/// Recovers into a writer core (see the module documentation). With `repair`, truncates a torn
/// tail, removes leftovers (a blank last segment, temporary checkpoint files), and syncs the
/// segments it read and the directory, so that everything recovered is durable.
pub(crate) fn replay<S: Durable>(
    storage: &dyn Storage,
    initial: S,
    config: &EngineConfig,
    repair: bool,
) -> Result<(WriterCore<S>, RecoveryReport, Tail), RecoveryError> {
    let batch = BatchSizes {
        large: REPLAY_BATCH_COMMANDS.max(config.max_batch),
        after_panic: config.max_batch,
    };
    replay_in_batches(storage, initial, config, repair, batch, PIPELINE)
}

/// How many commands the decoding thread hands over at once; `None`: replay decodes on the
/// applying thread. Not pipelined under loom: recovery runs inside the loom models (on their
/// simulated storage), where a thread must be one of the model's.
const PIPELINE: Option<usize> = if cfg!(loom) { None } else { Some(4_096) };

/// Chunks in flight between the decoding thread and the applying one: enough that neither
/// waits for the other's jitter, few enough that the decoded commands held stay small.
#[cfg(not(loom))]
const PIPELINE_CHUNKS: usize = 4;

/// How many commands replay applies between publications.
#[derive(Debug, Clone, Copy)]
struct BatchSizes {
    /// Normally.
    large: usize,
    /// After a batch in which a command panicked: re-deriving the state after a panic
    /// re-applies the batch's earlier commands, so a journal with many panicking commands
    /// must not make each one re-apply a large batch.
    after_panic: usize,
}

/// [`replay`] with the batch sizes given, decoding on a thread of its own that hands over
/// chunks of `pipeline` commands (on the applying thread if `None`).
fn replay_in_batches<S: Durable>(
    storage: &dyn Storage,
    initial: S,
    config: &EngineConfig,
    repair: bool,
    batch: BatchSizes,
    pipeline: Option<usize>,
) -> Result<(WriterCore<S>, RecoveryReport, Tail), RecoveryError> {
    let started = Instant::now();
    let names = storage
        .list()
        .map_err(|error| RecoveryError::io(storage.location(), error))?;
    refuse_foreign(storage, &names)?;
    let expected_config = initial.config();
    let mut report = RecoveryReport {
        checkpoint_seq: None,
        checkpoints_skipped: 0,
        segments_read: 0,
        records_replayed: 0,
        torn_bytes_truncated: 0,
        torn_file: None,
        last_seq: Seq(0),
        duration: Duration::ZERO,
    };
    let (mut core, checkpoint_seq, damaged) = load_checkpoint(
        storage,
        &names,
        initial,
        &expected_config,
        config,
        &mut report,
    )?;
    let segments = by_seq(&names, segment::parse_segment_name);
    if segments.is_empty()
        && checkpoint_seq == Seq(0)
        && let Some(error) = damaged
    {
        // Only damaged checkpoints and no journal: refuse rather than start empty.
        return Err(error);
    }
    let scan = Scan::<S> {
        storage,
        segments: &segments,
        checkpoint_seq,
        damaged,
        expected_config: &expected_config,
        repair,
    };
    let mut replayer = Replayer {
        core: &mut core,
        sizes: batch,
        max_batch: batch.large,
        replayed: 0,
    };
    let expected = match pipeline {
        #[cfg(not(loom))]
        Some(chunk_commands) => scan.run_pipelined(&mut report, &mut replayer, chunk_commands)?,
        _ => scan.run(&mut report, |command| {
            replayer.push(command);
            Ok(())
        })?,
    };
    replayer.finish();
    report.records_replayed = replayer.replayed;
    if repair {
        remove_temporaries(storage, &names)?;
    }
    report.last_seq = Seq(expected.0 - 1);
    report.duration = started.elapsed();
    Ok((
        core,
        report,
        Tail {
            next_seq: expected,
            last_checkpoint: checkpoint_seq,
        },
    ))
}

/// Reading the segments after the checkpoint: headers checked, records scanned, commands
/// decoded, a torn tail found (and truncated, in repair mode).
struct Scan<'scan, S: Durable> {
    storage: &'scan dyn Storage,
    segments: &'scan [(Seq, &'scan String)],
    checkpoint_seq: Seq,
    /// The error of the newest damaged checkpoint skipped, if any.
    damaged: Option<RecoveryError>,
    expected_config: &'scan S::Config,
    repair: bool,
}

impl<S: Durable> Scan<'_, S> {
    /// Hands every command after the checkpoint to `on_command`, in sequence order, and
    /// returns the sequence number after the last one. Segments, torn tail and truncated bytes
    /// go into `report`.
    fn run(
        self,
        report: &mut RecoveryReport,
        mut on_command: impl FnMut(S::Command) -> Result<(), RecoveryError>,
    ) -> Result<Seq, RecoveryError> {
        let Self {
            storage,
            segments,
            checkpoint_seq,
            damaged,
            expected_config,
            repair,
        } = self;
        let first_needed = segments
            .windows(2)
            .take_while(|pair| pair[1].0.0 <= checkpoint_seq.0 + 1)
            .count();
        let mut expected = Seq(checkpoint_seq.0 + 1);
        let mut damaged = damaged;
        let count = segments.len();
        for (index, &(seq, name)) in segments.iter().enumerate().skip(first_needed) {
            let last = index + 1 == count;
            let bytes = storage
                .read(name)
                .map_err(|error| RecoveryError::io(name.clone(), error))?;
            report.segments_read += 1;
            let header = match segment::decode_header(&bytes) {
                Ok(header) => header,
                Err(BadHeader::Blank) if last => {
                    // Created, never written: a crash while starting a segment.
                    if repair {
                        storage
                            .remove(name)
                            .map_err(|error| RecoveryError::io(name.clone(), error))?;
                    }
                    continue;
                }
                Err(BadHeader::Blank) => {
                    return Err(corrupt(name, 0, "blank segment header"));
                }
                Err(BadHeader::Invalid(reason)) => return Err(corrupt(name, 0, reason)),
            };
            check_header::<S>(name, seq, &header, expected_config)?;
            if header.first_seq > expected {
                // A damaged newer checkpoint explains the gap better than "missing records".
                return Err(damaged.take().unwrap_or(RecoveryError::MissingRecords {
                    file: name.clone(),
                    expected,
                    found: header.first_seq,
                }));
            }
            // Each record is decoded and handed over as the scan finds it: no list of the
            // segment's records is built.
            let mut next_in_segment = header.first_seq;
            let scanned = segment::scan_records(name, &bytes, header.len, last, |record| {
                if record.seq != next_in_segment {
                    return Err(corrupt(
                        name,
                        record.offset,
                        &format!("record {} where {next_in_segment} was expected", record.seq),
                    ));
                }
                next_in_segment = Seq(next_in_segment.0 + 1);
                if record.seq < expected {
                    return Ok(());
                }
                let command = S::decode_command(record.payload).map_err(|error| {
                    corrupt(
                        name,
                        record.offset,
                        &format!("undecodable command: {error}"),
                    )
                })?;
                on_command(command)?;
                expected = Seq(expected.0 + 1);
                Ok(())
            })?;
            if let Some((offset, written)) = scanned.torn {
                report.torn_bytes_truncated += written;
                report.torn_file = Some(name.clone());
                if repair {
                    truncate(storage, name, offset, written)?;
                }
            } else if repair {
                // What was read back may be written and not yet synced (the process was
                // killed; the machine stayed up). The recovered writer counts all of it as
                // durable, so it must be: a power loss after the restart may not take it.
                // Every segment, not only the last: a journal recovered after a kill before
                // this sync existed may hold an unsynced segment behind a durable one.
                sync_file(storage, name)?;
            }
        }
        if repair {
            // The same for the names: a checkpoint renamed into place, a segment created or a
            // file removed before the kill, or a leftover removed by this recovery.
            storage
                .sync_dir()
                .map_err(|error| RecoveryError::io(storage.location(), error))?;
        }
        Ok(expected)
    }

    /// [`run`](Self::run) on a thread of its own (reading, checksums, decoding), handing the
    /// commands over in chunks through a bounded channel, while this thread applies them.
    /// Errors are the scan's, with their file and offset, as [`run`](Self::run) gives them.
    #[cfg(not(loom))]
    fn run_pipelined(
        self,
        report: &mut RecoveryReport,
        replayer: &mut Replayer<'_, S>,
        chunk_commands: usize,
    ) -> Result<Seq, RecoveryError> {
        let (sender, receiver) = crate::sync::channel::bounded::<Vec<S::Command>>(PIPELINE_CHUNKS);
        crate::sync::thread::scope(|scope| {
            let scanner = crate::sync::thread::Builder::new()
                .name("snapstate-replay-scan".to_owned())
                .spawn_scoped(scope, move || {
                    let mut chunk = Vec::with_capacity(chunk_commands);
                    let scanned = self.run(report, |command| {
                        chunk.push(command);
                        if chunk.len() >= chunk_commands {
                            let full =
                                std::mem::replace(&mut chunk, Vec::with_capacity(chunk_commands));
                            // Refused only if the applying thread unwound (a non-deterministic
                            // state machine); its panic is what recovery reports.
                            sender.send(full).map_err(|_| {
                                RecoveryError::Spawn(std::io::Error::other(
                                    "the replaying thread stopped",
                                ))
                            })?;
                        }
                        Ok(())
                    });
                    if scanned.is_ok() && !chunk.is_empty() {
                        // As above: refused only while the applying thread unwinds.
                        let _ = sender.send(chunk);
                    }
                    scanned
                })
                .map_err(RecoveryError::Spawn)?;
            while let Ok(chunk) = receiver.recv() {
                for command in chunk {
                    replayer.push(command);
                }
            }
            scanner
                .join()
                .unwrap_or_else(|payload| std::panic::resume_unwind(payload))
        })
    }
}

/// Feeds decoded commands to the core in batches of at most `max_batch`.
struct Replayer<'core, S: StateMachine> {
    core: &'core mut WriterCore<S>,
    sizes: BatchSizes,
    /// The current batch's limit: `sizes.large`, or `sizes.after_panic` after a batch in which
    /// a command panicked.
    max_batch: usize,
    replayed: u64,
}

impl<S: StateMachine> Replayer<'_, S> {
    fn push(&mut self, command: S::Command) {
        self.core.batch_mut().push(command);
        self.replayed += 1;
        if self.core.batch_mut().len() >= self.max_batch {
            self.run_batch();
        }
    }

    fn finish(&mut self) {
        if !self.core.batch_mut().is_empty() {
            self.run_batch();
        }
    }

    fn run_batch(&mut self) {
        let panicked_before = self.core.published().counters().panicked();
        // Replay's core feeds no journal yet (it is set after recovery), so nothing can fail.
        if let Err(failed) = self.core.run_batch(None, |_| {}) {
            unreachable!("replay feeds no journal: {failed:?}");
        }
        let panicked = self.core.published().counters().panicked() > panicked_before;
        self.max_batch = if panicked {
            self.sizes.after_panic
        } else {
            self.sizes.large
        };
    }
}

type Loaded<S> = (WriterCore<S>, Seq, Option<RecoveryError>);

/// The core to replay into: from the newest valid checkpoint, or from `initial`. Also returns
/// the checkpoint's sequence number (zero without one) and the error of the newest damaged
/// checkpoint skipped, if any.
fn load_checkpoint<S: Durable>(
    storage: &dyn Storage,
    names: &[String],
    initial: S,
    expected_config: &S::Config,
    config: &EngineConfig,
    report: &mut RecoveryReport,
) -> Result<Loaded<S>, RecoveryError> {
    let checkpoints = by_seq(names, parse_checkpoint_name);
    let mut damaged = None;
    for (seq, name) in checkpoints.into_iter().rev() {
        let bytes = storage
            .read(name)
            .map_err(|error| RecoveryError::io(name.clone(), error))?;
        let body = match decode_checkpoint(name, &bytes) {
            Ok(body) => body,
            Err(error) => {
                tracing::warn!(%error, "skipping a damaged checkpoint");
                report.checkpoints_skipped += 1;
                damaged.get_or_insert(error);
                continue;
            }
        };
        if body.seq != seq.0 {
            return Err(corrupt(
                name,
                CHECKPOINT_BODY_OFFSET,
                "checkpoint sequence differs from its name",
            ));
        }
        let found_config = file_config::<S>(
            name,
            &body.format,
            &body.config,
            CHECKPOINT_BODY_OFFSET,
            Some(expected_config),
        )?;
        let state = S::decode_state(&body.state, &found_config).map_err(|error| {
            corrupt(
                name,
                CHECKPOINT_BODY_OFFSET,
                &format!("state image: {error}"),
            )
        })?;
        let counters = body.counters.restore(
            <S::Applied as Labelled>::LABELS,
            <S::Rejected as Labelled>::LABELS,
        );
        if counters.total() != seq.0 {
            return Err(corrupt(
                name,
                CHECKPOINT_BODY_OFFSET,
                "checkpoint counters do not add up to its sequence",
            ));
        }
        report.checkpoint_seq = Some(seq);
        let core = WriterCore::resume(state, seq, counters, config, None, false);
        return Ok((core, seq, damaged));
    }
    Ok((
        WriterCore::new(initial, config, None, false),
        Seq(0),
        damaged,
    ))
}

fn check_header<S: Durable>(
    name: &str,
    seq: Seq,
    header: &segment::SegmentHeader,
    expected_config: &S::Config,
) -> Result<(), RecoveryError> {
    if header.first_seq != seq {
        return Err(corrupt(
            name,
            16,
            "first sequence number differs from the name",
        ));
    }
    file_config::<S>(
        name,
        &header.format_name,
        &header.config,
        SEGMENT_FORMAT_OFFSET,
        Some(expected_config),
    )
    .map(drop)
}

/// Where a checkpoint's body starts (see `checkpoint`): errors about its fields name this
/// offset.
const CHECKPOINT_BODY_OFFSET: u64 = 20;
/// Where a segment header's format name starts, the configuration after it (see `segment`):
/// errors about either name this offset.
const SEGMENT_FORMAT_OFFSET: u64 = 26;

/// The configuration a journal file (a checkpoint or a segment header) was written with,
/// checked: written in a format `S` reads, decoded, and, given `expected`, equal to it.
/// `config_offset` is where in `file` the configuration is, for the error.
///
/// # Errors
///
/// [`RecoveryError::FormatMismatch`] for another format, [`RecoveryError::Corrupt`] for a
/// configuration that does not decode, [`RecoveryError::ConfigMismatch`] for one that differs
/// from `expected`.
fn file_config<S: Durable>(
    file: &str,
    format: &str,
    config: &[u8],
    config_offset: u64,
    expected: Option<&S::Config>,
) -> Result<S::Config, RecoveryError> {
    if !S::reads_format(format) {
        return Err(RecoveryError::FormatMismatch {
            file: file.to_owned(),
            expected: S::FORMAT,
            found: format.to_owned(),
        });
    }
    let found = S::decode_config(config)
        .map_err(|error| corrupt(file, config_offset, &format!("configuration: {error}")))?;
    if let Some(expected) = expected
        && &found != expected
    {
        return Err(RecoveryError::ConfigMismatch {
            file: file.to_owned(),
            expected: format!("{expected:?}"),
            found: format!("{found:?}"),
        });
    }
    Ok(found)
}

/// Zeroes a torn record's bytes and syncs, so the segment ends cleanly where the last good
/// record ends.
fn truncate(
    storage: &dyn Storage,
    name: &str,
    offset: u64,
    written: u64,
) -> Result<(), RecoveryError> {
    let io = |error| RecoveryError::io(name.to_owned(), error);
    let mut file = storage.open(name).map_err(io)?;
    let zeros = vec![0; usize::try_from(written).unwrap_or(usize::MAX)];
    file.write_at(offset, &zeros).map_err(io)?;
    file.sync_data().map_err(io)
}

/// Syncs `name`'s data.
fn sync_file(storage: &dyn Storage, name: &str) -> Result<(), RecoveryError> {
    let io = |error| RecoveryError::io(name.to_owned(), error);
    storage.open(name).map_err(io)?.sync_data().map_err(io)
}

/// Lists `storage` and refuses it if it holds files, none of them a journal's
/// ([`refuse_foreign`]): for a writable recovery, before it takes the lock (which creates a
/// file).
pub(crate) fn refuse_if_not_a_journal(storage: &dyn Storage) -> Result<(), RecoveryError> {
    let names = storage
        .list()
        .map_err(|error| RecoveryError::io(storage.location(), error))?;
    refuse_foreign(storage, &names)
}

/// Refuses a directory whose files (`names`) are none of them a journal's: it is something
/// else, and a journal started there would go unnoticed among its files (and a restart pointed
/// at the right directory would find none of it). A directory that holds a journal may hold
/// other files too; they are left alone.
fn refuse_foreign(storage: &dyn Storage, names: &[String]) -> Result<(), RecoveryError> {
    match foreign_file(names) {
        Some(file) => Err(RecoveryError::NotAJournal {
            location: storage.location(),
            file: file.clone(),
        }),
        None => Ok(()),
    }
}

/// A file of `names` that is not a journal's, when none of them is a journal's.
fn foreign_file(names: &[String]) -> Option<&String> {
    let journal_file = |name: &str| {
        segment::parse_segment_name(name).is_some()
            || parse_checkpoint_name(name.strip_suffix(TEMPORARY_SUFFIX).unwrap_or(name)).is_some()
    };
    if names.iter().any(|name| journal_file(name)) {
        return None;
    }
    names.iter().find(|name| name.as_str() != LOCK_FILE)
}

fn remove_temporaries(storage: &dyn Storage, names: &[String]) -> Result<(), RecoveryError> {
    for name in names.iter().filter(|name| name.ends_with(TEMPORARY_SUFFIX)) {
        storage
            .remove(name)
            .map_err(|error| RecoveryError::io(name.clone(), error))?;
    }
    Ok(())
}

/// The names that `parse` reads a sequence number from, with it, in sequence order.
fn by_seq(names: &[String], parse: fn(&str) -> Option<Seq>) -> Vec<(Seq, &String)> {
    let mut numbered: Vec<(Seq, &String)> = names
        .iter()
        .filter_map(|name| parse(name).map(|seq| (seq, name)))
        .collect();
    numbered.sort();
    numbered
}

fn corrupt(file: &str, offset: u64, reason: &str) -> RecoveryError {
    RecoveryError::Corrupt {
        file: file.to_owned(),
        offset,
        reason: reason.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Engine;
    use crate::engine::test_machine::{Added, Odd, Sum};
    use crate::journal::{CodecError, JournalConfig, SimulatedStorage};

    #[test]
    fn a_files_configuration_must_be_in_a_known_format_decode_and_match() {
        use crate::book::{Book, BookConfig, Grid};
        use rust_decimal::Decimal;

        let config = |levels| {
            let grid = Grid::centred(Decimal::new(100, 0), Decimal::new(1, 2), levels);
            BookConfig::new(grid.expect("a grid"))
        };
        let (ours, theirs) = (config(10), config(20));
        let mut bytes = Vec::new();
        Book::encode_config(&ours, &mut bytes).expect("encodes");
        let check = |format: &str, bytes: &[u8], expected: Option<&BookConfig>| {
            file_config::<Book>("file", format, bytes, 7, expected)
        };

        assert_eq!(check(Book::FORMAT, &bytes, None).ok(), Some(ours.clone()));
        assert_eq!(
            check(Book::FORMAT, &bytes, Some(&ours)).ok(),
            Some(ours.clone())
        );
        match check("another.machine/1", &bytes, Some(&ours)) {
            Err(RecoveryError::FormatMismatch { file, found, .. }) => {
                assert_eq!(
                    (file.as_str(), found.as_str()),
                    ("file", "another.machine/1")
                );
            }
            other => panic!("expected a format mismatch, got {other:?}"),
        }
        match check(Book::FORMAT, &[0xff; 3], None) {
            Err(RecoveryError::Corrupt {
                file,
                offset,
                reason,
            }) => {
                assert_eq!((file.as_str(), offset), ("file", 7));
                assert!(reason.starts_with("configuration: "), "{reason}");
            }
            other => panic!("expected a corrupt configuration, got {other:?}"),
        }
        match check(Book::FORMAT, &bytes, Some(&theirs)) {
            Err(error @ RecoveryError::ConfigMismatch { .. }) => {
                assert!(error.is_mismatch());
                assert_eq!(error.file(), Some("file"));
            }
            other => panic!("expected a configuration mismatch, got {other:?}"),
        }
    }

    /// `Sum` under a later format, whose codec (the same) reads `test.sum/1` as it is.
    #[derive(Clone, Debug, Default, PartialEq)]
    struct LaterSum(Sum);

    impl StateMachine for LaterSum {
        type Command = u64;
        type Applied = Added;
        type Rejected = Odd;
        fn apply(&mut self, command: &u64) -> Result<Added, Odd> {
            self.0.apply(command)
        }
    }

    impl Durable for LaterSum {
        const FORMAT: &'static str = "test.sum/2";
        const EARLIER_FORMATS: &'static [&'static str] = &["test.sum/1"];
        type Config = ();
        fn config(&self) {}
        fn encode_config((): &(), out: &mut Vec<u8>) -> Result<(), CodecError> {
            Sum::encode_config(&(), out)
        }
        fn decode_config(bytes: &[u8]) -> Result<(), CodecError> {
            Sum::decode_config(bytes)
        }
        fn encode_command(command: &u64, out: &mut Vec<u8>) -> Result<(), CodecError> {
            Sum::encode_command(command, out)
        }
        fn decode_command(bytes: &[u8]) -> Result<u64, CodecError> {
            Sum::decode_command(bytes)
        }
        fn encode_state(&self, out: &mut Vec<u8>) -> Result<(), CodecError> {
            self.0.encode_state(out)
        }
        fn decode_state(bytes: &[u8], (): &()) -> Result<Self, CodecError> {
            Sum::decode_state(bytes, &()).map(LaterSum)
        }
    }

    /// Journals `commands` through an engine (small batches, small segments, no checkpoints),
    /// recovering what `storage` already holds first, and returns its final snapshot.
    fn journal<S: Durable<Command = u64> + Default>(
        storage: &SimulatedStorage,
        commands: &[u64],
    ) -> Arc<Snapshot<S>> {
        let mut journal = JournalConfig::with_storage(Arc::new(storage.clone()));
        journal.segment_bytes = 4096;
        journal.checkpoint_every_commands = None;
        journal.checkpoint_interval = None;
        let config = EngineConfig {
            journal: Some(journal),
            max_batch: 16,
            record_metrics: false,
            ..EngineConfig::default()
        };
        let (engine, _) = Engine::recover(S::default(), config).expect("the journal recovers");
        let writer = engine.write_handle();
        for &command in commands {
            writer.submit(command).expect("submit");
        }
        writer.flush_durable().expect("durable");
        drop(writer);
        engine.shutdown().expect("a clean shutdown")
    }

    #[test]
    fn replay_batch_size_and_decoding_thread_do_not_change_what_is_recovered() {
        let storage = SimulatedStorage::new();
        // Even, odd (rejected) and multiples of 13 (panicking), over several segments.
        let commands: Vec<u64> = (1..=700).map(|index| index * 7 % 1_000).collect();
        let journaled = journal::<Sum>(&storage, &commands);
        assert!(
            journaled.counters().panicked() > 0,
            "the journal has panics"
        );
        assert!(journaled.counters().rejected() > 0, "and rejections");
        let config = EngineConfig {
            record_metrics: false,
            ..EngineConfig::default()
        };
        let sizes = [
            (1, 1),
            (2, 1),
            (5, 3),
            (64, 4),
            (4096, 4096),
            (usize::MAX, 7),
        ];
        // On the applying thread, and on a decoding thread handing over chunks of one, of a
        // size that does not divide the journal, and larger than it.
        let pipelines = [None, Some(1), Some(7), Some(4_096)];
        for ((large, after_panic), pipeline) in sizes
            .into_iter()
            .flat_map(|sizes| pipelines.map(|pipeline| (sizes, pipeline)))
        {
            let sizes = BatchSizes { large, after_panic };
            let (core, report, tail) =
                replay_in_batches(&storage, Sum::default(), &config, false, sizes, pipeline)
                    .expect("recovery");
            let recovered = core.cell().load_full();
            let case = format!(
                "batches of {large}, {after_panic} after a panic, chunks handed over: {pipeline:?}"
            );
            assert_eq!(recovered.state(), journaled.state(), "{case}");
            assert_eq!(recovered.last_seq(), journaled.last_seq(), "{case}");
            assert_eq!(recovered.counters(), journaled.counters(), "{case}");
            assert_eq!(report.records_replayed, commands.len() as u64, "{case}");
            assert!(report.segments_read > 1, "{case}: several segments");
            assert_eq!(tail.next_seq, Seq(commands.len() as u64 + 1), "{case}");
        }
    }

    #[test]
    fn recovery_reads_an_earlier_format_the_codec_declares_and_writes_only_its_own() {
        let storage = SimulatedStorage::new();
        let (first, then): (Vec<u64>, Vec<u64>) = ((1..=40).collect(), (41..=80).collect());
        let earlier = journal::<Sum>(&storage, &first);

        // The later codec recovers the earlier format's journal and continues it.
        let later = journal::<LaterSum>(&storage, &then);
        // `Sum` adds the even commands, refuses the odd ones and panics on multiples of 13.
        let expected: u64 = first
            .iter()
            .chain(&then)
            .filter(|command| *command % 2 == 0 && *command % 13 != 0)
            .sum();
        assert_eq!(
            later.state().0,
            Sum(expected),
            "every command of both formats counted"
        );
        assert_eq!(later.last_seq(), Seq(80));
        assert!(earlier.last_seq() < later.last_seq());
        let (recovered, report) =
            recover_read_only(&storage, LaterSum::default()).expect("both formats read back");
        assert_eq!(recovered.state(), later.state());
        assert_eq!(report.last_seq, Seq(80));

        // What it wrote is in its own format: the earlier codec refuses it by name.
        match recover_read_only(&storage, Sum::default()) {
            Err(RecoveryError::FormatMismatch {
                expected, found, ..
            }) => {
                assert_eq!((expected, found.as_str()), ("test.sum/1", "test.sum/2"));
            }
            other => panic!("expected a format mismatch, got {other:?}"),
        }
    }
}
