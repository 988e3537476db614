//! The venue queries that the startup reconciliation asks beyond the open orders: the fill
//! history since a cursor (paged and bounded), the venue's position, and one order by id.
//!
//! Every answer type keeps "the venue answered that there is nothing" apart from "the venue
//! did not answer": [`FillPage`] with no fills, [`PositionReport::NotReported`] and
//! [`OrderLookup::NotFound`] are answers; a [`QueryError`] (failed, timed out, or unsupported by
//! this venue) never is.

use std::fmt;
use std::time::Duration;

use crate::book::{OrderId, Price, Quantity, Side};
use crate::time::Timestamp;

use super::VenueOrder;

/// One execution as the venue's fill history reports it.
///
/// `Ord` orders by trade id first, so a history sorts into the venue's execution order.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct VenueFill {
    /// The venue's trade id: unique per venue, and increasing in execution order.
    pub trade_id: u64,
    /// The (client) order it filled.
    pub order_id: OrderId,
    /// The order's side.
    pub side: Side,
    /// The execution's price.
    pub price: Price,
    /// The quantity of this execution alone.
    pub quantity: Quantity,
    /// The order's cumulative filled quantity after this execution.
    pub cumulative_filled: Quantity,
    /// When it executed.
    pub at: Timestamp,
}

/// Where a fill-history query starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum FillCursor {
    /// Every fill the venue still keeps.
    Beginning,
    /// Fills with a trade id above this one.
    AfterTrade(u64),
    /// Fills executed at or after this time.
    Since(Timestamp),
}

impl fmt::Display for FillCursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FillCursor::Beginning => f.write_str("the beginning of the venue's history"),
            FillCursor::AfterTrade(trade_id) => write!(f, "after trade {trade_id}"),
            FillCursor::Since(at) => write!(f, "since {at}"),
        }
    }
}

/// One page of a fill-history answer.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct FillPage {
    /// At most the requested number of fills, in trade-id order. May repeat a fill of an
    /// earlier page; readers deduplicate by trade id.
    pub fills: Vec<VenueFill>,
    /// Where the next page starts, or `None` when this page ends the history.
    pub next: Option<FillCursor>,
    /// The lowest trade id the venue still keeps, if it says: fills below it are forgotten,
    /// so a position older than that history cannot be explained by fills.
    pub oldest_kept_trade_id: Option<u64>,
}

/// The venue's net position, or its statement that it does not report one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum PositionReport {
    /// The venue's net position (buys +, sells −) as of `as_of`.
    Reported {
        /// The position.
        net_position: Quantity,
        /// The moment it is true as of.
        as_of: Timestamp,
    },
    /// The venue answered, but keeps no position for this account. Never read as flat.
    NotReported,
}

impl PositionReport {
    /// The position, if the venue reported one.
    pub fn net_position(&self) -> Option<Quantity> {
        match self {
            PositionReport::Reported { net_position, .. } => Some(*net_position),
            PositionReport::NotReported => None,
        }
    }
}

/// The venue's answer to a query about one order.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum OrderLookup {
    /// The venue knows the order: its state now.
    Found(VenueOrder),
    /// The venue answered that it does not know the order (never received, or forgotten).
    NotFound {
        /// The moment the answer is true as of.
        as_of: Timestamp,
    },
}

/// Why a startup query (fills, position, one order) gave no answer. Never to be read as
/// "nothing there".
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    /// This venue adapter does not offer the query.
    #[error("the venue does not support the {query} query")]
    Unsupported {
        /// Which query.
        query: QueryKind,
    },
    /// The venue answered with an error, or the connection failed.
    #[error("the {query} query failed: {reason}")]
    Failed {
        /// Which query.
        query: QueryKind,
        /// What went wrong.
        reason: String,
    },
    /// The venue did not answer in time.
    #[error("the {query} query timed out after {after:?}")]
    TimedOut {
        /// Which query.
        query: QueryKind,
        /// How long the caller waited.
        after: Duration,
    },
}

impl QueryError {
    /// Whether the venue does not offer the query at all (asking again will not help).
    pub fn is_unsupported(&self) -> bool {
        matches!(self, QueryError::Unsupported { .. })
    }

    /// Whether the venue did not answer in time.
    pub fn is_timed_out(&self) -> bool {
        matches!(self, QueryError::TimedOut { .. })
    }

    /// Which query failed.
    pub fn query(&self) -> QueryKind {
        match self {
            QueryError::Unsupported { query }
            | QueryError::Failed { query, .. }
            | QueryError::TimedOut { query, .. } => *query,
        }
    }
}

/// The startup queries, for errors and reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum QueryKind {
    /// [`Venue::open_orders`](super::Venue::open_orders).
    OpenOrders,
    /// [`Venue::fills_since`](super::Venue::fills_since).
    Fills,
    /// [`Venue::position`](super::Venue::position).
    Position,
    /// [`Venue::order_status`](super::Venue::order_status).
    Order,
}

impl QueryKind {
    /// A stable snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            QueryKind::OpenOrders => "open_orders",
            QueryKind::Fills => "fills",
            QueryKind::Position => "position",
            QueryKind::Order => "order",
        }
    }
}

impl fmt::Display for QueryKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
