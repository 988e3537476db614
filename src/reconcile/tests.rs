//! Unit tests of the diff: every mismatch class, the evidence rules, the policies, and the
//! cases that must not be findings.

use std::time::Duration;

use rust_decimal::Decimal;

use super::*;
use crate::book::{
    Adoption, Book, BookCommand, BookConfig, Correction, FillReport, Grid, Level, OrderId,
    OrderStatus, Place, Revision, Side, StatusReport,
};
use crate::time::Timestamp;
use crate::venue::{
    Faults, SimulatedVenue, SimulatedVenueConfig, VenueOrder, VenueOrderStatus, VenueReport,
};

fn dec(value: i64) -> Decimal {
    Decimal::from(value)
}

/// When the test book's orders were last active.
const PLACED: Timestamp = Timestamp::from_millis(1_000);

/// Long after `PLACED`: everything is quiet.
fn later() -> Timestamp {
    PLACED.saturating_add(Duration::from_secs(60))
}

/// Levels -10..=10 at 100 + level.
fn empty_book() -> Book {
    let grid = Grid::new(dec(100), dec(1), Level(-10), Level(10)).expect("valid grid");
    Book::new(BookConfig::new(grid))
}

fn status(id: u64) -> StatusReport {
    StatusReport {
        order_id: OrderId(id),
        venue_seq: None,
        at: PLACED,
    }
}

/// Places order `id` in slot `level` (buys below 0, sells above), then drives it to `target`
/// with `filled` of 10.
fn add_order(book: &mut Book, id: u64, level: i32, target: OrderStatus, filled: i64) {
    let side = if level < 0 { Side::Buy } else { Side::Sell };
    let mut commands = vec![BookCommand::Place(Place {
        order_id: OrderId(id),
        level: Level(level),
        side,
        price: dec(100 + i64::from(level)),
        quantity: dec(10),
        at: PLACED,
    })];
    if target != OrderStatus::Pending {
        commands.push(BookCommand::Acknowledge(status(id)));
    }
    if filled > 0 {
        commands.push(BookCommand::Fill(FillReport {
            order_id: OrderId(id),
            cumulative_filled: dec(filled),
            fill_price: None,
            trade_id: None,
            venue_seq: None,
            at: PLACED,
        }));
    }
    if target == OrderStatus::Cancelled {
        commands.push(BookCommand::Cancel(status(id)));
    }
    for command in &commands {
        book.apply(command).expect("test setup applies");
    }
    assert_eq!(
        book.order(OrderId(id)).map(|order| order.status()),
        Some(target)
    );
}

/// A book with live orders 1 (buy at -1, 4 filled) and 2 (sell at 2, open).
fn two_order_book() -> Book {
    let mut book = empty_book();
    add_order(&mut book, 1, -1, OrderStatus::PartiallyFilled, 4);
    add_order(&mut book, 2, 2, OrderStatus::Open, 0);
    book
}

/// What a truthful venue would say about a book order.
fn as_listed(book: &Book, id: u64) -> VenueOrder {
    let order = book.order(OrderId(id)).expect("known");
    let status = match order.status() {
        OrderStatus::Pending | OrderStatus::Open => VenueOrderStatus::Open,
        OrderStatus::PartiallyFilled => VenueOrderStatus::PartiallyFilled,
        OrderStatus::Filled => VenueOrderStatus::Filled,
        OrderStatus::Cancelled | OrderStatus::Lost => VenueOrderStatus::Cancelled,
        OrderStatus::Rejected => VenueOrderStatus::Rejected,
        OrderStatus::Expired => VenueOrderStatus::Expired,
    };
    VenueOrder {
        order_id: order.id(),
        updated_at: PLACED,
        filled: order.filled(),
        status,
        side: order.side(),
        price: order.price(),
        quantity: order.quantity(),
    }
}

/// A truthful answer about every live order of `book`.
fn truthful(book: &Book) -> VenueReport {
    VenueReport {
        as_of: later(),
        orders: book
            .open_orders()
            .iter()
            .map(|order| as_listed(book, order.id().0))
            .collect(),
        net_position: Some(book.net_position()),
    }
}

/// Reconciles `cycles` times at `now`, carrying evidence; returns the last result.
fn cycles(
    book: &Book,
    venue: &VenueReport,
    config: &ReconcileConfig,
    now: Timestamp,
    cycles: u32,
) -> Reconciliation {
    let mut evidence = Evidence::new();
    let mut last = None;
    for _ in 0..cycles {
        let result = reconcile(book, venue, config, now, &evidence);
        evidence = result.evidence.clone();
        last = Some(result);
    }
    last.expect("at least one cycle")
}

/// The one finding, asserting there is exactly one.
fn only(result: &Reconciliation) -> &Finding {
    assert_eq!(result.findings.len(), 1, "findings: {:#?}", result.findings);
    &result.findings[0]
}

