//! The typed differences between the book and the venue.

use std::fmt;

use crate::book::{Level, OrderId, OrderStatus, Price, Quantity, Revision, Side};
use crate::venue::{VenueOrder, VenueOrderStatus};

/// The class of a [`Mismatch`]: what metrics count, policies are chosen by, and evidence is kept
/// per.
///
/// Declared (and so sorted) in the order in which the correction of one order is chosen when
/// several classes concern it: a missed fill first, because applying it also moves the order's
/// status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MismatchClass {
    /// A live venue order the book does not know, priced within the grid's range.
    UnknownInsideGrid,
    /// A live venue order the book does not know, priced outside the grid's range.
    UnknownOutsideGrid,
    /// A live book order the venue does not list.
    MissingAtVenue,
    /// The venue reports more filled than the book: a missed fill.
    VenueFilledAhead,
    /// The venue reports less filled than the book.
    VenueFilledBehind,
    /// The venue and the book disagree about an order's side.
    SideDiffers,
    /// The venue and the book disagree about an order's price.
    PriceDiffers,
    /// The venue and the book disagree about an order's quantity.
    QuantityDiffers,
    /// The venue and the book disagree about whether an order is acknowledged, live or
    /// finished.
    StatusDiffers,
    /// The venue works more than one live order for one slot.
    MultipleLiveOrders,
    /// The venue's net position differs from the book's beyond the tolerance, by more than
    /// the order-level differences explain.
    PositionDiffers,
}

impl MismatchClass {
    /// Every class, in declaration order.
    pub const ALL: [MismatchClass; 11] = [
        MismatchClass::UnknownInsideGrid,
        MismatchClass::UnknownOutsideGrid,
        MismatchClass::MissingAtVenue,
        MismatchClass::VenueFilledAhead,
        MismatchClass::VenueFilledBehind,
        MismatchClass::SideDiffers,
        MismatchClass::PriceDiffers,
        MismatchClass::QuantityDiffers,
        MismatchClass::StatusDiffers,
        MismatchClass::MultipleLiveOrders,
        MismatchClass::PositionDiffers,
    ];

    /// A stable snake_case name (the `class` label of the mismatch metric).
    pub fn as_str(self) -> &'static str {
        match self {
            MismatchClass::UnknownInsideGrid => "unknown_inside_grid",
            MismatchClass::UnknownOutsideGrid => "unknown_outside_grid",
            MismatchClass::MissingAtVenue => "missing_at_venue",
            MismatchClass::VenueFilledAhead => "venue_filled_ahead",
            MismatchClass::VenueFilledBehind => "venue_filled_behind",
            MismatchClass::SideDiffers => "side_differs",
            MismatchClass::PriceDiffers => "price_differs",
            MismatchClass::QuantityDiffers => "quantity_differs",
            MismatchClass::StatusDiffers => "status_differs",
            MismatchClass::MultipleLiveOrders => "multiple_live_orders",
            MismatchClass::PositionDiffers => "position_differs",
        }
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for MismatchClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a mismatch is about: the key under which its evidence is kept, and the order in which
/// findings are reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Subject {
    /// One order.
    Order(OrderId),
    /// One slot.
    Slot(Level),
    /// The net position.
    Position,
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Subject::Order(order_id) => write!(f, "order {order_id}"),
            Subject::Slot(level) => write!(f, "slot {level}"),
            Subject::Position => f.write_str("net position"),
        }
    }
}

/// How an order's status differs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum StatusDifference {
    /// The book still waits for the acknowledgement of an order the venue works.
    NotAcknowledged,
    /// The book has the order live; the venue has finished it.
    FinishedAtVenue,
    /// The book has finished the order; the venue still works it.
    LiveAtVenue,
}

/// One difference between the book (as of a snapshot) and the venue (as of its report).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mismatch {
    /// The venue works an order the book does not know.
    UnknownOrder {
        /// The venue's order.
        venue: VenueOrder,
        /// Whether its price lies within the grid's price range.
        inside_grid: bool,
        /// The level whose price it is exactly, if any.
        level: Option<Level>,
        /// That slot's revision in the snapshot ([`Revision::ABSENT`] if the slot does not
        /// exist, or there is no such level): the precondition of an adoption.
        slot_revision: Revision,
        /// That slot's live order in the snapshot, if any (an adoption needs a vacant slot).
        slot_live_order: Option<OrderId>,
    },
    /// The book has an order live that the venue does not list.
    MissingAtVenue {
        /// The order.
        order_id: OrderId,
        /// Its slot.
        level: Level,
        /// Its status in the book.
        status: OrderStatus,
        /// Its revision in the snapshot.
        revision: Revision,
    },
    /// The cumulative filled quantities differ.
    FilledDiffers {
        /// The order.
        order_id: OrderId,
        /// What the book says has filled.
        local: Quantity,
        /// What the venue says has filled.
        venue: Quantity,
        /// The order's revision in the snapshot.
        revision: Revision,
    },
    /// The sides differ.
    SideDiffers {
        /// The order.
        order_id: OrderId,
        /// The book's side.
        local: Side,
        /// The venue's side.
        venue: Side,
        /// The order's revision in the snapshot.
        revision: Revision,
    },
    /// The prices differ. (The book's price is always its slot's: the book refuses any other.)
    PriceDiffers {
        /// The order.
        order_id: OrderId,
        /// Its slot.
        level: Level,
        /// The book's price.
        local: Price,
        /// The venue's price.
        venue: Price,
        /// The order's revision in the snapshot.
        revision: Revision,
    },
    /// The quantities differ.
    QuantityDiffers {
        /// The order.
        order_id: OrderId,
        /// The book's quantity.
        local: Quantity,
        /// The venue's quantity.
        venue: Quantity,
        /// The order's revision in the snapshot.
        revision: Revision,
    },
    /// The statuses differ in a way that matters (see [`StatusDifference`]).
    StatusDiffers {
        /// The order.
        order_id: OrderId,
        /// How.
        difference: StatusDifference,
        /// The book's status.
        local: OrderStatus,
        /// The venue's status.
        venue: VenueOrderStatus,
        /// The order's revision in the snapshot.
        revision: Revision,
    },
    /// The venue works more than one live order for one slot.
    MultipleLiveOrders {
        /// The slot.
        level: Level,
        /// The venue's live orders for it, by id.
        orders: Vec<OrderId>,
        /// The slot's live order in the book, if the venue lists it as live.
        book_live_order: Option<OrderId>,
    },
    /// The net positions differ by more than the tolerance, beyond what the order-level
    /// differences explain.
    PositionDiffers {
        /// The book's net position.
        local: Quantity,
        /// The venue's net position.
        venue: Quantity,
        /// The part of `venue − local` that the listed orders' fill differences explain.
        explained: Quantity,
        /// `venue − local − explained`: what nothing listed explains.
        unexplained: Quantity,
    },
}

