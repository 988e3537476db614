//! Engine benchmarks: snapshot loads (full and cached, idle and under a writer) at 1k, 10k and
//! 100k slots; throughput through the engine by batch limit (1, 16, 256, 4,096, and the
//! default 65,536) and, for the engine's own cost, with a trivial state machine; and the book's apply
//! in place against the first write after a publication.
//!
//! The workload is the comparison's (`snapstate_bench::workload`): the same books and the
//! same stream of fill and status updates that `snapstate bench` uses.
//!
//! Run: `cargo bench --bench engine`.

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use snapstate::book::Book;
use snapstate::engine::{Engine, EngineConfig, Labelled, StateMachine};
use snapstate_bench::workload::{SLOT_COUNTS, Workload};

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
    let workload = Workload::new(10_000);
    let mut group = c.benchmark_group("engine_apply");
    group.throughput(Throughput::Elements(COMMANDS));
    group.measurement_time(Duration::from_secs(3));
    for max_batch in [1_usize, 16, 256, 4_096, 65_536] {
        let label = match max_batch {
            65_536 => "65536_default".to_owned(),
            _ => max_batch.to_string(),
        };
        let mut updates = workload.updates(SEED);
        submit_and_flush(
            &mut group,
            BenchmarkId::new("batch", label),
            workload.initial_book(),
            max_batch,
            || updates.next_command(),
        );
    }
    // The engine's own machinery (queue, batching, publication, counting) with a state machine
    // that does almost nothing, at the default batch limit.
    submit_and_flush(
        &mut group,
        BenchmarkId::new("trivial_state", "default"),
        Sum::default(),
        EngineConfig::default().max_batch,
        || 1,
    );
    group.finish();
}

/// Commands per measured burst: submitted as fast as the queue takes them, then flushed.
const COMMANDS: u64 = 16_384;

/// Measures bursts of [`COMMANDS`] commands from `next` through an engine on `state` with
/// `max_batch`, each burst submitted and then flushed.
fn submit_and_flush<S: StateMachine>(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    id: BenchmarkId,
    state: S,
    max_batch: usize,
    mut next: impl FnMut() -> S::Command,
) {
    let engine = Engine::start(
        state,
        EngineConfig {
            max_batch,
            ..EngineConfig::default()
        },
    )
    .expect("the engine starts");
    let writer = engine.write_handle();
    group.bench_function(id, |b| {
        b.iter_custom(|iterations| {
            let mut total = Duration::ZERO;
            for _ in 0..iterations {
                let commands: Vec<S::Command> = (0..COMMANDS).map(|_| next()).collect();
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

/// The least a state machine can do: add each command to a sum.
#[derive(Clone, Debug, Default)]
struct Sum(u64);

/// [`Sum`]'s only outcome.
#[derive(Debug)]
struct Added;

impl Labelled for Added {
    const LABELS: &'static [&'static str] = &["added"];
    fn label_index(&self) -> usize {
        0
    }
}

/// [`Sum`] never refuses a command.
#[derive(Debug, thiserror::Error)]
#[error("never")]
enum Never {}

impl Labelled for Never {
    const LABELS: &'static [&'static str] = &[];
    fn label_index(&self) -> usize {
        match *self {}
    }
}

impl StateMachine for Sum {
    type Command = u64;
    type Applied = Added;
    type Rejected = Never;
    fn apply(&mut self, amount: &u64) -> Result<Added, Never> {
        self.0 = self.0.wrapping_add(*amount);
        Ok(Added)
    }
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
