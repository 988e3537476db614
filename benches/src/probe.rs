//! A `metrics` recorder that keeps the engine's per-batch publication times, for snapstate's
//! writer-stall figure.
//!
//! The engine's writer records, after each batch, `snapstate_batch_size` and then
//! `snapstate_publish_seconds` (the time to make the batch's version visible) on its own
//! thread, in that order. This recorder pairs the two: every update of a batch is counted as
//! having waited for that batch's publication, so the distribution is per update, like the
//! other designs'. Everything else the engine records is ignored.
//!
//! It also stamps when each batch became visible, for the submit-to-visible figure: the writer
//! records the batch size right after the batch's store into the publication cell, so the
//! stamp taken then is the moment readers can see the batch. Counting the batch sizes since
//! the writer started gives each batch's last sequence number (the comparison's producer is
//! the only one, so its n-th update is `Seq(n)`). To stay small, the log keeps only the
//! batches that include a multiple of [`VISIBLE_LOG_EVERY`], the sequence numbers the
//! producer samples.
//!
//! For the durability figures (`benches/examples/durability.rs`) it also keeps the journal
//! thread's `snapstate_journal_sync_seconds` (each `fdatasync`) and the gap between
//! consecutive publication stamps ([`PublicationProbe::take_journal`]).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use hdrhistogram::Histogram;
use metrics::{Counter, Gauge, HistogramFn, Key, KeyName, Metadata, Recorder, SharedString, Unit};

use super::contender::nanos_histogram;

/// The probe logs the publication of every batch that includes a sequence number that is a
/// multiple of this (the producer samples those for the submit-to-visible figure).
pub const VISIBLE_LOG_EVERY: u64 = 64;

static PROBE: OnceLock<Arc<PublicationProbe>> = OnceLock::new();

/// Installs the recorder as the process's global `metrics` recorder, once. Returns whether the
/// probe is in place (false if another recorder was installed first).
pub fn install() -> bool {
    if PROBE.get().is_some() {
        return true;
    }
    let probe = Arc::new(PublicationProbe::default());
    let recorder = ProbeRecorder {
        batch_size: metrics::Histogram::from_arc(Arc::new(BatchSize(Arc::clone(&probe)))),
        publish_time: metrics::Histogram::from_arc(Arc::new(PublishTime(Arc::clone(&probe)))),
        journal_sync: metrics::Histogram::from_arc(Arc::new(JournalSync(Arc::clone(&probe)))),
        apply_time: metrics::Histogram::from_arc(Arc::new(PerBatch(
            Arc::clone(&probe),
            Step::Apply,
        ))),
        reclaim_time: metrics::Histogram::from_arc(Arc::new(PerBatch(
            Arc::clone(&probe),
            Step::Reclaim,
        ))),
    };
    if metrics::set_global_recorder(recorder).is_err() {
        return false;
    }
    PROBE.set(probe).is_ok()
}

/// The installed probe, if [`install`] succeeded.
pub fn installed() -> Option<&'static PublicationProbe> {
    PROBE.get().map(Arc::as_ref)
}

/// Publication times and batch sizes, as the engine reports them.
#[derive(Debug)]
pub struct PublicationProbe {
    last_batch: AtomicU64,
    publications: Mutex<Histogram<u64>>,
    batches: Mutex<Batches>,
    visible: Mutex<VisibleLog>,
    /// Per batch: applying its commands, and freeing what it replaced, nanoseconds.
    steps: Mutex<[Histogram<u64>; 2]>,
    /// Each journal `fdatasync`, nanoseconds.
    journal_syncs: Mutex<Histogram<u64>>,
}

/// When batches became visible: `(last sequence number, instant)` for each logged batch, in
/// order.
#[derive(Debug, Default)]
struct VisibleLog {
    /// Updates published since the writer started: the last batch's last sequence number.
    published: u64,
    batches: Vec<(u64, Instant)>,
    /// The latest publication stamp, and the gaps between consecutive stamps (nanoseconds).
    last_stamp: Option<Instant>,
    gaps: Option<Histogram<u64>>,
}

impl Default for PublicationProbe {
    fn default() -> Self {
        Self {
            last_batch: AtomicU64::new(1),
            publications: Mutex::new(nanos_histogram()),
            batches: Mutex::new(Batches::default()),
            visible: Mutex::new(VisibleLog::default()),
            steps: Mutex::new([nanos_histogram(), nanos_histogram()]),
            journal_syncs: Mutex::new(nanos_histogram()),
        }
    }
}

impl PublicationProbe {
    /// Takes (and resets) the per-update publication-time distribution, in nanoseconds, and
    /// the batch sizes.
    pub fn take(&self) -> (Histogram<u64>, Batches) {
        let publications = std::mem::replace(&mut *lock(&self.publications), nanos_histogram());
        let batches = std::mem::take(&mut *lock(&self.batches));
        (publications, batches)
    }

    /// Takes (and resets) the per-batch times of the writer's steps, nanoseconds: applying the
    /// batch's commands, and freeing the versions it replaced (after the publication).
    pub fn take_steps(&self) -> WriterSteps {
        let [apply, reclaim] = std::mem::replace(
            &mut *lock(&self.steps),
            [nanos_histogram(), nanos_histogram()],
        );
        WriterSteps { apply, reclaim }
    }

