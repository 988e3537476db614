//! The generic engine end to end, driven with small state machines whose behaviour the tests
//! control: ordering, barriers, backpressure, shutdown, outcomes and panic recovery.

mod engine_support;

use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use engine_support::{
    FLAKY, Log, Logged, Odd, PANIC, SHIFTY, WAIT, assert_failed_as_non_deterministic, gated,
    quiet_panics,
};
use snapstate::engine::{
    Engine, EngineConfig, EngineStatus, FlushError, Outcome, Seq, StateMachine, SubmitError,
    SubmitTimeoutError, TrySubmitError, Version, WaitStrategy,
};

fn start(log: Log, config: EngineConfig) -> Engine<Log> {
    Engine::start(log, config).expect("engine starts")
}

#[test]
fn commands_apply_in_submission_order_and_flush_makes_them_visible() {
    let engine = start(Log::default(), EngineConfig::default());
    let writer = engine.write_handle();
    for value in (0..200).map(|n| n * 2) {
        writer.submit(value).expect("accepted");
    }
    let version = writer.flush().expect("flushed");
    let snapshot = engine.read_handle().load();
    assert!(snapshot.version() >= version);
    let expected: Vec<u64> = (0..200).map(|n| n * 2).collect();
    assert_eq!(snapshot.state().logged(), expected);
    assert_eq!(snapshot.last_seq(), Seq(200));
    assert_eq!(snapshot.counters().applied(), 200);
    assert_eq!(snapshot.counters().applied_count("logged"), 200);
}

#[test]
fn rejections_change_nothing_and_are_counted_by_reason() {
    let engine = start(Log::default(), EngineConfig::default());
    let writer = engine.write_handle();
    for value in [2, 3, 4, 5, 7] {
        writer.submit(value).expect("accepted");
    }
    writer.flush().expect("flushed");
    let snapshot = engine.read_handle().load();
    assert_eq!(snapshot.state().logged(), vec![2, 4]);
    assert_eq!(snapshot.counters().rejected(), 3);
    assert_eq!(snapshot.counters().rejected_count("odd"), 3);
    assert_eq!(snapshot.counters().total(), snapshot.last_seq().0);
}

#[test]
fn every_wait_strategy_delivers_every_command() {
    for wait_strategy in [
        WaitStrategy::Block,
        WaitStrategy::SpinThenBlock { spins: 100 },
        WaitStrategy::BusySpin,
    ] {
        let config = EngineConfig {
            wait_strategy,
            max_batch: 8,
            ..EngineConfig::default()
        };
        let engine = start(Log::default(), config);
        let writer = engine.write_handle();
        for value in 0..100 {
            writer.submit(value * 2).expect("accepted");
        }
        let last = engine.shutdown().expect("clean shutdown");
        assert_eq!(last.state().entries.len(), 100, "{wait_strategy:?}");
        assert_eq!(last.last_seq(), Seq(100), "{wait_strategy:?}");
        // With at most 8 commands per batch, 100 commands need at least 13 publications.
        assert!(
            last.version() >= Version(13),
            "{wait_strategy:?}: {}",
            last.version()
        );
    }
}

/// Under a backlog the writer sizes each batch from the last one's pace (`batch_time`); without
/// an aim it takes the whole backlog (up to `max_batch`).
#[test]
fn batch_time_sizes_the_batches_of_a_backlog() {
    for (batch_time, expected) in [
        (None, Version(2)),
        (Some(Duration::from_nanos(1)), Version(101)),
    ] {
        let (log, entered, release) = gated();
        let config = EngineConfig {
            batch_time,
            ..EngineConfig::default()
        };
        let engine = start(log, config);
        let writer = engine.write_handle();
        writer.submit(WAIT).expect("accepted");
        entered.recv().expect("the writer holds the first batch");
        // The backlog queues behind the held batch.
        for value in 0..100 {
            writer.submit(value * 2).expect("accepted");
        }
        release.send(()).expect("released");
        let last = engine.shutdown().expect("clean shutdown");
        assert_eq!(last.state().entries.len(), 101, "{batch_time:?}");
        // One batch held for as long as the test took: with an aim of a nanosecond, every
        // batch after it takes one command; with none, the whole backlog is the second batch.
        assert_eq!(last.version(), expected, "{batch_time:?}");
    }
}

