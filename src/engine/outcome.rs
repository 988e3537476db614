//! Outcomes of commands, the optional outcome stream, and the engine's health.

use std::fmt;

use crate::sync::channel::Receiver;
use crate::sync::{Arc, Mutex};

use super::{Seq, StateMachine, Version};

/// What became of one command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome<A, R> {
    /// The state machine applied it.
    Applied(A),
    /// The state machine refused it with a typed reason; nothing changed.
    Rejected(R),
    /// Applying it panicked. The command was rejected, nothing it did survived, and the rest of
    /// its batch was applied from the last good state.
    Panicked {
        /// The panic's message, when it was a string.
        message: String,
    },
}

/// One command's outcome, as delivered on the [`OutcomeStream`].
///
/// Records are delivered only after the snapshot that includes the command is published, so a
/// consumer that sees a record can load a snapshot that reflects it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutcomeRecord<A, R> {
    /// The command's sequence number.
    pub seq: Seq,
    /// The first version that includes the command.
    pub version: Version,
    /// What became of it.
    pub outcome: Outcome<A, R>,
}

/// The receiving end of the optional per-command outcome stream.
///
/// The stream ends (receives return `None`) after the engine has shut down and every record has
/// been taken.
pub struct OutcomeStream<S: StateMachine> {
    pub(crate) receiver: Receiver<OutcomeRecord<S::Applied, S::Rejected>>,
}

impl<S: StateMachine> OutcomeStream<S> {
    /// The next record, waiting for one; `None` once the engine has stopped and the stream is
    /// drained.
    pub fn recv(&self) -> Option<OutcomeRecord<S::Applied, S::Rejected>> {
        self.receiver.recv().ok()
    }

    /// The next record if one is ready.
    pub fn try_recv(&self) -> Option<OutcomeRecord<S::Applied, S::Rejected>> {
        self.receiver.try_recv().ok()
    }

    /// The next record, waiting at most `timeout`.
    pub fn recv_timeout(
        &self,
        timeout: std::time::Duration,
    ) -> Option<OutcomeRecord<S::Applied, S::Rejected>> {
        self.receiver.recv_timeout(timeout).ok()
    }
}

impl<S: StateMachine> fmt::Debug for OutcomeStream<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OutcomeStream").finish_non_exhaustive()
    }
}

/// Whether the writer is running, stopped, or failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EngineStatus {
    /// The writer is taking commands.
    Running,
    /// The engine shut down cleanly: everything accepted was applied and published.
    Stopped,
    /// The writer failed outside a command's application (a bug). Readers keep the last good
    /// snapshot; submits fail with `Closed` and hand their command back.
    Failed,
}

/// The engine's health: its status and how many commands panicked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Health {
    /// Running, stopped or failed.
    pub status: EngineStatus,
    /// How many commands panicked while being applied (each was rejected).
    pub panicked_commands: u64,
    /// The most recent panic's message, if any.
    pub last_panic: Option<String>,
    /// Why the writer failed, if it did.
    pub failure: Option<String>,
    /// Commands still queued when the writer failed; they were never applied and are reported
    /// here rather than lost without trace.
    pub unapplied_on_failure: u64,
}

impl Health {
    /// True while the engine runs and no command has ever panicked.
    pub fn is_healthy(&self) -> bool {
        self.status == EngineStatus::Running && self.panicked_commands == 0
    }
}

/// The health record shared between the writer and the handles. The writer locks it only when
/// something rare happens (a panic, a failure, the end), never per command.
#[derive(Debug)]
pub(crate) struct HealthCell {
    inner: Mutex<Health>,
}

impl HealthCell {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Self {
            inner: Mutex::new(Health {
                status: EngineStatus::Running,
                panicked_commands: 0,
                last_panic: None,
                failure: None,
                unapplied_on_failure: 0,
            }),
        })
    }

    pub(crate) fn read(&self) -> Health {
        self.update(|health| health.clone())
    }

    pub(crate) fn update<T>(&self, change: impl FnOnce(&mut Health) -> T) -> T {
        // The lock is never held across anything that can panic, so poisoning cannot hide a
        // half-made change; recover the value rather than spreading the panic to readers.
        let mut guard = self
            .inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        change(&mut guard)
    }
}

/// Extracts a readable message from a panic payload.
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(message) = payload.downcast_ref::<&'static str>() {
        (*message).to_owned()
    } else if let Some(message) = payload.downcast_ref::<String>() {
        message.clone()
    } else {
        "panic with a non-string payload".to_owned()
    }
}
