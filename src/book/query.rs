//! Read-only queries on a book (usually the one inside a snapshot).
//!
//! Lists come back sorted (by level, or by order id), never in hash-map order, so anything a
//! person or a test observes is deterministic (`docs/architecture.md`, invariant 8).

use crate::time::Timestamp;

use super::exact::{ArithmeticError, ExactSum};
use super::storage::{LevelMapOps, MapOps, QueueOps, Storage};
use super::types::{Level, Order, OrderId, OrderStatus, Quantity, Slot};
use super::{Book, BookConfig};

impl<S: Storage> Book<S> {
    /// The configuration the book was built with.
    pub fn config(&self) -> &BookConfig {
        &self.config
    }

    /// The slot at `level`, if an order was ever placed there.
    pub fn slot(&self, level: Level) -> Option<&Slot> {
        self.slots.get(level)
    }

    /// The order with `id`, live or tombstoned.
    pub fn order(&self, id: OrderId) -> Option<&Order> {
        match self.live.get(&id) {
            Some(&level) => self.slots.get(level).and_then(Slot::live),
            None => self.finished.get(&id),
        }
    }

    /// Every slot, lowest level (lowest price) first. O(n): the slots are stored by level.
    pub fn slots_by_price(&self) -> Vec<&Slot> {
        let slots: Vec<&Slot> = self.slots.values().collect();
        debug_assert!(slots.is_sorted_by_key(|slot| slot.level), "stored by level");
        slots
    }

    /// Every live order (pending, open or partially filled), by id. O(slots + k log k) for k
    /// live orders.
    pub fn live_orders(&self) -> Vec<&Order> {
        let mut live: Vec<&Order> = self.slots.values().filter_map(Slot::live).collect();
        live.sort_unstable_by_key(|order| order.id);
        live
    }

    /// Every order in the index (live and tombstoned), by id.
    pub fn orders_by_id(&self) -> Vec<&Order> {
        let mut orders: Vec<&Order> = self.orders_unordered().collect();
        orders.sort_unstable_by_key(|order| order.id);
        orders
    }

    /// Every order in the index, in no particular order (for aggregate computations that do
    /// not depend on order). O(n), no allocation.
    pub fn orders_unordered(&self) -> impl Iterator<Item = &Order> {
        self.slots
            .values()
            .filter_map(Slot::live)
            .chain(self.finished.values())
    }

    /// Every slot, in no particular order (in fact by level, but callers that need an order
    /// should ask for it: [`slots_by_price`](Self::slots_by_price)). O(n), no allocation.
    pub fn slots_unordered(&self) -> impl Iterator<Item = &Slot> {
        self.slots.values()
    }

    /// The book's net position: the sum of every slot's position. O(1).
    pub fn net_position(&self) -> Quantity {
        self.net_position
    }

    /// How many orders in the index have `status`. O(1).
    pub fn count(&self, status: OrderStatus) -> u64 {
        self.status_counts[status.index()]
    }

    /// Order counts for every status, in [`OrderStatus::ALL`] order. O(1).
    pub fn status_counts(&self) -> [(OrderStatus, u64); OrderStatus::ALL.len()] {
        OrderStatus::ALL.map(|status| (status, self.count(status)))
    }

    /// How many live orders the book has: the size of its index of live orders. O(1).
    pub fn live_count(&self) -> usize {
        self.live.len()
    }

    /// How many slots exist.
    pub fn slot_count(&self) -> usize {
        self.slots.len()
    }

    /// How many orders are in the index (live and tombstoned).
    pub fn order_count(&self) -> usize {
        self.live.len() + self.finished.len()
    }

    /// How many finished orders are kept as tombstones.
    pub fn tombstone_count(&self) -> usize {
        self.tombstones.len()
    }

    /// The book's retention clock: the time the commands that changed the book carried, as
    /// followed step by step (never back, at most [`BookConfig::max_clock_step`] per command;
    /// see the module's "Time" section). Tombstones expire by it.
    pub fn latest_activity(&self) -> Timestamp {
        self.latest_activity
    }

    /// Sum of every slot's absolute position: the gross inventory, exact. O(slots).
    ///
    /// # Errors
    ///
    /// [`ArithmeticError::Overflow`] when the sum is beyond [`Decimal`]'s range (a book with
    /// offsetting positions near `Decimal::MAX` on two slots has a net position in range but a
    /// gross one beyond it), [`ArithmeticError::Inexact`] when it needs more digits than a
    /// decimal holds. The book itself is fine in either case; only this figure cannot be a
    /// decimal.
    ///
    /// [`Decimal`]: rust_decimal::Decimal
    pub fn gross_position(&self) -> Result<Quantity, ArithmeticError> {
        self.slots
            .values()
            .map(|slot| slot.position().abs())
            .collect::<ExactSum>()
            .total()
    }
}
