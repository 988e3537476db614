//! Unit tests: every transition of the table through real commands, and every rejection.

use std::time::Duration;

use rust_decimal::Decimal;

use super::*;

fn dec(value: i64) -> Decimal {
    Decimal::from(value)
}

fn at(millis: u64) -> Timestamp {
    Timestamp::from_millis(millis)
}

/// Levels -10..=10 at 100 + level.
fn book() -> Book {
    let grid = Grid::new(dec(100), dec(1), Level(-10), Level(10)).expect("valid grid");
    Book::new(BookConfig::new(grid))
}

fn place(id: u64, level: i32, side: Side, quantity: i64) -> BookCommand {
    BookCommand::Place(Place {
        order_id: OrderId(id),
        level: Level(level),
        side,
        price: dec(100 + i64::from(level)),
        quantity: dec(quantity),
        at: at(1),
    })
}

fn status(id: u64, venue_seq: Option<u64>) -> StatusReport {
    StatusReport {
        order_id: OrderId(id),
        venue_seq,
        at: at(2),
    }
}

fn ack(id: u64) -> BookCommand {
    BookCommand::Acknowledge(status(id, None))
}

fn fill(id: u64, cumulative: i64) -> BookCommand {
    fill_seq(id, cumulative, None)
}

fn fill_seq(id: u64, cumulative: i64, venue_seq: Option<u64>) -> BookCommand {
    BookCommand::Fill(FillReport {
        order_id: OrderId(id),
        cumulative_filled: dec(cumulative),
        fill_price: Some(dec(99)),
        trade_id: Some(7),
        venue_seq,
        at: at(3),
    })
}

fn apply_ok(book: &mut Book, command: &BookCommand) -> Applied {
    let applied = book.apply(command).expect("command applies");
    book.check_invariants().expect("invariants hold");
    applied
}

/// Asserts that `command` is rejected with `expected` and leaves the book exactly as it was.
fn assert_rejected(book: &mut Book, command: &BookCommand, expected: &Rejection) {
    let before = book.clone();
    assert_eq!(book.apply(command).as_ref(), Err(expected));
    assert_eq!(*book, before, "a rejected command changed the book");
}

/// Asserts that `command` is accepted as `expected` (stale or duplicate) and changes nothing.
fn assert_no_change(book: &mut Book, command: &BookCommand, expected: &Applied) {
    let before = book.clone();
    assert_eq!(book.apply(command).as_ref(), Ok(expected));
    assert_eq!(*book, before, "a {expected:?} report changed the book");
}

fn order(book: &Book, id: u64) -> &Order {
    book.order(OrderId(id)).expect("order exists")
}

fn revision(book: &Book, id: u64) -> Revision {
    order(book, id).revision()
}

/// A book holding order 1 (buy 10 at level -2) driven into `target`, with 4 filled where the
/// status allows fills.
fn book_with_order_in(target: OrderStatus) -> Book {
    let mut book = book();
    apply_ok(&mut book, &place(1, -2, Side::Buy, 10));
    let steps: Vec<BookCommand> = match target {
        OrderStatus::Pending => vec![],
        OrderStatus::Open => vec![ack(1)],
        OrderStatus::PartiallyFilled => vec![ack(1), fill(1, 4)],
        OrderStatus::Filled => vec![ack(1), fill(1, 10)],
        OrderStatus::Cancelled => vec![ack(1), fill(1, 4), BookCommand::Cancel(status(1, None))],
        OrderStatus::Rejected => vec![BookCommand::Reject(status(1, None))],
        OrderStatus::Expired => vec![ack(1), fill(1, 4), BookCommand::Expire(status(1, None))],
        OrderStatus::Lost => vec![ack(1), fill(1, 4)],
    };
    for step in &steps {
        apply_ok(&mut book, step);
    }
    if target == OrderStatus::Lost {
        let expected = revision(&book, 1);
        apply_ok(&mut book, &mark_lost(1, expected));
    }
    assert_eq!(order(&book, 1).status(), target);
    book
}

fn mark_lost(id: u64, expected: Revision) -> BookCommand {
    BookCommand::Correct(Correction::MarkLost {
        order_id: OrderId(id),
        expected,
        at: at(5),
    })
}

/// The command that delivers `event` to order 1 of a book from [`book_with_order_in`].
fn event_command(book: &Book, event: Event) -> BookCommand {
    let filled = order(book, 1).filled();
    match event {
        Event::Acknowledge => ack(1),
        // Above what is filled and below the quantity (10), unless all 10 are filled.
        Event::PartialFill => fill(1, if filled < dec(5) { 5 } else { 9 }),
        Event::CompleteFill => fill(1, 10),
        Event::Cancel => BookCommand::Cancel(status(1, None)),
        Event::Reject => BookCommand::Reject(status(1, None)),
        Event::Expire => BookCommand::Expire(status(1, None)),
        Event::MarkLost => mark_lost(1, revision(book, 1)),
    }
}

