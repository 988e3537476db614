//! The shape of the original problem: many threads stream order updates into the engine while
//! the reconciler thread reconciles every 100 ms against a truthful simulated venue. Plus the
//! runner's lifecycle, and proof that the writer never waits for the reconciler.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};
use rust_decimal::Decimal;
use snapstate::book::{Book, BookCommand, BookConfig, Grid, Level, OrderId, Place, Quantity, Side};
use snapstate::engine::{Engine, EngineConfig, WriteHandle};
use snapstate::reconcile::startup::StartupClearance;
use snapstate::reconcile::{CycleConfig, ReconcileConfig, Reconciler, Runner, RunnerConfig};
use snapstate::time::{Clock, SystemClock, Timestamp};
use snapstate::venue::{OpenOrdersError, Venue, VenueReport};
use snapstate_sim::venue::{SimulatedVenue, SimulatedVenueConfig};

/// These tests race the runner against the engine on purpose, from books the test built.
fn waived() -> StartupClearance {
    StartupClearance::waived("a stress test: the test builds the book and the venue itself")
}

/// Scales the stress run; raise it for a soak run.
const SCALE: u64 = 1;
const PRODUCERS: usize = 10;
/// Levels each producer owns.
const LEVELS_PER_PRODUCER: i32 = 20;
/// Each producer runs at least this many iterations, and until the reconciler has run at
/// least `MIN_CYCLES` cycles.
const MIN_ITERATIONS: u64 = 500 * SCALE;
const MIN_CYCLES: u64 = 40 * SCALE;

/// Levels -100..=99 at 100 + level / 2.
fn grid() -> Grid {
    Grid::new(
        Decimal::from(100),
        Decimal::new(5, 1),
        Level(-100),
        Level(99),
    )
    .expect("valid grid")
}

type SharedVenue = Arc<Mutex<SimulatedVenue>>;

/// The producers' venues seen as one: one account per producer at the same exchange.
struct Accounts {
    venues: Vec<SharedVenue>,
}

impl Venue for Accounts {
    fn open_orders(&mut self) -> Result<VenueReport, OpenOrdersError> {
        let mut answer = VenueReport {
            as_of: Timestamp::from_nanos(u64::MAX),
            orders: Vec::new(),
            net_position: Some(Decimal::ZERO),
        };
        for venue in &mut self.venues {
            let part = venue.open_orders()?;
            answer.as_of = answer.as_of.min(part.as_of);
            answer.orders.extend(part.orders);
            answer.net_position = answer
                .net_position
                .zip(part.net_position)
                .map(|(total, part)| total + part);
        }
        Ok(answer)
    }
}

/// One producer: a feed adapter and a strategy for its own band of levels on its own venue
/// account. Returns how many commands it submitted.
struct Producer {
    index: usize,
    venue: SharedVenue,
    writer: WriteHandle<Book>,
    clock: Arc<dyn Clock>,
    rng: ChaCha8Rng,
    /// Its live orders: level to order id, and order id to (level, quantity).
    live: BTreeMap<Level, OrderId>,
    orders: BTreeMap<OrderId, (Level, Quantity)>,
    submitted: u64,
}

impl Producer {
    fn iterate(&mut self) {
        let now = self.clock.now();
        // The venue stays locked while its updates go to the engine, so that they enter the
        // queue in the order the venue sent them.
        let shared = Arc::clone(&self.venue);
        let mut venue = shared.lock().expect("venue lock");
        for update in venue.advance_and_drain(now) {
            self.track(&update);
            self.writer.submit(update).expect("engine running");
            self.submitted += 1;
        }
        let lowest = -100 + LEVELS_PER_PRODUCER * i32::try_from(self.index).expect("small");
        let middle = grid().nearest_level(venue.price());
        for level in (lowest..lowest + LEVELS_PER_PRODUCER).map(Level) {
            if self.live.contains_key(&level) || level == middle || !self.rng.random_bool(0.2) {
                continue;
            }
            let order_id = OrderId(((self.index as u64 + 1) << 40) + self.submitted);
            let quantity = Decimal::from(self.rng.random_range(1..=4_i64));
            let place = Place {
                order_id,
                level,
                side: if level < middle {
                    Side::Buy
                } else {
                    Side::Sell
                },
                price: grid().price_of(level).expect("on the grid"),
                quantity,
                at: now,
            };
            self.writer
                .submit(BookCommand::Place(place.clone()))
                .expect("engine running");
            self.submitted += 1;
            venue.place(&place).expect("venue accepts");
            self.live.insert(level, order_id);
            self.orders.insert(order_id, (level, quantity));
        }
        if self.rng.random_bool(0.05)
            && let Some((_, &order_id)) = self.live.iter().next()
        {
            // It may have just filled; the venue then refuses, which is fine.
            let _ = venue.cancel_at(order_id, now);
        }
    }

