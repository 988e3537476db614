//! The generic single-writer engine: a bounded queue in, one writer thread, versioned
//! snapshots out — or, with the [`InlineWriter`], the writer on the caller's own thread.
//!
//! The engine knows nothing about orders. It runs any [`StateMachine`]: a value that is cheap to
//! clone (because it is persistent) and that applies one command at a time, deterministically.
//!
//! # How it works
//!
//! 1. Producers [`submit`](WriteHandle::submit) commands into a bounded channel. A full channel
//!    pushes back on producers; nothing is dropped.
//! 2. The writer thread waits for the first command (how it waits is the
//!    [`WaitStrategy`]), then drains up to [`EngineConfig::max_batch`] more without blocking
//!    (fewer under a backlog: as many as the last batch's pace fits in
//!    [`EngineConfig::batch_time`]).
//! 3. It applies each command to its private working copy of the state, numbering them with
//!    strictly increasing sequence numbers ([`Seq`]) in the order it dequeues them.
//! 4. It publishes once per batch: a new [`Snapshot`] with the next [`Version`], the last
//!    sequence number included, the publish time and the outcome [`Counters`], stored with one
//!    atomic pointer swap.
//! 5. Readers [`load`](ReadHandle::load) the current snapshot in constant time. They never block
//!    the writer and the writer never blocks them.
//!
//! Under saturation batches grow by themselves, so the cost of the first write after a publish
//! (the persistent map copies the path to the changed entry, because the snapshot shares it) is
//! shared by every command of the batch.
//!
//! # Two writers, one publication path
//!
//! Steps 3 and 4 (and panic recovery, outcome counting, metrics and the freeing of replaced
//! versions) live in one private core that both writers drive. The threaded [`Engine`] feeds it
//! from the queue on its writer thread; the [`InlineWriter`] feeds it the caller's commands on
//! the caller's thread and returns each outcome. Choose inline when one thread produces every
//! command and latency comes first (visible when `apply` returns: no queue hop, no wake-up);
//! choose threaded when many threads produce, or when the producing thread must never do the
//! state machine's work. Switching is a constructor change; readers are the same either way.
//!
//! # Waiting for a version
//!
//! [`ReadHandle::wait_for_version`] and [`ReadHandle::wait_for_change`] sleep until a version is
//! published, time out, or the engine stops ([`WaitError`]). While nobody waits, a publication
//! pays one extra atomic operation; the writer takes a lock to wake waiters only when there are
//! some, and never waits for a reader's work. With the `async` feature,
//! `WriteHandle::submit_async`, `WriteHandle::flush_async` and
//! `ReadHandle::wait_for_version_async` are runtime-agnostic twins (no runtime is a
//! dependency): they register the task's waker instead of blocking the thread, and dropping the
//! future deregisters it.
//!
//! # Invariants
//!
//! 1. A published snapshot is never mutated.
//! 2. Versions strictly increase; each snapshot records its version, the sequence number of the
//!    last command it includes (every command with a lower number is included too), and when it
//!    was published.
//! 3. Every accepted command is applied or rejected, with a reason, exactly once, and counted.
//!    Shutdown returns only after everything accepted before it is applied and published.
//! 5. The writer never waits for a reader, and a reader never waits for the writer.
//!
//! (Invariant 4 is the book's; see [`crate::book`].)
//!
//! # Example
//!
//! ```
//! use snapstate::engine::{Engine, EngineConfig, Labelled, StateMachine};
//!
//! #[derive(Clone, Default)]
//! struct Counter(u64);
//!
//! #[derive(Debug)]
//! struct Added;
//! impl Labelled for Added {
//!     const LABELS: &'static [&'static str] = &["added"];
//!     fn label_index(&self) -> usize { 0 }
//! }
//!
//! #[derive(Debug, thiserror::Error)]
//! #[error("would overflow")]
//! struct Overflow;
//! impl Labelled for Overflow {
//!     const LABELS: &'static [&'static str] = &["overflow"];
//!     fn label_index(&self) -> usize { 0 }
//! }
//!
//! impl StateMachine for Counter {
//!     type Command = u64;
//!     type Applied = Added;
//!     type Rejected = Overflow;
//!     fn apply(&mut self, amount: &u64) -> Result<Added, Overflow> {
//!         self.0 = self.0.checked_add(*amount).ok_or(Overflow)?;
//!         Ok(Added)
//!     }
//! }
//!
//! let engine = Engine::start(Counter::default(), EngineConfig::default())?;
//! let writer = engine.write_handle();
//! writer.submit(40)?;
//! writer.submit(2)?;
//! let visible = writer.flush()?;
//! let snapshot = engine.read_handle().load();
//! assert!(snapshot.version() >= visible);
//! assert_eq!(snapshot.state().0, 42);
//! assert_eq!(snapshot.counters().applied(), 2);
//! assert_eq!(snapshot.applied_of(&Added), 2); // by class, checked by the compiler
//! let last = engine.shutdown()?;
//! assert_eq!(last.state().0, 42);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#[cfg(feature = "async")]
mod asynchronous;
mod config;
pub(crate) mod core;
mod deadline;
mod error;
mod handle;
mod inline;
mod outcome;
mod recover;
mod signal;
mod snapshot;
#[cfg(test)]
pub(crate) mod test_machine;
mod writer;

