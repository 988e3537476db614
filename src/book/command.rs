//! What the book's writer applies: local placements, venue reports, and guarded corrections.

use crate::time::Timestamp;

use super::position::PositionAdoption;
use super::types::{Level, OrderId, OrderStatus, Price, Quantity, Revision, Side};

/// One command for the position book.
///
/// Every command carries `at`, the time at which it happened (the local clock for placements
/// and corrections, the venue's event time or the local receive time for reports). The book
/// never reads a clock; `at` feeds each order's last-activity time (the reconciler's grace
/// window) and the tombstone retention.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(tag = "type", rename_all = "snake_case"))]
pub enum BookCommand {
    /// Place a new order into a slot (sent to the venue, not yet acknowledged).
    Place(Place),
    /// The venue acknowledged the order (it rests on the book).
    Acknowledge(StatusReport),
    /// The venue reported fills, as the order's cumulative filled quantity.
    Fill(FillReport),
    /// The venue cancelled the order.
    Cancel(StatusReport),
    /// The venue refused the order.
    Reject(StatusReport),
    /// The order expired at the venue.
    Expire(StatusReport),
    /// A reconciliation correction, applied only if its precondition still holds.
    Correct(Correction),
    /// A position the venue reports and no fill explains, adopted by the startup
    /// reconciliation, applied only if its precondition still holds; about no order.
    AdoptPosition(PositionAdoption),
}

impl BookCommand {
    /// The command's type, as its serde form (the native replay format) names it: `place`,
    /// `acknowledge`, `fill`, `cancel`, `reject`, `expire`, `correct` or `adopt_position`.
    pub fn kind(&self) -> &'static str {
        match self {
            BookCommand::Place(_) => "place",
            BookCommand::Acknowledge(_) => "acknowledge",
            BookCommand::Fill(_) => "fill",
            BookCommand::Cancel(_) => "cancel",
            BookCommand::Reject(_) => "reject",
            BookCommand::Expire(_) => "expire",
            BookCommand::Correct(_) => "correct",
            BookCommand::AdoptPosition(_) => "adopt_position",
        }
    }

    /// The order this command is about; `None` for a position adoption, which is about none.
    pub fn order_id(&self) -> Option<OrderId> {
        match self {
            BookCommand::Place(place) => Some(place.order_id),
            BookCommand::Acknowledge(report)
            | BookCommand::Cancel(report)
            | BookCommand::Reject(report)
            | BookCommand::Expire(report) => Some(report.order_id),
            BookCommand::Fill(fill) => Some(fill.order_id),
            BookCommand::Correct(correction) => Some(correction.order_id()),
            BookCommand::AdoptPosition(_) => None,
        }
    }

    /// When it happened.
    pub fn at(&self) -> Timestamp {
        match self {
            BookCommand::Place(place) => place.at,
            BookCommand::Acknowledge(report)
            | BookCommand::Cancel(report)
            | BookCommand::Reject(report)
            | BookCommand::Expire(report) => report.at,
            BookCommand::Fill(fill) => fill.at,
            BookCommand::Correct(correction) => correction.at(),
            BookCommand::AdoptPosition(adoption) => adoption.at,
        }
    }
}

/// A new order for a slot.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Place {
    /// The new order's id; must not be known to the book (live or tombstoned).
    pub order_id: OrderId,
    /// The slot; must be on the grid and have no live order.
    pub level: Level,
    /// Buy or sell.
    pub side: Side,
    /// Must equal the slot's price.
    #[cfg_attr(
        feature = "serde",
        serde(deserialize_with = "crate::decimal::serde::deserialize")
    )]
    pub price: Price,
    /// Must be positive.
    #[cfg_attr(
        feature = "serde",
        serde(deserialize_with = "crate::decimal::serde::deserialize")
    )]
    pub quantity: Quantity,
    /// When it was placed.
    pub at: Timestamp,
}

/// A venue report that changes only an order's status.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct StatusReport {
    /// The order reported on.
    pub order_id: OrderId,
    /// The venue's sequence for this order's reports, if it has one (an update id, or a
    /// transaction time). A status report older than the newest known one is stale.
    #[cfg_attr(feature = "serde", serde(default))]
    pub venue_seq: Option<u64>,
    /// When it happened.
    pub at: Timestamp,
}

