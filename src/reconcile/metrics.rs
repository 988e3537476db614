//! The reconciler's metrics: their names, the duration histogram's buckets, and the snapshot
//! size estimate.
//!
//! Recorded through the `metrics` facade; whoever installs the exporter (the binary installs a
//! Prometheus one) sets the buckets of [`DURATION_SECONDS`] to [`DURATION_BUCKETS_SECONDS`].
//!
//! | name                                        | kind      | labels               |
//! |---------------------------------------------|-----------|----------------------|
//! | `reconciliation_duration_seconds`           | histogram |                      |
//! | `reconciliation_snapshot_entries`           | gauge     |                      |
//! | `reconciliation_snapshot_size_bytes`        | gauge     |                      |
//! | `snapshot_age_seconds`                      | gauge     |                      |
//! | `reconciliation_mismatches_total`           | counter   | `class`              |
//! | `reconciliation_corrections_total`          | counter   | `outcome`            |
//! | `reconciliation_corrections_submitted_total`| counter   | `kind`               |
//! | `reconciliation_venue_cancels_total`        | counter   | `outcome`            |
//! | `reconciliation_venue_errors_total`         | counter   | `kind`               |

use std::mem::size_of;

use crate::book::{Book, Level, Order, OrderId, Slot, Storage};
use crate::time::Timestamp;

/// Histogram: seconds one reconciliation cycle took, from loading the snapshot to the last
/// correction handed to the engine (the venue query included).
pub const DURATION_SECONDS: &str = "reconciliation_duration_seconds";
/// The buckets, in seconds, of [`DURATION_SECONDS`], for the exporter to install.
pub const DURATION_BUCKETS_SECONDS: [f64; 6] = [0.01, 0.05, 0.1, 0.5, 1.0, 5.0];
/// Gauge: entries in the reconciled snapshot (slots, plus orders in the index).
pub const SNAPSHOT_ENTRIES: &str = "reconciliation_snapshot_entries";
/// Gauge: the estimated size of the reconciled snapshot's entries; see
/// [`estimate_snapshot_size_bytes`].
pub const SNAPSHOT_SIZE_BYTES: &str = "reconciliation_snapshot_size_bytes";
/// Gauge: how old the reconciled snapshot was when the cycle loaded it, by the runner's clock.
pub const SNAPSHOT_AGE_SECONDS: &str = "snapshot_age_seconds";
/// Counter, label `class` ([`MismatchClass::as_str`](super::MismatchClass::as_str)): confirmed
/// mismatches, counted once per cycle in which they are confirmed.
pub const MISMATCHES_TOTAL: &str = "reconciliation_mismatches_total";
/// Counter, label `outcome` = `applied` or `rejected_stale`: corrections the engine applied or
/// rejected because their precondition no longer held. Read from the engine's own outcome
/// counters (the book's `corrected` and `stale_precondition` classes), so exact, and counting
/// corrections from any producer (normally the reconciler is the only one).
pub const CORRECTIONS_TOTAL: &str = "reconciliation_corrections_total";
/// Counter, label `kind` ([`Correction::kind`](crate::book::Correction::kind)): corrections
/// handed to the engine.
pub const CORRECTIONS_SUBMITTED_TOTAL: &str = "reconciliation_corrections_submitted_total";
/// Counter, label `outcome` = `sent`, `failed` or `skipped_stale`: cancels asked of the venue.
pub const VENUE_CANCELS_TOTAL: &str = "reconciliation_venue_cancels_total";
/// Counter, label `kind` = `failed` or `timed_out`: venue queries that gave no answer.
pub const VENUE_ERRORS_TOTAL: &str = "reconciliation_venue_errors_total";

/// How many entries a book holds: its slots and the orders in its index (live and tombstoned).
pub fn snapshot_entries<S: Storage>(book: &Book<S>) -> u64 {
    (book.slot_count() + book.order_count()) as u64
}

/// An estimate of the bytes a book's entries occupy.
///
/// # Method
///
/// Each entry counts the in-memory size of its key and value: `size_of::<(Level, Slot)>()` per
/// slot (a slot holds its live order), `size_of::<(OrderId, Level)>()` per live order in the
/// index from ids to slots, `size_of::<(OrderId, Order)>()` per finished order kept as a
/// tombstone, and `size_of::<(Timestamp, OrderId)>()` per tombstone queue entry. Records keep
/// their decimals packed in place (a decimal too wide to pack moves them to the heap; rare), so
/// this is the size of the data.
///
/// It is a lower bound on the memory behind one snapshot taken alone: it leaves out the
/// persistent maps' interior nodes, the reference count in front of each record, and the
/// allocator's rounding (`docs/benchmarks.md` measures 270 bytes per slot in all for a
/// 10,000-slot book). It is also not the cost of *one more* snapshot: snapshots share all
/// unchanged structure, so a new version costs only the paths to what changed.
pub fn estimate_snapshot_size_bytes<S: Storage>(book: &Book<S>) -> u64 {
    let live = book.live_count();
    let finished = book.order_count().saturating_sub(live);
    let slot_bytes = size_of::<(Level, Slot)>() * book.slot_count();
    let index_bytes = size_of::<(OrderId, Level)>() * live;
    let order_bytes = size_of::<(OrderId, Order)>() * finished;
    let tombstone_bytes = size_of::<(Timestamp, OrderId)>() * book.tombstone_count();
    (slot_bytes + index_bytes + order_bytes + tombstone_bytes) as u64
}
