//! The two concurrency tests of the original problem, rewritten for this design: readers take
//! reconciliation-style snapshots while producers stream updates. Every snapshot a reader loads
//! must pass the book's invariants and stay unchanged while held; every reader sees versions
//! only go up; some reader loads a version published while writes were still to come (the reads
//! really overlapped the writes); and at the end applied plus rejected equals what was
//! submitted.
//!
//! Each test runs against both writers: the threaded engine, and the inline writer shared by
//! the producers (its publications race the readers the same way).

mod common;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

use common::writers::{Started, WriterKind};
use rust_decimal::Decimal;
use snapstate::book::{Book, Level, OrderId, Rejection};
use snapstate::engine::{EngineConfig, Snapshot, Version};

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

/// The highest version any reader has loaded, so that the writing side can wait, halfway through
/// its writes, until a read has seen them; what follows is then written after that read.
#[derive(Default)]
struct Highest(AtomicU64);

impl Highest {
    fn saw(&self, version: Version) {
        self.0.fetch_max(version.0, Ordering::AcqRel);
    }

    /// Waits until some reader has loaded `version` or a later one.
    fn wait_for<T>(&self, version: Version, readers: &[thread::JoinHandle<T>]) {
        while self.0.load(Ordering::Acquire) < version.0 {
            assert!(
                !readers.iter().all(thread::JoinHandle::is_finished),
                "every reader stopped before loading {version}"
            );
            thread::sleep(Duration::from_millis(1));
        }
    }
}

/// Appends `version` to `seen` unless it is the last one there.
fn note(seen: &mut Vec<Version>, version: Version) {
    if seen.last() != Some(&version) {
        seen.push(version);
    }
}

/// Asserts that some reader loaded a version strictly between the initial one and `last`.
fn assert_overlapped(seen: &[Version], last: Version) {
    assert!(
        seen.iter()
            .any(|&version| Version(0) < version && version < last),
        "no read saw a version between the first and the last ({last}): {seen:?}"
    );
}

#[test]
fn updates_stream_while_a_hundred_reconciliation_reads_run() {
    updates_stream_while_reconciliation_reads_run(WriterKind::Threaded);
}

#[test]
fn updates_stream_while_a_hundred_reconciliation_reads_run_with_the_inline_writer() {
    updates_stream_while_reconciliation_reads_run(WriterKind::Inline);
}

fn updates_stream_while_reconciliation_reads_run(kind: WriterKind) {
    let grid = common::grid(200);
    let engine = Started::start(kind, common::book(200), EngineConfig::default());
    let writer = engine.producer();
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

    let done = Arc::new(AtomicBool::new(false));
    let reads = Arc::new(AtomicU64::new(0));
    let highest = Arc::new(Highest::default());
    let readers: Vec<_> = (0..4)
        .map(|_| {
            let reader = engine.read_handle();
            let (done, reads, highest) =
                (Arc::clone(&done), Arc::clone(&reads), Arc::clone(&highest));
            thread::spawn(move || {
                let mut previous = Version(0);
                let mut seen = Vec::new();
                // Until the writes are done, and a hundred reads in all at least.
                while !done.load(Ordering::Acquire) || reads.load(Ordering::Relaxed) < 100 {
                    let snapshot = reader.load();
                    reconciliation_read(&snapshot, &mut previous);
                    highest.saw(snapshot.version());
                    note(&mut seen, snapshot.version());
                    reads.fetch_add(1, Ordering::Relaxed);
                }
                seen
            })
        })
        .collect();
    let second_half = commands.split_off(commands.len() / 2);
    for command in commands {
        writer.submit(command);
    }
    // Nothing more is submitted until a reader has loaded the first half's version, so that
    // version is strictly between the initial and the final one.
    highest.wait_for(writer.flush(), &readers);
    for command in second_half {
        writer.submit(command);
    }
    let last_version = writer.flush();
    done.store(true, Ordering::Release);
    let seen: Vec<Version> = readers
        .into_iter()
        .flat_map(|reader| reader.join().expect("reader passed every check"))
        .collect();
    assert!(reads.load(Ordering::Relaxed) >= 100);
    assert_overlapped(&seen, last_version);

    let last = engine.shutdown();
    let counters = last.counters();
    assert_eq!(counters.applied() + counters.rejected(), submitted);
    assert_eq!(
        last.rejected_of(&Rejection::UnknownOrder(OrderId(0))),
        submitted - counters.applied()
    );
    assert_eq!(last.state().net_position(), expected_position);
    last.state().check_invariants().expect("final invariants");
}

