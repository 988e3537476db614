//! How each command changes the book. Every path validates and computes first, and mutates only
//! once nothing can fail, so a rejected command changes nothing.

use rust_decimal::Decimal;

use crate::time::Timestamp;

use super::Book;
use super::command::{Adoption, BookCommand, Correction, FillReport, Place, StatusReport};
use super::outcome::{Applied, GuardTarget, Rejection, StaleReason};
use super::storage::{MapOps, QueueOps, Storage};
use super::transition::{Event, Transition, transition};
use super::types::{Level, Order, OrderId, OrderStatus, Price, Quantity, Revision, Side, Slot};

/// Where a fill came from.
#[derive(Clone, Copy, PartialEq, Eq)]
enum FillSource {
    Venue,
    Reconciliation,
}

impl<S: Storage> Book<S> {
    /// Applies one command (the engine calls this through
    /// [`StateMachine`](crate::engine::StateMachine)).
    ///
    /// # Errors
    ///
    /// A typed [`Rejection`]; the book is then unchanged.
    pub fn apply(&mut self, command: &BookCommand) -> Result<Applied, Rejection> {
        let applied = match command {
            BookCommand::Place(place) => self.place(place)?,
            BookCommand::Acknowledge(report) => self.report_status(report, Event::Acknowledge)?,
            BookCommand::Fill(fill) => self.fill(fill, FillSource::Venue)?,
            BookCommand::Cancel(report) => self.report_status(report, Event::Cancel)?,
            BookCommand::Reject(report) => self.report_status(report, Event::Reject)?,
            BookCommand::Expire(report) => self.report_status(report, Event::Expire)?,
            BookCommand::Correct(correction) => self.correct(correction)?,
        };
        if !matches!(applied, Applied::Stale(_) | Applied::Duplicate) {
            self.note_activity(command.at());
        }
        Ok(applied)
    }

    fn place(&mut self, place: &Place) -> Result<Applied, Rejection> {
        check_positive_quantity(place.quantity)?;
        let slot_price = self.slot_price(place.level, place.price)?;
        if self.orders.contains_key(&place.order_id) {
            return Err(Rejection::DuplicateOrderId(place.order_id));
        }
        let mut slot = self.vacant_slot(place.level, slot_price, place.side)?;
        slot.side = place.side;
        slot.live_order = Some(place.order_id);
        slot.revision.bump();
        let order = Order {
            id: place.order_id,
            level: place.level,
            side: place.side,
            price: place.price,
            quantity: place.quantity,
            filled: Decimal::ZERO,
            status: OrderStatus::Pending,
            revision: Revision(1),
            venue_seq: None,
            placed_at: place.at,
            last_activity: place.at,
            finished_at: None,
            last_fill_price: None,
            last_trade_id: None,
            reconciled_fill: Decimal::ZERO,
            adopted: false,
        };
        self.slots.insert(place.level, slot);
        self.orders.insert(place.order_id, order);
        self.status_counts[OrderStatus::Pending.index()] += 1;
        Ok(Applied::Placed)
    }

    fn report_status(&mut self, report: &StatusReport, event: Event) -> Result<Applied, Rejection> {
        let order = self.known_order(report.order_id)?;
        if is_older(report.venue_seq, order.venue_seq) {
            return Ok(Applied::Stale(StaleReason::OlderVenueSequence));
        }
        self.change_status(order.clone(), event, report.venue_seq, report.at)
    }

    /// Moves `order` through the table for `event`; `order` is the current value (a copy).
    fn change_status(
        &mut self,
        mut order: Order,
        event: Event,
        venue_seq: Option<u64>,
        at: Timestamp,
    ) -> Result<Applied, Rejection> {
        let from = order.status;
        let to = match next_status(&order, event)? {
            Next::To(to) => to,
            Next::Unchanged(applied) => return Ok(applied),
        };
        order.status = to;
        order.venue_seq = newest(order.venue_seq, venue_seq);
        order.last_activity = order.last_activity.max(at);
        order.revision.bump();
        self.store_order(order, from, at);
        Ok(Applied::StatusChanged { from, to })
    }

