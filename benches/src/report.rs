//! Figures per contender, the machine they were measured on, the JSON object and the table.

use std::fmt::Write as _;

use hdrhistogram::Histogram;
use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};

use super::run::Measured;

/// Every figure of one contender, named as in the issue and the JSON output. `None` (JSON
/// `null`) means not measured or not meaningful for the design; `docs/benchmarks.md` says which
/// and why.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Figures {
    /// Sustained writer throughput during the workload, updates per second.
    pub updates_per_sec: f64,
    /// The longest time an update waited because of a reader, microseconds.
    pub writer_stall_us_max: Option<f64>,
    /// The 99.9th percentile of the same, over all updates, microseconds.
    pub writer_stall_us_p999: Option<f64>,
    /// The 99th percentile of the gap between two consecutive publications during the
    /// workload, microseconds (designs with a publishing writer only: snapstate's two).
    pub publication_gap_us_p99: Option<f64>,
    /// The longest such gap, microseconds.
    pub publication_gap_us_max: Option<f64>,
    /// Median cost of obtaining a consistent snapshot, nanoseconds.
    pub snapshot_ns_p50: f64,
    /// 99th percentile of the same, nanoseconds.
    pub snapshot_ns_p99: f64,
    /// Median time from submit to visible in a snapshot, microseconds.
    pub visible_us_p50: Option<f64>,
    /// 99th percentile of the same, microseconds.
    pub visible_us_p99: Option<f64>,
    /// 99.9th percentile of the same, microseconds.
    pub visible_us_p999: Option<f64>,
    /// Median time of one reconciliation of N slots against N venue orders, milliseconds.
    pub reconcile_ms: f64,
    /// Bytes allocated by the state holding N live slots.
    pub memory_bytes: Option<u64>,
    /// Extra bytes kept alive by one snapshot held during N further updates.
    pub memory_held_bytes: Option<u64>,
    /// Bytes the design holds after the workload, settled, with no snapshot held.
    pub memory_settled_bytes: Option<u64>,
}

/// The names of the figures, in output order.
pub const FIGURE_NAMES: [&str; 14] = [
    "updates_per_sec",
    "writer_stall_us_max",
    "writer_stall_us_p999",
    "publication_gap_us_p99",
    "publication_gap_us_max",
    "snapshot_ns_p50",
    "snapshot_ns_p99",
    "visible_us_p50",
    "visible_us_p99",
    "visible_us_p999",
    "reconcile_ms",
    "memory_bytes",
    "memory_held_bytes",
    "memory_settled_bytes",
];

impl Figures {
    /// Reduces one contender's measurements to its figures.
    pub fn from_measured(measured: &Measured) -> Self {
        let micros = |histogram: &Histogram<u64>, quantile: f64| {
            (!histogram.is_empty()).then(|| histogram.value_at_quantile(quantile) as f64 / 1e3)
        };
        let stalls = measured.stalls.as_ref();
        Self {
            updates_per_sec: measured.updates_per_sec,
            writer_stall_us_max: stalls
                .filter(|stalls| !stalls.is_empty())
                .map(|stalls| stalls.max() as f64 / 1e3),
            writer_stall_us_p999: stalls.and_then(|stalls| micros(stalls, 0.999)),
            publication_gap_us_p99: measured
                .publication_gaps
                .as_ref()
                .and_then(|gaps| micros(gaps, 0.99)),
            publication_gap_us_max: measured
                .publication_gaps
                .as_ref()
                .filter(|gaps| !gaps.is_empty())
                .map(|gaps| gaps.max() as f64 / 1e3),
            snapshot_ns_p50: measured.snapshots.value_at_quantile(0.5) as f64,
            snapshot_ns_p99: measured.snapshots.value_at_quantile(0.99) as f64,
            visible_us_p50: micros(&measured.visible, 0.5),
            visible_us_p99: micros(&measured.visible, 0.99),
            visible_us_p999: micros(&measured.visible, 0.999),
            reconcile_ms: measured.reconciles.value_at_quantile(0.5) as f64 / 1e6,
            memory_bytes: measured.memory_bytes,
            memory_held_bytes: measured.memory_held_bytes,
            memory_settled_bytes: measured.memory_settled_bytes,
        }
    }

