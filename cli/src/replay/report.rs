//! What a replay found and the book it ended with, as a table or as JSON.

use std::collections::BTreeMap;
use std::io::{self, Write};

use serde::Serialize;
use snapstate::book::{Book, OrderId, Price, Quantity};
use snapstate::engine::Snapshot;
use snapstate::reconcile::CycleReport;

use super::source::{InvalidLine, Source};
use snapstate_sim::format::grouped;

/// One finding of one reconciliation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FindingRecord {
    /// The line of the venue snapshot it was found at.
    pub line: usize,
    /// The snapshot's time, in nanoseconds since the Unix epoch.
    pub venue_as_of: u64,
    /// The engine version reconciled.
    pub reconciled_version: u64,
    /// Its mismatch class.
    pub class: &'static str,
    /// What it is about: an order, a slot, or the net position.
    pub subject: String,
    /// The order's client id, where the format has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_order_id: Option<String>,
    /// Whether the evidence confirms it.
    pub confirmed: bool,
    /// In how many consecutive snapshots it was seen.
    pub observations: u32,
    /// When it was first seen, in nanoseconds since the Unix epoch.
    pub first_seen: u64,
    /// What the reconciler does (in a dry run: would do) about it.
    pub action: String,
    /// The difference, in words.
    pub detail: String,
}

/// Corrections sent when the replay applies them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CorrectionTotals {
    /// Handed to the engine.
    pub submitted: u64,
    /// Applied by it.
    pub applied: u64,
    /// Rejected by it because the order had moved on.
    pub rejected_stale: u64,
}

impl CorrectionTotals {
    /// Adds one cycle's.
    pub fn add(&mut self, cycle: &CycleReport) {
        self.submitted += cycle.actions.corrections_submitted;
        self.applied += cycle.actions.corrections_applied;
        self.rejected_stale += cycle.actions.corrections_rejected_stale;
    }
}

/// One live order of the final book.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OrderRow {
    /// Its id.
    pub order_id: OrderId,
    /// Its client id, where the format has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_order_id: Option<String>,
    /// Its slot.
    pub level: i32,
    /// `buy` or `sell`.
    pub side: String,
    /// Its price.
    pub price: Price,
    /// Its quantity.
    pub quantity: Quantity,
    /// Filled so far.
    pub filled: Quantity,
    /// Its status.
    pub status: &'static str,
}

/// One slot of the final book that holds a position or a live order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SlotRow {
    /// Its level.
    pub level: i32,
    /// Its price.
    pub price: Price,
    /// Its position (buys +, sells −).
    pub position: Quantity,
    /// Its live order.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub live_order: Option<OrderId>,
}

/// The book the replay ended with.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FinalBook {
    /// The engine's last version.
    pub version: u64,
    /// Its net position.
    pub net_position: Quantity,
    /// Orders in the index by status (finished ones stay as tombstones for a while).
    pub orders_by_status: BTreeMap<&'static str, u64>,
    /// The live orders, by id.
    pub live_orders: Vec<OrderRow>,
    /// Slots with a position or a live order, by level.
    pub slots: Vec<SlotRow>,
}

impl FinalBook {
    /// The final book of `last`.
    pub fn new(last: &Snapshot<Book>, source: &Source) -> Self {
        let book = last.state();
        let live_orders = book
            .live_orders()
            .into_iter()
            .map(|order| OrderRow {
                order_id: order.id(),
                client_order_id: source.client_order_id(order.id()),
                level: order.level().0,
                side: order.side().to_string(),
                price: order.price(),
                quantity: order.quantity(),
                filled: order.filled(),
                status: order.status().as_str(),
            })
            .collect();
        let slots = book
            .slots_by_price()
            .into_iter()
            .filter(|slot| !slot.position().is_zero() || slot.live_order().is_some())
            .map(|slot| SlotRow {
                level: slot.level().0,
                price: slot.price(),
                position: without_negative_zero(slot.position()),
                live_order: slot.live_order(),
            })
            .collect();
        Self {
            version: last.version().0,
            net_position: without_negative_zero(book.net_position()),
            orders_by_status: book
                .status_counts()
                .into_iter()
                .filter(|(_, count)| *count > 0)
                .map(|(status, count)| (status.as_str(), count))
                .collect(),
            live_orders,
            slots,
        }
    }
}

