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
    let ids: Vec<OrderId> = book.open_orders().iter().map(|order| order.id()).collect();
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
fn purging_tombstones_never_overflows_the_slot_s_retired_position() {
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
