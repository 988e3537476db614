//! The journal through both writers: the threaded [`Engine`] and the [`InlineWriter`] share one
//! recovery, one journal thread and one file format, so each test runs against each, and a
//! journal written by one writer recovers into the other. Crashes go through the simulated,
//! fault-injecting storage; books are compared by their `state_digest`.

mod common;

use std::sync::Arc;
use std::time::Duration;

use snapstate::book::{Book, BookCommand};
use snapstate::engine::{
    ApplyError, Engine, EngineConfig, EngineStatus, Health, InlineWriter, ReadHandle, Seq, Snapshot,
};
use snapstate::journal::{
    DurableWaitError, JournalConfig, RecoveryError, RecoveryReport, SimulatedStorage, SyncPolicy,
    recover_read_only,
};

use common::journal::{LEVELS, engine_config, journal_config, reference, workload};
use common::writers::{WRITER_KINDS, WriterKind};

fn orders() -> u64 {
    100 * common::scale()
}

/// A journaled writer of either kind, driven one command at a time.
enum Journaled {
    Threaded(Engine<Book>),
    Inline(Box<InlineWriter<Book>>),
}

impl Journaled {
    fn recover(
        kind: WriterKind,
        config: EngineConfig,
    ) -> Result<(Self, RecoveryReport), RecoveryError> {
        Ok(match kind {
            WriterKind::Threaded => {
                let (engine, report) = Engine::recover(common::book(LEVELS), config)?;
                (Self::Threaded(engine), report)
            }
            WriterKind::Inline => {
                let (writer, report) = InlineWriter::recover(common::book(LEVELS), config)?;
                (Self::Inline(Box::new(writer)), report)
            }
        })
    }

    /// Applies (inline) or submits and flushes (threaded) each command; stops at the first
    /// refusal and says whether there was one.
    fn run(&mut self, commands: &[BookCommand]) -> bool {
        match self {
            Self::Threaded(engine) => {
                let writer = engine.write_handle();
                for command in commands {
                    if writer.submit(command.clone()).is_err() {
                        return true;
                    }
                }
                writer.flush().is_err()
            }
            Self::Inline(writer) => commands
                .iter()
                .any(|command| matches!(writer.apply(command.clone()), Err(ApplyError::Failed(_)))),
        }
    }

    fn flush_durable(&self) -> Result<Seq, DurableWaitError> {
        match self {
            Self::Threaded(engine) => engine.write_handle().flush_durable(),
            Self::Inline(writer) => writer.flush_durable(),
        }
    }

    fn read_handle(&self) -> ReadHandle<Book> {
        match self {
            Self::Threaded(engine) => engine.read_handle(),
            Self::Inline(writer) => writer.read_handle(),
        }
    }

    fn health(&self) -> Health {
        match self {
            Self::Threaded(engine) => engine.health(),
            Self::Inline(writer) => writer.health(),
        }
    }

    fn shutdown(self) -> Result<Arc<Snapshot<Book>>, String> {
        match self {
            Self::Threaded(engine) => engine.shutdown().map_err(|error| error.to_string()),
            Self::Inline(writer) => writer.shutdown().map_err(|error| error.to_string()),
        }
    }
}

#[test]
fn each_writer_recovers_a_clean_journal_to_the_same_digest_counters_and_numbering() {
    let commands = workload(orders());
    for kind in WRITER_KINDS {
        let storage = SimulatedStorage::new();
        let (mut writer, report) =
            Journaled::recover(kind, engine_config(journal_config(&storage))).expect("fresh");
        assert_eq!(report.last_seq, Seq(0), "{kind}");
        assert!(!writer.run(&commands), "{kind}");
        let durable = writer.flush_durable().expect("durable");
        assert_eq!(durable, Seq(commands.len() as u64), "{kind}");
        let reader = writer.read_handle();
        let last = writer.shutdown().expect("shutdown");
        assert_eq!(reader.durable_seq(), Some(last.last_seq()), "{kind}");
        assert_eq!(
            last.state().state_digest(),
            reference(&commands).state_digest(),
            "{kind}"
        );

        let (again, report) =
            Journaled::recover(kind, engine_config(journal_config(&storage))).expect("recover");
        assert_eq!(report.records_replayed, commands.len() as u64, "{kind}");
        assert_eq!(report.torn_bytes_truncated, 0, "{kind}");
        let recovered = again.read_handle().load();
        assert_eq!(
            recovered.state().state_digest(),
            last.state().state_digest(),
            "{kind}"
        );
        assert_eq!(recovered.last_seq(), last.last_seq(), "{kind}");
        assert_eq!(
            recovered.counters().rejected(),
            last.counters().rejected(),
            "{kind}"
        );
        again.shutdown().expect("shutdown");
    }
}

