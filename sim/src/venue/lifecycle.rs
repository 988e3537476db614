//! The venue's order life cycle: the price's random walk, matching and fills, finishing
//! orders, and sending each change as an update.

use rand::RngExt;
use rust_decimal::{Decimal, RoundingStrategy};

use snapstate::book::{BookCommand, FillReport, OrderId, Place, Price, Side, StatusReport};

use super::outbox::FaultContext;
use super::{FaultKind, FaultSubject, SimulatedVenue};
use snapstate::venue::VenueOrderStatus;

impl SimulatedVenue {
    pub(super) fn step_price(&mut self) {
        let step = self.config.price_step;
        self.price = if self.market_rng.random_bool(0.5) {
            self.price + step
        } else {
            (self.price - step).max(step)
        };
        self.next_price_move_at = self
            .config
            .price_interval
            .map(|interval| self.now.saturating_add(interval));
        self.match_crossing();
    }

    pub(super) fn crosses(&self, side: Side, price: Price) -> bool {
        match side {
            Side::Buy => price >= self.price,
            Side::Sell => price <= self.price,
        }
    }

    /// Fills, once each, every resting order the current price crosses: buys from the lowest
    /// crossing price up, then sells from the lowest price up (each set in price, then id,
    /// order).
    pub(super) fn match_crossing(&mut self) {
        let crossing: Vec<OrderId> = self
            .bids
            .range((self.price, OrderId(0))..)
            .chain(self.asks.range(..=(self.price, OrderId(u64::MAX))))
            .map(|(_, order_id)| *order_id)
            .collect();
        for order_id in crossing {
            self.fill_once(order_id);
        }
    }

    pub(super) fn fill_once(&mut self, order_id: OrderId) {
        let partial = self
            .market_rng
            .random_bool(self.config.partial_fill_probability);
        let Some(kept) = self.orders.get_mut(&order_id) else {
            return;
        };
        let order = &mut kept.order;
        let remaining = order.quantity - order.filled;
        let half = (remaining / Decimal::TWO)
            .round_dp_with_strategy(order.quantity.scale(), RoundingStrategy::ToZero);
        let amount = if partial && !half.is_zero() {
            half
        } else {
            remaining
        };
        order.filled += amount;
        order.updated_at = self.now;
        let complete = order.filled == order.quantity;
        order.status = if complete {
            VenueOrderStatus::Filled
        } else {
            VenueOrderStatus::PartiallyFilled
        };
        let (side, price, cumulative) = (order.side, order.price, order.filled);
        self.net_position += side.signed(amount);
        let trade_id = self.next_trade_id;
        self.next_trade_id += 1;
        self.fill_history.record(snapstate::venue::VenueFill {
            trade_id,
            order_id,
            side,
            price,
            quantity: amount,
            cumulative_filled: cumulative,
            at: self.now,
        });
        if complete {
            self.close(order_id);
        }
        let venue_seq = self.bump_seq(order_id);
        let update = BookCommand::Fill(FillReport {
            order_id,
            cumulative_filled: cumulative,
            fill_price: Some(price),
            trade_id: Some(trade_id),
            venue_seq: Some(venue_seq),
            at: self.now,
        });
        let only_in_view = self.fault_record.draw(
            &mut self.fault_rng,
            self.config.faults.fill_only_in_view_rate,
            FaultKind::FillOnlyInView,
            self.now,
            || FaultSubject::Update(update.clone()),
        );
        if !only_in_view {
            self.emit(update);
        }
    }

    /// Moves a live order to a finished status now (or records a refused one) and sends the
    /// update.
    pub(super) fn finish(&mut self, order_id: OrderId, status: VenueOrderStatus) {
        let Some(kept) = self.orders.get_mut(&order_id) else {
            return;
        };
        kept.order.status = status;
        kept.order.updated_at = self.now;
        self.close(order_id);
        let report = StatusReport {
            order_id,
            venue_seq: Some(self.bump_seq(order_id)),
            at: self.now,
        };
        self.emit(match status {
            VenueOrderStatus::Cancelled => BookCommand::Cancel(report),
            VenueOrderStatus::Expired => BookCommand::Expire(report),
            VenueOrderStatus::Rejected => BookCommand::Reject(report),
            // Fills send their own updates; a live status is never "finished" into.
            VenueOrderStatus::Filled
            | VenueOrderStatus::Open
            | VenueOrderStatus::PartiallyFilled => return,
        });
    }

    pub(super) fn rest(&mut self, place: &Place) {
        let entry = (place.price, place.order_id);
        match place.side {
            Side::Buy => self.bids.insert(entry),
            Side::Sell => self.asks.insert(entry),
        };
        if let Some(time_in_force) = self.config.time_in_force {
            let expires_at = self.now.saturating_add(time_in_force);
            self.expiries.insert((expires_at, place.order_id));
            if let Some(kept) = self.orders.get_mut(&place.order_id) {
                kept.expires_at = Some(expires_at);
            }
        }
    }

    /// Takes a finished order off the book and starts its listing window.
    pub(super) fn close(&mut self, order_id: OrderId) {
        let Some(kept) = self.orders.get_mut(&order_id) else {
            return;
        };
        let entry = (kept.order.price, order_id);
        match kept.order.side {
            Side::Buy => self.bids.remove(&entry),
            Side::Sell => self.asks.remove(&entry),
        };
        if let Some(expires_at) = kept.expires_at.take() {
            self.expiries.remove(&(expires_at, order_id));
        }
        kept.closed_at = Some(self.now);
        self.closed.push_back((self.now, order_id));
    }

    pub(super) fn bump_seq(&mut self, order_id: OrderId) -> u64 {
        self.orders.get_mut(&order_id).map_or(0, |kept| {
            kept.venue_seq += 1;
            kept.venue_seq
        })
    }

    pub(super) fn emit(&mut self, update: BookCommand) {
        self.outbox.schedule(
            update,
            self.now,
            self.config.update_delay,
            FaultContext {
                faults: &self.config.faults,
                rng: &mut self.fault_rng,
                record: &mut self.fault_record,
            },
        );
    }

    pub(super) fn forget_old_closed(&mut self) {
        while let Some(&(closed_at, order_id)) = self.closed.front() {
            // The time since, not the expiry time: `closed_at + retention` saturates near the
            // end of the timestamp range, where it would forget an order at once (the book's
            // tombstones had the same defect).
            let expired =
                self.now.saturating_duration_since(closed_at) >= self.config.closed_retention;
            let over_limit = self.closed.len() > self.config.max_closed_orders;
            if !expired && !over_limit {
                break;
            }
            self.closed.pop_front();
            self.orders.remove(&order_id);
        }
    }
}