#[test]
fn every_transition_of_the_table_happens_through_commands() {
    for from in OrderStatus::ALL {
        for event in Event::ALL {
            let mut book = book_with_order_in(from);
            let before = book.clone();
            let command = event_command(&book, event);
            let result = book.apply(&command);
            let context = format!("{from} on {event:?}");
            match transition::transition(from, event) {
                Transition::To(to) => {
                    let applied = result.unwrap_or_else(|error| panic!("{context}: {error}"));
                    assert!(
                        !matches!(applied, Applied::Stale(_) | Applied::Duplicate),
                        "{context}: {applied:?}"
                    );
                    assert_eq!(order(&book, 1).status(), to, "{context}");
                    assert!(revision(&book, 1) > revision(&before, 1), "{context}");
                }
                Transition::Duplicate => {
                    assert_eq!(result, Ok(Applied::Duplicate), "{context}");
                    assert_eq!(book, before, "{context}");
                }
                Transition::Stale => {
                    assert!(
                        matches!(result, Ok(Applied::Stale(_))),
                        "{context}: {result:?}"
                    );
                    assert_eq!(book, before, "{context}");
                }
                Transition::NotAllowed => {
                    assert!(
                        matches!(result, Err(Rejection::TransitionNotAllowed { .. })),
                        "{context}: {result:?}"
                    );
                    assert_eq!(book, before, "{context}");
                }
            }
            book.check_invariants()
                .unwrap_or_else(|violation| panic!("{context}: {violation}"));
        }
    }
}

#[test]
fn placing_creates_a_pending_order_as_the_slots_live_order() {
    let mut book = book();
    assert_eq!(
        apply_ok(&mut book, &place(1, 3, Side::Sell, 2)),
        Applied::Placed
    );
    let slot = book.slot(Level(3)).expect("slot created");
    assert_eq!(slot.live_order(), Some(OrderId(1)));
    assert_eq!(slot.price(), dec(103));
    assert_eq!(slot.side(), Side::Sell);
    assert_eq!(order(&book, 1).status(), OrderStatus::Pending);
    assert_eq!(book.count(OrderStatus::Pending), 1);
    assert_eq!(book.net_position(), Decimal::ZERO);
}

#[test]
fn fills_move_slot_and_net_position_by_side() {
    let mut book = book();
    apply_ok(&mut book, &place(1, -1, Side::Buy, 5));
    apply_ok(&mut book, &place(2, 1, Side::Sell, 5));
    apply_ok(&mut book, &fill(1, 3));
    apply_ok(&mut book, &fill(2, 5));
    assert_eq!(book.slot(Level(-1)).map(Slot::position), Some(dec(3)));
    assert_eq!(book.slot(Level(1)).map(Slot::position), Some(dec(-5)));
    assert_eq!(book.net_position(), dec(-2));
    assert_eq!(order(&book, 1).status(), OrderStatus::PartiallyFilled);
    assert_eq!(order(&book, 1).last_fill_price(), Some(dec(99)));
    assert_eq!(order(&book, 1).last_trade_id(), Some(7));
    assert_eq!(order(&book, 2).status(), OrderStatus::Filled);
    assert_eq!(order(&book, 2).remaining(), Decimal::ZERO);
}

#[test]
fn a_completed_order_frees_its_slot_for_the_next_order() {
    let mut book = book();
    apply_ok(&mut book, &place(1, 0, Side::Buy, 1));
    assert_rejected(
        &mut book,
        &place(2, 0, Side::Sell, 1),
        &Rejection::SlotOccupied {
            level: Level(0),
            live_order: OrderId(1),
        },
    );
    apply_ok(&mut book, &fill(1, 1));
    assert_eq!(book.slot(Level(0)).and_then(Slot::live_order), None);
    apply_ok(&mut book, &place(2, 0, Side::Sell, 1));
    assert_eq!(
        book.slot(Level(0)).and_then(Slot::live_order),
        Some(OrderId(2))
    );
    assert_eq!(book.slot(Level(0)).map(Slot::position), Some(dec(1)));
}

#[test]
fn duplicate_fill_is_ignored_and_lower_cumulative_is_stale() {
    let mut book = book();
    apply_ok(&mut book, &place(1, 0, Side::Buy, 10));
    apply_ok(&mut book, &fill(1, 6));
    assert_no_change(&mut book, &fill(1, 6), &Applied::Duplicate);
    assert_no_change(
        &mut book,
        &fill(1, 2),
        &Applied::Stale(StaleReason::LowerCumulativeFill),
    );
    assert_eq!(book.net_position(), dec(6));
}

#[test]
fn status_report_with_older_venue_sequence_is_stale() {
    let mut book = book();
    apply_ok(&mut book, &place(1, 0, Side::Buy, 10));
    apply_ok(&mut book, &BookCommand::Acknowledge(status(1, Some(5))));
    assert_no_change(
        &mut book,
        &BookCommand::Cancel(status(1, Some(4))),
        &Applied::Stale(StaleReason::OlderVenueSequence),
    );
    assert_eq!(order(&book, 1).venue_seq(), Some(5));
}

#[test]
fn a_higher_fill_is_applied_even_with_an_older_venue_sequence() {
    // The fill happened before the cancel, but its report arrived after: dropping it would
    // lose position.
    let mut book = book();
    apply_ok(&mut book, &place(1, 0, Side::Buy, 10));
    apply_ok(&mut book, &BookCommand::Cancel(status(1, Some(9))));
    let applied = apply_ok(&mut book, &fill_seq(1, 4, Some(8)));
    assert_eq!(
        applied,
        Applied::Filled {
            delta: dec(4),
            status: OrderStatus::Cancelled
        }
    );
    assert_eq!(book.net_position(), dec(4));
    assert_eq!(order(&book, 1).venue_seq(), Some(9));
}

