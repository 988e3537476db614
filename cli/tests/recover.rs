//! End to end: `snapstate recover DIR` on journals written by the library — a clean one, one
//! with a torn tail, one with a bit flipped mid-log — and that it changes nothing in DIR.

mod common;

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use rust_decimal::Decimal;
use serde_json::Value;
use snapstate::book::{
    Book, BookCommand, BookConfig, FillReport, Grid, Level, OrderId, Place, Side, StatusReport,
};
use snapstate::engine::{Engine, EngineConfig};
use snapstate::journal::JournalConfig;
use snapstate::time::Timestamp;

use common::{snapstate, text};

/// The exit status for a refused journal (`snapstate_cli::recover::EXIT_JOURNAL_REFUSED`).
const EXIT_JOURNAL_REFUSED: i32 = 4;
/// Orders in the journaled run: enough for several records, few enough to stay quick.
const ORDERS: u64 = 60;

/// A fresh, empty directory for one test.
fn directory(name: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!(
        "snapstate-recover-test-{name}-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&path);
    std::fs::create_dir_all(&path).expect("temporary directory");
    path
}

fn book() -> Book {
    let grid = Grid::centred(Decimal::new(100, 0), Decimal::new(1, 2), 40).expect("grid");
    Book::new(BookConfig::new(grid))
}

/// Places, acknowledges and partly fills orders; cancels every third.
fn commands() -> Vec<BookCommand> {
    let grid = book().config().grid.clone();
    let mut commands = Vec::new();
    for order in 0..ORDERS {
        let order_id = OrderId(order + 1);
        let level = Level(i32::try_from(order % 30).expect("small") - 15);
        let side = if level.0 < 0 { Side::Buy } else { Side::Sell };
        let at = Timestamp::from_millis(order);
        let price = grid.price_of(level).expect("on the grid");
        commands.push(BookCommand::Place(Place {
            order_id,
            level,
            side,
            price,
            quantity: Decimal::from(3),
            at,
        }));
        commands.push(BookCommand::Acknowledge(StatusReport {
            order_id,
            venue_seq: Some(1),
            at,
        }));
        commands.push(BookCommand::Fill(FillReport {
            order_id,
            cumulative_filled: Decimal::ONE,
            fill_price: Some(price),
            trade_id: Some(order),
            venue_seq: Some(2),
            at,
        }));
        if order % 3 == 0 {
            commands.push(BookCommand::Cancel(StatusReport {
                order_id,
                venue_seq: Some(3),
                at,
            }));
        }
    }
    commands
}

/// Journals `commands` into `directory` one batch each, shuts down cleanly, and returns the
/// final book's digest.
fn journal(directory: &Path, commands: &[BookCommand]) -> String {
    let config = EngineConfig {
        record_metrics: false,
        journal: Some(JournalConfig {
            // Small segments: quick to hash, and the run rolls over several.
            segment_bytes: 4096,
            ..JournalConfig::new(directory).expect("journal config")
        }),
        ..EngineConfig::default()
    };
    let (engine, _) = Engine::recover(book(), config).expect("fresh start");
    let writer = engine.write_handle();
    for command in commands {
        writer.submit(command.clone()).expect("submit");
        writer.flush().expect("flush");
    }
    drop(writer);
    let last = engine.shutdown().expect("shutdown");
    last.state().state_digest().to_string()
}

/// A hash of every file's name and contents in `directory`.
fn directory_hash(directory: &Path) -> u64 {
    let mut names: Vec<_> = std::fs::read_dir(directory)
        .expect("read dir")
        .map(|entry| entry.expect("entry").file_name())
        .collect();
    names.sort();
    let mut hasher = DefaultHasher::new();
    for name in names {
        name.hash(&mut hasher);
        std::fs::read(directory.join(&name))
            .expect("read file")
            .hash(&mut hasher);
    }
    hasher.finish()
}

fn segments(directory: &Path) -> Vec<PathBuf> {
    let mut segments: Vec<_> = std::fs::read_dir(directory)
        .expect("read dir")
        .map(|entry| entry.expect("entry").path())
        .filter(|path| {
            path.extension()
                .is_some_and(|extension| extension == "journal")
        })
        .collect();
    segments.sort();
    segments
}

fn u32_at(bytes: &[u8], offset: usize) -> usize {
    let mut word = [0; 4];
    word.copy_from_slice(&bytes[offset..offset + 4]);
    usize::try_from(u32::from_le_bytes(word)).expect("fits")
}

/// Where each record of a segment starts, and where the written part ends (docs/durability.md:
/// header length at byte 12; a frame is 16 bytes and its payload; all zeros ends it).
fn frames(bytes: &[u8]) -> (Vec<usize>, usize) {
    let mut offset = u32_at(bytes, 12);
    let mut starts = Vec::new();
    while offset + 16 <= bytes.len() && bytes[offset..offset + 16].iter().any(|&byte| byte != 0) {
        starts.push(offset);
        offset += 16 + u32_at(bytes, offset);
    }
    (starts, offset)
}

fn recover_json(directory: &Path) -> (Option<i32>, Value, String) {
    let output = snapstate(&["recover", "--json", directory.to_str().expect("utf-8 path")]);
    let report = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|error| panic!("one JSON object ({error}): {}", text(&output.stdout)));
    (output.status.code(), report, text(&output.stderr))
}

