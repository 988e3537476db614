//! The final check of a simulation: does the book say what the venue knows to be true?
//!
//! Pure: a book and the venue's own records in, the differences out, sorted by order id.

use std::collections::BTreeSet;
use std::fmt;

use serde::Serialize;
use snapstate::book::{Book, OrderId, Quantity};
use snapstate::venue::VenueOrder;

/// One order on which the book and the venue's truth disagree.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct OrderDifference {
    /// The order.
    pub order_id: OrderId,
    /// How they differ, in words.
    pub difference: String,
}

impl fmt::Display for OrderDifference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.order_id, self.difference)
    }
}

/// The book against the venue's truth.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Comparison {
    /// Orders the venue remembers, each compared with the book's.
    pub orders_compared: usize,
    /// Live orders in the book.
    pub book_live_orders: u64,
    /// Live orders at the venue.
    pub venue_live_orders: usize,
    /// The book's net position.
    pub book_net_position: Quantity,
    /// The venue's net position: every fill it made.
    pub venue_net_position: Quantity,
    /// Every order that differs, by id.
    pub differences: Vec<OrderDifference>,
}

impl Comparison {
    /// Whether the book agrees with the venue on every order and on the net position.
    pub fn agrees(&self) -> bool {
        self.differences.is_empty() && self.book_net_position == self.venue_net_position
    }
}

/// Compares `book` with the orders the venue remembers and its net position.
///
/// An order agrees when the book knows it, both have the same cumulative filled quantity, and
/// both agree on whether it is still live. Finished statuses are not compared with each other:
/// the book records an order that reconciliation finished as `lost`, whatever the venue's
/// final status (see `docs/reconciliation.md`). A live book order the venue does not know
/// differs too.
pub fn compare<'a>(
    book: &Book,
    venue_orders: impl IntoIterator<Item = &'a VenueOrder>,
    venue_net_position: Quantity,
) -> Comparison {
    let mut differences = Vec::new();
    let mut seen = BTreeSet::new();
    let mut orders_compared = 0;
    let mut venue_live_orders = 0;
    for truth in venue_orders {
        orders_compared += 1;
        seen.insert(truth.order_id);
        if truth.status.is_live() {
            venue_live_orders += 1;
        }
        if let Some(difference) = differs(book, truth) {
            differences.push(OrderDifference {
                order_id: truth.order_id,
                difference,
            });
        }
    }
    for order in book.live_orders() {
        if !seen.contains(&order.id()) {
            differences.push(OrderDifference {
                order_id: order.id(),
                difference: format!("{} in the book, unknown to the venue", order.status()),
            });
        }
    }
    differences.sort();
    Comparison {
        orders_compared,
        book_live_orders: book.live_count() as u64,
        venue_live_orders,
        book_net_position: book.net_position(),
        venue_net_position,
        differences,
    }
}

fn differs(book: &Book, truth: &VenueOrder) -> Option<String> {
    let Some(local) = book.order(truth.order_id) else {
        return Some(format!(
            "{} at the venue, unknown to the book",
            truth.status
        ));
    };
    if local.filled() != truth.filled {
        return Some(format!(
            "filled {} in the book, {} at the venue",
            local.filled(),
            truth.filled
        ));
    }
    if local.status().is_live() != truth.status.is_live() {
        return Some(format!(
            "{} in the book, {} at the venue",
            local.status(),
            truth.status
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal::Decimal;
    use snapstate::book::{
        BookCommand, BookConfig, FillReport, Grid, Level, Place, Side, StatusReport,
    };
    use snapstate::time::Timestamp;
    use snapstate::venue::VenueOrderStatus;

    fn book_with_one_order(filled: i64) -> Book {
        let grid = Grid::new(Decimal::from(100), Decimal::ONE, Level(-5), Level(5)).expect("grid");
        let mut book = Book::new(BookConfig::new(grid));
        let at = Timestamp::from_millis(1);
        let commands = [
            BookCommand::Place(Place {
                order_id: OrderId(1),
                level: Level(-1),
                side: Side::Buy,
                price: Decimal::from(99),
                quantity: Decimal::from(4),
                at,
            }),
            BookCommand::Acknowledge(StatusReport {
                order_id: OrderId(1),
                venue_seq: Some(1),
                at,
            }),
            BookCommand::Fill(FillReport {
                order_id: OrderId(1),
                cumulative_filled: Decimal::from(filled),
                fill_price: None,
                trade_id: None,
                venue_seq: Some(2),
                at,
            }),
        ];
        for command in &commands {
            book.apply(command).expect("valid");
        }
        book
    }

    fn venue_order(id: u64, filled: i64, status: VenueOrderStatus) -> VenueOrder {
        VenueOrder {
            order_id: OrderId(id),
            updated_at: Timestamp::from_millis(1),
            filled: Decimal::from(filled),
            status,
            side: Side::Buy,
            price: Decimal::from(99),
            quantity: Decimal::from(4),
        }
    }

    #[test]
    fn a_book_that_says_what_the_venue_says_agrees() {
        let book = book_with_one_order(1);
        let truth = [venue_order(1, 1, VenueOrderStatus::PartiallyFilled)];
        let comparison = compare(&book, &truth, Decimal::ONE);
        assert!(comparison.agrees(), "{comparison:?}");
        assert_eq!(comparison.orders_compared, 1);
        assert_eq!(comparison.book_live_orders, 1);
        assert_eq!(comparison.venue_live_orders, 1);
    }

    #[test]
    fn fills_liveness_unknown_orders_and_positions_are_each_differences() {
        let book = book_with_one_order(1);
        let filled_more = [venue_order(1, 2, VenueOrderStatus::PartiallyFilled)];
        let comparison = compare(&book, &filled_more, Decimal::from(2));
        assert_eq!(
            comparison.differences[0].to_string(),
            "o1: filled 1 in the book, 2 at the venue"
        );
        assert!(!comparison.agrees());

        let cancelled = [venue_order(1, 1, VenueOrderStatus::Cancelled)];
        let comparison = compare(&book, &cancelled, Decimal::ONE);
        assert_eq!(
            comparison.differences[0].to_string(),
            "o1: partially_filled in the book, cancelled at the venue"
        );

        let comparison = compare(&book, &[], Decimal::ONE);
        assert_eq!(
            comparison.differences[0].to_string(),
            "o1: partially_filled in the book, unknown to the venue"
        );

        let both = [
            venue_order(1, 1, VenueOrderStatus::PartiallyFilled),
            venue_order(7, 0, VenueOrderStatus::Open),
        ];
        let comparison = compare(&book, &both, Decimal::ONE);
        assert_eq!(
            comparison.differences[0].to_string(),
            "o7: open at the venue, unknown to the book"
        );

        let truth = [venue_order(1, 1, VenueOrderStatus::PartiallyFilled)];
        let comparison = compare(&book, &truth, Decimal::from(3));
        assert!(comparison.differences.is_empty());
        assert!(!comparison.agrees(), "the net positions differ");
    }
}
