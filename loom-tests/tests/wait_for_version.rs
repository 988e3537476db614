//! Waiting for a version: `wait_for_version` never returns a snapshot older than the version
//! asked for, never misses the publication that reaches it (a missed wake-up leaves the waiter
//! asleep forever, which loom reports as a deadlock), and returns `Stopped` when the engine
//! stops short of it (issue 13, part 2).
#![cfg(loom)]

use std::time::Duration;

use loom::thread;
use snapstate::engine::{InlineWriter, Seq, Version};
use snapstate_loom_tests::{Mark, Marks, Observed, assert_prefix, explore, model_config};

/// A waiter asks for version 2 while the writer publishes versions 1 and 2. The writer joins
/// the waiter before it shuts down, so only a publication can wake it: if the waiter slept
/// through the one that reached version 2, the model deadlocks.
#[test]
#[cfg_attr(snapstate_broken_publish, should_panic(expected = "torn snapshot"))]
fn a_waiter_wakes_for_the_version_it_waits_for_and_never_earlier() {
    let waits = Observed::new();
    let recorded = waits.clone();
    explore("wait for version", move || {
        let mut writer =
            InlineWriter::start(Marks::default(), model_config(1, 4)).expect("the writer starts");
        let read = writer.read_handle();
        let waiter = thread::spawn(move || {
            let before = read.load().version();
            let reached = read
                .wait_for_version(Version(2), Duration::MAX)
                .expect("the version is published before the engine stops");
            assert!(
                reached.version() >= Version(2),
                "wait_for_version(v2) returned {}",
                reached.version()
            );
            assert_prefix(&reached);
            (before.0, reached.version().0)
        });
        writer.apply(Mark(1)).expect("the writer runs");
        writer.apply(Mark(2)).expect("the writer runs");
        // Joined while the writer is still running: nothing but a publication wakes the waiter.
        recorded.insert(waiter.join().expect("the waiter does not panic"));
        drop(writer.shutdown().expect("the writer does not fail"));
    });
    // The waiter must have had to sleep (or at least to register) in some execution.
    waits.assert_any("a wait that began before version 2", |&(before, _)| {
        before < 2
    });
}

/// Beyond any version the models publish (even the deliberately broken writer's doubled ones).
const NEVER: Version = Version(100);

/// A waiter asks for a version the writer never publishes: shutting the writer down must wake
/// it with `Stopped`, carrying the final snapshot.
#[test]
fn a_waiter_for_a_version_never_published_is_told_the_engine_stopped() {
    let ends = Observed::new();
    let recorded = ends.clone();
    explore("wait for version, stopped", move || {
        let mut writer =
            InlineWriter::start(Marks::default(), model_config(1, 4)).expect("the writer starts");
        let read = writer.read_handle();
        let waiter = thread::spawn(move || {
            let error = read
                .wait_for_version(NEVER, Duration::MAX)
                .expect_err("the version is never published");
            assert!(error.is_stopped(), "{error:?}");
            assert_prefix(error.snapshot());
            error.snapshot().version()
        });
        writer.apply(Mark(1)).expect("the writer runs");
        let last = writer.shutdown().expect("the writer does not fail");
        assert_eq!(last.last_seq(), Seq(1));
        let seen = waiter.join().expect("the waiter does not panic");
        assert_eq!(
            seen,
            last.version(),
            "the stopped waiter carries the final snapshot"
        );
        recorded.insert(seen);
    });
    assert_eq!(ends.all().len(), 1);
}
