//! The deterministic simulation with crashes (`sim-check --crash`): the engine dies at seeded
//! points, its journal's simulated disk loses what was not synced (and may tear the last
//! write) or, for a kill, keeps everything written, the engine is recovered and runs the startup reconciliation, and every run must
//! still converge with no fill lost or counted twice.
//!
//! `.ci/run` runs this file with `--release`: 100 seeds. An unoptimised build runs a tenth of
//! them; `SNAPSTATE_TEST_SCALE` multiplies both, for a soak run.

mod common;

use common::{passing_reports, seeds};
use snapstate_sim::check::{CrashFigures, Scenario, SimConfig, run};

/// Seeds in a release build: the CI set.
const CRASH_SEEDS: u64 = 100;

#[test]
fn every_crashed_run_recovers_and_converges_with_no_fill_lost_or_counted_twice() {
    let count = seeds(CRASH_SEEDS);
    let mut totals = CrashFigures::default();
    for report in passing_reports(Scenario::Crashes, count) {
        totals.add(report.crash.as_ref().expect("a crashing run"));
    }
    // The figures docs/durability.md quotes; `--nocapture` shows them.
    eprintln!("{count} seeds with crashes:\n{totals}");
    assert!(totals.crashes >= count, "every run crashes at least once");
    if count >= 10 {
        // The seeds on SyncPolicy::Os lose records; some crashes tear; some are kills.
        assert!(totals.records_lost_unsynced > 0, "{totals}");
        assert!(totals.torn_tails > 0, "{totals}");
        assert!(totals.kills > 0, "{totals}");
    }
}

#[test]
fn the_same_seed_gives_the_same_crashes_and_figures() {
    for seed in [2, 3] {
        let config = SimConfig::new(Scenario::Crashes, seed);
        let first = run(&config).expect("the run passes");
        let second = run(&config).expect("the run passes");
        assert!(first.crash.as_ref().is_some_and(|crash| crash.crashes > 0));
        assert_eq!(first, second);
    }
}
