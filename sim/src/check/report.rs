//! What one run did, and the sum over many: faults injected and how each was resolved, what the
//! book and the reconciler counted, and how fast the book converged. Every list is sorted, so
//! the same run always prints the same report.

use std::collections::BTreeMap;
use std::fmt;

use crate::venue::{FaultCounts, FaultKind};
use rust_decimal::Decimal;
use snapstate::book::OrderStatus;
use snapstate::reconcile::{MismatchClass, Totals};

use super::{CrashFigures, Resolution, Scenario};

/// Faults injected by kind, each with how it was resolved.
pub type Resolutions = BTreeMap<FaultKind, BTreeMap<Resolution, u64>>;

/// One run's report. Two runs of the same configuration give equal reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunReport {
    /// The seed.
    pub seed: u64,
    /// The scenario.
    pub scenario: Scenario,
    /// Steps taken while trading.
    pub trading_steps: u64,
    /// Orders the market maker placed.
    pub orders_placed: u64,
    /// Venue updates delivered to the engine (duplicates included).
    pub updates_delivered: u64,
    /// Cancels the market maker asked of the venue, and how many the venue refused because the
    /// order had already finished there (the book had not heard yet).
    pub maker_cancels: (u64, u64),
    /// Faults injected by kind, as the venue counted them.
    pub injected: FaultCounts,
    /// How each was resolved, by kind; the counts of each kind add up to `injected`.
    pub resolutions: Resolutions,
    /// Faults on updates by fault kind and the kind of update hit (`fill`, `cancel`, ...).
    pub faulted_updates: BTreeMap<(FaultKind, &'static str), u64>,
    /// The engine's outcome counts by class, for applied and rejected commands.
    pub applied_by_label: Vec<(&'static str, u64)>,
    /// Rejected commands by reason (all zero in a run that passed).
    pub rejected_by_label: Vec<(&'static str, u64)>,
    /// The reconciler's totals.
    pub reconciler: Totals,
    /// Corrections applied, by the class that confirmed them and their kind.
    pub corrections: BTreeMap<(MismatchClass, &'static str), u64>,
    /// Cycles after the halt until the book agreed with the venue.
    pub cycles_to_converge: u64,
    /// The bound on that ([`SimConfig::convergence_bound_cycles`](super::SimConfig)).
    pub convergence_bound: u64,
    /// Orders compared with the venue's truth at the end (all equal in a run that passed).
    pub orders_compared: usize,
    /// The book's orders at the end, by status.
    pub final_statuses: Vec<(OrderStatus, u64)>,
    /// The net position, equal in book and venue.
    pub net_position: Decimal,
    /// Filled quantity that reached the book only through reconciliation.
    pub reconciled_fill: Decimal,
    /// What the crashes did, in a run that crashes.
    pub crash: Option<CrashFigures>,
}

impl fmt::Display for RunReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "seed {} ({}): {} steps of trading, {} orders placed, {} updates delivered, \
             {} cancels asked ({} refused: already finished at the venue)",
            self.seed,
            self.scenario.as_str(),
            self.trading_steps,
            self.orders_placed,
            self.updates_delivered,
            self.maker_cancels.0,
            self.maker_cancels.1
        )?;
        write_faults(f, &self.injected, &self.resolutions)?;
        write_faulted_updates(f, &self.faulted_updates)?;
        write_labels(f, "book applied", &self.applied_by_label)?;
        write_labels(f, "book rejected", &self.rejected_by_label)?;
        write_reconciler(f, &self.reconciler, &self.corrections)?;
        write_counts(
            f,
            "book at the end",
            named(self.final_statuses.iter().copied(), OrderStatus::as_str),
        )?;
        write!(
            f,
            "converged {} cycles after the halt (bound {}): {} orders equal to the venue's, \
             net position {} in both, {} filled through reconciliation",
            self.cycles_to_converge,
            self.convergence_bound,
            self.orders_compared,
            self.net_position,
            self.reconciled_fill
        )?;
        if let Some(crash) = &self.crash {
            write!(f, "\n{crash}")?;
        }
        Ok(())
    }
}

