//! The startup reconciliation: one pass against the venue after recovery (or on a cold start,
//! with an empty book), before trading resumes, that fails closed.
//!
//! # Procedure
//!
//! 1. **Ask.** Load one snapshot. Ask the venue for its open orders, its fills since the
//!    earliest placement of any order the book knows, and at least those of the book's
//!    tombstone retention before the answer ([`fill_cursor`]: paged, at most
//!    [`StartupConfig::max_fill_pages`] pages), and its position. Then ask for each live order
//!    of the book that the open-orders answer does not list at all ([`orders_to_query`]: the
//!    orders placed and never acknowledged, and any acknowledged order the venue left out), and
//!    for each order the history has fills of that the book does not know and the answer
//!    does not list ([`unknown_orders_to_query`]: a venue may leave out an order that closed
//!    moments ago), by id, at most [`StartupConfig::max_order_queries`] of them.
//! 2. **Decide** ([`decide`], pure: book, answers, configuration and `now` in, commands and
//!    findings out). Per order, the venue's cumulative fill is the largest of the listing, the
//!    targeted answer and the fill history (deduplicated by trade id); a fill at or below the
//!    book's cumulative quantity is already counted and changes nothing, so a fill recorded
//!    before the crash is never counted twice. One guarded correction per order and round:
//!    a missed fill, a missed acknowledgement, an order the venue has finished or positively
//!    does not know marked lost, an unknown live venue order adopted into its vacant slot, an
//!    unknown finished venue order with fills adopted as a tombstone of its slot
//!    ([`Correction::AdoptFinished`](crate::book::Correction::AdoptFinished)), so that the
//!    continuous diff later finds it in the book rather than counting its fills again.
//!    Only in a round with no order correction left is the position checked: what the venue
//!    reports beyond the book's net position and the fills of live venue orders the book does
//!    not hold (what no listed order explains) is adopted with one
//!    [`BookCommand::AdoptPosition`] carrying a deterministic id.
//! 3. **Apply and repeat.** The commands go through the writer (or straight into a book);
//!    the pass decides again on the new state with the same answers, until a round plans
//!    nothing ([`StartupConfig::max_rounds`] at most).
//! 4. **Report** ([`StartupReport`]): what was found, adopted, corrected, and what is still
//!    unresolved. [`StartupReport::is_complete`] is true only when every query answered and
//!    nothing is unresolved; [`StartupReport::clearance`] turns a complete report into the
//!    [`StartupClearance`] that [`Runner::start`](super::Runner::start) requires.
//!
//! # Invariants
//!
//! 1. An error or a timeout is never absence: a failed query leaves what depends on it
//!    unresolved, and the report incomplete. An order is marked lost only on a positive
//!    answer: the venue lists it finished, or answers a targeted query with "not found" (and
//!    the order was placed at least [`StartupConfig::in_flight_grace`] before).
//! 2. A position the venue does not report is never flat: nothing is adopted or zeroed.
//! 3. No fill is counted twice: fills merge by cumulative quantity (maximum), and history
//!    duplicates by trade id.
//! 4. A position repair touches no slot and no order: working orders survive it.
//! 5. A second pass over the same answers plans nothing: everything the first applied is in
//!    the book, and a repeated position adoption has the same id and is a duplicate (a
//!    repeated finished-order adoption finds its slot moved on: stale, changing nothing).
//! 6. Cold and warm starts from the same answers reach the same trading state: the same live
//!    orders with the same fills and statuses, and the same net position.
//! 7. What the pass adopts, the continuous diff does not explain again: a finished venue order
//!    the venue still lists is adopted as an order, never folded into the position adoption
//!    (unless it cannot be: off the grid's levels, or inconsistent, a finding).
//!
//! # Example
//!
//! ```
//! use rust_decimal::Decimal;
//! use snapstate::book::{Book, BookConfig, Grid, Level, Side};
//! use snapstate::reconcile::startup::{self, StartupConfig};
//! use snapstate::time::Timestamp;
//! use snapstate_sim::venue::{SimulatedVenue, SimulatedVenueConfig};
//!
//! let start = Timestamp::from_millis(1_000);
//! let mut venue_config = SimulatedVenueConfig::new(7, start, Decimal::new(100, 0));
//! venue_config.initial_position = Decimal::new(3, 0); // older than any fill the venue keeps
//! let mut venue = SimulatedVenue::new(venue_config)?;
//! let grid = Grid::new(Decimal::new(100, 0), Decimal::ONE, Level(-10), Level(10))?;
//! let mut book = Book::new(BookConfig::new(grid));
//!
//! let report = startup::run_on_book(&mut venue, &mut book, &StartupConfig::default(), start);
//! assert!(report.is_complete());
//! assert_eq!(book.net_position(), Decimal::new(3, 0));
//! let clearance = report.clearance()?; // what Runner::start asks for
//!
//! // A second pass finds nothing left to do.
//! let again = startup::run_on_book(&mut venue, &mut book, &StartupConfig::default(), start);
//! assert!(again.is_complete() && again.actions.is_empty());
//! # let _ = clearance;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod answers;
mod decide;
#[cfg(not(loom))]
mod driver;
mod report;
#[cfg(all(test, not(loom)))]
mod tests;

use std::time::Duration;

pub use answers::{
    FillHistory, StartupAnswers, ask, fill_cursor, orders_to_query, unknown_orders_to_query,
};
pub use decide::{Decision, decide};
#[cfg(not(loom))]
pub use driver::{StartupError, run, run_on_book};
pub use report::{
    ActionKind, IncompleteStartup, StartupAction, StartupClearance, StartupFinding, StartupReport,
    Unresolved,
};

#[cfg(doc)]
use crate::book::BookCommand;

/// How the startup pass asks and decides. Every limit is named and bounded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StartupConfig {
    /// Fills asked for per page. Default 500.
    pub fill_page_size: usize,
    /// The most fill pages read; a history longer than that leaves the pass incomplete.
    /// Default 200.
    pub max_fill_pages: usize,
    /// The most orders queried one by one; any beyond are unresolved. Default 1,000.
    pub max_order_queries: usize,
    /// A venue's "not found" for an order placed less than this before `now` is not
    /// conclusive (the placement may still be on its way): the order stays unresolved.
    /// Default 5 s.
    pub in_flight_grace: Duration,
    /// Treat a query the venue does not support (fills, position, one order) as answered with
    /// nothing to learn, instead of leaving the pass incomplete. Default `false` (fail closed).
    pub accept_unsupported: bool,
    /// The most decide-and-apply rounds; a pass still planning after them is incomplete.
    /// Default 8.
    pub max_rounds: usize,
    /// The longest wait for room in the engine's queue for one command. Default 1 s.
    pub submit_timeout: Duration,
    /// The longest wait for the engine to apply a round's commands. Default 5 s.
    pub flush_timeout: Duration,
}

impl Default for StartupConfig {
    fn default() -> Self {
        Self {
            fill_page_size: 500,
            max_fill_pages: 200,
            max_order_queries: 1_000,
            in_flight_grace: Duration::from_secs(5),
            accept_unsupported: false,
            max_rounds: 8,
            submit_timeout: Duration::from_secs(1),
            flush_timeout: Duration::from_secs(5),
        }
    }
}