#[test]
fn a_journal_written_by_one_writer_recovers_into_the_other() {
    let commands = workload(orders());
    let half = commands.len() / 2;
    for (first, second) in [
        (WriterKind::Threaded, WriterKind::Inline),
        (WriterKind::Inline, WriterKind::Threaded),
    ] {
        let storage = SimulatedStorage::new();
        let (mut writer, _) =
            Journaled::recover(first, engine_config(journal_config(&storage))).expect("fresh");
        assert!(!writer.run(&commands[..half]));
        writer.shutdown().expect("shutdown");
        let (mut writer, report) =
            Journaled::recover(second, engine_config(journal_config(&storage))).expect("recover");
        assert_eq!(report.last_seq, Seq(half as u64), "{first} then {second}");
        assert!(!writer.run(&commands[half..]));
        let last = writer.shutdown().expect("shutdown");
        assert_eq!(last.last_seq(), Seq(commands.len() as u64));
        assert_eq!(
            last.state().state_digest(),
            reference(&commands).state_digest(),
            "{first} then {second}"
        );
    }
}

#[test]
fn after_a_crash_each_writer_recovers_a_prefix_holding_everything_reported_durable() {
    let commands = workload(orders());
    let half = commands.len() / 2;
    for kind in WRITER_KINDS {
        let storage = SimulatedStorage::new();
        let (mut writer, _) =
            Journaled::recover(kind, engine_config(journal_config(&storage))).expect("fresh");
        assert!(!writer.run(&commands[..half]));
        let durable = writer.flush_durable().expect("durable");
        assert!(
            durable >= Seq(half as u64),
            "{kind}: the barrier returned early"
        );
        assert!(!writer.run(&commands[half..]));

        // The process dies: the disk keeps what was synced, and the last write may tear.
        let (survivor, _) = storage.crash(Some(0.5));
        drop(writer);

        let (recovered, report) =
            Journaled::recover(kind, engine_config(journal_config(&survivor))).expect("recover");
        assert!(report.last_seq >= durable, "{kind}: {report:?}");
        let prefix = usize::try_from(report.last_seq.0).expect("small");
        let snapshot = recovered.read_handle().load();
        assert_eq!(
            snapshot.state().state_digest(),
            reference(&commands[..prefix]).state_digest(),
            "{kind}"
        );
        assert_eq!(snapshot.counters().total(), report.last_seq.0, "{kind}");
        recovered.shutdown().expect("shutdown");
        let (again, second) = recover_read_only(&survivor, common::book(LEVELS)).expect("again");
        assert_eq!(second.last_seq, report.last_seq, "{kind}");
        assert_eq!(second.torn_bytes_truncated, 0, "{kind}: truncated once");
        assert_eq!(
            again.state().state_digest(),
            snapshot.state().state_digest(),
            "{kind}"
        );
    }
}

#[test]
fn what_recovery_after_a_kill_counts_as_durable_survives_a_power_loss() {
    let commands = workload(orders() / 4);
    for kind in WRITER_KINDS {
        let storage = SimulatedStorage::new();
        // The first process never syncs; the operating system holds its records.
        let never_syncs = JournalConfig {
            sync: SyncPolicy::Os,
            ..journal_config(&storage)
        };
        let (mut writer, _) = Journaled::recover(kind, engine_config(never_syncs)).expect("fresh");
        assert!(!writer.run(&commands), "{kind}");
        // Under `Os`, durable means handed to the operating system.
        let handed = writer.flush_durable().expect("handed over");
        assert_eq!(handed, Seq(commands.len() as u64), "{kind}");
        // It is killed; the machine stays up, and the restart reads every record back.
        let restarted = storage.kill();
        drop(writer);
        let (recovered, report) =
            Journaled::recover(kind, engine_config(journal_config(&restarted))).expect("recover");
        assert_eq!(report.last_seq, Seq(commands.len() as u64), "{kind}");
        let durable = recovered
            .read_handle()
            .durable_seq()
            .expect("a journaled writer");
        assert_eq!(durable, report.last_seq, "{kind}");

        // Then the power goes, before the restarted writer syncs anything of its own.
        let (after, _) = restarted.crash(None);
        drop(recovered);
        let (book, again) = recover_read_only(&after, common::book(LEVELS)).expect("again");
        assert!(
            again.last_seq >= durable,
            "{kind}: recovery counted seq {durable} durable; a power loss left {}",
            again.last_seq
        );
        assert_eq!(
            book.state().state_digest(),
            reference(&commands).state_digest(),
            "{kind}"
        );
    }
}

