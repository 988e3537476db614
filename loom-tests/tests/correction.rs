//! A guarded correction racing an update of the same order is never applied over the newer state
//! (issue 4, model 5), on the real position book.
#![cfg(loom)]

use loom::thread;
use rust_decimal::Decimal;
use snapstate::book::{BookCommand, Correction};
use snapstate::engine::Engine;
use snapstate_loom_tests::book::{self, ORDER, assert_consistent};
use snapstate_loom_tests::{Observed, explore, model_config};

/// What the venue says the order has filled. Its update stream delivered only the fill to 3; the
/// report of the fill to 5 was lost, which is what the reconciler is there to repair.
const VENUE_FILLED: i64 = 5;
const REPORTED_FILLED: i64 = 3;

/// The reconciler loads a snapshot, compares the order with the venue and submits a
/// `MissedFill` guarded by the revision it saw, while the update handler submits the fill to 3.
///
/// If the reconciler computed its correction before the fill was applied, the correction is
/// stale once the fill is in: the writer must reject it rather than add 5 − 3 on top of the
/// newer state. (Here that would happen to give the venue's total, but the diff was computed
/// from a state that no longer exists; the next reconciliation, not a stale one, must decide.)
/// The order's `reconciled_fill` tells which happened: 5 if the correction went in first, 0 if
/// it was rejected, and 2 only if it was applied over the fill.
#[test]
#[cfg_attr(snapstate_broken_publish, should_panic(expected = "torn snapshot"))]
fn guarded_correction_is_never_applied_over_a_newer_update() {
    let outcomes = Observed::new();
    let recorded = outcomes.clone();
    // Built outside the model: it is the same in every execution.
    let initial = book::with_open_order();
    explore("guarded correction", move || {
        let engine = Engine::start(initial.clone(), model_config(2, 2)).expect("engine starts");
        let read = engine.read_handle();
        let reconciler_write = engine.write_handle();
        let reconciler = thread::spawn(move || {
            let snapshot = read.load();
            assert_consistent(&snapshot);
            let order = snapshot.state().order(ORDER).expect("the order is known");
            let seen_filled = order.filled();
            reconciler_write
                .submit(BookCommand::Correct(Correction::MissedFill {
                    order_id: ORDER,
                    expected: order.revision(),
                    cumulative_filled: Decimal::from(VENUE_FILLED),
                    at: book::at(),
                }))
                .expect("the engine is running");
            seen_filled
        });
        engine
            .write_handle()
            .submit(book::fill(REPORTED_FILLED, 2))
            .expect("the engine is running");
        let seen_filled = reconciler.join().expect("the reconciler does not panic");
        let last = engine.shutdown().expect("the writer does not fail");

        let book = last.state();
        book.check_invariants()
            .expect("the final book satisfies its invariants");
        let order = book.order(ORDER).expect("the order is known");
        let saw_update = seen_filled == Decimal::from(REPORTED_FILLED);
        let rejected_as_stale = last.counters().rejected_count("stale_precondition");
        let (filled, reconciled) = (order.filled(), order.reconciled_fill());
        match (saw_update, rejected_as_stale) {
            (false, 0) => assert!(
                filled == Decimal::from(VENUE_FILLED) && reconciled == Decimal::from(VENUE_FILLED),
                "a correction computed before the update was applied over it: filled {filled}, \
                 of which {reconciled} by reconciliation"
            ),
            (false, 1) => assert!(
                filled == Decimal::from(REPORTED_FILLED) && reconciled.is_zero(),
                "a correction rejected as stale changed the order: filled {filled}, \
                 of which {reconciled} by reconciliation"
            ),
            (true, 0) => assert!(
                filled == Decimal::from(VENUE_FILLED)
                    && reconciled == Decimal::from(VENUE_FILLED - REPORTED_FILLED),
                "a correction computed after the update did not top it up: filled {filled}, \
                 of which {reconciled} by reconciliation"
            ),
            (true, _) => panic!("a correction computed from the current revision was rejected"),
            (false, _) => panic!("one correction was rejected {rejected_as_stale} times"),
        }
        assert_eq!(
            book.net_position(),
            filled,
            "a buy's fills make the position"
        );
        recorded.insert((saw_update, rejected_as_stale));
    });
    outcomes.assert_any(
        "a correction computed before the update landing first",
        |&outcome| outcome == (false, 0),
    );
    outcomes.assert_any(
        "a correction computed before the update landing after it",
        |&outcome| outcome == (false, 1),
    );
    outcomes.assert_any("a correction computed from the updated order", |&outcome| {
        outcome == (true, 0)
    });
}
