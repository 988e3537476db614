//! The shared pieces of the models (compiled only under `cfg(loom)`).

use std::collections::BTreeSet;
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use snapstate::engine::{EngineConfig, Labelled, ReadHandle, Snapshot, StateMachine};
use snapstate::journal::CodecError;

/// The preemption bound used when `LOOM_MAX_PREEMPTIONS` is not set (CI sets it to the same
/// value explicitly). Loom's own default is no bound, but the executions grow steeply with it:
/// the publication model explores 292 at 2, 154,731 at 6 and 862,463 at 8.
pub const DEFAULT_PREEMPTIONS: usize = 2;

/// Runs `model` once per interleaving that loom explores, and returns how many that was.
///
/// The bound on preemptions comes from `LOOM_MAX_PREEMPTIONS`, else [`DEFAULT_PREEMPTIONS`].
/// The count, the bound and the wall time are printed (`cargo test -- --nocapture` shows them),
/// so that `docs/verification.md` can quote them and a change that makes a model explode is
/// noticed.
///
/// # Panics
///
/// Whenever the model panics in any execution (loom reports the failing interleaving), and when
/// loom finds a deadlock, a leak, or too many branches.
pub fn explore<F>(name: &str, model: F) -> usize
where
    F: Fn() + Sync + Send + 'static,
{
    let mut builder = loom::model::Builder::new();
    let bound = *builder.preemption_bound.get_or_insert(DEFAULT_PREEMPTIONS);
    let executions = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&executions);
    let failure_report = FailureReport {
        name,
        executions: Arc::clone(&executions),
    };
    let started = Instant::now();
    builder.check(move || {
        counted.fetch_add(1, Ordering::Relaxed);
        model();
    });
    drop(failure_report);
    let executions = executions.load(Ordering::Relaxed);
    println!(
        "loom model {name}: {executions} executions at LOOM_MAX_PREEMPTIONS={bound} in {:.2?}",
        started.elapsed()
    );
    executions
}

/// Says, while a failing model unwinds, in which execution loom found the failure.
struct FailureReport<'a> {
    name: &'a str,
    executions: Arc<AtomicUsize>,
}

impl Drop for FailureReport<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            println!(
                "loom model {}: failed in execution {}",
                self.name,
                self.executions.load(Ordering::Relaxed)
            );
        }
    }
}

/// Outcomes collected across every execution of a model, to be asserted on after loom is done.
///
/// Cheap to clone; clones share one set. It lives outside loom's world (a `std` mutex), so it
/// survives from one execution to the next.
#[derive(Debug)]
pub struct Observed<T> {
    seen: Arc<Mutex<BTreeSet<T>>>,
}

impl<T> Clone for Observed<T> {
    fn clone(&self) -> Self {
        Self {
            seen: Arc::clone(&self.seen),
        }
    }
}

impl<T: Ord + Clone + fmt::Debug> Default for Observed<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Ord + Clone + fmt::Debug> Observed<T> {
    /// An empty set.
    pub fn new() -> Self {
        Self {
            seen: Arc::new(Mutex::new(BTreeSet::new())),
        }
    }

    /// Records one outcome.
    pub fn insert(&self, outcome: T) {
        self.lock().insert(outcome);
    }

    /// Everything recorded so far.
    pub fn all(&self) -> BTreeSet<T> {
        self.lock().clone()
    }

    /// Asserts that some execution produced an outcome for which `wanted` holds; `what` says
    /// which interleaving that is, for the failure message.
    ///
    /// # Panics
    ///
    /// If none did: the model did not exercise the race it exists for.
    pub fn assert_any(&self, what: &str, wanted: impl Fn(&T) -> bool) {
        let all = self.all();
        assert!(
            all.iter().any(wanted),
            "no execution showed {what}; outcomes seen: {all:?}"
        );
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeSet<T>> {
        // A poisoned set means a model already failed; that failure is the one to report.
        self.seen.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// An engine configuration small enough to model: a queue of `queue_capacity` and batches of at
/// most `max_batch` (so that a few commands can still land in different batches), and no
/// metrics (the `metrics` facade is not part of what is being checked).
pub fn model_config(queue_capacity: usize, max_batch: usize) -> EngineConfig {
    EngineConfig {
        queue_capacity,
        max_batch,
        record_metrics: false,
        ..EngineConfig::default()
    }
}

/// A state machine whose state says exactly which commands it holds: command `Mark(n)` sets bit
/// `n` of a 64-bit set. With one producer submitting `Mark(1)`, `Mark(2)`, … in order, the
/// snapshot whose last command is number `k` must hold exactly bits `1..=k`.
///
/// [`Mark::PANICS`] sets its bit and then panics, leaving the writer's working copy torn, for the
/// model of panic recovery.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Marks {
    bits: u64,
}

impl Marks {
    /// Whether `Mark(id)` has been applied.
    pub fn contains(&self, id: u32) -> bool {
        id < u64::BITS && self.bits & (1 << id) != 0
    }

    /// How many marks have been applied.
    pub fn count(&self) -> u64 {
        u64::from(self.bits.count_ones())
    }
}

/// The command of [`Marks`]: set one bit, numbered from 1 to 63.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Mark(pub u32);

impl Mark {
    /// Sets its bit, then panics with [`Mark::PANIC_MESSAGE`].
    pub const PANICS: Mark = Mark(63);
    /// What [`Mark::PANICS`] panics with.
    pub const PANIC_MESSAGE: &'static str = "deliberate panic in Marks::apply";
}

/// What applying a [`Mark`] did.
#[derive(Debug, PartialEq, Eq)]
pub struct Marked;

impl Labelled for Marked {
    const LABELS: &'static [&'static str] = &["marked"];
    fn label_index(&self) -> usize {
        0
    }
}

/// Why a [`Mark`] was refused: its bit is out of range or already set.
#[derive(Debug, PartialEq, Eq)]
pub struct Unmarkable(pub u32);

impl fmt::Display for Unmarkable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "mark {} is out of range or already set", self.0)
    }
}

