//! The book's state digest: SHA-256 over a canonical encoding of everything the book holds.
//!
//! Recovery (a checkpoint plus the journal replayed through `apply`) uses it to check that the
//! book it rebuilt is the book it saved. The digest depends only on the book's contents, as
//! [`Book`]'s `==` compares them, never on hash-map order, the storage, the platform or the
//! run: two books are equal exactly when their digests are (up to SHA-256 collisions).
//!
//! # Canonical encoding (version 1)
//!
//! Integers are big-endian and fixed-width; a decimal is written without trailing zeros (so
//! `2.50` and `2.5`, equal as decimals, encode alike) as its scale (one byte) and its mantissa
//! (a 16-byte two's-complement `i128`), zero as scale 0 and mantissa 0; an optional value is a
//! byte 0 (absent) or 1 followed by the value; a duration or timestamp is its nanoseconds as a
//! `u64` (saturating); a side is 0 (buy) or 1 (sell); a status is its index in
//! [`OrderStatus::ALL`]. In this order:
//!
//! 1. the tag `snapstate.book.v1` and a zero byte;
//! 2. the configuration: grid origin, step, lowest and highest level (`i32`), tombstone
//!    retention, maximum tombstones (`u64`), maximum clock step;
//! 3. the retention clock ([`Book::latest_activity`]), the net position, the adopted position
//!    ([`Book::adopted_position`]: its total, its revision as a `u64` and its optional last
//!    adoption id as a `u64`), and the eight status counts in [`OrderStatus::ALL`] order;
//! 4. the number of slots (`u64`), then each slot, lowest level first: level, price, side,
//!    revision, position, purged position, and its live order as an optional order;
//! 5. the number of tombstones (`u64`), then each finished order by ascending id;
//! 6. the tombstone queue, oldest first: for each, its retention-clock time and order id
//!    (the queue decides what is purged next, so it is part of the state).
//!
//! An order is: id, level, side, status, revision, price, quantity, filled, reconciled fill,
//! optional venue sequence, placed at, last activity, optional finished at, optional last fill
//! price, optional last trade id, adopted (one byte). The index from live order to slot is not
//! written: it follows from the slots (invariant 4).

use std::fmt;

use rust_decimal::Decimal;
use sha2::{Digest, Sha256};

use crate::time::Timestamp;

use super::Book;
use super::storage::{LevelMapOps, MapOps, QueueOps, Storage};
use super::types::{Order, OrderStatus, Side, Slot};

/// A SHA-256 digest of a book's canonical contents ([`Book::state_digest`]).
///
/// It displays as 64 lowercase hexadecimal digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StateDigest([u8; 32]);

impl StateDigest {
    /// A digest from its 32 bytes (as read back from a checkpoint).
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// Its 32 bytes.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Display for StateDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for byte in self.0 {
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for StateDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StateDigest({self})")
    }
}

/// The canonical encoder: writes each value into the hash as the module docs describe.
struct Encoder(Sha256);

