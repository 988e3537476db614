//! Durability: a journal of every sequenced command, checkpoints written from snapshots, and
//! recovery.
//!
//! The engine's state is a pure function of its sequenced commands, so the log of commands *is*
//! the state, and an immutable snapshot can be written out while the writer goes on. This
//! module holds the pieces; the engine wires them in when [`EngineConfig::journal`] is set and
//! the engine is started with [`Engine::recover`].
//!
//! ```text
//! writer ── apply batch ── publish (visible) ──► journal thread: encode, frame, append, sync
//!    ▲                                                   │  advances durable_seq, wakes waiters
//!    │ blocks only while the journal's bounded queue is full (never drops a batch)
//! checkpointer: loads a snapshot, waits until it is durable, writes it to a temporary file,
//!               syncs, renames, syncs the directory, removes the segments it covers
//! recovery:     lock → newest valid checkpoint → replay the records after it through the same
//!               apply → truncate a torn tail → start the engine, continuing the numbering
//! ```
//!
//! # Invariants
//!
//! 1. Every command the writer dequeues (applied, rejected or panicked) is journaled with its
//!    [`Seq`], in sequence order, with no gap: replay re-derives outcomes and counters.
//! 2. `durable_seq` never passes a command that is not durable under the
//!    [`SyncPolicy`], and never decreases.
//! 3. A checkpoint is written only from a snapshot whose `last_seq` is durable, and journal
//!    segments are removed only once a checkpoint covering them is durable.
//! 4. Recovery never guesses: a torn final record is truncated and reported; any other damage
//!    (a bad record before the tail, a missing segment, a foreign configuration) is a typed
//!    [`RecoveryError`] naming the file and byte offset.
//!
//! Files and formats are documented in `docs/durability.md`, and beside the code that writes
//! them ([`format`](self#frame), `segment`, `checkpoint`).
//!
//! [`EngineConfig::journal`]: crate::engine::EngineConfig::journal
//! [`Engine::recover`]: crate::engine::Engine::recover

mod appender;
mod checkpoint;
mod config;
mod error;
mod format;
mod recovery;
mod segment;
#[cfg(any(test, feature = "simulated-storage"))]
mod simulated;
mod storage;

use std::fmt;

pub use crate::engine::Seq;
use crate::engine::StateMachine;

pub(crate) use appender::{DurableState, JournalBatch, JournalSender, WaitEnd, spawn_appender};
pub(crate) use checkpoint::spawn_checkpointer;
pub use config::{JournalConfig, SyncPolicy};
pub use error::{CodecError, DurableWaitError, ParseSyncPolicyError, RecoveryError};
pub use format::{FRAME_HEADER_BYTES, MAX_PAYLOAD_BYTES};
pub use recovery::{RecoveryReport, recover_read_only, stored_config};
pub(crate) use recovery::{refuse_if_not_a_journal, replay};
#[cfg(any(test, feature = "simulated-storage"))]
pub use simulated::{CrashLoss, SimulatedStorage};
pub use storage::{FileStorage, LOCK_FILE, LockGuard, Storage, StorageFile};

/// The file name `NNNNNNNNNNNNNNNNNNNN{suffix}` of `seq` (20 decimal digits, so that names sort
/// in sequence order), as segments and checkpoints are named.
fn numbered_name(seq: Seq, suffix: &str) -> String {
    format!("{:020}{suffix}", seq.0)
}

/// The sequence number a [`numbered_name`] with `suffix` declares, if `name` is one.
fn parse_numbered_name(name: &str, suffix: &str) -> Option<Seq> {
    let digits = name.strip_suffix(suffix)?;
    (digits.len() == 20 && digits.bytes().all(|byte| byte.is_ascii_digit()))
        .then(|| digits.parse().ok().map(Seq))
        .flatten()
}

/// A [`StateMachine`] that can be journaled and checkpointed: a codec for its commands and for
/// its whole state, and the configuration that recovery checks.
///
/// # Contract
///
/// * `decode_command(encode_command(c)) == c`, and the same for the state and the
///   configuration. Encodings are stable: a format change bumps [`FORMAT`](Self::FORMAT)
///   (recovery refuses files written in another format).
/// * Decoding never panics on bad bytes: it returns a [`CodecError`] (the bytes passed a
///   checksum, so a failure means a format change or a bug, and recovery stops there).
/// * [`config`](Self::config) is the part of the state fixed at creation (for the book, the
///   grid and the limits); recovery refuses a journal written under another one.
pub trait Durable: StateMachine {
    /// The name and version of the payload format, stored in every segment and checkpoint,
    /// e.g. `"snapstate.book/2"`.
    const FORMAT: &'static str;

    /// Earlier formats that this codec reads as they are: every record and checkpoint written
    /// in one of them decodes to what it meant then (a format that only appended new variants,
    /// for instance). Recovery accepts files in these formats beside [`FORMAT`](Self::FORMAT);
    /// a recovered engine writes only `FORMAT` (it starts a new segment, and its checkpoints
    /// carry `FORMAT`), so a binary that knows only the earlier format refuses what was added
    /// since by name. Empty by default.
    const EARLIER_FORMATS: &'static [&'static str] = &[];

    /// Whether recovery reads files written in `format`: [`FORMAT`](Self::FORMAT) or one of
    /// the [`EARLIER_FORMATS`](Self::EARLIER_FORMATS).
    fn reads_format(format: &str) -> bool {
        format == Self::FORMAT || Self::EARLIER_FORMATS.contains(&format)
    }

    /// The configuration a journal must be recovered with.
    type Config: PartialEq + fmt::Debug + Send + Sync + 'static;

    /// This state's configuration.
    fn config(&self) -> Self::Config;

    /// Appends `config`'s encoding to `out`.
    ///
    /// # Errors
    ///
    /// A [`CodecError`] if it cannot be encoded.
    fn encode_config(config: &Self::Config, out: &mut Vec<u8>) -> Result<(), CodecError>;

    /// Decodes a configuration that [`encode_config`](Self::encode_config) wrote.
    ///
    /// # Errors
    ///
    /// A [`CodecError`] for bytes that are not one.
    fn decode_config(bytes: &[u8]) -> Result<Self::Config, CodecError>;

    /// Appends `command`'s encoding to `out`.
    ///
    /// # Errors
    ///
    /// A [`CodecError`] if it cannot be encoded.
    fn encode_command(command: &Self::Command, out: &mut Vec<u8>) -> Result<(), CodecError>;

    /// Decodes a command that [`encode_command`](Self::encode_command) wrote.
    ///
    /// # Errors
    ///
    /// A [`CodecError`] for bytes that are not one.
    fn decode_command(bytes: &[u8]) -> Result<Self::Command, CodecError>;

    /// Appends the whole state's encoding (a checkpoint's image) to `out`.
    ///
    /// # Errors
    ///
    /// A [`CodecError`] if it cannot be encoded.
    fn encode_state(&self, out: &mut Vec<u8>) -> Result<(), CodecError>;

    /// Decodes a state that [`encode_state`](Self::encode_state) wrote, under `config`.
    ///
    /// # Errors
    ///
    /// A [`CodecError`] for bytes that are not one, or that decode to a state that breaks the
    /// state machine's invariants.
    fn decode_state(bytes: &[u8], config: &Self::Config) -> Result<Self, CodecError>;
}
