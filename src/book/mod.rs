//! The position book: inventory slots on a price grid, their orders, and the positions that
//! fills built.
//!
//! Pure, single-threaded code with no synchronisation: the engine's writer owns the working
//! copy, and every snapshot holds an immutable one. The book implements [`StateMachine`], so
//! [`Engine<Book>`](crate::engine::Engine) is the complete state engine.
//!
//! # Model
//!
//! * A [`Slot`] per grid [`Level`], created when the first order is placed into it. Each holds
//!   at most one live order and the position its fills built (buy +, sell −).
//! * Orders indexed by [`OrderId`]. Their statuses move through an explicit
//!   [transition table](transition); finished states are absorbing.
//! * The book's net position is kept incrementally, so reading it is O(1).
//! * Finished orders stay in the index as tombstones for a configurable retention (by the
//!   book's retention clock, below) and up to a maximum count, so that a late report about
//!   them is recognised as stale rather than unknown.
//!
//! # Glossary
//!
//! One word, one meaning, here and in every name of the book's API:
//!
//! * **live**: an order that may still trade, in status `pending`, `open` or
//!   `partially_filled` ([`OrderStatus::is_live`]); it sits in its slot.
//!   [`Book::live_orders`] lists them, [`Book::live_count`] counts them.
//! * **open**: only the status [`OrderStatus::Open`] (acknowledged, nothing filled). A venue's
//!   "open orders" query ([`Venue::open_orders`](crate::venue::Venue::open_orders)) answers
//!   with the orders the *venue* holds live.
//! * **finished**: an order that can no longer trade (`filled`, `cancelled`, `rejected`,
//!   `expired`, `lost`; [`OrderStatus::is_finished`]). Finished states are absorbing. Finishing
//!   *vacates* the order's slot.
//! * **tombstone**: a finished order still kept in the index, so that late reports about it
//!   are recognised.
//! * **purged**: a tombstone removed from the index after its retention (or beyond the maximum
//!   count); its fills stay in its slot's position (as the slot's *purged position*), and
//!   reports about it are then unknown.
//! * **position**: the signed sum of fills (buy +, sell −), of a slot or of the book (*net*);
//!   **gross**: the sum of the slots' absolute positions.
//!
//! ("Working" is not used. "Retired" belongs to the engine, where it names a replaced version
//! a reader still holds.)
//!
//! # Exact arithmetic
//!
//! A position is never rounded. `Decimal` holds a 96-bit mantissa and up to 28 digits after
//! the point, and its own addition rounds a result that needs more digits. The book adds with
//! an exact addition instead: a command whose effect on any sum the book keeps (a slot's
//! position, the net position, an order's filled, remaining and reconciled quantities) cannot
//! be written exactly is refused as [`Rejection::InexactArithmetic`] (or
//! [`Rejection::ArithmeticOverflow`] beyond the range), and changes nothing. So every accepted
//! command keeps the invariants below exactly, whatever the scales of the quantities.
//!
//! # Time
//!
//! `apply` reads no clock: the journal recovers a book by replaying its commands, so the book
//! is a function of the commands alone. Its notion of now, the *retention clock*
//! ([`Book::latest_activity`]), follows the times the commands carry, but no single command can
//! move it far: each command that changes the book moves it towards the command's time, never
//! back, and by at most [`BookConfig::max_clock_step`] (the first command that changes an
//! empty book sets it, since a clock stepping from the epoch would never reach the present)
//! ([`Timestamp::step_towards`](crate::time::Timestamp::step_towards)). A tombstone expires
//! when the retention clock passes its finishing time (on that same clock) plus the retention.
//! So a command stamped years ahead (a venue bug, milliseconds read as nanoseconds) moves the
//! clock by one step, and with the default step (1 minute) well below the default retention
//! (5 minutes), recently finished orders stay known and their late duplicates stay
//! duplicates. A true jump ahead is caught up at one step per command; until then tombstones
//! are kept longer, the safe side, still bounded by [`BookConfig::max_tombstones`]. Adapters
//! with a wall clock should also refuse implausible stamps at the edge with
//! [`TimeBounds`](crate::time::TimeBounds).
//!
//! # Layout
//!
//! A live order is kept inside its slot, with an index from order id to slot beside them;
//! finished orders move to their own map. A fill changes an order and its slot's position
//! together, so it changes one record. The slots are an array indexed by the level's offset in
//! the grid (with [`Persistent`] storage a radix tree whose leaves hold the slots inline,
//! `LevelArray`): after a publication the writer copies a leaf of slots once, and changes it
//! in place for the rest of the batch. The order index (id to level) and the finished orders
//! are order-id maps (`ids.rs`): a ring indexed by the id's low bits, which holds the dense
//! window of recent ids that venues assigning ids in order produce, with a hash map beside it
//! for the ids that do not fit (sparse, out of order, or older than the ring). Each finished
//! order is behind its own reference count, so a held snapshot keeps alive only those that
//! changed. `docs/benchmarks.md` records what each of these choices bought.
//!
//! # Invariants
//!
//! (`docs/architecture.md`, invariant 4; [`Book::check_invariants`] verifies them.)
//!
//! 1. For every order, `0 ≤ filled ≤ quantity`.
//! 2. A slot's position equals the signed sum of the fills of its orders (including those whose
//!    tombstones were purged).
//! 3. The book's net position equals the sum of its slots' positions plus the position
//!    adopted from the venue without orders ([`AdoptedPosition`]).
//! 4. A slot has at most one live order, and every live order is its slot's live order.
//!
//! And for commands (`docs/architecture.md`, invariants 3, 6 and 7):
//!
//! * A rejected command changes nothing. A stale or duplicate report changes nothing and is
//!   counted ([`Applied::Stale`], [`Applied::Duplicate`]).
//! * Applying the same report twice equals applying it once; cumulative fills merge by maximum,
//!   so the order in which one order's fill reports arrive does not change the final state
//!   (only [`Revision`], which counts changes, records the history).
//! * A correction applies only if the order's (or slot's) revision is still the one it was
//!   computed from; otherwise it is rejected as [`Rejection::StalePrecondition`].
//!
//! # Example
//!
//! ```
//! use snapstate::Decimal;
//! use snapstate::book::{Book, BookCommand, BookConfig, FillReport, Grid, Level, OrderId, Place,
//!     Side, StatusReport};
//! use snapstate::time::Timestamp;
//!
//! let grid = Grid::new(Decimal::new(100, 0), Decimal::new(5, 1), Level(-10), Level(10))?;
//! let mut book = Book::new(BookConfig::new(grid));
//! let at = Timestamp::from_millis(1);
//! book.apply(&BookCommand::Place(Place {
//!     order_id: OrderId(1), level: Level(-2), side: Side::Buy,
//!     price: Decimal::new(99, 0), quantity: Decimal::new(3, 0), at,
//! }))?;
//! book.apply(&BookCommand::Acknowledge(StatusReport { order_id: OrderId(1), venue_seq: Some(1), at }))?;
//! let fill = BookCommand::Fill(FillReport {
//!     order_id: OrderId(1), cumulative_filled: Decimal::new(2, 0),
//!     fill_price: None, trade_id: None, venue_seq: Some(2), at,
//! });
//! book.apply(&fill)?;
//! book.apply(&fill)?; // a duplicate changes nothing
//! assert_eq!(book.net_position(), Decimal::new(2, 0));
//! assert_eq!(book.slot(Level(-2)).map(|slot| slot.position()), Some(Decimal::new(2, 0)));
//! book.check_invariants()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#[cfg(test)]
mod adoption_tests;
mod apply;
mod command;
mod compact;
mod digest;
mod durable;
mod exact;
mod ids;
mod invariants;
mod levels;
mod outcome;
mod position;
#[cfg(test)]
mod properties;
mod query;
mod storage;
#[cfg(test)]
mod strategies;
#[cfg(test)]
mod tests;
#[cfg(all(test, not(loom)))]
mod through_engine;
pub mod transition;
mod types;

