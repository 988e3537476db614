//! Embedding snapstate: the position book behind the engine, a producer feeding it order
//! updates, a reader loading snapshots, and the reconciler's `Runner` thread comparing the book
//! with the venue and correcting what the feed lost.
//!
//! ```sh
//! cargo run --example embed_with_runner
//! ```
//!
//! The venue here is an in-memory stand-in: an adapter for a real exchange implements the same
//! [`Venue`] trait (one open-orders query, optionally a cancel) over the exchange's API.

use std::error::Error;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use rust_decimal::Decimal;
use snapstate::book::{
    Book, BookCommand, BookConfig, Grid, Level, OrderId, OrderStatus, Place, Side, StatusReport,
};
use snapstate::engine::{Engine, EngineConfig};
use snapstate::reconcile::startup::{self, StartupConfig};
use snapstate::reconcile::{CycleConfig, ReconcileConfig, Reconciler, Runner, RunnerConfig};
use snapstate::time::{Clock, SystemClock};
use snapstate::venue::{OpenOrdersError, Venue, VenueOrder, VenueOrderStatus, VenueReport};

/// What the exchange knows: one buy order of 5.
struct ExchangeStandIn {
    clock: SystemClock,
    order: VenueOrder,
}

impl Venue for ExchangeStandIn {
    fn open_orders(&mut self) -> Result<VenueReport, OpenOrdersError> {
        Ok(VenueReport {
            as_of: self.clock.now(),
            orders: vec![self.order.clone()],
            net_position: Some(self.order.filled),
        })
    }
}

fn main() -> Result<(), Box<dyn Error>> {
    let clock = SystemClock;
    let grid = Grid::centred(Decimal::new(100, 0), Decimal::new(1, 2), 200)?;
    let engine = Engine::start(Book::new(BookConfig::new(grid)), EngineConfig::default())?;
    let writer = engine.write_handle();
    let reader = engine.read_handle();

    // The feed: the order is placed and acknowledged.
    let placed_at = clock.now();
    let order_id = OrderId(1);
    let price = Decimal::new(9995, 2);
    writer.submit(BookCommand::Place(Place {
        order_id,
        level: Level(-5),
        side: Side::Buy,
        price,
        quantity: Decimal::new(5, 0),
        at: placed_at,
    }))?;
    writer.submit(BookCommand::Acknowledge(StatusReport {
        order_id,
        venue_seq: None,
        at: placed_at,
    }))?;
    writer.flush()?;

    let venue = Arc::new(Mutex::new(ExchangeStandIn {
        clock,
        order: VenueOrder {
            order_id,
            updated_at: placed_at,
            filled: Decimal::ZERO,
            status: VenueOrderStatus::Open,
            side: Side::Buy,
            price,
            quantity: Decimal::new(5, 0),
        },
    }));
    // A short grace window and interval so that the example finishes in a moment; the
    // defaults (5 s, 1 s) suit a real feed.
    let reconcile = ReconcileConfig {
        in_flight_grace: Duration::from_millis(50),
        ..ReconcileConfig::default()
    };
    let runner_config = RunnerConfig {
        interval: Duration::from_millis(20),
        ..RunnerConfig::default()
    };
    // Before continuous reconciliation (and trading) starts, one startup pass against the venue.
    // The stand-in answers the open-orders query only, so its fills, position and order queries
    // are unsupported; this example accepts that explicitly (a real adapter answers them, and
    // by default an unsupported query leaves the pass incomplete).
    let startup_config = StartupConfig {
        accept_unsupported: true,
        ..StartupConfig::default()
    };
    let report = startup::run(
        &mut Arc::clone(&venue),
        &engine.write_handle(),
        &startup_config,
        clock.now(),
    )?;
    println!("{report}");
    let clearance = report.clearance()?;

    // Trading resumes; the exchange fills 2 of the order, and the feed loses that update.
    {
        let mut exchange = venue.lock().map_err(|_| "the venue's lock is poisoned")?;
        exchange.order.filled = Decimal::new(2, 0);
        exchange.order.status = VenueOrderStatus::PartiallyFilled;
        exchange.order.updated_at = clock.now();
    }
    let reconciler = Reconciler::new(Arc::clone(&venue), reconcile, CycleConfig::default())?;
    let runner = Runner::start(reconciler, engine.write_handle(), runner_config, clearance)?;

    // A reader polls snapshots until the reconciler's correction shows the missed fill.
    let deadline = clock.now().saturating_add(Duration::from_secs(10));
    let filled = loop {
        let snapshot = reader.load();
        let filled = snapshot.state().order(order_id).map(|order| order.filled());
        if filled == Some(Decimal::new(2, 0)) || clock.now() > deadline {
            break filled;
        }
        thread::sleep(Duration::from_millis(10));
    };
    let reconciler = runner.stop()?;
    let snapshot = reader.load();
    let order = snapshot
        .state()
        .order(order_id)
        .ok_or("the order is gone")?;
    println!(
        "order {} is {} with {} filled; net position {}; {} corrections submitted by the runner",
        order_id.0,
        order.status(),
        order.filled(),
        snapshot.state().net_position(),
        reconciler.totals().actions.corrections_submitted
    );
    assert_eq!(
        filled,
        Some(Decimal::new(2, 0)),
        "the runner corrects the missed fill"
    );
    assert!(reconciler.totals().actions.corrections_submitted > 0);
    assert_eq!(order.status(), OrderStatus::PartiallyFilled);

    let last = engine.shutdown()?;
    println!("shut down at version {}", last.version().0);
    Ok(())
}
