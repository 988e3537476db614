//! Where the writer's time per update goes below saturation (issue 13), in two modes.
//!
//! **Paced** (the default): the inline writer applies one update per call at `RATE` a second,
//! paced as `snapstate bench --rate` paces its producer (up to 1 ms ahead of the schedule, then
//! sleeps of 100 µs). Prints the call as the producer sees it, the same per kind of command,
//! and the writer's own steps as its metrics report them (applying the command, publishing,
//! freeing the replaced version), at p50 / p90 / p99 / p99.9. `--reader` adds a thread that
//! loads and walks a snapshot every 10 ms; `--no-metrics` turns the engine's metrics off (then
//! only the call is timed).
//!
//! **Bursts** (`--burst N`): the threaded writer's own work on a paced burst, without its
//! wake-up: bursts of `N` updates applied on this thread as one batch (what the threaded
//! writer does with a burst it finds queued), in batches of 1, 2, 4 … (a ramp that publishes
//! the first commands of a burst sooner), and in that ramp with the frees deferred to the
//! burst's end; 100 µs apart. Prints when each update of a burst became visible, counted from
//! the burst's start, and the writer's time per update.
//!
//! ```sh
//! cargo run --release -p snapstate-bench --example writer_steps -- [RATE] [SECONDS] [--reader] [--no-metrics]
//! cargo run --release -p snapstate-bench --example writer_steps -- --burst 22
//! ```

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use metrics::{Counter, Gauge, HistogramFn, Key, KeyName, Metadata, Recorder, SharedString, Unit};
use snapstate::engine::InlineWriter;
use snapstate_bench::contenders::engine_config;
use snapstate_bench::workload::Workload;

#[derive(Default)]
struct Steps {
    apply: Vec<u64>,
    publish: Vec<u64>,
    reclaim: Vec<u64>,
}

struct Step(Arc<Mutex<Steps>>, usize);

impl HistogramFn for Step {
    fn record(&self, seconds: f64) {
        let nanos = (seconds * 1e9) as u64;
        let mut steps = self.0.lock().expect("steps");
        match self.1 {
            0 => steps.apply.push(nanos),
            1 => steps.publish.push(nanos),
            _ => steps.reclaim.push(nanos),
        }
    }
}

struct StepRecorder(Arc<Mutex<Steps>>);

impl Recorder for StepRecorder {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn register_counter(&self, _: &Key, _: &Metadata<'_>) -> Counter {
        Counter::noop()
    }
    fn register_gauge(&self, _: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::noop()
    }
    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> metrics::Histogram {
        let index = match key.name() {
            "snapstate_apply_seconds" => 0,
            "snapstate_publish_seconds" => 1,
            "snapstate_reclaim_seconds" => 2,
            _ => return metrics::Histogram::noop(),
        };
        metrics::Histogram::from_arc(Arc::new(Step(Arc::clone(&self.0), index)))
    }
}

fn quantiles(name: &str, values: &mut [u64]) {
    if values.is_empty() {
        println!("{name:>8}: none");
        return;
    }
    values.sort_unstable();
    let at = |q: f64| values[((values.len() - 1) as f64 * q) as usize] as f64 / 1e3;
    println!(
        "{name:>8}: p50 {:.2} µs, p90 {:.2}, p99 {:.2}, p99.9 {:.2}, max {:.1} ({} samples)",
        at(0.5),
        at(0.9),
        at(0.99),
        at(0.999),
        at(1.0),
        values.len()
    );
}

