//! `snapstate recover DIR`: recovers a journal directory read-only and reports what it holds.
//!
//! It runs the engine's own recovery ([`snapstate::journal::recover_read_only`]: the newest
//! valid checkpoint, then every record after it replayed through the book's `apply`) without
//! the directory's lock and without repairing anything: a torn tail is reported, not
//! truncated, and nothing in the directory changes (not even a lock file). It is safe to run
//! while an engine journals into the directory; it then reports a prefix of what the engine
//! has written.
//!
//! The book's configuration (the grid and its limits) is read from the journal's own files
//! ([`snapstate::journal::stored_config`]: every segment header and checkpoint stores it), so
//! the command takes no grid options; recovery still checks every file against it.
//!
//! # Exit status
//!
//! * 0: recovered (an empty directory recovers to an empty journal, `last_seq` 0).
//! * [`EXIT_JOURNAL_REFUSED`] (4): the journal cannot be trusted — a record damaged before the
//!   tail, a missing segment, a file of another format or configuration; the message names
//!   the file and the byte offset.
//! * 1: anything else (the directory does not exist, an I/O error).

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;
use snapstate::book::{Book, OrderStatus};
use snapstate::journal::{FileStorage, RecoveryError, recover_read_only, stored_config};

/// The exit status when the journal cannot be trusted (corrupt, records missing, another
/// format or configuration).
pub const EXIT_JOURNAL_REFUSED: u8 = 4;

/// Options of `snapstate recover`.
#[derive(Debug, Clone, clap::Args)]
pub struct RecoverArgs {
    /// The journal directory (as given to `simulate --journal`).
    pub directory: PathBuf,
    /// Print the report as one JSON object (on a refused journal: an object with `error`,
    /// `file` and `offset`).
    #[arg(long)]
    pub json: bool,
}

