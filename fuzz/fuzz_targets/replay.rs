//! `replay`: arbitrary bytes as a whole recording through
//! `snapstate_cli::replay::replay_streaming`, the function behind `snapstate replay`, in either
//! format.
//!
//! The first byte chooses the options (bit 0: Binance rather than native, bit 1:
//! `--skip-invalid`, bit 2: a 64-byte line limit, bit 3: `--apply-corrections`, bit 4: a grid
//! of 20 levels rather than the default two million, bit 5: the reconciler confirms on the
//! first observation with no grace, bit 6: the report keeps at most one skipped line and one
//! finding, bit 7: every finding is also streamed, as `--findings-out` does); the rest is the
//! recording.
//!
//! Checks: nothing panics; a replay ends either with a report or with an input error, never
//! with the engine failing, which no input may cause (`SessionError` is "never because of the
//! input"); the report prints as JSON and as a table, and its final book adds up (the net
//! position is the sum of the slots' positions; every live order has `0 <= filled <=
//! quantity`); the report's samples keep at most their limits and count everything; each
//! streamed finding is one JSON line.

#![no_main]

use std::io;
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use rust_decimal::Decimal;
use snapstate::reconcile::ReconcileConfig;
use snapstate_cli::replay::lines::DEFAULT_MAX_LINE_BYTES;
use snapstate_cli::replay::report::FinalBook;
use snapstate_cli::replay::{
    BinanceOptions, DEFAULT_BINANCE_GRID_LEVELS, DEFAULT_MAX_REPORTED_FINDINGS,
    DEFAULT_MAX_REPORTED_INVALID_LINES, Format, ReplayError, ReplayOptions, replay_streaming,
};

fuzz_target!(|data: &[u8]| {
    let Some((&flags, recording)) = data.split_first() else {
        return;
    };
    let options = options(flags);
    let mut streamed = Vec::new();
    let findings: Option<&mut dyn io::Write> = if flags & (1 << 7) != 0 {
        Some(&mut streamed)
    } else {
        None
    };
    match replay_streaming(recording, &options, &mut io::sink(), findings) {
        Ok(report) => {
            if let Some(book) = &report.book {
                check_final_book(book);
            }
            assert!(report.invalid_lines.len() <= options.max_reported_invalid_lines);
            assert!(report.invalid_lines.len() as u64 <= report.invalid_lines_total);
            assert!(report.findings.len() <= options.max_reported_findings);
            assert!(report.findings.len() as u64 <= report.findings_total);
            assert_eq!(
                report.findings_by_class.values().sum::<u64>(),
                report.findings_total,
                "findings by class do not add up"
            );
            if flags & (1 << 7) != 0 {
                let text = std::str::from_utf8(&streamed).expect("streamed findings are UTF-8");
                assert_eq!(
                    text.lines().count() as u64,
                    report.findings_total,
                    "one streamed line per finding"
                );
                for finding in text.lines() {
                    serde_json::from_str::<serde_json::Value>(finding)
                        .expect("a streamed finding is JSON");
                }
            }
            report
                .write_json(&mut io::sink())
                .expect("the report prints as JSON");
            report
                .write_table(&mut io::sink())
                .expect("the report prints as a table");
        }
        Err(ReplayError::Session(error)) => panic!("the replay's engine failed: {error:?}"),
        Err(_) => {}
    }
});

/// The report's final book adds up: what the book's own invariants promise, seen from outside.
fn check_final_book(book: &FinalBook) {
    let sum = book
        .slots
        .iter()
        .try_fold(Decimal::ZERO, |sum, slot| sum.checked_add(slot.position));
    assert_eq!(
        sum,
        Some(book.net_position),
        "the net position is not the sum of the slots' positions: {book:?}"
    );
    for order in &book.live_orders {
        assert!(
            Decimal::ZERO <= order.filled && order.filled <= order.quantity,
            "a live order filled outside 0..=quantity: {order:?}"
        );
    }
}

fn options(flags: u8) -> ReplayOptions {
    let bit = |index: u8| flags & (1 << index) != 0;
    let mut reconcile = ReconcileConfig::default();
    if bit(5) {
        reconcile.in_flight_grace = Duration::ZERO;
        reconcile.observations_before_confirmed = 1;
        reconcile.absences_before_missing = 1;
    }
    ReplayOptions {
        source_name: "fuzz".to_owned(),
        format: if bit(0) {
            Format::Binance
        } else {
            Format::Native
        },
        skip_invalid: bit(1),
        max_line_bytes: if bit(2) { 64 } else { DEFAULT_MAX_LINE_BYTES },
        apply_corrections: bit(3),
        max_reported_invalid_lines: if bit(6) {
            1
        } else {
            DEFAULT_MAX_REPORTED_INVALID_LINES
        },
        max_reported_findings: if bit(6) {
            1
        } else {
            DEFAULT_MAX_REPORTED_FINDINGS
        },
        reconcile,
        binance: BinanceOptions {
            symbol: None,
            tick_size: Decimal::new(1, 2),
            grid_levels: if bit(4) {
                20
            } else {
                DEFAULT_BINANCE_GRID_LEVELS
            },
        },
    }
}
