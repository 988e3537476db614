//! Properties of the generic engine, checked against both writers (threaded and inline):
//! arbitrary commands (applied, refused, panicking) in arbitrary chunks and batch sizes.
//!
//! Case counts scale with `SNAPSTATE_TEST_SCALE` (see `tests/common`).

mod common;
mod engine_support;

use common::writers::{Started, WRITER_KINDS, WriterKind};
use engine_support::{Log, Logged, Odd, PANIC, quiet_panics};
use proptest::prelude::*;
use snapstate::engine::{EngineConfig, Snapshot};

/// Even numbers (applied), odd numbers (refused), and now and then a panicking command.
fn command() -> impl Strategy<Value = u64> {
    prop_oneof![
        8 => (0_u64..50).prop_map(|n| n * 2),
        3 => (0_u64..50).prop_map(|n| n * 2 + 1),
        1 => Just(PANIC),
    ]
}

fn cases() -> u32 {
    u32::try_from(24 * common::scale()).unwrap_or(u32::MAX)
}

/// What the state machine makes of `commands` applied one by one: the logged values.
fn expected_log(commands: &[u64]) -> Vec<u64> {
    commands
        .iter()
        .copied()
        .filter(|&command| command != PANIC && command % 2 == 0)
        .collect()
}

/// Submits `commands` in `chunks` through a writer of `kind`, checking after each chunk that
/// the visible snapshot holds exactly the commands submitted so far; returns the final one.
fn run(
    kind: WriterKind,
    commands: &[u64],
    chunks: &[usize],
    max_batch: usize,
    queue_capacity: usize,
) -> Result<std::sync::Arc<Snapshot<Log>>, TestCaseError> {
    let config = EngineConfig {
        max_batch,
        queue_capacity,
        record_metrics: false,
        ..EngineConfig::default()
    };
    let engine = Started::start(kind, Log::default(), config);
    let producer = engine.producer();
    let reader = engine.read_handle();
    let mut submitted = 0;
    let mut rest = commands;
    for &size in chunks.iter().cycle() {
        if rest.is_empty() {
            break;
        }
        let (chunk, after) = rest.split_at(size.min(rest.len()));
        rest = after;
        for &command in chunk {
            producer.submit(command);
        }
        submitted += chunk.len();
        let visible = producer.flush();
        let snapshot = reader.load();
        prop_assert!(snapshot.version() >= visible, "{kind}");
        prop_assert_eq!(snapshot.last_seq().0, submitted as u64, "{}", kind);
        prop_assert_eq!(snapshot.counters().total(), submitted as u64, "{}", kind);
        prop_assert_eq!(
            snapshot.state().logged(),
            expected_log(&commands[..submitted]),
            "{}",
            kind
        );
    }
    Ok(engine.shutdown())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn prop_every_command_is_counted_once_and_every_snapshot_holds_exactly_a_prefix(
        commands in prop::collection::vec(command(), 0..80),
        chunks in prop::collection::vec(1_usize..20, 1..8),
        max_batch in 1_usize..6,
        queue_capacity in 1_usize..8,
    ) {
        quiet_panics();
        for kind in WRITER_KINDS {
            let last = run(kind, &commands, &chunks, max_batch, queue_capacity)?;
            let counters = last.counters();
            let panics = commands.iter().filter(|&&command| command == PANIC).count() as u64;
            let applied = expected_log(&commands).len() as u64;
            prop_assert_eq!(counters.panicked(), panics, "{}", kind);
            prop_assert_eq!(last.applied_of(&Logged), applied, "{}", kind);
            prop_assert_eq!(
                last.rejected_of(&Odd),
                commands.len() as u64 - applied - panics,
                "{}",
                kind
            );
        }
    }

    #[test]
    fn prop_the_inline_and_the_threaded_writer_publish_the_same_final_state_and_counts(
        commands in prop::collection::vec(command(), 0..80),
        chunks in prop::collection::vec(1_usize..20, 1..8),
        max_batch in 1_usize..6,
    ) {
        quiet_panics();
        let threaded = run(WriterKind::Threaded, &commands, &chunks, max_batch, 4)?;
        let inline = run(WriterKind::Inline, &commands, &chunks, max_batch, 4)?;
        prop_assert_eq!(threaded.state().logged(), inline.state().logged());
        prop_assert_eq!(threaded.last_seq(), inline.last_seq());
        prop_assert_eq!(threaded.counters(), inline.counters());
    }
}
