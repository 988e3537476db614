//! The writer's work on the book, single-threaded and repeatable: for profilers (callgrind,
//! `perf`) and quick before/after comparisons of the book's layout.
//!
//! Builds the benchmark workload's book, then applies the workload's update stream in batches,
//! as the engine's writer does under saturation: apply a batch, publish (clone the book, which
//! the engine hands to readers), and drop the version the previous publication made (the
//! writer's reclamation). With `--standard` it applies the same stream in place to a
//! `Book<Standard>`, as the lock-based contenders do, without publishing.
//!
//! ```sh
//! cargo run --release -p snapstate-bench --example apply_batches -- [--standard] [SLOTS] [UPDATES] [BATCH]
//! valgrind --tool=callgrind target/release/examples/apply_batches 10000 200000
//! ```
//!
//! Defaults: 10,000 slots, 2,000,000 updates, batches of 4,096 (the threaded engine's fixed
//! limit before its batches were sized by time, decision 38; under saturation they now take
//! about 13,700 updates at 10,000 slots).
//! Prints the nanoseconds per update of the measured part (commands are generated before each
//! batch, outside the timing).

use std::hint::black_box;
use std::time::{Duration, Instant};

use snapstate::book::{Book, BookCommand, Persistent, Standard, Storage};
use snapstate_bench::workload::Workload;

/// The seed of the update stream (the criterion benches' seed).
const SEED: u64 = 7;

fn main() {
    let mut arguments: Vec<String> = std::env::args().skip(1).collect();
    let standard = arguments.iter().any(|argument| argument == "--standard");
    arguments.retain(|argument| argument != "--standard");
    let number = |index: usize, default: usize| {
        arguments
            .get(index)
            .map_or(default, |text| text.parse().expect("a whole number"))
    };
    let (slots, updates, batch) = (number(0, 10_000), number(1, 2_000_000), number(2, 4_096));
    let workload = Workload::new(u32::try_from(slots).expect("slots fit in u32"));
    let elapsed = if standard {
        run::<Standard>(&workload, updates, batch, false)
    } else {
        run::<Persistent>(&workload, updates, batch, true)
    };
    let storage = if standard { "standard" } else { "persistent" };
    println!(
        "{storage}: {slots} slots, {updates} updates in batches of {batch}: {:.1} ns per update ({:.2} M/s)",
        elapsed.as_secs_f64() * 1e9 / updates as f64,
        updates as f64 / elapsed.as_secs_f64() / 1e6,
    );
}

/// Applies `updates` updates in batches of `batch`, publishing after each batch if `publish`.
/// Returns the time spent applying, publishing and reclaiming.
fn run<S: Storage>(workload: &Workload, updates: usize, batch: usize, publish: bool) -> Duration {
    let mut book: Book<S> = workload.initial_book();
    let mut stream = workload.updates(SEED);
    let mut published: Option<Book<S>> = None;
    let mut commands: Vec<BookCommand> = Vec::with_capacity(batch);
    let mut elapsed = Duration::ZERO;
    let mut remaining = updates;
    while remaining > 0 {
        let size = batch.min(remaining);
        remaining -= size;
        commands.clear();
        commands.extend((0..size).map(|_| stream.next_command()));
        let started = Instant::now();
        for command in &commands {
            black_box(book.apply(command)).expect("the workload's updates apply");
        }
        if publish {
            // The previous publication's version is dropped here: the writer's reclamation.
            published = Some(book.clone());
        }
        elapsed += started.elapsed();
    }
    black_box(published);
    elapsed
}