#[test]
fn ten_producers_stream_while_a_reader_snapshots_every_hundred_milliseconds() {
    producers_stream_while_a_reader_snapshots(WriterKind::Threaded);
}

#[test]
fn ten_producers_stream_while_a_reader_snapshots_with_the_inline_writer() {
    producers_stream_while_a_reader_snapshots(WriterKind::Inline);
}

fn producers_stream_while_a_reader_snapshots(kind: WriterKind) {
    const PRODUCERS: u64 = 10;
    let per_producer = 10_000 * common::scale();
    let levels_per_producer = 20_i32;
    let grid = common::grid(u32::try_from(PRODUCERS).expect("small") * 20);
    let engine = Started::start(
        kind,
        common::book(u32::try_from(PRODUCERS).expect("small") * 20),
        EngineConfig {
            queue_capacity: 1_024,
            ..EngineConfig::default()
        },
    );

    let done = Arc::new(AtomicBool::new(false));
    let highest = Arc::new(Highest::default());
    let reader = {
        let reader = engine.read_handle();
        let (done, highest) = (Arc::clone(&done), Arc::clone(&highest));
        thread::spawn(move || {
            let mut previous = Version(0);
            let mut seen = Vec::new();
            loop {
                let finished = done.load(Ordering::Acquire);
                let snapshot = reader.load();
                reconciliation_read(&snapshot, &mut previous);
                highest.saw(snapshot.version());
                note(&mut seen, snapshot.version());
                if finished {
                    return seen;
                }
                thread::sleep(Duration::from_millis(100));
            }
        })
    };
    // Every producer stops halfway until the reader has loaded what is published by then.
    let halfway = Arc::new(Barrier::new(usize::try_from(PRODUCERS).expect("small") + 1));

    let producers: Vec<_> = (0..PRODUCERS)
        .map(|producer| {
            let writer = engine.producer();
            let grid = grid.clone();
            let halfway = Arc::clone(&halfway);
            thread::spawn(move || {
                // Each producer owns a disjoint band of levels and of order ids.
                let lowest =
                    grid.lowest().0 + levels_per_producer * i32::try_from(producer).expect("small");
                let mut submitted = 0_u64;
                let mut position = Decimal::ZERO;
                let mut order = 0_u64;
                let mut waited = false;
                while submitted < per_producer {
                    if !waited && submitted >= per_producer / 2 {
                        halfway.wait(); // this producer is halfway
                        halfway.wait(); // the reader has loaded the first halves
                        waited = true;
                    }
                    order += 1;
                    let order_id = OrderId(producer * 10_000_000 + order);
                    let level = Level(lowest + i32::try_from(order % 20).expect("small"));
                    let (life, signed) =
                        common::life_cycle(&grid, order_id, level, 4, (order % 5) as u32, order);
                    for command in life
                        .into_iter()
                        .chain([common::invalid_command(OrderId(u64::MAX - order))])
                    {
                        writer.submit(command);
                        submitted += 1;
                    }
                    position += signed;
                }
                (submitted, position)
            })
        })
        .collect();
    halfway.wait();
    highest.wait_for(engine.producer().flush(), std::slice::from_ref(&reader));
    halfway.wait();
    let mut submitted = 0;
    let mut expected_position = Decimal::ZERO;
    for producer in producers {
        let (count, position) = producer.join().expect("producer finished");
        submitted += count;
        expected_position += position;
    }
    let last_version = engine.producer().flush();
    done.store(true, Ordering::Release);
    let seen = reader.join().expect("reader passed every check");
    assert_overlapped(&seen, last_version);

    let last = engine.shutdown();
    let counters = last.counters();
    assert_eq!(counters.applied() + counters.rejected(), submitted);
    assert_eq!(counters.total(), last.last_seq().0);
    assert_eq!(last.state().net_position(), expected_position);
    last.state().check_invariants().expect("final invariants");
}
