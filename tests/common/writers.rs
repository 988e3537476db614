//! Both writers behind one interface, so that a test runs against each: the threaded
//! [`Engine`] and the [`InlineWriter`]. Producer threads share an inline writer behind a mutex
//! (it is one writer by construction; the mutex is the test's, not the library's).

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use snapstate::engine::{
    Engine, EngineConfig, InlineWriter, ReadHandle, Snapshot, StateMachine, Version, WriteHandle,
};

/// Which writer a test drives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriterKind {
    /// A queue and a writer thread ([`Engine`]).
    Threaded,
    /// The caller's thread ([`InlineWriter`]).
    Inline,
}

/// Every kind, for tests that loop over them.
pub const WRITER_KINDS: [WriterKind; 2] = [WriterKind::Threaded, WriterKind::Inline];

impl fmt::Display for WriterKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Threaded => "threaded",
            Self::Inline => "inline",
        })
    }
}

type SharedInline<S> = Arc<Mutex<Option<InlineWriter<S>>>>;

/// A started writer of either kind.
pub enum Started<S: StateMachine> {
    /// The threaded engine.
    Threaded(Engine<S>),
    /// The inline writer, shared by the test's producers; `None` once shut down.
    Inline(SharedInline<S>),
}

/// One producer's handle on a started writer.
pub enum Producer<S: StateMachine> {
    /// Submits to the queue.
    Threaded(WriteHandle<S>),
    /// Applies under the test's mutex.
    Inline(SharedInline<S>),
}

fn lock<S: StateMachine>(shared: &SharedInline<S>) -> MutexGuard<'_, Option<InlineWriter<S>>> {
    shared.lock().unwrap_or_else(PoisonError::into_inner)
}

impl<S: StateMachine> Started<S> {
    /// Starts a writer of `kind`; the inline writer ignores the queue settings.
    pub fn start(kind: WriterKind, initial: S, config: EngineConfig) -> Self {
        match kind {
            WriterKind::Threaded => Self::Threaded(Engine::start(initial, config).expect("starts")),
            WriterKind::Inline => Self::Inline(Arc::new(Mutex::new(Some(
                InlineWriter::start(initial, config).expect("starts"),
            )))),
        }
    }

    /// A handle for one producer thread.
    pub fn producer(&self) -> Producer<S> {
        match self {
            Self::Threaded(engine) => Producer::Threaded(engine.write_handle()),
            Self::Inline(shared) => Producer::Inline(Arc::clone(shared)),
        }
    }

    /// A handle for one reader thread.
    pub fn read_handle(&self) -> ReadHandle<S> {
        match self {
            Self::Threaded(engine) => engine.read_handle(),
            Self::Inline(shared) => lock(shared)
                .as_ref()
                .expect("the writer runs")
                .read_handle(),
        }
    }

    /// Shuts the writer down and returns the final snapshot.
    pub fn shutdown(self) -> Arc<Snapshot<S>> {
        match self {
            Self::Threaded(engine) => engine.shutdown().expect("clean shutdown"),
            Self::Inline(shared) => lock(&shared)
                .take()
                .expect("shut down once")
                .shutdown()
                .expect("clean shutdown"),
        }
    }
}

impl<S: StateMachine> Producer<S> {
    /// Submits (threaded) or applies (inline) one command.
    pub fn submit(&self, command: S::Command) {
        match self {
            Self::Threaded(writer) => writer.submit(command).expect("accepted"),
            Self::Inline(shared) => {
                lock(shared)
                    .as_mut()
                    .expect("the writer runs")
                    .apply(command)
                    .expect("the writer runs");
            }
        }
    }

    /// Waits until everything this producer submitted is visible; returns that version.
    pub fn flush(&self) -> Version {
        match self {
            Self::Threaded(writer) => writer.flush().expect("flushed"),
            // Applied means published: nothing to wait for.
            Self::Inline(shared) => lock(shared)
                .as_ref()
                .expect("the writer runs")
                .snapshot()
                .version(),
        }
    }
}
