//! The journal's figures from one run on one workload (issue 12): throughput with and without a
//! journal at each sync policy, the fsync latency the journal saw, the writer's stall while a
//! checkpoint is written, and the recovery time of a journal of a million commands.
//!
//! ```sh
//! cargo run --release -p snapstate-bench --example durability            # 1,000,000 commands a run
//! cargo run --release -p snapstate-bench --example durability -- --quick # 100,000
//! cargo run --release -p snapstate-bench --example durability -- --recovery # recovery only
//! ```
//!
//! `--recovery` (with or without `--quick`) measures only recovery: it journals the workload once
//! (sync policy `Os`, checkpoints off), then times `journal::recover_read_only` five times (wall
//! time; the recovering thread's CPU time, which a loaded machine disturbs less; and the CPU
//! time of all the process's threads, the decoding thread's included) and `Engine::recover`
//! once, and checks that every recovered book's `state_digest` is the journaling engine's.
//!
//! The workload is the benchmark's (`snapstate_bench::workload`): a book on a 10,000-level grid,
//! loaded with one live order per level, then the seeded update stream (places, fills, cancels).
//! Each run starts a fresh engine (through `Engine::recover` on an empty directory when it
//! journals), submits the initial load and flushes it, then times submitting every update and
//! one `flush` (visible, not waiting for durability). Journal directories are made under
//! `std::env::temp_dir()` and removed afterwards.
//!
//! How each figure is taken:
//!
//! * fsync latency: the engine's own `snapstate_journal_sync_seconds` histogram (each
//!   `fdatasync` the journal thread makes), read through the bench crate's recorder
//!   (`snapstate_bench::probe`).
//! * gaps between publications: the same recorder stamps the writer's `snapstate_batch_size`
//!   record, which the writer makes right after storing each batch's version into the
//!   publication cell; the gap is the time between two consecutive stamps, on the writer's own
//!   thread (it includes applying the next batch, so it is a gap, not the checkpoint's cost).
//! * recovery: the engine is shut down, then `Engine::recover` is timed on its directory. Its
//!   time per million records is printed only for a recovery without a checkpoint: with one,
//!   the time is mostly loading the checkpoint, not replaying records.

use std::error::Error;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use snapstate::book::{Book, BookCommand};
use snapstate::engine::{Engine, EngineConfig};
use snapstate::journal::{RecoveryReport, SyncPolicy};
use snapstate_bench::journal::{JournalSettings, TemporaryJournal};
use snapstate_bench::probe::{self, PublicationProbe};
use snapstate_bench::workload::Workload;

/// The seed of the update stream (the criterion benches' seed).
const SEED: u64 = 7;
/// Grid levels of the book.
const SLOTS: u32 = 10_000;

