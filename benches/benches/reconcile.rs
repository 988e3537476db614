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
//! The book and the venue's answer are the comparison workload's (`snapstate_bench`):
//! [`Workload::partly_filled_book`], one order per slot with every third partly filled, and
//! [`truthful_venue_report`], the CLI's answer without its planted differences. The
//! reconciliation runs at the answer's time; with nothing to report, the time does not matter.
//!
//! Run with `cargo bench --bench reconcile`; one 10k reconciliation is `reconcile/snapshot/10000`.

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::thread;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use rand::SeedableRng;
use rand::rngs::ChaCha8Rng;
use rand::seq::SliceRandom;
use snapstate::book::Standard;
use snapstate::engine::{Engine, EngineConfig};
use snapstate::reconcile::{Evidence, ReconcileConfig, reconcile};
use snapstate_bench::reconcile::truthful_venue_report;
use snapstate_bench::workload::{SLOT_COUNTS, Workload};

fn steady_state(c: &mut Criterion) {
    let config = ReconcileConfig::default();
    let evidence = Evidence::new();
    let mut group = c.benchmark_group("reconcile");
    for slots in SLOT_COUNTS {
        if slots >= 100_000 {
            group.sample_size(20);
        }
        let workload = Workload::new(slots);
        let engine =
            Engine::start(workload.partly_filled_book(), EngineConfig::default()).expect("starts");
        let snapshot = engine.read_handle().load();
        let answer = truthful_venue_report(snapshot.state());
        let now = answer.as_of;
        let result = reconcile(snapshot.state(), &answer, &config, now, &evidence);
        assert!(result.is_clean(), "the benchmark's venue must agree");
        group.bench_with_input(BenchmarkId::new("snapshot", slots), &slots, |b, _| {
            b.iter(|| {
                reconcile(
                    snapshot.state(),
                    black_box(&answer),
                    &config,
                    now,
                    &evidence,
                )
            });
        });

        let locked = RwLock::new(workload.partly_filled_book::<Standard>());
        group.bench_with_input(BenchmarkId::new("rwlock_std", slots), &slots, |b, _| {
            b.iter(|| {
                let guard = locked.read().expect("not poisoned");
                reconcile(&*guard, black_box(&answer), &config, now, &evidence)
            });
        });

        let mut shuffled = answer.clone();
        shuffled.orders.shuffle(&mut ChaCha8Rng::seed_from_u64(1));
        group.bench_with_input(
            BenchmarkId::new("snapshot_shuffled", slots),
            &slots,
            |b, _| {
                b.iter(|| {
                    reconcile(
                        snapshot.state(),
                        black_box(&shuffled),
                        &config,
                        now,
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
    let workload = Workload::new(slots);
    let config = ReconcileConfig::default();
    let evidence = Evidence::new();
    let engine =
        Engine::start(workload.partly_filled_book(), EngineConfig::default()).expect("starts");
    let reader = engine.read_handle();
    let answer = truthful_venue_report(reader.load().state());
    let now = answer.as_of;
    // Fill reports that repeat known quantities: the writer applies and publishes them (as
    // duplicates) without moving the book away from the venue's answer.
    let fills = workload.partial_fill_commands();
    let writer = engine.write_handle();
    let stop = Arc::new(AtomicBool::new(false));
    let producer_stop = Arc::clone(&stop);
    let producer = thread::spawn(move || {
        for fill in fills.iter().cycle() {
            if producer_stop.load(Ordering::Relaxed) {
                break;
            }
            if writer.try_submit(fill.clone()).is_err() {
                thread::yield_now();
            }
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
                    now,
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
