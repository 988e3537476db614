//! The world both drivers step: the simulated venue, the engine, the grid market maker and the
//! reconciler, advanced one [`step`](World::step) at a time to a time the driver chooses.
//!
//! The wall-clock run ([`run`](crate::run), `snapstate simulate`) steps it to the system clock
//! every tick; the deterministic checker ([`check`](crate::check), `snapstate sim-check`) steps
//! it to a manual clock. The loop itself exists only here.
//!
//! # A step
//!
//! [`World::step`] at `now`:
//!
//! 1. **Decides** (while trading): the market maker reads the latest snapshot, which lags the
//!    venue's feed by this step's updates as a real one's does, and the venue's mid price before
//!    it moves.
//! 2. **Delivers**: the venue advances to `now`, and every update it has due goes to the engine.
//! 3. **Submits** the decision's placements to the engine.
//! 4. **Flushes**: waits until the engine has applied and published everything submitted, so
//!    what follows sees it (and a manual-clock run does not depend on thread timing).
//! 5. **Sends to the venue** the placements the book accepted (it refuses one whose slot a
//!    correction filled meanwhile) and the cancels, as the [`CancelPolicy`] says.
//!
//! Updates never occupy a slot, so a level the market maker found vacant in step 1 is still
//! vacant when its placement is applied in step 3, unless a correction filled it.
//!
//! # What a driver chooses
//!
//! * Its clock: the `now` it passes to each step.
//! * How the venue is reached ([`VenueReach`]): owned by the [`Reconciler`] that the checker
//!   cycles itself, or shared behind a mutex with the reconciler's [`Runner`] thread.
//! * A [`StepHook`] that sees each submission (the checker's ledger records it against the pure
//!   book; the wall-clock run stamps it to measure submit-to-visible latency) and the venue's
//!   fault journal at the two points where it can have grown.
//! * Its [`CancelPolicy`].
//!
//! # Invariants
//!
//! * Within a step, the engine receives every update before any placement, in the venue's
//!   delivery order; the venue receives placements only after the engine has published them.
//! * Nothing the step submits is lost: a submission the engine refuses ends the step with an
//!   error.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, MutexGuard};

use snapstate::book::{Book, BookCommand, OrderId, OrderStatus};
use snapstate::engine::{Engine, FlushError, ReadHandle, WriteHandle};
use snapstate::reconcile::startup::{self, StartupConfig, StartupError, StartupReport};
use snapstate::reconcile::{CycleError, CycleReport, Reconciler, Runner};
use snapstate::time::Timestamp;
use snapstate::venue::CancelError;

use crate::market_maker::{Decision, GridMarketMaker};
use crate::venue::{Faults, PlaceError, SimulatedVenue, SimulatedVenueConfigError};

/// A simulated venue shared between the driver and the reconciler's runner thread.
pub type SharedVenue = Arc<Mutex<SimulatedVenue>>;

/// How the world reaches its venue.
pub trait VenueReach {
    /// Runs `act` on the venue.
    fn with_venue<T>(&mut self, act: impl FnOnce(&mut SimulatedVenue) -> T) -> T;
}

/// The checker's reach: the venue is owned by the reconciler, whose cycles the checker runs
/// itself between steps.
impl VenueReach for Reconciler<SimulatedVenue> {
    fn with_venue<T>(&mut self, act: impl FnOnce(&mut SimulatedVenue) -> T) -> T {
        act(self.venue_mut())
    }
}

/// The wall-clock run's reach: the venue behind a mutex that the reconciler's [`Runner`] thread
/// shares.
pub struct Threaded {
    venue: SharedVenue,
    runner: Runner<SharedVenue>,
}

impl Threaded {
    /// The shared venue and the runner that reconciles against it.
    pub fn new(venue: SharedVenue, runner: Runner<SharedVenue>) -> Self {
        Self { venue, runner }
    }

    /// The shared venue, locked.
    pub fn venue(&self) -> MutexGuard<'_, SimulatedVenue> {
        lock(&self.venue)
    }

    /// The reconciler's runner.
    pub fn runner(&self) -> &Runner<SharedVenue> {
        &self.runner
    }

    /// The shared venue and the runner, to stop it.
    pub fn into_parts(self) -> (SharedVenue, Runner<SharedVenue>) {
        (self.venue, self.runner)
    }
}

