//! Snapshots: immutable, versioned values of the state.

use std::fmt;

use crate::sync::Arc;
use crate::time::Timestamp;

use super::{ClassOf, StateMachine};

/// The number of a published snapshot. Version 0 is the initial state; each publication adds
/// one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(transparent))]
pub struct Version(pub u64);

impl Version {
    /// The version that follows this one, saturating at `u64::MAX`: a writer that published
    /// once a nanosecond would take 584 years to reach it, so no version ever follows it, and
    /// a wait for a change after it (`wait_for_change(Version(u64::MAX), …)`) ends only by its
    /// timeout or the engine's stop, never at once with a snapshot that is not newer.
    #[must_use]
    pub fn next(self) -> Self {
        Self(self.0.saturating_add(1))
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "v{}", self.0)
    }
}

/// The sequence number the writer gives each command as it dequeues it: 1 for the first command,
/// then one more for each. Commands are applied in sequence order.
///
/// With a single producer, the n-th command it submits gets `Seq(n)`. With several, sequence
/// order is the order in which their commands entered the queue.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(transparent))]
pub struct Seq(pub u64);

impl fmt::Display for Seq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// How many commands ended each way, cumulatively, up to a snapshot.
///
/// `applied + rejected + panicked` equals the snapshot's [`last_seq`](Snapshot::last_seq):
/// every command the writer dequeued is counted exactly once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Counters {
    pub(crate) applied: u64,
    pub(crate) rejected: u64,
    pub(crate) panicked: u64,
    pub(crate) outcomes_dropped: u64,
    pub(crate) applied_labels: &'static [&'static str],
    pub(crate) rejected_labels: &'static [&'static str],
    pub(crate) applied_by_label: Arc<[u64]>,
    pub(crate) rejected_by_label: Arc<[u64]>,
}

impl Counters {
    pub(crate) fn new(
        applied_labels: &'static [&'static str],
        rejected_labels: &'static [&'static str],
    ) -> Self {
        Self {
            applied: 0,
            rejected: 0,
            panicked: 0,
            outcomes_dropped: 0,
            applied_labels,
            rejected_labels,
            // One extra slot at the end counts values whose label index is out of range.
            applied_by_label: vec![0; applied_labels.len() + 1].into(),
            rejected_by_label: vec![0; rejected_labels.len() + 1].into(),
        }
    }

    /// Commands applied (including those the state machine reports as stale or duplicate).
    pub fn applied(&self) -> u64 {
        self.applied
    }

    /// Commands rejected by the state machine with a typed reason.
    pub fn rejected(&self) -> u64 {
        self.rejected
    }

    /// Commands whose application panicked; each was rejected and changed nothing.
    pub fn panicked(&self) -> u64 {
        self.panicked
    }

    /// All commands the writer has taken from the queue.
    pub fn total(&self) -> u64 {
        self.applied + self.rejected + self.panicked
    }

    /// Outcome records the optional outcome stream could not take because its consumer fell
    /// behind. The counts here stay complete regardless.
    pub fn outcomes_dropped(&self) -> u64 {
        self.outcomes_dropped
    }

    /// Applied commands by class, in the state machine's label order, zero counts included.
    pub fn applied_by_label(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        labelled(self.applied_labels, &self.applied_by_label)
    }

    /// Rejected commands by reason, in the state machine's label order, zero counts included.
    pub fn rejected_by_label(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        labelled(self.rejected_labels, &self.rejected_by_label)
    }

    /// How many applied commands carried `label`; zero for an unknown label.
    ///
    /// A misspelt label reads zero too: prefer the typed [`Snapshot::applied_of`], which the
    /// compiler checks.
    pub fn applied_count(&self, label: &str) -> u64 {
        self.applied_by_label()
            .find(|(name, _)| *name == label)
            .map_or(0, |(_, count)| count)
    }

    /// How many rejected commands carried `label`; zero for an unknown label.
    ///
    /// A misspelt label reads zero too: prefer the typed [`Snapshot::rejected_of`], which the
    /// compiler checks.
    pub fn rejected_count(&self, label: &str) -> u64 {
        self.rejected_by_label()
            .find(|(name, _)| *name == label)
            .map_or(0, |(_, count)| count)
    }
}

