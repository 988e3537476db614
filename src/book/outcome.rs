//! What applying a book command did, or why it was refused.

use crate::engine::Labelled;

use super::exact::ArithmeticError;
use super::transition::Event;
use super::types::{Level, OrderId, OrderStatus, Price, Quantity, Revision};

/// What an applied book command did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Applied {
    /// A new order was placed into its slot.
    Placed,
    /// An order moved to a new status (acknowledged, cancelled, expired, rejected by the venue).
    StatusChanged {
        /// Its status before.
        from: OrderStatus,
        /// Its status now.
        to: OrderStatus,
    },
    /// A fill moved the order's cumulative quantity and its slot's position.
    Filled {
        /// How much more filled (unsigned).
        delta: Quantity,
        /// The order's status now.
        status: OrderStatus,
    },
    /// A reconciliation correction was applied.
    Corrected {
        /// Which kind ([`Correction::kind`](super::Correction::kind)).
        kind: &'static str,
    },
    /// A report older than what is known; nothing changed (counted, not an error).
    Stale(StaleReason),
    /// The same report again; nothing changed.
    Duplicate,
}

/// Why a report was stale.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StaleReason {
    /// Its venue sequence is older than one already applied.
    OlderVenueSequence,
    /// Its cumulative filled quantity is below the known one.
    LowerCumulativeFill,
    /// The transition table calls it stale for the order's status (for example, an
    /// acknowledgement after a fill, or any status report after the order finished).
    Superseded,
}

impl Labelled for Applied {
    const LABELS: &'static [&'static str] = &[
        "placed",
        "status_changed",
        "filled",
        "corrected",
        "stale",
        "duplicate",
    ];

    fn label_index(&self) -> usize {
        match self {
            Applied::Placed => 0,
            Applied::StatusChanged { .. } => 1,
            Applied::Filled { .. } => 2,
            Applied::Corrected { .. } => 3,
            Applied::Stale(_) => 4,
            Applied::Duplicate => 5,
        }
    }
}

/// What a guarded correction's precondition was about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GuardTarget {
    /// An order's revision.
    Order(OrderId),
    /// A slot's revision.
    Slot(Level),
    /// The revision of the position adopted without orders.
    AdoptedPosition,
}

impl std::fmt::Display for GuardTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GuardTarget::Order(id) => write!(f, "order {id}"),
            GuardTarget::Slot(level) => write!(f, "slot {level}"),
            GuardTarget::AdoptedPosition => f.write_str("the adopted position"),
        }
    }
}

