//! The venue: what the reconciler asks an exchange.
//!
//! [`Venue`] is the reconciler's whole view of an exchange: one query that lists the open
//! orders (and, where the venue offers it, the orders that finished recently) with the net
//! position, stamped with the time it is true as of; and, optionally, a cancel.
//!
//! The startup reconciliation ([`crate::reconcile::startup`]) asks three more questions, each
//! optional for an adapter (the defaults answer [`QueryError::Unsupported`], never an empty
//! answer): the fill history since a cursor ([`Venue::fills_since`], paged and bounded), the
//! venue's position ([`Venue::position`], where [`PositionReport::NotReported`] is never
//! flat), and one order by id ([`Venue::order_status`], for orders placed but never
//! acknowledged).
//!
//! # Errors are never absence
//!
//! A query that fails or times out returns an [`OpenOrdersError`], never an empty list. The
//! reconciler must not read "I could not ask" as "the order is gone": that is how a flaky
//! connection turns into orders marked lost. A venue that does not report a net position says
//! so with `None`, never with zero.
//!
//! # Time
//!
//! Venue timestamps ([`VenueReport::as_of`], [`VenueOrder::updated_at`]) are read in the same
//! time base as the local clock. An adapter for a real exchange converts the exchange's times
//! (and any known clock offset) when it builds the report; the reconciler's grace window absorbs
//! what remains of the skew, as long as it is much smaller than the window.
//!
//! # A simulated venue
//!
//! A deterministic, fault-injecting exchange in memory (`SimulatedVenue`) lives in the
//! `snapstate-sim` crate (`sim/` in the repository), so that its randomness never reaches an
//! embedder's build.

mod queries;

use std::fmt;
use std::time::Duration;

use crate::book::{Order, OrderId, OrderStatus, Price, Quantity, Side};
use crate::time::Timestamp;

pub use queries::{
    FillCursor, FillPage, OrderLookup, PositionReport, QueryError, QueryKind, VenueFill,
};

/// What the reconciler asks of an exchange.
///
/// Implementations adapt one exchange's API. Both methods may block on I/O; the reconciler calls
/// them from its own thread, never from the engine's writer.
pub trait Venue {
    /// The venue's open orders (and recently finished ones, if it lists them) and its net
    /// position, as of one moment.
    ///
    /// # Errors
    ///
    /// [`OpenOrdersError::Failed`] when the venue could not answer, [`OpenOrdersError::TimedOut`]
    /// when it did not answer in time. An error is never an empty answer.
    fn open_orders(&mut self) -> Result<VenueReport, OpenOrdersError>;

    /// Asks the venue to cancel an order. Venues that the reconciler may not cancel on keep
    /// the default, which refuses.
    ///
    /// # Errors
    ///
    /// [`CancelError::Unsupported`] by default; otherwise why the venue refused or could not be
    /// reached.
    fn cancel(&mut self, order_id: OrderId) -> Result<(), CancelError> {
        Err(CancelError::Unsupported(order_id))
    }

    /// Up to `limit` fills from `cursor` on, in trade-id order, and where the next page starts.
    ///
    /// An adapter caps `limit` at what its venue allows; a caller bounds the number of pages it
    /// asks for. A page with no fills and no next cursor is an answer: no fills since the
    /// cursor.
    ///
    /// # Errors
    ///
    /// [`QueryError::Unsupported`] by default; otherwise [`QueryError::Failed`] or
    /// [`QueryError::TimedOut`]. An error is never an empty history.
    fn fills_since(&mut self, cursor: FillCursor, limit: usize) -> Result<FillPage, QueryError> {
        let _ = (cursor, limit);
        Err(QueryError::Unsupported {
            query: QueryKind::Fills,
        })
    }

    /// The venue's net position, or its answer that it keeps none.
    ///
    /// # Errors
    ///
    /// [`QueryError::Unsupported`] by default; otherwise [`QueryError::Failed`] or
    /// [`QueryError::TimedOut`]. An error is never a flat position.
    fn position(&mut self) -> Result<PositionReport, QueryError> {
        Err(QueryError::Unsupported {
            query: QueryKind::Position,
        })
    }

    /// One order by id: its state at the venue, or the venue's answer that it does not know it.
    ///
    /// # Errors
    ///
    /// [`QueryError::Unsupported`] by default; otherwise [`QueryError::Failed`] or
    /// [`QueryError::TimedOut`]. An error is never "not found".
    fn order_status(&mut self, order_id: OrderId) -> Result<OrderLookup, QueryError> {
        let _ = order_id;
        Err(QueryError::Unsupported {
            query: QueryKind::Order,
        })
    }
}

