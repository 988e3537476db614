//! Unit tests of the finished-order adoption ([`Correction::AdoptFinished`]): what it adds, its
//! precondition, its typed rejections, and that the tombstone it makes is like any other.

use std::time::Duration;

use rust_decimal::Decimal;

use super::*;

fn dec(value: i64) -> Decimal {
    Decimal::from(value)
}

/// Levels -10..=10 at 100 + level.
fn book() -> Book {
    let grid = Grid::new(dec(100), dec(1), Level(-10), Level(10)).expect("valid grid");
    Book::new(BookConfig::new(grid))
}

/// Order `id`, a sell of 10 at level 2, finished with `filled` in `status`, at 5 s.
fn adoption(id: u64, filled: i64, status: OrderStatus) -> FinishedAdoption {
    FinishedAdoption {
        order_id: OrderId(id),
        level: Level(2),
        side: Side::Sell,
        price: dec(102),
        quantity: dec(10),
        cumulative_filled: dec(filled),
        status,
        expected: Revision::ABSENT,
        at: Timestamp::from_millis(5_000),
    }
}

fn adopt(adoption: FinishedAdoption) -> BookCommand {
    BookCommand::Correct(Correction::AdoptFinished(adoption))
}

#[test]
fn a_finished_adoption_is_a_tombstone_whose_fills_are_in_its_slot_and_the_net_position() {
    let mut book = book();
    let digest = book.state_digest();
    assert_eq!(
        book.apply(&adopt(adoption(1, 4, OrderStatus::Cancelled))),
        Ok(Applied::Corrected {
            kind: "adopt_finished"
        })
    );
    let order = book.order(OrderId(1)).expect("kept as a tombstone");
    assert_eq!(order.status(), OrderStatus::Cancelled);
    assert_eq!(order.filled(), dec(4));
    assert!(order.is_adopted());
    assert_eq!(order.finished_at(), Some(Timestamp::from_millis(5_000)));
    let slot = book.slot(Level(2)).expect("the slot is created");
    assert_eq!((slot.position(), slot.live_order()), (dec(-4), None));
    assert_eq!(book.net_position(), dec(-4));
    assert_eq!(
        book.adopted_position().total(),
        Decimal::ZERO,
        "no position adopted"
    );
    assert_eq!(book.tombstone_count(), 1);
    assert_eq!(book.count(OrderStatus::Cancelled), 1);
    assert_ne!(book.state_digest(), digest, "the digest covers it");
    book.check_invariants().unwrap();
}

#[test]
fn the_same_finished_adoption_again_is_stale_and_so_is_one_for_a_known_order() {
    let mut book = book();
    let command = adopt(adoption(1, 10, OrderStatus::Filled));
    book.apply(&command).unwrap();
    let before = book.clone();
    // The order is known now.
    assert_eq!(
        book.apply(&command),
        Err(Rejection::StalePrecondition {
            target: GuardTarget::Order(OrderId(1)),
            expected: Revision::ABSENT,
            actual: Revision(1),
        })
    );
    // Another order computed from the same slot before: the slot has moved on.
    assert_eq!(
        book.apply(&adopt(adoption(3, 10, OrderStatus::Filled))),
        Err(Rejection::StalePrecondition {
            target: GuardTarget::Slot(Level(2)),
            expected: Revision::ABSENT,
            actual: Revision(1),
        })
    );
    // Chained on the slot's revision, it applies.
    let next = FinishedAdoption {
        expected: Revision(1),
        ..adoption(3, 10, OrderStatus::Filled)
    };
    assert!(book.apply(&adopt(next)).is_ok());
    assert_eq!(book.slot(Level(2)).map(Slot::position), Some(dec(-20)));
    assert_ne!(book, before);
}

#[test]
fn a_purged_adoption_sent_again_is_stale_and_counts_nothing_twice() {
    let grid = Grid::new(dec(100), dec(1), Level(-10), Level(10)).expect("valid grid");
    let mut config = BookConfig::new(grid);
    config.max_tombstones = 0;
    let mut book = Book::new(config);
    let command = adopt(adoption(1, 4, OrderStatus::Cancelled));
    book.apply(&command).unwrap();
    assert!(book.order(OrderId(1)).is_none(), "purged at once");
    let before = book.clone();
    assert!(matches!(
        book.apply(&command),
        Err(Rejection::StalePrecondition {
            target: GuardTarget::Slot(_),
            ..
        })
    ));
    assert_eq!(book, before);
    assert_eq!(book.net_position(), dec(-4));
}

