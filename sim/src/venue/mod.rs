//! A deterministic exchange in memory, driven with explicit times.
//!
//! See [`SimulatedVenue`] for how it works.

mod config;
mod faults;
mod history;
mod lifecycle;
mod outbox;
#[cfg(all(test, not(loom)))]
mod tests;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Duration;

use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};
use rust_decimal::Decimal;

use snapstate::book::{BookCommand, OrderId, Place, Price, Quantity, StatusReport};
use snapstate::time::Timestamp;

use snapstate::venue::{
    CancelError, FillCursor, FillPage, OpenOrdersError, OrderLookup, PositionReport, QueryError,
    Venue, VenueOrder, VenueOrderStatus, VenueReport,
};

pub use config::{SimulatedVenueConfig, SimulatedVenueConfigError};
pub use faults::{FaultCounts, FaultKind, FaultSubject, Faults, InjectedFault};
pub use history::{DEFAULT_FILL_HISTORY_LIMIT, MAX_FILL_PAGE};

use faults::FaultRecord;
use history::FillHistory;
use outbox::Outbox;

/// The fault stream's ChaCha stream number; the market uses stream 0.
const FAULT_STREAM: u64 = 1;

/// Why the simulated venue refused an order outright (without sending a rejection update).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PlaceError {
    /// The venue already knows an order with this id; the existing order is unaffected.
    #[error("the venue already has an order {0}")]
    DuplicateOrderId(OrderId),
    /// Too many updates are waiting for delivery (the driver is not draining them).
    #[error("{limit} updates are waiting for delivery; drain them before placing more orders")]
    UpdateBacklogFull {
        /// The configured limit.
        limit: usize,
    },
}

/// One order as the venue keeps it.
#[derive(Clone, Debug)]
struct SimOrder {
    order: VenueOrder,
    venue_seq: u64,
    expires_at: Option<Timestamp>,
    closed_at: Option<Timestamp>,
}

/// A deterministic simulated exchange, driven with explicit times.
///
/// # How it works
///
/// * Time moves only when the driver says so ([`SimulatedVenue::advance_to`], or the time
///   carried by [`place`](SimulatedVenue::place), [`cancel_at`](SimulatedVenue::cancel_at) and
///   [`set_price`](SimulatedVenue::set_price)). The venue never reads a clock.
/// * The price takes one random-walk step every [`price_interval`]. After every move, each
///   resting order that the price crosses (a buy at or above it, a sell at or below it) fills:
///   all that remains, or half of it with [`partial_fill_probability`]. Fills are at the order's
///   limit price. An order that crosses when it arrives fills at once.
/// * Every change to an order produces the update a real venue would send (acknowledged,
///   filled with the cumulative quantity, cancelled, rejected, expired), numbered per order with
///   a venue sequence. Updates are delivered [`update_delay`] later through
///   [`drain_updates`](SimulatedVenue::drain_updates), stamped with their delivery time, as a
///   feed adapter that stamps receive times would.
/// * [`open_orders`](Venue::open_orders) lists the live orders and, for
///   [`closed_listing_window`], the finished ones with their final status and fills.
/// * Randomness comes from ChaCha8 streams seeded by [`seed`]: one for the market, one for the
///   faults, so that [`Faults`] change what the book hears, never what the market does.
///
/// [`price_interval`]: SimulatedVenueConfig::price_interval
/// [`partial_fill_probability`]: SimulatedVenueConfig::partial_fill_probability
/// [`update_delay`]: SimulatedVenueConfig::update_delay
/// [`closed_listing_window`]: SimulatedVenueConfig::closed_listing_window
/// [`seed`]: SimulatedVenueConfig::seed
///
/// # Example
///
/// ```
/// use std::time::Duration;
/// use rust_decimal::Decimal;
/// use snapstate::book::{BookCommand, Level, OrderId, Place, Side};
/// use snapstate::time::Timestamp;
/// use snapstate::venue::Venue;
/// use snapstate_sim::venue::{SimulatedVenue, SimulatedVenueConfig};
///
/// let start = Timestamp::from_millis(1_000);
/// let mut config = SimulatedVenueConfig::new(7, start, Decimal::new(100, 0));
/// config.price_interval = None; // the price moves only when told
/// let mut venue = SimulatedVenue::new(config)?;
/// venue.place(&Place {
///     order_id: OrderId(1), level: Level(-1), side: Side::Buy,
///     price: Decimal::new(99, 0), quantity: Decimal::new(2, 0), at: start,
/// })?;
/// venue.set_price(Decimal::new(99, 0), start.saturating_add(Duration::from_millis(1)));
/// let updates = venue.advance_and_drain(start.saturating_add(Duration::from_millis(50)));
/// assert!(matches!(updates[0], BookCommand::Acknowledge(_)));
/// assert!(updates.iter().any(|update| matches!(update, BookCommand::Fill(_))));
/// let report = venue.open_orders()?;
/// assert!(report.net_position.unwrap() > Decimal::ZERO);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// Not `Clone`: its random streams are not (a copied stream would repeat the same draws);
/// build a second venue from the same configuration instead.
#[derive(Debug)]
pub struct SimulatedVenue {
    config: SimulatedVenueConfig,
    now: Timestamp,
    price: Price,
    next_price_move_at: Option<Timestamp>,
    orders: BTreeMap<OrderId, SimOrder>,
    /// Live buys and sells by price, for matching.
    bids: BTreeSet<(Price, OrderId)>,
    asks: BTreeSet<(Price, OrderId)>,
    expiries: BTreeSet<(Timestamp, OrderId)>,
    /// Finished orders, oldest first, for forgetting them.
    closed: VecDeque<(Timestamp, OrderId)>,
    outbox: Outbox,
    /// Signed sum of every fill, plus the initial position.
    net_position: Quantity,
    next_trade_id: u64,
    /// Every fill, with its trade id, while the history keeps it.
    fill_history: FillHistory,
    market_rng: ChaCha8Rng,
    fault_rng: ChaCha8Rng,
    fault_record: FaultRecord,
}

