//! The startup reconciliation against the simulated venue: a book recovered with a lost tail
//! (warm) and an empty book (cold) reach the same trading state from the same answers; the
//! pass through a running engine gives the runner its clearance, or refuses it when the venue
//! does not answer.

mod common;

use std::time::Duration;

use proptest::prelude::*;
use rust_decimal::Decimal;
use snapstate::book::{
    Book, BookCommand, BookConfig, Correction, Grid, Level, OrderId, OrderStatus, Place, Quantity,
    Side,
};
use snapstate::engine::{Engine, EngineConfig};
use snapstate::reconcile::startup::{self, ActionKind, StartupConfig, StartupReport};
use snapstate::reconcile::{
    CycleConfig, Evidence, MismatchClass, ReconcileConfig, Reconciler, Runner, RunnerConfig,
    reconcile,
};
use snapstate::time::Timestamp;
use snapstate::venue::Venue;
use snapstate_sim::venue::{Faults, SimulatedVenue, SimulatedVenueConfig};

const STEP_MS: u64 = 10;

fn grid() -> Grid {
    Grid::new(
        Decimal::new(100, 0),
        Decimal::new(5, 1),
        Level(-8),
        Level(8),
    )
    .expect("valid grid")
}

fn empty_book() -> Book {
    Book::new(BookConfig::new(grid()))
}

fn start() -> Timestamp {
    Timestamp::from_millis(1_000)
}

/// A venue whose updates the book hears with faults (dropped, duplicated, reordered), but
/// whose queries always answer, so that two passes get the same answers.
fn venue(seed: u64, initial_position: i64) -> SimulatedVenue {
    let mut config = SimulatedVenueConfig::new(seed, start(), Decimal::new(100, 0));
    config.initial_position = Decimal::from(initial_position);
    config.faults = Faults {
        drop_rate: 0.05,
        duplicate_rate: 0.05,
        reorder_rate: 0.05,
        ..Faults::none()
    };
    SimulatedVenue::new(config).expect("valid venue")
}

/// Trades for `steps` steps: keeps an order of 4 on every vacant level (buys below the
/// price, sells above), and returns every command the book applied, in order.
fn trade(venue: &mut SimulatedVenue, steps: u64) -> Vec<BookCommand> {
    let mut book = empty_book();
    let mut journal = Vec::new();
    let mut next_id = 1;
    for step in 1..=steps {
        let now = start().saturating_add(Duration::from_millis(step * STEP_MS));
        for command in venue.advance_and_drain(now) {
            if book.apply(&command).is_ok() {
                journal.push(command);
            }
        }
        for level in (-8..=8).map(Level).filter(|level| level.0 != 0) {
            if book
                .slot(level)
                .is_some_and(|slot| slot.live_order().is_some())
            {
                continue;
            }
            let price = grid().price_of(level).expect("on the grid");
            let side = if price < venue.price() {
                Side::Buy
            } else {
                Side::Sell
            };
            let place = Place {
                order_id: OrderId(next_id),
                level,
                side,
                price,
                quantity: Decimal::from(4),
                at: now,
            };
            next_id += 1;
            let command = BookCommand::Place(place.clone());
            if book.apply(&command).is_ok() && venue.place(&place).is_ok() {
                journal.push(command);
            }
        }
    }
    journal
}

/// What trading depends on: the live orders (id, side, price, quantity, filled, status) and
/// the net position.
type TradingState = (
    Vec<(OrderId, Side, Quantity, Quantity, Quantity, OrderStatus)>,
    Quantity,
);

fn trading_state(book: &Book) -> TradingState {
    let orders = book
        .live_orders()
        .into_iter()
        .map(|order| {
            (
                order.id(),
                order.side(),
                order.price(),
                order.quantity(),
                order.filled(),
                order.status(),
            )
        })
        .collect();
    (orders, book.net_position())
}

fn replay(commands: &[BookCommand]) -> Book {
    let mut book = empty_book();
    for command in commands {
        book.apply(command)
            .expect("a journaled command applies again");
    }
    book
}

fn assert_complete(report: &StartupReport, what: &str) {
    assert!(report.is_complete(), "{what}: {:?}", report.unresolved);
}

