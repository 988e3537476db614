//! Engine configuration: limits, the idle writer's wait strategy, and the clock.

use std::time::Duration;

use crate::journal::JournalConfig;
use crate::sync::Arc;
use crate::time::{Clock, SystemClock};

/// The writer pre-allocates its batch buffer up to this many commands; larger batches grow it.
pub(crate) const BATCH_PREALLOCATION: usize = 1_024;

/// How the idle writer waits for the next command.
///
/// The choice trades a core for latency, in the manner of the LMAX Disruptor's wait strategies.
/// Blocking parks the thread and costs a futex wake-up (a few microseconds) on the next command;
/// spinning keeps the writer hot at the cost of CPU.
///
/// # Which to choose
///
/// * **The writer does not own a core** (cores shared with the producers, other services, a
///   laptop, a small VM): [`Block`](Self::Block), the default. A spinning writer takes CPU time
///   from the threads that feed it and is itself preempted, so spinning buys nothing there: on
///   a two-core VM shared with other work, the median submit-to-visible at 10,000 and 100,000
///   updates a second was the same for every strategy within the noise (20–96 µs), and
///   `BusySpin` had the worst spikes (`cargo run --release -- bench --contenders snapstate
///   --seconds 2 --rate R --wait-strategy W`; `docs/benchmarks.md`, "Wait strategies").
/// * **The writer owns a core** (an isolated or pinned core, nothing else scheduled on it):
///   [`BusySpin`](Self::BusySpin) for the lowest latency, or
///   [`SpinThenBlock`](Self::SpinThenBlock) with enough spins to cover the usual gap between
///   commands (a poll is roughly 10–30 ns, so 1,000 spins is tens of microseconds) when the
///   core should rest during long quiet periods.
/// * **One thread produces every command and latency comes first**: no wait strategy beats
///   having no hand-off at all; use the [`InlineWriter`](super::InlineWriter) (0.4–0.7 µs
///   median, 2.2–3.3 µs p99 at 100,000 updates a second on the same machine when quiet, up to
///   1.8 and 8.8 µs while it was slow, against 20–28 µs and 0.07–0.6 ms for the threaded
///   engine when quiet: `cargo run --release -- bench --quick --seconds 1 --rate 100000
///   --contenders snapstate_inline` and `--contenders snapstate --wait-strategy W`,
///   `docs/benchmarks.md`, "Reusing the replaced version" and "Sizing the threaded writer's
///   batches by time").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum WaitStrategy {
    /// Park the thread until a command arrives. The default: no CPU while idle.
    #[default]
    Block,
    /// Poll the queue `spins` times, hinting the processor between polls, then park.
    /// Good when commands arrive in bursts: the first command of a burst after a short gap is
    /// picked up without a wake-up.
    SpinThenBlock {
        /// How many polls before parking.
        spins: u32,
    },
    /// Poll forever. Lowest latency; burns one core even when idle. Only sensible when the
    /// writer has a core to itself.
    BusySpin,
}