impl VenueReach for Threaded {
    fn with_venue<T>(&mut self, act: impl FnOnce(&mut SimulatedVenue) -> T) -> T {
        act(&mut lock(&self.venue))
    }
}

/// Locks a shared venue. The venue keeps itself consistent between calls, so a panic elsewhere
/// while the lock was held leaves it usable (the library's `Venue` impl for the shared venue
/// does the same).
pub fn lock(venue: &SharedVenue) -> MutexGuard<'_, SimulatedVenue> {
    venue
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Which cancels the market maker's decision sends to the venue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CancelPolicy {
    /// Every cancel of every decision, including one the venue will refuse because the order
    /// has finished there while its update is on its way (the checker's: its documented
    /// figures count those refusals).
    EveryDecision,
    /// Only orders the book still has live after the step's flush, and each order once until
    /// the book hears that it finished (the wall-clock run's: the market maker keeps asking to
    /// cancel an order until the venue's confirmation arrives, which is not news).
    OncePerLiveOrder,
}

/// What produced a command the world submits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Submission {
    /// A venue update, delivered.
    Update,
    /// The market maker's placement.
    Place,
}

/// What a driver does at the points of a step where it has something to record.
pub trait StepHook {
    /// What a refused submission becomes.
    type Error;

    /// Submits `command` to the engine through `writer` (and records it as the driver needs).
    ///
    /// # Errors
    ///
    /// The driver's error when the engine refused the submission.
    fn submit(
        &mut self,
        writer: &WriteHandle<Book>,
        command: BookCommand,
        submission: Submission,
    ) -> Result<(), Self::Error>;

    /// The venue after it advanced to the step's time, before its due updates are submitted,
    /// and again after the step's placements and cancels reached it: where its fault journal
    /// can have grown.
    fn venue_touched(&mut self, venue: &mut SimulatedVenue) {
        let _ = venue;
    }

    /// Everything the step submitted is visible.
    fn visible(&mut self) {}
}

/// Why a step stopped.
#[derive(Debug, thiserror::Error)]
pub enum StepError<E> {
    /// The hook's submission failed.
    #[error("a submission failed")]
    Submit(E),
    /// The engine did not make the step's submissions visible.
    #[error("the engine did not flush")]
    Flush(#[source] FlushError),
}

/// What one step did.
#[derive(Debug, Default)]
pub struct StepReport {
    /// Venue updates delivered to the engine.
    pub updates_delivered: u64,
    /// Placements submitted to the engine.
    pub places_submitted: u64,
    /// Placements the book accepted and the venue took.
    pub places_sent: u64,
    /// Placements the book refused (a correction occupied the slot first).
    pub places_refused_by_book: u64,
    /// Placements the book accepted and the venue refused, with why.
    pub place_errors: Vec<(OrderId, PlaceError)>,
    /// Cancels the venue took.
    pub cancels_sent: u64,
    /// Cancels the venue refused, with why.
    pub cancel_errors: Vec<(OrderId, CancelError)>,
}

/// The venue, the engine, the market maker and the reconciler. See the [module](self) docs.
pub struct World<R> {
    engine: Engine<Book>,
    writer: WriteHandle<Book>,
    reader: ReadHandle<Book>,
    reach: R,
    maker: GridMarketMaker,
    cancel_policy: CancelPolicy,
    /// Under [`CancelPolicy::OncePerLiveOrder`]: orders whose cancel was sent and that the book
    /// still has live.
    cancels_sent: BTreeSet<OrderId>,
    trading: bool,
}

impl<R: VenueReach> World<R> {
    /// A trading world over a started `engine`.
    pub fn new(
        engine: Engine<Book>,
        reach: R,
        maker: GridMarketMaker,
        cancel_policy: CancelPolicy,
    ) -> Self {
        Self {
            writer: engine.write_handle(),
            reader: engine.read_handle(),
            engine,
            reach,
            maker,
            cancel_policy,
            cancels_sent: BTreeSet::new(),
            trading: true,
        }
    }

    /// The engine's read handle.
    pub fn reader(&self) -> &ReadHandle<Book> {
        &self.reader
    }

    /// The engine's write handle.
    pub fn writer(&self) -> &WriteHandle<Book> {
        &self.writer
    }

