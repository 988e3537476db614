//! Unit tests of the simulated venue: determinism, matching, updates, listing, and every fault.

use std::time::Duration;

use rust_decimal::Decimal;

use super::*;
use snapstate::book::{Book, BookConfig, Grid, Level, Side};

fn dec(value: i64) -> Decimal {
    Decimal::from(value)
}

fn at(millis: u64) -> Timestamp {
    Timestamp::from_millis(millis)
}

/// A venue at 100 whose price moves only when told, with 5 ms update delay.
fn still_config() -> SimulatedVenueConfig {
    let mut config = SimulatedVenueConfig::new(42, at(0), dec(100));
    config.price_interval = None;
    config.partial_fill_probability = 0.0;
    config
}

fn venue(config: SimulatedVenueConfig) -> SimulatedVenue {
    SimulatedVenue::new(config).expect("valid configuration")
}

fn place(id: u64, side: Side, price: i64, quantity: i64, millis: u64) -> Place {
    Place {
        order_id: OrderId(id),
        level: Level(i32::try_from(price - 100).expect("small level")),
        side,
        price: dec(price),
        quantity: dec(quantity),
        at: at(millis),
    }
}

fn kinds(updates: &[BookCommand]) -> Vec<&'static str> {
    updates
        .iter()
        .map(|update| match update {
            BookCommand::Place(_) => "place",
            BookCommand::Acknowledge(_) => "ack",
            BookCommand::Fill(_) => "fill",
            BookCommand::Cancel(_) => "cancel",
            BookCommand::Reject(_) => "reject",
            BookCommand::Expire(_) => "expire",
            BookCommand::Correct(_) => "correct",
            BookCommand::AdoptPosition(_) => "adopt_position",
        })
        .collect()
}

/// Drives a venue with a random walk and a grid of orders for `steps` of 10 ms; returns every
/// update and the final report.
fn random_run(config: SimulatedVenueConfig, steps: u64) -> (Vec<BookCommand>, VenueReport) {
    let mut venue = venue(config);
    let mut updates = Vec::new();
    for step in 0..steps {
        let now = at(step * 10);
        let id = step + 1;
        let offset = i64::try_from(step % 7).expect("small") - 3;
        let side = if offset < 0 { Side::Buy } else { Side::Sell };
        let _ = venue.place(&place(id, side, 100 + offset, 4, step * 10));
        if step % 5 == 4 {
            let _ = venue.cancel_at(OrderId(id - 2), now);
        }
        updates.extend(venue.advance_and_drain(now));
    }
    let report = venue.open_orders().expect("no query faults");
    (updates, report)
}

#[test]
fn the_same_seed_and_calls_give_the_same_run() {
    let mut config = SimulatedVenueConfig::new(9, at(0), dec(100));
    config.faults.duplicate_rate = 0.2;
    config.faults.reorder_rate = 0.2;
    config.faults.delay_rate = 0.2;
    let first = random_run(config.clone(), 400);
    let second = random_run(config.clone(), 400);
    assert_eq!(first, second);
    config.seed = 10;
    let other_seed = random_run(config, 400);
    assert_ne!(
        first, other_seed,
        "a different seed should give a different run"
    );
}

#[test]
fn faults_change_what_the_book_hears_never_the_market() {
    let quiet = SimulatedVenueConfig::new(3, at(0), dec(100));
    let mut faulty = quiet.clone();
    faulty.faults.drop_rate = 0.3;
    faulty.faults.duplicate_rate = 0.3;
    faulty.faults.fill_only_in_view_rate = 0.3;
    let (quiet_updates, quiet_report) = random_run(quiet, 300);
    let (faulty_updates, faulty_report) = random_run(faulty, 300);
    assert_eq!(
        quiet_report, faulty_report,
        "the venue's truth must not move"
    );
    assert_ne!(quiet_updates, faulty_updates);
}

#[test]
fn a_crossed_order_is_acknowledged_then_filled_after_the_delay() {
    let mut venue = venue(still_config());
    venue.place(&place(1, Side::Buy, 99, 2, 0)).expect("placed");
    assert!(venue.drain_updates().is_empty(), "nothing before the delay");
    venue.set_price(dec(99), at(1));
    let updates = venue.advance_and_drain(at(10));
    assert_eq!(kinds(&updates), ["ack", "fill"]);
    let BookCommand::Fill(fill) = &updates[1] else {
        unreachable!("checked above")
    };
    assert_eq!(fill.cumulative_filled, dec(2));
    assert_eq!(fill.fill_price, Some(dec(99)));
    assert_eq!(fill.venue_seq, Some(2));
    assert_eq!(fill.at, at(6), "stamped with its delivery time");
    assert_eq!(venue.net_position(), dec(2));
    let order = venue.order(OrderId(1)).expect("remembered");
    assert_eq!(order.status, VenueOrderStatus::Filled);
    assert_eq!(order.updated_at, at(1));
}

