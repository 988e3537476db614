//! Engine benchmarks: snapshot loads (full and cached, idle and under a writer) at 1k, 10k and
//! 100k slots, and throughput through the engine by batch size.
//!
//! Run: `cargo bench --bench engine`.

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use rust_decimal::Decimal;
use snapstate::book::{
    Book, BookCommand, BookConfig, FillReport, Grid, Level, OrderId, Place, Side,
};
use snapstate::engine::{Engine, EngineConfig, WriteHandle};
use snapstate::time::Timestamp;

const SIZES: [u32; 3] = [1_000, 10_000, 100_000];

/// A book with `slots` live buy orders of a huge quantity, one per level, so that fills can
/// keep coming for as long as a benchmark runs.
fn loaded_engine(slots: u32, config: EngineConfig) -> Engine<Book> {
    let grid = Grid::centred(Decimal::new(100, 0), Decimal::new(1, 2), slots).expect("grid");
    let engine = Engine::start(Book::new(BookConfig::new(grid.clone())), config).expect("start");
    let writer = engine.write_handle();
    for index in 0..slots {
        let level = Level(grid.lowest().0 + i32::try_from(index).expect("fits"));
        writer
            .submit(BookCommand::Place(Place {
                order_id: OrderId(u64::from(index)),
                level,
                side: Side::Buy,
                price: grid.price_of(level).expect("on grid"),
                quantity: Decimal::from(u64::MAX),
                at: Timestamp::from_millis(1),
            }))
            .expect("accepted");
    }
    writer.flush().expect("flushed");
    engine
}

/// Fill reports that each raise one order's cumulative quantity by one, cycling over orders.
struct Fills {
    slots: u64,
    next: u64,
}

impl Fills {
    fn new(slots: u32) -> Self {
        Self {
            slots: u64::from(slots),
            next: 0,
        }
    }

    fn next_command(&mut self) -> BookCommand {
        let order = self.next % self.slots;
        let cumulative = self.next / self.slots + 1;
        self.next += 1;
        BookCommand::Fill(FillReport {
            order_id: OrderId(order),
            cumulative_filled: Decimal::from(cumulative),
            fill_price: None,
            trade_id: None,
            venue_seq: None,
            at: Timestamp::from_millis(2),
        })
    }
}

/// Submits fills until told to stop.
fn background_writer(
    writer: WriteHandle<Book>,
    slots: u32,
    stop: Arc<AtomicBool>,
) -> thread::JoinHandle<u64> {
    thread::spawn(move || {
        let mut fills = Fills::new(slots);
        let mut sent = 0;
        while !stop.load(Ordering::Relaxed) {
            for _ in 0..256 {
                writer.submit(fills.next_command()).expect("accepted");
            }
            sent += 256;
        }
        sent
    })
}

fn snapshot_loads(c: &mut Criterion) {
    let mut group = c.benchmark_group("snapshot_load");
    group.measurement_time(Duration::from_secs(2));
    for slots in SIZES {
        let engine = loaded_engine(slots, EngineConfig::default());
        let reader = engine.read_handle();
        group.bench_with_input(BenchmarkId::new("full/idle", slots), &slots, |b, _| {
            b.iter(|| black_box(reader.load()));
        });
        let mut cached = reader.reader();
        group.bench_with_input(BenchmarkId::new("cached/idle", slots), &slots, |b, _| {
            b.iter(|| black_box(cached.load().version()));
        });

        let stop = Arc::new(AtomicBool::new(false));
        let writer = background_writer(engine.write_handle(), slots, Arc::clone(&stop));
        group.bench_with_input(
            BenchmarkId::new("full/under_writer", slots),
            &slots,
            |b, _| {
                b.iter(|| black_box(reader.load()));
            },
        );
        group.bench_with_input(
            BenchmarkId::new("cached/under_writer", slots),
            &slots,
            |b, _| {
                b.iter(|| black_box(cached.load().version()));
            },
        );
        stop.store(true, Ordering::Relaxed);
        writer.join().expect("writer stopped");
        engine.shutdown().expect("clean shutdown");
    }
    group.finish();
}

fn engine_throughput(c: &mut Criterion) {
    const COMMANDS: u64 = 16_384;
    const SLOTS: u32 = 10_000;
    let mut group = c.benchmark_group("engine_apply");
    group.throughput(Throughput::Elements(COMMANDS));
    group.measurement_time(Duration::from_secs(3));
    for max_batch in [1_usize, 16, 256, 65_536] {
        let label = if max_batch == 65_536 {
            "saturated".to_owned()
        } else {
            max_batch.to_string()
        };
        let engine = loaded_engine(
            SLOTS,
            EngineConfig {
                max_batch,
                ..EngineConfig::default()
            },
        );
        let writer = engine.write_handle();
        let mut fills = Fills::new(SLOTS);
        group.bench_function(BenchmarkId::new("batch", label), |b| {
            b.iter_custom(|iterations| {
                let mut total = Duration::ZERO;
                for _ in 0..iterations {
                    let commands: Vec<BookCommand> =
                        (0..COMMANDS).map(|_| fills.next_command()).collect();
                    let started = Instant::now();
                    for command in commands {
                        writer.submit(command).expect("accepted");
                    }
                    writer.flush().expect("flushed");
                    total += started.elapsed();
                }
                total
            });
        });
        engine.shutdown().expect("clean shutdown");
    }
    group.finish();
}

fn book_apply(c: &mut Criterion) {
    let mut group = c.benchmark_group("book_apply");
    group.throughput(Throughput::Elements(1));
    group.measurement_time(Duration::from_secs(2));
    for slots in SIZES {
        let engine = loaded_engine(slots, EngineConfig::default());
        let mut book = engine.read_handle().load().state().clone();
        let mut fills = Fills::new(slots);
        group.bench_with_input(BenchmarkId::new("in_place", slots), &slots, |b, _| {
            b.iter(|| black_box(book.apply(&fills.next_command())));
        });
        group.bench_with_input(BenchmarkId::new("after_publish", slots), &slots, |b, _| {
            // The worst case: every command is the first after a publication, so it copies
            // the path from the root to its entry.
            b.iter(|| {
                let published = book.clone();
                let applied = book.apply(&fills.next_command());
                black_box((published, applied))
            });
        });
        engine.shutdown().expect("clean shutdown");
    }
    group.finish();
}

criterion_group!(benches, snapshot_loads, engine_throughput, book_apply);
criterion_main!(benches);