    /// Installs `engine` (a recovered one, say) with its read and write handles, and returns
    /// the engine it replaces without shutting it down: a caller that simulates a crash drops
    /// it as it is.
    #[must_use = "the replaced engine runs until it is dropped or shut down"]
    pub fn replace_engine(&mut self, engine: Engine<Book>) -> Engine<Book> {
        self.writer = engine.write_handle();
        self.reader = engine.read_handle();
        std::mem::replace(&mut self.engine, engine)
    }

    /// How the venue is reached.
    pub fn reach(&self) -> &R {
        &self.reach
    }

    /// Runs `act` on the venue.
    pub fn with_venue<T>(&mut self, act: impl FnOnce(&mut SimulatedVenue) -> T) -> T {
        self.reach.with_venue(act)
    }

    /// Ends the market: the venue stops injecting faults and moving its price (so nothing
    /// fills any more), and the market maker stops; steps from here on only deliver.
    ///
    /// # Errors
    ///
    /// The venue's, if it refused the change (it accepts both).
    pub fn halt(&mut self) -> Result<(), SimulatedVenueConfigError> {
        self.trading = false;
        self.reach.with_venue(|venue| {
            venue.set_faults(Faults::none())?;
            venue.set_price_interval(None)
        })
    }

    /// One startup reconciliation pass against the venue at `now`, through the engine's writer.
    ///
    /// # Errors
    ///
    /// [`StartupError`] when the engine closed during the pass.
    pub fn startup_pass(
        &mut self,
        config: &StartupConfig,
        now: Timestamp,
    ) -> Result<StartupReport, StartupError> {
        let writer = &self.writer;
        self.reach
            .with_venue(|venue| startup::run(venue, writer, config, now))
    }

    /// One step to `now`; see the [module](self) docs.
    ///
    /// # Errors
    ///
    /// [`StepError`] when a submission failed or the engine did not flush; what the venue
    /// refused is in the report instead.
    pub fn step<H: StepHook>(
        &mut self,
        now: Timestamp,
        hook: &mut H,
    ) -> Result<StepReport, StepError<H::Error>> {
        let decision = if self.trading {
            let snapshot = self.reader.load();
            let mid = self.reach.with_venue(|venue| venue.price());
            self.maker.decide(snapshot.state(), mid, now)
        } else {
            Decision::default()
        };
        self.carry_out(&decision, now, hook)
    }

    /// A step to `now` in which the market maker sits out, trading or not: the venue's due
    /// updates are delivered and flushed, and nothing is placed or cancelled (a restarted
    /// engine waiting for its startup reconciliation to complete, say).
    ///
    /// # Errors
    ///
    /// As [`step`](Self::step).
    pub fn deliver<H: StepHook>(
        &mut self,
        now: Timestamp,
        hook: &mut H,
    ) -> Result<StepReport, StepError<H::Error>> {
        self.carry_out(&Decision::default(), now, hook)
    }

    /// Steps 2 to 5 of a step, for `decision`.
    fn carry_out<H: StepHook>(
        &mut self,
        decision: &Decision,
        now: Timestamp,
        hook: &mut H,
    ) -> Result<StepReport, StepError<H::Error>> {
        let mut report = StepReport::default();
        let updates = self.reach.with_venue(|venue| {
            let updates = venue.advance_and_drain(now);
            hook.venue_touched(venue);
            updates
        });
        for update in updates {
            hook.submit(&self.writer, update, Submission::Update)
                .map_err(StepError::Submit)?;
            report.updates_delivered += 1;
        }
        for place in &decision.places {
            hook.submit(
                &self.writer,
                BookCommand::Place(place.clone()),
                Submission::Place,
            )
            .map_err(StepError::Submit)?;
            report.places_submitted += 1;
        }
        self.writer.flush().map_err(StepError::Flush)?;
        hook.visible();
        if !decision.places.is_empty() || !decision.cancels.is_empty() {
            self.send_to_venue(decision, now, &mut report);
        }
        self.reach.with_venue(|venue| hook.venue_touched(venue));
        Ok(report)
    }

