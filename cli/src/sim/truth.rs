//! The venue's truth against the book: what "converged" means.

use snapstate::book::{Book, OrderStatus};
use snapstate::venue::SimulatedVenue;

/// Every way `book` disagrees with what `venue` knows, sorted by order (empty when they agree).
///
/// They agree when no update is still on its way, and:
/// * every order the venue remembers is in the book with the same filled quantity (no fill
///   lost, none counted twice), and is live in both or finished in both;
/// * a live order has the same status in both (a pending order, never acknowledged, differs
///   from an open one);
/// * a finished order has the venue's status, or `lost`, which is how the book records an
///   order that reconciliation found finished without being told how;
/// * every order in the book is one the venue knows;
/// * the net positions are equal.
pub(crate) fn differences(book: &Book, venue: &SimulatedVenue) -> Vec<String> {
    let mut found = Vec::new();
    let pending = venue.pending_update_count();
    if pending > 0 {
        found.push(format!("{pending} updates still in flight"));
    }
    for truth in venue.orders() {
        let id = truth.order_id;
        let Some(local) = book.order(id) else {
            found.push(format!("{id}: unknown to the book"));
            continue;
        };
        if local.filled() != truth.filled {
            found.push(format!(
                "{id}: book filled {}, venue filled {}",
                local.filled(),
                truth.filled
            ));
        }
        let venue_status = truth.status.to_book_status();
        let agrees = if truth.status.is_live() {
            local.status() == venue_status
        } else {
            local.status() == venue_status || local.status() == OrderStatus::Lost
        };
        if !agrees {
            found.push(format!(
                "{id}: book {}, venue {}",
                local.status(),
                truth.status
            ));
        }
    }
    for local in book.orders_by_id() {
        if venue.order(local.id()).is_none() {
            found.push(format!("{}: unknown to the venue", local.id()));
        }
    }
    if book.net_position() != venue.net_position() {
        found.push(format!(
            "net position: book {}, venue {}",
            book.net_position(),
            venue.net_position()
        ));
    }
    found
}
