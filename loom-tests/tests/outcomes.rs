//! The outcome stream: a record arrives only after the snapshot that includes its command is
//! published, so a consumer that sees a record can load a snapshot that reflects it (issue 2,
//! item 4).
#![cfg(loom)]

use loom::thread;
use snapstate::engine::{Engine, EngineConfig, Outcome, Seq};
use snapstate_loom_tests::{Mark, Marks, Observed, assert_prefix, explore, model_config};

/// The producer submits `Mark(1)` and `Mark(2)` while a consumer takes records from the stream
/// and, for each, loads a snapshot: it must include the record's command and be at least the
/// version the record names. The stream must deliver each command's record once, in sequence
/// order, and end after shutdown.
#[test]
#[cfg_attr(snapstate_broken_publish, should_panic(expected = "torn snapshot"))]
fn an_outcome_record_is_delivered_only_after_its_snapshot_is_published() {
    let deliveries = Observed::new();
    let recorded = deliveries.clone();
    explore("outcome stream", move || {
        let config = EngineConfig {
            outcome_capacity: Some(2),
            ..model_config(2, 2)
        };
        let mut engine = Engine::start(Marks::default(), config).expect("engine starts");
        let stream = engine
            .take_outcomes()
            .expect("an outcome stream was asked for");
        let read = engine.read_handle();
        let consumer = thread::spawn(move || {
            let mut versions = Vec::new();
            while let Some(record) = stream.recv() {
                let snapshot = read.load();
                assert_prefix(&snapshot);
                assert!(
                    snapshot.version() >= record.version && snapshot.last_seq() >= record.seq,
                    "record {record:?} arrived before {snapshot:?}, which lacks it, was replaced"
                );
                assert!(matches!(record.outcome, Outcome::Applied(_)));
                versions.push((record.seq.0, record.version.0));
            }
            versions
        });
        let write = engine.write_handle();
        write.submit(Mark(1)).expect("the engine is running");
        write.submit(Mark(2)).expect("the engine is running");
        drop(write);
        let last = engine.shutdown().expect("the writer does not fail");
        assert_prefix(&last);
        assert_eq!(last.last_seq(), Seq(2));
        assert_eq!(last.counters().outcomes_dropped(), 0);
        let delivered = consumer.join().expect("the consumer does not panic");
        let sequence: Vec<u64> = delivered.iter().map(|&(seq, _)| seq).collect();
        assert_eq!(sequence, [1, 2], "each record once, in sequence order");
        recorded.insert(delivered);
    });
    // Both batchings happen: the two commands published together, and one at a time.
    deliveries.assert_any("both commands in one version", |delivered| {
        delivered[0].1 == delivered[1].1
    });
    deliveries.assert_any("the commands in two versions", |delivered| {
        delivered[0].1 < delivered[1].1
    });
}
