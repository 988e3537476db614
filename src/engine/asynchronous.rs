//! Async twins of the blocking waits (the `async` feature): submit under backpressure, flush,
//! and wait for a version, without blocking the executor's thread and without depending on any
//! runtime.
//!
//! Each future registers its task's [`Waker`] with a signal ([`Signal`]) that the writer raises:
//! after taking commands off the queue (room for a submitter), and after each publication (a
//! new version). A barrier's answer goes to a one-shot cell that wakes its flusher. Dropping a
//! future deregisters it, so a cancelled wait leaves nothing behind; while nobody waits, the
//! writer pays one atomic operation per batch for each signal.

use std::future::{Future, poll_fn};
use std::task::{Context, Poll, Waker};

use crate::sync::{Arc, Mutex};

use super::StateMachine;
use super::error::{FlushError, SubmitError, WaitError};
use super::handle::{ReadHandle, WriteHandle};
use super::signal::Signal;
use super::snapshot::{Snapshot, Version};
use super::writer::{Message, Reply};
use crate::sync::channel::TrySendError;

/// A task's registration with a signal, removed when the future that holds it is dropped.
struct Registration<'signal> {
    signal: &'signal Signal,
    slot: Option<usize>,
}

impl<'signal> Registration<'signal> {
    fn new(signal: &'signal Signal) -> Self {
        Self { signal, slot: None }
    }

    fn register(&mut self, waker: &Waker) {
        self.signal.register(&mut self.slot, waker);
    }
}

impl Drop for Registration<'_> {
    fn drop(&mut self) {
        self.signal.deregister(&mut self.slot);
    }
}

impl<S: StateMachine> WriteHandle<S> {
    /// Queues a command, waiting without blocking the thread while the queue is full: the async
    /// twin of [`submit`](Self::submit). Dropping the future before it completes drops the
    /// command, unqueued.
    ///
    /// # Errors
    ///
    /// [`SubmitError::Closed`], with the command, once the engine is shut down or failed.
    pub async fn submit_async(&self, command: S::Command) -> Result<(), SubmitError<S::Command>> {
        self.send_async(Message::Command(command))
            .await
            .map_err(|message| SubmitError::Closed(message.into_command()))
    }

    /// A barrier, the async twin of [`flush`](Self::flush): completes once every command
    /// submitted before the call is applied and published, with the version that first includes
    /// them. Dropping the future gives up waiting (the barrier stays queued; its answer is
    /// discarded). For a time limit, wrap it in the runtime's timeout.
    ///
    /// # Errors
    ///
    /// [`FlushError::Closed`] if the engine shut down or failed before reaching the barrier.
    pub async fn flush_async(&self) -> Result<Version, FlushError> {
        let cell = Arc::new(ReplyCell::default());
        let sender = ReplySender {
            cell: Arc::clone(&cell),
        };
        self.send_async(Message::Barrier(Reply::Async(sender)))
            .await
            .map_err(|_| FlushError::Closed)?;
        poll_fn(|context| cell.poll(context)).await
    }

    /// Sends `message`, waiting for room without blocking the thread; hands it back if the
    /// engine is closed.
    fn send_async(
        &self,
        message: Message<S::Command>,
    ) -> impl Future<Output = Result<(), Message<S::Command>>> + '_ {
        let mut message = Some(message);
        let mut registration = Registration::new(&self.intake.space_signal);
        poll_fn(move |context| {
            let attempt = |message: Message<S::Command>| match self
                .intake
                .send_with(message, |sender, message| sender.try_send(message))
            {
                Ok(Ok(())) => Ok(None),
                Ok(Err(TrySendError::Full(message))) => Ok(Some(message)),
                Ok(Err(TrySendError::Disconnected(message))) | Err(message) => Err(message),
            };
            let pending = message.take().expect("polled after completion");
            let full = match attempt(pending) {
                Ok(None) => return Poll::Ready(Ok(())),
                Ok(Some(full)) => full,
                Err(refused) => return Poll::Ready(Err(refused)),
            };
            // Register, then try once more: room made before the registration woke nobody.
            registration.register(context.waker());
            match attempt(full) {
                Ok(None) => Poll::Ready(Ok(())),
                Ok(Some(full)) => {
                    message = Some(full);
                    Poll::Pending
                }
                Err(refused) => Poll::Ready(Err(refused)),
            }
        })
    }
}

