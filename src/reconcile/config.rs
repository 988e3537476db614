//! What the diff needs to decide: the evidence thresholds, the position tolerance and the
//! correction policy of each mismatch class.

use std::fmt;
use std::time::Duration;

use rust_decimal::Decimal;

use crate::book::Quantity;

use super::MismatchClass;

/// What to do about a confirmed mismatch of one class.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Policy {
    /// Send the book a guarded correction (see the class's documentation in
    /// `docs/reconciliation.md` for which one).
    Correct,
    /// Ask the venue to cancel the order(s) concerned.
    CancelAtVenue,
    /// Report it and change nothing.
    ReportOnly,
}

impl Policy {
    /// A stable snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Policy::Correct => "correct",
            Policy::CancelAtVenue => "cancel_at_venue",
            Policy::ReportOnly => "report_only",
        }
    }
}

impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The policy of each mismatch class.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policies {
    /// Default [`Policy::Correct`]: adopt the order into its slot when it sits exactly on a
    /// level whose slot is vacant in the book; otherwise it is reported only.
    pub unknown_inside_grid: Policy,
    /// Default [`Policy::ReportOnly`]: an order outside the grid is not the strategy's; a person
    /// decides. [`Policy::CancelAtVenue`] cancels it.
    pub unknown_outside_grid: Policy,
    /// Default [`Policy::Correct`]: mark the order lost.
    pub missing_at_venue: Policy,
    /// Default [`Policy::Correct`]: apply the missed fill, flagged as coming from
    /// reconciliation.
    pub venue_filled_ahead: Policy,
    /// Default (and only) [`Policy::ReportOnly`]: a fill cannot be taken back.
    pub venue_filled_behind: Policy,
    /// Default [`Policy::ReportOnly`].
    pub side_differs: Policy,
    /// Default [`Policy::ReportOnly`].
    pub price_differs: Policy,
    /// Default [`Policy::ReportOnly`].
    pub quantity_differs: Policy,
    /// Default [`Policy::Correct`]: apply the missed acknowledgement; mark an order the venue
    /// has finished lost; cancel at the venue an order the book has finished but the venue
    /// still works (the book's finished states are final, so that is the only way to agree).
    pub status_differs: Policy,
    /// Default [`Policy::ReportOnly`]. [`Policy::CancelAtVenue`] cancels every live order of
    /// the slot except the book's own.
    pub multiple_live_orders: Policy,
    /// Default (and only) [`Policy::ReportOnly`]: no order to correct.
    pub position_differs: Policy,
}

impl Default for Policies {
    fn default() -> Self {
        Self {
            unknown_inside_grid: Policy::Correct,
            unknown_outside_grid: Policy::ReportOnly,
            missing_at_venue: Policy::Correct,
            venue_filled_ahead: Policy::Correct,
            venue_filled_behind: Policy::ReportOnly,
            side_differs: Policy::ReportOnly,
            price_differs: Policy::ReportOnly,
            quantity_differs: Policy::ReportOnly,
            status_differs: Policy::Correct,
            multiple_live_orders: Policy::ReportOnly,
            position_differs: Policy::ReportOnly,
        }
    }
}

impl Policies {
    /// Every class reported only: the reconciler observes and never acts.
    pub fn report_only() -> Self {
        Self {
            unknown_inside_grid: Policy::ReportOnly,
            unknown_outside_grid: Policy::ReportOnly,
            missing_at_venue: Policy::ReportOnly,
            venue_filled_ahead: Policy::ReportOnly,
            venue_filled_behind: Policy::ReportOnly,
            side_differs: Policy::ReportOnly,
            price_differs: Policy::ReportOnly,
            quantity_differs: Policy::ReportOnly,
            status_differs: Policy::ReportOnly,
            multiple_live_orders: Policy::ReportOnly,
            position_differs: Policy::ReportOnly,
        }
    }

    /// The policy for `class`.
    pub fn for_class(&self, class: MismatchClass) -> Policy {
        match class {
            MismatchClass::UnknownInsideGrid => self.unknown_inside_grid,
            MismatchClass::UnknownOutsideGrid => self.unknown_outside_grid,
            MismatchClass::MissingAtVenue => self.missing_at_venue,
            MismatchClass::VenueFilledAhead => self.venue_filled_ahead,
            MismatchClass::VenueFilledBehind => self.venue_filled_behind,
            MismatchClass::SideDiffers => self.side_differs,
            MismatchClass::PriceDiffers => self.price_differs,
            MismatchClass::QuantityDiffers => self.quantity_differs,
            MismatchClass::StatusDiffers => self.status_differs,
            MismatchClass::MultipleLiveOrders => self.multiple_live_orders,
            MismatchClass::PositionDiffers => self.position_differs,
        }
    }

