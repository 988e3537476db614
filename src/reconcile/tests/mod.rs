//! Unit tests of the diff: every mismatch class, the evidence rules, the policies, and the
//! cases that must not be findings. This module holds the shared builders.

mod classes;
mod evidence;
mod look_up;
mod worked_example;

use std::time::Duration;

use rust_decimal::Decimal;

use super::*;
use crate::book::{
    Adoption, Book, BookCommand, BookConfig, Correction, FillReport, Grid, Level, OrderId,
    OrderStatus, Place, Revision, Side, StatusReport,
};
use crate::time::Timestamp;
use crate::venue::{OpenOrdersError, Venue, VenueOrder, VenueOrderStatus, VenueReport};

fn dec(value: i64) -> Decimal {
    Decimal::from(value)
}

/// When the test book's orders were last active.
const PLACED: Timestamp = Timestamp::from_millis(1_000);

/// Long after `PLACED`: everything is quiet.
fn later() -> Timestamp {
    PLACED.saturating_add(Duration::from_secs(60))
}

/// Levels -10..=10 at 100 + level.
fn empty_book() -> Book {
    let grid = Grid::new(dec(100), dec(1), Level(-10), Level(10)).expect("valid grid");
    Book::new(BookConfig::new(grid))
}

fn status(id: u64) -> StatusReport {
    StatusReport {
        order_id: OrderId(id),
        venue_seq: None,
        at: PLACED,
    }
}

/// Places order `id` in slot `level` (buys below 0, sells above), then drives it to `target`
/// with `filled` of 10.
fn add_order(book: &mut Book, id: u64, level: i32, target: OrderStatus, filled: i64) {
    let side = if level < 0 { Side::Buy } else { Side::Sell };
    let mut commands = vec![BookCommand::Place(Place {
        order_id: OrderId(id),
        level: Level(level),
        side,
        price: dec(100 + i64::from(level)),
        quantity: dec(10),
        at: PLACED,
    })];
    if target != OrderStatus::Pending {
        commands.push(BookCommand::Acknowledge(status(id)));
    }
    if filled > 0 {
        commands.push(BookCommand::Fill(FillReport {
            order_id: OrderId(id),
            cumulative_filled: dec(filled),
            fill_price: None,
            trade_id: None,
            venue_seq: None,
            at: PLACED,
        }));
    }
    if target == OrderStatus::Cancelled {
        commands.push(BookCommand::Cancel(status(id)));
    }
    for command in &commands {
        book.apply(command).expect("test setup applies");
    }
    assert_eq!(
        book.order(OrderId(id)).map(|order| order.status()),
        Some(target)
    );
}

/// A book with live orders 1 (buy at -1, 4 filled) and 2 (sell at 2, open).
fn two_order_book() -> Book {
    let mut book = empty_book();
    add_order(&mut book, 1, -1, OrderStatus::PartiallyFilled, 4);
    add_order(&mut book, 2, 2, OrderStatus::Open, 0);
    book
}

/// What a truthful venue would say about a book order.
fn as_listed(book: &Book, id: u64) -> VenueOrder {
    VenueOrder::truthful(book.order(OrderId(id)).expect("known"), PLACED)
}

/// A truthful answer about every live order of `book`.
fn truthful(book: &Book) -> VenueReport {
    VenueReport {
        as_of: later(),
        orders: book
            .live_orders()
            .iter()
            .map(|order| as_listed(book, order.id().0))
            .collect(),
        net_position: Some(book.net_position()),
    }
}

/// Reconciles `cycles` times at `now`, carrying evidence; returns the last result.
fn cycles(
    book: &Book,
    venue: &VenueReport,
    config: &ReconcileConfig,
    now: Timestamp,
    cycles: u32,
) -> Reconciliation {
    let mut evidence = Evidence::new();
    let mut last = None;
    for _ in 0..cycles {
        let result = reconcile(book, venue, config, now, &evidence);
        evidence = result.evidence.clone();
        last = Some(result);
    }
    last.expect("at least one cycle")
}

/// The one finding, asserting there is exactly one.
fn only(result: &Reconciliation) -> &Finding {
    assert_eq!(result.findings.len(), 1, "findings: {:#?}", result.findings);
    &result.findings[0]
}

fn confirmed_default(book: &Book, venue: &VenueReport) -> Reconciliation {
    let result = cycles(book, venue, &ReconcileConfig::default(), later(), 3);
    assert!(result.findings.iter().all(|finding| finding.confirmed));
    result
}
