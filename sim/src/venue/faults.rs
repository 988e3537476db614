//! Fault injection for the simulated venue: what can go wrong between an exchange and the book,
//! at what rate, and how often it did.

use std::fmt;
use std::time::Duration;

use rand::RngExt;
use rand::rngs::ChaCha8Rng;

use snapstate::book::{BookCommand, OrderId};
use snapstate::time::Timestamp;

/// How often each kind of fault happens. Every rate is a probability in `0.0..=1.0`, drawn
/// independently per event from the venue's own seeded fault stream, so the same seed and the
/// same calls inject the same faults.
///
/// The fault stream is separate from the market's: turning faults on or off does not change the
/// price path or the fills, only what the book hears about them.
#[derive(Clone, Debug, PartialEq)]
pub struct Faults {
    /// An order update arrives later than the normal delay, by up to `max_extra_delay`.
    pub delay_rate: f64,
    /// The longest extra delay of a delayed update.
    pub max_extra_delay: Duration,
    /// An order update arrives twice.
    pub duplicate_rate: f64,
    /// An order update overtakes the update sent just before it (which then arrives right
    /// after it).
    pub reorder_rate: f64,
    /// An order update never arrives.
    pub drop_rate: f64,
    /// A recently finished order is left out of an open-orders answer (per order listed).
    pub omit_just_closed_rate: f64,
    /// An open-orders query fails.
    pub query_failure_rate: f64,
    /// An open-orders query times out.
    pub query_timeout_rate: f64,
    /// The time a timed-out query reports having waited.
    pub query_timeout: Duration,
    /// A fill's update is never sent: the fill shows only in open-orders answers.
    pub fill_only_in_view_rate: f64,
}

impl Faults {
    /// No faults at all: a truthful venue.
    pub fn none() -> Self {
        Self {
            delay_rate: 0.0,
            max_extra_delay: Duration::from_millis(500),
            duplicate_rate: 0.0,
            reorder_rate: 0.0,
            drop_rate: 0.0,
            omit_just_closed_rate: 0.0,
            query_failure_rate: 0.0,
            query_timeout_rate: 0.0,
            query_timeout: Duration::from_secs(2),
            fill_only_in_view_rate: 0.0,
        }
    }

    /// Whether every rate is zero.
    pub fn is_none(&self) -> bool {
        self.rates().iter().all(|(_, rate)| *rate == 0.0)
    }

    /// Every rate with its field name, for validation and display.
    pub(crate) fn rates(&self) -> [(&'static str, f64); 8] {
        [
            ("delay_rate", self.delay_rate),
            ("duplicate_rate", self.duplicate_rate),
            ("reorder_rate", self.reorder_rate),
            ("drop_rate", self.drop_rate),
            ("omit_just_closed_rate", self.omit_just_closed_rate),
            ("query_failure_rate", self.query_failure_rate),
            ("query_timeout_rate", self.query_timeout_rate),
            ("fill_only_in_view_rate", self.fill_only_in_view_rate),
        ]
    }
}

impl Default for Faults {
    fn default() -> Self {
        Self::none()
    }
}

/// A kind of injected fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FaultKind {
    /// An update arrived late.
    Delayed,
    /// An update arrived twice.
    Duplicated,
    /// An update overtook the one before it.
    Reordered,
    /// An update never arrived.
    Dropped,
    /// A recently finished order was left out of an open-orders answer.
    OmittedJustClosed,
    /// An open-orders query failed.
    QueryFailed,
    /// An open-orders query timed out.
    QueryTimedOut,
    /// A fill was reported only through the open-orders view.
    FillOnlyInView,
}

impl FaultKind {
    /// Every kind, in a fixed order.
    pub const ALL: [FaultKind; 8] = [
        FaultKind::Delayed,
        FaultKind::Duplicated,
        FaultKind::Reordered,
        FaultKind::Dropped,
        FaultKind::OmittedJustClosed,
        FaultKind::QueryFailed,
        FaultKind::QueryTimedOut,
        FaultKind::FillOnlyInView,
    ];

