//! The deterministic simulation with faults (issue 4), over a few hundred seeds: every step
//! checked, convergence after the faults stop, every fault followed to its resolution, and a
//! fault-free run that corrects nothing. A failing seed prints the command that replays it.
//!
//! `.ci/run` runs this file with `--release`, which takes the full seed sets; an unoptimised
//! build (plain `cargo test`) runs a tenth of them, since each seed there costs ten times as
//! much. `SNAPSTATE_TEST_SCALE=20` multiplies both, for a soak run.

use std::time::Duration;

mod common;

use common::{passing_reports, seeds};
use snapstate::reconcile::Policies;
use snapstate_sim::check::{
    FailureReason, Resolution, RunReport, Scenario, SimConfig, SimFailure, Summary, run,
};
use snapstate_sim::venue::FaultKind;

/// Seeds with faults in a release build: the CI set.
const FAULT_SEEDS: u64 = 300;
/// Seeds without faults in a release build.
const FAULT_FREE_SEEDS: u64 = 100;

/// Runs seeds `0..count` of `scenario` and sums them; fails listing every failed seed, each
/// with the command that replays it.
fn run_set(scenario: Scenario, count: u64) -> Summary {
    let mut summary = Summary::default();
    for report in passing_reports(scenario, count) {
        summary.add(&report);
    }
    // The figures docs/verification.md quotes; `--nocapture` shows them.
    eprintln!("{}:\n{summary}", scenario.as_str());
    summary
}

#[test]
fn every_seed_converges_after_its_faults_stop_and_every_fault_is_resolved() {
    let summary = run_set(Scenario::Faults, seeds(FAULT_SEEDS));
    for kind in FaultKind::ALL {
        assert!(
            summary.injected.get(&kind).copied().unwrap_or(0) > 0,
            "no {kind} fault was injected: the set tests nothing about it"
        );
    }
    let repaired: Vec<&'static str> = summary.corrections.keys().map(|(_, kind)| *kind).collect();
    for kind in ["missed_fill", "missed_acknowledge", "mark_lost"] {
        assert!(
            repaired.contains(&kind),
            "no {kind} correction in {repaired:?}"
        );
    }
    for fault in [
        FaultKind::Delayed,
        FaultKind::Duplicated,
        FaultKind::Dropped,
    ] {
        for update in ["acknowledge", "fill", "cancel", "reject", "expire"] {
            assert!(
                summary.faulted_updates.contains_key(&(fault, update)),
                "no {update} update was {fault}: {:?}",
                summary.faulted_updates
            );
        }
    }
}

#[test]
fn a_fault_free_run_confirms_no_mismatch_and_corrects_nothing() {
    let summary = run_set(Scenario::FaultFree, seeds(FAULT_FREE_SEEDS));
    assert_eq!(summary.faults_injected(), 0);
    assert!(summary.mismatches.is_empty(), "{:?}", summary.mismatches);
    assert!(summary.corrections.is_empty(), "{:?}", summary.corrections);
    assert!(
        summary.suspected > 0,
        "updates in flight should show as suspected differences, or the run tests nothing"
    );
    assert!(
        summary.orders_placed > 100 * summary.runs,
        "the runs should trade"
    );
}

#[test]
fn the_same_seed_gives_the_same_report_and_another_seed_another() {
    let config = SimConfig::new(Scenario::Faults, 7);
    let first = run(&config).expect("seed 7 passes");
    let second = run(&config).expect("seed 7 passes again");
    assert_eq!(first, second);
    assert_eq!(first.to_string(), second.to_string());
    let other = run(&SimConfig::new(Scenario::Faults, 8)).expect("seed 8 passes");
    assert_ne!(first.to_string(), other.to_string());
}

#[test]
fn a_report_accounts_for_every_injected_fault() {
    let report: RunReport = run(&SimConfig::new(Scenario::Faults, 3)).expect("seed 3 passes");
    for (kind, injected) in report.injected.iter() {
        let resolved: u64 = report
            .resolutions
            .get(&kind)
            .map_or(0, |resolutions| resolutions.values().sum());
        assert_eq!(resolved, injected, "{kind}");
    }
    let queries = &report.resolutions[&FaultKind::QueryFailed];
    assert_eq!(
        queries.keys().copied().collect::<Vec<_>>(),
        [Resolution::NoAnswerRetriedNextCycle]
    );
    assert_eq!(
        report.reconciler.venue_errors,
        report.injected.get(FaultKind::QueryFailed) + report.injected.get(FaultKind::QueryTimedOut)
    );
}

#[test]
fn without_corrections_the_book_never_converges_and_the_failure_names_its_seed() {
    let mut config = SimConfig::new(Scenario::Faults, 11);
    config.reconcile.policies = Policies::report_only();
    let failure = run(&config).expect_err("lost updates stay lost without corrections");
    assert!(
        matches!(failure.reason, FailureReason::NotConverged { .. }),
        "{failure}"
    );
    assert_eq!(failure.seed, 11);
    assert_eq!(
        failure.replay, None,
        "a changed configuration is not a preset"
    );
    let preset = SimFailure {
        replay: SimConfig::new(Scenario::Faults, 11).replay_command(),
        ..failure
    };
    assert!(
        preset
            .to_string()
            .contains("replay: cargo run --release -- sim-check --seed 11"),
        "{preset}"
    );
}

/// Seeds whose feed is slower than the reconciler's grace window.
const SLOW_FEED_SEEDS: u64 = 50;

/// Updates delayed by up to 8 s, longer than the 5 s grace: the reconciler then acts on orders
/// whose updates are still on their way, and the late updates must land as stale or duplicate
/// (this found the late rejection of an order already marked lost, `src/book/transition.rs`).
/// The bound grows with the delay (75 cycles).
#[test]
fn a_feed_slower_than_the_grace_window_still_converges() {
    let mut failures = Vec::new();
    for seed in 0..seeds(SLOW_FEED_SEEDS) {
        let mut config = SimConfig::new(Scenario::Faults, seed);
        config.faults.delay_rate = 0.2;
        config.faults.max_extra_delay = Duration::from_secs(8);
        if let Err(failure) = run(&config) {
            failures.push(failure.to_string());
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Long enough that the venue stops listing the first finished orders (it lists them for 60 s)
/// while the book keeps them (5 minutes): agreement must outlast the listing window.
#[test]
fn a_long_run_outlives_the_venues_listing_window_with_and_without_faults() {
    for scenario in [Scenario::FaultFree, Scenario::Faults] {
        let mut config = SimConfig::new(scenario, 12);
        config.trading = Duration::from_secs(60);
        let report = run(&config).unwrap_or_else(|failure| panic!("{failure}"));
        assert!(report.orders_placed > 1_500, "{report}");
    }
}
