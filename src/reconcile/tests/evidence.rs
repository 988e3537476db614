//! The evidence rules: absences, grace, fresh activity, forgetting, venue errors; and the
//! configuration's validation.

use super::*;

#[test]
fn a_missing_order_counts_after_three_absences_and_is_marked_lost() {
    let book = two_order_book();
    let mut venue = truthful(&book);
    venue.orders.retain(|order| order.order_id != OrderId(2));
    let config = ReconcileConfig::default();
    for absences in 1..=2 {
        let result = cycles(&book, &venue, &config, later(), absences);
        let finding = only(&result);
        assert_eq!(finding.class(), MismatchClass::MissingAtVenue);
        assert_eq!(finding.observations, absences);
        assert!(!finding.confirmed, "{absences} absences are not enough");
        assert_eq!(finding.action, Action::Wait);
    }
    let result = cycles(&book, &venue, &config, later(), 3);
    let finding = only(&result);
    assert!(finding.confirmed);
    let expected = Correction::MarkLost {
        order_id: OrderId(2),
        expected: book.order(OrderId(2)).expect("known").revision(),
        at: later(),
    };
    assert_eq!(finding.action, Action::Correct(expected));
}

#[test]
fn an_order_placed_moments_ago_and_not_yet_listed_is_not_missing() {
    let book = two_order_book();
    let mut venue = truthful(&book);
    venue.orders.retain(|order| order.order_id != OrderId(2));
    // Placed 5 ms before `now`: however many answers leave it out, the grace window holds.
    let now = PLACED.saturating_add(Duration::from_millis(5));
    venue.as_of = now;
    let result = cycles(&book, &venue, &ReconcileConfig::default(), now, 10);
    let finding = only(&result);
    assert_eq!(finding.observations, 10);
    assert!(!finding.confirmed);
    assert_eq!(result.corrections().count(), 0);
}

#[test]
fn an_answer_no_newer_than_the_orders_last_change_is_no_observation() {
    let book = two_order_book();
    let mut venue = truthful(&book);
    venue.orders.retain(|order| order.order_id != OrderId(2));
    venue.as_of = PLACED;
    let result = cycles(&book, &venue, &ReconcileConfig::default(), later(), 3);
    assert!(result.is_clean(), "{:#?}", result.findings);
}

#[test]
fn fresh_local_activity_restarts_the_absence_count() {
    let mut book = two_order_book();
    let mut venue = truthful(&book);
    venue.orders.retain(|order| order.order_id != OrderId(1));
    // The fill below moves the book's position; leave the position out of this test.
    venue.net_position = None;
    let config = ReconcileConfig::default();
    let first = cycles(&book, &venue, &config, later(), 2);
    assert_eq!(only(&first).observations, 2);
    let fill = BookCommand::Fill(FillReport {
        order_id: OrderId(1),
        cumulative_filled: dec(5),
        fill_price: None,
        trade_id: None,
        venue_seq: None,
        at: PLACED,
    });
    book.apply(&fill).expect("applies");
    let next = reconcile(&book, &venue, &config, later(), &first.evidence);
    let finding = only(&next);
    assert_eq!(finding.observations, 1, "a new revision is fresh activity");
    assert_eq!(finding.first_seen, later());
}

#[test]
fn evidence_is_forgotten_when_the_difference_is_no_longer_seen() {
    let book = two_order_book();
    let mut venue = truthful(&book);
    venue.orders.retain(|order| order.order_id != OrderId(1));
    let config = ReconcileConfig::default();
    let absent = cycles(&book, &venue, &config, later(), 2);
    assert_eq!(absent.evidence.len(), 1);
    let listed = reconcile(&book, &truthful(&book), &config, later(), &absent.evidence);
    assert!(listed.is_clean());
    assert!(listed.evidence.is_empty());
    let absent_again = reconcile(&book, &venue, &config, later(), &listed.evidence);
    assert_eq!(
        only(&absent_again).observations,
        1,
        "absences must be consecutive"
    );
}

#[test]
fn invalid_configurations_are_refused() {
    let zero = ReconcileConfig {
        absences_before_missing: 0,
        ..ReconcileConfig::default()
    };
    assert_eq!(
        zero.validate(),
        Err(ReconcileConfigError::ZeroThreshold(
            "absences_before_missing"
        ))
    );
    let mut unsupported = ReconcileConfig::default();
    unsupported.policies.venue_filled_behind = Policy::Correct;
    assert_eq!(
        unsupported.validate(),
        Err(ReconcileConfigError::UnsupportedPolicy {
            class: MismatchClass::VenueFilledBehind,
            policy: Policy::Correct
        })
    );
    let negative = ReconcileConfig {
        position_tolerance: dec(-1),
        ..ReconcileConfig::default()
    };
    assert!(negative.validate().is_err());
    assert_eq!(ReconcileConfig::default().validate(), Ok(()));
}

#[test]
fn a_failed_venue_query_changes_no_evidence() {
    let book = two_order_book();
    let venue = EmptyVenue { failure: None };
    let runner = CycleConfig {
        record_metrics: false,
        ..CycleConfig::default()
    };
    let mut reconciler = Reconciler::new(venue, ReconcileConfig::default(), runner).expect("valid");
    // The venue knows none of the book's orders: both are absent, and its position is not the
    // book's.
    let first = reconciler.observe(&book, later()).expect("answered");
    assert_eq!(first.findings.len(), 3);
    let before = reconciler.evidence().clone();
    for failure in [
        OpenOrdersError::Failed {
            reason: "connection reset".to_owned(),
        },
        OpenOrdersError::TimedOut {
            after: Duration::from_secs(1),
        },
    ] {
        reconciler.venue_mut().failure = Some(failure);
        for _ in 0..5 {
            let result = reconciler.observe(&book, later());
            assert!(matches!(result, Err(CycleError::Venue(_))));
        }
        assert_eq!(
            reconciler.evidence(),
            &before,
            "an error is not an observation"
        );
    }
    assert_eq!(reconciler.totals().venue_errors, 10);
    reconciler.venue_mut().failure = None;
    let next = reconciler.observe(&book, later()).expect("answered");
    assert!(
        next.findings
            .iter()
            .all(|finding| finding.observations == 2)
    );
}

/// A venue with no orders and a flat position, whose query fails with `failure` while it is set.
struct EmptyVenue {
    failure: Option<OpenOrdersError>,
}

impl Venue for EmptyVenue {
    fn open_orders(&mut self) -> Result<VenueReport, OpenOrdersError> {
        match &self.failure {
            Some(failure) => Err(failure.clone()),
            None => Ok(VenueReport {
                as_of: later(),
                orders: Vec::new(),
                net_position: Some(Decimal::ZERO),
            }),
        }
    }
}
