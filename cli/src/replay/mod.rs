//! `snapstate replay`: recorded order streams through the engine, with reconciliation at each
//! venue snapshot.
//!
//! The input is JSON Lines, in the native format or as a Binance capture (`docs/formats.md`
//! specifies both). Each line is read with a hard length limit, parsed, and, if it carries
//! commands, applied through the engine whole or not at all (see [`session`]). At each venue
//! snapshot the reconciler compares the engine's book with it and records every finding; by
//! default it is a dry run, and the corrections it would send are reported, not sent.
//!
//! # Bad input
//!
//! A line that is too long, not UTF-8, not JSON, not a record of the format, or that names
//! something impossible (a command the book rejects, a venue order filled beyond its
//! quantity) is invalid. By default the replay stops at the first one, printing its line
//! number and the reason, and exits with [`EXIT_INVALID_INPUT`]. With `--skip-invalid` it
//! reports each on stderr, counts it, and goes on. No input makes it panic.
//!
//! # Memory
//!
//! Nothing the replay keeps grows with the stream's length: skipped lines and findings are
//! counted, and the report lists only the first of each
//! ([`DEFAULT_MAX_REPORTED_INVALID_LINES`], [`DEFAULT_MAX_REPORTED_FINDINGS`], set with
//! `--max-reported-invalid-lines` and `--max-reported-findings`). Every skipped line is
//! still reported on stderr as it is met, and `--findings-out` streams every finding to a
//! file ([`replay_streaming`]).

pub mod binance_capture;
pub mod lines;
pub mod native;
pub mod report;
pub mod session;
pub mod source;

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use rust_decimal::Decimal;
use snapstate::reconcile::{ReconcileConfig, ReconcileConfigError};

use crate::units::parse_duration;
use lines::{BoundedLines, DEFAULT_MAX_LINE_BYTES, Line};
use report::{FindingRecord, ReplayReport, Sample, SkippedLine};
use session::{Session, SessionError};
use source::{Entry, InvalidLine, LineError, Source};

/// The exit status of a replay that stopped at an invalid line.
pub const EXIT_INVALID_INPUT: u8 = 3;
/// The largest `--max-line-bytes` accepted: 1 GiB, so that one line can never take more
/// memory than that.
pub const MAX_LINE_BYTES_LIMIT: u64 = 1 << 30;
/// The default of `--max-reported-invalid-lines`: skipped lines listed in the report (every
/// one is reported on stderr as it is met, and counted).
pub const DEFAULT_MAX_REPORTED_INVALID_LINES: usize = 100;
/// The default of `--max-reported-findings`: findings listed in the report (every one is
/// counted, by class).
pub const DEFAULT_MAX_REPORTED_FINDINGS: usize = 1_000;
/// The largest value of either report limit, so that a report's lists stay a few hundred
/// megabytes at most whatever the stream.
pub const MAX_REPORTED_LIMIT: u64 = 1_000_000;

/// The default number of levels of a Binance replay's grid, centred on the first price:
/// a million ticks either side, and slots exist only where orders were placed.
pub const DEFAULT_BINANCE_GRID_LEVELS: u32 = 2_000_000;

/// The recorded stream's format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// snapstate's own JSON Lines records (docs/formats.md).
    Native,
    /// A Binance spot user-data-stream capture, with recorded openOrders answers.
    Binance,
}

/// How a Binance capture maps onto the book.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BinanceOptions {
    /// The symbol to replay; default: the first order's.
    pub symbol: Option<String>,
    /// The symbol's price tick: the grid's step.
    pub tick_size: Decimal,
    /// Levels of the grid centred on the first price.
    pub grid_levels: u32,
}

