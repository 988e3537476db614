//! `native_line`: one line of the native recorded format (`docs/formats.md`) through
//! `snapstate_cli::replay::native::parse`, the parser `snapstate replay` runs on every line.
//!
//! Checks, for any bytes: the parser never panics; a line it accepts, printed back in the
//! format, parses to the same record (a record keeps what it read, and what it prints can be
//! read again).

#![no_main]

use libfuzzer_sys::fuzz_target;
use snapstate_cli::replay::native::{self, Record};

fuzz_target!(|data: &[u8]| {
    let Ok(line) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(record) = native::parse(line) else {
        return;
    };
    let printed = print(&record);
    match native::parse(&printed) {
        Ok(again) => assert_eq!(again, record, "{line:?} printed as {printed:?}"),
        Err(error) => panic!("{line:?} printed as {printed:?}, which does not parse: {error}"),
    }
});

/// `record` as one line of the native format.
fn print(record: &Record) -> String {
    let value = match record {
        Record::Grid(grid) => serde_json::json!({
            "type": "grid",
            "origin": grid.origin(),
            "step": grid.step(),
            "lowest": grid.lowest(),
            "highest": grid.highest(),
        }),
        Record::Command(command) => serde_json::to_value(command).expect("a command serialises"),
        Record::VenueSnapshot(report) => {
            let mut value = serde_json::to_value(report).expect("a venue report serialises");
            if let Some(object) = value.as_object_mut() {
                object.insert("type".to_owned(), "venue_snapshot".into());
            }
            value
        }
    };
    value.to_string()
}