    /// The figure called `name`, as a number.
    pub fn get(&self, name: &str) -> Option<f64> {
        match name {
            "updates_per_sec" => Some(self.updates_per_sec),
            "writer_stall_us_max" => self.writer_stall_us_max,
            "writer_stall_us_p999" => self.writer_stall_us_p999,
            "publication_gap_us_p99" => self.publication_gap_us_p99,
            "publication_gap_us_max" => self.publication_gap_us_max,
            "snapshot_ns_p50" => Some(self.snapshot_ns_p50),
            "snapshot_ns_p99" => Some(self.snapshot_ns_p99),
            "visible_us_p50" => self.visible_us_p50,
            "visible_us_p99" => self.visible_us_p99,
            "visible_us_p999" => self.visible_us_p999,
            "reconcile_ms" => Some(self.reconcile_ms),
            "memory_bytes" => self.memory_bytes.map(|bytes| bytes as f64),
            "memory_held_bytes" => self.memory_held_bytes.map(|bytes| bytes as f64),
            "memory_settled_bytes" => self.memory_settled_bytes.map(|bytes| bytes as f64),
            _ => None,
        }
    }
}

/// Where the figures were measured.
#[derive(Clone, Debug, Serialize)]
pub struct Machine {
    /// The processor's model name.
    pub cpu: String,
    /// Logical processors available to the process.
    pub cores: usize,
    /// Physical memory, bytes (0 if unknown).
    pub memory_bytes: u64,
    /// The operating system and architecture.
    pub os: String,
    /// The compiler that built this binary.
    pub rustc: String,
    /// Whether the binary was built with optimisations (figures from a debug build mean
    /// little).
    pub optimized: bool,
    /// The 1-, 5- and 15-minute load averages when the run started (how busy the machine was).
    pub load_average: String,
}

impl Machine {
    /// Describes the machine this process runs on.
    pub fn describe() -> Self {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu = cpuinfo
            .lines()
            .find_map(|line| line.strip_prefix("model name"))
            .and_then(|rest| rest.split_once(':'))
            .map_or_else(|| "unknown".to_owned(), |(_, name)| name.trim().to_owned());
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let memory_bytes = meminfo
            .lines()
            .find_map(|line| line.strip_prefix("MemTotal:"))
            .and_then(|rest| {
                rest.trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse::<u64>()
                    .ok()
            })
            .map_or(0, |kilobytes| kilobytes * 1024);
        let load_average = std::fs::read_to_string("/proc/loadavg")
            .map(|line| {
                line.split_whitespace()
                    .take(3)
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .unwrap_or_else(|_| "unknown".to_owned());
        Self {
            cpu,
            cores: std::thread::available_parallelism().map_or(1, usize::from),
            memory_bytes,
            os: format!("{} {}", std::env::consts::OS, std::env::consts::ARCH),
            rustc: env!("SNAPSTATE_RUSTC_VERSION").to_owned(),
            optimized: !cfg!(debug_assertions),
            load_average,
        }
    }
}

/// How the run was made: what `--seconds`, `--rate`, `--wait-strategy` and `--inline-batch`
/// asked for.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RunShape {
    /// The workload phase per contender, seconds.
    pub workload_seconds: f64,
    /// Updates per second the producer was paced to; `None` (JSON `null`): as fast as it can.
    pub rate: Option<u64>,
    /// The threaded engine's wait strategy, as `--wait-strategy` spells it.
    pub wait_strategy: String,
    /// The most updates the inline writer's producer applied in one call.
    pub inline_batch: usize,
    /// The largest batch after which snapstate's writers reused the version it replaced.
    pub reuse_limit: usize,
    /// The most commands the threaded engine applied per published version.
    pub max_batch: usize,
    /// How long the threaded engine aimed to spend on one batch under a backlog, ms; `None`
    /// (JSON `null`): no aim.
    pub batch_time_ms: Option<f64>,
    /// The journal snapstate's two writers wrote; `None` (JSON `null`): none.
    pub journal: Option<JournalShape>,
}

/// The journal of a run (`--journal`, `--checkpoint-every`), as the JSON output shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct JournalShape {
    /// The sync policy in [`SyncPolicy`](snapstate::journal::SyncPolicy)'s spelling, as
    /// `--journal` takes it (`every_batch`, `os`, `interval:10ms`).
    pub sync: String,
    /// A checkpoint every this many commands; `None` (JSON `null`): no checkpoints.
    pub checkpoint_every_commands: Option<u64>,
}

impl JournalShape {
    /// The settings' shape.
    pub fn of(settings: &super::journal::JournalSettings) -> Self {
        Self {
            sync: settings.sync.to_string(),
            checkpoint_every_commands: settings.checkpoint_every_commands,
        }
    }

    /// In a table cell: the policy, and the checkpoint period if any.
    fn cell(&self) -> String {
        match self.checkpoint_every_commands {
            Some(every) => format!("{}, checkpoint/{every}", self.sync),
            None => self.sync.clone(),
        }
    }
}

