//! Shared helpers for the integration tests: a grid, order life cycles, and the scale constant.

#![allow(
    dead_code,
    reason = "each test binary compiles this module and uses a different part of it"
)]

pub mod journal;
pub mod writers;

use rust_decimal::Decimal;
use snapstate::book::{
    Book, BookCommand, BookConfig, FillReport, Grid, Level, OrderId, Place, Side, StatusReport,
};
use snapstate::time::Timestamp;

/// Multiplies every iteration count in the multi-threaded tests. CI runs at 1; a soak run sets
/// `SNAPSTATE_TEST_SCALE=20` (or more) in the environment.
pub fn scale() -> u64 {
    std::env::var("SNAPSTATE_TEST_SCALE")
        .ok()
        .and_then(|value| value.parse().ok())
        .filter(|&value| value > 0)
        .unwrap_or(1)
}

/// A grid of `levels` levels around 100 with a step of 0.01.
pub fn grid(levels: u32) -> Grid {
    Grid::centred(Decimal::new(100, 0), Decimal::new(1, 2), levels).expect("valid grid")
}

/// An empty book on [`grid`].
pub fn book(levels: u32) -> Book {
    Book::new(BookConfig::new(grid(levels)))
}

/// The commands of one order's life: placed, acknowledged, filled in `fills` steps (cumulative),
/// with one fill report duplicated; then cancelled if `fills` leaves quantity open.
///
/// Returns the commands and the signed position they add.
pub fn life_cycle(
    grid: &Grid,
    order_id: OrderId,
    level: Level,
    quantity: u32,
    fills: u32,
    time_ms: u64,
) -> (Vec<BookCommand>, Decimal) {
    let side = if level.0 < 0 { Side::Buy } else { Side::Sell };
    let price = grid.price_of(level).expect("level on the grid");
    let at = Timestamp::from_millis(time_ms);
    let mut commands = vec![
        BookCommand::Place(Place {
            order_id,
            level,
            side,
            price,
            quantity: Decimal::from(quantity),
            at,
        }),
        BookCommand::Acknowledge(StatusReport {
            order_id,
            venue_seq: Some(1),
            at,
        }),
    ];
    let filled = fills.min(quantity);
    for step in 1..=filled {
        let fill = BookCommand::Fill(FillReport {
            order_id,
            cumulative_filled: Decimal::from(step),
            fill_price: Some(price),
            trade_id: Some(u64::from(step)),
            venue_seq: Some(1 + u64::from(step)),
            at,
        });
        if step == 1 {
            commands.push(fill.clone());
        }
        commands.push(fill);
    }
    if filled < quantity {
        commands.push(BookCommand::Cancel(StatusReport {
            order_id,
            venue_seq: Some(100),
            at,
        }));
    }
    (commands, side.signed(Decimal::from(filled)))
}

/// A command the book must refuse: a fill for an order that was never placed.
pub fn invalid_command(order_id: OrderId) -> BookCommand {
    BookCommand::Fill(FillReport {
        order_id,
        cumulative_filled: Decimal::ONE,
        fill_price: None,
        trade_id: None,
        venue_seq: None,
        at: Timestamp::EPOCH,
    })
}
