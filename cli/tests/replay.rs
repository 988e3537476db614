//! End to end: `snapstate replay` on the shipped examples (the findings they are built to
//! show) and on malformed files (line numbers, reasons, exit statuses).

mod common;

use std::path::{Path, PathBuf};

use serde_json::Value;

use common::{snapstate, text};

/// The exit status of a replay stopped by an invalid line.
const EXIT_INVALID_INPUT: i32 = 3;

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures")
        .join(name)
}

/// A file in the test's scratch folder, named after the test.
fn scratch(name: &str, contents: &[u8]) -> PathBuf {
    let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    std::fs::write(&path, contents).expect("scratch folder is writable");
    path
}

fn replay_json(args: &[&str]) -> Value {
    let output = snapstate(args);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    serde_json::from_slice(&output.stdout).expect("one JSON object")
}

/// Each finding as (line, class, confirmed, observations).
fn findings(report: &Value) -> Vec<(u64, String, bool, u64)> {
    report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|finding| {
            (
                finding["line"].as_u64().expect("line"),
                finding["class"].as_str().expect("class").to_owned(),
                finding["confirmed"].as_bool().expect("confirmed"),
                finding["observations"].as_u64().expect("observations"),
            )
        })
        .collect()
}

fn finding(line: u64, class: &str, confirmed: bool, seen: u64) -> (u64, String, bool, u64) {
    (line, class.to_owned(), confirmed, seen)
}

fn live_orders(report: &Value) -> Vec<(u64, String)> {
    report["book"]["live_orders"]
        .as_array()
        .expect("live orders")
        .iter()
        .map(|order| {
            (
                order["order_id"].as_u64().expect("id"),
                order["filled"].as_str().expect("filled").to_owned(),
            )
        })
        .collect()
}

#[test]
fn the_native_example_shows_each_difference_suspected_then_confirmed_in_a_dry_run() {
    let path = example("native.jsonl");
    let report = replay_json(&["replay", path.to_str().expect("utf-8 path"), "--json"]);
    assert_eq!(report["dry_run"], true);
    assert_eq!(report["commands"], 12);
    assert_eq!(report["venue_snapshots"], 4);
    let mut expected = Vec::new();
    for (line, seen) in [(14, 1), (15, 2), (16, 3), (17, 4)] {
        expected.push(finding(line, "venue_filled_ahead", seen >= 2, seen));
        expected.push(finding(line, "missing_at_venue", seen >= 3, seen));
        expected.push(finding(line, "unknown_inside_grid", seen >= 2, seen));
        // The position difference must also last the 5 s grace window: first seen at 31 s.
        expected.push(finding(line, "position_differs", line == 17, seen));
    }
    assert_eq!(findings(&report), expected);
    let actions: Vec<&str> = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|finding| finding["line"] == 17)
        .map(|finding| finding["action"].as_str().expect("action"))
        .collect();
    assert_eq!(
        actions,
        [
            "correct: missed_fill (precondition r3)",
            "correct: mark_lost (precondition r2)",
            "correct: adopt (precondition r0)",
            "report only (policy)",
        ]
    );
    // A dry run changes nothing: the book is what the commands made it.
    assert_eq!(report["book"]["net_position"], "2");
    assert_eq!(
        live_orders(&report),
        [(1, "4".to_owned()), (2, "0".to_owned())]
    );
}

