//! The pure diff: a book and a venue answer in, findings and the next evidence out.

use rust_decimal::Decimal;

use crate::book::{Book, Level, Order, OrderId, OrderStatus, Quantity, Revision, Storage};
use crate::time::Timestamp;
use crate::venue::{VenueOrder, VenueOrderStatus, VenueReport};

use super::evidence::{Fingerprint, Observation};
use super::plan::plan;
use super::{
    Action, Evidence, Finding, Mismatch, ReconcileConfig, Reconciliation, StatusDifference,
};

/// Compares a book (usually a snapshot's) with a venue's answer, at `now`, given the evidence of
/// earlier cycles.
///
/// Pure: no I/O, no clock, no randomness. The same inputs give the same [`Reconciliation`],
/// whose findings are sorted by subject and class. Works on a book with any storage.
///
/// # The venue's list
///
/// The list may come in any order and may hold the same order more than once (a paginated
/// answer that saw an order change between pages). It is put into one canonical order first,
/// and of several entries for one order the one the venue changed last is kept (ties broken
/// by every other field, so the choice never depends on the list's order). Shuffling the list
/// or repeating an entry therefore never changes the result.
///
/// # Cost
///
/// O(v) lookups for v listed orders when every live book order is listed, plus O(v log v) if
/// the list is not already sorted by id; a walk of the slots only when some live order is not
/// listed. When the list is about as long as the book has slots and its ids are dense, one
/// walk of the slots in level order replaces the lookups of the live orders (same result; see
/// `for_each_local` in the source). Differences cost extra only where they are.
///
/// # Example
///
/// ```
/// use rust_decimal::Decimal;
/// use snapstate::book::{Book, BookCommand, BookConfig, Grid, Level, OrderId, Place, Side};
/// use snapstate::reconcile::{reconcile, Evidence, MismatchClass, ReconcileConfig};
/// use snapstate::time::Timestamp;
/// use snapstate::venue::{VenueOrder, VenueOrderStatus, VenueReport};
///
/// let grid = Grid::new(Decimal::new(100, 0), Decimal::ONE, Level(-5), Level(5))?;
/// let mut book = Book::new(BookConfig::new(grid));
/// let placed_at = Timestamp::from_millis(1_000);
/// book.apply(&BookCommand::Place(Place {
///     order_id: OrderId(1), level: Level(-1), side: Side::Buy,
///     price: Decimal::new(99, 0), quantity: Decimal::new(2, 0), at: placed_at,
/// }))?;
/// // Much later, the venue says the order is live and half filled.
/// let now = Timestamp::from_millis(60_000);
/// let venue = VenueReport {
///     as_of: now,
///     orders: vec![VenueOrder {
///         order_id: OrderId(1), updated_at: placed_at, filled: Decimal::ONE,
///         status: VenueOrderStatus::PartiallyFilled, side: Side::Buy,
///         price: Decimal::new(99, 0), quantity: Decimal::new(2, 0),
///     }],
///     net_position: Some(Decimal::ONE),
/// };
/// let config = ReconcileConfig::default();
/// let first = reconcile(&book, &venue, &config, now, &Evidence::new());
/// assert_eq!(first.confirmed().count(), 0, "one answer is not enough");
/// let second = reconcile(&book, &venue, &config, now, &first.evidence);
/// assert_eq!(second.confirmed_count(MismatchClass::VenueFilledAhead), 1);
/// assert_eq!(second.corrections().count(), 1); // a guarded missed fill
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn reconcile<S: Storage>(
    book: &Book<S>,
    venue: &VenueReport,
    config: &ReconcileConfig,
    now: Timestamp,
    evidence: &Evidence,
) -> Reconciliation {
    reconcile_with(book, venue, config, now, evidence, Walk::WhenDense)
}

/// How the diff finds the book's order for each listed order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Walk {
    /// By one walk of the slots when the list is dense ([`listed_positions`]), else by id.
    WhenDense,
    /// Always by a lookup per listed order (for tests: the answer must not depend on it).
    #[cfg_attr(not(test), allow(dead_code, reason = "the tests' reference path"))]
    Never,
}

