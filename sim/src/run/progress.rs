//! The progress display: one line rewritten in place on a terminal, plain periodic lines
//! otherwise (a log file, a pipe, CI).

use std::io::Write;
use std::time::{Duration, Instant};

/// How often the live line is redrawn on a terminal.
pub const LIVE_INTERVAL: Duration = Duration::from_millis(200);
/// How often a plain line is written when the output is not a terminal.
pub const LINES_INTERVAL: Duration = Duration::from_secs(1);

/// How progress is shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProgressMode {
    /// One line, redrawn in place every [`LIVE_INTERVAL`].
    Live,
    /// A new line every [`LINES_INTERVAL`].
    Lines,
    /// Nothing.
    Off,
}

/// What a progress line shows.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    /// Time since the run started.
    pub elapsed: Duration,
    /// `trading` or `converging`.
    pub phase: &'static str,
    /// Commands the engine has taken so far (applied, rejected or panicked).
    pub commands: u64,
    /// The latest published version.
    pub version: u64,
    /// How long ago that version was published.
    pub snapshot_age: Duration,
    /// Confirmed mismatches so far.
    pub mismatches_found: u64,
    /// Corrections the engine applied so far.
    pub corrections_applied: u64,
}

/// Writes progress lines at the pace of its mode.
pub struct Progress {
    out: Box<dyn Write>,
    mode: ProgressMode,
    last_shown: Option<(Instant, u64)>,
    live_line_open: bool,
}

impl Progress {
    /// Progress written to `out` in `mode`.
    pub fn new(out: Box<dyn Write>, mode: ProgressMode) -> Self {
        Self {
            out,
            mode,
            last_shown: None,
            live_line_open: false,
        }
    }

    /// No progress at all.
    pub fn off() -> Self {
        Self::new(Box::new(std::io::sink()), ProgressMode::Off)
    }

    /// Shows a line if one is due at `now`; `sample` is only called then.
    pub fn tick(&mut self, now: Instant, sample: impl FnOnce() -> Sample) {
        let interval = match self.mode {
            ProgressMode::Live => LIVE_INTERVAL,
            ProgressMode::Lines => LINES_INTERVAL,
            ProgressMode::Off => return,
        };
        let Some((last_at, last_commands)) = self.last_shown else {
            self.last_shown = Some((now, sample().commands));
            return;
        };
        let since = now.saturating_duration_since(last_at);
        if since < interval {
            return;
        }
        let sample = sample();
        let per_second = sample.commands.saturating_sub(last_commands) as f64 / since.as_secs_f64();
        let line = format_line(&sample, per_second);
        // Progress is a courtesy: a closed terminal or pipe must not end the simulation.
        let _ = match self.mode {
            ProgressMode::Live => write!(self.out, "\r\x1b[2K{line}"),
            _ => writeln!(self.out, "{line}"),
        };
        let _ = self.out.flush();
        self.live_line_open = self.mode == ProgressMode::Live;
        self.last_shown = Some((now, sample.commands));
    }

    /// Ends the live line, so that what follows starts on a line of its own.
    pub fn finish(&mut self) {
        if self.live_line_open {
            let _ = writeln!(self.out);
            let _ = self.out.flush();
            self.live_line_open = false;
        }
    }
}

/// One progress line.
pub fn format_line(sample: &Sample, updates_per_second: f64) -> String {
    format!(
        "{:>6.1} s  {:<10}  {:>9.0} updates/s  version {:>8}  snapshot age {:>8.3} ms  \
         mismatches found {:>5}  corrected {:>5}",
        sample.elapsed.as_secs_f64(),
        sample.phase,
        updates_per_second,
        sample.version,
        sample.snapshot_age.as_secs_f64() * 1_000.0,
        sample.mismatches_found,
        sample.corrections_applied,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    /// A writer whose bytes the test can read afterwards.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .expect("not poisoned")
                .extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn sample(commands: u64) -> Sample {
        Sample {
            elapsed: Duration::from_secs(2),
            phase: "trading",
            commands,
            version: 77,
            snapshot_age: Duration::from_micros(250),
            mismatches_found: 3,
            corrections_applied: 2,
        }
    }

    fn shown(mode: ProgressMode) -> String {
        let out = Shared::default();
        let mut progress = Progress::new(Box::new(out.clone()), mode);
        let start = Instant::now();
        progress.tick(start, || sample(0));
        progress.tick(start + Duration::from_millis(100), || sample(500));
        progress.tick(start + Duration::from_secs(1), || sample(1_000));
        progress.tick(start + Duration::from_secs(2), || sample(3_000));
        progress.finish();
        let bytes = out.0.lock().expect("not poisoned").clone();
        String::from_utf8(bytes).expect("utf-8")
    }

    #[test]
    fn plain_lines_come_once_a_second_with_the_rate_since_the_last() {
        let text = shown(ProgressMode::Lines);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert!(lines[0].contains(" 1000 updates/s"), "{}", lines[0]);
        assert!(lines[1].contains(" 2000 updates/s"), "{}", lines[1]);
        assert!(
            lines[1].contains("snapshot age    0.250 ms"),
            "{}",
            lines[1]
        );
        assert!(lines[1].contains("mismatches found     3  corrected     2"));
        assert!(!text.contains('\r'));
    }

    #[test]
    fn the_live_line_is_redrawn_in_place_and_ended_once() {
        let text = shown(ProgressMode::Live);
        assert_eq!(text.matches('\r').count(), 2, "{text:?}");
        assert_eq!(text.matches('\n').count(), 1, "{text:?}");
        assert!(text.ends_with('\n'));
        assert!(shown(ProgressMode::Off).is_empty());
    }
}
