//! One reconciliation of n slots against n venue orders (all agreeing, the steady state), for
//! n = 1,000, 10,000 and 100,000.
//!
//! Scenarios:
//! * `snapshot`: the diff on an engine snapshot (persistent storage), the venue's list sorted
//!   by id as venues send it.
//! * `rwlock_std`: the same diff on a `Book<Standard>` (std `HashMap`) under a read lock: the
//!   design a user would otherwise pick. The writer is blocked for as long as this runs.
//! * `snapshot_shuffled`: as `snapshot`, with the venue's list in random order (the diff sorts
//!   it first).
//! * `snapshot_under_load`: load a fresh snapshot and diff it while a producer thread keeps
//!   the writer busy with fills: reconciliation from a snapshot while updates keep flowing.
//!
//! Run with `cargo bench --bench reconcile`; one 10k reconciliation is `reconcile/snapshot/10000`.

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::thread;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};
use rust_decimal::Decimal;
use snapstate::book::{
    Book, BookCommand, BookConfig, FillReport, Grid, Level, OrderId, Place, Side, Standard,
    StatusReport, Storage,
};
use snapstate::engine::{Engine, EngineConfig};
use snapstate::reconcile::{Evidence, ReconcileConfig, reconcile};
use snapstate::time::Timestamp;
use snapstate::venue::{VenueOrder, VenueOrderStatus, VenueReport};

const SIZES: [usize; 3] = [1_000, 10_000, 100_000];
const PLACED: Timestamp = Timestamp::from_millis(1_700_000_000_000);

fn now() -> Timestamp {
    PLACED.saturating_add(Duration::from_secs(60))
}

fn grid(slots: usize) -> Grid {
    let half = i32::try_from(slots / 2).expect("fits");
    Grid::new(
        Decimal::from(1_000),
        Decimal::new(1, 2),
        Level(-half),
        Level(half),
    )
    .expect("valid grid")
}

/// The commands that build a book of `slots` live orders, one per slot: buys below level 0,
/// sells above, every third partially filled.
fn commands(slots: usize) -> Vec<BookCommand> {
    let grid = grid(slots);
    let mut commands = Vec::with_capacity(slots * 3);
    let lowest = grid.lowest().0;
    for index in 0..slots {
        let level = Level(lowest + i32::try_from(index).expect("fits"));
        let order_id = OrderId(index as u64 + 1);
        commands.push(BookCommand::Place(Place {
            order_id,
            level,
            side: if level.0 < 0 { Side::Buy } else { Side::Sell },
            price: grid.price_of(level).expect("on the grid"),
            quantity: Decimal::from(10),
            at: PLACED,
        }));
        commands.push(BookCommand::Acknowledge(StatusReport {
            order_id,
            venue_seq: Some(1),
            at: PLACED,
        }));
        if index % 3 == 0 {
            commands.push(BookCommand::Fill(FillReport {
                order_id,
                cumulative_filled: Decimal::from(4),
                fill_price: None,
                trade_id: None,
                venue_seq: Some(2),
                at: PLACED,
            }));
        }
    }
    commands
}

fn book<S: Storage>(slots: usize) -> Book<S> {
    let mut book = Book::<S>::with_storage(BookConfig::new(grid(slots)));
    for command in commands(slots) {
        book.apply(&command).expect("applies");
    }
    book
}

/// A truthful venue answer for `book`, sorted by id.
fn venue<S: Storage>(book: &Book<S>) -> VenueReport {
    let orders = book
        .open_orders()
        .into_iter()
        .map(|order| VenueOrder {
            order_id: order.id(),
            updated_at: PLACED,
            filled: order.filled(),
            status: if order.filled().is_zero() {
                VenueOrderStatus::Open
            } else {
                VenueOrderStatus::PartiallyFilled
            },
            side: order.side(),
            price: order.price(),
            quantity: order.quantity(),
        })
        .collect();
    VenueReport {
        as_of: now(),
        orders,
        net_position: Some(book.net_position()),
    }
}

fn steady_state(c: &mut Criterion) {
    let config = ReconcileConfig::default();
    let evidence = Evidence::new();
    let mut group = c.benchmark_group("reconcile");
    for slots in SIZES {
        if slots >= 100_000 {
            group.sample_size(20);
        }
        let engine = Engine::start(book(slots), EngineConfig::default()).expect("starts");
        let snapshot = engine.read_handle().load();
        let answer = venue(snapshot.state());
        let result = reconcile(snapshot.state(), &answer, &config, now(), &evidence);
        assert!(result.is_clean(), "the benchmark's venue must agree");
        group.bench_with_input(BenchmarkId::new("snapshot", slots), &slots, |b, _| {
            b.iter(|| {
                reconcile(
                    snapshot.state(),
                    black_box(&answer),
                    &config,
                    now(),
                    &evidence,
                )
            });
        });

        let locked = RwLock::new(book::<Standard>(slots));
        group.bench_with_input(BenchmarkId::new("rwlock_std", slots), &slots, |b, _| {
            b.iter(|| {
                let guard = locked.read().expect("not poisoned");
                reconcile(&*guard, black_box(&answer), &config, now(), &evidence)
            });
        });

        let mut shuffled = answer.clone();
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for index in (1..shuffled.orders.len()).rev() {
            let other = rng.random_range(0..=index);
            shuffled.orders.swap(index, other);
        }
        group.bench_with_input(
            BenchmarkId::new("snapshot_shuffled", slots),
            &slots,
            |b, _| {
                b.iter(|| {
                    reconcile(
                        snapshot.state(),
                        black_box(&shuffled),
                        &config,
                        now(),
                        &evidence,
                    )
                });
            },
        );
        drop(snapshot);
        engine.shutdown().expect("clean shutdown");
    }
    group.finish();
}

/// Reconciliation while a producer keeps the writer applying fills to the reconciled orders.
fn under_load(c: &mut Criterion) {
    let slots = 10_000;
    let config = ReconcileConfig::default();
    let evidence = Evidence::new();
    let engine = Engine::start(book(slots), EngineConfig::default()).expect("starts");
    let reader = engine.read_handle();
    let answer = venue(reader.load().state());
    let writer = engine.write_handle();
    let stop = Arc::new(AtomicBool::new(false));
    let producer_stop = Arc::clone(&stop);
    let producer = thread::spawn(move || {
        let mut round = 0_u64;
        while !producer_stop.load(Ordering::Relaxed) {
            // Fill reports that repeat known quantities: the writer applies and publishes them
            // (as duplicates) without moving the book away from the venue's answer.
            let order_id = OrderId(round % (slots as u64 / 3) * 3 + 1);
            let fill = BookCommand::Fill(FillReport {
                order_id,
                cumulative_filled: Decimal::from(4),
                fill_price: None,
                trade_id: None,
                venue_seq: Some(2),
                at: PLACED,
            });
            if writer.try_submit(fill).is_err() {
                thread::yield_now();
            }
            round += 1;
        }
    });
    let mut group = c.benchmark_group("reconcile");
    group.bench_with_input(
        BenchmarkId::new("snapshot_under_load", slots),
        &slots,
        |b, _| {
            b.iter(|| {
                let snapshot = reader.load();
                reconcile(
                    snapshot.state(),
                    black_box(&answer),
                    &config,
                    now(),
                    &evidence,
                )
            });
        },
    );
    group.finish();
    stop.store(true, Ordering::Relaxed);
    producer.join().expect("producer");
    engine.shutdown().expect("clean shutdown");
}

criterion_group!(benches, steady_state, under_load);
criterion_main!(benches);
