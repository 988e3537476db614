//! A position adopted from the venue without orders to explain it.
//!
//! The startup reconciliation (`crate::reconcile::startup`) may find that the venue reports
//! a position that no fill the book can see accounts for: history older than the venue keeps,
//! an initial position, a book started cold. It adopts that rest with one
//! [`BookCommand::AdoptPosition`](super::BookCommand::AdoptPosition), kept apart from the slots
//! in the book's [`AdoptedPosition`]: no slot, no order and no working order changes, only the
//! net position. So the book's invariant 3 reads: the net position equals the sum of the
//! slots' positions plus the adopted position.
//!
//! An adoption is guarded twice. Its precondition is the adopted position's revision (like any
//! correction's), and its id is deterministic (computed by [`PositionAdoptionId::derive`] from
//! what it was decided on), so the same adoption submitted again is a duplicate that changes
//! nothing, and a second startup pass over the same answers finds nothing left to adopt.

use rust_decimal::Decimal;
use sha2::{Digest, Sha256};

use crate::time::Timestamp;

use super::Book;
use super::exact::exact_add;
use super::outcome::{Applied, GuardTarget, Rejection};
use super::storage::Storage;
use super::types::{Quantity, Revision};

/// The deterministic id of a position adoption.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(transparent))]
pub struct PositionAdoptionId(pub u64);

impl PositionAdoptionId {
    /// The id of adopting `quantity` when the venue reports `venue_position`, the book's net
    /// position is `book_position` and its adopted position is at revision `expected`.
    ///
    /// The first eight bytes (big-endian) of a SHA-256 digest over a tag and the four values
    /// (each decimal normalised, so `1.0` and `1` give the same id; revision as little-endian
    /// bytes), the same hash the book's state digest uses. It is stable across builds and
    /// platforms: the same decision always gets the same id.
    pub fn derive(
        venue_position: Quantity,
        book_position: Quantity,
        quantity: Quantity,
        expected: Revision,
    ) -> Self {
        let mut hash = Sha256::new();
        hash.update(b"snapstate.adopt_position.v2");
        for value in [venue_position, book_position, quantity] {
            hash.update(value.normalize().serialize());
        }
        hash.update(expected.0.to_le_bytes());
        let digest = hash.finalize();
        let mut first = [0_u8; 8];
        first.copy_from_slice(&digest[..8]);
        Self(u64::from_be_bytes(first))
    }
}

impl std::fmt::Display for PositionAdoptionId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "p{:016x}", self.0)
    }
}

/// Adopt a position the venue reports and no fill explains (see the module documentation).
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct PositionAdoption {
    /// Its deterministic id ([`PositionAdoptionId::derive`]).
    pub id: PositionAdoptionId,
    /// The signed quantity to add to the net position (buys +, sells −); never zero.
    pub quantity: Quantity,
    /// The adopted position's revision in the snapshot the decision used
    /// ([`Revision::ABSENT`] if nothing was ever adopted).
    pub expected: Revision,
    /// When it was decided.
    pub at: Timestamp,
}

/// What the book has adopted as position without orders, and the guard for the next adoption.
///
/// Part of the book's state: a checkpoint and a state digest must include it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct AdoptedPosition {
    total: Quantity,
    revision: Revision,
    last_id: Option<PositionAdoptionId>,
}

impl AdoptedPosition {
    /// The signed sum of every adoption.
    pub fn total(&self) -> Quantity {
        self.total
    }

    /// How many adoptions were applied: the precondition of the next one.
    pub fn revision(&self) -> Revision {
        self.revision
    }

    /// The id of the last adoption applied.
    pub fn last_id(&self) -> Option<PositionAdoptionId> {
        self.last_id
    }

    /// Rebuilds an adopted position from its parts, as a checkpoint stored them.
    pub(crate) fn from_parts(
        total: Quantity,
        revision: Revision,
        last_id: Option<PositionAdoptionId>,
    ) -> Self {
        Self {
            total,
            revision,
            last_id,
        }
    }
}

impl<S: Storage> Book<S> {
    /// The position adopted from the venue without orders (see [`PositionAdoption`]).
    pub fn adopted_position(&self) -> &AdoptedPosition {
        &self.adopted
    }

    /// Applies a position adoption: a duplicate of the last one changes nothing; otherwise the
    /// precondition must hold, and the net position and the adopted total move together.
    pub(super) fn adopt_position(
        &mut self,
        adoption: &PositionAdoption,
    ) -> Result<Applied, Rejection> {
        if self.adopted.last_id == Some(adoption.id) {
            return Ok(Applied::Duplicate);
        }
        if adoption.quantity == Decimal::ZERO {
            return Err(Rejection::ZeroPositionAdoption);
        }
        if adoption.expected != self.adopted.revision {
            return Err(Rejection::StalePrecondition {
                target: GuardTarget::AdoptedPosition,
                expected: adoption.expected,
                actual: self.adopted.revision,
            });
        }
        // Exact, never rounded: `checked_add` rounds a sum that needs more than a decimal's
        // digits, and a rounded net position would disagree with its parts.
        let total = exact_add(self.adopted.total, adoption.quantity)?;
        let net_position = exact_add(self.net_position, adoption.quantity)?;
        self.adopted.total = total;
        self.adopted.revision.bump();
        self.adopted.last_id = Some(adoption.id);
        self.net_position = net_position;
        Ok(Applied::Corrected {
            kind: ADOPT_POSITION_KIND,
        })
    }
}

