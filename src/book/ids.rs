//! Maps from order ids to values, stored by the id's place in a ring where ids are dense, with
//! a hash map beside it for the ids that do not fit.
//!
//! Most venues, and our own market maker, assign order ids in increasing order, so the ids of
//! the live and recently finished orders are a dense sliding window: the oldest are purged as
//! new ones arrive. A hash trie pays for a generality this does not need (hashing, three or
//! four dependent node loads per lookup, and node copies of up to 32 entries on each change).
//! Here an id's *position* is its low bits, `id mod ring_len`: a lookup is arithmetic and the
//! loads of a short radix tree, and the window moves by itself as entries are removed and their
//! positions are taken by ids `ring_len` later.
//!
//! # Invariants
//!
//! 1. Each entry stores its id beside its value, so a position answers only for the id that
//!    holds it. An id is in at most one place: the ring at its position, or the fallback map.
//! 2. An id goes into the ring when its position is free; when another id holds it (a sparse,
//!    out-of-order or far-off id, or an order so old that the ids have gone round the ring
//!    since), into the fallback. A lookup that the ring does not answer asks the fallback,
//!    unless it is empty (it usually is).
//! 3. Memory is bounded by the entries, never by the ids' values: the ring has a fixed number
//!    of positions (`ring_len`, a power of two chosen from the book's size and capped at
//!    [`MAX_RING_LEN`]), and only the leaves of [`LEAF_LEN`] positions that hold an entry are
//!    allocated (a leaf emptied by a removal is dropped). A hostile id costs one position or
//!    one fallback entry, like any other.
//!
//! Two rings, one per storage, of the same shape: [`LevelArray`] (a persistent radix tree whose
//! leaves hold entries inline; after a publication the first change to a leaf copies it and the
//! branches above it once) for [`Persistent`](super::Persistent), and [`LeafVec`] (a `Vec` of
//! boxed leaves, deep-copied on clone) for [`Standard`](super::Standard). Persistent records
//! (finished orders) are stored behind an `Arc` each ([`PersistentRecords`]), so that a leaf
//! entry is an id and a pointer; [`Standard`](super::Standard) keeps its records in a
//! `HashMap` ([`StandardRecords`]).

use std::collections::HashMap;
use std::fmt;
use std::marker::PhantomData;

use crate::sync::Arc;

use super::levels::{LEAF_LEN, LevelArray};
use super::storage::{BookHasher, LevelMapOps, MapOps, PersistentMap, Value};
use super::types::{Level, OrderId};

/// The fewest positions a ring has.
pub const MIN_RING_LEN: usize = 1 << 10;
/// The most positions a ring has (1,048,576): enough for the ids of 250,000 orders kept at
/// once with room for stragglers; a book that keeps more uses the fallback for the rest.
pub const MAX_RING_LEN: usize = 1 << 20;

/// The ring length for a map expected to hold about `expected` entries at once: four times
/// that, as a power of two, within [`MIN_RING_LEN`]`..=`[`MAX_RING_LEN`]. The ids held at once
/// span more than their count (an order that rests for long keeps its old id while newer ones
/// come and go), and an id whose position an older one still holds goes to the fallback.
pub fn ring_len(expected: usize) -> usize {
    expected
        .saturating_mul(4)
        .clamp(MIN_RING_LEN, MAX_RING_LEN)
        .next_power_of_two()
}

/// The map operations of an order-id map, with its construction.
pub trait IdMapOps<V: 'static>: MapOps<OrderId, V> {
    /// An empty map sized for about `expected` entries at once (see [`ring_len`]).
    fn for_expected(expected: usize) -> Self;
}

/// A ring of positions, each empty or holding an id and its value.
pub trait RingOps<V>: Clone + Send + Sync + 'static {
    /// An empty ring of `len` positions (a power of two, at most [`MAX_RING_LEN`]).
    fn with_len(len: usize) -> Self;
    /// The entry at `position`.
    fn get(&self, position: u32) -> Option<&(OrderId, V)>;
    /// The entry at `position`, mutably (copying the path to it if it is shared).
    fn get_mut(&mut self, position: u32) -> Option<&mut (OrderId, V)>;
    /// Puts `entry` at `position`, replacing what was there.
    fn set(&mut self, position: u32, entry: (OrderId, V));
    /// Empties `position`, which holds an entry.
    fn remove(&mut self, position: u32);
    /// How many positions hold an entry.
    fn len(&self) -> usize;
    /// Every entry, by position.
    fn entries<'a>(&'a self) -> impl Iterator<Item = &'a (OrderId, V)>
    where
        V: 'a;
}

