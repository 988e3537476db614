//! The writer thread: wait for commands, drain a batch from the queue, hand it to the
//! [`WriterCore`], answer the batch's barriers.
//!
//! Everything about applying and publishing lives in the core, which the inline writer drives
//! too; this file holds only what belongs to a queue and a thread of its own.

use std::time::{Duration, Instant};

use crate::sync::channel::{Receiver, Sender, TryRecvError};
use crate::sync::{Arc, spin_hint};

use super::core::WriterCore;
use super::signal::Signal;
use super::snapshot::Version;
use super::{EngineConfig, StateMachine, WaitStrategy, config};

/// What travels through the command queue.
pub(crate) enum Message<C> {
    /// A command to apply.
    Command(C),
    /// A barrier: answer with the version that includes everything queued before it.
    Barrier(Reply),
}

/// Where a barrier's answer goes: a blocked flusher's channel, or an async flusher's cell.
pub(crate) enum Reply {
    /// `flush` and `flush_timeout` wait on a channel of one.
    Blocking(Sender<Version>),
    /// `flush_async` waits on a cell that wakes its task.
    #[cfg(feature = "async")]
    Async(super::asynchronous::ReplySender),
}

impl Reply {
    fn answer(self, version: Version) {
        match self {
            // A flusher that gave up (timed out) has dropped its receiver; nothing to tell it.
            Self::Blocking(sender) => {
                let _ = sender.try_send(version);
            }
            #[cfg(feature = "async")]
            Self::Async(sender) => sender.answer(version),
        }
    }
}

impl<C> Message<C> {
    /// The command inside a message that was sent as a command and handed back by the channel.
    pub(crate) fn into_command(self) -> C {
        match self {
            Self::Command(command) => command,
            // Only `submit*` hands messages back as commands, and they send only commands.
            Self::Barrier(_) => unreachable!("a barrier is never handed back as a command"),
        }
    }
}

/// The writer thread's private world: the queue's receiving end and the core it feeds.
pub(crate) struct Writer<S: StateMachine> {
    receiver: Receiver<Message<S::Command>>,
    core: WriterCore<S>,
    wait_strategy: WaitStrategy,
    max_batch: usize,
    /// `EngineConfig::batch_time`; `None` under loom, whose models must not branch on time.
    batch_time: Option<Duration>,
    /// The most commands the next batch takes: `max_batch`, or what the last batch's pace
    /// says fits in `batch_time`.
    batch_limit: usize,
    queue_capacity: usize,
    barriers: Vec<Reply>,
    /// Raised after the writer takes messages off the queue (room for async submitters), and
    /// closed when it stops.
    space_signal: Arc<Signal>,
}

impl<S: StateMachine> Writer<S> {
    pub(crate) fn new(
        receiver: Receiver<Message<S::Command>>,
        core: WriterCore<S>,
        space_signal: Arc<Signal>,
        config: &EngineConfig,
    ) -> Self {
        Self {
            receiver,
            core,
            wait_strategy: config.wait_strategy,
            max_batch: config.max_batch,
            batch_time: config.batch_time.filter(|_| !cfg!(loom)),
            batch_limit: config.max_batch,
            queue_capacity: config.queue_capacity,
            barriers: Vec::new(),
            space_signal,
        }
    }

    /// The writer thread's body. Returns once every sender is gone and the queue is drained.
    pub(crate) fn run(mut self) {
        // On the writer thread, so that it is the global recorder the handles bind to.
        self.core.register_metrics();
        while let Some(first) = self.wait_for_message() {
            // A batch's time runs from its first command to its publication's end: taking the
            // rest off the queue is part of it.
            let started = self.batch_time.map(|_| Instant::now());
            let disconnected = self.collect_batch(first);
            // Only async submitters wait for room this way (blocking ones wait in the channel).
            #[cfg(feature = "async")]
            self.space_signal.notify();
            // Read only for the metric: the writer needs no queue depth of its own.
            let queue_depth = self.core.records_metrics().then(|| self.receiver.len());
            let barriers = &mut self.barriers;
            let commands = self.core.batch_mut().len();
            let ran = self.core.run_batch(queue_depth, |version| {
                for reply in barriers.drain(..) {
                    reply.answer(version);
                }
            });
            if let (Some(aim), Some(started)) = (self.batch_time, started) {
                self.batch_limit = batch_limit(commands, started.elapsed(), aim, self.max_batch);
            }
            shrink_after(self.core.batch_mut(), commands);
            if let Err(failed) = ran {
                // A writer failure, as any panic outside `apply` is: the engine's health turns
                // failed, submits are refused, readers keep the last snapshot, and waiting
                // barriers are told.
                std::panic::panic_any(failed.message().to_owned());
            }
            if disconnected {
                break;
            }
        }
        self.core.finish();
        self.space_signal.close();
    }

    fn wait_for_message(&self) -> Option<Message<S::Command>> {
        let spins = match self.wait_strategy {
            WaitStrategy::Block => 0,
            WaitStrategy::SpinThenBlock { spins } => spins,
            WaitStrategy::BusySpin => u32::MAX,
        };
        let mut polls = 0_u32;
        while polls < spins || self.wait_strategy == WaitStrategy::BusySpin {
            match self.receiver.try_recv() {
                Ok(message) => return Some(message),
                Err(TryRecvError::Disconnected) => return None,
                Err(TryRecvError::Empty) => spin_hint(),
            }
            polls = polls.saturating_add(1);
        }
        self.receiver.recv().ok()
    }