fn confirmed_default(book: &Book, venue: &VenueReport) -> Reconciliation {
    let result = cycles(book, venue, &ReconcileConfig::default(), later(), 3);
    assert!(result.findings.iter().all(|finding| finding.confirmed));
    result
}

#[test]
fn a_truthful_answer_has_no_finding() {
    let book = two_order_book();
    let result = cycles(
        &book,
        &truthful(&book),
        &ReconcileConfig::default(),
        later(),
        3,
    );
    assert!(result.is_clean(), "{:#?}", result.findings);
    assert!(result.evidence.is_empty());
    assert_eq!(result.book_live_orders, 2);
    assert_eq!(result.venue_orders, 2);
}

#[test]
fn an_unknown_order_on_a_vacant_level_is_adopted_into_its_slot() {
    let book = two_order_book();
    let mut venue = truthful(&book);
    let mut stranger = as_listed(&book, 2);
    stranger.order_id = OrderId(99);
    stranger.price = dec(103);
    stranger.filled = dec(1);
    venue.orders.push(stranger);
    venue.net_position = venue.net_position.map(|net| net - dec(1));
    let result = confirmed_default(&book, &venue);
    let finding = only(&result);
    assert_eq!(finding.class(), MismatchClass::UnknownInsideGrid);
    let expected = Correction::Adopt(Adoption {
        order_id: OrderId(99),
        level: Level(3),
        side: Side::Sell,
        price: dec(103),
        quantity: dec(10),
        cumulative_filled: dec(1),
        expected: Revision::ABSENT,
        at: later(),
    });
    assert_eq!(finding.action, Action::Correct(expected));
}

#[test]
fn an_unknown_order_between_levels_is_inside_the_grid_but_not_adoptable() {
    let book = empty_book();
    let mut venue = truthful(&book);
    venue.orders.push(VenueOrder {
        order_id: OrderId(5),
        updated_at: PLACED,
        filled: Decimal::ZERO,
        status: VenueOrderStatus::Open,
        side: Side::Buy,
        price: Decimal::new(995, 1),
        quantity: dec(1),
    });
    let result = confirmed_default(&book, &venue);
    let finding = only(&result);
    assert_eq!(finding.class(), MismatchClass::UnknownInsideGrid);
    assert_eq!(
        finding.action,
        Action::ReportOnly(ReportOnlyReason::NotAdoptable)
    );
}

#[test]
fn an_unknown_order_outside_the_grid_is_reported_or_cancelled_by_policy() {
    let book = empty_book();
    let mut venue = truthful(&book);
    venue.orders.push(VenueOrder {
        order_id: OrderId(5),
        updated_at: PLACED,
        filled: Decimal::ZERO,
        status: VenueOrderStatus::Open,
        side: Side::Sell,
        price: dec(150),
        quantity: dec(1),
    });
    let result = confirmed_default(&book, &venue);
    assert_eq!(only(&result).class(), MismatchClass::UnknownOutsideGrid);
    assert_eq!(
        only(&result).action,
        Action::ReportOnly(ReportOnlyReason::Policy)
    );
    let mut config = ReconcileConfig::default();
    config.policies.unknown_outside_grid = Policy::CancelAtVenue;
    let result = cycles(&book, &venue, &config, later(), 2);
    let cancel = VenueCancel {
        order_id: OrderId(5),
        expected: None,
    };
    assert_eq!(only(&result).action, Action::CancelAtVenue(vec![cancel]));
}

#[test]
fn a_finished_venue_order_the_book_does_not_know_is_not_a_finding() {
    let book = empty_book();
    let mut venue = truthful(&book);
    venue.orders.push(VenueOrder {
        order_id: OrderId(5),
        updated_at: PLACED,
        filled: dec(1),
        status: VenueOrderStatus::Filled,
        side: Side::Buy,
        price: dec(99),
        quantity: dec(1),
    });
    venue.net_position = Some(dec(1));
    let result = cycles(&book, &venue, &ReconcileConfig::default(), later(), 3);
    assert!(
        result.is_clean(),
        "its fill explains the position: {:#?}",
        result.findings
    );
}

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
fn a_venue_ahead_on_fills_is_a_missed_fill_corrected_with_the_venue_quantity() {
    let book = two_order_book();
    let mut venue = truthful(&book);
    venue.orders[0].filled = dec(7);
    venue.net_position = venue.net_position.map(|net| net + dec(3));
    let result = confirmed_default(&book, &venue);
    let finding = only(&result);
    assert_eq!(finding.class(), MismatchClass::VenueFilledAhead);
    let expected = Correction::MissedFill {
        order_id: OrderId(1),
        expected: book.order(OrderId(1)).expect("known").revision(),
        cumulative_filled: dec(7),
        at: later(),
    };
    assert_eq!(finding.action, Action::Correct(expected));
}

