//! Runs the workload against one contender and measures every figure.
//!
//! Phases, in order, each on a fresh or settled state:
//! 1. **memory**: build the state holding the initial load (`memory_bytes`); then hold one
//!    snapshot while the producer sends N further updates (`memory_held_bytes`).
//! 2. **workload**: one producer sends updates as fast as it can; one reader takes a snapshot
//!    every 10 ms and checks an invariant on it; a reconciler reconciles every 100 ms.
//! 3. **reconcile**: with the producer idle, time single reconciliations (`reconcile_ms`);
//!    then read what the settled design holds (`memory_settled_bytes`).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use rust_decimal::Decimal;
use snapstate::book::{Book, Storage};

use super::contender::{
    Contender, Producer, Settings, SnapshotReader, nanos_histogram, record_nanos,
};
use super::probe::Batches;
use super::reconcile::{Reconciling, venue_report};
use super::workload::{MonotonicClock, Updates, Workload, duration_nanos};

/// How long each phase may take, and how fast the producer sends.
#[derive(Clone, Copy, Debug)]
pub struct Schedule {
    /// The workload phase.
    pub workload: Duration,
    /// Most time spent sending the memory phase's N updates (only the naive copy-on-write
    /// design, at a few milliseconds per update, runs out of it).
    pub memory_updates: Duration,
    /// Most time spent on repeated quiet reconciliations.
    pub reconcile: Duration,
    /// Updates per second the producer paces itself to in the workload phase; `None`: as fast
    /// as it can (the workload's definition; pacing shows latency below saturation).
    pub rate: Option<u64>,
    /// The settings of the designs that have some.
    pub settings: Settings,
}

/// How far ahead of its schedule a paced producer may send.
const PACING_BURST: Duration = Duration::from_millis(1);
/// How long a paced producer sleeps between checks when it is ahead of its schedule.
const PACING_STEP: Duration = Duration::from_micros(100);

/// The reader's period.
pub const SNAPSHOT_PERIOD: Duration = Duration::from_millis(10);
/// The reconciler's period.
pub const RECONCILE_PERIOD: Duration = Duration::from_millis(100);
/// Quiet reconciliations: at least this many, time allowing at most `RECONCILE_REPEATS_MAX`.
const RECONCILE_REPEATS_MIN: usize = 3;
const RECONCILE_REPEATS_MAX: usize = 31;

/// What one contender's run measured, before it is reduced to figures.
#[derive(Debug)]
pub struct Measured {
    /// Updates applied per second during the workload phase.
    pub updates_per_sec: f64,
    /// Updates sent in the workload phase.
    pub updates: u64,
    /// Per-update writer stall, nanoseconds; `None` when the design could not measure it.
    pub stalls: Option<Histogram<u64>>,
    /// Batch sizes during the workload, for designs that batch.
    pub batch_sizes: Option<Batches>,
    /// Gaps between consecutive publications during the workload, nanoseconds, for designs
    /// that publish on a writer of their own.
    pub publication_gaps: Option<Histogram<u64>>,
    /// Time to obtain a snapshot, nanoseconds, one sample per reader tick.
    pub snapshots: Histogram<u64>,
    /// Submit to visible, nanoseconds, sampled updates.
    pub visible: Histogram<u64>,
    /// Quiet reconciliations, nanoseconds.
    pub reconciles: Histogram<u64>,
    /// Reconciliations during the workload, nanoseconds (snapshot, venue report and diff).
    pub reconciles_under_load: Histogram<u64>,
    /// Bytes the state with N slots live allocated; `None` without a counting allocator.
    pub memory_bytes: Option<u64>,
    /// Extra bytes a held snapshot kept alive; `None` without a counting allocator, or when a
    /// held snapshot blocks the writer.
    pub memory_held_bytes: Option<u64>,
    /// How many updates the memory phase sent (N, unless the time ran out).
    pub memory_updates: u64,
    /// Bytes the design holds after the workload and the quiet reconciliations, with no
    /// snapshot held and everything it can free freed (its state, any second copy of it, the
    /// versions it keeps, its queue); `None` without a counting allocator.
    pub memory_settled_bytes: Option<u64>,
    /// Snapshots whose invariant check failed (must be zero).
    pub invariant_violations: u64,
}

