//! End to end: `snapstate simulate` with faults converges and reports consistently, a
//! truthful venue yields no mismatch, and `/metrics` answers while a simulation runs.
//!
//! Runs are short (a couple of seconds of trading). Nothing here asserts how fast anything
//! was: only what the report and the endpoint say.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::thread;
use std::time::Duration;

use serde_json::Value;

use common::{snapstate, text};

fn simulate_json(args: &[&str]) -> Value {
    let mut all = vec!["simulate", "--json"];
    all.extend_from_slice(args);
    let output = snapstate(&all);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    serde_json::from_slice(&output.stdout).expect("one JSON object on stdout")
}

fn count(value: &Value) -> u64 {
    value
        .as_u64()
        .unwrap_or_else(|| panic!("a count, got {value}"))
}

fn sum(object: &Value) -> u64 {
    object
        .as_object()
        .expect("an object of counts")
        .values()
        .map(count)
        .sum()
}

#[test]
fn a_faulty_run_converges_and_its_report_adds_up() {
    let report = simulate_json(&[
        "--duration",
        "2s",
        "--seed",
        "7",
        "--drop-rate",
        "0.03",
        "--duplicate-rate",
        "0.03",
        "--delay-rate",
        "0.05",
        "--reorder-rate",
        "0.03",
    ]);
    assert_eq!(report["book_equals_venue"], true);
    let state = &report["final_state"];
    assert_eq!(state["differences"], Value::Array(Vec::new()), "{state}");
    assert_eq!(state["book_net_position"], state["venue_net_position"]);
    assert_eq!(state["book_live_orders"], state["venue_live_orders"]);
    assert_eq!(report["phases"]["converged"], true);

    let faults = &report["venue"]["faults_injected"];
    assert!(count(&faults["dropped"]) > 0, "{faults}");
    let reconciliation = &report["reconciliation"];
    assert!(
        count(&reconciliation["mismatches_total"]) > 0,
        "{reconciliation}"
    );
    assert_eq!(
        count(&reconciliation["mismatches_total"]),
        sum(&reconciliation["mismatches"])
    );
    assert!(
        count(&reconciliation["corrections_applied"]) > 0,
        "{reconciliation}"
    );
    assert_eq!(
        count(&reconciliation["corrections_applied"])
            + count(&reconciliation["corrections_rejected_stale"]),
        count(&reconciliation["corrections_submitted"])
    );
    assert_eq!(
        count(&reconciliation["duration_ms"]["samples"]),
        count(&reconciliation["runs"]),
        "every cycle with a venue answer recorded its duration"
    );

    // Every command the engine took is the driver's or a correction, and is counted once.
    let throughput = &report["throughput"];
    let commands = count(&throughput["commands"]);
    assert_eq!(
        commands,
        sum(&throughput["applied"]) + sum(&throughput["rejected"])
    );
    assert_eq!(
        commands,
        count(&report["venue"]["commands_submitted"])
            + count(&reconciliation["corrections_submitted"])
    );
    assert_eq!(
        count(&report["submit_to_visible_us"]["samples"]),
        count(&report["venue"]["commands_submitted"])
    );
    assert!(
        count(&throughput["applied"]["duplicate"]) > 0,
        "duplicated updates change nothing and are counted: {throughput}"
    );
}

