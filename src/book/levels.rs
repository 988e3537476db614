//! Maps from grid levels to values, stored as dense arrays indexed by the level's offset from
//! the grid's lowest level.
//!
//! A grid's levels are a bounded range of integers, known when the book is built, and a grid
//! market maker keeps a slot at most of them. Hashing such keys into a trie pays for generality
//! the book does not need: every lookup walks three or four trie nodes with dependent cache
//! misses, and every record sits behind its own reference count. An array indexed by offset
//! finds a slot by arithmetic.
//!
//! * [`LevelArray`] ([`Persistent`](super::Persistent) storage): a persistent radix tree of
//!   fixed fan-out. Branches have [`BRANCH_LEN`] children; leaves hold [`LEAF_LEN`] values
//!   *inline*. A clone shares the whole tree (one reference count). The first change to a leaf
//!   after a clone copies the path to it (root, branches, leaf) with [`Arc::make_mut`], once;
//!   later changes to that leaf, until the next clone, are in place. Leaves and branches are
//!   created on first use, so a sparse grid costs only the paths it uses.
//! * [`LevelVec`] ([`Standard`](super::Standard) storage): a `Vec<Option<V>>` indexed by
//!   offset, deep-copied on clone: the same shape for the contenders that update in place.
//!
//! Both iterate in level order. `docs/decisions.md` (decision 15) says why the book's slots are
//! stored this way and what `imbl` still stores.

use std::fmt;

use crate::sync::Arc;

use super::storage::LevelMapOps;
use super::types::Level;

/// Offsets covered by one leaf: `2^LEAF_BITS`.
const LEAF_BITS: u32 = 4;
/// Values a leaf holds inline.
pub const LEAF_LEN: usize = 1 << LEAF_BITS;
/// Children of a branch: `2^BRANCH_BITS`.
const BRANCH_BITS: u32 = 6;
/// Children a branch holds.
pub const BRANCH_LEN: usize = 1 << BRANCH_BITS;

/// A leaf: [`LEAF_LEN`] consecutive offsets, values inline.
type Leaf<V> = [Option<V>; LEAF_LEN];

/// A branch of the radix tree. Every branch at one depth is of the same kind: the deepest
/// branches point at leaves, the others at branches.
#[derive(Clone)]
enum Branch<V> {
    Inner([Option<Arc<Branch<V>>>; BRANCH_LEN]),
    Bottom([Option<Arc<Leaf<V>>>; BRANCH_LEN]),
}

impl<V> Branch<V> {
    /// An empty branch whose children each cover `2^shift` offsets.
    fn empty(shift: u32) -> Self {
        if shift == LEAF_BITS {
            Branch::Bottom(std::array::from_fn(|_| None))
        } else {
            Branch::Inner(std::array::from_fn(|_| None))
        }
    }
}

fn empty_leaf<V>() -> Leaf<V> {
    std::array::from_fn(|_| None)
}

/// The leaf, mutably: copied first if a clone of the map shares it.
///
/// The copy is made in place: a new leaf of empty entries, each then cloned into from the
/// shared leaf (`clone_from_slice`). `Arc::make_mut` on the shared leaf, which an earlier version
/// used, clones the whole array by value (`<[_; N]>::clone` builds the array, then it is moved
/// into the allocation), each entry through a temporary (`valgrind --tool=callgrind
/// target/release/examples/apply_batches 10000 200000 4096`: `Book::apply` 448 M → 401 M
/// instructions; decision 37). Before that, collecting
/// `leaf.iter().cloned()` into an `Arc<[_]>` cloned each value into a temporary and copied it
/// again (`perf` put a sixth of the writer's time in `memmove`).
///
/// The test is the strong count alone (a plain load; no `Weak` to a leaf ever exists): a count
/// of one held through `&mut` cannot rise, and a stale count above one only costs a copy.
#[inline]
fn leaf_mut<V: Clone>(leaf: &mut Arc<Leaf<V>>) -> &mut Leaf<V> {
    if Arc::strong_count(leaf) != 1 {
        copy_leaf(leaf);
    }
    Arc::make_mut(leaf)
}

