//! The diff's walk of the slots finds exactly what a lookup per listed order finds, and the
//! reconciliation does not depend on which of the two ran.

use proptest::prelude::*;

use super::super::diff::{Visits, Walk, for_each_local, listed_positions, reconcile_with};
use super::*;
use crate::book::Order;

/// One order of the test book: its id, level and what happens to it.
#[derive(Clone, Debug)]
struct Planned {
    id: u64,
    level: i32,
    finished: bool,
}

/// Three cases in four, a book of dense ids from 1 (the walk's case, once the list covers
/// half the test grid's 21 slots); otherwise ids mostly dense with some sparse or huge ones
/// (one is enough to make the list sparse, so the diff looks each order up). Levels on the
/// test grid (-10..=10).
fn planned() -> impl Strategy<Value = Vec<Planned>> {
    let mixed = prop_oneof![
        8 => 1_u64..40,
        1 => 40_u64..10_000,
        1 => prop_oneof![Just(u64::MAX), Just(u64::MAX - 3), Just(1_u64 << 40)],
    ];
    prop_oneof![
        3 => orders(1_u64..40),
        1 => orders(mixed),
    ]
}

fn orders(id: impl Strategy<Value = u64>) -> impl Strategy<Value = Vec<Planned>> {
    prop::collection::vec(
        (id, -10_i32..=10, any::<bool>()).prop_map(|(id, level, finished)| Planned {
            id,
            level,
            finished,
        }),
        0..40,
    )
}

/// The venue's extra ids (unknown or finished orders it lists): three cases in four dense,
/// otherwise any.
fn extra_ids() -> impl Strategy<Value = Vec<u64>> {
    prop_oneof![
        3 => prop::collection::vec(1_u64..60, 0..20),
        1 => prop::collection::vec(prop_oneof![1_u64..60, any::<u64>()], 0..20),
    ]
}

/// Builds the book (skipping orders whose id or slot is taken) and a venue list of the given
/// ids plus every live order's, sorted by id without repeats, as the diff sees it.
fn book_and_list(planned: &[Planned], extra: &[u64], all_live: bool) -> (Book, Vec<VenueOrder>) {
    let mut book = empty_book();
    for order in planned {
        let taken = book.order(OrderId(order.id)).is_some()
            || book
                .slot(Level(order.level))
                .and_then(|slot| slot.live())
                .is_some();
        if taken {
            continue;
        }
        let target = if order.finished {
            OrderStatus::Cancelled
        } else {
            OrderStatus::Open
        };
        add_order(&mut book, order.id, order.level, target, 0);
    }
    let mut ids: Vec<u64> = extra.to_vec();
    if all_live {
        ids.extend(book.live_orders().iter().map(|order| order.id().0));
    }
    ids.sort_unstable();
    ids.dedup();
    let listed = ids
        .into_iter()
        .map(|id| match book.order(OrderId(id)) {
            Some(order) => VenueOrder::truthful(order, PLACED),
            None => VenueOrder {
                order_id: OrderId(id),
                updated_at: PLACED,
                filled: Decimal::ZERO,
                status: VenueOrderStatus::Open,
                side: Side::Buy,
                price: dec(99),
                quantity: dec(1),
            },
        })
        .collect();
    (book, listed)
}

/// What [`for_each_local`] visits, by position; panics if it visits a position twice, or out
/// of the list's order when it says it visited in the list's order.
fn visited<'b>(
    book: &'b Book,
    listed: &[&VenueOrder],
    walk: Walk,
) -> Vec<Option<Option<&'b Order>>> {
    let mut seen: Vec<Option<Option<&Order>>> = vec![None; listed.len()];
    let mut order = Vec::with_capacity(listed.len());
    let visits = for_each_local(book, listed, walk, |position, local| {
        assert!(
            seen[position].is_none(),
            "position {position} visited twice"
        );
        seen[position] = Some(local);
        order.push(position);
    });
    if visits == Visits::InListOrder {
        assert!(order.is_sorted(), "visits said to be in the list's order");
    }
    if walk == Walk::Never {
        assert_eq!(visits, Visits::InListOrder, "no walk");
    }
    seen
}

