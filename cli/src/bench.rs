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
    /// How the threaded engine's idle writer waits: `block`, `spin_then_block:SPINS` or
    /// `busy_spin` (default: the engine's default).
    #[arg(long, value_parser = snapstate_bench::parse_wait_strategy)]
    pub wait_strategy: Option<snapstate::engine::WaitStrategy>,
    /// The most updates the inline writer's producer applies in one call (1: each update is
    /// applied and published on its own; more: held back until that many are pending or the
    /// producer pauses).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=65_536))]
    pub inline_batch: u32,
    /// The largest batch after which snapstate's two writers reuse the version the batch
    /// replaced, applying the batch again there instead of copying what the next batch writes
    /// (`EngineConfig::reuse_limit`; 0: never). Default: the engine's default.
    #[arg(long, value_parser = clap::value_parser!(u32).range(0..=1_000_000))]
    pub reuse_limit: Option<u32>,
    /// The most updates the threaded engine applies per published version
    /// (`EngineConfig::max_batch`): a larger batch shares one publication, and the copies of
    /// the nodes written after it, between more updates, and publishes less often when the
    /// writer is behind. Default: the engine's default.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1_048_576))]
    pub max_batch: Option<u32>,
    /// How long the threaded engine aims to spend on one batch under a backlog
    /// (`EngineConfig::batch_time`): a duration (`4ms`, `0.5ms`), or `none` for no aim, every
    /// batch taking what is queued up to `--max-batch`. Default: the engine's default.
    #[arg(long, value_parser = parse_batch_time)]
    pub batch_time: Option<BatchTime>,
    /// Journal snapstate's two writers (threaded and inline) at this sync policy:
    /// `every_batch`, `os` or `interval:PERIOD` (e.g. `interval:10ms`; ns, us, ms or s). Each run
    /// journals into a fresh temporary directory, removed afterwards; the policy is shown in
    /// the table and in `--json` (`run.journal`). Default: no journal.
    #[arg(long)]
    pub journal: Option<snapstate::journal::SyncPolicy>,
    /// With --journal: a checkpoint every N commands (written by the checkpointer's thread
    /// from a held snapshot; compare `writer_stall_us_max` and the publication gaps with and
    /// without). Default: no checkpoints.
    #[arg(long, requires = "journal", value_parser = clap::value_parser!(u64).range(1..))]
    pub checkpoint_every: Option<u64>,
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
            wait_strategy: self.wait_strategy.unwrap_or_default(),
            inline_batch: self.inline_batch as usize,
            reuse_limit: self.reuse_limit.map_or_else(
                || snapstate::engine::EngineConfig::default().reuse_limit,
                |limit| limit as usize,
            ),
            max_batch: self.max_batch.map_or_else(
                || snapstate::engine::EngineConfig::default().max_batch,
                |batch| batch as usize,
            ),
            batch_time: self.batch_time.map_or_else(
                || snapstate::engine::EngineConfig::default().batch_time,
                |BatchTime(time)| time,
            ),
            journal: self
                .journal
                .map(|sync| snapstate_bench::journal::JournalSettings {
                    sync,
                    checkpoint_every_commands: self.checkpoint_every,
                }),
        }
    }
}

/// `--batch-time`: a positive duration, or `none`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchTime(pub Option<Duration>);

fn parse_batch_time(text: &str) -> Result<BatchTime, crate::units::PositiveDurationError> {
    if text.trim() == "none" {
        return Ok(BatchTime(None));
    }
    crate::units::parse_positive_duration(text).map(|time| BatchTime(Some(time)))
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
