//! Where the book keeps its slots, orders and tombstones.
//!
//! The engine's book uses [`Persistent`] storage: a persistent radix tree over the grid's
//! levels for the slots ([`LevelArray`]), the same radix tree as a ring over order ids for the
//! order index and the finished orders, with an `imbl` hash array mapped trie for the ids the
//! ring does not hold (`ids.rs`), and `imbl`'s RRB vector for the tombstones; every clone
//! shares structure, so a snapshot costs O(1). [`Standard`] storage keeps the same data in
//! `std` structures of the same shape (a `Vec` indexed by level, a `Vec` of boxed leaves as the
//! order index's ring with a `HashMap` beside it, a `HashMap` of finished orders, and a
//! `VecDeque`): a clone is a deep copy. It exists so that
//! the benchmarks can run the *same* book logic under the designs a user would otherwise pick
//! (a lock around a mutable map, a deep copy per snapshot, copy-on-write of the whole map) and
//! measure the concurrency design rather than different code.

use std::collections::{HashMap, VecDeque};
use std::fmt::Debug;
use std::hash::Hash;

use imbl::shared_ptr::DefaultSharedPtr;

use super::ids::{IdMapOps, PersistentIds, PersistentRecords, StandardIds, StandardRecords};
use super::levels::{LevelArray, LevelVec};
use super::types::Level;

/// The hasher of every map in the book, in both storages: foldhash's fast variant, randomly
/// seeded per map. The keys are small integers (order ids, levels), for which SipHash (the
/// `std` default) costs about ten times as much as the rest of a lookup; foldhash mixes every
/// bit, which the hash trie needs (it indexes by the low bits first).
pub type BookHasher = foldhash::fast::RandomState;

/// The persistent map of [`Persistent`] storage.
pub type PersistentMap<K, V> = imbl::GenericHashMap<K, V, BookHasher, DefaultSharedPtr>;

/// What a key of the book's maps must be.
pub trait Key: Hash + Eq + Clone + Debug + Send + Sync + 'static {}
impl<T: Hash + Eq + Clone + Debug + Send + Sync + 'static> Key for T {}

/// What a value of the book's maps and queues must be.
pub trait Value: Clone + PartialEq + Debug + Send + Sync + 'static {}
impl<T: Clone + PartialEq + Debug + Send + Sync + 'static> Value for T {}

/// Keeps [`Storage`] sealed: the book relies on what each storage's collections do, so the two
/// storages here are the only ones.
mod sealed {
    pub trait Sealed {}
    impl Sealed for super::Persistent {}
    impl Sealed for super::Standard {}
}

/// A family of collections the book can be stored in: [`Persistent`] (the engine's) or
/// [`Standard`] (for comparison benchmarks).
///
/// The trait is sealed: it cannot be implemented outside this crate, and its collection types
/// are not part of the public API. Code that works with either storage names it as a generic
/// parameter (`fn f<S: Storage>(book: &Book<S>)`); most code just uses [`Book`](super::Book),
/// whose storage defaults to [`Persistent`].
pub trait Storage: sealed::Sealed + Clone + Debug + PartialEq + Eq + Send + Sync + 'static {
    /// A map from order ids to small values, stored in the map itself: a ring indexed by the
    /// id's low bits where ids are dense, a hash map for the others (`ids.rs`).
    type Ids<V: Value>: IdMapOps<V>;
    /// A map from order ids to large records (orders). Persistent storage keeps each record
    /// behind its own `Arc` in an order-id ring, so that copying the path to a changed entry
    /// copies pointers rather than records, and a snapshot shares every record that did not
    /// change; standard storage keeps them in a `HashMap`, the cheapest to deep-copy.
    type IdRecords<V: Value>: IdMapOps<V>;
    /// A map from the grid's levels to records (the slots), stored as an array indexed by the
    /// level's offset in the grid.
    type Levels<V: Value>: LevelMapOps<V>;
    /// A first-in, first-out queue.
    type Queue<T: Value>: QueueOps<T>;
}

