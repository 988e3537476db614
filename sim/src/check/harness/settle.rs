//! After the halt: reconcile until the book agrees with the venue's truth for good.

use super::{FailureReason, SimFailure, Simulation};
use crate::check::truth::differences;

impl Simulation<'_> {
    /// Reconciles once per cycle interval until the book agrees with the venue and keeps
    /// agreeing for [`SimConfig::confirmation_cycles`] more cycles, each of which must find
    /// nothing at all, and the venue can produce no more updates. Returns the cycle from which
    /// the book agreed for good.
    ///
    /// Orders still live at the halt may expire afterwards (time in force): while such an
    /// update is on its way the book lags, and agreement starts again once it has arrived.
    /// Any other disagreement after agreement is a failure.
    pub(super) fn settle(&mut self) -> Result<u64, SimFailure> {
        let bound = self.config.convergence_bound_cycles();
        let confirmation = self.config.confirmation_cycles();
        let mut agreeing_since = None;
        let mut cycle = 0;
        loop {
            cycle += 1;
            self.clock.advance(self.config.cycle_interval());
            // Halted: the step only delivers.
            self.step_to_now()?;
            let Some(report) = self.cycle()? else {
                return Err(self.fail(FailureReason::Unsettled(
                    "a query failed after faults stopped".to_owned(),
                )));
            };
            let venue = self.world.venue();
            let placements_lost = self
                .crash
                .as_ref()
                .map(|crash| crash.placements_lost().clone())
                .unwrap_or_default();
            let found = differences(self.world.reader().load().state(), venue, &placements_lost);
            let in_flight = venue.pending_update_count() > 0;
            // Once the book has agreed, an update on its way may show as a suspected difference;
            // nothing may be confirmed, and with nothing on its way nothing may differ at all.
            let agreed_before = agreeing_since.is_some_and(|since| since < cycle);
            let confirmed = report.reconciliation.confirmed().next().is_some();
            let unclean = !report.reconciliation.findings.is_empty();
            let unexplained = !in_flight && (!found.is_empty() || unclean);
            if agreed_before && (confirmed || unexplained) {
                let findings: Vec<String> = report
                    .reconciliation
                    .findings
                    .iter()
                    .map(ToString::to_string)
                    .collect();
                return Err(self.fail(FailureReason::Unsettled(format!(
                    "after agreeing since cycle {}: differences {:?}, findings {:?}",
                    agreeing_since.unwrap_or_default(),
                    abridged(found),
                    abridged(findings)
                ))));
            }
            if found.is_empty() {
                agreeing_since.get_or_insert(cycle);
            } else if cycle >= bound {
                return Err(self.fail(FailureReason::NotConverged {
                    cycles: cycle,
                    bound,
                    differences: abridged(found),
                }));
            } else {
                agreeing_since = None;
            }
            let quiet = self.config.time_in_force.is_none() || venue.live_count() == 0;
            if let Some(since) = agreeing_since
                && quiet
                && cycle - since >= confirmation
            {
                return Ok(since);
            }
        }
    }
}

/// The most differences a failure lists; the rest are counted.
const LISTED_DIFFERENCES: usize = 12;

fn abridged(mut differences: Vec<String>) -> Vec<String> {
    if differences.len() > LISTED_DIFFERENCES {
        let more = differences.len() - LISTED_DIFFERENCES;
        differences.truncate(LISTED_DIFFERENCES);
        differences.push(format!("and {more} more"));
    }
    differences
}