fn main() -> Result<(), Box<dyn Error>> {
    let quick = std::env::args().any(|argument| argument == "--quick");
    let commands: usize = if quick { 100_000 } else { 1_000_000 };
    if std::env::args().any(|argument| argument == "--recovery") {
        return recovery_only(commands);
    }
    if !probe::install() {
        return Err("a metrics recorder was already installed".into());
    }
    let recorder = probe::installed().ok_or("the probe is not installed")?;
    let workload = Workload::new(SLOTS);
    println!(
        "durability figures: book on {SLOTS} levels, {} initial commands, then {commands} updates (seed {SEED}) per run",
        workload.initial_commands().len()
    );

    println!("\n1. throughput (submit all, then flush; checkpoints off)");
    let plain = run(&workload, commands, None, recorder)?;
    println!("  no journal          {:>12.0} commands/s", plain.rate);
    let policies = [
        ("EveryBatch", SyncPolicy::EveryBatch),
        (
            "Interval(10ms)",
            SyncPolicy::Interval(Duration::from_millis(10)),
        ),
        ("Os", SyncPolicy::Os),
    ];
    let mut syncs = Vec::new();
    for (name, policy) in policies {
        let measured = run(&workload, commands, Some((policy, None)), recorder)?;
        println!(
            "  journal {name:<14} {:>10.0} commands/s ({:.0}% of no journal), {} fsyncs",
            measured.rate,
            100.0 * measured.rate / plain.rate,
            measured.syncs.len()
        );
        syncs.push((name, measured.syncs));
    }

    println!("\n2. fsync latency (the journal's snapstate_journal_sync_seconds histogram)");
    for (name, histogram) in &syncs {
        if histogram.is_empty() {
            println!("  {name:<14} no fsync during the run (a clean shutdown syncs once)");
        } else {
            println!(
                "  {name:<14} n={:<6} p50 {}  p99 {}  max {}",
                histogram.len(),
                micros(histogram.value_at_quantile(0.5)),
                micros(histogram.value_at_quantile(0.99)),
                micros(histogram.max())
            );
        }
    }

    println!("\n3. gap between consecutive publications (writer's thread; EveryBatch journal)");
    let mut recoveries = Vec::new();
    for (name, every) in [
        ("checkpoints off", None),
        ("checkpoint every 100k", Some(100_000)),
    ] {
        let measured = run(
            &workload,
            commands,
            Some((SyncPolicy::EveryBatch, every)),
            recorder,
        )?;
        println!(
            "  {name:<22} {:>9.0} commands/s, {} publications, gap p50 {}  p99 {}  max {}",
            measured.rate,
            measured.gaps.len(),
            micros(measured.gaps.value_at_quantile(0.5)),
            micros(measured.gaps.value_at_quantile(0.99)),
            micros(measured.gaps.max())
        );
        recoveries.push((name, measured.recovery));
    }

    println!("\n4. recovery (shut down, then Engine::recover on the directory)");
    for (name, report) in &recoveries {
        let Some(report) = report else { continue };
        // A rate per record means something only when replay is all recovery did: with a
        // checkpoint, most of the time is loading the checkpoint's state.
        let what = match report.checkpoint_seq {
            None => format!(
                "{} records replayed ({:.3} s per million)",
                report.records_replayed,
                report.duration.as_secs_f64() * 1e6 / report.records_replayed.max(1) as f64,
            ),
            Some(seq) => format!(
                "the checkpoint at {seq}, then {} records replayed",
                report.records_replayed
            ),
        };
        println!(
            "  {name:<22} {:.3} s: {what}, {report:?}",
            report.duration.as_secs_f64(),
        );
    }
    Ok(())
}

/// Journals the workload once, then times recovering it: `recover_read_only` five times, then
/// `Engine::recover` once.
fn recovery_only(commands: usize) -> Result<(), Box<dyn Error>> {
    let workload = Workload::new(SLOTS);
    let directory = TemporaryJournal::create()?;
    let config = JournalSettings {
        sync: SyncPolicy::Os,
        checkpoint_every_commands: None,
    }
    .apply(EngineConfig::default(), directory.path())?;
    let journal_storage = config
        .journal
        .as_ref()
        .map(|journal| journal.storage.clone())
        .ok_or("the configuration journals")?;
    let book = Book::new(workload.book_config().clone());
    let (engine, _) = Engine::recover(book.clone(), config.clone())?;
    let writer = engine.write_handle();
    for command in workload.initial_commands() {
        writer.submit(command)?;
    }
    let mut stream = workload.updates(SEED);
    for _ in 0..commands {
        writer.submit(stream.next_command())?;
    }
    writer.flush_durable()?;
    let journaled = engine.read_handle().load();
    let digest = journaled.state().state_digest();
    drop(writer);
    engine.shutdown().map_err(|_| "the engine failed")?;
    println!(
        "recovery of {} records (book on {SLOTS} levels, seed {SEED}; no checkpoint)",
        journaled.last_seq().0
    );
    let mut best: Option<(Duration, Option<Duration>)> = None;
    for attempt in 1..=5 {
        let cpu_before = thread_cpu_time();
        let process_before = process_cpu_time();
        let started = Instant::now();
        let (snapshot, report) =
            snapstate::journal::recover_read_only(journal_storage.as_ref(), book.clone())?;
        let wall = started.elapsed();
        let cpu = cpu_before
            .zip(thread_cpu_time())
            .map(|(before, after)| after.saturating_sub(before));
        let process = process_before
            .zip(process_cpu_time())
            .map(|(before, after)| after.saturating_sub(before));
        if snapshot.state().state_digest() != digest || snapshot.last_seq() != journaled.last_seq()
        {
            return Err("recover_read_only recovered another book".into());
        }
        println!(
            "  #{attempt}: recover_read_only {:.3} s wall ({:.3} s per million), {} on the recovering thread's CPU, {} on all threads'",
            wall.as_secs_f64(),
            wall.as_secs_f64() * 1e6 / report.records_replayed.max(1) as f64,
            seconds(cpu),
            seconds(process),
        );
        best = Some(best.map_or((wall, cpu), |(best_wall, best_cpu)| {
            (
                best_wall.min(wall),
                best_cpu.zip(cpu).map(|(a, b)| a.min(b)),
            )
        }));
    }
    if let Some((wall, cpu)) = best {
        println!(
            "  best of 5: {:.3} s wall, {} recovering thread's CPU",
            wall.as_secs_f64(),
            cpu.map_or("unknown".to_owned(), |cpu| format!(
                "{:.3} s",
                cpu.as_secs_f64()
            )),
        );
    }
    let started = Instant::now();
    let (engine, _) = Engine::recover(book, config)?;
    let full = started.elapsed();
    if engine.read_handle().load().state().state_digest() != digest {
        return Err("Engine::recover recovered another book".into());
    }
    engine
        .shutdown()
        .map_err(|_| "the recovered engine failed")?;
    println!(
        "  Engine::recover (lock, replay, truncate check, start threads): {:.3} s; digest equal",
        full.as_secs_f64()
    );
    Ok(())
}