/// The count at `index`; an index beyond the labels reads the last slot, which counts exactly
/// those (as the writer's tally does).
fn count_at(counts: &[u64], index: usize) -> u64 {
    counts
        .get(index.min(counts.len().saturating_sub(1)))
        .copied()
        .unwrap_or(0)
}

fn labelled<'a>(
    labels: &'static [&'static str],
    counts: &'a [u64],
) -> impl Iterator<Item = (&'static str, u64)> + 'a {
    labels
        .iter()
        .copied()
        .chain(std::iter::once("unlabelled"))
        .zip(counts.iter().copied())
}

/// One immutable version of the state.
///
/// A snapshot is never mutated after publication: holding it costs memory only for what the
/// writer has changed since (the persistent state shares everything else), and it never blocks
/// the writer or other readers. Cloning one copies its header and clones its state (for a
/// persistent state, a few reference counts).
#[derive(Clone)]
pub struct Snapshot<S> {
    pub(crate) state: S,
    pub(crate) version: Version,
    pub(crate) last_seq: Seq,
    pub(crate) durable_seq: Seq,
    pub(crate) published_at: Timestamp,
    pub(crate) counters: Counters,
}

impl<S> Snapshot<S> {
    /// The state as of this version.
    pub fn state(&self) -> &S {
        &self.state
    }

    /// This snapshot's version; strictly greater than every earlier snapshot's.
    pub fn version(&self) -> Version {
        self.version
    }

    /// The sequence number of the last command included. Every command with a sequence number
    /// up to and including this one is included; none after it is. `Seq(0)`: none yet.
    pub fn last_seq(&self) -> Seq {
        self.last_seq
    }

    /// How far the journal was durable when this version was published: every command up to
    /// this sequence number was durable (under the journal's
    /// [`SyncPolicy`](crate::journal::SyncPolicy)) by then. `Seq(0)` without a journal. It may
    /// lag [`last_seq`](Self::last_seq): a command is visible before it is durable. For the live
    /// figure, see [`ReadHandle::durable_seq`](super::ReadHandle::durable_seq).
    pub fn durable_seq(&self) -> Seq {
        self.durable_seq
    }

    /// When the writer published this version, by the engine's clock.
    pub fn published_at(&self) -> Timestamp {
        self.published_at
    }

    /// Outcome counts of every command up to [`last_seq`](Self::last_seq).
    pub fn counters(&self) -> &Counters {
        &self.counters
    }
}

impl<S: StateMachine> Snapshot<S> {
    /// How many applied commands up to this snapshot were of `class`, named by a value the
    /// compiler checks against the state machine's `Applied` type (a reference to an `Applied`
    /// value, or a field-less kind that implements [`ClassOf`]), so a typo cannot read zero.
    ///
    /// ```
    /// use snapstate::book::{Applied, Book, BookConfig, Grid};
    /// use snapstate::engine::{InlineWriter, EngineConfig};
    /// # use rust_decimal::Decimal;
    /// # let grid = Grid::centred(Decimal::new(100, 0), Decimal::new(1, 2), 20)?;
    /// let writer = InlineWriter::start(Book::new(BookConfig::new(grid)), EngineConfig::default())?;
    /// let snapshot = writer.snapshot();
    /// assert_eq!(snapshot.applied_of(&Applied::Placed), 0);
    /// // By label the same count reads so; a misspelt label would silently read zero.
    /// assert_eq!(snapshot.counters().applied_count("placed"), 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn applied_of(&self, class: impl ClassOf<S::Applied>) -> u64 {
        count_at(&self.counters.applied_by_label, class.class_index())
    }

    /// How many rejected commands up to this snapshot were of `reason`'s class; the typed twin
    /// of [`Counters::rejected_count`], as [`applied_of`](Self::applied_of) is of
    /// [`Counters::applied_count`].
    pub fn rejected_of(&self, reason: impl ClassOf<S::Rejected>) -> u64 {
        count_at(&self.counters.rejected_by_label, reason.class_index())
    }
}

impl<S> fmt::Debug for Snapshot<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Snapshot")
            .field("version", &self.version)
            .field("last_seq", &self.last_seq)
            .field("durable_seq", &self.durable_seq)
            .field("published_at", &self.published_at)
            .field("counters", &self.counters)
            .finish_non_exhaustive()
    }
}
