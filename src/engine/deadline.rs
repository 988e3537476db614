//! One limit for a wait of several phases.
//!
//! A wait with a limit that runs in phases (a durable barrier first waits for its barrier to be
//! visible, then for the journal's sync) fixes the moment it must end once, when it starts, and
//! gives each phase only what the phases before it left. Giving each phase the whole limit
//! would let the wait last the limit once per phase.

use std::time::{Duration, Instant};

/// The moment a wait must end, or no limit at all.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Deadline {
    /// `None`: no limit.
    at: Option<Instant>,
}

impl Deadline {
    /// No limit.
    pub(super) const NONE: Self = Self { at: None };

    /// `limit` after `now`. A limit too far away to represent (`Duration::MAX`) is no limit,
    /// as for [`ReadHandle::wait_for_version`](super::ReadHandle::wait_for_version); it never
    /// panics.
    pub(super) fn after(now: Instant, limit: Duration) -> Self {
        Self {
            at: now.checked_add(limit),
        }
    }

    /// What is left: `None` without a limit (the clock is not read then), zero once the
    /// deadline has passed.
    pub(super) fn left(self, now: impl FnOnce() -> Instant) -> Option<Duration> {
        self.at.map(|at| at.saturating_duration_since(now()))
    }

    /// Runs `first`, given this deadline, and then `second`, given what is left of it once
    /// `first` has returned (read from `now`), so that the two together last no longer than
    /// the one limit. An error of `first` ends the wait without `second`.
    pub(super) fn then<T, U, E>(
        self,
        now: impl FnOnce() -> Instant,
        first: impl FnOnce(Self) -> Result<T, E>,
        second: impl FnOnce(T, Option<Duration>) -> Result<U, E>,
    ) -> Result<U, E> {
        let value = first(self)?;
        second(value, self.left(now))
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;

    const LIMIT: Duration = Duration::from_secs(10);

    #[test]
    fn a_limit_too_far_away_to_represent_is_no_limit_and_does_not_panic() {
        let now = Instant::now();
        assert_eq!(Deadline::after(now, Duration::MAX), Deadline::NONE);
        assert_eq!(Deadline::after(now, Duration::MAX).left(|| now), None);
        assert_eq!(
            Deadline::NONE.left(|| unreachable!("no limit reads no clock")),
            None
        );
    }

    #[test]
    fn what_is_left_shrinks_with_the_clock_and_stops_at_zero() {
        let start = Instant::now();
        let deadline = Deadline::after(start, LIMIT);
        assert_eq!(deadline.left(|| start), Some(LIMIT));
        assert_eq!(
            deadline.left(|| start + Duration::from_secs(4)),
            Some(Duration::from_secs(6))
        );
        assert_eq!(deadline.left(|| start + LIMIT), Some(Duration::ZERO));
        assert_eq!(deadline.left(|| start + 2 * LIMIT), Some(Duration::ZERO));
    }

    /// Runs two phases under `deadline` on a clock that the first phase moves on by
    /// `first_takes`; returns what the second phase was given.
    fn second_phase_budget(
        deadline: Deadline,
        start: Instant,
        first_takes: Duration,
    ) -> Option<Duration> {
        let clock = Cell::new(start);
        let given = deadline.then(
            || clock.get(),
            |first_deadline| {
                assert_eq!(first_deadline, deadline, "the first phase has the deadline");
                clock.set(start + first_takes);
                Ok::<_, ()>(())
            },
            |(), left| Ok(left),
        );
        given.expect("both phases succeed")
    }

    /// The defect this guards against: the durable barrier gave its second phase (the wait
    /// for the sync) the whole limit again, so it could last twice its limit.
    #[test]
    fn the_second_phase_gets_only_what_the_first_left() {
        let start = Instant::now();
        let deadline = Deadline::after(start, LIMIT);
        assert_eq!(
            second_phase_budget(deadline, start, Duration::from_secs(7)),
            Some(Duration::from_secs(3))
        );
        assert_eq!(
            second_phase_budget(deadline, start, LIMIT),
            Some(Duration::ZERO),
            "a first phase that took the whole limit leaves nothing"
        );
        assert_eq!(
            second_phase_budget(Deadline::NONE, start, Duration::from_secs(7)),
            None,
            "without a limit both phases wait as long as they need"
        );
    }

    #[test]
    fn an_error_of_the_first_phase_ends_the_wait_without_the_second() {
        let ended: Result<(), &str> = Deadline::after(Instant::now(), LIMIT).then(
            Instant::now,
            |_| Err("timed out"),
            |(), _| unreachable!("the second phase does not start"),
        );
        assert_eq!(ended, Err("timed out"));
    }
}