    fn fill(&mut self, fill: &FillReport, source: FillSource) -> Result<Applied, Rejection> {
        if fill.cumulative_filled.is_sign_negative() && !fill.cumulative_filled.is_zero() {
            return Err(Rejection::NegativeFill(fill.cumulative_filled));
        }
        if let Some(price) = fill.fill_price {
            check_positive_price(price)?;
        }
        let order = self.known_order(fill.order_id)?;
        if fill.cumulative_filled > order.quantity {
            return Err(Rejection::FillExceedsQuantity {
                order_id: order.id,
                cumulative: fill.cumulative_filled,
                quantity: order.quantity,
            });
        }
        let event = if fill.cumulative_filled == order.quantity {
            Event::CompleteFill
        } else {
            Event::PartialFill
        };
        // Asked first, so that no cumulative comparison can mask a fill of a rejected order.
        let next = next_status(order, event)?;
        if fill.cumulative_filled == order.filled {
            return Ok(Applied::Duplicate);
        }
        if fill.cumulative_filled < order.filled {
            return Ok(Applied::Stale(StaleReason::LowerCumulativeFill));
        }
        let to = match next {
            Next::To(to) => to,
            Next::Unchanged(applied) => return Ok(applied),
        };
        let delta = checked(fill.cumulative_filled.checked_sub(order.filled))?;
        let signed = order.side.signed(delta);
        let mut slot = self.slot_or_new(order.level, order.price, order.side);
        slot.position = checked(slot.position.checked_add(signed))?;
        slot.revision.bump();
        let net_position = checked(self.net_position.checked_add(signed))?;
        let reconciled_fill = match source {
            FillSource::Venue => order.reconciled_fill,
            FillSource::Reconciliation => checked(order.reconciled_fill.checked_add(delta))?,
        };

        let mut order = order.clone();
        let from = order.status;
        order.filled = fill.cumulative_filled;
        order.status = to;
        order.venue_seq = newest(order.venue_seq, fill.venue_seq);
        order.last_activity = order.last_activity.max(fill.at);
        order.last_fill_price = fill.fill_price;
        order.last_trade_id = fill.trade_id;
        order.reconciled_fill = reconciled_fill;
        order.revision.bump();
        self.slots.insert(order.level, slot);
        self.net_position = net_position;
        self.store_order(order, from, fill.at);
        Ok(Applied::Filled { delta, status: to })
    }

    fn correct(&mut self, correction: &Correction) -> Result<Applied, Rejection> {
        let corrected = Applied::Corrected {
            kind: correction.kind(),
        };
        let applied = match *correction {
            Correction::MissedFill {
                order_id,
                expected,
                cumulative_filled,
                at,
            } => {
                self.guard_order(order_id, expected)?;
                let fill = FillReport {
                    order_id,
                    cumulative_filled,
                    fill_price: None,
                    trade_id: None,
                    venue_seq: None,
                    at,
                };
                self.fill(&fill, FillSource::Reconciliation)?
            }
            Correction::MissedAcknowledge {
                order_id,
                expected,
                at,
            } => {
                let order = self.guard_order(order_id, expected)?;
                self.change_status(order, Event::Acknowledge, None, at)?
            }
            Correction::MarkLost {
                order_id,
                expected,
                at,
            } => {
                let order = self.guard_order(order_id, expected)?;
                self.change_status(order, Event::MarkLost, None, at)?
            }
            Correction::Adopt(ref adoption) => self.adopt(adoption)?,
        };
        Ok(match applied {
            Applied::Filled { .. } | Applied::StatusChanged { .. } | Applied::Placed => corrected,
            other => other,
        })
    }

    fn adopt(&mut self, adoption: &Adoption) -> Result<Applied, Rejection> {
        let Adoption {
            order_id,
            level,
            side,
            price,
            quantity,
            cumulative_filled,
            expected,
            at,
        } = *adoption;
        check_positive_quantity(quantity)?;
        if cumulative_filled.is_sign_negative() && !cumulative_filled.is_zero() {
            return Err(Rejection::NegativeFill(cumulative_filled));
        }
        if cumulative_filled > quantity {
            return Err(Rejection::FillExceedsQuantity {
                order_id,
                cumulative: cumulative_filled,
                quantity,
            });
        }
        let slot_price = self.slot_price(level, price)?;
        if self.orders.contains_key(&order_id) {
            return Err(Rejection::DuplicateOrderId(order_id));
        }
        let actual = self
            .slots
            .get(&level)
            .map_or(Revision::ABSENT, |slot| slot.revision);
        if actual != expected {
            return Err(Rejection::StalePrecondition {
                target: GuardTarget::Slot(level),
                expected,
                actual,
            });
        }
        let mut slot = self.vacant_slot(level, slot_price, side)?;
        let signed = side.signed(cumulative_filled);
        slot.position = checked(slot.position.checked_add(signed))?;
        let net_position = checked(self.net_position.checked_add(signed))?;
        slot.side = side;
        slot.live_order = Some(order_id);
        slot.revision.bump();
        let status = if cumulative_filled == quantity {
            OrderStatus::Filled
        } else if cumulative_filled.is_zero() {
            OrderStatus::Open
        } else {
            OrderStatus::PartiallyFilled
        };
        let order = Order {
            id: order_id,
            level,
            side,
            price,
            quantity,
            filled: cumulative_filled,
            status,
            revision: Revision(1),
            venue_seq: None,
            placed_at: at,
            last_activity: at,
            finished_at: None,
            last_fill_price: None,
            last_trade_id: None,
            reconciled_fill: cumulative_filled,
            adopted: true,
        };
        self.slots.insert(level, slot);
        self.net_position = net_position;
        // Counted as live first, so that `store_order` moves it to a finished status (and
        // frees the slot) exactly as it would for any other order.
        self.status_counts[OrderStatus::Open.index()] += 1;
        self.store_order(order, OrderStatus::Open, at);
        Ok(Applied::Placed)
    }

