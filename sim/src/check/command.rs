//! `snapstate sim-check`: replay one seed and print its report, or run a range of seeds and
//! print their sum and every failure with the command that replays it.

use std::error::Error;
use std::ops::Range;
use std::time::Instant;

use super::{Scenario, SimConfig, Summary, default_workers, run, run_seeds};

/// The seeds `sim-check` runs when given none: the CI set.
pub const DEFAULT_SEEDS: Range<u64> = 0..300;

/// Arguments of `snapstate sim-check`.
#[derive(Clone, Debug, clap::Args)]
pub struct SimCheckArgs {
    /// Run this one seed and print its full report.
    #[arg(long, conflicts_with = "seeds")]
    pub seed: Option<u64>,
    /// Run the seeds `A..B` (B excluded) and print the sum of their reports; default 0..300.
    #[arg(long, value_name = "A..B", value_parser = parse_range)]
    pub seeds: Option<Range<u64>>,
    /// Run without faults: the run must then correct nothing at all.
    #[arg(long, conflicts_with = "crash")]
    pub fault_free: bool,
    /// Crash the engine while trading (with the faults): each crash loses what its journal
    /// had not synced, recovers, and runs the startup reconciliation (docs/durability.md).
    #[arg(long)]
    pub crash: bool,
    /// Print one JSON object (the summed figures, the crash figures, the failures) instead of
    /// the text report.
    #[arg(long)]
    pub json: bool,
    /// With a range, print every run's report as well.
    #[arg(long)]
    pub verbose: bool,
}

/// Runs `sim-check`.
///
/// # Errors
///
/// When a run fails (after printing it, with its seed and the command that replays it).
pub fn run_check(args: &SimCheckArgs) -> Result<(), Box<dyn Error>> {
    let scenario = if args.crash {
        Scenario::Crashes
    } else if args.fault_free {
        Scenario::FaultFree
    } else {
        Scenario::Faults
    };
    if args.json {
        // One seed runs by itself, not as the range `seed..seed + 1`: that range does not
        // exist for `u64::MAX` (it overflowed, wrapping to the empty `u64::MAX..0` in a release
        // build: nothing ran, and the command reported success).
        let (seeds, results) = match args.seed {
            Some(seed) => (
                format!("{seed}..{}", u128::from(seed) + 1),
                vec![run(&SimConfig::new(scenario, seed))],
            ),
            None => {
                let seeds = args.seeds.clone().unwrap_or(DEFAULT_SEEDS);
                let results = run_seeds(scenario, seeds.clone(), default_workers());
                (format!("{}..{}", seeds.start, seeds.end), results)
            }
        };
        let summary = JsonSummary::of(scenario, seeds, &results);
        println!("{}", serde_json::to_string_pretty(&summary)?);
        return if summary.failed == 0 {
            Ok(())
        } else {
            Err(format!("{} of {} seeds failed", summary.failed, summary.runs).into())
        };
    }
    if let Some(seed) = args.seed {
        let report = run(&SimConfig::new(scenario, seed))?;
        println!("{report}");
        return Ok(());
    }
    let seeds = args.seeds.clone().unwrap_or(DEFAULT_SEEDS);
    let started = Instant::now();
    let mut summary = Summary::default();
    let mut failures = 0_u64;
    for result in run_seeds(scenario, seeds.clone(), default_workers()) {
        match result {
            Ok(report) => {
                if args.verbose {
                    println!("{report}\n");
                }
                summary.add(&report);
            }
            Err(failure) => {
                eprintln!("{failure}");
                failures += 1;
            }
        }
    }
    println!("{summary}");
    println!(
        "seeds {}..{} ({}): {failures} failed, in {:.1} s",
        seeds.start,
        seeds.end,
        scenario.as_str(),
        started.elapsed().as_secs_f64()
    );
    if failures == 0 {
        Ok(())
    } else {
        Err(format!("{failures} of {} seeds failed", seeds.end - seeds.start).into())
    }
}

/// `sim-check --json`: one object, the same for the same seeds (no wall time in it).
#[derive(Debug, serde::Serialize)]
struct JsonSummary {
    scenario: &'static str,
    seeds: String,
    runs: u64,
    failed: u64,
    failures: Vec<String>,
    trading_steps: u64,
    orders_placed: u64,
    updates_delivered: u64,
    faults_injected: u64,
    corrections: u64,
    cycles_to_converge_max: Option<u64>,
    /// Runs by their journal's sync policy (crashing runs only).
    runs_by_sync_policy: std::collections::BTreeMap<&'static str, u64>,
    /// The crash figures summed, `null` without `--crash`.
    crash: Option<super::CrashFigures>,
}

impl JsonSummary {
    /// The summary of `results`, the runs of `seeds` (`A..B`, B excluded).
    fn of(
        scenario: Scenario,
        seeds: String,
        results: &[Result<super::RunReport, super::SimFailure>],
    ) -> Self {
        let mut summary = Summary::default();
        let mut failures = Vec::new();
        for result in results {
            match result {
                Ok(report) => summary.add(report),
                Err(failure) => failures.push(failure.to_string()),
            }
        }
        Self {
            scenario: scenario.as_str(),
            seeds,
            runs: results.len() as u64,
            failed: failures.len() as u64,
            failures,
            trading_steps: summary.trading_steps,
            orders_placed: summary.orders_placed,
            updates_delivered: summary.updates_delivered,
            faults_injected: summary.faults_injected(),
            corrections: summary.corrections.values().sum(),
            cycles_to_converge_max: summary.most_cycles_to_converge.map(|(most, ..)| most),
            runs_by_sync_policy: summary.crash_runs_by_policy.clone(),
            crash: summary.crash.clone(),
        }
    }
}

fn parse_range(text: &str) -> Result<Range<u64>, String> {
    let (start, end) = text
        .split_once("..")
        .ok_or_else(|| format!("expected A..B, got {text:?}"))?;
    let start: u64 = start
        .trim()
        .parse()
        .map_err(|error| format!("{start:?}: {error}"))?;
    let end: u64 = end
        .trim()
        .parse()
        .map_err(|error| format!("{end:?}: {error}"))?;
    if start >= end {
        return Err(format!("the range {text} is empty"));
    }
    Ok(start..end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_parse_as_half_open_and_empty_ones_are_refused() {
        assert_eq!(parse_range("3..10"), Ok(3..10));
        assert!(parse_range("10..3").is_err());
        assert!(parse_range("5").is_err());
        assert!(parse_range("a..b").is_err());
    }
}
