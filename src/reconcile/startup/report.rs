//! What the startup pass found, did and left unresolved, and the clearance it gives.

use std::fmt;

use crate::book::{Applied, BookCommand, OrderId, Quantity, Rejection};
use crate::time::Timestamp;
use crate::venue::{QueryError, QueryKind, VenueOrderStatus};

/// What a startup command does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ActionKind {
    /// Adopts a live venue order the book does not know into its slot.
    AdoptOrder,
    /// Corrects an order the book knows (a missed fill or acknowledgement, or marks it lost).
    CorrectOrder,
    /// Adopts a position no fill explains.
    AdoptPosition,
    /// Adopts a finished venue order the book never knew, with its fills, as a tombstone of
    /// its slot.
    AdoptFinishedOrder,
}

impl ActionKind {
    /// A stable snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            ActionKind::AdoptOrder => "adopt_order",
            ActionKind::CorrectOrder => "correct_order",
            ActionKind::AdoptPosition => "adopt_position",
            ActionKind::AdoptFinishedOrder => "adopt_finished_order",
        }
    }
}

/// One command the pass sent, and how it ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StartupAction {
    /// What it does.
    pub kind: ActionKind,
    /// The command.
    pub command: BookCommand,
    /// The round (from 1) that planned it.
    pub round: usize,
    /// How the book took it: `None` through the engine, which reports outcomes to its outcome
    /// stream (a command still queued, or one a full queue did not take, which the next round
    /// plans again).
    pub outcome: Option<Result<Applied, Rejection>>,
}

/// Something the pass saw and left for continuous reconciliation or a person; it does not
/// make the pass incomplete.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum StartupFinding {
    /// The book has the order finished; the venue still works it.
    LiveAtVenueFinishedInBook {
        /// The order.
        order_id: OrderId,
    },
    /// The venue reports less filled than the book (a fill cannot be taken back).
    VenueFilledBehind {
        /// The order.
        order_id: OrderId,
        /// The venue's cumulative filled quantity.
        venue: Quantity,
        /// The book's.
        book: Quantity,
    },
    /// The venue reports more filled than the order's quantity in the book.
    VenueFillExceedsQuantity {
        /// The order.
        order_id: OrderId,
        /// The venue's cumulative filled quantity.
        venue: Quantity,
        /// The order's quantity in the book.
        quantity: Quantity,
    },
    /// A live venue order the book does not know that cannot be adopted: off the grid's
    /// levels, its slot occupied, its quantity not positive, or its fills above its quantity.
    NotAdoptable {
        /// The order.
        order_id: OrderId,
        /// Why.
        reason: &'static str,
    },
    /// A finished venue order the book never knew, with fills, that cannot be adopted as a
    /// tombstone (off the grid's levels, or its fills do not fit its quantity or status): its
    /// fills count towards the position check, and while the venue still lists it the
    /// continuous reconciliation may suspect the position.
    FinishedNotAdoptable {
        /// The order.
        order_id: OrderId,
        /// Why.
        reason: &'static str,
    },
    /// An order the book does not know, with fills in the history, that the open-orders
    /// answer left out and that was not asked for (beyond
    /// [`StartupConfig::max_order_queries`](super::StartupConfig::max_order_queries)): its
    /// fills count towards the position check, and if the venue lists it later the continuous
    /// reconciliation may suspect the position.
    UnknownOrderNotQueried {
        /// The order.
        order_id: OrderId,
    },
    /// Fills of orders the book does not know and the venue no longer works (or that could
    /// not be adopted); they count only towards the position check.
    FillsOfUnknownOrders {
        /// How many distinct fills (by trade id).
        fills: usize,
    },
    /// The venue answered that it keeps no position; nothing was adopted, and the book's
    /// position was not compared (never read as flat).
    PositionNotReported,
    /// A query this venue does not support, accepted as answered by
    /// [`StartupConfig::accept_unsupported`](super::StartupConfig::accept_unsupported).
    UnsupportedQuery {
        /// Which.
        query: QueryKind,
    },
}

