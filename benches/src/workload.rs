//! The comparison workload, written once and used by both `snapstate bench` and the criterion
//! benches in the root `benches/`: a grid of `slots` levels, the commands that fill it with one
//! live order per slot, and a deterministic stream of random fill and status updates.
//!
//! Every contender applies exactly these commands through [`Book::apply`], so the comparison
//! measures how each design shares the book between threads, not different book logic.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rust_decimal::Decimal;
use snapstate::book::{
    Book, BookCommand, BookConfig, FillReport, Grid, Level, OrderId, Place, Side, Standard,
    StatusReport, Storage,
};
use snapstate::time::{Clock, Timestamp};

/// The slot counts that the issue asks about: 1k, 10k (the default) and 100k.
pub const SLOT_COUNTS: [u32; 3] = [1_000, 10_000, 100_000];

/// The default slot count.
pub const DEFAULT_SLOTS: u32 = 10_000;

/// Out of 100: how often an update to a live order cancels it rather than filling it.
const CANCEL_PERCENT: u64 = 8;
/// New orders get a quantity of `MIN_QUANTITY..=MAX_QUANTITY` lots.
const MIN_QUANTITY: u64 = 10;
const MAX_QUANTITY: u64 = 100;
/// A fill adds `1..=MAX_FILL_STEP` lots to an order's cumulative quantity.
const MAX_FILL_STEP: u64 = 4;
/// Quantity of the orders that the initial load places.
const INITIAL_QUANTITY: u64 = 1_000;
/// Every this many initial orders (ids 1, 4, 7, …), [`Workload::partial_fill_commands`] fills one.
const PARTIAL_FILL_EVERY: u32 = 3;
/// How many lots it fills each of them by.
const PARTIAL_FILL: u64 = 4;
/// Each command's `at` is this much later than the previous one's (a logical clock, so that the
/// stream does not depend on how fast it is consumed).
const STEP_NANOS: u64 = 1_000;

/// The shape of one benchmark run: the grid and the book configuration every contender uses.
#[derive(Clone, Debug)]
pub struct Workload {
    slots: u32,
    grid: Grid,
    config: BookConfig,
}

impl Workload {
    /// A workload over `slots` grid levels (at least 1), 0.01 apart, the lowest at 100.
    ///
    /// The book keeps at most `slots` finished orders as tombstones, so that the index stays
    /// at about twice the slot count however long a run lasts (the default limit of 100,000
    /// would let a fast contender's state grow far beyond "N slots" within a second).
    ///
    /// # Panics
    ///
    /// If the grid cannot be built (it always can for `1..=u32::MAX` levels around 100).
    pub fn new(slots: u32) -> Self {
        let slots = slots.max(1);
        // Levels 0.01 apart, centred so that the lowest price is 100: positive at any size.
        let mid = Decimal::new(100, 0) + Decimal::new(i64::from(slots / 2), 2);
        let grid = Grid::centred(mid, Decimal::new(1, 2), slots)
            .expect("a centred grid with a step of 0.01 and positive prices is valid");
        let mut config = BookConfig::new(grid.clone());
        config.max_tombstones = slots as usize;
        Self {
            slots,
            grid,
            config,
        }
    }

    /// How many slots.
    pub fn slots(&self) -> u32 {
        self.slots
    }

    /// The book configuration every contender starts from.
    pub fn book_config(&self) -> &BookConfig {
        &self.config
    }

    /// The commands that give every slot one live (acknowledged) order: a place and an
    /// acknowledgement per level, order ids `1..=slots`.
    pub fn initial_commands(&self) -> Vec<BookCommand> {
        let mut commands = Vec::with_capacity(2 * self.slots as usize);
        let at = Timestamp::from_nanos(STEP_NANOS);
        for index in 0..self.slots {
            let level = self.level(index);
            let order_id = OrderId(u64::from(index) + 1);
            commands.push(BookCommand::Place(Place {
                order_id,
                level,
                side: side_of(level),
                price: self.price(level),
                quantity: Decimal::from(INITIAL_QUANTITY),
                at,
            }));
            commands.push(BookCommand::Acknowledge(StatusReport {
                order_id,
                venue_seq: Some(1),
                at,
            }));
        }
        commands
    }

