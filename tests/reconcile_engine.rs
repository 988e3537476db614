//! The reconciler against a running engine, stepped deterministically with a manual clock and a
//! simulated venue: no false positives from a truthful venue, convergence under faults, and
//! guarded corrections that lose races.

mod reconcile_support;

use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};
use rust_decimal::Decimal;
use snapstate::book::{
    Applied, Book, BookCommand, Correction, FillReport, Level, OrderId, OrderStatus, Place,
    Rejection, Side,
};
use snapstate::engine::{Engine, Outcome, WriteHandle};
use snapstate::reconcile::{CycleReport, MismatchClass, ReconcileConfig, Reconciler, reconcile};
use snapstate::time::{Clock, ManualClock, Timestamp};
use snapstate::venue::{Faults, SimulatedVenue, SimulatedVenueConfig, VenueReport};

use reconcile_support::{engine, fill, grid, racing_setup, runner_config, start};

/// Scales every iteration count in this file; raise it for a soak run.
const SCALE: u64 = 1;
const STEP: Duration = Duration::from_millis(20);
/// Reconcile every fifth step: every 100 ms of simulated time.
const STEPS_PER_CYCLE: u64 = 5;

/// A market maker on the simulated venue, stepped by hand: places orders near the price,
/// cancels some, feeds every venue update to the engine, and reconciles every 100 ms.
struct Harness {
    clock: ManualClock,
    engine: Engine<Book>,
    writer: WriteHandle<Book>,
    reconciler: Reconciler<SimulatedVenue>,
    rng: ChaCha8Rng,
    next_id: u64,
    steps: u64,
}

impl Harness {
    fn new(seed: u64, faults: Faults) -> Self {
        let clock = ManualClock::new(start());
        let engine = engine(&clock, None);
        let writer = engine.write_handle();
        let mut venue_config = SimulatedVenueConfig::new(seed, start(), Decimal::from(100));
        venue_config.reject_probability = 0.02;
        venue_config.time_in_force = Some(Duration::from_secs(30));
        venue_config.faults = faults;
        let venue = SimulatedVenue::new(venue_config).expect("valid venue");
        let reconciler = Reconciler::new(venue, ReconcileConfig::default(), runner_config(&clock))
            .expect("valid configuration");
        Self {
            clock,
            engine,
            writer,
            reconciler,
            rng: ChaCha8Rng::seed_from_u64(seed),
            next_id: 1,
            steps: 0,
        }
    }

    /// Moves 20 ms on: delivers the venue's updates, trades if asked, and applies everything.
    /// Every fifth step ends with a reconciliation, whose report is returned.
    fn step(&mut self, trade: bool) -> Option<CycleReport> {
        self.clock.advance(STEP);
        let now = self.clock.now();
        for update in self.reconciler.venue_mut().advance_and_drain(now) {
            self.writer.submit(update).expect("engine running");
        }
        self.writer.flush().expect("engine running");
        if trade {
            self.trade(now);
            self.writer.flush().expect("engine running");
        }
        self.steps += 1;
        if !self.steps.is_multiple_of(STEPS_PER_CYCLE) {
            return None;
        }
        match self.reconciler.run_cycle(&self.writer) {
            Ok(report) => Some(report),
            Err(snapstate::reconcile::CycleError::Venue(_)) => None,
            Err(error) => panic!("cycle failed: {error}"),
        }
    }

    /// Places one order in a vacant slot near the price, and sometimes cancels one.
    fn trade(&mut self, now: Timestamp) {
        let grid = grid();
        let snapshot = self.engine.read_handle().load();
        let book = snapshot.state();
        let middle = grid.nearest_level(self.reconciler.venue().price());
        let offset = self.rng.random_range(1..=6);
        let buy = self.rng.random_bool(0.5);
        let level = Level(if buy {
            middle.0 - offset
        } else {
            middle.0 + offset
        });
        let vacant = book
            .slot(level)
            .is_none_or(|slot| slot.live_order().is_none());
        if let (true, Some(price)) = (vacant, grid.price_of(level)) {
            let place = Place {
                order_id: OrderId(self.next_id),
                level,
                side: if buy { Side::Buy } else { Side::Sell },
                price,
                quantity: Decimal::from(self.rng.random_range(1..=5_i64)),
                at: now,
            };
            self.next_id += 1;
            self.writer
                .submit(BookCommand::Place(place.clone()))
                .expect("engine running");
            self.reconciler
                .venue_mut()
                .place(&place)
                .expect("venue accepts");
        }
        if self.rng.random_bool(0.05) {
            let live = book.open_orders();
            if !live.is_empty() {
                let pick = live[self.rng.random_range(0..live.len())].id();
                // The order may have finished at the venue already; that is fine.
                let _ = self.reconciler.venue_mut().cancel_at(pick, now);
            }
        }
    }

