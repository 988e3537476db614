//! The async twins under a real runtime (tokio, a test-only dependency): submitting under
//! backpressure without blocking the executor's thread, flushing, waiting for a version, and
//! cancelling a wait by dropping its future.
#![cfg(feature = "async")]

mod engine_support;

use std::thread;
use std::time::Duration;

use engine_support::{Log, WAIT, gated};
use snapstate::engine::{Engine, EngineConfig, FlushError, InlineWriter, SubmitError, Version};

fn config() -> EngineConfig {
    EngineConfig {
        record_metrics: false,
        ..EngineConfig::default()
    }
}

#[tokio::test]
async fn submit_async_and_flush_async_make_commands_visible() {
    let engine = Engine::start(Log::default(), config()).expect("starts");
    let writer = engine.write_handle();
    for value in [2, 4, 6] {
        writer.submit_async(value).await.expect("accepted");
    }
    let flushed = writer.flush_async().await.expect("flushed");
    let snapshot = engine.read_handle().load();
    assert!(snapshot.version() >= flushed);
    assert_eq!(snapshot.state().logged(), vec![2, 4, 6]);
    drop(writer);
    drop(engine.shutdown().expect("clean shutdown"));
}

/// One executor thread: a submitter that waits for room must leave the thread to the task that
/// makes the room, or the test deadlocks.
#[tokio::test(flavor = "current_thread")]
async fn submit_async_waits_for_room_without_blocking_the_executor_thread() {
    let (state, entered, release) = gated();
    let engine = Engine::start(
        state,
        EngineConfig {
            queue_capacity: 1,
            ..config()
        },
    )
    .expect("starts");
    let writer = engine.write_handle();
    writer.submit(WAIT).expect("accepted");
    entered.recv().expect("the writer holds inside apply");
    writer.submit(2).expect("the queue has room for one");
    assert!(writer.try_submit(4).expect_err("full").is_full());

    {
        let mut blocked = std::pin::pin!(writer.submit_async(4));
        let still_waiting = tokio::time::timeout(Duration::from_millis(5), &mut blocked).await;
        assert!(
            still_waiting.is_err(),
            "the queue is full and the writer held"
        );
        // Another task on the same thread lets the writer go; the submitter then completes.
        let releaser = tokio::spawn(async move { release.send(()).expect("the writer waits") });
        blocked.await.expect("accepted once there is room");
        releaser.await.expect("the releaser ran");
    }
    let flushed = writer.flush_async().await.expect("flushed");
    let snapshot = engine
        .read_handle()
        .wait_for_version_async(flushed)
        .await
        .expect("published");
    assert_eq!(snapshot.state().logged(), vec![WAIT, 2, 4]);
    drop(writer);
    drop(engine.shutdown().expect("clean shutdown"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_for_version_async_wakes_when_another_thread_publishes() {
    let mut inline = InlineWriter::start(Log::default(), config()).expect("starts");
    let reader = inline.read_handle();
    let waiter = tokio::spawn({
        let reader = reader.clone();
        async move { reader.wait_for_version_async(Version(3)).await }
    });
    let producer = thread::spawn(move || {
        for value in [2, 4, 6] {
            inline.apply(value).expect("the writer runs");
        }
        inline
    });
    let reached = waiter
        .await
        .expect("the task finishes")
        .expect("version 3 is published");
    assert_eq!(reached.version(), Version(3));
    assert_eq!(reached.state().logged(), vec![2, 4, 6]);
    let inline = producer.join().expect("the producer finishes");
    drop(inline.shutdown().expect("clean shutdown"));
}

#[tokio::test]
async fn a_dropped_wait_is_cancelled_and_later_waits_still_work() {
    let engine = Engine::start(Log::default(), config()).expect("starts");
    let reader = engine.read_handle();
    let writer = engine.write_handle();
    for _ in 0..3 {
        let cancelled = tokio::time::timeout(
            Duration::from_millis(1),
            reader.wait_for_change_async(Version(0)),
        )
        .await;
        assert!(
            cancelled.is_err(),
            "nothing was published: the wait is cancelled"
        );
    }
    writer.submit_async(2).await.expect("accepted");
    let changed = reader
        .wait_for_change_async(Version(0))
        .await
        .expect("published");
    assert_eq!(changed.state().logged(), vec![2]);
    drop(writer);
    let last = engine.shutdown().expect("clean shutdown");
    let stopped = reader
        .wait_for_change_async(last.version())
        .await
        .expect_err("nothing comes after shutdown");
    assert!(stopped.is_stopped());
}

#[tokio::test]
async fn after_shutdown_the_async_twins_refuse_with_closed_and_hand_the_command_back() {
    let engine = Engine::start(Log::default(), config()).expect("starts");
    let writer = engine.write_handle();
    drop(engine.shutdown().expect("clean shutdown"));
    let refused = writer.submit_async(8).await.expect_err("closed");
    assert!(matches!(refused, SubmitError::Closed(8)));
    assert_eq!(writer.flush_async().await, Err(FlushError::Closed));
}

/// The async twin of `waiting_for_a_change_after_the_last_version_times_out_or_stops`
/// (tests/waiting.rs): no version comes after the last one, so the wait ends only when the
/// engine stops.
#[tokio::test]
async fn an_async_wait_for_a_change_after_the_last_version_ends_only_when_the_engine_stops() {
    let engine = Engine::start(Log::default(), config()).expect("starts");
    let reader = engine.read_handle();
    let pending = tokio::time::timeout(
        Duration::from_millis(5),
        reader.wait_for_change_async(Version(u64::MAX)),
    )
    .await;
    assert!(pending.is_err(), "no version comes after the last");
    drop(engine.shutdown().expect("clean shutdown"));
    let stopped = reader
        .wait_for_change_async(Version(u64::MAX))
        .await
        .expect_err("the engine stopped");
    assert!(stopped.is_stopped());
}