#[test]
fn partial_fills_report_cumulative_quantities_up_to_the_whole() {
    let mut config = still_config();
    config.partial_fill_probability = 1.0;
    let mut venue = venue(config);
    venue
        .place(&place(1, Side::Sell, 101, 8, 0))
        .expect("placed");
    for step in 1..=5 {
        venue.set_price(dec(101), at(step));
    }
    let fills: Vec<Decimal> = venue
        .advance_and_drain(at(100))
        .into_iter()
        .filter_map(|update| match update {
            BookCommand::Fill(fill) => Some(fill.cumulative_filled),
            _ => None,
        })
        .collect();
    assert_eq!(fills, [dec(4), dec(6), dec(7), dec(8)]);
    assert_eq!(venue.net_position(), dec(-8));
}

#[test]
fn an_order_that_crosses_on_arrival_fills_at_once() {
    let mut venue = venue(still_config());
    venue
        .place(&place(1, Side::Buy, 101, 1, 0))
        .expect("placed");
    assert_eq!(kinds(&venue.advance_and_drain(at(10))), ["ack", "fill"]);
}

#[test]
fn cancels_and_refusals_are_answered_with_updates_or_typed_errors() {
    let mut venue = venue(still_config());
    venue.place(&place(1, Side::Buy, 98, 1, 0)).expect("placed");
    venue.cancel_at(OrderId(1), at(1)).expect("cancelled");
    assert_eq!(
        venue.cancel_at(OrderId(1), at(2)),
        Err(CancelError::AlreadyFinished {
            order_id: OrderId(1),
            status: VenueOrderStatus::Cancelled
        })
    );
    assert_eq!(
        venue.cancel_at(OrderId(9), at(2)),
        Err(CancelError::UnknownOrder(OrderId(9)))
    );
    assert_eq!(
        venue.place(&place(1, Side::Buy, 98, 1, 3)),
        Err(PlaceError::DuplicateOrderId(OrderId(1)))
    );
    venue
        .place(&place(2, Side::Buy, 98, 0, 3))
        .expect("received");
    assert_eq!(
        kinds(&venue.advance_and_drain(at(10))),
        ["ack", "cancel", "reject"]
    );
}

#[test]
fn a_halted_market_moves_no_more_and_fills_nothing() {
    let mut config = SimulatedVenueConfig::new(8, at(0), dec(100));
    config.price_interval = Some(Duration::from_millis(1));
    let mut venue = venue(config);
    venue.advance_to(at(50));
    venue.set_price_interval(None).expect("valid");
    let price = venue.price();
    venue.place(&place(1, Side::Buy, 1, 1, 50)).expect("placed");
    venue.advance_to(at(10_000));
    assert_eq!(venue.price(), price);
    assert_eq!(
        venue.order(OrderId(1)).map(|order| order.filled),
        Some(Decimal::ZERO)
    );
    assert!(venue.set_price_interval(Some(Duration::ZERO)).is_err());
}

#[test]
fn orders_expire_after_their_time_in_force() {
    let mut config = still_config();
    config.time_in_force = Some(Duration::from_millis(20));
    let mut venue = venue(config);
    venue.place(&place(1, Side::Buy, 98, 1, 0)).expect("placed");
    venue.place(&place(2, Side::Buy, 97, 1, 5)).expect("placed");
    venue.cancel_at(OrderId(2), at(6)).expect("cancelled");
    assert_eq!(
        kinds(&venue.advance_and_drain(at(100))),
        ["ack", "ack", "cancel", "expire"]
    );
    assert_eq!(venue.live_count(), 0);
}

