//! The harness's ledger: every command sent to the engine, checked against the pure book, and
//! every injected update fault followed to its resolution.
//!
//! The ledger applies each command to a *shadow* [`Book`] at the moment it is sent, in the same
//! order the engine's writer applies it (one producer, so sequence order is send order). That
//! gives, for each command, the outcome the engine must report (the engine's outcome stream is
//! compared with it, command by command) and the order's state just after it, which is what
//! attributes a lost update's resolution to the command that repaired it.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use crate::venue::{FaultKind, FaultSubject, InjectedFault};
use snapstate::book::{Applied, Book, BookCommand, OrderId, OrderStatus, Quantity, Rejection};
use snapstate::engine::{Outcome, OutcomeStream, WriteHandle};
use snapstate::reconcile::MismatchClass;

use super::Resolution;

/// The longest the harness waits for the engine's record of a command it has already flushed.
/// Not a timing assertion: the record is always on its way, and only a broken engine lets this
/// expire, which then fails the run instead of hanging it.
const OUTCOME_WAIT: Duration = Duration::from_secs(30);

/// An update, as the venue numbers it: its order and its venue sequence (unique per order).
pub(crate) type UpdateId = (OrderId, u64);

/// Who sent a command, for attributing what it repaired.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Source {
    /// The market maker's placement.
    Place,
    /// A venue update, delivered.
    Update,
    /// A reconciliation correction, and the class of the finding it acts on.
    Correction {
        class: MismatchClass,
        kind: &'static str,
    },
    /// A command of the startup reconciliation after a crash.
    Startup,
}

/// What a lost update told the book, and so what must become true for it to be resolved.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Fact {
    /// An acknowledgement: the order is no longer pending.
    Accepted,
    /// A fill: the order has filled at least this much.
    FilledAtLeast(Quantity),
    /// A cancel, expiry or rejection: the order is finished.
    Finished,
}

impl Fact {
    fn of(update: &BookCommand) -> Option<Self> {
        match update {
            BookCommand::Acknowledge(_) => Some(Fact::Accepted),
            BookCommand::Fill(fill) => Some(Fact::FilledAtLeast(fill.cumulative_filled)),
            BookCommand::Cancel(_) | BookCommand::Expire(_) | BookCommand::Reject(_) => {
                Some(Fact::Finished)
            }
            BookCommand::Place(_) | BookCommand::Correct(_) | BookCommand::AdoptPosition(_) => None,
        }
    }

    fn holds(self, book: &Book, order_id: OrderId) -> bool {
        let Some(order) = book.order(order_id) else {
            return false;
        };
        match self {
            Fact::Accepted => order.status() != OrderStatus::Pending,
            Fact::FilledAtLeast(quantity) => order.filled() >= quantity,
            Fact::Finished => order.status().is_finished(),
        }
    }
}

/// A lost update waiting for the command that repairs it.
#[derive(Clone, Copy, Debug)]
struct Watch {
    kind: FaultKind,
    fact: Fact,
}

/// Why the engine and the pure book disagreed about a command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Divergence(pub(crate) String);

/// The ledger. See the module documentation.
pub(crate) struct Ledger {
    shadow: Book,
    sent: u64,
    /// Outcomes the engine owes, oldest first: the sequence number and the pure book's result.
    awaited: VecDeque<(u64, Result<Applied, Rejection>)>,
    /// The book's answer to each delivery of each update, in delivery order.
    deliveries: BTreeMap<UpdateId, Vec<Result<Applied, Rejection>>>,
    /// Delivery faults, resolved at the end from `deliveries`.
    delivery_faults: Vec<(FaultKind, UpdateId)>,
    /// Lost updates not yet repaired, by order.
    watches: BTreeMap<OrderId, Vec<Watch>>,
    resolutions: BTreeMap<FaultKind, BTreeMap<Resolution, u64>>,
    rejections: Vec<String>,
    corrections_sent: u64,
    /// Update faults by fault kind and the kind of update they hit.
    faulted_updates: BTreeMap<(FaultKind, &'static str), u64>,
    /// With crashes: the commands sent since the last recovery (the first sent has sequence
    /// number `sent` at that recovery plus one), to replay the pure book to whatever sequence
    /// number the next recovery reaches.
    log: Option<Vec<BookCommand>>,
    /// Orders whose placement a crash took from the journal: the venue's updates about them
    /// are refused as unknown (as they would be after a real crash), and that is expected.
    placements_lost: std::collections::BTreeSet<OrderId>,
    /// Updates refused for that reason.
    unknown_after_crash: u64,
}

impl Ledger {
    pub(crate) fn new(book: Book) -> Self {
        Self {
            shadow: book,
            sent: 0,
            awaited: VecDeque::new(),
            deliveries: BTreeMap::new(),
            delivery_faults: Vec::new(),
            watches: BTreeMap::new(),
            resolutions: BTreeMap::new(),
            rejections: Vec::new(),
            corrections_sent: 0,
            faulted_updates: BTreeMap::new(),
            log: None,
            placements_lost: std::collections::BTreeSet::new(),
            unknown_after_crash: 0,
        }
    }

