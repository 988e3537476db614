//! The startup pass's decisions: a pure function of the book, the venue's answers, the
//! configuration and `now`.

use std::collections::{BTreeMap, BTreeSet};

use rust_decimal::Decimal;

use crate::book::{
    Adoption, Book, BookCommand, Correction, FinishedAdoption, Level, Order, OrderId, OrderStatus,
    PositionAdoption, PositionAdoptionId, Quantity, Revision, Storage,
};
use crate::time::Timestamp;
use crate::venue::{
    OpenOrdersError, OrderLookup, PositionReport, QueryError, QueryKind, VenueFill, VenueOrder,
};

use super::report::{ActionKind, StartupFinding, Unresolved};
use super::{StartupAnswers, StartupConfig};

/// What one round decides: the commands to send (at most one per order, and a position
/// adoption only in a round with no order command), what it saw, and what it cannot settle.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Decision {
    /// The commands, each with what it does: the commands about orders the book knows and the
    /// adoptions of live orders, sorted by order id; or, in a round with none of those, the
    /// adoptions of finished orders by order id; or, in a round with none at all, the
    /// position.
    pub commands: Vec<(ActionKind, BookCommand)>,
    /// What it leaves for continuous reconciliation.
    pub findings: Vec<StartupFinding>,
    /// What it cannot settle; the pass is incomplete while this is not empty.
    pub unresolved: Vec<Unresolved>,
    /// Distinct fills (by trade id) at or below the book's cumulative quantity of their order:
    /// already counted, so changing nothing.
    pub fills_already_known: usize,
}

/// What the venue says about one order, from every answer together.
#[derive(Default)]
struct VenueView<'a> {
    /// The newest state of the order among the listing and the targeted answer.
    order: Option<&'a VenueOrder>,
    /// The venue answered a targeted query with "not found", as of this time.
    not_found_as_of: Option<Timestamp>,
    /// The targeted query's error.
    error: Option<&'a QueryError>,
    /// The largest cumulative fill of the listing, the targeted answer and the history.
    filled: Quantity,
}

