//! The journal a snapstate contender may write during the comparison (`--journal POLICY`,
//! `--checkpoint-every N`), so that its throughput, writer stall and publication gaps can be
//! compared with and without one, and with checkpoints on.
//!
//! Each run journals into a fresh directory under [`std::env::temp_dir`], removed when the
//! contender finishes ([`TemporaryJournal`]): nothing is recovered, nothing is kept.

use std::path::{Path, PathBuf};

use snapstate::engine::EngineConfig;
use snapstate::journal::{JournalConfig, RecoveryError, RecoveryReport, SyncPolicy};

/// What a snapstate contender journals, if anything.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JournalSettings {
    /// When the journal thread syncs (`--journal`, in [`SyncPolicy`]'s spelling).
    pub sync: SyncPolicy,
    /// A checkpoint every this many commands (`--checkpoint-every`); `None`: no checkpoints
    /// (the interval trigger is off too, so that a run without this option measures the
    /// journal alone).
    pub checkpoint_every_commands: Option<u64>,
}

impl JournalSettings {
    /// `config` with a journal in `directory` under these settings.
    ///
    /// # Errors
    ///
    /// When the directory cannot be created or opened.
    pub fn apply(&self, config: EngineConfig, directory: &Path) -> std::io::Result<EngineConfig> {
        let mut journal = JournalConfig::new(directory)?;
        journal.sync = self.sync;
        journal.checkpoint_every_commands = self.checkpoint_every_commands;
        journal.checkpoint_interval = None;
        Ok(EngineConfig {
            journal: Some(journal),
            ..config
        })
    }

    /// Starts a contender's journaled writer: a fresh [`TemporaryJournal`], `config` with a
    /// journal there under these settings, and `recover` (`Engine::recover` or
    /// `InlineWriter::recover`) on the empty directory, as a journaled writer always starts.
    /// Drop the directory only after the writer has stopped.
    ///
    /// # Panics
    ///
    /// If the directory cannot be made or the writer does not start: the comparison cannot
    /// run the contender without them.
    pub fn start_writer<W>(
        &self,
        config: EngineConfig,
        recover: impl FnOnce(EngineConfig) -> Result<(W, RecoveryReport), RecoveryError>,
    ) -> (W, TemporaryJournal) {
        let directory = TemporaryJournal::create().expect("a temporary journal directory");
        let config = self
            .apply(config, directory.path())
            .expect("the journal directory opens");
        let (writer, _) = recover(config).expect("the journaled writer starts");
        (writer, directory)
    }
}

/// A fresh journal directory under the system's temporary directory, removed (with what the
/// journal wrote) when dropped. Drop it only after the engine that journals into it has
/// stopped.
#[derive(Debug)]
pub struct TemporaryJournal {
    path: PathBuf,
}

impl TemporaryJournal {
    /// Creates the directory.
    ///
    /// # Errors
    ///
    /// When it cannot be created.
    pub fn create() -> std::io::Result<Self> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        let path = std::env::temp_dir().join(format!(
            "snapstate-bench-journal-{}-{nanos}",
            std::process::id()
        ));
        std::fs::create_dir_all(&path)?;
        Ok(Self { path })
    }

    /// Where it is.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TemporaryJournal {
    fn drop(&mut self) {
        // A leftover temporary directory is harmless; say so rather than fail the run.
        if let Err(error) = std::fs::remove_dir_all(&self.path) {
            eprintln!(
                "warning: could not remove the bench's journal {}: {error}",
                self.path.display()
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_started_writer_journals_into_its_temporary_directory_until_dropped() {
        use snapstate::engine::Engine;

        let settings = JournalSettings {
            sync: SyncPolicy::Os,
            checkpoint_every_commands: None,
        };
        let book = crate::workload::Workload::new(10).initial_book();
        let (engine, directory) = settings.start_writer(EngineConfig::default(), |config| {
            Engine::recover(book, config)
        });
        let path = directory.path().to_owned();
        let files = std::fs::read_dir(&path).expect("the directory").count();
        assert!(files > 0, "the journal's files are in {}", path.display());
        engine.shutdown().expect("the engine stops");
        drop(directory);
        assert!(!path.exists());
    }

    #[test]
    fn a_temporary_journal_is_removed_with_its_files_when_dropped() {
        let journal = TemporaryJournal::create().expect("a temporary directory");
        let path = journal.path().to_owned();
        std::fs::write(path.join("file"), b"x").expect("a file in it");
        drop(journal);
        assert!(!path.exists());
    }
}
