//! The end of a run: every fault resolved, the engine equal to the pure book, the library's
//! counters in agreement, a fault-free run clean; then the report.

use crate::venue::{FaultCounts, FaultKind};
use rust_decimal::Decimal;
use snapstate::book::Book;
use snapstate::engine::Counters;
use snapstate::reconcile::Totals;

use super::{FailureReason, Simulation};
use crate::check::{CrashFigures, Resolutions, RunReport, SimFailure};

impl Simulation<'_> {
    /// The end-of-run checks, and the report.
    pub(super) fn finish(mut self, cycles_to_converge: u64) -> Result<RunReport, SimFailure> {
        let resolutions = self.ledger.finish();
        let injected = self.world.venue().fault_counts().clone();
        let snapshot = self.world.reader().load();
        let book = snapshot.state();
        let mut totals = self.world.reconciler().totals().clone();
        let counters = snapshot.counters();
        if let Some(crash) = &self.crash {
            totals.merge(crash.earlier_totals());
        } else {
            // A crash loses the process's record of faults and corrections with it: a run that
            // crashes is checked by its convergence and its recoveries, not by attribution.
            every_fault_followed(&injected, &resolutions)
                .map_err(|problems| self.fail(FailureReason::Unresolved(problems)))?;
        }
        if book != self.ledger.shadow() {
            return Err(self.fail(FailureReason::Diverged(
                "the engine's final book differs from the pure book's".to_owned(),
            )));
        }
        // The engine's counters are re-derived from the journal at each recovery, so they do not
        // count corrections whose records a crash lost; the reconciler counted them.
        if self.crash.is_none() {
            self.counters_agree(&injected, &totals, counters)
                .map_err(|problem| self.fail(FailureReason::Counters(problem)))?;
        }
        if self.config.faults.is_none() {
            clean(&totals, counters).map_err(|found| self.fail(FailureReason::NotClean(found)))?;
        }
        Ok(self.report(
            book,
            counters,
            totals,
            injected,
            resolutions,
            cycles_to_converge,
        ))
    }

    /// The library's counters that count the same things from two sides.
    fn counters_agree(
        &self,
        injected: &FaultCounts,
        totals: &Totals,
        counters: &Counters,
    ) -> Result<(), String> {
        let query_faults =
            injected.get(FaultKind::QueryFailed) + injected.get(FaultKind::QueryTimedOut);
        let pairs = [
            ("reconciler venue errors", totals.venue_errors),
            ("venue query faults", query_faults),
            (
                "reconciler corrections submitted",
                totals.actions.corrections_submitted,
            ),
            ("corrections recorded", self.ledger.corrections_sent()),
            (
                "reconciler corrections applied",
                totals.actions.corrections_applied,
            ),
            ("book corrected", counters.applied_count("corrected")),
        ];
        for pair in pairs.chunks(2) {
            let [(left, left_count), (right, right_count)] = pair else {
                continue;
            };
            if left_count != right_count {
                return Err(format!("{left} {left_count}, {right} {right_count}"));
            }
        }
        Ok(())
    }

    fn report(
        &mut self,
        book: &Book,
        counters: &Counters,
        totals: Totals,
        injected: FaultCounts,
        resolutions: Resolutions,
        cycles_to_converge: u64,
    ) -> RunReport {
        let reconciled_fill = book
            .orders_unordered()
            .fold(Decimal::ZERO, |sum, order| sum + order.reconciled_fill());
        RunReport {
            seed: self.config.seed,
            scenario: self.config.scenario,
            trading_steps: self.counts.trading_steps,
            orders_placed: self.counts.orders_placed,
            updates_delivered: self.counts.updates_delivered,
            maker_cancels: (
                self.counts.maker_cancels_sent,
                self.counts.maker_cancels_refused,
            ),
            injected,
            resolutions,
            faulted_updates: self.ledger.faulted_updates().clone(),
            applied_by_label: counters.applied_by_label().collect(),
            rejected_by_label: counters.rejected_by_label().collect(),
            reconciler: totals,
            corrections: std::mem::take(&mut self.counts.corrections),
            cycles_to_converge,
            convergence_bound: self.config.convergence_bound_cycles(),
            orders_compared: self.world.venue().orders().count(),
            final_statuses: book.status_counts().to_vec(),
            net_position: book.net_position(),
            reconciled_fill,
            crash: self.crash.as_ref().map(|crash| CrashFigures {
                updates_unknown_after_crash: self.ledger.unknown_after_crash(),
                ..crash.figures().clone()
            }),
        }
    }
}

/// Every fault the venue counted was followed to a resolution, and none is a defect.
fn every_fault_followed(injected: &FaultCounts, resolutions: &Resolutions) -> Result<(), String> {
    let mut problems = Vec::new();
    for (kind, count) in injected.iter() {
        let by_resolution = resolutions.get(&kind);
        let resolved: u64 = by_resolution.into_iter().flat_map(|map| map.values()).sum();
        if resolved != count {
            problems.push(format!("{kind}: {count} injected, {resolved} followed"));
        }
        for (resolution, times) in by_resolution.into_iter().flatten() {
            if resolution.is_defect() {
                problems.push(format!("{kind}: {resolution} {times}"));
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}

/// Without faults, nothing may have needed repair, and no update may have arrived twice or
/// out of order.
fn clean(totals: &Totals, counters: &Counters) -> Result<(), String> {
    let unclean = [
        ("confirmed mismatches", totals.mismatches_total()),
        ("corrections", totals.actions.corrections_submitted),
        ("venue cancels", totals.actions.venue_cancels_sent),
        ("stale updates", counters.applied_count("stale")),
        ("duplicate updates", counters.applied_count("duplicate")),
    ];
    let found: Vec<String> = unclean
        .iter()
        .filter(|(_, count)| *count > 0)
        .map(|(what, count)| format!("{what} {count}"))
        .collect();
    if found.is_empty() {
        Ok(())
    } else {
        Err(found.join(", "))
    }
}
