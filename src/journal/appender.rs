//! The journal thread: takes published batches from the writer, encodes and frames them,
//! appends them to the current segment, syncs per the [`SyncPolicy`], and advances
//! `durable_seq`.
//!
//! The writer never encodes and never waits for a sync: it moves each published batch's
//! commands into a bounded channel (and gets an emptied buffer back to reuse), and blocks only
//! when that channel is full.

use std::time::{Duration, Instant};

use crate::engine::{EngineStatus, HealthCell, Seq};
use crate::sync::channel::{self, Receiver, RecvTimeoutError, Sender, TryRecvError};
use crate::sync::thread::JoinHandle;
use crate::sync::{Arc, AtomicBool, AtomicU64, Condvar, Mutex, Ordering};

use super::format::{self, AppendFrameError, MAX_PAYLOAD_BYTES};
use super::segment::{self, SegmentWriter};
use super::{Durable, JournalConfig, Storage, SyncPolicy};

/// Most published batches the journal thread takes before it syncs once (the group in group
/// commit), so that a long backlog still makes progress visible in bounded steps.
const MAX_BATCHES_PER_SYNC: usize = 256;

/// One published batch on its way to the journal.
pub(crate) struct JournalBatch<C> {
    /// The sequence number of `commands[0]`.
    pub(crate) first_seq: Seq,
    pub(crate) commands: Vec<C>,
}

/// What the journal thread, the checkpointer, the writer and the handles share.
#[derive(Debug)]
pub(crate) struct DurableState {
    durable_seq: AtomicU64,
    /// Set once the journal has failed, so the writer can check it per batch without a lock.
    failed: AtomicBool,
    status: Mutex<WaitStatus>,
    changed: Condvar,
}

#[derive(Debug, Default)]
struct WaitStatus {
    failure: Option<String>,
    closed: bool,
}

/// How a wait for durability ended, short of success.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum WaitEnd {
    Failed(String),
    Closed,
    Timeout,
}

impl DurableState {
    pub(crate) fn new(durable: Seq) -> Arc<Self> {
        Arc::new(Self {
            durable_seq: AtomicU64::new(durable.0),
            failed: AtomicBool::new(false),
            status: Mutex::new(WaitStatus::default()),
            changed: Condvar::new(),
        })
    }

    /// Every command up to this one is durable (under the policy).
    pub(crate) fn durable_seq(&self) -> Seq {
        Seq(self.durable_seq.load(Ordering::Acquire))
    }

    /// Why the journal failed, if it did.
    pub(crate) fn failure(&self) -> Option<String> {
        if !self.failed.load(Ordering::Acquire) {
            return None;
        }
        self.lock().failure.clone()
    }

    fn lock(&self) -> crate::sync::MutexGuard<'_, WaitStatus> {
        // Nothing panics while the lock is held; recover the value rather than spread a panic.
        self.status
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Advances `durable_seq` to `seq` and wakes every waiter.
    pub(crate) fn advance(&self, seq: Seq) {
        let previous = self.durable_seq.fetch_max(seq.0, Ordering::AcqRel);
        debug_assert!(
            previous <= seq.0,
            "durable_seq went back from {previous} to {seq}"
        );
        // Taking the lock orders this wake-up after a waiter's check: a waiter either saw the
        // new value or is already waiting when it is notified.
        drop(self.lock());
        self.changed.notify_all();
    }

    pub(crate) fn fail(&self, failure: String) {
        let mut status = self.lock();
        if status.failure.is_none() {
            status.failure = Some(failure);
        }
        self.failed.store(true, Ordering::Release);
        drop(status);
        self.changed.notify_all();
    }

    pub(crate) fn close(&self) {
        self.lock().closed = true;
        self.changed.notify_all();
    }

    /// Waits until `target` is durable, the journal fails or closes, or `timeout` passes.
    pub(crate) fn wait_for(&self, target: Seq, timeout: Option<Duration>) -> Result<Seq, WaitEnd> {
        // A limit too far away to represent is no limit (as for `wait_for_version`).
        let deadline = timeout.and_then(|limit| Instant::now().checked_add(limit));
        let mut status = self.lock();
        loop {
            let durable = self.durable_seq();
            if durable >= target {
                return Ok(durable);
            }
            if let Some(failure) = &status.failure {
                return Err(WaitEnd::Failed(failure.clone()));
            }
            if status.closed {
                return Err(WaitEnd::Closed);
            }
            status = match deadline {
                None => self
                    .changed
                    .wait(status)
                    .unwrap_or_else(|poisoned| poisoned.into_inner()),
                Some(deadline) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Err(WaitEnd::Timeout);
                    }
                    self.changed
                        .wait_timeout(status, left)
                        .unwrap_or_else(|poisoned| poisoned.into_inner())
                        .0
                }
            };
        }
    }

    /// Waits at most `timeout` for any change (a durable advance, a failure, the close).
    /// Returns whether the journal is closed or failed.
    pub(crate) fn wait_change(&self, timeout: Duration) -> bool {
        let status = self.lock();
        if status.closed || status.failure.is_some() {
            return true;
        }
        let status = self
            .changed
            .wait_timeout(status, timeout)
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .0;
        status.closed || status.failure.is_some()
    }
}