/// What one run measured.
struct Measured {
    /// Updates per second, submit to visible.
    rate: f64,
    /// Each fsync's duration, nanoseconds.
    syncs: Histogram<u64>,
    /// Gaps between consecutive publications, nanoseconds.
    gaps: Histogram<u64>,
    /// The report of recovering the run's journal, if it journaled.
    recovery: Option<RecoveryReport>,
}

/// Runs the workload on a fresh engine: with a journal at `policy` checkpointing every
/// `checkpoint` commands when `journal` is set, without one otherwise.
fn run(
    workload: &Workload,
    commands: usize,
    journal: Option<(SyncPolicy, Option<u64>)>,
    probe: &PublicationProbe,
) -> Result<Measured, Box<dyn Error>> {
    let directory = TemporaryJournal::create()?;
    let config =
        |journal: Option<(SyncPolicy, Option<u64>)>| -> Result<EngineConfig, Box<dyn Error>> {
            let config = EngineConfig::default();
            Ok(match journal {
                Some((sync, checkpoint_every_commands)) => JournalSettings {
                    sync,
                    checkpoint_every_commands,
                }
                .apply(config, directory.path())?,
                None => config,
            })
        };
    let book = Book::new(workload.book_config().clone());
    let engine = if journal.is_some() {
        Engine::recover(book.clone(), config(journal)?)?.0
    } else {
        Engine::start(book.clone(), config(None)?)?
    };
    let writer = engine.write_handle();
    for command in workload.initial_commands() {
        writer.submit(command)?;
    }
    writer.flush()?;
    let mut stream = workload.updates(SEED);
    let updates: Vec<BookCommand> = (0..commands).map(|_| stream.next_command()).collect();

    probe.reset();
    let started = Instant::now();
    for command in updates {
        writer.submit(command)?;
    }
    writer.flush()?;
    let elapsed = started.elapsed();
    let figures = probe.take_journal();

    drop(writer);
    let recovery = if journal.is_some() {
        engine.shutdown().map_err(|_| "the engine failed")?;
        let (engine, report) = Engine::recover(book, config(journal)?)?;
        engine
            .shutdown()
            .map_err(|_| "the recovered engine failed")?;
        Some(report)
    } else {
        engine.shutdown().map_err(|_| "the engine failed")?;
        None
    };
    Ok(Measured {
        rate: commands as f64 / elapsed.as_secs_f64(),
        syncs: figures.syncs,
        gaps: figures.gaps,
        recovery,
    })
}

/// The calling thread's time on a CPU so far, from Linux's `/proc/thread-self/schedstat`
/// (nanoseconds); `None` elsewhere. Less sensitive to a loaded machine than wall time.
fn thread_cpu_time() -> Option<Duration> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let nanos = text.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(nanos))
}

/// A measured time in seconds, or `unknown`.
fn seconds(time: Option<Duration>) -> String {
    time.map_or("unknown".to_owned(), |time| {
        format!("{:.3} s", time.as_secs_f64())
    })
}

/// The whole process's CPU time so far (user and system, all threads), from Linux's
/// `/proc/self/stat` in clock ticks (taken as 100 a second, Linux's `USER_HZ`); `None`
/// elsewhere.
fn process_cpu_time() -> Option<Duration> {
    let text = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may hold spaces) start at the state, field 3.
    let fields: Vec<&str> = text.rsplit_once(')')?.1.split_whitespace().collect();
    let user: u64 = fields.get(11)?.parse().ok()?;
    let system: u64 = fields.get(12)?.parse().ok()?;
    Some(Duration::from_millis((user + system) * 10))
}

/// Nanoseconds as microseconds, for printing.
fn micros(nanos: u64) -> String {
    format!("{:.0} µs", nanos as f64 / 1e3)
}