    /// A stable snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            FaultKind::Delayed => "delayed",
            FaultKind::Duplicated => "duplicated",
            FaultKind::Reordered => "reordered",
            FaultKind::Dropped => "dropped",
            FaultKind::OmittedJustClosed => "omitted_just_closed",
            FaultKind::QueryFailed => "query_failed",
            FaultKind::QueryTimedOut => "query_timed_out",
            FaultKind::FillOnlyInView => "fill_only_in_view",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for FaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How many faults of each kind the venue has injected.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FaultCounts {
    counts: [u64; FaultKind::ALL.len()],
}

impl FaultCounts {
    /// How many of `kind`.
    pub fn get(&self, kind: FaultKind) -> u64 {
        self.counts[kind.index()]
    }

    /// Every kind with its count, in [`FaultKind::ALL`] order, zero counts included.
    pub fn iter(&self) -> impl Iterator<Item = (FaultKind, u64)> + '_ {
        FaultKind::ALL
            .into_iter()
            .map(|kind| (kind, self.get(kind)))
    }

    /// All faults injected.
    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }

    fn record(&mut self, kind: FaultKind) {
        self.counts[kind.index()] += 1;
    }
}

impl fmt::Display for FaultCounts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for (kind, count) in self.iter() {
            if !first {
                f.write_str(", ")?;
            }
            first = false;
            write!(f, "{kind} {count}")?;
        }
        Ok(())
    }
}

/// One injected fault, as the venue's fault journal records it (see
/// [`SimulatedVenue::enable_fault_journal`](super::SimulatedVenue::enable_fault_journal)).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InjectedFault {
    /// What kind of fault it was.
    pub kind: FaultKind,
    /// The venue's time when it was injected (for an update, when the venue sent it).
    pub at: Timestamp,
    /// What it happened to.
    pub subject: FaultSubject,
}

/// What an injected fault happened to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FaultSubject {
    /// An order update, as the venue sent it (stamped with its send time): the update delayed,
    /// duplicated or dropped; for a reorder, the update that was overtaken; for a fill only in
    /// the view, the fill report that was never sent. Updates carry a venue sequence that is
    /// unique per order, so `(order_id, venue_seq)` names the update among those delivered.
    Update(BookCommand),
    /// A recently finished order left out of an open-orders answer.
    Order(OrderId),
    /// An open-orders query that failed or timed out.
    Query,
}

/// The venue's record of what it injected: the counts always, the journal when enabled.
#[derive(Clone, Debug, Default)]
pub(super) struct FaultRecord {
    counts: FaultCounts,
    journal: Option<Journal>,
}

#[derive(Clone, Debug)]
struct Journal {
    entries: Vec<InjectedFault>,
    capacity: usize,
}

impl FaultRecord {
    pub(super) fn counts(&self) -> &FaultCounts {
        &self.counts
    }

    /// Counts a fault of `kind` and journals it, if the journal is on and has room. `subject`
    /// is only built when it is journaled, so that a venue without a journal clones nothing.
    pub(super) fn record(
        &mut self,
        kind: FaultKind,
        at: Timestamp,
        subject: impl FnOnce() -> FaultSubject,
    ) {
        self.counts.record(kind);
        if let Some(journal) = &mut self.journal
            && journal.entries.len() < journal.capacity
        {
            journal.entries.push(InjectedFault {
                kind,
                at,
                subject: subject(),
            });
        }
    }

    /// Draws from `rng` whether a fault of `kind` happens at `rate`, and records it if so.
    pub(super) fn draw(
        &mut self,
        rng: &mut ChaCha8Rng,
        rate: f64,
        kind: FaultKind,
        at: Timestamp,
        subject: impl FnOnce() -> FaultSubject,
    ) -> bool {
        let happens = rng.random_bool(rate);
        if happens {
            self.record(kind, at, subject);
        }
        happens
    }

    pub(super) fn enable_journal(&mut self, capacity: usize) {
        match &mut self.journal {
            Some(journal) => journal.capacity = capacity,
            None => {
                self.journal = Some(Journal {
                    entries: Vec::new(),
                    capacity,
                });
            }
        }
    }

    pub(super) fn take_journal(&mut self) -> Vec<InjectedFault> {
        self.journal
            .as_mut()
            .map(|journal| std::mem::take(&mut journal.entries))
            .unwrap_or_default()
    }
}
