//! `binance_line`: one line of a Binance capture (an `executionReport` event or a recorded
//! `openOrders` answer, `docs/formats.md`) through the mapping that `snapstate replay --format
//! binance` runs on every line. Each call below is one line so that it can follow the mapping
//! wherever it lives.
//!
//! Checks, for any bytes: nothing panics; a line that is refused leaves the source and the
//! adapter as they were (no grid set, no symbol fixed, no id handed out); a mapped event gives
//! one to three commands, all about one order, the first of them placing it.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rust_decimal::Decimal;
use snapstate::binance::BinanceAdapter;
use snapstate::book::{BookCommand, Grid, Level, OrderId};
use snapstate_cli::replay::binance_capture::BinanceSource;
use snapstate_cli::replay::{BinanceOptions, DEFAULT_BINANCE_GRID_LEVELS};

fuzz_target!(|data: &[u8]| {
    let Ok(line) = std::str::from_utf8(data) else {
        return;
    };
    first_line_of_a_capture(line);
    event_on_a_known_grid(line);
});

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
    let grid = Grid::new(
        Decimal::ZERO,
        Decimal::new(1, 2),
        Level(1),
        Level(100_000_000),
    )
    .expect("a valid grid");
    let mut adapter = BinanceAdapter::new(grid, None);
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
            assert!((1..=3).contains(&commands.len()), "{commands:?}");
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