#[test]
fn a_venue_behind_on_fills_is_reported_and_never_corrected() {
    let book = two_order_book();
    let mut venue = truthful(&book);
    venue.orders[0].filled = dec(2);
    venue.net_position = venue.net_position.map(|net| net - dec(2));
    let result = confirmed_default(&book, &venue);
    let finding = only(&result);
    assert_eq!(finding.class(), MismatchClass::VenueFilledBehind);
    assert_eq!(finding.action, Action::ReportOnly(ReportOnlyReason::Policy));
    assert!(finding.mismatch.to_string().contains("venue behind"));
}

#[test]
fn quantity_price_and_side_differences_are_each_their_own_class() {
    let book = two_order_book();
    let mut venue = truthful(&book);
    venue.orders[1].quantity = dec(12);
    let result = confirmed_default(&book, &venue);
    assert_eq!(only(&result).class(), MismatchClass::QuantityDiffers);

    let mut venue = truthful(&book);
    venue.orders[1].price = dec(103);
    let result = confirmed_default(&book, &venue);
    let finding = only(&result);
    assert_eq!(finding.class(), MismatchClass::PriceDiffers);
    let Mismatch::PriceDiffers { slot_price, .. } = finding.mismatch else {
        unreachable!("checked the class")
    };
    assert_eq!(
        slot_price,
        Some(dec(102)),
        "the venue's price is not the slot's"
    );

    let mut venue = truthful(&book);
    venue.orders[1].side = Side::Buy;
    let result = confirmed_default(&book, &venue);
    assert_eq!(only(&result).class(), MismatchClass::SideDiffers);
    let mut config = ReconcileConfig::default();
    config.policies.side_differs = Policy::CancelAtVenue;
    let result = cycles(&book, &venue, &config, later(), 2);
    let cancel = VenueCancel {
        order_id: OrderId(2),
        expected: Some(book.order(OrderId(2)).expect("known").revision()),
    };
    assert_eq!(only(&result).action, Action::CancelAtVenue(vec![cancel]));
}

#[test]
fn status_differences_are_corrected_in_the_safe_direction() {
    // The book still waits for an acknowledgement the venue has given.
    let mut book = empty_book();
    add_order(&mut book, 1, -1, OrderStatus::Pending, 0);
    let result = confirmed_default(&book, &truthful(&book));
    let finding = only(&result);
    assert_eq!(finding.class(), MismatchClass::StatusDiffers);
    assert!(matches!(
        finding.action,
        Action::Correct(Correction::MissedAcknowledge { .. })
    ));

    // The venue has cancelled an order the book thinks live.
    let book = two_order_book();
    let mut venue = truthful(&book);
    venue.orders[1].status = VenueOrderStatus::Cancelled;
    let result = confirmed_default(&book, &venue);
    assert!(matches!(
        only(&result).action,
        Action::Correct(Correction::MarkLost { .. })
    ));

    // The venue still works an order the book has finished.
    let mut book = empty_book();
    add_order(&mut book, 1, -1, OrderStatus::Cancelled, 0);
    let mut venue = truthful(&book);
    let mut listed = as_listed(&book, 1);
    listed.status = VenueOrderStatus::Open;
    venue.orders.push(listed);
    let result = confirmed_default(&book, &venue);
    let cancel = VenueCancel {
        order_id: OrderId(1),
        expected: Some(book.order(OrderId(1)).expect("known").revision()),
    };
    assert_eq!(only(&result).action, Action::CancelAtVenue(vec![cancel]));
}

#[test]
fn one_action_per_order_and_the_missed_fill_goes_first() {
    let mut book = empty_book();
    add_order(&mut book, 1, -1, OrderStatus::Pending, 0);
    let mut venue = truthful(&book);
    venue.orders[0].filled = dec(3);
    venue.orders[0].status = VenueOrderStatus::PartiallyFilled;
    venue.net_position = Some(dec(3));
    let result = confirmed_default(&book, &venue);
    let classes: Vec<MismatchClass> = result.findings.iter().map(Finding::class).collect();
    assert_eq!(
        classes,
        [
            MismatchClass::VenueFilledAhead,
            MismatchClass::StatusDiffers
        ]
    );
    assert!(matches!(
        result.findings[0].action,
        Action::Correct(Correction::MissedFill { .. })
    ));
    assert_eq!(
        result.findings[1].action,
        Action::ReportOnly(ReportOnlyReason::OneActionPerOrder)
    );
}