use std::time::Duration;

use rust_decimal::Decimal;

use crate::engine::StateMachine;
use crate::sync::Arc;
use crate::time::Timestamp;
use ids::IdMapOps;
use storage::{LevelMapOps, QueueOps};

pub use command::{
    Adoption, BookCommand, Correction, FillReport, FinishedAdoption, Place, StatusReport,
};
pub use digest::StateDigest;
pub use exact::ArithmeticError;
pub use invariants::InvariantViolation;
pub use outcome::{Applied, GuardTarget, Rejection, StaleReason};
pub use position::{ADOPT_POSITION_KIND, AdoptedPosition, PositionAdoption, PositionAdoptionId};
pub use storage::{Persistent, Standard, Storage};
pub use transition::{Event, Transition};
pub use types::{
    Grid, GridError, Level, Order, OrderId, OrderStatus, Price, Quantity, Revision, Side, Slot,
};

/// Configuration of a [`Book`]: the grid, the tombstone limits and the retention clock's step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BookConfig {
    /// The price grid; orders may only be placed on its levels at their exact prices.
    pub grid: Grid,
    /// How long a finished order stays in the index (by the time the commands carry), so that
    /// late reports about it are recognised as stale. Default 5 minutes.
    pub tombstone_retention: Duration,
    /// The most finished orders kept; the oldest are purged first beyond it. Default 100,000.
    pub max_tombstones: usize,
    /// The most one command moves the book's retention clock forward (see the module's
    /// "Time" section). Keep it well below [`tombstone_retention`](Self::tombstone_retention):
    /// a command stamped far ahead then cannot expire the tombstones of orders that finished
    /// just before it. Default 1 minute.
    pub max_clock_step: Duration,
}

