//! Publication: a reader that loads while the writer publishes sees whole versions, and never an
//! older one after a newer one (issue 4, model 1; issue 2, item 7).
#![cfg(loom)]

use loom::thread;
use snapstate::engine::{Engine, Seq};
use snapstate_loom_tests::{Mark, Marks, Observed, assert_prefix, explore, model_config};

/// One producer submits two commands while one reader loads twice. The writer may take them as
/// one batch or as two, so the reader can land before, between and after the publications; every snapshot it sees must hold exactly the commands its `last_seq` names, and
/// its second load must not be older than its first.
#[test]
#[cfg_attr(snapstate_broken_publish, should_panic(expected = "torn snapshot"))]
fn loads_racing_publication_see_whole_versions_that_never_go_backwards() {
    let loads = Observed::new();
    let recorded = loads.clone();
    explore("publication", move || {
        let engine = Engine::start(Marks::default(), model_config(2, 2)).expect("engine starts");
        let read = engine.read_handle();
        let reader = thread::spawn(move || {
            let first = read.load();
            assert_prefix(&first);
            let second = read.load();
            assert_prefix(&second);
            assert!(
                second.version() >= first.version(),
                "a reader saw {} after {}",
                second.version(),
                first.version()
            );
            assert!(second.last_seq() >= first.last_seq());
            (first.last_seq().0, second.last_seq().0)
        });
        let write = engine.write_handle();
        write.submit(Mark(1)).expect("the engine is running");
        write.submit(Mark(2)).expect("the engine is running");
        drop(write);
        let last = engine.shutdown().expect("the writer does not fail");
        assert_prefix(&last);
        assert_eq!(last.last_seq(), Seq(2));
        recorded.insert(reader.join().expect("the reader does not panic"));
    });
    // Without these, a model whose reader always ran before (or after) the writer would pass
    // while checking nothing.
    loads.assert_any("a load between the two publications", |&(first, second)| {
        first == 1 || second == 1
    });
    loads.assert_any(
        "a publication between the reader's two loads",
        |&(first, second)| first < second,
    );
}
