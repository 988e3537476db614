//! Starting a journaled engine: recovery from its directory, then the journal and
//! checkpointer threads wired to the writer's publish hook.

use crate::journal::{
    Durable, DurableState, JournalBatch, JournalSender, RecoveryError, RecoveryReport,
    spawn_appender, spawn_checkpointer,
};
use crate::sync::channel;
use crate::sync::{Arc, Mutex};

use super::core::{PublishedBatch, WriterCore};
use super::handle::{Engine, JournalRuntime, outcome_channel};
use super::{EngineConfig, Seq};

impl<S: Durable> Engine<S> {
    /// Starts an engine that journals into [`EngineConfig::journal`], recovering whatever the
    /// journal's directory holds first; on an empty directory it starts fresh on `initial`.
    ///
    /// Recovery locks the directory, loads the newest valid checkpoint, replays every record
    /// after it through the same [`apply`](super::StateMachine::apply) (with panics caught as
    /// the writer catches them), and truncates a torn final record. The engine then continues
    /// the sequence numbers and counters where the journal ends. `initial`'s configuration
    /// ([`Durable::config`]) must be the one the journal was written with.
    ///
    /// The engine holds the directory's lock until it has stopped: [`shutdown`](Engine::shutdown)
    /// releases it once everything is synced, whatever write handles are still alive (they can
    /// only be refused from then on), so the directory can be recovered again at once.
    ///
    /// # Example
    ///
    /// ```
    /// use snapstate::engine::{Engine, EngineConfig};
    /// use snapstate::journal::JournalConfig;
    /// # use snapstate::book::{Book, BookConfig, Grid};
    /// # use rust_decimal::Decimal;
    /// # let grid = Grid::centred(Decimal::new(100, 0), Decimal::new(1, 2), 20)?;
    /// # let book = Book::new(BookConfig::new(grid));
    /// # let directory = std::env::temp_dir().join(format!("snapstate-doc-{}", std::process::id()));
    /// # let _ = std::fs::remove_dir_all(&directory);
    /// let config = EngineConfig {
    ///     journal: Some(JournalConfig::new(&directory)?),
    ///     ..EngineConfig::default()
    /// };
    /// let (engine, report) = Engine::recover(book.clone(), config.clone())?;
    /// assert_eq!(report.last_seq.0, 0); // an empty directory: a fresh start
    /// let writer = engine.write_handle();
    /// # let command = snapstate::book::BookCommand::Cancel(snapstate::book::StatusReport {
    /// #     order_id: snapstate::book::OrderId(1), venue_seq: None,
    /// #     at: snapstate::time::Timestamp::EPOCH });
    /// writer.submit(command)?;
    /// let durable = writer.flush_durable()?; // visible, then durable
    /// assert_eq!(durable.0, 1);
    /// drop(writer);
    /// engine.shutdown()?;
    ///
    /// let (engine, report) = Engine::recover(book, config)?; // a restart
    /// assert_eq!(report.last_seq.0, 1);
    /// assert_eq!(engine.read_handle().load().last_seq().0, 1);
    /// # engine.shutdown()?;
    /// # std::fs::remove_dir_all(&directory)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`RecoveryError::Locked`] if another engine holds the directory; [`RecoveryError::Corrupt`],
    /// [`RecoveryError::MissingRecords`], [`RecoveryError::ConfigMismatch`] or
    /// [`RecoveryError::FormatMismatch`] naming the file (and offset) when the journal cannot be
    /// trusted, which changes nothing; [`RecoveryError::InvalidConfig`] without a journal or with
    /// invalid limits; [`RecoveryError::Io`] and [`RecoveryError::Spawn`] when the system
    /// refuses.
    pub fn recover(
        initial: S,
        config: EngineConfig,
    ) -> Result<(Self, RecoveryReport), RecoveryError> {
        let (core, report, runtime) = start_journal(initial, &config, false)?;
        let (sender, receiver) = channel::bounded(config.queue_capacity);
        let (outcome_sender, outcomes) = outcome_channel(&config);
        let mut core = core;
        core.set_outcomes(outcome_sender);
        let engine = Self::launch(core, &config, sender, receiver, outcomes, Some(runtime))
            .map_err(RecoveryError::Spawn)?;
        Ok((engine, report))
    }
}