    /// Frees a level when an update finishes its order.
    fn track(&mut self, update: &BookCommand) {
        let finished = match update {
            BookCommand::Fill(fill) => self
                .orders
                .get(&fill.order_id)
                .is_some_and(|(_, quantity)| fill.cumulative_filled == *quantity),
            BookCommand::Cancel(_) | BookCommand::Reject(_) | BookCommand::Expire(_) => true,
            _ => false,
        };
        if finished && let Some((level, _)) = update.order_id().and_then(|id| self.orders.get(&id))
        {
            self.live.remove(level);
        }
    }
}

fn venue_for(index: usize, clock: &dyn Clock) -> SharedVenue {
    let band_middle = -90 + LEVELS_PER_PRODUCER * i32::try_from(index).expect("small");
    let price = grid().price_of(Level(band_middle)).expect("on the grid");
    let mut config = SimulatedVenueConfig::new(index as u64, clock.now(), price);
    config.price_interval = Some(Duration::from_millis(5));
    config.update_delay = Duration::from_millis(1);
    Arc::new(Mutex::new(SimulatedVenue::new(config).expect("valid")))
}

#[test]
fn producers_stream_updates_while_the_runner_reconciles_against_a_truthful_venue() {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let engine = Engine::start(
        Book::new(BookConfig::new(grid())),
        EngineConfig {
            clock: Arc::clone(&clock),
            ..EngineConfig::default()
        },
    )
    .expect("engine starts");
    let venues: Vec<SharedVenue> = (0..PRODUCERS)
        .map(|index| venue_for(index, &*clock))
        .collect();
    // A shorter grace than the 5 s default, so that a difference outliving it would be
    // confirmed within the run. Still three orders of magnitude above the venue's 1 ms delay,
    // so that only a feed stalled for seconds (a real finding) could trip it.
    let config = ReconcileConfig {
        in_flight_grace: Duration::from_secs(2),
        ..ReconcileConfig::default()
    };
    let cycle_config = CycleConfig {
        clock: Arc::clone(&clock),
        ..CycleConfig::default()
    };
    let runner_config = RunnerConfig {
        interval: Duration::from_millis(100),
        ..RunnerConfig::default()
    };
    let accounts = Accounts {
        venues: venues.clone(),
    };
    let reconciler = Reconciler::new(accounts, config, cycle_config).expect("valid");
    let runner = Runner::start(reconciler, engine.write_handle(), runner_config, waived())
        .expect("runner starts");

    let done = Arc::new(AtomicBool::new(false));
    let producers: Vec<_> = venues
        .iter()
        .enumerate()
        .map(|(index, venue)| {
            let mut producer = Producer {
                index,
                venue: Arc::clone(venue),
                writer: engine.write_handle(),
                clock: Arc::clone(&clock),
                rng: ChaCha8Rng::seed_from_u64(100 + index as u64),
                live: BTreeMap::new(),
                orders: BTreeMap::new(),
                submitted: 0,
            };
            let done = Arc::clone(&done);
            thread::spawn(move || {
                let mut iterations = 0;
                while iterations < MIN_ITERATIONS || !done.load(Ordering::Acquire) {
                    producer.iterate();
                    iterations += 1;
                    thread::sleep(Duration::from_millis(1));
                }
                producer.submitted
            })
        })
        .collect();
    while runner.totals().cycles < MIN_CYCLES {
        thread::sleep(Duration::from_millis(20));
    }
    done.store(true, Ordering::Release);
    let mut submitted: u64 = producers
        .into_iter()
        .map(|producer| producer.join().expect("producer thread"))
        .sum();
    let reconciler = runner.stop().expect("runner stops cleanly");

    // Hold every market still and deliver what is left, so that book and venues can be
    // compared exactly.
    let writer = engine.write_handle();
    let end = clock.now().saturating_add(Duration::from_secs(1));
    for venue in &venues {
        let mut venue = venue.lock().expect("venue lock");
        venue.set_price_interval(None).expect("valid");
        for update in venue.advance_and_drain(end) {
            writer.submit(update).expect("engine running");
            submitted += 1;
        }
    }
    drop(writer);
    let totals = reconciler.totals().clone();
    let last = engine.shutdown().expect("clean shutdown");

    assert!(totals.cycles >= MIN_CYCLES, "{totals:?}");
    assert_eq!(
        totals.mismatches_total(),
        0,
        "spurious mismatches: {totals:?}"
    );
    assert!(
        totals.suspected > 0,
        "updates in flight should show as suspected differences, or the run tests nothing"
    );
    assert_eq!(totals.actions.corrections_submitted, 0);
    assert_eq!(
        last.counters().total(),
        submitted,
        "every command submitted is accounted for"
    );
    assert_eq!(last.counters().rejected(), 0, "{:?}", last.counters());
    assert_eq!(last.counters().panicked(), 0);
    let book = last.state();
    book.check_invariants().expect("invariants hold");
    let mut venue_net = Decimal::ZERO;
    let mut orders = 0;
    for venue in &venues {
        let venue = venue.lock().expect("venue lock");
        venue_net += venue.net_position();
        for truth in venue.orders() {
            let local = book.order(truth.order_id).expect("the book knows it");
            assert_eq!(local.filled(), truth.filled, "{}", truth.order_id);
            assert_eq!(local.status(), truth.status.to_book_status());
            orders += 1;
        }
    }
    assert_eq!(book.net_position(), venue_net);
    assert!(orders > 100, "the run should trade: {orders} orders");
    eprintln!("stress run: {orders} orders, {submitted} commands, {totals:?}");
}