/// Options of `snapstate replay`.
#[derive(Debug, Clone, clap::Args)]
pub struct ReplayArgs {
    /// The recorded stream (JSON Lines); `-` reads standard input.
    pub file: PathBuf,
    /// The stream's format.
    #[arg(long, value_enum, default_value_t = Format::Native)]
    pub format: Format,
    /// Print the report as one JSON object.
    #[arg(long)]
    pub json: bool,
    /// Report invalid lines on stderr, count them, and go on, instead of stopping at the
    /// first.
    #[arg(long)]
    pub skip_invalid: bool,
    /// The longest line read; longer ones are invalid.
    #[arg(long, default_value_t = DEFAULT_MAX_LINE_BYTES,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=MAX_LINE_BYTES_LIMIT))]
    pub max_line_bytes: usize,
    /// Send the reconciler's corrections through the engine, instead of only reporting them.
    #[arg(long)]
    pub apply_corrections: bool,
    /// Skipped lines listed in the report (all are counted, and reported on stderr).
    #[arg(long, default_value_t = DEFAULT_MAX_REPORTED_INVALID_LINES,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(0..=MAX_REPORTED_LIMIT))]
    pub max_reported_invalid_lines: usize,
    /// Write every finding to this file as it is found, one JSON object per line (the report
    /// lists only the first).
    #[arg(long, value_name = "PATH")]
    pub findings_out: Option<PathBuf>,
    /// Findings listed in the report (all are counted, by class).
    #[arg(long, default_value_t = DEFAULT_MAX_REPORTED_FINDINGS,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(0..=MAX_REPORTED_LIMIT))]
    pub max_reported_findings: usize,
    /// How long both sides must be quiet before a difference counts.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub grace: Duration,
    /// Consecutive snapshots that must show a difference before it counts.
    #[arg(long, default_value_t = ReconcileConfig::DEFAULT_OBSERVATIONS_BEFORE_CONFIRMED)]
    pub observations: u32,
    /// Consecutive snapshots that must leave out a live order before it counts as missing.
    #[arg(long, default_value_t = ReconcileConfig::DEFAULT_ABSENCES_BEFORE_MISSING)]
    pub absences: u32,
    /// Binance: the symbol to replay (default: the first order's).
    #[arg(long)]
    pub symbol: Option<String>,
    /// Binance: the symbol's price tick, the step of the replay's grid.
    #[arg(long, default_value = "0.01", value_parser = snapstate::decimal::parse_decimal)]
    pub tick_size: Decimal,
    /// Binance: levels of the grid, centred on the first price.
    #[arg(long, default_value_t = DEFAULT_BINANCE_GRID_LEVELS,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub grid_levels: u32,
}

/// Everything a replay needs besides its input.
#[derive(Clone, Debug)]
pub struct ReplayOptions {
    /// Shown in the report.
    pub source_name: String,
    /// The stream's format.
    pub format: Format,
    /// Skip invalid lines instead of stopping.
    pub skip_invalid: bool,
    /// The longest line read.
    pub max_line_bytes: usize,
    /// Send corrections instead of only planning them.
    pub apply_corrections: bool,
    /// Skipped lines listed in the report.
    pub max_reported_invalid_lines: usize,
    /// Findings listed in the report.
    pub max_reported_findings: usize,
    /// The reconciler's thresholds.
    pub reconcile: ReconcileConfig,
    /// How a Binance capture maps onto the book.
    pub binance: BinanceOptions,
}

/// Why the options cannot make a replay.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OptionsError {
    /// The reconciler's thresholds are out of range.
    #[error("invalid reconciliation settings")]
    Reconcile(#[source] ReconcileConfigError),
    /// The tick size must be positive.
    #[error("--tick-size must be positive, got {0}")]
    NonPositiveTickSize(Decimal),
}

impl ReplayOptions {
    /// Checks what can be checked before reading a line.
    ///
    /// # Errors
    ///
    /// An [`OptionsError`] for out-of-range thresholds or a non-positive tick size.
    pub fn validate(&self) -> Result<(), OptionsError> {
        self.reconcile.validate().map_err(OptionsError::Reconcile)?;
        if self.binance.tick_size <= Decimal::ZERO {
            return Err(OptionsError::NonPositiveTickSize(self.binance.tick_size));
        }
        Ok(())
    }

