//! How a journal is configured: where, how often it syncs, how big its segments are, and when
//! it checkpoints.

use std::fmt;
use std::io;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use crate::sync::Arc;

use super::error::ParseSyncPolicyError;
use super::storage::{FileStorage, Storage};

/// When the journal makes what it wrote durable, and so what `durable_seq` promises.
///
/// # Text
///
/// Its one spelling, which the `snapstate` command's options take and its reports show, is
/// `every_batch`, `os` or `interval:PERIOD`, the period a whole number of `ns`, `us`, `ms` or
/// `s` (e.g. `interval:10ms`). [`Display`](fmt::Display) writes that spelling (the period in
/// the largest unit that divides it) and [`FromStr`] reads it back:
///
/// ```
/// use std::time::Duration;
/// use snapstate::journal::SyncPolicy;
///
/// let policy: SyncPolicy = "interval:10ms".parse()?;
/// assert_eq!(policy, SyncPolicy::Interval(Duration::from_millis(10)));
/// assert_eq!(policy.to_string(), "interval:10ms");
/// assert!("every-batch".parse::<SyncPolicy>().is_err());
/// # Ok::<(), snapstate::journal::ParseSyncPolicyError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum SyncPolicy {
    /// One `fdatasync` per group of batches the journal thread takes at once (group commit).
    /// `durable_seq` covers what survives a power loss. The default.
    #[default]
    EveryBatch,
    /// At most one `fdatasync` per interval. `durable_seq` advances only at a sync, so it
    /// still covers what survives a power loss; a crash loses up to an interval of commands
    /// that were visible but not yet durable.
    Interval(Duration),
    /// Never sync (the operating system writes back when it likes). `durable_seq` advances
    /// once a record is handed to the operating system: it survives the process being killed,
    /// not the machine losing power.
    Os,
}

impl SyncPolicy {
    /// The longest interval: one hour. [`FromStr`] refuses a longer one, and so does a
    /// journal's start ([`JournalConfig::sync`]): an interval too long to ever pass would leave
    /// `durable_seq` where it was until shutdown, and every durable wait and checkpoint waiting
    /// on it.
    pub const MAX_INTERVAL: Duration = Duration::from_secs(60 * 60);
}

/// The units a period may be written in, largest first, with their length in nanoseconds.
const PERIOD_UNITS: [(&str, u64); 4] = [
    ("s", 1_000_000_000),
    ("ms", 1_000_000),
    ("us", 1_000),
    ("ns", 1),
];

impl fmt::Display for SyncPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::EveryBatch => f.write_str("every_batch"),
            Self::Os => f.write_str("os"),
            Self::Interval(period) => {
                let nanos = period.as_nanos();
                // The largest unit that divides the period exactly, so that the text parses
                // back to the same period; zero falls through to nanoseconds.
                let (unit, per_unit) = PERIOD_UNITS
                    .into_iter()
                    .find(|&(_, per_unit)| nanos != 0 && nanos % u128::from(per_unit) == 0)
                    .unwrap_or(("ns", 1));
                write!(f, "interval:{}{unit}", nanos / u128::from(per_unit))
            }
        }
    }
}

impl FromStr for SyncPolicy {
    type Err = ParseSyncPolicyError;

    /// Reads the spelling [`Display`](fmt::Display) writes.
    ///
    /// # Errors
    ///
    /// A [`ParseSyncPolicyError`]: an unknown policy, a period without a whole number or a
    /// known unit, of zero, or longer than [`SyncPolicy::MAX_INTERVAL`].
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "every_batch" => return Ok(Self::EveryBatch),
            "os" => return Ok(Self::Os),
            _ => {}
        }
        let period = text
            .strip_prefix("interval:")
            .ok_or_else(|| ParseSyncPolicyError::UnknownPolicy(text.to_owned()))?;
        let split = period
            .find(|character: char| !character.is_ascii_digit())
            .unwrap_or(period.len());
        let (number, unit) = period.split_at(split);
        if number.is_empty() {
            return Err(ParseSyncPolicyError::NoNumber(period.to_owned()));
        }
        // Digits only: the one way left to fail is a number beyond `u64`, far beyond the limit.
        let number: u64 = number
            .parse()
            .map_err(|_| ParseSyncPolicyError::TooLong(period.to_owned()))?;
        let (_, per_unit) = PERIOD_UNITS
            .into_iter()
            .find(|&(name, _)| name == unit)
            .ok_or_else(|| ParseSyncPolicyError::UnknownUnit(period.to_owned()))?;
        let nanos = number
            .checked_mul(per_unit)
            .filter(|&nanos| u128::from(nanos) <= Self::MAX_INTERVAL.as_nanos())
            .ok_or_else(|| ParseSyncPolicyError::TooLong(period.to_owned()))?;
        if nanos == 0 {
            return Err(ParseSyncPolicyError::Zero);
        }
        Ok(Self::Interval(Duration::from_nanos(nanos)))
    }
}

