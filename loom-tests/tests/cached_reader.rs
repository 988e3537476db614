//! The per-thread cached reader eventually sees the latest version, and never an older one after
//! a newer one (issue 4, model 6).
#![cfg(loom)]

use std::sync::Arc;

use loom::thread;
use snapstate::engine::{Engine, Reader, Seq};
use snapstate_loom_tests::{Mark, Marks, Observed, assert_prefix, explore, model_config};

/// Loads `count` times through `reader`, checking each snapshot and that none is older than the
/// one before; returns the `last_seq` of each.
fn load_in_order(reader: &mut Reader<Marks>, count: usize) -> Vec<u64> {
    let mut seen: Vec<u64> = Vec::with_capacity(count);
    let mut previous = None;
    for _ in 0..count {
        let snapshot = Arc::clone(reader.load());
        assert_prefix(&snapshot);
        if let Some(previous) = previous {
            assert!(
                snapshot.version() >= previous,
                "a cached reader saw {} after {previous}",
                snapshot.version()
            );
        }
        previous = Some(snapshot.version());
        seen.push(snapshot.last_seq().0);
    }
    seen
}

/// A reader thread loads through its cached `Reader` while one producer submits two commands and
/// the engine shuts down. Its loads must never go backwards; and once the final version is
/// published (shutdown has returned and the reader thread has been joined, so the publication
/// happened before), the same `Reader` must return exactly the final snapshot, not the one it
/// cached earlier.
#[test]
#[cfg_attr(snapstate_broken_publish, should_panic(expected = "torn snapshot"))]
fn cached_reader_never_goes_backwards_and_sees_the_latest_version() {
    let loads = Observed::new();
    let recorded = loads.clone();
    explore("cached reader", move || {
        let engine = Engine::start(Marks::default(), model_config(2, 2)).expect("engine starts");
        let mut reader = engine.read_handle().reader();
        let reading = thread::spawn(move || {
            let seen = load_in_order(&mut reader, 2);
            (reader, seen)
        });
        let write = engine.write_handle();
        write.submit(Mark(1)).expect("the engine is running");
        write.submit(Mark(2)).expect("the engine is running");
        drop(write);
        let last = engine.shutdown().expect("the writer does not fail");
        let (mut reader, seen) = reading.join().expect("the reader does not panic");

        let latest = reader.load();
        assert_prefix(latest);
        assert!(
            Arc::ptr_eq(latest, &last),
            "a cached reader returned {latest:?} after {last:?} was published"
        );
        assert_eq!(latest.last_seq(), Seq(2));
        recorded.insert(seen);
    });
    // The cache must have been refreshed while the reader ran, and must have held an older
    // version when the final load came, or the final check would have been trivially true.
    loads.assert_any("a refresh between two cached loads", |seen| {
        seen[0] < seen[1]
    });
    loads.assert_any("a cached version older than the final one", |seen| {
        seen[1] < 2
    });
}
