//! Builders shared by the reconciler's engine-level test files.
#![allow(dead_code, reason = "each test file uses a different part")]

use std::sync::Arc;
use std::time::Duration;

use rust_decimal::Decimal;
use snapstate::book::{
    Book, BookCommand, BookConfig, FillReport, Grid, Level, OrderId, Place, Side, StatusReport,
};
use snapstate::engine::{Engine, EngineConfig};
use snapstate::reconcile::CycleConfig;
use snapstate::time::{Clock, ManualClock, Timestamp};
use snapstate::venue::{OpenOrdersError, Venue, VenueOrder, VenueOrderStatus, VenueReport};

pub fn start() -> Timestamp {
    Timestamp::from_millis(1_700_000_000_000)
}

/// Levels -190..=190 at 100 + level / 2.
pub fn grid() -> Grid {
    Grid::new(
        Decimal::from(100),
        Decimal::new(5, 1),
        Level(-190),
        Level(190),
    )
    .expect("valid grid")
}

pub fn engine(clock: &ManualClock, outcomes: Option<usize>) -> Engine<Book> {
    let config = EngineConfig {
        clock: Arc::new(clock.clone()),
        record_metrics: false,
        outcome_capacity: outcomes,
        ..EngineConfig::default()
    };
    Engine::start(Book::new(BookConfig::new(grid())), config).expect("engine starts")
}

pub fn runner_config(clock: &ManualClock) -> CycleConfig {
    CycleConfig {
        clock: Arc::new(clock.clone()),
        record_metrics: false,
        ..CycleConfig::default()
    }
}

/// A book with order 1 (buy 10 at level -2) acknowledged and 2 filled, and a venue answer,
/// long after, that says 5 are filled.
pub fn racing_setup() -> (ManualClock, Engine<Book>, VenueReport) {
    let clock = ManualClock::new(start());
    let engine = engine(&clock, None);
    let writer = engine.write_handle();
    let at = clock.now();
    let order_id = OrderId(1);
    let place = Place {
        order_id,
        level: Level(-2),
        side: Side::Buy,
        price: Decimal::from(99),
        quantity: Decimal::from(10),
        at,
    };
    writer.submit(BookCommand::Place(place)).expect("running");
    let report = StatusReport {
        order_id,
        venue_seq: Some(1),
        at,
    };
    writer
        .submit(BookCommand::Acknowledge(report))
        .expect("running");
    writer.submit(fill(2, 2, at)).expect("running");
    writer.flush().expect("running");
    clock.advance(Duration::from_secs(60));
    let venue = VenueReport {
        as_of: clock.now(),
        orders: vec![VenueOrder {
            order_id,
            updated_at: at,
            filled: Decimal::from(5),
            status: VenueOrderStatus::PartiallyFilled,
            side: Side::Buy,
            price: Decimal::from(99),
            quantity: Decimal::from(10),
        }],
        net_position: Some(Decimal::from(5)),
    };
    (clock, engine, venue)
}

pub fn fill(cumulative: i64, venue_seq: u64, at: Timestamp) -> BookCommand {
    BookCommand::Fill(FillReport {
        order_id: OrderId(1),
        cumulative_filled: Decimal::from(cumulative),
        fill_price: None,
        trade_id: None,
        venue_seq: Some(venue_seq),
        at,
    })
}

/// A venue that always gives the same answer and refuses cancels.
pub struct FixedVenue {
    pub answer: VenueReport,
}

impl Venue for FixedVenue {
    fn open_orders(&mut self) -> Result<VenueReport, OpenOrdersError> {
        Ok(self.answer.clone())
    }
}