/// The writer's end: hands batches over and recycles their buffers.
pub(crate) struct JournalSender<C> {
    pub(crate) batches: Sender<JournalBatch<C>>,
    pub(crate) recycled: Receiver<Vec<C>>,
}

/// Starts the journal thread appending to a new segment that begins at `next_seq`;
/// `config_bytes` is the state's configuration as `Durable::encode_config` wrote it, which
/// every segment header stores.
///
/// # Errors
///
/// Creating the first segment or spawning the thread failed.
pub(crate) fn spawn_appender<S: Durable>(
    config: &JournalConfig,
    config_bytes: Vec<u8>,
    next_seq: Seq,
    durable: Arc<DurableState>,
    health: Arc<HealthCell>,
    record_metrics: bool,
) -> std::io::Result<(JournalSender<S::Command>, JoinHandle<()>)> {
    let mut appender = Appender::<S> {
        storage: Arc::clone(&config.storage),
        policy: config.sync,
        segment_bytes: config.segment_bytes,
        config_bytes,
        segment: None,
        buffer: Vec::new(),
        written_seq: Seq(next_seq.0.saturating_sub(1)),
        last_sync: Instant::now(),
        durable: Arc::clone(&durable),
        metrics: None,
        marker: std::marker::PhantomData,
    };
    appender.open_segment(next_seq)?;
    let (batches, receiver) = channel::bounded(config.queue_batches);
    let (recycle, recycled) = channel::bounded(config.queue_batches);
    let thread = crate::sync::spawn_named("snapstate-journal".to_owned(), move || {
        // On the journal thread, so that it is the global recorder the handles bind to.
        if record_metrics {
            appender.metrics = Some(JournalMetrics {
                sync_seconds: metrics::histogram!("snapstate_journal_sync_seconds"),
                durable_seq: metrics::gauge!("snapstate_journal_durable_seq"),
                bytes: metrics::counter!("snapstate_journal_bytes_total"),
            });
        }
        appender.run(&receiver, &recycle, &health);
    })?;
    Ok((JournalSender { batches, recycled }, thread))
}

struct Appender<S: Durable> {
    storage: Arc<dyn Storage>,
    policy: SyncPolicy,
    segment_bytes: u64,
    config_bytes: Vec<u8>,
    segment: Option<SegmentWriter>,
    /// Frames encoded and not yet written (each command is encoded straight into it).
    buffer: Vec<u8>,
    /// The last sequence number handed to the storage.
    written_seq: Seq,
    last_sync: Instant,
    durable: Arc<DurableState>,
    metrics: Option<JournalMetrics>,
    marker: std::marker::PhantomData<fn() -> S>,
}

/// The journal thread's metric handles (see `EngineConfig::record_metrics`).
struct JournalMetrics {
    /// How long each `fdatasync` took.
    sync_seconds: metrics::Histogram,
    durable_seq: metrics::Gauge,
    bytes: metrics::Counter,
}

impl<S: Durable> Appender<S> {
    fn run(
        &mut self,
        receiver: &Receiver<JournalBatch<S::Command>>,
        recycle: &Sender<Vec<S::Command>>,
        health: &HealthCell,
    ) {
        if let Err(failure) = self.run_until_closed(receiver, recycle) {
            tracing::error!(%failure, "the snapstate journal failed; the engine stops");
            // The health first: a barrier woken by the failure then finds the engine failed.
            health.update(|health| {
                health.status = EngineStatus::Failed;
                if health.failure.is_none() {
                    health.failure = Some(format!("journal: {failure}"));
                }
            });
            self.durable.fail(failure);
            return;
        }
        self.durable.close();
    }

    fn run_until_closed(
        &mut self,
        receiver: &Receiver<JournalBatch<S::Command>>,
        recycle: &Sender<Vec<S::Command>>,
    ) -> Result<(), String> {
        loop {
            let first = match self.policy {
                SyncPolicy::Interval(interval) if self.durable.durable_seq() < self.written_seq => {
                    let left = interval.saturating_sub(self.last_sync.elapsed());
                    match receiver.recv_timeout(left) {
                        Ok(batch) => Some(batch),
                        Err(RecvTimeoutError::Timeout) => None,
                        Err(RecvTimeoutError::Disconnected) => return self.finish(),
                    }
                }
                _ => match receiver.recv() {
                    Ok(batch) => Some(batch),
                    Err(_) => return self.finish(),
                },
            };
            if let Some(first) = first {
                self.append(first, recycle)?;
                for _ in 1..MAX_BATCHES_PER_SYNC {
                    match receiver.try_recv() {
                        Ok(batch) => self.append(batch, recycle)?,
                        Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
                    }
                }
                self.write_buffer()?;
            }
            self.sync_per_policy()?;
        }
    }

