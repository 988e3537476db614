//! Time as a value: timestamps, and clocks that are passed in rather than read implicitly.
//!
//! Decision logic never reads a clock of its own. The book's commands carry the time at which
//! they happened, the reconciler's diff takes `now` as an argument, and the engine stamps each
//! snapshot through a [`Clock`] given in its configuration. Tests and the deterministic
//! simulation drive a [`ManualClock`]; production uses [`SystemClock`].
//!
//! # Sane time
//!
//! A timestamp from outside (a venue's report, a recorded line) can be wrong: a venue bug, or a
//! unit mix-up that reads milliseconds as nanoseconds. No single such stamp may move a clock
//! for good. Two tools keep them out, one for each side of the deterministic core:
//!
//! * At the edge, where a wall clock is at hand (a venue adapter, a live feed), [`TimeBounds`]
//!   checks a stamp against the current time and refuses one too far ahead or behind, with a
//!   typed [`TimeError`].
//! * Inside deterministic code, which must not read a clock (the book's `apply`, a replay that
//!   runs on the stream's own time), a clock follows the stamps it is given with
//!   [`Timestamp::step_towards`]: never back, and by at most a configured step per stamp. One
//!   wrong stamp then moves it by one step at most, and a true jump is caught up over a few
//!   stamps. The book's retention clock does this (`BookConfig::max_clock_step`).

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

    /// The time a clock that reads `self` moves to when it is shown `target`: `target` if that
    /// is later but no more than `max_step` ahead, `self + max_step` if `target` is further
    /// ahead, and `self` if `target` is earlier (a clock never goes back).
    ///
    /// A clock that follows untrusted stamps this way cannot be moved far by one of them: a
    /// stamp years ahead moves it by `max_step`, and a true jump ahead is caught up at up to
    /// `max_step` per stamp.
    ///
    /// ```
    /// use std::time::Duration;
    /// use snapstate::time::Timestamp;
    ///
    /// let now = Timestamp::from_millis(1_000);
    /// let step = Duration::from_secs(60);
    /// assert_eq!(now.step_towards(Timestamp::from_millis(1_500), step), Timestamp::from_millis(1_500));
    /// assert_eq!(now.step_towards(Timestamp::from_nanos(u64::MAX), step), Timestamp::from_millis(61_000));
    /// assert_eq!(now.step_towards(Timestamp::EPOCH, step), now);
    /// ```
    pub fn step_towards(self, target: Timestamp, max_step: Duration) -> Self {
        target.clamp(self, self.saturating_add(max_step))
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

/// How far a timestamp from outside may be from the current time: the check an adapter makes
/// before it stamps a command with a venue's time.
///
/// ```
/// use std::time::Duration;
/// use snapstate::time::{TimeBounds, TimeError, Timestamp};
///
/// let bounds = TimeBounds { max_ahead: Duration::from_secs(5), max_behind: Duration::from_secs(3_600) };
/// let now = Timestamp::from_millis(1_700_000_000_000);
/// assert_eq!(bounds.check(now, now), Ok(now));
/// // Milliseconds read as seconds: a thousand times too far, refused.
/// let wrong = Timestamp::from_millis(now.as_millis().saturating_mul(1_000));
/// assert!(bounds.check(wrong, now).is_err_and(|error| error.is_ahead()));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TimeBounds {
    /// How far after the current time a stamp may be (clock skew between venue and host, and
    /// rounding). Default 5 seconds.
    pub max_ahead: Duration,
    /// How far before the current time a stamp may be (a report delayed in transit or
    /// replayed after a reconnect). Default 1 hour.
    pub max_behind: Duration,
}

impl TimeBounds {
    /// The default [`max_ahead`](Self::max_ahead).
    pub const DEFAULT_MAX_AHEAD: Duration = Duration::from_secs(5);
    /// The default [`max_behind`](Self::max_behind).
    pub const DEFAULT_MAX_BEHIND: Duration = Duration::from_secs(3_600);

