//! Publication: a reader that loads while the writer publishes sees whole versions, and never an
//! older one after a newer one (issue 4, model 1; issue 2, item 7).
#![cfg(loom)]

use loom::thread;
use snapstate::engine::{Engine, EngineConfig, Seq, WaitStrategy};
use snapstate_loom_tests::{
    Mark, Marks, Observed, assert_prefix, explore, load_twice, model_config,
};

/// One producer submits three commands while one reader loads twice. Batches hold at most two
/// commands, so the writer publishes two or three times, and sometimes stops a batch because it
/// is full rather than because the queue is empty. The reader can land before, between and after
/// the publications; every snapshot it sees must hold exactly the commands its `last_seq` names,
/// and its second load must not be older than its first.
fn publication_model(name: &str, wait_strategy: WaitStrategy) {
    let loads = Observed::new();
    let recorded = loads.clone();
    explore(name, move || {
        let config = EngineConfig {
            wait_strategy,
            ..model_config(3, 2)
        };
        let engine = Engine::start(Marks::default(), config).expect("engine starts");
        let read = engine.read_handle();
        let reader = thread::spawn(move || load_twice(&read));
        let write = engine.write_handle();
        write.submit(Mark(1)).expect("the engine is running");
        write.submit(Mark(2)).expect("the engine is running");
        write.submit(Mark(3)).expect("the engine is running");
        drop(write);
        let last = engine.shutdown().expect("the writer does not fail");
        assert_prefix(&last);
        assert_eq!(last.last_seq(), Seq(3));
        recorded.insert(reader.join().expect("the reader does not panic"));
    });
    // Without these, a model whose reader always ran before (or after) the writer would pass
    // while checking nothing.
    loads.assert_any("a load between two publications", |&(first, second)| {
        (1..3).contains(&first) || (1..3).contains(&second)
    });
    loads.assert_any(
        "a publication between the reader's two loads",
        |&(first, second)| first < second,
    );
}

/// The default: the idle writer blocks in the channel's `recv`.
#[test]
#[cfg_attr(snapstate_broken_publish, should_panic(expected = "torn snapshot"))]
fn loads_racing_publication_see_whole_versions_that_never_go_backwards() {
    publication_model("publication (block)", WaitStrategy::Block);
}

/// The idle writer polls once with `try_recv` before blocking, so both ways of taking a batch's
/// first command (and of noticing that intake closed) are explored.
#[test]
#[cfg_attr(snapstate_broken_publish, should_panic(expected = "torn snapshot"))]
fn loads_racing_publication_see_whole_versions_when_the_writer_spins_then_blocks() {
    publication_model(
        "publication (spin then block)",
        WaitStrategy::SpinThenBlock { spins: 1 },
    );
}

/// The idle writer never blocks; under loom each poll yields to the other threads.
#[test]
#[cfg_attr(snapstate_broken_publish, should_panic(expected = "torn snapshot"))]
fn loads_racing_publication_see_whole_versions_when_the_writer_busy_spins() {
    publication_model("publication (busy spin)", WaitStrategy::BusySpin);
}
