//! Time as a value: timestamps, and clocks that are passed in rather than read implicitly.
//!
//! Decision logic never reads a clock of its own. The book's commands carry the time at which
//! they happened, the reconciler's diff takes `now` as an argument, and the engine stamps each
//! snapshot through a [`Clock`] given in its configuration. Tests and the deterministic
//! simulation drive a [`ManualClock`]; production uses [`SystemClock`].

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::sync::{Arc, AtomicU64, Ordering};

/// Nanoseconds since the Unix epoch.
///
/// A `u64` of nanoseconds covers the years 1970 to 2554, and makes time arithmetic exact and
/// cheap. Arithmetic saturates rather than wrapping or panicking.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(transparent))]
pub struct Timestamp(u64);

impl Timestamp {
    /// The Unix epoch.
    pub const EPOCH: Timestamp = Timestamp(0);

    /// A timestamp from nanoseconds since the Unix epoch.
    pub const fn from_nanos(nanos: u64) -> Self {
        Self(nanos)
    }

    /// A timestamp from milliseconds since the Unix epoch (saturating).
    pub const fn from_millis(millis: u64) -> Self {
        Self(millis.saturating_mul(1_000_000))
    }

    /// Nanoseconds since the Unix epoch.
    pub const fn as_nanos(self) -> u64 {
        self.0
    }

    /// Milliseconds since the Unix epoch (truncated).
    pub const fn as_millis(self) -> u64 {
        self.0 / 1_000_000
    }

    /// This time plus `duration`, saturating at the largest timestamp.
    pub fn saturating_add(self, duration: Duration) -> Self {
        Self(self.0.saturating_add(duration_nanos(duration)))
    }

    /// This time minus `duration`, saturating at the epoch.
    pub fn saturating_sub(self, duration: Duration) -> Self {
        Self(self.0.saturating_sub(duration_nanos(duration)))
    }

    /// How long after `earlier` this is; zero if `earlier` is later.
    pub fn saturating_duration_since(self, earlier: Timestamp) -> Duration {
        Duration::from_nanos(self.0.saturating_sub(earlier.0))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}.{:09}",
            self.0 / 1_000_000_000,
            self.0 % 1_000_000_000
        )
    }
}

fn duration_nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

/// A source of the current time.
pub trait Clock: Send + Sync + fmt::Debug {
    /// The current time.
    fn now(&self) -> Timestamp;
}

/// The operating system's wall clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        let since_epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO);
        Timestamp(duration_nanos(since_epoch))
    }
}

/// A clock that moves only when told to: for tests and deterministic simulation.
///
/// Clones share one time, so a test can hand a clone to the engine and advance the original.
#[derive(Clone, Debug)]
pub struct ManualClock {
    nanos: Arc<AtomicU64>,
}

impl ManualClock {
    /// A clock that reads `start` until it is advanced.
    pub fn new(start: Timestamp) -> Self {
        Self {
            nanos: Arc::new(AtomicU64::new(start.0)),
        }
    }

    /// Moves the clock forward by `duration` (saturating).
    pub fn advance(&self, duration: Duration) {
        let step = duration_nanos(duration);
        let mut current = self.nanos.load(Ordering::Acquire);
        loop {
            let next = current.saturating_add(step);
            match self.nanos.compare_exchange_weak(
                current,
                next,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return,
                Err(actual) => current = actual,
            }
        }
    }

    /// Sets the clock to `time` if that is later than now; a clock never goes backwards.
    pub fn advance_to(&self, time: Timestamp) {
        self.nanos.fetch_max(time.0, Ordering::AcqRel);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp(self.nanos.load(Ordering::Acquire))
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn timestamp_arithmetic_saturates_instead_of_wrapping() {
        let late = Timestamp::from_nanos(u64::MAX - 1);
        assert_eq!(
            late.saturating_add(Duration::from_secs(1)).as_nanos(),
            u64::MAX
        );
        let early = Timestamp::from_nanos(5);
        assert_eq!(
            early.saturating_sub(Duration::from_secs(1)),
            Timestamp::EPOCH
        );
        assert_eq!(early.saturating_duration_since(late), Duration::ZERO);
        assert_eq!(
            Timestamp::from_millis(3).saturating_duration_since(Timestamp::from_millis(1)),
            Duration::from_millis(2)
        );
        assert_eq!(Timestamp::from_nanos(3_999_999).as_millis(), 3, "truncates");
        assert_eq!(Timestamp::from_millis(7).as_millis(), 7);
    }

    #[test]
    fn manual_clock_clones_share_time_and_never_go_backwards() {
        let clock = ManualClock::new(Timestamp::from_millis(10));
        let seen_by_engine = clock.clone();
        clock.advance(Duration::from_millis(5));
        assert_eq!(seen_by_engine.now(), Timestamp::from_millis(15));
        clock.advance_to(Timestamp::from_millis(12));
        assert_eq!(seen_by_engine.now(), Timestamp::from_millis(15));
        clock.advance_to(Timestamp::from_millis(20));
        assert_eq!(seen_by_engine.now(), Timestamp::from_millis(20));
    }

    #[test]
    fn timestamps_display_as_seconds_with_nanoseconds() {
        assert_eq!(
            Timestamp::from_nanos(1_500_000_001).to_string(),
            "1.500000001"
        );
    }
}