/// The map operations the book needs.
pub trait MapOps<K, V: 'static>: Clone + Debug + PartialEq + Send + Sync + 'static {
    /// An empty map.
    fn empty() -> Self;
    /// The value at `key`.
    fn get(&self, key: &K) -> Option<&V>;
    /// The value at `key`, mutably. For persistent maps this copies the path to it if shared.
    fn get_mut(&mut self, key: &K) -> Option<&mut V>;
    /// Inserts or replaces.
    fn insert(&mut self, key: K, value: V);
    /// Removes the value at `key`, if any. (It drops the value: a record that a snapshot still
    /// shares is not copied.)
    fn remove(&mut self, key: &K);
    /// Whether `key` is present.
    fn contains_key(&self, key: &K) -> bool;
    /// How many entries.
    fn len(&self) -> usize;
    /// Whether there are no entries.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Every value, in no particular order.
    fn values<'a>(&'a self) -> impl Iterator<Item = &'a V>
    where
        V: 'a;
    /// Every key and its value, in no particular order.
    fn entries<'a>(&'a self) -> impl Iterator<Item = (&'a K, &'a V)>
    where
        K: 'a,
        V: 'a;
}

/// The operations of a map keyed by the levels of one grid (`lowest..=highest`, fixed when the
/// map is made). Iteration is in level order.
pub trait LevelMapOps<V: 'static>: Clone + Debug + PartialEq + Send + Sync + 'static {
    /// An empty map for the levels `lowest..=highest`.
    fn for_range(lowest: Level, highest: Level) -> Self;
    /// The value at `level` (`None` outside the range).
    fn get(&self, level: Level) -> Option<&V>;
    /// The value at `level`, mutably. For persistent storage this copies the path to it if
    /// shared.
    fn get_mut(&mut self, level: Level) -> Option<&mut V>;
    /// The value at `level`, mutably, inserting `default()` first if there is none.
    ///
    /// # Panics
    ///
    /// If `level` is outside the map's range.
    fn get_or_insert_with(&mut self, level: Level, default: impl FnOnce() -> V) -> &mut V;
    /// How many levels have a value.
    fn len(&self) -> usize;
    /// Whether no level has a value.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Every level that has a value, and its value, lowest level first.
    fn iter<'a>(&'a self) -> impl Iterator<Item = (Level, &'a V)>
    where
        V: 'a;
    /// Every value, lowest level first.
    fn values<'a>(&'a self) -> impl Iterator<Item = &'a V>
    where
        V: 'a,
    {
        self.iter().map(|(_, value)| value)
    }
}

/// The queue operations the book needs.
pub trait QueueOps<T>: Clone + Debug + PartialEq + Send + Sync + 'static {
    /// An empty queue.
    fn empty() -> Self;
    /// Appends at the back.
    fn push_back(&mut self, value: T);
    /// The front value.
    fn front(&self) -> Option<&T>;
    /// Removes the front value.
    fn pop_front(&mut self) -> Option<T>;
    /// Every value, front first.
    fn iter<'a>(&'a self) -> impl Iterator<Item = &'a T>
    where
        T: 'a;
    /// How many values.
    fn len(&self) -> usize;
    /// Whether there are no values.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Persistent collections (radix trees over levels and over order ids, `imbl` maps beside the
/// latter and an `imbl` vector): O(1) clones with
/// structural sharing. The engine's storage.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Persistent;

/// `std` collections of the same shape (a `Vec` indexed by level, a `Vec` of leaves indexed
/// by order id with a `HashMap` beside it for the order index, a `HashMap` of finished orders,
/// `VecDeque`):
/// clones are deep copies. For the benchmarks' comparison contenders.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Standard;

impl Storage for Persistent {
    type Ids<V: Value> = PersistentIds<V>;
    type IdRecords<V: Value> = PersistentRecords<V>;
    type Levels<V: Value> = LevelArray<V>;
    type Queue<T: Value> = imbl::Vector<T>;
}