#[test]
fn the_native_example_with_corrections_ends_as_the_documented_worked_example() {
    let path = example("native.jsonl");
    let report = replay_json(&[
        "replay",
        path.to_str().expect("utf-8 path"),
        "--json",
        "--apply-corrections",
    ]);
    assert_eq!(report["dry_run"], false);
    assert_eq!(report["corrections"]["submitted"], 3);
    assert_eq!(report["corrections"]["applied"], 3);
    assert_eq!(report["corrections"]["rejected_stale"], 0);
    let at_last_two: Vec<_> = findings(&report)
        .into_iter()
        .filter(|(line, ..)| *line >= 16)
        .collect();
    assert_eq!(
        at_last_two,
        [
            finding(16, "missing_at_venue", true, 3),
            finding(16, "position_differs", false, 3),
            finding(17, "position_differs", true, 4),
        ]
    );
    assert_eq!(report["book"]["net_position"], "5");
    assert_eq!(
        live_orders(&report),
        [(1, "7".to_owned()), (9, "0".to_owned())]
    );
    assert_eq!(report["book"]["orders_by_status"]["lost"], 1);
}

#[test]
fn the_binance_example_finds_a_missed_trade_a_lost_order_and_a_foreign_one() {
    let path = example("binance.jsonl");
    let report = replay_json(&[
        "replay",
        "--format",
        "binance",
        path.to_str().expect("utf-8 path"),
        "--json",
    ]);
    assert_eq!(report["ignored"]["not an order event"], 2);
    assert_eq!(report["venue_snapshots"], 3);
    let mut expected = Vec::new();
    for (line, seen) in [(10, 1), (11, 2), (12, 3)] {
        expected.push(finding(line, "venue_filled_ahead", seen >= 2, seen));
        expected.push(finding(line, "missing_at_venue", seen >= 3, seen));
        expected.push(finding(line, "unknown_inside_grid", seen >= 2, seen));
    }
    assert_eq!(findings(&report), expected);
    let clients: Vec<&str> = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .take(3)
        .map(|finding| finding["client_order_id"].as_str().expect("client id"))
        .collect();
    assert_eq!(clients, ["grid-1", "grid-4", "web-5"]);
    assert_eq!(report["book"]["net_position"], "-0.00600000");
    assert_eq!(
        live_orders(&report),
        [(1, "0.00400000".to_owned()), (4, "0".to_owned())]
    );
    assert_eq!(report["book"]["orders_by_status"]["cancelled"], 1);
    assert_eq!(report["book"]["orders_by_status"]["filled"], 1);
}

#[test]
fn the_table_lists_findings_with_their_lines_and_the_final_book() {
    let path = example("native.jsonl");
    let output = snapstate(&["replay", path.to_str().expect("utf-8 path")]);
    assert_eq!(output.status.code(), Some(0));
    let table = text(&output.stdout);
    assert!(
        table.contains("     15  1700000032.000  venue_filled_ahead      confirmed     2x  correct: missed_fill (precondition r3)"),
        "{table}"
    );
    assert!(table.contains("order o9: live at the venue (sell 2 at 104), unknown to the book"));
    assert!(table.contains("final book: version"), "{table}");
    assert!(table.contains("net position 2"), "{table}");
}

/// Runs a replay of `contents` expected to stop; returns stderr.
fn stops_with(name: &str, contents: &[u8], extra: &[&str]) -> String {
    let path = scratch(name, contents);
    let mut args = vec!["replay", path.to_str().expect("utf-8 path")];
    args.extend_from_slice(extra);
    let output = snapstate(&args);
    assert_eq!(
        output.status.code(),
        Some(EXIT_INVALID_INPUT),
        "{}",
        text(&output.stderr)
    );
    assert!(
        output.stdout.is_empty(),
        "a stopped replay prints no report"
    );
    text(&output.stderr)
}

/// Replays `path` with `--skip-invalid --json` and `extra`, which must succeed; returns the
/// report and the standard error (a line for each line skipped).
fn skipping(path: &Path, extra: &[&str]) -> (Value, String) {
    let mut args = vec![
        "replay",
        path.to_str().expect("utf-8 path"),
        "--skip-invalid",
        "--json",
    ];
    args.extend_from_slice(extra);
    let output = snapstate(&args);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let report = serde_json::from_slice(&output.stdout).expect("one JSON object");
    (report, text(&output.stderr))
}