/// Recovery and the journal's start, shared by both writers: locks the directory, replays it
/// into a core, starts the journal thread and the checkpointer, and installs the publish hook
/// that feeds the journal. `keep_records` asks the core for an outcome record per command (the
/// inline writer returns them to its caller).
///
/// # Errors
///
/// As for [`Engine::recover`].
pub(super) fn start_journal<S: Durable>(
    initial: S,
    config: &EngineConfig,
    keep_records: bool,
) -> Result<(WriterCore<S>, RecoveryReport, JournalRuntime), RecoveryError> {
    config.validate().map_err(RecoveryError::InvalidConfig)?;
    let journal = config.journal.clone().ok_or(RecoveryError::InvalidConfig(
        "recovery needs EngineConfig::journal",
    ))?;
    // Every file the journal writes stores the state's configuration: encoded once, here, so
    // that one that cannot be encoded is refused before the lock is taken or anything is read,
    // and the journal thread writes these bytes into each segment header.
    let mut config_bytes = Vec::new();
    S::encode_config(&initial.config(), &mut config_bytes)
        .map_err(RecoveryError::UnencodableConfig)?;
    let storage = Arc::clone(&journal.storage);
    crate::journal::refuse_if_not_a_journal(storage.as_ref())?;
    let lock = storage.lock().map_err(|error| {
        if error.kind() == std::io::ErrorKind::WouldBlock {
            RecoveryError::Locked {
                location: storage.location(),
            }
        } else {
            RecoveryError::io(storage.location(), error)
        }
    })?;
    let (mut core, report, tail) = crate::journal::replay(storage.as_ref(), initial, config, true)?;
    // Replay keeps no records (nobody reads them); the live writer may.
    core.set_keep_records(keep_records);
    // Everything recovered was read back from the storage: it is durable.
    let durable = DurableState::new(Seq(tail.next_seq.0 - 1));
    core.set_journal(Arc::clone(&durable));
    let (journal_sender, appender) = spawn_appender::<S>(
        &journal,
        config_bytes,
        tail.next_seq,
        Arc::clone(&durable),
        Arc::clone(core.health()),
        config.record_metrics,
    )
    .map_err(|error| RecoveryError::io(storage.location(), error))?;
    install_hook(&mut core, journal_sender);
    let checkpointer = spawn_checkpointer(
        &journal,
        core.cell().clone(),
        Arc::clone(&durable),
        tail.last_checkpoint,
    )
    .map_err(RecoveryError::Spawn)?;
    let runtime = JournalRuntime {
        durable,
        appender: Mutex::new(Some(appender)),
        checkpointer: Mutex::new(checkpointer),
        lock: Mutex::new(Some(lock)),
    };
    Ok((core, report, runtime))
}

/// Hands each published batch's commands to the journal thread: moved, not cloned, and
/// swapped for an emptied buffer the journal thread sent back, so the writer neither encodes
/// nor allocates. Blocks only while the journal's queue is full.
fn install_hook<S: Durable>(core: &mut WriterCore<S>, sender: JournalSender<S::Command>) {
    let JournalSender { batches, recycled } = sender;
    core.set_publish_hook(Box::new(move |batch: PublishedBatch<'_, S::Command>| {
        let spare = recycled.try_recv().unwrap_or_default();
        let commands = std::mem::replace(batch.commands, spare);
        debug_assert_eq!(
            batch.last_seq.0 + 1 - batch.first_seq.0,
            commands.len() as u64,
            "a published batch numbers each of its commands once"
        );
        let handed = batches.send(JournalBatch {
            first_seq: batch.first_seq,
            commands,
        });
        // The journal thread stopped (it failed, and said why in the health record): the
        // writer must not go on without it.
        handed.map_err(|_| "journal: the journal thread stopped".to_owned())
    }));
}
