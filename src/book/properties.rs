//! Property tests: the book's merge laws and invariants under arbitrary command sequences.

use std::time::Duration;

use proptest::prelude::*;
use rust_decimal::Decimal;

use super::*;

/// Levels -5..=5 at 100 + level; commands also aim at ±6, off the grid.
fn config() -> BookConfig {
    let grid = Grid::new(Decimal::from(100), Decimal::ONE, Level(-5), Level(5)).expect("grid");
    let mut config = BookConfig::new(grid);
    // Short enough that long sequences purge tombstones too.
    config.tombstone_retention = Duration::from_millis(400);
    config.max_tombstones = 6;
    config
}

fn order_id() -> impl Strategy<Value = OrderId> {
    (1_u64..8).prop_map(OrderId)
}

fn level() -> impl Strategy<Value = Level> {
    (-6_i32..=6).prop_map(Level)
}

fn quantity() -> impl Strategy<Value = Decimal> {
    prop_oneof![
        8 => (1_i64..10).prop_map(Decimal::from),
        1 => Just(Decimal::ZERO),
        1 => (-3_i64..0).prop_map(Decimal::from),
        1 => Just(Decimal::MAX),
    ]
}

fn at() -> impl Strategy<Value = Timestamp> {
    (0_u64..1_000).prop_map(Timestamp::from_millis)
}

fn side() -> impl Strategy<Value = Side> {
    prop_oneof![Just(Side::Buy), Just(Side::Sell)]
}

/// The grid price of `level`, or an off-grid price when `on_grid` is false.
fn price_for(level: Level, on_grid: bool) -> Price {
    let base = Decimal::from(100 + i64::from(level.0));
    if on_grid {
        base
    } else {
        base + Decimal::new(5, 1)
    }
}

fn status_report() -> impl Strategy<Value = StatusReport> {
    (order_id(), proptest::option::of(0_u64..20), at()).prop_map(|(order_id, venue_seq, at)| {
        StatusReport {
            order_id,
            venue_seq,
            at,
        }
    })
}

fn fill_report() -> impl Strategy<Value = FillReport> {
    (
        order_id(),
        prop_oneof![9 => (0_i64..12).prop_map(Decimal::from), 1 => Just(Decimal::from(-1))],
        proptest::option::of(prop_oneof![Just(Decimal::from(99)), Just(Decimal::ZERO)]),
        proptest::option::of(0_u64..20),
        at(),
    )
        .prop_map(
            |(order_id, cumulative_filled, fill_price, venue_seq, at)| FillReport {
                order_id,
                cumulative_filled,
                fill_price,
                trade_id: None,
                venue_seq,
                at,
            },
        )
}

fn correction() -> impl Strategy<Value = Correction> {
    let revision = (0_u64..6).prop_map(Revision);
    prop_oneof![
        (
            order_id(),
            revision.clone(),
            (0_i64..12).prop_map(Decimal::from),
            at()
        )
            .prop_map(|(order_id, expected, cumulative_filled, at)| {
                Correction::MissedFill {
                    order_id,
                    expected,
                    cumulative_filled,
                    at,
                }
            }),
        (order_id(), revision.clone(), at()).prop_map(|(order_id, expected, at)| {
            Correction::MissedAcknowledge {
                order_id,
                expected,
                at,
            }
        }),
        (order_id(), revision.clone(), at()).prop_map(|(order_id, expected, at)| {
            Correction::MarkLost {
                order_id,
                expected,
                at,
            }
        }),
        (
            order_id(),
            level(),
            side(),
            any::<bool>(),
            quantity(),
            0_i64..12,
            revision,
            at()
        )
            .prop_map(
                |(order_id, level, side, on_grid, quantity, filled, expected, at)| {
                    Correction::Adopt(Adoption {
                        order_id,
                        level,
                        side,
                        price: price_for(level, on_grid),
                        quantity,
                        cumulative_filled: Decimal::from(filled),
                        expected,
                        at,
                    })
                }
            ),
    ]
}

/// Any command, valid or not: unknown ids, off-grid levels and prices, bad quantities, fills
/// beyond the quantity, corrections with wrong revisions.
fn command() -> impl Strategy<Value = BookCommand> {
    let place = (
        order_id(),
        level(),
        side(),
        prop::bool::weighted(0.9),
        quantity(),
        at(),
    )
        .prop_map(|(order_id, level, side, on_grid, quantity, at)| {
            BookCommand::Place(Place {
                order_id,
                level,
                side,
                price: price_for(level, on_grid),
                quantity,
                at,
            })
        });
    prop_oneof![
        3 => place,
        2 => status_report().prop_map(BookCommand::Acknowledge),
        4 => fill_report().prop_map(BookCommand::Fill),
        1 => status_report().prop_map(BookCommand::Cancel),
        1 => status_report().prop_map(BookCommand::Reject),
        1 => status_report().prop_map(BookCommand::Expire),
        2 => correction().prop_map(BookCommand::Correct),
    ]
}

fn replay<S: Storage>(commands: &[BookCommand]) -> (Book<S>, Vec<Result<Applied, Rejection>>) {
    let mut book = Book::<S>::with_storage(config());
    let results = commands.iter().map(|command| book.apply(command)).collect();
    (book, results)
}

