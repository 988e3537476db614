//! The comparison's designs, one operation at a time: an update through each design's producer
//! (uncontended); a snapshot the design's way at 1k, 10k and 100k slots, idle and under a
//! writer that sends updates as fast as it can; and one reconciliation (snapshot + snapstate's
//! reconciler against a venue report of N orders) at 1k, 10k and 100k slots.
//!
//! The designs and the workload are those of `snapstate bench` (`snapstate_bench`), so
//! these are the figures behind its table, measured in isolation. snapstate's own update cost
//! through the engine is `engine_apply` in `benches/benches/engine.rs`.
//!
//! Run: `cargo bench --bench contenders`.

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Duration;

use criterion::measurement::WallTime;
use criterion::{
    BenchmarkGroup, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main,
};
use snapstate_bench::contender::{Contender, Producer, SnapshotReader};
use snapstate_bench::contenders::{LeftRight, NaiveCow, RwLockDeepCopy, RwLockHeld, Snapstate};
use snapstate_bench::reconcile::{Reconciling, venue_report};
use snapstate_bench::workload::{SLOT_COUNTS, Workload};

const SEED: u64 = 11;

/// One update through the design's producer, on a 10k-slot book, nobody reading.
fn update<C: Contender>(group: &mut BenchmarkGroup<'_, WallTime>, workload: &Workload) {
    let (mut producer, _reader) = C::start(C::build_state(workload));
    let mut updates = workload.updates(SEED);
    group.bench_function(BenchmarkId::new(C::NAME, workload.slots()), |b| {
        b.iter(|| producer.send(updates.next_command()));
    });
    producer.flush();
    producer.finish();
}

fn updates(c: &mut Criterion) {
    let workload = Workload::new(10_000);
    let mut group = c.benchmark_group("update");
    group.throughput(Throughput::Elements(1));
    group.measurement_time(Duration::from_secs(2));
    update::<Snapstate>(&mut group, &workload);
    update::<RwLockDeepCopy>(&mut group, &workload);
    update::<RwLockHeld>(&mut group, &workload);
    update::<LeftRight>(&mut group, &workload);
    // A copy of the whole book per update: milliseconds each, so fewer samples.
    group.sample_size(10);
    update::<NaiveCow>(&mut group, &workload);
    group.finish();
}

/// A snapshot the design's way, idle and then while a producer thread sends updates as fast as
/// it can. Each iteration also reads the net position from the snapshot and drops it (for the
/// copying designs, a few deallocations next to the copy).
fn snapshot<C: Contender>(group: &mut BenchmarkGroup<'_, WallTime>, workload: &Workload) {
    let (producer, mut reader) = C::start(C::build_state(workload));
    let slots = workload.slots();
    group.bench_with_input(
        BenchmarkId::new(format!("{}/idle", C::NAME), slots),
        &slots,
        |b, _| b.iter(|| black_box(reader.snapshot().net_position())),
    );
    let stop = AtomicBool::new(false);
    let mut producer = thread::scope(|scope| {
        let stop = &stop;
        let mut updates = workload.updates(SEED);
        let writing = scope.spawn(move || {
            let mut producer = producer;
            while !stop.load(Ordering::Relaxed) {
                for _ in 0..64 {
                    producer.send(updates.next_command());
                }
            }
            producer
        });
        group.bench_with_input(
            BenchmarkId::new(format!("{}/under_writer", C::NAME), slots),
            &slots,
            |b, _| b.iter(|| black_box(reader.snapshot().net_position())),
        );
        stop.store(true, Ordering::Relaxed);
        writing.join().expect("the producer does not panic")
    });
    producer.flush();
    producer.finish();
}

fn snapshots(c: &mut Criterion) {
    for slots in SLOT_COUNTS {
        let workload = Workload::new(slots);
        let mut group = c.benchmark_group(format!("snapshot/{slots}"));
        group.measurement_time(Duration::from_secs(2));
        snapshot::<Snapstate>(&mut group, &workload);
        snapshot::<RwLockHeld>(&mut group, &workload);
        // Copies: O(n) each, up to tens of milliseconds at 100k slots.
        group.sample_size(10);
        snapshot::<RwLockDeepCopy>(&mut group, &workload);
        snapshot::<LeftRight>(&mut group, &workload);
        group.finish();
        let mut group = c.benchmark_group(format!("snapshot/{slots}"));
        group.measurement_time(Duration::from_secs(2));
        // The naive copy-on-write design's snapshot is an `Arc` load like snapstate's; its
        // writer copies the whole book per update, so "under a writer" is mostly idle time.
        snapshot::<NaiveCow>(&mut group, &workload);
        group.finish();
    }
}

/// One reconciliation on the design's snapshot, against a venue report built beforehand from
/// the initial state (N slots, one live order each; no updates first: the naive copy-on-write
/// design would need minutes for N updates at 100k slots).
fn reconciliation<C: Contender>(group: &mut BenchmarkGroup<'_, WallTime>, workload: &Workload) {
    let (producer, mut reader) = C::start(C::build_state(workload));
    let report = venue_report(&reader.snapshot());
    let mut reconciling = Reconciling::new();
    let slots = workload.slots();
    group.bench_with_input(BenchmarkId::new(C::NAME, slots), &slots, |b, _| {
        b.iter(|| {
            let snapshot = reader.snapshot();
            reconciling.reconcile(&snapshot, &report)
        });
    });
    producer.finish();
}

fn reconciliations(c: &mut Criterion) {
    for slots in SLOT_COUNTS {
        let workload = Workload::new(slots);
        let mut group = c.benchmark_group(format!("reconcile_per_design/{slots}"));
        group.measurement_time(Duration::from_secs(3));
        group.sample_size(20);
        reconciliation::<Snapstate>(&mut group, &workload);
        reconciliation::<RwLockHeld>(&mut group, &workload);
        reconciliation::<RwLockDeepCopy>(&mut group, &workload);
        reconciliation::<NaiveCow>(&mut group, &workload);
        reconciliation::<LeftRight>(&mut group, &workload);
        group.finish();
    }
}

criterion_group!(benches, updates, snapshots, reconciliations);
criterion_main!(benches);
