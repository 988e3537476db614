//! One reconciliation cycle against a running engine: dry runs, corrections sent and counted,
//! venue cancels and their preconditions, and the metrics recorded.

mod reconcile_support;

use std::time::Duration;

use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use rust_decimal::Decimal;
use snapstate::book::{Book, BookCommand, Level, OrderId, Place, Side};
use snapstate::engine::WriteHandle;
use snapstate::reconcile::{CycleConfig, CycleError, Policy, ReconcileConfig, Reconciler, metrics};
use snapstate::time::{Clock, ManualClock};
use snapstate::venue::{OpenOrdersError, Venue, VenueOrderStatus, VenueReport};
use snapstate_sim::venue::{SimulatedVenue, SimulatedVenueConfig};

use reconcile_support::{FixedVenue, engine, grid, racing_setup, runner_config, start};
#[test]
fn a_dry_run_reports_corrections_and_sends_none() {
    let (clock, engine, venue) = racing_setup();
    let writer = engine.write_handle();
    let fixed = FixedVenue { answer: venue };
    let config = CycleConfig {
        dry_run: true,
        ..runner_config(&clock)
    };
    let mut reconciler = Reconciler::new(fixed, ReconcileConfig::default(), config).expect("valid");
    reconciler.run_cycle(&writer).expect("cycle");
    let report = reconciler.run_cycle(&writer).expect("cycle");
    assert!(report.dry_run);
    assert_eq!(report.reconciliation.corrections().count(), 1);
    assert_eq!(report.actions.corrections_submitted, 0);
    let snapshot = engine.read_handle().load();
    assert_eq!(snapshot.counters().applied_count("corrected"), 0);
    assert_eq!(snapshot.counters().rejected(), 0);
}

#[test]
fn a_cycle_sends_its_corrections_and_counts_how_they_ended() {
    let (clock, engine, venue) = racing_setup();
    let writer = engine.write_handle();
    let mut reconciler = Reconciler::new(
        FixedVenue { answer: venue },
        ReconcileConfig::default(),
        runner_config(&clock),
    )
    .expect("valid");
    let first = reconciler.run_cycle(&writer).expect("cycle");
    assert_eq!(
        first.actions.corrections_submitted, 0,
        "one answer is not enough"
    );
    let second = reconciler.run_cycle(&writer).expect("cycle");
    assert_eq!(second.actions.corrections_submitted, 1);
    assert_eq!(second.actions.corrections_applied, 1);
    assert_eq!(second.actions.corrections_rejected_stale, 0);
    let third = reconciler.run_cycle(&writer).expect("cycle");
    assert!(
        third.reconciliation.is_clean(),
        "{:#?}",
        third.reconciliation
    );
}

/// A simulated venue that, while answering, lets the book learn of an order: what happens when
/// a Place lands between the diff and a venue cancel planned from it.
struct LateKnowledgeVenue {
    venue: SimulatedVenue,
    writer: WriteHandle<Book>,
    teach: Option<Place>,
}

impl Venue for LateKnowledgeVenue {
    fn open_orders(&mut self) -> Result<VenueReport, OpenOrdersError> {
        let answer = self.venue.open_orders();
        if let Some(place) = self.teach.take() {
            self.writer
                .submit(BookCommand::Place(place))
                .expect("running");
            self.writer.flush().expect("running");
        }
        answer
    }

    fn cancel(&mut self, order_id: OrderId) -> Result<(), snapstate::venue::CancelError> {
        self.venue.cancel(order_id)
    }
}

