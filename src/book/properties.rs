//! Property tests: the book's merge laws and invariants under arbitrary command sequences.

use std::time::Duration;

use proptest::prelude::*;
use rust_decimal::Decimal;

use super::storage::MapOps;
use super::strategies::{
    at, command, config, correction, finished_adoption, level, order_id, replay, replay_with, side,
};
use super::*;

/// [`config`] with no tombstone ever purged, so that an order id, once used, stays known.
fn config_keeping_every_tombstone() -> BookConfig {
    let mut config = config();
    config.tombstone_retention = Duration::from_secs(3_600);
    config.max_tombstones = usize::MAX;
    config
}

/// Whether a command's result changed the book.
fn changed(result: &Result<Applied, Rejection>) -> bool {
    matches!(result, Ok(applied) if !matches!(applied, Applied::Stale(_) | Applied::Duplicate))
}

/// `correction` with its precondition set to `expected`.
fn expecting(correction: Correction, expected: Revision) -> Correction {
    match correction {
        Correction::MissedFill {
            order_id,
            cumulative_filled,
            at,
            ..
        } => Correction::MissedFill {
            order_id,
            expected,
            cumulative_filled,
            at,
        },
        Correction::MissedAcknowledge { order_id, at, .. } => Correction::MissedAcknowledge {
            order_id,
            expected,
            at,
        },
        Correction::MarkLost { order_id, at, .. } => Correction::MarkLost {
            order_id,
            expected,
            at,
        },
        Correction::Adopt(adoption) => Correction::Adopt(Adoption {
            expected,
            ..adoption
        }),
        Correction::AdoptFinished(adoption) => Correction::AdoptFinished(FinishedAdoption {
            expected,
            ..adoption
        }),
    }
}

/// What `correction`'s precondition is about, and its revision in `book` now (`None` for an
/// order the book does not know).
fn guarded_revision(book: &Book, correction: &Correction) -> (GuardTarget, Option<Revision>) {
    let slot = |level: Level| {
        (
            GuardTarget::Slot(level),
            Some(book.slot(level).map_or(Revision::ABSENT, Slot::revision)),
        )
    };
    match correction {
        Correction::Adopt(adoption) => slot(adoption.level),
        Correction::AdoptFinished(adoption) => slot(adoption.level),
        other => (
            GuardTarget::Order(other.order_id()),
            book.order(other.order_id()).map(Order::revision),
        ),
    }
}

/// Applies `commands` one at a time to an empty book, handing `check` the book before, the
/// command, its result and the book after.
fn for_each_step(
    commands: &[BookCommand],
    mut check: impl FnMut(
        &Book,
        &BookCommand,
        &Result<Applied, Rejection>,
        &Book,
    ) -> Result<(), TestCaseError>,
) -> Result<(), TestCaseError> {
    let mut book = Book::new(config());
    for command in commands {
        let before = book.clone();
        let result = book.apply(command);
        check(&before, command, &result, &book)?;
    }
    Ok(())
}

/// Places order 1, a buy of `quantity` at level 0, at 1 ms.
fn place_one_buy(quantity: i64) -> BookCommand {
    BookCommand::Place(Place {
        order_id: OrderId(1),
        level: Level(0),
        side: Side::Buy,
        price: Decimal::from(100),
        quantity: Decimal::from(quantity),
        at: Timestamp::from_millis(1),
    })
}

