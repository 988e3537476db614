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
//! 4. Replay each record after the checkpoint through the core, in batches.

use std::time::{Duration, Instant};

use crate::engine::core::WriterCore;
use crate::engine::{EngineConfig, Labelled, Seq, Snapshot, StateMachine};
use crate::sync::Arc;

use super::checkpoint::{TEMPORARY_SUFFIX, decode_checkpoint, parse_checkpoint_name};
use super::segment::{self, BadHeader};
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
/// still checks every other file against it. `Ok(None)` for a directory without journal files.
///
/// # Errors
///
/// [`RecoveryError::FormatMismatch`] for a file written by another state machine;
/// [`RecoveryError::Corrupt`] (the first damage found) when journal files exist but none of
/// them reads back; [`RecoveryError::Io`] when the storage refuses.
pub fn stored_config<S: Durable>(
    storage: &dyn Storage,
) -> Result<Option<S::Config>, RecoveryError> {
    let names = storage
        .list()
        .map_err(|error| RecoveryError::io(storage.location(), error))?;
    let checkpoints = by_seq(&names, parse_checkpoint_name);
    let segments = by_seq(&names, segment::parse_segment_name);
    let mut first_damage = None;
    for (_, name) in checkpoints.iter().rev() {
        let bytes = storage
            .read(name)
            .map_err(|error| RecoveryError::io((*name).clone(), error))?;
        match decode_checkpoint(name, &bytes) {
            Ok(body) => {
                if body.format != S::FORMAT {
                    return Err(RecoveryError::FormatMismatch {
                        file: (*name).clone(),
                        expected: S::FORMAT,
                        found: body.format,
                    });
                }
                match S::decode_config(&body.config) {
                    Ok(config) => return Ok(Some(config)),
                    Err(error) => {
                        first_damage.get_or_insert(corrupt(
                            name,
                            20,
                            &format!("configuration: {error}"),
                        ));
                    }
                }
            }
            Err(error) => {
                first_damage.get_or_insert(error);
            }
        }
    }
    for (_, name) in &segments {
        let bytes = storage
            .read(name)
            .map_err(|error| RecoveryError::io((*name).clone(), error))?;
        match segment::decode_header(&bytes) {
            Ok(header) => {
                if header.format_name != S::FORMAT {
                    return Err(RecoveryError::FormatMismatch {
                        file: (*name).clone(),
                        expected: S::FORMAT,
                        found: header.format_name,
                    });
                }
                match S::decode_config(&header.config) {
                    Ok(config) => return Ok(Some(config)),
                    Err(error) => {
                        first_damage.get_or_insert(corrupt(
                            name,
                            26,
                            &format!("configuration: {error}"),
                        ));
                    }
                }
            }
            // A blank segment (a crash while starting one) holds no configuration.
            Err(BadHeader::Blank) => {}
            Err(BadHeader::Invalid(reason)) => {
                first_damage.get_or_insert(corrupt(name, 0, reason));
            }
        }
    }
    first_damage.map_or(Ok(None), Err)
}

/// Recovers into a writer core (see the module documentation). With `repair`, truncates a torn
/// tail and removes leftovers (a blank last segment, temporary checkpoint files).
pub(crate) fn replay<S: Durable>(
    storage: &dyn Storage,
    initial: S,
    config: &EngineConfig,
    repair: bool,
) -> Result<(WriterCore<S>, RecoveryReport, Tail), RecoveryError> {
    let started = Instant::now();
    let names = storage
        .list()
        .map_err(|error| RecoveryError::io(storage.location(), error))?;
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
    let first_needed = segments
        .windows(2)
        .take_while(|pair| pair[1].0.0 <= checkpoint_seq.0 + 1)
        .count();
    let mut expected = Seq(checkpoint_seq.0 + 1);
    let mut replayer = Replayer {
        core: &mut core,
        max_batch: config.max_batch,
        replayed: 0,
    };
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
        check_header::<S>(name, seq, &header, &expected_config)?;
        if header.first_seq > expected {
            // A damaged newer checkpoint explains the gap better than "missing records".
            return Err(damaged.unwrap_or(RecoveryError::MissingRecords {
                file: name.clone(),
                expected,
                found: header.first_seq,
            }));
        }
        // Each record is decoded and replayed as the scan finds it: no list of the segment's
        // records is built.
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
            replayer.push(command);
            expected = Seq(expected.0 + 1);
            Ok(())
        })?;
        if let Some((offset, written)) = scanned.torn {
            report.torn_bytes_truncated += written;
            report.torn_file = Some(name.clone());
            if repair {
                truncate(storage, name, offset, written)?;
            }
        }
    }
    if segments.is_empty()
        && checkpoint_seq == Seq(0)
        && let Some(error) = damaged
    {
        // Only damaged checkpoints and no journal: refuse rather than start empty.
        return Err(error);
    }
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

/// Feeds decoded commands to the core in batches of at most `max_batch`.
struct Replayer<'core, S: StateMachine> {
    core: &'core mut WriterCore<S>,
    max_batch: usize,
    replayed: u64,
}

impl<S: StateMachine> Replayer<'_, S> {
    fn push(&mut self, command: S::Command) {
        self.core.batch_mut().push(command);
        self.replayed += 1;
        if self.core.batch_mut().len() >= self.max_batch {
            self.core.run_batch(None, |_| {});
        }
    }

    fn finish(&mut self) {
        if !self.core.batch_mut().is_empty() {
            self.core.run_batch(None, |_| {});
        }
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
        if body.format != S::FORMAT {
            return Err(RecoveryError::FormatMismatch {
                file: name.clone(),
                expected: S::FORMAT,
                found: body.format,
            });
        }
        if body.seq != seq.0 {
            return Err(corrupt(
                name,
                20,
                "checkpoint sequence differs from its name",
            ));
        }
        let found_config = S::decode_config(&body.config)
            .map_err(|error| corrupt(name, 20, &format!("configuration: {error}")))?;
        if &found_config != expected_config {
            return Err(RecoveryError::ConfigMismatch {
                file: name.clone(),
                expected: format!("{expected_config:?}"),
                found: format!("{found_config:?}"),
            });
        }
        let state = S::decode_state(&body.state, &found_config)
            .map_err(|error| corrupt(name, 20, &format!("state image: {error}")))?;
        let counters = body.counters.restore(
            <S::Applied as Labelled>::LABELS,
            <S::Rejected as Labelled>::LABELS,
        );
        if counters.total() != seq.0 {
            return Err(corrupt(
                name,
                20,
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
    if header.format_name != S::FORMAT {
        return Err(RecoveryError::FormatMismatch {
            file: name.to_owned(),
            expected: S::FORMAT,
            found: header.format_name.clone(),
        });
    }
    let found = S::decode_config(&header.config)
        .map_err(|error| corrupt(name, 26, &format!("configuration: {error}")))?;
    if &found != expected_config {
        return Err(RecoveryError::ConfigMismatch {
            file: name.to_owned(),
            expected: format!("{expected_config:?}"),
            found: format!("{found:?}"),
        });
    }
    Ok(())
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