#[test]
fn open_orders_list_live_and_recently_finished_orders_by_id() {
    let mut config = still_config();
    config.closed_listing_window = Duration::from_millis(50);
    let mut venue = venue(config);
    venue.place(&place(3, Side::Buy, 98, 1, 0)).expect("placed");
    venue
        .place(&place(1, Side::Sell, 102, 1, 0))
        .expect("placed");
    venue.place(&place(2, Side::Buy, 97, 1, 0)).expect("placed");
    venue.cancel_at(OrderId(2), at(10)).expect("cancelled");
    let report = venue.open_orders().expect("answered");
    let listed: Vec<(u64, VenueOrderStatus)> = report
        .orders
        .iter()
        .map(|order| (order.order_id.0, order.status))
        .collect();
    assert_eq!(
        listed,
        [
            (1, VenueOrderStatus::Open),
            (2, VenueOrderStatus::Cancelled),
            (3, VenueOrderStatus::Open)
        ]
    );
    assert_eq!(report.as_of, at(10));
    assert_eq!(report.net_position, Some(Decimal::ZERO));
    venue.advance_to(at(61));
    let later = venue.open_orders().expect("answered");
    assert_eq!(
        later.orders.len(),
        2,
        "the cancelled order's window has passed"
    );
}

#[test]
fn the_initial_position_is_part_of_the_venue_net_position() {
    let mut config = still_config();
    config.initial_position = dec(-3);
    let mut venue = venue(config);
    let report = venue.open_orders().expect("answered");
    assert_eq!(report.net_position, Some(dec(-3)));
}

/// Places one order that fills at once and returns the updates delivered by 1 s.
fn one_filled_order(faults: Faults) -> (SimulatedVenue, Vec<BookCommand>) {
    let mut config = still_config();
    config.faults = faults;
    let mut venue = venue(config);
    venue
        .place(&place(1, Side::Buy, 101, 1, 0))
        .expect("placed");
    let updates = venue.advance_and_drain(at(1_000));
    (venue, updates)
}

#[test]
fn dropped_updates_never_arrive_and_are_counted() {
    let faults = Faults {
        drop_rate: 1.0,
        ..Faults::none()
    };
    let (venue, updates) = one_filled_order(faults);
    assert!(updates.is_empty());
    assert_eq!(venue.fault_counts().get(FaultKind::Dropped), 2);
    assert_eq!(venue.fault_counts().total(), 2);
}

#[test]
fn duplicated_updates_arrive_twice_and_are_counted() {
    let faults = Faults {
        duplicate_rate: 1.0,
        ..Faults::none()
    };
    let (venue, updates) = one_filled_order(faults);
    assert_eq!(kinds(&updates), ["ack", "ack", "fill", "fill"]);
    assert_eq!(venue.fault_counts().get(FaultKind::Duplicated), 2);
}

#[test]
fn reordered_updates_overtake_the_previous_update_of_their_order() {
    let faults = Faults {
        reorder_rate: 1.0,
        ..Faults::none()
    };
    let (venue, updates) = one_filled_order(faults);
    assert_eq!(kinds(&updates), ["fill", "ack"]);
    assert_eq!(venue.fault_counts().get(FaultKind::Reordered), 1);
}

#[test]
fn delayed_updates_arrive_later_than_the_normal_delay() {
    let faults = Faults {
        delay_rate: 1.0,
        max_extra_delay: Duration::from_millis(500),
        ..Faults::none()
    };
    let mut config = still_config();
    config.faults = faults;
    let mut venue = venue(config);
    venue.place(&place(1, Side::Buy, 99, 1, 0)).expect("placed");
    let updates = venue.advance_and_drain(at(1_000));
    assert_eq!(kinds(&updates), ["ack"]);
    assert!(
        updates[0].at() >= at(5),
        "never earlier than the normal delay"
    );
    assert_eq!(venue.fault_counts().get(FaultKind::Delayed), 1);
}

#[test]
fn a_fill_only_in_view_reaches_the_report_but_not_the_updates() {
    let faults = Faults {
        fill_only_in_view_rate: 1.0,
        ..Faults::none()
    };
    let (mut venue, updates) = one_filled_order(faults);
    assert_eq!(kinds(&updates), ["ack"]);
    assert_eq!(venue.fault_counts().get(FaultKind::FillOnlyInView), 1);
    let report = venue.open_orders().expect("answered");
    assert_eq!(report.orders[0].filled, dec(1));
    assert_eq!(report.orders[0].status, VenueOrderStatus::Filled);
}

#[test]
fn just_closed_orders_can_be_omitted_from_answers() {
    let faults = Faults {
        omit_just_closed_rate: 1.0,
        ..Faults::none()
    };
    let (mut venue, _) = one_filled_order(faults);
    venue
        .place(&place(2, Side::Buy, 90, 1, 1_000))
        .expect("placed");
    let report = venue.open_orders().expect("answered");
    let listed: Vec<OrderId> = report.orders.iter().map(|order| order.order_id).collect();
    assert_eq!(listed, [OrderId(2)], "the filled order is left out");
    assert_eq!(venue.fault_counts().get(FaultKind::OmittedJustClosed), 1);
}

