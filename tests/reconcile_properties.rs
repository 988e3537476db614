//! Properties of the pure diff: the venue list's order and repeated entries never change the
//! report, and dropping one live order from a venue answer yields exactly one finding about it.

use std::collections::BTreeMap;
use std::time::Duration;

use proptest::prelude::*;
use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};
use rust_decimal::Decimal;
use snapstate::book::{
    Book, BookCommand, BookConfig, FillReport, Grid, Level, OrderId, OrderStatus, Place, Side,
    StatusReport,
};
use snapstate::reconcile::{
    Evidence, Finding, MismatchClass, ReconcileConfig, Reconciliation, reconcile,
};
use snapstate::time::Timestamp;
use snapstate::venue::{VenueOrder, VenueOrderStatus, VenueReport};

const PLACED: Timestamp = Timestamp::from_millis(1_000);
const QUANTITY: i64 = 10;

fn now() -> Timestamp {
    PLACED.saturating_add(Duration::from_secs(60))
}

/// One order of a generated book.
#[derive(Clone, Debug)]
struct Spec {
    status: OrderStatus,
    filled: i64,
}

fn spec() -> impl Strategy<Value = Spec> {
    let status = prop_oneof![
        Just(OrderStatus::Pending),
        Just(OrderStatus::Open),
        Just(OrderStatus::PartiallyFilled),
        Just(OrderStatus::Filled),
        Just(OrderStatus::Cancelled),
    ];
    (status, 1..QUANTITY).prop_map(|(status, partial)| {
        let filled = match status {
            OrderStatus::PartiallyFilled | OrderStatus::Cancelled => partial,
            OrderStatus::Filled => QUANTITY,
            _ => 0,
        };
        Spec { status, filled }
    })
}

/// Up to 30 orders, one per level of -20..=20, each driven to its status.
fn specs() -> impl Strategy<Value = BTreeMap<i32, Spec>> {
    prop::collection::btree_map(-20..=20_i32, spec(), 1..30)
}

/// A difference to plant in a venue answer.
#[derive(Clone, Debug)]
enum Plant {
    FillAhead(usize),
    QuantityDiffers(usize),
    Drop(usize),
    Unknown { level: i32, filled: i64 },
    PositionOffset(i64),
}

fn plants() -> impl Strategy<Value = Vec<Plant>> {
    let plant = prop_oneof![
        any::<usize>().prop_map(Plant::FillAhead),
        any::<usize>().prop_map(Plant::QuantityDiffers),
        any::<usize>().prop_map(Plant::Drop),
        (-25..=25_i32, 0..3_i64).prop_map(|(level, filled)| Plant::Unknown { level, filled }),
        (-3..=3_i64).prop_map(Plant::PositionOffset),
    ];
    prop::collection::vec(plant, 0..6)
}

fn grid() -> Grid {
    Grid::new(Decimal::from(100), Decimal::ONE, Level(-20), Level(20)).expect("valid grid")
}

fn book(specs: &BTreeMap<i32, Spec>) -> Book {
    let mut book = Book::new(BookConfig::new(grid()));
    for (index, (&level, spec)) in specs.iter().enumerate() {
        let order_id = OrderId(index as u64 + 1);
        let report = StatusReport {
            order_id,
            venue_seq: None,
            at: PLACED,
        };
        let mut commands = vec![BookCommand::Place(Place {
            order_id,
            level: Level(level),
            side: if level < 0 { Side::Buy } else { Side::Sell },
            price: Decimal::from(100 + level),
            quantity: Decimal::from(QUANTITY),
            at: PLACED,
        })];
        if spec.status != OrderStatus::Pending {
            commands.push(BookCommand::Acknowledge(report.clone()));
        }
        if spec.filled > 0 {
            commands.push(BookCommand::Fill(FillReport {
                order_id,
                cumulative_filled: Decimal::from(spec.filled),
                fill_price: None,
                trade_id: None,
                venue_seq: None,
                at: PLACED,
            }));
        }
        if spec.status == OrderStatus::Cancelled {
            commands.push(BookCommand::Cancel(report));
        }
        for command in &commands {
            book.apply(command).expect("generated commands apply");
        }
    }
    book
}

/// What a truthful venue lists: every order of the book, as of `now`.
fn truthful(book: &Book) -> VenueReport {
    let orders = book
        .orders_by_id()
        .into_iter()
        .map(|order| VenueOrder::truthful(order, PLACED))
        .collect();
    VenueReport {
        as_of: now(),
        orders,
        net_position: Some(book.net_position()),
    }
}

