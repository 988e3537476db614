//! The journal end to end on the simulated, fault-injecting storage: a clean restart, damaged
//! and foreign files, the lock, checkpoints, and failures of the disk. Crashes (what was not
//! synced is lost, the last write may tear), torn tails and a full disk are tested for each
//! writer in `tests/journal_writers.rs`.

mod common;

use std::time::Duration;

use snapstate::book::{Book, BookCommand, BookConfig, OrderId};
use snapstate::engine::{Engine, EngineConfig, EngineStatus, Seq, StartError};
use snapstate::journal::{
    DurableWaitError, JournalConfig, RecoveryError, SimulatedStorage, Storage, SyncPolicy,
    recover_read_only,
};

use common::journal::{LEVELS, engine_config, journal_config, reference, workload};

fn submit_all(engine: &Engine<Book>, commands: &[BookCommand]) {
    let writer = engine.write_handle();
    for command in commands {
        writer.submit(command.clone()).expect("submit");
    }
}

fn orders() -> u64 {
    200 * common::scale()
}

#[test]
fn a_journaled_run_recovers_to_the_same_book_counters_and_numbering() {
    let storage = SimulatedStorage::new();
    let commands = workload(orders());
    let (engine, report) = Engine::recover(
        common::book(LEVELS),
        engine_config(journal_config(&storage)),
    )
    .expect("fresh start");
    assert_eq!(report.last_seq, Seq(0));
    assert_eq!(report.checkpoint_seq, None);
    submit_all(&engine, &commands);
    let durable = engine.write_handle().flush_durable().expect("durable");
    assert_eq!(durable, Seq(commands.len() as u64));
    let reader = engine.read_handle();
    let last = engine.shutdown().expect("shutdown");
    assert_eq!(reader.durable_seq(), Some(last.last_seq()));
    assert!(
        last.durable_seq() <= last.last_seq(),
        "visible before durable"
    );
    assert_eq!(last.state(), &reference(&commands));

    let (engine, report) = Engine::recover(
        common::book(LEVELS),
        engine_config(journal_config(&storage)),
    )
    .expect("recover");
    assert_eq!(report.last_seq, last.last_seq());
    assert_eq!(report.records_replayed, commands.len() as u64);
    assert_eq!(report.torn_bytes_truncated, 0);
    assert!(report.segments_read > 1, "the run rolled over segments");
    let recovered = engine.read_handle().load();
    assert_eq!(recovered.state(), last.state());
    assert_eq!(recovered.last_seq(), last.last_seq());
    assert_eq!(recovered.counters().applied(), last.counters().applied());
    assert_eq!(recovered.counters().rejected(), last.counters().rejected());
    assert_eq!(
        recovered.counters().rejected_by_label().collect::<Vec<_>>(),
        last.counters().rejected_by_label().collect::<Vec<_>>()
    );
    assert_eq!(
        engine.read_handle().durable_seq(),
        Some(last.last_seq()),
        "what was recovered is durable"
    );

    // The sequence numbering goes on where the journal ended.
    let writer = engine.write_handle();
    writer
        .submit(common::invalid_command(OrderId(7)))
        .expect("submit");
    writer.flush().expect("flush");
    assert_eq!(
        engine.read_handle().load().last_seq(),
        Seq(last.last_seq().0 + 1)
    );
    engine.shutdown().expect("shutdown");
}

fn journaled_run(storage: &SimulatedStorage, commands: &[BookCommand]) {
    let (engine, _) = Engine::recover(common::book(LEVELS), engine_config(journal_config(storage)))
        .expect("fresh start");
    submit_all(&engine, commands);
    engine.shutdown().expect("shutdown");
}

fn segments(storage: &SimulatedStorage) -> Vec<String> {
    storage
        .list()
        .expect("list")
        .into_iter()
        .filter(|name| name.ends_with(".journal"))
        .collect()
}

#[test]
fn a_flipped_bit_before_the_tail_is_refused_naming_the_file_and_offset() {
    let storage = SimulatedStorage::new();
    journaled_run(&storage, &workload(orders()));
    let first = segments(&storage).remove(0);
    storage.flip_bit(&first, 300, 2).expect("flip");
    let error = Engine::recover(
        common::book(LEVELS),
        engine_config(journal_config(&storage)),
    )
    .expect_err("corrupt");
    assert!(error.is_corrupt(), "{error}");
    assert_eq!(error.file(), Some(first.as_str()));
    assert!(
        error.offset().is_some_and(|offset| offset <= 300),
        "{error}"
    );
    // Refusing changed nothing: the same error again.
    let again = recover_read_only(&storage, common::book(LEVELS)).expect_err("still corrupt");
    assert_eq!(again.offset(), error.offset());
}