/// Runs every phase for contender `C`.
pub fn measure<C: Contender>(
    workload: &Workload,
    schedule: Schedule,
    allocated: Option<fn() -> usize>,
    seed: u64,
) -> Measured {
    let before = allocated.map(|bytes| bytes());
    let state = C::build_state(workload);
    let memory_bytes = allocated
        .zip(before)
        .map(|(bytes, before)| bytes().saturating_sub(before) as u64);
    let (mut producer, reader) = C::start_with_settings(state, &schedule.settings);
    let mut updates = workload.updates(seed);

    let (memory_held_bytes, memory_updates) = memory_held::<C>(
        &mut producer,
        &reader,
        &mut updates,
        workload.slots(),
        schedule.memory_updates,
        allocated,
    );
    // Forget stalls and gaps from the memory phase: the figures are about the workload.
    let _ = producer.take_stalls();
    let _ = producer.take_publication_gaps();

    let clock = MonotonicClock::new();
    let stop = AtomicBool::new(false);
    let (produced, snapshots, violations, reconciles_under_load) = thread::scope(|scope| {
        let (for_reading, for_reconciling) = (reader.clone(), reader.clone());
        let stop = &stop;
        let reading = scope.spawn(move || read_periodically(for_reading, stop));
        let reconciling = scope.spawn(move || reconcile_periodically(for_reconciling, stop));
        let produced = produce::<C>(&mut producer, &mut updates, &clock, schedule);
        stop.store(true, Ordering::Relaxed);
        let (snapshots, violations) = reading.join().expect("the reader does not panic");
        let reconciles = reconciling.join().expect("the reconciler does not panic");
        (produced, snapshots, violations, reconciles)
    });
    let stalls = producer.take_stalls();
    let publication_gaps = producer.take_publication_gaps();
    let batch_sizes = producer.take_batch_sizes();

    let reconciles = reconcile_quietly(reader.clone(), schedule.reconcile);
    producer.reclaim();
    let memory_settled_bytes = allocated
        .zip(before)
        .map(|(bytes, before)| bytes().saturating_sub(before) as u64);
    producer.finish();
    Measured {
        updates_per_sec: produced.updates as f64 / produced.elapsed.as_secs_f64(),
        updates: produced.updates,
        stalls,
        batch_sizes,
        publication_gaps,
        snapshots,
        visible: produced.visible,
        reconciles,
        reconciles_under_load,
        memory_bytes,
        memory_held_bytes,
        memory_updates,
        memory_settled_bytes,
        invariant_violations: violations,
    }
}

/// Holds one snapshot while the producer sends up to `count` updates, and returns how much
/// more memory was allocated with it held than after it is dropped, with the number of
/// updates sent.
fn memory_held<C: Contender>(
    producer: &mut C::Producer,
    reader: &C::Reader,
    updates: &mut Updates,
    count: u32,
    budget: Duration,
    allocated: Option<fn() -> usize>,
) -> (Option<u64>, u64) {
    if C::SNAPSHOT_BLOCKS_WRITER {
        // Holding this design's snapshot blocks every update; send the updates unheld, so
        // that the later phases start from a comparable state.
        let sent = send_for(producer, updates, count, budget);
        return (None, sent);
    }
    let mut reader = reader.clone();
    let held = reader.snapshot();
    let sent = send_for(producer, updates, count, budget);
    // Both readings are taken with the design settled: everything it can free, freed.
    producer.reclaim();
    let with_held = allocated.map(|bytes| bytes());
    drop(held);
    producer.reclaim();
    let without = allocated.map(|bytes| bytes());
    let extra = with_held
        .zip(without)
        .map(|(with_held, without)| with_held.saturating_sub(without) as u64);
    (extra, sent)
}