/// [`reconcile`], choosing how listed orders are found.
pub(super) fn reconcile_with<S: Storage>(
    book: &Book<S>,
    venue: &VenueReport,
    config: &ReconcileConfig,
    now: Timestamp,
    evidence: &Evidence,
    walk: Walk,
) -> Reconciliation {
    let listed = canonical(&venue.orders);
    let mut diff = Diff {
        book,
        config,
        now,
        previous: evidence,
        next: Evidence::new(),
        findings: Vec::new(),
        explained: Decimal::ZERO,
        explained_by: Vec::new(),
        listed_live_in_book: 0,
        irregular: Vec::new(),
    };
    diff.look_up_listed(&listed, venue.as_of, walk);
    if !diff.irregular.is_empty() {
        diff.find_crowded_slots(&listed);
    }
    if let Some(venue_net) = venue.net_position {
        diff.compare_position(venue_net);
    }
    let Diff {
        mut findings, next, ..
    } = diff;
    findings.sort_by_key(|finding| (finding.mismatch.subject(), finding.class()));
    plan(&mut findings, book, config, now);
    Reconciliation {
        now,
        venue_as_of: venue.as_of,
        book_live_orders: book.live_count() as u64,
        venue_orders: listed.len(),
        findings,
        evidence: next,
    }
}

/// The venue's orders sorted by id, one entry per id (the greatest by `Ord`: the latest
/// update, then the other fields). An answer already sorted by id without repeats, as most
/// venues send it, is taken as it is.
fn canonical(orders: &[VenueOrder]) -> Vec<&VenueOrder> {
    let mut listed: Vec<&VenueOrder> = orders.iter().collect();
    let sorted = listed
        .windows(2)
        .all(|pair| pair[0].order_id < pair[1].order_id);
    if !sorted {
        listed.sort_unstable();
        // `dedup_by_key` keeps the first entry of each run of one id; in reverse order, that
        // is the greatest entry, the one the venue changed last.
        listed.reverse();
        listed.dedup_by_key(|order| order.order_id);
        listed.reverse();
    }
    listed
}

/// At most this many ids per listed order between the list's first and last id, for
/// [`listed_positions`] to index the list by id offset.
const WALK_SPAN_PER_LISTED: u64 = 16;

/// Where in `listed` (sorted by id without repeats) each id is, as an array indexed by the id's
/// offset from the first listed id (the position plus one; 0 where no order is listed), when
/// the venue lists at least half as many orders as the book has slots and their ids are dense;
/// `None` otherwise (then a walk of the slots would cost more than a lookup per order).
pub(super) fn listed_positions<S: Storage>(
    book: &Book<S>,
    listed: &[&VenueOrder],
) -> Option<Vec<u32>> {
    let first = listed.first()?.order_id.0;
    let last = listed.last()?.order_id.0;
    let span = last.checked_sub(first)?.checked_add(1)?;
    let count = u64::try_from(listed.len()).ok()?;
    let slots = u64::try_from(book.slot_count()).unwrap_or(u64::MAX);
    let worth_it =
        count.saturating_mul(2) >= slots && span <= count.saturating_mul(WALK_SPAN_PER_LISTED);
    if !worth_it {
        return None;
    }
    let mut position_of = vec![0_u32; usize::try_from(span).ok()?];
    for (position, venue) in listed.iter().enumerate() {
        let offset = usize::try_from(venue.order_id.0 - first).ok()?;
        position_of[offset] = u32::try_from(position + 1).ok()?;
    }
    Some(position_of)
}

/// In which order [`for_each_local`] visited the listed orders.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Visits {
    /// By position, lowest first.
    InListOrder,
    /// The listed orders that slots hold first, in level order, then the others by position.
    SlotsFirst,
}