/// Configuration of an engine's journal ([`EngineConfig::journal`]).
///
/// [`EngineConfig::journal`]: crate::engine::EngineConfig::journal
#[derive(Clone)]
pub struct JournalConfig {
    /// Where the files live.
    pub storage: Arc<dyn Storage>,
    /// When to sync. Default [`SyncPolicy::EveryBatch`]. An interval must be positive and at
    /// most [`SyncPolicy::MAX_INTERVAL`].
    pub sync: SyncPolicy,
    /// Preallocated size of each segment file. Default 64 MiB; at least 4 KiB and at most
    /// [`MAX_SEGMENT_BYTES`](Self::MAX_SEGMENT_BYTES). (A segment may grow beyond it only to
    /// hold one batch larger than a segment.)
    pub segment_bytes: u64,
    /// Published batches that may wait for the journal thread; when full, the writer waits
    /// (never drops). Default 64; at most [`MAX_QUEUE_BATCHES`](Self::MAX_QUEUE_BATCHES).
    pub queue_batches: usize,
    /// Checkpoint after this many commands since the last checkpoint; `None`: not by count.
    /// Default one million.
    pub checkpoint_every_commands: Option<u64>,
    /// Checkpoint after this long since the last checkpoint, if anything changed; `None`: not
    /// by time. Default 5 minutes. Positive: the checkpointer looks at the clock once per
    /// interval (at least once per 100 ms, at most once per millisecond), so a zero interval
    /// would keep it polling without a pause.
    pub checkpoint_interval: Option<Duration>,
    /// Checkpoints kept (at least 1); segments are removed once the oldest kept checkpoint
    /// covers them, so that recovery can fall back to an older checkpoint if the newest is
    /// damaged. Default 2.
    pub checkpoints_kept: usize,
}

impl JournalConfig {
    /// The default segment size.
    pub const DEFAULT_SEGMENT_BYTES: u64 = 64 << 20;
    /// The largest [`segment_bytes`](Self::segment_bytes): 1 GiB. Each segment is preallocated
    /// on disk, and recovery reads a segment whole into memory.
    pub const MAX_SEGMENT_BYTES: u64 = 1 << 30;
    /// The largest [`queue_batches`](Self::queue_batches): 2^20. The journal's two channels
    /// allocate every slot when the journal starts.
    pub const MAX_QUEUE_BATCHES: usize = 1 << 20;

    /// A journal in `directory` (created if missing) with default settings.
    ///
    /// # Errors
    ///
    /// Any I/O error creating the directory.
    pub fn new(directory: impl Into<PathBuf>) -> io::Result<Self> {
        Ok(Self::with_storage(Arc::new(FileStorage::new(directory)?)))
    }

    /// A journal on `storage` with default settings.
    pub fn with_storage(storage: Arc<dyn Storage>) -> Self {
        Self {
            storage,
            sync: SyncPolicy::EveryBatch,
            segment_bytes: Self::DEFAULT_SEGMENT_BYTES,
            queue_batches: 64,
            checkpoint_every_commands: Some(1_000_000),
            checkpoint_interval: Some(Duration::from_secs(300)),
            checkpoints_kept: 2,
        }
    }

    pub(crate) fn validate(&self) -> Result<(), &'static str> {
        if self.segment_bytes < 4096 {
            return Err("journal segment_bytes must be at least 4096");
        }
        if self.segment_bytes > Self::MAX_SEGMENT_BYTES {
            return Err(
                "journal segment_bytes must be at most JournalConfig::MAX_SEGMENT_BYTES (1 GiB)",
            );
        }
        if self.queue_batches == 0 {
            return Err("journal queue_batches must be at least 1");
        }
        if self.queue_batches > Self::MAX_QUEUE_BATCHES {
            return Err(
                "journal queue_batches must be at most JournalConfig::MAX_QUEUE_BATCHES (2^20)",
            );
        }
        if self.checkpoints_kept == 0 {
            return Err("journal checkpoints_kept must be at least 1");
        }
        if self.checkpoint_every_commands == Some(0) {
            return Err("journal checkpoint_every_commands, when set, must be at least 1");
        }
        if self
            .checkpoint_interval
            .is_some_and(|interval| interval.is_zero())
        {
            return Err("journal checkpoint_interval, when set, must be positive");
        }
        if matches!(self.sync, SyncPolicy::Interval(interval) if interval.is_zero()) {
            return Err("journal sync interval must be positive");
        }
        if matches!(self.sync, SyncPolicy::Interval(interval) if interval > SyncPolicy::MAX_INTERVAL)
        {
            return Err("journal sync interval must be at most SyncPolicy::MAX_INTERVAL (1 hour)");
        }
        Ok(())
    }
}