    /// Asserts that the book agrees with the venue's truth about every order it remembers.
    fn assert_converged(&self) {
        let snapshot = self.engine.read_handle().load();
        let book = snapshot.state();
        book.check_invariants().expect("invariants hold");
        let venue = self.reconciler.venue();
        for truth in venue.orders() {
            let local = book
                .order(truth.order_id)
                .expect("the book knows every order");
            assert_eq!(local.filled(), truth.filled, "{}", truth.order_id);
            assert_eq!(
                local.status().is_live(),
                truth.status.is_live(),
                "{}: book {}, venue {}",
                truth.order_id,
                local.status(),
                truth.status
            );
        }
        assert_eq!(book.net_position(), venue.net_position());
    }
}

#[test]
fn a_truthful_venue_yields_no_mismatch_over_a_long_randomized_run() {
    let mut harness = Harness::new(11, Faults::none());
    let steps = 5_000 * SCALE;
    let mut cycles = 0;
    let mut suspected = 0;
    for _ in 0..steps {
        if let Some(report) = harness.step(true) {
            cycles += 1;
            suspected += report.reconciliation.findings.len();
            let confirmed: Vec<String> = report
                .reconciliation
                .confirmed()
                .map(ToString::to_string)
                .collect();
            assert!(confirmed.is_empty(), "spurious mismatches: {confirmed:#?}");
        }
    }
    let totals = harness.reconciler.totals();
    assert_eq!(totals.cycles, cycles);
    assert_eq!(cycles, steps / STEPS_PER_CYCLE);
    assert_eq!(totals.mismatches_total(), 0);
    assert_eq!(totals.corrections_submitted, 0);
    assert!(
        suspected > 0,
        "in-flight updates should show as suspected differences, or the run tests nothing"
    );
    let snapshot = harness.engine.read_handle().load();
    assert!(snapshot.state().order_count() > 500, "the run should trade");
    assert_eq!(snapshot.counters().rejected(), 0);
}

#[test]
fn a_faulty_venue_is_corrected_until_the_book_converges() {
    let faults = Faults {
        delay_rate: 0.1,
        max_extra_delay: Duration::from_millis(300),
        duplicate_rate: 0.05,
        reorder_rate: 0.05,
        drop_rate: 0.05,
        omit_just_closed_rate: 0.2,
        query_failure_rate: 0.05,
        query_timeout_rate: 0.05,
        fill_only_in_view_rate: 0.05,
        ..Faults::none()
    };
    let mut harness = Harness::new(12, faults);
    for _ in 0..2_500 * SCALE {
        harness.step(true);
    }
    let injected = harness.reconciler.venue().fault_counts().clone();
    harness
        .reconciler
        .venue_mut()
        .set_faults(Faults::none())
        .expect("valid");
    // Faults stop; the market keeps moving but no new orders. 20 s: four grace windows.
    for _ in 0..1_000 {
        harness.step(false);
    }
    harness.assert_converged();
    let totals = harness.reconciler.totals().clone();
    assert!(
        injected.get(snapstate::venue::FaultKind::Dropped) > 0,
        "{injected}"
    );
    assert!(totals.corrections_applied > 0, "{totals:?}");
    assert!(
        totals.mismatches(MismatchClass::VenueFilledAhead) > 0,
        "{totals:?}"
    );
    assert!(totals.venue_errors > 0, "{totals:?}");
}

/// The corrections a diff of the current snapshot plans, after enough cycles to confirm.
fn planned(engine: &Engine<Book>, venue: &VenueReport, now: Timestamp) -> Vec<Correction> {
    let snapshot = engine.read_handle().load();
    let config = ReconcileConfig::default();
    let first = reconcile(snapshot.state(), venue, &config, now, &Default::default());
    let second = reconcile(snapshot.state(), venue, &config, now, &first.evidence);
    second.corrections().cloned().collect()
}

#[test]
fn a_correction_overtaken_by_an_update_of_its_order_is_rejected_as_stale() {
    let (clock, engine, venue) = racing_setup();
    let writer = engine.write_handle();
    let corrections = planned(&engine, &venue, clock.now());
    assert!(matches!(corrections[..], [Correction::MissedFill { .. }]));
    // The venue's own report of a fill lands between the diff and its correction.
    writer.submit(fill(3, 3, clock.now())).expect("running");
    writer
        .submit(BookCommand::Correct(corrections[0].clone()))
        .expect("running");
    writer.flush().expect("running");
    let snapshot = engine.read_handle().load();
    let order = snapshot.state().order(OrderId(1)).expect("known");
    assert_eq!(order.filled(), Decimal::from(3), "the newer update stands");
    assert_eq!(order.reconciled_fill(), Decimal::ZERO);
    assert_eq!(snapshot.counters().rejected_count("stale_precondition"), 1);
    assert_eq!(snapshot.counters().applied_count("corrected"), 0);

    // Recomputed from the new state once it is quiet again, the correction applies.
    clock.advance(Duration::from_secs(60));
    let corrections = planned(&engine, &venue, clock.now());
    writer
        .submit(BookCommand::Correct(corrections[0].clone()))
        .expect("running");
    writer.flush().expect("running");
    let snapshot = engine.read_handle().load();
    let order = snapshot.state().order(OrderId(1)).expect("known");
    assert_eq!(order.filled(), Decimal::from(5));
    assert_eq!(order.reconciled_fill(), Decimal::from(2));
    assert_eq!(snapshot.counters().applied_count("corrected"), 1);
}