    /// Marks `order_id` as placed at the venue but lost from the journal by a crash.
    pub(crate) fn placement_lost(&mut self, order_id: OrderId) {
        self.placements_lost.insert(order_id);
    }

    /// Venue updates refused because their order's placement was lost in a crash.
    pub(crate) fn unknown_after_crash(&self) -> u64 {
        self.unknown_after_crash
    }

    /// Keeps every command sent from now on (for a run that crashes).
    pub(crate) fn keep_log(&mut self) {
        self.log.get_or_insert_with(Vec::new);
    }

    /// The commands sent since the last [`restart`](Self::restart) (or since the log started).
    pub(crate) fn log(&self) -> &[BookCommand] {
        self.log.as_deref().unwrap_or(&[])
    }

    /// Starts again after a crash from `shadow`, the pure book as of `sent` commands (the
    /// recovered sequence number): the commands after it were lost with the engine.
    pub(crate) fn restart(&mut self, shadow: Book, sent: u64) {
        self.shadow = shadow;
        self.sent = sent;
        self.awaited.clear();
        if let Some(log) = &mut self.log {
            log.clear();
        }
    }

    /// The pure book, equal to the engine's state once every sent command is flushed.
    pub(crate) fn shadow(&self) -> &Book {
        &self.shadow
    }

    /// Commands sent so far (by the harness and by the reconciler).
    pub(crate) fn sent(&self) -> u64 {
        self.sent
    }

    /// Corrections the reconciler sent so far.
    pub(crate) fn corrections_sent(&self) -> u64 {
        self.corrections_sent
    }

    /// Update faults so far, by fault kind and the kind of update they hit.
    pub(crate) fn faulted_updates(&self) -> &BTreeMap<(FaultKind, &'static str), u64> {
        &self.faulted_updates
    }

    /// Commands the book refused so far, described.
    pub(crate) fn rejections(&self) -> &[String] {
        &self.rejections
    }

    /// Submits `command` to the engine and records it.
    ///
    /// # Errors
    ///
    /// A description, if the engine refused the submission (it has stopped).
    pub(crate) fn submit(
        &mut self,
        writer: &WriteHandle<Book>,
        command: BookCommand,
        source: Source,
    ) -> Result<(), String> {
        let _ = self.record(&command, source);
        writer
            .submit(command)
            .map_err(|error| format!("the engine refused a submission: {error}"))
    }

    /// Records a command someone else (the reconciler) has submitted, in submission order,
    /// and returns what the pure book did with it.
    pub(crate) fn record(
        &mut self,
        command: &BookCommand,
        source: Source,
    ) -> Result<Applied, Rejection> {
        let result = self.shadow.apply(command);
        self.sent += 1;
        if let Some(log) = &mut self.log {
            log.push(command.clone());
        }
        match &result {
            Err(Rejection::UnknownOrder(order_id))
                if source == Source::Update && self.placements_lost.contains(order_id) =>
            {
                self.unknown_after_crash += 1;
            }
            Err(rejection) => self
                .rejections
                .push(format!("{rejection} (from {source:?}: {command:?})")),
            Ok(_) => {}
        }
        if source == Source::Update
            && let Some(id) = update_id(command)
        {
            self.deliveries.entry(id).or_default().push(result.clone());
        }
        if matches!(source, Source::Correction { .. }) {
            self.corrections_sent += 1;
        }
        let changed = !matches!(result, Ok(Applied::Duplicate | Applied::Stale(_)) | Err(_));
        if changed && let Some(order_id) = command.order_id() {
            self.resolve_watches(order_id, source);
        }
        self.awaited.push_back((self.sent, result.clone()));
        result
    }

    /// Takes the engine's record of every command sent since the last call and checks that
    /// each says what the pure book said. Call it after a flush.
    ///
    /// # Errors
    ///
    /// The first disagreement, or a record that never came.
    pub(crate) fn collect(&mut self, outcomes: &OutcomeStream<Book>) -> Result<(), Divergence> {
        while let Some((seq, expected)) = self.awaited.pop_front() {
            let Some(record) = outcomes.recv_timeout(OUTCOME_WAIT) else {
                return Err(Divergence(format!(
                    "no outcome record for command #{seq} (the engine stopped or dropped it)"
                )));
            };
            let same = match (&record.outcome, &expected) {
                (Outcome::Applied(engine), Ok(book)) => engine == book,
                (Outcome::Rejected(engine), Err(book)) => engine == book,
                _ => false,
            };
            if record.seq.0 != seq || !same {
                return Err(Divergence(format!(
                    "command #{seq}: the engine reported {:?} for #{}, the pure book {expected:?}",
                    record.outcome, record.seq.0
                )));
            }
        }
        Ok(())
    }

