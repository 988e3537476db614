//! A fuzz-style property test of the book driven through the engine: arbitrary command
//! sequences, valid and malformed (unknown orders, off-grid levels and prices, zero, negative
//! and overflowing quantities, fills beyond the quantity, corrections with wrong revisions),
//! submitted in arbitrary chunks, through a small queue, with small batches.

use proptest::prelude::*;

use super::strategies::{command, config, replay};
use super::*;
use crate::engine::{Engine, EngineConfig, Labelled, Outcome};

proptest! {
    // Each case starts an engine (a thread); the sequences are long enough to exercise
    // batching, backpressure and tombstone purges.
    #![proptest_config(ProptestConfig::with_cases(crate::test_cases::cases(64, 16)))]

    #[test]
    fn prop_any_command_sequence_through_the_engine_is_applied_or_rejected_with_a_typed_reason(
        commands in prop::collection::vec(command(), 0..150),
        chunk_sizes in prop::collection::vec(1_usize..24, 1..12),
        max_batch in 1_usize..6,
        queue_capacity in 1_usize..16,
    ) {
        let engine_config = EngineConfig {
            max_batch,
            queue_capacity,
            outcome_capacity: Some(commands.len().max(1)),
            record_metrics: false,
            ..EngineConfig::default()
        };
        let mut engine = Engine::start(Book::new(config()), engine_config).expect("starts");
        let outcomes = engine.take_outcomes().expect("asked for a stream");
        let writer = engine.write_handle();
        let reader = engine.read_handle();

        let mut submitted = 0_u64;
        let mut rest = commands.as_slice();
        for &size in chunk_sizes.iter().cycle() {
            if rest.is_empty() {
                break;
            }
            let (chunk, after) = rest.split_at(size.min(rest.len()));
            rest = after;
            for command in chunk {
                writer.submit(command.clone()).expect("the engine runs");
                submitted += 1;
            }
            writer.flush().expect("the engine runs");
            let snapshot = reader.load();
            if let Err(violation) = snapshot.state().check_invariants() {
                return Err(TestCaseError::fail(format!("after #{submitted}: {violation}")));
            }
            let counters = snapshot.counters();
            prop_assert_eq!(counters.applied() + counters.rejected(), submitted);
            prop_assert_eq!(snapshot.last_seq().0, submitted);
            prop_assert_eq!(counters.panicked(), 0);
        }
        prop_assert!(engine.health().is_healthy(), "{:?}", engine.health());

        let (expected, results) = replay::<Persistent>(&commands);
        for (index, result) in results.iter().enumerate() {
            let record = outcomes.recv().expect("one record per command");
            prop_assert_eq!(record.seq.0, index as u64 + 1);
            match (&record.outcome, result) {
                (Outcome::Applied(engine), Ok(book)) => prop_assert_eq!(engine, book),
                (Outcome::Rejected(engine), Err(book)) => {
                    prop_assert_eq!(engine, book);
                    prop_assert!(
                        engine.label_index() < Rejection::LABELS.len(),
                        "an unlabelled rejection: {}", engine
                    );
                }
                (outcome, book) => {
                    return Err(TestCaseError::fail(format!(
                        "command #{}: the engine said {outcome:?}, the book {book:?}",
                        index + 1
                    )));
                }
            }
        }
        let last = engine.shutdown().expect("a clean shutdown");
        prop_assert_eq!(last.state(), &expected);
        let counters = last.counters();
        prop_assert_eq!(counters.total(), commands.len() as u64);
        prop_assert_eq!(counters.applied() + counters.rejected(), commands.len() as u64);
        for label in Rejection::LABELS {
            let recount = results
                .iter()
                .filter(|result| matches!(result, Err(rejection) if rejection.label() == *label))
                .count() as u64;
            prop_assert_eq!(counters.rejected_count(label), recount, "{}", label);
        }
        prop_assert_eq!(counters.rejected_count("unlabelled"), 0);
        prop_assert_eq!(counters.applied_count("unlabelled"), 0);
    }
}