/// Why the book refused a command. A refused command changes nothing.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// No order with this id is known (never placed, or its tombstone has expired).
    #[error("unknown order {0}")]
    UnknownOrder(OrderId),
    /// An order with this id already exists (live or tombstoned).
    #[error("order id {0} is already in use")]
    DuplicateOrderId(OrderId),
    /// The slot already has a live order.
    #[error("slot {level} already has live order {live_order}")]
    SlotOccupied {
        /// The slot.
        level: Level,
        /// Its live order.
        live_order: OrderId,
    },
    /// A fill report above the order's quantity.
    #[error("order {order_id}: cumulative fill {cumulative} exceeds quantity {quantity}")]
    FillExceedsQuantity {
        /// The order.
        order_id: OrderId,
        /// The reported cumulative filled quantity.
        cumulative: Quantity,
        /// The order's quantity.
        quantity: Quantity,
    },
    /// A quantity that must be positive was zero or negative.
    #[error("quantity must be positive, got {0}")]
    NonPositiveQuantity(Quantity),
    /// A cumulative filled quantity below zero.
    #[error("cumulative filled quantity must not be negative, got {0}")]
    NegativeFill(Quantity),
    /// A price that must be positive was zero or negative.
    #[error("price must be positive, got {0}")]
    NonPositivePrice(Price),
    /// The price is not the slot's price.
    #[error("price {price} does not match slot {level} at {slot_price}")]
    PriceMismatch {
        /// The slot.
        level: Level,
        /// The price given.
        price: Price,
        /// The slot's price.
        slot_price: Price,
    },
    /// The level is not on the grid.
    #[error("level {0} is outside the grid")]
    LevelOutOfRange(Level),
    /// The transition table does not allow this event in the order's status.
    #[error("order {order_id}: {event:?} is not allowed when {from}")]
    TransitionNotAllowed {
        /// The order.
        order_id: OrderId,
        /// Its status.
        from: OrderStatus,
        /// What the command tried to do.
        event: Event,
    },
    /// A correction's precondition no longer holds: the state it was computed from has moved.
    #[error("stale correction: {target} is at {actual}, the correction expected {expected}")]
    StalePrecondition {
        /// What the precondition was about.
        target: GuardTarget,
        /// The revision the correction was computed from.
        expected: Revision,
        /// The revision now.
        actual: Revision,
    },
    /// A quantity or position would leave the decimal range.
    #[error("arithmetic overflow in quantity or position")]
    ArithmeticOverflow,
    /// A position adoption of zero: there is nothing to adopt.
    #[error("a position adoption must not be zero")]
    ZeroPositionAdoption,
    /// A quantity or position would be within range but could not be written exactly: it
    /// needs more significant digits than a decimal holds (a huge position and a fill with
    /// many digits after the point). The book never rounds a position.
    #[error("a quantity or position would need more digits than a decimal holds")]
    InexactArithmetic,
    /// A finished-order adoption ([`Correction::AdoptFinished`](super::Correction::AdoptFinished))
    /// whose status is not a finished one, or does not fit its fills: `filled` needs the whole
    /// quantity filled, `rejected` needs nothing filled.
    #[error(
        "order {order_id}: cannot adopt as finished in status {status} with {cumulative_filled} of {quantity} filled"
    )]
    InconsistentFinishedAdoption {
        /// The order.
        order_id: OrderId,
        /// The status it was to be adopted in.
        status: OrderStatus,
        /// Its cumulative filled quantity.
        cumulative_filled: Quantity,
        /// Its quantity.
        quantity: Quantity,
    },
}

impl Rejection {
    /// Whether the command was refused because a sum it makes is not an exact decimal
    /// (beyond the range, or needing more digits than a decimal holds).
    pub fn is_arithmetic(&self) -> bool {
        matches!(
            self,
            Rejection::ArithmeticOverflow | Rejection::InexactArithmetic
        )
    }

    /// Whether the command was refused because its precondition no longer holds (it was
    /// computed from a state that has moved on, or is a replay of one that took effect).
    pub fn is_stale_precondition(&self) -> bool {
        matches!(self, Rejection::StalePrecondition { .. })
    }
}

impl From<ArithmeticError> for Rejection {
    fn from(error: ArithmeticError) -> Self {
        match error {
            ArithmeticError::Overflow => Rejection::ArithmeticOverflow,
            ArithmeticError::Inexact => Rejection::InexactArithmetic,
        }
    }
}

impl Labelled for Rejection {
    const LABELS: &'static [&'static str] = &[
        "unknown_order",
        "duplicate_order_id",
        "slot_occupied",
        "fill_exceeds_quantity",
        "non_positive_quantity",
        "negative_fill",
        "non_positive_price",
        "price_mismatch",
        "level_out_of_range",
        "transition_not_allowed",
        "stale_precondition",
        "arithmetic_overflow",
        "zero_position_adoption",
        "inexact_arithmetic",
        "inconsistent_finished_adoption",
    ];

    fn label_index(&self) -> usize {
        match self {
            Rejection::UnknownOrder(_) => 0,
            Rejection::DuplicateOrderId(_) => 1,
            Rejection::SlotOccupied { .. } => 2,
            Rejection::FillExceedsQuantity { .. } => 3,
            Rejection::NonPositiveQuantity(_) => 4,
            Rejection::NegativeFill(_) => 5,
            Rejection::NonPositivePrice(_) => 6,
            Rejection::PriceMismatch { .. } => 7,
            Rejection::LevelOutOfRange(_) => 8,
            Rejection::TransitionNotAllowed { .. } => 9,
            Rejection::StalePrecondition { .. } => 10,
            Rejection::ArithmeticOverflow => 11,
            Rejection::ZeroPositionAdoption => 12,
            Rejection::InexactArithmetic => 13,
            Rejection::InconsistentFinishedAdoption { .. } => 14,
        }
    }
}
