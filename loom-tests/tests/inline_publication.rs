//! The inline writer's publication: a reader that loads while the caller's thread applies and
//! publishes sees whole versions, never an older one after a newer one (issue 13; the inline
//! twin of `publication.rs`).
#![cfg(loom)]

use loom::thread;
use snapstate::engine::{InlineWriter, Outcome, Seq};
use snapstate_loom_tests::{
    Mark, Marks, Observed, assert_prefix, explore, load_twice, model_config,
};

/// The main thread owns the writer: it applies `Mark(1)` alone and then `Mark(2)` and
/// `Mark(3)` as one batch, while a reader loads twice. Every snapshot the reader sees must hold
/// exactly the commands its `last_seq` names, and the second load must not be older than the
/// first. The writer's own view after each call must be whole and include the call.
#[test]
#[cfg_attr(snapstate_broken_publish, should_panic(expected = "torn snapshot"))]
fn loads_racing_inline_publication_see_whole_versions_that_never_go_backwards() {
    let loads = Observed::new();
    let recorded = loads.clone();
    explore("inline publication", move || {
        let mut writer =
            InlineWriter::start(Marks::default(), model_config(1, 4)).expect("the writer starts");
        let read = writer.read_handle();
        let reader = thread::spawn(move || load_twice(&read));
        let record = writer.apply(Mark(1)).expect("the writer runs");
        assert_eq!(record.seq, Seq(1));
        assert!(matches!(record.outcome, Outcome::Applied(_)));
        assert_prefix(writer.snapshot());
        assert_eq!(writer.snapshot().last_seq(), Seq(1));
        let records = writer
            .apply_all([Mark(2), Mark(3)])
            .expect("the writer runs");
        assert_eq!(records.len(), 2);
        assert_eq!(records[0].version, records[1].version, "one publication");
        let last = writer.shutdown().expect("the writer does not fail");
        assert_prefix(&last);
        assert_eq!(last.last_seq(), Seq(3));
        recorded.insert(reader.join().expect("the reader does not panic"));
    });
    loads.assert_any("a load between the two publications", |&(first, second)| {
        first == 1 || second == 1
    });
    loads.assert_any(
        "a publication between the reader's two loads",
        |&(first, second)| first < second,
    );
}
