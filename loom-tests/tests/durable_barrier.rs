//! The hand-off from the writer to the journal thread: `flush_durable` returns only once
//! everything submitted before it is durable, in every interleaving of the writer, the journal
//! thread and the caller (issue 12).
//!
//! The model crashes the simulated disk the moment the barrier returns (so nothing the journal
//! thread does afterwards counts) and recovers from what was synced: the barrier's commands
//! must all be there.
#![cfg(loom)]

use std::sync::Arc;

use snapstate::engine::{Engine, EngineConfig, Seq};
use snapstate::journal::{JournalConfig, SimulatedStorage, recover_read_only};
use snapstate_loom_tests::{Mark, Marks, explore, model_config};

fn journaled(storage: &SimulatedStorage) -> EngineConfig {
    EngineConfig {
        journal: Some(JournalConfig {
            queue_batches: 1,
            // The smallest segment: the simulated disk copies it on every crash and recovery.
            segment_bytes: 4096,
            checkpoint_every_commands: None,
            checkpoint_interval: None,
            ..JournalConfig::with_storage(Arc::new(storage.clone()))
        }),
        ..model_config(2, 1)
    }
}

/// No outcomes are collected across executions: every execution ends in the same state (both
/// marks durable, asserted inside the model), so an "observed at least once" assertion could
/// not fail. The model's teeth are shown by breaking `Appender::sync` instead
/// (`docs/verification.md`).
#[test]
fn flush_durable_never_returns_before_its_commands_are_synced() {
    explore("durable_barrier", move || {
        let storage = SimulatedStorage::new();
        let (engine, _) = Engine::recover(Marks::default(), journaled(&storage))
            .expect("a fresh journal recovers");
        let write = engine.write_handle();
        write.submit(Mark(1)).expect("the engine is running");
        write.submit(Mark(2)).expect("the engine is running");
        let durable = write.flush_durable().expect("the journal is healthy");
        assert!(
            durable >= Seq(2),
            "the barrier returned {durable}, before Mark(2)"
        );

        // The process dies now: only what was synced survives.
        let (survivor, _) = storage.crash(None);
        let (recovered, report) =
            recover_read_only(&survivor, Marks::default()).expect("the synced journal recovers");
        assert!(
            recovered.state().contains(1) && recovered.state().contains(2),
            "flush_durable returned {durable} but the disk holds only {:?}",
            report.last_seq
        );
        drop(write);
        drop(engine);
    });
}
