//! A small state machine for the engine's own tests (engine, inline, waiting, async,
//! properties): a log of the commands it applied, with commands that refuse, panic, panic only
//! when re-applied, or hold the writer inside `apply` until the test says go.

#![allow(
    dead_code,
    reason = "each test binary compiles this module and uses a different part of it"
)]

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};

use snapstate::engine::{EngineStatus, Health, Labelled, StateMachine};

/// Even numbers are logged; odd numbers are refused; [`PANIC`] logs itself and then panics (so
/// a torn state would show it); [`WAIT`] blocks on the gate (see [`gated`]) before logging;
/// [`FLAKY`] applies cleanly the first time and panics every time after (a non-deterministic
/// state machine, which fails the writer during panic recovery); [`SHIFTY`] is logged the first
/// time and refused every time after (a non-deterministic state machine that never panics).
#[derive(Clone, Default)]
pub struct Log {
    pub entries: imbl::Vector<u64>,
    /// How often `FLAKY` was applied, shared by every clone.
    flaky_applied: Arc<AtomicU64>,
    /// How often `SHIFTY` was applied, shared by every clone.
    shifty_applied: Arc<AtomicU64>,
    gate: Option<Gate>,
}

/// Lets a test hold the writer inside `apply` until it says go.
#[derive(Clone)]
struct Gate {
    entered: mpsc::SyncSender<()>,
    release: Arc<Mutex<mpsc::Receiver<()>>>,
    /// How many `WAIT` commands have been let through, shared by every clone. The writer
    /// applies a command again (to the replaced version it reuses, or after a panic in its
    /// batch); only a `WAIT`'s first application is held, so a test opens the gate once per
    /// `WAIT` it submits.
    passed: Arc<AtomicUsize>,
}

pub const PANIC: u64 = 1_000_000;
pub const WAIT: u64 = 2_000_000;
pub const FLAKY: u64 = 3_000_000;
pub const SHIFTY: u64 = 4_000_000;

#[derive(Debug, PartialEq, Eq)]
pub struct Logged;
impl Labelled for Logged {
    const LABELS: &'static [&'static str] = &["logged"];
    fn label_index(&self) -> usize {
        0
    }
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("odd commands are refused")]
pub struct Odd;
impl Labelled for Odd {
    const LABELS: &'static [&'static str] = &["odd"];
    fn label_index(&self) -> usize {
        0
    }
}

impl StateMachine for Log {
    type Command = u64;
    type Applied = Logged;
    type Rejected = Odd;

    fn apply(&mut self, command: &u64) -> Result<Logged, Odd> {
        match *command {
            PANIC => {
                self.entries.push_back(PANIC);
                panic!("deliberate panic in apply");
            }
            WAIT => {
                if let Some(gate) = &self.gate {
                    let earlier = self.entries.iter().filter(|&&entry| entry == WAIT).count();
                    if gate.passed.load(Ordering::SeqCst) <= earlier {
                        let _ = gate.entered.send(());
                        let _ = gate.release.lock().expect("gate lock").recv();
                        gate.passed.store(earlier + 1, Ordering::SeqCst);
                    }
                }
                self.entries.push_back(WAIT);
                Ok(Logged)
            }
            FLAKY => {
                assert_eq!(
                    self.flaky_applied.fetch_add(1, Ordering::SeqCst),
                    0,
                    "deliberate non-determinism: FLAKY applies only once"
                );
                self.entries.push_back(FLAKY);
                Ok(Logged)
            }
            SHIFTY => {
                if self.shifty_applied.fetch_add(1, Ordering::SeqCst) > 0 {
                    return Err(Odd);
                }
                self.entries.push_back(SHIFTY);
                Ok(Logged)
            }
            even if even % 2 == 0 => {
                self.entries.push_back(even);
                Ok(Logged)
            }
            _ => Err(Odd),
        }
    }
}

impl Log {
    /// The logged commands, in order.
    pub fn logged(&self) -> Vec<u64> {
        self.entries.iter().copied().collect()
    }
}

/// A log whose [`WAIT`] command tells the returned receiver it has entered `apply`, then holds
/// the writer there until the returned sender says go.
pub fn gated() -> (Log, mpsc::Receiver<()>, mpsc::Sender<()>) {
    let (entered_sender, entered) = mpsc::sync_channel(1);
    let (release, release_receiver) = mpsc::channel();
    let log = Log {
        gate: Some(Gate {
            entered: entered_sender,
            release: Arc::new(Mutex::new(release_receiver)),
            passed: Arc::default(),
        }),
        ..Log::default()
    };
    (log, entered, release)
}

/// Silences the deliberate panics' messages (each test binary that uses them calls this).
pub fn quiet_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let message = info
                .payload()
                .downcast_ref::<&str>()
                .copied()
                .or_else(|| info.payload().downcast_ref::<String>().map(String::as_str));
            if !message.is_some_and(|message| message.contains("deliberate")) {
                default(info);
            }
        }));
    });
}

/// Asserts that `health` is a failed writer's whose failure names a non-deterministic state
/// machine (a command that applied cleanly once and panicked when applied again).
pub fn assert_failed_as_non_deterministic(health: &Health) {
    assert_eq!(health.status, EngineStatus::Failed, "{health:?}");
    assert!(
        health
            .failure
            .as_deref()
            .is_some_and(|failure| failure.contains("non-deterministic")),
        "{health:?}"
    );
}