#[test]
fn failed_and_timed_out_queries_are_errors_not_empty_answers() {
    let mut failing = venue(SimulatedVenueConfig {
        faults: Faults {
            query_failure_rate: 1.0,
            ..Faults::none()
        },
        ..still_config()
    });
    assert!(matches!(
        failing.open_orders(),
        Err(OpenOrdersError::Failed { .. })
    ));
    assert_eq!(failing.fault_counts().get(FaultKind::QueryFailed), 1);
    let mut slow = venue(SimulatedVenueConfig {
        faults: Faults {
            query_timeout_rate: 1.0,
            query_timeout: Duration::from_secs(3),
            ..Faults::none()
        },
        ..still_config()
    });
    assert_eq!(
        slow.open_orders(),
        Err(OpenOrdersError::TimedOut {
            after: Duration::from_secs(3)
        })
    );
    assert_eq!(slow.fault_counts().get(FaultKind::QueryTimedOut), 1);
}

/// The `(kind, order, venue sequence)` of every update fault in `journal`.
fn journaled_updates(journal: &[InjectedFault]) -> Vec<(FaultKind, &'static str, u64)> {
    journal
        .iter()
        .filter_map(|fault| match &fault.subject {
            FaultSubject::Update(update) => {
                let venue_seq = match update {
                    BookCommand::Fill(fill) => fill.venue_seq,
                    BookCommand::Acknowledge(report) | BookCommand::Cancel(report) => {
                        report.venue_seq
                    }
                    _ => None,
                };
                Some((
                    fault.kind,
                    kinds(std::slice::from_ref(update))[0],
                    venue_seq?,
                ))
            }
            _ => None,
        })
        .collect()
}

#[test]
fn the_fault_journal_names_the_update_each_fault_happened_to() {
    let mut config = still_config();
    config.faults = Faults {
        reorder_rate: 1.0,
        duplicate_rate: 1.0,
        ..Faults::none()
    };
    let mut venue = venue(config);
    venue.enable_fault_journal(100);
    venue
        .place(&place(1, Side::Buy, 101, 1, 0))
        .expect("placed");
    let updates = venue.advance_and_drain(at(1_000));
    assert_eq!(kinds(&updates), ["ack", "fill", "fill", "ack"]);
    let journal = venue.take_fault_journal();
    assert_eq!(
        journaled_updates(&journal),
        [
            (FaultKind::Duplicated, "ack", 1),
            (FaultKind::Duplicated, "fill", 2),
            (FaultKind::Reordered, "ack", 1),
        ],
        "a reorder names the update it overtook"
    );
    assert!(venue.take_fault_journal().is_empty(), "taking empties it");

    let (mut failing, _) = one_filled_order(Faults {
        query_failure_rate: 1.0,
        fill_only_in_view_rate: 1.0,
        ..Faults::none()
    });
    assert!(
        failing.take_fault_journal().is_empty(),
        "nothing is journaled before it is enabled"
    );
    failing.enable_fault_journal(100);
    assert!(failing.open_orders().is_err());
    assert_eq!(
        failing.take_fault_journal(),
        [InjectedFault {
            kind: FaultKind::QueryFailed,
            at: at(1_000),
            subject: FaultSubject::Query
        }]
    );
}