/// The correction kind of a position adoption, as [`Applied::Corrected`] reports it.
pub const ADOPT_POSITION_KIND: &str = "adopt_position";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::book::{BookCommand, BookConfig, Grid, Level};

    fn book() -> Book {
        let grid = Grid::new(Decimal::new(100, 0), Decimal::ONE, Level(-5), Level(5)).unwrap();
        Book::new(BookConfig::new(grid))
    }

    fn adoption(quantity: i64, expected: Revision) -> PositionAdoption {
        let quantity = Decimal::new(quantity, 0);
        PositionAdoption {
            id: PositionAdoptionId::derive(quantity, Decimal::ZERO, quantity, expected),
            quantity,
            expected,
            at: Timestamp::from_millis(5),
        }
    }

    #[test]
    fn an_adoption_moves_the_net_position_and_keeps_the_invariants() {
        let mut book = book();
        let command = BookCommand::AdoptPosition(adoption(7, Revision::ABSENT));
        assert_eq!(
            book.apply(&command),
            Ok(Applied::Corrected {
                kind: ADOPT_POSITION_KIND
            })
        );
        assert_eq!(book.net_position(), Decimal::new(7, 0));
        assert_eq!(book.adopted_position().total(), Decimal::new(7, 0));
        book.check_invariants().unwrap();
    }

    #[test]
    fn the_same_adoption_again_is_a_duplicate() {
        let mut book = book();
        let command = BookCommand::AdoptPosition(adoption(-3, Revision::ABSENT));
        book.apply(&command).unwrap();
        let before = book.clone();
        assert_eq!(book.apply(&command), Ok(Applied::Duplicate));
        assert_eq!(book, before);
    }

    #[test]
    fn a_stale_or_zero_adoption_changes_nothing() {
        let mut book = book();
        book.apply(&BookCommand::AdoptPosition(adoption(2, Revision::ABSENT)))
            .unwrap();
        let before = book.clone();
        let stale = adoption(5, Revision::ABSENT);
        assert!(matches!(
            book.apply(&BookCommand::AdoptPosition(stale)),
            Err(Rejection::StalePrecondition {
                target: GuardTarget::AdoptedPosition,
                ..
            })
        ));
        let zero = adoption(0, Revision(1));
        assert_eq!(
            book.apply(&BookCommand::AdoptPosition(zero)),
            Err(Rejection::ZeroPositionAdoption)
        );
        assert_eq!(book, before);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(128))]

        #[test]
        fn prop_a_position_adoption_changes_no_slot_and_no_order(
            history in proptest::collection::vec(crate::book::strategies::command(), 0..60),
            quantity in -1_000_i64..1_000,
        ) {
            let (book, _) = crate::book::strategies::replay::<crate::book::Persistent>(&history);
            let quantity = Decimal::new(quantity, 1);
            let expected = book.adopted_position().revision();
            let adoption = PositionAdoption {
                id: PositionAdoptionId::derive(quantity, book.net_position(), quantity, expected),
                quantity,
                expected,
                at: book.latest_activity(),
            };
            let mut after = book.clone();
            let command = BookCommand::AdoptPosition(adoption);
            let result = after.apply(&command);
            if quantity.is_zero() {
                proptest::prop_assert_eq!(result, Err(Rejection::ZeroPositionAdoption));
                proptest::prop_assert_eq!(&after, &book);
                return Ok(());
            }
            if let Err(rejection) = &result {
                // Near the decimal's limits the exact net position may not be representable:
                // then the adoption is refused and changes nothing, never rounded.
                proptest::prop_assert!(rejection.is_arithmetic(), "{:?}", rejection);
                proptest::prop_assert_eq!(&after, &book);
                return Ok(());
            }
            proptest::prop_assert_eq!(after.net_position(), book.net_position() + quantity);
            proptest::prop_assert_eq!(after.slots_by_price(), book.slots_by_price());
            proptest::prop_assert_eq!(after.orders_by_id(), book.orders_by_id());
            after.check_invariants().map_err(|error| {
                proptest::test_runner::TestCaseError::fail(error.to_string())
            })?;
            let once = after.clone();
            proptest::prop_assert_eq!(after.apply(&command), Ok(Applied::Duplicate));
            proptest::prop_assert_eq!(after, once);
        }
    }

    #[test]
    fn the_id_is_deterministic_and_ignores_decimal_scale() {
        let one = PositionAdoptionId::derive(
            Decimal::new(10, 1),
            Decimal::ZERO,
            Decimal::ONE,
            Revision::ABSENT,
        );
        let same = PositionAdoptionId::derive(
            Decimal::ONE,
            Decimal::new(0, 3),
            Decimal::new(100, 2),
            Revision::ABSENT,
        );
        assert_eq!(one, same);
        let other =
            PositionAdoptionId::derive(Decimal::ONE, Decimal::ZERO, Decimal::ONE, Revision(1));
        assert_ne!(one, other);
    }
}