/// The book with every revision set to zero: the part of the state that must not depend on
/// the order in which reports arrived.
fn without_revisions(book: &Book) -> Book {
    let mut book = book.clone();
    let ids: Vec<OrderId> = book.finished.entries().map(|(&id, _)| id).collect();
    for id in ids {
        if let Some(order) = book.finished.get_mut(&id) {
            order.revision = Revision(0);
        }
    }
    let levels: Vec<Level> = book.slots.entries().map(|(&level, _)| level).collect();
    for level in levels {
        if let Some(slot) = book.slots.get_mut(&level) {
            slot.revision = Revision(0);
            if let Some(order) = slot.live.as_mut() {
                order.revision = Revision(0);
            }
        }
    }
    book
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn prop_invariants_hold_after_any_command_sequence(
        commands in prop::collection::vec(command(), 0..120)
    ) {
        let mut book = Book::new(config());
        for command in &commands {
            let before = book.clone();
            let result = book.apply(command);
            if let Err(rejection) = &result {
                prop_assert_eq!(&book, &before, "rejected ({}) but changed", rejection);
            }
            if matches!(result, Ok(Applied::Stale(_) | Applied::Duplicate)) {
                prop_assert_eq!(&book, &before, "stale or duplicate but changed");
            }
            if let Err(violation) = book.check_invariants() {
                return Err(TestCaseError::fail(format!("after {command:?}: {violation}")));
            }
        }
    }

    #[test]
    fn prop_applying_any_command_twice_equals_applying_it_once(
        history in prop::collection::vec(command(), 0..60),
        repeated in command(),
    ) {
        let (mut once, _) = replay::<Persistent>(&history);
        let _ = once.apply(&repeated);
        let mut twice = once.clone();
        let second = twice.apply(&repeated);
        prop_assert_eq!(&twice, &once, "second application of {:?} gave {:?}", repeated, second);
    }

    #[test]
    fn prop_fill_report_order_does_not_change_the_final_state(
        quantity in 1_i64..12,
        cumulative in prop::collection::btree_set(1_i64..12, 1..6),
        cancel_after in proptest::option::of(0_usize..6),
        seed in any::<u64>(),
    ) {
        // One order's fill reports (each later report knows more, and happened later), maybe
        // with the venue's cancel somewhere among them, delivered in every order the seed picks.
        let order_id = OrderId(1);
        let mut reports: Vec<BookCommand> = cumulative
            .iter()
            .filter(|&&value| value <= quantity)
            .map(|&value| {
                BookCommand::Fill(FillReport {
                    order_id,
                    cumulative_filled: Decimal::from(value),
                    fill_price: Some(Decimal::from(99 + value)),
                    trade_id: Some(value.unsigned_abs()),
                    venue_seq: Some(value.unsigned_abs()),
                    at: Timestamp::from_millis(10 + value.unsigned_abs()),
                })
            })
            .collect();
        // A venue cancels only an order with quantity left, after its last fill; its report
        // may still arrive before some of the fill reports.
        let max_fill = cumulative.iter().copied().filter(|&value| value <= quantity).max().unwrap_or(0);
        if let Some(position) = cancel_after.filter(|&position| position <= reports.len() && max_fill < quantity) {
            reports.insert(position, BookCommand::Cancel(StatusReport {
                order_id,
                venue_seq: Some(1_000),
                at: Timestamp::from_millis(100),
            }));
        }
        let place = BookCommand::Place(Place {
            order_id,
            level: Level(0),
            side: Side::Buy,
            price: Decimal::from(100),
            quantity: Decimal::from(quantity),
            at: Timestamp::from_millis(1),
        });
        let in_order: Vec<BookCommand> = std::iter::once(place.clone()).chain(reports.iter().cloned()).collect();
        let (expected, _) = replay::<Persistent>(&in_order);
        let mut shuffled = reports.clone();
        let mut state = seed | 1;
        for index in (1..shuffled.len()).rev() {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            shuffled.swap(index, (state % (index as u64 + 1)) as usize);
        }
        let permuted: Vec<BookCommand> = std::iter::once(place).chain(shuffled).collect();
        let (actual, _) = replay::<Persistent>(&permuted);
        prop_assert_eq!(without_revisions(&actual), without_revisions(&expected));
        prop_assert_eq!(actual.net_position(), Decimal::from(max_fill));
    }

    #[test]
    fn prop_standard_and_persistent_storage_agree(
        commands in prop::collection::vec(command(), 0..120)
    ) {
        let (persistent, persistent_results) = replay::<Persistent>(&commands);
        let (standard, standard_results) = replay::<Standard>(&commands);
        prop_assert_eq!(persistent_results, standard_results);
        prop_assert_eq!(persistent.net_position(), standard.net_position());
        prop_assert_eq!(persistent.status_counts(), standard.status_counts());
        prop_assert_eq!(persistent.orders_by_id(), standard.orders_by_id());
        prop_assert_eq!(persistent.slots_by_price(), standard.slots_by_price());
    }
}