impl fmt::Display for StartupFinding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartupFinding::LiveAtVenueFinishedInBook { order_id } => {
                write!(
                    f,
                    "order {order_id}: finished in the book, live at the venue"
                )
            }
            StartupFinding::VenueFilledBehind {
                order_id,
                venue,
                book,
            } => write!(
                f,
                "order {order_id}: venue filled {venue}, book filled {book}"
            ),
            StartupFinding::VenueFillExceedsQuantity {
                order_id,
                venue,
                quantity,
            } => write!(
                f,
                "order {order_id}: venue filled {venue}, above its quantity {quantity}"
            ),
            StartupFinding::NotAdoptable { order_id, reason } => {
                write!(
                    f,
                    "order {order_id}: live at the venue, not adoptable ({reason})"
                )
            }
            StartupFinding::FinishedNotAdoptable { order_id, reason } => {
                write!(
                    f,
                    "order {order_id}: finished at the venue, not adoptable ({reason}); its fills count towards the position"
                )
            }
            StartupFinding::UnknownOrderNotQueried { order_id } => {
                write!(
                    f,
                    "order {order_id}: unknown, with fills, not listed and not queried (over the limit)"
                )
            }
            StartupFinding::FillsOfUnknownOrders { fills } => {
                write!(f, "{fills} fills of orders the book does not know")
            }
            StartupFinding::PositionNotReported => {
                f.write_str("the venue reports no position: not compared")
            }
            StartupFinding::UnsupportedQuery { query } => {
                write!(f, "the venue does not support the {query} query (accepted)")
            }
        }
    }
}

/// Something the pass could not settle; any of these makes it incomplete.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Unresolved {
    /// A query gave no answer (failed, timed out, or unsupported and not accepted).
    QueryUnanswered(QueryError),
    /// The fill history was longer than the page limit.
    FillHistoryTruncated {
        /// Pages read.
        pages: usize,
    },
    /// A live order of the book the venue did not list, whose targeted query did not answer
    /// (`error`) or was not asked (`None`: beyond the limit).
    OrderUnanswered {
        /// The order.
        order_id: OrderId,
        /// Why, when asked.
        error: Option<QueryError>,
    },
    /// The venue does not know an order placed too recently to conclude it never arrived.
    NotFoundTooRecently {
        /// The order.
        order_id: OrderId,
        /// When the book placed it.
        placed_at: Timestamp,
    },
    /// The venue lists a live order with a different status from the targeted answer, or
    /// otherwise contradicts itself about it.
    VenueContradicts {
        /// The order.
        order_id: OrderId,
        /// The status the listing or the targeted answer gives.
        status: VenueOrderStatus,
    },
    /// The position was not compared, because orders are unresolved (their fills could
    /// explain it).
    PositionAwaitingOrders,
    /// The pass still planned commands after its last round, or the engine did not apply
    /// them in time.
    NotConverged {
        /// Rounds run.
        rounds: usize,
    },
    /// A command the book refused.
    Refused {
        /// The command.
        command: Box<BookCommand>,
        /// Why.
        rejection: Rejection,
    },
}

impl fmt::Display for Unresolved {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unresolved::QueryUnanswered(error) => write!(f, "{error}"),
            Unresolved::FillHistoryTruncated { pages } => {
                write!(f, "fill history longer than {pages} pages")
            }
            Unresolved::OrderUnanswered {
                order_id,
                error: Some(error),
            } => write!(f, "order {order_id}: {error}"),
            Unresolved::OrderUnanswered {
                order_id,
                error: None,
            } => write!(f, "order {order_id}: not queried (over the limit)"),
            Unresolved::NotFoundTooRecently {
                order_id,
                placed_at,
            } => write!(
                f,
                "order {order_id}: not found at the venue, placed too recently ({placed_at})"
            ),
            Unresolved::VenueContradicts { order_id, status } => {
                write!(
                    f,
                    "order {order_id}: the venue contradicts itself ({status})"
                )
            }
            Unresolved::PositionAwaitingOrders => {
                f.write_str("position not compared while orders are unresolved")
            }
            Unresolved::NotConverged { rounds } => {
                write!(f, "still planning corrections after {rounds} rounds")
            }
            Unresolved::Refused { command, rejection } => {
                write!(f, "the book refused {command:?}: {rejection}")
            }
        }
    }
}

/// What a startup pass found, did, and left unresolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StartupReport {
    /// The time the pass decided at.
    pub now: Timestamp,
    /// Orders the open-orders answer listed (`None`: no answer).
    pub orders_listed: Option<usize>,
    /// Fills read from the history (`None`: not asked or no answer), duplicates included.
    pub fills_read: Option<usize>,
    /// Fills already counted in the book (at or below its cumulative quantity), by trade id.
    pub fills_already_known: usize,
    /// Live book orders queried one by one.
    pub orders_queried: usize,
    /// The venue's position, when it reported one.
    pub venue_position: Option<Quantity>,
    /// The book's net position once the pass ended.
    pub book_position: Quantity,
    /// Every command sent, in order, with its outcome.
    pub actions: Vec<StartupAction>,
    /// What was seen and left for continuous reconciliation.
    pub findings: Vec<StartupFinding>,
    /// What the pass could not settle.
    pub unresolved: Vec<Unresolved>,
    /// Decide-and-apply rounds run.
    pub rounds: usize,
}

impl StartupReport {
    /// Whether every query answered and nothing is unresolved: only then may trading resume.
    pub fn is_complete(&self) -> bool {
        self.unresolved.is_empty()
    }