#[test]
fn a_clean_journal_recovers_to_the_books_digest_and_changes_nothing() {
    let directory = directory("clean");
    let commands = commands();
    let digest = journal(&directory, &commands);
    let before = directory_hash(&directory);

    let (code, report, stderr) = recover_json(&directory);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(report["last_seq"], commands.len() as u64);
    assert_eq!(report["durable_seq"], commands.len() as u64);
    assert_eq!(report["records_replayed"], commands.len() as u64);
    assert_eq!(report["torn_bytes"], 0);
    assert_eq!(report["state_digest"], digest.as_str());
    let mut reference = book();
    for command in &commands {
        let _ = reference.apply(command);
    }
    assert_eq!(report["book"]["live_orders"], reference.live_count());
    assert!(
        reference.live_count() > 0,
        "the summary has something to show"
    );
    assert_eq!(
        report["book"]["net_position"],
        reference.net_position().to_string()
    );
    assert!(report["segments_read"].as_u64().expect("count") > 1);

    let text_output = snapstate(&["recover", directory.to_str().expect("utf-8")]);
    assert_eq!(text_output.status.code(), Some(0));
    let printed = text(&text_output.stdout);
    assert!(printed.contains(&digest), "{printed}");
    assert!(printed.contains("last_seq"), "{printed}");

    assert_eq!(
        directory_hash(&directory),
        before,
        "recover changed the directory"
    );
    std::fs::remove_dir_all(&directory).expect("clean up");
}

#[test]
fn a_torn_tail_is_reported_not_truncated() {
    let directory = directory("torn");
    let commands = commands();
    journal(&directory, &commands);
    let last = segments(&directory).pop().expect("a segment");
    let mut bytes = std::fs::read(&last).expect("read");
    let (starts, end) = frames(&bytes);
    let tail = *starts.last().expect("the last segment holds records");
    // A crash mid-write: the last record's second half never reached the disk.
    let cut = tail + (end - tail) / 2;
    bytes[cut..end].fill(0);
    std::fs::write(&last, &bytes).expect("write");
    let before = directory_hash(&directory);

    let (code, report, stderr) = recover_json(&directory);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(report["last_seq"], commands.len() as u64 - 1);
    assert!(
        report["torn_bytes"].as_u64().expect("count") > 0,
        "{report}"
    );
    let torn_file = last.file_name().expect("name").to_str().expect("utf-8");
    assert_eq!(report["torn_file"], torn_file);
    assert_eq!(
        directory_hash(&directory),
        before,
        "recover truncated the tail"
    );
    std::fs::remove_dir_all(&directory).expect("clean up");
}

#[test]
fn a_flipped_bit_mid_log_exits_with_the_refusal_code_naming_file_and_offset() {
    let directory = directory("flipped");
    journal(&directory, &commands());
    let first = segments(&directory).remove(0);
    let mut bytes = std::fs::read(&first).expect("read");
    let (starts, _) = frames(&bytes);
    assert!(starts.len() > 2, "the first segment holds several records");
    let damaged = starts[1];
    bytes[damaged + 17] ^= 0x10;
    std::fs::write(&first, &bytes).expect("write");
    let before = directory_hash(&directory);

    let (code, report, stderr) = recover_json(&directory);
    assert_eq!(code, Some(EXIT_JOURNAL_REFUSED), "{stderr}");
    assert_eq!(report["refused"], true);
    assert_eq!(report["file"], first.display().to_string());
    assert_eq!(report["offset"], damaged as u64);
    let name = first.file_name().expect("name").to_str().expect("utf-8");
    assert!(stderr.contains(name), "{stderr}");
    assert!(stderr.contains(&format!("at byte {damaged}")), "{stderr}");

    let plain = snapstate(&["recover", directory.to_str().expect("utf-8")]);
    assert_eq!(plain.status.code(), Some(EXIT_JOURNAL_REFUSED));
    assert_eq!(directory_hash(&directory), before);
    std::fs::remove_dir_all(&directory).expect("clean up");
}