/// Replaces `leaf` with a copy of its entries, made in place ([`leaf_mut`]). Kept out of line,
/// so that the writes to a leaf the writer owns, the inline writer's usual case, stay small.
#[inline(never)]
fn copy_leaf<V: Clone>(leaf: &mut Arc<Leaf<V>>) {
    let mut copy: Arc<Leaf<V>> = Arc::new(empty_leaf());
    Arc::make_mut(&mut copy).clone_from_slice(&leaf[..]);
    *leaf = copy;
}

/// The grid's levels as offsets: `lowest` is offset 0, the highest is `last_offset`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Range {
    lowest: i32,
    last_offset: u32,
}

impl Range {
    /// `lowest..=highest`; an inverted range is taken as `lowest..=lowest`.
    fn new(lowest: Level, highest: Level) -> Self {
        let span = i64::from(highest.0) - i64::from(lowest.0);
        Self {
            lowest: lowest.0,
            last_offset: u32::try_from(span.max(0)).unwrap_or(u32::MAX),
        }
    }

    /// The offset of `level`, or `None` outside the range.
    #[inline]
    fn offset(self, level: Level) -> Option<u32> {
        let offset = u32::try_from(i64::from(level.0) - i64::from(self.lowest)).ok()?;
        (offset <= self.last_offset).then_some(offset)
    }

    /// The level at `offset` (which is in the range).
    fn level(self, offset: u64) -> Level {
        let level = i64::from(self.lowest) + offset as i64;
        Level(i32::try_from(level).expect("offsets in the range are levels"))
    }

    /// How many levels: `last_offset + 1`, up to `2^32`.
    fn levels(self) -> u64 {
        u64::from(self.last_offset) + 1
    }
}

impl Range {
    /// The offset of `level`, which the caller has checked is on the grid.
    ///
    /// # Panics
    ///
    /// If `level` is outside the range: the book checks every level against its grid before
    /// it stores a slot, so this is a bug in the book, not bad input.
    #[inline]
    fn offset_on_grid(self, level: Level) -> u32 {
        self.offset(level).unwrap_or_else(|| {
            panic!(
                "level {level} is outside the map's range L{}..=L{}",
                self.lowest,
                self.level(u64::from(self.last_offset)).0
            )
        })
    }
}

/// The persistent level map: a radix tree over level offsets with values inline in its leaves.
///
/// A lookup is a handful of loads (at 10,000 levels: the root, one branch, one leaf), with no
/// hashing. A clone costs one reference count. After a clone, the first change to a leaf
/// copies the leaf ([`LEAF_LEN`] values) and the branches above it; every later change to it
/// until the next clone is in place, without allocating. A clone taken earlier never sees a
/// later change.
///
/// # Cost
///
/// Depth: one branch level above the leaves per 6 bits of `levels / LEAF_LEN` (1 level up to
/// 1,024 levels, 2 up to 65,536, 3 up to 4,194,304). Memory: the leaves and branches on the
/// paths to used levels; for a dense grid about the values themselves plus 3%.
pub struct LevelArray<V> {
    range: Range,
    /// Each child of the root covers `2^root_shift` offsets.
    root_shift: u32,
    root: Arc<Branch<V>>,
    len: usize,
}

impl<V> Clone for LevelArray<V> {
    fn clone(&self) -> Self {
        Self {
            range: self.range,
            root_shift: self.root_shift,
            root: Arc::clone(&self.root),
            len: self.len,
        }
    }
}

/// The leaf entry at `offset` of the tree under `root` (whose children each cover
/// `2^root_shift` offsets), mutably, creating the path to it if needed. Copies the path where
/// it is shared. A free function over the tree's fields, so that a caller can keep its other
/// fields (the length) borrowed apart.
fn entry<V: Clone>(root: &mut Arc<Branch<V>>, root_shift: u32, offset: u32) -> &mut Option<V> {
    let mut shift = root_shift;
    let mut branch = Arc::make_mut(root);
    loop {
        let index = child_index(offset, shift);
        match branch {
            Branch::Inner(children) => {
                shift -= BRANCH_BITS;
                let child = children[index].get_or_insert_with(|| Arc::new(Branch::empty(shift)));
                branch = Arc::make_mut(child);
            }
            Branch::Bottom(leaves) => {
                let leaf = leaves[index].get_or_insert_with(|| Arc::new(empty_leaf()));
                return &mut leaf_mut(leaf)[leaf_index(offset)];
            }
        }
    }
}