/// The first `limit` items of a stream, and how many there were in all: what a report keeps
/// of something that grows with the input (skipped lines, findings), so that its memory is
/// bounded whatever the stream's length.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sample<T> {
    limit: usize,
    kept: Vec<T>,
    total: u64,
}

impl<T> Sample<T> {
    /// An empty sample that keeps at most `limit` items.
    pub fn new(limit: usize) -> Self {
        Self {
            limit,
            kept: Vec::new(),
            total: 0,
        }
    }

    /// Counts `item`, keeping it if the sample is not full.
    pub fn push(&mut self, item: T) {
        self.total += 1;
        if self.kept.len() < self.limit {
            self.kept.push(item);
        }
    }

    /// The items kept, in the order they came.
    pub fn kept(&self) -> &[T] {
        &self.kept
    }

    /// How many items came, kept or not.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// The items kept and the total.
    pub fn into_parts(self) -> (Vec<T>, u64) {
        (self.kept, self.total)
    }
}

/// An invalid line that was skipped.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SkippedLine {
    /// Its number.
    pub line: usize,
    /// Why it is invalid.
    pub reason: String,
}

impl From<&InvalidLine> for SkippedLine {
    fn from(invalid: &InvalidLine) -> Self {
        Self {
            line: invalid.line,
            reason: invalid.error.to_string(),
        }
    }
}

/// Everything a replay read, found and ended with.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ReplayReport {
    /// The file replayed (`-` for standard input).
    pub source: String,
    /// `native` or `binance`.
    pub format: String,
    /// Whether corrections were only planned (the default) or sent through the engine.
    pub dry_run: bool,
    /// Lines read.
    pub lines: usize,
    /// Commands applied through the engine.
    pub commands: u64,
    /// Venue snapshots reconciled.
    pub venue_snapshots: u64,
    /// Lines that carried nothing for the book, by why.
    pub ignored: BTreeMap<&'static str, u64>,
    /// Invalid lines skipped with `--skip-invalid`.
    pub invalid_lines_total: u64,
    /// The first of them (at most `--max-reported-invalid-lines`), in line order; every one
    /// was reported on stderr as it was met.
    pub invalid_lines: Vec<SkippedLine>,
    /// Findings of all reconciliations.
    pub findings_total: u64,
    /// Findings of all reconciliations by class.
    pub findings_by_class: BTreeMap<&'static str, u64>,
    /// The first findings (at most `--max-reported-findings`), by line, then as the reconciler
    /// sorts them.
    pub findings: Vec<FindingRecord>,
    /// Corrections sent, when they were.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub corrections: Option<CorrectionTotals>,
    /// The final book; none if the stream never set a grid.
    pub book: Option<FinalBook>,
}

impl ReplayReport {
    /// Writes the report as one JSON object and a newline.
    ///
    /// # Errors
    ///
    /// The writer's error.
    pub fn write_json(&self, out: &mut impl Write) -> io::Result<()> {
        serde_json::to_writer_pretty(&mut *out, self)?;
        writeln!(out)
    }

    /// Writes the report as tables.
    ///
    /// # Errors
    ///
    /// The writer's error.
    pub fn write_table(&self, out: &mut impl Write) -> io::Result<()> {
        self.write_summary(out)?;
        self.write_findings(out)?;
        match &self.book {
            Some(book) => write_book(book, out),
            None => writeln!(out, "\nno grid was set: the stream carried no book"),
        }
    }

    fn write_summary(&self, out: &mut impl Write) -> io::Result<()> {
        let mode = if self.dry_run {
            "dry run: corrections planned, not sent"
        } else {
            "corrections sent through the engine"
        };
        writeln!(out, "replay {} ({}, {mode})", self.source, self.format)?;
        let ignored: u64 = self.ignored.values().sum();
        writeln!(
            out,
            "  {} lines: {} commands applied, {} venue snapshots reconciled, {} ignored, {} \
             invalid skipped",
            grouped(self.lines as u64),
            grouped(self.commands),
            self.venue_snapshots,
            grouped(ignored),
            grouped(self.invalid_lines_total)
        )?;
        for (why, count) in &self.ignored {
            writeln!(out, "    ignored: {why}: {count}")?;
        }
        for skipped in &self.invalid_lines {
            writeln!(out, "    skipped line {}: {}", skipped.line, skipped.reason)?;
        }
        let unlisted = self.invalid_lines_total - self.invalid_lines.len() as u64;
        if unlisted > 0 {
            writeln!(
                out,
                "    … and {} more skipped lines not listed (--max-reported-invalid-lines)",
                grouped(unlisted)
            )?;
        }
        if let Some(corrections) = &self.corrections {
            writeln!(
                out,
                "  corrections: {} submitted, {} applied, {} rejected as stale",
                corrections.submitted, corrections.applied, corrections.rejected_stale
            )?;
        }
        Ok(())
    }