fn send_for<P: Producer>(
    producer: &mut P,
    updates: &mut Updates,
    count: u32,
    budget: Duration,
) -> u64 {
    let started = Instant::now();
    let mut sent = 0;
    while sent < u64::from(count) {
        producer.send(updates.next_command());
        sent += 1;
        if sent.is_multiple_of(16) && started.elapsed() > budget {
            break;
        }
    }
    producer.flush();
    sent
}

struct Produced {
    updates: u64,
    elapsed: Duration,
    visible: Histogram<u64>,
}

/// The producer: sends updates as fast as it can (or at the schedule's rate) for the workload
/// phase, sampling every `C::SAMPLE_EVERY`-th update's submit time and resolving samples as the
/// design reports them visible.
fn produce<C: Contender>(
    producer: &mut C::Producer,
    updates: &mut Updates,
    clock: &MonotonicClock,
    schedule: Schedule,
) -> Produced {
    let base = producer.visible_through();
    // Samples are the updates whose sequence numbers are multiples of `SAMPLE_EVERY`, so that
    // a design's publication log (every batch with such a number) covers them.
    let mut submitted = Vec::new();
    let interval_nanos = schedule.rate.map(|rate| 1e9 / rate.max(1) as f64);
    let mut samples = Samples::default();
    let started = Instant::now();
    let mut sent = 0_u64;
    loop {
        if let Some(interval_nanos) = interval_nanos {
            let due = Duration::from_nanos((sent as f64 * interval_nanos) as u64);
            wait_until(started + due, producer, &mut samples, clock);
        }
        let command = updates.next_command();
        sent += 1;
        let sampled = (base + sent).is_multiple_of(C::SAMPLE_EVERY);
        if sampled {
            let sample = (base + sent, clock.nanos());
            samples.pending.push_back(sample);
            submitted.push(sample);
        }
        producer.send(command);
        samples.observe(producer, clock);
        if sampled && started.elapsed() >= schedule.workload {
            break;
        }
    }
    producer.flush();
    let elapsed = started.elapsed();
    samples.observe(producer, clock);
    let visible = match producer.publications() {
        Some(log) => visible_from_log::<C>(&submitted, &log, clock).unwrap_or_else(|| {
            eprintln!(
                "warning: {}: the publication log misses sampled updates; submit to visible \
                 is as the producer observed it",
                C::NAME
            );
            samples.visible
        }),
        None => samples.visible,
    };
    Produced {
        updates: sent,
        elapsed,
        visible,
    }
}

/// Submit to visible from a design's publication log: each sampled update became visible when
/// the first batch whose last sequence number reaches it was published. `None` if the log
/// does not cover every sample.
fn visible_from_log<C: Contender>(
    submitted: &[(u64, u64)],
    log: &[(u64, Instant)],
    clock: &MonotonicClock,
) -> Option<Histogram<u64>> {
    debug_assert!(
        C::SAMPLE_EVERY.is_multiple_of(super::probe::VISIBLE_LOG_EVERY),
        "the log lists the batches of every sampled update"
    );
    let mut visible = nanos_histogram();
    let mut batches = log.iter().peekable();
    for &(seq, submitted_nanos) in submitted {
        while batches.next_if(|(last_seq, _)| *last_seq < seq).is_some() {}
        let &&(_, published) = batches.peek()?;
        record_nanos(
            &mut visible,
            clock.nanos_at(published).saturating_sub(submitted_nanos),
        );
    }
    Some(visible)
}

/// Sampled submits not yet seen visible, and the submit-to-visible times of those that were.
struct Samples {
    pending: VecDeque<(u64, u64)>,
    visible: Histogram<u64>,
}

impl Default for Samples {
    fn default() -> Self {
        Self {
            pending: VecDeque::new(),
            visible: nanos_histogram(),
        }
    }
}

impl Samples {
    fn observe<P: Producer>(&mut self, producer: &mut P, clock: &MonotonicClock) {
        if let Some(&(oldest, _)) = self.pending.front() {
            let through = producer.visible_through();
            if through >= oldest {
                resolve(&mut self.pending, &mut self.visible, through, clock.nanos());
            }
        }
    }
}

