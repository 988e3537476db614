//! `replay` never panics, whatever it reads: random bytes, and the shipped examples with random
//! corruption (which gets past the JSON parser into the book, the grid and the reconciler with
//! strange values). Every input ends in a report or a typed error.

use std::io::Cursor;

use proptest::prelude::*;
use rust_decimal::Decimal;
use snapstate::reconcile::ReconcileConfig;
use snapstate_cli::replay::{
    BinanceOptions, DEFAULT_BINANCE_GRID_LEVELS, Format, ReplayError, ReplayOptions, replay,
};

/// Scales the number of generated inputs; raise it for a soak run.
const CASES: u32 = 64;

const NATIVE: &str = include_str!("../../fixtures/native.jsonl");
const BINANCE: &str = include_str!("../../fixtures/binance.jsonl");

fn options(format: Format, skip_invalid: bool) -> ReplayOptions {
    ReplayOptions {
        source_name: "generated".to_owned(),
        format,
        skip_invalid,
        max_line_bytes: 4_096,
        apply_corrections: true,
        // Small, so that generated inputs also pass the report's limits.
        max_reported_invalid_lines: 3,
        max_reported_findings: 3,
        reconcile: ReconcileConfig::default(),
        binance: BinanceOptions {
            symbol: None,
            tick_size: Decimal::new(1, 2),
            grid_levels: DEFAULT_BINANCE_GRID_LEVELS,
        },
    }
}

/// Replays `input` in every mode; only a report or an invalid line may come out.
fn replay_every_way(input: &[u8]) -> Result<(), TestCaseError> {
    for format in [Format::Native, Format::Binance] {
        for skip_invalid in [false, true] {
            let result = replay(
                Cursor::new(input),
                &options(format, skip_invalid),
                &mut std::io::sink(),
            );
            match result {
                Ok(_) | Err(ReplayError::InvalidLine(_)) => {}
                Err(other) => {
                    return Err(TestCaseError::fail(format!(
                        "{format}: not a report nor an invalid line: {other}"
                    )));
                }
            }
        }
    }
    Ok(())
}

/// Characters that keep a corrupted line looking like JSON, so that corruption reaches past
/// the parser: digits, signs, exponents, quotes, brackets and a few words.
fn json_noise() -> impl Strategy<Value = String> {
    prop_oneof![
        "[-0-9eE.]{1,40}",
        Just("\"".to_owned()),
        Just("{".to_owned()),
        Just("}".to_owned()),
        Just("null".to_owned()),
        Just("-1".to_owned()),
        Just("79228162514264337593543950335".to_owned()),
        Just("18446744073709551615".to_owned()),
        Just("2147483647".to_owned()),
        Just("-2147483648".to_owned()),
        Just("\"1e28\"".to_owned()),
        Just("\"-0.0000000000000000000000000001\"".to_owned()),
        Just("\"sell\"".to_owned()),
        Just("\"filled\"".to_owned()),
        Just("\"TRADE\"".to_owned()),
        Just("\"CANCELED\"".to_owned()),
    ]
}

/// `text` with `edits` replacements of a character range by noise.
fn corrupt(text: &str, edits: &[(usize, usize, String)]) -> String {
    let mut out = text.to_owned();
    for (at, length, noise) in edits {
        let start = at % out.len().max(1);
        let end = (start + length).min(out.len());
        // Edit on character boundaries only: the input stays UTF-8, so the noise reaches the
        // JSON parser rather than the UTF-8 check.
        if out.is_char_boundary(start) && out.is_char_boundary(end) {
            out.replace_range(start..end, noise);
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    #[test]
    fn prop_random_bytes_never_panic(input in proptest::collection::vec(any::<u8>(), 0..2_048)) {
        replay_every_way(&input)?;
    }

    #[test]
    fn prop_random_lines_of_json_tokens_never_panic(
        lines in proptest::collection::vec(proptest::collection::vec(json_noise(), 0..12), 0..20)
    ) {
        let input: String = lines.iter().map(|tokens| tokens.join("") + "\n").collect();
        replay_every_way(input.as_bytes())?;
    }

    #[test]
    fn prop_corrupted_native_examples_never_panic(
        edits in proptest::collection::vec((any::<usize>(), 0..8_usize, json_noise()), 1..6)
    ) {
        replay_every_way(corrupt(NATIVE, &edits).as_bytes())?;
    }

    #[test]
    fn prop_corrupted_binance_examples_never_panic(
        edits in proptest::collection::vec((any::<usize>(), 0..8_usize, json_noise()), 1..6)
    ) {
        replay_every_way(corrupt(BINANCE, &edits).as_bytes())?;
    }
}

#[test]
fn extreme_values_are_reported_not_panicked_on() {
    let lines = [
        r#"{"type":"grid","origin":"79228162514264337593543950335","step":"79228162514264337593543950335","lowest":-2147483648,"highest":2147483647}"#,
        r#"{"type":"grid","origin":"1","step":"0.0000000000000000000000000001","lowest":-2147483648,"highest":2147483647}"#,
        r#"{"type":"place","order_id":18446744073709551615,"level":2147483647,"side":"buy","price":"1","quantity":"79228162514264337593543950335","at":18446744073709551615}"#,
        r#"{"type":"fill","order_id":18446744073709551615,"cumulative_filled":"79228162514264337593543950335","at":18446744073709551615}"#,
        r#"{"type":"venue_snapshot","as_of":18446744073709551615,"orders":[{"order_id":1,"updated_at":18446744073709551615,"filled":"0","status":"open","side":"sell","price":"79228162514264337593543950335","quantity":"79228162514264337593543950335"}],"net_position":"-79228162514264337593543950335"}"#,
        r#"{"type":"venue_snapshot","as_of":0,"orders":[],"net_position":"79228162514264337593543950335"}"#,
        r#"{"type":"place","order_id":2,"level":0,"side":"buy","price":"1e99999","quantity":"1","at":0}"#,
    ];
    let input = lines.join("\n");
    replay_every_way(input.as_bytes()).expect("no panic, only reports and invalid lines");
}