impl<S> ReadHandle<S> {
    /// Waits without blocking the thread until a snapshot of `version` or later is published,
    /// and returns the first such snapshot it loads: the async twin of
    /// [`wait_for_version`](Self::wait_for_version). Dropping the future deregisters it. For a
    /// time limit, wrap it in the runtime's timeout.
    ///
    /// # Errors
    ///
    /// [`WaitError::Stopped`] when the engine stopped without publishing `version` (never
    /// [`WaitError::Timeout`]).
    pub async fn wait_for_version_async(
        &self,
        version: Version,
    ) -> Result<Arc<Snapshot<S>>, WaitError<S>> {
        let mut registration = Registration::new(&self.published_signal);
        poll_fn(|context| {
            if let Some(ready) = self.check(version) {
                return Poll::Ready(ready);
            }
            // Register, then check once more: a publication before the registration woke nobody.
            registration.register(context.waker());
            match self.check(version) {
                Some(ready) => Poll::Ready(ready),
                None => Poll::Pending,
            }
        })
        .await
    }

    /// Waits without blocking the thread until a version newer than `after` is published.
    ///
    /// # Errors
    ///
    /// As for [`wait_for_version_async`](Self::wait_for_version_async).
    pub async fn wait_for_change_async(
        &self,
        after: Version,
    ) -> Result<Arc<Snapshot<S>>, WaitError<S>> {
        self.wait_for_version_async(after.next()).await
    }

    /// The wait's result if it is over: the snapshot if it reached `version`, the final one if
    /// the engine stopped short of it.
    fn check(&self, version: Version) -> Option<Result<Arc<Snapshot<S>>, WaitError<S>>> {
        let snapshot = self.cell.load_full();
        if snapshot.version() >= version {
            return Some(Ok(snapshot));
        }
        if self.published_signal.is_closed() {
            // The last publication may have come between the load and the close.
            let last = self.cell.load_full();
            return Some(if last.version() >= version {
                Ok(last)
            } else {
                Err(WaitError::Stopped { last })
            });
        }
        None
    }
}

/// Where the writer leaves a barrier's answer for an async flusher.
#[derive(Default)]
struct ReplyCell {
    state: Mutex<ReplyState>,
}

#[derive(Default)]
struct ReplyState {
    version: Option<Version>,
    /// The writer dropped the barrier unanswered (it failed).
    abandoned: bool,
    waker: Option<Waker>,
}

impl ReplyCell {
    fn lock(&self) -> crate::sync::MutexGuard<'_, ReplyState> {
        // Nothing panics while the lock is held.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn poll(&self, context: &mut Context<'_>) -> Poll<Result<Version, FlushError>> {
        let mut state = self.lock();
        if let Some(version) = state.version {
            return Poll::Ready(Ok(version));
        }
        if state.abandoned {
            return Poll::Ready(Err(FlushError::Closed));
        }
        state.waker = Some(context.waker().clone());
        Poll::Pending
    }

    fn settle(&self, version: Option<Version>) {
        let waker = {
            let mut state = self.lock();
            if state.version.is_some() || state.abandoned {
                return;
            }
            match version {
                Some(version) => state.version = Some(version),
                None => state.abandoned = true,
            }
            state.waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

/// The writer's end of an async barrier: answers it, or marks it abandoned when dropped
/// unanswered (the writer failed with the barrier still queued).
pub(crate) struct ReplySender {
    cell: Arc<ReplyCell>,
}

impl ReplySender {
    pub(crate) fn answer(self, version: Version) {
        self.cell.settle(Some(version));
    }
}

impl Drop for ReplySender {
    fn drop(&mut self) {
        self.cell.settle(None);
    }
}

#[cfg(test)]
mod tests {
    use std::task::Wake;

    use super::*;

    /// Counts its wake-ups.
    #[derive(Default)]
    struct CountingWaker(std::sync::atomic::AtomicUsize);

    impl Wake for CountingWaker {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    }

    #[test]
    fn a_dropped_registration_leaves_the_signal_without_waiters() {
        let signal = Signal::default();
        let waker = Waker::from(Arc::new(CountingWaker::default()));
        {
            let mut registration = Registration::new(&signal);
            registration.register(&waker);
            registration.register(&waker);
            assert_eq!(
                signal.waiters(),
                1,
                "one registration per task, however often polled"
            );
        }
        assert_eq!(signal.waiters(), 0);
    }

    #[test]
    fn an_unanswered_barrier_wakes_its_flusher_with_closed() {
        let counter = Arc::new(CountingWaker::default());
        let waker = Waker::from(Arc::clone(&counter));
        let mut context = Context::from_waker(&waker);
        let cell = Arc::new(ReplyCell::default());
        let sender = ReplySender {
            cell: Arc::clone(&cell),
        };
        assert!(cell.poll(&mut context).is_pending());
        drop(sender);
        assert_eq!(counter.0.load(std::sync::atomic::Ordering::SeqCst), 1);
        assert_eq!(
            cell.poll(&mut context),
            Poll::Ready(Err(FlushError::Closed))
        );
    }
}