#[test]
fn two_live_venue_orders_for_one_slot_are_found_and_the_strangers_cancelled() {
    let book = two_order_book();
    let mut venue = truthful(&book);
    let mut stranger = as_listed(&book, 1);
    stranger.order_id = OrderId(7);
    stranger.filled = Decimal::ZERO;
    stranger.status = VenueOrderStatus::Open;
    venue.orders.push(stranger);
    let mut config = ReconcileConfig::default();
    config.policies.multiple_live_orders = Policy::CancelAtVenue;
    let result = cycles(&book, &venue, &config, later(), 2);
    let classes: Vec<MismatchClass> = result.findings.iter().map(Finding::class).collect();
    assert_eq!(
        classes,
        [
            MismatchClass::UnknownInsideGrid,
            MismatchClass::MultipleLiveOrders
        ]
    );
    assert_eq!(
        result.findings[0].action,
        Action::ReportOnly(ReportOnlyReason::NotAdoptable),
        "its slot is occupied"
    );
    let Mismatch::MultipleLiveOrders {
        level,
        ref orders,
        book_live_order,
    } = result.findings[1].mismatch
    else {
        unreachable!("checked the class")
    };
    assert_eq!(
        (level, orders.as_slice(), book_live_order),
        (Level(-1), &[OrderId(1), OrderId(7)][..], Some(OrderId(1)))
    );
    let cancel = VenueCancel {
        order_id: OrderId(7),
        expected: None,
    };
    assert_eq!(
        result.findings[1].action,
        Action::CancelAtVenue(vec![cancel])
    );
}

#[test]
fn a_position_difference_no_listed_order_explains_is_found_after_the_grace_window() {
    let book = two_order_book();
    let mut venue = truthful(&book);
    venue.net_position = venue.net_position.map(|net| net + dec(5));
    let config = ReconcileConfig::default();
    let first = reconcile(&book, &venue, &config, later(), &Evidence::new());
    let finding = only(&first);
    assert_eq!(finding.class(), MismatchClass::PositionDiffers);
    assert!(
        !finding.confirmed,
        "first seen now: the grace window starts now"
    );
    let after_grace = later().saturating_add(ReconcileConfig::DEFAULT_IN_FLIGHT_GRACE);
    let second = reconcile(&book, &venue, &config, after_grace, &first.evidence);
    let finding = only(&second);
    assert!(finding.confirmed);
    assert_eq!(finding.action, Action::ReportOnly(ReportOnlyReason::Policy));
    let Mismatch::PositionDiffers { unexplained, .. } = finding.mismatch else {
        unreachable!("checked the class")
    };
    assert_eq!(unexplained, dec(5));

    let tolerant = ReconcileConfig {
        position_tolerance: dec(5),
        ..ReconcileConfig::default()
    };
    assert!(reconcile(&book, &venue, &tolerant, later(), &Evidence::new()).is_clean());
}

#[test]
fn a_missing_venue_report_of_position_is_not_compared_with_zero() {
    let book = two_order_book();
    let mut venue = truthful(&book);
    venue.net_position = None;
    assert!(cycles(&book, &venue, &ReconcileConfig::default(), later(), 3).is_clean());
}

#[test]
fn report_only_policies_confirm_but_never_act() {
    let book = two_order_book();
    let mut venue = truthful(&book);
    venue.orders[0].filled = dec(7);
    let config = ReconcileConfig {
        policies: Policies::report_only(),
        ..ReconcileConfig::default()
    };
    let result = cycles(&book, &venue, &config, later(), 2);
    assert_eq!(result.confirmed_count(MismatchClass::VenueFilledAhead), 1);
    assert_eq!(result.corrections().count(), 0);
    assert_eq!(result.venue_cancels().count(), 0);
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
    let mut config = SimulatedVenueConfig::new(1, later(), dec(100));
    config.price_interval = None;
    let venue = SimulatedVenue::new(config).expect("valid");
    let runner = RunnerConfig {
        record_metrics: false,
        ..RunnerConfig::default()
    };
    let mut reconciler = Reconciler::new(venue, ReconcileConfig::default(), runner).expect("valid");
    // The simulated venue knows none of the book's orders: both are absent, and its position
    // is not the book's.
    let first = reconciler.observe(&book, later()).expect("answered");
    assert_eq!(first.findings.len(), 3);
    let before = reconciler.evidence().clone();
    for faults in [
        Faults {
            query_failure_rate: 1.0,
            ..Faults::none()
        },
        Faults {
            query_timeout_rate: 1.0,
            ..Faults::none()
        },
    ] {
        reconciler.venue_mut().set_faults(faults).expect("valid");
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
    reconciler
        .venue_mut()
        .set_faults(Faults::none())
        .expect("valid");
    let next = reconciler.observe(&book, later()).expect("answered");
    assert!(
        next.findings
            .iter()
            .all(|finding| finding.observations == 2)
    );
}
