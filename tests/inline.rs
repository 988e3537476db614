//! The inline writer end to end: outcomes returned to the caller, visible on return, one
//! publication per call, panic recovery, failure, shutdown, and the typed counters.

mod engine_support;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use engine_support::{
    FLAKY, Log, Logged, Odd, PANIC, SHIFTY, assert_failed_as_non_deterministic, quiet_panics,
};
use snapstate::engine::{
    EngineConfig, EngineStatus, Health, InlineWriter, Outcome, Seq, ShutdownError, StartError,
    Version,
};

fn config() -> EngineConfig {
    EngineConfig {
        record_metrics: false,
        ..EngineConfig::default()
    }
}

fn start() -> InlineWriter<Log> {
    InlineWriter::start(Log::default(), config()).expect("the writer starts")
}

/// Makes `call`, which must pass the state machine's panic on to the caller, then checks that
/// the writer is failed at once and refuses the next command (handing it back), and returns
/// its health.
fn fails<R>(
    writer: &mut InlineWriter<Log>,
    call: impl FnOnce(&mut InlineWriter<Log>) -> R,
) -> Health {
    let unwound = catch_unwind(AssertUnwindSafe(|| call(writer)));
    assert!(
        unwound.is_err(),
        "the state machine's panic reaches the caller"
    );
    assert_eq!(
        writer.health().status,
        EngineStatus::Failed,
        "failed as the call unwinds, not at the next call"
    );
    let refused = writer
        .apply(4)
        .expect_err("a failed writer applies nothing");
    assert_eq!(refused.into_inner(), 4);
    writer.health()
}

#[test]
fn apply_returns_the_outcome_and_the_command_is_visible_when_it_returns() {
    let mut writer = start();
    let reader = writer.read_handle();
    let mut cached = reader.reader();
    let record = writer.apply(2).expect("the writer runs");
    assert_eq!(record.seq, Seq(1));
    assert_eq!(record.version, Version(1));
    assert_eq!(record.outcome, Outcome::Applied(Logged));
    assert_eq!(reader.load().state().logged(), vec![2]);
    assert_eq!(cached.load().version(), Version(1));

    let refused = writer.apply(3).expect("the writer runs");
    assert_eq!(refused.outcome, Outcome::Rejected(Odd));
    assert_eq!(refused.seq, Seq(2));
    let snapshot = reader.load();
    assert_eq!(
        snapshot.state().logged(),
        vec![2],
        "a refusal changes nothing"
    );
    assert_eq!(snapshot.last_seq(), Seq(2));
    assert_eq!(snapshot.applied_of(&Logged), 1);
    assert_eq!(snapshot.rejected_of(&Odd), 1);
    assert_eq!(snapshot.counters().rejected_count("odd"), 1);
    assert!(writer.health().is_healthy());
}

#[test]
fn apply_all_publishes_once_per_call_or_once_per_max_batch() {
    let mut writer = InlineWriter::start(
        Log::default(),
        EngineConfig {
            max_batch: 3,
            ..config()
        },
    )
    .expect("the writer starts");
    let records = writer.apply_all([2, 4]).expect("the writer runs");
    assert!(records.iter().all(|record| record.version == Version(1)));
    let records = writer
        .apply_all((3..=9).map(|n| n * 2))
        .expect("the writer runs");
    let versions: Vec<u64> = records.iter().map(|record| record.version.0).collect();
    assert_eq!(
        versions,
        vec![2, 2, 2, 3, 3, 3, 4],
        "batches of at most three"
    );
    let seqs: Vec<u64> = records.iter().map(|record| record.seq.0).collect();
    assert_eq!(seqs, (3..=9).collect::<Vec<_>>());
    assert!(writer.apply_all([]).expect("the writer runs").is_empty());
    assert_eq!(
        writer.snapshot().version(),
        Version(4),
        "nothing published for nothing"
    );
    let mut reused = Vec::with_capacity(4);
    writer
        .apply_all_into([20, 21], &mut reused)
        .expect("the writer runs");
    assert_eq!(reused.len(), 2);
    let last = writer.shutdown().expect("clean shutdown");
    assert_eq!(last.last_seq(), Seq(11));
    assert_eq!(last.counters().total(), 11);
}