impl<V: Clone> LevelArray<V> {
    /// The slot that holds the leaf of `offset` (`None` in it: no leaf there), mutably, if
    /// the branches above it exist. Copies the path where it is shared (a miss may copy the
    /// branches above the missing child; it changes no value). The leaf itself is not copied:
    /// a caller that drops it need not pay for the copy.
    fn existing_leaf(&mut self, offset: u32) -> Option<&mut Option<Arc<Leaf<V>>>> {
        let mut shift = self.root_shift;
        let mut branch = Arc::make_mut(&mut self.root);
        loop {
            let index = child_index(offset, shift);
            match branch {
                Branch::Inner(children) => {
                    shift -= BRANCH_BITS;
                    branch = Arc::make_mut(children[index].as_mut()?);
                }
                Branch::Bottom(leaves) => return Some(&mut leaves[index]),
            }
        }
    }

    /// The leaf entry at `offset`, mutably, if its leaf exists. Copies the path where it is
    /// shared, as [`existing_leaf`](Self::existing_leaf) does, and the leaf.
    fn existing_entry(&mut self, offset: u32) -> Option<&mut Option<V>> {
        let leaf = self.existing_leaf(offset)?.as_mut()?;
        Some(&mut leaf_mut(leaf)[leaf_index(offset)])
    }
}

impl<V: Clone> LevelArray<V> {
    /// Puts `value` at `level` (inside the range), replacing any value there.
    pub(super) fn set(&mut self, level: Level, value: V) {
        let offset = self.range.offset_on_grid(level);
        let entry = entry(&mut self.root, self.root_shift, offset);
        if entry.is_none() {
            self.len += 1;
        }
        *entry = Some(value);
    }

    /// Removes the value at `level`, which holds one (the order-id ring checks its entry's id
    /// first, so a second walk to look would be wasted; on an empty level this would copy the
    /// path there, and a debug build asserts). A leaf that this empties is dropped (a clone
    /// that shares it keeps it), so that a map whose values move along its range, as the
    /// order-id ring's do, holds only the leaves in use. (Branches are kept: at most one per
    /// `LEAF_LEN * BRANCH_LEN` offsets.)
    pub(super) fn remove_present(&mut self, level: Level) {
        let Some(offset) = self.range.offset(level) else {
            return;
        };
        debug_assert!(
            self.find(offset).is_some(),
            "remove_present of an empty level"
        );
        let Some(slot) = self.existing_leaf(offset) else {
            return;
        };
        let Some(leaf) = slot.as_mut() else {
            return;
        };
        let at = leaf_index(offset);
        let last = leaf
            .iter()
            .enumerate()
            .all(|(index, entry)| index == at || entry.is_none());
        if last {
            // Dropping the leaf rather than copying it to clear one entry.
            *slot = None;
        } else {
            leaf_mut(leaf)[at] = None;
        }
        self.len -= 1;
    }
}

impl<V> LevelArray<V> {
    /// The value at `offset`, if any.
    #[inline]
    fn find(&self, offset: u32) -> Option<&V> {
        let mut shift = self.root_shift;
        let mut branch: &Branch<V> = &self.root;
        loop {
            let index = child_index(offset, shift);
            match branch {
                Branch::Inner(children) => {
                    shift -= BRANCH_BITS;
                    branch = children[index].as_deref()?;
                }
                Branch::Bottom(leaves) => {
                    return leaves[index].as_deref()?[leaf_index(offset)].as_ref();
                }
            }
        }
    }

    /// Every level and its value, lowest level first.
    pub fn iter(&self) -> Iter<'_, V> {
        Iter {
            range: self.range,
            leaves: self.leaves(),
            leaf: None,
            remaining: self.len,
        }
    }
}

impl<V> LevelArray<V> {
    /// How many leaves are allocated (for tests of when a leaf is dropped).
    #[cfg(test)]
    pub(super) fn leaf_count(&self) -> usize {
        self.leaves().count()
    }

    /// Every leaf, lowest offsets first.
    fn leaves(&self) -> Leaves<'_, V> {
        let mut stack = Vec::with_capacity(8);
        stack.push(Frame::new(&self.root, 0, self.root_shift));
        Leaves { stack }
    }
}

/// The leaves of a [`LevelArray`], lowest offsets first, each with its first offset: the walk
/// that [`Iter`] reads the entries of.
struct Leaves<'a, V> {
    /// The branches from the root down to the one being walked.
    stack: Vec<Frame<'a, V>>,
}