impl SimulatedVenue {
    /// A venue at `config.start`, with no orders.
    ///
    /// # Errors
    ///
    /// A [`SimulatedVenueConfigError`] for a non-positive price or step, a zero interval or
    /// limit, or a rate outside `0..=1`.
    pub fn new(config: SimulatedVenueConfig) -> Result<Self, SimulatedVenueConfigError> {
        config.validate()?;
        let market_rng = ChaCha8Rng::seed_from_u64(config.seed);
        let mut fault_rng = ChaCha8Rng::seed_from_u64(config.seed);
        fault_rng.set_stream(FAULT_STREAM);
        Ok(Self {
            now: config.start,
            price: config.initial_price,
            next_price_move_at: config
                .price_interval
                .map(|interval| config.start.saturating_add(interval)),
            orders: BTreeMap::new(),
            bids: BTreeSet::new(),
            asks: BTreeSet::new(),
            expiries: BTreeSet::new(),
            closed: VecDeque::new(),
            outbox: Outbox::default(),
            net_position: config.initial_position,
            next_trade_id: 1,
            fill_history: FillHistory::default(),
            market_rng,
            fault_rng,
            fault_record: FaultRecord::default(),
            config,
        })
    }

    /// The venue's current time.
    pub fn now(&self) -> Timestamp {
        self.now
    }

    /// The current market price.
    pub fn price(&self) -> Price {
        self.price
    }

    /// The configuration it runs with (faults as last set).
    pub fn config(&self) -> &SimulatedVenueConfig {
        &self.config
    }

    /// How many faults of each kind it has injected so far.
    pub fn fault_counts(&self) -> &FaultCounts {
        self.fault_record.counts()
    }

    /// Starts journaling every injected fault with what it happened to (the update, the order
    /// left out, or the query), so that a test or a simulation can follow each fault to its
    /// resolution. The journal holds at most `capacity` entries until
    /// [`take_fault_journal`](Self::take_fault_journal) empties it; a fault beyond that is
    /// still injected and counted in [`fault_counts`](Self::fault_counts), only not journaled
    /// (compare the two to detect it). Calling it again changes the capacity.
    ///
    /// Off by default, so that a venue nobody journals clones nothing.
    pub fn enable_fault_journal(&mut self, capacity: usize) {
        self.fault_record.enable_journal(capacity);
    }

    /// The faults journaled since the last call, in the order they were injected; empty if the
    /// journal is off.
    pub fn take_fault_journal(&mut self) -> Vec<InjectedFault> {
        self.fault_record.take_journal()
    }

    /// Changes the fault rates from now on (for example, to stop injecting faults and watch the
    /// book converge).
    ///
    /// # Errors
    ///
    /// [`SimulatedVenueConfigError::ProbabilityOutOfRange`] for a rate outside `0..=1`; the
    /// faults are then unchanged.
    pub fn set_faults(&mut self, faults: Faults) -> Result<(), SimulatedVenueConfigError> {
        let mut config = self.config.clone();
        config.faults = faults;
        config.validate()?;
        self.config = config;
        Ok(())
    }

