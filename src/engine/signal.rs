//! Waiting without polling: a signal the writer raises after each publication, cheap when
//! nobody waits.
//!
//! A [`Signal`] counts its waiters in one atomic. The side that makes progress (the writer,
//! after storing a new snapshot; or after taking commands off a full queue) changes its state
//! first and then reads the count with a read-modify-write; only when the count is not zero does
//! it take the signal's lock, wake the blocked threads (a condition variable) and the registered
//! tasks (their [`Waker`]s). With nobody waiting, a publication pays one uncontended atomic
//! operation on a cache line that only waiters write.
//!
//! # Why no wake-up is missed
//!
//! A waiter registers (increments the count, a read-modify-write) and only then checks its
//! condition; the notifier changes the state and only then reads the count with a
//! read-modify-write. Read-modify-writes of one atomic are totally ordered, so one of two things
//! holds:
//!
//! * the notifier's comes first: the waiter's increment reads the value the notifier's wrote, so
//!   the waiter synchronises with the notifier and its check sees the new state; or
//! * the waiter's comes first: the notifier reads a count above zero and takes the lock, which a
//!   blocking waiter holds from before its increment until it sleeps on the condition variable
//!   (and an async waiter holds while it stores its waker), so the notification reaches it.
//!
//! Loom checks this (`loom-tests/tests/wait_for_version.rs`).
//!
//! # The writer never waits for a reader
//!
//! The writer takes the lock only when someone waits, and a waiter holds it only to increment a
//! counter, load one snapshot pointer and go to sleep (or store a waker): never for work of its
//! own. Wakers are woken after the lock is released.

use std::task::Waker;
use std::time::Instant;

use crate::sync::{AtomicBool, AtomicUsize, Condvar, Mutex, MutexGuard, Ordering};

/// How a wait ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum WaitEnd {
    /// The condition holds.
    Ready,
    /// The signal was closed (the engine stopped) while the condition did not hold.
    Closed,
    /// The deadline passed while the condition did not hold.
    TimedOut,
}

/// A point that blocked threads and async tasks wait on, raised by one notifier.
pub(crate) struct Signal {
    /// Blocked threads plus registered tasks.
    waiters: AtomicUsize,
    /// Set once, when nothing will ever change again.
    closed: AtomicBool,
    slots: Mutex<Slots>,
    condvar: Condvar,
}

/// Registered tasks' wakers. A slot stays allocated (and counted) from a task's first
/// registration until it deregisters, so re-registering after a wake-up costs no allocation.
#[derive(Debug, Default)]
struct Slots {
    wakers: Vec<Option<Waker>>,
    /// Entries of `wakers` no task holds.
    #[cfg_attr(
        not(feature = "async"),
        expect(dead_code, reason = "only async tasks register and leave slots")
    )]
    free: Vec<usize>,
}

impl Default for Signal {
    fn default() -> Self {
        Self {
            waiters: AtomicUsize::new(0),
            closed: AtomicBool::new(false),
            slots: Mutex::new(Slots::default()),
            condvar: Condvar::new(),
        }
    }
}

impl std::fmt::Debug for Signal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signal")
            .field("closed", &self.is_closed())
            .finish_non_exhaustive()
    }
}

impl Signal {
    /// Wakes every waiter if there is one. Call it after the change that waiters look for.
    pub(crate) fn notify(&self) {
        // A read-modify-write, not a load: see the module docs for why.
        if self.waiters.fetch_add(0, Ordering::AcqRel) == 0 {
            return;
        }
        let wakers: Vec<Waker> = {
            let mut slots = self.lock();
            slots.wakers.iter_mut().filter_map(Option::take).collect()
        };
        self.condvar.notify_all();
        for waker in wakers {
            waker.wake();
        }
    }