    /// The policies that make sense for `class`.
    pub fn supported(class: MismatchClass) -> &'static [Policy] {
        use Policy::{CancelAtVenue, Correct, ReportOnly};
        match class {
            MismatchClass::UnknownInsideGrid | MismatchClass::StatusDiffers => {
                &[Correct, CancelAtVenue, ReportOnly]
            }
            MismatchClass::MissingAtVenue | MismatchClass::VenueFilledAhead => {
                &[Correct, ReportOnly]
            }
            MismatchClass::UnknownOutsideGrid
            | MismatchClass::SideDiffers
            | MismatchClass::PriceDiffers
            | MismatchClass::QuantityDiffers
            | MismatchClass::MultipleLiveOrders => &[CancelAtVenue, ReportOnly],
            MismatchClass::VenueFilledBehind | MismatchClass::PositionDiffers => &[ReportOnly],
        }
    }
}

/// Configuration of the diff: evidence thresholds, tolerance and policies.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReconcileConfig {
    /// How long both sides must have been quiet before a difference about an order counts:
    /// the order's last local activity, and the venue's last change to it, must both be at
    /// least this long ago. Updates still in flight arrive within it. Also how long a position
    /// difference must persist. Default 5 s.
    pub in_flight_grace: Duration,
    /// How many consecutive venue answers must leave out a live order before it counts as
    /// missing. Default 3.
    pub absences_before_missing: u32,
    /// How many consecutive venue answers must show any other difference, unchanged, before it
    /// counts. Default 2: one answer is never enough to act on.
    pub observations_before_confirmed: u32,
    /// How far the net positions may differ, beyond what listed orders explain, without a
    /// finding. Default 0.
    pub position_tolerance: Quantity,
    /// What to do about each class.
    pub policies: Policies,
}

impl Default for ReconcileConfig {
    fn default() -> Self {
        Self {
            in_flight_grace: Self::DEFAULT_IN_FLIGHT_GRACE,
            absences_before_missing: Self::DEFAULT_ABSENCES_BEFORE_MISSING,
            observations_before_confirmed: Self::DEFAULT_OBSERVATIONS_BEFORE_CONFIRMED,
            position_tolerance: Decimal::ZERO,
            policies: Policies::default(),
        }
    }
}

impl ReconcileConfig {
    /// The default in-flight grace window.
    pub const DEFAULT_IN_FLIGHT_GRACE: Duration = Duration::from_secs(5);
    /// The default number of absences before an order counts as missing.
    pub const DEFAULT_ABSENCES_BEFORE_MISSING: u32 = 3;
    /// The default number of observations before another difference counts.
    pub const DEFAULT_OBSERVATIONS_BEFORE_CONFIRMED: u32 = 2;

    /// Checks the thresholds and that each class's policy is one it supports.
    ///
    /// # Errors
    ///
    /// The first problem found, as a [`ReconcileConfigError`].
    pub fn validate(&self) -> Result<(), ReconcileConfigError> {
        if self.absences_before_missing == 0 {
            return Err(ReconcileConfigError::ZeroThreshold(
                "absences_before_missing",
            ));
        }
        if self.observations_before_confirmed == 0 {
            return Err(ReconcileConfigError::ZeroThreshold(
                "observations_before_confirmed",
            ));
        }
        if self.position_tolerance.is_sign_negative() && !self.position_tolerance.is_zero() {
            return Err(ReconcileConfigError::NegativeTolerance(
                self.position_tolerance,
            ));
        }
        for class in MismatchClass::ALL {
            let policy = self.policies.for_class(class);
            if !Policies::supported(class).contains(&policy) {
                return Err(ReconcileConfigError::UnsupportedPolicy { class, policy });
            }
        }
        Ok(())
    }

    /// How many consecutive observations `class` needs.
    pub(crate) fn observations_required(&self, class: MismatchClass) -> u32 {
        let required = match class {
            MismatchClass::MissingAtVenue => self.absences_before_missing,
            _ => self.observations_before_confirmed,
        };
        // An unvalidated zero would confirm on no evidence at all; never go below one.
        required.max(1)
    }
}

/// Why a [`ReconcileConfig`] was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReconcileConfigError {
    /// A threshold that must be at least 1 is zero.
    #[error("{0} must be at least 1")]
    ZeroThreshold(&'static str),
    /// The position tolerance is negative.
    #[error("position tolerance must not be negative, got {0}")]
    NegativeTolerance(Quantity),
    /// A class's policy is not one it supports.
    #[error("policy {policy} is not supported for {class}")]
    UnsupportedPolicy {
        /// The class.
        class: MismatchClass,
        /// The policy asked for.
        policy: Policy,
    },
}