/// Decides one round of the startup pass (see the module documentation for the rules).
///
/// Pure: the same book, answers, configuration and `now` give the same decision, whatever
/// order the venue listed orders or fills in and however often it repeated them.
pub fn decide<S: Storage>(
    book: &Book<S>,
    answers: &StartupAnswers,
    config: &StartupConfig,
    now: Timestamp,
) -> Decision {
    let mut decision = Decision::default();
    let mut position_blocked = check_queries(answers, config, &mut decision);
    let Ok(listing) = &answers.open_orders else {
        // Without the open orders nothing about any order can be decided.
        decision.unresolved.push(Unresolved::PositionAwaitingOrders);
        return decision;
    };
    let fills = distinct_fills(answers);
    let views = venue_views(&listing.orders, &answers.orders, &fills);
    let mut fills_by_order: BTreeMap<OrderId, usize> = BTreeMap::new();
    for fill in fills.values() {
        *fills_by_order.entry(fill.order_id).or_default() += 1;
    }
    let mut claimed_slots = BTreeSet::new();
    let mut unknown_live_position = Decimal::ZERO;
    let mut unknown_fills = 0;
    let mut finished_adoptions = Vec::new();
    for (&order_id, view) in &views {
        match book.order(order_id) {
            Some(order) => {
                position_blocked |= decide_known(order, view, config, now, &mut decision);
            }
            None => match view.order {
                Some(venue) if venue.status.is_live() => {
                    if let Some(command) = adopt(
                        book,
                        venue,
                        view.filled,
                        now,
                        &mut claimed_slots,
                        &mut decision,
                    ) {
                        decision.commands.push((ActionKind::AdoptOrder, command));
                    } else {
                        // A sum beyond the decimal's range cannot be compared: the position
                        // waits (an extreme answer is refused, never a panic).
                        match unknown_live_position.checked_add(venue.side.signed(view.filled)) {
                            Some(sum) => unknown_live_position = sum,
                            None => position_blocked = true,
                        }
                    }
                }
                Some(venue) if view.filled > Decimal::ZERO => {
                    match adopt_finished(book, venue, view.filled, now) {
                        Ok(adoption) => finished_adoptions.push(adoption),
                        Err(reason) => {
                            // Its fills stay for the position adoption, as those of an order
                            // the venue no longer lists do.
                            decision
                                .findings
                                .push(StartupFinding::FinishedNotAdoptable { order_id, reason });
                            unknown_fills += fills_by_order.get(&order_id).copied().unwrap_or(0);
                        }
                    }
                }
                _ => {
                    position_blocked |= unknown_unanswered(order_id, view, answers, &mut decision);
                    unknown_fills += fills_by_order.get(&order_id).copied().unwrap_or(0);
                }
            },
        }
    }
    // Finished orders are adopted only in a round with no other order command, so that no
    // command before them moves their slots' revisions: each adoption moves its slot's by
    // one, so several in one slot carry `r`, `r + 1`, … (in order-id order).
    if decision.commands.is_empty() {
        let mut next: BTreeMap<Level, Revision> = BTreeMap::new();
        for mut adoption in finished_adoptions {
            let expected = next.entry(adoption.level).or_insert_with(|| {
                book.slot(adoption.level)
                    .map_or(Revision::ABSENT, |slot| slot.revision())
            });
            adoption.expected = *expected;
            expected.bump();
            decision.commands.push((
                ActionKind::AdoptFinishedOrder,
                BookCommand::Correct(Correction::AdoptFinished(adoption)),
            ));
        }
    }
    decision.fills_already_known = fills
        .values()
        .filter(|fill| {
            book.order(fill.order_id)
                .is_some_and(|order| fill.cumulative_filled <= order.filled())
        })
        .count();
    if unknown_fills > 0 {
        decision
            .findings
            .push(StartupFinding::FillsOfUnknownOrders {
                fills: unknown_fills,
            });
    }
    if decision.commands.is_empty() {
        decide_position(
            book,
            answers,
            unknown_live_position,
            position_blocked,
            now,
            &mut decision,
        );
    }
    decision.findings.sort();
    decision
}

/// Records the query-level problems; returns whether the position must wait for them.
fn check_queries(
    answers: &StartupAnswers,
    config: &StartupConfig,
    decision: &mut Decision,
) -> bool {
    let mut blocked = false;
    if let Err(error) = &answers.open_orders {
        decision
            .unresolved
            .push(Unresolved::QueryUnanswered(open_orders_error(error)));
        blocked = true;
    }
    match &answers.fills {
        Err(error) => blocked |= query_problem(error, config, decision),
        Ok(Some(history)) if !history.complete => {
            decision.unresolved.push(Unresolved::FillHistoryTruncated {
                pages: history.pages,
            });
            blocked = true;
        }
        Ok(_) => {}
    }
    if let Err(error) = position_answer(answers) {
        query_problem(error, config, decision);
    }
    blocked
}

/// The venue's position: the position query's answer, or, from a venue that does not support
/// that query, the net position its open-orders answer carries (when it carries one).
pub(super) fn position_answer(answers: &StartupAnswers) -> Result<PositionReport, &QueryError> {
    match (&answers.position, &answers.open_orders) {
        (Ok(report), _) => Ok(*report),
        (Err(error), Ok(listing)) if error.is_unsupported() => match listing.net_position {
            Some(net_position) => Ok(PositionReport::Reported {
                net_position,
                as_of: listing.as_of,
            }),
            None => Err(error),
        },
        (Err(error), _) => Err(error),
    }
}

/// Records a failed query: accepted as a finding if unsupported and the configuration allows,
/// unresolved otherwise. Returns whether it is unresolved.
fn query_problem(error: &QueryError, config: &StartupConfig, decision: &mut Decision) -> bool {
    if error.is_unsupported() && config.accept_unsupported {
        decision.findings.push(StartupFinding::UnsupportedQuery {
            query: error.query(),
        });
        false
    } else {
        decision
            .unresolved
            .push(Unresolved::QueryUnanswered(error.clone()));
        true
    }
}

