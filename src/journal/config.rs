//! How a journal is configured: where, how often it syncs, how big its segments are, and when
//! it checkpoints.

use std::fmt;
use std::io;
use std::path::PathBuf;
use std::time::Duration;

use crate::sync::Arc;

use super::storage::{FileStorage, Storage};

/// When the journal makes what it wrote durable, and so what `durable_seq` promises.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum SyncPolicy {
    /// One `fdatasync` per group of batches the journal thread takes at once (group commit).
    /// `durable_seq` covers what survives a power loss. The default.
    #[default]
    EveryBatch,
    /// At most one `fdatasync` per interval. `durable_seq` advances only at a sync, so it
    /// still covers what survives a power loss; a crash loses up to an interval of commands
    /// that were visible but not yet durable.
    Interval(Duration),
    /// Never sync (the operating system writes back when it likes). `durable_seq` advances
    /// once a record is handed to the operating system: it survives the process being killed,
    /// not the machine losing power.
    Os,
}

/// Configuration of an engine's journal ([`EngineConfig::journal`]).
///
/// [`EngineConfig::journal`]: crate::engine::EngineConfig::journal
#[derive(Clone)]
pub struct JournalConfig {
    /// Where the files live.
    pub storage: Arc<dyn Storage>,
    /// When to sync. Default [`SyncPolicy::EveryBatch`].
    pub sync: SyncPolicy,
    /// Preallocated size of each segment file. Default 64 MiB.
    pub segment_bytes: u64,
    /// Published batches that may wait for the journal thread; when full, the writer waits
    /// (never drops). Default 64.
    pub queue_batches: usize,
    /// Checkpoint after this many commands since the last checkpoint; `None`: not by count.
    /// Default one million.
    pub checkpoint_every_commands: Option<u64>,
    /// Checkpoint after this long since the last checkpoint, if anything changed; `None`: not
    /// by time. Default 5 minutes.
    pub checkpoint_interval: Option<Duration>,
    /// Checkpoints kept (at least 1); segments are removed once the oldest kept checkpoint
    /// covers them, so that recovery can fall back to an older checkpoint if the newest is
    /// damaged. Default 2.
    pub checkpoints_kept: usize,
}

impl JournalConfig {
    /// The default segment size.
    pub const DEFAULT_SEGMENT_BYTES: u64 = 64 << 20;

    /// A journal in `directory` (created if missing) with default settings.
    ///
    /// # Errors
    ///
    /// Any I/O error creating the directory.
    pub fn new(directory: impl Into<PathBuf>) -> io::Result<Self> {
        Ok(Self::with_storage(Arc::new(FileStorage::new(directory)?)))
    }

    /// A journal on `storage` with default settings.
    pub fn with_storage(storage: Arc<dyn Storage>) -> Self {
        Self {
            storage,
            sync: SyncPolicy::EveryBatch,
            segment_bytes: Self::DEFAULT_SEGMENT_BYTES,
            queue_batches: 64,
            checkpoint_every_commands: Some(1_000_000),
            checkpoint_interval: Some(Duration::from_secs(300)),
            checkpoints_kept: 2,
        }
    }

    pub(crate) fn validate(&self) -> Result<(), &'static str> {
        if self.segment_bytes < 4096 {
            return Err("journal segment_bytes must be at least 4096");
        }
        if self.queue_batches == 0 {
            return Err("journal queue_batches must be at least 1");
        }
        if self.checkpoints_kept == 0 {
            return Err("journal checkpoints_kept must be at least 1");
        }
        if self.checkpoint_every_commands == Some(0) {
            return Err("journal checkpoint_every_commands, when set, must be at least 1");
        }
        if matches!(self.sync, SyncPolicy::Interval(interval) if interval.is_zero()) {
            return Err("journal sync interval must be positive");
        }
        Ok(())
    }
}

impl fmt::Debug for JournalConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JournalConfig")
            .field("storage", &self.storage.location())
            .field("sync", &self.sync)
            .field("segment_bytes", &self.segment_bytes)
            .field("queue_batches", &self.queue_batches)
            .field("checkpoint_every_commands", &self.checkpoint_every_commands)
            .field("checkpoint_interval", &self.checkpoint_interval)
            .field("checkpoints_kept", &self.checkpoints_kept)
            .finish()
    }
}
