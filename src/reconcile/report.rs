//! What one reconciliation found and what it plans to do about it.

use std::fmt;

use crate::book::{Correction, OrderId, Revision};
use crate::time::Timestamp;

use super::{Evidence, Mismatch, MismatchClass};

/// A request to cancel an order at the venue, with the precondition it was planned under.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct VenueCancel {
    /// The order.
    pub order_id: OrderId,
    /// Its revision in the book when the diff planned the cancel, or `None` if the book did not
    /// know it. The runner checks this against the latest snapshot just before sending, and
    /// skips the cancel (counting it as stale) if the book has moved on.
    pub expected: Option<Revision>,
}

/// Why a confirmed mismatch is only reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ReportOnlyReason {
    /// Its class's policy says so.
    Policy,
    /// An unknown order that cannot be adopted: its price is not exactly a level's, or the
    /// slot already has a live order in the book.
    NotAdoptable,
    /// The policy has no action for this particular case (for example, a cancel at the venue of
    /// an order the venue has already finished).
    NoActionForCase,
    /// Another finding about the same order already carries this cycle's action: one action
    /// per order per cycle, because each changes the order's revision.
    OneActionPerOrder,
}

/// What the reconciler does about one finding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Not confirmed yet: the evidence is not sufficient. Nothing is done.
    Wait,
    /// Confirmed, and reported only.
    ReportOnly(ReportOnlyReason),
    /// Confirmed: send this guarded correction through the engine's writer.
    Correct(Correction),
    /// Confirmed: ask the venue to cancel these orders.
    CancelAtVenue(Vec<VenueCancel>),
}

/// One difference, with its evidence and the action planned for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// The difference.
    pub mismatch: Mismatch,
    /// When it was first seen, unchanged since.
    pub first_seen: Timestamp,
    /// In how many consecutive venue answers.
    pub observations: u32,
    /// Whether the evidence is sufficient (the grace window has passed and the observations
    /// reach the class's threshold). Only confirmed findings are counted and acted on.
    pub confirmed: bool,
    /// What is done about it.
    pub action: Action,
}

impl Finding {
    /// Its class.
    pub fn class(&self) -> MismatchClass {
        self.mismatch.class()
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = if self.confirmed {
            "confirmed"
        } else {
            "suspected"
        };
        write!(
            f,
            "[{state}, {} since {}, seen {}x] {}",
            self.class(),
            self.first_seen,
            self.observations,
            self.mismatch
        )
    }
}

/// The result of one reconciliation: every finding, sorted, and the evidence to carry into the
/// next one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reconciliation {
    /// The time the diff was run for.
    pub now: Timestamp,
    /// The time the venue's answer was true as of.
    pub venue_as_of: Timestamp,
    /// How many live orders the book had.
    pub book_live_orders: u64,
    /// How many distinct orders the venue listed.
    pub venue_orders: usize,
    /// Every difference seen, confirmed or not, sorted by subject (orders by id, then slots by
    /// level, then the position) and class.
    pub findings: Vec<Finding>,
    /// The evidence after this reconciliation; pass it to the next one.
    pub evidence: Evidence,
}

impl Reconciliation {
    /// The confirmed findings.
    pub fn confirmed(&self) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(|finding| finding.confirmed)
    }

    /// How many confirmed findings of `class`.
    pub fn confirmed_count(&self, class: MismatchClass) -> usize {
        self.confirmed()
            .filter(|finding| finding.class() == class)
            .count()
    }

    /// The corrections to send, in finding order.
    pub fn corrections(&self) -> impl Iterator<Item = &Correction> {
        self.findings
            .iter()
            .filter_map(|finding| match &finding.action {
                Action::Correct(correction) => Some(correction),
                _ => None,
            })
    }

    /// The venue cancels to send, in finding order.
    pub fn venue_cancels(&self) -> impl Iterator<Item = &VenueCancel> {
        self.findings
            .iter()
            .filter_map(|finding| match &finding.action {
                Action::CancelAtVenue(cancels) => Some(cancels.as_slice()),
                _ => None,
            })
            .flatten()
    }

    /// Whether book and venue agree entirely (no finding, confirmed or not).
    pub fn is_clean(&self) -> bool {
        self.findings.is_empty()
    }
}
