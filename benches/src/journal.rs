//! The journal a snapstate contender may write during the comparison (`--journal POLICY`,
//! `--checkpoint-every N`), so that its throughput, writer stall and publication gaps can be
//! compared with and without one, and with checkpoints on.
//!
//! Each run journals into a fresh directory under [`std::env::temp_dir`], removed when the
//! contender finishes ([`TemporaryJournal`]): nothing is recovered, nothing is kept.

use std::path::{Path, PathBuf};
use std::time::Duration;

use snapstate::engine::EngineConfig;
use snapstate::journal::{JournalConfig, SyncPolicy};

/// The longest interval `interval:PERIOD` accepts: one hour.
pub const MAX_SYNC_INTERVAL: Duration = Duration::from_secs(60 * 60);

/// What a snapstate contender journals, if anything.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JournalSettings {
    /// When the journal thread syncs (`--journal`).
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
}

/// A sync policy as `--journal` spells it: `every_batch`, `os`, `interval:PERIOD` (the period
/// in whole `us`, `ms` or `s`, e.g. `interval:10ms`).
pub fn sync_policy_name(policy: SyncPolicy) -> String {
    match policy {
        SyncPolicy::EveryBatch => "every_batch".to_owned(),
        SyncPolicy::Os => "os".to_owned(),
        SyncPolicy::Interval(period) => {
            let micros = period.as_micros();
            if micros % 1_000_000 == 0 {
                format!("interval:{}s", micros / 1_000_000)
            } else if micros % 1_000 == 0 {
                format!("interval:{}ms", micros / 1_000)
            } else {
                format!("interval:{micros}us")
            }
        }
    }
}

/// Parses a sync policy as [`sync_policy_name`] writes it.
///
/// # Errors
///
/// Anything else, in words: an unknown policy, a period without a unit, of zero, or over
/// [`MAX_SYNC_INTERVAL`].
pub fn parse_sync_policy(text: &str) -> Result<SyncPolicy, String> {
    match text {
        "every_batch" => return Ok(SyncPolicy::EveryBatch),
        "os" => return Ok(SyncPolicy::Os),
        _ => {}
    }
    let period = text
        .strip_prefix("interval:")
        .ok_or_else(|| format!("`{text}` is not every_batch, os or interval:PERIOD"))?;
    let split = period
        .find(|character: char| !character.is_ascii_digit())
        .unwrap_or(period.len());
    let (number, unit) = period.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("`{period}` is not a whole number with a unit (us, ms, s)"))?;
    let micros_per_unit = match unit {
        "us" => 1,
        "ms" => 1_000,
        "s" => 1_000_000,
        _ => return Err(format!("`{period}` has no unit of us, ms or s")),
    };
    let interval = number
        .checked_mul(micros_per_unit)
        .map(Duration::from_micros)
        .filter(|interval| *interval <= MAX_SYNC_INTERVAL)
        .ok_or_else(|| format!("`{period}` is longer than an hour"))?;
    if interval.is_zero() {
        return Err("a sync interval must be longer than zero".to_owned());
    }
    Ok(SyncPolicy::Interval(interval))
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
    fn sync_policies_parse_back_from_their_names() {
        for policy in [
            SyncPolicy::EveryBatch,
            SyncPolicy::Os,
            SyncPolicy::Interval(Duration::from_millis(10)),
            SyncPolicy::Interval(Duration::from_secs(2)),
            SyncPolicy::Interval(Duration::from_micros(250)),
        ] {
            assert_eq!(parse_sync_policy(&sync_policy_name(policy)), Ok(policy));
        }
        assert_eq!(
            sync_policy_name(SyncPolicy::Interval(Duration::from_millis(10))),
            "interval:10ms"
        );
    }

    #[test]
    fn bad_sync_policies_are_refused_in_words() {
        for text in [
            "",
            "every-batch",
            "interval",
            "interval:",
            "interval:10",
            "interval:ms",
            "interval:0ms",
            "interval:1.5s",
            "interval:2h",
            "interval:3601s",
            "interval:99999999999999999999s",
        ] {
            assert!(parse_sync_policy(text).is_err(), "{text:?}");
        }
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
