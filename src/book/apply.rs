//! How each command changes the book. Every path validates and computes first, and mutates only
//! once nothing can fail, so a rejected command changes nothing.

use rust_decimal::Decimal;

use crate::time::Timestamp;

use super::Book;
use super::command::{
    Adoption, BookCommand, Correction, FillReport, FinishedAdoption, Place, StatusReport,
};
use super::exact::{exact_add, exact_sub};
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
            BookCommand::AdoptPosition(adoption) => self.adopt_position(adoption)?,
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
        // The slot's position stays as it is: a placement fills nothing.
        check_vacant(place.level, self.slots.get(place.level))?;
        let order = new_order(place, Decimal::ZERO, OrderStatus::Pending, false);
        self.occupy_slot(order, slot_price, place.at);
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
        let finishing = finishes(location, from, to);
        let record = |order: &mut Order| record_status(order, to, venue_seq, at);
        let finished = match location {
            Location::Live(level) => {
                let slot = self
                    .slots
                    .get_mut(level)
                    .ok_or(Rejection::UnknownOrder(order_id))?;
                change_live_order(slot, order_id, finishing, at, record)?
            }
            Location::Finished => {
                let order = self
                    .finished
                    .get_mut(&order_id)
                    .ok_or(Rejection::UnknownOrder(order_id))?;
                record(order);
                None
            }
        };
        self.settle(from, to, finished, at);
        Ok(Applied::StatusChanged { from, to })
    }

    fn fill(&mut self, fill: &FillReport, source: FillSource) -> Result<Applied, Rejection> {
        if fill.cumulative_filled < Decimal::ZERO {
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
        // Every sum the fill changes is exact, or the fill is refused (`exact.rs`); the
        // remaining quantity too, so that `Order::remaining` never rounds.
        let delta = exact_sub(fill.cumulative_filled, filled)?;
        exact_sub(quantity, fill.cumulative_filled)?;
        let signed = order.side.signed(delta);
        let position = exact_add(slot.position(), signed)?;
        let net_position = exact_add(self.net_position, signed)?;
        let reconciled_fill = match source {
            FillSource::Venue => order.reconciled_fill(),
            FillSource::Reconciliation => exact_add(order.reconciled_fill(), delta)?,
        };
        let (from, level) = (order.status, order.level);
        let finishing = finishes(location, from, to);

        // Nothing can fail from here on but a lookup that the one above makes impossible
        // (which changes nothing either): change the order and its slot in place (for a live
        // order, one record: the order is in its slot).
        let unknown = || Rejection::UnknownOrder(fill.order_id);
        let record = |order: &mut Order| record_fill(order, fill, to, reconciled_fill);
        let slot = self.slots.get_mut(level).ok_or_else(unknown)?;
        let finished = match location {
            Location::Live(_) => {
                change_live_order(slot, fill.order_id, finishing, fill.at, record)?
            }
            Location::Finished => {
                record(self.finished.get_mut(&fill.order_id).ok_or_else(unknown)?);
                None
            }
        };
        slot.set_position(position);
        slot.revision.bump();
        self.net_position = net_position;
        self.settle(from, to, finished, fill.at);
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
            Correction::AdoptFinished(ref adoption) => self.adopt_finished(adoption)?,
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
        check_adopted_fills(order_id, quantity, cumulative_filled)?;
        let slot_price = self.slot_price(level, price)?;
        if self.is_known(order_id) {
            return Err(Rejection::DuplicateOrderId(order_id));
        }
        let slot = self.guard_slot(level, expected)?;
        let slot_position = check_vacant(level, slot)?;
        exact_sub(quantity, cumulative_filled)?;
        let signed = side.signed(cumulative_filled);
        let position = exact_add(slot_position, signed)?;
        let net_position = exact_add(self.net_position, signed)?;
        let status = if cumulative_filled == quantity {
            OrderStatus::Filled
        } else if cumulative_filled.is_zero() {
            OrderStatus::Open
        } else {
            OrderStatus::PartiallyFilled
        };
        let place = Place {
            order_id,
            level,
            side,
            price,
            quantity,
            at,
        };
        let order = new_order(&place, cumulative_filled, status, true);
        let (slot, finished) = self.occupy_slot(order, slot_price, at);
        slot.set_position(position);
        self.net_position = net_position;
        // Counted as live first, so that `settle` moves it to its status (and an order adopted
        // filled to the tombstones) exactly as it would for any other order.
        self.status_counts[OrderStatus::Open.index()] += 1;
        self.settle(OrderStatus::Open, status, finished, at);
        Ok(Applied::Placed)
    }

    /// Adopts a finished venue order the book never knew as a tombstone of its slot (see
    /// [`FinishedAdoption`]): validates everything first, then goes the way any order that
    /// finishes goes (its fills into its slot's and the net position, the order stamped
    /// finished and handed to `settle` for the tombstones), without touching the slot's live
    /// order or its side.
    fn adopt_finished(&mut self, adoption: &FinishedAdoption) -> Result<Applied, Rejection> {
        let FinishedAdoption {
            order_id,
            level,
            side,
            price,
            quantity,
            cumulative_filled,
            status,
            expected,
            at,
        } = *adoption;
        check_adopted_fills(order_id, quantity, cumulative_filled)?;
        // The states the book itself reaches: a `filled` order is filled in whole, a
        // `rejected` one never filled (a cancelled or expired one may be filled in whole, by a
        // fill that raced its cancel).
        let consistent = status.is_finished()
            && (status != OrderStatus::Filled || cumulative_filled == quantity)
            && (status != OrderStatus::Rejected || cumulative_filled.is_zero());
        if !consistent {
            return Err(Rejection::InconsistentFinishedAdoption {
                order_id,
                status,
                cumulative_filled,
                quantity,
            });
        }
        let slot_price = self.slot_price(level, price)?;
        let place = Place {
            order_id,
            level,
            side,
            price,
            quantity,
            at,
        };
        // The preconditions: the book does not know the order, and the slot is as the
        // adoption found it (which refuses the same adoption again, even once its tombstone
        // is purged).
        if let Ok((_, known)) = self.find_order(order_id) {
            return Err(Rejection::StalePrecondition {
                target: GuardTarget::Order(order_id),
                expected: Revision::ABSENT,
                actual: known.revision,
            });
        }
        let slot = self.guard_slot(level, expected)?;
        exact_sub(quantity, cumulative_filled)?;
        let signed = side.signed(cumulative_filled);
        let slot_position = slot.map_or(Decimal::ZERO, Slot::position);
        let position = exact_add(slot_position, signed)?;
        let net_position = exact_add(self.net_position, signed)?;

        // Nothing can fail from here on. A new slot takes the order's side; an existing one
        // keeps its own (its live order's, or its latest order's).
        let order = new_order(&place, cumulative_filled, status, true);
        let slot = self
            .slots
            .get_or_insert_with(level, || Slot::new(level, slot_price, side));
        slot.set_position(position);
        let order = vacate(slot, order, at);
        self.net_position = net_position;
        self.status_counts[status.index()] += 1;
        self.settle(status, status, Some(order), at);
        Ok(Applied::Placed)
    }

    /// Checks an adoption's precondition: the slot's revision is still `expected`
    /// ([`Revision::ABSENT`]: there is no slot yet). Returns the slot, if there is one.
    fn guard_slot(&self, level: Level, expected: Revision) -> Result<Option<&Slot>, Rejection> {
        let slot = self.slots.get(level);
        let actual = slot.map_or(Revision::ABSENT, |slot| slot.revision);
        if actual != expected {
            return Err(Rejection::StalePrecondition {
                target: GuardTarget::Slot(level),
                expected,
                actual,
            });
        }
        Ok(slot)
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
        let unknown = || Rejection::UnknownOrder(order_id);
        match self.live.get(&order_id) {
            Some(&level) => {
                let order = self
                    .slots
                    .get(level)
                    .and_then(Slot::live)
                    .ok_or_else(unknown)?;
                Ok((Location::Live(level), order))
            }
            None => {
                let order = self.finished.get(&order_id).ok_or_else(unknown)?;
                Ok((Location::Finished, order))
            }
        }
    }

    /// Where the order is, the order, and its slot (for a live order, found on the way to the
    /// order; for a finished one, its level's: slots are never removed).
    fn find_order_and_slot(
        &self,
        order_id: OrderId,
    ) -> Result<(Location, &Order, &Slot), Rejection> {
        let unknown = || Rejection::UnknownOrder(order_id);
        match self.live.get(&order_id) {
            Some(&level) => {
                let slot = self.slots.get(level).ok_or_else(unknown)?;
                let order = slot.live.as_ref().ok_or_else(unknown)?;
                Ok((Location::Live(level), order, slot))
            }
            None => {
                let order = self.finished.get(&order_id).ok_or_else(unknown)?;
                let slot = self.slots.get(order.level).ok_or_else(unknown)?;
                Ok((Location::Finished, order, slot))
            }
        }
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

    /// Puts a new `order` into its slot (vacant, or created with `price`): a change of the
    /// slot. A live order stays there, indexed; one that is already finished (an adoption of a
    /// filled order) leaves it again at once, as it would have had it filled there, and is
    /// returned for the tombstones. Returns the slot too, for the caller to set its position.
    fn occupy_slot(
        &mut self,
        order: Order,
        price: Price,
        at: Timestamp,
    ) -> (&mut Slot, Option<Order>) {
        let (order_id, level, side) = (order.id, order.level, order.side);
        let finished = order.status.is_finished();
        if !finished {
            self.live.insert(order_id, level);
        }
        let slot = self
            .slots
            .get_or_insert_with(level, || Slot::new(level, price, side));
        slot.side = side;
        slot.revision.bump();
        if finished {
            let order = vacate(slot, order, at);
            return (slot, Some(order));
        }
        slot.live = Some(order);
        (slot, None)
    }

    /// Keeps the status counts in step with a status change from `previous` to `status`, and
    /// puts an order that has just finished, already taken out of its slot (`finished`), among
    /// the tombstones, stamped with the book's retention clock as this command moves it (so
    /// that the queue is in time order, and no stamp of one command decides alone when the
    /// tombstone expires).
    fn settle(
        &mut self,
        previous: OrderStatus,
        status: OrderStatus,
        finished: Option<Order>,
        at: Timestamp,
    ) {
        if previous != status {
            self.status_counts[previous.index()] -= 1;
            self.status_counts[status.index()] += 1;
        }
        if let Some(order) = finished {
            let order_id = order.id;
            self.live.remove(&order_id);
            self.finished.insert(order_id, order);
            self.tombstones.push_back((self.clock_after(at), order_id));
        }
    }

    /// The book's retention clock once a command stamped `at` has changed the book: it moves
    /// towards `at`, never back, and by at most [`BookConfig::max_clock_step`] (the time
    /// policy in the module docs).
    ///
    /// [`BookConfig::max_clock_step`]: super::BookConfig::max_clock_step
    /// A book that no command has moved off the epoch has no time yet: the first stamp sets
    /// it as it is (a clock stepping from the epoch would take millennia to reach the present).
    fn clock_after(&self, at: Timestamp) -> Timestamp {
        if self.latest_activity == Timestamp::EPOCH {
            return at;
        }
        self.latest_activity
            .step_towards(at, self.config.max_clock_step)
    }

    /// Advances the book's retention clock and purges tombstones past their retention (or
    /// beyond the maximum count), oldest first.
    ///
    /// Purging folds the order's fills into its slot's purged position. Tombstones leave in the
    /// order their orders finished, and a late fill can still land on a finished order, so that
    /// running sum can pass `Decimal`'s range, or need more digits than it holds, although
    /// every position is exact (a slot holding orders near `Decimal::MAX` on both sides, or a
    /// huge fill beside a tiny one). Such a tombstone is not purged yet: it goes to the back of
    /// the queue, and the ones behind it are purged first, which brings the sum back to an
    /// exact one. Each call looks at each tombstone at most once.
    fn note_activity(&mut self, at: Timestamp) {
        self.latest_activity = self.clock_after(at);
        let retention = self.config.tombstone_retention;
        let mut unvisited = self.tombstones.len();
        while unvisited > 0
            && let Some(&(finished_at, order_id)) = self.tombstones.front()
        {
            unvisited -= 1;
            // The time since, not the expiry time: `finished_at + retention` saturates near the
            // end of the timestamp range, where it would expire a tombstone at once.
            let expired = self.latest_activity.saturating_duration_since(finished_at) >= retention;
            let over_limit = self.tombstones.len() > self.config.max_tombstones;
            if !expired && !over_limit {
                break;
            }
            self.tombstones.pop_front();
            if !self.purge(order_id) {
                self.tombstones.push_back((finished_at, order_id));
            }
        }
    }

    /// Forgets a finished order, folding its fills into its slot's purged position. Returns
    /// false, changing nothing, when that sum would not be exact.
    fn purge(&mut self, order_id: OrderId) -> bool {
        let Some(order) = self.finished.get(&order_id) else {
            return true;
        };
        let (status, level, fills) = (order.status, order.level, order.signed_filled());
        // An order that never filled leaves the slot as it is (and shared with any snapshot).
        if !fills.is_zero()
            && let Some(slot) = self.slots.get(level)
        {
            let Ok(sum) = exact_add(slot.purged_position(), fills) else {
                return false;
            };
            if let Some(slot) = self.slots.get_mut(level) {
                slot.set_purged_position(sum);
            }
        }
        self.finished.remove(&order_id);
        self.status_counts[status.index()] -= 1;
        true
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

/// A new order as `place` describes it, with `filled` (all of it reconciled: an adopted order's
/// fills are known only from the venue) and `status`.
fn new_order(place: &Place, filled: Quantity, status: OrderStatus, adopted: bool) -> Order {
    Order::from(OrderFields {
        id: place.order_id,
        level: place.level,
        side: place.side,
        price: place.price,
        quantity: place.quantity,
        filled,
        status,
        revision: Revision(1),
        venue_seq: None,
        placed_at: place.at,
        last_activity: place.at,
        finished_at: None,
        last_fill_price: None,
        last_trade_id: None,
        reconciled_fill: filled,
        adopted,
    })
}

/// Writes an accepted status change into its order.
fn record_status(order: &mut Order, to: OrderStatus, venue_seq: Option<u64>, at: Timestamp) {
    order.status = to;
    order.set_venue_seq(newest(order.venue_seq(), venue_seq));
    order.last_activity = order.last_activity.max(at);
    order.revision.bump();
}

/// Whether a change of an order at `location` from `from` to `to` finishes a live order, which
/// then leaves its slot for the tombstones.
fn finishes(location: Location, from: OrderStatus, to: OrderStatus) -> bool {
    matches!(location, Location::Live(_)) && from.is_live() && to.is_finished()
}

/// Changes the live order of `slot` with `record`. An order that this change `finishing`s is
/// taken out of the slot (which frees it: a change of the slot, so its revision moves),
/// stamped as finished at `at`, and returned for the tombstones.
///
/// # Errors
///
/// [`Rejection::UnknownOrder`] if the slot has no live order, which the caller's lookup of the
/// order through its slot rules out; the slot is then unchanged.
fn change_live_order(
    slot: &mut Slot,
    order_id: OrderId,
    finishing: bool,
    at: Timestamp,
    record: impl FnOnce(&mut Order),
) -> Result<Option<Order>, Rejection> {
    let unknown = || Rejection::UnknownOrder(order_id);
    debug_assert_eq!(slot.live_order(), Some(order_id), "the order is its slot's");
    if !finishing {
        record(slot.live.as_mut().ok_or_else(unknown)?);
        return Ok(None);
    }
    let mut order = slot.live.take().ok_or_else(unknown)?;
    record(&mut order);
    Ok(Some(vacate(slot, order, at)))
}

/// The slot's part of an order's finishing: `order` has just finished and is out of `slot`,
/// which is free again (a change: its revision moves), and the order is stamped as finished
/// at `at`.
fn vacate(slot: &mut Slot, mut order: Order, at: Timestamp) -> Order {
    slot.revision.bump();
    order.set_finished_at(at);
    order
}

/// Refuses a slot that has a live order; returns the slot's position (zero for a slot that
/// does not exist yet).
fn check_vacant(level: Level, slot: Option<&Slot>) -> Result<Quantity, Rejection> {
    match slot {
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

/// The fills an adopted order arrives with: a positive quantity, and a cumulative fill from
/// zero to that quantity.
fn check_adopted_fills(
    order_id: OrderId,
    quantity: Quantity,
    cumulative_filled: Quantity,
) -> Result<(), Rejection> {
    check_positive_quantity(quantity)?;
    if cumulative_filled < Decimal::ZERO {
        return Err(Rejection::NegativeFill(cumulative_filled));
    }
    if cumulative_filled > quantity {
        return Err(Rejection::FillExceedsQuantity {
            order_id,
            cumulative: cumulative_filled,
            quantity,
        });
    }
    Ok(())
}
