//! The book's invariants (`docs/architecture.md`, invariant 4), checked in full. O(n): for
//! tests, the simulation and the benchmarks' readers, not for the hot path.

use std::collections::HashMap;

use rust_decimal::Decimal;

use super::Book;
use super::exact::ExactSum;
use super::storage::{MapOps, Storage};
use super::types::{Level, Order, OrderId, OrderStatus, Quantity, Slot};

/// An invariant that a book broke. Any of these is a bug in the book, never bad input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvariantViolation {
    /// An order's filled quantity is negative or above its quantity.
    #[error("order {order_id}: filled {filled} outside 0..={quantity}")]
    FilledOutOfRange {
        /// The order.
        order_id: OrderId,
        /// Its filled quantity.
        filled: Quantity,
        /// Its quantity.
        quantity: Quantity,
    },
    /// A slot's position is not the signed sum of its orders' fills.
    #[error("slot {level}: position {position} but its fills sum to {fills}")]
    SlotPosition {
        /// The slot.
        level: Level,
        /// Its recorded position.
        position: Quantity,
        /// The signed sum of its orders' fills.
        fills: Quantity,
    },
    /// The net position is not the sum of the slots' positions and the adopted position.
    #[error("net position {net} but slots and the adopted position sum to {slots}")]
    NetPosition {
        /// The recorded net position.
        net: Quantity,
        /// The sum of slot positions.
        slots: Quantity,
    },
    /// Positions that the check adds up (a slot's fills, or the slots' positions: `level` is
    /// `None`) sum to a value that is not a [`Decimal`] (beyond its range, or needing more
    /// digits than it holds), so it cannot be the position the book recorded. The check adds
    /// exactly, in any order.
    #[error(
        "positions sum to a value a decimal cannot hold (slot {level:?}; none: the net position)"
    )]
    SumOverflow {
        /// The slot, or `None` for the sum of every slot's position.
        level: Option<Level>,
    },
    /// A live order is not its slot's live order, or a slot points at an order that is not
    /// live.
    #[error("slot {level} and order {order_id} disagree about which order is live")]
    LiveOrderMismatch {
        /// The slot.
        level: Level,
        /// The order.
        order_id: OrderId,
    },
    /// The incremental status counts disagree with a recount.
    #[error("status {status}: counted {counted}, found {found}")]
    StatusCount {
        /// The status.
        status: OrderStatus,
        /// The incremental count.
        counted: u64,
        /// The recount.
        found: u64,
    },
}

impl<S: Storage> Book<S> {
    /// Checks every invariant of the book in full.
    ///
    /// # Errors
    ///
    /// The first [`InvariantViolation`] found.
    pub fn check_invariants(&self) -> Result<(), InvariantViolation> {
        let mut fills_by_level: HashMap<Level, Vec<Quantity>> = HashMap::new();
        let mut found = [0_u64; OrderStatus::ALL.len()];
        for order in self.orders_by_id() {
            let (filled, quantity) = (order.filled(), order.quantity());
            if filled < Decimal::ZERO || filled > quantity {
                return Err(InvariantViolation::FilledOutOfRange {
                    order_id: order.id,
                    filled,
                    quantity,
                });
            }
            fills_by_level
                .entry(order.level)
                .or_default()
                .push(order.signed_filled());
            found[order.status.index()] += 1;
        }
        let mut positions = Vec::new();
        for slot in self.slots_by_price() {
            let orders = fills_by_level.remove(&slot.level).unwrap_or_default();
            let fills = orders
                .into_iter()
                .chain([slot.purged_position()])
                .collect::<ExactSum>()
                .total()
                .map_err(|_| InvariantViolation::SumOverflow {
                    level: Some(slot.level),
                })?;
            if fills != slot.position() {
                return Err(InvariantViolation::SlotPosition {
                    level: slot.level,
                    position: slot.position(),
                    fills,
                });
            }
            positions.push(slot.position());
            self.check_live_order(slot)?;
        }
        positions.push(self.adopted.total());
        let slot_sum = positions
            .into_iter()
            .collect::<ExactSum>()
            .total()
            .map_err(|_| InvariantViolation::SumOverflow { level: None })?;
        self.check_live_index()?;
        if slot_sum != self.net_position {
            return Err(InvariantViolation::NetPosition {
                net: self.net_position,
                slots: slot_sum,
            });
        }
        for status in OrderStatus::ALL {
            let counted = self.count(status);
            if counted != found[status.index()] {
                return Err(InvariantViolation::StatusCount {
                    status,
                    counted,
                    found: found[status.index()],
                });
            }
        }
        Ok(())
    }

    /// A slot's live order (a slot holds at most one by construction) is live, belongs to
    /// the slot, and is indexed there.
    fn check_live_order(&self, slot: &Slot) -> Result<(), InvariantViolation> {
        let Some(order) = &slot.live else {
            return Ok(());
        };
        let indexed = self.live.get(&order.id) == Some(&slot.level);
        if !order.status.is_live() || order.level != slot.level || !indexed {
            return Err(InvariantViolation::LiveOrderMismatch {
                level: slot.level,
                order_id: order.id,
            });
        }
        Ok(())
    }

    /// Every indexed live order is its slot's live order, and no tombstone is live or indexed.
    fn check_live_index(&self) -> Result<(), InvariantViolation> {
        let mut indexed: Vec<(OrderId, Level)> = self
            .live
            .entries()
            .map(|(&order_id, &level)| (order_id, level))
            .collect();
        indexed.sort_unstable();
        for (order_id, level) in indexed {
            if self.slot(level).and_then(Slot::live_order) != Some(order_id) {
                return Err(InvariantViolation::LiveOrderMismatch { level, order_id });
            }
        }
        let mut misplaced: Vec<&Order> = self
            .finished
            .values()
            .filter(|order| order.status.is_live() || self.live.contains_key(&order.id))
            .collect();
        misplaced.sort_unstable_by_key(|order| order.id);
        if let Some(order) = misplaced.first() {
            return Err(InvariantViolation::LiveOrderMismatch {
                level: order.level,
                order_id: order.id,
            });
        }
        Ok(())
    }
}
