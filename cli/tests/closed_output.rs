//! End to end: a closed standard output or error ends the command quietly with status 141,
//! never with a panic (issue 10, defect 7: `snapstate sim-check | head` exited with 101).

use std::path::Path;
use std::process::{Command, Output, Stdio};

/// The exit status of a command whose output was closed by its reader.
const EXIT_CLOSED_OUTPUT: i32 = 141;

/// A pipe whose reading end is already closed: every write to it fails with `EPIPE`.
fn closed_pipe() -> std::io::PipeWriter {
    let (reader, writer) = std::io::pipe().expect("a pipe");
    drop(reader);
    writer
}

fn run(args: &[&str], close_stderr: bool) -> Output {
    let stderr = if close_stderr {
        Stdio::from(closed_pipe())
    } else {
        Stdio::piped()
    };
    Command::new(env!("CARGO_BIN_EXE_snapstate"))
        .args(args)
        .stdout(closed_pipe())
        .stderr(stderr)
        .output()
        .expect("the binary runs")
}

fn example() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/native.jsonl")
        .display()
        .to_string()
}

#[test]
fn sim_check_with_its_output_closed_stops_quietly() {
    let output = run(&["sim-check", "--seed", "1", "--fault-free"], false);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(EXIT_CLOSED_OUTPUT), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn replay_with_its_output_closed_stops_quietly() {
    let example = example();
    let output = run(&["replay", &example], false);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(EXIT_CLOSED_OUTPUT), "{stderr}");
    assert!(stderr.is_empty(), "{stderr}");
}

#[test]
fn replay_with_both_outputs_closed_stops_quietly() {
    let example = example();
    let output = run(&["replay", &example, "--json"], true);
    assert_eq!(output.status.code(), Some(EXIT_CLOSED_OUTPUT));
    // An invalid line's error cannot be printed either, but its status still says why.
    let missing = run(&["replay", "/nonexistent/stream.jsonl"], true);
    assert_eq!(missing.status.code(), Some(1));
}
