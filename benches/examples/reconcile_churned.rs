//! One reconciliation of a churned book, in both storages, alternating in one process: for
//! before/after comparisons of the diff and of the order index.
//!
//! Builds the benchmark workload's book, applies `UPDATES` of its update stream (so that the
//! live orders' ids and levels are shuffled as after a `snapstate bench` run, unlike the
//! freshly loaded book of the criterion bench `reconcile`), builds the venue's answer with the
//! same planted differences as `snapstate bench`, then times `ROUNDS` reconciliations of the
//! persistent book and of the `std` one in turn.
//!
//! ```sh
//! cargo run --release -p snapstate-bench --example reconcile_churned -- [SLOTS] [UPDATES] [ROUNDS] [persistent|standard]
//! ```
//!
//! Defaults: 10,000 slots, 1,000,000 updates, 200 rounds. Prints the median and the minimum of
//! each, in microseconds, and their ratio.

use std::time::Instant;

use snapstate::book::{Book, Persistent, Standard, Storage};
use snapstate_bench::reconcile::{Reconciling, venue_report};
use snapstate_bench::workload::Workload;

/// The seed of the update stream (the criterion benches' seed).
const SEED: u64 = 7;

fn main() {
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    let number = |index: usize, default: usize| {
        arguments
            .get(index)
            .map_or(default, |text| text.parse().expect("a whole number"))
    };
    let (slots, updates, rounds) = (number(0, 10_000), number(1, 1_000_000), number(2, 200));
    let workload = Workload::new(u32::try_from(slots).expect("slots fit in u32"));
    let persistent: Book<Persistent> = churned(&workload, updates);
    let standard: Book<Standard> = churned(&workload, updates);
    let (persistent_venue, standard_venue) = (venue_report(&persistent), venue_report(&standard));
    let (mut persistent_times, mut standard_times) = (Vec::new(), Vec::new());
    // A fourth argument, `persistent` or `standard`, times only that one (for a profiler).
    let only = arguments.get(3).map(String::as_str);
    for _ in 0..rounds {
        if only != Some("standard") {
            persistent_times.push(time(&persistent, &persistent_venue));
        }
        if only != Some("persistent") {
            standard_times.push(time(&standard, &standard_venue));
        }
    }
    let (persistent_median, persistent_min) = summary(&mut persistent_times);
    let (standard_median, standard_min) = summary(&mut standard_times);
    println!(
        "{slots} slots after {updates} updates, {rounds} rounds: persistent median {persistent_median:.1} µs (min {persistent_min:.1}), standard median {standard_median:.1} µs (min {standard_min:.1}), ratio {:.2}",
        persistent_median / standard_median
    );
}

fn churned<S: Storage>(workload: &Workload, updates: usize) -> Book<S> {
    let mut book: Book<S> = workload.initial_book();
    let mut stream = workload.updates(SEED);
    for _ in 0..updates {
        book.apply(&stream.next_command())
            .expect("the workload's updates apply");
    }
    book
}

/// One reconciliation from fresh evidence, in microseconds.
fn time<S: Storage>(book: &Book<S>, venue: &snapstate::venue::VenueReport) -> f64 {
    let mut reconciling = Reconciling::default();
    let started = Instant::now();
    std::hint::black_box(reconciling.reconcile(book, venue));
    started.elapsed().as_secs_f64() * 1e6
}

/// The median and the minimum (not a number where nothing was timed).
fn summary(times: &mut [f64]) -> (f64, f64) {
    if times.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    times.sort_by(f64::total_cmp);
    (times[times.len() / 2], times[0])
}
