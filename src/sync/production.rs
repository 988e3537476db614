//! Production synchronisation: `std`, `arc-swap` and `crossbeam-channel`.

use std::sync::Arc;

pub(crate) use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
pub(crate) use std::sync::{Condvar, Mutex, MutexGuard, RwLock};
pub(crate) use std::thread;

/// Tells the processor that the caller is spinning (a `pause` on x86).
#[inline]
pub(crate) fn spin_hint() {
    std::hint::spin_loop();
}

/// Spawns the engine's writer thread with a name, so it shows up in debuggers and profilers.
pub(crate) fn spawn_named<F>(name: String, body: F) -> std::io::Result<thread::JoinHandle<()>>
where
    F: FnOnce() + Send + 'static,
{
    thread::Builder::new().name(name).spawn(body)
}

/// The bounded multi-producer channel that carries commands to the writer.
pub(crate) mod channel {
    pub(crate) use crossbeam_channel::{
        Receiver, RecvTimeoutError, SendError, SendTimeoutError, Sender, TryRecvError,
        TrySendError, bounded,
    };
}

/// The cell through which the writer publishes each new version.
///
/// A `store` is one atomic pointer swap; a `load_full` never blocks and never waits for the
/// writer (arc-swap's loads are lock-free, and wait-free on the fast path).
pub(crate) struct PublicationCell<T> {
    swap: Arc<arc_swap::ArcSwap<T>>,
}

impl<T> PublicationCell<T> {
    pub(crate) fn new(initial: Arc<T>) -> Self {
        Self {
            swap: Arc::new(arc_swap::ArcSwap::new(initial)),
        }
    }

    /// The current value, as a full reference count the caller may hold as long as it likes.
    #[inline]
    pub(crate) fn load_full(&self) -> Arc<T> {
        self.swap.load_full()
    }

    /// Replaces the current value; readers see either the old or the new value, never a mix.
    #[inline]
    pub(crate) fn store(&self, value: Arc<T>) {
        self.swap.store(value);
    }

    /// A per-thread loader that skips the reference-count traffic while nothing changed.
    pub(crate) fn cached(&self) -> CachedLoad<T> {
        CachedLoad {
            cache: arc_swap::cache::Cache::new(Arc::clone(&self.swap)),
        }
    }
}

impl<T> Clone for PublicationCell<T> {
    fn clone(&self) -> Self {
        Self {
            swap: Arc::clone(&self.swap),
        }
    }
}

/// A caching loader: one pointer comparison when the value has not changed since the last load.
pub(crate) struct CachedLoad<T> {
    cache: arc_swap::cache::Cache<Arc<arc_swap::ArcSwap<T>>, Arc<T>>,
}

impl<T> CachedLoad<T> {
    #[inline]
    pub(crate) fn load(&mut self) -> &Arc<T> {
        self.cache.load()
    }
}