    /// Forgets everything recorded so far: a new writer starts (its first update is `Seq(1)`).
    pub fn reset(&self) {
        let _ = self.take();
        let _ = self.take_journal();
        *lock(&self.visible) = VisibleLog::default();
    }

    /// Takes (and resets) the journal's figures, nanoseconds: each `fdatasync` the journal
    /// thread made, and the gaps between consecutive publications on the writer's thread.
    pub fn take_journal(&self) -> JournalFigures {
        let syncs = std::mem::replace(&mut *lock(&self.journal_syncs), nanos_histogram());
        let mut visible = lock(&self.visible);
        visible.last_stamp = None;
        let gaps = visible.gaps.take().unwrap_or_else(nanos_histogram);
        JournalFigures { syncs, gaps }
    }

    /// Takes the logged publications: `(last sequence number, instant)` of each batch that
    /// includes a multiple of [`VISIBLE_LOG_EVERY`], in order.
    pub fn take_visible(&self) -> Vec<(u64, Instant)> {
        std::mem::take(&mut lock(&self.visible).batches)
    }
}

/// The journal's figures ([`PublicationProbe::take_journal`]), nanoseconds.
#[derive(Debug)]
pub struct JournalFigures {
    /// Each `fdatasync` the journal thread made (`snapstate_journal_sync_seconds`).
    pub syncs: Histogram<u64>,
    /// Between two consecutive publications, on the writer's thread.
    pub gaps: Histogram<u64>,
}

/// Per-batch times of the writer's steps besides the publication, nanoseconds.
#[derive(Debug)]
pub struct WriterSteps {
    /// Applying a batch's commands.
    pub apply: Histogram<u64>,
    /// Freeing the versions readers let go of, after the batch's publication.
    pub reclaim: Histogram<u64>,
}

#[derive(Clone, Copy)]
enum Step {
    Apply = 0,
    Reclaim = 1,
}

struct PerBatch(Arc<PublicationProbe>, Step);

impl HistogramFn for PerBatch {
    fn record(&self, seconds: f64) {
        let nanos = (seconds * 1e9).max(0.0) as u64;
        super::contender::record_nanos(&mut lock(&self.0.steps)[self.1 as usize], nanos);
    }
}

/// The batches a writer published, counted exactly (a histogram would round the sizes).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Batches {
    /// Batches published.
    pub count: u64,
    /// Updates in them, all together.
    pub updates: u64,
    /// The largest batch.
    pub max: u64,
}

impl Batches {
    /// Counts one batch of `size` updates.
    pub fn record(&mut self, size: u64) {
        self.count += 1;
        self.updates += size;
        self.max = self.max.max(size);
    }

    /// Updates per batch on average; zero before the first batch.
    pub fn mean(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            self.updates as f64 / self.count as f64
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

struct BatchSize(Arc<PublicationProbe>);

impl HistogramFn for BatchSize {
    fn record(&self, value: f64) {
        // First, so that the stamp is as close to the store as it can be.
        let now = Instant::now();
        let size = value.max(1.0) as u64;
        self.0.last_batch.store(size, Ordering::Relaxed);
        lock(&self.0.batches).record(size);
        let mut visible = lock(&self.0.visible);
        if let Some(last) = visible.last_stamp.replace(now) {
            let gap = u64::try_from(now.duration_since(last).as_nanos()).unwrap_or(u64::MAX);
            super::contender::record_nanos(visible.gaps.get_or_insert_with(nanos_histogram), gap);
        }
        let first = visible.published + 1;
        visible.published += size;
        let last = visible.published;
        if last / VISIBLE_LOG_EVERY >= first.div_ceil(VISIBLE_LOG_EVERY) {
            visible.batches.push((last, now));
        }
    }
}

struct JournalSync(Arc<PublicationProbe>);

impl HistogramFn for JournalSync {
    fn record(&self, seconds: f64) {
        let nanos = (seconds * 1e9).max(0.0) as u64;
        super::contender::record_nanos(&mut lock(&self.0.journal_syncs), nanos);
    }
}

struct PublishTime(Arc<PublicationProbe>);

impl HistogramFn for PublishTime {
    fn record(&self, seconds: f64) {
        let nanos = (seconds * 1e9).max(0.0) as u64;
        let updates = self.0.last_batch.load(Ordering::Relaxed);
        // Every update of the batch waited this long; beyond the histogram's range (an hour)
        // the value is clamped, as `record_nanos` clamps.
        let mut publications = lock(&self.0.publications);
        let nanos = nanos.clamp(publications.low(), publications.high());
        publications
            .record_n(nanos, updates)
            .expect("a value clamped to the histogram's range records");
    }
}

/// Hands out the two handles it cares about (cloning a handle is a reference-count increment,
/// so the engine's per-batch registration allocates nothing) and no-ops for the rest.
struct ProbeRecorder {
    batch_size: metrics::Histogram,
    publish_time: metrics::Histogram,
    journal_sync: metrics::Histogram,
    apply_time: metrics::Histogram,
    reclaim_time: metrics::Histogram,
}

impl Recorder for ProbeRecorder {
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
        match key.name() {
            "snapstate_batch_size" => self.batch_size.clone(),
            "snapstate_publish_seconds" => self.publish_time.clone(),
            "snapstate_journal_sync_seconds" => self.journal_sync.clone(),
            "snapstate_apply_seconds" => self.apply_time.clone(),
            "snapstate_reclaim_seconds" => self.reclaim_time.clone(),
            _ => metrics::Histogram::noop(),
        }
    }
}
