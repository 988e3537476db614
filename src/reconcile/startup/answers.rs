//! What the startup pass asks the venue, and the answers it decides on.

use std::collections::{BTreeMap, BTreeSet};

use crate::book::{Book, OrderId, Storage};
use crate::time::Timestamp;
use crate::venue::{
    FillCursor, OpenOrdersError, OrderLookup, PositionReport, QueryError, Venue, VenueFill,
    VenueReport,
};

use super::StartupConfig;

/// Every answer (or error) the startup pass got from the venue. Built by [`ask`], or by hand
/// in tests: [`decide`](super::decide) reads nothing else.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StartupAnswers {
    /// The open-orders query.
    pub open_orders: Result<VenueReport, OpenOrdersError>,
    /// The fill history since [`fill_cursor`]; `Ok(None)` when nothing was asked (a cold start
    /// whose open-orders query failed), or a cold start's venue keeps no history.
    pub fills: Result<Option<FillHistory>, QueryError>,
    /// The position query.
    pub position: Result<PositionReport, QueryError>,
    /// The targeted queries, by order id; an order of [`orders_to_query`] or
    /// [`unknown_orders_to_query`] missing here was not asked (beyond
    /// [`StartupConfig::max_order_queries`]).
    pub orders: BTreeMap<OrderId, Result<OrderLookup, QueryError>>,
}

/// The fill history read from the venue, over one or more pages.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FillHistory {
    /// Every fill read, in the order the pages gave them (duplicates included).
    pub fills: Vec<VenueFill>,
    /// Whether the last page said the history ends there; `false` when the page limit
    /// stopped the reading first.
    pub complete: bool,
    /// Pages read.
    pub pages: usize,
    /// The lowest trade id the venue still keeps, as its last page said.
    pub oldest_kept_trade_id: Option<u64>,
}

/// Where the fill history must start: at the earliest placement of any order the book knows
/// (live or tombstoned), since no fill of those orders can be older, and at the latest the
/// book's tombstone retention before `as_of` (the open-orders answer's time, when there is
/// one). `None` when the book knows no order and there is no answer.
///
/// Not the newest trade id the book has applied: updates arrive out of order, so a fill
/// missed before the crash can be older than the newest one applied.
///
/// The recent window is for the orders the book does not know: a finished order the venue
/// still lists, or left out of this answer and lists again later (a venue may omit an order
/// that closed moments ago), must be adopted as an order rather than folded into the
/// position, or the continuous diff would count its fills a second time; the history names
/// the ones the listing left out ([`unknown_orders_to_query`]). The venue lists a finished
/// order for less time than the book keeps a tombstone (the diff relies on that too), so the
/// orders it may still list finished within the retention, and their last fills are in this
/// window. (The book's own orders do not bound it: those it adopted carry the adoption's
/// time as their placement.) An order that rested longer than the retention after its last
/// fill and was cancelled within it is the exception: if the listing left it out, it is
/// folded into the position.
pub fn fill_cursor<S: Storage>(book: &Book<S>, as_of: Option<Timestamp>) -> Option<FillCursor> {
    let recent = as_of.map(|as_of| as_of.saturating_sub(book.config().tombstone_retention));
    book.orders_unordered()
        .map(|order| order.placed_at())
        .chain(recent)
        .min()
        .map(FillCursor::Since)
}

/// The book's live orders that the open-orders answer does not list at all, by id: each is
/// resolved by a targeted query, never by its absence from the list.
pub fn orders_to_query<S: Storage>(book: &Book<S>, open_orders: &VenueReport) -> Vec<OrderId> {
    let listed: BTreeSet<OrderId> = open_orders
        .orders
        .iter()
        .map(|order| order.order_id)
        .collect();
    book.live_orders()
        .into_iter()
        .map(|order| order.id())
        .filter(|order_id| !listed.contains(order_id))
        .collect()
}

/// The orders the fill history has fills of that the book does not know and the open-orders
/// answer does not list, by id: each is asked for by id, so that a finished order the listing
/// left out (a venue may omit an order that closed moments ago, and list it again later) is
/// adopted as an order rather than folded into the position, where the continuous diff would
/// count its fills a second time once the venue lists it.
pub fn unknown_orders_to_query<S: Storage>(
    book: &Book<S>,
    open_orders: &VenueReport,
    history: &FillHistory,
) -> Vec<OrderId> {
    let listed: BTreeSet<OrderId> = open_orders
        .orders
        .iter()
        .map(|order| order.order_id)
        .collect();
    let unknown: BTreeSet<OrderId> = history
        .fills
        .iter()
        .map(|fill| fill.order_id)
        .filter(|order_id| !listed.contains(order_id) && book.order(*order_id).is_none())
        .collect();
    unknown.into_iter().collect()
}

/// Asks `venue` every startup query for `book`: the open orders, the fill history since
/// [`fill_cursor`] (at most [`StartupConfig::max_fill_pages`] pages), the position, and each
/// order of [`orders_to_query`] then of [`unknown_orders_to_query`] (at most
/// [`StartupConfig::max_order_queries`] in all). Errors are kept as answers' errors, never
/// turned into empty answers.
pub fn ask<S: Storage>(
    venue: &mut impl Venue,
    book: &Book<S>,
    config: &StartupConfig,
) -> StartupAnswers {
    let open_orders = venue.open_orders();
    let as_of = open_orders.as_ref().ok().map(|report| report.as_of);
    let cursor = fill_cursor(book, as_of);
    let cold = book.orders_unordered().next().is_none();
    let fills = match cursor.map(|cursor| read_fill_history(venue, cursor, config)) {
        None => Ok(None),
        // A cold start needs no history to be right (no fill can be of an order the book
        // knows); the history only finds orders the listing left out. A venue that keeps none
        // must not keep a cold start from completing: nothing was learnt, as if not asked. A
        // failed query still leaves the pass incomplete (it is retried), since the next answer
        // may well find such an order.
        Some(Err(error)) if cold && error.is_unsupported() => Ok(None),
        Some(history) => history.map(Some),
    };
    let position = venue.position();
    let mut orders = BTreeMap::new();
    if let Ok(report) = &open_orders {
        let unknown = match &fills {
            Ok(Some(history)) => unknown_orders_to_query(book, report, history),
            _ => Vec::new(),
        };
        for order_id in orders_to_query(book, report)
            .into_iter()
            .chain(unknown)
            .take(config.max_order_queries)
        {
            orders.insert(order_id, venue.order_status(order_id));
        }
    }
    StartupAnswers {
        open_orders,
        fills,
        position,
        orders,
    }
}

fn read_fill_history(
    venue: &mut impl Venue,
    cursor: FillCursor,
    config: &StartupConfig,
) -> Result<FillHistory, QueryError> {
    let mut history = FillHistory::default();
    let mut next = Some(cursor);
    while let Some(cursor) = next {
        if history.pages >= config.max_fill_pages {
            return Ok(history);
        }
        let page = venue.fills_since(cursor, config.fill_page_size)?;
        history.pages += 1;
        history.fills.extend(page.fills);
        history.oldest_kept_trade_id = page.oldest_kept_trade_id;
        // A venue that hands back the cursor it was given would page forever: stop, and
        // leave the history incomplete.
        if page.next == Some(cursor) {
            return Ok(history);
        }
        next = page.next;
    }
    history.complete = true;
    Ok(history)
}
