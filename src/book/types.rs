//! The book's value types: identifiers, sides, statuses, the price grid, orders and slots.

use std::fmt;

use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

use crate::time::Timestamp;

use super::compact::Decimals;

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
    ///
    /// Zero stays plain zero: negating a decimal zero would give `-0`, which compares equal to
    /// zero but prints as `-0` in positions and reports.
    pub fn signed(self, quantity: Quantity) -> Quantity {
        match self {
            Side::Buy => quantity,
            Side::Sell if quantity.is_zero() => Decimal::ZERO,
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
    /// A grid of zero levels was asked for; a grid has at least one.
    #[error("a grid needs at least one level")]
    NoLevels,
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

    /// A grid of exactly `levels` levels centred on `mid` (level 0 is `mid`): levels
    /// `-(levels / 2) ..= (levels - 1) - levels / 2`, so an even count has one more level
    /// below `mid` than above. Every `u32` count fits the levels' `i32` range.
    ///
    /// # Errors
    ///
    /// [`GridError::NoLevels`] for zero levels; otherwise as for [`Grid::new`] (a
    /// non-positive step, or prices beyond the decimal range). Nothing is clamped.
    pub fn centred(mid: Price, step: Price, levels: u32) -> Result<Self, GridError> {
        if levels == 0 {
            return Err(GridError::NoLevels);
        }
        // In i64, where neither bound can overflow; both then fit an i32 (checked, not
        // clamped: a count that did not fit would be an error, not another grid).
        let half = i64::from(levels / 2);
        let highest = i64::from(levels) - 1 - half;
        let level = |value: i64| {
            i32::try_from(value)
                .map(Level)
                .map_err(|_| GridError::Overflow)
        };
        let grid = Self::new(mid, step, level(-half)?, level(highest)?)?;
        debug_assert_eq!(
            grid.len(),
            u64::from(levels),
            "exactly the levels asked for"
        );
        Ok(grid)
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
///
/// Stored compactly: optional values as a value and a presence bit, and the five decimals in
/// 8 bytes each when they fit (see `compact.rs`); the accessors give the same values as plain
/// fields would, and equality, `Debug` and the serde form are those of the plain fields.
#[derive(Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(from = "OrderFields", into = "OrderFields"))]
pub struct Order {
    pub(crate) id: OrderId,
    pub(crate) revision: Revision,
    pub(crate) placed_at: Timestamp,
    pub(crate) last_activity: Timestamp,
    /// Meaningful only with `HAS_VENUE_SEQ`; zero otherwise, so that equality can compare it.
    venue_seq: u64,
    /// Meaningful only with `HAS_TRADE_ID`; zero otherwise.
    last_trade_id: u64,
    /// Meaningful only with `HAS_FINISHED_AT`; the epoch otherwise.
    finished_at: Timestamp,
    /// Price, quantity, filled, last fill price (zero unless `HAS_FILL_PRICE`), reconciled fill.
    amounts: Decimals<5>,
    pub(crate) level: Level,
    pub(crate) side: Side,
    pub(crate) status: OrderStatus,
    flags: u8,
}

const PRICE: usize = 0;
const QUANTITY: usize = 1;
const FILLED: usize = 2;
const LAST_FILL_PRICE: usize = 3;
const RECONCILED_FILL: usize = 4;

const ADOPTED: u8 = 1;
const HAS_VENUE_SEQ: u8 = 1 << 1;
const HAS_TRADE_ID: u8 = 1 << 2;
const HAS_FINISHED_AT: u8 = 1 << 3;
const HAS_FILL_PRICE: u8 = 1 << 4;

/// An order's fields, plainly: how orders are built, shown and serialised.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub(crate) struct OrderFields {
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

impl From<OrderFields> for Order {
    fn from(fields: OrderFields) -> Self {
        let mut order = Self {
            id: fields.id,
            revision: fields.revision,
            placed_at: fields.placed_at,
            last_activity: fields.last_activity,
            venue_seq: 0,
            last_trade_id: 0,
            finished_at: Timestamp::EPOCH,
            amounts: Decimals::new([
                fields.price,
                fields.quantity,
                fields.filled,
                Decimal::ZERO,
                fields.reconciled_fill,
            ]),
            level: fields.level,
            side: fields.side,
            status: fields.status,
            flags: if fields.adopted { ADOPTED } else { 0 },
        };
        order.set_venue_seq(fields.venue_seq);
        order.set_last_fill(fields.last_fill_price, fields.last_trade_id);
        if let Some(at) = fields.finished_at {
            order.set_finished_at(at);
        }
        order
    }
}

impl From<Order> for OrderFields {
    fn from(order: Order) -> Self {
        Self {
            id: order.id,
            level: order.level,
            side: order.side,
            price: order.price(),
            quantity: order.quantity(),
            filled: order.filled(),
            status: order.status,
            revision: order.revision,
            venue_seq: order.venue_seq(),
            placed_at: order.placed_at,
            last_activity: order.last_activity,
            finished_at: order.finished_at(),
            last_fill_price: order.last_fill_price(),
            last_trade_id: order.last_trade_id(),
            reconciled_fill: order.reconciled_fill(),
            adopted: order.is_adopted(),
        }
    }
}

impl fmt::Debug for Order {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let fields = OrderFields::from(self.clone());
        f.debug_struct("Order")
            .field("id", &fields.id)
            .field("level", &fields.level)
            .field("side", &fields.side)
            .field("price", &fields.price)
            .field("quantity", &fields.quantity)
            .field("filled", &fields.filled)
            .field("status", &fields.status)
            .field("revision", &fields.revision)
            .field("venue_seq", &fields.venue_seq)
            .field("placed_at", &fields.placed_at)
            .field("last_activity", &fields.last_activity)
            .field("finished_at", &fields.finished_at)
            .field("last_fill_price", &fields.last_fill_price)
            .field("last_trade_id", &fields.last_trade_id)
            .field("reconciled_fill", &fields.reconciled_fill)
            .field("adopted", &fields.adopted)
            .finish()
    }
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
        self.amounts.get(PRICE)
    }
    /// Its total quantity.
    pub fn quantity(&self) -> Quantity {
        self.amounts.get(QUANTITY)
    }
    /// Cumulative filled quantity; never above [`quantity`](Self::quantity).
    pub fn filled(&self) -> Quantity {
        self.amounts.get(FILLED)
    }
    /// Quantity still open (zero once finished).
    pub fn remaining(&self) -> Quantity {
        if self.status.is_live() {
            self.quantity() - self.filled()
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
        (self.flags & HAS_VENUE_SEQ != 0).then_some(self.venue_seq)
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
        (self.flags & HAS_FINISHED_AT != 0).then_some(self.finished_at)
    }
    /// Price of the fill that brought it to its current cumulative quantity, if reported.
    pub fn last_fill_price(&self) -> Option<Price> {
        (self.flags & HAS_FILL_PRICE != 0).then(|| self.amounts.get(LAST_FILL_PRICE))
    }
    /// Trade id of the fill that brought it to its current cumulative quantity, if reported.
    pub fn last_trade_id(&self) -> Option<u64> {
        (self.flags & HAS_TRADE_ID != 0).then_some(self.last_trade_id)
    }
    /// How much of the filled quantity was added by reconciliation (a missed fill).
    pub fn reconciled_fill(&self) -> Quantity {
        self.amounts.get(RECONCILED_FILL)
    }
    /// Whether reconciliation adopted it from the venue rather than it being placed locally.
    pub fn is_adopted(&self) -> bool {
        self.flags & ADOPTED != 0
    }
    /// Its filled quantity signed by side: its contribution to the position.
    pub fn signed_filled(&self) -> Quantity {
        self.side.signed(self.filled())
    }

    pub(crate) fn set_filled(&mut self, filled: Quantity) {
        self.amounts.set(FILLED, filled);
    }

    pub(crate) fn set_reconciled_fill(&mut self, reconciled_fill: Quantity) {
        self.amounts.set(RECONCILED_FILL, reconciled_fill);
    }

    pub(crate) fn set_venue_seq(&mut self, venue_seq: Option<u64>) {
        self.venue_seq = venue_seq.unwrap_or(0);
        self.set_flag(HAS_VENUE_SEQ, venue_seq.is_some());
    }

    /// Records the price and trade id of the fill that brought the order to its cumulative
    /// quantity (each `None` if the report did not carry it).
    pub(crate) fn set_last_fill(&mut self, price: Option<Price>, trade_id: Option<u64>) {
        self.amounts
            .set(LAST_FILL_PRICE, price.unwrap_or(Decimal::ZERO));
        self.set_flag(HAS_FILL_PRICE, price.is_some());
        self.last_trade_id = trade_id.unwrap_or(0);
        self.set_flag(HAS_TRADE_ID, trade_id.is_some());
    }

    pub(crate) fn set_finished_at(&mut self, at: Timestamp) {
        self.finished_at = at;
        self.set_flag(HAS_FINISHED_AT, true);
    }

    fn set_flag(&mut self, flag: u8, on: bool) {
        if on {
            self.flags |= flag;
        } else {
            self.flags &= !flag;
        }
    }
}

/// One inventory slot: a grid level, at most one live order, and the position its fills built.
///
/// The slot holds its live order itself, so that a fill — which changes both the order and the
/// slot's position — changes one record of the book, not two (see `docs/benchmarks.md`). Its
/// decimals are stored compactly, as an [`Order`]'s are.
#[derive(Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(from = "SlotFields", into = "SlotFields"))]
pub struct Slot {
    pub(crate) level: Level,
    pub(crate) side: Side,
    pub(crate) revision: Revision,
    /// Price, position, and the position contributed by orders whose tombstones have been
    /// purged from the index.
    amounts: Decimals<3>,
    /// The live order, if any. Finished orders leave the slot for the book's tombstones.
    pub(crate) live: Option<Order>,
}

const SLOT_PRICE: usize = 0;
const POSITION: usize = 1;
const PURGED_POSITION: usize = 2;

/// A slot's fields, plainly: how slots are shown and serialised.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub(crate) struct SlotFields {
    level: Level,
    price: Price,
    side: Side,
    live: Option<Order>,
    position: Quantity,
    purged_position: Quantity,
    revision: Revision,
}

impl From<SlotFields> for Slot {
    fn from(fields: SlotFields) -> Self {
        Self {
            level: fields.level,
            side: fields.side,
            revision: fields.revision,
            amounts: Decimals::new([fields.price, fields.position, fields.purged_position]),
            live: fields.live,
        }
    }
}

impl From<Slot> for SlotFields {
    fn from(slot: Slot) -> Self {
        Self {
            level: slot.level,
            price: slot.price(),
            side: slot.side,
            position: slot.position(),
            purged_position: slot.purged_position(),
            revision: slot.revision,
            live: slot.live,
        }
    }
}

impl fmt::Debug for Slot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Slot")
            .field("level", &self.level)
            .field("price", &self.price())
            .field("side", &self.side)
            .field("live", &self.live)
            .field("position", &self.position())
            .field("purged_position", &self.purged_position())
            .field("revision", &self.revision)
            .finish()
    }
}

impl Slot {
    pub(crate) fn new(level: Level, price: Price, side: Side) -> Self {
        Self {
            level,
            side,
            revision: Revision::ABSENT,
            amounts: Decimals::new([price, Decimal::ZERO, Decimal::ZERO]),
            live: None,
        }
    }

    /// The grid level.
    pub fn level(&self) -> Level {
        self.level
    }
    /// The level's price.
    pub fn price(&self) -> Price {
        self.amounts.get(SLOT_PRICE)
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
        self.amounts.get(POSITION)
    }
    /// How many times it has changed; the precondition for adopting an order into it.
    pub fn revision(&self) -> Revision {
        self.revision
    }

    /// The part of the position that orders purged from the tombstones contributed.
    pub(crate) fn purged_position(&self) -> Quantity {
        self.amounts.get(PURGED_POSITION)
    }

    pub(crate) fn set_position(&mut self, position: Quantity) {
        self.amounts.set(POSITION, position);
    }

    pub(crate) fn set_purged_position(&mut self, purged_position: Quantity) {
        self.amounts.set(PURGED_POSITION, purged_position);
    }
}