#[test]
fn shutdown_applies_everything_accepted_and_refuses_later_submits_with_the_command() {
    let engine = start(Log::default(), EngineConfig::default());
    let writer = engine.write_handle();
    let reader = engine.read_handle();
    for value in 0..1_000 {
        writer.submit(value * 2).expect("accepted");
    }
    let last = engine.shutdown().expect("clean shutdown");
    assert_eq!(last.state().entries.len(), 1_000);
    assert_eq!(
        reader.load().version(),
        last.version(),
        "readers keep the final snapshot"
    );
    assert_eq!(writer.submit(8).map_err(SubmitError::into_inner), Err(8));
    let closed = writer.try_submit(10).expect_err("the engine is closed");
    assert!(!closed.is_full(), "a closed engine is not a full queue");
    assert!(matches!(closed, TrySubmitError::Closed(10)));
    assert!(matches!(
        writer.submit_timeout(12, Duration::from_millis(1)),
        Err(SubmitTimeoutError::Closed(12))
    ));
    assert_eq!(writer.flush(), Err(FlushError::Closed));
    assert_eq!(writer.health().status, EngineStatus::Stopped);
}

#[test]
fn dropping_the_last_handle_shuts_down_after_applying_everything() {
    let engine = start(Log::default(), EngineConfig::default());
    let writer = engine.write_handle();
    let reader = engine.read_handle();
    drop(engine);
    // A write handle keeps the engine running.
    writer.submit(2).expect("still running");
    writer.submit(4).expect("still running");
    drop(writer);
    // The drop joined the writer, so the final version is already published.
    let last = reader.load();
    assert_eq!(last.state().logged(), vec![2, 4]);
}

#[test]
fn a_full_queue_hands_the_command_back_and_submit_timeout_times_out() {
    let (log, entered, release) = gated();
    let config = EngineConfig {
        queue_capacity: 1,
        max_batch: 1,
        ..EngineConfig::default()
    };
    let engine = start(log, config);
    let writer = engine.write_handle();
    writer.submit(WAIT).expect("accepted");
    entered.recv().expect("writer is inside apply");
    writer.submit(2).expect("fills the only queue slot");
    let full = writer.try_submit(4).expect_err("the queue is full");
    assert!(full.is_full(), "a full queue is reported as full: {full:?}");
    assert!(matches!(full, TrySubmitError::Full(4)));
    assert!(matches!(
        writer.submit_timeout(6, Duration::from_millis(20)),
        Err(SubmitTimeoutError::Timeout(6))
    ));
    assert_eq!(writer.queue_len(), 1);
    release.send(()).expect("writer waits for the gate");
    writer.submit(4).expect("room again");
    let last = engine.shutdown().expect("clean shutdown");
    assert_eq!(last.state().logged(), vec![WAIT, 2, 4]);
}

#[test]
fn a_held_snapshot_never_changes_while_the_writer_moves_on() {
    let engine = start(Log::default(), EngineConfig::default());
    let writer = engine.write_handle();
    writer.submit(2).expect("accepted");
    writer.flush().expect("flushed");
    let held = engine.read_handle().load();
    let held_entries: Vec<u64> = held.state().logged();
    for value in 0..500 {
        writer.submit(value * 2).expect("accepted");
    }
    writer.flush().expect("flushed");
    assert_eq!(held.state().logged(), held_entries);
    assert!(engine.read_handle().load().version() > held.version());
}