    fn write_findings(&self, out: &mut impl Write) -> io::Result<()> {
        writeln!(out, "\nfindings ({})", grouped(self.findings_total))?;
        if self.venue_snapshots == 0 {
            return writeln!(
                out,
                "  none: the stream has no venue snapshot to reconcile against"
            );
        }
        if self.findings_total == 0 {
            return writeln!(out, "  none: the book agreed with every venue snapshot");
        }
        let classes: Vec<String> = self
            .findings_by_class
            .iter()
            .map(|(class, count)| format!("{class} {}", grouped(*count)))
            .collect();
        writeln!(out, "  by class: {}", classes.join(", "))?;
        writeln!(
            out,
            "  {:>5}  {:<14}  {:<22}  {:<10}  {:>4}  action",
            "line", "venue as of", "class", "state", "seen"
        )?;
        for finding in &self.findings {
            let state = if finding.confirmed {
                "confirmed"
            } else {
                "suspected"
            };
            writeln!(
                out,
                "  {:>5}  {:<14}  {:<22}  {:<10}  {:>3}x  {}",
                finding.line,
                seconds(finding.venue_as_of),
                finding.class,
                state,
                finding.observations,
                finding.action
            )?;
            match &finding.client_order_id {
                Some(client) => writeln!(out, "         {} [client id {client}]", finding.detail)?,
                None => writeln!(out, "         {}", finding.detail)?,
            }
        }
        let unlisted = self.findings_total - self.findings.len() as u64;
        if unlisted > 0 {
            writeln!(
                out,
                "  … and {} more findings not listed (--max-reported-findings)",
                grouped(unlisted)
            )?;
        }
        Ok(())
    }
}

fn write_book(book: &FinalBook, out: &mut impl Write) -> io::Result<()> {
    writeln!(
        out,
        "\nfinal book: version v{}, net position {}",
        book.version, book.net_position
    )?;
    let statuses: Vec<String> = book
        .orders_by_status
        .iter()
        .map(|(status, count)| format!("{status} {count}"))
        .collect();
    writeln!(out, "  orders by status: {}", statuses.join(", "))?;
    writeln!(out, "  live orders ({})", book.live_orders.len())?;
    if !book.live_orders.is_empty() {
        writeln!(
            out,
            "    {:<8}  {:>7}  {:<4}  {:>14}  {:>12}  {:>12}  {:<16}  client id",
            "order", "level", "side", "price", "quantity", "filled", "status"
        )?;
    }
    for order in &book.live_orders {
        writeln!(
            out,
            "    {:<8}  {:>7}  {:<4}  {:>14}  {:>12}  {:>12}  {:<16}  {}",
            order.order_id.to_string(),
            order.level,
            order.side,
            order.price.to_string(),
            order.quantity.to_string(),
            order.filled.to_string(),
            order.status,
            order.client_order_id.as_deref().unwrap_or("-")
        )?;
    }
    writeln!(
        out,
        "  slots with a position or a live order ({})",
        book.slots.len()
    )?;
    if !book.slots.is_empty() {
        writeln!(
            out,
            "    {:>7}  {:>14}  {:>12}  live order",
            "level", "price", "position"
        )?;
    }
    for slot in &book.slots {
        writeln!(
            out,
            "    {:>7}  {:>14}  {:>12}  {}",
            slot.level,
            slot.price.to_string(),
            slot.position.to_string(),
            slot.live_order
                .map_or_else(|| "-".to_owned(), |order_id| order_id.to_string())
        )?;
    }
    Ok(())
}

/// Zero as `0`, never `-0` (a sell's empty position is a negative zero in decimal).
fn without_negative_zero(value: Quantity) -> Quantity {
    if value.is_zero() {
        Quantity::ZERO
    } else {
        value
    }
}

/// Nanoseconds since the epoch as seconds with milliseconds.
fn seconds(nanos: u64) -> String {
    format!(
        "{}.{:03}",
        nanos / 1_000_000_000,
        (nanos / 1_000_000) % 1_000
    )
}
