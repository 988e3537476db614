//! Loom-visible stand-ins for the production synchronisation (compiled only under `cfg(loom)`).
//!
//! arc-swap and crossbeam-channel have no loom support, so this module provides equivalents
//! with the same contracts, built from loom's primitives, so that loom explores every
//! interleaving of the engine's own protocol around them. What these models assume of the real
//! crates (a store is linearizable; a bounded channel is FIFO and reports disconnection only
//! once drained) is documented in `docs/verification.md`.

use std::collections::VecDeque;
use std::sync::Arc;

pub(crate) use loom::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
pub(crate) use loom::sync::{Condvar, Mutex, MutexGuard, RwLock};
pub(crate) use loom::thread;

/// In a model, spinning must give loom a chance to schedule another thread.
#[inline]
pub(crate) fn spin_hint() {
    loom::thread::yield_now();
}

/// Loom runs each model thread on a coroutine whose stack is 32 KiB unless told otherwise. The
/// writer applies arbitrary state machines (the position book's persistent maps go deep in an
/// unoptimised build), so it gets 1 MiB. Loom's `stack_size` counts machine words, not bytes
/// (it hands the value straight to the `generator` crate).
const WRITER_STACK_WORDS: usize = (1 << 20) / std::mem::size_of::<usize>();

/// Spawns the writer as a named loom thread (loom shows the name in panic messages).
pub(crate) fn spawn_named<F>(name: String, body: F) -> std::io::Result<thread::JoinHandle<()>>
where
    F: FnOnce() + Send + 'static,
{
    thread::Builder::new()
        .name(name)
        .stack_size(WRITER_STACK_WORDS)
        .spawn(body)
}

/// The publication cell: a lock stands in for arc-swap's atomic pointer. Both are linearizable,
/// which is the property the engine relies on. The generation counter models arc-swap's
/// pointer comparison in its cache.
pub(crate) struct PublicationCell<T> {
    shared: Arc<CellShared<T>>,
}

struct CellShared<T> {
    current: Mutex<Arc<T>>,
    /// How many values have been stored. Changed only while `current` is locked, so a load
    /// under the lock gives the generation of the value held there.
    generation: AtomicU64,
}

impl<T> PublicationCell<T> {
    pub(crate) fn new(initial: Arc<T>) -> Self {
        Self {
            shared: Arc::new(CellShared {
                current: Mutex::new(initial),
                generation: AtomicU64::new(0),
            }),
        }
    }

    pub(crate) fn load_full(&self) -> Arc<T> {
        Arc::clone(&self.lock())
    }

    pub(crate) fn store(&self, value: Arc<T>) {
        let mut current = self.lock();
        *current = value;
        self.shared.generation.fetch_add(1, Ordering::Release);
    }

    /// The current value and its generation, read together under the lock.
    fn current(&self) -> (u64, Arc<T>) {
        let current = self.lock();
        let generation = self.shared.generation.load(Ordering::Relaxed);
        (generation, Arc::clone(&current))
    }

    pub(crate) fn cached(&self) -> CachedLoad<T> {
        let (generation, value) = self.current();
        CachedLoad {
            cell: self.clone(),
            generation,
            value,
        }
    }

    fn lock(&self) -> loom::sync::MutexGuard<'_, Arc<T>> {
        // A poisoned lock means a model already failed; surface that failure unchanged.
        self.shared
            .current
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl<T> Clone for PublicationCell<T> {
    fn clone(&self) -> Self {
        Self {
            shared: Arc::clone(&self.shared),
        }
    }
}

/// A caching loader: a cheap generation check, and a locked clone only when it changed.
pub(crate) struct CachedLoad<T> {
    cell: PublicationCell<T>,
    generation: u64,
    value: Arc<T>,
}

impl<T> CachedLoad<T> {
    pub(crate) fn load(&mut self) -> &Arc<T> {
        if self.cell.shared.generation.load(Ordering::Acquire) != self.generation {
            (self.generation, self.value) = self.cell.current();
        }
        &self.value
    }
}

/// A bounded FIFO channel with crossbeam-channel's contract, built from a loom mutex and
/// condition variables.
pub(crate) mod channel {
    use super::*;
    use loom::sync::Condvar;
    use std::time::Duration;

    pub(crate) use crossbeam_errors::*;