#[test]
fn a_late_new_does_not_resurrect_a_filled_order() {
    let mut book = book_with_order_in(OrderStatus::Filled);
    assert_no_change(&mut book, &ack(1), &Applied::Stale(StaleReason::Superseded));
    assert_eq!(order(&book, 1).status(), OrderStatus::Filled);
}

#[test]
fn every_report_about_an_unknown_order_is_rejected() {
    let mut book = book();
    let unknown = Rejection::UnknownOrder(OrderId(42));
    for command in [
        ack(42),
        fill(42, 1),
        BookCommand::Cancel(status(42, None)),
        BookCommand::Reject(status(42, None)),
        BookCommand::Expire(status(42, None)),
        mark_lost(42, Revision(1)),
    ] {
        assert_rejected(&mut book, &command, &unknown);
    }
}

#[test]
fn placing_with_an_id_in_use_is_rejected_live_or_tombstoned() {
    let mut book = book();
    apply_ok(&mut book, &place(1, 0, Side::Buy, 1));
    assert_rejected(
        &mut book,
        &place(1, 1, Side::Buy, 1),
        &Rejection::DuplicateOrderId(OrderId(1)),
    );
    apply_ok(&mut book, &BookCommand::Cancel(status(1, None)));
    assert_rejected(
        &mut book,
        &place(1, 1, Side::Buy, 1),
        &Rejection::DuplicateOrderId(OrderId(1)),
    );
}

#[test]
fn invalid_placements_are_rejected_with_their_reason() {
    let mut book = book();
    assert_rejected(
        &mut book,
        &place(1, 0, Side::Buy, 0),
        &Rejection::NonPositiveQuantity(dec(0)),
    );
    assert_rejected(
        &mut book,
        &place(1, 0, Side::Buy, -3),
        &Rejection::NonPositiveQuantity(dec(-3)),
    );
    assert_rejected(
        &mut book,
        &place(1, 11, Side::Buy, 1),
        &Rejection::LevelOutOfRange(Level(11)),
    );
    let off_price = BookCommand::Place(Place {
        order_id: OrderId(1),
        level: Level(2),
        side: Side::Buy,
        price: Decimal::new(1025, 1),
        quantity: dec(1),
        at: at(1),
    });
    assert_rejected(
        &mut book,
        &off_price,
        &Rejection::PriceMismatch {
            level: Level(2),
            price: Decimal::new(1025, 1),
            slot_price: dec(102),
        },
    );
    let free = BookCommand::Place(Place {
        order_id: OrderId(1),
        level: Level(2),
        side: Side::Buy,
        price: dec(0),
        quantity: dec(1),
        at: at(1),
    });
    assert_rejected(&mut book, &free, &Rejection::NonPositivePrice(dec(0)));
}

#[test]
fn invalid_fills_are_rejected_with_their_reason() {
    let mut book = book();
    apply_ok(&mut book, &place(1, 0, Side::Buy, 10));
    assert_rejected(
        &mut book,
        &fill(1, 11),
        &Rejection::FillExceedsQuantity {
            order_id: OrderId(1),
            cumulative: dec(11),
            quantity: dec(10),
        },
    );
    assert_rejected(&mut book, &fill(1, -1), &Rejection::NegativeFill(dec(-1)));
    let bad_price = BookCommand::Fill(FillReport {
        order_id: OrderId(1),
        cumulative_filled: dec(1),
        fill_price: Some(dec(-5)),
        trade_id: None,
        venue_seq: None,
        at: at(3),
    });
    assert_rejected(&mut book, &bad_price, &Rejection::NonPositivePrice(dec(-5)));
}

#[test]
fn arithmetic_overflow_is_rejected_and_changes_nothing() {
    let mut book = book();
    apply_ok(&mut book, &place(1, 0, Side::Buy, 1));
    apply_ok(&mut book, &place(2, 1, Side::Buy, 1));
    let huge = |id: u64, level: i32| {
        BookCommand::Place(Place {
            order_id: OrderId(id),
            level: Level(level),
            side: Side::Buy,
            price: dec(100 + i64::from(level)),
            quantity: Decimal::MAX,
            at: at(1),
        })
    };
    apply_ok(&mut book, &huge(3, 2));
    apply_ok(&mut book, &huge(4, 3));
    let fill_max = |id: u64| {
        BookCommand::Fill(FillReport {
            order_id: OrderId(id),
            cumulative_filled: Decimal::MAX,
            fill_price: None,
            trade_id: None,
            venue_seq: None,
            at: at(3),
        })
    };
    apply_ok(&mut book, &fill_max(3));
    assert_rejected(&mut book, &fill_max(4), &Rejection::ArithmeticOverflow);
}