#[test]
fn a_finished_adoption_keeps_the_live_order_and_side_of_its_slot() {
    let mut book = book();
    book.apply(&BookCommand::Place(Place {
        order_id: OrderId(7),
        level: Level(2),
        side: Side::Buy,
        price: dec(102),
        quantity: dec(3),
        at: Timestamp::from_millis(1_000),
    }))
    .unwrap();
    let live = book.live_orders().into_iter().cloned().collect::<Vec<_>>();
    let expected = book.slot(Level(2)).unwrap().revision();
    book.apply(&adopt(FinishedAdoption {
        expected,
        ..adoption(1, 10, OrderStatus::Filled)
    }))
    .unwrap();
    let slot = book.slot(Level(2)).unwrap();
    assert_eq!(slot.live_order(), Some(OrderId(7)));
    assert_eq!(slot.side(), Side::Buy);
    assert_eq!(slot.position(), dec(-10));
    assert_eq!(
        book.live_orders().into_iter().cloned().collect::<Vec<_>>(),
        live
    );
    book.check_invariants().unwrap();
}

#[test]
fn inconsistent_finished_adoptions_are_refused_and_change_nothing() {
    let mut book = book();
    let before = book.clone();
    let inconsistent = |status, filled| Rejection::InconsistentFinishedAdoption {
        order_id: OrderId(1),
        status,
        cumulative_filled: dec(filled),
        quantity: dec(10),
    };
    for (status, filled) in [
        (OrderStatus::Open, 3),
        (OrderStatus::Pending, 0),
        (OrderStatus::PartiallyFilled, 3),
        (OrderStatus::Filled, 9),
        (OrderStatus::Rejected, 1),
    ] {
        assert_eq!(
            book.apply(&adopt(adoption(1, filled, status))),
            Err(inconsistent(status, filled))
        );
    }
    let off_grid = FinishedAdoption {
        price: dec(101),
        ..adoption(1, 2, OrderStatus::Cancelled)
    };
    assert!(matches!(
        book.apply(&adopt(off_grid)),
        Err(Rejection::PriceMismatch { .. })
    ));
    assert!(matches!(
        book.apply(&adopt(adoption(1, 11, OrderStatus::Cancelled))),
        Err(Rejection::FillExceedsQuantity { .. })
    ));
    assert!(matches!(
        book.apply(&adopt(adoption(1, -1, OrderStatus::Cancelled))),
        Err(Rejection::NegativeFill(_))
    ));
    assert_eq!(book, before);
    // A cancelled or expired order may have filled in whole (a fill that raced its cancel).
    assert!(
        book.apply(&adopt(adoption(1, 10, OrderStatus::Expired)))
            .is_ok()
    );
}

#[test]
fn an_adopted_tombstone_is_purged_like_any_other_and_its_fills_stay_in_its_slot() {
    let mut book = book();
    book.apply(&adopt(adoption(1, 6, OrderStatus::Cancelled)))
        .unwrap();
    // Later venue reports about it are stale or duplicates, as for any finished order.
    let late_fill = BookCommand::Fill(FillReport {
        order_id: OrderId(1),
        cumulative_filled: dec(5),
        fill_price: None,
        trade_id: None,
        venue_seq: None,
        at: Timestamp::from_millis(5_001),
    });
    assert_eq!(
        book.apply(&late_fill),
        Ok(Applied::Stale(StaleReason::LowerCumulativeFill))
    );
    // Steps the retention clock past the retention with unrelated commands.
    let retention = BookConfig::DEFAULT_TOMBSTONE_RETENTION;
    let step = BookConfig::DEFAULT_MAX_CLOCK_STEP;
    let steps = retention.as_secs() / step.as_secs() + 2;
    for index in 1..=steps {
        let at = Timestamp::from_millis(5_000).saturating_add(Duration::from_secs(60 * index));
        book.apply(&BookCommand::Place(Place {
            order_id: OrderId(100 + index),
            level: Level(-3),
            side: Side::Buy,
            price: dec(97),
            quantity: dec(1),
            at,
        }))
        .unwrap();
        book.apply(&BookCommand::Cancel(StatusReport {
            order_id: OrderId(100 + index),
            venue_seq: None,
            at,
        }))
        .unwrap();
    }
    assert!(book.order(OrderId(1)).is_none(), "purged");
    assert_eq!(book.slot(Level(2)).map(Slot::position), Some(dec(-6)));
    assert_eq!(book.net_position(), dec(-6));
    book.check_invariants().unwrap();
}