impl Encoder {
    fn bytes(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
    fn byte(&mut self, byte: u8) {
        self.bytes(&[byte]);
    }
    fn u64(&mut self, value: u64) {
        self.bytes(&value.to_be_bytes());
    }
    fn i32(&mut self, value: i32) {
        self.bytes(&value.to_be_bytes());
    }
    fn count(&mut self, count: usize) {
        self.u64(u64::try_from(count).unwrap_or(u64::MAX));
    }
    fn time(&mut self, at: Timestamp) {
        self.u64(at.as_nanos());
    }
    fn duration(&mut self, duration: std::time::Duration) {
        self.u64(u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX));
    }
    fn decimal(&mut self, value: Decimal) {
        let value = if value.is_zero() {
            Decimal::ZERO
        } else {
            value.normalize()
        };
        // A scale is at most 28, so it fits a byte.
        self.byte(u8::try_from(value.scale()).unwrap_or(u8::MAX));
        self.bytes(&value.mantissa().to_be_bytes());
    }
    fn optional<T>(&mut self, value: Option<T>, write: impl FnOnce(&mut Self, T)) {
        match value {
            None => self.byte(0),
            Some(value) => {
                self.byte(1);
                write(self, value);
            }
        }
    }
    fn side(&mut self, side: Side) {
        self.byte(match side {
            Side::Buy => 0,
            Side::Sell => 1,
        });
    }
    fn status(&mut self, status: OrderStatus) {
        self.byte(u8::try_from(status.index()).unwrap_or(u8::MAX));
    }
    fn order(&mut self, order: &Order) {
        self.u64(order.id.0);
        self.i32(order.level.0);
        self.side(order.side);
        self.status(order.status);
        self.u64(order.revision.0);
        for amount in [
            order.price(),
            order.quantity(),
            order.filled(),
            order.reconciled_fill(),
        ] {
            self.decimal(amount);
        }
        self.optional(order.venue_seq(), Self::u64);
        self.time(order.placed_at);
        self.time(order.last_activity);
        self.optional(order.finished_at(), Self::time);
        self.optional(order.last_fill_price(), Self::decimal);
        self.optional(order.last_trade_id(), Self::u64);
        self.byte(u8::from(order.is_adopted()));
    }
    fn slot(&mut self, slot: &Slot) {
        self.i32(slot.level.0);
        self.decimal(slot.price());
        self.side(slot.side);
        self.u64(slot.revision.0);
        self.decimal(slot.position());
        self.decimal(slot.purged_position());
        self.optional(slot.live.as_ref(), Self::order);
    }
}

impl<S: Storage> Book<S> {
    /// A digest of the book's contents: SHA-256 over the canonical encoding in the `digest`
    /// module's docs (configuration, every slot, live and finished orders, positions, counts,
    /// the retention clock and the tombstone queue), sorted, never in hash-map order. O(n).
    ///
    /// Equal books have equal digests, whatever their storage, the order of the commands that
    /// built them, the run or the platform; a book that differs in anything `==` compares has
    /// another digest. Recovery compares the digest of a rebuilt book with the one saved.
    ///
    /// ```
    /// use snapstate::Decimal;
    /// use snapstate::book::{Book, BookConfig, Grid};
    ///
    /// let grid = Grid::centred(Decimal::new(100, 0), Decimal::ONE, 11)?;
    /// let book = Book::new(BookConfig::new(grid));
    /// assert_eq!(book.state_digest(), book.clone().state_digest());
    /// assert_eq!(book.state_digest().to_string().len(), 64);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn state_digest(&self) -> StateDigest {
        let mut encoder = Encoder(Sha256::new());
        encoder.bytes(b"snapstate.book.v1\0");
        let config = self.config();
        encoder.decimal(config.grid.origin());
        encoder.decimal(config.grid.step());
        encoder.i32(config.grid.lowest().0);
        encoder.i32(config.grid.highest().0);
        encoder.duration(config.tombstone_retention);
        encoder.count(config.max_tombstones);
        encoder.duration(config.max_clock_step);
        encoder.time(self.latest_activity);
        encoder.decimal(self.net_position);
        let adopted = self.adopted_position();
        encoder.decimal(adopted.total());
        encoder.u64(adopted.revision().0);
        encoder.optional(adopted.last_id(), |encoder, id| encoder.u64(id.0));
        for count in self.status_counts {
            encoder.u64(count);
        }
        encoder.count(self.slots.len());
        for slot in self.slots.values() {
            encoder.slot(slot);
        }
        let mut finished: Vec<&Order> = self.finished.values().collect();
        finished.sort_unstable_by_key(|order| order.id);
        encoder.count(finished.len());
        for order in finished {
            encoder.order(order);
        }
        encoder.count(self.tombstones.len());
        for &(at, order_id) in self.tombstones.iter() {
            encoder.time(at);
            encoder.u64(order_id.0);
        }
        StateDigest(encoder.0.finalize().into())
    }
}
