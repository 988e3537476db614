//! Shutdown: everything accepted before it is in the final snapshot, and a submit racing it
//! either lands in the final snapshot or gets its command back with an error, never neither
//! (issue 4, model 3).
#![cfg(loom)]

use loom::thread;
use snapstate::engine::{Engine, Seq, SubmitError, TrySubmitError};
use snapstate_loom_tests::{
    Mark, Marks, Observed, assert_prefix, assert_whole, explore, model_config,
};

/// What became of one submit that raced shutdown.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Fate {
    /// Accepted: it must be in the final snapshot.
    Landed,
    /// Refused as closed, with the very command handed back: it must not be in the final snapshot.
    HandedBack,
}

/// The main thread submits `Mark(1)` and shuts down while a producer submits `Mark(2)` (with the
/// blocking `submit`) and then `Mark(3)` (with `try_submit`). The queue holds all three, so a
/// refusal can only mean "closed".
///
/// It looks only at the final snapshot, which the writer publishes after its last batch, so the
/// deliberately broken publication (`snapstate_broken_publish`) passes it: that bug is for the
/// models that load while the writer publishes.
#[test]
fn submit_racing_shutdown_lands_or_gets_its_command_back() {
    let fates = Observed::new();
    let recorded = fates.clone();
    explore("shutdown race", move || {
        let engine = Engine::start(Marks::default(), model_config(4, 2)).expect("engine starts");
        let racing = engine.write_handle();
        let producer = thread::spawn(move || {
            let second = match racing.submit(Mark(2)) {
                Ok(()) => Fate::Landed,
                Err(SubmitError::Closed(command)) => {
                    assert_eq!(command, Mark(2), "the refused command comes back");
                    Fate::HandedBack
                }
            };
            let third = match racing.try_submit(Mark(3)) {
                Ok(()) => Fate::Landed,
                Err(TrySubmitError::Closed(command)) => {
                    assert_eq!(command, Mark(3), "the refused command comes back");
                    Fate::HandedBack
                }
                Err(TrySubmitError::Full(_)) => panic!("the queue has room for every command"),
            };
            (second, third)
        });
        engine
            .write_handle()
            .submit(Mark(1))
            .expect("the engine is running");
        let last = engine.shutdown().expect("the writer does not fail");
        let (second, third) = producer.join().expect("the producer does not panic");

        assert_whole(&last);
        assert!(
            last.state().contains(1),
            "a command accepted before shutdown was lost"
        );
        for (id, fate) in [(2, second), (3, third)] {
            assert_eq!(
                last.state().contains(id),
                fate == Fate::Landed,
                "Mark({id}) was {fate:?} but the final snapshot {} it",
                if last.state().contains(id) {
                    "holds"
                } else {
                    "lacks"
                }
            );
        }
        // Once intake has closed it stays closed.
        assert!(
            !(second == Fate::HandedBack && third == Fate::Landed),
            "a submit was accepted after an earlier one was refused as closed"
        );
        recorded.insert((second, third));
    });
    fates.assert_any("both racing submits accepted", |&fates| {
        fates == (Fate::Landed, Fate::Landed)
    });
    fates.assert_any(
        "the blocking submit accepted, the later one refused",
        |&fates| fates == (Fate::Landed, Fate::HandedBack),
    );
    fates.assert_any("both racing submits refused", |&fates| {
        fates == (Fate::HandedBack, Fate::HandedBack)
    });
}

/// Dropping the engine and its last write handle shuts down like `shutdown`: whichever thread
/// drops the last one closes intake and joins the writer, so right after that drop, a load shows
/// everything that was accepted. Each thread loads right after its own drop; if it was the last,
/// it must already see both commands.
#[test]
#[cfg_attr(snapstate_broken_publish, should_panic(expected = "torn snapshot"))]
fn dropping_the_last_handle_applies_everything_accepted() {
    let loads = Observed::new();
    let recorded = loads.clone();
    explore("last handle dropped", move || {
        let engine = Engine::start(Marks::default(), model_config(2, 2)).expect("engine starts");
        let write = engine.write_handle();
        let read = engine.read_handle();
        let read_by_producer = engine.read_handle();
        let producer = thread::spawn(move || {
            write
                .submit(Mark(2))
                .expect("a live handle keeps the engine running");
            drop(write);
            let after_drop = read_by_producer.load();
            assert_whole(&after_drop);
            after_drop.last_seq().0
        });
        engine
            .write_handle()
            .submit(Mark(1))
            .expect("the engine is running");
        drop(engine);
        let after_drop = read.load();
        assert_whole(&after_drop);
        let producer_after_drop = producer.join().expect("the producer does not panic");

        // Both handles are gone now, so the writer has been joined by one of the two drops.
        let last = read.load();
        assert_whole(&last);
        assert_eq!(last.last_seq(), Seq(2), "an accepted command was lost");
        assert!(last.state().contains(1) && last.state().contains(2));
        recorded.insert((after_drop.last_seq().0, producer_after_drop));
    });
    // Each side sometimes drops first (and so must not wait for the writer): otherwise the model
    // would not have explored who performs the shutdown.
    loads.assert_any("the producer's drop being the last", |&(main, _)| main < 2);
    loads.assert_any("the engine's drop being the last", |&(_, producer)| {
        producer < 2
    });
}

/// Backpressure, then shutdown: with a queue of one, the producer's second submit blocks until
/// the writer has taken the first, and shutdown still returns both, in order, while a reader
/// loads concurrently.
#[test]
#[cfg_attr(snapstate_broken_publish, should_panic(expected = "torn snapshot"))]
fn blocked_submit_then_shutdown_returns_every_command_in_order() {
    explore("backpressure then shutdown", || {
        let engine = Engine::start(Marks::default(), model_config(1, 1)).expect("engine starts");
        let write = engine.write_handle();
        let read = engine.read_handle();
        let reader = thread::spawn(move || assert_prefix(&read.load()));
        write.submit(Mark(1)).expect("the engine is running");
        write.submit(Mark(2)).expect("the engine is running");
        drop(write);
        let last = engine.shutdown().expect("the writer does not fail");
        assert_prefix(&last);
        assert_eq!(last.last_seq(), Seq(2));
        reader.join().expect("the reader does not panic");
    });
}