/// A venue fill report, carrying the order's *cumulative* filled quantity.
///
/// Cumulative reports merge by maximum: a report at or below the known cumulative quantity is a
/// duplicate or stale and changes nothing, so duplicated and reordered fill reports give the
/// same final state. A report above it is applied even when its venue sequence is older than
/// the newest status report: a fill that happened cannot be undone, and dropping it would lose
/// position.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct FillReport {
    /// The order reported on.
    pub order_id: OrderId,
    /// Total filled so far; at most the order's quantity.
    #[cfg_attr(
        feature = "serde",
        serde(deserialize_with = "crate::decimal::serde::deserialize")
    )]
    pub cumulative_filled: Quantity,
    /// Price of the execution that brought the order to this total, if reported.
    #[cfg_attr(
        feature = "serde",
        serde(
            default,
            deserialize_with = "crate::decimal::serde::deserialize_option"
        )
    )]
    pub fill_price: Option<Price>,
    /// The venue's trade id for that execution, if reported.
    #[cfg_attr(feature = "serde", serde(default))]
    pub trade_id: Option<u64>,
    /// The venue's sequence for this order's reports, if it has one.
    #[cfg_attr(feature = "serde", serde(default))]
    pub venue_seq: Option<u64>,
    /// When it happened.
    pub at: Timestamp,
}

/// A correction computed by reconciliation from one snapshot.
///
/// Each carries the revision of the order (or slot) that the diff saw. The writer applies it
/// only if that revision is still current; otherwise it is rejected as
/// [`Rejection::StalePrecondition`](super::Rejection::StalePrecondition), because the state it
/// was computed from has moved on (`docs/architecture.md`, invariant 6).
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(
    feature = "serde",
    serde(tag = "correction", rename_all = "snake_case")
)]
pub enum Correction {
    /// The venue reports more filled than the book: apply the difference, flagged as coming
    /// from reconciliation.
    MissedFill {
        /// The order.
        order_id: OrderId,
        /// The order's revision in the snapshot the diff used.
        expected: Revision,
        /// The venue's cumulative filled quantity.
        #[cfg_attr(
            feature = "serde",
            serde(deserialize_with = "crate::decimal::serde::deserialize")
        )]
        cumulative_filled: Quantity,
        /// When the correction was decided.
        at: Timestamp,
    },
    /// The venue lists as open an order the book still thinks pending: apply the missed
    /// acknowledgement.
    MissedAcknowledge {
        /// The order.
        order_id: OrderId,
        /// The order's revision in the snapshot the diff used.
        expected: Revision,
        /// When the correction was decided.
        at: Timestamp,
    },
    /// The venue has not listed a live order for long enough: mark it lost (finished).
    MarkLost {
        /// The order.
        order_id: OrderId,
        /// The order's revision in the snapshot the diff used.
        expected: Revision,
        /// When the correction was decided.
        at: Timestamp,
    },
    /// The venue lists a live order in the grid that the book does not know: adopt it into its
    /// slot.
    Adopt(Adoption),
    /// The venue lists a *finished* order in the grid that the book never knew, with fills:
    /// adopt it as a tombstone of its slot, so that its fills are in the slot's and the net
    /// position and the book knows what they belong to (see [`FinishedAdoption`]).
    AdoptFinished(FinishedAdoption),
}

/// A venue order to adopt into its slot (see [`Correction::Adopt`]).
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Adoption {
    /// The venue order's (client) id.
    pub order_id: OrderId,
    /// The slot it belongs to.
    pub level: Level,
    /// Its side.
    pub side: Side,
    /// Its price; must equal the slot's price.
    #[cfg_attr(
        feature = "serde",
        serde(deserialize_with = "crate::decimal::serde::deserialize")
    )]
    pub price: Price,
    /// Its quantity.
    #[cfg_attr(
        feature = "serde",
        serde(deserialize_with = "crate::decimal::serde::deserialize")
    )]
    pub quantity: Quantity,
    /// What the venue says has filled.
    #[cfg_attr(
        feature = "serde",
        serde(deserialize_with = "crate::decimal::serde::deserialize")
    )]
    pub cumulative_filled: Quantity,
    /// The slot's revision in the snapshot the diff used ([`Revision::ABSENT`] if the slot did
    /// not exist).
    pub expected: Revision,
    /// When the correction was decided.
    pub at: Timestamp,
}

