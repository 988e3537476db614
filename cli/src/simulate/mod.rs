//! `snapstate simulate`: the arguments and the metrics endpoint around the wall-clock run
//! ([`snapstate_sim::run`], whose documentation says how a run goes).
//!
//! The command exits with status 1 if the book still differs from the venue at the end.

pub mod telemetry;

use std::io::{self, IsTerminal, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use snapstate::journal::SyncPolicy;
use snapstate_sim::run::{
    FaultSettings, JournalSettings, Progress, ProgressMode, RunError, Settings, SettingsError,
    Simulation,
};

use crate::units::{parse_duration, parse_positive_duration, parse_rate};

pub use telemetry::{CycleDurations, TelemetryError};

/// The default number of levels quoted around the mid.
pub const DEFAULT_LEVELS: u32 = 200;
/// The most levels `--levels` accepts: the grid spans four times as many.
pub const MAX_LEVELS: u32 = 100_000;

/// Options of `snapstate simulate`.
#[derive(Debug, Clone, clap::Args)]
pub struct SimulateArgs {
    /// Levels quoted around the mid price: half buys below it, half sells above.
    #[arg(long, default_value_t = DEFAULT_LEVELS,
          value_parser = clap::value_parser!(u32).range(2..=i64::from(MAX_LEVELS)))]
    pub levels: u32,
    /// How long to trade (e.g. 10s, 500ms, 2m), before the convergence phase.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub duration: Duration,
    /// Seeds the venue's price path, fills and faults (the run is paced by the wall clock, so
    /// two runs with one seed still differ in their timing).
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// How long an order update takes to travel from the venue to the book.
    #[arg(long, default_value = "5ms", value_parser = parse_duration)]
    pub venue_latency: Duration,
    /// How often the venue's price takes one random-walk step of one level.
    #[arg(long, default_value = "2ms", value_parser = parse_positive_duration)]
    pub price_interval: Duration,
    /// Probability that an order update never arrives.
    #[arg(long, default_value = "0.005", value_parser = parse_rate)]
    pub drop_rate: f64,
    /// Probability that an order update arrives twice.
    #[arg(long, default_value = "0.01", value_parser = parse_rate)]
    pub duplicate_rate: f64,
    /// Probability that an order update arrives late, by up to --max-extra-delay.
    #[arg(long, default_value = "0.02", value_parser = parse_rate)]
    pub delay_rate: f64,
    /// The longest extra delay of a delayed update.
    #[arg(long, default_value = "200ms", value_parser = parse_duration)]
    pub max_extra_delay: Duration,
    /// Probability that an order update overtakes the one sent before it.
    #[arg(long, default_value = "0.01", value_parser = parse_rate)]
    pub reorder_rate: f64,
    /// A truthful venue: every fault rate zero.
    #[arg(long, conflicts_with_all = ["drop_rate", "duplicate_rate", "delay_rate", "reorder_rate"])]
    pub no_faults: bool,
    /// Time between the end of one reconciliation and the start of the next.
    #[arg(long, default_value = "250ms", value_parser = parse_positive_duration)]
    pub reconcile_interval: Duration,
    /// How long both sides must be quiet before a difference counts; must exceed the longest
    /// update delay (latency plus extra delay), or updates in flight look like mismatches.
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    pub grace: Duration,
    /// The longest wait, after trading, for the book to agree with the venue.
    #[arg(long, default_value = "10s", value_parser = parse_positive_duration)]
    pub converge_timeout: Duration,
    /// How often the driver delivers updates and lets the market maker quote.
    #[arg(long, default_value = "1ms", value_parser = parse_positive_duration)]
    pub tick: Duration,
    /// Print the report as one JSON object (progress goes to stderr).
    #[arg(long)]
    pub json: bool,
    /// Serve Prometheus metrics on http://ADDRESS/metrics while the simulation runs, e.g.
    /// 127.0.0.1:9000.
    #[arg(long, value_name = "ADDRESS")]
    pub metrics_addr: Option<SocketAddr>,
    /// Journal and checkpoint the run into DIR (created if missing). A journal already there is
    /// recovered first, and the startup reconciliation settles it against the fresh venue; the
    /// report adds the final last_seq, durable_seq and state digest.
    #[arg(long, value_name = "DIR")]
    pub journal: Option<PathBuf>,
    /// When the journal syncs: `every_batch` (one fdatasync per group of batches: what is
    /// durable survives a power loss), `os` (never; survives a killed process, not a power
    /// loss), or `interval:PERIOD` such as `interval:10ms` (at most one fdatasync per period;
    /// ns, us, ms or s).
    #[arg(long, value_name = "POLICY", default_value_t = SyncPolicy::EveryBatch, requires = "journal")]
    pub journal_sync: SyncPolicy,
}

