//! The diff's walk of the slots finds exactly what a lookup per listed order finds.

use proptest::prelude::*;

use super::super::diff::{look_up, walk_slots};
use super::*;
use crate::book::Order;

/// One order of the test book: its id, level and what happens to it.
#[derive(Clone, Debug)]
struct Planned {
    id: u64,
    level: i32,
    finished: bool,
}

/// Ids mostly dense from 1, some sparse or huge; levels on the test grid (-10..=10).
fn planned() -> impl Strategy<Value = Vec<Planned>> {
    let id = prop_oneof![
        8 => 1_u64..40,
        1 => 40_u64..10_000,
        1 => prop_oneof![Just(u64::MAX), Just(u64::MAX - 3), Just(1_u64 << 40)],
    ];
    prop::collection::vec(
        (id, -10_i32..=10, any::<bool>()).prop_map(|(id, level, finished)| Planned {
            id,
            level,
            finished,
        }),
        0..40,
    )
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

proptest! {
    #![proptest_config(ProptestConfig::with_cases(crate::test_cases::cases(256, 32)))]

    #[test]
    fn prop_walking_the_slots_finds_what_a_lookup_per_listed_order_finds(
        planned in planned(),
        extra in prop::collection::vec(prop_oneof![1_u64..60, any::<u64>()], 0..20),
        all_live in any::<bool>(),
    ) {
        let (book, listed) = book_and_list(&planned, &extra, all_live);
        let listed: Vec<&VenueOrder> = listed.iter().collect();
        let expected: Vec<Option<&Order>> =
            listed.iter().map(|venue| book.order(venue.order_id)).collect();
        if let Some(walked) = walk_slots(&book, &listed) {
            prop_assert_eq!(walked, expected.clone());
        }
        prop_assert_eq!(look_up(&book, &listed), expected);
    }
}

#[test]
fn a_dense_list_of_every_live_order_is_found_by_the_walk() {
    let planned: Vec<Planned> = (1..=21)
        .map(|id| Planned {
            id,
            level: i32::try_from(id).expect("small") - 11,
            finished: id % 5 == 0,
        })
        .collect();
    let (book, listed) = book_and_list(&planned, &[3, 5, 25], true);
    let listed: Vec<&VenueOrder> = listed.iter().collect();
    let walked = walk_slots(&book, &listed).expect("dense and covering the slots");
    let expected: Vec<Option<&Order>> = listed
        .iter()
        .map(|venue| book.order(venue.order_id))
        .collect();
    assert_eq!(walked, expected);
    assert!(expected.iter().any(Option::is_none), "25 is unknown");
    assert!(
        expected
            .iter()
            .flatten()
            .any(|order| order.status().is_finished()),
        "5 is finished"
    );
    // A sparse list (ids far apart) is looked up order by order.
    let (book, listed) = book_and_list(&planned, &[u64::MAX], true);
    let listed: Vec<&VenueOrder> = listed.iter().collect();
    assert!(walk_slots(&book, &listed).is_none());
}