/// Trades with a venue, crashes losing `lost_tail` journaled commands and every update in
/// flight, restarts warm (the journal's prefix) and cold (empty) from the same answers, and
/// checks that both reach the venue's trading state and that a second pass changes nothing.
/// Returns the warm and cold reports.
fn restart_warm_and_cold(
    seed: u64,
    steps: u64,
    lost_tail: usize,
    initial_position: i64,
    restart_after: Duration,
) -> (StartupReport, StartupReport) {
    let mut venue = venue(seed, initial_position);
    let journal = trade(&mut venue, steps);
    let mut warm = replay(&journal[..journal.len() - lost_tail.min(journal.len())]);
    let mut cold = empty_book();
    // The market stops; the restart comes well after the in-flight grace (and, after two
    // minutes, after the venue has stopped listing finished orders).
    venue.set_price_interval(None).expect("valid");
    let now = venue.now().saturating_add(restart_after);
    venue.advance_to(now);
    let config = StartupConfig::default();

    let warm_report = startup::run_on_book(&mut venue, &mut warm, &config, now);
    let cold_report = startup::run_on_book(&mut venue, &mut cold, &config, now);
    assert_complete(&warm_report, "warm");
    assert_complete(&cold_report, "cold");
    assert_eq!(
        trading_state(&warm),
        trading_state(&cold),
        "seed {seed}: warm {warm_report:?}\ncold {cold_report:?}"
    );
    assert_eq!(warm.net_position(), venue.net_position(), "seed {seed}");
    warm.check_invariants().expect("warm invariants");
    cold.check_invariants().expect("cold invariants");

    // The continuous reconciliation that starts next finds the position explained, in both:
    // every fill the pass adopted is either in an order the book knows (a finished venue
    // order it never knew is adopted as a tombstone) or in a position no listed order
    // explains, never counted twice while the venue still lists its order.
    let answer = venue.open_orders().expect("the venue answers");
    for (name, book) in [("warm", &warm), ("cold", &cold)] {
        let reconciliation = reconcile(
            book,
            &answer,
            &ReconcileConfig::default(),
            now,
            &Evidence::new(),
        );
        let position = reconciliation
            .findings
            .iter()
            .find(|finding| finding.class() == MismatchClass::PositionDiffers);
        assert!(position.is_none(), "seed {seed}, {name}: {position:?}");
    }

    // A second restart from the same answers changes nothing.
    for (name, book) in [("warm", &mut warm), ("cold", &mut cold)] {
        let again = startup::run_on_book(&mut venue, book, &config, now);
        assert_complete(&again, name);
        assert!(again.actions.is_empty(), "seed {seed}, {name}: {again:?}");
    }
    (warm_report, cold_report)
}