#[test]
fn invariants_hold_for_positions_whose_sum_fits_though_a_partial_sum_in_level_order_does_not() {
    // -6 at level 3, +1 at level -4, then +MAX at level 0: the net position MAX - 5 fits, but
    // adding the slots up by level (1 + MAX - 6) passes beyond the range on the way.
    let mut book = book();
    apply_ok(&mut book, &place(1, 3, Side::Sell, 6));
    apply_ok(&mut book, &fill(1, 6));
    apply_ok(&mut book, &place(2, -4, Side::Buy, 1));
    apply_ok(&mut book, &fill(2, 1));
    apply_ok(
        &mut book,
        &BookCommand::Place(Place {
            order_id: OrderId(3),
            level: Level(0),
            side: Side::Buy,
            price: dec(100),
            quantity: Decimal::MAX,
            at: at(1),
        }),
    );
    apply_ok(
        &mut book,
        &BookCommand::Fill(FillReport {
            order_id: OrderId(3),
            cumulative_filled: Decimal::MAX,
            fill_price: None,
            trade_id: None,
            venue_seq: None,
            at: at(3),
        }),
    );
    assert_eq!(book.net_position(), Decimal::MAX - dec(5));
    assert_eq!(book.check_invariants(), Ok(()));
}

#[test]
fn missed_fill_correction_applies_when_its_precondition_holds() {
    let mut book = book_with_order_in(OrderStatus::PartiallyFilled);
    let correction = BookCommand::Correct(Correction::MissedFill {
        order_id: OrderId(1),
        expected: revision(&book, 1),
        cumulative_filled: dec(7),
        at: at(9),
    });
    assert_eq!(
        apply_ok(&mut book, &correction),
        Applied::Corrected {
            kind: "missed_fill"
        }
    );
    assert_eq!(order(&book, 1).filled(), dec(7));
    assert_eq!(order(&book, 1).reconciled_fill(), dec(3));
    assert_eq!(book.net_position(), dec(7));
}

#[test]
fn a_correction_computed_before_a_newer_update_is_rejected_as_stale() {
    let mut book = book_with_order_in(OrderStatus::PartiallyFilled);
    let seen = revision(&book, 1);
    // The venue's own report lands first...
    apply_ok(&mut book, &fill(1, 8));
    // ...so the correction computed from the older snapshot must not apply over it.
    let actual = revision(&book, 1);
    let correction = BookCommand::Correct(Correction::MissedFill {
        order_id: OrderId(1),
        expected: seen,
        cumulative_filled: dec(6),
        at: at(9),
    });
    assert_rejected(
        &mut book,
        &correction,
        &Rejection::StalePrecondition {
            target: GuardTarget::Order(OrderId(1)),
            expected: seen,
            actual,
        },
    );
    assert_rejected(
        &mut book,
        &mark_lost(1, seen),
        &Rejection::StalePrecondition {
            target: GuardTarget::Order(OrderId(1)),
            expected: seen,
            actual,
        },
    );
}

#[test]
fn a_rejection_that_arrives_after_reconciliation_marked_the_order_lost_is_stale() {
    // The venue refused the order, but its rejection was delayed beyond the reconciler's grace
    // window; the reconciler saw the order finished at the venue and marked it lost first. The
    // late rejection is explained by that delay: stale, not a report no reordering explains.
    // (Found by the deterministic simulation with updates delayed longer than the grace.)
    let mut book = book();
    apply_ok(&mut book, &place(1, -1, Side::Buy, 2));
    let expected = revision(&book, 1);
    apply_ok(&mut book, &mark_lost(1, expected));
    assert_no_change(
        &mut book,
        &BookCommand::Reject(status(1, Some(1))),
        &Applied::Stale(StaleReason::Superseded),
    );
    assert_eq!(order(&book, 1).status(), OrderStatus::Lost);
}

#[test]
fn missed_acknowledge_opens_a_pending_order() {
    let mut book = book_with_order_in(OrderStatus::Pending);
    let correction = BookCommand::Correct(Correction::MissedAcknowledge {
        order_id: OrderId(1),
        expected: revision(&book, 1),
        at: at(9),
    });
    apply_ok(&mut book, &correction);
    assert_eq!(order(&book, 1).status(), OrderStatus::Open);
}

fn adoption(id: u64, level: i32, filled: i64, expected: Revision) -> BookCommand {
    BookCommand::Correct(Correction::Adopt(Adoption {
        order_id: OrderId(id),
        level: Level(level),
        side: Side::Sell,
        price: dec(100 + i64::from(level)),
        quantity: dec(5),
        cumulative_filled: dec(filled),
        expected,
        at: at(9),
    }))
}

#[test]
fn adopting_a_venue_order_creates_it_in_its_slot_with_its_fills() {
    let mut book = book();
    assert_eq!(
        apply_ok(&mut book, &adoption(9, 4, 2, Revision::ABSENT)),
        Applied::Corrected { kind: "adopt" }
    );
    let adopted = order(&book, 9);
    assert!(adopted.is_adopted());
    assert_eq!(adopted.status(), OrderStatus::PartiallyFilled);
    assert_eq!(
        book.slot(Level(4)).and_then(Slot::live_order),
        Some(OrderId(9))
    );
    assert_eq!(book.net_position(), dec(-2));
}

