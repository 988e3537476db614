//! The barrier: `flush` returns only once everything queued before it is applied and published
//! (issue 4, model 4).
#![cfg(loom)]

use loom::thread;
use snapstate::engine::{Engine, Version, WriteHandle};
use snapstate_loom_tests::{Mark, Marks, Observed, assert_whole, explore, model_config};

/// What one flushing thread saw.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Sighting {
    /// Whether its own command was already visible before it flushed.
    visible_before_flush: bool,
    /// Whether the load after the flush returned exactly the version the flush returned.
    loaded_the_flushed_version: bool,
}

/// Submits `Mark(own)`, flushes, and checks that a load afterwards shows `Mark(own)` and every
/// mark in `predecessors` (commands that were queued before this thread's barrier).
fn submit_and_flush(write: &WriteHandle<Marks>, own: u32, predecessors: &[u32]) -> Sighting {
    let read = write.read_handle();
    write.submit(Mark(own)).expect("the engine is running");
    let before = read.load();
    let flushed: Version = write.flush().expect("the engine is running");
    assert!(
        flushed >= before.version(),
        "flush returned {flushed}, older than {} loaded before it",
        before.version()
    );
    let after = read.load();
    assert_whole(&after);
    assert!(
        after.version() >= flushed,
        "flush returned {flushed} but a later load returned {}",
        after.version()
    );
    for &id in predecessors.iter().chain([&own]) {
        assert!(
            after.state().contains(id),
            "flush returned {flushed} before Mark({id}), queued before it, was visible"
        );
    }
    Sighting {
        visible_before_flush: before.state().contains(own),
        loaded_the_flushed_version: after.version() == flushed,
    }
}

/// The main thread submits `Mark(1)` and only then starts a producer, so `Mark(1)` is queued
/// before the producer's barrier as well as its own. Then both threads submit a command and
/// flush concurrently: each flush must make its thread's command and `Mark(1)` visible.
#[test]
#[cfg_attr(snapstate_broken_publish, should_panic(expected = "torn snapshot"))]
fn flush_returns_only_once_its_predecessors_are_visible() {
    let sightings = Observed::new();
    let recorded = sightings.clone();
    explore("barrier", move || {
        let engine = Engine::start(Marks::default(), model_config(2, 2)).expect("engine starts");
        let write = engine.write_handle();
        write.submit(Mark(1)).expect("the engine is running");
        let producer_write = write.clone();
        let producer = thread::spawn(move || submit_and_flush(&producer_write, 2, &[1]));
        recorded.insert(submit_and_flush(&write, 3, &[1]));
        recorded.insert(producer.join().expect("the producer does not panic"));
        drop(write);
        let last = engine.shutdown().expect("the writer does not fail");
        assert_whole(&last);
        assert_eq!(last.state().count(), 3);
    });
    // The flush must have had something to wait for, and the version it returned must have been
    // compared with the snapshot at that very version, in some execution.
    sightings.assert_any("a flush that had to wait for its command", |sighting| {
        !sighting.visible_before_flush
    });
    sightings.assert_any("a load of exactly the flushed version", |sighting| {
        sighting.loaded_the_flushed_version
    });
}