#[test]
fn marking_lost_never_lands_over_a_fill_that_arrived_first() {
    let (clock, engine, mut venue) = racing_setup();
    let writer = engine.write_handle();
    venue.orders.clear();
    venue.net_position = None;
    let config = ReconcileConfig::default();
    let snapshot = engine.read_handle().load();
    let mut evidence = Default::default();
    let mut corrections = Vec::new();
    for _ in 0..config.absences_before_missing {
        let result = reconcile(snapshot.state(), &venue, &config, clock.now(), &evidence);
        corrections = result.corrections().cloned().collect();
        evidence = result.evidence;
    }
    assert!(matches!(corrections[..], [Correction::MarkLost { .. }]));
    writer.submit(fill(3, 3, clock.now())).expect("running");
    writer
        .submit(BookCommand::Correct(corrections[0].clone()))
        .expect("running");
    writer.flush().expect("running");
    let snapshot = engine.read_handle().load();
    let order = snapshot.state().order(OrderId(1)).expect("known");
    assert_eq!(order.status(), OrderStatus::PartiallyFilled);
    assert_eq!(snapshot.counters().rejected_count("stale_precondition"), 1);
}

#[test]
fn racing_threads_never_apply_a_correction_over_the_update_it_raced() {
    let clock = ManualClock::new(start());
    let mut engine = engine(&clock, Some(1_024));
    let outcomes = engine.take_outcomes().expect("asked for a stream");
    let writer = engine.write_handle();
    let rounds = 200 * SCALE;
    let (mut applied, mut stale) = (0, 0);
    for round in 0..rounds {
        let order_id = OrderId(round + 1);
        let level = Level(i32::try_from(round % 100).expect("small") - 150);
        let at = clock.now();
        let place = Place {
            order_id,
            level,
            side: Side::Buy,
            price: grid().price_of(level).expect("on the grid"),
            quantity: Decimal::from(10),
            at,
        };
        writer.submit(BookCommand::Place(place)).expect("running");
        writer.flush().expect("running");
        // Records are sent just after the barrier is answered: wait for the placement's.
        outcomes.recv().expect("the placement's outcome");
        let revision = engine
            .read_handle()
            .load()
            .state()
            .order(order_id)
            .expect("placed")
            .revision();
        let correction = BookCommand::Correct(Correction::MarkLost {
            order_id,
            expected: revision,
            at,
        });
        let update = BookCommand::Fill(FillReport {
            order_id,
            cumulative_filled: Decimal::from(10),
            fill_price: None,
            trade_id: None,
            venue_seq: None,
            at,
        });
        // Both threads start submitting together; which one wins varies from round to round.
        let start = Arc::new(Barrier::new(2));
        let racers: Vec<_> = [update, correction]
            .into_iter()
            .map(|command| {
                let (writer, start) = (writer.clone(), Arc::clone(&start));
                thread::spawn(move || {
                    start.wait();
                    writer.submit(command).expect("running");
                })
            })
            .collect();
        for racer in racers {
            racer.join().expect("racer thread");
        }
        writer.flush().expect("running");
        let records: Vec<_> = (0..2)
            .map(|_| outcomes.recv().expect("both outcomes"))
            .collect();
        assert!(outcomes.try_recv().is_none(), "exactly two commands raced");
        let (fill_seq, correction) = match (&records[0].outcome, &records[1].outcome) {
            (Outcome::Applied(Applied::Filled { .. }), _) => (records[0].seq, &records[1]),
            (_, Outcome::Applied(Applied::Filled { .. })) => (records[1].seq, &records[0]),
            other => panic!("unexpected outcomes {other:?}"),
        };
        match &correction.outcome {
            Outcome::Applied(Applied::Corrected { kind: "mark_lost" }) => {
                assert!(correction.seq < fill_seq, "applied after the fill it raced");
                applied += 1;
            }
            Outcome::Rejected(Rejection::StalePrecondition { .. }) => {
                assert!(
                    correction.seq > fill_seq,
                    "rejected though nothing overtook it"
                );
                stale += 1;
            }
            other => panic!("unexpected correction outcome {other:?}"),
        }
    }
    eprintln!("raced: {applied} applied, {stale} stale");
    assert_eq!(applied + stale, rounds);
}