impl<V: Venue + ?Sized> Venue for Box<V> {
    fn open_orders(&mut self) -> Result<VenueReport, OpenOrdersError> {
        (**self).open_orders()
    }

    fn cancel(&mut self, order_id: OrderId) -> Result<(), CancelError> {
        (**self).cancel(order_id)
    }

    fn fills_since(&mut self, cursor: FillCursor, limit: usize) -> Result<FillPage, QueryError> {
        (**self).fills_since(cursor, limit)
    }

    fn position(&mut self) -> Result<PositionReport, QueryError> {
        (**self).position()
    }

    fn order_status(&mut self, order_id: OrderId) -> Result<OrderLookup, QueryError> {
        (**self).order_status(order_id)
    }
}

impl<V: Venue + ?Sized> Venue for &mut V {
    fn open_orders(&mut self) -> Result<VenueReport, OpenOrdersError> {
        (**self).open_orders()
    }

    fn cancel(&mut self, order_id: OrderId) -> Result<(), CancelError> {
        (**self).cancel(order_id)
    }

    fn fills_since(&mut self, cursor: FillCursor, limit: usize) -> Result<FillPage, QueryError> {
        (**self).fills_since(cursor, limit)
    }

    fn position(&mut self) -> Result<PositionReport, QueryError> {
        (**self).position()
    }

    fn order_status(&mut self, order_id: OrderId) -> Result<OrderLookup, QueryError> {
        (**self).order_status(order_id)
    }
}

/// A venue shared between the thread that drives it (a feed, a test) and the reconciler.
///
/// The lock is held only for the length of one query or cancel; the engine's writer never
/// touches it.
#[cfg(not(loom))]
impl<V: Venue + ?Sized> Venue for crate::sync::Arc<crate::sync::Mutex<V>> {
    fn open_orders(&mut self) -> Result<VenueReport, OpenOrdersError> {
        // A panic while another holder had the lock leaves a venue whose own methods keep it
        // consistent between calls, so the value is still usable.
        let mut venue = self.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        venue.open_orders()
    }

    fn cancel(&mut self, order_id: OrderId) -> Result<(), CancelError> {
        let mut venue = self.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        venue.cancel(order_id)
    }

    fn fills_since(&mut self, cursor: FillCursor, limit: usize) -> Result<FillPage, QueryError> {
        let mut venue = self.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        venue.fills_since(cursor, limit)
    }

    fn position(&mut self) -> Result<PositionReport, QueryError> {
        let mut venue = self.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        venue.position()
    }

    fn order_status(&mut self, order_id: OrderId) -> Result<OrderLookup, QueryError> {
        let mut venue = self.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        venue.order_status(order_id)
    }
}

/// One order as the venue reports it.
///
/// `Ord` orders by id first, then by every other field, so that a list can be sorted into one
/// canonical order whatever order the venue sent it in.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct VenueOrder {
    /// The (client) order id, in the book's id space.
    pub order_id: OrderId,
    /// When the venue last changed this order (its last fill, status change or acceptance).
    pub updated_at: Timestamp,
    /// Cumulative filled quantity.
    #[cfg_attr(
        feature = "serde",
        serde(deserialize_with = "crate::decimal::serde::deserialize")
    )]
    pub filled: Quantity,
    /// Its status at the venue.
    pub status: VenueOrderStatus,
    /// Buy or sell.
    pub side: Side,
    /// Its limit price.
    #[cfg_attr(
        feature = "serde",
        serde(deserialize_with = "crate::decimal::serde::deserialize")
    )]
    pub price: Price,
    /// Its total quantity.
    #[cfg_attr(
        feature = "serde",
        serde(deserialize_with = "crate::decimal::serde::deserialize")
    )]
    pub quantity: Quantity,
}

impl VenueReport {
    /// Checks that every order listed is one a venue can hold: a positive quantity, and fills
    /// from zero up to that quantity. A reconciliation of an answer that lists one would
    /// correct the book towards it, and the book would refuse the correction in every cycle.
    ///
    /// # Errors
    ///
    /// [`OpenOrdersError::Impossible`] naming the first order that is not.
    pub fn check(&self) -> Result<(), OpenOrdersError> {
        for order in &self.orders {
            let reason = if order.quantity <= Quantity::ZERO {
                "its quantity is not positive"
            } else if order.filled < Quantity::ZERO {
                "its fills are negative"
            } else if order.filled > order.quantity {
                "its fills are above its quantity"
            } else {
                continue;
            };
            return Err(OpenOrdersError::Impossible {
                order_id: order.order_id,
                reason,
            });
        }
        Ok(())
    }
}

