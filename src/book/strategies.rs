//! Generators of book commands, valid and not, shared by the book's property tests and the
//! fuzz test that drives the book through the engine.

use std::time::Duration;

use proptest::prelude::*;
use rust_decimal::Decimal;

use super::*;

/// Levels -5..=5 at 100 + level; commands also aim at ±6, off the grid.
pub(super) fn config() -> BookConfig {
    let grid = Grid::new(Decimal::from(100), Decimal::ONE, Level(-5), Level(5)).expect("grid");
    let mut config = BookConfig::new(grid);
    // Short enough that long sequences purge tombstones too.
    config.tombstone_retention = Duration::from_millis(400);
    config.max_tombstones = 6;
    config
}

pub(super) fn order_id() -> impl Strategy<Value = OrderId> {
    (1_u64..8).prop_map(OrderId)
}

pub(super) fn level() -> impl Strategy<Value = Level> {
    (-6_i32..=6).prop_map(Level)
}

pub(super) fn quantity() -> impl Strategy<Value = Decimal> {
    prop_oneof![
        8 => (1_i64..10).prop_map(Decimal::from),
        1 => Just(Decimal::ZERO),
        1 => (-3_i64..0).prop_map(Decimal::from),
        1 => Just(Decimal::MAX),
    ]
}

pub(super) fn at() -> impl Strategy<Value = Timestamp> {
    (0_u64..1_000).prop_map(Timestamp::from_millis)
}

pub(super) fn side() -> impl Strategy<Value = Side> {
    prop_oneof![Just(Side::Buy), Just(Side::Sell)]
}

/// The grid price of `level`, or an off-grid price when `on_grid` is false.
pub(super) fn price_for(level: Level, on_grid: bool) -> Price {
    let base = Decimal::from(100 + i64::from(level.0));
    if on_grid {
        base
    } else {
        base + Decimal::new(5, 1)
    }
}

/// A cumulative filled quantity: mostly small, sometimes negative, and sometimes
/// `Decimal::MAX`, which fills an order of that quantity and then overflows its slot's or the
/// book's position.
pub(super) fn cumulative_fill() -> impl Strategy<Value = Decimal> {
    prop_oneof![
        18 => (0_i64..12).prop_map(Decimal::from),
        2 => Just(Decimal::from(-1)),
        1 => Just(Decimal::MAX),
    ]
}

pub(super) fn status_report() -> impl Strategy<Value = StatusReport> {
    (order_id(), proptest::option::of(0_u64..20), at()).prop_map(|(order_id, venue_seq, at)| {
        StatusReport {
            order_id,
            venue_seq,
            at,
        }
    })
}

pub(super) fn fill_report() -> impl Strategy<Value = FillReport> {
    (
        order_id(),
        cumulative_fill(),
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

pub(super) fn correction() -> impl Strategy<Value = Correction> {
    let revision = (0_u64..6).prop_map(Revision);
    prop_oneof![
        (order_id(), revision.clone(), cumulative_fill(), at()).prop_map(
            |(order_id, expected, cumulative_filled, at)| {
                Correction::MissedFill {
                    order_id,
                    expected,
                    cumulative_filled,
                    at,
                }
            }
        ),
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
            prop_oneof![12 => (0_i64..12).prop_map(Decimal::from), 1 => Just(Decimal::MAX)],
            revision,
            at()
        )
            .prop_map(
                |(order_id, level, side, on_grid, quantity, cumulative_filled, expected, at)| {
                    Correction::Adopt(Adoption {
                        order_id,
                        level,
                        side,
                        price: price_for(level, on_grid),
                        quantity,
                        cumulative_filled,
                        expected,
                        at,
                    })
                }
            ),
        finished_adoption().prop_map(Correction::AdoptFinished),
    ]
}

/// A finished-order adoption: mostly consistent (a finished status that fits its fills, on
/// the grid), sometimes not (a live status, `filled` short of the quantity, off the grid).
pub(super) fn finished_adoption() -> impl Strategy<Value = FinishedAdoption> {
    (
        order_id(),
        level(),
        side(),
        prop::bool::weighted(0.9),
        quantity(),
        prop_oneof![12 => (0_i64..12).prop_map(Decimal::from), 1 => Just(Decimal::MAX)],
        prop::sample::select(&OrderStatus::ALL[..]),
        any::<bool>(),
        (0_u64..6).prop_map(Revision),
        at(),
    )
        .prop_map(
            |(order_id, level, side, on_grid, quantity, filled, status, whole, expected, at)| {
                // Half of them filled in whole, so that `filled` adoptions often fit.
                let cumulative_filled = if whole { quantity } else { filled };
                FinishedAdoption {
                    order_id,
                    level,
                    side,
                    price: price_for(level, on_grid),
                    quantity,
                    cumulative_filled,
                    status,
                    expected,
                    at,
                }
            },
        )
}

/// Any command, valid or not: unknown ids, off-grid levels and prices, bad quantities, fills
/// beyond the quantity, corrections with wrong revisions.
pub(super) fn command() -> impl Strategy<Value = BookCommand> {
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

/// Applies `commands` to an empty book of [`config`]; returns the book and every result.
pub(super) fn replay<S: Storage>(
    commands: &[BookCommand],
) -> (Book<S>, Vec<Result<Applied, Rejection>>) {
    replay_with(&config(), commands)
}

/// Applies `commands` to an empty book of `config`; returns the book and every result.
pub(super) fn replay_with<S: Storage>(
    config: &BookConfig,
    commands: &[BookCommand],
) -> (Book<S>, Vec<Result<Applied, Rejection>>) {
    let mut book = Book::<S>::with_storage(config.clone());
    let results = commands.iter().map(|command| book.apply(command)).collect();
    (book, results)
}