/// The sum of many runs' reports.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// Runs added.
    pub runs: u64,
    /// Trading steps, summed.
    pub trading_steps: u64,
    /// Orders placed, summed.
    pub orders_placed: u64,
    /// Updates delivered, summed.
    pub updates_delivered: u64,
    /// Faults injected by kind, summed.
    pub injected: BTreeMap<FaultKind, u64>,
    /// Resolutions by kind, summed.
    pub resolutions: Resolutions,
    /// Faults on updates by fault kind and the kind of update hit, summed.
    pub faulted_updates: BTreeMap<(FaultKind, &'static str), u64>,
    /// Corrections by class and kind, summed.
    pub corrections: BTreeMap<(MismatchClass, &'static str), u64>,
    /// Confirmed mismatches by class, summed.
    pub mismatches: BTreeMap<MismatchClass, u64>,
    /// The books' orders at the end, by status, summed.
    pub final_statuses: BTreeMap<OrderStatus, u64>,
    /// Reconciliation cycles with an answer, summed.
    pub cycles: u64,
    /// Findings not (yet) confirmed, summed over every cycle of every run.
    pub suspected: u64,
    /// Cycles without one, summed.
    pub venue_errors: u64,
    /// The most cycles any run took to converge: the cycles, the first seed that took them,
    /// and that run's bound.
    pub most_cycles_to_converge: Option<(u64, u64, u64)>,
    /// The run that came closest to its bound: the cycles to spare, the seed, its cycles and
    /// its bound.
    pub least_slack: Option<(u64, u64, u64, u64)>,
    /// What the crashes did, summed over the runs that crash; `None` if none did.
    pub crash: Option<CrashFigures>,
    /// Runs that crashed, by their journal's sync policy.
    pub crash_runs_by_policy: BTreeMap<&'static str, u64>,
}

impl Summary {
    /// Adds one run.
    pub fn add(&mut self, report: &RunReport) {
        self.runs += 1;
        self.trading_steps += report.trading_steps;
        self.orders_placed += report.orders_placed;
        self.updates_delivered += report.updates_delivered;
        for (kind, count) in report.injected.iter() {
            *self.injected.entry(kind).or_default() += count;
        }
        for (kind, resolutions) in &report.resolutions {
            let sum = self.resolutions.entry(*kind).or_default();
            for (resolution, count) in resolutions {
                *sum.entry(*resolution).or_default() += count;
            }
        }
        for (key, count) in &report.corrections {
            *self.corrections.entry(*key).or_default() += count;
        }
        for (key, count) in &report.faulted_updates {
            *self.faulted_updates.entry(*key).or_default() += count;
        }
        for class in MismatchClass::ALL {
            let count = report.reconciler.mismatches(class);
            if count > 0 {
                *self.mismatches.entry(class).or_default() += count;
            }
        }
        for (status, count) in &report.final_statuses {
            *self.final_statuses.entry(*status).or_default() += count;
        }
        self.cycles += report.reconciler.cycles;
        self.suspected += report.reconciler.suspected;
        self.venue_errors += report.reconciler.venue_errors;
        let (cycles, bound) = (report.cycles_to_converge, report.convergence_bound);
        if self
            .most_cycles_to_converge
            .is_none_or(|(most, _, _)| cycles > most)
        {
            self.most_cycles_to_converge = Some((cycles, report.seed, bound));
        }
        if let Some(crash) = &report.crash {
            self.crash
                .get_or_insert_with(CrashFigures::default)
                .add(crash);
            *self
                .crash_runs_by_policy
                .entry(crash.sync_policy)
                .or_default() += 1;
        }
        let slack = bound.saturating_sub(cycles);
        if self.least_slack.is_none_or(|(least, ..)| slack < least) {
            self.least_slack = Some((slack, report.seed, cycles, bound));
        }
    }

    /// All faults injected.
    pub fn faults_injected(&self) -> u64 {
        self.injected.values().sum()
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} runs: {} steps of trading, {} orders placed, {} updates delivered",
            self.runs, self.trading_steps, self.orders_placed, self.updates_delivered
        )?;
        writeln!(f, "faults injected: {}", self.faults_injected())?;
        for (kind, count) in &self.injected {
            write_kind(f, *kind, *count, self.resolutions.get(kind))?;
        }
        write_faulted_updates(f, &self.faulted_updates)?;
        write_map(
            f,
            "books at the end",
            &self.final_statuses,
            OrderStatus::as_str,
        )?;
        write_map(
            f,
            "confirmed mismatches",
            &self.mismatches,
            MismatchClass::as_str,
        )?;
        write_counts(f, "corrections", corrections_listed(&self.corrections))?;
        writeln!(
            f,
            "cycles: {} answered, {} without an answer; {} findings suspected over all cycles",
            self.cycles, self.venue_errors, self.suspected
        )?;
        match (self.most_cycles_to_converge, self.least_slack) {
            (Some((most, seed, bound)), Some((slack, tight_seed, cycles, tight_bound))) => write!(
                f,
                "cycles to converge after the halt: at most {most} (seed {seed}, bound {bound}); \
                 closest to its bound: seed {tight_seed}, {cycles} of {tight_bound} \
                 ({slack} to spare)"
            )?,
            _ => write!(f, "no runs")?,
        }
        if let Some(crash) = &self.crash {
            write!(f, "\nruns by journal sync policy: ")?;
            for (index, (policy, runs)) in self.crash_runs_by_policy.iter().enumerate() {
                let separator = if index == 0 { "" } else { ", " };
                write!(f, "{separator}{policy} {runs}")?;
            }
            write!(f, "\n{crash}")?;
        }
        Ok(())
    }
}

