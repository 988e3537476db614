//! The thin shell of the startup pass: ask the venue once, then decide and apply in rounds,
//! either through a running engine ([`run`]) or straight into a book ([`run_on_book`]).

use crate::book::{Applied, Book, BookCommand, Rejection, Storage};
use crate::engine::{FlushError, SubmitTimeoutError, WriteHandle};
use crate::time::Timestamp;
use crate::venue::Venue;

use super::report::{StartupAction, StartupReport, Unresolved};
use super::{Decision, StartupAnswers, StartupConfig, ask, decide};

/// Why the startup pass stopped without a report.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StartupError {
    /// The engine shut down during the pass.
    #[error("the engine closed during the startup reconciliation")]
    EngineClosed,
}

impl StartupError {
    /// Whether the engine closed.
    pub fn is_engine_closed(&self) -> bool {
        matches!(self, StartupError::EngineClosed)
    }
}

/// Each command's outcome, or `None` where it is not known.
type Outcomes = Vec<Option<Result<Applied, Rejection>>>;

/// Where the pass reads the book and applies its commands.
trait Target<S: Storage> {
    /// Why applying can stop the pass.
    type Error;

    fn with_book<R>(&self, body: impl FnOnce(&Book<S>) -> R) -> R;

    /// Applies the commands in order.
    fn apply(&mut self, commands: &[BookCommand]) -> Result<Outcomes, Self::Error>;
}

impl<S: Storage> Target<S> for &mut Book<S> {
    /// Applying to a book never stops.
    type Error = std::convert::Infallible;

    fn with_book<R>(&self, body: impl FnOnce(&Book<S>) -> R) -> R {
        body(self)
    }

    fn apply(&mut self, commands: &[BookCommand]) -> Result<Outcomes, Self::Error> {
        Ok(commands
            .iter()
            .map(|command| Some(Book::apply(self, command)))
            .collect())
    }
}

struct Engine<'a> {
    writer: &'a WriteHandle<Book>,
    config: &'a StartupConfig,
}

impl Target<crate::book::Persistent> for Engine<'_> {
    type Error = StartupError;

    fn with_book<R>(&self, body: impl FnOnce(&Book) -> R) -> R {
        body(self.writer.read_handle().load().state())
    }

    /// The engine reports outcomes to its outcome stream, not to this producer, so each is
    /// `None`; the next round's decision, on the new snapshot, shows what took effect.
    fn apply(&mut self, commands: &[BookCommand]) -> Result<Outcomes, StartupError> {
        for command in commands {
            match self
                .writer
                .submit_timeout(command.clone(), self.config.submit_timeout)
            {
                // A command that did not fit is planned again next round.
                Ok(()) | Err(SubmitTimeoutError::Timeout(_)) => {}
                Err(SubmitTimeoutError::Closed(_)) => return Err(StartupError::EngineClosed),
            }
        }
        match self.writer.flush_timeout(self.config.flush_timeout) {
            // Commands still queued are applied later; one planned again from a snapshot
            // without them is rejected as stale by its precondition, or is a duplicate.
            Ok(_) | Err(FlushError::Timeout) => Ok(vec![None; commands.len()]),
            Err(FlushError::Closed) => Err(StartupError::EngineClosed),
        }
    }
}

/// Runs the startup pass through a running engine: asks `venue` once, then decides on the
/// latest snapshot and submits the commands through `writer`, round after round, until
/// nothing is left to do. Call it after recovery (or on a fresh engine), before trading and
/// before [`Runner::start`](crate::reconcile::Runner::start), which wants the report's
/// [`clearance`](StartupReport::clearance).
///
/// `now` is the time the decisions are taken at (the commands carry it): read it from the
/// same clock as the reconciler's.
///
/// # Errors
///
/// [`StartupError::EngineClosed`] when the engine shuts down meanwhile. Every venue error is
/// in the report, which is then incomplete.
pub fn run(
    venue: &mut impl Venue,
    writer: &WriteHandle<Book>,
    config: &StartupConfig,
    now: Timestamp,
) -> Result<StartupReport, StartupError> {
    let report = converge(venue, Engine { writer, config }, config, now)?;
    log(&report);
    Ok(report)
}