    /// Checks `at` against the current time `now`; returns it when it lies within
    /// `now - max_behind ..= now + max_ahead`.
    ///
    /// # Errors
    ///
    /// [`TimeError::Ahead`] or [`TimeError::Behind`], naming the stamp, the time and the
    /// bound; nothing is clamped silently.
    pub fn check(&self, at: Timestamp, now: Timestamp) -> Result<Timestamp, TimeError> {
        if at > now.saturating_add(self.max_ahead) {
            return Err(TimeError::Ahead {
                at,
                now,
                max_ahead: self.max_ahead,
            });
        }
        if at < now.saturating_sub(self.max_behind) {
            return Err(TimeError::Behind {
                at,
                now,
                max_behind: self.max_behind,
            });
        }
        Ok(at)
    }
}

impl Default for TimeBounds {
    fn default() -> Self {
        Self {
            max_ahead: Self::DEFAULT_MAX_AHEAD,
            max_behind: Self::DEFAULT_MAX_BEHIND,
        }
    }
}

/// Why [`TimeBounds::check`] refused a timestamp.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TimeError {
    /// The stamp is further after the current time than allowed.
    #[error("timestamp {at} is more than {max_ahead:?} after the current time {now}")]
    Ahead {
        /// The stamp.
        at: Timestamp,
        /// The current time.
        now: Timestamp,
        /// The bound.
        max_ahead: Duration,
    },
    /// The stamp is further before the current time than allowed.
    #[error("timestamp {at} is more than {max_behind:?} before the current time {now}")]
    Behind {
        /// The stamp.
        at: Timestamp,
        /// The current time.
        now: Timestamp,
        /// The bound.
        max_behind: Duration,
    },
}

impl TimeError {
    /// Whether the stamp was too far in the future.
    pub fn is_ahead(&self) -> bool {
        matches!(self, TimeError::Ahead { .. })
    }

    /// Whether the stamp was too far in the past.
    pub fn is_behind(&self) -> bool {
        matches!(self, TimeError::Behind { .. })
    }

    /// The refused stamp.
    pub fn timestamp(&self) -> Timestamp {
        match *self {
            TimeError::Ahead { at, .. } | TimeError::Behind { at, .. } => at,
        }
    }
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
    fn a_far_future_stamp_moves_a_stepping_clock_by_one_step_only() {
        let now = Timestamp::from_millis(10_000);
        let step = Duration::from_secs(60);
        let poisoned = now.step_towards(Timestamp::from_nanos(u64::MAX), step);
        assert_eq!(poisoned, Timestamp::from_millis(70_000));
        assert_eq!(poisoned.step_towards(now, step), poisoned, "never back");
        let near = Timestamp::from_millis(10_500);
        assert_eq!(
            now.step_towards(near, step),
            near,
            "a sane stamp is followed"
        );
        let last = Timestamp::from_nanos(u64::MAX);
        assert_eq!(last.step_towards(Timestamp::EPOCH, step), last);
    }

    #[test]
    fn time_bounds_accept_the_window_and_refuse_outside_it() {
        let bounds = TimeBounds::default();
        let now = Timestamp::from_millis(1_700_000_000_000);
        let edge_ahead = now.saturating_add(bounds.max_ahead);
        let edge_behind = now.saturating_sub(bounds.max_behind);
        assert_eq!(bounds.check(edge_ahead, now), Ok(edge_ahead));
        assert_eq!(bounds.check(edge_behind, now), Ok(edge_behind));
        let ahead = bounds
            .check(Timestamp::from_nanos(edge_ahead.as_nanos() + 1), now)
            .expect_err("ahead");
        assert!(ahead.is_ahead() && !ahead.is_behind());
        let behind = bounds
            .check(Timestamp::from_nanos(edge_behind.as_nanos() - 1), now)
            .expect_err("behind");
        assert!(behind.is_behind());
        assert_eq!(behind.timestamp().as_nanos(), edge_behind.as_nanos() - 1);
        assert!(behind.to_string().starts_with("timestamp "));
        // Near the ends of time the window saturates rather than wrapping.
        assert_eq!(
            bounds.check(Timestamp::EPOCH, Timestamp::EPOCH),
            Ok(Timestamp::EPOCH)
        );
    }

    #[test]
    fn timestamps_display_as_seconds_with_nanoseconds() {
        assert_eq!(
            Timestamp::from_nanos(1_500_000_001).to_string(),
            "1.500000001"
        );
    }
}