/// A venue answer with `plants` applied to the truthful one.
fn planted(book: &Book, plants: &[Plant]) -> VenueReport {
    let mut venue = truthful(book);
    for plant in plants {
        let count = venue.orders.len();
        match *plant {
            Plant::FillAhead(index) if count > 0 => {
                let order = &mut venue.orders[index % count];
                order.filled = order.quantity;
            }
            Plant::QuantityDiffers(index) if count > 0 => {
                venue.orders[index % count].quantity += Decimal::ONE;
            }
            Plant::Drop(index) if count > 0 => {
                venue.orders.remove(index % count);
            }
            Plant::Unknown { level, filled } => venue.orders.push(VenueOrder {
                order_id: OrderId(1_000 + venue.orders.len() as u64),
                updated_at: PLACED,
                filled: Decimal::from(filled),
                status: VenueOrderStatus::Open,
                side: Side::Buy,
                price: Decimal::from(100 + level),
                quantity: Decimal::from(QUANTITY),
            }),
            Plant::PositionOffset(offset) => {
                venue.net_position = venue.net_position.map(|net| net + Decimal::from(offset));
            }
            _ => {}
        }
    }
    venue
}

/// Two cycles with carried evidence, so that the report includes confirmed findings and
/// planned actions.
fn two_cycles(book: &Book, venue: &VenueReport) -> Reconciliation {
    let config = ReconcileConfig::default();
    let first = reconcile(book, venue, &config, now(), &Evidence::new());
    reconcile(book, venue, &config, now(), &first.evidence)
}

fn shuffled(mut orders: Vec<VenueOrder>, seed: u64) -> Vec<VenueOrder> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    for index in (1..orders.len()).rev() {
        let other = rng.random_range(0..=index);
        orders.swap(index, other);
    }
    orders
}

fn about(result: &Reconciliation, order_id: OrderId) -> Vec<&Finding> {
    result
        .findings
        .iter()
        .filter(|finding| finding.mismatch.concerns(order_id))
        .collect()
}

proptest! {
    #[test]
    fn prop_report_is_unchanged_when_the_venue_list_is_shuffled(
        specs in specs(),
        plants in plants(),
        seed in any::<u64>(),
    ) {
        let book = book(&specs);
        let venue = planted(&book, &plants);
        let mut reordered = venue.clone();
        reordered.orders = shuffled(reordered.orders, seed);
        prop_assert_eq!(two_cycles(&book, &venue), two_cycles(&book, &reordered));
    }

    #[test]
    fn prop_report_is_unchanged_when_the_venue_list_repeats_an_entry(
        specs in specs(),
        plants in plants(),
        pick in any::<usize>(),
        seed in any::<u64>(),
    ) {
        let book = book(&specs);
        let venue = planted(&book, &plants);
        prop_assume!(!venue.orders.is_empty());
        let mut repeated = venue.clone();
        let copy = repeated.orders[pick % repeated.orders.len()].clone();
        repeated.orders.push(copy);
        repeated.orders = shuffled(repeated.orders, seed);
        prop_assert_eq!(two_cycles(&book, &venue), two_cycles(&book, &repeated));
    }

    #[test]
    fn prop_an_older_entry_for_a_listed_order_never_changes_the_report(
        specs in specs(),
        plants in plants(),
        pick in any::<usize>(),
    ) {
        let book = book(&specs);
        let venue = planted(&book, &plants);
        prop_assume!(!venue.orders.is_empty());
        let mut with_stale_page = venue.clone();
        let mut older = with_stale_page.orders[pick % with_stale_page.orders.len()].clone();
        older.updated_at = older.updated_at.saturating_sub(Duration::from_millis(1));
        older.filled = Decimal::ZERO;
        with_stale_page.orders.insert(0, older);
        prop_assert_eq!(two_cycles(&book, &venue), two_cycles(&book, &with_stale_page));
    }

    #[test]
    fn prop_dropping_one_live_order_yields_exactly_one_finding_about_it(
        specs in specs(),
        pick in any::<usize>(),
    ) {
        let book = book(&specs);
        let live: Vec<OrderId> = book.live_orders().iter().map(|order| order.id()).collect();
        prop_assume!(!live.is_empty());
        let dropped = live[pick % live.len()];
        let venue = truthful(&book);
        let mut without = venue.clone();
        without.orders.retain(|order| order.order_id != dropped);

        let config = ReconcileConfig::default();
        let before = reconcile(&book, &venue, &config, now(), &Evidence::new());
        let after = reconcile(&book, &without, &config, now(), &Evidence::new());
        let findings = about(&after, dropped);
        prop_assert_eq!(findings.len(), 1, "{:#?}", after.findings);
        prop_assert_eq!(findings[0].class(), MismatchClass::MissingAtVenue);
        let others = |result: &Reconciliation| -> Vec<Finding> {
            result
                .findings
                .iter()
                .filter(|finding| !finding.mismatch.concerns(dropped))
                .cloned()
                .collect()
        };
        prop_assert_eq!(others(&before), others(&after));
    }
}