/// Runs the startup pass straight into `book` (no engine): for tests, tools, and an embedder
/// that owns its book. The same decisions as [`run`]; each action's outcome is known.
pub fn run_on_book<S: Storage>(
    venue: &mut impl Venue,
    book: &mut Book<S>,
    config: &StartupConfig,
    now: Timestamp,
) -> StartupReport {
    match converge(venue, book, config, now) {
        Ok(report) => report,
        Err(never) => match never {},
    }
}

fn converge<S: Storage, T: Target<S>>(
    venue: &mut impl Venue,
    mut target: T,
    config: &StartupConfig,
    now: Timestamp,
) -> Result<StartupReport, T::Error> {
    let answers = target.with_book(|book| ask(venue, book, config));
    let mut report = empty_report(&answers, now);
    let mut refused: Vec<(BookCommand, Rejection)> = Vec::new();
    let mut last = Decision::default();
    let mut converged = false;
    for round in 1..=config.max_rounds.max(1) {
        let mut decision = target.with_book(|book| decide(book, &answers, config, now));
        if round == 1 {
            report.fills_already_known = decision.fills_already_known;
        }
        report.rounds = round;
        // A command the book refused (not as stale) would be refused again: do not resend it.
        decision
            .commands
            .retain(|(_, command)| refused.iter().all(|(seen, _)| seen != command));
        if decision.commands.is_empty() {
            last = decision;
            converged = true;
            break;
        }
        let commands: Vec<BookCommand> = decision
            .commands
            .iter()
            .map(|(_, command)| command.clone())
            .collect();
        let outcomes = target.apply(&commands)?;
        for ((kind, command), outcome) in decision.commands.into_iter().zip(outcomes) {
            if let Some(Err(rejection)) = &outcome
                && !matches!(rejection, Rejection::StalePrecondition { .. })
            {
                refused.push((command.clone(), rejection.clone()));
            }
            report.actions.push(StartupAction {
                kind,
                command,
                round,
                outcome,
            });
        }
        last.findings = decision.findings;
        last.unresolved = decision.unresolved;
    }
    report.findings = last.findings;
    report.unresolved = last.unresolved;
    report.unresolved.extend(
        refused
            .into_iter()
            .map(|(command, rejection)| Unresolved::Refused {
                command: Box::new(command),
                rejection,
            }),
    );
    if !converged {
        report.unresolved.push(Unresolved::NotConverged {
            rounds: report.rounds,
        });
    }
    report.book_position = target.with_book(Book::net_position);
    Ok(report)
}

fn empty_report(answers: &StartupAnswers, now: Timestamp) -> StartupReport {
    StartupReport {
        now,
        orders_listed: answers
            .open_orders
            .as_ref()
            .ok()
            .map(|report| report.orders.len()),
        fills_read: match &answers.fills {
            Ok(Some(history)) => Some(history.fills.len()),
            _ => None,
        },
        fills_already_known: 0,
        orders_queried: answers.orders.len(),
        venue_position: super::decide::position_answer(answers)
            .ok()
            .and_then(|report| report.net_position()),
        book_position: Default::default(),
        actions: Vec::new(),
        findings: Vec::new(),
        unresolved: Vec::new(),
        rounds: 0,
    }
}

fn log(report: &StartupReport) {
    if report.is_complete() {
        tracing::info!(
            adopted_orders = report.adopted_orders(),
            adopted_finished_orders = report.adopted_finished_orders(),
            corrected_orders = report.corrected_orders(),
            adopted_position = %report.adopted_position(),
            findings = report.findings.len(),
            "startup reconciliation complete"
        );
    } else {
        for unresolved in &report.unresolved {
            tracing::warn!(%unresolved, "startup reconciliation: unresolved");
        }
    }
}
