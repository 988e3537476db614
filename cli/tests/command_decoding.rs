//! Malformed input where it enters: recorded command lines, read with the bounded line reader and
//! parsed by `replay`'s native format (the book's serde implementation underneath), then the
//! commands applied straight through the engine. Whatever the bytes, nothing panics; what
//! decodes is applied or rejected with a typed reason; the book's invariants hold; every command
//! decoded is counted once. (`replay_no_panic.rs` runs the whole `replay` on such input; this
//! checks what the engine and the book make of every command that gets through.)

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use rust_decimal::Decimal;
use serde_json::{Value, json};
use snapstate::book::{Book, BookConfig, Grid, Level};
use snapstate::engine::{Engine, EngineConfig, Outcome};
use snapstate_cli::replay::lines::{BoundedLines, Line};
use snapstate_cli::replay::native::{Record, parse};

/// The longest line read; longer ones are reported as oversized, never decoded.
const MAX_LINE_BYTES: usize = 512;

/// Values that break a field in every way a recording can: wrong types, out-of-range and
/// overflowing numbers, decimals that do not parse, empty containers.
fn hostile_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|number| json!(number)),
        any::<u64>().prop_map(|number| json!(number)),
        any::<f64>().prop_map(|number| json!(number)),
        Just(json!(1e300)),
        Just(json!(-0.0)),
        Just(json!("79228162514264337593543950336")),
        Just(json!("-79228162514264337593543950335.5")),
        Just(json!("0.0000000000000000000000000001")),
        Just(json!("1e5")),
        Just(json!("NaN")),
        Just(json!("")),
        "[a-z_]{0,12}".prop_map(Value::String),
        Just(json!([])),
        Just(json!({})),
    ]
}

/// A command as JSON, valid for a grid of levels −5..=5 at 100 + level, or close to it.
fn command_json() -> impl Strategy<Value = Value> {
    (0_usize..9, 1_u64..6, -6_i32..7, 0_i64..6, 0_u64..1_000).prop_map(
        |(kind, order_id, level, quantity, at)| {
            let price = (100 + i64::from(level)).to_string();
            let quantity = quantity.to_string();
            match kind {
                0 => json!({"type": "place", "order_id": order_id, "level": level,
                            "side": "buy", "price": price, "quantity": quantity, "at": at}),
                1 => {
                    json!({"type": "acknowledge", "order_id": order_id, "venue_seq": at, "at": at})
                }
                2 => json!({"type": "fill", "order_id": order_id, "cumulative_filled": quantity,
                            "fill_price": price, "trade_id": at, "venue_seq": at, "at": at}),
                3 => json!({"type": "cancel", "order_id": order_id, "at": at}),
                4 => json!({"type": "reject", "order_id": order_id, "at": at}),
                5 => json!({"type": "expire", "order_id": order_id, "venue_seq": at, "at": at}),
                6 => json!({"type": "correct", "correction": "missed_fill", "order_id": order_id,
                            "expected": at % 4, "cumulative_filled": quantity, "at": at}),
                7 => json!({"type": "correct", "correction": "adopt", "order_id": order_id,
                            "level": level, "side": "sell", "price": price, "quantity": quantity,
                            "cumulative_filled": "0", "expected": 0, "at": at}),
                _ => json!({"type": "correct", "correction": "adopt_finished",
                            "order_id": order_id, "level": level, "side": "buy", "price": price,
                            "quantity": quantity, "cumulative_filled": quantity,
                            "status": "filled", "expected": 0, "at": at}),
            }
        },
    )
}

/// One way to break a command's JSON.
#[derive(Clone, Debug)]
enum Mutation {
    /// Replace the field at this index (of the sorted keys) with a hostile value.
    Replace(prop::sample::Index, Value),
    /// Remove the field at this index.
    Remove(prop::sample::Index),
    /// Add a field the format does not have.
    Add(String, Value),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        3 => (any::<prop::sample::Index>(), hostile_value())
            .prop_map(|(index, value)| Mutation::Replace(index, value)),
        1 => any::<prop::sample::Index>().prop_map(Mutation::Remove),
        1 => ("[a-z]{1,8}", hostile_value()).prop_map(|(key, value)| Mutation::Add(key, value)),
    ]
}

fn mutate(mut command: Value, mutations: &[Mutation]) -> Value {
    let Some(fields) = command.as_object_mut() else {
        return command;
    };
    for mutation in mutations {
        let keys: Vec<String> = fields.keys().cloned().collect();
        match mutation {
            Mutation::Replace(index, value) if !keys.is_empty() => {
                fields.insert(keys[index.index(keys.len())].clone(), value.clone());
            }
            Mutation::Remove(index) if !keys.is_empty() => {
                fields.remove(&keys[index.index(keys.len())]);
            }
            Mutation::Add(key, value) => {
                fields.insert(key.clone(), value.clone());
            }
            Mutation::Replace(..) | Mutation::Remove(_) => {}
        }
    }
    command
}