fn open_orders_error(error: &OpenOrdersError) -> QueryError {
    match error {
        OpenOrdersError::Failed { reason } => QueryError::Failed {
            query: QueryKind::OpenOrders,
            reason: reason.clone(),
        },
        OpenOrdersError::TimedOut { after } => QueryError::TimedOut {
            query: QueryKind::OpenOrders,
            after: *after,
        },
        // A venue adapter that checks its answers itself refused one.
        OpenOrdersError::Impossible { .. } => QueryError::Failed {
            query: QueryKind::OpenOrders,
            reason: error.to_string(),
        },
    }
}

/// The history's fills, one per trade id (a repeated trade id keeps its largest entry, so the
/// result does not depend on the order of pages).
fn distinct_fills(answers: &StartupAnswers) -> BTreeMap<u64, &VenueFill> {
    let mut fills: BTreeMap<u64, &VenueFill> = BTreeMap::new();
    if let Ok(Some(history)) = &answers.fills {
        for fill in &history.fills {
            fills
                .entry(fill.trade_id)
                .and_modify(|kept| *kept = (*kept).max(fill))
                .or_insert(fill);
        }
    }
    fills
}

/// Everything the venue says, by order.
fn venue_views<'a>(
    listing: &'a [VenueOrder],
    targeted: &'a BTreeMap<OrderId, Result<OrderLookup, QueryError>>,
    fills: &BTreeMap<u64, &VenueFill>,
) -> BTreeMap<OrderId, VenueView<'a>> {
    let mut views: BTreeMap<OrderId, VenueView<'a>> = BTreeMap::new();
    let see = |views: &mut BTreeMap<OrderId, VenueView<'a>>, order: &'a VenueOrder| {
        let view = views.entry(order.order_id).or_default();
        view.filled = view.filled.max(order.filled);
        // The greatest entry wins, as in the continuous diff's canonical list: for one id,
        // `VenueOrder`'s `Ord` is the newest state, ties by every other field.
        if view.order.is_none_or(|kept| kept < order) {
            view.order = Some(order);
        }
    };
    for order in listing {
        see(&mut views, order);
    }
    for (&order_id, answer) in targeted {
        match answer {
            Ok(OrderLookup::Found(order)) => see(&mut views, order),
            Ok(OrderLookup::NotFound { as_of }) => {
                views.entry(order_id).or_default().not_found_as_of = Some(*as_of);
            }
            Err(error) => views.entry(order_id).or_default().error = Some(error),
        }
    }
    for fill in fills.values() {
        let view = views.entry(fill.order_id).or_default();
        view.filled = view.filled.max(fill.cumulative_filled);
    }
    views
}

/// Decides about an order the book knows. Returns whether the position must wait for it.
fn decide_known(
    order: &Order,
    view: &VenueView<'_>,
    config: &StartupConfig,
    now: Timestamp,
    decision: &mut Decision,
) -> bool {
    let order_id = order.id();
    let expected = order.revision();
    if view.filled > order.filled() {
        if view.filled > order.quantity() {
            decision
                .findings
                .push(StartupFinding::VenueFillExceedsQuantity {
                    order_id,
                    venue: view.filled,
                    quantity: order.quantity(),
                });
            return true;
        }
        let correction = Correction::MissedFill {
            order_id,
            expected,
            cumulative_filled: view.filled,
            at: now,
        };
        decision
            .commands
            .push((ActionKind::CorrectOrder, BookCommand::Correct(correction)));
        return false;
    }
    if view.order.is_some() && view.filled < order.filled() {
        decision.findings.push(StartupFinding::VenueFilledBehind {
            order_id,
            venue: view.filled,
            book: order.filled(),
        });
    }
    if !order.status().is_live() {
        if view.order.is_some_and(|venue| venue.status.is_live()) {
            decision
                .findings
                .push(StartupFinding::LiveAtVenueFinishedInBook { order_id });
        }
        return false;
    }
    let correction = match view.order {
        Some(venue) if venue.status.is_live() => {
            if order.status() != crate::book::OrderStatus::Pending {
                return false;
            }
            Correction::MissedAcknowledge {
                order_id,
                expected,
                at: now,
            }
        }
        // A positive answer: the venue has finished it, with no more fills than the book has.
        Some(_) => Correction::MarkLost {
            order_id,
            expected,
            at: now,
        },
        None => return unresolved_or_lost(order, view, config, now, decision),
    };
    decision
        .commands
        .push((ActionKind::CorrectOrder, BookCommand::Correct(correction)));
    false
}