#[test]
fn a_missing_segment_is_refused() {
    let storage = SimulatedStorage::new();
    journaled_run(&storage, &workload(orders()));
    let names = segments(&storage);
    assert!(names.len() >= 3, "{names:?}");
    storage.delete_durably(&names[1]).expect("delete");
    let error = Engine::recover(
        common::book(LEVELS),
        engine_config(journal_config(&storage)),
    )
    .expect_err("gap");
    assert!(error.is_missing_records(), "{error}");
    assert_eq!(error.file(), Some(names[2].as_str()));
}

#[test]
fn a_journal_of_another_configuration_is_refused() {
    let storage = SimulatedStorage::new();
    journaled_run(&storage, &workload(10));
    let error = Engine::recover(
        common::book(LEVELS + 2),
        engine_config(journal_config(&storage)),
    )
    .expect_err("mismatch");
    assert!(error.is_mismatch(), "{error}");
    assert!(error.file().is_some());
}

#[test]
fn a_second_engine_on_the_same_journal_is_refused() {
    let storage = SimulatedStorage::new();
    let (engine, _) = Engine::recover(
        common::book(LEVELS),
        engine_config(journal_config(&storage)),
    )
    .expect("first");
    let error = Engine::recover(
        common::book(LEVELS),
        engine_config(journal_config(&storage)),
    )
    .expect_err("locked");
    assert!(error.is_locked(), "{error}");
    engine.shutdown().expect("shutdown");
    let (engine, _) = Engine::recover(
        common::book(LEVELS),
        engine_config(journal_config(&storage)),
    )
    .expect("after the first let go");
    engine.shutdown().expect("shutdown");
}

#[test]
fn checkpoints_cover_old_segments_and_recovery_replays_only_the_tail() {
    let storage = SimulatedStorage::new();
    let journal = JournalConfig {
        checkpoint_every_commands: Some(200),
        checkpoint_interval: None,
        checkpoints_kept: 1,
        ..journal_config(&storage)
    };
    let commands = workload(orders());
    let (engine, _) =
        Engine::recover(common::book(LEVELS), engine_config(journal.clone())).expect("start");
    submit_all(&engine, &commands);
    engine.write_handle().flush_durable().expect("durable");
    // The checkpointer runs on its own thread: wait (bounded) until it has written one.
    wait_for_checkpoints(&storage, 1);
    let last = engine.shutdown().expect("shutdown");
    let (engine, report) =
        Engine::recover(common::book(LEVELS), engine_config(journal)).expect("recover");
    let checkpoint = report.checkpoint_seq.expect("a checkpoint");
    assert_eq!(
        report.records_replayed,
        last.last_seq().0 - checkpoint.0,
        "only the records after the checkpoint"
    );
    let recovered = engine.read_handle().load();
    assert_eq!(recovered.state(), last.state());
    assert_eq!(recovered.counters().applied(), last.counters().applied());
    engine.shutdown().expect("shutdown");
}

#[test]
fn an_engine_without_a_journal_pays_nothing_and_start_refuses_a_journal() {
    let plain = Engine::start(common::book(LEVELS), EngineConfig::default()).expect("start");
    assert_eq!(plain.read_handle().durable_seq(), None);
    assert_eq!(
        plain.write_handle().flush_durable(),
        Err(DurableWaitError::NoJournal)
    );
    plain.shutdown().expect("shutdown");
    let storage = SimulatedStorage::new();
    let error = Engine::start(
        common::book(LEVELS),
        engine_config(journal_config(&storage)),
    )
    .expect_err("start with a journal");
    assert!(matches!(error, StartError::InvalidConfig(_)));
}

