//! The order status transition table.
//!
//! | from \ event       | acknowledge | partial fill | complete fill | cancel    | reject      | expire    | mark lost |
//! |--------------------|-------------|--------------|---------------|-----------|-------------|-----------|-----------|
//! | `pending`          | open        | partially    | filled        | cancelled | rejected    | expired   | lost      |
//! | `open`             | duplicate   | partially    | filled        | cancelled | not allowed | expired   | lost      |
//! | `partially_filled` | stale       | partially    | filled        | cancelled | not allowed | expired   | lost      |
//! | `filled`           | stale       | —            | duplicate     | stale     | not allowed | stale     | stale     |
//! | `cancelled`        | stale       | merge        | merge         | duplicate | not allowed | stale     | stale     |
//! | `rejected`         | not allowed | not allowed  | not allowed   | not allowed | duplicate | not allowed | stale   |
//! | `expired`          | stale       | merge        | merge         | stale     | not allowed | duplicate | stale     |
//! | `lost`             | stale       | merge        | merge         | stale     | stale       | stale     | duplicate |
//!
//! * Finished states are absorbing: no event moves an order out of `filled`, `cancelled`,
//!   `rejected`, `expired` or `lost`.
//! * *stale*: a report that arrived after a later one (an acknowledgement after a fill, a
//!   "new" after the order finished). Ignored and counted; it never resurrects an order.
//! * *merge*: a fill reported after the order finished (the fill happened before the cancel
//!   but its report arrived later). The status stays; the fill quantity merges by maximum,
//!   because a fill that happened moves the position whatever the order's status.
//! * *not allowed*: a report that no reordering explains (a venue rejection of an order it had
//!   acknowledged, any fill of a rejected order). Rejected with a typed error; nothing changes.
//! * `lost` means "finished, how is not known": reconciliation marks an order lost when the
//!   venue reports it finished (refused included) or stops listing it, so a venue rejection
//!   arriving afterwards is a late report about a finished order, stale like a late cancel.
//! * A fill at or below the known cumulative quantity is a duplicate or stale before the table
//!   is consulted; `filled` can therefore never see a partial fill ("—").
//! * One order's fill reports give the same final state in any order of arrival, and so do a
//!   cancel (or expiry) and the fills before it. A *complete* fill and a cancel of the same
//!   order contradict each other (a venue does not cancel a filled order); if both arrive, the
//!   first to arrive decides the status, and the fill quantity merges either way.

use super::types::OrderStatus;

/// Something that happens to an order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum Event {
    /// The venue acknowledged it.
    Acknowledge,
    /// A fill that leaves some quantity open.
    PartialFill,
    /// A fill that completes the quantity.
    CompleteFill,
    /// The venue cancelled it.
    Cancel,
    /// The venue refused it.
    Reject,
    /// It expired.
    Expire,
    /// Reconciliation gave up on it.
    MarkLost,
}

impl Event {
    /// Every event, in declaration order.
    pub const ALL: [Event; 7] = [
        Event::Acknowledge,
        Event::PartialFill,
        Event::CompleteFill,
        Event::Cancel,
        Event::Reject,
        Event::Expire,
        Event::MarkLost,
    ];
}

/// What the table says an event does to an order in a given status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transition {
    /// Move to this status (for a fill on a finished order: stay, and merge the quantity).
    To(OrderStatus),
    /// The same report again: change nothing.
    Duplicate,
    /// A report older than what is known: ignore it and count it.
    Stale,
    /// No reordering explains it: reject it.
    NotAllowed,
}