#[test]
fn a_panicking_command_is_rejected_and_the_rest_of_its_batch_survives() {
    quiet_panics();
    let (log, entered, release) = gated();
    let mut engine = start(
        log,
        EngineConfig {
            outcome_capacity: Some(64),
            ..EngineConfig::default()
        },
    );
    let outcomes = engine.take_outcomes().expect("outcome stream requested");
    let writer = engine.write_handle();
    let reader = engine.read_handle();
    // Hold the writer so that the next four commands land in one batch.
    writer.submit(WAIT).expect("accepted");
    entered.recv().expect("writer is inside apply");
    for value in [2, PANIC, 4, 6] {
        writer.submit(value).expect("accepted");
    }
    release.send(()).expect("writer waits for the gate");
    writer.flush().expect("flushed");

    let snapshot = reader.load();
    let entries: Vec<u64> = snapshot.state().logged();
    assert_eq!(
        entries,
        vec![WAIT, 2, 4, 6],
        "the panicking command left no trace"
    );
    assert_eq!(snapshot.counters().panicked(), 1);
    assert_eq!(snapshot.counters().applied(), 4);
    let health = engine.health();
    assert_eq!(health.status, EngineStatus::Running);
    assert_eq!(health.panicked_commands, 1);
    assert!(
        health
            .last_panic
            .as_deref()
            .is_some_and(|message| message.contains("deliberate"))
    );

    let records: Vec<_> = (0..5).filter_map(|_| outcomes.recv()).collect();
    assert_eq!(records.len(), 5);
    assert!(
        matches!(records[2].outcome, Outcome::Panicked { ref message } if message.contains("deliberate"))
    );
    assert_eq!(records[2].seq, Seq(3));
    for record in [&records[1], &records[3], &records[4]] {
        assert_eq!(record.outcome, Outcome::Applied(Logged));
    }
    let last = engine
        .shutdown()
        .expect("a panicking command is not an engine failure");
    assert_eq!(last.state().entries.len(), 4);
}

#[test]
fn the_outcome_stream_reports_every_command_in_sequence_order() {
    let mut engine = start(
        Log::default(),
        EngineConfig {
            outcome_capacity: Some(1_024),
            ..EngineConfig::default()
        },
    );
    let outcomes = engine.take_outcomes().expect("outcome stream requested");
    assert!(engine.take_outcomes().is_none(), "handed out once");
    let writer = engine.write_handle();
    for value in 0..300 {
        writer.submit(value).expect("accepted");
    }
    let last = engine.shutdown().expect("clean shutdown");
    let mut records = Vec::new();
    while let Some(record) = outcomes.recv() {
        records.push(record);
    }
    assert_eq!(records.len(), 300, "the stream ends after the last record");
    for (index, record) in records.iter().enumerate() {
        assert_eq!(record.seq, Seq(index as u64 + 1));
        assert!(record.version <= last.version());
        let expected_applied = index % 2 == 0;
        assert_eq!(
            matches!(record.outcome, Outcome::Applied(_)),
            expected_applied
        );
    }
    assert_eq!(last.counters().outcomes_dropped(), 0);
}

#[test]
fn a_slow_outcome_consumer_never_blocks_the_writer_and_drops_are_counted() {
    let mut engine = start(
        Log::default(),
        EngineConfig {
            outcome_capacity: Some(4),
            ..EngineConfig::default()
        },
    );
    let outcomes = engine.take_outcomes().expect("outcome stream requested");
    let writer = engine.write_handle();
    for value in 0..100 {
        writer.submit(value * 2).expect("accepted");
    }
    writer
        .flush()
        .expect("the writer did not wait for the consumer");
    // Drops are counted at the publication after they happen; one more command publishes.
    writer.submit(0).expect("accepted");
    let last = engine.shutdown().expect("clean shutdown");
    let mut received = 0;
    while outcomes.try_recv().is_some() {
        received += 1;
    }
    assert_eq!(received + last.counters().outcomes_dropped(), 101);
    assert!(last.counters().outcomes_dropped() > 0);
}