/// The line numbers a report lists as invalid.
fn invalid_line_numbers(report: &Value) -> Vec<u64> {
    report["invalid_lines"]
        .as_array()
        .expect("invalid lines")
        .iter()
        .map(|invalid| invalid["line"].as_u64().expect("line"))
        .collect()
}

const GRID: &str = r#"{"type":"grid","origin":"100","step":"1","lowest":-10,"highest":10}"#;
const PLACE: &str =
    r#"{"type":"place","order_id":1,"level":-2,"side":"buy","price":"98","quantity":"10","at":1}"#;

#[test]
fn a_malformed_line_stops_the_replay_with_its_number_and_reason() {
    let input = format!("{GRID}\n{PLACE}\n{{\"type\":\"fill\",\"order_id\":1\n");
    let stderr = stops_with("truncated.jsonl", input.as_bytes(), &[]);
    assert!(
        stderr.starts_with("error: line 3: not valid JSON: EOF while parsing an object"),
        "{stderr}"
    );
}

#[test]
fn an_impossible_command_stops_the_replay_with_the_books_reason() {
    let fill = r#"{"type":"fill","order_id":7,"cumulative_filled":"1","at":2}"#;
    let input = format!("{GRID}\n{PLACE}\n\n{fill}\n");
    let stderr = stops_with("unknown.jsonl", input.as_bytes(), &[]);
    assert_eq!(
        stderr.lines().next(),
        Some("error: line 4: the book rejects this fill of order o7: unknown order o7")
    );
    let overfill = r#"{"type":"fill","order_id":1,"cumulative_filled":"11","at":2}"#;
    let input = format!("{GRID}\n{PLACE}\n{overfill}\n");
    let stderr = stops_with("overfill.jsonl", input.as_bytes(), &[]);
    assert_eq!(
        stderr.lines().next(),
        Some(
            "error: line 3: the book rejects this fill of order o1: order o1: cumulative fill \
             11 exceeds quantity 10"
        )
    );
}

#[test]
fn structural_problems_are_reported_by_line() {
    let cases: [(&str, Vec<u8>, &str); 5] = [
        (
            "no_grid.jsonl",
            format!("{PLACE}\n").into_bytes(),
            "error: line 1: no grid yet: a native stream starts with a grid record",
        ),
        (
            "two_grids.jsonl",
            format!("{GRID}\n{GRID}\n").into_bytes(),
            "error: line 2: the grid is already set: a stream has one grid record",
        ),
        (
            "unknown_type.jsonl",
            format!("{GRID}\n{{\"type\":\"amend\"}}\n").into_bytes(),
            "error: line 2: unknown record type \"amend\"",
        ),
        (
            "not_utf8.jsonl",
            b"\xff\xfe\n".to_vec(),
            "error: line 1: not valid UTF-8",
        ),
        (
            "impossible_snapshot.jsonl",
            format!(
                "{GRID}\n{{\"type\":\"venue_snapshot\",\"as_of\":5,\"orders\":[{{\"order_id\":1,\
                 \"updated_at\":1,\"filled\":\"3\",\"status\":\"open\",\"side\":\"buy\",\
                 \"price\":\"98\",\"quantity\":\"2\"}}]}}\n"
            )
            .into_bytes(),
            "error: line 2: impossible venue snapshot: venue order o1: filled 3 exceeds quantity 2",
        ),
    ];
    for (name, contents, expected) in cases {
        let stderr = stops_with(name, &contents, &[]);
        assert!(stderr.starts_with(expected), "{name}: {stderr}");
    }
}

#[test]
fn an_oversized_line_is_rejected_by_the_limit() {
    let long = format!("{{\"type\":\"place\",\"padding\":\"{}\"}}", "x".repeat(200));
    let input = format!("{GRID}\n{long}\n");
    let stderr = stops_with(
        "oversized.jsonl",
        input.as_bytes(),
        &["--max-line-bytes", "100"],
    );
    assert_eq!(
        stderr.lines().next(),
        Some(
            "error: line 2: line is 229 bytes long, over the limit of 100 bytes \
             (--max-line-bytes)"
        )
    );
}

