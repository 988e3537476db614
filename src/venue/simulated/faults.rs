//! Fault injection for the simulated venue: what can go wrong between an exchange and the book,
//! at what rate, and how often it did.

use std::fmt;
use std::time::Duration;

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

    pub(crate) fn record(&mut self, kind: FaultKind) {
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