#[test]
fn a_panicking_command_is_rejected_and_the_rest_of_its_call_survives() {
    quiet_panics();
    let mut writer = start();
    let records = writer.apply_all([2, PANIC, 4]).expect("the writer runs");
    assert!(
        matches!(&records[1].outcome, Outcome::Panicked { message } if message.contains("deliberate"))
    );
    assert_eq!(records[2].outcome, Outcome::Applied(Logged));
    assert_eq!(writer.snapshot().state().logged(), vec![2, 4]);
    let health = writer.health();
    assert_eq!(health.status, EngineStatus::Running);
    assert_eq!(health.panicked_commands, 1);
    let last = writer
        .shutdown()
        .expect("a panicking command is no writer failure");
    assert_eq!(last.counters().panicked(), 1);
}

#[test]
fn a_non_deterministic_state_machine_fails_the_writer_and_later_calls_hand_commands_back() {
    quiet_panics();
    let mut writer = start();
    let reader = writer.read_handle();
    writer.apply(2).expect("the writer runs");
    let waiter = {
        let reader = reader.clone();
        thread::spawn(move || reader.wait_for_version(Version(100), Duration::MAX))
    };
    // FLAKY applies; PANIC makes the core re-apply FLAKY, which now panics: a writer failure.
    let health = fails(&mut writer, |writer| writer.apply_all([FLAKY, PANIC]));
    assert_failed_as_non_deterministic(&health);
    assert_eq!(
        reader.load().state().logged(),
        vec![2],
        "readers keep the last good"
    );
    let stopped = waiter
        .join()
        .expect("the waiter returns")
        .expect_err("the version never comes");
    assert!(stopped.is_stopped());
    match writer.shutdown() {
        Err(ShutdownError::WriterFailed { last_good, .. }) => {
            assert_eq!(last_good.state().logged(), vec![2]);
        }
        Ok(_) => panic!("a failed writer shuts down with an error"),
    }
}

#[test]
fn an_outcome_stream_is_refused_with_a_reason() {
    let refused = InlineWriter::start(
        Log::default(),
        EngineConfig {
            outcome_capacity: Some(16),
            ..config()
        },
    )
    .expect_err("the inline writer returns outcomes instead");
    assert!(matches!(refused, StartError::InvalidConfig(reason) if reason.contains("outcome")));
    let zero = InlineWriter::start(
        Log::default(),
        EngineConfig {
            max_batch: 0,
            ..config()
        },
    );
    assert!(matches!(zero, Err(StartError::InvalidConfig(_))));
}

#[test]
fn dropping_the_writer_stops_it_readers_keep_the_last_version_and_waiters_are_told() {
    let mut writer = start();
    writer.apply_all([2, 4]).expect("the writer runs");
    let reader = writer.read_handle();
    drop(writer);
    assert_eq!(reader.load().state().logged(), vec![2, 4]);
    let stopped = reader
        .wait_for_change(Version(1), Duration::MAX)
        .expect_err("nothing is published after the writer is gone");
    assert!(stopped.is_stopped());
    assert_eq!(stopped.snapshot().version(), Version(1));
    assert_eq!(
        reader
            .wait_for_version(Version(1), Duration::MAX)
            .expect("version 1 was published")
            .version(),
        Version(1)
    );
}

#[test]
fn the_writer_moves_to_another_thread_and_keeps_publishing_there() {
    let mut writer = start();
    writer.apply(2).expect("the writer runs");
    let reader = writer.read_handle();
    let held = reader.load();
    let producer = thread::spawn(move || {
        for value in [4, 6, 8] {
            writer.apply(value).expect("the writer runs");
        }
        writer.shutdown().expect("clean shutdown")
    });
    let last = producer.join().expect("the producer finishes");
    assert_eq!(last.state().logged(), vec![2, 4, 6, 8]);
    assert_eq!(
        held.state().logged(),
        vec![2],
        "a held snapshot never changes"
    );
}