#[test]
fn a_truthful_venue_yields_no_mismatch_and_the_table_says_the_book_equals_the_venue() {
    let output = snapstate(&["--duration", "1s", "--no-faults"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let table = text(&output.stdout);
    assert!(table.contains("faults injected         none"), "{table}");
    assert!(table.contains("mismatches confirmed    0 "), "{table}");
    assert!(table.contains("book equals venue       yes"), "{table}");
    // Stdout is not a terminal here: progress comes as plain lines, never redrawn in place.
    assert!(!table.contains('\r'));
}

#[test]
fn options_that_cannot_make_a_run_are_refused_with_a_reason() {
    let output = snapstate(&["simulate", "--drop-rate", "1.5"]);
    assert_eq!(output.status.code(), Some(2), "a usage error");
    assert!(text(&output.stderr).contains("1.5 is not a probability between 0 and 1"));

    let output = snapstate(&["simulate", "--journal-sync", "os"]);
    assert_eq!(output.status.code(), Some(2), "a usage error");
    assert!(text(&output.stderr).contains("--journal <DIR>"));

    for (policy, reason) in [
        ("often", "`often` is not every_batch, os or interval:PERIOD"),
        ("every-batch", "`every-batch` is not every_batch"),
        ("interval:0ms", "longer than zero"),
    ] {
        let output = snapstate(&["simulate", "--journal", ".", "--journal-sync", policy]);
        assert_eq!(output.status.code(), Some(2), "a usage error");
        assert!(text(&output.stderr).contains(reason), "{policy}");
    }

    let output = snapstate(&["simulate", "--grace", "100ms"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        text(&output.stderr).contains("--grace 100ms must exceed the longest update delay"),
        "{}",
        text(&output.stderr)
    );
}

/// A port that was free a moment ago.
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    listener.local_addr().expect("address").port()
}

/// One `GET /metrics`; `None` while nothing listens yet.
fn scrape(port: u16) -> Option<String> {
    request(port, "GET", "/metrics")
}

/// One request; `None` while nothing listens.
fn request(port: u16, method: &str, path: &str) -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let request =
        format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    Some(response)
}

#[test]
fn metrics_are_served_while_a_simulation_runs() {
    let port = free_port();
    let address = format!("127.0.0.1:{port}");
    let mut child = Command::new(env!("CARGO_BIN_EXE_snapstate"))
        .args([
            "simulate",
            "--duration",
            "4s",
            "--json",
            "--metrics-addr",
            &address,
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let wanted = [
        "snapstate_commands_total{outcome=\"applied\",class=\"placed\"}",
        "snapstate_batch_size",
        "snapstate_queue_depth",
        "reconciliation_duration_seconds_bucket{le=\"0.01\"}",
        "reconciliation_snapshot_entries",
    ];
    // Scrape until the reconciler's first cycles show up; give up once the process ends.
    let mut last = String::new();
    let mut found = false;
    for _ in 0..200 {
        if let Some(response) = scrape(port) {
            found = wanted.iter().all(|name| response.contains(name));
            last = response;
            if found {
                break;
            }
        }
        if child.try_wait().expect("status").is_some() {
            break;
        }
        thread::sleep(Duration::from_millis(50));
    }
    // Issue 10, defect 9: every path and method was answered with the metrics. The
    // simulation runs for seconds after its first cycles, so the endpoint still listens.
    let not_found = request(port, "GET", "/nope");
    let not_allowed = request(port, "POST", "/metrics");
    let output = child.wait_with_output().expect("the simulation ends");
    assert!(found, "missing metrics in the last scrape:\n{last}");
    assert!(last.starts_with("HTTP/1.1 200"), "{last}");
    let not_found = not_found.expect("an answer for /nope");
    assert!(not_found.starts_with("HTTP/1.1 404"), "{not_found}");
    let not_allowed = not_allowed.expect("an answer for POST");
    assert!(not_allowed.starts_with("HTTP/1.1 405"), "{not_allowed}");
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert!(text(&output.stderr).contains(&format!("serving metrics on http://{address}/metrics")));
}

/// `sim-check --seed` prints what the checker's `run` reports for that seed.
#[test]
fn the_replay_command_prints_the_report_of_its_seed() {
    let config = snapstate_sim::check::SimConfig::new(snapstate_sim::check::Scenario::Faults, 5);
    let command = config.replay_command().expect("a preset");
    assert_eq!(command, "cargo run --release -- sim-check --seed 5");
    // The same subcommand, through the binary.
    let output = Command::new(env!("CARGO_BIN_EXE_snapstate"))
        .args(["sim-check", "--seed", "5"])
        .output()
        .expect("the binary runs");
    assert!(output.status.success(), "{output:?}");
    let expected = snapstate_sim::check::run(&config).expect("seed 5 passes");
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        format!("{expected}\n")
    );
}

/// A fresh journal folder in the test's scratch space, named after the test.
fn journal_directory(name: &str) -> std::path::PathBuf {
    let directory = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    // A folder left by an earlier run of the test would be recovered, not started afresh.
    match std::fs::remove_dir_all(&directory) {
        Ok(()) => {}
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(error) => panic!("cannot clear {}: {error}", directory.display()),
    }
    directory
}

fn journaled_run(directory: &std::path::Path, sync: &str) -> Value {
    let directory = directory.to_str().expect("a UTF-8 scratch path");
    simulate_json(&[
        "--duration",
        "1s",
        "--journal",
        directory,
        "--journal-sync",
        sync,
    ])
}

fn is_digest(value: &Value) -> bool {
    value
        .as_str()
        .is_some_and(|digest| digest.len() == 64 && digest.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[test]
fn a_journaled_run_reports_its_journal_and_the_next_run_recovers_it() {
    let directory = journal_directory("simulate-journal-twice");
    let first = journaled_run(&directory, "every_batch");
    let journal = &first["journal"];
    assert_eq!(journal["sync"], "every_batch", "{journal}");
    let last_seq = count(&journal["last_seq"]);
    assert!(last_seq > 0, "{journal}");
    assert_eq!(count(&journal["durable_seq"]), last_seq, "{journal}");
    assert!(is_digest(&journal["state_digest"]), "{journal}");
    assert_eq!(
        journal["recovery"],
        Value::Null,
        "a fresh journal: {journal}"
    );

    // The policy is the run's choice, not the journal's: the second run syncs by the OS.
    let second = journaled_run(&directory, "os");
    assert_eq!(second["book_equals_venue"], true);
    let journal = &second["journal"];
    assert_eq!(journal["sync"], "os", "{journal}");
    let recovery = &journal["recovery"];
    assert!(
        count(&recovery["records_replayed"]) > 0 || recovery["checkpoint_seq"].is_u64(),
        "{journal}"
    );
    assert_eq!(count(&recovery["last_seq"]), last_seq, "{journal}");
    assert!(count(&journal["last_seq"]) > last_seq, "{journal}");
    assert_eq!(
        count(&journal["durable_seq"]),
        count(&journal["last_seq"]),
        "{journal}"
    );
    assert!(is_digest(&journal["state_digest"]), "{journal}");
    assert_eq!(journal["startup"]["complete"], true, "{journal}");
}

/// Whether any journal segment in `directory` holds a record past its header (segments are
/// preallocated with zeros, so their length says nothing, and the header is written before
/// any record).
fn segments_hold_records(directory: &std::path::Path) -> bool {
    let Ok(entries) = std::fs::read_dir(directory) else {
        return false;
    };
    entries.flatten().any(|entry| {
        let path = entry.path();
        path.extension()
            .is_some_and(|extension| extension == "journal")
            && std::fs::read(&path).is_ok_and(|bytes| {
                // Bytes 12..16 of a segment hold its header's length.
                bytes.len() > 16 && {
                    let header = u32::from_le_bytes([bytes[12], bytes[13], bytes[14], bytes[15]]);
                    let start = usize::try_from(header).unwrap_or(usize::MAX);
                    bytes.len() >= start + 16 && bytes[start..start + 16].iter().any(|&b| b != 0)
                }
            })
    })
}

#[test]
fn a_run_killed_mid_trade_is_recovered_by_the_next_run() {
    let directory = journal_directory("simulate-journal-killed");
    let path = directory.to_str().expect("a UTF-8 scratch path");
    let mut child = Command::new(env!("CARGO_BIN_EXE_snapstate"))
        .args(["simulate", "--json", "--duration", "30s", "--journal", path])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the binary runs");
    // Bounded: at most 30 s for the first records to reach the segment.
    let mut polls = 0;
    while !segments_hold_records(&directory) {
        polls += 1;
        if polls >= 600 || child.try_wait().is_ok_and(|status| status.is_some()) {
            let _ = child.kill();
            panic!("no journal record after 30 s, or the journaled run ended early");
        }
        thread::sleep(Duration::from_millis(50));
    }
    // Let a few more batches reach the disk, then SIGKILL: no shutdown, no final sync.
    thread::sleep(Duration::from_millis(300));
    child.kill().expect("the child can be killed");
    child.wait().expect("the child is reaped");

    // The read-only `recover` reads the killed run's journal (and changes nothing).
    let output = snapstate(&["recover", "--json", path]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let read_only: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert!(count(&read_only["last_seq"]) > 0, "{read_only}");

    let report = journaled_run(&directory, "every_batch");
    assert_eq!(report["book_equals_venue"], true);
    let journal = &report["journal"];
    let recovery = &journal["recovery"];
    assert!(count(&recovery["records_replayed"]) > 0, "{journal}");
    assert_eq!(
        count(&recovery["last_seq"]),
        count(&read_only["last_seq"]),
        "the next run recovers what recover read: {journal}"
    );
    assert!(
        count(&journal["last_seq"]) >= count(&recovery["last_seq"]),
        "{journal}"
    );
    assert_eq!(
        count(&journal["durable_seq"]),
        count(&journal["last_seq"]),
        "{journal}"
    );
    assert_eq!(journal["startup"]["complete"], true, "{journal}");
}

/// `--journal` given a folder of other files (a mistyped path) is refused before the run, and
/// nothing is written there: not a segment, not even the journal's lock file.
#[test]
fn a_journal_folder_of_other_files_is_refused_and_left_as_it_was() {
    let directory = journal_directory("simulate-journal-not-a-journal");
    std::fs::create_dir_all(&directory).expect("scratch folder");
    std::fs::write(directory.join("notes.txt"), "not a journal").expect("write");
    let output = snapstate(&[
        "--duration",
        "1s",
        "--journal",
        directory.to_str().expect("a UTF-8 scratch path"),
    ]);
    assert!(!output.status.success(), "refused");
    let stderr = text(&output.stderr);
    assert!(stderr.contains("is not a journal"), "{stderr}");
    let names: Vec<String> = std::fs::read_dir(&directory)
        .expect("listed")
        .map(|entry| {
            entry
                .expect("entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    assert_eq!(names, vec!["notes.txt".to_owned()], "nothing written");
}

/// `sim-check --seed u64::MAX --json` used to build the range `seed..seed + 1`, which
/// overflowed: a panic in a debug build, and in a release build the empty range
/// `18446744073709551615..0`: no seed ran and the command reported success.
#[test]
fn sim_check_json_runs_the_largest_seed() {
    let output = Command::new(env!("CARGO_BIN_EXE_snapstate"))
        .args([
            "sim-check",
            "--seed",
            "18446744073709551615",
            "--json",
            "--fault-free",
        ])
        .output()
        .expect("the binary runs");
    assert!(output.status.success(), "{output:?}");
    let summary: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("one JSON object");
    assert_eq!(summary["runs"], 1, "{summary}");
    assert_eq!(summary["failed"], 0, "{summary}");
    assert_eq!(
        summary["seeds"], "18446744073709551615..18446744073709551616",
        "{summary}"
    );
    assert!(summary["trading_steps"].as_u64() > Some(0), "{summary}");
}