#[test]
fn adopting_into_a_slot_that_changed_or_is_occupied_is_rejected() {
    let mut book = book();
    apply_ok(&mut book, &place(1, 4, Side::Buy, 1));
    let slot_revision = book.slot(Level(4)).map(Slot::revision).expect("slot");
    assert_rejected(
        &mut book,
        &adoption(9, 4, 0, Revision::ABSENT),
        &Rejection::StalePrecondition {
            target: GuardTarget::Slot(Level(4)),
            expected: Revision::ABSENT,
            actual: slot_revision,
        },
    );
    assert_rejected(
        &mut book,
        &adoption(9, 4, 0, slot_revision),
        &Rejection::SlotOccupied {
            level: Level(4),
            live_order: OrderId(1),
        },
    );
    assert_rejected(
        &mut book,
        &adoption(1, 5, 0, Revision::ABSENT),
        &Rejection::DuplicateOrderId(OrderId(1)),
    );
}

#[test]
fn tombstones_expire_after_retention_keeping_the_slot_position() {
    let grid = Grid::new(dec(100), dec(1), Level(-10), Level(10)).expect("valid grid");
    let mut config = BookConfig::new(grid);
    config.tombstone_retention = Duration::from_secs(10);
    let mut book = Book::new(config);
    apply_ok(&mut book, &place(1, 0, Side::Buy, 2));
    apply_ok(&mut book, &fill(1, 2));
    assert_eq!(book.tombstone_count(), 1);
    // Within the retention a late report is recognised as stale.
    assert_no_change(&mut book, &ack(1), &Applied::Stale(StaleReason::Superseded));
    // A command 10 s after the fill purges it.
    let later = BookCommand::Place(Place {
        order_id: OrderId(2),
        level: Level(1),
        side: Side::Buy,
        price: dec(101),
        quantity: dec(1),
        at: at(3).saturating_add(Duration::from_secs(10)),
    });
    apply_ok(&mut book, &later);
    assert_eq!(book.tombstone_count(), 0);
    assert!(book.order(OrderId(1)).is_none());
    assert_eq!(book.slot(Level(0)).map(Slot::position), Some(dec(2)));
    assert_eq!(book.count(OrderStatus::Filled), 0);
    assert_rejected(&mut book, &ack(1), &Rejection::UnknownOrder(OrderId(1)));
}

#[test]
fn tombstones_beyond_the_maximum_are_purged_oldest_first() {
    let grid = Grid::new(dec(100), dec(1), Level(-10), Level(10)).expect("valid grid");
    let mut config = BookConfig::new(grid);
    config.max_tombstones = 2;
    let mut book = Book::new(config);
    for id in 1..=3 {
        apply_ok(&mut book, &place(id, 0, Side::Buy, 1));
        apply_ok(&mut book, &BookCommand::Cancel(status(id, None)));
    }
    assert_eq!(book.tombstone_count(), 2);
    assert!(book.order(OrderId(1)).is_none());
    assert!(book.order(OrderId(2)).is_some());
    assert!(book.order(OrderId(3)).is_some());
}

#[test]
fn queries_return_sorted_lists() {
    let mut book = book();
    for (id, level) in [(5, 3), (2, -4), (9, 0)] {
        apply_ok(&mut book, &place(id, level, Side::Buy, 1));
    }
    let levels: Vec<Level> = book
        .slots_by_price()
        .iter()
        .map(|slot| slot.level())
        .collect();
    assert_eq!(levels, vec![Level(-4), Level(0), Level(3)]);
    let ids: Vec<OrderId> = book.live_orders().iter().map(|order| order.id()).collect();
    assert_eq!(ids, vec![OrderId(2), OrderId(5), OrderId(9)]);
    assert_eq!(book.live_count(), 3);
}

#[test]
fn grid_maps_levels_and_prices_both_ways() {
    let grid = Grid::new(
        Decimal::new(1000, 1),
        Decimal::new(25, 2),
        Level(-4),
        Level(4),
    )
    .expect("valid grid");
    assert_eq!(grid.price_of(Level(2)), Some(Decimal::new(1005, 1)));
    assert_eq!(grid.level_of(Decimal::new(1005, 1)), Some(Level(2)));
    assert_eq!(grid.level_of(Decimal::new(10051, 2)), None);
    assert_eq!(grid.level_of(dec(200)), None);
    assert_eq!(grid.price_of(Level(5)), None);
    assert!(grid.spans(Decimal::new(10051, 2)));
    assert!(!grid.spans(dec(200)));
    assert_eq!(grid.nearest_level(dec(200)), Level(4));
    assert_eq!(grid.len(), 9);
    assert_eq!(
        Grid::new(dec(1), dec(0), Level(0), Level(1)),
        Err(GridError::NonPositiveStep(dec(0)))
    );
}

/// The compact layout keeps the serde form of plain fields, and round-trips.
#[cfg(feature = "serde")]
#[test]
fn orders_and_slots_serialise_as_their_plain_fields_and_round_trip() {
    let mut book = book();
    apply_ok(&mut book, &place(1, 2, Side::Sell, 5));
    apply_ok(&mut book, &fill_seq(1, 2, Some(4)));
    let order = order(&book, 1).clone();
    let json = serde_json::to_value(&order).expect("serialises");
    let expected = serde_json::json!({
        "id": 1, "level": 2, "side": "sell", "price": "102", "quantity": "5", "filled": "2",
        "status": "partially_filled", "revision": 2, "venue_seq": 4, "placed_at": 1_000_000,
        "last_activity": 3_000_000, "finished_at": null, "last_fill_price": "99",
        "last_trade_id": 7, "reconciled_fill": "0", "adopted": false,
    });
    assert_eq!(json, expected);
    let back: Order = serde_json::from_value(json).expect("deserialises");
    assert_eq!(back, order);
    let slot = book.slot(Level(2)).expect("slot").clone();
    let json = serde_json::to_value(&slot).expect("serialises");
    assert_eq!(json["position"], "-2");
    assert_eq!(json["live"]["id"], 1);
    let back: Slot = serde_json::from_value(json).expect("deserialises");
    assert_eq!(back, slot);
}