#[test]
fn the_inline_writer_records_the_engine_metrics_on_the_callers_recorder() {
    use metrics_util::debugging::{DebugValue, DebuggingRecorder};

    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    // The handles bind to the recorder that is current when the writer starts: on this thread,
    // so a thread-local recorder works (it cannot reach the threaded engine's writer thread).
    let mut writer = metrics::with_local_recorder(&recorder, || {
        InlineWriter::start(
            Log::default(),
            EngineConfig {
                record_metrics: true,
                ..EngineConfig::default()
            },
        )
        .expect("the writer starts")
    });
    writer.apply_all([2, 3, 4]).expect("the writer runs");
    let snapshot = snapshotter.snapshot().into_vec();
    let value = |name: &str, outcome: Option<&str>| {
        snapshot
            .iter()
            .find(|(key, _, _, _)| {
                key.key().name() == name
                    && outcome.is_none_or(|outcome| {
                        key.key()
                            .labels()
                            .any(|label| label.key() == "outcome" && label.value() == outcome)
                    })
            })
            .map(|(_, _, _, value)| value)
    };
    assert_eq!(
        value("snapstate_commands_total", Some("applied")),
        Some(&DebugValue::Counter(2))
    );
    assert_eq!(
        value("snapstate_commands_total", Some("rejected")),
        Some(&DebugValue::Counter(1))
    );
    assert_eq!(
        value("snapstate_version", None),
        Some(&DebugValue::Gauge(1.0.into()))
    );
    let Some(DebugValue::Histogram(batch_sizes)) = value("snapstate_batch_size", None) else {
        panic!("no batch size histogram in {snapshot:#?}")
    };
    assert_eq!(batch_sizes.len(), 1, "one publication for the call");
    drop(writer.shutdown().expect("clean shutdown"));
}

/// Readers never free the state's memory: a version a reader held when it was replaced stays
/// with the writer after the reader lets go, until the writer's next call — or `reclaim`.
#[test]
fn reclaim_frees_a_replaced_version_once_its_reader_lets_go_without_applying_anything() {
    let mut writer = start();
    let held = writer.read_handle().load();
    writer.apply(2).expect("the writer runs");
    let version_zero = std::sync::Arc::downgrade(&held);
    drop(held);
    assert!(
        version_zero.upgrade().is_some(),
        "the writer keeps the replaced version it must free"
    );
    writer.reclaim();
    assert!(
        version_zero.upgrade().is_none(),
        "reclaim freed the version"
    );
    assert_eq!(
        writer.snapshot().version(),
        Version(1),
        "reclaim publishes nothing"
    );
}

/// The writer reuses a replaced version no reader holds (`EngineConfig::reuse_limit`): it
/// applies the batch to it again and writes the next batch to it in place. A version a reader
/// holds must never be written: every snapshot held here keeps exactly the entries up to its
/// own `last_seq`, however many calls came after it.
#[test]
fn snapshots_held_while_the_writer_reuses_replaced_versions_keep_their_state() {
    let mut writer = start();
    let reader = writer.read_handle();
    let mut held = Vec::new();
    // Each publication's allocation: a version the writer reused is published again two calls
    // later in the same allocation (a clone is made while the version two back is still
    // alive, so it cannot land at that address).
    let mut addresses = Vec::new();
    for command in (2..600_u64).step_by(2) {
        writer.apply(command).expect("the writer runs");
        addresses.push(Arc::as_ptr(writer.snapshot()));
        if command % 3 == 0 {
            let snapshot = reader.load();
            let header = (
                snapshot.version(),
                snapshot.last_seq(),
                snapshot.published_at(),
                snapshot.counters().applied_by_label().collect::<Vec<_>>(),
            );
            held.push((snapshot, header));
        }
        if command % 10 == 0 {
            // Let one go again, so that the writer both reuses and retires versions.
            held.pop();
        }
    }
    writer
        .apply_all((600..640).step_by(2))
        .expect("the writer runs");
    assert!(held.len() > 30, "{} snapshots held", held.len());
    let reused = addresses
        .windows(3)
        .filter(|window| window[0] == window[2] && window[1] != window[2])
        .count();
    assert!(
        reused > 100,
        "the writer reused the versions no one held ({reused} of {} calls)",
        addresses.len()
    );
    for (snapshot, header) in held {
        let applied = usize::try_from(snapshot.last_seq().0).expect("a small count");
        let expected: Vec<u64> = (2..).step_by(2).take(applied).collect();
        assert_eq!(snapshot.state().logged(), expected, "{snapshot:?}");
        let now = (
            snapshot.version(),
            snapshot.last_seq(),
            snapshot.published_at(),
            snapshot.counters().applied_by_label().collect::<Vec<_>>(),
        );
        assert_eq!(now, header, "the header of a held snapshot never changes");
    }
    let last = writer.shutdown().expect("clean shutdown");
    assert_eq!(
        last.state().logged(),
        (2..640).step_by(2).collect::<Vec<u64>>()
    );
}

