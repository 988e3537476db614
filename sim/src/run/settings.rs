//! A simulation's settings: the command's options, checked against each other.

use std::time::Duration;

use crate::venue::Faults;
use rust_decimal::Decimal;
use serde::{Serialize, Serializer};
use snapstate::book::{Grid, GridError, Price};

/// The grid spans this many times the quoted levels, so that the random-walk mid can wander
/// without the quotes running off the grid (the market maker stops at the grid's edge).
pub const GRID_SPAN_FACTOR: u32 = 4;
/// Distance between grid levels, which is also the venue's price step: each move of the price
/// crosses exactly one level.
pub const PRICE_STEP: Decimal = Decimal::from_parts(5, 0, 0, false, 1);

/// Everything a simulation needs to know, checked.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Settings {
    /// Levels quoted around the mid.
    pub levels: u32,
    /// How long to trade.
    #[serde(rename = "duration_s", serialize_with = "seconds")]
    pub duration: Duration,
    /// Seed of the venue's market and faults.
    pub seed: u64,
    /// The venue's update latency.
    #[serde(rename = "venue_latency_s", serialize_with = "seconds")]
    pub venue_latency: Duration,
    /// How often the price moves one level.
    #[serde(rename = "price_interval_s", serialize_with = "seconds")]
    pub price_interval: Duration,
    /// Fault rates.
    pub faults: FaultSettings,
    /// Pause between reconciliations.
    #[serde(rename = "reconcile_interval_s", serialize_with = "seconds")]
    pub reconcile_interval: Duration,
    /// The reconciler's in-flight grace window.
    #[serde(rename = "grace_s", serialize_with = "seconds")]
    pub grace: Duration,
    /// The longest convergence phase.
    #[serde(rename = "converge_timeout_s", serialize_with = "seconds")]
    pub converge_timeout: Duration,
    /// The driver's tick.
    #[serde(rename = "tick_s", serialize_with = "seconds")]
    pub tick: Duration,
}

/// The delivery faults a simulation injects.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FaultSettings {
    /// Probability that an update never arrives.
    pub drop_rate: f64,
    /// Probability that an update arrives twice.
    pub duplicate_rate: f64,
    /// Probability that an update arrives late.
    pub delay_rate: f64,
    /// The longest extra delay.
    #[serde(rename = "max_extra_delay_s", serialize_with = "seconds")]
    pub max_extra_delay: Duration,
    /// Probability that an update overtakes the one before it.
    pub reorder_rate: f64,
}

/// Why the options do not make a sensible run.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    /// The grace window does not cover the longest update delay.
    #[error(
        "--grace {grace:?} must exceed the longest update delay, {longest_delay:?} (venue \
         latency, extra delay and one tick): updates still in flight would look like mismatches"
    )]
    GraceTooShort {
        /// The grace window asked for.
        grace: Duration,
        /// The longest time an update can take to reach the book.
        longest_delay: Duration,
    },
    /// The grid cannot be built (far too many levels for the price's decimal range).
    #[error("cannot build a grid of {levels} levels")]
    Grid {
        /// The quoted levels asked for.
        levels: u32,
        /// Why.
        #[source]
        source: GridError,
    },
}

impl Settings {
    /// Checks that the settings make a sensible run.
    ///
    /// # Errors
    ///
    /// [`SettingsError::GraceTooShort`] when the grace window does not cover the longest
    /// update delay; [`SettingsError`]'s grid variant when the grid cannot be built.
    pub fn validate(&self) -> Result<(), SettingsError> {
        let longest_delay = self.longest_update_delay();
        if self.grace <= longest_delay {
            return Err(SettingsError::GraceTooShort {
                grace: self.grace,
                longest_delay,
            });
        }
        self.grid()?;
        Ok(())
    }

    /// The longest an update can take from the venue to the book: the latency, the extra
    /// delay when delays are injected, and one tick until the driver delivers it.
    pub fn longest_update_delay(&self) -> Duration {
        let extra = if self.faults.delay_rate > 0.0 {
            self.faults.max_extra_delay
        } else {
            Duration::ZERO
        };
        self.venue_latency + extra + self.tick
    }

    /// The grid: [`GRID_SPAN_FACTOR`] times the quoted levels, one [`PRICE_STEP`] apart, centred
    /// on [`initial_price`](Self::initial_price).
    ///
    /// # Errors
    ///
    /// [`SettingsError::Grid`] if its prices leave the decimal range.
    pub fn grid(&self) -> Result<Grid, SettingsError> {
        let levels = self.levels.saturating_mul(GRID_SPAN_FACTOR);
        Grid::centred(self.initial_price(), PRICE_STEP, levels).map_err(|source| {
            SettingsError::Grid {
                levels: self.levels,
                source,
            }
        })
    }

    /// The venue's price at the start: the grid's middle, high enough that its lowest level
    /// is at half of it, so that every price on the grid is positive.
    pub fn initial_price(&self) -> Price {
        PRICE_STEP * Decimal::from(self.levels.saturating_mul(GRID_SPAN_FACTOR))
    }

    /// The venue's faults.
    pub fn venue_faults(&self) -> Faults {
        Faults {
            drop_rate: self.faults.drop_rate,
            duplicate_rate: self.faults.duplicate_rate,
            delay_rate: self.faults.delay_rate,
            max_extra_delay: self.faults.max_extra_delay,
            reorder_rate: self.faults.reorder_rate,
            ..Faults::none()
        }
    }
}

/// Serializes a duration as fractional seconds.
fn seconds<S: Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_f64(duration.as_secs_f64())
}