#[test]
fn flush_from_many_threads_each_sees_its_own_commands() {
    let engine = start(Log::default(), EngineConfig::default());
    let reader = engine.read_handle();
    let handles: Vec<_> = (0..4_u64)
        .map(|thread_index| {
            let writer = engine.write_handle();
            let reader = reader.clone();
            thread::spawn(move || {
                for step in 0..50_u64 {
                    let value = (thread_index * 1_000 + step) * 2;
                    writer.submit(value).expect("accepted");
                    let version = writer.flush().expect("flushed");
                    let snapshot = reader.load();
                    assert!(snapshot.version() >= version);
                    assert!(
                        snapshot.state().entries.contains(&value),
                        "flush returned early"
                    );
                }
            })
        })
        .collect();
    for handle in handles {
        handle.join().expect("no thread failed");
    }
    assert_eq!(engine.shutdown().expect("clean").state().entries.len(), 200);
}

#[test]
fn cached_reader_follows_the_writer_and_never_goes_back() {
    let engine = start(Log::default(), EngineConfig::default());
    let writer = engine.write_handle();
    let mut reader = engine.read_handle().reader();
    let mut last = reader.load().version();
    assert_eq!(last, Version(0));
    for value in 0..50 {
        writer.submit(value * 2).expect("accepted");
        let visible = writer.flush().expect("flushed");
        let seen = reader.load().version();
        assert!(seen >= visible && seen >= last);
        last = seen;
    }
}

#[test]
fn invalid_configuration_is_refused_with_a_reason() {
    for config in [
        EngineConfig {
            queue_capacity: 0,
            ..EngineConfig::default()
        },
        EngineConfig {
            max_batch: 0,
            ..EngineConfig::default()
        },
        EngineConfig {
            outcome_capacity: Some(0),
            ..EngineConfig::default()
        },
        EngineConfig {
            max_batch: EngineConfig::MAX_BATCH + 1,
            ..EngineConfig::default()
        },
        EngineConfig {
            batch_time: Some(Duration::ZERO),
            ..EngineConfig::default()
        },
    ] {
        let error = Engine::start(Log::default(), config).expect_err("refused");
        assert!(
            error
                .to_string()
                .starts_with("invalid engine configuration"),
            "{error}"
        );
    }
}

/// Which token was dropped on which thread (by name).
type DropLog = Arc<Mutex<Vec<(u64, Option<String>)>>>;

/// A state whose every version owns a distinct token, which records the thread that drops it.
#[derive(Clone)]
struct Tokens {
    token: Arc<Token>,
    dropped_on: DropLog,
}

struct Token {
    number: u64,
    dropped_on: DropLog,
}

impl Drop for Token {
    fn drop(&mut self) {
        let thread = thread::current().name().map(str::to_owned);
        self.dropped_on
            .lock()
            .expect("drop log")
            .push((self.number, thread));
    }
}

impl StateMachine for Tokens {
    type Command = u64;
    type Applied = Logged;
    type Rejected = Odd;

    fn apply(&mut self, number: &u64) -> Result<Logged, Odd> {
        self.token = Arc::new(Token {
            number: *number,
            dropped_on: Arc::clone(&self.dropped_on),
        });
        Ok(Logged)
    }
}