/// The transition table (see the module documentation).
pub const fn transition(from: OrderStatus, event: Event) -> Transition {
    use Event as E;
    use OrderStatus as S;
    use Transition::{Duplicate, NotAllowed, Stale, To};
    match (from, event) {
        (S::Pending, E::Acknowledge) => To(S::Open),
        (S::Open, E::Acknowledge) => Duplicate,
        (S::PartiallyFilled, E::Acknowledge) => Stale,

        (S::Pending | S::Open | S::PartiallyFilled, E::PartialFill) => To(S::PartiallyFilled),
        (S::Pending | S::Open | S::PartiallyFilled, E::CompleteFill) => To(S::Filled),
        (S::Pending | S::Open | S::PartiallyFilled, E::Cancel) => To(S::Cancelled),
        (S::Pending, E::Reject) => To(S::Rejected),
        (S::Open | S::PartiallyFilled, E::Reject) => NotAllowed,
        (S::Pending | S::Open | S::PartiallyFilled, E::Expire) => To(S::Expired),
        (S::Pending | S::Open | S::PartiallyFilled, E::MarkLost) => To(S::Lost),

        // A filled order's cumulative equals its quantity, so a "partial" fill of it is stale
        // by quantity before the table is asked; answer consistently anyway.
        (S::Filled, E::PartialFill) => Stale,
        (S::Filled, E::CompleteFill) => Duplicate,
        (S::Cancelled | S::Expired | S::Lost, E::PartialFill | E::CompleteFill) => To(from),

        (S::Rejected, E::Reject) => Duplicate,
        (S::Rejected, E::MarkLost) => Stale,
        (S::Rejected, _) => NotAllowed,
        // Reconciliation may have marked the order lost because the venue had refused it.
        (S::Lost, E::Reject) => Stale,
        (_, E::Reject) => NotAllowed,

        (S::Cancelled, E::Cancel) | (S::Expired, E::Expire) | (S::Lost, E::MarkLost) => Duplicate,
        (S::Filled | S::Cancelled | S::Expired | S::Lost, _) => Stale,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finished_states_are_absorbing_for_every_event() {
        for from in OrderStatus::ALL
            .into_iter()
            .filter(|status| status.is_finished())
        {
            for event in Event::ALL {
                if let Transition::To(to) = transition(from, event) {
                    assert_eq!(to, from, "{from} left its finished state on {event:?}");
                }
            }
        }
    }

    #[test]
    fn live_states_reach_every_finished_state_but_rejected_only_from_pending() {
        assert_eq!(
            transition(OrderStatus::Pending, Event::Reject),
            Transition::To(OrderStatus::Rejected)
        );
        for from in [OrderStatus::Open, OrderStatus::PartiallyFilled] {
            assert_eq!(transition(from, Event::Reject), Transition::NotAllowed);
        }
        for from in OrderStatus::ALL
            .into_iter()
            .filter(|status| status.is_live())
        {
            assert_eq!(
                transition(from, Event::CompleteFill),
                Transition::To(OrderStatus::Filled)
            );
            assert_eq!(
                transition(from, Event::Cancel),
                Transition::To(OrderStatus::Cancelled)
            );
            assert_eq!(
                transition(from, Event::Expire),
                Transition::To(OrderStatus::Expired)
            );
            assert_eq!(
                transition(from, Event::MarkLost),
                Transition::To(OrderStatus::Lost)
            );
        }
    }

    #[test]
    fn a_late_acknowledgement_never_resurrects_an_order() {
        for from in OrderStatus::ALL {
            if from == OrderStatus::Pending {
                continue;
            }
            assert!(
                !matches!(transition(from, Event::Acknowledge), Transition::To(_)),
                "acknowledge moved {from}"
            );
        }
    }

    #[test]
    fn repeating_the_event_that_produced_a_status_is_a_duplicate() {
        let producing = [
            (OrderStatus::Open, Event::Acknowledge),
            (OrderStatus::Filled, Event::CompleteFill),
            (OrderStatus::Cancelled, Event::Cancel),
            (OrderStatus::Rejected, Event::Reject),
            (OrderStatus::Expired, Event::Expire),
            (OrderStatus::Lost, Event::MarkLost),
        ];
        for (status, event) in producing {
            assert_eq!(
                transition(status, event),
                Transition::Duplicate,
                "{status} on {event:?}"
            );
        }
    }
}
