//! INTERIM: the reconciliation step of the comparison, until the reconciler (issue 3) lands on
//! `main`.
//!
//! This is **not** snapstate's reconciler. It is a stand-in of the same shape and order of cost
//! — for each of the venue's N open orders, one lookup in the book and a comparison; then one
//! pass over the book's live orders to find those the venue does not list; the mismatches
//! sorted by order id — so that `reconcile_ms` and the reconciler's background load can be
//! measured now. When `snapstate::reconcile` is merged, this module is replaced by calls to its
//! pure diff against a simulated venue's report, and the figures are re-measured.

use std::collections::HashSet;

use rust_decimal::Decimal;
use snapstate::book::{Book, OrderId, OrderStatus, Quantity, Storage};

/// One order as the (interim) venue reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InterimVenueOrder {
    /// The order's id.
    pub order_id: OrderId,
    /// Its cumulative filled quantity at the venue.
    pub filled: Quantity,
    /// Its status at the venue.
    pub status: OrderStatus,
}

/// What the interim diff found about one order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InterimMismatch {
    /// The venue reports more filled than the book.
    MissedFill(OrderId),
    /// The venue reports another status.
    StatusDiffers(OrderId),
    /// The venue lists an order the book does not know.
    UnknownAtBook(OrderId),
    /// The book has a live order the venue does not list.
    MissingAtVenue(OrderId),
}

impl InterimMismatch {
    fn order_id(&self) -> OrderId {
        match self {
            Self::MissedFill(id)
            | Self::StatusDiffers(id)
            | Self::UnknownAtBook(id)
            | Self::MissingAtVenue(id) => *id,
        }
    }
}

/// A venue report built from the book's own live orders, with a few deliberate differences so
/// that the diff finds something: every 97th order shows one more lot filled, and every 101st
/// is left out.
pub fn venue_report<S: Storage>(book: &Book<S>) -> Vec<InterimVenueOrder> {
    book.open_orders()
        .into_iter()
        .enumerate()
        .filter(|(index, _)| index % 101 != 100)
        .map(|(index, order)| InterimVenueOrder {
            order_id: order.id(),
            filled: if index % 97 == 96 && order.filled() < order.quantity() {
                order.filled() + Decimal::ONE
            } else {
                order.filled()
            },
            status: order.status(),
        })
        .collect()
}

/// The interim diff of a book against a venue report, sorted by order id.
pub fn interim_diff<S: Storage>(
    book: &Book<S>,
    venue: &[InterimVenueOrder],
) -> Vec<InterimMismatch> {
    let mut mismatches = Vec::new();
    let mut listed = HashSet::with_capacity(venue.len());
    for reported in venue {
        listed.insert(reported.order_id);
        match book.order(reported.order_id) {
            None => mismatches.push(InterimMismatch::UnknownAtBook(reported.order_id)),
            Some(local) if reported.filled > local.filled() => {
                mismatches.push(InterimMismatch::MissedFill(reported.order_id));
            }
            Some(local) if reported.status != local.status() => {
                mismatches.push(InterimMismatch::StatusDiffers(reported.order_id));
            }
            Some(_) => {}
        }
    }
    for slot in book.slots_unordered() {
        if let Some(live) = slot.live_order()
            && !listed.contains(&live)
        {
            mismatches.push(InterimMismatch::MissingAtVenue(live));
        }
    }
    mismatches.sort_unstable_by_key(InterimMismatch::order_id);
    mismatches
}

#[cfg(test)]
mod tests {
    use snapstate::book::Persistent;

    use super::*;
    use crate::bench::workload::Workload;

    #[test]
    fn the_diff_finds_exactly_the_planted_differences() {
        let workload = Workload::new(1_000);
        let book: Book<Persistent> = workload.initial_book();
        let report = venue_report(&book);
        let mismatches = interim_diff(&book, &report);
        let missed = mismatches
            .iter()
            .filter(|found| matches!(found, InterimMismatch::MissedFill(_)))
            .count();
        let missing = mismatches
            .iter()
            .filter(|found| matches!(found, InterimMismatch::MissingAtVenue(_)))
            .count();
        assert_eq!(missing, 1_000 / 101);
        assert!(
            missed >= 9,
            "about one in 97 reported orders, found {missed}"
        );
        assert_eq!(missed + missing, mismatches.len());
        assert!(
            mismatches
                .windows(2)
                .all(|pair| pair[0].order_id() <= pair[1].order_id())
        );
    }
}