/// A live order the venue neither lists nor reports found: lost only on a "not found" for an
/// order placed at least the grace before; unresolved otherwise. Returns whether the position
/// must wait.
fn unresolved_or_lost(
    order: &Order,
    view: &VenueView<'_>,
    config: &StartupConfig,
    now: Timestamp,
    decision: &mut Decision,
) -> bool {
    let order_id = order.id();
    if let Some(as_of) = view.not_found_as_of {
        let settled_at = order.placed_at().saturating_add(config.in_flight_grace);
        if settled_at <= now && settled_at <= as_of {
            let correction = Correction::MarkLost {
                order_id,
                expected: order.revision(),
                at: now,
            };
            decision
                .commands
                .push((ActionKind::CorrectOrder, BookCommand::Correct(correction)));
            return false;
        }
        decision.unresolved.push(Unresolved::NotFoundTooRecently {
            order_id,
            placed_at: order.placed_at(),
        });
        return true;
    }
    match view.error {
        Some(error) if error.is_unsupported() && config.accept_unsupported => {
            // Left to continuous reconciliation, which needs repeated absences; the position
            // waits, since the order's fills are unknown.
            decision.findings.push(StartupFinding::UnsupportedQuery {
                query: error.query(),
            });
        }
        error => decision.unresolved.push(Unresolved::OrderUnanswered {
            order_id,
            error: error.cloned(),
        }),
    }
    true
}

/// An adoption of a live venue order the book does not know, when its price is exactly a
/// level's, its slot is vacant (and not claimed by another adoption this round), and its fills
/// fit its quantity; otherwise a finding and `None`.
fn adopt<S: Storage>(
    book: &Book<S>,
    venue: &VenueOrder,
    filled: Quantity,
    now: Timestamp,
    claimed_slots: &mut BTreeSet<Level>,
    decision: &mut Decision,
) -> Option<BookCommand> {
    let order_id = venue.order_id;
    let not_adoptable = |decision: &mut Decision, reason| {
        decision
            .findings
            .push(StartupFinding::NotAdoptable { order_id, reason });
        None
    };
    let level = match adoptable_level(book, venue, filled) {
        Ok(level) => level,
        Err(reason) => return not_adoptable(decision, reason),
    };
    let slot = book.slot(level);
    if slot.is_some_and(|slot| slot.live_order().is_some()) || !claimed_slots.insert(level) {
        return not_adoptable(decision, "its slot is occupied");
    }
    Some(BookCommand::Correct(Correction::Adopt(Adoption {
        order_id,
        level,
        side: venue.side,
        price: venue.price,
        quantity: venue.quantity,
        cumulative_filled: filled,
        expected: slot.map_or(Revision::ABSENT, |slot| slot.revision()),
        at: now,
    })))
}

/// An order the book does not know, with fills in the history, that the listing left out and
/// no targeted answer found: its fills go to the position once the venue has answered "not
/// found" for it (it keeps no record of the order, so will not list it again). A query that
/// failed or timed out leaves it unresolved: the venue may list it later, and its fills would
/// then be explained twice. One the venue cannot answer (unsupported) or not asked (beyond the
/// query limit) is a finding. Returns whether the position must wait.
fn unknown_unanswered(
    order_id: OrderId,
    view: &VenueView<'_>,
    answers: &StartupAnswers,
    decision: &mut Decision,
) -> bool {
    if view.order.is_some() || view.not_found_as_of.is_some() || view.filled.is_zero() {
        return false;
    }
    match view.error {
        // A venue that cannot answer about one order never will: waiting would keep the pass
        // from completing for what is at worst a position the continuous diff suspects for a
        // while (the fills are known, so the position adopted is right either way).
        Some(error) if error.is_unsupported() => {
            decision.findings.push(StartupFinding::UnsupportedQuery {
                query: error.query(),
            });
            false
        }
        Some(error) => {
            decision.unresolved.push(Unresolved::OrderUnanswered {
                order_id,
                error: Some(error.clone()),
            });
            true
        }
        // Beyond the query limit: its fills are known, so the position can be adopted; only
        // the continuous diff may suspect the position if the venue lists the order later.
        // Blocking would keep a venue with a long recent history from ever completing.
        None => {
            debug_assert!(!answers.orders.contains_key(&order_id));
            decision
                .findings
                .push(StartupFinding::UnknownOrderNotQueried { order_id });
            false
        }
    }
}

