//! The two concurrency tests of the original problem, rewritten for this design: readers take
//! reconciliation-style snapshots while producers stream updates. Every snapshot a reader loads
//! must pass the book's invariants and stay unchanged while held; every reader sees versions
//! only go up; and at the end applied plus rejected equals what was submitted.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Duration;

use rust_decimal::Decimal;
use snapstate::book::{Book, Level, OrderId};
use snapstate::engine::{Engine, EngineConfig, Snapshot, Version};

/// What a reconciliation-style read computes from one snapshot: a walk over every slot and
/// open order. Computed twice over the same held snapshot, it must not change.
fn walk(snapshot: &Snapshot<Book>) -> (Decimal, usize, Vec<OrderId>) {
    let book = snapshot.state();
    let slot_sum = book
        .slots_by_price()
        .iter()
        .fold(Decimal::ZERO, |sum, slot| sum + slot.position());
    let open: Vec<OrderId> = book.open_orders().iter().map(|order| order.id()).collect();
    (slot_sum, book.order_count(), open)
}

/// Loads, checks invariants, walks twice while holding, and checks the version went up.
fn reconciliation_read(snapshot: &Snapshot<Book>, previous: &mut Version) {
    snapshot
        .state()
        .check_invariants()
        .unwrap_or_else(|violation| panic!("{}: {violation}", snapshot.version()));
    let first = walk(snapshot);
    thread::yield_now();
    assert_eq!(walk(snapshot), first, "a held snapshot changed");
    assert_eq!(first.0, snapshot.state().net_position());
    assert!(
        snapshot.version() >= *previous,
        "a reader saw a version go back"
    );
    *previous = snapshot.version();
}

#[test]
fn updates_stream_while_a_hundred_reconciliation_reads_run() {
    let grid = common::grid(200);
    let engine = Engine::start(common::book(200), EngineConfig::default()).expect("starts");
    let writer = engine.write_handle();
    let target = 1_000 * common::scale();

    let mut commands = Vec::new();
    let mut expected_position = Decimal::ZERO;
    let mut order = 0_u64;
    while (commands.len() as u64) < target {
        order += 1;
        let level = Level(i32::try_from(order % 200).expect("small") - 100);
        let (life, position) =
            common::life_cycle(&grid, OrderId(order), level, 3, order as u32 % 4, order);
        commands.extend(life);
        expected_position += position;
        commands.push(common::invalid_command(OrderId(1_000_000 + order)));
    }
    let submitted = commands.len() as u64;

    let reads_left = Arc::new(std::sync::atomic::AtomicI64::new(100));
    let readers: Vec<_> = (0..4)
        .map(|_| {
            let reader = engine.read_handle();
            let reads_left = Arc::clone(&reads_left);
            thread::spawn(move || {
                let mut previous = Version(0);
                let mut reads = 0;
                while reads_left.fetch_sub(1, Ordering::AcqRel) > 0 {
                    reconciliation_read(&reader.load(), &mut previous);
                    reads += 1;
                }
                reads
            })
        })
        .collect();
    for command in commands {
        writer.submit(command).expect("accepted");
    }
    let reads: u64 = readers
        .into_iter()
        .map(|reader| reader.join().expect("reader passed every check"))
        .sum();
    assert_eq!(reads, 100);

    let last = engine.shutdown().expect("clean shutdown");
    let counters = last.counters();
    assert_eq!(counters.applied() + counters.rejected(), submitted);
    assert_eq!(
        counters.rejected_count("unknown_order"),
        submitted - counters.applied()
    );
    assert_eq!(last.state().net_position(), expected_position);
    last.state().check_invariants().expect("final invariants");
}

#[test]
fn ten_producers_stream_while_a_reader_snapshots_every_hundred_milliseconds() {
    const PRODUCERS: u64 = 10;
    let per_producer = 10_000 * common::scale();
    let levels_per_producer = 20_i32;
    let grid = common::grid(u32::try_from(PRODUCERS).expect("small") * 20);
    let engine = Engine::start(
        common::book(u32::try_from(PRODUCERS).expect("small") * 20),
        EngineConfig {
            queue_capacity: 1_024,
            ..EngineConfig::default()
        },
    )
    .expect("starts");

    let done = Arc::new(AtomicBool::new(false));
    let reader = {
        let reader = engine.read_handle();
        let done = Arc::clone(&done);
        thread::spawn(move || {
            let mut previous = Version(0);
            let mut loads = 0_u64;
            loop {
                let finished = done.load(Ordering::Acquire);
                reconciliation_read(&reader.load(), &mut previous);
                loads += 1;
                if finished {
                    return loads;
                }
                thread::sleep(Duration::from_millis(100));
            }
        })
    };

    let producers: Vec<_> = (0..PRODUCERS)
        .map(|producer| {
            let writer = engine.write_handle();
            let grid = grid.clone();
            thread::spawn(move || {
                // Each producer owns a disjoint band of levels and of order ids.
                let lowest =
                    grid.lowest().0 + levels_per_producer * i32::try_from(producer).expect("small");
                let mut submitted = 0_u64;
                let mut position = Decimal::ZERO;
                let mut order = 0_u64;
                while submitted < per_producer {
                    order += 1;
                    let order_id = OrderId(producer * 10_000_000 + order);
                    let level = Level(lowest + i32::try_from(order % 20).expect("small"));
                    let (life, signed) =
                        common::life_cycle(&grid, order_id, level, 4, (order % 5) as u32, order);
                    for command in life
                        .into_iter()
                        .chain([common::invalid_command(OrderId(u64::MAX - order))])
                    {
                        writer.submit(command).expect("accepted");
                        submitted += 1;
                    }
                    position += signed;
                }
                (submitted, position)
            })
        })
        .collect();
    let mut submitted = 0;
    let mut expected_position = Decimal::ZERO;
    for producer in producers {
        let (count, position) = producer.join().expect("producer finished");
        submitted += count;
        expected_position += position;
    }
    engine.write_handle().flush().expect("flushed");
    done.store(true, Ordering::Release);
    let loads = reader.join().expect("reader passed every check");
    assert!(loads >= 1);

    let last = engine.shutdown().expect("clean shutdown");
    let counters = last.counters();
    assert_eq!(counters.applied() + counters.rejected(), submitted);
    assert_eq!(counters.total(), last.last_seq().0);
    assert_eq!(last.state().net_position(), expected_position);
    last.state().check_invariants().expect("final invariants");
}