#[test]
fn the_fault_journal_agrees_with_the_counts_until_it_is_full() {
    let mut config = SimulatedVenueConfig::new(21, at(0), dec(100));
    config.faults = Faults {
        delay_rate: 0.2,
        duplicate_rate: 0.2,
        reorder_rate: 0.2,
        drop_rate: 0.2,
        fill_only_in_view_rate: 0.2,
        ..Faults::none()
    };
    let mut journaled = venue(config.clone());
    journaled.enable_fault_journal(usize::MAX);
    let mut small = venue(config.clone());
    small.enable_fault_journal(3);
    let mut plain = venue(config);
    let mut updates = Vec::new();
    for step in 0..300_u64 {
        let offset = i64::try_from(step % 7).expect("small") - 3;
        let side = if offset < 0 { Side::Buy } else { Side::Sell };
        let order = place(step + 1, side, 100 + offset, 4, step * 10);
        for venue in [&mut journaled, &mut small, &mut plain] {
            let _ = venue.place(&order);
        }
        updates.push(journaled.advance_and_drain(at(step * 10)));
        assert_eq!(
            small.advance_and_drain(at(step * 10)),
            updates[updates.len() - 1]
        );
        assert_eq!(
            plain.advance_and_drain(at(step * 10)),
            updates[updates.len() - 1]
        );
    }
    let journal = journaled.take_fault_journal();
    for (kind, count) in journaled.fault_counts().iter() {
        let entries = journal.iter().filter(|fault| fault.kind == kind).count();
        assert_eq!(entries as u64, count, "{kind}");
    }
    assert!(
        journaled.fault_counts().total() > 50,
        "the run should inject faults"
    );
    assert_eq!(
        small.take_fault_journal(),
        journal[..3],
        "the first three, then full"
    );
    assert_eq!(
        plain.fault_counts(),
        journaled.fault_counts(),
        "journaling changes nothing the venue does"
    );
}

#[test]
fn invalid_configurations_are_refused() {
    let mut config = still_config();
    config.faults.drop_rate = 1.5;
    assert!(matches!(
        SimulatedVenue::new(config),
        Err(SimulatedVenueConfigError::ProbabilityOutOfRange {
            name: "drop_rate",
            ..
        })
    ));
    let mut config = still_config();
    config.price_step = Decimal::ZERO;
    assert!(SimulatedVenue::new(config).is_err());
    let mut venue = venue(still_config());
    let bad = Faults {
        query_failure_rate: f64::NAN,
        ..Faults::none()
    };
    assert!(venue.set_faults(bad).is_err());
    assert!(venue.config().faults.is_none(), "unchanged after a refusal");
}

#[test]
fn a_book_fed_every_update_of_a_truthful_venue_ends_equal_to_it() {
    let grid = Grid::new(dec(100), dec(1), Level(-20), Level(20)).expect("valid grid");
    let mut book = Book::new(BookConfig::new(grid));
    let mut venue = venue(SimulatedVenueConfig::new(5, at(0), dec(100)));
    let mut next_id = 1;
    for step in 0..2_000_u64 {
        let now = at(step * 7);
        for update in venue.advance_and_drain(now) {
            book.apply(&update)
                .expect("a truthful venue's updates apply");
        }
        let level = i32::try_from(step % 21).expect("small") - 10;
        let vacant = book
            .slot(Level(level))
            .is_none_or(|slot| slot.live_order().is_none());
        if vacant && level != 0 {
            let side = if level < 0 { Side::Buy } else { Side::Sell };
            let order = place(next_id, side, 100 + i64::from(level), 3, step * 7);
            book.apply(&BookCommand::Place(order.clone()))
                .expect("placed in the book");
            venue.place(&order).expect("placed at the venue");
            next_id += 1;
        }
    }
    for update in venue.advance_and_drain(at(1_000_000)) {
        book.apply(&update).expect("applies");
    }
    book.check_invariants().expect("invariants hold");
    assert_eq!(book.net_position(), venue.net_position());
    assert!(
        venue.net_position() != Decimal::ZERO,
        "the run should trade"
    );
    for order in venue.orders() {
        let local = book.order(order.order_id).expect("the book knows it");
        assert_eq!(local.filled(), order.filled, "{}", order.order_id);
        assert_eq!(local.status(), order.status.to_book_status());
    }
}

/// A closed order is kept for the retention, measured as the time since it closed: at the end
/// of the timestamp range `closed_at + retention` saturated, and the venue forgot the order
/// at once (a cancel then said "unknown" rather than "already finished").
#[test]
fn a_closed_order_near_the_end_of_time_is_kept_for_its_retention() {
    let end = u64::MAX / 1_000_000 - 1_000;
    let mut config = SimulatedVenueConfig::new(42, at(end), dec(100));
    config.price_interval = None;
    config.partial_fill_probability = 0.0;
    let mut venue = venue(config);
    venue
        .place(&place(1, Side::Buy, 98, 1, end))
        .expect("placed");
    venue.cancel_at(OrderId(1), at(end + 1)).expect("cancelled");
    let last = Timestamp::from_nanos(u64::MAX);
    venue.advance_to(last);
    assert_eq!(
        venue.cancel_at(OrderId(1), last),
        Err(CancelError::AlreadyFinished {
            order_id: OrderId(1),
            status: VenueOrderStatus::Cancelled
        }),
        "still known within its retention"
    );
}