    /// Sends the decision to the venue: the placements the book accepted, and the cancels the
    /// policy lets through.
    fn send_to_venue(&mut self, decision: &Decision, now: Timestamp, report: &mut StepReport) {
        let snapshot = self.reader.load();
        let book = snapshot.state();
        let live = |order_id: &OrderId| {
            book.order(*order_id)
                .is_some_and(|order| order.status().is_live())
        };
        let cancels: Vec<OrderId> = match self.cancel_policy {
            CancelPolicy::EveryDecision => decision.cancels.clone(),
            CancelPolicy::OncePerLiveOrder => {
                self.cancels_sent.retain(live);
                decision
                    .cancels
                    .iter()
                    .copied()
                    .filter(|order_id| live(order_id) && self.cancels_sent.insert(*order_id))
                    .collect()
            }
        };
        self.reach.with_venue(|venue| {
            for place in &decision.places {
                let accepted = book
                    .order(place.order_id)
                    .is_some_and(|order| order.status() == OrderStatus::Pending);
                if !accepted {
                    report.places_refused_by_book += 1;
                    continue;
                }
                match venue.place(place) {
                    Ok(()) => report.places_sent += 1,
                    // The book waits for an order the venue never took: the reconciler finds
                    // it missing and marks it lost.
                    Err(error) => report.place_errors.push((place.order_id, error)),
                }
            }
            for order_id in cancels {
                match venue.cancel_at(order_id, now) {
                    Ok(()) => report.cancels_sent += 1,
                    Err(error) => report.cancel_errors.push((order_id, error)),
                }
            }
        });
    }

    /// The engine and the reach, taking the world apart.
    pub fn into_parts(self) -> (Engine<Book>, R) {
        (self.engine, self.reach)
    }
}

/// The checker's world: its reconciler, cycled by the checker.
impl World<Reconciler<SimulatedVenue>> {
    /// The reconciler.
    pub fn reconciler(&self) -> &Reconciler<SimulatedVenue> {
        &self.reach
    }

    /// The reconciler, to restart it.
    pub fn reconciler_mut(&mut self) -> &mut Reconciler<SimulatedVenue> {
        &mut self.reach
    }

    /// The venue.
    pub fn venue(&self) -> &SimulatedVenue {
        self.reach.venue()
    }