#[test]
fn a_sell_with_nothing_filled_contributes_plain_zero_not_negative_zero() {
    let zero = Side::Sell.signed(Decimal::ZERO);
    assert_eq!(zero.to_string(), "0");
    assert!(!zero.is_sign_negative());
    assert_eq!(Side::Sell.signed(dec(2)), dec(-2));
}

/// Tombstones are purged in the order their orders finished, and a late fill can still land
/// on a finished order, so the running sum of purged fills in a slot can pass `Decimal`'s range
/// although every position fits. Purging must not overflow (it used to panic the writer); the
/// tombstone that cannot be folded in yet waits, and the invariants hold throughout.
#[test]
fn purging_tombstones_never_overflows_the_slot_s_purged_position() {
    let grid = Grid::new(dec(100), dec(1), Level(-10), Level(10)).expect("valid grid");
    let mut config = BookConfig::new(grid);
    config.max_tombstones = 3;
    let mut book = Book::new(config);
    let huge_place = BookCommand::Place(Place {
        order_id: OrderId(1),
        level: Level(0),
        side: Side::Buy,
        price: dec(100),
        quantity: Decimal::MAX,
        at: at(1),
    });
    apply_ok(&mut book, &huge_place);
    apply_ok(&mut book, &BookCommand::Cancel(status(1, None)));
    apply_ok(&mut book, &place(2, 0, Side::Buy, 5));
    apply_ok(&mut book, &fill(2, 5));
    apply_ok(&mut book, &place(3, 0, Side::Sell, 10));
    apply_ok(&mut book, &fill(3, 10));
    assert_eq!(book.slot(Level(0)).map(Slot::position), Some(dec(-5)));
    // A late fill of the whole huge order: the position (MAX - 5) fits.
    let late = BookCommand::Fill(FillReport {
        order_id: OrderId(1),
        cumulative_filled: Decimal::MAX,
        fill_price: None,
        trade_id: None,
        venue_seq: None,
        at: at(4),
    });
    apply_ok(&mut book, &late);
    book.check_invariants().expect("invariants hold");
    // Two more finished orders push orders 1 and then 2 out, oldest first: MAX, then +5.
    for id in 4..=6 {
        apply_ok(&mut book, &place(id, 1, Side::Buy, 1));
        apply_ok(&mut book, &BookCommand::Cancel(status(id, None)));
        book.check_invariants()
            .expect("invariants hold after each purge");
    }
    assert_eq!(
        book.slot(Level(0)).map(Slot::position),
        Some(Decimal::MAX - dec(5)),
        "the position is untouched by purging"
    );
}

fn decimal(text: &str) -> Decimal {
    text.parse().expect("a decimal")
}

fn place_exact(id: u64, level: i32, side: Side, quantity: Decimal, at_millis: u64) -> BookCommand {
    BookCommand::Place(Place {
        order_id: OrderId(id),
        level: Level(level),
        side,
        price: dec(100 + i64::from(level)),
        quantity,
        at: at(at_millis),
    })
}

fn fill_exact(id: u64, cumulative: Decimal, at_millis: u64) -> BookCommand {
    BookCommand::Fill(FillReport {
        order_id: OrderId(id),
        cumulative_filled: cumulative,
        fill_price: None,
        trade_id: None,
        venue_seq: None,
        at: at(at_millis),
    })
}

/// Issue 10, defect 1: a buy of 720575940379279.35 at one level and a sell of the same at
/// another, both filled, then a sell of 0.000000072057594037927938 filled. The exact net
/// position needs 39 significant digits; `Decimal`'s own subtraction rounds it, and the net
/// position and the slots' sum used to disagree. The book refuses the last fill instead.
#[test]
fn a_fill_whose_exact_position_needs_more_digits_than_a_decimal_holds_is_refused() {
    let mut book = book();
    let large = decimal("720575940379279.35");
    let tiny = decimal("0.000000072057594037927938");
    apply_ok(&mut book, &place_exact(1, 0, Side::Buy, large, 1));
    apply_ok(&mut book, &fill_exact(1, large, 2));
    apply_ok(&mut book, &place_exact(2, 1, Side::Sell, large, 3));
    apply_ok(&mut book, &fill_exact(2, large, 4));
    book.check_invariants().expect("exact so far");
    apply_ok(&mut book, &place_exact(3, 1, Side::Sell, tiny, 5));
    // The slot at level 1 holds -large: -large - tiny is not a decimal.
    assert_rejected(
        &mut book,
        &fill_exact(3, tiny, 6),
        &Rejection::InexactArithmetic,
    );
    book.check_invariants()
        .expect("the refusal changed nothing");
    assert!(Rejection::InexactArithmetic.is_arithmetic());
    // The same tiny fill on a slot whose position is zero is exact, and accepted.
    apply_ok(&mut book, &place_exact(4, 2, Side::Sell, tiny, 7));
    apply_ok(&mut book, &fill_exact(4, tiny, 8));
    assert_eq!(book.net_position(), -tiny);
    book.check_invariants().expect("exact");
}