impl VenueOrder {
    /// What a truthful venue lists for `order`: the same side, price, quantity and filled
    /// quantity, its status by [`VenueOrderStatus::from_book_status`], last changed at
    /// `updated_at`.
    ///
    /// Reconciling a book against such a listing of its orders finds nothing to report for
    /// every order the venue has acknowledged to the book. A *pending* order is the exception:
    /// a venue lists an order it holds as `open`, so the listing says the venue has accepted
    /// what the book still waits to hear about, and the reconciler reports that difference
    /// (a status difference, "not acknowledged") and, once confirmed, corrects it with a
    /// missed acknowledgement. Tests, benchmarks and simulations build their answers from it
    /// and then plant the differences they want.
    ///
    /// ```
    /// use snapstate::Decimal;
    /// use snapstate::book::{Book, BookCommand, BookConfig, Grid, Level, OrderId, Place, Side};
    /// use snapstate::reconcile::{reconcile, Evidence, MismatchClass, ReconcileConfig};
    /// use snapstate::time::Timestamp;
    /// use snapstate::venue::{VenueOrder, VenueOrderStatus, VenueReport};
    ///
    /// let grid = Grid::new(Decimal::new(100, 0), Decimal::ONE, Level(-5), Level(5))?;
    /// let mut book = Book::new(BookConfig::new(grid));
    /// book.apply(&BookCommand::Place(Place {
    ///     order_id: OrderId(1), level: Level(-1), side: Side::Buy,
    ///     price: Decimal::new(99, 0), quantity: Decimal::ONE, at: Timestamp::from_millis(1),
    /// }))?;
    /// let now = Timestamp::from_millis(60_000);
    /// let order = book.order(OrderId(1)).expect("placed");
    /// let listed = VenueOrder::truthful(order, now);
    /// assert_eq!(listed.status, VenueOrderStatus::Open, "a pending order is listed open");
    /// let venue = VenueReport { as_of: now, orders: vec![listed], net_position: None };
    /// let found = reconcile(&book, &venue, &ReconcileConfig::default(), now, &Evidence::new());
    /// assert!(found.findings.iter().any(|finding| finding.class() == MismatchClass::StatusDiffers));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn truthful(order: &Order, updated_at: Timestamp) -> Self {
        Self {
            order_id: order.id(),
            updated_at,
            filled: order.filled(),
            status: VenueOrderStatus::from_book_status(order.status()),
            side: order.side(),
            price: order.price(),
            quantity: order.quantity(),
        }
    }
}

/// An order's status as a venue reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum VenueOrderStatus {
    /// Resting, nothing filled.
    Open,
    /// Resting, some of the quantity filled.
    PartiallyFilled,
    /// All of the quantity filled.
    Filled,
    /// Cancelled.
    Cancelled,
    /// Expired (time in force).
    Expired,
    /// Refused; it never traded.
    Rejected,
}

impl VenueOrderStatus {
    /// Whether the order may still trade.
    pub fn is_live(self) -> bool {
        matches!(
            self,
            VenueOrderStatus::Open | VenueOrderStatus::PartiallyFilled
        )
    }

    /// The book status with the same meaning.
    pub fn to_book_status(self) -> OrderStatus {
        match self {
            VenueOrderStatus::Open => OrderStatus::Open,
            VenueOrderStatus::PartiallyFilled => OrderStatus::PartiallyFilled,
            VenueOrderStatus::Filled => OrderStatus::Filled,
            VenueOrderStatus::Cancelled => OrderStatus::Cancelled,
            VenueOrderStatus::Expired => OrderStatus::Expired,
            VenueOrderStatus::Rejected => OrderStatus::Rejected,
        }
    }

    /// The venue status a venue reports for an order in the book's `status`: the inverse of
    /// [`to_book_status`](Self::to_book_status), which it undoes for every venue status.
    ///
    /// Two book statuses have no venue counterpart: `pending` (placed, not yet acknowledged to
    /// the book) is `open` at a venue that has accepted the order, and `lost` (finished, how is
    /// not known) is `cancelled`, the final state that claims no fills beyond the book's.
    pub fn from_book_status(status: OrderStatus) -> Self {
        match status {
            OrderStatus::Pending | OrderStatus::Open => VenueOrderStatus::Open,
            OrderStatus::PartiallyFilled => VenueOrderStatus::PartiallyFilled,
            OrderStatus::Filled => VenueOrderStatus::Filled,
            OrderStatus::Cancelled | OrderStatus::Lost => VenueOrderStatus::Cancelled,
            OrderStatus::Expired => VenueOrderStatus::Expired,
            OrderStatus::Rejected => VenueOrderStatus::Rejected,
        }
    }

    /// A stable snake_case name.
    pub fn as_str(self) -> &'static str {
        self.to_book_status().as_str()
    }
}