/// A paced producer sends in bursts, like one woken by the network: it may run up to
/// [`PACING_BURST`] ahead of its schedule, then sleeps in steps of [`PACING_STEP`] (leaving its
/// core to the other threads), checking for visibility between steps. Its visibility times
/// therefore carry up to about one step of observation delay for designs that publish on
/// another thread.
fn wait_until<P: Producer>(
    due: Instant,
    producer: &mut P,
    samples: &mut Samples,
    clock: &MonotonicClock,
) {
    if due > Instant::now() + PACING_BURST {
        // Nothing more is due: a design that holds updates back applies them now.
        producer.pause();
        samples.observe(producer, clock);
    }
    while due > Instant::now() + PACING_BURST {
        thread::sleep(PACING_STEP);
        samples.observe(producer, clock);
    }
}

fn resolve(
    pending: &mut VecDeque<(u64, u64)>,
    visible: &mut Histogram<u64>,
    through: u64,
    now: u64,
) {
    while let Some(&(seq, submitted)) = pending.front() {
        if seq > through {
            break;
        }
        record_nanos(visible, now.saturating_sub(submitted));
        pending.pop_front();
    }
}

/// The reader: every 10 ms, obtain a snapshot (timed) and check the book's net position
/// against the sum of its slots' positions on it.
fn read_periodically<R: SnapshotReader>(mut reader: R, stop: &AtomicBool) -> (Histogram<u64>, u64) {
    let mut took = nanos_histogram();
    let mut violations = 0;
    let mut next = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        let started = Instant::now();
        let snapshot = reader.snapshot();
        let nanos = duration_nanos(started.elapsed());
        record_nanos(&mut took, nanos);
        if !net_position_adds_up(&snapshot) {
            violations += 1;
        }
        drop(snapshot);
        next += SNAPSHOT_PERIOD;
        sleep_until(&mut next);
    }
    (took, violations)
}

/// The invariant the reader checks: the net position equals the sum of the slots' positions
/// (`docs/architecture.md`, invariant 4). A torn view of the book would break it.
pub fn net_position_adds_up<S: Storage>(book: &Book<S>) -> bool {
    let sum = book
        .slots_unordered()
        .fold(Decimal::ZERO, |total, slot| total + slot.position());
    sum == book.net_position()
}

/// The reconciler: every 100 ms, obtain a snapshot, build the venue's report from it and diff
/// the two. Timed whole (for designs that hold a lock, the lock is held throughout).
fn reconcile_periodically<R: SnapshotReader>(mut reader: R, stop: &AtomicBool) -> Histogram<u64> {
    let mut took = nanos_histogram();
    let mut reconciling = Reconciling::new();
    let mut next = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        let started = Instant::now();
        let snapshot = reader.snapshot();
        let report = venue_report(&snapshot);
        reconciling.reconcile(&snapshot, &report);
        drop(snapshot);
        record_nanos(&mut took, duration_nanos(started.elapsed()));
        next += RECONCILE_PERIOD;
        sleep_until(&mut next);
    }
    took
}

/// Quiet reconciliations: the venue report is built beforehand; each timed run obtains a
/// snapshot the design's way and reconciles it against the report.
fn reconcile_quietly<R: SnapshotReader>(mut reader: R, budget: Duration) -> Histogram<u64> {
    let report = {
        let snapshot = reader.snapshot();
        venue_report(&snapshot)
    };
    let mut took = nanos_histogram();
    let mut reconciling = Reconciling::new();
    let started = Instant::now();
    for repeat in 0..RECONCILE_REPEATS_MAX {
        if repeat >= RECONCILE_REPEATS_MIN && started.elapsed() > budget {
            break;
        }
        let timing = Instant::now();
        let snapshot = reader.snapshot();
        reconciling.reconcile(&snapshot, &report);
        let nanos = duration_nanos(timing.elapsed());
        record_nanos(&mut took, nanos);
        drop(snapshot);
    }
    took
}

/// Sleeps until `next`, in short steps; if `next` is already past, moves it to now.
fn sleep_until(next: &mut Instant) {
    let now = Instant::now();
    if *next > now {
        thread::sleep(*next - now);
    } else {
        *next = now;
    }
}
