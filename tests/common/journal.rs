//! The journal tests' shared harness (`tests/journal.rs`, `tests/journal_writers.rs`): a
//! workload of order life cycles, the book it gives, and journal and engine configurations on
//! the simulated storage.

use std::sync::Arc;

use snapstate::book::{Book, BookCommand, Level, OrderId};
use snapstate::engine::EngineConfig;
use snapstate::journal::{JournalConfig, SimulatedStorage};

/// Grid levels of the journal tests' book.
pub const LEVELS: u32 = 200;

/// Order life cycles over the grid, with a refused command every so often.
pub fn workload(orders: u64) -> Vec<BookCommand> {
    let grid = super::grid(LEVELS);
    let mut commands = Vec::new();
    for order in 0..orders {
        let level = Level(i32::try_from(order % 150).expect("small") - 75);
        let (cycle, _) = super::life_cycle(
            &grid,
            OrderId(order + 1),
            level,
            3,
            u32::try_from(order % 4).expect("small"),
            order,
        );
        commands.extend(cycle);
        if order % 7 == 0 {
            commands.push(super::invalid_command(OrderId(1_000_000 + order)));
        }
    }
    commands
}

/// The book that applying `commands` in order gives.
pub fn reference(commands: &[BookCommand]) -> Book {
    let mut book = super::book(LEVELS);
    for command in commands {
        let _ = book.apply(command);
    }
    book
}

/// A journal on `storage` with small segments (so that runs roll over several) and no
/// checkpoints.
pub fn journal_config(storage: &SimulatedStorage) -> JournalConfig {
    JournalConfig {
        segment_bytes: 4096,
        checkpoint_every_commands: None,
        checkpoint_interval: None,
        ..JournalConfig::with_storage(Arc::new(storage.clone()))
    }
}

/// An engine configuration journaling to `journal`, without metrics, in batches of at most 64.
pub fn engine_config(journal: JournalConfig) -> EngineConfig {
    EngineConfig {
        record_metrics: false,
        max_batch: 64,
        journal: Some(journal),
        ..EngineConfig::default()
    }
}