/// A venue that, on its first query, says it has been entered and waits to be released.
struct GatedVenue {
    entered: Option<mpsc::SyncSender<()>>,
    release: mpsc::Receiver<()>,
}

impl Venue for GatedVenue {
    fn open_orders(&mut self) -> Result<VenueReport, OpenOrdersError> {
        if let Some(entered) = self.entered.take() {
            entered.send(()).expect("test waits");
            self.release.recv().expect("test releases");
        }
        Ok(VenueReport {
            as_of: Timestamp::EPOCH,
            orders: Vec::new(),
            net_position: None,
        })
    }
}

#[test]
fn the_writer_keeps_publishing_while_the_reconciler_is_inside_a_cycle() {
    let engine = Engine::start(Book::new(BookConfig::new(grid())), EngineConfig::default())
        .expect("engine starts");
    let (entered, wait_entered) = mpsc::sync_channel(1);
    let (release, released) = mpsc::sync_channel(1);
    let venue = GatedVenue {
        entered: Some(entered),
        release: released,
    };
    let runner_config = RunnerConfig {
        interval: Duration::from_millis(1),
        ..RunnerConfig::default()
    };
    let reconciler =
        Reconciler::new(venue, ReconcileConfig::default(), CycleConfig::default()).expect("valid");
    let runner = Runner::start(reconciler, engine.write_handle(), runner_config, waived())
        .expect("runner starts");
    wait_entered.recv().expect("the runner queries the venue");
    // The reconciler now holds a snapshot and is stuck inside its cycle.
    let writer = engine.write_handle();
    let before = engine.read_handle().load().version();
    let clock = SystemClock;
    for level in -100..100 {
        let place = Place {
            order_id: OrderId(u64::try_from(level + 1_000).expect("positive")),
            level: Level(level),
            side: Side::Buy,
            price: grid().price_of(Level(level)).expect("on the grid"),
            quantity: Decimal::ONE,
            at: clock.now(),
        };
        writer.submit(BookCommand::Place(place)).expect("running");
    }
    let after = writer
        .flush()
        .expect("the writer applies without the reconciler");
    assert!(after > before);
    assert_eq!(engine.read_handle().load().state().live_count(), 200);
    release.send(()).expect("runner waits");
    runner.stop().expect("runner stops cleanly");
}

