//! Panic recovery: when applying a command panics, readers only ever see whole snapshots without
//! that command's partial effect, and the other commands of its batch are not lost (issue 2,
//! item 5, checked while a reader loads concurrently).
#![cfg(loom)]

use std::panic;

use loom::thread;
use snapstate::engine::{Engine, EngineStatus, Seq};
use snapstate_loom_tests::{Mark, Marks, Observed, assert_whole, explore, model_config};

/// Keeps the deliberate panic of [`Mark::PANICS`] from printing a message in every one of the
/// model's executions; every other panic (a failed assertion, loom's own reports) still prints.
fn silence_the_deliberate_panic() {
    let report = panic::take_hook();
    panic::set_hook(Box::new(move |info| {
        let deliberate = info
            .payload()
            .downcast_ref::<String>()
            .is_some_and(|message| message == Mark::PANIC_MESSAGE);
        if !deliberate {
            report(info);
        }
    }));
}

/// The producer submits `Mark(1)`, the panicking command, and `Mark(2)`; the writer may take
/// them in one batch (so it must re-derive its working copy from the last published version and
/// re-apply `Mark(1)`) or in several. A reader loads concurrently. No snapshot may hold the
/// panicking command's bit, every snapshot must be whole, and the final one must hold both other
/// commands and count the panic.
#[test]
#[cfg_attr(snapstate_broken_publish, should_panic(expected = "torn snapshot"))]
fn a_panicking_command_is_rejected_and_its_batch_survives() {
    silence_the_deliberate_panic();
    let loads = Observed::new();
    let recorded = loads.clone();
    explore("panic recovery", move || {
        let engine = Engine::start(Marks::default(), model_config(3, 3)).expect("engine starts");
        let read = engine.read_handle();
        let reader = thread::spawn(move || {
            let snapshot = read.load();
            assert_whole(&snapshot);
            assert!(
                !snapshot.state().contains(Mark::PANICS.0),
                "torn snapshot: {snapshot:?} holds the effect of a command whose apply panicked"
            );
            snapshot.last_seq().0
        });
        let write = engine.write_handle();
        for mark in [Mark(1), Mark::PANICS, Mark(2)] {
            write.submit(mark).expect("the engine is running");
        }
        let last = engine
            .shutdown()
            .expect("a panicking command does not fail the writer");
        recorded.insert(reader.join().expect("the reader does not panic"));

        assert_whole(&last);
        assert_eq!(last.last_seq(), Seq(3));
        assert!(!last.state().contains(Mark::PANICS.0));
        assert!(
            last.state().contains(1) && last.state().contains(2),
            "a command that shared a batch with a panicking one was lost: {last:?}"
        );
        assert_eq!(last.counters().panicked(), 1);
        let health = write.health();
        assert_eq!(health.status, EngineStatus::Stopped);
        assert_eq!(health.panicked_commands, 1);
        assert_eq!(health.last_panic.as_deref(), Some(Mark::PANIC_MESSAGE));
    });
    // A load right after the panicking command's batch, before `Mark(2)`'s: the reader then saw
    // the recovered state itself, not only the final one.
    loads.assert_any("a load of the version published with the panic", |&seen| {
        seen == 2
    });
}
