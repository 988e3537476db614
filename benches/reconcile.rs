//! Reconciliation of N slots against a venue report of N orders, at 1k, 10k and 100k slots, for
//! each design: obtain a snapshot the design's way, then diff it against the report. For
//! snapstate the diff alone, on a snapshot already held, is measured too.
//!
//! The diff is the comparison's reconciliation step (`snapstate_cli::bench::reconcile`).
//!
//! Run: `cargo bench --bench reconcile`.

use std::hint::black_box;
use std::time::Duration;

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, BenchmarkId, Criterion, criterion_group, criterion_main};
use snapstate_cli::bench::contender::{Contender, Producer, SnapshotReader};
use snapstate_cli::bench::contenders::{
    LeftRight, NaiveCow, RwLockDeepCopy, RwLockHeld, Snapstate,
};
use snapstate_cli::bench::reconcile::{interim_diff, venue_report};
use snapstate_cli::bench::workload::{SLOT_COUNTS, Workload};

fn reconcile<C: Contender>(group: &mut BenchmarkGroup<'_, WallTime>, workload: &Workload) {
    // The initial state: N slots with one live order each (no updates first: the naive
    // copy-on-write design would need minutes for N updates at 100k slots).
    let (producer, mut reader) = C::start(C::build_state(workload));
    let report = venue_report(&reader.snapshot());
    let slots = workload.slots();
    group.bench_with_input(BenchmarkId::new(C::NAME, slots), &slots, |b, _| {
        b.iter(|| {
            let snapshot = reader.snapshot();
            black_box(interim_diff(&snapshot, &report).len())
        });
    });
    producer.finish();
}

fn reconciliation(c: &mut Criterion) {
    for slots in SLOT_COUNTS {
        let workload = Workload::new(slots);
        let mut group = c.benchmark_group(format!("reconcile/{slots}"));
        group.measurement_time(Duration::from_secs(3));
        group.sample_size(20);
        reconcile::<Snapstate>(&mut group, &workload);
        {
            let (producer, mut reader) = Snapstate::start(Snapstate::build_state(&workload));
            let snapshot = reader.snapshot();
            let report = venue_report(&snapshot);
            group.bench_with_input(
                BenchmarkId::new("snapstate/diff_only", slots),
                &slots,
                |b, _| {
                    b.iter(|| black_box(interim_diff(&snapshot, &report).len()));
                },
            );
            drop(snapshot);
            producer.finish();
        }
        reconcile::<RwLockHeld>(&mut group, &workload);
        reconcile::<RwLockDeepCopy>(&mut group, &workload);
        reconcile::<NaiveCow>(&mut group, &workload);
        reconcile::<LeftRight>(&mut group, &workload);
        group.finish();
    }
}

criterion_group!(benches, reconciliation);
criterion_main!(benches);