#[test]
fn the_runner_stops_on_its_own_once_the_engine_shuts_down() {
    let engine = Engine::start(Book::new(BookConfig::new(grid())), EngineConfig::default())
        .expect("engine starts");
    // An always-answering venue: no gate to pass.
    let (_release, released) = mpsc::sync_channel(1);
    let venue = GatedVenue {
        entered: None,
        release: released,
    };
    let runner_config = RunnerConfig {
        interval: Duration::from_millis(5),
        ..RunnerConfig::default()
    };
    let reconciler =
        Reconciler::new(venue, ReconcileConfig::default(), CycleConfig::default()).expect("valid");
    let runner = Runner::start(reconciler, engine.write_handle(), runner_config, waived())
        .expect("runner starts");
    while runner.totals().cycles == 0 {
        thread::sleep(Duration::from_millis(5));
    }
    engine.shutdown().expect("clean shutdown");
    // Bounded only so that a broken runner fails the test instead of hanging it.
    for _ in 0..6_000 {
        if runner.is_finished() {
            break;
        }
        thread::sleep(Duration::from_millis(5));
    }
    assert!(
        runner.is_finished(),
        "the runner did not notice the shutdown"
    );
    let reconciler = runner.stop().expect("runner stops cleanly");
    assert!(reconciler.totals().cycles > 0);
}

/// A runner thread name with a NUL byte used to panic inside `Runner::start` (std's "thread
/// name may not contain interior null bytes"), and a zero interval was accepted (cycles back to
/// back, querying the venue as fast as it answers): each is a typed refusal now. The refusal
/// used to drop the reconciler and with it the venue's connection; it hands everything back
/// now, and the same connection starts a runner under a corrected configuration.
#[test]
fn a_runner_thread_name_with_a_nul_byte_or_a_zero_interval_is_refused_and_handed_back() {
    let engine = Engine::start(Book::new(BookConfig::new(grid())), EngineConfig::default())
        .expect("engine starts");
    for (number, (runner_config, named)) in [
        (
            RunnerConfig {
                thread_name: "snap\0state".to_owned(),
                ..RunnerConfig::default()
            },
            "thread_name",
        ),
        (
            RunnerConfig {
                interval: Duration::ZERO,
                ..RunnerConfig::default()
            },
            "interval",
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let closed = Arc::new(AtomicBool::new(false));
        let venue = Connection {
            number,
            closed: Arc::clone(&closed),
        };
        let reconciler = Reconciler::new(venue, ReconcileConfig::default(), CycleConfig::default())
            .expect("valid");
        let failure = Runner::start(reconciler, engine.write_handle(), runner_config, waived())
            .expect_err("refused");
        assert!(failure.is_invalid_config(), "{failure:?}");
        assert!(failure.to_string().contains(named), "{failure}");
        assert!(
            !closed.load(Ordering::SeqCst),
            "the refusal closed the venue's connection"
        );
        let parts = failure.into_parts();
        assert_eq!(parts.reconciler.venue().number, number);
        let corrected = RunnerConfig {
            interval: Duration::from_millis(1),
            thread_name: "snapstate-reconciler".to_owned(),
        };
        let runner = Runner::start(parts.reconciler, parts.writer, corrected, parts.clearance)
            .expect("the handed-back parts start a runner");
        // The handed-back writer works: the runner completes a cycle through it. The bound
        // (10 s) only keeps a broken runner from hanging the test.
        for _ in 0..10_000 {
            if runner.totals().cycles > 0 {
                break;
            }
            thread::sleep(Duration::from_millis(1));
        }
        assert!(
            runner.totals().cycles > 0,
            "the restarted runner never cycled"
        );
        let reconciler = runner.stop().expect("stops");
        assert_eq!(reconciler.venue().number, number);
        assert!(!closed.load(Ordering::SeqCst));
        drop(reconciler);
        assert!(closed.load(Ordering::SeqCst), "the flag sees the drop");
    }
    engine.shutdown().expect("clean shutdown");
}

/// A venue connection with nothing open, that says which one it is and when it is closed
/// (dropped).
struct Connection {
    number: usize,
    closed: Arc<AtomicBool>,
}

impl Venue for Connection {
    fn open_orders(&mut self) -> Result<VenueReport, OpenOrdersError> {
        Ok(VenueReport {
            as_of: Timestamp::EPOCH,
            orders: Vec::new(),
            net_position: None,
        })
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.closed.store(true, Ordering::SeqCst);
    }
}