impl Mismatch {
    /// Its class.
    pub fn class(&self) -> MismatchClass {
        match self {
            Mismatch::UnknownOrder { inside_grid, .. } => {
                if *inside_grid {
                    MismatchClass::UnknownInsideGrid
                } else {
                    MismatchClass::UnknownOutsideGrid
                }
            }
            Mismatch::MissingAtVenue { .. } => MismatchClass::MissingAtVenue,
            Mismatch::FilledDiffers { local, venue, .. } => {
                if venue > local {
                    MismatchClass::VenueFilledAhead
                } else {
                    MismatchClass::VenueFilledBehind
                }
            }
            Mismatch::SideDiffers { .. } => MismatchClass::SideDiffers,
            Mismatch::PriceDiffers { .. } => MismatchClass::PriceDiffers,
            Mismatch::QuantityDiffers { .. } => MismatchClass::QuantityDiffers,
            Mismatch::StatusDiffers { .. } => MismatchClass::StatusDiffers,
            Mismatch::MultipleLiveOrders { .. } => MismatchClass::MultipleLiveOrders,
            Mismatch::PositionDiffers { .. } => MismatchClass::PositionDiffers,
        }
    }

    /// What it is about.
    pub fn subject(&self) -> Subject {
        match self {
            Mismatch::UnknownOrder { venue, .. } => Subject::Order(venue.order_id),
            Mismatch::MissingAtVenue { order_id, .. }
            | Mismatch::FilledDiffers { order_id, .. }
            | Mismatch::SideDiffers { order_id, .. }
            | Mismatch::PriceDiffers { order_id, .. }
            | Mismatch::QuantityDiffers { order_id, .. }
            | Mismatch::StatusDiffers { order_id, .. } => Subject::Order(*order_id),
            Mismatch::MultipleLiveOrders { level, .. } => Subject::Slot(*level),
            Mismatch::PositionDiffers { .. } => Subject::Position,
        }
    }

    /// Whether it concerns `order_id` (as its subject, or as one of a slot's orders).
    pub fn concerns(&self, order_id: OrderId) -> bool {
        match self {
            Mismatch::MultipleLiveOrders { orders, .. } => orders.contains(&order_id),
            other => other.subject() == Subject::Order(order_id),
        }
    }
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let subject = self.subject();
        match self {
            Mismatch::UnknownOrder {
                venue, inside_grid, ..
            } => {
                let place = if *inside_grid { "inside" } else { "outside" };
                write!(
                    f,
                    "{subject}: live at the venue ({} {} at {}), unknown to the book, {place} \
                     the grid",
                    venue.side, venue.quantity, venue.price
                )
            }
            Mismatch::MissingAtVenue { status, .. } => {
                write!(
                    f,
                    "{subject}: {status} in the book, not listed by the venue"
                )
            }
            Mismatch::FilledDiffers { local, venue, .. } => {
                let which = if venue > local {
                    "venue ahead: a missed fill"
                } else {
                    "venue behind the book"
                };
                write!(
                    f,
                    "{subject}: venue filled {venue}, book filled {local} ({which})"
                )
            }
            Mismatch::SideDiffers { local, venue, .. } => {
                write!(f, "{subject}: venue side {venue}, book side {local}")
            }
            Mismatch::PriceDiffers { local, venue, .. } => {
                write!(f, "{subject}: venue price {venue}, book price {local}")
            }
            Mismatch::QuantityDiffers { local, venue, .. } => {
                write!(
                    f,
                    "{subject}: venue quantity {venue}, book quantity {local}"
                )
            }
            Mismatch::StatusDiffers { local, venue, .. } => {
                write!(f, "{subject}: venue status {venue}, book status {local}")
            }
            Mismatch::MultipleLiveOrders { orders, .. } => {
                write!(
                    f,
                    "{subject}: the venue works {} live orders:",
                    orders.len()
                )?;
                for order_id in orders {
                    write!(f, " {order_id}")?;
                }
                Ok(())
            }
            Mismatch::PositionDiffers {
                local,
                venue,
                unexplained,
                ..
            } => write!(
                f,
                "{subject}: venue {venue}, book {local}, {unexplained} unexplained by any \
                 listed order"
            ),
        }
    }
}
