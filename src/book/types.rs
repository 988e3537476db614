//! The book's value types: identifiers, sides, statuses, the price grid, orders and slots.

use std::fmt;

use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

use crate::time::Timestamp;

/// A price, exact in decimal.
pub type Price = Decimal;
/// A quantity, exact in decimal.
pub type Quantity = Decimal;

/// The book's (client) order identifier.
///
/// A `u64` keeps hashing and copying cheap. Venues with string client ids (Binance's
/// `clientOrderId`) are mapped onto these by the adapter that reads them, which keeps the
/// mapping for display.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(transparent))]
pub struct OrderId(pub u64);

impl fmt::Display for OrderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "o{}", self.0)
    }
}

/// A grid price level: the key of an inventory slot. Its price is
/// `grid.origin + level * grid.step`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(transparent))]
pub struct Level(pub i32);

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "L{}", self.0)
    }
}

/// How many times an order or a slot has changed: the precondition that a reconciliation
/// correction carries. It counts changes, so it reflects history; every other field of an order
/// depends only on which reports arrived, not on their order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(transparent))]
pub struct Revision(pub u64);

impl Revision {
    /// The revision of a slot that does not exist yet.
    pub const ABSENT: Revision = Revision(0);

    pub(crate) fn bump(&mut self) {
        self.0 += 1;
    }
}

impl fmt::Display for Revision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "r{}", self.0)
    }
}

/// Buy or sell.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum Side {
    /// Fills add to the position.
    Buy,
    /// Fills subtract from the position.
    Sell,
}

impl Side {
    /// `quantity` signed by this side: positive for a buy, negative for a sell.
    pub fn signed(self, quantity: Quantity) -> Quantity {
        match self {
            Side::Buy => quantity,
            Side::Sell => -quantity,
        }
    }
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Side::Buy => "buy",
            Side::Sell => "sell",
        })
    }
}

/// Where an order is in its life. `Pending`, `Open` and `PartiallyFilled` are live; the rest are
/// finished, and finished states are absorbing (see [`transition`](super::transition)).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum OrderStatus {
    /// Placed locally; the venue has not acknowledged it yet.
    Pending,
    /// Acknowledged by the venue, nothing filled.
    Open,
    /// Some, not all, of the quantity filled.
    PartiallyFilled,
    /// All of the quantity filled.
    Filled,
    /// Cancelled at the venue.
    Cancelled,
    /// Refused by the venue; it never traded.
    Rejected,
    /// Expired at the venue (time in force).
    Expired,
    /// Reconciliation found it missing at the venue for long enough to give up on it.
    Lost,
}

impl OrderStatus {
    /// Every status, in declaration order.
    pub const ALL: [OrderStatus; 8] = [
        OrderStatus::Pending,
        OrderStatus::Open,
        OrderStatus::PartiallyFilled,
        OrderStatus::Filled,
        OrderStatus::Cancelled,
        OrderStatus::Rejected,
        OrderStatus::Expired,
        OrderStatus::Lost,
    ];

    /// Whether the order may still trade.
    pub fn is_live(self) -> bool {
        matches!(
            self,
            OrderStatus::Pending | OrderStatus::Open | OrderStatus::PartiallyFilled
        )
    }

    /// Whether the order is done (the opposite of live).
    pub fn is_finished(self) -> bool {
        !self.is_live()
    }

    /// A stable snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Pending => "pending",
            OrderStatus::Open => "open",
            OrderStatus::PartiallyFilled => "partially_filled",
            OrderStatus::Filled => "filled",
            OrderStatus::Cancelled => "cancelled",
            OrderStatus::Rejected => "rejected",
            OrderStatus::Expired => "expired",
            OrderStatus::Lost => "lost",
        }
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for OrderStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The price grid: level `n` has price `origin + n * step`, for `lowest <= n <= highest`.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Grid {
    origin: Price,
    step: Price,
    lowest: Level,
    highest: Level,
}

/// Why a [`Grid`] could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GridError {
    /// The step between levels must be positive.
    #[error("grid step must be positive, got {0}")]
    NonPositiveStep(Price),
    /// The lowest level must not be above the highest.
    #[error("grid lowest level {lowest} is above highest level {highest}")]
    EmptyRange {
        /// The lowest level asked for.
        lowest: Level,
        /// The highest level asked for.
        highest: Level,
    },
    /// A level's price does not fit in a decimal.
    #[error("grid prices overflow the decimal range")]
    Overflow,
}