    /// Writes and syncs everything left, whatever the policy: a clean shutdown is durable.
    fn finish(&mut self) -> Result<(), String> {
        self.write_buffer()?;
        self.sync()
    }

    fn append(
        &mut self,
        batch: JournalBatch<S::Command>,
        recycle: &Sender<Vec<S::Command>>,
    ) -> Result<(), String> {
        let mut commands = batch.commands;
        for (index, command) in commands.iter().enumerate() {
            let seq = Seq(batch.first_seq.0 + index as u64);
            debug_assert_eq!(
                seq.0,
                self.written_seq.0 + 1,
                "journal batches out of order"
            );
            let frame_at = self.buffer.len();
            let frame_len = format::append_frame(seq, &mut self.buffer, |out| {
                S::encode_command(command, out)
            })
            .map_err(|error| match error {
                AppendFrameError::Encode(error) => format!("encoding command {seq}: {error}"),
                AppendFrameError::TooLong(length) => format!(
                    "command {seq} encodes to {length} bytes, more than a record holds ({MAX_PAYLOAD_BYTES})"
                ),
            })?;
            let room = self.segment.as_ref().map_or(0, SegmentWriter::room);
            if self.buffer.len() as u64 > room {
                // The frame does not fit in this segment: write the frames before it, and
                // carry it over to a new segment.
                self.write_buffer_up_to(frame_at)?;
                self.roll(seq, frame_len as u64)?;
            }
            self.written_seq = seq;
        }
        commands.clear();
        // The writer reuses the buffer; if it has enough spare ones, this one is freed.
        let _ = recycle.try_send(commands);
        Ok(())
    }

    fn write_buffer(&mut self) -> Result<(), String> {
        self.write_buffer_up_to(self.buffer.len())
    }

    /// Writes the buffer's first `end` bytes (whole frames) and keeps the rest.
    fn write_buffer_up_to(&mut self, end: usize) -> Result<(), String> {
        if end == 0 {
            return Ok(());
        }
        let segment = self
            .segment
            .as_mut()
            .ok_or_else(|| "no open journal segment".to_owned())?;
        segment
            .file
            .write_at(segment.offset, &self.buffer[..end])
            .map_err(|error| format!("writing {}: {error}", segment.name))?;
        segment.offset += end as u64;
        if let Some(metrics) = &self.metrics {
            metrics.bytes.increment(end as u64);
        }
        self.buffer.drain(..end);
        Ok(())
    }

    fn sync_per_policy(&mut self) -> Result<(), String> {
        match self.policy {
            SyncPolicy::EveryBatch => self.sync(),
            SyncPolicy::Interval(interval) => {
                if self.last_sync.elapsed() >= interval {
                    self.sync()
                } else {
                    Ok(())
                }
            }
            SyncPolicy::Os => {
                self.durable.advance(self.written_seq);
                Ok(())
            }
        }
    }

    fn sync(&mut self) -> Result<(), String> {
        if self.durable.durable_seq() >= self.written_seq && self.policy != SyncPolicy::Os {
            self.last_sync = Instant::now();
            return Ok(());
        }
        let started = Instant::now();
        if let Some(segment) = self.segment.as_mut() {
            segment
                .file
                .sync_data()
                .map_err(|error| format!("syncing {}: {error}", segment.name))?;
        }
        self.last_sync = Instant::now();
        self.durable.advance(self.written_seq);
        if let Some(metrics) = &self.metrics {
            metrics
                .sync_seconds
                .record(self.last_sync.duration_since(started).as_secs_f64());
            metrics.durable_seq.set(self.written_seq.0 as f64);
        }
        Ok(())
    }

    /// Syncs the full segment and starts a new one at `first_seq`, big enough for a frame of
    /// `frame_len` bytes.
    fn roll(&mut self, first_seq: Seq, frame_len: u64) -> Result<(), String> {
        if let Some(segment) = self.segment.as_mut() {
            // Only the last segment may hold unsynced data (see `segment`).
            segment
                .file
                .sync_data()
                .map_err(|error| format!("syncing {}: {error}", segment.name))?;
        }
        self.open_segment_sized(first_seq, frame_len)
            .map_err(|error| {
                format!(
                    "starting segment {}: {error}",
                    segment::segment_name(first_seq)
                )
            })
    }

    fn open_segment(&mut self, first_seq: Seq) -> std::io::Result<()> {
        self.open_segment_sized(first_seq, 0)
    }

    fn open_segment_sized(&mut self, first_seq: Seq, frame_len: u64) -> std::io::Result<()> {
        let name = segment::segment_name(first_seq);
        let header = segment::encode_header(first_seq, S::FORMAT, &self.config_bytes);
        let capacity = self.segment_bytes.max(header.len() as u64 + frame_len);
        let mut file = self.storage.create(&name)?;
        file.set_len(capacity)?;
        file.write_at(0, &header)?;
        file.sync_data()?;
        self.storage.sync_dir()?;
        self.segment = Some(SegmentWriter {
            file,
            name,
            offset: header.len() as u64,
            capacity,
        });
        Ok(())
    }
}