/// A finished venue order to adopt as a tombstone of its slot (see
/// [`Correction::AdoptFinished`]).
///
/// The startup reconciliation sends one for each finished order, at a level's exact price,
/// that the venue still lists with fills and the book never knew (its placement was lost with a
/// journal's tail, or it finished before the book existed). The book then holds the order as it
/// would had it seen the order trade: finished, in its slot, its fills in the slot's position
/// and the net position. So the continuous diff, while the venue still lists the order, finds
/// it in the book with the same fills instead of counting its fills again as explained by an
/// order the book does not know; and the tombstone is purged like any other.
///
/// **Preconditions**, each refused as
/// [`Rejection::StalePrecondition`](super::Rejection::StalePrecondition): the book does not
/// know the order, and its slot's revision is still `expected`. The slot guard is what makes
/// the adoption idempotent: applied, it moves the slot's revision, so the same adoption again
/// is stale, even once its tombstone has been purged and the order is unknown again. Unlike
/// [`Adoption`], it needs no vacant slot: a finished order takes no place in its slot, and a
/// live order there stays as it is. Each adoption moves its slot's revision by exactly one, so
/// the startup pass adopts several finished orders into one slot in one round with expected
/// revisions `r`, `r + 1`, … in order.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct FinishedAdoption {
    /// The venue order's (client) id.
    pub order_id: OrderId,
    /// The slot it belongs to.
    pub level: Level,
    /// Its side.
    pub side: Side,
    /// Its price; must equal the slot's price.
    #[cfg_attr(
        feature = "serde",
        serde(deserialize_with = "crate::decimal::serde::deserialize")
    )]
    pub price: Price,
    /// Its quantity; must be positive.
    #[cfg_attr(
        feature = "serde",
        serde(deserialize_with = "crate::decimal::serde::deserialize")
    )]
    pub quantity: Quantity,
    /// What the venue says has filled, at most `quantity`.
    #[cfg_attr(
        feature = "serde",
        serde(deserialize_with = "crate::decimal::serde::deserialize")
    )]
    pub cumulative_filled: Quantity,
    /// Its final status: a finished one that fits its fills (`filled` only when filled in
    /// whole, `rejected` only with nothing filled); otherwise
    /// [`Rejection::InconsistentFinishedAdoption`](super::Rejection::InconsistentFinishedAdoption).
    pub status: OrderStatus,
    /// The slot's revision the adoption was computed for ([`Revision::ABSENT`] if the slot did
    /// not exist).
    pub expected: Revision,
    /// When the correction was decided (its placement and finishing time in the book).
    pub at: Timestamp,
}

impl Correction {
    /// The order the correction is about.
    pub fn order_id(&self) -> OrderId {
        match self {
            Correction::MissedFill { order_id, .. }
            | Correction::MissedAcknowledge { order_id, .. }
            | Correction::MarkLost { order_id, .. } => *order_id,
            Correction::Adopt(adoption) => adoption.order_id,
            Correction::AdoptFinished(adoption) => adoption.order_id,
        }
    }

    /// When it was decided.
    pub fn at(&self) -> Timestamp {
        match self {
            Correction::MissedFill { at, .. }
            | Correction::MissedAcknowledge { at, .. }
            | Correction::MarkLost { at, .. } => *at,
            Correction::Adopt(adoption) => adoption.at,
            Correction::AdoptFinished(adoption) => adoption.at,
        }
    }

    /// The revision precondition it carries: an order's, or for an adoption its slot's.
    pub fn expected(&self) -> Revision {
        match self {
            Correction::MissedFill { expected, .. }
            | Correction::MissedAcknowledge { expected, .. }
            | Correction::MarkLost { expected, .. } => *expected,
            Correction::Adopt(adoption) => adoption.expected,
            Correction::AdoptFinished(adoption) => adoption.expected,
        }
    }

    /// A stable snake_case name for the kind of correction.
    pub fn kind(&self) -> &'static str {
        match self {
            Correction::MissedFill { .. } => "missed_fill",
            Correction::MissedAcknowledge { .. } => "missed_acknowledge",
            Correction::MarkLost { .. } => "mark_lost",
            Correction::Adopt(_) => "adopt",
            Correction::AdoptFinished(_) => "adopt_finished",
        }
    }
}