#[test]
fn a_journal_on_the_file_system_recovers_and_is_locked_while_in_use() {
    let directory = std::env::temp_dir().join(format!("snapstate-journal-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&directory);
    let config = || {
        let journal = JournalConfig {
            segment_bytes: 64 << 10,
            checkpoint_every_commands: Some(300),
            ..JournalConfig::new(&directory).expect("directory")
        };
        engine_config(journal)
    };
    let commands = workload(orders());
    let (engine, _) = Engine::recover(common::book(LEVELS), config()).expect("fresh start");
    let second = Engine::recover(common::book(LEVELS), config()).expect_err("locked");
    assert!(second.is_locked(), "{second}");
    submit_all(&engine, &commands);
    let last = engine.shutdown().expect("shutdown");

    let (engine, report) = Engine::recover(common::book(LEVELS), config()).expect("recover");
    assert_eq!(report.last_seq, last.last_seq());
    assert_eq!(engine.read_handle().load().state(), last.state());
    engine.shutdown().expect("shutdown");
    std::fs::remove_dir_all(&directory).expect("clean up");
}

/// Waits (bounded) until the storage holds `count` checkpoints.
fn wait_for_checkpoints(storage: &SimulatedStorage, count: usize) {
    let mut waited = 0;
    while storage
        .list()
        .expect("list")
        .iter()
        .filter(|name| name.ends_with(".checkpoint"))
        .count()
        < count
    {
        assert!(waited < 1_000, "no {count} checkpoints within ten seconds");
        std::thread::sleep(Duration::from_millis(10));
        waited += 1;
    }
}

#[test]
fn a_damaged_newest_checkpoint_falls_back_to_the_older_one() {
    let storage = SimulatedStorage::new();
    let journal = JournalConfig {
        checkpoint_every_commands: Some(100),
        checkpoint_interval: None,
        checkpoints_kept: 2,
        ..journal_config(&storage)
    };
    let commands = workload(orders());
    let half = commands.len() / 2;
    let (engine, _) =
        Engine::recover(common::book(LEVELS), engine_config(journal.clone())).expect("start");
    submit_all(&engine, &commands[..half]);
    engine.write_handle().flush_durable().expect("durable");
    wait_for_checkpoints(&storage, 1);
    submit_all(&engine, &commands[half..]);
    engine.write_handle().flush_durable().expect("durable");
    wait_for_checkpoints(&storage, 2);
    let last = engine.shutdown().expect("shutdown");

    let mut checkpoints: Vec<String> = storage
        .list()
        .expect("list")
        .into_iter()
        .filter(|name| name.ends_with(".checkpoint"))
        .collect();
    checkpoints.sort();
    let newest = checkpoints.pop().expect("two checkpoints");
    storage.flip_bit(&newest, 30, 1).expect("flip");
    let (engine, report) =
        Engine::recover(common::book(LEVELS), engine_config(journal)).expect("recover");
    assert_eq!(report.checkpoints_skipped, 1);
    let older = report.checkpoint_seq.expect("the older checkpoint");
    assert!(newest > checkpoints[0] && older.0 < last.last_seq().0);
    assert_eq!(engine.read_handle().load().state(), last.state());
    engine.shutdown().expect("shutdown");
}

/// The threaded writer's durable barrier with a limit: it gives up with a timeout while the
/// journal holds durability back (a sync at most once an hour), and a limit too long to
/// represent is no limit (it does not panic). That both phases share the one limit is tested
/// deterministically, on a driven clock, beside the deadline (`src/engine/deadline.rs`).
#[test]
fn a_durable_barrier_with_a_limit_times_out_while_the_sync_is_held_back() {
    let storage = SimulatedStorage::new();
    let held_back = JournalConfig {
        sync: SyncPolicy::Interval(SyncPolicy::MAX_INTERVAL),
        ..journal_config(&storage)
    };
    let (engine, _) =
        Engine::recover(common::book(LEVELS), engine_config(held_back)).expect("fresh start");
    let writer = engine.write_handle();
    writer
        .submit(common::invalid_command(OrderId(1)))
        .expect("submit");
    assert_eq!(
        writer.flush_durable_timeout(Duration::from_millis(20)),
        Err(DurableWaitError::Timeout)
    );
    assert_eq!(engine.read_handle().durable_seq(), Some(Seq(0)));
    drop(writer);
    engine.shutdown().expect("shutdown");

    let (engine, _) = Engine::recover(
        common::book(LEVELS),
        engine_config(journal_config(&storage)),
    )
    .expect("restart");
    let writer = engine.write_handle();
    writer
        .submit(common::invalid_command(OrderId(2)))
        .expect("submit");
    assert_eq!(writer.flush_durable_timeout(Duration::MAX), Ok(Seq(2)));
    drop(writer);
    engine.shutdown().expect("shutdown");
}

#[test]
fn a_failing_sync_fails_the_engine_and_the_barrier_reports_it() {
    let storage = SimulatedStorage::new();
    let (engine, _) = Engine::recover(
        common::book(LEVELS),
        engine_config(journal_config(&storage)),
    )
    .expect("fresh start");
    let writer = engine.write_handle();
    writer
        .submit(common::invalid_command(OrderId(1)))
        .expect("submit");
    assert_eq!(writer.flush_durable(), Ok(Seq(1)));
    storage.set_fail_syncs(true);
    writer
        .submit(common::invalid_command(OrderId(2)))
        .expect("submit");
    let barrier = writer.flush_durable();
    assert!(
        barrier.as_ref().is_err_and(DurableWaitError::is_failed),
        "{barrier:?}"
    );
    assert_eq!(
        engine.read_handle().durable_seq(),
        Some(Seq(1)),
        "not past the failed sync"
    );
    let health = engine.health();
    assert_eq!(health.status, EngineStatus::Failed);
    assert!(
        health
            .failure
            .as_deref()
            .is_some_and(|failure| failure.contains("journal")),
        "{health:?}"
    );
    assert!(engine.shutdown().is_err());
}

/// A journal queue too large to allocate used to pass validation and reach the journal
/// thread's channels, which allocate every slot (a "capacity overflow" panic, or the process
/// aborted on the allocation), and a segment of any size was accepted; a typed refusal of the
/// configuration belongs there, before anything is touched.
#[test]
fn journal_sizes_beyond_their_maximum_are_refused_before_anything_is_read() {
    let storage = SimulatedStorage::new();
    for (config, named) in [
        (
            JournalConfig {
                queue_batches: JournalConfig::MAX_QUEUE_BATCHES + 1,
                ..journal_config(&storage)
            },
            "queue_batches",
        ),
        // A segment is preallocated and read whole at recovery: 2^40 bytes made a 1 TiB file.
        (
            JournalConfig {
                segment_bytes: JournalConfig::MAX_SEGMENT_BYTES + 1,
                ..journal_config(&storage)
            },
            "segment_bytes",
        ),
    ] {
        let error =
            Engine::recover(common::book(LEVELS), engine_config(config)).expect_err("refused");
        assert!(error.to_string().contains(named), "{error}");
        assert!(
            storage.list().expect("listed").is_empty(),
            "nothing created"
        );
    }
}

/// A book configuration the journal cannot store (its files keep the tombstone retention in
/// nanoseconds, as a `u64`) used to come back as an I/O error of the journal thread's first
/// segment, after the lock was taken and the directory read: it is refused as such now, before
/// anything is touched, and the directory stays free for a valid configuration.
#[test]
fn a_state_configuration_the_journal_cannot_store_is_refused_before_anything_is_touched() {
    let storage = SimulatedStorage::new();
    let mut config = BookConfig::new(common::grid(LEVELS));
    config.tombstone_retention = Duration::MAX;
    let error = Engine::recover(Book::new(config), engine_config(journal_config(&storage)))
        .expect_err("refused");
    assert!(
        matches!(error, RecoveryError::UnencodableConfig(_)),
        "{error:?}"
    );
    assert!(error.to_string().contains("tombstone retention"), "{error}");
    assert!(
        storage.list().expect("listed").is_empty(),
        "nothing created"
    );
    let (engine, _) = Engine::recover(
        common::book(LEVELS),
        engine_config(journal_config(&storage)),
    )
    .expect("the directory was neither locked nor changed");
    engine.shutdown().expect("clean shutdown");
}

/// A storage with files but none of a journal's is not a journal: recovery refuses it before
/// taking anything from it or writing anything to it, and names a file.
#[test]
fn a_directory_of_other_files_is_refused_as_not_a_journal() {
    let storage = SimulatedStorage::new();
    let mut file = storage.create("notes.txt").expect("create");
    file.write_at(0, b"not a journal").expect("write");
    let error = Engine::recover(
        common::book(LEVELS),
        engine_config(journal_config(&storage)),
    )
    .expect_err("refused");
    assert!(
        matches!(&error, RecoveryError::NotAJournal { file, .. } if file == "notes.txt"),
        "{error:?}"
    );
    assert_eq!(error.file(), Some("notes.txt"));
    assert_eq!(
        storage.list().expect("listed"),
        vec!["notes.txt".to_owned()]
    );
}

/// A checkpoint interval of zero used to be accepted, where a count of zero is refused: the
/// checkpointer then polled with a zero timeout, a busy loop on a core for as long as the
/// engine ran, idle or not, writing a checkpoint after every durable batch.
#[test]
fn a_zero_checkpoint_interval_is_refused() {
    let storage = SimulatedStorage::new();
    let error = Engine::recover(
        common::book(LEVELS),
        engine_config(JournalConfig {
            checkpoint_interval: Some(Duration::ZERO),
            ..journal_config(&storage)
        }),
    )
    .expect_err("refused");
    assert!(error.to_string().contains("checkpoint_interval"), "{error}");
    assert!(
        storage.list().expect("listed").is_empty(),
        "nothing created"
    );
}

/// A checkpoint count near `u64::MAX` ("practically never, by count") used to overflow the
/// checkpointer's `last_checkpoint + every` once a checkpoint existed: after a restart from a
/// checkpoint its thread died (debug) or wrapped into checkpointing after every batch
/// (release). Its time trigger must keep working.
#[test]
fn a_huge_checkpoint_count_after_a_checkpoint_leaves_the_time_trigger_working() {
    let storage = SimulatedStorage::new();
    let journal = JournalConfig {
        checkpoint_every_commands: Some(100),
        checkpoint_interval: None,
        checkpoints_kept: 1,
        ..journal_config(&storage)
    };
    let commands = workload(orders());
    let half = commands.len() / 2;
    let (engine, _) =
        Engine::recover(common::book(LEVELS), engine_config(journal.clone())).expect("start");
    submit_all(&engine, &commands[..half]);
    engine.write_handle().flush_durable().expect("durable");
    wait_for_checkpoints(&storage, 1);
    engine.shutdown().expect("shutdown");

    let journal = JournalConfig {
        checkpoint_every_commands: Some(u64::MAX),
        checkpoint_interval: Some(Duration::from_millis(1)),
        ..journal
    };
    let (engine, report) =
        Engine::recover(common::book(LEVELS), engine_config(journal)).expect("recover");
    let recovered = report.checkpoint_seq.expect("a checkpoint");
    assert!(recovered.0 > 0);
    submit_all(&engine, &commands[half..]);
    let durable = engine.write_handle().flush_durable().expect("durable");
    assert!(durable > recovered);
    // The checkpointer runs on its own thread: wait (bounded) for one newer than the first.
    let newest = || {
        storage
            .list()
            .expect("list")
            .iter()
            .filter_map(|name| name.strip_suffix(".checkpoint")?.parse::<u64>().ok())
            .max()
    };
    let mut waited = 0;
    while newest() <= Some(recovered.0) {
        assert!(
            waited < 1_000,
            "no checkpoint after {recovered} within ten seconds"
        );
        std::thread::sleep(Duration::from_millis(10));
        waited += 1;
    }
    engine.shutdown().expect("shutdown");
}

/// A sync interval longer than any text spelling allows (`SyncPolicy::MAX_INTERVAL`) used to
/// be accepted through the library: with `Duration::MAX` the journal never synced while the
/// engine ran, so `durable_seq` never moved and every durable wait timed out or hung.
#[test]
fn a_sync_interval_beyond_its_maximum_is_refused() {
    for interval in [
        SyncPolicy::MAX_INTERVAL + Duration::from_nanos(1),
        Duration::MAX,
    ] {
        let storage = SimulatedStorage::new();
        let error = Engine::recover(
            common::book(LEVELS),
            engine_config(JournalConfig {
                sync: SyncPolicy::Interval(interval),
                ..journal_config(&storage)
            }),
        )
        .expect_err("refused");
        assert!(matches!(error, RecoveryError::InvalidConfig(_)), "{error}");
        assert!(error.to_string().contains("sync interval"), "{error}");
        assert!(
            storage.list().expect("listed").is_empty(),
            "nothing created"
        );
    }
    let storage = SimulatedStorage::new();
    let (engine, _) = Engine::recover(
        common::book(LEVELS),
        engine_config(JournalConfig {
            sync: SyncPolicy::Interval(SyncPolicy::MAX_INTERVAL),
            ..journal_config(&storage)
        }),
    )
    .expect("the maximum itself is taken");
    engine.shutdown().expect("shutdown");
}

/// The directory's lock used to be held until the last write handle was dropped, not until
/// shutdown: a producer's leftover handle (which can submit nothing after the shutdown) kept a
/// restart in the same process out with `RecoveryError::Locked`.
#[test]
fn shutdown_releases_the_lock_while_a_write_handle_is_still_alive() {
    let storage = SimulatedStorage::new();
    let journal = journal_config(&storage);
    let commands = workload(orders());
    let (engine, _) =
        Engine::recover(common::book(LEVELS), engine_config(journal.clone())).expect("start");
    let leftover = engine.write_handle();
    submit_all(&engine, &commands);
    let last = engine.shutdown().expect("shutdown");
    let (engine, report) = Engine::recover(common::book(LEVELS), engine_config(journal.clone()))
        .expect("the stopped engine's lock is released");
    assert_eq!(report.last_seq, last.last_seq());
    assert!(leftover.submit(commands[0].clone()).is_err(), "closed");
    assert_eq!(engine.read_handle().load().last_seq(), last.last_seq());
    // The new engine holds the lock, whatever the old handle does.
    drop(leftover);
    let second = Engine::recover(common::book(LEVELS), engine_config(journal)).expect_err("locked");
    assert!(second.is_locked(), "{second}");
    engine.shutdown().expect("shutdown");
}
