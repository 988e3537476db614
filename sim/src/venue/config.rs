//! Configuration of the simulated venue, with its limits and their validation.

use std::time::Duration;

use rust_decimal::Decimal;

use snapstate::book::{Price, Quantity};
use snapstate::time::Timestamp;

use super::Faults;

/// Configuration of a [`SimulatedVenue`](super::SimulatedVenue).
#[derive(Clone, Debug, PartialEq)]
pub struct SimulatedVenueConfig {
    /// Seeds the market (price path, partial fills, rejections) and, on a separate stream, the
    /// faults. The same seed and the same calls give the same run.
    pub seed: u64,
    /// The venue's time before it is first advanced.
    pub start: Timestamp,
    /// The market price at `start`.
    pub initial_price: Price,
    /// How far one random-walk move takes the price (up or down, with equal probability). The
    /// price never goes below one step.
    pub price_step: Price,
    /// How often the price moves; `None` keeps it still except through
    /// [`set_price`](super::SimulatedVenue::set_price). Default 10 ms.
    pub price_interval: Option<Duration>,
    /// How long an order update takes to reach the book, before any injected delay.
    /// Default 5 ms.
    pub update_delay: Duration,
    /// The chance that a crossing fills only half of what remains (rounded down to the order
    /// quantity's decimal places) instead of all of it. Default 0.3.
    pub partial_fill_probability: f64,
    /// The chance that the venue refuses a valid order (a normal venue behaviour, not a fault).
    /// Default 0.
    pub reject_probability: f64,
    /// Orders expire this long after acceptance; `None` (the default): good till cancelled.
    pub time_in_force: Option<Duration>,
    /// How long a finished order stays listed in open-orders answers, with its final status
    /// and fills, so that a reconciler can learn how an order ended when its last update was
    /// lost. Keep it shorter than the book's tombstone retention. Default 60 s.
    pub closed_listing_window: Duration,
    /// How long the venue remembers a finished order at all (for [`order`] lookups and for
    /// refusing a reused id). Default 10 minutes.
    ///
    /// [`order`]: super::SimulatedVenue::order
    pub closed_retention: Duration,
    /// The most finished orders remembered; the oldest are forgotten first. Default 100,000.
    pub max_closed_orders: usize,
    /// The most undelivered updates held; beyond it new orders are refused (fills and cancels
    /// of existing orders are always sent). Default 1,000,000.
    pub max_pending_updates: usize,
    /// A position the venue holds from before the book existed (added to its net position).
    /// Default 0.
    pub initial_position: Quantity,
    /// What goes wrong, and how often. Default: nothing.
    pub faults: Faults,
}

impl SimulatedVenueConfig {
    /// A configuration with the given seed, start time and price, and defaults for the rest.
    pub fn new(seed: u64, start: Timestamp, initial_price: Price) -> Self {
        Self {
            seed,
            start,
            initial_price,
            price_step: Decimal::new(5, 1),
            price_interval: Some(Duration::from_millis(10)),
            update_delay: Duration::from_millis(5),
            partial_fill_probability: 0.3,
            reject_probability: 0.0,
            time_in_force: None,
            closed_listing_window: Duration::from_secs(60),
            closed_retention: Duration::from_secs(600),
            max_closed_orders: 100_000,
            max_pending_updates: 1_000_000,
            initial_position: Decimal::ZERO,
            faults: Faults::none(),
        }
    }

    pub(crate) fn validate(&self) -> Result<(), SimulatedVenueConfigError> {
        if self.initial_price <= Decimal::ZERO {
            return Err(SimulatedVenueConfigError::NonPositivePrice(
                self.initial_price,
            ));
        }
        if self.price_step <= Decimal::ZERO {
            return Err(SimulatedVenueConfigError::NonPositiveStep(self.price_step));
        }
        if self.price_interval == Some(Duration::ZERO) {
            return Err(SimulatedVenueConfigError::ZeroPriceInterval);
        }
        if self.max_pending_updates == 0 {
            return Err(SimulatedVenueConfigError::ZeroLimit("max_pending_updates"));
        }
        let probabilities = [
            ("partial_fill_probability", self.partial_fill_probability),
            ("reject_probability", self.reject_probability),
        ];
        for (name, value) in probabilities.into_iter().chain(self.faults.rates()) {
            validate_probability(name, value)?;
        }
        Ok(())
    }
}

/// Why a [`SimulatedVenueConfig`] was refused.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum SimulatedVenueConfigError {
    /// The initial price must be positive.
    #[error("initial price must be positive, got {0}")]
    NonPositivePrice(Price),
    /// The price step must be positive.
    #[error("price step must be positive, got {0}")]
    NonPositiveStep(Price),
    /// A price interval, when set, must be positive.
    #[error("price interval must be positive when set")]
    ZeroPriceInterval,
    /// A limit must be at least 1.
    #[error("{0} must be at least 1")]
    ZeroLimit(&'static str),
    /// A probability or rate outside `0.0..=1.0` (or not a number).
    #[error("{name} must be a probability in 0..=1, got {value}")]
    ProbabilityOutOfRange {
        /// The field.
        name: &'static str,
        /// Its value.
        value: f64,
    },
}

fn validate_probability(name: &'static str, value: f64) -> Result<(), SimulatedVenueConfigError> {
    if (0.0..=1.0).contains(&value) {
        Ok(())
    } else {
        Err(SimulatedVenueConfigError::ProbabilityOutOfRange { name, value })
    }
}