/// A position as the level of the [`LevelArray`] that stores the ring (positions are below
/// [`MAX_RING_LEN`], so they fit).
fn level_of(position: u32) -> Level {
    Level(i32::try_from(position).unwrap_or(i32::MAX))
}

impl<V: Value> RingOps<V> for LevelArray<(OrderId, V)> {
    fn with_len(len: usize) -> Self {
        let last = i32::try_from(len.saturating_sub(1)).unwrap_or(i32::MAX);
        LevelMapOps::for_range(Level(0), Level(last))
    }
    #[inline]
    fn get(&self, position: u32) -> Option<&(OrderId, V)> {
        LevelMapOps::get(self, level_of(position))
    }
    #[inline]
    fn get_mut(&mut self, position: u32) -> Option<&mut (OrderId, V)> {
        LevelMapOps::get_mut(self, level_of(position))
    }
    #[inline]
    fn set(&mut self, position: u32, entry: (OrderId, V)) {
        LevelArray::set(self, level_of(position), entry);
    }
    #[inline]
    fn remove(&mut self, position: u32) {
        LevelArray::remove_present(self, level_of(position));
    }
    fn len(&self) -> usize {
        LevelMapOps::len(self)
    }
    fn entries<'a>(&'a self) -> impl Iterator<Item = &'a (OrderId, V)>
    where
        V: 'a,
    {
        LevelMapOps::values(self)
    }
}

/// A leaf of a [`LeafVec`]: [`LEAF_LEN`] consecutive positions.
type Leaf<V> = [Option<(OrderId, V)>; LEAF_LEN];

/// The ring of [`Standard`](super::Standard) storage: a `Vec` of boxed leaves of [`LEAF_LEN`]
/// positions, a leaf allocated on first use and dropped when emptied; deep-copied on clone.
/// The same shape as the persistent ring, updated in place.
#[derive(Clone)]
pub struct LeafVec<V> {
    leaves: Vec<Option<Box<Leaf<V>>>>,
    len: usize,
}

fn split(position: u32) -> (usize, usize) {
    let position = position as usize;
    (position / LEAF_LEN, position % LEAF_LEN)
}

impl<V: Value> RingOps<V> for LeafVec<V> {
    fn with_len(len: usize) -> Self {
        let mut leaves = Vec::new();
        leaves.resize_with(len.div_ceil(LEAF_LEN), || None);
        Self { leaves, len: 0 }
    }
    #[inline]
    fn get(&self, position: u32) -> Option<&(OrderId, V)> {
        let (leaf, index) = split(position);
        self.leaves.get(leaf)?.as_deref()?[index].as_ref()
    }
    #[inline]
    fn get_mut(&mut self, position: u32) -> Option<&mut (OrderId, V)> {
        let (leaf, index) = split(position);
        self.leaves.get_mut(leaf)?.as_deref_mut()?[index].as_mut()
    }
    #[inline]
    fn set(&mut self, position: u32, entry: (OrderId, V)) {
        let (leaf, index) = split(position);
        let Some(leaf) = self.leaves.get_mut(leaf) else {
            return;
        };
        let leaf = leaf.get_or_insert_with(|| Box::new(std::array::from_fn(|_| None)));
        if leaf[index].is_none() {
            self.len += 1;
        }
        leaf[index] = Some(entry);
    }
    #[inline]
    fn remove(&mut self, position: u32) {
        let (leaf_index, index) = split(position);
        let Some(slot) = self.leaves.get_mut(leaf_index) else {
            return;
        };
        let Some(leaf) = slot.as_deref_mut() else {
            return;
        };
        if leaf[index].take().is_some() {
            self.len -= 1;
            if leaf.iter().all(Option::is_none) {
                *slot = None;
            }
        }
    }
    fn len(&self) -> usize {
        self.len
    }
    fn entries<'a>(&'a self) -> impl Iterator<Item = &'a (OrderId, V)>
    where
        V: 'a,
    {
        self.leaves
            .iter()
            .flatten()
            .flat_map(|leaf| leaf.iter().flatten())
    }
}