impl fmt::Debug for JournalConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JournalConfig")
            .field("storage", &self.storage.location())
            .field("sync", &self.sync)
            .field("segment_bytes", &self.segment_bytes)
            .field("queue_batches", &self.queue_batches)
            .field("checkpoint_every_commands", &self.checkpoint_every_commands)
            .field("checkpoint_interval", &self.checkpoint_interval)
            .field("checkpoints_kept", &self.checkpoints_kept)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use proptest::prelude::*;

    use super::{ParseSyncPolicyError, SyncPolicy};

    #[test]
    fn sync_policies_have_one_spelling() {
        for (policy, text) in [
            (SyncPolicy::EveryBatch, "every_batch"),
            (SyncPolicy::Os, "os"),
            (
                SyncPolicy::Interval(Duration::from_millis(10)),
                "interval:10ms",
            ),
            (SyncPolicy::Interval(Duration::from_secs(2)), "interval:2s"),
            (
                SyncPolicy::Interval(Duration::from_micros(250)),
                "interval:250us",
            ),
            (
                SyncPolicy::Interval(Duration::from_nanos(1_500)),
                "interval:1500ns",
            ),
            (
                SyncPolicy::Interval(Duration::from_millis(1_500)),
                "interval:1500ms",
            ),
            (
                SyncPolicy::Interval(SyncPolicy::MAX_INTERVAL),
                "interval:3600s",
            ),
        ] {
            assert_eq!(policy.to_string(), text);
            assert_eq!(text.parse(), Ok(policy), "{text}");
        }
    }

    #[test]
    fn bad_sync_policies_are_refused_with_typed_errors() {
        let unknown = |text: &str| ParseSyncPolicyError::UnknownPolicy(text.to_owned());
        let no_number = |text: &str| ParseSyncPolicyError::NoNumber(text.to_owned());
        let unknown_unit = |text: &str| ParseSyncPolicyError::UnknownUnit(text.to_owned());
        let too_long = |text: &str| ParseSyncPolicyError::TooLong(text.to_owned());
        for (text, error) in [
            ("", unknown("")),
            ("every-batch", unknown("every-batch")),
            ("EveryBatch", unknown("EveryBatch")),
            ("10ms", unknown("10ms")),
            ("interval", unknown("interval")),
            (" os", unknown(" os")),
            ("interval:", no_number("")),
            ("interval:ms", no_number("ms")),
            ("interval:-1ms", no_number("-1ms")),
            ("interval:10", unknown_unit("10")),
            ("interval:1.5s", unknown_unit("1.5s")),
            ("interval:2h", unknown_unit("2h")),
            ("interval:10 ms", unknown_unit("10 ms")),
            ("interval:0ms", ParseSyncPolicyError::Zero),
            ("interval:3601s", too_long("3601s")),
            ("interval:3600000001us", too_long("3600000001us")),
            (
                "interval:99999999999999999999s",
                too_long("99999999999999999999s"),
            ),
            (
                "interval:18446744073709551615s",
                too_long("18446744073709551615s"),
            ),
        ] {
            assert_eq!(text.parse::<SyncPolicy>(), Err(error), "{text:?}");
        }
        assert!(unknown("x").is_unknown_policy());
        assert!(!ParseSyncPolicyError::Zero.is_unknown_policy());
    }

    fn policies() -> impl Strategy<Value = SyncPolicy> {
        let max_nanos = u64::try_from(SyncPolicy::MAX_INTERVAL.as_nanos()).unwrap_or(u64::MAX);
        prop_oneof![
            Just(SyncPolicy::EveryBatch),
            Just(SyncPolicy::Os),
            (1..=max_nanos).prop_map(|nanos| SyncPolicy::Interval(Duration::from_nanos(nanos))),
            (1..=3_600_u64).prop_map(|seconds| SyncPolicy::Interval(Duration::from_secs(seconds))),
            (1..=3_600_000_u64)
                .prop_map(|millis| SyncPolicy::Interval(Duration::from_millis(millis))),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(crate::test_cases::cases(256, 64)))]

        #[test]
        fn prop_sync_policy_display_parses_back(policy in policies()) {
            prop_assert_eq!(policy.to_string().parse::<SyncPolicy>(), Ok(policy));
        }

        #[test]
        fn prop_parsed_sync_policy_displays_as_its_shortest_spelling(
            number in 1..=3_600_000_u64,
            unit in prop_oneof![Just("ns"), Just("us"), Just("ms"), Just("s")],
        ) {
            let text = format!("interval:{number}{unit}");
            match text.parse::<SyncPolicy>() {
                Ok(policy) => {
                    let shown = policy.to_string();
                    prop_assert!(shown.len() <= text.len(), "{} from {}", shown, text);
                    prop_assert_eq!(shown.parse::<SyncPolicy>(), Ok(policy));
                }
                Err(error) => prop_assert!(
                    matches!(error, ParseSyncPolicyError::TooLong(_)),
                    "{} from {}", error, text
                ),
            }
        }
    }
}