    /// Takes `first` and whatever else is queued, up to the batch limit, without blocking.
    /// Returns whether the queue is disconnected and drained.
    fn collect_batch(&mut self, first: Message<S::Command>) -> bool {
        self.accept(first);
        while self.core.batch_mut().len() < self.batch_limit {
            match self.receiver.try_recv() {
                Ok(message) => self.accept(message),
                Err(TryRecvError::Empty) => return false,
                Err(TryRecvError::Disconnected) => return true,
            }
        }
        false
    }

    fn accept(&mut self, message: Message<S::Command>) {
        match message {
            Message::Command(command) => self.core.batch_mut().push(command),
            Message::Barrier(reply) => self.barriers.push(reply),
        }
    }
}

/// The most commands the next batch takes, from the last batch's pace: `commands` took `took`,
/// so about `commands × aim / took` take `aim`; at least one, at most `max_batch`.
///
/// A batch's cost is not proportional to its size (copying the nodes it touches is paid once a
/// batch), so a small batch's pace underestimates how many fit: under a backlog the limit then
/// grows with each batch until a batch takes about `aim`. One that ran slow (the thread
/// preempted) shrinks the next, which the one after corrects.
fn batch_limit(commands: usize, took: Duration, aim: Duration, max_batch: usize) -> usize {
    let took = took.as_nanos();
    if took == 0 {
        return max_batch;
    }
    // Saturating: an aim of centuries (up to 2^94 ns) times a count can pass u128; it means
    // `max_batch` all the same.
    let fits = (commands as u128).saturating_mul(aim.as_nanos()) / took;
    usize::try_from(fits).map_or(max_batch, |fits| fits.clamp(1, max_batch))
}

/// Gives back the batch buffer's memory once batches are far smaller than it: a backlog's
/// batches grow it to tens of thousands of commands, and without this it would keep that
/// size after the backlog is gone. The buffer keeps twice the last batch or the
/// preallocation, whichever is more, and shrinks to that only from over twice as much, so
/// batches of a steady size never make it reallocate.
fn shrink_after<C>(batch: &mut Vec<C>, commands: usize) {
    let keep = commands.saturating_mul(2).max(config::BATCH_PREALLOCATION);
    if batch.capacity() > keep.saturating_mul(2) {
        batch.shrink_to(keep);
    }
}

impl<S: StateMachine> Drop for Writer<S> {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            return;
        }
        // The writer is unwinding from a failure outside any command's application. Readers
        // keep the last good snapshot. Drain the queue so that blocked producers are released
        // and the count of what was never applied is reported rather than lost.
        // Bounded, because producers may keep refilling the queue while it drains; whatever
        // arrives after this is refused with the command handed back once the receiver is gone.
        let mut unapplied = self.core.batch_mut().len() as u64;
        for _ in 0..self.queue_capacity {
            match self.receiver.try_recv() {
                Ok(Message::Command(_)) => unapplied += 1,
                Ok(Message::Barrier(_)) => {}
                Err(_) => break,
            }
        }
        self.core.fail(unapplied, "the writer thread panicked");
        self.space_signal.close();
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::{batch_limit, shrink_after};

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn the_next_batch_takes_what_the_last_ones_pace_fits_in_the_aim() {
        // 1,000 commands in 1 ms: 4,000 fit in 4 ms; 9,000 in 3 ms: 12,000.
        assert_eq!(batch_limit(1_000, MS, 4 * MS, 65_536), 4_000);
        assert_eq!(batch_limit(9_000, 3 * MS, 4 * MS, 65_536), 12_000);
        // A batch slower than the aim shrinks the next.
        assert_eq!(batch_limit(8_000, 8 * MS, 4 * MS, 65_536), 4_000);
    }

    #[test]
    fn the_limit_stays_within_one_and_max_batch() {
        // Fast enough for more than the limit, or unmeasurably fast.
        assert_eq!(batch_limit(1_000, MS, 4 * MS, 2_048), 2_048);
        assert_eq!(batch_limit(5, Duration::ZERO, 4 * MS, 2_048), 2_048);
        // A batch of one preempted for a second still lets the next take one.
        assert_eq!(batch_limit(1, Duration::from_secs(1), 4 * MS, 2_048), 1);
        // An aim of centuries: the product passes u128, and means the limit.
        assert_eq!(
            batch_limit(usize::MAX, Duration::from_nanos(1), Duration::MAX, 65_536),
            65_536
        );
    }

    #[test]
    fn the_batch_buffer_shrinks_only_once_batches_are_far_smaller_than_it() {
        let mut batch: Vec<u64> = Vec::with_capacity(40_000);
        // A backlog's batches: kept.
        shrink_after(&mut batch, 15_000);
        assert!(batch.capacity() >= 40_000);
        // The backlog is gone: back to the preallocation.
        shrink_after(&mut batch, 3);
        assert!(batch.capacity() < 40_000);
        assert!(batch.capacity() >= 1_024, "{}", batch.capacity());
        let shrunk = batch.capacity();
        shrink_after(&mut batch, 3);
        assert_eq!(batch.capacity(), shrunk, "no reallocation at a steady size");
    }

    #[test]
    fn under_a_backlog_the_limit_grows_until_a_batch_takes_the_aim() {
        // A batch pays a fixed 400 µs (the copies after a publication) and 200 ns a command,
        // as the book at 10,000 slots does: starting from one command, the limit climbs to
        // the size whose batch takes 4 ms (18,000 commands) and stays there.
        let cost = |commands: usize| {
            Duration::from_micros(400) + Duration::from_nanos(200) * commands as u32
        };
        let mut limit = 1;
        for _ in 0..20 {
            limit = batch_limit(limit, cost(limit), 4 * MS, 65_536);
        }
        assert!((17_900..=18_000).contains(&limit), "{limit}");
        assert!(cost(limit) <= 4 * MS);
    }
}
