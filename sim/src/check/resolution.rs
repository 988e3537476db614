//! How an injected fault was resolved: the mechanism that absorbed it or repaired what it
//! broke, as observed in the run (never assumed from its kind).

use std::fmt;

use snapstate::book::{Applied, Rejection, StaleReason};
use snapstate::engine::Labelled;
use snapstate::reconcile::MismatchClass;

/// What became of one injected fault. Sorted by declaration order in reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Resolution {
    /// A late or overtaken update still changed the book when it arrived (cumulative fills
    /// merge by maximum, a fill after a cancel merges into the finished order).
    AppliedOnArrival,
    /// The book ignored a delivery as a repeat of what it already had.
    IgnoredAsDuplicate,
    /// The book ignored a delivery as older than what it already had.
    IgnoredAsStale(StaleKind),
    /// A later venue update carried what a lost update said: a higher cumulative fill, or any
    /// update that moved a pending order on (which implies the lost acknowledgement).
    SupersededByLaterUpdate,
    /// The reconciler repaired what a lost update said, with a correction of this kind
    /// ([`Correction::kind`](snapstate::book::Correction::kind)), confirmed as this class.
    Corrected {
        /// The mismatch class that confirmed the difference.
        class: MismatchClass,
        /// The correction sent.
        kind: &'static str,
    },
    /// The book already knew what a lost update said when it was lost.
    AlreadyKnown,
    /// An order left out of an answer that the book already had finished with the same fills:
    /// the diff does not look for finished orders, so nothing changed.
    OmittedNoEffect,
    /// An order left out of an answer that the book had finished with fewer fills: the missed
    /// fill was not seen in that answer, so its evidence started again at the next.
    OmittedDelayedMissedFill,
    /// An order left out of an answer that the book still had live: counted as one absence,
    /// suspected missing, no action.
    OmittedCountedAsAbsence,
    /// As [`OmittedCountedAsAbsence`](Self::OmittedCountedAsAbsence), and it was the absence
    /// that confirmed the order missing: marked lost (the venue had finished it).
    OmittedConfirmedMissing,
    /// An order left out of an answer no newer than the book's last change to it: not an
    /// observation at all.
    OmittedNotAnObservation,
    /// A query that failed or timed out: the cycle ended, no evidence changed (checked), and
    /// the next cycle asked again.
    NoAnswerRetriedNextCycle,
    /// The book refused the delivery with this reason: a defect, which fails the run.
    Rejected(&'static str),
    /// Nothing resolved it by the end of the run: a defect, which fails the run.
    Unresolved,
}

/// Why the book ignored a delivery as stale ([`StaleReason`], ordered for reports).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum StaleKind {
    /// Its venue sequence was older than one already applied.
    OlderVenueSequence,
    /// Its cumulative fill was below the known one.
    LowerCumulativeFill,
    /// The transition table calls it stale for the order's status.
    Superseded,
}

impl From<StaleReason> for StaleKind {
    fn from(reason: StaleReason) -> Self {
        match reason {
            StaleReason::OlderVenueSequence => StaleKind::OlderVenueSequence,
            StaleReason::LowerCumulativeFill => StaleKind::LowerCumulativeFill,
            StaleReason::Superseded => StaleKind::Superseded,
        }
    }
}

impl Resolution {
    /// What the book's answer to a delivered update says about the fault it carried.
    pub(crate) fn of_delivery(result: &Result<Applied, Rejection>) -> Self {
        match result {
            Ok(Applied::Duplicate) => Resolution::IgnoredAsDuplicate,
            Ok(Applied::Stale(reason)) => Resolution::IgnoredAsStale((*reason).into()),
            Ok(_) => Resolution::AppliedOnArrival,
            Err(rejection) => Resolution::Rejected(rejection.label()),
        }
    }

    /// Whether this resolution means the run is broken.
    pub fn is_defect(self) -> bool {
        matches!(self, Resolution::Rejected(_) | Resolution::Unresolved)
    }
}

impl fmt::Display for Resolution {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Resolution::AppliedOnArrival => f.write_str("applied on arrival"),
            Resolution::IgnoredAsDuplicate => f.write_str("ignored as duplicate"),
            Resolution::IgnoredAsStale(StaleKind::OlderVenueSequence) => {
                f.write_str("ignored as stale (older venue sequence)")
            }
            Resolution::IgnoredAsStale(StaleKind::LowerCumulativeFill) => {
                f.write_str("ignored as stale (lower cumulative fill)")
            }
            Resolution::IgnoredAsStale(StaleKind::Superseded) => {
                f.write_str("ignored as stale (superseded)")
            }
            Resolution::SupersededByLaterUpdate => f.write_str("superseded by a later update"),
            Resolution::Corrected { class, kind } => write!(f, "corrected: {kind} ({class})"),
            Resolution::AlreadyKnown => f.write_str("already known"),
            Resolution::OmittedNoEffect => f.write_str("no effect (book had it finished)"),
            Resolution::OmittedDelayedMissedFill => f.write_str("missed-fill evidence restarted"),
            Resolution::OmittedCountedAsAbsence => f.write_str("counted as one absence"),
            Resolution::OmittedConfirmedMissing => f.write_str("confirmed missing, marked lost"),
            Resolution::OmittedNotAnObservation => f.write_str("not an observation"),
            Resolution::NoAnswerRetriedNextCycle => {
                f.write_str("no answer: evidence unchanged, retried next cycle")
            }
            Resolution::Rejected(label) => write!(f, "REJECTED by the book ({label})"),
            Resolution::Unresolved => f.write_str("UNRESOLVED"),
        }
    }
}