#[test]
fn cold_and_warm_starts_from_the_same_answers_reach_the_same_book() {
    let (mut adopted_positions, mut warm_corrections, mut cold_adoptions) = (0, 0, 0);
    for seed in 1..=6 * common::scale() {
        let lost_tail = usize::try_from(seed * 7).expect("small");
        let initial_position = i64::try_from(seed % 3).expect("small") * 5;
        let restart_after = Duration::from_secs(if seed % 2 == 0 { 30 } else { 120 });
        let (warm, cold) =
            restart_warm_and_cold(seed, 300, lost_tail, initial_position, restart_after);
        adopted_positions += usize::from(!warm.adopted_position().is_zero());
        warm_corrections += warm.corrected_orders();
        cold_adoptions += cold.adopted_orders();
    }
    // The comparison means something only if the passes had work to do.
    assert!(
        adopted_positions > 0,
        "some seeds start with a position no fill explains"
    );
    assert!(warm_corrections > 0, "the lost tails are corrected");
    assert!(
        cold_adoptions > 0,
        "the cold books adopt the venue's orders"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn prop_cold_and_warm_starts_reach_the_same_trading_state(
        seed in 0..10_000_u64,
        steps in 20..300_u64,
        lost_tail in 0..80_usize,
        initial_position in -20..20_i64,
        restart_after_s in prop_oneof![Just(30_u64), Just(120)],
    ) {
        let restart_after = Duration::from_secs(restart_after_s);
        restart_warm_and_cold(seed, steps, lost_tail, initial_position, restart_after);
    }
}

#[test]
fn a_position_older_than_the_venues_history_is_adopted_once() {
    let mut venue = venue(11, 7);
    let journal = trade(&mut venue, 200);
    // The venue forgets all but its last fill, and the book lost the tail of its journal.
    venue.set_fill_history_limit(1);
    venue.set_price_interval(None).expect("valid");
    let now = venue.now().saturating_add(Duration::from_secs(30));
    venue.advance_to(now);
    let mut book = replay(&journal[..journal.len() - 20]);
    // What no order of the book can explain: the initial position, and the fills of finished
    // orders whose placement the book lost with its tail; of those, the orders the venue
    // still lists are adopted as tombstones, and only the rest as position.
    let unknown_finished: Vec<(OrderId, Quantity)> = venue
        .orders()
        .filter(|order| !order.status.is_live() && book.order(order.order_id).is_none())
        .map(|order| (order.order_id, order.side.signed(order.filled)))
        .collect();
    let config = StartupConfig::default();
    let report = startup::run_on_book(&mut venue, &mut book, &config, now);
    assert_complete(&report, "first");
    assert_eq!(book.net_position(), venue.net_position());
    let mut adopted_as_orders = Decimal::ZERO;
    for action in report.actions_of(ActionKind::AdoptFinishedOrder) {
        let BookCommand::Correct(Correction::AdoptFinished(adoption)) = &action.command else {
            panic!("a finished adoption expected: {action:?}");
        };
        let signed = adoption.side.signed(adoption.cumulative_filled);
        assert!(
            unknown_finished.contains(&(adoption.order_id, signed)),
            "{adoption:?}"
        );
        adopted_as_orders += signed;
    }
    assert!(
        report.adopted_finished_orders() > 0,
        "the venue still lists some finished orders the book lost: {report:?}"
    );
    let unexplained: Quantity = unknown_finished
        .iter()
        .map(|(_, signed)| *signed)
        .sum::<Quantity>()
        + Decimal::from(7)
        - adopted_as_orders;
    assert_eq!(report.adopted_position(), unexplained, "{report:?}");
    assert_eq!(report.actions_of(ActionKind::AdoptPosition).count(), 1);
    assert!(report.corrected_orders() > 0, "the lost tail is corrected");
    let again = startup::run_on_book(&mut venue, &mut book, &config, now);
    assert!(again.actions.is_empty(), "{again:?}");
    assert_eq!(book.adopted_position().total(), unexplained);
}

#[test]
fn the_runner_starts_after_a_complete_pass_through_the_engine() {
    let mut venue = venue(5, 3);
    let journal = trade(&mut venue, 200);
    let recovered = replay(&journal[..journal.len() / 2]);
    venue.set_price_interval(None).expect("valid");
    let now = venue.now().saturating_add(Duration::from_secs(30));
    venue.advance_to(now);
    let engine = Engine::start(recovered, EngineConfig::default()).expect("engine starts");
    let writer = engine.write_handle();
    let report =
        startup::run(&mut venue, &writer, &StartupConfig::default(), now).expect("engine open");
    assert_complete(&report, "engine");
    let snapshot = engine.read_handle().load();
    assert_eq!(snapshot.state().net_position(), venue.net_position());
    snapshot.state().check_invariants().expect("invariants");

    let clearance = report.clearance().expect("complete");
    let reconciler =
        Reconciler::new(venue, ReconcileConfig::default(), CycleConfig::default()).expect("valid");
    let runner = Runner::start(reconciler, writer, RunnerConfig::default(), clearance)
        .expect("runner starts");
    assert!(!runner.clearance().is_waived());
    runner.stop().expect("stops");
    engine.shutdown().expect("clean shutdown");
}

#[test]
fn a_venue_that_does_not_answer_gives_no_clearance_and_changes_nothing() {
    let mut venue = venue(9, 0);
    let journal = trade(&mut venue, 100);
    let recovered = replay(&journal);
    venue
        .set_faults(Faults {
            query_failure_rate: 1.0,
            ..Faults::none()
        })
        .expect("valid");
    let now = venue.now().saturating_add(Duration::from_secs(30));
    let mut book = recovered.clone();
    let report = startup::run_on_book(&mut venue, &mut book, &StartupConfig::default(), now);
    assert!(!report.is_complete());
    let incomplete = report.clearance().expect_err("incomplete");
    assert!(!incomplete.unresolved().is_empty());
    assert_eq!(book, recovered, "an error is never read as absence");
}
