//! A small state machine for the engine's own tests (inline, waiting, async, properties): a log
//! of the commands it applied, with commands that refuse, panic, or panic only when re-applied.

#![allow(
    dead_code,
    reason = "each test binary compiles this module and uses a different part of it"
)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use snapstate::engine::{Labelled, StateMachine};

/// Even numbers are logged; odd numbers are refused; [`PANIC`] logs itself and then panics (so
/// a torn state would show it); [`FLAKY`] applies cleanly the first time and panics every time
/// after (a non-deterministic state machine, which fails the writer during panic recovery).
#[derive(Clone, Default)]
pub struct Log {
    pub entries: imbl::Vector<u64>,
    /// How often `FLAKY` was applied, shared by every clone.
    flaky_applied: Arc<AtomicU64>,
}

pub const PANIC: u64 = 1_000_000;
pub const FLAKY: u64 = 3_000_000;

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
            FLAKY => {
                assert_eq!(
                    self.flaky_applied.fetch_add(1, Ordering::SeqCst),
                    0,
                    "deliberate non-determinism: FLAKY applies only once"
                );
                self.entries.push_back(FLAKY);
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