#[test]
fn a_version_a_reader_held_is_freed_by_the_writer_after_the_reader_lets_go() {
    let dropped_on: DropLog = Arc::new(Mutex::new(Vec::new()));
    let initial = Tokens {
        token: Arc::new(Token {
            number: 0,
            dropped_on: Arc::clone(&dropped_on),
        }),
        dropped_on: Arc::clone(&dropped_on),
    };
    let engine = Engine::start(initial, EngineConfig::default()).expect("engine starts");
    let writer = engine.write_handle();
    writer.submit(1).expect("accepted");
    writer.flush().expect("flushed");
    let held = engine.read_handle().load();
    assert_eq!(held.state().token.number, 1);
    for number in 2..=4 {
        writer.submit(number).expect("accepted");
        writer.flush().expect("flushed");
    }
    // The held version is still the one loaded, whatever the writer published since.
    assert_eq!(held.state().token.number, 1, "a held version never changes");
    // The held version's own token (the writer may make another token numbered 1 when it
    // applies the command again to a replaced version it reuses; that one is not held).
    let held_token = Arc::downgrade(&held.state().token);
    drop(held);
    // The writer frees what readers let go of after its next batch, once that batch's barrier
    // is answered: the second flush returns after that.
    writer.flush().expect("flushed");
    writer.flush().expect("flushed");
    assert!(
        held_token.upgrade().is_none(),
        "the writer freed the version once the reader let go"
    );
    let log = dropped_on.lock().expect("drop log").clone();
    for (number, thread) in &log {
        assert_eq!(
            thread.as_deref(),
            Some("snapstate-writer"),
            "version {number} was freed off the writer thread"
        );
    }
    drop(log);
    drop(engine.shutdown().expect("clean shutdown"));
}

/// The writer applies a small batch again to the version it replaced (`reuse_limit`); a
/// command that panics only then (`FLAKY`), or is refused then after it was applied the first
/// time (`SHIFTY`, which would otherwise leave the reused lineage without it), fails the writer
/// as non-deterministic, after its batch was published, counted and handed on: none of it is
/// reported unapplied, and readers keep the version that includes it.
#[test]
fn a_command_that_panics_or_is_refused_when_applied_again_fails_the_writer_with_nothing_unapplied()
{
    quiet_panics();
    for command in [FLAKY, SHIFTY] {
        let engine = start(Log::default(), EngineConfig::default());
        let writer = engine.write_handle();
        let reader = engine.read_handle();
        writer.submit(2).expect("accepted");
        writer.flush().expect("flushed");
        writer.submit(command).expect("accepted");
        let stopped = reader
            .wait_for_version(Version(100), Duration::from_secs(30))
            .expect_err("the writer fails before version 100");
        assert!(stopped.is_stopped(), "{command}: {stopped:?}");
        let health = engine.health();
        assert_failed_as_non_deterministic(&health);
        assert_eq!(health.unapplied_on_failure, 0, "{command}: {health:?}");
        let last = reader.load();
        assert_eq!(last.state().logged(), vec![2, command]);
        assert_eq!(last.counters().applied(), 2);
    }
}

/// A configuration the writer thread or its channels cannot be built from used to panic or
/// abort inside `start` (a thread name with a NUL byte: a panic; a queue or outcome capacity
/// too large to allocate: "capacity overflow", or the process aborted on the allocation),
/// where a typed refusal belongs.
#[test]
fn capacities_beyond_their_maximum_and_unusable_thread_names_are_refused() {
    for (config, reason) in [
        (
            EngineConfig {
                queue_capacity: usize::MAX,
                ..EngineConfig::default()
            },
            "queue_capacity",
        ),
        (
            EngineConfig {
                queue_capacity: EngineConfig::MAX_QUEUE_CAPACITY + 1,
                ..EngineConfig::default()
            },
            "queue_capacity",
        ),
        (
            EngineConfig {
                outcome_capacity: Some(1 << 40),
                ..EngineConfig::default()
            },
            "outcome_capacity",
        ),
        (
            EngineConfig {
                thread_name: "snap\0state".to_owned(),
                ..EngineConfig::default()
            },
            "thread_name",
        ),
    ] {
        let error = Engine::start(Log::default(), config.clone()).expect_err("refused");
        assert!(error.to_string().contains(reason), "start: {error}");
        let error =
            snapstate::engine::InlineWriter::start(Log::default(), config).expect_err("refused");
        assert!(error.to_string().contains(reason), "inline: {error}");
    }
    let largest = EngineConfig {
        queue_capacity: 1 << 16,
        outcome_capacity: Some(1 << 16),
        ..EngineConfig::default()
    };
    Engine::start(Log::default(), largest)
        .expect("ordinary capacities start")
        .shutdown()
        .expect("clean shutdown");
}
