//! `snapstate bench`: the side-by-side comparison of snapstate with the designs a user would
//! otherwise pick, on one workload, in one process.
//!
//! The workload ([`workload`]) and the designs ([`contenders`]) are shared with the criterion
//! benches in `benches/benches/`, so nothing is written twice. `docs/benchmarks.md` defines
//! every figure and holds a full run.

pub mod contender;
pub mod contenders;
pub mod journal;
mod plot;
pub mod probe;
pub mod reconcile;
pub mod report;
pub mod run;
pub mod workload;

use std::error::Error;
use std::path::PathBuf;
use std::time::Duration;

use contender::Settings;
use contenders::{LeftRight, NaiveCow, RwLockDeepCopy, RwLockHeld, Snapstate, SnapstateInline};
use report::{Figures, Machine, Report, RunShape, human};
use run::{Measured, Schedule, measure};
use snapstate::engine::WaitStrategy;
use workload::Workload;

/// The seed of the update stream; every contender gets the same stream.
pub const SEED: u64 = 0x5EED_5EED;

/// What `snapstate bench` runs: the command's arguments, parsed.
#[derive(Clone, Debug)]
pub struct BenchOptions {
    /// A short run (2 s of workload per contender instead of 10 s), for smoke tests: finishes
    /// in well under a minute on two cores at the default slot count.
    pub quick: bool,
    /// Print exactly one JSON object (machine, slots, every contender's figures) instead of
    /// the table.
    pub json: bool,
    /// Slots (grid levels), each starting with one live order.
    pub slots: u32,
    /// Workload per contender, in seconds or with a unit (`3`, `3s`, `500ms`; overrides the
    /// default of 10 s, or 2 s with --quick).
    pub seconds: Option<Duration>,
    /// Pace the producer to this many updates per second instead of as fast as it can (shows
    /// submit-to-visible latency below saturation; not the workload's definition).
    pub rate: Option<u64>,
    /// Write an SVG plot of the writer-stall and submit-to-visible distributions here.
    pub plot: Option<PathBuf>,
    /// Only these contenders (comma-separated); snapstate always runs, as the baseline.
    pub contenders: Vec<String>,
    /// How the threaded engine's idle writer waits (default: the engine's default).
    pub wait_strategy: WaitStrategy,
    /// The most updates the inline writer's producer applies in one call; 1 (the default)
    /// applies and publishes each update on its own.
    pub inline_batch: usize,
    /// The journal snapstate's two writers write, each run into a fresh temporary directory
    /// removed afterwards; `None` (the default): none.
    pub journal: Option<journal::JournalSettings>,
    /// The largest batch after which snapstate's writers reuse the version it replaced
    /// (`EngineConfig::reuse_limit`; 0: never).
    pub reuse_limit: usize,
    /// The most commands the threaded engine applies per published version
    /// (`EngineConfig::max_batch`).
    pub max_batch: usize,
    /// How long the threaded engine aims to spend on one batch under a backlog
    /// (`EngineConfig::batch_time`; `None`: no aim).
    pub batch_time: Option<Duration>,
}

impl BenchOptions {
    fn schedule(&self) -> Schedule {
        let default = Duration::from_secs(if self.quick { 2 } else { 10 });
        let workload = self.seconds.unwrap_or(default);
        Schedule {
            workload,
            memory_updates: if self.quick {
                Duration::from_millis(300)
            } else {
                Duration::from_secs(2)
            },
            reconcile: if self.quick {
                Duration::from_millis(300)
            } else {
                Duration::from_secs(2)
            },
            rate: self.rate,
            settings: Settings {
                wait_strategy: self.wait_strategy,
                inline_batch: self.inline_batch,
                journal: self.journal,
                reuse_limit: self.reuse_limit,
                max_batch: self.max_batch,
                batch_time: self.batch_time,
            },
        }
    }

    fn wants(&self, name: &str) -> bool {
        name == "snapstate"
            || self.contenders.is_empty()
            || self.contenders.iter().any(|wanted| wanted == name)
    }
}

