//! What one line of a recorded stream says, whatever its format, and why a line is invalid.

use std::fmt;

use rust_decimal::Decimal;
use snapstate::book::{BookCommand, Grid, GridError, OrderId, Rejection};
use snapstate::venue::VenueReport;

use super::binance_capture::BinanceSource;
use super::native::{self, RECORD_TYPES, Record};
use super::{BinanceOptions, Format};
use snapstate::binance::BinanceError;

/// What a valid line carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// Configuration only (the grid); nothing to apply.
    Configured,
    /// Commands for the book, applied together or not at all.
    Commands(Vec<BookCommand>),
    /// What the venue reported: reconcile against it.
    VenueSnapshot(VenueReport),
    /// Nothing for the book (a blank line, another symbol's event), with why.
    Ignored(&'static str),
}

/// Why a line is invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LineError {
    /// Longer than the limit; not read.
    #[error("line is {length} bytes long, over the limit of {limit} bytes (--max-line-bytes)")]
    Oversized {
        /// Its length.
        length: usize,
        /// The limit.
        limit: usize,
    },
    /// Not UTF-8, so not JSON.
    #[error("not valid UTF-8")]
    NotUtf8,
    /// Not a JSON object with a `type`.
    #[error("not valid JSON: {0}")]
    Json(String),
    /// A `type` the format does not have.
    #[error("unknown record type {0:?}; expected one of {types}", types = RECORD_TYPES.join(", "))]
    UnknownType(String),
    /// A record of a known type with missing or mistyped fields.
    #[error("invalid {record} record: {reason}")]
    Malformed {
        /// The record's type.
        record: String,
        /// What is wrong.
        reason: String,
    },
    /// A command or snapshot before the grid record.
    #[error("no grid yet: a native stream starts with a grid record")]
    NoGrid,
    /// A second grid record.
    #[error("the grid is already set: a stream has one grid record")]
    SecondGrid,
    /// A grid record whose grid cannot exist.
    #[error("invalid grid: {0}")]
    Grid(#[from] GridError),
    /// A command the book refuses: it names something impossible (an unknown order, a fill
    /// above the quantity, a price off its slot, …).
    #[error("the book rejects this {command} of order {order}: {reason}")]
    Rejected {
        /// The command's type.
        command: &'static str,
        /// The order, with its client id where the format has one.
        order: String,
        /// The book's reason.
        reason: Rejection,
    },
    /// A venue snapshot that no venue could report.
    #[error("impossible venue snapshot: {0}")]
    ImpossibleSnapshot(String),
    /// A Binance event or answer that maps onto nothing.
    #[error(transparent)]
    Binance(#[from] BinanceError),
}

impl LineError {
    /// A JSON error, without serde_json's "at line 1" (every record is one line).
    pub fn json(error: &serde_json::Error) -> Self {
        Self::Json(without_position(error))
    }

    /// A record of type `record` that did not deserialize.
    pub fn malformed(record: &str, error: &serde_json::Error) -> Self {
        Self::Malformed {
            record: record.to_owned(),
            reason: without_position(error),
        }
    }

    /// A record of type `record` that did not deserialize, naming the field the error is in
    /// (`quantity`, `orders[0].filled`) where it is in one.
    pub fn malformed_at(
        record: &str,
        error: &serde_path_to_error::Error<serde_json::Error>,
    ) -> Self {
        let reason = without_position(error.inner());
        let path = error.path().to_string();
        Self::Malformed {
            record: record.to_owned(),
            reason: if path == "." {
                reason
            } else {
                format!("field `{path}`: {reason}")
            },
        }
    }
}

/// Deserializes one line as a record of type `record`, naming the field of an error.
///
/// # Errors
///
/// [`LineError::Malformed`], with the field's path and the column within the line; trailing
/// characters after the value are an error too.
pub fn from_line<T: serde::de::DeserializeOwned>(record: &str, line: &str) -> Result<T, LineError> {
    let mut reading = serde_json::Deserializer::from_str(line);
    let value = serde_path_to_error::deserialize(&mut reading)
        .map_err(|error| LineError::malformed_at(record, &error))?;
    reading
        .end()
        .map_err(|error| LineError::malformed(record, &error))?;
    Ok(value)
}

/// Refuses a line that is not a JSON object before serde sees it: serde would read an array
/// as a struct's fields in order, and say something confusing.
///
/// # Errors
///
/// [`LineError::Json`] when the line does not start with `{`.
pub fn expect_object(line: &str) -> Result<(), LineError> {
    if line.trim_start().starts_with('{') {
        Ok(())
    } else {
        Err(LineError::Json(
            "expected a JSON object, one per line".to_owned(),
        ))
    }
}

/// serde_json's message with the column within the line in place of its "at line 1 column
/// C" (every record is one line, and the replay names the line itself).
fn without_position(error: &serde_json::Error) -> String {
    let text = error.to_string();
    let suffix = format!(" at line {} column {}", error.line(), error.column());
    match text.strip_suffix(&suffix) {
        Some(message) => format!("{message} (column {})", error.column()),
        None => text,
    }
}

/// An invalid line: its number and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {error}")]
pub struct InvalidLine {
    /// The line's number, from 1.
    pub line: usize,
    /// Why it is invalid.
    pub error: LineError,
}

/// Refuses a venue snapshot with an order no venue could have: a non-positive price or
/// quantity, or a filled quantity below zero or above the quantity.
///
/// # Errors
///
/// [`LineError::ImpossibleSnapshot`] naming the first such order.
pub fn check_venue_report(report: &VenueReport) -> Result<(), LineError> {
    for order in &report.orders {
        let problem = if order.quantity <= Decimal::ZERO {
            Some(format!("quantity {} is not positive", order.quantity))
        } else if order.price <= Decimal::ZERO {
            Some(format!("price {} is not positive", order.price))
        } else if order.filled < Decimal::ZERO {
            Some(format!("filled {} is negative", order.filled))
        } else if order.filled > order.quantity {
            Some(format!(
                "filled {} exceeds quantity {}",
                order.filled, order.quantity
            ))
        } else {
            None
        };
        if let Some(problem) = problem {
            return Err(LineError::ImpossibleSnapshot(format!(
                "venue order {}: {problem}",
                order.order_id
            )));
        }
    }
    Ok(())
}

/// Reads lines of one format into entries, keeping what the format needs between lines.
#[derive(Debug)]
pub enum Source {
    /// The native format: the grid, once its record has been read.
    Native(Option<Grid>),
    /// Binance captures: the adapter, once the first price has set the grid.
    Binance(Box<BinanceSource>),
}

impl Source {
    /// A source for `format`.
    pub fn new(format: Format, binance: &BinanceOptions) -> Self {
        match format {
            Format::Native => Self::Native(None),
            Format::Binance => Self::Binance(Box::new(BinanceSource::new(binance.clone()))),
        }
    }

    /// The grid, once known.
    pub fn grid(&self) -> Option<&Grid> {
        match self {
            Self::Native(grid) => grid.as_ref(),
            Self::Binance(source) => source.grid(),
        }
    }

    /// What `line` says.
    ///
    /// # Errors
    ///
    /// A [`LineError`] when the line is invalid; the source is then unchanged.
    pub fn entry(&mut self, line: &str) -> Result<Entry, LineError> {
        if line.trim().is_empty() {
            return Ok(Entry::Ignored("blank line"));
        }
        match self {
            Self::Native(grid) => native_entry(grid, line),
            Self::Binance(source) => source.entry(line),
        }
    }

    /// Commits what the last line's commands change in the source (a Binance event's client
    /// id and placement), once the book has accepted them; a line the book refuses is never
    /// committed, and changes nothing.
    pub fn commit(&mut self) {
        match self {
            Self::Native(_) => {}
            Self::Binance(source) => source.commit(),
        }
    }

    /// How to show an order id: with its client id where the format has one.
    pub fn display(&self, order_id: OrderId) -> String {
        match self.client_order_id(order_id) {
            Some(name) => format!("{order_id} ({name})"),
            None => order_id.to_string(),
        }
    }

    /// The client order id behind a book id, where the format has one.
    pub fn client_order_id(&self, order_id: OrderId) -> Option<String> {
        match self {
            Self::Native(_) => None,
            Self::Binance(source) => source.name(order_id).map(str::to_owned),
        }
    }
}

fn native_entry(grid: &mut Option<Grid>, line: &str) -> Result<Entry, LineError> {
    match native::parse(line)? {
        Record::Grid(_) if grid.is_some() => Err(LineError::SecondGrid),
        Record::Grid(new) => {
            *grid = Some(new);
            Ok(Entry::Configured)
        }
        _ if grid.is_none() => Err(LineError::NoGrid),
        Record::Command(command) => Ok(Entry::Commands(vec![command])),
        Record::VenueSnapshot(report) => {
            check_venue_report(&report)?;
            Ok(Entry::VenueSnapshot(report))
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::Native => "native",
            Format::Binance => "binance",
        })
    }
}