    /// Marks the signal closed and wakes every waiter: nothing will change any more.
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.notify();
    }

    /// Whether [`close`](Self::close) was called.
    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Blocks the calling thread until `ready` holds, the signal closes, or `deadline` (if any)
    /// passes. A condition that holds wins over a closed signal: after seeing the signal closed,
    /// `ready` is checked once more, because the notifier's last change may have come between
    /// the previous check and the close.
    pub(crate) fn wait_until(
        &self,
        mut ready: impl FnMut() -> bool,
        deadline: Option<Instant>,
    ) -> WaitEnd {
        if ready() {
            return WaitEnd::Ready;
        }
        if self.is_closed() {
            return if ready() {
                WaitEnd::Ready
            } else {
                WaitEnd::Closed
            };
        }
        let mut guard = self.lock();
        self.waiters.fetch_add(1, Ordering::AcqRel);
        let end = loop {
            if ready() {
                break WaitEnd::Ready;
            }
            if self.is_closed() {
                break if ready() {
                    WaitEnd::Ready
                } else {
                    WaitEnd::Closed
                };
            }
            guard = match deadline {
                None => self
                    .condvar
                    .wait(guard)
                    .unwrap_or_else(|poisoned| poisoned.into_inner()),
                Some(deadline) => {
                    let now = Instant::now();
                    if now >= deadline {
                        break WaitEnd::TimedOut;
                    }
                    self.condvar
                        .wait_timeout(guard, deadline - now)
                        .unwrap_or_else(|poisoned| poisoned.into_inner())
                        .0
                }
            };
        };
        self.waiters.fetch_sub(1, Ordering::AcqRel);
        drop(guard);
        end
    }

    /// Registers (or refreshes) a task's waker; `slot` remembers the registration between polls.
    /// Check the condition again after this returns: a change made before it may not have woken
    /// the task.
    #[cfg(feature = "async")]
    pub(crate) fn register(&self, slot: &mut Option<usize>, waker: &Waker) {
        let mut slots = self.lock();
        let index = match *slot {
            Some(index) => index,
            None => {
                let index = slots.free.pop().unwrap_or_else(|| {
                    slots.wakers.push(None);
                    slots.wakers.len() - 1
                });
                self.waiters.fetch_add(1, Ordering::AcqRel);
                *slot = Some(index);
                index
            }
        };
        match &mut slots.wakers[index] {
            Some(current) if current.will_wake(waker) => {}
            entry => *entry = Some(waker.clone()),
        }
    }

    /// Removes a task's registration, if it has one (a finished or dropped future).
    #[cfg(feature = "async")]
    pub(crate) fn deregister(&self, slot: &mut Option<usize>) {
        if let Some(index) = slot.take() {
            let mut slots = self.lock();
            debug_assert!(!slots.free.contains(&index), "a task left a free slot");
            slots.wakers[index] = None;
            slots.free.push(index);
            self.waiters.fetch_sub(1, Ordering::AcqRel);
        }
    }

    /// Blocked threads plus registered tasks, a momentary reading (for tests).
    #[cfg(all(test, feature = "async"))]
    pub(crate) fn waiters(&self) -> usize {
        self.waiters.load(Ordering::Acquire)
    }

    fn lock(&self) -> MutexGuard<'_, Slots> {
        // Nothing panics while the lock is held (no user code runs under it).
        self.slots
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;
    use crate::sync::AtomicU64;

    #[test]
    fn a_wait_for_a_condition_that_holds_returns_at_once_even_when_closed() {
        let signal = Signal::default();
        signal.close();
        assert_eq!(signal.wait_until(|| true, None), WaitEnd::Ready);
        assert_eq!(signal.wait_until(|| false, None), WaitEnd::Closed);
    }

    #[test]
    fn a_deadline_in_the_past_times_out_without_sleeping_forever() {
        let signal = Signal::default();
        let end = signal.wait_until(|| false, Some(Instant::now()));
        assert_eq!(end, WaitEnd::TimedOut);
    }

    #[test]
    fn a_blocked_waiter_wakes_when_the_notifier_changes_the_state() {
        let signal = Arc::new(Signal::default());
        let value = Arc::new(AtomicU64::new(0));
        let waiter = {
            let (signal, value) = (Arc::clone(&signal), Arc::clone(&value));
            std::thread::spawn(move || {
                signal.wait_until(|| value.load(Ordering::Acquire) >= 3, None)
            })
        };
        for next in 1..=3 {
            std::thread::sleep(Duration::from_millis(1));
            value.store(next, Ordering::Release);
            signal.notify();
        }
        assert_eq!(waiter.join().expect("the waiter returns"), WaitEnd::Ready);
    }
}
