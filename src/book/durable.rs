//! The book's [`Durable`] codec: how its commands, its whole state and its configuration are
//! written to the journal and to checkpoints.
//!
//! The book's public serde form (the `serde` feature) is for people and JSON: it tags enums by
//! name inside the object (`#[serde(tag = "type")]`), which `postcard` cannot read back, and it
//! may change with the API. The journal needs a compact, stable binary form instead, so this file
//! mirrors each type in a private image type that derives serde in postcard's terms:
//!
//! * enums are externally tagged by variant index, so **variants are only ever appended**;
//! * a decimal is `(flags, magnitude)`: `flags` holds the scale (bits 0–4) and the sign (bit 7),
//!   `magnitude` the 96-bit mantissa as a varint, so `-0` and the scale survive exactly;
//! * timestamps are nanoseconds since the epoch, levels and ids their integers.
//!
//! Any change to an image type is a format change: bump [`FORMAT`](Durable::FORMAT).
//!
//! Format history: `snapstate.book/1`, the first; `snapstate.book/2` appended the correction
//! `AdoptFinished` (variant 4 of the correction image) and changed nothing else. So a `/2`
//! decoder reads every `/1` record and checkpoint, and recovery accepts a `/1` directory
//! ([`Durable::EARLIER_FORMATS`]): an upgraded binary recovers the journal the previous one
//! wrote. What it writes after recovery is `/2` (a new segment, `/2` checkpoints), so a `/1`
//! binary refuses it by name instead of failing on the first new record.

use std::time::Duration;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::journal::{CodecError, Durable};
use crate::time::Timestamp;

use super::command::{
    Adoption, BookCommand, Correction, FillReport, FinishedAdoption, Place, StatusReport,
};
use super::position::{AdoptedPosition, PositionAdoption, PositionAdoptionId};
use super::storage::{LevelMapOps, MapOps};
use super::types::{Grid, Level, Order, OrderFields, OrderId, OrderStatus, Revision, Side, Slot};
use super::{Book, BookConfig};