#[test]
fn a_torn_tail_is_truncated_for_each_writer() {
    let commands = workload(orders() / 4);
    for kind in WRITER_KINDS {
        let mut torn_seen = false;
        for tear in [0.31, 0.5, 0.77, 0.93] {
            let storage = SimulatedStorage::new();
            let journal = JournalConfig {
                sync: SyncPolicy::Os,
                ..journal_config(&storage)
            };
            let (mut writer, _) = Journaled::recover(kind, engine_config(journal)).expect("fresh");
            for command in &commands {
                // One command per batch, so that each write is one record.
                assert!(!writer.run(std::slice::from_ref(command)));
            }
            let (survivor, loss) = storage.crash(Some(tear));
            drop(writer);
            assert!(loss.unsynced_bytes_kept > 0, "{kind} at {tear}: {loss:?}");
            let (recovered, report) =
                Journaled::recover(kind, engine_config(journal_config(&survivor)))
                    .expect("recover");
            torn_seen |= report.torn_bytes_truncated > 0;
            assert_eq!(
                report.torn_file.is_some(),
                report.torn_bytes_truncated > 0,
                "{kind} at {tear}: {report:?}"
            );
            let prefix = usize::try_from(report.last_seq.0).expect("small");
            assert!(
                prefix < commands.len(),
                "{kind} at {tear}: the crash lost the tail"
            );
            assert_eq!(
                recovered.read_handle().load().state().state_digest(),
                reference(&commands[..prefix]).state_digest(),
                "{kind} at {tear}"
            );
            recovered.shutdown().expect("shutdown");
        }
        assert!(torn_seen, "{kind}: some tear cut a record in two");
    }
}

#[test]
fn a_full_disk_fails_each_writer_visibly_and_it_refuses_rather_than_panics() {
    let commands = workload(orders());
    for kind in WRITER_KINDS {
        let storage = SimulatedStorage::new();
        let (mut writer, _) =
            Journaled::recover(kind, engine_config(journal_config(&storage))).expect("fresh");
        storage.set_space_left(Some(2_000));
        let mut refused = false;
        for command in &commands {
            if writer.run(std::slice::from_ref(command)) {
                refused = true;
                break;
            }
            // Give the journal thread the chance to fail before the next command.
            let _ = writer.flush_durable();
        }
        assert!(
            refused,
            "{kind}: once the journal failed, commands are refused"
        );
        let health = writer.health();
        assert_eq!(health.status, EngineStatus::Failed, "{kind}");
        assert!(
            health
                .failure
                .as_deref()
                .is_some_and(|failure| failure.contains("journal")),
            "{kind}: {health:?}"
        );
        assert!(
            matches!(
                writer.flush_durable(),
                Err(DurableWaitError::Failed(_) | DurableWaitError::Closed)
            ),
            "{kind}"
        );
        let last = writer.read_handle().load();
        assert!(last.last_seq() < Seq(commands.len() as u64), "{kind}");
        assert!(writer.shutdown().is_err(), "{kind}");
    }
}

#[test]
fn the_inline_writer_refuses_a_journal_at_start_and_a_second_writer_on_a_journal() {
    let storage = SimulatedStorage::new();
    let config = engine_config(journal_config(&storage));
    assert!(InlineWriter::start(common::book(LEVELS), config.clone()).is_err());
    let (writer, _) = InlineWriter::recover(common::book(LEVELS), config.clone()).expect("fresh");
    assert!(matches!(
        InlineWriter::recover(common::book(LEVELS), config.clone()),
        Err(RecoveryError::Locked { .. })
    ));
    assert!(matches!(
        Engine::recover(common::book(LEVELS), config.clone()),
        Err(RecoveryError::Locked { .. })
    ));
    writer.shutdown().expect("shutdown");
    let (writer, _) = InlineWriter::recover(common::book(LEVELS), config).expect("lock released");
    assert_eq!(writer.flush_durable(), Ok(Seq(0)));
    writer.shutdown().expect("shutdown");
}

/// A durability barrier with a limit too far away to represent used to panic computing its
/// deadline (`Instant + Duration::MAX`: "overflow when adding duration to instant"), where
/// `wait_for_version` treats such a limit as none. It now waits as `flush_durable` does.
#[test]
fn a_durability_barrier_with_an_unrepresentable_limit_waits_without_one() {
    for kind in WRITER_KINDS {
        let storage = SimulatedStorage::new();
        let (mut writer, _) = Journaled::recover(kind, engine_config(journal_config(&storage)))
            .unwrap_or_else(|error| panic!("{kind}: {error}"));
        let commands = workload(3);
        assert!(!writer.run(&commands), "{kind}: refused");
        let durable = match &writer {
            Journaled::Threaded(engine) => {
                engine.write_handle().flush_durable_timeout(Duration::MAX)
            }
            Journaled::Inline(writer) => writer.flush_durable_timeout(Duration::MAX),
        };
        assert_eq!(
            durable,
            Ok(Seq(commands.len() as u64)),
            "{kind}: everything is durable"
        );
        writer
            .shutdown()
            .unwrap_or_else(|error| panic!("{kind}: {error}"));
    }
}