impl Storage for Standard {
    type Ids<V: Value> = StandardIds<V>;
    type IdRecords<V: Value> = StandardRecords<V>;
    type Levels<V: Value> = LevelVec<V>;
    type Queue<T: Value> = VecDeque<T>;
}

impl<K: Key, V: Value> MapOps<K, V> for PersistentMap<K, V> {
    fn empty() -> Self {
        PersistentMap::default()
    }
    #[inline]
    fn get(&self, key: &K) -> Option<&V> {
        PersistentMap::get(self, key)
    }
    #[inline]
    fn get_mut(&mut self, key: &K) -> Option<&mut V> {
        PersistentMap::get_mut(self, key)
    }
    #[inline]
    fn insert(&mut self, key: K, value: V) {
        PersistentMap::insert(self, key, value);
    }
    #[inline]
    fn remove(&mut self, key: &K) {
        PersistentMap::remove(self, key);
    }
    #[inline]
    fn contains_key(&self, key: &K) -> bool {
        PersistentMap::contains_key(self, key)
    }
    fn len(&self) -> usize {
        PersistentMap::len(self)
    }
    fn values<'a>(&'a self) -> impl Iterator<Item = &'a V>
    where
        V: 'a,
    {
        PersistentMap::values(self)
    }
    fn entries<'a>(&'a self) -> impl Iterator<Item = (&'a K, &'a V)>
    where
        K: 'a,
        V: 'a,
    {
        PersistentMap::iter(self)
    }
}

impl<K: Key, V: Value> MapOps<K, V> for HashMap<K, V, BookHasher> {
    fn empty() -> Self {
        HashMap::default()
    }
    #[inline]
    fn get(&self, key: &K) -> Option<&V> {
        HashMap::get(self, key)
    }
    #[inline]
    fn get_mut(&mut self, key: &K) -> Option<&mut V> {
        HashMap::get_mut(self, key)
    }
    #[inline]
    fn insert(&mut self, key: K, value: V) {
        HashMap::insert(self, key, value);
    }
    #[inline]
    fn remove(&mut self, key: &K) {
        HashMap::remove(self, key);
    }
    #[inline]
    fn contains_key(&self, key: &K) -> bool {
        HashMap::contains_key(self, key)
    }
    fn len(&self) -> usize {
        HashMap::len(self)
    }
    fn values<'a>(&'a self) -> impl Iterator<Item = &'a V>
    where
        V: 'a,
    {
        HashMap::values(self)
    }
    fn entries<'a>(&'a self) -> impl Iterator<Item = (&'a K, &'a V)>
    where
        K: 'a,
        V: 'a,
    {
        HashMap::iter(self)
    }
}

impl<T: Value> QueueOps<T> for imbl::Vector<T> {
    fn empty() -> Self {
        imbl::Vector::new()
    }
    fn push_back(&mut self, value: T) {
        imbl::Vector::push_back(self, value);
    }
    fn front(&self) -> Option<&T> {
        imbl::Vector::front(self)
    }
    fn pop_front(&mut self) -> Option<T> {
        imbl::Vector::pop_front(self)
    }
    fn iter<'a>(&'a self) -> impl Iterator<Item = &'a T>
    where
        T: 'a,
    {
        imbl::Vector::iter(self)
    }
    fn len(&self) -> usize {
        imbl::Vector::len(self)
    }
}

impl<T: Value> QueueOps<T> for VecDeque<T> {
    fn empty() -> Self {
        VecDeque::new()
    }
    fn push_back(&mut self, value: T) {
        VecDeque::push_back(self, value);
    }
    fn front(&self) -> Option<&T> {
        VecDeque::front(self)
    }
    fn pop_front(&mut self) -> Option<T> {
        VecDeque::pop_front(self)
    }
    fn iter<'a>(&'a self) -> impl Iterator<Item = &'a T>
    where
        T: 'a,
    {
        VecDeque::iter(self)
    }
    fn len(&self) -> usize {
        VecDeque::len(self)
    }
}