#[test]
fn venue_cancels_are_sent_only_while_their_precondition_holds() {
    let clock = ManualClock::new(start());
    let engine = engine(&clock, None);
    let writer = engine.write_handle();
    let mut venue_config = SimulatedVenueConfig::new(3, start(), Decimal::from(100));
    venue_config.price_interval = None;
    let mut venue = SimulatedVenue::new(venue_config).expect("valid");
    let stranger = |id: u64, level: i32| Place {
        order_id: OrderId(id),
        level: Level(level),
        side: Side::Buy,
        price: grid().price_of(Level(level)).expect("on the grid"),
        quantity: Decimal::ONE,
        at: start(),
    };
    venue.place(&stranger(1, -10)).expect("accepted");
    venue.place(&stranger(2, -12)).expect("accepted");
    clock.advance(Duration::from_secs(60));
    venue.advance_to(clock.now());
    let mut config = ReconcileConfig::default();
    config.policies.unknown_inside_grid = Policy::CancelAtVenue;
    let late = LateKnowledgeVenue {
        venue,
        writer: writer.clone(),
        teach: None,
    };
    let mut reconciler = Reconciler::new(late, config, runner_config(&clock)).expect("valid");
    reconciler.run_cycle(&writer).expect("cycle");
    // In the confirming cycle, the book learns of order 2 after the diff planned its cancel.
    reconciler.venue_mut().teach = Some(stranger(2, -12));
    let report = reconciler.run_cycle(&writer).expect("cycle");
    assert_eq!(report.reconciliation.venue_cancels().count(), 2);
    assert_eq!(report.actions.venue_cancels_sent, 1);
    assert_eq!(report.actions.venue_cancels_skipped_stale, 1);
    let venue = &reconciler.venue().venue;
    assert_eq!(
        venue.order(OrderId(1)).map(|order| order.status),
        Some(VenueOrderStatus::Cancelled)
    );
    assert_eq!(
        venue.order(OrderId(2)).map(|order| order.status),
        Some(VenueOrderStatus::Open)
    );
}

/// What `run` records through the `metrics` facade, as (key, value) pairs.
fn recorded(run: impl FnOnce()) -> Vec<(metrics_util::CompositeKey, DebugValue)> {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    ::metrics::with_local_recorder(&recorder, run);
    snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .map(|(key, _, _, value)| (key, value))
        .collect()
}

fn metric_value<'a>(
    snapshot: &'a [(metrics_util::CompositeKey, DebugValue)],
    name: &str,
    label: Option<(&str, &str)>,
) -> Option<&'a DebugValue> {
    snapshot
        .iter()
        .find(|(key, _)| {
            key.key().name() == name
                && label.is_none_or(|(label_key, label_value)| {
                    key.key()
                        .labels()
                        .any(|label| label.key() == label_key && label.value() == label_value)
                })
        })
        .map(|(_, value)| value)
}

#[test]
fn a_cycle_records_its_metrics() {
    let (clock, engine, venue) = racing_setup();
    let writer = engine.write_handle();
    let config = CycleConfig {
        record_metrics: true,
        ..runner_config(&clock)
    };
    let mut reconciler = Reconciler::new(
        FixedVenue { answer: venue },
        ReconcileConfig::default(),
        config,
    )
    .expect("valid");
    let snapshot = recorded(|| {
        reconciler.run_cycle(&writer).expect("cycle");
        reconciler.run_cycle(&writer).expect("cycle");
    });
    let value = |name, label| metric_value(&snapshot, name, label);
    let Some(DebugValue::Histogram(durations)) = value(metrics::DURATION_SECONDS, None) else {
        panic!("no duration histogram in {snapshot:#?}")
    };
    assert_eq!(durations.len(), 2, "one per cycle");
    assert_eq!(
        value(metrics::SNAPSHOT_ENTRIES, None),
        Some(&DebugValue::Gauge(2.0.into())),
        "one slot and one order"
    );
    let Some(&DebugValue::Gauge(size)) = value(metrics::SNAPSHOT_SIZE_BYTES, None) else {
        panic!("no size gauge")
    };
    assert!(size.0 > 0.0);
    assert_eq!(
        value(metrics::SNAPSHOT_AGE_SECONDS, None),
        Some(&DebugValue::Gauge(60.0.into())),
        "the setup published its last version a minute before"
    );
    assert_eq!(
        value(
            metrics::MISMATCHES_TOTAL,
            Some(("class", "venue_filled_ahead"))
        ),
        Some(&DebugValue::Counter(1))
    );
    assert_eq!(
        value(
            metrics::CORRECTIONS_SUBMITTED_TOTAL,
            Some(("kind", "missed_fill"))
        ),
        Some(&DebugValue::Counter(1))
    );
    assert_eq!(
        value(metrics::CORRECTIONS_TOTAL, Some(("outcome", "applied"))),
        Some(&DebugValue::Counter(1))
    );
    assert_eq!(
        value(
            metrics::CORRECTIONS_TOTAL,
            Some(("outcome", "rejected_stale"))
        ),
        Some(&DebugValue::Counter(0))
    );
}