#[test]
fn an_empty_directory_recovers_to_nothing_and_a_missing_one_fails() {
    let directory = directory("empty");
    let (code, report, stderr) = recover_json(&directory);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(report["last_seq"], 0);
    assert_eq!(
        std::fs::read_dir(&directory).expect("read dir").count(),
        0,
        "nothing created, not even a lock file"
    );
    std::fs::remove_dir_all(&directory).expect("clean up");

    let output = snapstate(&["recover", directory.to_str().expect("utf-8")]);
    assert_eq!(output.status.code(), Some(1));
    assert!(text(&output.stderr).contains("cannot open"));
}

/// A directory with files but none of a journal's (a mistyped path) used to recover as an
/// empty journal, and an engine started on it would have kept its journal among those files:
/// it is refused, and named. A journal's directory may hold other files beside the journal.
#[test]
fn a_directory_of_other_files_is_not_a_journal_but_a_journal_may_keep_company() {
    let directory = directory("not-a-journal");
    std::fs::write(directory.join("notes.txt"), "not a journal").expect("write");
    let before = directory_hash(&directory);
    let output = snapstate(&["recover", directory.to_str().expect("utf-8")]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    let stderr = text(&output.stderr);
    assert!(stderr.contains("is not a journal"), "{stderr}");
    assert!(stderr.contains("notes.txt"), "{stderr}");
    assert_eq!(directory_hash(&directory), before, "nothing changed");
    std::fs::remove_dir_all(&directory).expect("clean up");

    let directory = self::directory("journal-and-notes");
    let commands = commands();
    journal(&directory, &commands);
    std::fs::write(directory.join("notes.txt"), "kept beside the journal").expect("write");
    let (code, report, stderr) = recover_json(&directory);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(report["last_seq"], commands.len());
    std::fs::remove_dir_all(&directory).expect("clean up");
}

/// A damaged checkpoint that recovery skipped was shown in `--json`'s `checkpoints_skipped`
/// but not in the table when no checkpoint was left to start from: the table said "none
/// (replayed from an empty book)" as if the directory had never held one.
#[test]
fn the_table_reports_a_damaged_checkpoint_even_when_none_was_usable() {
    let directory = directory("damaged-checkpoint");
    let commands = commands();
    journal(&directory, &commands);
    std::fs::write(
        directory.join(format!("{:020}.checkpoint", commands.len())),
        b"not a checkpoint",
    )
    .expect("write the damaged checkpoint");
    let (code, report, stderr) = recover_json(&directory);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(report["checkpoints_skipped"], 1);
    assert_eq!(report["checkpoint_seq"], Value::Null);
    let output = snapstate(&["recover", directory.to_str().expect("utf-8")]);
    assert_eq!(output.status.code(), Some(0));
    let printed = text(&output.stdout);
    assert!(
        printed.contains("1 damaged checkpoint skipped"),
        "{printed}"
    );
    std::fs::remove_dir_all(&directory).expect("clean up");
}

/// Each reason is printed once, and says what is wrong with the path: the message used to
/// repeat its cause on a `caused by:` line, and a directory that does not exist was reported
/// as "not a directory".
#[test]
fn errors_name_their_cause_once_and_say_what_is_wrong_with_the_path() {
    let directory = directory("messages");
    let missing = directory.join("missing");
    let file = directory.join("a-file");
    std::fs::write(&file, b"not a directory").expect("write a file");
    for (path, reason) in [(&missing, "does not exist"), (&file, "is not a directory")] {
        let output = snapstate(&["recover", path.to_str().expect("utf-8")]);
        assert_eq!(output.status.code(), Some(1));
        let stderr = text(&output.stderr);
        assert_eq!(stderr.matches(reason).count(), 1, "{stderr}");
    }
    let damaged = directory.join("damaged");
    std::fs::create_dir(&damaged).expect("create");
    journal(&damaged, &commands());
    let segment = segments(&damaged).into_iter().next().expect("a segment");
    let mut bytes = std::fs::read(&segment).expect("read");
    bytes[0] ^= 0xff;
    std::fs::write(&segment, bytes).expect("write");
    let output = snapstate(&["recover", damaged.to_str().expect("utf-8")]);
    assert_eq!(output.status.code(), Some(EXIT_JOURNAL_REFUSED));
    let stderr = text(&output.stderr);
    assert_eq!(stderr.matches("bad magic").count(), 1, "{stderr}");
    let (_, refusal, _) = recover_json(&damaged);
    let message = refusal["error"].as_str().expect("the reason");
    assert!(message.contains("bad magic"), "{message}");
    std::fs::remove_dir_all(&directory).expect("clean up");
}