    /// Changes how often the price moves, from now on; `None` holds it still (for example, to
    /// let every update drain at the end of a run without new fills).
    ///
    /// # Errors
    ///
    /// [`SimulatedVenueConfigError::ZeroPriceInterval`] for a zero interval; nothing changes.
    pub fn set_price_interval(
        &mut self,
        interval: Option<Duration>,
    ) -> Result<(), SimulatedVenueConfigError> {
        if interval == Some(Duration::ZERO) {
            return Err(SimulatedVenueConfigError::ZeroPriceInterval);
        }
        self.config.price_interval = interval;
        self.next_price_move_at = interval.map(|interval| self.now.saturating_add(interval));
        Ok(())
    }

    /// The venue's true net position: every fill ever (buys +, sells −) plus the initial
    /// position.
    pub fn net_position(&self) -> Quantity {
        self.net_position
    }

    /// The venue's truth about one order, while it remembers it.
    pub fn order(&self, order_id: OrderId) -> Option<&VenueOrder> {
        self.orders.get(&order_id).map(|kept| &kept.order)
    }

    /// Every order it remembers, by id.
    pub fn orders(&self) -> impl Iterator<Item = &VenueOrder> {
        self.orders.values().map(|kept| &kept.order)
    }

    /// How many orders are live.
    pub fn live_count(&self) -> usize {
        self.bids.len() + self.asks.len()
    }

    /// How many updates are waiting for delivery.
    pub fn pending_update_count(&self) -> usize {
        self.outbox.len()
    }

    /// Moves the venue's time forward to `time` (never back), moving the price, filling and
    /// expiring orders on the way, in time order.
    pub fn advance_to(&mut self, time: Timestamp) {
        if time <= self.now {
            return;
        }
        loop {
            let next_move = self.next_price_move_at.filter(|at| *at <= time);
            let next_expiry = self.expiries.first().copied().filter(|(at, _)| *at <= time);
            match (next_move, next_expiry) {
                (move_at, Some((expiry_at, order_id)))
                    if move_at.is_none_or(|move_at| expiry_at <= move_at) =>
                {
                    self.now = expiry_at;
                    self.finish(order_id, VenueOrderStatus::Expired);
                }
                (Some(move_at), _) => {
                    self.now = move_at;
                    self.step_price();
                }
                (None, _) => break,
            }
        }
        self.now = time;
        self.forget_old_closed();
    }

    /// The updates due for delivery by the venue's current time, in delivery order.
    pub fn drain_updates(&mut self) -> Vec<BookCommand> {
        self.outbox.drain_due(self.now)
    }

    /// [`advance_to`](Self::advance_to) `time`, then [`drain_updates`](Self::drain_updates).
    pub fn advance_and_drain(&mut self, time: Timestamp) -> Vec<BookCommand> {
        self.advance_to(time);
        self.drain_updates()
    }

    /// Receives an order at `place.at` (or now, if the venue is already later).
    ///
    /// A valid order is acknowledged (and fills at once if it crosses the price); an order with
    /// a non-positive price or quantity, or one the venue refuses at random
    /// ([`reject_probability`](SimulatedVenueConfig::reject_probability)), is answered with a
    /// rejection update. Either way the answer travels as an update, like a real venue's.
    ///
    /// # Errors
    ///
    /// [`PlaceError::DuplicateOrderId`] for an id the venue remembers (the existing order is
    /// unaffected); [`PlaceError::UpdateBacklogFull`] when the undelivered updates reach
    /// [`max_pending_updates`](SimulatedVenueConfig::max_pending_updates).
    pub fn place(&mut self, place: &Place) -> Result<(), PlaceError> {
        self.advance_to(place.at);
        if self.orders.contains_key(&place.order_id) {
            return Err(PlaceError::DuplicateOrderId(place.order_id));
        }
        if self.outbox.len() >= self.config.max_pending_updates {
            return Err(PlaceError::UpdateBacklogFull {
                limit: self.config.max_pending_updates,
            });
        }
        // Drawn for every order, valid or not, so that the market stream does not depend on
        // which orders happened to be valid.
        let refused = self.market_rng.random_bool(self.config.reject_probability);
        let invalid = place.quantity <= Decimal::ZERO || place.price <= Decimal::ZERO;
        let order = VenueOrder {
            order_id: place.order_id,
            updated_at: self.now,
            filled: Decimal::ZERO,
            status: VenueOrderStatus::Open,
            side: place.side,
            price: place.price,
            quantity: place.quantity,
        };
        self.orders.insert(
            place.order_id,
            SimOrder {
                order,
                venue_seq: 0,
                expires_at: None,
                closed_at: None,
            },
        );
        if invalid || refused {
            self.finish(place.order_id, VenueOrderStatus::Rejected);
            return Ok(());
        }
        self.rest(place);
        let venue_seq = self.bump_seq(place.order_id);
        self.emit(BookCommand::Acknowledge(StatusReport {
            order_id: place.order_id,
            venue_seq: Some(venue_seq),
            at: self.now,
        }));
        if self.crosses(place.side, place.price) {
            self.fill_once(place.order_id);
        }
        Ok(())
    }