    /// The actions of `kind`.
    pub fn actions_of(&self, kind: ActionKind) -> impl Iterator<Item = &StartupAction> {
        self.actions
            .iter()
            .filter(move |action| action.kind == kind)
    }

    /// Orders adopted.
    pub fn adopted_orders(&self) -> usize {
        self.actions_of(ActionKind::AdoptOrder).count()
    }

    /// Finished orders adopted as tombstones.
    pub fn adopted_finished_orders(&self) -> usize {
        self.actions_of(ActionKind::AdoptFinishedOrder).count()
    }

    /// Orders corrected.
    pub fn corrected_orders(&self) -> usize {
        self.actions_of(ActionKind::CorrectOrder).count()
    }

    /// The position adopted, summed (zero if none; saturating at the decimal's range).
    pub fn adopted_position(&self) -> Quantity {
        self.actions_of(ActionKind::AdoptPosition)
            .filter_map(|action| match &action.command {
                BookCommand::AdoptPosition(adoption) => Some(adoption.quantity),
                _ => None,
            })
            .fold(Quantity::ZERO, Quantity::saturating_add)
    }

    /// The clearance to start continuous reconciliation and trading.
    ///
    /// # Errors
    ///
    /// [`IncompleteStartup`] (holding this report) while anything is unresolved.
    pub fn clearance(&self) -> Result<StartupClearance, IncompleteStartup> {
        if self.is_complete() {
            Ok(StartupClearance {
                basis: ClearanceBasis::Complete { now: self.now },
            })
        } else {
            Err(IncompleteStartup {
                report: Box::new(self.clone()),
            })
        }
    }
}

impl fmt::Display for StartupReport {
    /// A few lines for a person: the verdict, what was found, what was done, and each
    /// finding and unresolved item, sorted.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verdict = if self.is_complete() {
            "complete"
        } else {
            "INCOMPLETE"
        };
        let count = |value: Option<usize>| value.map_or("no answer".to_owned(), |v| v.to_string());
        writeln!(
            f,
            "startup reconciliation {verdict} after {} rounds",
            self.rounds
        )?;
        writeln!(
            f,
            "  found: {} orders listed, {} fills read ({} already known), {} orders queried, venue position {}",
            count(self.orders_listed),
            count(self.fills_read),
            self.fills_already_known,
            self.orders_queried,
            self.venue_position
                .map_or("not reported".to_owned(), |position| position.to_string()),
        )?;
        writeln!(
            f,
            "  done: {} orders adopted, {} finished orders adopted, {} order corrections, position adopted {}; book position {}",
            self.adopted_orders(),
            self.adopted_finished_orders(),
            self.corrected_orders(),
            self.adopted_position(),
            self.book_position,
        )?;
        for finding in &self.findings {
            writeln!(f, "  finding: {finding}")?;
        }
        for unresolved in &self.unresolved {
            writeln!(f, "  unresolved: {unresolved}")?;
        }
        Ok(())
    }
}

/// Why a startup pass gives no clearance: it is incomplete.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the startup reconciliation is incomplete: {} unresolved", report.unresolved.len())]
pub struct IncompleteStartup {
    report: Box<StartupReport>,
}

impl IncompleteStartup {
    /// What stays unresolved.
    pub fn unresolved(&self) -> &[Unresolved] {
        &self.report.unresolved
    }

    /// The whole report.
    pub fn into_report(self) -> StartupReport {
        *self.report
    }
}

/// Proof that the startup pass completed (or that a caller explicitly waived it): what
/// [`Runner::start`](crate::reconcile::Runner::start) requires, so continuous reconciliation
/// cannot start before the startup pass by accident.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StartupClearance {
    basis: ClearanceBasis,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum ClearanceBasis {
    Complete { now: Timestamp },
    Waived { reason: String },
}

impl StartupClearance {
    /// A clearance without a startup pass, for a harness that establishes agreement with the
    /// venue itself (a test double with no history, a replay). The reason is logged and kept;
    /// an embedder trading against a real venue should run the pass instead.
    pub fn waived(reason: impl Into<String>) -> Self {
        let reason = reason.into();
        tracing::warn!(%reason, "startup reconciliation waived");
        Self {
            basis: ClearanceBasis::Waived { reason },
        }
    }

    /// Whether it was waived rather than earned by a complete pass.
    pub fn is_waived(&self) -> bool {
        matches!(self.basis, ClearanceBasis::Waived { .. })
    }

    /// When the pass that earned it decided, or `None` if it was waived.
    pub fn completed_at(&self) -> Option<Timestamp> {
        match self.basis {
            ClearanceBasis::Complete { now } => Some(now),
            ClearanceBasis::Waived { .. } => None,
        }
    }
}