impl<'a, V> Iterator for Leaves<'a, V> {
    type Item = (u64, &'a Leaf<V>);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let next = match self.stack.last_mut()? {
                Frame::Inner {
                    base,
                    shift,
                    children,
                } => children.find_map(|(index, child)| {
                    let child = child.as_deref()?;
                    Some(Frame::new(
                        child,
                        *base + ((index as u64) << *shift),
                        *shift - BRANCH_BITS,
                    ))
                }),
                Frame::Bottom { base, leaves } => {
                    if let Some((index, leaf)) =
                        leaves.find_map(|(index, leaf)| leaf.as_deref().map(|leaf| (index, leaf)))
                    {
                        return Some((*base + ((index as u64) << LEAF_BITS), leaf));
                    }
                    None
                }
            };
            match next {
                Some(frame) => self.stack.push(frame),
                None => {
                    self.stack.pop();
                }
            }
        }
    }
}

#[inline]
fn child_index(offset: u32, shift: u32) -> usize {
    // The root's children may cover more than 32 bits of offsets together (shift up to 28,
    // six bits of index): widen before shifting.
    ((u64::from(offset) >> shift) as usize) & (BRANCH_LEN - 1)
}

#[inline]
fn leaf_index(offset: u32) -> usize {
    offset as usize & (LEAF_LEN - 1)
}

impl<V: crate::book::storage::Value> LevelMapOps<V> for LevelArray<V> {
    fn for_range(lowest: Level, highest: Level) -> Self {
        let range = Range::new(lowest, highest);
        // The smallest tree that covers every offset: the root's children cover
        // `2^root_shift` offsets each and the root has `BRANCH_LEN` of them.
        let mut root_shift = LEAF_BITS;
        while range.levels() > 1_u64 << (root_shift + BRANCH_BITS) {
            root_shift += BRANCH_BITS;
        }
        Self {
            range,
            root_shift,
            root: Arc::new(Branch::empty(root_shift)),
            len: 0,
        }
    }

    #[inline]
    fn get(&self, level: Level) -> Option<&V> {
        self.find(self.range.offset(level)?)
    }

    #[inline]
    fn get_mut(&mut self, level: Level) -> Option<&mut V> {
        let offset = self.range.offset(level)?;
        self.existing_entry(offset)?.as_mut()
    }

    #[inline]
    fn get_or_insert_with(&mut self, level: Level, default: impl FnOnce() -> V) -> &mut V {
        let offset = self.range.offset_on_grid(level);
        let entry = entry(&mut self.root, self.root_shift, offset);
        if entry.is_none() {
            self.len += 1;
        }
        entry.get_or_insert_with(default)
    }

    fn len(&self) -> usize {
        self.len
    }

    fn iter<'a>(&'a self) -> impl Iterator<Item = (Level, &'a V)>
    where
        V: 'a,
    {
        LevelArray::iter(self)
    }

    fn values<'a>(&'a self) -> impl Iterator<Item = &'a V>
    where
        V: 'a,
    {
        // Leaf by leaf, without working out each value's level (which the reconciler's walk
        // of the slots and every other walk of the values do not need).
        LevelArray::leaves(self).flat_map(|(_, leaf)| leaf.iter().flatten())
    }
}

impl<V: PartialEq> PartialEq for LevelArray<V> {
    fn eq(&self, other: &Self) -> bool {
        self.range == other.range
            && self.len == other.len
            && (Arc::ptr_eq(&self.root, &other.root) || self.iter().eq(other.iter()))
    }
}

impl<V: Eq> Eq for LevelArray<V> {}

impl<V: fmt::Debug> fmt::Debug for LevelArray<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

/// One branch being walked by [`Leaves`]: its children not yet visited.
enum Frame<'a, V> {
    Inner {
        base: u64,
        shift: u32,
        children: std::iter::Enumerate<std::slice::Iter<'a, Option<Arc<Branch<V>>>>>,
    },
    Bottom {
        base: u64,
        leaves: std::iter::Enumerate<std::slice::Iter<'a, Option<Arc<Leaf<V>>>>>,
    },
}