/// Calls `visit(position, local)` once for each listed order, with the book's order for it as
/// [`Book::order`] answers (`None` where the book does not know it), and says in which order
/// it did.
///
/// A lookup per listed order walks the order index and then the slot array at a random place
/// each time, and the comparison then reads the order there. In the steady state the venue
/// lists every live order, and every live order sits in its slot: when the list is dense
/// ([`listed_positions`]), this walks the slots in level order, reading them in memory order,
/// and visits each slot's live order that is listed (so the comparison reads it while it is in
/// the cache, and the venue's list, a plain array, at random instead); then it visits the
/// listed orders no slot holds (finished in the book, or unknown), looked up by id, in the
/// list's order. The answer is the lookup's, since a live order is exactly its slot's live
/// order (the book's invariant 4); only the order of the visits differs
/// ([`Visits::SlotsFirst`]). Otherwise, and with [`Walk::Never`], all lookups come first and
/// all visits after, in the list's order ([`Visits::InListOrder`]): the lookups do not depend
/// on one another, so the processor overlaps their cache misses (measured: a third less time
/// for 10,000 orders than looking up and comparing one order at a time).
pub(super) fn for_each_local<'b, S: Storage>(
    book: &'b Book<S>,
    listed: &[&VenueOrder],
    walk: Walk,
    mut visit: impl FnMut(usize, Option<&'b Order>),
) -> Visits {
    let positions = match walk {
        Walk::WhenDense => listed_positions(book, listed),
        Walk::Never => None,
    };
    let (Some(mut position_of), Some(first)) = (positions, listed.first()) else {
        let locals: Vec<Option<&Order>> = listed
            .iter()
            .map(|venue| book.order(venue.order_id))
            .collect();
        for (position, local) in locals.into_iter().enumerate() {
            visit(position, local);
        }
        return Visits::InListOrder;
    };
    let first = first.order_id.0;
    let offset_of = |id: OrderId| {
        id.0.checked_sub(first)
            .and_then(|offset| usize::try_from(offset).ok())
    };
    // Internal iteration (`for_each`): the slots of persistent storage are nested (leaves of
    // a tree), and a fold walks nested iterators without re-entering them per item. A visited
    // order's entry in `position_of` is cleared, so that the entries left afterwards are the
    // listed orders still to visit.
    book.slots_unordered()
        .filter_map(|slot| slot.live())
        .for_each(|order| {
            if let Some(entry) =
                offset_of(order.id()).and_then(|offset| position_of.get_mut(offset))
                && let Some(position) = (*entry as usize).checked_sub(1)
            {
                *entry = 0;
                visit(position, Some(order));
            }
        });
    for (position, venue) in listed.iter().enumerate() {
        let unvisited = offset_of(venue.order_id)
            .and_then(|offset| position_of.get(offset))
            .is_some_and(|&entry| entry != 0);
        if unvisited {
            visit(position, book.order(venue.order_id));
        }
    }
    Visits::SlotsFirst
}

fn find_listed<'a>(listed: &[&'a VenueOrder], order_id: OrderId) -> Option<&'a VenueOrder> {
    listed
        .binary_search_by_key(&order_id, |order| order.order_id)
        .ok()
        .map(|index| listed[index])
}

/// The diff's working state.
struct Diff<'a, S: Storage> {
    book: &'a Book<S>,
    config: &'a ReconcileConfig,
    now: Timestamp,
    previous: &'a Evidence,
    next: Evidence,
    findings: Vec<Finding>,
    /// The part of `venue net − book net` that listed orders explain: for each listed order,
    /// its signed venue fills minus its signed book fills.
    explained: Quantity,
    /// The parts of `explained`, by the listed order's position in the list: added up in the
    /// list's order once all are known, since the comparisons may run in another order and a
    /// saturating sum depends on the order of its terms.
    explained_by: Vec<(usize, Quantity)>,
    /// How many listed orders are live in the book: if all are, none is missing.
    listed_live_in_book: u64,
    /// Venue-live orders that are not the book's live order of a slot (unknown, or finished in
    /// the book), with the slot they belong to: the only ones that can crowd a slot.
    irregular: Vec<(Level, OrderId)>,
}