fn write_faults(
    f: &mut fmt::Formatter<'_>,
    injected: &FaultCounts,
    resolutions: &Resolutions,
) -> fmt::Result {
    writeln!(f, "faults injected: {}", injected.total())?;
    for (kind, count) in injected.iter() {
        write_kind(f, kind, count, resolutions.get(&kind))?;
    }
    Ok(())
}

/// One line per update fault kind: how many of each kind of update it hit.
fn write_faulted_updates(
    f: &mut fmt::Formatter<'_>,
    faulted: &BTreeMap<(FaultKind, &'static str), u64>,
) -> fmt::Result {
    let mut kinds: Vec<FaultKind> = faulted.keys().map(|(kind, _)| *kind).collect();
    kinds.dedup();
    for kind in kinds {
        let hit = faulted
            .iter()
            .filter(|((fault, _), _)| *fault == kind)
            .map(|((_, update), count)| (*update, *count));
        write_counts(f, format_args!("  {:<20} by update", kind.as_str()), hit)?;
    }
    Ok(())
}

fn write_kind(
    f: &mut fmt::Formatter<'_>,
    kind: FaultKind,
    count: u64,
    resolutions: Option<&BTreeMap<Resolution, u64>>,
) -> fmt::Result {
    write!(f, "  {:<20} {count:>6}", kind.as_str())?;
    let mut first = true;
    for (resolution, resolved) in resolutions.into_iter().flatten() {
        let separator = if first { "  " } else { ", " };
        first = false;
        write!(f, "{separator}{resolution} {resolved}")?;
    }
    writeln!(f)
}

fn write_labels(
    f: &mut fmt::Formatter<'_>,
    title: &str,
    labels: &[(&'static str, u64)],
) -> fmt::Result {
    write_counts(
        f,
        title,
        labels.iter().copied().filter(|(_, count)| *count > 0),
    )
}

/// The non-zero counts, each named by `name`.
fn named<T>(
    counts: impl Iterator<Item = (T, u64)>,
    name: fn(T) -> &'static str,
) -> impl Iterator<Item = (&'static str, u64)> {
    counts
        .filter(|(_, count)| *count > 0)
        .map(move |(value, count)| (name(value), count))
}

/// Writes a map of counts, each key named by `name`, leaving out zeros.
fn write_map<T: Copy>(
    f: &mut fmt::Formatter<'_>,
    title: &str,
    counts: &BTreeMap<T, u64>,
    name: fn(T) -> &'static str,
) -> fmt::Result {
    let counts = counts.iter().map(|(key, count)| (*key, *count));
    write_counts(f, title, named(counts, name))
}

/// Corrections named `kind (class)`.
fn corrections_listed<'a>(
    corrections: &'a BTreeMap<(MismatchClass, &'static str), u64>,
) -> impl Iterator<Item = (String, u64)> + 'a {
    corrections
        .iter()
        .map(|((class, kind), count)| (format!("{kind} ({class})"), *count))
}

/// Writes `title: name count, name count` and a line end, or `title: none`.
fn write_counts<N: fmt::Display>(
    f: &mut fmt::Formatter<'_>,
    title: impl fmt::Display,
    counts: impl Iterator<Item = (N, u64)>,
) -> fmt::Result {
    write!(f, "{title}:")?;
    let mut any = false;
    for (name, count) in counts {
        let separator = if any { ", " } else { " " };
        any = true;
        write!(f, "{separator}{name} {count}")?;
    }
    if !any {
        write!(f, " none")?;
    }
    writeln!(f)
}

fn write_reconciler(
    f: &mut fmt::Formatter<'_>,
    totals: &Totals,
    corrections: &BTreeMap<(MismatchClass, &'static str), u64>,
) -> fmt::Result {
    writeln!(
        f,
        "reconciler: {} cycles answered, {} without an answer, {} findings suspected (not yet \
         confirmed) over all cycles",
        totals.cycles, totals.venue_errors, totals.suspected
    )?;
    let mismatches = MismatchClass::ALL
        .into_iter()
        .map(|class| (class, totals.mismatches(class)));
    write_counts(
        f,
        "  confirmed mismatches",
        named(mismatches, MismatchClass::as_str),
    )?;
    write_counts(f, "  corrections applied", corrections_listed(corrections))?;
    writeln!(
        f,
        "  corrections: {} submitted, {} applied, {} rejected as stale; venue cancels: {} sent, \
         {} failed, {} skipped as stale",
        totals.actions.corrections_submitted,
        totals.actions.corrections_applied,
        totals.actions.corrections_rejected_stale,
        totals.actions.venue_cancels_sent,
        totals.actions.venue_cancels_failed,
        totals.actions.venue_cancels_skipped_stale
    )
}