/// Configuration of an [`Engine`](super::Engine).
#[derive(Clone, Debug)]
pub struct EngineConfig {
    /// Capacity of the bounded command queue. When full, `submit` blocks, `try_submit` returns
    /// the command with [`TrySubmitError::Full`](super::TrySubmitError::Full). Default 65,536;
    /// at most [`MAX_QUEUE_CAPACITY`](Self::MAX_QUEUE_CAPACITY), since every slot is allocated
    /// when the engine starts.
    pub queue_capacity: usize,
    /// Most commands applied per published version. A larger batch shares one publication (and
    /// the path copies after it) between more commands; a smaller one publishes sooner.
    /// Default 65,536: under a backlog, the threaded writer's batches are sized by
    /// [`batch_time`](Self::batch_time) below this limit. The inline writer publishes once per
    /// call, or once per `max_batch` commands of a longer one.
    pub max_batch: usize,
    /// How long the threaded writer aims to spend on one batch when commands are waiting; `None`:
    /// no aim, every batch takes what is queued up to [`max_batch`](Self::max_batch). Default
    /// 4 ms.
    ///
    /// Only a backlog fills a batch (below saturation a batch is what arrived while the writer
    /// applied the last one, a few commands). Then the batch size is a trade: the first write to
    /// each node after a publication copies it, so a batch pays for copying what it touches
    /// (at 10,000 slots, about every leaf of the book from a few thousand commands on), and a
    /// larger batch shares that between more commands, which drains the backlog sooner; but it
    /// publishes less often, and readers see the backlog's progress in larger steps. A count
    /// cannot bound that step, since a command's cost grows with the book and with the command;
    /// so after each batch the writer sizes the next from the last one's pace: as many
    /// commands as it applied in `batch_time` (at least one, at most `max_batch`).
    ///
    /// Against the earlier fixed batches of 4,096 (`snapstate bench --quick --seconds 1
    /// --contenders snapstate,rwlock_held [--max-batch 4096 --batch-time none]`, two-core VM,
    /// `docs/benchmarks.md`, "Sizing the threaded writer's batches by time"): at 10,000 slots
    /// under saturation, batches of about 13,700 commands, 2.5 → 3.2 M updates a second, the
    /// median submit-to-visible 27 → 23.5 ms, and the p99 gap between publications 1.9 →
    /// 4.5 ms; at 1,000 slots +11% updates a second and gaps of 0.8 → 4.7 ms; at 100,000 slots
    /// 8% fewer updates a second and gaps of 9.4–11.0 → 5.9–7.1 ms. Below saturation nothing
    /// changes: batches are smaller than any limit.
    ///
    /// The inline writer does not use it: its caller chooses its batches.
    pub batch_time: Option<Duration>,
    /// How the idle writer waits. Default [`WaitStrategy::Block`].
    pub wait_strategy: WaitStrategy,
    /// The largest batch after which the writer reuses the version the batch replaced, when no
    /// reader holds it: it applies the batch to that version again and makes it the working
    /// state, instead of writing the next batch to a clone of the published version. `0` turns
    /// reuse off. Default 1,024 (below about 2,000 commands a batch, the second application
    /// costs less than the copies it saves: docs/benchmarks.md, "Reusing the replaced
    /// version").
    ///
    /// A clone of the published version shares all its structure with it, so the first write
    /// to each node after a publication copies the node (and the path above it), and freeing
    /// the replaced version frees the previous batch's copies. The replaced version is a
    /// complete state one batch behind that no one else holds: applied to again, it writes in
    /// place the nodes that only it owns (one still shared, with a held version or with the
    /// published one, is copied first, so no published snapshot is ever written). Every
    /// command is applied twice, once before its publication and once after it (outside the
    /// time to visibility), so the trade pays for small batches, where the copies dominate (one
    /// update per call of the [`InlineWriter`](super::InlineWriter), the threaded writer below
    /// saturation), and not for large ones, where one copy of a node serves many commands.
    ///
    /// The price is memory: the writer keeps a second copy of every node the batches write, up
    /// to the size of the state. A reader that holds the replaced version (a long
    /// reconciliation) is never waited for: the writer falls back to the clone for that batch.
    /// Requires what the journal already requires of [`StateMachine::apply`]: a deterministic
    /// function of the state and the command.
    ///
    /// [`StateMachine::apply`]: super::StateMachine::apply
    pub reuse_limit: usize,
    /// Capacity of the optional outcome stream; `None` (the default) creates none. When the
    /// stream's consumer falls behind, the writer does not wait for it: the record is dropped
    /// and counted in [`Counters::outcomes_dropped`](super::Counters::outcomes_dropped) (drops are
    /// learnt after a publication, so they show in the next one; the final snapshot after
    /// shutdown counts them all). The per-class counters in every snapshot stay complete either
    /// way. At most [`MAX_OUTCOME_CAPACITY`](Self::MAX_OUTCOME_CAPACITY): every slot is
    /// allocated when the engine starts.
    pub outcome_capacity: Option<usize>,
    /// The clock that stamps each snapshot's publish time. Default [`SystemClock`].
    pub clock: Arc<dyn Clock>,
    /// Name of the writer thread. Default `"snapstate-writer"`. It may not contain a NUL byte
    /// (the operating system's thread names are C strings).
    pub thread_name: String,
    /// Record engine metrics (queue depth, batch size, apply, publish and reclaim time, outcomes by
    /// class) through the `metrics` facade. Default `true`.
    ///
    /// The writer registers its metrics once, with the global recorder, when its thread starts:
    /// install the recorder (`metrics::set_global_recorder`) before [`Engine::start`]; an engine
    /// started earlier keeps recording into no-op handles. A thread-local recorder
    /// (`metrics::with_local_recorder`) never reaches the writer thread.
    ///
    /// Cost per batch, on the writer thread: five clock readings, six histogram and gauge
    /// updates, and a counter update per class of each outcome (applied, rejected) whose counts
    /// changed. With no recorder installed the updates do nothing, but the clock is still read;
    /// `false` skips both. The readings come from the `quanta` crate's clock (the processor's
    /// time-stamp counter where it is invariant, about 40 ns a reading against 60–70 ns for
    /// `std::time::Instant` on the benchmark machine), calibrated once per process, about a
    /// millisecond, when the first writer registers its metrics.
    ///
    /// [`Engine::start`]: super::Engine::start
    pub record_metrics: bool,
    /// Journal every command and checkpoint the state, for recovery after a restart; `None`
    /// (the default): nothing is written and nothing is paid. An engine with a journal starts
    /// with [`Engine::recover`](super::Engine::recover) (which also starts a fresh one on an
    /// empty directory); see [`crate::journal`].
    pub journal: Option<JournalConfig>,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            queue_capacity: 65_536,
            max_batch: 65_536,
            batch_time: Some(Duration::from_millis(4)),
            wait_strategy: WaitStrategy::Block,
            reuse_limit: 1_024,
            outcome_capacity: None,
            clock: Arc::new(SystemClock),
            thread_name: "snapstate-writer".to_owned(),
            record_metrics: true,
            journal: None,
        }
    }
}

