//! `binance_line`: one line of a Binance capture (an `executionReport` event or a recorded
//! `openOrders` answer, `docs/formats.md`) through the library's mapping (`snapstate::binance`,
//! feature `binance`) and the capture source that `snapstate replay --format binance` runs on
//! every line.
//!
//! Checks, for any bytes: nothing panics; a line that is refused leaves the source and the
//! adapter as they were (no grid set, no symbol fixed, no id handed out); a mapped event gives
//! one to four commands, all about one order, the first of them placing it; an `openOrders`
//! answer the adapter refuses interns no client id, and one it accepts names every order it
//! reports.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rust_decimal::Decimal;
use snapstate::binance::{BinanceAdapter, parse_open_orders};
use snapstate::book::{BookCommand, Grid, Level, OrderId};
use snapstate::time::Timestamp;
use snapstate_cli::replay::binance_capture::BinanceSource;
use snapstate_cli::replay::{BinanceOptions, DEFAULT_BINANCE_GRID_LEVELS};

fuzz_target!(|data: &[u8]| {
    let Ok(line) = std::str::from_utf8(data) else {
        return;
    };
    first_line_of_a_capture(line);
    event_on_a_known_grid(line);
    open_orders_answer(line);
});

/// The grid of the adapters below: 0.01 to 1,000,000.00 in cents.
fn known_grid() -> Grid {
    Grid::new(
        Decimal::ZERO,
        Decimal::new(1, 2),
        Level(1),
        Level(100_000_000),
    )
    .expect("a valid grid")
}

/// A line read as an `openOrders` answer by an adapter that has seen nothing yet.
fn open_orders_answer(line: &str) {
    let Ok(orders) = parse_open_orders(line) else {
        return;
    };
    let mut adapter = BinanceAdapter::new(known_grid(), None);
    match adapter.venue_report(Timestamp::from_millis(1), &orders) {
        Err(error) => {
            assert_eq!(
                adapter.name(OrderId(1)),
                None,
                "refused ({error}) but named an order"
            );
        }
        Ok(report) => {
            for order in &report.orders {
                assert!(
                    adapter.name(order.order_id).is_some(),
                    "{:?} reported without a client id: {orders:?}",
                    order.order_id
                );
            }
        }
    }
}

/// The capture's first line: an event or an answer centres the grid on its price.
fn first_line_of_a_capture(line: &str) {
    let mut source = BinanceSource::new(BinanceOptions {
        symbol: None,
        tick_size: Decimal::new(1, 2),
        grid_levels: DEFAULT_BINANCE_GRID_LEVELS,
    });
    if let Err(error) = source.entry(line) {
        assert!(
            source.grid().is_none(),
            "a refused first line set the grid ({error}): {line:?}"
        );
    }
}

/// A line mapped by an adapter whose grid is already set: 0.01 to 1,000,000.00 in cents.
fn event_on_a_known_grid(line: &str) {
    let mut adapter = BinanceAdapter::new(known_grid(), None);
    match adapter.map_line(line) {
        Err(error) => {
            assert_eq!(
                adapter.symbol(),
                None,
                "refused ({error}) but fixed the symbol"
            );
            assert_eq!(
                adapter.name(OrderId(1)),
                None,
                "refused ({error}) but named an order"
            );
        }
        Ok(commands) => {
            // At most place, acknowledge, the fill up to the event's cumulative quantity, and
            // the final status: an order first seen on its CANCELED event after a partial fill.
            assert!((1..=4).contains(&commands.len()), "{commands:?}");
            assert!(
                matches!(commands.first(), Some(BookCommand::Place(_))),
                "an order's first event must place it: {commands:?}"
            );
            assert!(
                commands
                    .iter()
                    .all(|command| command.order_id() == Some(OrderId(1))),
                "{commands:?}"
            );
        }
    }
}