impl Grid {
    /// A grid of levels `lowest..=highest` with prices `origin + level * step`.
    ///
    /// # Errors
    ///
    /// A non-positive step, an empty range, or prices outside the decimal range.
    pub fn new(
        origin: Price,
        step: Price,
        lowest: Level,
        highest: Level,
    ) -> Result<Self, GridError> {
        if step <= Decimal::ZERO {
            return Err(GridError::NonPositiveStep(step));
        }
        if lowest > highest {
            return Err(GridError::EmptyRange { lowest, highest });
        }
        let grid = Self {
            origin,
            step,
            lowest,
            highest,
        };
        if grid.raw_price(lowest).is_none() || grid.raw_price(highest).is_none() {
            return Err(GridError::Overflow);
        }
        Ok(grid)
    }

    /// A grid of `levels` levels centred on `mid` (level 0 is `mid`).
    ///
    /// # Errors
    ///
    /// As for [`Grid::new`].
    pub fn centred(mid: Price, step: Price, levels: u32) -> Result<Self, GridError> {
        let half = i32::try_from(levels / 2).unwrap_or(i32::MAX);
        let lowest = Level(-half);
        let highest = Level(
            i32::try_from(levels.saturating_sub(1))
                .unwrap_or(i32::MAX)
                .saturating_sub(half),
        );
        Self::new(mid, step, lowest, highest)
    }

    /// Price of level 0.
    pub fn origin(&self) -> Price {
        self.origin
    }

    /// Distance between neighbouring levels.
    pub fn step(&self) -> Price {
        self.step
    }

    /// The lowest level.
    pub fn lowest(&self) -> Level {
        self.lowest
    }

    /// The highest level.
    pub fn highest(&self) -> Level {
        self.highest
    }

    /// How many levels the grid has.
    pub fn len(&self) -> u64 {
        (i64::from(self.highest.0) - i64::from(self.lowest.0) + 1).unsigned_abs()
    }

    /// Never true: a grid has at least one level.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Whether `level` is on the grid.
    pub fn contains(&self, level: Level) -> bool {
        self.lowest <= level && level <= self.highest
    }

    /// The price of `level`, or `None` off the grid.
    pub fn price_of(&self, level: Level) -> Option<Price> {
        if self.contains(level) {
            self.raw_price(level)
        } else {
            None
        }
    }

    fn raw_price(&self, level: Level) -> Option<Price> {
        self.step
            .checked_mul(Decimal::from(level.0))
            .and_then(|offset| self.origin.checked_add(offset))
    }

    /// The level whose price is exactly `price`, or `None` when the price lies between levels or
    /// outside the grid.
    pub fn level_of(&self, price: Price) -> Option<Level> {
        let offset = price.checked_sub(self.origin)?.checked_div(self.step)?;
        if !offset.fract().is_zero() {
            return None;
        }
        let level = Level(offset.to_i32()?);
        self.contains(level).then_some(level)
    }

    /// The level nearest to `price`, clamped to the grid (for classifying off-grid prices).
    pub fn nearest_level(&self, price: Price) -> Level {
        let offset = price
            .checked_sub(self.origin)
            .and_then(|difference| difference.checked_div(self.step))
            .map(|offset| offset.round())
            .unwrap_or(Decimal::ZERO);
        let raw = offset.to_i64().unwrap_or(if offset.is_sign_negative() {
            i64::MIN
        } else {
            i64::MAX
        });
        let clamped = raw.clamp(i64::from(self.lowest.0), i64::from(self.highest.0));
        Level(i32::try_from(clamped).unwrap_or(self.lowest.0))
    }

    /// Whether `price` lies within the grid's price range (on a level or between two).
    pub fn spans(&self, price: Price) -> bool {
        match (self.raw_price(self.lowest), self.raw_price(self.highest)) {
            (Some(low), Some(high)) => low <= price && price <= high,
            _ => false,
        }
    }
}

/// One order, as the book knows it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Order {
    pub(crate) id: OrderId,
    pub(crate) level: Level,
    pub(crate) side: Side,
    pub(crate) price: Price,
    pub(crate) quantity: Quantity,
    pub(crate) filled: Quantity,
    pub(crate) status: OrderStatus,
    pub(crate) revision: Revision,
    pub(crate) venue_seq: Option<u64>,
    pub(crate) placed_at: Timestamp,
    pub(crate) last_activity: Timestamp,
    pub(crate) finished_at: Option<Timestamp>,
    pub(crate) last_fill_price: Option<Price>,
    pub(crate) last_trade_id: Option<u64>,
    pub(crate) reconciled_fill: Quantity,
    pub(crate) adopted: bool,
}