/// A fill report for order 1 with cumulative quantity `value`; every other field (price,
/// trade id, venue sequence, time) grows with `value`, as a venue's later reports do.
fn fill_of_one(value: i64) -> BookCommand {
    BookCommand::Fill(FillReport {
        order_id: OrderId(1),
        cumulative_filled: Decimal::from(value),
        fill_price: Some(Decimal::from(99 + value)),
        trade_id: Some(value.unsigned_abs()),
        venue_seq: Some(value.unsigned_abs()),
        at: Timestamp::from_millis(10 + value.unsigned_abs()),
    })
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
    let levels: Vec<Level> = book.slots.iter().map(|(level, _)| level).collect();
    for level in levels {
        if let Some(slot) = book.slots.get_mut(level) {
            slot.revision = Revision(0);
            if let Some(order) = slot.live.as_mut() {
                order.revision = Revision(0);
            }
        }
    }
    book
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(crate::test_cases::cases(256, 64)))]

    #[test]
    fn prop_invariants_hold_after_any_command_sequence(
        commands in prop::collection::vec(command(), 0..120)
    ) {
        for_each_step(&commands, |before, command, result, book| {
            if let Err(rejection) = result {
                prop_assert_eq!(book, before, "rejected ({}) but changed", rejection);
            }
            if matches!(result, Ok(Applied::Stale(_) | Applied::Duplicate)) {
                prop_assert_eq!(book, before, "stale or duplicate but changed");
            }
            book.check_invariants()
                .map_err(|violation| TestCaseError::fail(format!("after {command:?}: {violation}")))
        })?;
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
            .map(|&value| fill_of_one(value))
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
        let place = place_one_buy(quantity);
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

    #[test]
    fn prop_redelivering_an_applied_command_later_changes_nothing(
        commands in prop::collection::vec(command(), 1..80),
        pick in any::<prop::sample::Index>(),
        delay in any::<prop::sample::Index>(),
    ) {
        // A duplicate need not arrive right after its original: whatever came in between, a
        // command that changed the book changes nothing when it arrives again (as long as its
        // order's tombstone is kept, so the id cannot have been reused).
        let config = config_keeping_every_tombstone();
        let (expected, results) = replay_with::<Persistent>(&config, &commands);
        let applied: Vec<usize> = (0..commands.len()).filter(|&index| changed(&results[index])).collect();
        prop_assume!(!applied.is_empty());
        let original = applied[pick.index(applied.len())];
        let again = original + 1 + delay.index(commands.len() - original);
        let mut redelivered = commands.clone();
        redelivered.insert(again, commands[original].clone());
        let (actual, mut actual_results) = replay_with::<Persistent>(&config, &redelivered);
        prop_assert!(!changed(&actual_results[again]), "the copy applied: {:?}", actual_results[again]);
        prop_assert_eq!(&actual, &expected);
        let _copy = actual_results.remove(again);
        prop_assert_eq!(actual_results, results, "the copy changed what came after it");
    }

    #[test]
    fn prop_a_correction_whose_precondition_no_longer_holds_is_rejected_and_changes_nothing(
        history in prop::collection::vec(command(), 0..60),
        correction in correction(),
        by in 1_u64..4,
        behind in any::<bool>(),
    ) {
        let (book, _) = replay::<Persistent>(&history);
        let (target, current) = guarded_revision(&book, &correction);
        let now = current.unwrap_or(Revision::ABSENT).0;
        // Behind the current revision (a correction computed before later changes) where
        // there is room below it, ahead of it otherwise.
        let stale = Revision(if behind && now >= by { now - by } else { now + by });
        let command = BookCommand::Correct(expecting(correction.clone(), stale));
        let mut after = book.clone();
        let result = after.apply(&command);
        prop_assert!(result.is_err(), "{:?} applied: {:?}", command, result);
        prop_assert_eq!(&after, &book);
        match (target, current) {
            // An order correction checks its guard first.
            (GuardTarget::Order(_), Some(actual)) => prop_assert_eq!(
                result,
                Err(Rejection::StalePrecondition { target, expected: stale, actual })
            ),
            // An adoption validates the order it adopts first, so another typed rejection can
            // come before the guard's; but one that passes those checks (with the current
            // revision it applies, or fails only on a check after the guard) is refused by
            // the guard.
            (GuardTarget::Slot(_), Some(actual)) => {
                let fresh = book.clone().apply(&BookCommand::Correct(expecting(correction, actual)));
                if matches!(
                    fresh,
                    Ok(_) | Err(Rejection::SlotOccupied { .. } | Rejection::ArithmeticOverflow)
                ) {
                    prop_assert_eq!(
                        result,
                        Err(Rejection::StalePrecondition { target, expected: stale, actual })
                    );
                }
            }
            // Order corrections never guard the adopted position.
            (GuardTarget::AdoptedPosition, _) | (_, None) => {}
        }
    }

    #[test]
    fn prop_a_correction_computed_from_the_current_state_is_never_refused_as_stale(
        history in prop::collection::vec(command(), 0..60),
        correction in correction(),
    ) {
        let (book, _) = replay::<Persistent>(&history);
        // A finished-order adoption is computed only for an order the book does not know.
        prop_assume!(!matches!(
            &correction,
            Correction::AdoptFinished(adoption) if book.order(adoption.order_id).is_some()
        ));
        let (_, current) = guarded_revision(&book, &correction);
        let command = BookCommand::Correct(expecting(correction, current.unwrap_or(Revision::ABSENT)));
        let result = book.clone().apply(&command);
        prop_assert!(
            !matches!(result, Err(Rejection::StalePrecondition { .. })),
            "{:?} was refused as stale: {:?}", command, result
        );
    }

    #[test]
    fn prop_fills_never_decrease_and_finished_orders_stay_finished(
        commands in prop::collection::vec(command(), 0..120)
    ) {
        for_each_step(&commands, |before, command, _, book| {
            for order in before.orders_by_id() {
                // A purged tombstone leaves the index; whatever is still there never goes back.
                let Some(now) = book.order(order.id()) else { continue };
                prop_assert!(now.filled() >= order.filled(), "{} went back on {:?}", order.id(), command);
                prop_assert!(now.revision() >= order.revision());
                if order.status().is_finished() {
                    prop_assert_eq!(now.status(), order.status(), "{} left its finished state", order.id());
                }
            }
            Ok(())
        })?;
    }

    #[test]
    fn prop_fill_reports_merge_by_maximum_whatever_their_order_and_repeats(
        quantity in 1_i64..12,
        reports in prop::collection::vec(0_i64..14, 1..16),
    ) {
        // Reports may repeat and come in any order; those above the quantity are refused. The
        // book ends exactly as if only the largest valid report had arrived.
        let place = place_one_buy(quantity);
        let all: Vec<BookCommand> =
            std::iter::once(place.clone()).chain(reports.iter().map(|&value| fill_of_one(value))).collect();
        let (merged, results) = replay::<Persistent>(&all);
        let largest = reports.iter().copied().filter(|&value| value <= quantity).max();
        let only_largest: Vec<BookCommand> =
            std::iter::once(place).chain(largest.map(fill_of_one)).collect();
        let (expected, _) = replay::<Persistent>(&only_largest);
        prop_assert_eq!(without_revisions(&merged), without_revisions(&expected));
        prop_assert_eq!(merged.net_position(), Decimal::from(largest.unwrap_or(0)));
        for (value, result) in reports.iter().zip(&results[1..]) {
            if *value > quantity {
                let refused = matches!(result, Err(Rejection::FillExceedsQuantity { .. }));
                prop_assert!(refused, "{:?}", result);
            }
        }
    }
}

