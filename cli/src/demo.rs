//! A short built-in demo: one producer streams a grid of orders through the engine while a
//! reader checks every snapshot it loads, then prints what happened.

use std::thread;
use std::time::{Duration, Instant};

use rust_decimal::Decimal;
use snapstate::book::{
    Book, BookCommand, BookConfig, FillReport, Grid, Level, OrderId, Place, Side, StatusReport,
};
use snapstate::engine::{Engine, EngineConfig};
use snapstate::time::{Clock, SystemClock};

const LEVELS: u32 = 200;
const ROUNDS: u64 = 2_000;

/// Runs the demo and prints its report.
///
/// # Errors
///
/// When the engine cannot start or a check fails.
pub fn run() -> Result<(), Box<dyn std::error::Error>> {
    let grid = Grid::centred(Decimal::new(100, 0), Decimal::new(1, 2), LEVELS)?;
    let engine = Engine::start(
        Book::new(BookConfig::new(grid.clone())),
        EngineConfig::default(),
    )?;
    let writer = engine.write_handle();
    let reader = engine.read_handle();
    let started = Instant::now();

    let checker = thread::spawn(move || {
        let mut checked = 0_u64;
        let mut last_version = None;
        while started.elapsed() < Duration::from_millis(400) {
            let snapshot = reader.load();
            snapshot.state().check_invariants()?;
            if let Some(previous) = last_version {
                assert!(snapshot.version() >= previous, "versions never go back");
            }
            last_version = Some(snapshot.version());
            checked += 1;
            thread::sleep(Duration::from_millis(1));
        }
        Ok::<u64, snapstate::book::InvariantViolation>(checked)
    });

    let clock = SystemClock;
    let mut next_id = 1_u64;
    let mut submitted = 0_u64;
    for round in 0..ROUNDS {
        let level = grid.lowest().0 + i32::try_from(round % u64::from(LEVELS))?;
        let side = if level < 0 { Side::Buy } else { Side::Sell };
        let Some(price) = grid.price_of(Level(level)) else {
            continue;
        };
        let order_id = OrderId(next_id);
        next_id += 1;
        let at = clock.now();
        let quantity = Decimal::new(2, 0);
        let commands = [
            BookCommand::Place(Place {
                order_id,
                level: Level(level),
                side,
                price,
                quantity,
                at,
            }),
            BookCommand::Acknowledge(StatusReport {
                order_id,
                venue_seq: Some(1),
                at,
            }),
            BookCommand::Fill(FillReport {
                order_id,
                cumulative_filled: Decimal::ONE,
                fill_price: Some(price),
                trade_id: Some(round),
                venue_seq: Some(2),
                at,
            }),
            // Reported twice, as venues do on reconnect: the duplicate changes nothing.
            BookCommand::Fill(FillReport {
                order_id,
                cumulative_filled: Decimal::ONE,
                fill_price: Some(price),
                trade_id: Some(round),
                venue_seq: Some(2),
                at,
            }),
            BookCommand::Fill(FillReport {
                order_id,
                cumulative_filled: quantity,
                fill_price: Some(price),
                trade_id: Some(round + ROUNDS),
                venue_seq: Some(3),
                at,
            }),
        ];
        for command in commands {
            writer.submit(command)?;
            submitted += 1;
        }
    }
    let visible = writer.flush()?;
    let elapsed = started.elapsed();
    let checked = checker.join().map_err(|_| "checker thread panicked")??;
    let last = engine.shutdown()?;
    let book = last.state();
    let counters = last.counters();

    println!("snapstate demo: one producer, one checking reader, {LEVELS}-level grid");
    println!("  submitted            {submitted} commands in {elapsed:.2?}");
    println!(
        "  visible at           {visible} (final {}, last seq {})",
        last.version(),
        last.last_seq()
    );
    println!(
        "  applied / rejected   {} / {}",
        counters.applied(),
        counters.rejected()
    );
    for (label, count) in counters.applied_by_label().filter(|(_, count)| *count > 0) {
        println!("    {label:<18} {count}");
    }
    println!("  snapshots checked    {checked} (invariants held in every one)");
    println!(
        "  orders / slots       {} / {}",
        book.order_count(),
        book.slot_count()
    );
    println!("  net position         {}", book.net_position());
    Ok(())
}