    /// Cancels a live order at `at` (or now, if the venue is already later).
    ///
    /// # Errors
    ///
    /// [`CancelError::UnknownOrder`] for an id the venue does not remember,
    /// [`CancelError::AlreadyFinished`] for an order that is no longer live.
    pub fn cancel_at(&mut self, order_id: OrderId, at: Timestamp) -> Result<(), CancelError> {
        self.advance_to(at);
        let kept = self
            .orders
            .get(&order_id)
            .ok_or(CancelError::UnknownOrder(order_id))?;
        if !kept.order.status.is_live() {
            return Err(CancelError::AlreadyFinished {
                order_id,
                status: kept.order.status,
            });
        }
        self.finish(order_id, VenueOrderStatus::Cancelled);
        Ok(())
    }

    /// Moves the price to `price` at `at` (or now, if the venue is already later) and fills
    /// whatever it crosses. Prices below one step are raised to one step.
    pub fn set_price(&mut self, price: Price, at: Timestamp) {
        self.advance_to(at);
        self.price = price.max(self.config.price_step);
        self.match_crossing();
    }

    fn report(&mut self) -> VenueReport {
        let listed_since = self.now.saturating_sub(self.config.closed_listing_window);
        let mut orders = Vec::with_capacity(self.live_count());
        for kept in self.orders.values() {
            match kept.closed_at {
                None => orders.push(kept.order.clone()),
                Some(closed_at) if closed_at >= listed_since => {
                    let omitted = self.fault_record.draw(
                        &mut self.fault_rng,
                        self.config.faults.omit_just_closed_rate,
                        FaultKind::OmittedJustClosed,
                        self.now,
                        || FaultSubject::Order(kept.order.order_id),
                    );
                    if !omitted {
                        orders.push(kept.order.clone());
                    }
                }
                Some(_) => {}
            }
        }
        VenueReport {
            as_of: self.now,
            orders,
            net_position: Some(self.net_position),
        }
    }
}

/// A fault injected into one query (of any kind).
enum QueryFault {
    Failed,
    TimedOut,
}

/// The reason an injected query failure gives.
const INJECTED_FAILURE: &str = "injected failure";

impl SimulatedVenue {
    /// Draws the faults of one query, as the faults' rates say, and journals the one injected.
    /// Both draws are always made, so that a query consumes the same randomness whatever
    /// comes of it.
    fn draw_query_fault(&mut self) -> Option<QueryFault> {
        let failed = self
            .fault_rng
            .random_bool(self.config.faults.query_failure_rate);
        let timed_out = self
            .fault_rng
            .random_bool(self.config.faults.query_timeout_rate);
        let (fault, kind) = if failed {
            (QueryFault::Failed, FaultKind::QueryFailed)
        } else if timed_out {
            (QueryFault::TimedOut, FaultKind::QueryTimedOut)
        } else {
            return None;
        };
        self.fault_record
            .record(kind, self.now, || FaultSubject::Query);
        Some(fault)
    }
}

impl Venue for SimulatedVenue {
    /// Answers as of the venue's current time, or fails or times out as the faults say.
    fn open_orders(&mut self) -> Result<VenueReport, OpenOrdersError> {
        match self.draw_query_fault() {
            Some(QueryFault::Failed) => Err(OpenOrdersError::Failed {
                reason: INJECTED_FAILURE.to_owned(),
            }),
            Some(QueryFault::TimedOut) => Err(OpenOrdersError::TimedOut {
                after: self.config.faults.query_timeout,
            }),
            None => Ok(self.report()),
        }
    }

    /// Cancels at the venue's current time.
    fn cancel(&mut self, order_id: OrderId) -> Result<(), CancelError> {
        self.cancel_at(order_id, self.now)
    }

    /// Pages through the fills it keeps (at most [`MAX_FILL_PAGE`] a page), or fails or
    /// times out as the faults say.
    fn fills_since(&mut self, cursor: FillCursor, limit: usize) -> Result<FillPage, QueryError> {
        self.answer_fills_since(cursor, limit)
    }

    /// Its true net position (always reported), or fails or times out as the faults say.
    fn position(&mut self) -> Result<PositionReport, QueryError> {
        self.answer_position()
    }

    /// The order while it remembers it, `NotFound` after, or fails or times out as the faults
    /// say.
    fn order_status(&mut self, order_id: OrderId) -> Result<OrderLookup, QueryError> {
        self.answer_order_status(order_id)
    }
}