/// One run's report: the machine, the slot count, the run's shape and every contender's
/// figures, in order.
#[derive(Clone, Debug)]
pub struct Report {
    /// Where it ran.
    pub machine: Machine,
    /// N.
    pub slots: u32,
    /// How it ran.
    pub run: RunShape,
    /// Contender name and figures, snapstate first.
    pub contenders: Vec<(&'static str, Figures)>,
}

impl Serialize for Report {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        struct Contenders<'a>(&'a [(&'static str, Figures)]);
        impl Serialize for Contenders<'_> {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                let mut map = serializer.serialize_map(Some(self.0.len()))?;
                for (name, figures) in self.0 {
                    map.serialize_entry(name, figures)?;
                }
                map.end()
            }
        }
        let mut map = serializer.serialize_map(Some(4))?;
        map.serialize_entry("machine", &self.machine)?;
        map.serialize_entry("slots", &self.slots)?;
        map.serialize_entry("run", &self.run)?;
        map.serialize_entry("contenders", &Contenders(&self.contenders))?;
        map.end()
    }
}

impl Report {
    /// The table: the journal each contender wrote (`off` for snapstate's writers without
    /// one, `n/a` for the designs that have none), then one row per figure, one column per
    /// contender, each value with its ratio to snapstate's (`×` the contender's value divided
    /// by snapstate's).
    pub fn table(&self) -> String {
        let baseline = self
            .contenders
            .iter()
            .find(|(name, _)| *name == "snapstate")
            .map(|(_, figures)| figures);
        let mut header = vec!["figure".to_owned()];
        header.extend(self.contenders.iter().map(|(name, _)| (*name).to_owned()));
        let mut rows = vec![header];
        let mut journal = vec!["journal".to_owned()];
        journal.extend(self.contenders.iter().map(|(name, _)| {
            if !super::contenders::JOURNALED.contains(name) {
                "n/a".to_owned()
            } else {
                self.run
                    .journal
                    .as_ref()
                    .map_or_else(|| "off".to_owned(), JournalShape::cell)
            }
        }));
        rows.push(journal);
        for name in FIGURE_NAMES {
            let mut row = vec![name.to_owned()];
            for (_, figures) in &self.contenders {
                let value = figures.get(name);
                let base = baseline.and_then(|base| base.get(name));
                row.push(cell(name, value, base));
            }
            rows.push(row);
        }
        let widths: Vec<usize> = (0..rows[0].len())
            .map(|column| {
                rows.iter()
                    .map(|row| row[column].chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let mut out = String::new();
        for (index, row) in rows.iter().enumerate() {
            let line: Vec<String> = row
                .iter()
                .zip(&widths)
                .enumerate()
                .map(|(column, (text, width))| {
                    if column == 0 {
                        format!("{text:<width$}")
                    } else {
                        format!("{text:>width$}")
                    }
                })
                .collect();
            let _ = writeln!(out, "{}", line.join("  ").trim_end());
            if index == 0 {
                let total = widths.iter().sum::<usize>() + 2 * (widths.len() - 1);
                let _ = writeln!(out, "{}", "-".repeat(total));
            }
        }
        out
    }
}

/// Checks that `text` is one JSON object of the shape `snapstate bench --json` prints:
/// `machine` (an object), `slots` (a number), `run` (the rate, a number or `null`; the wait
/// strategy, a string; the inline batch, a number), and `contenders` holding every contender,
/// each with every figure as a number or `null` — and the submit-to-visible figures as numbers
/// for every contender (each one samples updates in every run).
///
/// # Errors
///
/// What is missing or malformed, in words.
pub fn check_json(text: &str) -> Result<(), String> {
    let value: serde_json::Value = serde_json::from_str(text.trim())
        .map_err(|error| format!("not one JSON value: {error}"))?;
    let object = value.as_object().ok_or("not a JSON object")?;
    if !object
        .get("machine")
        .is_some_and(serde_json::Value::is_object)
    {
        return Err("no `machine` object".to_owned());
    }
    if !object.get("slots").is_some_and(serde_json::Value::is_u64) {
        return Err("no `slots` number".to_owned());
    }
    check_run_shape(object.get("run"))?;
    let contenders = object
        .get("contenders")
        .and_then(serde_json::Value::as_object)
        .ok_or("no `contenders` object")?;
    for name in super::contenders::NAMES {
        let figures = contenders
            .get(name)
            .and_then(serde_json::Value::as_object)
            .ok_or_else(|| format!("no figures for contender `{name}`"))?;
        for figure in FIGURE_NAMES {
            match figures.get(figure) {
                Some(value) if value.is_number() || value.is_null() => {}
                Some(other) => return Err(format!("`{name}.{figure}` is {other}, not a number")),
                None => return Err(format!("`{name}` has no `{figure}`")),
            }
        }
        for figure in VISIBLE_FIGURES {
            if !figures
                .get(figure)
                .is_some_and(serde_json::Value::is_number)
            {
                return Err(format!("`{name}.{figure}` is not measured"));
            }
        }
    }
    Ok(())
}

/// The submit-to-visible figures, which every contender measures.
const VISIBLE_FIGURES: [&str; 3] = ["visible_us_p50", "visible_us_p99", "visible_us_p999"];

fn check_run_shape(run: Option<&serde_json::Value>) -> Result<(), String> {
    let run = run
        .and_then(serde_json::Value::as_object)
        .ok_or("no `run` object")?;
    if !run
        .get("rate")
        .is_some_and(|rate| rate.is_u64() || rate.is_null())
    {
        return Err("`run.rate` is neither a number nor null".to_owned());
    }
    let strategy = run
        .get("wait_strategy")
        .and_then(serde_json::Value::as_str)
        .ok_or("no `run.wait_strategy` string")?;
    super::parse_wait_strategy(strategy)
        .map_err(|problem| format!("`run.wait_strategy`: {problem}"))?;
    if !run
        .get("inline_batch")
        .is_some_and(serde_json::Value::is_u64)
    {
        return Err("no `run.inline_batch` number".to_owned());
    }
    if !run
        .get("reuse_limit")
        .is_some_and(serde_json::Value::is_u64)
    {
        return Err("no `run.reuse_limit` number".to_owned());
    }
    if !run.get("max_batch").is_some_and(serde_json::Value::is_u64) {
        return Err("no `run.max_batch` number".to_owned());
    }
    if !run
        .get("batch_time_ms")
        .is_some_and(|time| time.is_null() || time.is_f64())
    {
        return Err("no `run.batch_time_ms` number or null".to_owned());
    }
    match run.get("journal") {
        Some(serde_json::Value::Null) => {}
        Some(serde_json::Value::Object(journal)) => {
            let sync = journal
                .get("sync")
                .and_then(serde_json::Value::as_str)
                .ok_or("no `run.journal.sync` string")?;
            sync.parse::<snapstate::journal::SyncPolicy>()
                .map_err(|problem| format!("`run.journal.sync`: {problem}"))?;
            if !journal
                .get("checkpoint_every_commands")
                .is_some_and(|every| every.is_u64() || every.is_null())
            {
                return Err(
                    "`run.journal.checkpoint_every_commands` is neither a number nor null"
                        .to_owned(),
                );
            }
        }
        _ => return Err("`run.journal` is neither an object nor null".to_owned()),
    }
    if !run
        .get("workload_seconds")
        .is_some_and(serde_json::Value::is_number)
    {
        return Err("no `run.workload_seconds` number".to_owned());
    }
    Ok(())
}

fn cell(name: &str, value: Option<f64>, base: Option<f64>) -> String {
    let Some(value) = value else {
        return "n/a".to_owned();
    };
    let shown = human(name, value);
    match base {
        Some(base) if base > 0.0 && value != base => format!("{shown} (×{})", ratio(value / base)),
        Some(base) if base > 0.0 => shown,
        _ => shown,
    }
}

fn ratio(ratio: f64) -> String {
    if ratio >= 100.0 {
        format!("{ratio:.0}")
    } else if ratio >= 10.0 {
        format!("{ratio:.1}")
    } else {
        format!("{ratio:.2}")
    }
}

/// A value in the figure's unit, to three significant figures or so.
pub fn human(name: &str, value: f64) -> String {
    if name.ends_with("_bytes") {
        if value >= 1e6 {
            format!("{:.2} MB", value / 1e6)
        } else if value >= 1e3 {
            format!("{:.1} kB", value / 1e3)
        } else {
            format!("{value:.0} B")
        }
    } else if name == "updates_per_sec" {
        if value >= 1e6 {
            format!("{:.2} M/s", value / 1e6)
        } else if value >= 1e3 {
            format!("{:.1} k/s", value / 1e3)
        } else {
            format!("{value:.0} /s")
        }
    } else {
        let unit = name
            .split('_')
            .find(|part| matches!(*part, "ns" | "us" | "ms"))
            .unwrap_or("");
        let unit = if unit == "us" { "µs" } else { unit };
        if value >= 100.0 || value == 0.0 {
            format!("{value:.0} {unit}")
        } else if value >= 10.0 {
            format!("{value:.1} {unit}")
        } else {
            format!("{value:.2} {unit}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn figures() -> Figures {
        Figures {
            updates_per_sec: 1.0,
            writer_stall_us_max: Some(2.0),
            writer_stall_us_p999: None,
            publication_gap_us_p99: Some(2.5),
            publication_gap_us_max: None,
            snapshot_ns_p50: 3.0,
            snapshot_ns_p99: 4.0,
            visible_us_p50: Some(5.0),
            visible_us_p99: Some(6.0),
            visible_us_p999: Some(7.0),
            reconcile_ms: 8.0,
            memory_bytes: Some(9),
            memory_held_bytes: None,
            memory_settled_bytes: Some(10),
        }
    }

    fn report(names: &[&'static str]) -> Report {
        Report {
            machine: Machine::describe(),
            slots: 10,
            run: RunShape {
                workload_seconds: 2.0,
                rate: Some(100_000),
                wait_strategy: "spin_then_block:100".to_owned(),
                inline_batch: 1,
                reuse_limit: 1_024,
                max_batch: 65_536,
                batch_time_ms: Some(4.0),
                journal: None,
            },
            contenders: names.iter().map(|name| (*name, figures())).collect(),
        }
    }

    #[test]
    fn a_full_report_passes_the_json_check_and_keeps_contender_order() {
        let text =
            serde_json::to_string(&report(&super::super::contenders::NAMES)).expect("serialises");
        assert_eq!(check_json(&text), Ok(()));
        let snapstate = text.find("\"snapstate\"").expect("present");
        let left_right = text.find("\"left_right\"").expect("present");
        assert!(snapstate < left_right, "contenders keep report order");
    }

    #[test]
    fn the_json_check_names_what_is_missing() {
        let text = serde_json::to_string(&report(&["snapstate"])).expect("serialises");
        assert_eq!(
            check_json(&text),
            Err("no figures for contender `snapstate_inline`".to_owned())
        );
        assert!(check_json("{}").is_err());
        let mut unmeasured = report(&super::super::contenders::NAMES);
        unmeasured.contenders[1].1.visible_us_p99 = None;
        let text = serde_json::to_string(&unmeasured).expect("serialises");
        assert_eq!(
            check_json(&text),
            Err("`snapstate_inline.visible_us_p99` is not measured".to_owned())
        );
        let mut strange = report(&super::super::contenders::NAMES);
        strange.run.wait_strategy = "nap".to_owned();
        let text = serde_json::to_string(&strange).expect("serialises");
        assert!(check_json(&text).is_err_and(|problem| problem.contains("run.wait_strategy")));
        assert!(check_json("not json").is_err());
        let mut journaled = report(&super::super::contenders::NAMES);
        journaled.run.journal = Some(JournalShape {
            sync: "interval:10ms".to_owned(),
            checkpoint_every_commands: Some(100_000),
        });
        let text = serde_json::to_string(&journaled).expect("serialises");
        assert_eq!(check_json(&text), Ok(()));
        journaled.run.journal = Some(JournalShape {
            sync: "sometimes".to_owned(),
            checkpoint_every_commands: None,
        });
        let text = serde_json::to_string(&journaled).expect("serialises");
        assert!(check_json(&text).is_err_and(|problem| problem.contains("run.journal.sync")));
    }

    #[test]
    fn the_table_names_the_journal_of_snapstates_writers_only() {
        let mut report = report(&["snapstate", "snapstate_inline", "rwlock_held"]);
        let first_row = |table: &str| table.lines().nth(2).unwrap_or_default().to_owned();
        let row = first_row(&report.table());
        assert!(row.starts_with("journal"), "{row}");
        assert_eq!(row.matches("off").count(), 2, "{row}");
        assert!(row.ends_with("n/a"), "{row}");
        report.run.journal = Some(JournalShape {
            sync: "every_batch".to_owned(),
            checkpoint_every_commands: Some(1000),
        });
        let row = first_row(&report.table());
        assert_eq!(
            row.matches("every_batch, checkpoint/1000").count(),
            2,
            "{row}"
        );
    }

    #[test]
    fn the_table_shows_ratios_against_snapstate_and_n_a_for_missing_figures() {
        let mut report = report(&["snapstate", "rwlock_held"]);
        report.contenders[1].1.updates_per_sec = 3.0;
        let table = report.table();
        assert!(table.contains("(×3.00)"), "{table}");
        assert!(table.contains("n/a"), "{table}");
    }
}