/// A venue that gives a fixed answer, or times out while it is down.
struct FlakyVenue {
    answer: VenueReport,
    down: bool,
}

impl Venue for FlakyVenue {
    fn open_orders(&mut self) -> Result<VenueReport, OpenOrdersError> {
        if self.down {
            Err(OpenOrdersError::TimedOut {
                after: Duration::from_secs(5),
            })
        } else {
            Ok(self.answer.clone())
        }
    }
}

#[test]
fn venue_errors_are_counted_in_metrics_and_change_nothing() {
    let (clock, engine, answer) = racing_setup();
    let writer = engine.write_handle();
    let config = CycleConfig {
        record_metrics: true,
        ..runner_config(&clock)
    };
    let venue = FlakyVenue {
        answer,
        down: false,
    };
    let mut reconciler = Reconciler::new(venue, ReconcileConfig::default(), config).expect("valid");
    let first = reconciler.run_cycle(&writer).expect("cycle");
    assert_eq!(first.reconciliation.findings.len(), 1, "the missed fill");
    let evidence = reconciler.evidence().clone();
    assert!(!evidence.is_empty(), "the first answer is evidence");

    reconciler.venue_mut().down = true;
    let snapshot = recorded(|| {
        for _ in 0..3 {
            assert!(reconciler.run_cycle(&writer).is_err());
        }
    });
    assert_eq!(
        metric_value(
            &snapshot,
            metrics::VENUE_ERRORS_TOTAL,
            Some(("kind", "timed_out"))
        ),
        Some(&DebugValue::Counter(3))
    );
    assert_eq!(reconciler.evidence(), &evidence, "no answer is no evidence");
    assert_eq!(reconciler.totals().cycles, 1);

    // Back up: the next answer is the second observation, which confirms the missed fill.
    reconciler.venue_mut().down = false;
    let report = reconciler.run_cycle(&writer).expect("cycle");
    assert_eq!(report.actions.corrections_submitted, 1);
    assert_eq!(report.actions.corrections_applied, 1);
}

#[test]
fn an_answer_that_lists_an_impossible_order_is_no_answer_and_changes_nothing() {
    let (clock, engine, mut answer) = racing_setup();
    let writer = engine.write_handle();
    let config = CycleConfig {
        record_metrics: true,
        ..runner_config(&clock)
    };
    // Fills above the quantity: a correction towards them would be refused in every cycle.
    answer.orders[0].filled = Decimal::from(11);
    let venue = FlakyVenue {
        answer: answer.clone(),
        down: false,
    };
    let before = writer.read_handle().load();
    let mut reconciler = Reconciler::new(venue, ReconcileConfig::default(), config).expect("valid");
    let snapshot = recorded(|| {
        for _ in 0..3 {
            let error = reconciler.run_cycle(&writer).expect_err("no usable answer");
            assert_eq!(
                error,
                CycleError::Venue(OpenOrdersError::Impossible {
                    order_id: OrderId(1),
                    reason: "its fills are above its quantity",
                })
            );
        }
    });
    assert_eq!(
        metric_value(
            &snapshot,
            metrics::VENUE_ERRORS_TOTAL,
            Some(("kind", "impossible"))
        ),
        Some(&DebugValue::Counter(3))
    );
    assert!(reconciler.evidence().is_empty(), "no answer is no evidence");
    assert_eq!(reconciler.totals().venue_errors, 3);
    assert_eq!(reconciler.totals().cycles, 0);
    writer.flush().expect("running");
    let after = writer.read_handle().load();
    assert_eq!(after.version(), before.version(), "nothing was submitted");

    // A truthful answer again: reconciled as usual.
    answer.orders[0].filled = Decimal::from(5);
    reconciler.venue_mut().answer = answer;
    let report = reconciler.run_cycle(&writer).expect("cycle");
    assert_eq!(report.reconciliation.findings.len(), 1, "the missed fill");
}
