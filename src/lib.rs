//! A lock-free copy-on-write state engine for a market maker's orders and inventory.
//!
//! One writer thread owns the state. It drains commands from a bounded queue, applies them to a
//! persistent map (structural sharing, so a copy costs O(1)), and publishes each new version
//! with one atomic pointer swap. Readers — a reconciler, risk checks, metrics — load an
//! immutable, versioned snapshot in constant time, hold it as long as they like, and never
//! block the writer.
//!
//! # Why
//!
//! The classic bug in a market maker is a reconciler that walks the order book while the update
//! handler changes it, and sees a half-updated slot. The usual fixes either hold a lock for the
//! whole reconciliation (the update path stalls for its duration) or deep-copy the map under a
//! read lock (O(n) per snapshot, and the writer still waits while the copy runs). Here the
//! state is a value: a snapshot is a reference to one version, which nobody can change.
//!
//! # Trade-offs
//!
//! * Reads are wait-free-fast and consistent; writes pay for persistence. The first change to
//!   an entry after a publication copies the path to it (a leaf of slots and the branches
//!   above it, or a few nodes of a hash trie); later changes in the same batch are in place.
//!   Under load, batches grow by themselves and the copy is shared by every command of the
//!   batch.
//! * A held snapshot keeps alive the nodes the writer has since replaced: memory grows with
//!   what changed while it is held, not with the size of the state.
//! * There is exactly one writer. Producers on any number of threads submit through a bounded
//!   queue and feel backpressure when it is full. A single producer can own the writer instead
//!   ([`InlineWriter`](engine::InlineWriter)): it applies on its own thread and a command is
//!   visible when the call returns, with no queue hop and no wake-up.
//!
//! # How it fits together
//!
//! * [`engine`]: the generic engine — queue, writer thread, batching, sequence numbers,
//!   versioned [`Snapshot`](engine::Snapshot)s, barrier, outcomes, shutdown and panic recovery.
//!   It runs any deterministic [`StateMachine`](engine::StateMachine), behind either writer: the
//!   threaded [`Engine`](engine::Engine) (many producers) or the
//!   [`InlineWriter`](engine::InlineWriter) (one producer, latency first); both publish through
//!   the same path to the same [`ReadHandle`](engine::ReadHandle)s. Readers can sleep until a
//!   version is published ([`wait_for_version`](engine::ReadHandle::wait_for_version)); the
//!   `async` feature adds runtime-agnostic async twins of the waits.
//! * [`book`]: the position book — slots on a price grid, orders, the status transition
//!   table, cumulative fill merging, positions, guarded corrections. Pure, single-threaded code.
//! * [`journal`]: durability — a journal of every sequenced command, checkpoints written from
//!   snapshots, and recovery by replaying the commands through the same `apply`.
//! * [`reconcile`] and [`venue`]: the reconciler compares a snapshot with what the venue
//!   reports and sends guarded corrections through the writer; its startup pass
//!   ([`reconcile::startup`]) settles a recovered or cold book before trading resumes.
//! * [`time`]: timestamps and clocks, passed in rather than read implicitly.
//! * [`decimal`]: exact decimal text — every price and quantity read from outside is kept digit
//!   for digit or refused, never rounded.
//! * `binance` (feature `binance`): Binance spot `executionReport` events and `openOrders`
//!   answers mapped onto book commands and venue reports.
//!
//! # Example
//!
//! ```
//! use snapstate::Decimal;
//! use snapstate::book::{Book, BookCommand, BookConfig, FillReport, Grid, Level, OrderId,
//!     Place, Side};
//! use snapstate::engine::{Engine, EngineConfig};
//! use snapstate::time::Timestamp;
//!
//! let grid = Grid::centred(Decimal::new(100, 0), Decimal::new(1, 2), 200)?;
//! let engine = Engine::start(Book::new(BookConfig::new(grid)), EngineConfig::default())?;
//! let writer = engine.write_handle(); // clone one per producer thread
//! let reader = engine.read_handle(); // clone one per reader thread
//!
//! let at = Timestamp::from_millis(1);
//! writer.submit(BookCommand::Place(Place {
//!     order_id: OrderId(1), level: Level(-5), side: Side::Buy,
//!     price: Decimal::new(9995, 2), quantity: Decimal::new(2, 0), at,
//! }))?;
//! writer.submit(BookCommand::Fill(FillReport {
//!     order_id: OrderId(1), cumulative_filled: Decimal::ONE,
//!     fill_price: None, trade_id: None, venue_seq: None, at,
//! }))?;
//! writer.flush()?; // wait until both are visible
//!
//! let snapshot = reader.load(); // O(1); hold it as long as you like
//! assert_eq!(snapshot.state().net_position(), Decimal::ONE);
//! snapshot.state().check_invariants()?;
//!
//! let last = engine.shutdown()?; // applies everything accepted, returns the final version
//! assert_eq!(last.last_seq().0, 2);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Limitations
//!
//! * One writer thread per engine: throughput is bounded by what one core can apply.
//! * `apply` must be deterministic: panic recovery re-applies a batch's earlier commands.
//! * The book models one instrument per engine and limit orders on a fixed grid; orders are
//!   not amended in place (cancel and place again).
//! * Model checking covers the engine's protocol with loom stand-ins for arc-swap and
//!   crossbeam-channel (see `docs/verification.md`), not those crates' internals.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(feature = "binance")]
pub mod binance;
/// The decimal type of every price and quantity, re-exported so that an embedder uses the
/// same version of `rust_decimal` as the library without naming it as a dependency.
pub use rust_decimal::Decimal;

pub mod book;
pub mod decimal;
pub mod engine;
pub mod journal;
pub mod reconcile;
mod sync;
#[cfg(test)]
mod test_cases;
pub mod time;
pub mod venue;
