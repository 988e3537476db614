//! The writer thread: wait for commands, drain a batch from the queue, hand it to the
//! [`WriterCore`], answer the batch's barriers.
//!
//! Everything about applying and publishing lives in the core, which the inline writer drives
//! too; this file holds only what belongs to a queue and a thread of its own.

use crate::sync::channel::{Receiver, Sender, TryRecvError};
use crate::sync::{Arc, spin_hint};

use super::core::WriterCore;
use super::signal::Signal;
use super::snapshot::Version;
use super::{EngineConfig, StateMachine, WaitStrategy};

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
            let disconnected = self.collect_batch(first);
            // Only async submitters wait for room this way (blocking ones wait in the channel).
            #[cfg(feature = "async")]
            self.space_signal.notify();
            // Read only for the metric: the writer needs no queue depth of its own.
            let queue_depth = self.core.records_metrics().then(|| self.receiver.len());
            let barriers = &mut self.barriers;
            let ran = self.core.run_batch(queue_depth, |version| {
                for reply in barriers.drain(..) {
                    reply.answer(version);
                }
            });
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
        while self.core.batch_mut().len() < self.max_batch {
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
