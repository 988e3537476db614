//! Running the `snapstate` binary from the end-to-end tests.

use std::process::{Command, Output};

/// Runs `snapstate` with `args` and waits for it.
pub fn snapstate(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_snapstate"))
        .args(args)
        .output()
        .expect("the binary runs")
}

/// Output bytes as text, for assertions and failure messages.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