impl std::error::Error for Unmarkable {}

impl Labelled for Unmarkable {
    const LABELS: &'static [&'static str] = &["unmarkable"];
    fn label_index(&self) -> usize {
        0
    }
}

impl StateMachine for Marks {
    type Command = Mark;
    type Applied = Marked;
    type Rejected = Unmarkable;

    fn apply(&mut self, &Mark(id): &Mark) -> Result<Marked, Unmarkable> {
        if id == 0 || id >= u64::BITS || self.contains(id) {
            return Err(Unmarkable(id));
        }
        self.bits |= 1 << id;
        if Mark(id) == Mark::PANICS {
            panic!("{}", Mark::PANIC_MESSAGE);
        }
        Ok(Marked)
    }
}

/// Asserts that `snapshot`'s counters account for exactly the commands up to its `last_seq`.
///
/// A snapshot published while its batch was half applied fails this (its `last_seq` claims a
/// command that its counters lack), which is what the broken-publication check uses.
///
/// # Panics
///
/// With a message starting "torn snapshot" when the counts and `last_seq` differ.
pub fn assert_counted<S>(snapshot: &Snapshot<S>) {
    let last_seq = snapshot.last_seq().0;
    let total = snapshot.counters().total();
    assert_eq!(
        total, last_seq,
        "torn snapshot: {snapshot:?} counts {total} commands but claims {last_seq}"
    );
}

/// Asserts that `snapshot` is one whole version: its counters account for exactly the commands
/// up to its `last_seq` ([`assert_counted`]), and its state holds exactly as many marks as were
/// applied.
///
/// # Panics
///
/// With a message starting "torn snapshot" when the snapshot is not whole.
pub fn assert_whole(snapshot: &Snapshot<Marks>) {
    assert_counted(snapshot);
    let counters = snapshot.counters();
    assert_eq!(
        snapshot.state().count(),
        counters.applied(),
        "torn snapshot: {snapshot:?} holds {} marks but counts {} applied",
        snapshot.state().count(),
        counters.applied()
    );
}

/// As [`assert_whole`], and also that the state holds exactly marks `1..=last_seq`: for models
/// where one producer submits `Mark(1)`, `Mark(2)`, … in that order.
///
/// # Panics
///
/// With a message starting "torn snapshot" when the snapshot is not that whole prefix.
pub fn assert_prefix(snapshot: &Snapshot<Marks>) {
    let last_seq = snapshot.last_seq().0;
    let expected = (1..=last_seq).fold(0_u64, |bits, id| bits | (1 << id));
    let held: Vec<u32> = (1..u64::BITS)
        .filter(|&id| snapshot.state().contains(id))
        .collect();
    assert_eq!(
        snapshot.state().bits,
        expected,
        "torn snapshot: {snapshot:?} holds marks {held:?}, not exactly 1..={last_seq}"
    );
    assert_whole(snapshot);
}

/// Loads twice through `read`, checking that each snapshot is a whole prefix
/// ([`assert_prefix`]) and that the second is not older than the first; returns both
/// snapshots' `last_seq`. The reader's side of the publication models, for either writer.
///
/// # Panics
///
/// With a message starting "torn snapshot" when a snapshot is not a whole prefix, and when the
/// second load is older than the first.
pub fn load_twice(read: &ReadHandle<Marks>) -> (u64, u64) {
    let first = read.load();
    assert_prefix(&first);
    let second = read.load();
    assert_prefix(&second);
    assert!(
        second.version() >= first.version(),
        "a reader saw {} after {}",
        second.version(),
        first.version()
    );
    assert!(second.last_seq() >= first.last_seq());
    (first.last_seq().0, second.last_seq().0)
}

/// Position-book fixtures: one grid, one slot, one order.
pub mod book {
    use rust_decimal::Decimal;
    use snapstate::book::{
        Book, BookCommand, BookConfig, FillReport, Grid, Level, OrderId, Place, Side, StatusReport,
    };
    use snapstate::engine::Snapshot;
    use snapstate::time::Timestamp;

