//! `snapstate bench`'s arguments; the comparison itself is [`snapstate_bench`]'s.

use std::error::Error;
use std::path::PathBuf;
use std::time::Duration;

use snapstate_bench::BenchOptions;

/// Arguments of `snapstate bench`.
#[derive(Clone, Debug, clap::Args)]
pub struct BenchArgs {
    /// A short run (2 s of workload per contender instead of 10 s), for smoke tests: finishes
    /// in well under a minute on two cores at the default slot count.
    #[arg(long)]
    pub quick: bool,
    /// Print exactly one JSON object (machine, slots, every contender's figures) instead of
    /// the table.
    #[arg(long)]
    pub json: bool,
    /// Slots (grid levels), each starting with one live order.
    #[arg(long, default_value_t = snapstate_bench::workload::DEFAULT_SLOTS, value_parser = clap::value_parser!(u32).range(1..=10_000_000))]
    pub slots: u32,
    /// Workload per contender, in seconds or with a unit (`3`, `3s`, `500ms`; overrides the
    /// default of 10 s, or 2 s with --quick).
    #[arg(long, value_parser = crate::units::parse_positive_duration)]
    pub seconds: Option<Duration>,
    /// Pace the producer to this many updates per second instead of as fast as it can (shows
    /// submit-to-visible latency below saturation; not the workload's definition).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub rate: Option<u64>,
    /// Write an SVG plot of the writer-stall and submit-to-visible distributions here.
    #[arg(long)]
    pub plot: Option<PathBuf>,
    /// Only these contenders (comma-separated); snapstate always runs, as the baseline.
    #[arg(long, value_delimiter = ',', value_parser = clap::builder::PossibleValuesParser::new(snapstate_bench::contenders::NAMES))]
    pub contenders: Vec<String>,
}

impl BenchArgs {
    /// The options these arguments ask for.
    pub fn options(&self) -> BenchOptions {
        BenchOptions {
            quick: self.quick,
            json: self.json,
            slots: self.slots,
            seconds: self.seconds,
            rate: self.rate,
            plot: self.plot.clone(),
            contenders: self.contenders.clone(),
        }
    }
}

/// Runs `snapstate bench`; `allocated` reads the process's allocated bytes, for the memory
/// figures.
///
/// # Errors
///
/// When a contender fails or the report or plot cannot be written.
pub fn run(args: &BenchArgs, allocated: Option<fn() -> usize>) -> Result<(), Box<dyn Error>> {
    snapstate_bench::run(&args.options(), allocated)
}