    fn guard_order(&self, order_id: OrderId, expected: Revision) -> Result<Order, Rejection> {
        let order = self.known_order(order_id)?;
        if order.revision != expected {
            return Err(Rejection::StalePrecondition {
                target: GuardTarget::Order(order_id),
                expected,
                actual: order.revision,
            });
        }
        Ok(order.clone())
    }

    fn known_order(&self, order_id: OrderId) -> Result<&Order, Rejection> {
        self.orders
            .get(&order_id)
            .ok_or(Rejection::UnknownOrder(order_id))
    }

    /// The slot's price for `level`, checking that `price` is it.
    fn slot_price(&self, level: Level, price: Price) -> Result<Price, Rejection> {
        check_positive_price(price)?;
        let slot_price = self
            .config
            .grid
            .price_of(level)
            .ok_or(Rejection::LevelOutOfRange(level))?;
        if price != slot_price {
            return Err(Rejection::PriceMismatch {
                level,
                price,
                slot_price,
            });
        }
        Ok(slot_price)
    }

    /// A copy of the slot at `level`, or a new empty one.
    fn slot_or_new(&self, level: Level, price: Price, side: Side) -> Slot {
        self.slots
            .get(&level)
            .cloned()
            .unwrap_or_else(|| Slot::new(level, price, side))
    }

    /// Like [`slot_or_new`](Self::slot_or_new), refusing a slot that has a live order.
    fn vacant_slot(&self, level: Level, price: Price, side: Side) -> Result<Slot, Rejection> {
        let slot = self.slot_or_new(level, price, side);
        match slot.live_order {
            Some(live_order) => Err(Rejection::SlotOccupied { level, live_order }),
            None => Ok(slot),
        }
    }

    /// Writes back a changed order, keeping the status counts, the slot's live order and the
    /// tombstone queue in step with its status.
    fn store_order(&mut self, mut order: Order, previous: OrderStatus, at: Timestamp) {
        if previous != order.status {
            self.status_counts[previous.index()] -= 1;
            self.status_counts[order.status.index()] += 1;
        }
        if previous.is_live() && order.status.is_finished() {
            self.release_slot(&order);
            order.finished_at = Some(at);
            self.tombstones.push_back((at, order.id));
        }
        self.orders.insert(order.id, order);
    }

    /// Clears the order from its slot's live order.
    fn release_slot(&mut self, order: &Order) {
        if let Some(slot) = self.slots.get_mut(&order.level)
            && slot.live_order == Some(order.id)
        {
            slot.live_order = None;
            slot.revision.bump();
        }
    }

    /// Advances the book's notion of time and purges tombstones past their retention (or beyond
    /// the maximum count), oldest first.
    fn note_activity(&mut self, at: Timestamp) {
        self.latest_activity = self.latest_activity.max(at);
        let retention = self.config.tombstone_retention;
        while let Some(&(finished_at, order_id)) = self.tombstones.front() {
            let expired = finished_at.saturating_add(retention) <= self.latest_activity;
            let over_limit = self.tombstones.len() > self.config.max_tombstones;
            if !expired && !over_limit {
                break;
            }
            self.tombstones.pop_front();
            if let Some(order) = self.orders.remove(&order_id) {
                self.status_counts[order.status.index()] -= 1;
                if let Some(slot) = self.slots.get_mut(&order.level) {
                    // Cannot overflow: the slot's position already includes this amount.
                    slot.retired_position += order.signed_filled();
                }
            }
        }
    }
}

/// What the transition table says an event does to an order.
enum Next {
    /// It moves to this status.
    To(OrderStatus),
    /// It ends here, changing nothing (a duplicate or a stale report).
    Unchanged(Applied),
}

fn next_status(order: &Order, event: Event) -> Result<Next, Rejection> {
    match transition(order.status, event) {
        Transition::To(to) => Ok(Next::To(to)),
        Transition::Duplicate => Ok(Next::Unchanged(Applied::Duplicate)),
        Transition::Stale => Ok(Next::Unchanged(Applied::Stale(StaleReason::Superseded))),
        Transition::NotAllowed => Err(Rejection::TransitionNotAllowed {
            order_id: order.id,
            from: order.status,
            event,
        }),
    }
}

fn is_older(report: Option<u64>, known: Option<u64>) -> bool {
    matches!((report, known), (Some(report), Some(known)) if report < known)
}

fn newest(known: Option<u64>, report: Option<u64>) -> Option<u64> {
    match (known, report) {
        (Some(known), Some(report)) => Some(known.max(report)),
        (known, report) => known.or(report),
    }
}

fn checked(value: Option<Quantity>) -> Result<Quantity, Rejection> {
    value.ok_or(Rejection::ArithmeticOverflow)
}

fn check_positive_quantity(quantity: Quantity) -> Result<(), Rejection> {
    if quantity > Decimal::ZERO {
        Ok(())
    } else {
        Err(Rejection::NonPositiveQuantity(quantity))
    }
}

fn check_positive_price(price: Price) -> Result<(), Rejection> {
    if price > Decimal::ZERO {
        Ok(())
    } else {
        Err(Rejection::NonPositivePrice(price))
    }
}