/// A fill whose remaining quantity would not be exact is refused too, so that
/// `Order::remaining` never rounds.
#[test]
fn a_fill_leaving_an_inexact_remaining_quantity_is_refused() {
    let mut book = book();
    let quantity = decimal("1000000000000000000000");
    apply_ok(&mut book, &place_exact(1, 0, Side::Buy, quantity, 1));
    let tiny = decimal("0.0000000001");
    assert_rejected(
        &mut book,
        &fill_exact(1, tiny, 2),
        &Rejection::InexactArithmetic,
    );
}

/// Issue 10, defect 8: two slots holding offsetting positions near `Decimal::MAX` have a net
/// position of zero and a gross position beyond the range; summing it used to panic.
#[test]
fn gross_position_beyond_the_decimal_range_is_an_error_not_a_panic() {
    let mut book = book();
    apply_ok(&mut book, &place_exact(1, 0, Side::Buy, Decimal::MAX, 1));
    apply_ok(&mut book, &fill_exact(1, Decimal::MAX, 2));
    assert_eq!(book.gross_position(), Ok(Decimal::MAX));
    apply_ok(&mut book, &place_exact(2, 1, Side::Sell, Decimal::MAX, 3));
    apply_ok(&mut book, &fill_exact(2, Decimal::MAX, 4));
    assert_eq!(book.net_position(), Decimal::ZERO);
    book.check_invariants().expect("a consistent book");
    let gross = book.gross_position().expect_err("beyond the range");
    assert!(gross.is_overflow());
}

/// Issue 10, defect 3: one command stamped far in the future (nanoseconds read as something
/// larger) used to move the retention clock there for good, expiring every tombstone at once,
/// so that late duplicates of recently finished orders were rejected as unknown.
#[test]
fn one_far_future_stamp_neither_expires_tombstones_nor_makes_late_duplicates_unknown() {
    let mut book = book();
    apply_ok(&mut book, &place(1, 0, Side::Buy, 2));
    apply_ok(&mut book, &fill(1, 2));
    assert_eq!(book.tombstone_count(), 1);
    let poisoned = BookCommand::Place(Place {
        order_id: OrderId(2),
        level: Level(1),
        side: Side::Buy,
        price: dec(101),
        quantity: dec(1),
        at: Timestamp::from_nanos(u64::MAX),
    });
    apply_ok(&mut book, &poisoned);
    assert_eq!(
        book.latest_activity(),
        at(3).saturating_add(BookConfig::DEFAULT_MAX_CLOCK_STEP),
        "the clock moved one step"
    );
    assert_eq!(book.tombstone_count(), 1, "the tombstone is still kept");
    assert_no_change(&mut book, &fill(1, 2), &Applied::Duplicate);
    // Two more far-future stamps move the clock by two more steps: still within retention.
    let far_future = Timestamp::from_nanos(u64::MAX);
    apply_ok(
        &mut book,
        &BookCommand::Cancel(StatusReport {
            order_id: OrderId(2),
            venue_seq: None,
            at: far_future,
        }),
    );
    apply_ok(
        &mut book,
        &place_exact(3, 2, Side::Buy, dec(1), u64::MAX / 1_000_000),
    );
    assert_no_change(&mut book, &fill(1, 2), &Applied::Duplicate);
    assert!(book.order(OrderId(1)).is_some(), "still known");
    book.check_invariants().expect("invariants hold");
}

/// A true jump of the commands' time is followed, one step per command, so tombstones do
/// expire once the clock has caught up.
#[test]
fn the_retention_clock_catches_up_with_a_true_jump_one_step_per_command() {
    let mut book = book();
    apply_ok(&mut book, &place(1, 0, Side::Buy, 2));
    apply_ok(&mut book, &fill(1, 2));
    let hour_later = at(3).saturating_add(Duration::from_secs(3_600));
    let mut id = 10;
    while book.order(OrderId(1)).is_some() {
        id += 1;
        assert!(
            id < 20,
            "the tombstone expires within retention / step + 1 commands"
        );
        apply_ok(
            &mut book,
            &BookCommand::Place(Place {
                order_id: OrderId(id),
                level: Level(2),
                side: Side::Buy,
                price: dec(102),
                quantity: dec(1),
                at: hour_later,
            }),
        );
        apply_ok(
            &mut book,
            &BookCommand::Cancel(StatusReport {
                order_id: OrderId(id),
                venue_seq: None,
                at: hour_later,
            }),
        );
    }
    // The retention (5 minutes) at one minute per command: expired after at most 5 steps.
    assert!(id <= 16, "expired after {} commands", id - 10);
    book.check_invariants().expect("invariants hold");
}

/// Issue 10, defect 8: `Grid::centred` clamped silently when the levels did not fit its
/// arithmetic, returning a grid that was not centred; and a grid of zero levels had one.
#[test]
fn grid_centred_is_centred_for_every_level_count_or_refused() {
    let grid = Grid::centred(dec(100), dec(1), u32::MAX).expect("every u32 count fits");
    assert_eq!(grid.lowest(), Level(-i32::MAX));
    assert_eq!(grid.highest(), Level(i32::MAX));
    assert_eq!(grid.len(), u64::from(u32::MAX));
    let even = Grid::centred(dec(100), dec(1), 4).expect("valid");
    assert_eq!((even.lowest(), even.highest()), (Level(-2), Level(1)));
    assert_eq!(Grid::centred(dec(100), dec(1), 0), Err(GridError::NoLevels));
}

