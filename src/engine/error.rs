//! One error type per fallible engine operation. Every submit error hands the command back, so
//! a failed submit loses nothing.

use std::fmt;

use crate::sync::Arc;

use super::{EngineStatus, Health, Snapshot};

/// Why [`WriteHandle::submit`](super::WriteHandle::submit) failed.
#[derive(PartialEq, Eq, thiserror::Error)]
pub enum SubmitError<C> {
    /// The engine has shut down (or its writer failed); the command is handed back.
    #[error("engine is closed")]
    Closed(C),
}

impl<C> SubmitError<C> {
    /// The command that was not accepted.
    pub fn into_inner(self) -> C {
        match self {
            Self::Closed(command) => command,
        }
    }
}

/// Why [`WriteHandle::try_submit`](super::WriteHandle::try_submit) failed.
#[derive(PartialEq, Eq, thiserror::Error)]
pub enum TrySubmitError<C> {
    /// The queue is full; the command is handed back. Retry later or use `submit`.
    #[error("command queue is full")]
    Full(C),
    /// The engine has shut down (or its writer failed); the command is handed back.
    #[error("engine is closed")]
    Closed(C),
}

impl<C> TrySubmitError<C> {
    /// The command that was not accepted.
    pub fn into_inner(self) -> C {
        match self {
            Self::Full(command) | Self::Closed(command) => command,
        }
    }

    /// Whether the queue was merely full (a retry may succeed).
    pub fn is_full(&self) -> bool {
        matches!(self, Self::Full(_))
    }
}

/// Why [`WriteHandle::submit_timeout`](super::WriteHandle::submit_timeout) failed.
#[derive(PartialEq, Eq, thiserror::Error)]
pub enum SubmitTimeoutError<C> {
    /// The queue stayed full for the whole timeout; the command is handed back.
    #[error("timed out waiting for space in the command queue")]
    Timeout(C),
    /// The engine has shut down (or its writer failed); the command is handed back.
    #[error("engine is closed")]
    Closed(C),
}

impl<C> SubmitTimeoutError<C> {
    /// The command that was not accepted.
    pub fn into_inner(self) -> C {
        match self {
            Self::Timeout(command) | Self::Closed(command) => command,
        }
    }
}

// Commands need not be `Debug`; the errors print their variant only, as crossbeam's do.
macro_rules! debug_without_payload {
    ($name:ident { $($variant:ident),+ }) => {
        impl<C> fmt::Debug for $name<C> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self {
                    $(Self::$variant(_) => f.write_str(concat!(stringify!($variant), "(..)")),)+
                }
            }
        }
    };
}
debug_without_payload!(SubmitError { Closed });
debug_without_payload!(TrySubmitError { Full, Closed });
debug_without_payload!(SubmitTimeoutError { Timeout, Closed });

/// Why a [`flush`](super::WriteHandle::flush) barrier did not return a version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FlushError {
    /// The engine shut down (or its writer failed) before the barrier was reached.
    #[error("engine is closed")]
    Closed,
    /// The barrier was not reached within the timeout. It stays queued; its reply is discarded.
    #[error("timed out waiting for the barrier")]
    Timeout,
}

/// Why [`Engine::start`](super::Engine::start) failed.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A configuration value is out of range.
    #[error("invalid engine configuration: {0}")]
    InvalidConfig(&'static str),
    /// The operating system refused to start the writer thread.
    #[error("could not spawn the writer thread")]
    Spawn(#[source] std::io::Error),
}

/// Why [`Engine::shutdown`](super::Engine::shutdown) could not confirm a clean stop.
#[derive(thiserror::Error)]
pub enum ShutdownError<S> {
    /// The writer thread failed outside a command's application (a bug in the engine). Readers
    /// keep the last good snapshot, which is handed back here.
    #[error("the writer thread failed: {message}")]
    WriterFailed {
        /// The last snapshot that was published before the failure.
        last_good: Arc<Snapshot<S>>,
        /// What the failure said.
        message: String,
    },
}

impl<S> ShutdownError<S> {
    /// What a shutdown returns, for either writer: the final snapshot `last`, or, if `health`
    /// says the writer failed, the failure carrying `last` as the last good snapshot.
    pub(super) fn check(last: Arc<Snapshot<S>>, health: Health) -> Result<Arc<Snapshot<S>>, Self> {
        match health.status {
            EngineStatus::Failed => Err(Self::WriterFailed {
                last_good: last,
                message: health.failure.unwrap_or_default(),
            }),
            EngineStatus::Running | EngineStatus::Stopped => Ok(last),
        }
    }
}

impl<S> fmt::Debug for ShutdownError<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::WriterFailed { last_good, message } => f
                .debug_struct("WriterFailed")
                .field("last_good", last_good)
                .field("message", message)
                .finish(),
        }
    }
}

/// Why [`ReadHandle::wait_for_version`](super::ReadHandle::wait_for_version) (or one of its
/// twins) returned without the version it waited for. Either way it hands back the latest
/// snapshot, so the caller can act on what is there.
#[derive(thiserror::Error)]
pub enum WaitError<S> {
    /// The timeout passed first. The engine may still publish the version later.
    #[error("timed out waiting for the version")]
    Timeout {
        /// The latest snapshot when the wait gave up.
        latest: Arc<Snapshot<S>>,
    },
    /// The engine stopped (shut down, or its writer failed) without publishing the version; it
    /// never will.
    #[error("the engine stopped before publishing the version")]
    Stopped {
        /// The engine's final snapshot.
        last: Arc<Snapshot<S>>,
    },
}

impl<S> WaitError<S> {
    /// Whether the wait timed out (waiting again may succeed).
    pub fn is_timeout(&self) -> bool {
        matches!(self, Self::Timeout { .. })
    }

    /// Whether the engine stopped (waiting again never succeeds).
    pub fn is_stopped(&self) -> bool {
        matches!(self, Self::Stopped { .. })
    }

    /// The latest snapshot when the wait ended.
    pub fn snapshot(&self) -> &Arc<Snapshot<S>> {
        match self {
            Self::Timeout { latest } => latest,
            Self::Stopped { last } => last,
        }
    }

    /// The latest snapshot when the wait ended, by value.
    pub fn into_snapshot(self) -> Arc<Snapshot<S>> {
        match self {
            Self::Timeout { latest } => latest,
            Self::Stopped { last } => last,
        }
    }
}

impl<S> fmt::Debug for WaitError<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (variant, snapshot) = match self {
            Self::Timeout { latest } => ("Timeout", latest),
            Self::Stopped { last } => ("Stopped", last),
        };
        f.debug_tuple(variant).field(snapshot).finish()
    }
}

/// Why an [`InlineWriter`](super::InlineWriter) refused to apply: its writer failed earlier
/// (a panic outside any command's application, such as a non-deterministic state machine).
/// The commands are handed back, unapplied.
#[derive(PartialEq, Eq, thiserror::Error)]
pub enum ApplyError<C> {
    /// The writer failed; nothing more is applied. See [`InlineWriter::health`](super::InlineWriter::health).
    #[error("the inline writer failed")]
    Failed(C),
}

impl<C> ApplyError<C> {
    /// What was not applied: the command, or the commands not yet taken from the iterator.
    pub fn into_inner(self) -> C {
        match self {
            Self::Failed(commands) => commands,
        }
    }
}
debug_without_payload!(ApplyError { Failed });