/// Runs the comparison and prints the table (or the JSON object); writes the plot if asked.
///
/// `allocated` reads the bytes currently allocated through the process's counting allocator;
/// without one, the memory figures are `null`.
///
/// # Errors
///
/// A snapshot that failed its invariant check (a bug), or a plot that could not be written.
pub fn run(args: &BenchOptions, allocated: Option<fn() -> usize>) -> Result<(), Box<dyn Error>> {
    if !probe::install() {
        eprintln!(
            "warning: another metrics recorder is installed; snapstate's stall is unmeasured"
        );
    }
    // The plot is drawn after every contender has run: a path it cannot be written to is
    // refused now, not after the run.
    if let Some(path) = &args.plot {
        plot::check_writable(path)?;
    }
    let machine = Machine::describe();
    if !machine.optimized {
        eprintln!("warning: this is a debug build; run with --release for meaningful figures");
    }
    let workload = Workload::new(args.slots);
    let schedule = args.schedule();
    let mut measured: Vec<(&'static str, Measured)> = Vec::new();
    for name in contenders::NAMES
        .into_iter()
        .filter(|name| args.wants(name))
    {
        eprintln!("bench: {name} at {} slots …", args.slots);
        let result = match name {
            "snapstate" => measure::<Snapstate>(&workload, schedule, allocated, SEED),
            "snapstate_inline" => measure::<SnapstateInline>(&workload, schedule, allocated, SEED),
            "rwlock_deep_copy" => measure::<RwLockDeepCopy>(&workload, schedule, allocated, SEED),
            "rwlock_held" => measure::<RwLockHeld>(&workload, schedule, allocated, SEED),
            "naive_cow" => measure::<NaiveCow>(&workload, schedule, allocated, SEED),
            "left_right" => measure::<LeftRight>(&workload, schedule, allocated, SEED),
            _ => unreachable!("names come from contenders::NAMES"),
        };
        if result.invariant_violations > 0 {
            return Err(format!(
                "{name}: {} snapshots failed the invariant check",
                result.invariant_violations
            )
            .into());
        }
        measured.push((name, result));
    }
    let report = Report {
        machine,
        slots: args.slots,
        run: RunShape {
            workload_seconds: schedule.workload.as_secs_f64(),
            rate: args.rate,
            wait_strategy: wait_strategy_name(args.wait_strategy),
            inline_batch: args.inline_batch,
            reuse_limit: args.reuse_limit,
            max_batch: args.max_batch,
            batch_time_ms: args.batch_time.map(|time| time.as_secs_f64() * 1e3),
            journal: args.journal.as_ref().map(report::JournalShape::of),
        },
        contenders: measured
            .iter()
            .map(|(name, result)| (*name, Figures::from_measured(result)))
            .collect(),
    };
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print!("{}", report.table());
        if let Some(rate) = args.rate {
            println!("producer paced to {rate} updates/s (not the workload's definition)");
        }
        println!(
            "snapstate's wait strategy: {}, batches of up to {} update(s) sized to take {}; \
             snapstate_inline applies up to {} update(s) per call; both reuse the replaced \
             version after batches of up to {} update(s)",
            report.run.wait_strategy,
            args.max_batch,
            args.batch_time
                .map_or_else(|| "any time".to_owned(), |time| format!("{time:?}")),
            args.inline_batch,
            args.reuse_limit
        );
        match &report.run.journal {
            Some(journal) => println!(
                "snapstate's writers journaled: sync {}, {} (each run into a fresh temporary \
                 directory, removed afterwards)",
                journal.sync,
                journal
                    .checkpoint_every_commands
                    .map_or("no checkpoints".to_owned(), |every| format!(
                        "a checkpoint every {every} commands"
                    )),
            ),
            None => println!("snapstate's writers did not journal (--journal to compare)"),
        }
        print!("{}", notes(&report, &measured));
    }
    if let Some(path) = &args.plot {
        plot::write_svg(path, &report, &measured)?;
        eprintln!("bench: wrote {}", path.display());
    }
    Ok(())
}

/// A wait strategy as `--wait-strategy` spells it: `block`, `spin_then_block:SPINS`,
/// `busy_spin`.
pub fn wait_strategy_name(strategy: WaitStrategy) -> String {
    match strategy {
        WaitStrategy::Block => "block".to_owned(),
        WaitStrategy::SpinThenBlock { spins } => format!("spin_then_block:{spins}"),
        WaitStrategy::BusySpin => "busy_spin".to_owned(),
    }
}

/// Parses a wait strategy as [`wait_strategy_name`] writes it.
///
/// # Errors
///
/// A name that is none of `block`, `busy_spin`, `spin_then_block:SPINS` (SPINS a number from 1
/// to 4,294,967,295), in words.
pub fn parse_wait_strategy(text: &str) -> Result<WaitStrategy, String> {
    match text {
        "block" => Ok(WaitStrategy::Block),
        "busy_spin" => Ok(WaitStrategy::BusySpin),
        _ => {
            let spins = text.strip_prefix("spin_then_block:").ok_or_else(|| {
                format!("`{text}` is not block, busy_spin or spin_then_block:SPINS")
            })?;
            match spins.parse::<u32>() {
                Ok(spins) if spins > 0 => Ok(WaitStrategy::SpinThenBlock { spins }),
                _ => Err(format!(
                    "`{spins}` is not a number of spins from 1 to {}",
                    u32::MAX
                )),
            }
        }
    }
}

/// What the table does not show: the run's shape and the figures behind the figures.
fn notes(report: &Report, measured: &[(&'static str, Measured)]) -> String {
    let machine = &report.machine;
    let mut out = format!(
        "\n{} slots; machine: {} ({} cores, {:.1} GB), {}, {}, load average at start {}\n",
        report.slots,
        machine.cpu,
        machine.cores,
        machine.memory_bytes as f64 / 1e9,
        machine.os,
        machine.rustc,
        machine.load_average,
    );
    if let Some(probe) = probe::installed() {
        // The threaded writer's steps per batch, over its whole run (the inline writer runs
        // with metrics off).
        let steps = probe.take_steps();
        if !steps.apply.is_empty() {
            let micros = |histogram: &hdrhistogram::Histogram<u64>, quantile: f64| {
                histogram.value_at_quantile(quantile) as f64 / 1e3
            };
            out.push_str(&format!(
                "the threaded snapstate writer's batches: apply p50 {:.2} µs, p99 {:.2} µs; free the \
                 replaced versions p50 {:.2} µs, p99 {:.2} µs\n",
                micros(&steps.apply, 0.5),
                micros(&steps.apply, 0.99),
                micros(&steps.reclaim, 0.5),
                micros(&steps.reclaim, 0.99),
            ));
        }
    }
    for (name, result) in measured {
        let mut line = format!(
            "{name}: {} updates in the workload; {} snapshots; {} updates in the memory phase; \
             reconcile under load p50 {}",
            result.updates,
            result.snapshots.len(),
            result.memory_updates,
            human(
                "reconcile_ms",
                result.reconciles_under_load.value_at_quantile(0.5) as f64 / 1e6
            ),
        );
        if let Some(batches) = &result.batch_sizes {
            line.push_str(&format!(
                "; batches: {} published, mean {:.0}, max {} updates",
                batches.count,
                batches.mean(),
                batches.max
            ));
        }
        out.push_str(&line);
        out.push('\n');
    }
    out
}