/// A recording: lines of (possibly broken) commands, with raw damage: some lines cut short, some
/// bytes overwritten (invalid UTF-8 included), some lines too long.
fn recording() -> impl Strategy<Value = Vec<u8>> {
    let line = (
        command_json(),
        prop::collection::vec(mutation(), 0..3),
        prop::option::weighted(0.1, any::<prop::sample::Index>()),
        prop::option::weighted(0.1, (any::<prop::sample::Index>(), any::<u8>())),
        prop::bool::weighted(0.03),
    )
        .prop_map(|(command, mutations, cut, overwrite, oversized)| {
            let mut bytes = mutate(command, &mutations).to_string().into_bytes();
            if let Some(index) = cut {
                bytes.truncate(index.index(bytes.len() + 1));
            }
            if let Some((index, byte)) = overwrite
                && !bytes.is_empty()
            {
                let at = index.index(bytes.len());
                bytes[at] = byte;
            }
            if oversized {
                bytes.resize(MAX_LINE_BYTES + 1, b' ');
            }
            bytes
        });
    prop::collection::vec(line, 0..80).prop_map(|lines| lines.join(&b'\n'))
}

fn book() -> Book {
    let grid = Grid::new(Decimal::from(100), Decimal::ONE, Level(-5), Level(5)).expect("grid");
    Book::new(BookConfig::new(grid))
}

/// What became of a recording's lines.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Tally {
    lines: u64,
    decoded: u64,
    applied: u64,
    rejected: u64,
}

/// Reads `input` as command lines and applies the commands that parse through an engine,
/// checking everything the module documentation promises.
fn apply_recording(input: &[u8]) -> Result<Tally, TestCaseError> {
    let config = EngineConfig {
        outcome_capacity: Some(1_024),
        record_metrics: false,
        ..EngineConfig::default()
    };
    let mut engine = Engine::start(book(), config).expect("starts");
    let outcomes = engine.take_outcomes().expect("asked for a stream");
    let writer = engine.write_handle();
    let mut lines = BoundedLines::new(input, MAX_LINE_BYTES);
    let mut decoded = 0_u64;
    let mut read = 0_u64;
    while let Some((_, line)) = lines.next_line().expect("in-memory reads do not fail") {
        read += 1;
        let Line::Text(text) = line else { continue };
        if let Ok(Record::Command(command)) = parse(&text) {
            writer.submit(command).expect("the engine runs");
            decoded += 1;
        }
    }
    writer.flush().expect("the engine runs");
    for _ in 0..decoded {
        let record = outcomes.recv().expect("one record per command");
        let typed = matches!(record.outcome, Outcome::Applied(_) | Outcome::Rejected(_));
        prop_assert!(typed, "{:?}", record.outcome);
    }
    let last = engine.shutdown().expect("a clean shutdown");
    if let Err(violation) = last.state().check_invariants() {
        return Err(TestCaseError::fail(violation.to_string()));
    }
    let counters = last.counters();
    prop_assert_eq!(counters.applied() + counters.rejected(), decoded);
    prop_assert_eq!(counters.panicked(), 0);
    prop_assert_eq!(counters.rejected_count("unlabelled"), 0);
    Ok(Tally {
        lines: read,
        decoded,
        applied: counters.applied(),
        rejected: counters.rejected(),
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn prop_arbitrary_bytes_never_panic_the_decoder_and_whatever_decodes_is_typed(
        input in prop::collection::vec(any::<u8>(), 0..600)
    ) {
        apply_recording(&input)?;
    }

    #[test]
    fn prop_a_damaged_recording_is_applied_or_rejected_line_by_line_with_typed_reasons(
        input in recording()
    ) {
        apply_recording(&input)?;
    }
}

/// The generators must reach the engine, or the properties above test only the decoder.
#[test]
fn undamaged_lines_decode_and_reach_the_engine() {
    let lines = [
        json!({"type": "place", "order_id": 1, "level": -1, "side": "buy", "price": "99",
               "quantity": "2", "at": 5}),
        json!({"type": "fill", "order_id": 1, "cumulative_filled": "1", "at": 6}),
        json!({"type": "fill", "order_id": 1, "cumulative_filled": "9", "at": 7}),
    ];
    let input = lines.map(|line| line.to_string()).join("\n");
    let tally = apply_recording(input.as_bytes()).expect("checks pass");
    assert_eq!(
        tally,
        Tally {
            lines: 3,
            decoded: 3,
            applied: 2,
            rejected: 1
        },
        "the fill beyond the quantity is rejected"
    );
}

/// The damage must leave some lines whole and break others, and what decodes must include
/// commands the book applies and commands it rejects.
#[test]
fn damaged_recordings_mix_decodable_and_broken_lines_and_both_outcomes() {
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let mut total = Tally::default();
    for _ in 0..50 {
        let input = recording()
            .new_tree(&mut runner)
            .expect("a recording")
            .current();
        let tally = apply_recording(&input).expect("checks pass");
        total.lines += tally.lines;
        total.decoded += tally.decoded;
        total.applied += tally.applied;
        total.rejected += tally.rejected;
    }
    assert!(total.decoded > total.lines / 4, "{total:?}");
    assert!(total.decoded < total.lines, "{total:?}");
    assert!(total.applied > 0 && total.rejected > 0, "{total:?}");
}
