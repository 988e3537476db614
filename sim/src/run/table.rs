//! The simulation report as a table.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::time::Duration;

use super::report::{Percentiles, Report};
use crate::format::{grouped, percent};

/// How many order differences the table lists before it summarises the rest.
const MAX_DIFFERENCES_SHOWN: usize = 20;

/// Writes `report` as a table.
pub fn write(report: &Report, out: &mut impl Write) -> io::Result<()> {
    write_header(report, out)?;
    write_throughput(report, out)?;
    write_venue(report, out)?;
    write_reconciliation(report, out)?;
    write_journal(report, out)?;
    write_final_state(report, out)
}

fn write_journal(report: &Report, out: &mut impl Write) -> io::Result<()> {
    let Some(journal) = &report.journal else {
        return Ok(());
    };
    writeln!(
        out,
        "\njournal ({}, sync {})",
        journal.directory, journal.sync
    )?;
    match &journal.recovery {
        Some(recovery) => {
            let checkpoint = recovery
                .checkpoint_seq
                .map_or_else(|| "none".to_owned(), |seq| format!("#{seq}"));
            writeln!(
                out,
                "  recovered               up to #{}: checkpoint {}, {} records replayed from {} \
                 segments, {} torn bytes cut",
                recovery.last_seq,
                checkpoint,
                grouped(recovery.records_replayed),
                recovery.segments_read,
                grouped(recovery.torn_bytes_truncated),
            )?;
        }
        None => writeln!(out, "  recovered               nothing (a fresh journal)")?,
    }
    writeln!(
        out,
        "  startup reconciliation  {} actions ({} orders adopted, {} corrected){}",
        journal.startup.actions,
        journal.startup.adopted_orders,
        journal.startup.corrected_orders,
        if journal.startup.complete {
            ""
        } else {
            ", incomplete"
        },
    )?;
    writeln!(
        out,
        "  last seq                #{} (durable up to #{})",
        journal.last_seq, journal.durable_seq
    )?;
    writeln!(out, "  state digest            {}", journal.state_digest)
}

fn write_header(report: &Report, out: &mut impl Write) -> io::Result<()> {
    let settings = &report.settings;
    let faults = &settings.faults;
    writeln!(
        out,
        "snapstate simulate: {} levels, seed {}, {:.1} s of trading",
        settings.levels, settings.seed, report.phases.trading_s
    )?;
    writeln!(
        out,
        "  venue latency {}; faults: dropped {}, duplicated {}, delayed {} (up to {}), \
         reordered {}",
        duration_text(settings.venue_latency),
        percent(faults.drop_rate),
        percent(faults.duplicate_rate),
        percent(faults.delay_rate),
        duration_text(faults.max_extra_delay),
        percent(faults.reorder_rate),
    )
}

fn write_throughput(report: &Report, out: &mut impl Write) -> io::Result<()> {
    let throughput = &report.throughput;
    writeln!(out, "\nthroughput")?;
    writeln!(
        out,
        "  commands                {} in {:.1} s of trading: {} per second",
        grouped(throughput.commands_while_trading),
        report.phases.trading_s,
        grouped(throughput.commands_per_second.round() as u64),
    )?;
    writeln!(
        out,
        "  applied                 {}",
        by_name(&throughput.applied)
    )?;
    writeln!(
        out,
        "  rejected                {}",
        by_name(&throughput.rejected)
    )?;
    writeln!(
        out,
        "  versions published      {} (mean batch {:.1} commands)",
        grouped(throughput.versions),
        throughput.mean_batch_size
    )?;
    let latency = &report.submit_to_visible_us;
    writeln!(
        out,
        "  submit to visible       {} (µs, {} commands)",
        percentiles(latency),
        grouped(latency.samples)
    )
}

fn write_venue(report: &Report, out: &mut impl Write) -> io::Result<()> {
    let venue = &report.venue;
    let activity = &venue.activity;
    writeln!(out, "\nvenue")?;
    writeln!(
        out,
        "  orders placed           {} (refused: {} by the book, {} by the venue)",
        grouped(activity.orders_placed),
        activity.places_refused_by_book,
        activity.places_refused_by_venue
    )?;
    writeln!(
        out,
        "  cancels                 {} ({} too late: already finished)",
        grouped(activity.cancels_sent),
        activity.cancels_refused
    )?;
    writeln!(
        out,
        "  updates delivered       {}",
        grouped(activity.updates_delivered)
    )?;
    writeln!(
        out,
        "  faults injected         {}",
        by_name(&venue.faults_injected)
    )
}

