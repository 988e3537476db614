//! The venue's truth against the book: what "converged" means.

use crate::venue::SimulatedVenue;
use std::collections::BTreeSet;

use snapstate::book::{Book, OrderId, OrderStatus};

use crate::run::compare;

/// Every way `book` disagrees with what `venue` knows (empty when they agree): `compare`'s
/// differences by order, then the stricter ones below.
///
/// `simulate`'s [`compare`] finds the differences in filled quantities (no fill lost, none
/// counted twice), in liveness, in orders one side does not know, and in the net position.
/// A deterministic run can ask for more, since it ends with nothing in flight:
/// * no update may still be on its way;
/// * a live order has the same status in both (a pending order, never acknowledged, differs
///   from an open one);
/// * a finished order has the venue's status, or `lost`, which is how the book records an
///   order that reconciliation found finished without being told how;
/// * no order in the book, live or finished, is unknown to the venue.
///
/// `placements_lost` are orders whose placement a crash took from the journal: the venue
/// worked them while the book never heard of them. The startup reconciliation adopts those
/// still live, and those finished with fills that the venue still lists (as tombstones); one
/// the venue finished and no longer listed at the startup pass, or finished with nothing
/// filled, may stay unknown to the book: its fills must still be in the book's net position,
/// which the startup pass adopts as position.
pub(crate) fn differences(
    book: &Book,
    venue: &SimulatedVenue,
    placements_lost: &BTreeSet<OrderId>,
) -> Vec<String> {
    let comparison = compare(book, venue.orders(), venue.net_position());
    let excused = |order_id: OrderId| {
        placements_lost.contains(&order_id)
            && book.order(order_id).is_none()
            && venue
                .order(order_id)
                .is_some_and(|truth| !truth.status.is_live())
    };
    let mut found: Vec<String> = comparison
        .differences
        .iter()
        .filter(|difference| !excused(difference.order_id))
        .map(ToString::to_string)
        .collect();
    let pending = venue.pending_update_count();
    if pending > 0 {
        found.push(format!("{pending} updates still in flight"));
    }
    for truth in venue.orders() {
        let Some(local) = book.order(truth.order_id) else {
            continue;
        };
        if local.status().is_live() != truth.status.is_live() {
            // `compare` has reported it.
            continue;
        }
        let agrees = local.status() == truth.status.to_book_status()
            || (!truth.status.is_live() && local.status() == OrderStatus::Lost);
        if !agrees {
            found.push(format!(
                "{}: {} in the book, {} at the venue",
                truth.order_id,
                local.status(),
                truth.status
            ));
        }
    }
    for local in book.orders_by_id() {
        if local.status().is_finished() && venue.order(local.id()).is_none() {
            found.push(format!(
                "{}: {} in the book, unknown to the venue",
                local.id(),
                local.status()
            ));
        }
    }
    if comparison.book_net_position != comparison.venue_net_position {
        found.push(format!(
            "net position: book {}, venue {}",
            comparison.book_net_position, comparison.venue_net_position
        ));
    }
    found
}
