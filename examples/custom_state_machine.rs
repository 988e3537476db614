//! A state machine of your own behind the engine: an inventory of named items that refuses to
//! go negative. The engine brings the writer thread, batching, versioned snapshots, outcome
//! counters and shutdown; the state machine only says how one command changes the state.
//!
//! ```sh
//! cargo run --example custom_state_machine
//! ```
//!
//! `apply` must stay a pure, deterministic function of the state and the command (no clock, no
//! randomness, no I/O): the engine re-applies a batch's earlier commands after a panic, and a
//! journal recovers the state by replaying the same commands.

use std::error::Error;
use std::thread;

use imbl::HashMap;
use snapstate::engine::{Engine, EngineConfig, Labelled, StateMachine};

/// Item counts by name. `imbl`'s persistent map makes the engine's copy-on-write publication
/// cheap: a snapshot shares everything but the changed path with the next version.
#[derive(Clone, Debug, Default)]
struct Inventory {
    counts: HashMap<String, u64>,
}

/// What producers submit.
#[derive(Debug)]
enum Move {
    /// Items arrived.
    Receive { item: String, count: u64 },
    /// Items left; refused if there are not that many.
    Ship { item: String, count: u64 },
}

/// What applying a move did.
#[derive(Debug)]
enum Moved {
    Received,
    Shipped,
}

impl Labelled for Moved {
    const LABELS: &'static [&'static str] = &["received", "shipped"];

    fn label_index(&self) -> usize {
        match self {
            Self::Received => 0,
            Self::Shipped => 1,
        }
    }
}

/// Why a move was refused; a refused move changed nothing.
#[derive(Debug, thiserror::Error)]
enum Refused {
    #[error("only {available} left of {item}, cannot ship {requested}")]
    NotEnough {
        item: String,
        available: u64,
        requested: u64,
    },
    #[error("too many of {item} to count")]
    Overflow { item: String },
}

impl Labelled for Refused {
    const LABELS: &'static [&'static str] = &["not_enough", "overflow"];

    fn label_index(&self) -> usize {
        match self {
            Self::NotEnough { .. } => 0,
            Self::Overflow { .. } => 1,
        }
    }
}

impl StateMachine for Inventory {
    type Command = Move;
    type Applied = Moved;
    type Rejected = Refused;

    fn apply(&mut self, command: &Move) -> Result<Moved, Refused> {
        match command {
            Move::Receive { item, count } => {
                let held = self.counts.get(item).copied().unwrap_or(0);
                let total = held
                    .checked_add(*count)
                    .ok_or_else(|| Refused::Overflow { item: item.clone() })?;
                self.counts.insert(item.clone(), total);
                Ok(Moved::Received)
            }
            Move::Ship { item, count } => {
                let held = self.counts.get(item).copied().unwrap_or(0);
                let left = held.checked_sub(*count).ok_or_else(|| Refused::NotEnough {
                    item: item.clone(),
                    available: held,
                    requested: *count,
                })?;
                self.counts.insert(item.clone(), left);
                Ok(Moved::Shipped)
            }
        }
    }
}

fn main() -> Result<(), Box<dyn Error>> {
    let engine = Engine::start(Inventory::default(), EngineConfig::default())?;

    // Two producers, each with its own clone of the write handle.
    let producers: Vec<_> = ["bolts", "nuts"]
        .into_iter()
        .map(|item| {
            let writer = engine.write_handle();
            thread::spawn(move || {
                for _ in 0..100 {
                    let item = item.to_owned();
                    writer
                        .submit(Move::Receive { item, count: 3 })
                        .map_err(|error| error.to_string())?;
                }
                for count in [1_000, 250] {
                    writer
                        .submit(Move::Ship {
                            item: item.to_owned(),
                            count,
                        })
                        .map_err(|error| error.to_string())?;
                }
                writer.flush().map_err(|error| error.to_string())?;
                Ok::<(), String>(())
            })
        })
        .collect();
    for producer in producers {
        producer.join().expect("a producer panicked")?;
    }

    // A reader loads an immutable snapshot in O(1) and may hold it as long as it likes.
    let snapshot = engine.read_handle().load();
    let counters = snapshot.counters();
    println!(
        "version {}: {} moves applied, {} refused",
        snapshot.version().0,
        counters.applied(),
        counters.rejected()
    );
    for (item, count) in &snapshot.state().counts {
        println!("  {item}: {count}");
    }
    assert_eq!(snapshot.state().counts.get("bolts"), Some(&50));
    assert_eq!(counters.rejected(), 2, "shipping 1,000 of 300 is refused");

    let last = engine.shutdown()?;
    println!("shut down at version {}", last.version().0);
    Ok(())
}