impl Order {
    /// The order's id.
    pub fn id(&self) -> OrderId {
        self.id
    }
    /// The slot it belongs to.
    pub fn level(&self) -> Level {
        self.level
    }
    /// Buy or sell.
    pub fn side(&self) -> Side {
        self.side
    }
    /// Its limit price.
    pub fn price(&self) -> Price {
        self.price
    }
    /// Its total quantity.
    pub fn quantity(&self) -> Quantity {
        self.quantity
    }
    /// Cumulative filled quantity; never above [`quantity`](Self::quantity).
    pub fn filled(&self) -> Quantity {
        self.filled
    }
    /// Quantity still open (zero once finished).
    pub fn remaining(&self) -> Quantity {
        if self.status.is_live() {
            self.quantity - self.filled
        } else {
            Decimal::ZERO
        }
    }
    /// Where it is in its life.
    pub fn status(&self) -> OrderStatus {
        self.status
    }
    /// How many times it has changed; the precondition for corrections.
    pub fn revision(&self) -> Revision {
        self.revision
    }
    /// The highest venue sequence number seen in its reports, if any carried one.
    pub fn venue_seq(&self) -> Option<u64> {
        self.venue_seq
    }
    /// When it was placed (or adopted).
    pub fn placed_at(&self) -> Timestamp {
        self.placed_at
    }
    /// The latest time carried by a command that changed it (a maximum, so reports arriving out
    /// of order do not move it back).
    pub fn last_activity(&self) -> Timestamp {
        self.last_activity
    }
    /// When it finished, if it has.
    pub fn finished_at(&self) -> Option<Timestamp> {
        self.finished_at
    }
    /// Price of the fill that brought it to its current cumulative quantity, if reported.
    pub fn last_fill_price(&self) -> Option<Price> {
        self.last_fill_price
    }
    /// Trade id of the fill that brought it to its current cumulative quantity, if reported.
    pub fn last_trade_id(&self) -> Option<u64> {
        self.last_trade_id
    }
    /// How much of the filled quantity was added by reconciliation (a missed fill).
    pub fn reconciled_fill(&self) -> Quantity {
        self.reconciled_fill
    }
    /// Whether reconciliation adopted it from the venue rather than it being placed locally.
    pub fn is_adopted(&self) -> bool {
        self.adopted
    }
    /// Its filled quantity signed by side: its contribution to the position.
    pub fn signed_filled(&self) -> Quantity {
        self.side.signed(self.filled)
    }
}

/// One inventory slot: a grid level, at most one live order, and the position its fills built.
///
/// The slot holds its live order itself, so that a fill — which changes both the order and the
/// slot's position — changes one record of the book, not two (see `docs/benchmarks.md`).
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Slot {
    pub(crate) level: Level,
    pub(crate) price: Price,
    pub(crate) side: Side,
    /// The live order, if any. Finished orders leave the slot for the book's tombstones.
    pub(crate) live: Option<Order>,
    pub(crate) position: Quantity,
    /// Position contributed by orders whose tombstones have been purged from the index.
    pub(crate) retired_position: Quantity,
    pub(crate) revision: Revision,
}

impl Slot {
    pub(crate) fn new(level: Level, price: Price, side: Side) -> Self {
        Self {
            level,
            price,
            side,
            live: None,
            position: Decimal::ZERO,
            retired_position: Decimal::ZERO,
            revision: Revision::ABSENT,
        }
    }

    /// The grid level.
    pub fn level(&self) -> Level {
        self.level
    }
    /// The level's price.
    pub fn price(&self) -> Price {
        self.price
    }
    /// The side of its most recent order.
    pub fn side(&self) -> Side {
        self.side
    }
    /// The id of its live order, if any.
    pub fn live_order(&self) -> Option<OrderId> {
        self.live.as_ref().map(Order::id)
    }
    /// Its live order, if any.
    pub fn live(&self) -> Option<&Order> {
        self.live.as_ref()
    }
    /// Signed sum of all fills of all its orders (buy +, sell −).
    pub fn position(&self) -> Quantity {
        self.position
    }
    /// How many times it has changed; the precondition for adopting an order into it.
    pub fn revision(&self) -> Revision {
        self.revision
    }
}
