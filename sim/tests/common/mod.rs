//! What the simulation test files share: how many seeds of a set they run, and running them.

use snapstate_sim::check::{RunReport, Scenario, default_workers, run_seeds};

/// How many seeds of a set of `release_count` to run: all of them in a release build (the CI
/// set), a tenth unoptimised (each seed costs about ten times as much there), at least one,
/// times `SNAPSTATE_TEST_SCALE` for a soak run.
pub fn seeds(release_count: u64) -> u64 {
    let scale = std::env::var("SNAPSTATE_TEST_SCALE")
        .ok()
        .and_then(|value| value.parse::<u64>().ok())
        .filter(|&value| value > 0)
        .unwrap_or(1);
    let divisor = if cfg!(debug_assertions) { 10 } else { 1 };
    (release_count / divisor).max(1) * scale
}

/// The reports of seeds `0..count` of `scenario`, run on every core; fails listing every failed
/// seed, each with the command that replays it.
pub fn passing_reports(scenario: Scenario, count: u64) -> Vec<RunReport> {
    let mut reports = Vec::new();
    let mut failures: Vec<String> = Vec::new();
    for result in run_seeds(scenario, 0..count, default_workers()) {
        match result {
            Ok(report) => reports.push(report),
            Err(failure) => failures.push(failure.to_string()),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {count} seeds failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    reports
}
