//! Engine benchmarks: snapshot loads (full and cached, idle and under a writer) at 1k, 10k and
//! 100k slots; throughput through the engine by batch size (1, 16, 256, saturated); and the
//! book's apply in place against the first write after a publication.
//!
//! The workload is the comparison's (`snapstate_cli::bench::workload`): the same books and the
//! same stream of fill and status updates that `snapstate bench` uses.
//!
//! Run: `cargo bench --bench engine`.

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use snapstate::book::{Book, BookCommand};
use snapstate::engine::{Engine, EngineConfig};
use snapstate_cli::bench::workload::{SLOT_COUNTS, Workload};

/// Seed of the update streams.
const SEED: u64 = 7;

fn engine(workload: &Workload, config: EngineConfig) -> Engine<Book> {
    Engine::start(workload.initial_book(), config).expect("the engine starts")
}

fn snapshot_loads(c: &mut Criterion) {
    let mut group = c.benchmark_group("snapshot_load");
    group.measurement_time(Duration::from_secs(2));
    for slots in SLOT_COUNTS {
        let workload = Workload::new(slots);
        let engine = engine(&workload, EngineConfig::default());
        let reader = engine.read_handle();
        group.bench_with_input(BenchmarkId::new("full/idle", slots), &slots, |b, _| {
            b.iter(|| black_box(reader.load()));
        });
        let mut cached = reader.reader();
        group.bench_with_input(BenchmarkId::new("cached/idle", slots), &slots, |b, _| {
            b.iter(|| black_box(cached.load().version()));
        });

        let stop = AtomicBool::new(false);
        thread::scope(|scope| {
            let writer = engine.write_handle();
            let mut updates = workload.updates(SEED);
            let stop = &stop;
            scope.spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    for _ in 0..256 {
                        writer.submit(updates.next_command()).expect("accepted");
                    }
                }
            });
            group.bench_with_input(
                BenchmarkId::new("full/under_writer", slots),
                &slots,
                |b, _| b.iter(|| black_box(reader.load())),
            );
            group.bench_with_input(
                BenchmarkId::new("cached/under_writer", slots),
                &slots,
                |b, _| b.iter(|| black_box(cached.load().version())),
            );
            stop.store(true, Ordering::Relaxed);
        });
        drop(cached);
        engine.shutdown().expect("clean shutdown");
    }
    group.finish();
}

fn engine_throughput(c: &mut Criterion) {
    const COMMANDS: u64 = 16_384;
    let workload = Workload::new(10_000);
    let mut group = c.benchmark_group("engine_apply");
    group.throughput(Throughput::Elements(COMMANDS));
    group.measurement_time(Duration::from_secs(3));
    for max_batch in [1_usize, 16, 256, 65_536] {
        let label = if max_batch == 65_536 {
            "saturated".to_owned()
        } else {
            max_batch.to_string()
        };
        let engine = engine(
            &workload,
            EngineConfig {
                max_batch,
                ..EngineConfig::default()
            },
        );
        let writer = engine.write_handle();
        let mut updates = workload.updates(SEED);
        group.bench_function(BenchmarkId::new("batch", label), |b| {
            b.iter_custom(|iterations| {
                let mut total = Duration::ZERO;
                for _ in 0..iterations {
                    let commands: Vec<BookCommand> =
                        (0..COMMANDS).map(|_| updates.next_command()).collect();
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
    for slots in SLOT_COUNTS {
        let workload = Workload::new(slots);
        let mut book: Book = workload.initial_book();
        let mut updates = workload.updates(SEED);
        group.bench_with_input(BenchmarkId::new("in_place", slots), &slots, |b, _| {
            b.iter(|| black_box(book.apply(&updates.next_command())));
        });
        group.bench_with_input(BenchmarkId::new("after_publish", slots), &slots, |b, _| {
            // The worst case: every command is the first after a publication, so it copies
            // the path from the root to its entry (and its record).
            b.iter(|| {
                let published = book.clone();
                let applied = book.apply(&updates.next_command());
                black_box((published, applied))
            });
        });
    }
    group.finish();
}

criterion_group!(benches, snapshot_loads, engine_throughput, book_apply);
criterion_main!(benches);