/// Why `simulate` failed.
#[derive(Debug, thiserror::Error)]
pub enum SimulateError {
    /// The options do not make a sensible run.
    #[error(transparent)]
    Settings(#[from] SettingsError),
    /// The metrics recorder or endpoint could not start.
    #[error(transparent)]
    Telemetry(#[from] TelemetryError),
    /// The simulation itself failed.
    #[error(transparent)]
    Run(#[from] RunError),
    /// The report could not be written.
    #[error("could not write the report")]
    Output(#[source] io::Error),
    /// The book still differed from the venue when the run ended (the report shows how).
    #[error("the book still differs from the venue after {0:?} of convergence")]
    NotConverged(Duration),
}

/// Runs `snapstate simulate` and prints its report to stdout.
///
/// # Errors
///
/// A [`SimulateError`]; [`SimulateError::NotConverged`] after printing the report.
pub fn run(args: &SimulateArgs) -> Result<(), SimulateError> {
    let settings = settings(args)?;
    let (durations, endpoint) = telemetry::install(args.metrics_addr)?;
    if let Some(address) = endpoint {
        // A notice that cannot be written does not stop the run.
        let _ = writeln!(io::stderr(), "serving metrics on http://{address}/metrics");
    }
    let mut progress = if args.json {
        Progress::new(Box::new(io::stderr()), mode_for(io::stderr().is_terminal()))
    } else {
        Progress::new(Box::new(io::stdout()), mode_for(io::stdout().is_terminal()))
    };
    let journal = args.journal.as_ref().map(|directory| JournalSettings {
        directory: directory.clone(),
        sync: args.journal_sync,
    });
    let report = Simulation::start_with(settings, journal.as_ref())?
        .run(&mut progress, &|| durations.snapshot())?;
    let mut out = io::stdout().lock();
    if args.json {
        report.write_json(&mut out)
    } else {
        report.write_table(&mut out)
    }
    .and_then(|()| out.flush())
    .map_err(SimulateError::Output)?;
    if report.book_equals_venue {
        Ok(())
    } else {
        Err(SimulateError::NotConverged(args.converge_timeout))
    }
}

fn mode_for(terminal: bool) -> ProgressMode {
    if terminal {
        ProgressMode::Live
    } else {
        ProgressMode::Lines
    }
}

/// The run's settings for `args`.
///
/// # Errors
///
/// [`SettingsError::GraceTooShort`] when the grace window does not cover the longest
/// update delay.
pub fn settings(args: &SimulateArgs) -> Result<Settings, SettingsError> {
    let faults = if args.no_faults {
        FaultSettings {
            drop_rate: 0.0,
            duplicate_rate: 0.0,
            delay_rate: 0.0,
            max_extra_delay: args.max_extra_delay,
            reorder_rate: 0.0,
        }
    } else {
        FaultSettings {
            drop_rate: args.drop_rate,
            duplicate_rate: args.duplicate_rate,
            delay_rate: args.delay_rate,
            max_extra_delay: args.max_extra_delay,
            reorder_rate: args.reorder_rate,
        }
    };
    let settings = Settings {
        levels: args.levels,
        duration: args.duration,
        seed: args.seed,
        venue_latency: args.venue_latency,
        price_interval: args.price_interval,
        faults,
        reconcile_interval: args.reconcile_interval,
        grace: args.grace,
        converge_timeout: args.converge_timeout,
        tick: args.tick,
    };
    settings.validate()?;
    Ok(settings)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use rust_decimal::Decimal;

    #[derive(Parser)]
    struct Wrapper {
        #[command(flatten)]
        args: SimulateArgs,
    }

    fn settings(arguments: &[&str]) -> Result<Settings, SettingsError> {
        let wrapper =
            Wrapper::try_parse_from(std::iter::once("simulate").chain(arguments.iter().copied()))
                .expect("valid arguments");
        super::settings(&wrapper.args)
    }

    #[test]
    fn the_defaults_make_a_valid_run_with_faults() {
        let settings = settings(&[]).expect("defaults are valid");
        assert_eq!(settings.levels, 200);
        assert_eq!(settings.duration, Duration::from_secs(10));
        assert!(!settings.venue_faults().is_none());
        let grid = settings.grid().expect("grid");
        assert_eq!(grid.len(), 800);
        assert!(grid.price_of(grid.lowest()).expect("on grid") > Decimal::ZERO);
    }

    #[test]
    fn no_faults_zeroes_every_rate() {
        let settings = settings(&["--no-faults"]).expect("valid");
        assert!(settings.venue_faults().is_none());
    }

    #[test]
    fn a_grace_window_shorter_than_the_longest_delay_is_refused() {
        let error = settings(&["--grace", "100ms", "--max-extra-delay", "200ms"])
            .expect_err("grace too short");
        assert!(
            matches!(error, SettingsError::GraceTooShort { .. }),
            "{error}"
        );
        // Without delay faults, only the latency and the tick count.
        settings(&["--grace", "100ms", "--delay-rate", "0"]).expect("valid");
    }

    #[test]
    fn the_largest_grid_keeps_its_prices_positive() {
        let settings = settings(&["--levels", "100000"]).expect("valid");
        let grid = settings.grid().expect("grid");
        assert!(grid.price_of(grid.lowest()).expect("on grid") > Decimal::ZERO);
    }
}