impl<S: Storage> Diff<'_, S> {
    /// Records a difference: updates its evidence and decides whether it is confirmed.
    /// `last_activity` is the latest change on either side; `None` measures quiet from when the
    /// difference was first seen.
    fn record(
        &mut self,
        mismatch: Mismatch,
        fingerprint: Fingerprint,
        last_activity: Option<Timestamp>,
    ) {
        let subject = mismatch.subject();
        let class = mismatch.class();
        let observation =
            Observation::next(self.previous.get(subject, class), fingerprint, self.now);
        let quiet_since = last_activity.unwrap_or(observation.first_seen());
        let quiet = self.now.saturating_duration_since(quiet_since) >= self.config.in_flight_grace;
        let confirmed =
            quiet && observation.observations() >= self.config.observations_required(class);
        self.findings.push(Finding {
            mismatch,
            first_seen: observation.first_seen(),
            observations: observation.observations(),
            confirmed,
            action: Action::Wait,
        });
        self.next.insert(subject, class, observation);
    }

    /// Finds every listed order in the book and compares the two ([`for_each_local`]), then
    /// walks the slots for live orders the venue left out, if the counts say there are any.
    fn look_up_listed(&mut self, listed: &[&VenueOrder], as_of: Timestamp, walk: Walk) {
        let book = self.book;
        let visits = for_each_local(book, listed, walk, |position, local| {
            self.compare(position, listed[position], local);
        });
        let mut explained_by = std::mem::take(&mut self.explained_by);
        if visits == Visits::SlotsFirst {
            explained_by.sort_unstable_by_key(|&(position, _)| position);
        }
        for (_, part) in explained_by {
            self.explained = self.explained.saturating_add(part);
        }
        if self.listed_live_in_book < self.book.live_count() as u64 {
            self.find_missing(listed, as_of);
        }
    }

    /// Compares the listed order at `position` with the book's.
    fn compare(&mut self, position: usize, venue: &VenueOrder, local: Option<&Order>) {
        let Some(local) = local else {
            self.explained_by
                .push((position, venue.side.signed(venue.filled)));
            if venue.status.is_live() {
                self.unknown(venue);
            }
            return;
        };
        if local.status().is_live() {
            self.listed_live_in_book += 1;
        } else if venue.status.is_live() {
            self.irregular.push((local.level(), local.id()));
        }
        // Unpacked once: a compact quantity costs a few nanoseconds to read, ten thousand
        // times per reconciliation.
        let filled = local.filled();
        if venue.filled != filled || venue.side != local.side() {
            let difference = venue
                .side
                .signed(venue.filled)
                .saturating_sub(local.side().signed(filled));
            self.explained_by.push((position, difference));
        }
        let same = venue.side == local.side()
            && venue.filled == filled
            && venue.price == local.price()
            && venue.quantity == local.quantity()
            && status_difference(local.status(), venue.status).is_none();
        if !same {
            self.compare_fields(local, venue);
        }
    }

    fn compare_fields(&mut self, local: &Order, venue: &VenueOrder) {
        let order_id = local.id();
        let revision = local.revision();
        let fingerprint = || Fingerprint::Order {
            local: Some(revision),
            venue: Some(venue.updated_at),
        };
        let last_activity = Some(local.last_activity().max(venue.updated_at));
        let mut differences = Vec::new();
        if venue.filled != local.filled() {
            differences.push(Mismatch::FilledDiffers {
                order_id,
                local: local.filled(),
                venue: venue.filled,
                revision,
            });
        }
        if venue.side != local.side() {
            differences.push(Mismatch::SideDiffers {
                order_id,
                local: local.side(),
                venue: venue.side,
                revision,
            });
        }
        // The book refuses an order whose price is not its slot's, so only the venue's price
        // can be off.
        if venue.price != local.price() {
            differences.push(Mismatch::PriceDiffers {
                order_id,
                level: local.level(),
                local: local.price(),
                venue: venue.price,
                revision,
            });
        }
        if venue.quantity != local.quantity() {
            differences.push(Mismatch::QuantityDiffers {
                order_id,
                local: local.quantity(),
                venue: venue.quantity,
                revision,
            });
        }
        if let Some(difference) = status_difference(local.status(), venue.status) {
            differences.push(Mismatch::StatusDiffers {
                order_id,
                difference,
                local: local.status(),
                venue: venue.status,
                revision,
            });
        }
        for mismatch in differences {
            self.record(mismatch, fingerprint(), last_activity);
        }
    }

    fn unknown(&mut self, venue: &VenueOrder) {
        let grid = &self.book.config().grid;
        let level = grid.level_of(venue.price);
        let slot = level.and_then(|level| self.book.slot(level));
        if let Some(level) = level {
            self.irregular.push((level, venue.order_id));
        }
        let mismatch = Mismatch::UnknownOrder {
            venue: venue.clone(),
            inside_grid: grid.spans(venue.price),
            level,
            slot_revision: slot.map_or(Revision::ABSENT, |slot| slot.revision()),
            slot_live_order: slot.and_then(|slot| slot.live_order()),
        };
        let fingerprint = Fingerprint::Order {
            local: None,
            venue: Some(venue.updated_at),
        };
        self.record(mismatch, fingerprint, Some(venue.updated_at));
    }

    /// Records every live book order the venue does not list. An answer as of no later than
    /// the order's last change cannot know about that change, so it is no observation.
    fn find_missing(&mut self, listed: &[&VenueOrder], as_of: Timestamp) {
        let book = self.book;
        let missing: Vec<&Order> = book
            .slots_unordered()
            .filter_map(|slot| slot.live_order())
            .filter(|order_id| find_listed(listed, *order_id).is_none())
            .filter_map(|order_id| book.order(order_id))
            .collect();
        self.record_missing(missing, as_of);
    }

    /// Records live book orders the venue left out, by id.
    fn record_missing(&mut self, mut missing: Vec<&Order>, as_of: Timestamp) {
        missing.retain(|order| as_of > order.last_activity());
        missing.sort_unstable_by_key(|order| order.id());
        for order in missing {
            let mismatch = Mismatch::MissingAtVenue {
                order_id: order.id(),
                level: order.level(),
                status: order.status(),
                revision: order.revision(),
            };
            let fingerprint = Fingerprint::Order {
                local: Some(order.revision()),
                venue: None,
            };
            self.record(mismatch, fingerprint, Some(order.last_activity()));
        }
    }

    /// Records every slot for which the venue works more than one live order.
    fn find_crowded_slots(&mut self, listed: &[&VenueOrder]) {
        let mut irregular = std::mem::take(&mut self.irregular);
        irregular.sort_unstable();
        for group in irregular.chunk_by(|a, b| a.0 == b.0) {
            let level = group[0].0;
            let mut orders: Vec<OrderId> = group.iter().map(|(_, order_id)| *order_id).collect();
            let book_live_order = self
                .book
                .slot(level)
                .and_then(|slot| slot.live_order())
                .filter(|order_id| {
                    find_listed(listed, *order_id).is_some_and(|order| order.status.is_live())
                });
            if let Some(order_id) = book_live_order
                && !orders.contains(&order_id)
            {
                orders.push(order_id);
                orders.sort_unstable();
            }
            if orders.len() < 2 {
                continue;
            }
            let latest_update = orders
                .iter()
                .filter_map(|order_id| find_listed(listed, *order_id))
                .map(|order| order.updated_at)
                .max()
                .unwrap_or(Timestamp::EPOCH);
            let fingerprint = Fingerprint::Slot {
                orders: orders.clone(),
                latest_update,
            };
            let mismatch = Mismatch::MultipleLiveOrders {
                level,
                orders,
                book_live_order,
            };
            self.record(mismatch, fingerprint, Some(latest_update));
        }
    }

    fn compare_position(&mut self, venue: Quantity) {
        let local = self.book.net_position();
        let unexplained = venue.saturating_sub(local).saturating_sub(self.explained);
        if unexplained.abs() <= self.config.position_tolerance {
            return;
        }
        let mismatch = Mismatch::PositionDiffers {
            local,
            venue,
            explained: self.explained,
            unexplained,
        };
        self.record(mismatch, Fingerprint::Position(unexplained), None);
    }
}

/// How the book's and the venue's statuses differ, if in a way that matters.
///
/// Live against live differs only while the book waits for an acknowledgement: open against
/// partially filled follows from the filled quantities, which are compared on their own.
/// Finished against finished never differs: the book's `lost` means "finished, how is not
/// known", and any other disagreement between final states shows in the filled quantities.
fn status_difference(local: OrderStatus, venue: VenueOrderStatus) -> Option<StatusDifference> {
    match (local.is_live(), venue.is_live()) {
        (true, true) if local == OrderStatus::Pending => Some(StatusDifference::NotAcknowledged),
        (true, false) => Some(StatusDifference::FinishedAtVenue),
        (false, true) => Some(StatusDifference::LiveAtVenue),
        _ => None,
    }
}