/// The level a venue order can be adopted into, live or finished: its price must be a level's,
/// its quantity positive and its fills within it; otherwise why not.
fn adoptable_level<S: Storage>(
    book: &Book<S>,
    venue: &VenueOrder,
    filled: Quantity,
) -> Result<Level, &'static str> {
    let Some(level) = book.config().grid.level_of(venue.price) else {
        return Err("not at a level's price");
    };
    if venue.quantity <= Decimal::ZERO {
        return Err("its quantity is not positive");
    }
    if filled > venue.quantity {
        return Err("fills above its quantity");
    }
    Ok(level)
}

/// An adoption of a finished venue order the book never knew, with fills, as a tombstone of
/// its slot: when its price is exactly a level's and its fills and status fit its quantity;
/// otherwise why not. No slot needs to be vacant, and any number can go into one slot in one
/// round (see [`FinishedAdoption`]); `decide` sets their slot preconditions.
fn adopt_finished<S: Storage>(
    book: &Book<S>,
    venue: &VenueOrder,
    filled: Quantity,
    now: Timestamp,
) -> Result<FinishedAdoption, &'static str> {
    let level = adoptable_level(book, venue, filled)?;
    let status = venue.status.to_book_status();
    let fits = match status {
        OrderStatus::Filled => filled == venue.quantity,
        OrderStatus::Rejected => false,
        _ => true,
    };
    if !fits {
        return Err("its status does not fit its fills");
    }
    Ok(FinishedAdoption {
        order_id: venue.order_id,
        level,
        side: venue.side,
        price: venue.price,
        quantity: venue.quantity,
        cumulative_filled: filled,
        status,
        // Set when the round's adoptions are chained (`decide`).
        expected: Revision::ABSENT,
        at: now,
    })
}

/// The position check, in a round with no order command: adopts what the venue reports beyond
/// the book's net position and the fills of live venue orders the book does not hold.
fn decide_position<S: Storage>(
    book: &Book<S>,
    answers: &StartupAnswers,
    unknown_live_position: Quantity,
    blocked: bool,
    now: Timestamp,
    decision: &mut Decision,
) {
    let venue_position = match position_answer(answers) {
        Ok(PositionReport::Reported { net_position, .. }) => net_position,
        Ok(PositionReport::NotReported) => {
            decision.findings.push(StartupFinding::PositionNotReported);
            return;
        }
        // Already recorded by `check_queries`.
        Err(_) => return,
    };
    if blocked || !decision.unresolved.is_empty() {
        decision.unresolved.push(Unresolved::PositionAwaitingOrders);
        return;
    }
    let book_position = book.net_position();
    let Some(unexplained) = venue_position
        .checked_sub(book_position)
        .and_then(|difference| difference.checked_sub(unknown_live_position))
    else {
        decision.unresolved.push(Unresolved::PositionAwaitingOrders);
        return;
    };
    if unexplained.is_zero() {
        return;
    }
    let expected = book.adopted_position().revision();
    let adoption = PositionAdoption {
        id: PositionAdoptionId::derive(venue_position, book_position, unexplained, expected),
        quantity: unexplained,
        expected,
        at: now,
    };
    decision.commands.push((
        ActionKind::AdoptPosition,
        BookCommand::AdoptPosition(adoption),
    ));
}