/// An order-id map: a ring `R` where ids are dense, a map `F` for the others (the module's
/// invariants).
pub struct IdMap<V, R, F> {
    /// `ring_len - 1`: an id's position is `id & mask`.
    mask: u64,
    ring: R,
    fallback: F,
    value: PhantomData<fn() -> V>,
}

/// The order-id map of [`Persistent`](super::Persistent) storage.
pub type PersistentIds<V> = IdMap<V, LevelArray<(OrderId, V)>, PersistentMap<OrderId, V>>;
/// The order-id map of [`Standard`](super::Standard) storage.
pub type StandardIds<V> = IdMap<V, LeafVec<V>, HashMap<OrderId, V, BookHasher>>;

impl<V, R: Clone, F: Clone> Clone for IdMap<V, R, F> {
    fn clone(&self) -> Self {
        Self {
            mask: self.mask,
            ring: self.ring.clone(),
            fallback: self.fallback.clone(),
            value: PhantomData,
        }
    }
}

impl<V: Value, R: RingOps<V>, F: MapOps<OrderId, V>> IdMap<V, R, F> {
    #[inline]
    fn position(&self, id: OrderId) -> u32 {
        // The mask is below `MAX_RING_LEN`, so the position fits.
        (id.0 & self.mask) as u32
    }

    /// Whether the ring holds `id` at its position.
    #[inline]
    fn in_ring(&self, id: OrderId) -> bool {
        matches!(self.ring.get(self.position(id)), Some((held, _)) if *held == id)
    }

    /// How many entries the fallback holds.
    #[cfg(test)]
    pub fn fallback_len(&self) -> usize {
        self.fallback.len()
    }
}

impl<V: Value, R: RingOps<V>, F: MapOps<OrderId, V>> IdMapOps<V> for IdMap<V, R, F> {
    fn for_expected(expected: usize) -> Self {
        let len = ring_len(expected);
        Self {
            mask: len as u64 - 1,
            ring: R::with_len(len),
            fallback: F::empty(),
            value: PhantomData,
        }
    }
}

impl<V: Value, R: RingOps<V>, F: MapOps<OrderId, V>> MapOps<OrderId, V> for IdMap<V, R, F> {
    fn empty() -> Self {
        Self::for_expected(0)
    }

    #[inline]
    fn get(&self, key: &OrderId) -> Option<&V> {
        match self.ring.get(self.position(*key)) {
            Some((held, value)) if held == key => Some(value),
            _ if self.fallback.is_empty() => None,
            _ => self.fallback.get(key),
        }
    }

    #[inline]
    fn get_mut(&mut self, key: &OrderId) -> Option<&mut V> {
        if self.in_ring(*key) {
            let position = self.position(*key);
            return self.ring.get_mut(position).map(|(_, value)| value);
        }
        self.fallback.get_mut(key)
    }

    #[inline]
    fn insert(&mut self, key: OrderId, value: V) {
        let position = self.position(key);
        let free = match self.ring.get(position) {
            None => self.fallback.is_empty() || !self.fallback.contains_key(&key),
            Some((held, _)) => *held == key,
        };
        if free {
            self.ring.set(position, (key, value));
        } else {
            self.fallback.insert(key, value);
        }
    }

    #[inline]
    fn remove(&mut self, key: &OrderId) {
        if self.in_ring(*key) {
            self.ring.remove(self.position(*key));
        } else if !self.fallback.is_empty() {
            self.fallback.remove(key);
        }
    }

    #[inline]
    fn contains_key(&self, key: &OrderId) -> bool {
        self.get(key).is_some()
    }

    fn len(&self) -> usize {
        self.ring.len() + self.fallback.len()
    }

