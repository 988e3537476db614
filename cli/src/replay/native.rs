//! The native recorded-stream format: one JSON object per line, tagged by `"type"`.
//!
//! `docs/formats.md` specifies it. The book's commands use the library's own serde layout
//! (`place`, `acknowledge`, `fill`, `cancel`, `reject`, `expire`, `correct`), a venue snapshot
//! is the library's [`VenueReport`] tagged `venue_snapshot`, and the stream starts with a
//! `grid` record.

use serde::Deserialize;
use snapstate::book::{BookCommand, Grid, Level, Price, StatusReport};
use snapstate::venue::VenueReport;

use super::source::{LineError, expect_object, from_line};

/// Every record type, in the order the documentation lists them.
pub const RECORD_TYPES: [&str; 9] = [
    "grid",
    "place",
    "acknowledge",
    "fill",
    "cancel",
    "reject",
    "expire",
    "correct",
    "venue_snapshot",
];

/// One parsed line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    /// The price grid; the first record of a stream.
    Grid(Grid),
    /// A command for the book.
    Command(BookCommand),
    /// What the venue reported at a moment.
    VenueSnapshot(VenueReport),
}

#[derive(Deserialize)]
struct Tag {
    #[serde(rename = "type")]
    kind: String,
}

/// The grid record's fields; the grid itself is built through [`Grid::new`], which checks
/// them (its own serde layout would not).
#[derive(Deserialize)]
struct GridRecord {
    #[serde(deserialize_with = "snapstate::decimal::serde::deserialize")]
    origin: Price,
    #[serde(deserialize_with = "snapstate::decimal::serde::deserialize")]
    step: Price,
    lowest: Level,
    highest: Level,
}

/// Parses one line of the native format.
///
/// # Errors
///
/// A [`LineError`] saying why the line is not a valid record.
pub fn parse(line: &str) -> Result<Record, LineError> {
    expect_object(line)?;
    let tag: Tag = serde_json::from_str(line).map_err(|error| LineError::json(&error))?;
    let kind = tag.kind.as_str();
    match kind {
        "grid" => {
            let grid: GridRecord = from_line(kind, line)?;
            Ok(Record::Grid(Grid::new(
                grid.origin,
                grid.step,
                grid.lowest,
                grid.highest,
            )?))
        }
        "venue_snapshot" => from_line(kind, line).map(Record::VenueSnapshot),
        // Each command's own struct, rather than the tagged `BookCommand`, so that an error
        // names its field: serde buffers a tagged enum's content and loses the field's name.
        "place" => from_line(kind, line).map(|place| Record::Command(BookCommand::Place(place))),
        "fill" => from_line(kind, line).map(|fill| Record::Command(BookCommand::Fill(fill))),
        "acknowledge" => status(kind, line, BookCommand::Acknowledge),
        "cancel" => status(kind, line, BookCommand::Cancel),
        "reject" => status(kind, line, BookCommand::Reject),
        "expire" => status(kind, line, BookCommand::Expire),
        // A correction is tagged again by its kind: its errors name no field.
        "correct" => from_line(kind, line).map(Record::Command),
        other => Err(LineError::UnknownType(other.to_owned())),
    }
}

fn status(
    kind: &str,
    line: &str,
    command: fn(StatusReport) -> BookCommand,
) -> Result<Record, LineError> {
    from_line(kind, line).map(|report| Record::Command(command(report)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal::Decimal;
    use snapstate::book::{OrderId, Side};
    use snapstate::time::Timestamp;

    #[test]
    fn each_record_type_parses() {
        let grid =
            parse(r#"{"type":"grid","origin":"100","step":"0.5","lowest":-10,"highest":10}"#)
                .expect("grid");
        assert!(matches!(grid, Record::Grid(grid) if grid.len() == 21));
        let place = parse(
            r#"{"type":"place","order_id":1,"level":-2,"side":"buy","price":"99","quantity":"3","at":5}"#,
        )
        .expect("place");
        assert!(matches!(place, Record::Command(BookCommand::Place(place))
            if place.order_id == OrderId(1) && place.side == Side::Buy
                && place.quantity == Decimal::from(3) && place.at == Timestamp::from_nanos(5)));
        let fill = parse(r#"{"type":"fill","order_id":1,"cumulative_filled":2,"at":6}"#)
            .expect("a fill with only the required fields");
        assert!(matches!(fill, Record::Command(BookCommand::Fill(_))));
        let snapshot = parse(
            r#"{"type":"venue_snapshot","as_of":9,"orders":[{"order_id":1,"updated_at":6,"filled":"2","status":"partially_filled","side":"buy","price":"99","quantity":"3"}],"net_position":"2"}"#,
        )
        .expect("snapshot");
        assert!(matches!(snapshot, Record::VenueSnapshot(report)
            if report.orders.len() == 1 && report.net_position == Some(Decimal::from(2))));
        let without_position = parse(r#"{"type":"venue_snapshot","as_of":9,"orders":[]}"#)
            .expect("a snapshot without a net position");
        assert!(matches!(without_position, Record::VenueSnapshot(report)
            if report.net_position.is_none()));
        let adopt_finished = parse(
            r#"{"type":"correct","correction":"adopt_finished","order_id":4,"level":-2,"side":"buy","price":"99","quantity":"3","cumulative_filled":"3","status":"filled","expected":0,"at":7}"#,
        )
        .expect("a finished-order adoption");
        assert!(
            matches!(adopt_finished, Record::Command(BookCommand::Correct(
            snapstate::book::Correction::AdoptFinished(adoption)))
            if adoption.order_id == OrderId(4)
                && adoption.status == snapstate::book::OrderStatus::Filled)
        );
    }

    #[test]
    fn bad_lines_say_what_is_wrong() {
        let cases = [
            (
                "{not json",
                "not valid JSON: key must be a string (column 2)",
            ),
            (
                "[1,2]",
                "not valid JSON: expected a JSON object, one per line",
            ),
            (
                r#"{"order_id":1}"#,
                "not valid JSON: missing field `type` (column 14)",
            ),
            (
                r#"{"type":"teleport"}"#,
                "unknown record type \"teleport\"; expected one of grid, place, acknowledge, \
                 fill, cancel, reject, expire, correct, venue_snapshot",
            ),
            (
                r#"{"type":"fill","order_id":1,"at":6}"#,
                "invalid fill record: missing field `cumulative_filled` (column 35)",
            ),
            (
                r#"{"type":"place","order_id":-1,"level":0,"side":"buy","price":"1","quantity":"1","at":1}"#,
                "invalid place record: field `order_id`: invalid value: integer `-1`, expected u64 \
                 (column 29)",
            ),
            (
                r#"{"type":"grid","origin":"100","step":"0","lowest":-1,"highest":1}"#,
                "invalid grid: grid step must be positive, got 0",
            ),
        ];
        for (line, expected) in cases {
            let error = parse(line).expect_err(line);
            assert_eq!(error.to_string(), expected, "{line}");
        }
    }
}
