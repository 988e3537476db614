//! `snapstate simulate`: a grid market maker against the simulated venue, through the engine,
//! with the reconciler running, then a report.
//!
//! # How a run goes
//!
//! 1. **Trading** (`--duration`, default 10 s). Every tick (`--tick`, default 1 ms) the driver
//!    advances the venue to the wall clock, delivers the order updates that are due (after the
//!    venue's latency and whatever the faults did to them) to the engine, asks the
//!    [`GridMarketMaker`](crate::market_maker::GridMarketMaker) what to place and cancel
//!    given the latest snapshot and the venue's mid price, submits the placements, and waits
//!    for everything it submitted to become visible (a [`flush`](snapstate::engine::WriteHandle::flush)
//!    barrier: the submit-to-visible latency). Placements the book accepted then go to the
//!    venue; cancels go to the venue, whose confirmations come back as updates. Meanwhile the
//!    reconciler's [`Runner`](snapstate::reconcile::Runner) compares a snapshot with the venue's
//!    open orders every `--reconcile-interval` and corrects what the faults broke.
//! 2. **Converging** (at most `--converge-timeout`). The venue stops injecting faults and its
//!    price stops moving, and the market maker stops trading. The driver keeps delivering the
//!    updates still in flight. The reconciler needs each remaining difference to be quiet for
//!    its grace window (`--grace`) and seen in consecutive answers before it corrects it, so
//!    the run waits until the book agrees with the venue's truth on every order and on the
//!    net position, checked every [`CONVERGENCE_CHECK_INTERVAL`].
//! 3. **Report**: throughput, submit-to-visible latency percentiles, reconciliation runs and
//!    their durations, mismatches by class, corrections applied and rejected as stale, faults
//!    injected, and the final positions against the venue's.
//!
//! The command exits with status 1 if the book still differs from the venue at the end.

pub mod compare;
pub mod driver;
pub mod progress;
pub mod report;
pub mod settings;
mod table;
pub mod telemetry;

use std::io::{self, IsTerminal, Write};
use std::net::SocketAddr;
use std::time::Duration;

use crate::units::{parse_duration, parse_positive_duration, parse_rate};

pub use compare::{Comparison, OrderDifference, compare};
pub use driver::{CONVERGENCE_CHECK_INTERVAL, RunError, Simulation};
pub use progress::{Progress, ProgressMode};
pub use report::Report;
pub use settings::{Settings, SettingsError};
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
    let settings = Settings::from_args(args)?;
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
    let report = Simulation::start(settings)?.run(&mut progress, &durations)?;
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
