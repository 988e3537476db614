//! `snapstate bench --json` prints one JSON object with every contender and every figure.
//!
//! This checks the command's output shape, never its speed. With `SNAPSTATE_BENCH_JSON` set to
//! a file, it checks that file instead (CI points it at the output of the real
//! `snapstate bench --quick --json`); otherwise it runs the command on a tiny workload.

use std::process::Command;

use snapstate_bench::report::check_json;

#[test]
fn bench_json_holds_every_contender_and_figure() {
    let text = match std::env::var_os("SNAPSTATE_BENCH_JSON") {
        Some(path) => std::fs::read_to_string(&path)
            .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display())),
        None => {
            let output = Command::new(env!("CARGO_BIN_EXE_snapstate"))
                .args([
                    "bench",
                    "--quick",
                    "--json",
                    "--slots",
                    "300",
                    "--seconds",
                    "0.05",
                ])
                .output()
                .expect("the snapstate binary runs");
            assert!(
                output.status.success(),
                "snapstate bench failed: {}",
                String::from_utf8_lossy(&output.stderr)
            );
            String::from_utf8(output.stdout).expect("UTF-8 output")
        }
    };
    assert_eq!(text.trim().lines().count(), 1, "exactly one line: {text}");
    check_json(&text).unwrap_or_else(|problem| panic!("{problem}: {text}"));
}

/// With `--journal`, snapstate's two writers journal (into a temporary directory, removed
/// afterwards) and the JSON output says so, with every figure.
#[test]
fn bench_with_a_journal_gives_every_figure_and_names_the_policy() {
    let output = Command::new(env!("CARGO_BIN_EXE_snapstate"))
        .args([
            "bench",
            "--quick",
            "--slots",
            "300",
            "--seconds",
            "200ms",
            "--journal",
            "every_batch",
            "--checkpoint-every",
            "5000",
            "--json",
        ])
        .output()
        .expect("the snapstate binary runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "snapstate bench failed: {stderr}");
    assert!(!stderr.contains("could not remove"), "{stderr}");
    let text = String::from_utf8(output.stdout).expect("UTF-8 output");
    check_json(&text).unwrap_or_else(|problem| panic!("{problem}: {text}"));
    let value: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    assert_eq!(value["run"]["journal"]["sync"], "every_batch", "{text}");
    assert_eq!(
        value["run"]["journal"]["checkpoint_every_commands"], 5000,
        "{text}"
    );
    for (name, figures) in [
        (
            "snapstate",
            &[
                "updates_per_sec",
                "writer_stall_us_max",
                "publication_gap_us_max",
            ][..],
        ),
        // The inline writer runs with metrics off: no stall (benches' snapstate_inline docs).
        (
            "snapstate_inline",
            &["updates_per_sec", "publication_gap_us_max"][..],
        ),
    ] {
        for figure in figures {
            let value = &value["contenders"][name][figure];
            assert!(value.is_number(), "{name}.{figure}: {text}");
        }
    }
}

/// Bad arguments are refused by name, with a non-zero exit, before anything runs (no panic).
#[test]
fn bad_bench_arguments_are_refused_with_a_message() {
    for (arguments, expected) in [
        (&["--seconds", "inf"][..], "--seconds"),
        (&["--seconds", "0"][..], "longer than zero"),
        (&["--seconds=-1"][..], "--seconds"),
        (&["--contenders", "rwlock"][..], "rwlock_held"),
        (&["--contenders", "inline"][..], "snapstate_inline"),
        (&["--wait-strategy", "nap"][..], "--wait-strategy"),
        (
            &["--wait-strategy", "spin_then_block:0"][..],
            "number of spins",
        ),
        (&["--inline-batch", "0"][..], "--inline-batch"),
        (&["--journal", "sometimes"][..], "--journal"),
        (&["--journal", "interval:0ms"][..], "longer than zero"),
        (&["--checkpoint-every", "1000"][..], "--journal"),
        (
            &["--journal", "os", "--checkpoint-every", "0"][..],
            "--checkpoint-every",
        ),
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_snapstate"))
            .arg("bench")
            .args(arguments)
            .output()
            .expect("the snapstate binary runs");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{arguments:?}: {stderr}");
        assert!(stderr.contains(expected), "{arguments:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{arguments:?}: {stderr}");
    }
}

/// A plot path that cannot be written (a directory, a folder that does not exist) used to be
/// found only after every contender had run (over a minute without `--quick`), when the plot
/// was drawn. It is now refused before the first contender runs, and no file is left behind.
#[test]
fn a_plot_path_that_cannot_be_written_is_refused_before_anything_runs() {
    let scratch = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"));
    let missing = scratch.join("no_such_folder").join("plot.svg");
    for path in [scratch.to_path_buf(), missing.clone()] {
        let output = Command::new(env!("CARGO_BIN_EXE_snapstate"))
            .args([
                "bench",
                "--quick",
                "--slots",
                "300",
                "--seconds",
                "0.05",
                "--plot",
            ])
            .arg(&path)
            .output()
            .expect("the snapstate binary runs");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains("cannot write the plot"), "{stderr}");
        assert!(
            !stderr.contains("bench: snapstate"),
            "no contender ran: {stderr}"
        );
        assert!(output.stdout.is_empty(), "no report");
    }
    assert!(!missing.exists());
}