impl fmt::Display for VenueOrderStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A venue's answer to an open-orders query.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct VenueReport {
    /// The moment the answer is true as of.
    pub as_of: Timestamp,
    /// Every live order, plus any finished orders the venue chooses to list, in any order.
    /// The reconciler tolerates duplicates (see `reconcile`'s documentation).
    pub orders: Vec<VenueOrder>,
    /// The venue's net position (buys +, sells −), or `None` if this venue does not report
    /// one; `None` skips the position check rather than comparing against zero.
    #[cfg_attr(
        feature = "serde",
        serde(
            default,
            deserialize_with = "crate::decimal::serde::deserialize_option"
        )
    )]
    pub net_position: Option<Quantity>,
}

/// Why an open-orders query returned no answer. Never to be read as "no orders".
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum OpenOrdersError {
    /// The venue answered with an error, or the connection failed.
    #[error("open-orders query failed: {reason}")]
    Failed {
        /// What went wrong.
        reason: String,
    },
    /// The venue did not answer in time.
    #[error("open-orders query timed out after {after:?}")]
    TimedOut {
        /// How long the caller waited.
        after: Duration,
    },
    /// The venue answered, but lists an order no venue can hold (a quantity that is not
    /// positive, negative fills, or fills above the quantity): the answer as a whole is not to
    /// be trusted, and is used as no answer ([`VenueReport::check`]).
    #[error("the venue's answer lists an impossible order {order_id}: {reason}")]
    Impossible {
        /// The first such order.
        order_id: OrderId,
        /// What is impossible about it.
        reason: &'static str,
    },
}

/// Why a cancel request did not reach or was refused by the venue.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CancelError {
    /// This venue adapter does not cancel on the reconciler's behalf.
    #[error("cancelling order {0} is not supported by this venue")]
    Unsupported(OrderId),
    /// The venue does not know the order.
    #[error("the venue does not know order {0}")]
    UnknownOrder(OrderId),
    /// The order has already finished at the venue.
    #[error("order {order_id} has already finished at the venue ({status})")]
    AlreadyFinished {
        /// The order.
        order_id: OrderId,
        /// Its final status.
        status: VenueOrderStatus,
    },
    /// The venue answered with an error, or the connection failed.
    #[error("cancelling order {order_id} failed: {reason}")]
    Failed {
        /// The order.
        order_id: OrderId,
        /// What went wrong.
        reason: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    const VENUE_STATUSES: [VenueOrderStatus; 6] = [
        VenueOrderStatus::Open,
        VenueOrderStatus::PartiallyFilled,
        VenueOrderStatus::Filled,
        VenueOrderStatus::Cancelled,
        VenueOrderStatus::Expired,
        VenueOrderStatus::Rejected,
    ];

    #[test]
    fn check_refuses_an_answer_that_lists_an_impossible_order() {
        let order = |filled: i64, quantity: i64| VenueOrder {
            order_id: OrderId(u64::try_from(quantity + 100).unwrap_or(0)),
            updated_at: Timestamp::EPOCH,
            filled: Quantity::from(filled),
            status: VenueOrderStatus::PartiallyFilled,
            side: Side::Buy,
            price: Quantity::from(99),
            quantity: Quantity::from(quantity),
        };
        let report = |orders| VenueReport {
            as_of: Timestamp::EPOCH,
            orders,
            net_position: None,
        };
        assert_eq!(report(vec![order(0, 1), order(3, 3)]).check(), Ok(()));
        for (bad, reason) in [
            (order(0, 0), "its quantity is not positive"),
            (order(0, -1), "its quantity is not positive"),
            (order(-1, 2), "its fills are negative"),
            (order(3, 2), "its fills are above its quantity"),
        ] {
            let order_id = bad.order_id;
            // Named wherever it is listed.
            assert_eq!(
                report(vec![order(1, 5), bad]).check(),
                Err(OpenOrdersError::Impossible { order_id, reason })
            );
        }
    }

    #[test]
    fn from_book_status_undoes_to_book_status() {
        for status in VENUE_STATUSES {
            assert_eq!(
                VenueOrderStatus::from_book_status(status.to_book_status()),
                status
            );
        }
    }

    #[test]
    fn from_book_status_keeps_the_meaning_of_every_book_status() {
        for status in OrderStatus::ALL {
            let venue = VenueOrderStatus::from_book_status(status);
            assert_eq!(venue.is_live(), status.is_live(), "{status}");
            match status {
                OrderStatus::Pending => assert_eq!(venue, VenueOrderStatus::Open),
                OrderStatus::Lost => assert_eq!(venue, VenueOrderStatus::Cancelled),
                _ => assert_eq!(venue.to_book_status(), status),
            }
        }
    }
}