    fn values<'a>(&'a self) -> impl Iterator<Item = &'a V>
    where
        V: 'a,
    {
        self.entries().map(|(_, value)| value)
    }

    fn entries<'a>(&'a self) -> impl Iterator<Item = (&'a OrderId, &'a V)>
    where
        OrderId: 'a,
        V: 'a,
    {
        self.ring
            .entries()
            .map(|(id, value)| (id, value))
            .chain(self.fallback.entries())
    }
}

impl<V: Value, R: RingOps<V>, F: MapOps<OrderId, V>> PartialEq for IdMap<V, R, F> {
    /// Equal when they map the same ids to equal values, wherever each keeps them.
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len()
            && self
                .entries()
                .all(|(id, value)| other.get(id) == Some(value))
    }
}

impl<V: Value, R: RingOps<V>, F: MapOps<OrderId, V>> fmt::Debug for IdMap<V, R, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut entries: Vec<(&OrderId, &V)> = self.entries().collect();
        entries.sort_unstable_by_key(|(id, _)| **id);
        f.debug_map().entries(entries).finish()
    }
}

/// The record map of [`Persistent`](super::Persistent) storage: an order-id map of records,
/// each behind its own [`Arc`], so that a ring entry is an id and a pointer (copying a leaf
/// after a publication copies 16 bytes per entry, not a record), and a held snapshot shares
/// every record that did not change.
pub struct PersistentRecords<V> {
    map: PersistentIds<Arc<V>>,
}

/// The record map of [`Standard`](super::Standard) storage: a `HashMap` of records stored in
/// it, as before the ring. The ring pays off for persistent storage, where a hash trie's change
/// copies nodes after every publication; in place, a hash map's insert and remove are already
/// cheap, and it is the cheapest to deep-copy (one allocation, the records copied in a row; a
/// ring of boxed records made `rwlock_deep_copy`'s copy 2.5 times as slow, measured on a
/// version not kept: `docs/decisions.md`, decision 32).
pub type StandardRecords<V> = HashMap<OrderId, V, BookHasher>;

impl<V: Value> IdMapOps<V> for HashMap<OrderId, V, BookHasher> {
    fn for_expected(_expected: usize) -> Self {
        HashMap::default()
    }
}

impl<V> Clone for PersistentRecords<V> {
    fn clone(&self) -> Self {
        Self {
            map: self.map.clone(),
        }
    }
}

impl<V: Value> PartialEq for PersistentRecords<V> {
    fn eq(&self, other: &Self) -> bool {
        self.map == other.map
    }
}

impl<V: Value> fmt::Debug for PersistentRecords<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.map.fmt(f)
    }
}

impl<V: Value> IdMapOps<V> for PersistentRecords<V> {
    fn for_expected(expected: usize) -> Self {
        Self {
            map: PersistentIds::for_expected(expected),
        }
    }
}

impl<V: Value> MapOps<OrderId, V> for PersistentRecords<V> {
    fn empty() -> Self {
        Self::for_expected(0)
    }
    #[inline]
    fn get(&self, key: &OrderId) -> Option<&V> {
        self.map.get(key).map(|record| &**record)
    }
    #[inline]
    fn get_mut(&mut self, key: &OrderId) -> Option<&mut V> {
        self.map.get_mut(key).map(Arc::make_mut)
    }
    #[inline]
    fn insert(&mut self, key: OrderId, value: V) {
        self.map.insert(key, Arc::new(value));
    }
    #[inline]
    fn remove(&mut self, key: &OrderId) {
        self.map.remove(key);
    }
    #[inline]
    fn contains_key(&self, key: &OrderId) -> bool {
        self.map.contains_key(key)
    }
    fn len(&self) -> usize {
        self.map.len()
    }
    fn values<'a>(&'a self) -> impl Iterator<Item = &'a V>
    where
        V: 'a,
    {
        self.map.values().map(|record| &**record)
    }
    fn entries<'a>(&'a self) -> impl Iterator<Item = (&'a OrderId, &'a V)>
    where
        OrderId: 'a,
        V: 'a,
    {
        self.map.entries().map(|(id, record)| (id, &**record))
    }
}

#[cfg(test)]
mod tests;