    /// A book with storage `S` holding the initial load.
    ///
    /// # Panics
    ///
    /// If the book refuses an initial command (a bug in the workload).
    pub fn initial_book<S: Storage>(&self) -> Book<S> {
        let mut book = Book::with_storage(self.config.clone());
        for command in self.initial_commands() {
            book.apply(&command)
                .expect("the initial load applies cleanly");
        }
        book
    }

    /// The same, with `std` storage (every contender but snapstate).
    pub fn initial_standard_book(&self) -> Book<Standard> {
        self.initial_book()
    }

    /// Fills on every third order of the initial load (ids 1, 4, 7, …), four lots
    /// each, as the venue's second report on it. Applied after [`initial_commands`], they leave
    /// a book of open and partially filled orders; applied again, they change nothing (they
    /// repeat known quantities). `snapstate bench` does not use them; the reconciliation
    /// benchmark (`benches/benches/reconcile.rs`) does.
    ///
    /// [`initial_commands`]: Self::initial_commands
    pub fn partial_fill_commands(&self) -> Vec<BookCommand> {
        let at = Timestamp::from_nanos(STEP_NANOS);
        (0..self.slots)
            .step_by(PARTIAL_FILL_EVERY as usize)
            .map(|index| {
                BookCommand::Fill(FillReport {
                    order_id: OrderId(u64::from(index) + 1),
                    cumulative_filled: Decimal::from(PARTIAL_FILL),
                    fill_price: None,
                    trade_id: None,
                    venue_seq: Some(2),
                    at,
                })
            })
            .collect()
    }

    /// A book with storage `S` holding the initial load and the
    /// [partial fills](Self::partial_fill_commands).
    ///
    /// # Panics
    ///
    /// If the book refuses one of the commands (a bug in the workload).
    pub fn partly_filled_book<S: Storage>(&self) -> Book<S> {
        let mut book = self.initial_book();
        for command in self.partial_fill_commands() {
            book.apply(&command)
                .expect("the partial fills apply cleanly");
        }
        book
    }

    /// The stream of updates that follows the initial load, seeded for repeatability.
    pub fn updates(&self, seed: u64) -> Updates {
        let slots = (0..self.slots)
            .map(|index| {
                let level = self.level(index);
                SlotModel {
                    order_id: OrderId(u64::from(index) + 1),
                    side: side_of(level),
                    price: self.price(level),
                    level,
                    quantity: INITIAL_QUANTITY,
                    filled: 0,
                    venue_seq: 1,
                    state: ModelState::Live,
                }
            })
            .collect();
        Updates {
            random: SplitMix64::new(seed),
            slots,
            next_order_id: u64::from(self.slots) + 1,
            next_trade_id: 1,
            at: STEP_NANOS,
        }
    }

    fn level(&self, index: u32) -> Level {
        let offset = i32::try_from(index).expect("slot counts fit in i32");
        Level(self.grid.lowest().0 + offset)
    }

    fn price(&self, level: Level) -> Decimal {
        self.grid
            .price_of(level)
            .expect("levels come from the grid")
    }
}

fn side_of(level: Level) -> Side {
    if level.0 < 0 { Side::Buy } else { Side::Sell }
}