    /// Error types shaped exactly like crossbeam-channel's, so the engine's code matches on the
    /// same variants in both worlds.
    mod crossbeam_errors {
        #[derive(Debug, PartialEq, Eq)]
        pub(crate) enum TrySendError<T> {
            Full(T),
            Disconnected(T),
        }
        #[derive(Debug, PartialEq, Eq)]
        pub(crate) enum SendTimeoutError<T> {
            Timeout(T),
            Disconnected(T),
        }
        #[derive(Debug, PartialEq, Eq)]
        pub(crate) enum TryRecvError {
            Empty,
            Disconnected,
        }
        #[derive(Debug, PartialEq, Eq)]
        pub(crate) enum RecvTimeoutError {
            #[expect(
                dead_code,
                reason = "loom has no clock, so nothing times out; the variant mirrors crossbeam's"
            )]
            Timeout,
            Disconnected,
        }
        #[derive(Debug, PartialEq, Eq)]
        pub(crate) struct SendError<T>(pub(crate) T);
        #[derive(Debug, PartialEq, Eq)]
        pub(crate) struct RecvError;
    }

    struct State<T> {
        queue: VecDeque<T>,
        senders: usize,
        receiver_alive: bool,
    }

    struct Shared<T> {
        capacity: usize,
        state: Mutex<State<T>>,
        not_empty: Condvar,
        not_full: Condvar,
    }

    impl<T> Shared<T> {
        fn lock(&self) -> loom::sync::MutexGuard<'_, State<T>> {
            self.state
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
        }
    }

    pub(crate) fn bounded<T>(capacity: usize) -> (Sender<T>, Receiver<T>) {
        let shared = Arc::new(Shared {
            capacity: capacity.max(1),
            state: Mutex::new(State {
                queue: VecDeque::new(),
                senders: 1,
                receiver_alive: true,
            }),
            not_empty: Condvar::new(),
            not_full: Condvar::new(),
        });
        (
            Sender {
                shared: Arc::clone(&shared),
            },
            Receiver { shared },
        )
    }

    pub(crate) struct Sender<T> {
        shared: Arc<Shared<T>>,
    }

    impl<T> Sender<T> {
        pub(crate) fn send(&self, value: T) -> Result<(), SendError<T>> {
            let mut state = self.shared.lock();
            loop {
                if !state.receiver_alive {
                    return Err(SendError(value));
                }
                if state.queue.len() < self.shared.capacity {
                    state.queue.push_back(value);
                    self.shared.not_empty.notify_one();
                    return Ok(());
                }
                state = self
                    .shared
                    .not_full
                    .wait(state)
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
            }
        }

        pub(crate) fn try_send(&self, value: T) -> Result<(), TrySendError<T>> {
            let mut state = self.shared.lock();
            if !state.receiver_alive {
                return Err(TrySendError::Disconnected(value));
            }
            if state.queue.len() >= self.shared.capacity {
                return Err(TrySendError::Full(value));
            }
            state.queue.push_back(value);
            self.shared.not_empty.notify_one();
            Ok(())
        }

        /// Loom has no clock, so a timeout is modelled as "the queue was full when we looked".
        pub(crate) fn send_timeout(
            &self,
            value: T,
            _timeout: Duration,
        ) -> Result<(), SendTimeoutError<T>> {
            self.try_send(value).map_err(|error| match error {
                TrySendError::Full(value) => SendTimeoutError::Timeout(value),
                TrySendError::Disconnected(value) => SendTimeoutError::Disconnected(value),
            })
        }

        pub(crate) fn len(&self) -> usize {
            self.shared.lock().queue.len()
        }
    }

    impl<T> Clone for Sender<T> {
        fn clone(&self) -> Self {
            self.shared.lock().senders += 1;
            Self {
                shared: Arc::clone(&self.shared),
            }
        }
    }

    impl<T> Drop for Sender<T> {
        fn drop(&mut self) {
            let mut state = self.shared.lock();
            state.senders -= 1;
            if state.senders == 0 {
                self.shared.not_empty.notify_all();
            }
        }
    }

    pub(crate) struct Receiver<T> {
        shared: Arc<Shared<T>>,
    }

    impl<T> Receiver<T> {
        pub(crate) fn recv(&self) -> Result<T, RecvError> {
            let mut state = self.shared.lock();
            loop {
                if let Some(value) = state.queue.pop_front() {
                    self.shared.not_full.notify_one();
                    return Ok(value);
                }
                if state.senders == 0 {
                    return Err(RecvError);
                }
                state = self
                    .shared
                    .not_empty
                    .wait(state)
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
            }
        }

        pub(crate) fn try_recv(&self) -> Result<T, TryRecvError> {
            let mut state = self.shared.lock();
            match state.queue.pop_front() {
                Some(value) => {
                    self.shared.not_full.notify_one();
                    Ok(value)
                }
                None if state.senders == 0 => Err(TryRecvError::Disconnected),
                None => Err(TryRecvError::Empty),
            }
        }

        /// Loom has no clock: waits like `recv`.
        pub(crate) fn recv_timeout(&self, _timeout: Duration) -> Result<T, RecvTimeoutError> {
            self.recv()
                .map_err(|RecvError| RecvTimeoutError::Disconnected)
        }

        pub(crate) fn len(&self) -> usize {
            self.shared.lock().queue.len()
        }
    }

    impl<T> Drop for Receiver<T> {
        fn drop(&mut self) {
            let mut state = self.shared.lock();
            state.receiver_alive = false;
            // Values left in the queue are dropped with it, exactly as crossbeam does.
            self.shared.not_full.notify_all();
        }
    }
}