impl Durable for Book {
    const FORMAT: &'static str = "snapstate.book/2";
    /// `/2` only appended a correction variant: every `/1` record and checkpoint decodes as it
    /// did.
    const EARLIER_FORMATS: &'static [&'static str] = &["snapstate.book/1"];

    type Config = BookConfig;

    fn config(&self) -> BookConfig {
        (*self.config).clone()
    }

    fn encode_config(config: &BookConfig, out: &mut Vec<u8>) -> Result<(), CodecError> {
        let image = ConfigImage {
            origin: DecimalImage::of(config.grid.origin()),
            step: DecimalImage::of(config.grid.step()),
            lowest: config.grid.lowest().0,
            highest: config.grid.highest().0,
            tombstone_retention_nanos: u64::try_from(config.tombstone_retention.as_nanos())
                .map_err(|_| CodecError::new("tombstone retention too long to encode"))?,
            max_tombstones: config.max_tombstones as u64,
            max_clock_step_nanos: u64::try_from(config.max_clock_step.as_nanos())
                .map_err(|_| CodecError::new("maximum clock step too long to encode"))?,
        };
        extend(out, &image)
    }

    fn decode_config(bytes: &[u8]) -> Result<BookConfig, CodecError> {
        let image: ConfigImage = postcard::from_bytes(bytes)?;
        let grid = Grid::new(
            image.origin.decimal()?,
            image.step.decimal()?,
            Level(image.lowest),
            Level(image.highest),
        )
        .map_err(|error| CodecError::new(format!("grid: {error}")))?;
        Ok(BookConfig {
            grid,
            tombstone_retention: Duration::from_nanos(image.tombstone_retention_nanos),
            max_tombstones: usize::try_from(image.max_tombstones)
                .map_err(|_| CodecError::new("max_tombstones does not fit this machine"))?,
            max_clock_step: Duration::from_nanos(image.max_clock_step_nanos),
        })
    }

    fn encode_command(command: &BookCommand, out: &mut Vec<u8>) -> Result<(), CodecError> {
        extend(out, &CommandImage::of(command))
    }

    fn decode_command(bytes: &[u8]) -> Result<BookCommand, CodecError> {
        let image: CommandImage = postcard::from_bytes(bytes)?;
        image.command()
    }

    fn encode_state(&self, out: &mut Vec<u8>) -> Result<(), CodecError> {
        let mut finished: Vec<OrderImage> = self.finished.values().map(OrderImage::of).collect();
        // Sorted, so that the same book always encodes to the same bytes.
        finished.sort_by_key(|order| order.id);
        let image = BookImage {
            slots: self
                .slots
                .iter()
                .map(|(_, slot)| SlotImage::of(slot))
                .collect(),
            finished,
            tombstones: self
                .tombstones
                .iter()
                .map(|(at, id)| (at.as_nanos(), id.0))
                .collect(),
            net_position: DecimalImage::of(self.net_position),
            status_counts: self.status_counts.to_vec(),
            latest_activity: self.latest_activity.as_nanos(),
            adopted: (
                DecimalImage::of(self.adopted.total()),
                self.adopted.revision().0,
                self.adopted.last_id().map(|id| id.0),
            ),
        };
        extend(out, &image)
    }

    fn decode_state(bytes: &[u8], config: &BookConfig) -> Result<Book, CodecError> {
        let image: BookImage = postcard::from_bytes(bytes)?;
        let mut book = Book::new(config.clone());
        for slot in image.slots {
            let level = Level(slot.level);
            let price = slot.price.decimal()?;
            if config.grid.price_of(level) != Some(price) {
                return Err(CodecError::new(format!("slot {level} is off the grid")));
            }
            let side = slot.side.side();
            let live = slot.live.map(OrderImage::order).transpose()?;
            let target = book
                .slots
                .get_or_insert_with(level, || Slot::new(level, price, side));
            target.revision = Revision(slot.revision);
            target.set_position(slot.position.decimal()?);
            target.set_purged_position(slot.purged_position.decimal()?);
            if let Some(order) = &live {
                book.live.insert(order.id, level);
            }
            target.live = live;
        }
        for order in image.finished {
            let order = order.order()?;
            book.finished.insert(order.id, order);
        }
        for (at, id) in image.tombstones {
            book.tombstones
                .push_back((Timestamp::from_nanos(at), OrderId(id)));
        }
        book.net_position = image.net_position.decimal()?;
        book.status_counts = image
            .status_counts
            .try_into()
            .map_err(|_| CodecError::new("wrong number of status counts"))?;
        book.latest_activity = Timestamp::from_nanos(image.latest_activity);
        let (total, revision, last_id) = image.adopted;
        book.adopted = AdoptedPosition::from_parts(
            total.decimal()?,
            Revision(revision),
            last_id.map(PositionAdoptionId),
        );
        book.check_invariants().map_err(|violation| {
            CodecError::new(format!("decoded book is invalid: {violation}"))
        })?;
        Ok(book)
    }
}

fn extend<T: Serialize>(out: &mut Vec<u8>, value: &T) -> Result<(), CodecError> {
    let encoded = postcard::to_extend(value, std::mem::take(out))?;
    *out = encoded;
    Ok(())
}

/// A decimal, exactly: `(scale | sign << 7, magnitude)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct DecimalImage(u8, u128);

const NEGATIVE: u8 = 1 << 7;

impl DecimalImage {
    fn of(value: Decimal) -> Self {
        // The scale is at most 28, so it fits in the low bits.
        let scale = u8::try_from(value.scale()).unwrap_or(u8::MAX) & !NEGATIVE;
        let sign = if value.is_sign_negative() {
            NEGATIVE
        } else {
            0
        };
        Self(scale | sign, value.mantissa().unsigned_abs())
    }

    fn decimal(self) -> Result<Decimal, CodecError> {
        let scale = u32::from(self.0 & !NEGATIVE);
        let magnitude = i128::try_from(self.1)
            .ok()
            .filter(|magnitude| *magnitude < 1 << 96)
            .ok_or_else(|| CodecError::new("decimal mantissa out of range"))?;
        let mut value = Decimal::try_from_i128_with_scale(magnitude, scale)
            .map_err(|error| CodecError::new(format!("decimal: {error}")))?;
        value.set_sign_negative(self.0 & NEGATIVE != 0);
        Ok(value)
    }
}