impl BookConfig {
    /// The default tombstone retention.
    pub const DEFAULT_TOMBSTONE_RETENTION: Duration = Duration::from_secs(300);
    /// The default maximum number of tombstones.
    pub const DEFAULT_MAX_TOMBSTONES: usize = 100_000;
    /// The default maximum step of the retention clock per command.
    pub const DEFAULT_MAX_CLOCK_STEP: Duration = Duration::from_secs(60);

    /// A configuration for `grid` with default tombstone limits.
    pub fn new(grid: Grid) -> Self {
        Self {
            grid,
            tombstone_retention: Self::DEFAULT_TOMBSTONE_RETENTION,
            max_tombstones: Self::DEFAULT_MAX_TOMBSTONES,
            max_clock_step: Self::DEFAULT_MAX_CLOCK_STEP,
        }
    }
}

/// The position book.
///
/// With the default [`Persistent`] storage it is cheap to clone (every collection in it shares
/// structure), which is what the engine needs. [`Standard`] storage runs the same logic on
/// `std` collections, for comparison benchmarks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Book<S: Storage = Persistent> {
    config: Arc<BookConfig>,
    /// Every slot an order was ever placed into, each holding its live order.
    slots: S::Levels<Slot>,
    /// The slot of every live order: the index from order id to where the order is.
    live: S::Ids<Level>,
    /// Finished orders, kept as tombstones until they are purged.
    finished: S::IdRecords<Order>,
    /// Finished orders in the order they finished, for purging.
    tombstones: S::Queue<(Timestamp, OrderId)>,
    /// The net position includes this; no slot does (see [`AdoptedPosition`]).
    net_position: Quantity,
    /// The position adopted from the venue without orders, and its guard.
    adopted: AdoptedPosition,
    status_counts: [u64; OrderStatus::ALL.len()],
    /// The retention clock: the book's notion of now, moved by each command that changed the
    /// book towards its `at`, by at most `max_clock_step`.
    latest_activity: Timestamp,
}

impl Book<Persistent> {
    /// An empty book with persistent storage (the engine's).
    pub fn new(config: BookConfig) -> Self {
        Self::with_storage(config)
    }
}

impl<S: Storage> Book<S> {
    /// An empty book with the storage `S`.
    pub fn with_storage(config: BookConfig) -> Self {
        let slots = LevelMapOps::for_range(config.grid.lowest(), config.grid.highest());
        // A slot holds at most one live order; the tombstones are bounded by their maximum.
        let levels = usize::try_from(config.grid.len()).unwrap_or(usize::MAX);
        let tombstones = config.max_tombstones;
        Self {
            config: Arc::new(config),
            slots,
            live: IdMapOps::for_expected(levels),
            finished: IdMapOps::for_expected(tombstones),
            tombstones: QueueOps::empty(),
            net_position: Decimal::ZERO,
            adopted: AdoptedPosition::default(),
            status_counts: [0; OrderStatus::ALL.len()],
            latest_activity: Timestamp::EPOCH,
        }
    }
}

impl StateMachine for Book {
    type Command = BookCommand;
    type Applied = Applied;
    type Rejected = Rejection;

    fn apply(&mut self, command: &BookCommand) -> Result<Applied, Rejection> {
        Book::apply(self, command)
    }
}