/// Positive decimals over the whole representable range: any scale from 0 to 28, mantissas
/// from one digit to the full 96 bits, powers of ten over-represented.
fn any_amount() -> impl Strategy<Value = Decimal> {
    let mantissa = prop_oneof![
        1_i128..1_000,
        1_i128..(1_i128 << 96),
        Just((1_i128 << 96) - 1),
        (0_u32..=28).prop_map(|exponent| 10_i128.pow(exponent)),
    ];
    (mantissa, 0_u32..=28)
        .prop_map(|(mantissa, scale)| Decimal::from_i128_with_scale(mantissa, scale))
}

/// Command sequences whose quantities and fills come from a small pool of amounts of mixed
/// huge and tiny scales, so that fills complete orders, leave them partly filled, and add up
/// positions whose exact sums need more digits than a decimal holds.
fn mixed_scale_commands() -> impl Strategy<Value = Vec<BookCommand>> {
    prop::collection::vec(any_amount(), 1..5).prop_flat_map(|pool| {
        let amount = prop::sample::select(pool);
        let place = (order_id(), level(), side(), amount.clone(), at()).prop_map(
            |(order_id, level, side, quantity, at)| {
                BookCommand::Place(Place {
                    order_id,
                    level,
                    side,
                    price: Decimal::from(100 + i64::from(level.0)),
                    quantity,
                    at,
                })
            },
        );
        let fill =
            (order_id(), amount.clone(), at()).prop_map(|(order_id, cumulative_filled, at)| {
                BookCommand::Fill(FillReport {
                    order_id,
                    cumulative_filled,
                    fill_price: None,
                    trade_id: None,
                    venue_seq: None,
                    at,
                })
            });
        let cancel = (order_id(), at()).prop_map(|(order_id, at)| {
            BookCommand::Cancel(StatusReport {
                order_id,
                venue_seq: None,
                at,
            })
        });
        prop::collection::vec(prop_oneof![3 => place, 5 => fill, 1 => cancel], 0..80)
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn prop_positions_are_exact_or_the_command_is_refused(commands in mixed_scale_commands()) {
        for_each_step(&commands, |before, command, result, book| {
            if let Err(rejection) = result {
                prop_assert_eq!(book, before, "rejected ({}) but changed", rejection);
            }
            // The check adds every fill exactly: a rounded position would differ from it.
            book.check_invariants()
                .map_err(|violation| TestCaseError::fail(format!("after {command:?}: {violation}")))
        })?;
    }

    #[test]
    fn prop_a_finished_adoption_adds_its_fills_and_leaves_every_other_order_as_it_is(
        history in prop::collection::vec(command(), 0..60),
        adoption in finished_adoption(),
    ) {
        let (book, _) = replay::<Persistent>(&history);
        let adoption = FinishedAdoption {
            expected: book.slot(adoption.level).map_or(Revision::ABSENT, Slot::revision),
            ..adoption
        };
        let command = BookCommand::Correct(Correction::AdoptFinished(adoption.clone()));
        let mut after = book.clone();
        let result = after.apply(&command);
        if !changed(&result) {
            prop_assert_eq!(&after, &book, "{:?} changed the book", result);
            // Refused or a duplicate only for a reason: the order is known, or the adoption
            // itself is invalid.
            if book.order(adoption.order_id).is_none() {
                prop_assert!(result.is_err(), "{:?}", result);
            }
            return Ok(());
        }
        prop_assert!(book.order(adoption.order_id).is_none(), "adopted over a known order");
        let signed = adoption.side.signed(adoption.cumulative_filled);
        prop_assert_eq!(after.net_position(), book.net_position() + signed);
        let slot_before = book.slot(adoption.level).map_or(Decimal::ZERO, Slot::position);
        prop_assert_eq!(
            after.slot(adoption.level).map(Slot::position),
            Some(slot_before + signed)
        );
        let order = after.order(adoption.order_id).expect("a tombstone");
        prop_assert!(order.status().is_finished() && order.is_adopted());
        prop_assert_eq!(order.filled(), adoption.cumulative_filled);
        prop_assert_eq!(after.live_orders(), book.live_orders(), "live orders unchanged");
        prop_assert_eq!(after.adopted_position(), book.adopted_position());
        let others = |book: &Book| -> Vec<Order> {
            book.orders_by_id()
                .into_iter()
                .filter(|order| order.id() != adoption.order_id)
                .cloned()
                .collect()
        };
        // Purging (by this command's move of the retention clock) may drop other tombstones;
        // every order still there is unchanged.
        let kept = others(&after);
        let before: Vec<Order> = others(&book)
            .into_iter()
            .filter(|order| kept.iter().any(|kept| kept.id() == order.id()))
            .collect();
        prop_assert_eq!(kept, before);
        after.check_invariants().map_err(|violation| TestCaseError::fail(violation.to_string()))?;
        // Sent again, it is stale (the order is known, or its slot has moved on).
        let once = after.clone();
        let again = after.apply(&command);
        prop_assert!(matches!(again, Err(Rejection::StalePrecondition { .. })), "{:?}", again);
        prop_assert_eq!(after, once);
    }
}
