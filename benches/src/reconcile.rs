//! The comparison's reconciliation step: snapstate's reconciler ([`snapstate::reconcile`]), run
//! on each design's snapshot against a venue report of the same orders.
//!
//! # The venue's answer
//!
//! The report lists the book's own live orders, as a venue that saw the same orders would,
//! except that every [`DIFFERENCE_EVERY`]-th order shows one more lot filled at the venue (a
//! fill the book missed), so that each reconciliation has findings to classify. It is built
//! from the snapshot being reconciled rather than by driving the simulated venue (`snapstate_sim::venue::SimulatedVenue`):
//! the simulated venue fills orders by its own random price walk and cannot be given the
//! workload's fills, so its answer would disagree with nearly every order and measure a flood
//! of mismatches instead of a reconciliation. The reconciler's own benchmark
//! (`benches/benches/reconcile.rs`) uses the same answer without the planted differences
//! ([`truthful_venue_report`]).

use std::hint::black_box;

use rust_decimal::Decimal;
use snapstate::book::{Book, Storage};
use snapstate::reconcile::{Evidence, ReconcileConfig, reconcile};
use snapstate::venue::{VenueOrder, VenueOrderStatus, VenueReport};

/// Every this many listed orders, the venue shows one more lot filled than the book.
pub const DIFFERENCE_EVERY: usize = 100;

/// The venue's answer for `book`: its live orders by id, with the planted differences.
pub fn venue_report<S: Storage>(book: &Book<S>) -> VenueReport {
    let mut report = truthful_venue_report(book);
    let mut net_position = book.net_position();
    for (index, order) in report.orders.iter_mut().enumerate() {
        if index % DIFFERENCE_EVERY == DIFFERENCE_EVERY - 1 && order.filled < order.quantity {
            order.filled += Decimal::ONE;
            order.status = VenueOrderStatus::PartiallyFilled;
            net_position += order.side.signed(Decimal::ONE);
        }
    }
    report.net_position = Some(net_position);
    report
}

/// The venue's answer for `book` without planted differences: its live orders by id, each as
/// [`VenueOrder::truthful`] lists it, last changed at the order's last activity, as of the
/// book's latest activity. Reconciling `book` against it finds nothing (the steady state that
/// `benches/benches/reconcile.rs` measures).
pub fn truthful_venue_report<S: Storage>(book: &Book<S>) -> VenueReport {
    let orders = book
        .live_orders()
        .into_iter()
        .map(|order| VenueOrder::truthful(order, order.last_activity()))
        .collect();
    VenueReport {
        as_of: book.latest_activity(),
        orders,
        net_position: Some(book.net_position()),
    }
}

/// A reconciler's state between cycles: its configuration and the evidence it carries.
#[derive(Debug, Default)]
pub struct Reconciling {
    config: ReconcileConfig,
    evidence: Evidence,
}

impl Reconciling {
    /// A reconciler with the default configuration and no evidence yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// One reconciliation of `book` against `venue`, at the venue's time, carrying the evidence
    /// to the next. Returns how many findings it made.
    pub fn reconcile<S: Storage>(&mut self, book: &Book<S>, venue: &VenueReport) -> usize {
        let result = reconcile(book, venue, &self.config, venue.as_of, &self.evidence);
        let findings = result.findings.len();
        self.evidence = result.evidence;
        black_box(findings)
    }
}

#[cfg(test)]
mod tests {
    use snapstate::book::Persistent;
    use snapstate::reconcile::MismatchClass;

    use super::*;
    use crate::workload::Workload;

    #[test]
    fn the_truthful_report_agrees_with_the_book() {
        let workload = Workload::new(1_000);
        let book: Book<Persistent> = workload.partly_filled_book();
        let venue = truthful_venue_report(&book);
        assert_eq!(venue.orders.len(), 1_000);
        let result = reconcile(
            &book,
            &venue,
            &ReconcileConfig::default(),
            venue.as_of,
            &Evidence::new(),
        );
        assert!(result.is_clean(), "{:?}", result.findings);
    }

    #[test]
    fn the_reconciler_finds_the_planted_fills_and_confirms_them_on_repetition() {
        let workload = Workload::new(1_000);
        let book: Book<Persistent> = workload.initial_book();
        let venue = venue_report(&book);
        let planted = 1_000 / DIFFERENCE_EVERY;
        let config = ReconcileConfig::default();
        let mut evidence = Evidence::new();
        let mut last = None;
        for _ in 0..3 {
            let result = reconcile(&book, &venue, &config, venue.as_of, &evidence);
            evidence = result.evidence.clone();
            last = Some(result);
        }
        let last = last.expect("ran");
        let ahead = last
            .findings
            .iter()
            .filter(|finding| finding.class() == MismatchClass::VenueFilledAhead)
            .count();
        assert_eq!(ahead, planted, "{:?}", last.findings);
    }
}
