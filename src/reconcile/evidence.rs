//! Evidence across reconciliation cycles: for each difference still seen, when it was first seen
//! and in how many consecutive venue answers.
//!
//! # Rules
//!
//! 1. Evidence is kept per subject (an order, a slot, the net position) and class.
//! 2. A difference seen again, with nothing changed on either side, adds one observation.
//! 3. Any fresh activity resets it: a new local revision of the order, a new venue update time,
//!    a different set of orders on a slot, a different unexplained position. The difference
//!    then starts again from one observation, first seen now.
//! 4. A difference not seen in an answer is forgotten: observations must be consecutive.
//! 5. Only a venue answer changes evidence. A failed or timed-out query is not an answer: the
//!    reconciler does not call the diff at all, so nothing is counted and nothing is forgotten.
//!
//! Evidence lives in the reconciler, not in the book: it is about what the reconciler has
//! observed of the venue, which the book neither needs nor should carry through every snapshot,
//! and keeping it outside keeps the book's state a pure function of its commands.

use std::collections::BTreeMap;

use crate::book::{OrderId, Quantity, Revision};
use crate::time::Timestamp;

use super::{MismatchClass, Subject};

/// What a difference was computed from; a change means fresh activity (rule 3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Fingerprint {
    /// An order: its local revision (if the book knows it) and the venue's last update time (if
    /// the venue lists it).
    Order {
        local: Option<Revision>,
        venue: Option<Timestamp>,
    },
    /// A slot: the venue's live orders on it and the latest of their update times.
    Slot {
        orders: Vec<OrderId>,
        latest_update: Timestamp,
    },
    /// The net position: the unexplained difference.
    Position(Quantity),
}

/// The evidence about one difference.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Observation {
    first_seen: Timestamp,
    observations: u32,
    fingerprint: Fingerprint,
}

impl Observation {
    /// When the reconciler first saw this difference, unchanged since.
    pub fn first_seen(&self) -> Timestamp {
        self.first_seen
    }

    /// In how many consecutive venue answers it has been seen (for a missing order: how many
    /// consecutive answers left it out).
    pub fn observations(&self) -> u32 {
        self.observations
    }

    /// The evidence after seeing the difference with `fingerprint` at `now` (rules 2 and 3).
    pub(crate) fn next(
        previous: Option<&Observation>,
        fingerprint: Fingerprint,
        now: Timestamp,
    ) -> Self {
        match previous {
            Some(previous) if previous.fingerprint == fingerprint => Self {
                first_seen: previous.first_seen,
                observations: previous.observations.saturating_add(1),
                fingerprint,
            },
            _ => Self {
                first_seen: now,
                observations: 1,
                fingerprint,
            },
        }
    }
}

/// Every difference the reconciler is still watching, keyed and iterated in sorted order.
///
/// Bounded by what the last answer showed: at most one entry per class for each listed or live
/// order, each slot and the position, since every difference not seen again is dropped.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Evidence {
    entries: BTreeMap<(Subject, MismatchClass), Observation>,
}

impl Evidence {
    /// No evidence: what a reconciler starts with.
    pub fn new() -> Self {
        Self::default()
    }

    /// The evidence about `subject` in `class`, if that difference is being watched.
    pub fn get(&self, subject: Subject, class: MismatchClass) -> Option<&Observation> {
        self.entries.get(&(subject, class))
    }

    /// How many differences are being watched.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Every watched difference, by subject then class.
    pub fn iter(&self) -> impl Iterator<Item = (Subject, MismatchClass, &Observation)> {
        self.entries
            .iter()
            .map(|((subject, class), observation)| (*subject, *class, observation))
    }

    pub(crate) fn insert(
        &mut self,
        subject: Subject,
        class: MismatchClass,
        observation: Observation,
    ) {
        self.entries.insert((subject, class), observation);
    }
}