    /// One reconciliation cycle through the engine's writer.
    ///
    /// # Errors
    ///
    /// [`CycleError`] as [`Reconciler::run_cycle`] gives it.
    pub fn run_cycle(&mut self) -> Result<CycleReport, CycleError> {
        self.reach.run_cycle(&self.writer)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use rust_decimal::Decimal;
    use snapstate::book::BookConfig;
    use snapstate::engine::EngineConfig;
    use snapstate::reconcile::{CycleConfig, ReconcileConfig};

    use super::*;
    use crate::check::{START, grid, initial_price};
    use crate::market_maker::MarketMakerConfig;
    use crate::venue::SimulatedVenueConfig;

    /// A hook that submits and remembers what each step submitted, in order.
    #[derive(Default)]
    struct Remembered {
        submissions: Vec<Submission>,
        flushes: u64,
    }

    impl StepHook for Remembered {
        type Error = String;

        fn submit(
            &mut self,
            writer: &WriteHandle<Book>,
            command: BookCommand,
            submission: Submission,
        ) -> Result<(), String> {
            self.submissions.push(submission);
            writer.submit(command).map_err(|error| error.to_string())
        }

        fn visible(&mut self) {
            self.flushes += 1;
        }
    }

    fn engine() -> Engine<Book> {
        Engine::start(Book::new(BookConfig::new(grid())), EngineConfig::default()).expect("engine")
    }

    fn world(cancel_policy: CancelPolicy) -> World<Reconciler<SimulatedVenue>> {
        let mut venue_config = SimulatedVenueConfig::new(7, START, initial_price());
        venue_config.update_delay = Duration::from_millis(5);
        let venue = SimulatedVenue::new(venue_config).expect("venue");
        let reconciler = Reconciler::new(venue, ReconcileConfig::default(), CycleConfig::default())
            .expect("reconciler");
        let maker = GridMarketMaker::new(
            MarketMakerConfig {
                band: 3,
                ..MarketMakerConfig::default()
            },
            1,
        );
        World::new(engine(), reconciler, maker, cancel_policy)
    }

    fn at(millis: u64) -> Timestamp {
        START.saturating_add(Duration::from_millis(millis))
    }

    #[test]
    fn a_step_submits_the_due_updates_before_the_placements_and_places_only_what_is_visible() {
        let mut world = world(CancelPolicy::EveryDecision);
        let mut hook = Remembered::default();
        let first = world.step(at(1), &mut hook).expect("step");
        assert_eq!(first.updates_delivered, 0);
        assert_eq!(first.places_submitted, 6);
        assert_eq!(first.places_sent, 6);
        assert_eq!(world.venue().orders().count(), 6);
        // Every placement the venue took is in the published book.
        let snapshot = world.reader().load();
        for order in world.venue().orders() {
            assert!(snapshot.state().order(order.order_id).is_some());
        }
        // The acknowledgements arrive with the next step, before anything it places.
        hook.submissions.clear();
        let second = world.step(at(100), &mut hook).expect("step");
        assert!(second.updates_delivered >= 6);
        let first_place = hook
            .submissions
            .iter()
            .position(|submission| *submission == Submission::Place)
            .unwrap_or(hook.submissions.len());
        assert!(
            hook.submissions[first_place..]
                .iter()
                .all(|submission| *submission == Submission::Place)
        );
        assert_eq!(hook.flushes, 2);
    }

    #[test]
    fn a_halted_world_only_delivers() {
        let mut world = world(CancelPolicy::OncePerLiveOrder);
        let mut hook = Remembered::default();
        world.step(at(1), &mut hook).expect("step");
        world.halt().expect("halt");
        hook.submissions.clear();
        let report = world.step(at(1_000), &mut hook).expect("step");
        assert_eq!(report.places_submitted, 0);
        assert_eq!(report.cancels_sent + report.cancel_errors.len() as u64, 0);
        assert!(
            hook.submissions
                .iter()
                .all(|submission| *submission == Submission::Update)
        );
        assert_eq!(world.venue().pending_update_count(), 0);
    }

    #[test]
    fn a_delivery_of_a_trading_world_delivers_and_places_nothing() {
        let mut world = world(CancelPolicy::EveryDecision);
        let mut hook = Remembered::default();
        world.step(at(1), &mut hook).expect("step");
        hook.submissions.clear();
        let report = world.deliver(at(100), &mut hook).expect("delivery");
        assert!(report.updates_delivered >= 6);
        assert_eq!(report.places_submitted, 0);
        assert_eq!(report.cancels_sent + report.cancel_errors.len() as u64, 0);
        assert!(
            hook.submissions
                .iter()
                .all(|submission| *submission == Submission::Update)
        );
        // The market maker still trades at the next step.
        let next = world.step(at(200), &mut hook).expect("step");
        assert!(next.places_submitted + next.cancels_sent > 0);
    }

    #[test]
    fn replacing_the_engine_installs_its_handles_and_hands_back_the_old_one() {
        let mut world = world(CancelPolicy::EveryDecision);
        world.step(at(1), &mut Remembered::default()).expect("step");
        let placed = world.reader().load().state().live_count();
        assert!(placed > 0);
        let old = world.replace_engine(engine());
        assert_eq!(old.read_handle().load().state().live_count(), placed);
        assert_eq!(world.reader().load().state().live_count(), 0);
        drop(old);
        // The new engine takes the next step's submissions.
        world.step(at(2), &mut Remembered::default()).expect("step");
        assert!(world.reader().load().last_seq().0 > 0);
    }

    /// Moves the price far from the first quotes, then takes two steps 1 ms apart (before any
    /// cancel's confirmation can arrive) and returns how many cancels each sent to the venue.
    fn cancels_sent_twice(cancel_policy: CancelPolicy) -> [u64; 2] {
        let mut world = world(cancel_policy);
        let mut hook = Remembered::default();
        world.step(at(1), &mut hook).expect("step");
        world.step(at(100), &mut hook).expect("step");
        world.with_venue(|venue| venue.set_price(initial_price() + Decimal::from(20), at(101)));
        [102, 103].map(|millis| {
            let report = world.step(at(millis), &mut hook).expect("step");
            report.cancels_sent + report.cancel_errors.len() as u64
        })
    }

    #[test]
    fn every_decision_repeats_a_cancel_until_the_book_hears_of_it_and_once_per_live_order_does_not()
    {
        let [first, again] = cancels_sent_twice(CancelPolicy::EveryDecision);
        assert!(first > 0);
        assert_eq!(again, first);
        let [first, again] = cancels_sent_twice(CancelPolicy::OncePerLiveOrder);
        assert!(first > 0);
        assert_eq!(again, 0);
    }
}
