//! Waiting for a version without polling, against both writers: a wait returns the first
//! snapshot at or past the version, wakes when a producer publishes it, times out or reports
//! that the engine stopped, and always hands back the latest snapshot.

mod common;
mod engine_support;

use std::thread;
use std::time::Duration;

use common::writers::{Started, WRITER_KINDS};
use engine_support::Log;
use snapstate::engine::{EngineConfig, Version};

fn config() -> EngineConfig {
    EngineConfig {
        record_metrics: false,
        ..EngineConfig::default()
    }
}

#[test]
fn a_published_version_is_returned_at_once() {
    for kind in WRITER_KINDS {
        let engine = Started::start(kind, Log::default(), config());
        let producer = engine.producer();
        producer.submit(2);
        let flushed = producer.flush();
        let reader = engine.read_handle();
        let snapshot = reader
            .wait_for_version(flushed, Duration::ZERO)
            .unwrap_or_else(|error| panic!("{kind}: {error}"));
        assert!(snapshot.version() >= flushed, "{kind}");
        assert_eq!(snapshot.state().logged(), vec![2], "{kind}");
        drop(engine.shutdown());
    }
}

#[test]
fn waiters_sleep_until_a_producer_publishes_the_version_they_wait_for() {
    for kind in WRITER_KINDS {
        let engine = Started::start(kind, Log::default(), config());
        let reader = engine.read_handle();
        let start = reader.load().version();
        let waiters: Vec<_> = (0..3)
            .map(|_| {
                let reader = reader.clone();
                thread::spawn(move || {
                    let changed = reader
                        .wait_for_change(start, Duration::MAX)
                        .expect("a change comes");
                    assert!(changed.version() > start);
                    assert!(!changed.state().logged().is_empty());
                    changed.version()
                })
            })
            .collect();
        let producer = engine.producer();
        for value in [2, 4, 6] {
            producer.submit(value);
        }
        let last = producer.flush();
        for waiter in waiters {
            let seen = waiter.join().expect("the waiter wakes");
            assert!(seen > start && seen <= last, "{kind}: woke at {seen}");
        }
        drop(engine.shutdown());
    }
}

#[test]
fn a_wait_that_runs_out_of_time_says_so_and_hands_back_the_latest_snapshot() {
    for kind in WRITER_KINDS {
        let engine = Started::start(kind, Log::default(), config());
        let producer = engine.producer();
        producer.submit(2);
        let flushed = producer.flush();
        let error = engine
            .read_handle()
            .wait_for_change(flushed, Duration::from_millis(5))
            .expect_err("nothing more is published");
        assert!(error.is_timeout(), "{kind}: {error:?}");
        assert!(!error.is_stopped());
        assert_eq!(error.snapshot().version(), flushed);
        assert_eq!(error.to_string(), "timed out waiting for the version");
        drop(engine.shutdown());
    }
}

#[test]
fn shutting_down_wakes_waiters_for_versions_that_will_never_come() {
    for kind in WRITER_KINDS {
        let engine = Started::start(kind, Log::default(), config());
        let reader = engine.read_handle();
        let waiter = {
            let reader = reader.clone();
            thread::spawn(move || reader.wait_for_version(Version(1_000), Duration::MAX))
        };
        engine.producer().submit(2);
        let last = engine.shutdown();
        let error = waiter
            .join()
            .expect("the waiter returns")
            .expect_err("version 1000 never comes");
        assert!(error.is_stopped(), "{kind}: {error:?}");
        assert_eq!(error.snapshot().version(), last.version());
        assert_eq!(
            error.into_snapshot().state().logged(),
            vec![2],
            "{kind}: the final snapshot"
        );
    }
}

/// Waiting for a change after the last representable version used to overflow computing the
/// version after it: a panic in a debug build, and in a release build a wait for version 0,
/// which returned at once with a snapshot no newer than the one asked about.
#[test]
fn waiting_for_a_change_after_the_last_version_times_out_or_stops() {
    for kind in WRITER_KINDS {
        let engine = Started::start(kind, Log::default(), config());
        let reader = engine.read_handle();
        let error = reader
            .wait_for_change(Version(u64::MAX), Duration::from_millis(5))
            .expect_err("no version comes after the last");
        assert!(error.is_timeout(), "{kind}: {error:?}");
        drop(engine.shutdown());
        let error = reader
            .wait_for_change(Version(u64::MAX), Duration::MAX)
            .expect_err("the engine stopped");
        assert!(error.is_stopped(), "{kind}: {error:?}");
    }
}
