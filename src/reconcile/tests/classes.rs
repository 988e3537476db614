//! Each mismatch class is detected, and its policy planned.

use super::*;

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
    assert_eq!(only(&result).class(), MismatchClass::PriceDiffers);

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