impl EngineConfig {
    /// The largest [`queue_capacity`](Self::queue_capacity): 2^24 slots. The queue allocates
    /// every slot when the engine starts (a slot holds one command and its channel's
    /// bookkeeping), so a capacity is memory taken up front; a larger one fails to allocate or
    /// holds more than any writer drains while a producer waits.
    pub const MAX_QUEUE_CAPACITY: usize = 1 << 24;
    /// The largest [`outcome_capacity`](Self::outcome_capacity): 2^24 records, allocated when
    /// the engine starts, as for the queue.
    pub const MAX_OUTCOME_CAPACITY: usize = 1 << 24;
    /// The largest [`max_batch`](Self::max_batch): 2^24 commands. A batch's commands are held
    /// until it is published (recovery's replay too, which takes batches of `max_batch` where
    /// it is above 65,536), so a larger limit only lets one batch hold more memory.
    pub const MAX_BATCH: usize = 1 << 24;

    pub(crate) fn validate(&self) -> Result<(), &'static str> {
        if self.queue_capacity == 0 {
            return Err("queue_capacity must be at least 1");
        }
        if self.queue_capacity > Self::MAX_QUEUE_CAPACITY {
            return Err("queue_capacity must be at most EngineConfig::MAX_QUEUE_CAPACITY (2^24)");
        }
        if self.max_batch == 0 {
            return Err("max_batch must be at least 1");
        }
        if self.max_batch > Self::MAX_BATCH {
            return Err("max_batch must be at most EngineConfig::MAX_BATCH (2^24)");
        }
        if self.batch_time.is_some_and(|time| time.is_zero()) {
            return Err("batch_time, when set, must be longer than zero");
        }
        if self.outcome_capacity == Some(0) {
            return Err("outcome_capacity, when set, must be at least 1");
        }
        if self
            .outcome_capacity
            .is_some_and(|capacity| capacity > Self::MAX_OUTCOME_CAPACITY)
        {
            return Err(
                "outcome_capacity must be at most EngineConfig::MAX_OUTCOME_CAPACITY (2^24)",
            );
        }
        if self.thread_name.contains('\0') {
            return Err("thread_name must not contain a NUL byte");
        }
        if let Some(journal) = &self.journal {
            journal.validate()?;
        }
        Ok(())
    }
}