fn books_differing_only_in_command_order() -> (Book, Book) {
    let first = [
        place(1, 0, Side::Buy, 3),
        place(2, -3, Side::Sell, 2),
        fill(1, 1),
        fill(2, 2),
    ];
    let second = [
        place(2, -3, Side::Sell, 2),
        fill(2, 2),
        place(1, 0, Side::Buy, 3),
        fill(1, 1),
    ];
    let mut one = book();
    let mut other = book();
    for command in &first {
        apply_ok(&mut one, command);
    }
    for command in &second {
        apply_ok(&mut other, command);
    }
    (one, other)
}

#[test]
fn equal_books_built_in_different_orders_have_equal_digests() {
    let (one, other) = books_differing_only_in_command_order();
    assert_eq!(one, other);
    assert_eq!(one.state_digest(), other.state_digest());
    let standard = {
        let mut book = Book::<Standard>::with_storage(one.config().clone());
        for command in [place(1, 0, Side::Buy, 3), fill(1, 1)] {
            book.apply(&command).expect("accepted");
        }
        book.apply(&place(2, -3, Side::Sell, 2)).expect("accepted");
        book.apply(&fill(2, 2)).expect("accepted");
        book
    };
    assert_eq!(
        standard.state_digest(),
        one.state_digest(),
        "storage does not matter"
    );
    // Decimals equal in value encode alike, whatever their scale.
    let mut scaled = book();
    apply_ok(
        &mut scaled,
        &place_exact(1, 0, Side::Buy, decimal("3.00"), 1),
    );
    let mut plain = book();
    apply_ok(&mut plain, &place_exact(1, 0, Side::Buy, dec(3), 1));
    assert_eq!(scaled.state_digest(), plain.state_digest());
}

#[test]
fn any_single_change_to_a_book_changes_its_digest() {
    let (base, _) = books_differing_only_in_command_order();
    let digest = base.state_digest();
    let changed = |command: BookCommand| {
        let mut book = base.clone();
        apply_ok(&mut book, &command);
        assert_ne!(book, base);
        book.state_digest()
    };
    let mut seen = vec![digest];
    for command in [
        fill(1, 2),
        place(3, 4, Side::Buy, 1),
        place(3, 4, Side::Sell, 1),
        BookCommand::Cancel(status(1, None)),
        place_exact(3, 4, Side::Buy, dec(1), 2),
        BookCommand::Fill(FillReport {
            order_id: OrderId(1),
            cumulative_filled: dec(2),
            fill_price: Some(dec(99)),
            trade_id: Some(8),
            venue_seq: Some(1),
            at: at(3),
        }),
    ] {
        let other = changed(command);
        assert!(!seen.contains(&other), "a change kept a digest");
        seen.push(other);
    }
    let mut config = base.config().clone();
    config.max_tombstones -= 1;
    assert_ne!(
        Book::new(config).state_digest(),
        Book::new(base.config().clone()).state_digest()
    );
    assert_eq!(digest.to_string().len(), 64);
    assert_eq!(StateDigest::from_bytes(*digest.as_bytes()), digest);
}

/// The first command sets an empty book's clock as it is: stepping from the epoch would
/// never reach the present, and tombstones would be stamped decades early.
#[test]
fn the_first_command_sets_the_retention_clock() {
    let mut book = book();
    let now = Timestamp::from_millis(1_764_000_000_000);
    let first = BookCommand::Place(Place {
        order_id: OrderId(1),
        level: Level(0),
        side: Side::Buy,
        price: dec(100),
        quantity: dec(1),
        at: now,
    });
    apply_ok(&mut book, &first);
    assert_eq!(book.latest_activity(), now);
}

/// A tombstone stamped within the retention of the last representable time used to expire at
/// once: its expiry, `finished_at + retention`, saturated at `u64::MAX`, which the clock (set
/// there by a first stamp at the end of time, as `snapstate replay` reads any recording) had
/// already reached. A late duplicate of the order was then rejected as unknown.
#[test]
fn a_tombstone_near_the_end_of_time_is_kept_for_its_retention() {
    let mut book = book();
    let end = Timestamp::from_nanos(u64::MAX);
    let stamped = |command: BookCommand| match command {
        BookCommand::Place(place) => BookCommand::Place(Place { at: end, ..place }),
        BookCommand::Fill(fill) => BookCommand::Fill(FillReport { at: end, ..fill }),
        other => other,
    };
    apply_ok(&mut book, &stamped(place(1, 0, Side::Buy, 2)));
    apply_ok(&mut book, &stamped(fill(1, 2)));
    assert_eq!(book.latest_activity(), end);
    assert_eq!(book.tombstone_count(), 1, "the tombstone is kept");
    assert_no_change(&mut book, &stamped(fill(1, 2)), &Applied::Duplicate);
    apply_ok(&mut book, &stamped(place(2, 1, Side::Buy, 1)));
    assert!(book.order(OrderId(1)).is_some(), "still known");
}
