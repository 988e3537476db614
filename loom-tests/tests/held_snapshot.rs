//! A snapshot held by a reader stays identical while the writer publishes further versions
//! (issue 4, model 2), checked on the real position book.
#![cfg(loom)]

use std::sync::Arc;

use loom::thread;
use snapstate::book::{Book, BookCommand, StatusReport};
use snapstate::engine::{Engine, Seq, Snapshot, Version};
use snapstate_loom_tests::book::{self, ORDER, assert_whole};
use snapstate_loom_tests::{Observed, explore, model_config};

/// The commands the producer submits, in order: two fills that move the same order and slot,
/// then a cancel that finishes the order and frees the slot. Each one rewrites entries that
/// every earlier snapshot shares with the writer's working copy (the book is a persistent map),
/// which is exactly where an in-place write would change a held snapshot.
fn commands() -> Vec<BookCommand> {
    vec![
        book::fill(3, 2),
        book::fill(6, 3),
        BookCommand::Cancel(StatusReport {
            order_id: ORDER,
            venue_seq: Some(4),
            at: book::at(),
        }),
    ]
}

/// `expected[k]`: the book after the first `k` commands, built without the engine.
fn expected_books() -> Vec<Book> {
    let mut book = book::with_open_order();
    let mut expected = vec![book.clone()];
    for command in commands() {
        book.apply(&command).expect("the model's commands apply");
        expected.push(book.clone());
    }
    expected
}

/// Everything a snapshot says about itself besides its state, copied out (the per-class
/// counts too: a clone of `Counters` would share the snapshot's arrays, so a write into them
/// would change both sides alike and go unseen).
#[derive(Debug, PartialEq, Eq)]
struct Header {
    version: Version,
    last_seq: Seq,
    total: u64,
    applied_by_label: Vec<(&'static str, u64)>,
    rejected_by_label: Vec<(&'static str, u64)>,
}

fn header(snapshot: &Snapshot<Book>) -> Header {
    let counters = snapshot.counters();
    Header {
        version: snapshot.version(),
        last_seq: snapshot.last_seq(),
        total: counters.total(),
        applied_by_label: counters.applied_by_label().collect(),
        rejected_by_label: counters.rejected_by_label().collect(),
    }
}

/// The producer publishes three commands while a reader holds the snapshot it loaded first and
/// loads again; the main thread holds the initial snapshot through the whole run. Both held
/// snapshots must still be exactly what they were when loaded, after the writer has published
/// versions that rewrote everything they share with it.
#[test]
#[cfg_attr(snapstate_broken_publish, should_panic(expected = "torn snapshot"))]
fn held_snapshot_stays_identical_while_the_writer_publishes() {
    let expected = Arc::new(expected_books());
    let holds = Observed::new();
    let recorded = holds.clone();
    explore("held snapshot", move || {
        let engine = Engine::start(expected[0].clone(), model_config(2, 2)).expect("engine starts");
        let initial = engine.read_handle().load();
        let initial_header = header(&initial);
        assert_whole(&initial, &expected);

        let read = engine.read_handle();
        let expected_by_reader = Arc::clone(&expected);
        let reader = thread::spawn(move || {
            let held = read.load();
            assert_whole(&held, &expected_by_reader);
            let held_header = header(&held);
            let newer = read.load();
            assert_whole(&newer, &expected_by_reader);
            assert_eq!(header(&held), held_header, "a held snapshot changed");
            assert_whole(&held, &expected_by_reader);
            (held.last_seq().0, newer.last_seq().0)
        });

        let write = engine.write_handle();
        for command in commands() {
            write.submit(command).expect("the engine is running");
        }
        drop(write);
        let last = engine.shutdown().expect("the writer does not fail");
        assert_whole(&last, &expected);
        assert_eq!(last.last_seq(), Seq(3));
        recorded.insert(reader.join().expect("the reader does not panic"));

        assert_eq!(header(&initial), initial_header, "a held snapshot changed");
        assert_whole(&initial, &expected);
    });
    holds.assert_any(
        "a publication while the reader held its snapshot",
        |&(held, newer)| held < newer,
    );
}