/// The venue's list of `book_and_list`, changed: every `every`-th order shows one lot more
/// filled, one in three of those also another status.
fn with_differences(mut listed: Vec<VenueOrder>, every: usize) -> Vec<VenueOrder> {
    for (index, order) in listed
        .iter_mut()
        .enumerate()
        .filter(|(index, _)| index % every == 0)
    {
        order.filled += Decimal::ONE;
        if index % 3 == 0 {
            order.status = VenueOrderStatus::Cancelled;
        }
    }
    listed
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(crate::test_cases::cases(256, 32)))]

    #[test]
    fn prop_walking_the_slots_finds_what_a_lookup_per_listed_order_finds(
        planned in planned(),
        extra in extra_ids(),
        all_live in any::<bool>(),
    ) {
        let (book, listed) = book_and_list(&planned, &extra, all_live);
        let listed: Vec<&VenueOrder> = listed.iter().collect();
        let expected: Vec<Option<Option<&Order>>> =
            listed.iter().map(|venue| Some(book.order(venue.order_id))).collect();
        prop_assert_eq!(visited(&book, &listed, Walk::WhenDense), expected.clone());
        prop_assert_eq!(visited(&book, &listed, Walk::Never), expected);
    }

    #[test]
    fn prop_a_reconciliation_is_the_same_whether_the_diff_walks_the_slots_or_looks_up_each_order(
        planned in planned(),
        extra in extra_ids(),
        all_live in any::<bool>(),
        every in 1_usize..5,
        net_offset in -3_i64..3,
    ) {
        let (book, listed) = book_and_list(&planned, &extra, all_live);
        let venue = VenueReport {
            as_of: later(),
            orders: with_differences(listed, every),
            net_position: Some(book.net_position() + dec(net_offset)),
        };
        let config = ReconcileConfig::default();
        let mut evidence = (Evidence::new(), Evidence::new());
        for _ in 0..3 {
            let walked = reconcile_with(&book, &venue, &config, later(), &evidence.0, Walk::WhenDense);
            let looked_up = reconcile_with(&book, &venue, &config, later(), &evidence.1, Walk::Never);
            prop_assert_eq!(&walked, &looked_up);
            evidence = (walked.evidence, looked_up.evidence);
        }
    }
}

#[test]
fn a_dense_list_of_every_live_order_is_walked_and_a_sparse_one_looked_up() {
    let planned: Vec<Planned> = (1..=21)
        .map(|id| Planned {
            id,
            level: i32::try_from(id).expect("small") - 11,
            finished: id % 5 == 0,
        })
        .collect();
    let (book, listed) = book_and_list(&planned, &[3, 5, 25], true);
    let listed: Vec<&VenueOrder> = listed.iter().collect();
    assert!(
        listed_positions(&book, &listed).is_some(),
        "dense and covering the slots"
    );
    let expected: Vec<Option<Option<&Order>>> = listed
        .iter()
        .map(|venue| Some(book.order(venue.order_id)))
        .collect();
    assert_eq!(visited(&book, &listed, Walk::WhenDense), expected);
    assert_eq!(
        for_each_local(&book, &listed, Walk::WhenDense, |_, _| {}),
        Visits::SlotsFirst
    );
    assert!(expected.contains(&Some(None)), "25 is unknown");
    assert!(
        expected
            .iter()
            .flatten()
            .flatten()
            .any(|order| order.status().is_finished()),
        "5 is finished"
    );
    // A sparse list (ids far apart) is looked up order by order.
    let (book, listed) = book_and_list(&planned, &[u64::MAX], true);
    let listed: Vec<&VenueOrder> = listed.iter().collect();
    assert!(listed_positions(&book, &listed).is_none());
}