/// The threaded writer's own work on a burst, without its wake-up: bursts of `burst` updates
/// applied on this thread as one batch (`ramp` false) or in batches of 1, 2, 4 … (`ramp`
/// true), each batch published when applied. Prints when each update of a burst became
/// visible, counted from the burst's start, and the time per update.
fn bursts(burst: usize, ramp: bool, defer: bool, rounds: usize) {
    let workload = Workload::new(10_000);
    let mut updates = workload.updates(7);
    let mut writer = InlineWriter::start(workload.initial_book(), engine_config()).expect("start");
    let mut visible = Vec::new();
    let mut records = Vec::new();
    let mut busy = Duration::ZERO;
    let mut held = Vec::new();
    for _ in 0..rounds {
        let commands: Vec<_> = (0..burst).map(|_| updates.next_command()).collect();
        let mut commands = commands.into_iter();
        let started = Instant::now();
        let mut limit = if ramp { 1 } else { burst };
        let mut left = burst;
        while left > 0 {
            let size = limit.min(left);
            writer
                .apply_all_into(commands.by_ref().take(size), &mut records)
                .expect("applies");
            if defer && left > size {
                // Holding the version keeps the next publication from freeing it: the free
                // waits for the burst's end, as the threaded writer defers it while commands
                // wait.
                held.push(Arc::clone(writer.snapshot()));
            }
            let at = started.elapsed().as_nanos() as u64;
            visible.extend(std::iter::repeat_n(at, size));
            left -= size;
            limit *= 2;
        }
        held.clear();
        writer.reclaim();
        busy += started.elapsed();
        records.clear();
        // A pause between bursts, as the paced producer's.
        thread::sleep(Duration::from_micros(100));
    }
    println!(
        "bursts of {burst}, {}{}: {:.0} ns per update of writer time",
        if ramp {
            "batches of 1, 2, 4 …"
        } else {
            "one batch"
        },
        if defer {
            ", frees deferred to the burst's end"
        } else {
            ""
        },
        busy.as_nanos() as f64 / (burst * rounds) as f64
    );
    quantiles("visible", &mut visible);
    writer.shutdown().expect("shutdown");
}

fn main() {
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    if let Some(position) = arguments.iter().position(|argument| argument == "--burst") {
        let burst = arguments[position + 1].parse().expect("a burst size");
        for _ in 0..3 {
            for (ramp, defer) in [(false, false), (true, false), (true, true)] {
                bursts(burst, ramp, defer, 4_000);
            }
        }
        return;
    }
    let reader = arguments.iter().any(|argument| argument == "--reader");
    let numbers: Vec<f64> = arguments
        .iter()
        .filter_map(|argument| argument.parse().ok())
        .collect();
    let rate = numbers.first().copied().unwrap_or(100_000.0);
    let seconds = numbers.get(1).copied().unwrap_or(1.0);
    let steps = Arc::new(Mutex::new(Steps::default()));
    metrics::set_global_recorder(StepRecorder(Arc::clone(&steps))).expect("the recorder");

    let workload = Workload::new(10_000);
    let mut updates = workload.updates(7);
    let config = snapstate::engine::EngineConfig {
        record_metrics: !arguments.iter().any(|argument| argument == "--no-metrics"),
        ..engine_config()
    };
    let mut writer = InlineWriter::start(workload.initial_book(), config).expect("start");
    let stop = AtomicBool::new(false);
    let handle = writer.read_handle();
    let mut calls = Vec::new();
    let mut by_kind = std::collections::BTreeMap::new();
    thread::scope(|scope| {
        if reader {
            let stop = &stop;
            scope.spawn(move || {
                let mut orders = 0;
                while !stop.load(Ordering::Relaxed) {
                    let snapshot = handle.load();
                    orders += snapshot.state().orders_unordered().count();
                    drop(snapshot);
                    thread::sleep(Duration::from_millis(10));
                }
                std::hint::black_box(orders);
            });
        }
        let interval = 1e9 / rate;
        let started = Instant::now();
        let mut sent = 0_u64;
        while started.elapsed() < Duration::from_secs_f64(seconds) {
            let due = started + Duration::from_nanos((sent as f64 * interval) as u64);
            while due > Instant::now() + Duration::from_millis(1) {
                thread::sleep(Duration::from_micros(100));
            }
            let command = updates.next_command();
            let kind = command.kind();
            let before = Instant::now();
            let _ = writer.apply(command).expect("applies");
            let nanos = before.elapsed().as_nanos() as u64;
            calls.push(nanos);
            by_kind.entry(kind).or_insert_with(Vec::new).push(nanos);
            sent += 1;
        }
        stop.store(true, Ordering::Relaxed);
    });
    let mut steps = std::mem::take(&mut *steps.lock().expect("steps"));
    println!("rate {rate}/s, {seconds} s, reader: {reader}");
    quantiles("call", &mut calls);
    for (kind, values) in &mut by_kind {
        quantiles(kind, values);
    }
    quantiles("apply", &mut steps.apply);
    quantiles("publish", &mut steps.publish);
    quantiles("reclaim", &mut steps.reclaim);
    writer.shutdown().expect("shutdown");
}