/// Why `snapstate recover` failed.
#[derive(Debug, thiserror::Error)]
pub enum RecoverError {
    /// The directory could not be opened.
    #[error("cannot open the journal directory {}", directory.display())]
    Open {
        /// The directory given.
        directory: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// Recovery refused the journal, or reading it failed.
    #[error("cannot recover {}", directory.display())]
    Recovery {
        /// The directory given.
        directory: PathBuf,
        /// What recovery said (naming the file and offset).
        source: RecoveryError,
    },
    /// Writing the report failed.
    #[error("cannot write the report")]
    Output(#[from] io::Error),
}

impl RecoverError {
    /// Whether the journal itself was refused (damage, missing records, a foreign format or
    /// configuration), as opposed to an I/O failure: [`EXIT_JOURNAL_REFUSED`].
    pub fn is_refused(&self) -> bool {
        matches!(self, Self::Recovery { source, .. }
            if source.is_corrupt() || source.is_missing_records() || source.is_mismatch())
    }

    /// The damaged file's path, if the error names one.
    pub fn file(&self) -> Option<PathBuf> {
        match self {
            Self::Recovery { directory, source } => source.file().map(|file| directory.join(file)),
            Self::Open { .. } | Self::Output(_) => None,
        }
    }

    /// The byte offset in [`file`](Self::file), if the error names one.
    pub fn offset(&self) -> Option<u64> {
        match self {
            Self::Recovery { source, .. } => source.offset(),
            Self::Open { .. } | Self::Output(_) => None,
        }
    }
}

/// What `snapstate recover --json` prints.
#[derive(Debug, Serialize)]
pub struct RecoverReport {
    /// The directory recovered.
    pub directory: String,
    /// The checkpoint recovery started from (`null`: from an empty book).
    pub checkpoint_seq: Option<u64>,
    /// Newer checkpoints that were damaged and skipped.
    pub checkpoints_skipped: u64,
    /// Segment files read.
    pub segments_read: u64,
    /// Records replayed after the checkpoint.
    pub records_replayed: u64,
    /// Bytes of a torn final record (a crash mid-write). Reported, not truncated: the command
    /// changes nothing; the next engine to recover the directory truncates it.
    pub torn_bytes: u64,
    /// The segment holding the torn record.
    pub torn_file: Option<String>,
    /// The last sequence number recovered.
    pub last_seq: u64,
    /// How far the journal is durable: everything recovered was read back from the files,
    /// so it equals `last_seq`, as an engine recovering the directory would report it.
    pub durable_seq: u64,
    /// The recovered book's `state_digest` (SHA-256, hex), comparable with `simulate`'s.
    pub state_digest: String,
    /// How long recovery took, in milliseconds.
    pub recovery_ms: f64,
    /// Commands applied, rejected and panicked, re-derived by the replay.
    pub commands: CommandCounts,
    /// A short summary of the recovered book.
    pub book: BookSummary,
}

/// Outcome counts of the recovered commands.
#[derive(Debug, Serialize)]
pub struct CommandCounts {
    /// Applied.
    pub applied: u64,
    /// Rejected (refused by the book, with a reason).
    pub rejected: u64,
    /// Panicked while applying.
    pub panicked: u64,
}

/// The recovered book, in short.
#[derive(Debug, Serialize)]
pub struct BookSummary {
    /// Levels on the grid.
    pub grid_levels: u64,
    /// The net position (signed, as a decimal string).
    pub net_position: String,
    /// Live orders (one per slot at most).
    pub live_orders: usize,
    /// Orders the book remembers, live and finished.
    pub orders: usize,
    /// Filled orders among them.
    pub filled_orders: u64,
}

/// Runs `snapstate recover` and prints its report (or, with `--json`, a refusal object).
///
/// # Errors
///
/// A [`RecoverError`]; see the module documentation for the exit status of each.
pub fn run(args: &RecoverArgs) -> Result<(), RecoverError> {
    let result = recover(&args.directory);
    let mut stdout = io::stdout().lock();
    match &result {
        Ok(report) if args.json => {
            serde_json::to_writer_pretty(&mut stdout, report).map_err(io::Error::from)?;
            writeln!(stdout)?;
        }
        Ok(report) => write_text(&mut stdout, report)?,
        Err(error) if args.json => {
            let refusal = serde_json::json!({
                "directory": args.directory.display().to_string(),
                "error": with_causes(error),
                "refused": error.is_refused(),
                "file": error.file().map(|file| file.display().to_string()),
                "offset": error.offset(),
            });
            serde_json::to_writer_pretty(&mut stdout, &refusal).map_err(io::Error::from)?;
            writeln!(stdout)?;
        }
        Err(_) => {}
    }
    result.map(|_| ())
}

/// An error's message followed by each of its causes, `: `-separated: the whole reason on one
/// line, for `--json` (the terminal gets one `caused by:` line per cause instead).
fn with_causes(error: &RecoverError) -> String {
    crate::output::chain(error)
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(": ")
}

/// Recovers `directory` read-only into a report.
///
/// # Errors
///
/// As for [`run`], except [`RecoverError::Output`].
pub fn recover(directory: &Path) -> Result<RecoverReport, RecoverError> {
    let storage = FileStorage::existing(directory).map_err(|source| RecoverError::Open {
        directory: directory.to_owned(),
        source,
    })?;
    let refused = |source| RecoverError::Recovery {
        directory: directory.to_owned(),
        source,
    };
    let config = match stored_config::<Book>(&storage).map_err(refused)? {
        Some(config) => config,
        None => return Ok(empty_report(directory)),
    };
    let initial = Book::new(config);
    let (snapshot, report) = recover_read_only(&storage, initial).map_err(refused)?;
    let book = snapshot.state();
    Ok(RecoverReport {
        directory: directory.display().to_string(),
        checkpoint_seq: report.checkpoint_seq.map(|seq| seq.0),
        checkpoints_skipped: report.checkpoints_skipped,
        segments_read: report.segments_read,
        records_replayed: report.records_replayed,
        torn_bytes: report.torn_bytes_truncated,
        torn_file: report.torn_file,
        last_seq: report.last_seq.0,
        durable_seq: report.last_seq.0,
        state_digest: book.state_digest().to_string(),
        recovery_ms: report.duration.as_secs_f64() * 1e3,
        commands: CommandCounts {
            applied: snapshot.counters().applied(),
            rejected: snapshot.counters().rejected(),
            panicked: snapshot.counters().panicked(),
        },
        book: summary(book),
    })
}

fn summary(book: &Book) -> BookSummary {
    BookSummary {
        grid_levels: book.config().grid.len(),
        net_position: book.net_position().to_string(),
        live_orders: book.live_count(),
        orders: book.order_count(),
        filled_orders: book.count(OrderStatus::Filled),
    }
}

/// A directory without journal files: a journal that has recorded nothing yet. There is no
/// configuration to build a book from, so the digest is that of no book.
fn empty_report(directory: &Path) -> RecoverReport {
    RecoverReport {
        directory: directory.display().to_string(),
        checkpoint_seq: None,
        checkpoints_skipped: 0,
        segments_read: 0,
        records_replayed: 0,
        torn_bytes: 0,
        torn_file: None,
        last_seq: 0,
        durable_seq: 0,
        state_digest: String::new(),
        recovery_ms: 0.0,
        commands: CommandCounts {
            applied: 0,
            rejected: 0,
            panicked: 0,
        },
        book: BookSummary {
            grid_levels: 0,
            net_position: "0".to_owned(),
            live_orders: 0,
            orders: 0,
            filled_orders: 0,
        },
    }
}

fn write_text(out: &mut impl Write, report: &RecoverReport) -> io::Result<()> {
    writeln!(
        out,
        "recovered {} read-only (nothing in it changed)",
        report.directory
    )?;
    let skipped = match report.checkpoints_skipped {
        1 => "1 damaged checkpoint skipped".to_owned(),
        count => format!("{count} damaged checkpoints skipped"),
    };
    match report.checkpoint_seq {
        Some(seq) => writeln!(out, "  checkpoint        {seq} ({skipped})")?,
        None if report.checkpoints_skipped > 0 => writeln!(
            out,
            "  checkpoint        none usable ({skipped}; replayed from an empty book)"
        )?,
        None => writeln!(
            out,
            "  checkpoint        none (replayed from an empty book)"
        )?,
    }
    writeln!(out, "  segments read     {}", report.segments_read)?;
    writeln!(out, "  records replayed  {}", report.records_replayed)?;
    match &report.torn_file {
        Some(file) => writeln!(
            out,
            "  torn tail         {} bytes in {file} (a crash mid-write; the next engine truncates it)",
            report.torn_bytes
        )?,
        None => writeln!(out, "  torn tail         none")?,
    }
    writeln!(out, "  last_seq          {}", report.last_seq)?;
    writeln!(out, "  durable_seq       {}", report.durable_seq)?;
    let digest = if report.state_digest.is_empty() {
        "(empty journal: no book)"
    } else {
        &report.state_digest
    };
    writeln!(out, "  state_digest      {digest}")?;
    writeln!(out, "  recovery time     {:.1} ms", report.recovery_ms)?;
    writeln!(
        out,
        "  commands          {} applied, {} rejected, {} panicked",
        report.commands.applied, report.commands.rejected, report.commands.panicked
    )?;
    writeln!(
        out,
        "book: {} levels, net position {}, {} live orders, {} orders ({} filled)",
        report.book.grid_levels,
        report.book.net_position,
        report.book.live_orders,
        report.book.orders,
        report.book.filled_orders
    )
}
