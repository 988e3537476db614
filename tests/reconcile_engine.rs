//! The reconciler's guarded corrections against a running engine: a correction that loses a
//! race with an update of its order is rejected as stale, never applied over it.
//!
//! The stepped simulation (a market maker on the simulated venue, through the engine and the
//! reconciler, with and without faults) is `snapstate_sim::check`, run by `sim/tests/simulation.rs`.

mod reconcile_support;

use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

use rust_decimal::Decimal;
use snapstate::book::{
    Applied, Book, BookCommand, Correction, FillReport, Level, OrderId, OrderStatus, Place,
    Rejection, Side,
};
use snapstate::engine::{Engine, Outcome, WriteHandle};
use snapstate::reconcile::{Evidence, ReconcileConfig, reconcile};
use snapstate::time::{Clock, ManualClock, Timestamp};
use snapstate::venue::VenueReport;

use reconcile_support::{engine, fill, grid, racing_setup, start};

/// Scales every iteration count in this file; raise it for a soak run.
const SCALE: u64 = 1;

/// The corrections the diff of the current snapshot plans after `cycles` identical answers.
fn planned(
    engine: &Engine<Book>,
    venue: &VenueReport,
    now: Timestamp,
    cycles: u32,
) -> Vec<Correction> {
    let snapshot = engine.read_handle().load();
    let config = ReconcileConfig::default();
    let mut evidence = Evidence::new();
    let mut corrections = Vec::new();
    for _ in 0..cycles {
        let result = reconcile(snapshot.state(), venue, &config, now, &evidence);
        corrections = result.corrections().cloned().collect();
        evidence = result.evidence;
    }
    corrections
}

/// Lands the venue's report of a third lot filled, then `correction`, planned before the fill.
fn overtake(writer: &WriteHandle<Book>, now: Timestamp, correction: &Correction) {
    writer.submit(fill(3, 3, now)).expect("running");
    writer
        .submit(BookCommand::Correct(correction.clone()))
        .expect("running");
    writer.flush().expect("running");
}

#[test]
fn a_correction_overtaken_by_an_update_of_its_order_is_rejected_as_stale() {
    let (clock, engine, venue) = racing_setup();
    let writer = engine.write_handle();
    let confirming = ReconcileConfig::default().observations_before_confirmed;
    let corrections = planned(&engine, &venue, clock.now(), confirming);
    assert!(matches!(corrections[..], [Correction::MissedFill { .. }]));
    // The venue's own report of a fill lands between the diff and its correction.
    overtake(&writer, clock.now(), &corrections[0]);
    let snapshot = engine.read_handle().load();
    let order = snapshot.state().order(OrderId(1)).expect("known");
    assert_eq!(order.filled(), Decimal::from(3), "the newer update stands");
    assert_eq!(order.reconciled_fill(), Decimal::ZERO);
    assert_eq!(snapshot.counters().rejected_count("stale_precondition"), 1);
    assert_eq!(snapshot.counters().applied_count("corrected"), 0);

    // Recomputed from the new state once it is quiet again, the correction applies.
    clock.advance(Duration::from_secs(60));
    let corrections = planned(&engine, &venue, clock.now(), confirming);
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
    let absences = ReconcileConfig::default().absences_before_missing;
    let corrections = planned(&engine, &venue, clock.now(), absences);
    assert!(matches!(corrections[..], [Correction::MarkLost { .. }]));
    overtake(&writer, clock.now(), &corrections[0]);
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
    // How often each side won, for the log only: asserting that both happened could fail on a
    // machine that schedules the racers alike every time.
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
}
