//! The journal's error types, one per fallible operation.

use std::io;

use super::Seq;

/// A state machine's codec refused a value or bytes (see [`Durable`](super::Durable)).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct CodecError {
    message: String,
}

impl CodecError {
    /// An error saying `message` (lowercase, no final full stop).
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }
}

impl From<postcard::Error> for CodecError {
    fn from(error: postcard::Error) -> Self {
        Self::new(format!("postcard: {error}"))
    }
}

/// Why recovery refused to start the engine. Each names the file (and, where it applies, the
/// byte offset) so that an operator can look at it.
#[derive(Debug, thiserror::Error)]
pub enum RecoveryError {
    /// Another engine (or process) holds the journal directory's lock.
    #[error("the journal at {location} is locked by another engine")]
    Locked {
        /// The storage's location.
        location: String,
    },
    /// Reading or repairing a file failed.
    #[error("i/o error on {file}: {source}")]
    Io {
        /// The file (or the directory's location).
        file: String,
        /// The error.
        source: io::Error,
    },
    /// A record, header or checkpoint failed its checksum or could not be decoded, and it is
    /// not a torn final record.
    #[error("{file} is corrupt at byte {offset}: {reason}")]
    Corrupt {
        /// The file.
        file: String,
        /// Byte offset of the damaged record or field.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
    /// Records are missing between a checkpoint or segment and the next segment.
    #[error("journal records are missing: expected {expected} next, {file} starts at {found}")]
    MissingRecords {
        /// The file that starts too late.
        file: String,
        /// The sequence number that should have come next.
        expected: Seq,
        /// The one found instead.
        found: Seq,
    },
    /// The journal was written by a state machine of another format.
    #[error("{file} holds format {found:?}, expected {expected:?}")]
    FormatMismatch {
        /// The file.
        file: String,
        /// The caller's format.
        expected: &'static str,
        /// The file's format.
        found: String,
    },
    /// The journal was written under another configuration than the caller's.
    #[error("{file} was written with configuration {found}, expected {expected}")]
    ConfigMismatch {
        /// The file.
        file: String,
        /// The caller's configuration (`Debug`).
        expected: String,
        /// The file's configuration (`Debug`).
        found: String,
    },
    /// The directory holds files but none of a journal's (a mistyped path, most likely): no
    /// journal is started among them, and nothing is written there.
    #[error(
        "{location} is not a journal: it holds files, none of them a journal's (such as {file}); \
         give the engine an empty directory or one of its journals"
    )]
    NotAJournal {
        /// The directory.
        location: String,
        /// One of the files that are not a journal's.
        file: String,
    },
    /// The engine's configuration is invalid, or it has no journal.
    #[error("invalid configuration: {0}")]
    InvalidConfig(&'static str),
    /// The state's configuration cannot be written into the journal's files (every file
    /// stores it), so no journal can be kept for it: found before anything is read or locked.
    #[error("the state's configuration cannot be journaled: {0}")]
    UnencodableConfig(#[source] CodecError),
    /// The recovered engine's threads could not be started.
    #[error("could not start the recovered engine: {0}")]
    Spawn(#[source] io::Error),
}

impl RecoveryError {
    /// Whether another holder has the directory's lock.
    pub fn is_locked(&self) -> bool {
        matches!(self, Self::Locked { .. })
    }

    /// Whether a file is damaged (a bad record before the tail, a bad header or checkpoint).
    pub fn is_corrupt(&self) -> bool {
        matches!(self, Self::Corrupt { .. })
    }

    /// Whether records are missing (a deleted or lost segment).
    pub fn is_missing_records(&self) -> bool {
        matches!(self, Self::MissingRecords { .. })
    }

    /// Whether the journal belongs to another configuration or format.
    pub fn is_mismatch(&self) -> bool {
        matches!(
            self,
            Self::ConfigMismatch { .. } | Self::FormatMismatch { .. }
        )
    }

    /// The file the error is about, if it is about one.
    pub fn file(&self) -> Option<&str> {
        match self {
            Self::Io { file, .. }
            | Self::Corrupt { file, .. }
            | Self::MissingRecords { file, .. }
            | Self::FormatMismatch { file, .. }
            | Self::ConfigMismatch { file, .. }
            | Self::NotAJournal { file, .. } => Some(file),
            Self::Locked { .. }
            | Self::InvalidConfig(_)
            | Self::UnencodableConfig(_)
            | Self::Spawn(_) => None,
        }
    }

    /// The byte offset the error is about, if it is about one.
    pub fn offset(&self) -> Option<u64> {
        match self {
            Self::Corrupt { offset, .. } => Some(*offset),
            _ => None,
        }
    }

    pub(crate) fn io(file: impl Into<String>, source: io::Error) -> Self {
        Self::Io {
            file: file.into(),
            source,
        }
    }
}

/// Why a durable barrier returned without its commands being durable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurableWaitError {
    /// The engine has no journal, so nothing ever becomes durable.
    #[error("the engine has no journal")]
    NoJournal,
    /// The journal failed (an I/O error, a full disk); the engine's health says why.
    #[error("the journal failed: {0}")]
    Failed(String),
    /// The engine shut down or failed before the barrier was reached.
    #[error("the engine is closed")]
    Closed,
    /// The barrier was not reached in time.
    #[error("timed out waiting for durability")]
    Timeout,
}

impl DurableWaitError {
    /// Whether the journal failed.
    pub fn is_failed(&self) -> bool {
        matches!(self, Self::Failed(_))
    }

    /// Whether the wait timed out.
    pub fn is_timeout(&self) -> bool {
        matches!(self, Self::Timeout)
    }
}

/// Why a sync policy's text was refused ([`SyncPolicy`](super::SyncPolicy)'s `FromStr`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseSyncPolicyError {
    /// Neither `every_batch`, `os` nor `interval:PERIOD`.
    #[error("`{0}` is not every_batch, os or interval:PERIOD")]
    UnknownPolicy(String),
    /// The period does not start with a whole number.
    #[error("`{0}` is not a whole number with a unit (ns, us, ms or s)")]
    NoNumber(String),
    /// The period's unit is not `ns`, `us`, `ms` or `s`.
    #[error("`{0}` has no unit of ns, us, ms or s")]
    UnknownUnit(String),
    /// The period is longer than [`SyncPolicy::MAX_INTERVAL`](super::SyncPolicy::MAX_INTERVAL).
    #[error("`{0}` is longer than an hour")]
    TooLong(String),
    /// The period is zero.
    #[error("a sync interval must be longer than zero")]
    Zero,
}

impl ParseSyncPolicyError {
    /// Whether the policy's name was not recognised (rather than its period refused).
    pub fn is_unknown_policy(&self) -> bool {
        matches!(self, Self::UnknownPolicy(_))
    }
}