/// With the replaced version reused, every command is applied twice, once after its
/// publication: a state machine whose second application panics (`FLAKY`), or refuses a
/// command the first one applied (`SHIFTY`: the reused lineage would lack it, silently, and the
/// next call would publish that state), fails the writer even when nothing else in its call
/// went wrong. The command was published already (that is when it is applied again), so
/// readers keep the version that includes it.
#[test]
fn a_command_that_panics_or_is_refused_when_applied_again_to_the_replaced_version_fails_the_writer()
{
    quiet_panics();
    for (command, named) in [(FLAKY, "panicked"), (SHIFTY, "Rejected")] {
        let mut writer = start();
        let reader = writer.read_handle();
        writer.apply(2).expect("the writer runs");
        let health = fails(&mut writer, |writer| writer.apply(command));
        assert_failed_as_non_deterministic(&health);
        assert!(
            health
                .failure
                .as_deref()
                .is_some_and(|failure| failure.contains(named)),
            "{health:?}"
        );
        assert_eq!(
            health.unapplied_on_failure, 0,
            "the command was applied, counted and published before its second application"
        );
        assert_eq!(reader.load().state().logged(), vec![2, command]);
        assert_eq!(reader.load().counters().applied(), 2);
    }
}

/// Refused and panicking commands among the calls of a writer that reuses replaced versions,
/// on a state that shares its structure between versions (`imbl::Vector`): the second
/// application must skip exactly the commands that panicked the first time and apply the
/// others, refused ones included, so that the two lineages stay equal. Every held snapshot
/// and the final state hold exactly the commands up to their `last_seq` that were logged.
#[test]
fn refused_and_panicking_commands_keep_the_reused_lineage_equal_to_the_published_one() {
    quiet_panics();
    let mut writer = start();
    let reader = writer.read_handle();
    // What the log must hold after the n-th command: the even commands but PANIC, in order.
    let mut expected_after = vec![Vec::new()];
    let mut logged = Vec::new();
    let mut held = Vec::new();
    let mut addresses = Vec::new();
    for call in 0..120_u64 {
        // One to four commands a call: even ones, odd (refused) ones and PANIC.
        let commands: Vec<u64> = (0..=call % 4)
            .map(|index| match (call + index) % 7 {
                3 => PANIC,
                5 => 2 * call + 1,
                _ => 2 * (call * 4 + index) + 2,
            })
            .collect();
        for &command in &commands {
            if command != PANIC && command % 2 == 0 {
                logged.push(command);
            }
            expected_after.push(logged.clone());
        }
        writer.apply_all(commands).expect("the writer runs");
        addresses.push(Arc::as_ptr(writer.snapshot()));
        if call % 5 == 0 {
            held.push(reader.load());
        }
    }
    let reused = addresses
        .windows(3)
        .filter(|window| window[0] == window[2] && window[1] != window[2])
        .count();
    assert!(reused > 50, "the writer reused versions: {reused}");
    assert!(writer.health().panicked_commands > 10);
    for snapshot in held {
        let last = usize::try_from(snapshot.last_seq().0).expect("a small count");
        assert_eq!(
            snapshot.state().logged(),
            expected_after[last],
            "{snapshot:?}"
        );
    }
    let last = writer.shutdown().expect("clean shutdown");
    assert_eq!(last.state().logged(), logged);
    assert_eq!(
        last.last_seq().0,
        u64::try_from(expected_after.len() - 1).expect("a small count")
    );
}