fn write_reconciliation(report: &Report, out: &mut impl Write) -> io::Result<()> {
    let reconciliation = &report.reconciliation;
    writeln!(out, "\nreconciliation")?;
    writeln!(
        out,
        "  runs                    {} ({} without a venue answer)",
        grouped(reconciliation.runs),
        reconciliation.venue_errors
    )?;
    writeln!(
        out,
        "  duration                {} (ms, {} cycles)",
        percentiles(&reconciliation.duration_ms),
        reconciliation.duration_ms.samples
    )?;
    writeln!(
        out,
        "  mismatches confirmed    {} (in every cycle that confirmed them; {} more only \
         suspected while updates were in flight)",
        grouped(reconciliation.mismatches_total),
        grouped(reconciliation.suspected)
    )?;
    for (class, count) in reconciliation.mismatches.iter().filter(|(_, n)| **n > 0) {
        writeln!(out, "    {class:<22}{count:>8}")?;
    }
    writeln!(
        out,
        "  corrections             applied {}, rejected as stale {} (submitted {})",
        grouped(reconciliation.corrections_applied),
        reconciliation.corrections_rejected_stale,
        grouped(reconciliation.corrections_submitted)
    )?;
    let phases = &report.phases;
    let outcome = if phases.converged {
        "the book agreed with the venue"
    } else {
        "the book still DIFFERED from the venue"
    };
    writeln!(
        out,
        "  convergence             faults and trading stopped; {outcome} after {:.2} s",
        phases.converging_s
    )
}

fn write_final_state(report: &Report, out: &mut impl Write) -> io::Result<()> {
    let state = &report.final_state;
    writeln!(
        out,
        "\nfinal positions           {:>12}  {:>12}",
        "book", "venue"
    )?;
    writeln!(
        out,
        "  net position            {:>12}  {:>12}",
        state.book_net_position.to_string(),
        state.venue_net_position.to_string()
    )?;
    writeln!(
        out,
        "  live orders             {:>12}  {:>12}",
        grouped(state.book_live_orders),
        grouped(state.venue_live_orders as u64)
    )?;
    writeln!(
        out,
        "  orders compared         {}",
        grouped(state.orders_compared as u64)
    )?;
    let verdict = if state.agrees() { "yes" } else { "NO" };
    writeln!(out, "  book equals venue       {verdict}")?;
    for difference in state.differences.iter().take(MAX_DIFFERENCES_SHOWN) {
        writeln!(out, "    {difference}")?;
    }
    let hidden = state
        .differences
        .len()
        .saturating_sub(MAX_DIFFERENCES_SHOWN);
    if hidden > 0 {
        writeln!(out, "    … and {hidden} more")?;
    }
    Ok(())
}

fn percentiles(values: &Percentiles) -> String {
    format!(
        "p50 {}  p90 {}  p99 {}  p99.9 {}  max {}",
        short(values.p50),
        short(values.p90),
        short(values.p99),
        short(values.p99_9),
        short(values.max)
    )
}

/// Three significant figures at most, without a trailing `.0`.
fn short(value: f64) -> String {
    if value >= 100.0 {
        grouped(value.round() as u64)
    } else if value >= 10.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.2}")
    }
}

/// A setting's duration in milliseconds, without needless digits: `5 ms`, `0.5 ms`.
fn duration_text(duration: Duration) -> String {
    let millis = duration.as_secs_f64() * 1_000.0;
    let text = format!("{millis:.3}");
    format!("{} ms", text.trim_end_matches('0').trim_end_matches('.'))
}

fn by_name(counts: &BTreeMap<&'static str, u64>) -> String {
    let shown: Vec<String> = counts
        .iter()
        .filter(|(_, count)| **count > 0)
        .map(|(name, count)| format!("{name} {}", grouped(*count)))
        .collect();
    if shown.is_empty() {
        "none".to_owned()
    } else {
        shown.join(", ")
    }
}