    /// The options for `args`.
    pub fn from_args(args: &ReplayArgs) -> Self {
        Self {
            source_name: args.file.display().to_string(),
            format: args.format,
            skip_invalid: args.skip_invalid,
            max_line_bytes: args.max_line_bytes,
            apply_corrections: args.apply_corrections,
            max_reported_invalid_lines: args.max_reported_invalid_lines,
            max_reported_findings: args.max_reported_findings,
            reconcile: ReconcileConfig {
                in_flight_grace: args.grace,
                observations_before_confirmed: args.observations,
                absences_before_missing: args.absences,
                ..ReconcileConfig::default()
            },
            binance: BinanceOptions {
                symbol: args.symbol.clone(),
                tick_size: args.tick_size,
                grid_levels: args.grid_levels,
            },
        }
    }
}

/// Why a replay failed.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// The options cannot make a replay.
    #[error(transparent)]
    Options(#[from] OptionsError),
    /// The file could not be opened.
    #[error("cannot open {path}")]
    Open {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The input could not be read.
    #[error("cannot read the input")]
    Read(#[source] io::Error),
    /// An invalid line, without `--skip-invalid`.
    #[error(transparent)]
    InvalidLine(InvalidLine),
    /// The engine or the reconciler failed.
    #[error(transparent)]
    Session(#[from] SessionError),
    /// The report could not be written.
    #[error("cannot write the report")]
    Output(#[source] io::Error),
    /// `--findings-out` names the input: creating it would truncate the recording before it
    /// is read.
    #[error(
        "--findings-out {path} is the input: writing the findings there would destroy the recording"
    )]
    FindingsOutIsInput {
        /// The path given.
        path: String,
    },
    /// The findings file could not be created or written.
    #[error("cannot write the findings to {path}")]
    FindingsOutput {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: io::Error,
    },
}

/// Runs `snapstate replay`: prints the report to stdout, skipped lines to stderr.
///
/// # Errors
///
/// A [`ReplayError`]; [`ReplayError::InvalidLine`] at the first invalid line unless skipping.
pub fn run(args: &ReplayArgs) -> Result<(), ReplayError> {
    let options = ReplayOptions::from_args(args);
    options.validate()?;
    // The input is opened before the findings file is created, and the findings file must not
    // be the input: creating it truncates it, and the replay would read an empty stream.
    let input = Input::open(&args.file)?;
    let mut findings_out = match &args.findings_out {
        Some(path) => Some(FindingsOut::create(path, &input, &args.file)?),
        None => None,
    };
    let findings = findings_out
        .as_mut()
        .map(|findings| &mut findings.out as &mut dyn Write);
    let report = match input {
        Input::Stdin => replay_streaming(io::stdin().lock(), &options, &mut io::stderr(), findings),
        Input::File(file) => {
            replay_streaming(BufReader::new(file), &options, &mut io::stderr(), findings)
        }
    };
    let report = match report {
        Err(ReplayError::FindingsOutput { source, .. }) => {
            let path = findings_out
                .map(|findings| findings.path)
                .unwrap_or_default();
            return Err(ReplayError::FindingsOutput { path, source });
        }
        other => other?,
    };
    if let Some(mut findings) = findings_out {
        findings
            .out
            .flush()
            .map_err(|source| ReplayError::FindingsOutput {
                path: findings.path,
                source,
            })?;
    }
    let mut out = io::stdout().lock();
    if args.json {
        report.write_json(&mut out)
    } else {
        report.write_table(&mut out)
    }
    .and_then(|()| out.flush())
    .map_err(ReplayError::Output)
}

/// The recorded stream, opened.
enum Input {
    /// `-`: standard input.
    Stdin,
    /// A file.
    File(File),
}

impl Input {
    fn open(path: &Path) -> Result<Self, ReplayError> {
        if path.as_os_str() == "-" {
            return Ok(Self::Stdin);
        }
        File::open(path)
            .map(Self::File)
            .map_err(|source| ReplayError::Open {
                path: path.display().to_string(),
                source,
            })
    }

    /// Whether `path` names the file this input (opened from `opened`) reads, by whatever name
    /// or link, so that creating `path` would truncate the input. A path that does not exist
    /// yet, or whose identity cannot be read, is not the input.
    #[cfg(unix)]
    fn is_at(&self, _opened: &Path, path: &Path) -> bool {
        use std::os::fd::AsFd;
        use std::os::unix::fs::MetadataExt;
        let Ok(existing) = std::fs::metadata(path) else {
            return false;
        };
        let input = match self {
            Self::File(file) => file.metadata(),
            Self::Stdin => io::stdin()
                .as_fd()
                .try_clone_to_owned()
                .and_then(|fd| File::from(fd).metadata()),
        };
        input.is_ok_and(|input| input.dev() == existing.dev() && input.ino() == existing.ino())
    }

    /// As on Unix, by canonical path (which sees through symbolic links, not hard links).
    #[cfg(not(unix))]
    fn is_at(&self, opened: &Path, path: &Path) -> bool {
        match (self, std::fs::canonicalize(path)) {
            (Self::File(_), Ok(existing)) => {
                std::fs::canonicalize(opened).is_ok_and(|input| input == existing)
            }
            _ => false,
        }
    }
}

/// Writes one finding as a line of JSON.
fn write_finding(out: &mut dyn Write, finding: &FindingRecord) -> io::Result<()> {
    serde_json::to_writer(&mut *out, finding)?;
    writeln!(out)
}

/// The findings file of `--findings-out`.
struct FindingsOut {
    path: String,
    out: io::BufWriter<File>,
}

impl FindingsOut {
    /// Creates (or truncates) the findings file at `path`, unless it is the `input` (opened
    /// from `input_path`).
    fn create(path: &Path, input: &Input, input_path: &Path) -> Result<Self, ReplayError> {
        let name = path.display().to_string();
        if input.is_at(input_path, path) {
            return Err(ReplayError::FindingsOutIsInput { path: name });
        }
        let file = File::create(path).map_err(|source| ReplayError::FindingsOutput {
            path: name.clone(),
            source,
        })?;
        Ok(Self {
            path: name,
            out: io::BufWriter::new(file),
        })
    }
}

/// Replays `input`; each skipped invalid line is also reported on `warnings` as it is met.
///
/// # Errors
///
/// A [`ReplayError`]: invalid options, the input could not be read, an invalid line when not
/// skipping, or the engine failed.
pub fn replay(
    input: impl BufRead,
    options: &ReplayOptions,
    warnings: &mut dyn Write,
) -> Result<ReplayReport, ReplayError> {
    replay_streaming(input, options, warnings, None)
}

/// [`replay`], also writing every finding to `findings` as it is found, one JSON object per
/// line (the report keeps only the first).
///
/// # Errors
///
/// As [`replay`], and [`ReplayError::FindingsOutput`] (with no path) when `findings` cannot be
/// written.
pub fn replay_streaming(
    input: impl BufRead,
    options: &ReplayOptions,
    warnings: &mut dyn Write,
    findings: Option<&mut dyn Write>,
) -> Result<ReplayReport, ReplayError> {
    options.validate()?;
    let mut lines = BoundedLines::new(input, options.max_line_bytes);
    let mut replay = Replay {
        options,
        source: Source::new(options.format, &options.binance),
        session: None,
        ignored: BTreeMap::new(),
        skipped: Sample::new(options.max_reported_invalid_lines),
        findings: Sample::new(options.max_reported_findings),
        findings_by_class: BTreeMap::new(),
        findings_out: findings,
        lines: 0,
    };
    while let Some((number, line)) = lines.next_line().map_err(ReplayError::Read)? {
        replay.lines = number;
        if let Err(error) = replay.line(line)? {
            let invalid = InvalidLine {
                line: number,
                error,
            };
            if !options.skip_invalid {
                return Err(ReplayError::InvalidLine(invalid));
            }
            // A warning that cannot be written must not stop the replay; it is in the report.
            let _ = writeln!(warnings, "skipped {invalid}");
            replay.skipped.push(SkippedLine::from(&invalid));
        }
    }
    replay.finish()
}

/// A replay in progress.
struct Replay<'a, 'w> {
    options: &'a ReplayOptions,
    source: Source,
    session: Option<Session>,
    ignored: BTreeMap<&'static str, u64>,
    skipped: Sample<SkippedLine>,
    findings: Sample<FindingRecord>,
    findings_by_class: BTreeMap<&'static str, u64>,
    /// Where every finding is written as it is found, if anywhere.
    findings_out: Option<&'w mut dyn Write>,
    lines: usize,
}

impl Replay<'_, '_> {
    /// Reads one line: `Ok(Err(_))` if it is invalid, `Err(_)` if the engine failed.
    fn line(&mut self, line: Line) -> Result<Result<(), LineError>, ReplayError> {
        let text = match line {
            Line::Text(text) => text,
            Line::Oversized { length } => {
                return Ok(Err(LineError::Oversized {
                    length,
                    limit: self.options.max_line_bytes,
                }));
            }
            Line::NotUtf8 => return Ok(Err(LineError::NotUtf8)),
        };
        let entry = match self.source.entry(&text) {
            Ok(entry) => entry,
            Err(error) => return Ok(Err(error)),
        };
        match entry {
            Entry::Configured => Ok(Ok(())),
            Entry::Ignored(why) => {
                *self.ignored.entry(why).or_default() += 1;
                Ok(Ok(()))
            }
            Entry::Commands(commands) => {
                let applied = match self.session()? {
                    Ok((session, source)) => session.apply_line(commands, source)?,
                    Err(error) => Err(error),
                };
                if applied.is_ok() {
                    self.source.commit();
                }
                Ok(applied)
            }
            Entry::VenueSnapshot(report) => {
                let line = self.lines;
                match self.session()? {
                    Ok((session, source)) => {
                        for finding in session.reconcile(line, report, source)? {
                            if let Some(out) = self.findings_out.as_mut() {
                                write_finding(&mut **out, &finding).map_err(|source| {
                                    ReplayError::FindingsOutput {
                                        path: String::new(),
                                        source,
                                    }
                                })?;
                            }
                            *self.findings_by_class.entry(finding.class).or_default() += 1;
                            self.findings.push(finding);
                        }
                        Ok(Ok(()))
                    }
                    Err(error) => Ok(Err(error)),
                }
            }
        }
    }

    /// The session, started on the first entry that needs one (by then the source knows the
    /// grid; `Ok(Err(NoGrid))` otherwise, which no source gives), and the source beside it.
    fn session(&mut self) -> Result<Result<(&mut Session, &Source), LineError>, ReplayError> {
        if self.session.is_none() {
            let Some(grid) = self.source.grid() else {
                return Ok(Err(LineError::NoGrid));
            };
            self.session = Some(Session::start(
                grid.clone(),
                self.options.reconcile.clone(),
                self.options.apply_corrections,
            )?);
        }
        Ok(self
            .session
            .as_mut()
            .map(|session| (session, &self.source))
            .ok_or(LineError::NoGrid))
    }

    fn finish(self) -> Result<ReplayReport, ReplayError> {
        let (commands, venue_snapshots) = self
            .session
            .as_ref()
            .map_or((0, 0), |session| (session.commands(), session.snapshots()));
        let (corrections, book) = match self.session {
            Some(session) => {
                let (corrections, book) = session.finish(&self.source)?;
                (Some(corrections), Some(book))
            }
            None => (None, None),
        };
        let (invalid_lines, invalid_lines_total) = self.skipped.into_parts();
        let (findings, findings_total) = self.findings.into_parts();
        Ok(ReplayReport {
            source: self.options.source_name.clone(),
            format: self.options.format.to_string(),
            dry_run: !self.options.apply_corrections,
            lines: self.lines,
            commands,
            venue_snapshots,
            ignored: self.ignored,
            invalid_lines_total,
            invalid_lines,
            findings_total,
            findings_by_class: self.findings_by_class,
            findings,
            corrections: corrections.filter(|_| self.options.apply_corrections),
            book,
        })
    }
}
