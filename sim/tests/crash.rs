//! The deterministic simulation with crashes (`sim-check --crash`): the engine dies at seeded
//! points, its journal's simulated disk loses what was not synced (and may tear the last
//! write), the engine is recovered and runs the startup reconciliation, and every run must
//! still converge with no fill lost or counted twice.
//!
//! `.ci/run` runs this file with `--release`: 100 seeds. An unoptimised build runs a tenth of
//! them; `SNAPSTATE_TEST_SCALE` multiplies both, for a soak run.

use snapstate_sim::check::{
    CrashFigures, Scenario, SimConfig, SimFailure, default_workers, run, run_seeds,
};

/// Seeds in a release build: the CI set.
const CRASH_SEEDS: u64 = 100;

/// All of them in a release build, a tenth unoptimised, times `SNAPSTATE_TEST_SCALE`.
fn seeds(release_count: u64) -> u64 {
    let scale = std::env::var("SNAPSTATE_TEST_SCALE")
        .ok()
        .and_then(|value| value.parse::<u64>().ok())
        .filter(|&value| value > 0)
        .unwrap_or(1);
    let divisor = if cfg!(debug_assertions) { 10 } else { 1 };
    (release_count / divisor).max(1) * scale
}

#[test]
fn every_crashed_run_recovers_and_converges_with_no_fill_lost_or_counted_twice() {
    let count = seeds(CRASH_SEEDS);
    let mut totals = CrashFigures::default();
    let mut failures: Vec<SimFailure> = Vec::new();
    for result in run_seeds(Scenario::Crashes, 0..count, default_workers()) {
        match result {
            Ok(report) => totals.add(report.crash.as_ref().expect("a crashing run")),
            Err(failure) => failures.push(failure),
        }
    }
    let listed: Vec<String> = failures.iter().map(ToString::to_string).collect();
    assert!(
        failures.is_empty(),
        "{} of {count} seeds failed:\n{}",
        failures.len(),
        listed.join("\n")
    );
    // The figures docs/durability.md quotes; `--nocapture` shows them.
    eprintln!("{count} seeds with crashes:\n{totals}");
    assert!(totals.crashes >= count, "every run crashes at least once");
    if count >= 10 {
        // The seeds on SyncPolicy::Os lose records; some crashes tear.
        assert!(totals.records_lost_unsynced > 0, "{totals}");
        assert!(totals.torn_tails > 0, "{totals}");
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
