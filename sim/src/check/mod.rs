//! The deterministic simulation with faults: the grid market maker trades on the simulated
//! venue through the engine and the reconciler, stepped by a manual clock, while the venue
//! injects faults; every step is checked, and after the faults stop the book must converge to
//! the venue's truth.
//!
//! # A run
//!
//! [`run`] takes a [`SimConfig`] (a seed and a [`Scenario`], or any configuration) and:
//!
//! 1. **Trades with faults** for [`SimConfig::trading`], one [`SimConfig::step`] at a time:
//!    each step is one [`World::step`](crate::world::World::step) to the manual clock, the
//!    same step the wall-clock run takes. The market maker decides on the latest snapshot, the
//!    venue moves its price and delivers the updates due (delayed, duplicated, reordered or
//!    dropped as the faults say; some fills are never sent and show only in open-orders
//!    answers), the harness submits the updates and the placements and flushes, so that the
//!    state after each step does not depend on thread timing, and then the placements and every
//!    cancel go to the venue. A reconciliation cycle ([`Reconciler::run_cycle`]) runs every
//!    [`SimConfig::steps_per_cycle`] steps; its answers can leave out just-finished orders,
//!    fail or time out.
//! 2. **Halts**: faults stop, the market maker stops, the price holds still.
//! 3. **Settles**: one cycle per cycle interval until the book agrees with the venue's truth for
//!    good, within [`SimConfig::convergence_bound_cycles`] (whose documentation derives the
//!    bound), and then [`SimConfig::confirmation_cycles`] more, none of which may confirm a
//!    difference (an order that expires after the halt may show, unconfirmed, while its update
//!    is on its way; nothing else may).
//!
//! Everything that decides what happens is drawn from the venue's two seeded streams (market
//! and faults), and the engine is flushed after every step, so a seed replays exactly.
//!
//! # What it checks
//!
//! * After every step and every cycle that changed the book: the snapshot's invariants
//!   ([`Book::check_invariants`](snapstate::book::Book::check_invariants)); that its counters
//!   account for every command sent (applied + rejected = sent = its last sequence number,
//!   nothing panicked, no outcome record dropped); that no command was rejected.
//! * For every command: the engine's outcome record equals what the pure book gives for the
//!   same command in the same order (a shadow book the harness keeps), and the engine's final
//!   book equals the shadow.
//! * A failed or timed-out query changes none of the reconciler's evidence.
//! * After the halt, convergence within the bound: every order the venue knows is in the book
//!   with the same filled quantity (no fill lost, none counted twice), live or finished alike,
//!   the same live status, a finished one as the venue's status or `lost`; no book order unknown
//!   to the venue; the net positions are equal; nothing is left in flight.
//! * Every injected fault is followed, through the venue's fault journal, to the mechanism
//!   that resolved it ([`Resolution`]); none stays unresolved, and the resolutions of each kind
//!   add up to what the venue counted.
//! * Cross-checks between the library's own counters: the reconciler's venue errors against
//!   the venue's query faults, its corrections against the engine's `corrected` count.
//! * Without faults: not one confirmed mismatch, correction, venue cancel, stale or duplicate
//!   update.
//!
//! # Replaying a seed
//!
//! A failure prints its seed and the command that replays it, which prints the run's report:
//!
//! ```text
//! cargo run --release -- sim-check --seed 42
//! cargo run --release -- sim-check --seed 42 --fault-free
//! ```
//!
//! `sim-check --seeds 0..300` runs a range (what CI runs) and prints the sum of the reports.
//!
//! [`Reconciler::run_cycle`]: snapstate::reconcile::Reconciler::run_cycle

mod command;
mod config;
mod crash;
mod failure;
mod harness;
mod ledger;
mod report;
mod resolution;
mod truth;

pub use command::{SimCheckArgs, run_check};
pub use config::{START, Scenario, SimConfig, grid, initial_price};
pub use crash::{CrashConfig, CrashFigures, CrashSchedule, PlannedCrash};
pub use failure::{FailureReason, SimFailure};
pub use harness::run;
pub use report::{Resolutions, RunReport, Summary};
pub use resolution::{Resolution, StaleKind};

/// Runs `scenario` for every seed in `seeds` on `workers` threads (at least one), and returns
/// the results in seed order, whatever order the threads finished in.
///
/// Each run is independent and deterministic, so the results do not depend on `workers`.
pub fn run_seeds(
    scenario: Scenario,
    seeds: std::ops::Range<u64>,
    workers: usize,
) -> Vec<Result<RunReport, SimFailure>> {
    let workers = u64::try_from(workers.max(1)).unwrap_or(1);
    let mut results: Vec<(u64, Result<RunReport, SimFailure>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|worker| {
                let seeds = seeds.clone();
                scope.spawn(move || {
                    seeds
                        .filter(|seed| seed % workers == worker)
                        .map(|seed| (seed, run(&SimConfig::new(scenario, seed))))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|handle| match handle.join() {
                Ok(results) => results,
                Err(panic) => std::panic::resume_unwind(panic),
            })
            .collect()
    });
    results.sort_by_key(|(seed, _)| *seed);
    results.into_iter().map(|(_, result)| result).collect()
}

/// How many threads to run seeds on: one per core.
pub fn default_workers() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
}
