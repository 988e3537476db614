//! End to end: `kill -9` of `snapstate simulate --journal DIR` mid-run, then `snapstate recover`
//! and a second `simulate` on the same directory that resumes and converges.
//! (`cli/tests/simulate.rs` has the same kill without `recover`; this one also checks that the
//! read-only `recover` reads the killed run's journal.)

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use common::{snapstate, text};

/// The longest wait for the child to journal something durable.
const DURABLE_WAIT: Duration = Duration::from_secs(20);

/// Whether `directory` holds a segment with at least one record (past its header).
fn has_records(directory: &Path) -> bool {
    let Ok(entries) = std::fs::read_dir(directory) else {
        return false;
    };
    entries.flatten().any(|entry| {
        let path = entry.path();
        path.extension()
            .is_some_and(|extension| extension == "journal")
            && std::fs::read(&path).is_ok_and(|bytes| {
                bytes.len() > 16 && {
                    let header = u32::from_le_bytes([bytes[12], bytes[13], bytes[14], bytes[15]]);
                    let start = usize::try_from(header).unwrap_or(usize::MAX);
                    bytes.len() >= start + 16 && bytes[start..start + 16].iter().any(|&b| b != 0)
                }
            })
    })
}

#[test]
fn a_killed_run_recovers_and_a_second_run_resumes_and_converges() {
    let directory = std::env::temp_dir().join(format!("snapstate-kill-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&directory);
    let path = directory.to_str().expect("utf-8").to_owned();
    let mut child = Command::new(env!("CARGO_BIN_EXE_snapstate"))
        .args([
            "simulate",
            "--journal",
            &path,
            "--duration",
            "30s",
            "--json",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let started = Instant::now();
    while !has_records(&directory) {
        assert!(
            started.elapsed() < DURABLE_WAIT,
            "nothing journaled in time"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // Let a few more batches reach the disk, then SIGKILL: no shutdown, no final sync.
    std::thread::sleep(Duration::from_millis(300));
    child.kill().expect("kill -9");
    child.wait().expect("reaped");

    let output = snapstate(&["recover", "--json", &path]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let report: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    let last_seq = report["last_seq"].as_u64().expect("last_seq");
    assert!(last_seq > 0, "{report}");

    let output = snapstate(&["simulate", "--journal", &path, "--duration", "1s", "--json"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let second: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(second["book_equals_venue"], true, "{second}");
    let rendered = second.to_string();
    assert!(rendered.contains("records_replayed"), "{second}");
    std::fs::remove_dir_all(&directory).expect("clean up");
}