#[test]
fn skip_invalid_reports_and_counts_each_bad_line_and_goes_on() {
    let fill = r#"{"type":"fill","order_id":1,"cumulative_filled":"4","at":2}"#;
    let input = format!("{GRID}\n{PLACE}\ngarbage\n{fill}\n{{\"type\":\"fill\"}}\n");
    let (report, stderr) = skipping(&scratch("skip.jsonl", input.as_bytes()), &[]);
    let reported: Vec<&str> = stderr.lines().collect();
    assert_eq!(
        reported,
        [
            "skipped line 3: not valid JSON: expected a JSON object, one per line",
            "skipped line 5: invalid fill record: missing field `order_id` (column 15)",
        ]
    );
    assert_eq!(invalid_line_numbers(&report), [3, 5]);
    // The valid lines around them were applied: the fill after the garbage counts.
    assert_eq!(report["book"]["net_position"], "4");
}

#[test]
fn a_binance_event_the_book_cannot_represent_stops_the_replay() {
    let first = std::fs::read_to_string(example("binance.jsonl")).expect("example");
    let new = first.lines().next().expect("a first line");
    let replaced = new.replace(r#""x":"NEW""#, r#""x":"REPLACED""#);
    let input = format!("{new}\n{replaced}\n");
    let stderr = stops_with("replaced.jsonl", input.as_bytes(), &["--format", "binance"]);
    assert_eq!(
        stderr.lines().next(),
        Some(
            "error: line 2: execution type \"REPLACED\" with order status \"NEW\" is not supported"
        )
    );
}

#[test]
fn options_that_cannot_make_a_replay_are_refused_before_reading() {
    let path = example("native.jsonl");
    let output = snapstate(&[
        "replay",
        path.to_str().expect("utf-8 path"),
        "--observations",
        "0",
    ]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        text(&output.stderr),
        "error: invalid reconciliation settings\n  caused by: observations_before_confirmed must \
         be at least 1\n"
    );
    let output = snapstate(&["replay", "-", "--format", "binance", "--tick-size", "0"]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        text(&output.stderr),
        "error: --tick-size must be positive, got 0\n"
    );
}

#[test]
fn a_missing_file_is_an_error_and_garbage_never_panics() {
    let output = snapstate(&["replay", "/nonexistent/stream.jsonl"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(text(&output.stderr).starts_with("error: cannot open /nonexistent/stream.jsonl"));

    // Bytes from a fixed pseudo-random sequence: the process ends with a status, not a panic
    // (101).
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let garbage: Vec<u8> = (0..4_096)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state.to_le_bytes()[0]
        })
        .collect();
    let path = scratch("garbage.bin", &garbage);
    for format in ["native", "binance"] {
        for extra in [None, Some("--skip-invalid")] {
            let mut args = vec![
                "replay",
                path.to_str().expect("utf-8 path"),
                "--format",
                format,
            ];
            args.extend(extra);
            let output = snapstate(&args);
            let expected = if extra.is_some() {
                0
            } else {
                EXIT_INVALID_INPUT
            };
            assert_eq!(
                output.status.code(),
                Some(expected),
                "{format} {extra:?}: {}",
                text(&output.stderr)
            );
        }
    }
}

/// The first line of the Binance example: `grid-1`, a buy of 0.01 at 36,990, acknowledged.
fn binance_new() -> String {
    let example = std::fs::read_to_string(example("binance.jsonl")).expect("example");
    example.lines().next().expect("a first line").to_owned()
}

/// Issue 10, defect 4: a final event carrying a fill the stream's trade events never
/// delivered left the position short.
#[test]
fn a_binance_cancel_carrying_an_undelivered_fill_moves_the_position() {
    let new = binance_new();
    for (x, status) in [
        ("CANCELED", "CANCELED"),
        ("EXPIRED", "EXPIRED"),
        ("TRADE_PREVENTION", "EXPIRED_IN_MATCH"),
    ] {
        let finished = new
            .replace(
                r#""x":"NEW","X":"NEW""#,
                &format!(r#""x":"{x}","X":"{status}""#),
            )
            .replace(r#""z":"0.00000000""#, r#""z":"0.00400000""#);
        let wrapped = format!(r#"{{"subscriptionId":0,"event":{finished}}}"#);
        let path = scratch(
            &format!("final_{x}.jsonl"),
            format!("{new}\n{wrapped}\n").as_bytes(),
        );
        let report = replay_json(&[
            "replay",
            path.to_str().expect("utf-8 path"),
            "--format",
            "binance",
            "--json",
        ]);
        assert_eq!(report["book"]["net_position"], "0.00400000", "{x}/{status}");
        assert!(
            report["book"]["live_orders"]
                .as_array()
                .expect("live")
                .is_empty(),
            "{x}/{status}"
        );
    }
}

/// Issue 10, defect 2: a decimal with more digits than are kept was rounded on input.
#[test]
fn a_decimal_that_would_be_rounded_is_an_invalid_line_naming_the_field() {
    let fill = r#"{"type":"fill","order_id":1,"cumulative_filled":"1.00000000000000000000000000000000001","at":2}"#;
    let place = PLACE.replace(r#""quantity":"10""#, r#""quantity":"1""#);
    let stderr = stops_with(
        "too_precise.jsonl",
        format!("{GRID}\n{place}\n{fill}\n").as_bytes(),
        &[],
    );
    let first = stderr.lines().next().expect("an error line");
    assert!(
        first.starts_with("error: line 3: invalid fill record: field `cumulative_filled`: "),
        "{first}"
    );
    let price = PLACE.replace(
        r#""price":"98""#,
        r#""price":"98.000000000000000000000000001""#,
    );
    let stderr = stops_with(
        "rounded_price.jsonl",
        format!("{GRID}\n{price}\n").as_bytes(),
        &[],
    );
    assert!(
        stderr.starts_with("error: line 2: invalid place record: field `price`: "),
        "{stderr}"
    );
    let snapshot = r#"{"type":"venue_snapshot","as_of":5,"orders":[{"order_id":1,"updated_at":1,"filled":0.5,"status":"open","side":"buy","price":"98","quantity":"2"}]}"#;
    let stderr = stops_with(
        "float.jsonl",
        format!("{GRID}\n{snapshot}\n").as_bytes(),
        &[],
    );
    assert!(
        stderr.starts_with(
            "error: line 2: invalid venue_snapshot record: field `orders[0].filled`: "
        ),
        "{stderr}"
    );
    let new = binance_new().replace(
        r#""q":"0.01000000""#,
        r#""q":"0.010000000000000000000000000001""#,
    );
    let stderr = stops_with(
        "binance_rounded.jsonl",
        format!("{new}\n").as_bytes(),
        &["--format", "binance"],
    );
    assert!(
        stderr.starts_with("error: line 1: invalid field `q`: "),
        "{stderr}"
    );
}

/// Issue 10, defect 5: an invalid open-orders line set the grid before it was refused.
#[test]
fn an_invalid_open_orders_line_changes_nothing() {
    let bad = r#"{"capture":"openOrders","received_ms":1700000000000,"response":[{"symbol":"BTCUSDT","clientOrderId":"web-1","price":"100.005","origQty":"1","executedQty":"0","status":"HALF_DONE","side":"BUY","updateTime":1}]}"#;
    let input = format!("{bad}\n{}\n", binance_new());
    let (report, stderr) = skipping(
        &scratch("bad_open_orders.jsonl", input.as_bytes()),
        &["--format", "binance"],
    );
    assert_eq!(
        stderr.lines().collect::<Vec<_>>(),
        ["skipped line 1: order status \"HALF_DONE\" is not supported"]
    );
    assert_eq!(report["commands"], 2, "the event after it sets the grid");
    assert_eq!(live_orders(&report).len(), 1);
}

/// Issue 10, defect 6: errors said "line 13: … at line 1 column 29".
#[test]
fn a_binance_parse_error_names_only_its_own_line_and_the_column_in_it() {
    let new = binance_new();
    let broken = new.replace(r#""S":"BUY""#, r#""S":BUY"#);
    let stderr = stops_with(
        "binance_broken.jsonl",
        format!("{new}\n{broken}\n").as_bytes(),
        &["--format", "binance"],
    );
    let first = stderr.lines().next().expect("an error line");
    assert!(first.starts_with("error: line 2: "), "{first}");
    assert!(!first.contains("line 1"), "{first}");
    let column = broken.find("BUY").expect("BUY") + 1;
    assert!(
        first.ends_with(&format!("(column {column})")),
        "{first} (expected column {column})"
    );
}

/// Issue 10, defect 10: `--skip-invalid` kept every skipped line (621 MB for 5M bad lines).
#[test]
fn skipped_lines_are_counted_and_only_the_first_are_listed() {
    let mut input = format!("{GRID}\n{PLACE}\n");
    for _ in 0..50 {
        input.push_str("garbage\n");
    }
    let path = scratch("many_bad.jsonl", input.as_bytes());
    let (report, stderr) = skipping(&path, &["--max-reported-invalid-lines", "5"]);
    assert_eq!(stderr.lines().count(), 50, "each is still reported");
    assert_eq!(report["invalid_lines_total"], 50);
    assert_eq!(invalid_line_numbers(&report), [3, 4, 5, 6, 7]);
    let table = snapstate(&[
        "replay",
        path.to_str().expect("utf-8 path"),
        "--skip-invalid",
        "--max-reported-invalid-lines",
        "5",
    ]);
    let table = text(&table.stdout);
    assert!(table.contains("50 invalid skipped"), "{table}");
    assert!(
        table.contains("… and 45 more skipped lines not listed"),
        "{table}"
    );
}

/// Issue 10, defect 10: replay kept every finding (580 MB for 1M snapshots).
#[test]
fn findings_are_counted_by_class_and_only_the_first_are_listed() {
    let example = example("native.jsonl");
    let example = example.to_str().expect("utf-8 path");
    let all = replay_json(&["replay", example, "--json"]);
    let total = all["findings"].as_array().expect("findings").len() as u64;
    assert!(total > 3, "the example has findings to cut");
    assert_eq!(all["findings_total"], total);
    let cut = replay_json(&["replay", example, "--json", "--max-reported-findings", "3"]);
    assert_eq!(cut["findings_total"], total);
    assert_eq!(cut["findings"].as_array().expect("findings").len(), 3);
    // The version a finding was reconciled against counts the engine's publications, which
    // depend on how its writer happened to batch the commands: it differs between two runs.
    let without_version = |findings: &[Value]| -> Vec<Value> {
        findings
            .iter()
            .map(|finding| {
                let mut finding = finding.clone();
                finding
                    .as_object_mut()
                    .expect("a finding")
                    .remove("reconciled_version");
                finding
            })
            .collect()
    };
    assert_eq!(
        without_version(&cut["findings"].as_array().expect("findings")[..]),
        without_version(&all["findings"].as_array().expect("findings")[..3])
    );
    let by_class: u64 = cut["findings_by_class"]
        .as_object()
        .expect("by class")
        .values()
        .map(|count| count.as_u64().expect("a count"))
        .sum();
    assert_eq!(by_class, total);
}

#[test]
fn findings_out_streams_every_finding_as_a_json_line() {
    let example = example("native.jsonl");
    let example = example.to_str().expect("utf-8 path");
    let all = replay_json(&["replay", example, "--json"]);
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("findings_out.jsonl");
    let cut = replay_json(&[
        "replay",
        example,
        "--json",
        "--max-reported-findings",
        "1",
        "--findings-out",
        out.to_str().expect("utf-8 path"),
    ]);
    assert_eq!(cut["findings"].as_array().expect("findings").len(), 1);
    let streamed: Vec<Value> = std::fs::read_to_string(&out)
        .expect("the findings file")
        .lines()
        .map(|line| serde_json::from_str(line).expect("one JSON object per line"))
        .collect();
    // The version a finding was reconciled against depends on how the writer happened to
    // batch the commands before it (timing), so it is left out of the comparison.
    let without_version = |findings: &[Value]| -> Vec<Value> {
        findings
            .iter()
            .cloned()
            .map(|mut finding| {
                finding
                    .as_object_mut()
                    .expect("a finding is an object")
                    .remove("reconciled_version");
                finding
            })
            .collect()
    };
    assert_eq!(
        without_version(&streamed),
        without_version(all["findings"].as_array().expect("findings"))
    );
}

/// One line, one unit, for events too: an event the book refuses must not leave its client id
/// marked as placed, or the order's later events would never place it.
#[test]
fn a_binance_event_the_book_refuses_changes_nothing() {
    let new = binance_new();
    let rival = new.replace(r#""c":"grid-1""#, r#""c":"grid-x""#);
    let cancel = new.replace(r#""x":"NEW","X":"NEW""#, r#""x":"CANCELED","X":"CANCELED""#);
    let trade = rival
        .replace(
            r#""x":"NEW","X":"NEW""#,
            r#""x":"TRADE","X":"PARTIALLY_FILLED""#,
        )
        .replace(r#""z":"0.00000000""#, r#""z":"0.00400000""#)
        .replace(r#""t":-1"#, r#""t":9"#);
    let input = format!("{new}\n{rival}\n{cancel}\n{trade}\n");
    let (report, stderr) = skipping(
        &scratch("binance_refused.jsonl", input.as_bytes()),
        &["--format", "binance"],
    );
    let skipped: Vec<&str> = stderr.lines().collect();
    assert_eq!(skipped.len(), 1, "{stderr}");
    assert!(
        skipped[0].starts_with("skipped line 2: the book rejects this place of order o2 (grid-x)"),
        "{stderr}"
    );
    assert_eq!(report["book"]["net_position"], "0.00400000");
}

/// `--findings-out` naming the input itself used to truncate the input before it was read:
/// the replay then read an empty stream and reported success, and the recording was lost.
#[test]
fn findings_out_naming_the_input_is_refused_and_the_input_kept() {
    let contents = std::fs::read(example("native.jsonl")).expect("the example");
    let input = scratch("findings_out_is_input.jsonl", &contents);
    let path = input.to_str().expect("utf-8 path");
    let output = snapstate(&["replay", path, "--findings-out", path]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    assert!(
        text(&output.stderr).contains("is the input"),
        "{}",
        text(&output.stderr)
    );
    assert_eq!(std::fs::read(&input).expect("the input"), contents);
}

/// The findings file is created only once the input is open: a replay that cannot read its
/// input leaves a file already at the findings path as it was.
#[test]
fn a_missing_input_leaves_the_findings_file_untouched() {
    let findings = scratch("findings_out_untouched.jsonl", b"kept\n");
    let missing = Path::new(env!("CARGO_TARGET_TMPDIR")).join("no_such_recording.jsonl");
    let output = snapstate(&[
        "replay",
        missing.to_str().expect("utf-8 path"),
        "--findings-out",
        findings.to_str().expect("utf-8 path"),
    ]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    assert!(
        text(&output.stderr).contains("cannot open"),
        "{}",
        text(&output.stderr)
    );
    assert_eq!(
        std::fs::read(&findings).expect("the findings file"),
        b"kept\n"
    );
}
