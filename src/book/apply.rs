//! How each command changes the book. Every path validates and computes first, and mutates only
//! once nothing can fail, so a rejected command changes nothing.

use rust_decimal::Decimal;

use crate::time::Timestamp;

use super::Book;
use super::command::{Adoption, BookCommand, Correction, FillReport, Place, StatusReport};
use super::outcome::{Applied, GuardTarget, Rejection, StaleReason};
use super::storage::{LevelMapOps, MapOps, QueueOps, Storage};
use super::transition::{Event, Transition, transition};
use super::types::{
    Level, Order, OrderFields, OrderId, OrderStatus, Price, Quantity, Revision, Slot,
};

/// Where a known order is kept: in its slot while live, among the tombstones once finished.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Location {
    Live(Level),
    Finished,
}

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
        if self.is_known(place.order_id) {
            return Err(Rejection::DuplicateOrderId(place.order_id));
        }
        let position = self.check_vacant(place.level)?;
        let order = Order::from(OrderFields {
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
        });
        self.occupy_slot(order, slot_price, position);
        self.status_counts[OrderStatus::Pending.index()] += 1;
        Ok(Applied::Placed)
    }

    fn report_status(&mut self, report: &StatusReport, event: Event) -> Result<Applied, Rejection> {
        let (location, order) = self.find_order(report.order_id)?;
        if is_older(report.venue_seq, order.venue_seq()) {
            return Ok(Applied::Stale(StaleReason::OlderVenueSequence));
        }
        let from = order.status;
        self.change_status(
            report.order_id,
            location,
            from,
            event,
            report.venue_seq,
            report.at,
        )
    }

    /// Moves the order, now in status `from`, through the table for `event`.
    fn change_status(
        &mut self,
        order_id: OrderId,
        location: Location,
        from: OrderStatus,
        event: Event,
        venue_seq: Option<u64>,
        at: Timestamp,
    ) -> Result<Applied, Rejection> {
        let to = match next_status(order_id, from, event)? {
            Next::To(to) => to,
            Next::Unchanged(applied) => return Ok(applied),
        };
        let order = self.order_at_mut(order_id, location)?;
        order.status = to;
        order.set_venue_seq(newest(order.venue_seq(), venue_seq));
        order.last_activity = order.last_activity.max(at);
        order.revision.bump();
        self.settle(order_id, location, from, to, at);
        Ok(Applied::StatusChanged { from, to })
    }

    fn fill(&mut self, fill: &FillReport, source: FillSource) -> Result<Applied, Rejection> {
        if fill.cumulative_filled.is_sign_negative() && !fill.cumulative_filled.is_zero() {
            return Err(Rejection::NegativeFill(fill.cumulative_filled));
        }
        if let Some(price) = fill.fill_price {
            check_positive_price(price)?;
        }
        let (location, order, slot) = self.find_order_and_slot(fill.order_id)?;
        let (quantity, filled) = (order.quantity(), order.filled());
        if fill.cumulative_filled > quantity {
            return Err(Rejection::FillExceedsQuantity {
                order_id: order.id,
                cumulative: fill.cumulative_filled,
                quantity,
            });
        }
        let event = if fill.cumulative_filled == quantity {
            Event::CompleteFill
        } else {
            Event::PartialFill
        };
        // Asked first, so that no cumulative comparison can mask a fill of a rejected order.
        let next = next_status(order.id, order.status, event)?;
        if fill.cumulative_filled == filled {
            return Ok(Applied::Duplicate);
        }
        if fill.cumulative_filled < filled {
            return Ok(Applied::Stale(StaleReason::LowerCumulativeFill));
        }
        let to = match next {
            Next::To(to) => to,
            Next::Unchanged(applied) => return Ok(applied),
        };
        let delta = checked(fill.cumulative_filled.checked_sub(filled))?;
        let signed = order.side.signed(delta);
        let slot_position = match slot {
            Some(slot) => slot.position(),
            None => self
                .slots
                .get(order.level)
                .map_or(Decimal::ZERO, Slot::position),
        };
        let position = checked(slot_position.checked_add(signed))?;
        let net_position = checked(self.net_position.checked_add(signed))?;
        let reconciled_fill = match source {
            FillSource::Venue => order.reconciled_fill(),
            FillSource::Reconciliation => checked(order.reconciled_fill().checked_add(delta))?,
        };
        let (from, level, price, side) = (order.status, order.level, order.price(), order.side);

        // Nothing can fail from here on: change the order and its slot in place (for a live
        // order, one record: the order is in its slot).
        let new_slot = || Slot::new(level, price, side);
        match location {
            Location::Live(_) => {
                let Some(slot) = self.slots.get_mut(level) else {
                    return Err(Rejection::UnknownOrder(fill.order_id));
                };
                let Some(order) = slot.live.as_mut() else {
                    return Err(Rejection::UnknownOrder(fill.order_id));
                };
                record_fill(order, fill, to, reconciled_fill);
                slot.set_position(position);
                slot.revision.bump();
            }
            Location::Finished => {
                let Some(order) = self.finished.get_mut(&fill.order_id) else {
                    return Err(Rejection::UnknownOrder(fill.order_id));
                };
                record_fill(order, fill, to, reconciled_fill);
                let slot = self.slots.get_or_insert_with(level, new_slot);
                slot.set_position(position);
                slot.revision.bump();
            }
        }
        self.net_position = net_position;
        self.settle(fill.order_id, location, from, to, fill.at);
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
                let (location, from) = self.guard_order(order_id, expected)?;
                self.change_status(order_id, location, from, Event::Acknowledge, None, at)?
            }
            Correction::MarkLost {
                order_id,
                expected,
                at,
            } => {
                let (location, from) = self.guard_order(order_id, expected)?;
                self.change_status(order_id, location, from, Event::MarkLost, None, at)?
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
        if self.is_known(order_id) {
            return Err(Rejection::DuplicateOrderId(order_id));
        }
        let actual = self
            .slots
            .get(level)
            .map_or(Revision::ABSENT, |slot| slot.revision);
        if actual != expected {
            return Err(Rejection::StalePrecondition {
                target: GuardTarget::Slot(level),
                expected,
                actual,
            });
        }
        let slot_position = self.check_vacant(level)?;
        let signed = side.signed(cumulative_filled);
        let position = checked(slot_position.checked_add(signed))?;
        let net_position = checked(self.net_position.checked_add(signed))?;
        let status = if cumulative_filled == quantity {
            OrderStatus::Filled
        } else if cumulative_filled.is_zero() {
            OrderStatus::Open
        } else {
            OrderStatus::PartiallyFilled
        };
        let order = Order::from(OrderFields {
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
        });
        self.occupy_slot(order, slot_price, position);
        self.net_position = net_position;
        // Counted as live first, so that `settle` moves it to a finished status (and frees
        // the slot) exactly as it would for any other order.
        self.status_counts[OrderStatus::Open.index()] += 1;
        self.settle(
            order_id,
            Location::Live(level),
            OrderStatus::Open,
            status,
            at,
        );
        Ok(Applied::Placed)
    }

    /// Checks a correction's precondition: the order's revision is still `expected`. Returns
    /// where the order is and its status.
    fn guard_order(
        &self,
        order_id: OrderId,
        expected: Revision,
    ) -> Result<(Location, OrderStatus), Rejection> {
        let (location, order) = self.find_order(order_id)?;
        if order.revision != expected {
            return Err(Rejection::StalePrecondition {
                target: GuardTarget::Order(order_id),
                expected,
                actual: order.revision,
            });
        }
        Ok((location, order.status))
    }

    fn is_known(&self, order_id: OrderId) -> bool {
        self.live.contains_key(&order_id) || self.finished.contains_key(&order_id)
    }

    /// Where the order is, and the order.
    fn find_order(&self, order_id: OrderId) -> Result<(Location, &Order), Rejection> {
        self.find_order_and_slot(order_id)
            .map(|(location, order, _)| (location, order))
    }

    /// Where the order is, the order, and for a live order its slot (one lookup of each
    /// map, so that callers need not look the slot up again).
    fn find_order_and_slot(
        &self,
        order_id: OrderId,
    ) -> Result<(Location, &Order, Option<&Slot>), Rejection> {
        let unknown = Rejection::UnknownOrder(order_id);
        match self.live.get(&order_id) {
            Some(&level) => {
                let slot = self.slots.get(level).ok_or(unknown.clone())?;
                let order = slot.live.as_ref().ok_or(unknown)?;
                Ok((Location::Live(level), order, Some(slot)))
            }
            None => {
                let order = self.finished.get(&order_id).ok_or(unknown)?;
                Ok((Location::Finished, order, None))
            }
        }
    }

    /// The order, mutably. For persistent storage this copies the path to its record (and the
    /// record itself, if a snapshot shares it).
    fn order_at_mut(
        &mut self,
        order_id: OrderId,
        location: Location,
    ) -> Result<&mut Order, Rejection> {
        match location {
            Location::Live(level) => self
                .slots
                .get_mut(level)
                .and_then(|slot| slot.live.as_mut()),
            Location::Finished => self.finished.get_mut(&order_id),
        }
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

    /// Refuses a slot that has a live order; returns the slot's position (zero for a slot that
    /// does not exist yet).
    fn check_vacant(&self, level: Level) -> Result<Quantity, Rejection> {
        match self.slots.get(level) {
            None => Ok(Decimal::ZERO),
            Some(slot) => match &slot.live {
                Some(live) => Err(Rejection::SlotOccupied {
                    level,
                    live_order: live.id,
                }),
                None => Ok(slot.position()),
            },
        }
    }

    /// Puts a new live `order` into its (vacant) slot with the slot's new `position`, and
    /// indexes it.
    fn occupy_slot(&mut self, order: Order, price: Price, position: Quantity) {
        let (order_id, level) = (order.id, order.level);
        let side = order.side;
        let slot = self
            .slots
            .get_or_insert_with(level, || Slot::new(level, price, side));
        slot.side = side;
        slot.set_position(position);
        slot.live = Some(order);
        slot.revision.bump();
        self.live.insert(order_id, level);
    }

    /// Keeps the status counts in step with a status change, and moves an order that has just
    /// finished out of its slot into the tombstones.
    fn settle(
        &mut self,
        order_id: OrderId,
        location: Location,
        previous: OrderStatus,
        status: OrderStatus,
        at: Timestamp,
    ) {
        if previous != status {
            self.status_counts[previous.index()] -= 1;
            self.status_counts[status.index()] += 1;
        }
        if let Location::Live(level) = location
            && previous.is_live()
            && status.is_finished()
        {
            self.retire(order_id, level, at);
        }
    }

    /// Takes a finished order out of its slot (freeing the slot) into the tombstones.
    fn retire(&mut self, order_id: OrderId, level: Level, at: Timestamp) {
        let Some(slot) = self.slots.get_mut(level) else {
            return;
        };
        debug_assert_eq!(slot.live_order(), Some(order_id), "the order is its slot's");
        let Some(mut order) = slot.live.take() else {
            return;
        };
        slot.revision.bump();
        order.set_finished_at(at);
        self.live.remove(&order_id);
        self.finished.insert(order_id, order);
        self.tombstones.push_back((at, order_id));
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
            if let Some(order) = self.finished.remove(&order_id) {
                self.status_counts[order.status.index()] -= 1;
                let retired = order.signed_filled();
                // An order that never filled leaves the slot as it is (and shared with any
                // snapshot).
                if !retired.is_zero()
                    && let Some(slot) = self.slots.get_mut(order.level)
                {
                    // Cannot overflow: the slot's position already includes this amount.
                    slot.set_retired_position(slot.retired_position() + retired);
                }
            }
        }
    }
}

/// Writes an accepted fill into its order.
fn record_fill(order: &mut Order, fill: &FillReport, to: OrderStatus, reconciled_fill: Quantity) {
    order.set_filled(fill.cumulative_filled);
    order.status = to;
    order.set_venue_seq(newest(order.venue_seq(), fill.venue_seq));
    order.last_activity = order.last_activity.max(fill.at);
    order.set_last_fill(fill.fill_price, fill.trade_id);
    order.set_reconciled_fill(reconciled_fill);
    order.revision.bump();
}

/// What the transition table says an event does to an order.
enum Next {
    /// It moves to this status.
    To(OrderStatus),
    /// It ends here, changing nothing (a duplicate or a stale report).
    Unchanged(Applied),
}

fn next_status(order_id: OrderId, from: OrderStatus, event: Event) -> Result<Next, Rejection> {
    match transition(from, event) {
        Transition::To(to) => Ok(Next::To(to)),
        Transition::Duplicate => Ok(Next::Unchanged(Applied::Duplicate)),
        Transition::Stale => Ok(Next::Unchanged(Applied::Stale(StaleReason::Superseded))),
        Transition::NotAllowed => Err(Rejection::TransitionNotAllowed {
            order_id,
            from,
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
