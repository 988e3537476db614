//! The crate's one synchronisation shim.
//!
//! Every synchronisation primitive that the engine uses is imported from here, never from
//! `std::sync`, `arc_swap` or `crossbeam_channel` directly. Under `--cfg loom` the same names
//! resolve to loom-visible types, so the models in `loom-tests/` check the engine's real code:
//!
//! | name                | production                     | under `cfg(loom)`                        |
//! |---------------------|--------------------------------|------------------------------------------|
//! | [`PublicationCell`] | `arc_swap::ArcSwap`            | a loom `Mutex<Arc<T>>` plus a generation |
//! | [`CachedLoad`]      | `arc_swap::cache::Cache`       | a generation check, then a locked clone  |
//! | [`channel`]         | `crossbeam_channel::bounded`   | a loom `Mutex<VecDeque>` and `Condvar`s  |
//! | `Mutex`, `RwLock`, `Condvar`, atomics, `thread` | `std` | `loom`                           |
//!
//! `Arc` stays `std::sync::Arc` in both worlds: snapshots are handed to users as `std` `Arc`s,
//! and the reference count is `std`'s responsibility, not a protocol of ours to model.
//!
//! The gate is plain `cfg(loom)` (not `cfg(all(test, loom))`) so that a separate crate, the
//! `loom-tests` workspace member, sees the switch when it is built with
//! `RUSTFLAGS="--cfg loom"`.

#[cfg(not(loom))]
mod production;
#[cfg(not(loom))]
pub(crate) use production::*;

#[cfg(loom)]
mod model;
#[cfg(loom)]
pub(crate) use model::*;

pub(crate) use std::sync::Arc;

/// The lock around the simulated disk's state: `std`'s in both worlds. It stands in for the
/// kernel's own locking of files, which is not a protocol of ours, and no loom operation ever
/// runs while it is held (so a loom thread switch cannot happen inside it); keeping it out of
/// loom's view keeps the journal models small.
#[cfg(any(test, feature = "simulated-storage"))]
pub(crate) use std::sync::Mutex as IoMutex;