    use super::assert_counted;

    /// The order every book model is about.
    pub const ORDER: OrderId = OrderId(1);
    /// Its slot.
    pub const LEVEL: Level = Level(0);
    /// Its quantity.
    pub const QUANTITY: i64 = 10;

    /// When everything in the models happens (the book never reads a clock).
    pub fn at() -> Timestamp {
        Timestamp::from_millis(1)
    }

    /// A book holding [`ORDER`]: a buy of [`QUANTITY`] at [`LEVEL`], placed and acknowledged,
    /// nothing filled yet. Built before the engine starts, so the model spends no interleavings
    /// on it.
    ///
    /// # Panics
    ///
    /// If the fixture itself is invalid (a bug in the fixture).
    pub fn with_open_order() -> Book {
        let grid = Grid::new(Decimal::new(100, 0), Decimal::ONE, Level(-2), Level(2))
            .expect("the fixture's grid is valid");
        let mut book = Book::new(BookConfig::new(grid));
        let place = BookCommand::Place(Place {
            order_id: ORDER,
            level: LEVEL,
            side: Side::Buy,
            price: Decimal::new(100, 0),
            quantity: Decimal::from(QUANTITY),
            at: at(),
        });
        let acknowledge = BookCommand::Acknowledge(StatusReport {
            order_id: ORDER,
            venue_seq: Some(1),
            at: at(),
        });
        book.apply(&place).expect("the fixture's order is placed");
        book.apply(&acknowledge)
            .expect("the fixture's order is acknowledged");
        book
    }

    /// A venue fill report for [`ORDER`] with this cumulative filled quantity.
    pub fn fill(cumulative: i64, venue_seq: u64) -> BookCommand {
        BookCommand::Fill(FillReport {
            order_id: ORDER,
            cumulative_filled: Decimal::from(cumulative),
            fill_price: None,
            trade_id: None,
            venue_seq: Some(venue_seq),
            at: at(),
        })
    }

    /// Asserts that `snapshot` is counted whole ([`assert_counted`]) and that its book satisfies
    /// the book's invariants.
    ///
    /// # Panics
    ///
    /// With a message starting "torn snapshot" when the counts and `last_seq` differ, and when
    /// the book breaks an invariant.
    pub fn assert_consistent(snapshot: &Snapshot<Book>) {
        assert_counted(snapshot);
        snapshot
            .state()
            .check_invariants()
            .expect("a published book satisfies its invariants");
    }

    /// As [`assert_consistent`], and also that the book is exactly `expected[k]`, where `k` is
    /// the snapshot's `last_seq`: for models where one producer submits `expected`'s commands in
    /// order.
    ///
    /// # Panics
    ///
    /// With a message starting "torn snapshot" when the snapshot is not that whole prefix, and
    /// when the book breaks an invariant.
    pub fn assert_whole(snapshot: &Snapshot<Book>, expected: &[Book]) {
        assert_counted(snapshot);
        let last_seq = usize::try_from(snapshot.last_seq().0).expect("a small sequence number");
        assert!(
            *snapshot.state() == expected[last_seq],
            "torn snapshot: {snapshot:?} is not the book after commands 1..={last_seq}"
        );
        snapshot
            .state()
            .check_invariants()
            .expect("a published book satisfies its invariants");
    }
}

/// [`Marks`] can be journaled: a command is its bit number (4 bytes), the state its bit set (8
/// bytes), little-endian; there is no configuration.
impl snapstate::journal::Durable for Marks {
    const FORMAT: &'static str = "loom.marks/1";
    type Config = ();

    fn config(&self) {}

    fn encode_config((): &(), _out: &mut Vec<u8>) -> Result<(), CodecError> {
        Ok(())
    }

    fn decode_config(bytes: &[u8]) -> Result<(), CodecError> {
        if bytes.is_empty() {
            Ok(())
        } else {
            Err(CodecError::new("marks have no configuration"))
        }
    }

    fn encode_command(command: &Mark, out: &mut Vec<u8>) -> Result<(), CodecError> {
        out.extend_from_slice(&command.0.to_le_bytes());
        Ok(())
    }

    fn decode_command(bytes: &[u8]) -> Result<Mark, CodecError> {
        let bytes: [u8; 4] = bytes
            .try_into()
            .map_err(|_| CodecError::new("a mark is 4 bytes"))?;
        Ok(Mark(u32::from_le_bytes(bytes)))
    }

    fn encode_state(&self, out: &mut Vec<u8>) -> Result<(), CodecError> {
        out.extend_from_slice(&self.bits.to_le_bytes());
        Ok(())
    }

    fn decode_state(bytes: &[u8], (): &()) -> Result<Self, CodecError> {
        let bytes: [u8; 8] = bytes
            .try_into()
            .map_err(|_| CodecError::new("marks are 8 bytes"))?;
        Ok(Self {
            bits: u64::from_le_bytes(bytes),
        })
    }
}