    /// Takes in the venue's journal. Update faults are followed from here; the faults about
    /// answers (left-out orders, failed queries) are handed back for the cycle to classify.
    pub(crate) fn absorb(&mut self, journal: Vec<InjectedFault>) -> Vec<InjectedFault> {
        let mut answer_faults = Vec::new();
        for fault in journal {
            let FaultSubject::Update(update) = &fault.subject else {
                answer_faults.push(fault);
                continue;
            };
            *self
                .faulted_updates
                .entry((fault.kind, update.kind()))
                .or_default() += 1;
            match fault.kind {
                FaultKind::Dropped | FaultKind::FillOnlyInView => self.watch(fault.kind, update),
                _ => match update_id(update) {
                    Some(id) => self.delivery_faults.push((fault.kind, id)),
                    None => self.resolve(fault.kind, Resolution::Unresolved),
                },
            }
        }
        answer_faults
    }

    /// Counts one fault of `kind` as resolved by `resolution`.
    pub(crate) fn resolve(&mut self, kind: FaultKind, resolution: Resolution) {
        *self
            .resolutions
            .entry(kind)
            .or_default()
            .entry(resolution)
            .or_default() += 1;
    }

    /// Resolves what is left: each delivery fault by the book's answer to the delivery it
    /// concerns, and every lost update still unrepaired as unresolved. Call it once, at the
    /// end of the run.
    pub(crate) fn finish(&mut self) -> BTreeMap<FaultKind, BTreeMap<Resolution, u64>> {
        for (kind, id) in std::mem::take(&mut self.delivery_faults) {
            let deliveries = self.deliveries.get(&id).map(Vec::as_slice).unwrap_or(&[]);
            // A delayed update is judged by its first arrival; a duplicate by its second (the
            // copy the book must ignore); an overtaken update by its last (with a duplicate
            // copy ahead of it, the moved original arrives last).
            let delivery = match kind {
                FaultKind::Duplicated => deliveries.get(1),
                FaultKind::Reordered => deliveries.last(),
                _ => deliveries.first(),
            };
            let resolution = delivery.map_or(Resolution::Unresolved, Resolution::of_delivery);
            self.resolve(kind, resolution);
        }
        for (_, watches) in std::mem::take(&mut self.watches) {
            for watch in watches {
                self.resolve(watch.kind, Resolution::Unresolved);
            }
        }
        self.resolutions.clone()
    }

    fn watch(&mut self, kind: FaultKind, update: &BookCommand) {
        // Only order updates are watched; a position adoption is about no order.
        let Some(order_id) = update.order_id() else {
            return;
        };
        match Fact::of(update) {
            Some(fact) if fact.holds(&self.shadow, order_id) => {
                self.resolve(kind, Resolution::AlreadyKnown);
            }
            Some(fact) => self
                .watches
                .entry(order_id)
                .or_default()
                .push(Watch { kind, fact }),
            None => self.resolve(kind, Resolution::Unresolved),
        }
    }

    /// After a command changed `order_id`, resolves the lost updates of that order whose fact
    /// now holds, by the command's source.
    fn resolve_watches(&mut self, order_id: OrderId, source: Source) {
        let Some(watches) = self.watches.remove(&order_id) else {
            return;
        };
        let mut open = Vec::new();
        for watch in watches {
            if watch.fact.holds(&self.shadow, order_id) {
                let resolution = match source {
                    Source::Update => Resolution::SupersededByLaterUpdate,
                    Source::Correction { class, kind } => Resolution::Corrected { class, kind },
                    // A placement never makes an order accepted, filled or finished. Startup
                    // commands come only in runs that crash, which follow no fault.
                    Source::Place | Source::Startup => Resolution::Unresolved,
                };
                self.resolve(watch.kind, resolution);
            } else {
                open.push(watch);
            }
        }
        if !open.is_empty() {
            self.watches.insert(order_id, open);
        }
    }
}

/// The venue's name for an update: its order and venue sequence.
pub(crate) fn update_id(update: &BookCommand) -> Option<UpdateId> {
    let venue_seq = match update {
        BookCommand::Acknowledge(report)
        | BookCommand::Cancel(report)
        | BookCommand::Reject(report)
        | BookCommand::Expire(report) => report.venue_seq,
        BookCommand::Fill(fill) => fill.venue_seq,
        BookCommand::Place(_) | BookCommand::Correct(_) | BookCommand::AdoptPosition(_) => None,
    }?;
    Some((update.order_id()?, venue_seq))
}