pub use config::{EngineConfig, WaitStrategy};
pub use error::{
    ApplyError, FlushError, ShutdownError, StartError, SubmitError, SubmitTimeoutError,
    TrySubmitError, WaitError,
};
pub use handle::{Engine, ReadHandle, Reader, WriteHandle};
pub use inline::InlineWriter;
pub(crate) use outcome::HealthCell;
pub use outcome::{EngineStatus, Health, Outcome, OutcomeRecord, OutcomeStream};
pub use snapshot::{Counters, Seq, Snapshot, Version};

/// The outcome record of one command of state machine `S`, as the
/// [`InlineWriter`] returns it and the [`OutcomeStream`] delivers it.
pub type OutcomeRecordOf<S> =
    OutcomeRecord<<S as StateMachine>::Applied, <S as StateMachine>::Rejected>;

/// A deterministic state machine that the engine's writer thread drives.
///
/// # Contract
///
/// * `apply` is a pure function of the state and the command: the same state and command give
///   the same result and the same new state. The engine relies on this to recover from a panic
///   (it re-derives the working state from the last published version by re-applying the batch
///   up to the command that panicked), to keep a second copy of the state up to date (it applies
///   each small batch again to the version the batch replaced, and writes the next batch to
///   that copy: [`EngineConfig::reuse_limit`]), and to recover from a journal. A command that
///   panics only when applied again, or gives another result then (applied once and refused
///   the next time, or under another label), fails the writer (named a non-deterministic state
///   machine in its health).
/// * A rejected command (`Err`) changes nothing.
/// * `Clone` is cheap: persistent collections share structure, so a clone is a few reference
///   count increments, whatever the state's size.
pub trait StateMachine: Clone + Send + Sync + 'static {
    /// What producers submit.
    type Command: Send + 'static;
    /// What applying a command did.
    type Applied: Labelled + Send + 'static;
    /// Why a command was refused; a refused command changed nothing.
    type Rejected: Labelled + std::error::Error + Send + 'static;

    /// Applies one command to the state.
    ///
    /// # Errors
    ///
    /// Returns the typed reason when the command is refused; the state is then unchanged.
    fn apply(&mut self, command: &Self::Command) -> Result<Self::Applied, Self::Rejected>;
}

/// A value that belongs to one of a fixed set of labelled classes, for per-class counters.
///
/// The engine counts every outcome by class in each snapshot's [`Counters`] and in the
/// `snapstate_commands_total` metric.
pub trait Labelled {
    /// Every class, in a fixed order; `label_index` points into it.
    const LABELS: &'static [&'static str];

    /// This value's class, as an index into [`LABELS`](Self::LABELS).
    fn label_index(&self) -> usize;

    /// This value's class name, or `"unlabelled"` if the index is out of range.
    fn label(&self) -> &'static str {
        Self::LABELS
            .get(self.label_index())
            .copied()
            .unwrap_or("unlabelled")
    }
}

/// Names one class of the [`Labelled`] type `L`, checked by the compiler: what
/// [`Snapshot::applied_of`] and [`Snapshot::rejected_of`] take, so that reading a count cannot
/// misspell a label.
///
/// Every `&L` names its own class. A state machine whose outcome type carries data (a rejection
/// reason with the order it concerns) can add a field-less kind enum that implements
/// `ClassOf<Reason>`, so callers need not build a value to name a class.
///
/// ```
/// use snapstate::engine::{ClassOf, Labelled};
///
/// #[derive(Debug)]
/// enum Refusal { TooLarge(u64), Closed }
/// impl Labelled for Refusal {
///     const LABELS: &'static [&'static str] = &["too_large", "closed"];
///     fn label_index(&self) -> usize {
///         match self { Refusal::TooLarge(_) => 0, Refusal::Closed => 1 }
///     }
/// }
///
/// /// The classes of `Refusal`, without their data.
/// #[derive(Clone, Copy)]
/// enum RefusalKind { TooLarge, Closed }
/// impl ClassOf<Refusal> for RefusalKind {
///     fn class_index(&self) -> usize { *self as usize }
/// }
///
/// assert_eq!(RefusalKind::Closed.class_index(), Refusal::Closed.label_index());
/// assert_eq!((&Refusal::TooLarge(7)).class_index(), 0);
/// ```
pub trait ClassOf<L: Labelled> {
    /// The class's index into `L::LABELS`.
    fn class_index(&self) -> usize;
}

impl<L: Labelled> ClassOf<L> for &L {
    fn class_index(&self) -> usize {
        self.label_index()
    }
}