fn optional_decimal(value: Option<DecimalImage>) -> Result<Option<Decimal>, CodecError> {
    value.map(DecimalImage::decimal).transpose()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
enum SideImage {
    Buy,
    Sell,
}

impl SideImage {
    fn of(side: Side) -> Self {
        match side {
            Side::Buy => Self::Buy,
            Side::Sell => Self::Sell,
        }
    }

    fn side(self) -> Side {
        match self {
            Self::Buy => Side::Buy,
            Self::Sell => Side::Sell,
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct ConfigImage {
    origin: DecimalImage,
    step: DecimalImage,
    lowest: i32,
    highest: i32,
    tombstone_retention_nanos: u64,
    max_tombstones: u64,
    max_clock_step_nanos: u64,
}

#[derive(Debug, Serialize, Deserialize)]
enum CommandImage {
    Place(PlaceImage),
    Acknowledge(StatusImage),
    Fill(FillImage),
    Cancel(StatusImage),
    Reject(StatusImage),
    Expire(StatusImage),
    Correct(CorrectionImage),
    AdoptPosition(PositionAdoptionImage),
}

#[derive(Debug, Serialize, Deserialize)]
struct PositionAdoptionImage {
    id: u64,
    quantity: DecimalImage,
    expected: u64,
    at: u64,
}

#[derive(Debug, Serialize, Deserialize)]
struct PlaceImage {
    order_id: u64,
    level: i32,
    side: SideImage,
    price: DecimalImage,
    quantity: DecimalImage,
    at: u64,
}

#[derive(Debug, Serialize, Deserialize)]
struct StatusImage {
    order_id: u64,
    venue_seq: Option<u64>,
    at: u64,
}

#[derive(Debug, Serialize, Deserialize)]
struct FillImage {
    order_id: u64,
    cumulative_filled: DecimalImage,
    fill_price: Option<DecimalImage>,
    trade_id: Option<u64>,
    venue_seq: Option<u64>,
    at: u64,
}

#[derive(Debug, Serialize, Deserialize)]
enum CorrectionImage {
    MissedFill {
        order_id: u64,
        expected: u64,
        cumulative_filled: DecimalImage,
        at: u64,
    },
    MissedAcknowledge {
        order_id: u64,
        expected: u64,
        at: u64,
    },
    MarkLost {
        order_id: u64,
        expected: u64,
        at: u64,
    },
    Adopt(AdoptionImage),
    /// Appended in `snapstate.book/2`.
    AdoptFinished(FinishedAdoptionImage),
}

#[derive(Debug, Serialize, Deserialize)]
struct FinishedAdoptionImage {
    order_id: u64,
    level: i32,
    side: SideImage,
    price: DecimalImage,
    quantity: DecimalImage,
    cumulative_filled: DecimalImage,
    /// Index into [`OrderStatus::ALL`].
    status: u8,
    expected: u64,
    at: u64,
}

#[derive(Debug, Serialize, Deserialize)]
struct AdoptionImage {
    order_id: u64,
    level: i32,
    side: SideImage,
    price: DecimalImage,
    quantity: DecimalImage,
    cumulative_filled: DecimalImage,
    expected: u64,
    at: u64,
}

impl StatusImage {
    fn of(report: &StatusReport) -> Self {
        Self {
            order_id: report.order_id.0,
            venue_seq: report.venue_seq,
            at: report.at.as_nanos(),
        }
    }

    fn report(&self) -> StatusReport {
        StatusReport {
            order_id: OrderId(self.order_id),
            venue_seq: self.venue_seq,
            at: Timestamp::from_nanos(self.at),
        }
    }
}

impl CommandImage {
    fn of(command: &BookCommand) -> Self {
        match command {
            BookCommand::Place(place) => Self::Place(PlaceImage {
                order_id: place.order_id.0,
                level: place.level.0,
                side: SideImage::of(place.side),
                price: DecimalImage::of(place.price),
                quantity: DecimalImage::of(place.quantity),
                at: place.at.as_nanos(),
            }),
            BookCommand::Acknowledge(report) => Self::Acknowledge(StatusImage::of(report)),
            BookCommand::Fill(fill) => Self::Fill(FillImage {
                order_id: fill.order_id.0,
                cumulative_filled: DecimalImage::of(fill.cumulative_filled),
                fill_price: fill.fill_price.map(DecimalImage::of),
                trade_id: fill.trade_id,
                venue_seq: fill.venue_seq,
                at: fill.at.as_nanos(),
            }),
            BookCommand::Cancel(report) => Self::Cancel(StatusImage::of(report)),
            BookCommand::Reject(report) => Self::Reject(StatusImage::of(report)),
            BookCommand::Expire(report) => Self::Expire(StatusImage::of(report)),
            BookCommand::Correct(correction) => Self::Correct(CorrectionImage::of(correction)),
            BookCommand::AdoptPosition(adoption) => Self::AdoptPosition(PositionAdoptionImage {
                id: adoption.id.0,
                quantity: DecimalImage::of(adoption.quantity),
                expected: adoption.expected.0,
                at: adoption.at.as_nanos(),
            }),
        }
    }

    fn command(&self) -> Result<BookCommand, CodecError> {
        Ok(match self {
            Self::Place(place) => BookCommand::Place(Place {
                order_id: OrderId(place.order_id),
                level: Level(place.level),
                side: place.side.side(),
                price: place.price.decimal()?,
                quantity: place.quantity.decimal()?,
                at: Timestamp::from_nanos(place.at),
            }),
            Self::Acknowledge(report) => BookCommand::Acknowledge(report.report()),
            Self::Fill(fill) => BookCommand::Fill(FillReport {
                order_id: OrderId(fill.order_id),
                cumulative_filled: fill.cumulative_filled.decimal()?,
                fill_price: optional_decimal(fill.fill_price)?,
                trade_id: fill.trade_id,
                venue_seq: fill.venue_seq,
                at: Timestamp::from_nanos(fill.at),
            }),
            Self::Cancel(report) => BookCommand::Cancel(report.report()),
            Self::Reject(report) => BookCommand::Reject(report.report()),
            Self::Expire(report) => BookCommand::Expire(report.report()),
            Self::Correct(correction) => BookCommand::Correct(correction.correction()?),
            Self::AdoptPosition(adoption) => BookCommand::AdoptPosition(PositionAdoption {
                id: PositionAdoptionId(adoption.id),
                quantity: adoption.quantity.decimal()?,
                expected: Revision(adoption.expected),
                at: Timestamp::from_nanos(adoption.at),
            }),
        })
    }
}

/// A status as its index into [`OrderStatus::ALL`].
fn status_index(status: OrderStatus) -> u8 {
    u8::try_from(status.index()).unwrap_or(u8::MAX)
}

/// The status at `index` in [`OrderStatus::ALL`].
fn status_of(index: u8) -> Result<OrderStatus, CodecError> {
    OrderStatus::ALL
        .get(usize::from(index))
        .copied()
        .ok_or_else(|| CodecError::new("unknown order status"))
}

impl CorrectionImage {
    fn of(correction: &Correction) -> Self {
        match correction {
            Correction::MissedFill {
                order_id,
                expected,
                cumulative_filled,
                at,
            } => Self::MissedFill {
                order_id: order_id.0,
                expected: expected.0,
                cumulative_filled: DecimalImage::of(*cumulative_filled),
                at: at.as_nanos(),
            },
            Correction::MissedAcknowledge {
                order_id,
                expected,
                at,
            } => Self::MissedAcknowledge {
                order_id: order_id.0,
                expected: expected.0,
                at: at.as_nanos(),
            },
            Correction::MarkLost {
                order_id,
                expected,
                at,
            } => Self::MarkLost {
                order_id: order_id.0,
                expected: expected.0,
                at: at.as_nanos(),
            },
            Correction::Adopt(adoption) => Self::Adopt(AdoptionImage {
                order_id: adoption.order_id.0,
                level: adoption.level.0,
                side: SideImage::of(adoption.side),
                price: DecimalImage::of(adoption.price),
                quantity: DecimalImage::of(adoption.quantity),
                cumulative_filled: DecimalImage::of(adoption.cumulative_filled),
                expected: adoption.expected.0,
                at: adoption.at.as_nanos(),
            }),
            Correction::AdoptFinished(adoption) => Self::AdoptFinished(FinishedAdoptionImage {
                order_id: adoption.order_id.0,
                level: adoption.level.0,
                side: SideImage::of(adoption.side),
                price: DecimalImage::of(adoption.price),
                quantity: DecimalImage::of(adoption.quantity),
                cumulative_filled: DecimalImage::of(adoption.cumulative_filled),
                status: status_index(adoption.status),
                expected: adoption.expected.0,
                at: adoption.at.as_nanos(),
            }),
        }
    }

    fn correction(&self) -> Result<Correction, CodecError> {
        Ok(match self {
            Self::MissedFill {
                order_id,
                expected,
                cumulative_filled,
                at,
            } => Correction::MissedFill {
                order_id: OrderId(*order_id),
                expected: Revision(*expected),
                cumulative_filled: cumulative_filled.decimal()?,
                at: Timestamp::from_nanos(*at),
            },
            Self::MissedAcknowledge {
                order_id,
                expected,
                at,
            } => Correction::MissedAcknowledge {
                order_id: OrderId(*order_id),
                expected: Revision(*expected),
                at: Timestamp::from_nanos(*at),
            },
            Self::MarkLost {
                order_id,
                expected,
                at,
            } => Correction::MarkLost {
                order_id: OrderId(*order_id),
                expected: Revision(*expected),
                at: Timestamp::from_nanos(*at),
            },
            Self::Adopt(adoption) => Correction::Adopt(Adoption {
                order_id: OrderId(adoption.order_id),
                level: Level(adoption.level),
                side: adoption.side.side(),
                price: adoption.price.decimal()?,
                quantity: adoption.quantity.decimal()?,
                cumulative_filled: adoption.cumulative_filled.decimal()?,
                expected: Revision(adoption.expected),
                at: Timestamp::from_nanos(adoption.at),
            }),
            Self::AdoptFinished(adoption) => Correction::AdoptFinished(FinishedAdoption {
                order_id: OrderId(adoption.order_id),
                level: Level(adoption.level),
                side: adoption.side.side(),
                price: adoption.price.decimal()?,
                quantity: adoption.quantity.decimal()?,
                cumulative_filled: adoption.cumulative_filled.decimal()?,
                status: status_of(adoption.status)?,
                expected: Revision(adoption.expected),
                at: Timestamp::from_nanos(adoption.at),
            }),
        })
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct BookImage {
    /// In level order.
    slots: Vec<SlotImage>,
    /// In id order.
    finished: Vec<OrderImage>,
    /// In the order they finished: `(at in nanoseconds, order id)`.
    tombstones: Vec<(u64, u64)>,
    net_position: DecimalImage,
    status_counts: Vec<u64>,
    latest_activity: u64,
    /// The adopted position: total, revision, last adoption id.
    adopted: (DecimalImage, u64, Option<u64>),
}

#[derive(Debug, Serialize, Deserialize)]
struct SlotImage {
    level: i32,
    side: SideImage,
    price: DecimalImage,
    position: DecimalImage,
    purged_position: DecimalImage,
    revision: u64,
    live: Option<OrderImage>,
}

impl SlotImage {
    fn of(slot: &Slot) -> Self {
        Self {
            level: slot.level.0,
            side: SideImage::of(slot.side),
            price: DecimalImage::of(slot.price()),
            position: DecimalImage::of(slot.position()),
            purged_position: DecimalImage::of(slot.purged_position()),
            revision: slot.revision.0,
            live: slot.live.as_ref().map(OrderImage::of),
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct OrderImage {
    id: u64,
    level: i32,
    side: SideImage,
    price: DecimalImage,
    quantity: DecimalImage,
    filled: DecimalImage,
    /// Index into [`OrderStatus::ALL`].
    status: u8,
    revision: u64,
    venue_seq: Option<u64>,
    placed_at: u64,
    last_activity: u64,
    finished_at: Option<u64>,
    last_fill_price: Option<DecimalImage>,
    last_trade_id: Option<u64>,
    reconciled_fill: DecimalImage,
    adopted: bool,
}

impl OrderImage {
    fn of(order: &Order) -> Self {
        let fields = OrderFields::from(order.clone());
        Self {
            id: fields.id.0,
            level: fields.level.0,
            side: SideImage::of(fields.side),
            price: DecimalImage::of(fields.price),
            quantity: DecimalImage::of(fields.quantity),
            filled: DecimalImage::of(fields.filled),
            status: status_index(fields.status),
            revision: fields.revision.0,
            venue_seq: fields.venue_seq,
            placed_at: fields.placed_at.as_nanos(),
            last_activity: fields.last_activity.as_nanos(),
            finished_at: fields.finished_at.map(Timestamp::as_nanos),
            last_fill_price: fields.last_fill_price.map(DecimalImage::of),
            last_trade_id: fields.last_trade_id,
            reconciled_fill: DecimalImage::of(fields.reconciled_fill),
            adopted: fields.adopted,
        }
    }

    fn order(self) -> Result<Order, CodecError> {
        let status = status_of(self.status)?;
        Ok(Order::from(OrderFields {
            id: OrderId(self.id),
            level: Level(self.level),
            side: self.side.side(),
            price: self.price.decimal()?,
            quantity: self.quantity.decimal()?,
            filled: self.filled.decimal()?,
            status,
            revision: Revision(self.revision),
            venue_seq: self.venue_seq,
            placed_at: Timestamp::from_nanos(self.placed_at),
            last_activity: Timestamp::from_nanos(self.last_activity),
            finished_at: self.finished_at.map(Timestamp::from_nanos),
            last_fill_price: optional_decimal(self.last_fill_price)?,
            last_trade_id: self.last_trade_id,
            reconciled_fill: self.reconciled_fill.decimal()?,
            adopted: self.adopted,
        }))
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::super::strategies;
    use super::*;

    fn round_trip_command(command: &BookCommand) -> BookCommand {
        let mut bytes = Vec::new();
        Book::encode_command(command, &mut bytes).expect("encode");
        Book::decode_command(&bytes).expect("decode")
    }

    #[test]
    fn decimals_keep_their_scale_and_the_sign_of_zero() {
        for value in [
            Decimal::new(100, 2),
            Decimal::new(-5, 0),
            Decimal::MAX,
            Decimal::MIN,
            Decimal::new(-0, 3),
        ] {
            let back = DecimalImage::of(value).decimal().expect("decimal");
            assert_eq!(back.to_string(), value.to_string());
        }
        let mut negative_zero = Decimal::ZERO;
        negative_zero.set_sign_negative(true);
        let back = DecimalImage::of(negative_zero).decimal().expect("decimal");
        assert!(back.is_sign_negative());
        assert!(DecimalImage(40, 1).decimal().is_err(), "scale beyond 28");
        assert!(
            DecimalImage(0, 1 << 100).decimal().is_err(),
            "mantissa beyond 96 bits"
        );
    }

    #[test]
    fn the_configuration_round_trips() {
        let config = strategies::config();
        let mut bytes = Vec::new();
        Book::encode_config(&config, &mut bytes).expect("encode");
        assert_eq!(Book::decode_config(&bytes).expect("decode"), config);
    }

    #[test]
    fn garbage_is_a_codec_error_not_a_panic() {
        for bytes in [
            &[][..],
            &[0xff; 3][..],
            &[6, 0xff, 0xff, 0xff, 0xff, 0xff][..],
        ] {
            assert!(Book::decode_command(bytes).is_err());
            assert!(Book::decode_state(bytes, &strategies::config()).is_err());
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(crate::test_cases::cases(256, 64)))]

        #[test]
        fn prop_every_command_decodes_to_itself(command in strategies::command()) {
            prop_assert_eq!(round_trip_command(&command), command);
        }

        #[test]
        fn prop_a_state_image_decodes_to_the_same_book(
            commands in prop::collection::vec(strategies::command(), 0..200)
        ) {
            let (book, _) = strategies::replay::<super::super::Persistent>(&commands);
            let mut bytes = Vec::new();
            book.encode_state(&mut bytes).expect("encode");
            let back = Book::decode_state(&bytes, &strategies::config()).expect("decode");
            prop_assert_eq!(&back, &book);
            let mut again = Vec::new();
            back.encode_state(&mut again).expect("encode again");
            prop_assert_eq!(again, bytes, "the image is canonical");
        }
    }
}
