//! The simulated venue's outgoing order updates: when each is delivered, and the delivery
//! faults (delay, duplication, reordering, loss) applied on the way.

use std::collections::BTreeMap;
use std::time::Duration;

use rand::RngExt;
use rand::rngs::ChaCha8Rng;

use snapstate::book::{BookCommand, OrderId};
use snapstate::time::Timestamp;

use super::faults::{FaultKind, FaultRecord, FaultSubject, Faults};

/// Where an update sits in the delivery order: its delivery time, then the order in which it
/// was scheduled.
type Key = (Timestamp, u64);

/// Updates waiting to be delivered, in delivery order.
#[derive(Clone, Debug, Default)]
pub(super) struct Outbox {
    pending: BTreeMap<Key, BookCommand>,
    /// The most recent pending update of each order: the one a reordered update overtakes.
    last_by_order: BTreeMap<Option<OrderId>, Key>,
    next_seq: u64,
}

/// What scheduling needs from the venue: the fault rates, the fault stream and the record of
/// what was injected.
pub(super) struct FaultContext<'a> {
    pub(super) faults: &'a Faults,
    pub(super) rng: &'a mut ChaCha8Rng,
    pub(super) record: &'a mut FaultRecord,
}

impl Outbox {
    pub(super) fn len(&self) -> usize {
        self.pending.len()
    }

    /// Schedules `update`, emitted at `emitted_at`, for delivery `delay` later, applying the
    /// delivery faults. The fault stream is drawn the same number of times whatever the rates,
    /// so changing one rate does not shift the draws of the others.
    pub(super) fn schedule(
        &mut self,
        update: BookCommand,
        emitted_at: Timestamp,
        delay: Duration,
        context: FaultContext<'_>,
    ) {
        let FaultContext {
            faults,
            rng,
            record,
        } = context;
        let dropped = rng.random_bool(faults.drop_rate);
        let delayed = rng.random_bool(faults.delay_rate);
        let extra_nanos = rng.random_range(0..=nanos(faults.max_extra_delay));
        let duplicated = rng.random_bool(faults.duplicate_rate);
        let reordered = rng.random_bool(faults.reorder_rate);
        if dropped {
            record.record(FaultKind::Dropped, emitted_at, || {
                FaultSubject::Update(update)
            });
            return;
        }
        let mut deliver_at = emitted_at.saturating_add(delay);
        if delayed {
            deliver_at = deliver_at.saturating_add(Duration::from_nanos(extra_nanos));
            record.record(FaultKind::Delayed, emitted_at, || {
                FaultSubject::Update(update.clone())
            });
        }
        let order_id = update.order_id();
        let overtaken = self.last_by_order.get(&order_id).copied();
        if duplicated {
            self.insert(deliver_at, update.clone());
            record.record(FaultKind::Duplicated, emitted_at, || {
                FaultSubject::Update(update.clone())
            });
        }
        let key = self.insert(deliver_at, update);
        if reordered && let Some(previous) = overtaken.filter(|previous| previous.0 <= deliver_at) {
            // The earlier update now arrives just after this one.
            if let Some(command) = self.pending.remove(&previous) {
                record.record(FaultKind::Reordered, emitted_at, || {
                    FaultSubject::Update(command.clone())
                });
                let moved = self.insert(deliver_at, command);
                self.last_by_order.insert(order_id, moved);
                return;
            }
        }
        self.last_by_order.insert(order_id, key);
    }

    /// Removes and returns every update due by `now`, in delivery order, each stamped with its
    /// delivery time (the time at which the book hears of it).
    pub(super) fn drain_due(&mut self, now: Timestamp) -> Vec<BookCommand> {
        let mut due = Vec::new();
        while let Some(entry) = self.pending.first_entry() {
            let (deliver_at, _) = *entry.key();
            if deliver_at > now {
                break;
            }
            let (key, command) = entry.remove_entry();
            let order_id = command.order_id();
            if self.last_by_order.get(&order_id) == Some(&key) {
                self.last_by_order.remove(&order_id);
            }
            due.push(stamped(command, deliver_at));
        }
        due
    }

    fn insert(&mut self, deliver_at: Timestamp, command: BookCommand) -> Key {
        let key = (deliver_at, self.next_seq);
        self.next_seq += 1;
        self.pending.insert(key, command);
        key
    }
}

fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

/// `command` with its time set to `at`.
fn stamped(mut command: BookCommand, at: Timestamp) -> BookCommand {
    match &mut command {
        BookCommand::Place(place) => place.at = at,
        BookCommand::Acknowledge(report)
        | BookCommand::Cancel(report)
        | BookCommand::Reject(report)
        | BookCommand::Expire(report) => report.at = at,
        BookCommand::Fill(fill) => fill.at = at,
        // The venue never sends corrections; they are the reconciler's.
        BookCommand::Correct(_) | BookCommand::AdoptPosition(_) => {}
    }
    command
}