/// What the producer believes about one slot, so that it sends only commands that make sense
/// (the venue's view of its orders).
#[derive(Clone, Debug)]
struct SlotModel {
    order_id: OrderId,
    level: Level,
    side: Side,
    price: Decimal,
    quantity: u64,
    filled: u64,
    venue_seq: u64,
    state: ModelState,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ModelState {
    /// The last order finished; the next update places a new one.
    Idle,
    /// Placed, not acknowledged.
    Pending,
    /// Acknowledged, possibly partly filled.
    Live,
}

/// An endless, deterministic stream of updates: pick a slot uniformly at random; if its order
/// is live, fill it by a few lots (completing it at its quantity) or, 8 times in 100, cancel
/// it; if it is pending, acknowledge it; if the slot is idle, place a new order.
///
/// Over a million updates at 10,000 slots: 77% fills, 8% acknowledgements, 7% cancels and 8%
/// placements; one update in twelve finishes an order. Generating one costs a few nanoseconds.
#[derive(Clone, Debug)]
pub struct Updates {
    random: SplitMix64,
    slots: Vec<SlotModel>,
    next_order_id: u64,
    next_trade_id: u64,
    at: u64,
}

impl Updates {
    /// The next update.
    pub fn next_command(&mut self) -> BookCommand {
        self.at += STEP_NANOS;
        let at = Timestamp::from_nanos(self.at);
        let index = self.random.below(self.slots.len() as u64) as usize;
        let roll = self.random.below(100);
        let step = 1 + self.random.below(MAX_FILL_STEP);
        let quantity = MIN_QUANTITY + self.random.below(MAX_QUANTITY - MIN_QUANTITY + 1);
        let slot = &mut self.slots[index];
        slot.venue_seq += 1;
        let venue_seq = Some(slot.venue_seq);
        match slot.state {
            ModelState::Idle => {
                slot.order_id = OrderId(self.next_order_id);
                self.next_order_id += 1;
                slot.quantity = quantity;
                slot.filled = 0;
                slot.venue_seq = 0;
                slot.state = ModelState::Pending;
                BookCommand::Place(Place {
                    order_id: slot.order_id,
                    level: slot.level,
                    side: slot.side,
                    price: slot.price,
                    quantity: Decimal::from(quantity),
                    at,
                })
            }
            ModelState::Pending => {
                slot.state = ModelState::Live;
                BookCommand::Acknowledge(StatusReport {
                    order_id: slot.order_id,
                    venue_seq,
                    at,
                })
            }
            ModelState::Live if roll < CANCEL_PERCENT => {
                slot.state = ModelState::Idle;
                BookCommand::Cancel(StatusReport {
                    order_id: slot.order_id,
                    venue_seq,
                    at,
                })
            }
            ModelState::Live => {
                slot.filled = (slot.filled + step).min(slot.quantity);
                if slot.filled == slot.quantity {
                    slot.state = ModelState::Idle;
                }
                let trade_id = self.next_trade_id;
                self.next_trade_id += 1;
                BookCommand::Fill(FillReport {
                    order_id: slot.order_id,
                    cumulative_filled: Decimal::from(slot.filled),
                    fill_price: Some(slot.price),
                    trade_id: Some(trade_id),
                    venue_seq,
                    at,
                })
            }
        }
    }
}

/// SplitMix64: a tiny, fast, well-mixed generator; plenty for choosing slots and sizes.
#[derive(Clone, Debug)]
struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..bound` (Lemire's multiply-shift; the bias is below 2^-32 for the bounds
    /// used here).
    fn below(&mut self, bound: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(bound)) >> 64) as u64
    }
}

/// A monotonic clock in the library's [`Timestamp`] terms: nanoseconds since the clock was
/// made. The snapstate contender stamps its snapshots with it, and the producer stamps submits
/// with it, so the two can be subtracted.
#[derive(Clone, Debug)]
pub struct MonotonicClock {
    origin: Arc<Instant>,
}

impl MonotonicClock {
    /// A clock that starts at zero now.
    pub fn new() -> Self {
        Self {
            origin: Arc::new(Instant::now()),
        }
    }

    /// Nanoseconds since the clock was made.
    pub fn nanos(&self) -> u64 {
        duration_nanos(self.origin.elapsed())
    }

    /// The instant this clock read as `timestamp` (its start plus the timestamp's nanoseconds).
    pub fn instant_at(&self, timestamp: Timestamp) -> Instant {
        *self.origin + Duration::from_nanos(timestamp.as_nanos())
    }

    /// Nanoseconds from the clock's start to `instant` (zero for an earlier instant).
    pub fn nanos_at(&self, instant: Instant) -> u64 {
        duration_nanos(instant.saturating_duration_since(*self.origin))
    }
}

impl Default for MonotonicClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for MonotonicClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_nanos(self.nanos())
    }
}

/// A duration in whole nanoseconds, saturating.
pub fn duration_nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use snapstate::book::{OrderStatus, Persistent};

    use super::*;

    #[test]
    fn every_update_of_a_long_stream_applies_and_keeps_the_invariants() {
        let workload = Workload::new(50);
        let mut book: Book<Persistent> = workload.initial_book();
        let mut updates = workload.updates(7);
        for _ in 0..20_000 {
            let command = updates.next_command();
            let applied = book.apply(&command);
            assert!(applied.is_ok(), "{command:?} was refused: {applied:?}");
        }
        book.check_invariants().expect("invariants hold");
        assert!(
            book.order_count() <= 100,
            "tombstones are bounded by the slot count"
        );
    }

    /// The mix the docs state (here and in `docs/benchmarks.md`): over a million updates at
    /// 10,000 slots, 77% fills, 8% acknowledgements, 7% cancels, 8% placements, and one update
    /// in twelve finishing an order (a cancel or a fill up to the quantity).
    #[test]
    fn the_update_mix_is_the_documented_one() {
        const UPDATES: u32 = 1_000_000;
        let workload = Workload::new(10_000);
        let mut updates = workload.updates(7);
        let mut quantities: std::collections::HashMap<OrderId, Decimal> = workload
            .initial_commands()
            .iter()
            .filter_map(|command| match command {
                BookCommand::Place(place) => Some((place.order_id, place.quantity)),
                _ => None,
            })
            .collect();
        let (mut fills, mut acknowledgements, mut cancels, mut placements, mut finishing) =
            (0_u32, 0_u32, 0_u32, 0_u32, 0_u32);
        for _ in 0..UPDATES {
            match updates.next_command() {
                BookCommand::Fill(fill) => {
                    fills += 1;
                    if quantities.get(&fill.order_id) == Some(&fill.cumulative_filled) {
                        finishing += 1;
                    }
                }
                BookCommand::Acknowledge(_) => acknowledgements += 1,
                BookCommand::Cancel(_) => {
                    cancels += 1;
                    finishing += 1;
                }
                BookCommand::Place(place) => {
                    placements += 1;
                    quantities.insert(place.order_id, place.quantity);
                }
                other => panic!("the workload sends no {other:?}"),
            }
        }
        let percent = |count: u32| f64::from(count) * 100.0 / f64::from(UPDATES);
        for (what, count, documented) in [
            ("fills", fills, 77.0),
            ("acknowledgements", acknowledgements, 8.0),
            ("cancels", cancels, 7.0),
            ("placements", placements, 8.0),
            ("finishing updates", finishing, 100.0 / 12.0),
        ] {
            assert!(
                (percent(count) - documented).abs() < 1.0,
                "{what}: {:.2}% of the updates, documented as {documented:.1}%",
                percent(count)
            );
        }
    }

    #[test]
    fn the_largest_workload_builds() {
        let book: Book<Persistent> = Workload::new(100_000).initial_book();
        assert_eq!(book.live_count(), 100_000);
    }

    #[test]
    fn the_partial_fills_fill_every_third_order_and_repeat_as_no_change() {
        let workload = Workload::new(10);
        let mut book: Book<Persistent> = workload.partly_filled_book();
        assert_eq!(book.count(OrderStatus::PartiallyFilled), 4);
        assert_eq!(book.count(OrderStatus::Open), 6);
        let before = book.clone();
        for command in workload.partial_fill_commands() {
            book.apply(&command)
                .expect("a repeated fill is not refused");
        }
        assert_eq!(book.orders_by_id(), before.orders_by_id());
        assert_eq!(book.net_position(), before.net_position());
    }

    #[test]
    fn the_stream_is_the_same_for_the_same_seed_and_differs_for_another() {
        let workload = Workload::new(20);
        let first: Vec<_> = {
            let mut updates = workload.updates(1);
            (0..100).map(|_| updates.next_command()).collect()
        };
        let again: Vec<_> = {
            let mut updates = workload.updates(1);
            (0..100).map(|_| updates.next_command()).collect()
        };
        let other: Vec<_> = {
            let mut updates = workload.updates(2);
            (0..100).map(|_| updates.next_command()).collect()
        };
        assert_eq!(first, again);
        assert_ne!(first, other);
    }

    #[test]
    fn persistent_and_standard_books_end_equal_on_the_same_stream() {
        // Enough slots for the persistent book's level array to have two branch levels, and
        // snapshots taken along the way, which its changes must copy around.
        let workload = Workload::new(3_000);
        let mut persistent: Book<Persistent> = workload.initial_book();
        let mut standard = workload.initial_standard_book();
        let mut updates = workload.updates(3);
        let mut snapshots = Vec::new();
        for step in 0..30_000 {
            if step % 5_000 == 0 {
                snapshots.push((persistent.clone(), standard.clone()));
            }
            let command = updates.next_command();
            assert_eq!(persistent.apply(&command), standard.apply(&command));
        }
        snapshots.push((persistent, standard));
        for (persistent, standard) in &snapshots {
            assert_eq!(persistent.net_position(), standard.net_position());
            assert_eq!(persistent.status_counts(), standard.status_counts());
            assert_eq!(persistent.orders_by_id(), standard.orders_by_id());
            assert_eq!(persistent.slots_by_price(), standard.slots_by_price());
            persistent.check_invariants().expect("invariants hold");
        }
    }
}