impl<'a, V> Frame<'a, V> {
    /// `branch`, whose first offset is `base` and whose children cover `2^shift` each.
    fn new(branch: &'a Branch<V>, base: u64, shift: u32) -> Self {
        match branch {
            Branch::Inner(children) => Frame::Inner {
                base,
                shift,
                children: children.iter().enumerate(),
            },
            Branch::Bottom(leaves) => Frame::Bottom {
                base,
                leaves: leaves.iter().enumerate(),
            },
        }
    }
}

/// The levels and values of a [`LevelArray`], lowest level first.
pub struct Iter<'a, V> {
    range: Range,
    /// The leaves not yet visited.
    leaves: Leaves<'a, V>,
    /// The leaf being walked: its first offset and its entries not yet visited.
    leaf: Option<(u64, std::iter::Enumerate<std::slice::Iter<'a, Option<V>>>)>,
    remaining: usize,
}

impl<'a, V> Iterator for Iter<'a, V> {
    type Item = (Level, &'a V);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some((base, entries)) = &mut self.leaf {
                for (index, entry) in entries.by_ref() {
                    if let Some(value) = entry {
                        self.remaining -= 1;
                        return Some((self.range.level(*base + index as u64), value));
                    }
                }
            }
            let (first, leaf) = self.leaves.next()?;
            self.leaf = Some((first, leaf.iter().enumerate()));
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl<V> ExactSizeIterator for Iter<'_, V> {}

/// The level map of [`Standard`](super::Standard) storage: a `Vec<Option<V>>` indexed by level
/// offset, deep-copied on clone.
///
/// It grows to the highest offset used (doubling, but never beyond the grid), so an unused top
/// of the grid costs nothing; a level far above the others costs the whole span below it.
#[derive(Clone)]
pub struct LevelVec<V> {
    range: Range,
    entries: Vec<Option<V>>,
    len: usize,
}

impl<V> LevelVec<V> {
    /// The entry at `offset`, growing the vector to reach it.
    fn entry(&mut self, offset: u32) -> &mut Option<V> {
        let index = offset as usize;
        if index >= self.entries.len() {
            let levels = usize::try_from(self.range.levels()).unwrap_or(usize::MAX);
            let wanted = (index + 1).max(self.entries.len().saturating_mul(2).min(levels));
            self.entries.reserve_exact(wanted - self.entries.len());
            self.entries.resize_with(wanted, || None);
        }
        &mut self.entries[index]
    }
}

impl<V: crate::book::storage::Value> LevelMapOps<V> for LevelVec<V> {
    fn for_range(lowest: Level, highest: Level) -> Self {
        Self {
            range: Range::new(lowest, highest),
            entries: Vec::new(),
            len: 0,
        }
    }

    #[inline]
    fn get(&self, level: Level) -> Option<&V> {
        let offset = self.range.offset(level)?;
        self.entries.get(offset as usize)?.as_ref()
    }

    #[inline]
    fn get_mut(&mut self, level: Level) -> Option<&mut V> {
        let offset = self.range.offset(level)?;
        self.entries.get_mut(offset as usize)?.as_mut()
    }

    #[inline]
    fn get_or_insert_with(&mut self, level: Level, default: impl FnOnce() -> V) -> &mut V {
        let offset = self.range.offset_on_grid(level);
        if self.entry(offset).is_none() {
            self.len += 1;
        }
        self.entries[offset as usize].get_or_insert_with(default)
    }

    fn len(&self) -> usize {
        self.len
    }

    fn iter<'a>(&'a self) -> impl Iterator<Item = (Level, &'a V)>
    where
        V: 'a,
    {
        let range = self.range;
        self.entries
            .iter()
            .enumerate()
            .filter_map(move |(offset, entry)| {
                entry
                    .as_ref()
                    .map(|value| (range.level(offset as u64), value))
            })
    }
}

impl<V: crate::book::storage::Value> PartialEq for LevelVec<V> {
    /// Equal when they hold the same values at the same levels, however far each has grown.
    fn eq(&self, other: &Self) -> bool {
        self.range == other.range && self.len == other.len && self.iter().eq(other.iter())
    }
}

impl<V: crate::book::storage::Value + Eq> Eq for LevelVec<V> {}

impl<V: crate::book::storage::Value> fmt::Debug for LevelVec<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(LevelMapOps::iter(self)).finish()
    }
}

#[cfg(test)]
mod tests;
