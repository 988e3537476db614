//! Correction policies: what to do about each confirmed finding.

use std::collections::BTreeSet;

use crate::book::{Adoption, Book, Correction, OrderId, Storage};
use crate::time::Timestamp;

use super::{
    Action, Finding, Mismatch, Policy, ReconcileConfig, ReportOnlyReason, StatusDifference,
    VenueCancel,
};

/// Gives every confirmed finding its action under the configured policies, at most one per
/// order: each correction changes the order's revision, so a second one planned from the same
/// snapshot would only be rejected as stale. `findings` must be sorted (subject, then class),
/// which puts the most useful action for an order first.
pub(crate) fn plan<S: Storage>(
    findings: &mut [Finding],
    book: &Book<S>,
    config: &ReconcileConfig,
    now: Timestamp,
) {
    let mut acted: BTreeSet<OrderId> = BTreeSet::new();
    for finding in findings.iter_mut().filter(|finding| finding.confirmed) {
        let policy = config.policies.for_class(finding.class());
        let action = match policy {
            Policy::ReportOnly => Action::ReportOnly(ReportOnlyReason::Policy),
            Policy::Correct => correct(&finding.mismatch, now),
            Policy::CancelAtVenue => cancel_at_venue(&finding.mismatch, book),
        };
        finding.action = claim(action, &mut acted);
    }
}

/// Keeps `action` if no earlier action this cycle touched its orders.
fn claim(action: Action, acted: &mut BTreeSet<OrderId>) -> Action {
    match action {
        Action::Correct(correction) => {
            if acted.insert(correction.order_id()) {
                Action::Correct(correction)
            } else {
                Action::ReportOnly(ReportOnlyReason::OneActionPerOrder)
            }
        }
        Action::CancelAtVenue(cancels) => {
            let kept: Vec<VenueCancel> = cancels
                .into_iter()
                .filter(|cancel| acted.insert(cancel.order_id))
                .collect();
            if kept.is_empty() {
                Action::ReportOnly(ReportOnlyReason::OneActionPerOrder)
            } else {
                Action::CancelAtVenue(kept)
            }
        }
        other => other,
    }
}

/// The book correction for a mismatch, under [`Policy::Correct`].
fn correct(mismatch: &Mismatch, at: Timestamp) -> Action {
    let correction = match *mismatch {
        Mismatch::UnknownOrder {
            ref venue,
            level: Some(level),
            slot_revision,
            slot_live_order: None,
            inside_grid: true,
        } if venue.status.is_live() => Correction::Adopt(Adoption {
            order_id: venue.order_id,
            level,
            side: venue.side,
            price: venue.price,
            quantity: venue.quantity,
            cumulative_filled: venue.filled,
            expected: slot_revision,
            at,
        }),
        Mismatch::UnknownOrder { .. } => {
            return Action::ReportOnly(ReportOnlyReason::NotAdoptable);
        }
        Mismatch::MissingAtVenue {
            order_id, revision, ..
        }
        | Mismatch::StatusDiffers {
            order_id,
            revision,
            difference: StatusDifference::FinishedAtVenue,
            ..
        } => Correction::MarkLost {
            order_id,
            expected: revision,
            at,
        },
        Mismatch::FilledDiffers {
            order_id,
            local,
            venue,
            revision,
        } if venue > local => Correction::MissedFill {
            order_id,
            expected: revision,
            cumulative_filled: venue,
            at,
        },
        Mismatch::StatusDiffers {
            order_id,
            revision,
            difference: StatusDifference::NotAcknowledged,
            ..
        } => Correction::MissedAcknowledge {
            order_id,
            expected: revision,
            at,
        },
        // The book's finished states are final: the only way to agree is for the venue to
        // stop working the order.
        Mismatch::StatusDiffers {
            order_id,
            revision,
            difference: StatusDifference::LiveAtVenue,
            ..
        } => {
            return Action::CancelAtVenue(vec![VenueCancel {
                order_id,
                expected: Some(revision),
            }]);
        }
        _ => return Action::ReportOnly(ReportOnlyReason::NoActionForCase),
    };
    Action::Correct(correction)
}

/// The venue cancels for a mismatch, under [`Policy::CancelAtVenue`].
fn cancel_at_venue<S: Storage>(mismatch: &Mismatch, book: &Book<S>) -> Action {
    let cancels = match mismatch {
        Mismatch::UnknownOrder { venue, .. } => vec![VenueCancel {
            order_id: venue.order_id,
            expected: None,
        }],
        Mismatch::SideDiffers {
            order_id, revision, ..
        }
        | Mismatch::PriceDiffers {
            order_id, revision, ..
        }
        | Mismatch::QuantityDiffers {
            order_id, revision, ..
        }
        | Mismatch::StatusDiffers {
            order_id,
            revision,
            difference: StatusDifference::LiveAtVenue,
            ..
        } => vec![VenueCancel {
            order_id: *order_id,
            expected: Some(*revision),
        }],
        Mismatch::MultipleLiveOrders {
            orders,
            book_live_order,
            ..
        } => orders
            .iter()
            .filter(|order_id| Some(**order_id) != *book_live_order)
            .map(|order_id| VenueCancel {
                order_id: *order_id,
                expected: book.order(*order_id).map(|order| order.revision()),
            })
            .collect(),
        _ => return Action::ReportOnly(ReportOnlyReason::NoActionForCase),
    };
    Action::CancelAtVenue(cancels)
}
