//! Binance spot: user-data-stream `executionReport` events and `GET /api/v3/openOrders` answers,
//! mapped onto the book's commands and the venue's report (feature `binance`).
//!
//! A user with a live Binance feed hands each event to a [`BinanceAdapter`] and submits the
//! [`BookCommand`]s it returns to the engine; each open-orders answer becomes a
//! [`VenueReport`] for the reconciler. Everything here is pure: values in, values out, no I/O,
//! no clock.
//!
//! # Events
//!
//! Fields read (Binance's documentation of the user data stream): `e` event type, `E` event
//! time (ms), `s` symbol, `c` client order id, `C` original client order id (set on cancels),
//! `S` side, `o` order type, `q` quantity, `p` price, `x` execution type, `X` order status,
//! `z` cumulative filled quantity, `L` last executed price, `T` transaction time (ms), `t`
//! trade id, `O` order creation time (ms). Both the stream's plain form and the WebSocket
//! API's wrapped form `{"subscriptionId":0,"event":{…}}` are read ([`parse_event`]).
//!
//! | `x` (execution type) | `X` (order status) | book commands |
//! |---|---|---|
//! | `NEW` | `NEW` | `place` (from `c`, `S`, `p`, `q`, at `O`) and `acknowledge` |
//! | `NEW` | `PENDING_NEW` | `place` only (an order list's order not yet working) |
//! | `TRADE` | `PARTIALLY_FILLED`, `FILLED` | `fill` with cumulative `z`, price `L`, trade id `t` |
//! | `CANCELED` | `CANCELED` | `fill` to `z` if above zero, then `cancel` |
//! | `EXPIRED` | `EXPIRED`, `EXPIRED_IN_MATCH` | `fill` to `z` if above zero, then `expire` |
//! | `TRADE_PREVENTION` | `EXPIRED`, `EXPIRED_IN_MATCH` | `fill` to `z` if above zero, then `expire` |
//! | `REJECTED` | `REJECTED` | `reject` |
//! | anything else | | refused ([`BinanceError::UnsupportedEvent`]) |
//!
//! Refused on purpose: `REPLACED` and `AMENDMENT` (the book does not amend orders in place),
//! and a `TRADE_PREVENTION` that leaves the order working (self-trade prevention's `DECREMENT`
//! mode lowers its quantity, which the book cannot represent either).
//!
//! # Invariants
//!
//! 1. **Every event's cumulative fill reaches the book.** A final event (`CANCELED`,
//!    `EXPIRED`, …) carries the order's cumulative filled quantity `z` like a trade does; when
//!    the trade event before it was lost, the fill it carries is emitted before the final
//!    status. The book merges cumulative fills by maximum, so a fill it already has changes
//!    nothing. When `z` reaches the quantity the fill finishes the order and no status
//!    command follows.
//! 2. **A refused input changes nothing.** Every field is validated before the adapter interns
//!    an id or fixes the symbol; an open-orders answer is validated whole before any of its
//!    ids is interned.
//! 3. **Decimals are exact.** Prices and quantities are read by
//!    [`parse_decimal`](crate::decimal::parse_decimal): a value that would be rounded is
//!    refused, naming its field.
//!
//! The venue sequence of every report is `T`, the transaction time: Binance has no per-order
//! update counter, and `T` orders an order's events. An order first seen in a later event (a
//! capture that started while it was open) is placed from that event's own fields first.
//! Client order ids (strings) are mapped onto the book's `u64` ids in order of first
//! appearance; [`BinanceAdapter::name`] maps them back.
//!
//! # Example
//!
//! ```
//! use snapstate::binance::{BinanceAdapter, parse_open_orders};
//! use snapstate::book::{BookCommand, Grid};
//! use snapstate::time::Timestamp;
//! use rust_decimal::Decimal;
//!
//! let grid = Grid::centred(Decimal::new(37_000, 0), Decimal::new(1, 2), 1_000)?;
//! let mut adapter = BinanceAdapter::new(grid, Some("BTCUSDT".to_owned()));
//! let new = r#"{"e":"executionReport","E":1700000000100,"s":"BTCUSDT","c":"grid-1","S":"BUY",
//!     "o":"LIMIT","q":"0.03","p":"37000.00","x":"NEW","X":"NEW","z":"0","L":"0",
//!     "T":1700000000099,"t":-1,"O":1700000000099}"#;
//! let commands = adapter.map_line(new)?;
//! assert!(matches!(commands.as_slice(), [BookCommand::Place(_), BookCommand::Acknowledge(_)]));
//!
//! // Cancelled with 0.01 filled, although no trade event arrived: the fill comes first.
//! let cancel = new.replace(r#""x":"NEW","X":"NEW","z":"0""#,
//!     r#""x":"CANCELED","X":"CANCELED","z":"0.01""#);
//! let commands = adapter.map_line(&cancel)?;
//! assert!(matches!(commands.as_slice(), [BookCommand::Fill(_), BookCommand::Cancel(_)]));
//!
//! let answer = r#"[{"symbol":"BTCUSDT","clientOrderId":"web-5","price":"37000.00",
//!     "origQty":"0.02","executedQty":"0","status":"NEW","side":"SELL","updateTime":5}]"#;
//! let report = adapter.venue_report(Timestamp::from_millis(6), &parse_open_orders(answer)?)?;
//! assert_eq!(report.orders.len(), 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::HashMap;

use rust_decimal::Decimal;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::book::{
    BookCommand, FillReport, Grid, Level, OrderId, Place, Price, Quantity, Side, StatusReport,
};
use crate::time::Timestamp;
use crate::venue::{VenueOrder, VenueOrderStatus, VenueReport};

/// The event type of an order update.
pub const EXECUTION_REPORT: &str = "executionReport";

/// Why an event or an answer could not be mapped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BinanceError {
    /// Not JSON, or a field missing, mistyped or out of range (a decimal that would be
    /// rounded included).
    #[error("{}", malformed_message(.field.as_deref(), .reason, *.column))]
    Malformed {
        /// The field, as a path (`p`, `event.z`, `[2].price`), where the error is in one.
        field: Option<String>,
        /// What is wrong.
        reason: String,
        /// The column (from 1) in the text where it was found, when parsed from text.
        column: Option<usize>,
    },
    /// An event of another type (`outboundAccountPosition`, `balanceUpdate`, …): not an error
    /// in a capture; it carries no order update.
    #[error("event type {0:?} carries no order update")]
    NotAnOrderEvent(String),
    /// An order of another symbol than the adapter's.
    #[error("symbol {found:?} is not the replayed symbol {expected:?}")]
    OtherSymbol {
        /// The adapter's symbol.
        expected: String,
        /// The event's symbol.
        found: String,
    },
    /// A pair of execution type and order status that the book cannot represent.
    #[error(
        "execution type {execution_type:?} with order status {order_status:?} is not supported"
    )]
    UnsupportedEvent {
        /// `x`.
        execution_type: String,
        /// `X`.
        order_status: String,
    },
    /// An order type without a limit price on the grid.
    #[error("order type {0:?} is not supported (limit orders only)")]
    UnsupportedOrderType(String),
    /// A side other than `BUY` or `SELL`.
    #[error("side {0:?} is neither BUY nor SELL")]
    InvalidSide(String),
    /// An empty client order id.
    #[error("empty client order id")]
    EmptyClientOrderId,
    /// A price that is not on the grid.
    #[error("price {0} is not on the grid")]
    OffGrid(Price),
    /// An open order's status that no order can have.
    #[error("order status {0:?} is not supported")]
    UnsupportedOrderStatus(String),
    /// An open order no venue could have: a non-positive price or quantity, or a filled
    /// quantity below zero or above the quantity.
    #[error("open order {client_order_id:?}: {reason}")]
    ImpossibleOrder {
        /// Its client order id.
        client_order_id: String,
        /// What is impossible.
        reason: String,
    },
}

fn malformed_message(field: Option<&str>, reason: &str, column: Option<usize>) -> String {
    let mut message = match field {
        Some(field) => format!("invalid field `{field}`: {reason}"),
        None => format!("not valid JSON: {reason}"),
    };
    if let Some(column) = column {
        message.push_str(&format!(" (column {column})"));
    }
    message
}

impl BinanceError {
    /// Whether the input carries nothing for this book (another event type or symbol) rather
    /// than being wrong: a capture skips it.
    pub fn is_ignorable(&self) -> bool {
        matches!(self, Self::NotAnOrderEvent(_) | Self::OtherSymbol { .. })
    }

    /// Whether the text is not JSON or a field is missing, mistyped or out of range.
    pub fn is_malformed(&self) -> bool {
        matches!(self, Self::Malformed { .. })
    }

    /// Whether the input is well formed but describes what the book cannot represent (an
    /// execution type, order type, status, side or price it has no place for).
    pub fn is_unsupported(&self) -> bool {
        matches!(
            self,
            Self::UnsupportedEvent { .. }
                | Self::UnsupportedOrderType(_)
                | Self::UnsupportedOrderStatus(_)
                | Self::InvalidSide(_)
                | Self::OffGrid(_)
        )
    }

    /// The field a malformed input was refused for, as a path (`p`, `event.z`).
    pub fn field(&self) -> Option<&str> {
        match self {
            Self::Malformed { field, .. } => field.as_deref(),
            _ => None,
        }
    }
}

/// Parses `text` as `T`, naming the field and the column (within `text`) of an error.
fn from_text<T: DeserializeOwned>(text: &str) -> Result<T, BinanceError> {
    let malformed = |field: Option<String>, error: &serde_json::Error| BinanceError::Malformed {
        field,
        reason: without_position(error),
        column: text_column(error),
    };
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let path = error.path().to_string();
        malformed((path != ".").then_some(path), error.inner())
    })?;
    // Trailing characters after the value.
    deserializer
        .end()
        .map_err(|error| malformed(None, &error))?;
    Ok(value)
}

/// serde_json's message without its " at line L column C" suffix: the caller reports the
/// column within its own line.
fn without_position(error: &serde_json::Error) -> String {
    let text = error.to_string();
    let suffix = format!(" at line {} column {}", error.line(), error.column());
    text.strip_suffix(&suffix)
        .map_or(text.clone(), str::to_owned)
}

/// The column of `error` within the text when the text is one line (as a capture's lines
/// are); none for an error in a later line of a text that spans several, or without a
/// position.
fn text_column(error: &serde_json::Error) -> Option<usize> {
    (error.line() == 1).then_some(error.column())
}

/// The fields of an `executionReport` that the mapping reads.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ExecutionReport {
    /// `e`: the event type; [`EXECUTION_REPORT`].
    #[serde(rename = "e")]
    pub event_type: String,
    /// `E`: the event time, in milliseconds since the Unix epoch.
    #[serde(rename = "E")]
    pub event_time_ms: u64,
    /// `s`: the symbol.
    #[serde(rename = "s")]
    pub symbol: String,
    /// `c`: the client order id (of the cancel request, on a cancel).
    #[serde(rename = "c")]
    pub client_order_id: String,
    /// `C`: the original client order id, set on a cancel.
    #[serde(rename = "C", default)]
    pub original_client_order_id: Option<String>,
    /// `S`: `BUY` or `SELL`.
    #[serde(rename = "S")]
    pub side: String,
    /// `o`: the order type.
    #[serde(rename = "o")]
    pub order_type: String,
    /// `q`: the order's quantity.
    #[serde(rename = "q", deserialize_with = "crate::decimal::serde::deserialize")]
    pub quantity: Quantity,
    /// `p`: the limit price.
    #[serde(rename = "p", deserialize_with = "crate::decimal::serde::deserialize")]
    pub price: Price,
    /// `x`: the execution type (what happened).
    #[serde(rename = "x")]
    pub execution_type: String,
    /// `X`: the order status after it.
    #[serde(rename = "X")]
    pub order_status: String,
    /// `z`: the cumulative filled quantity.
    #[serde(rename = "z", deserialize_with = "crate::decimal::serde::deserialize")]
    pub cumulative_filled: Quantity,
    /// `L`: the last executed price (zero when nothing executed).
    #[serde(rename = "L", deserialize_with = "crate::decimal::serde::deserialize")]
    pub last_price: Price,
    /// `T`: the transaction time, in milliseconds.
    #[serde(rename = "T")]
    pub transaction_time_ms: u64,
    /// `t`: the trade id (−1 when no trade).
    #[serde(rename = "t")]
    pub trade_id: i64,
    /// `O`: the order's creation time, in milliseconds.
    #[serde(rename = "O")]
    pub created_ms: u64,
}

/// One event of the user data stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserDataEvent {
    /// An order update.
    ExecutionReport(Box<ExecutionReport>),
    /// Any other event, by its type (`outboundAccountPosition`, `balanceUpdate`, …).
    Other(String),
}

#[derive(Deserialize)]
struct Probe {
    #[serde(rename = "e", default)]
    event_type: Option<String>,
    #[serde(default)]
    event: Option<InnerProbe>,
}

#[derive(Deserialize)]
struct InnerProbe {
    #[serde(rename = "e", default)]
    event_type: Option<String>,
}

#[derive(Deserialize)]
struct Wrapped {
    event: ExecutionReport,
}

/// Parses one event of the user data stream, in its plain form or wrapped as the WebSocket
/// API sends it (`{"subscriptionId":…,"event":{…}}`).
///
/// # Errors
///
/// [`BinanceError::Malformed`] for text that is not such an event, naming the field and the
/// column of what is wrong.
pub fn parse_event(text: &str) -> Result<UserDataEvent, BinanceError> {
    let probe: Probe = from_text(text)?;
    let (event_type, wrapped) = match (probe.event_type, probe.event) {
        (Some(event_type), _) => (event_type, false),
        (
            None,
            Some(InnerProbe {
                event_type: Some(event_type),
            }),
        ) => (event_type, true),
        (None, _) => {
            return Err(BinanceError::Malformed {
                field: Some("e".to_owned()),
                reason: "missing: neither an event nor a wrapped event".to_owned(),
                column: None,
            });
        }
    };
    if event_type != EXECUTION_REPORT {
        return Ok(UserDataEvent::Other(event_type));
    }
    let report = if wrapped {
        from_text::<Wrapped>(text)?.event
    } else {
        from_text::<ExecutionReport>(text)?
    };
    Ok(UserDataEvent::ExecutionReport(Box::new(report)))
}

/// The limit price of an order event, to centre a grid on the first one.
///
/// # Errors
///
/// The [`BinanceError`] that mapping `text` would give if it is not an `executionReport`.
pub fn event_price(text: &str) -> Result<Price, BinanceError> {
    match parse_event(text)? {
        UserDataEvent::ExecutionReport(report) => Ok(report.price),
        UserDataEvent::Other(event_type) => Err(BinanceError::NotAnOrderEvent(event_type)),
    }
}

/// One order of a `GET /api/v3/openOrders` answer: the fields the venue's view needs.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OpenOrder {
    /// The symbol.
    pub symbol: String,
    /// The client order id.
    pub client_order_id: String,
    /// The limit price.
    #[serde(deserialize_with = "crate::decimal::serde::deserialize")]
    pub price: Price,
    /// The order's quantity.
    #[serde(deserialize_with = "crate::decimal::serde::deserialize")]
    pub orig_qty: Quantity,
    /// The cumulative filled quantity.
    #[serde(deserialize_with = "crate::decimal::serde::deserialize")]
    pub executed_qty: Quantity,
    /// `NEW`, `PARTIALLY_FILLED`, `PENDING_CANCEL`, or (in answers about any order) a
    /// finished status.
    pub status: String,
    /// `BUY` or `SELL`.
    pub side: String,
    /// When the order last changed, in milliseconds.
    pub update_time: u64,
}

/// Parses an open-orders answer (a JSON array of orders).
///
/// # Errors
///
/// [`BinanceError::Malformed`], naming the order and field (`[2].price`) and the column.
pub fn parse_open_orders(text: &str) -> Result<Vec<OpenOrder>, BinanceError> {
    from_text(text)
}

/// What an order event does to the order, besides carrying its cumulative fill.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Update {
    /// Accepted and working.
    Acknowledge,
    /// Accepted but not yet working (an order list's pending order).
    PlaceOnly,
    /// A trade.
    Fill,
    /// Finished by a cancel.
    Cancel,
    /// Refused.
    Reject,
    /// Finished by expiry (time in force, or self-trade prevention).
    Expire,
}

/// The update an event's execution type and order status describe, or why none.
fn update(report: &ExecutionReport) -> Result<Update, BinanceError> {
    let update = match (report.execution_type.as_str(), report.order_status.as_str()) {
        ("NEW", "NEW") => Update::Acknowledge,
        ("NEW", "PENDING_NEW") => Update::PlaceOnly,
        ("TRADE", "PARTIALLY_FILLED" | "FILLED") => Update::Fill,
        ("CANCELED", "CANCELED") => Update::Cancel,
        ("REJECTED", "REJECTED") => Update::Reject,
        ("EXPIRED" | "TRADE_PREVENTION", "EXPIRED" | "EXPIRED_IN_MATCH") => Update::Expire,
        (execution_type, order_status) => {
            return Err(BinanceError::UnsupportedEvent {
                execution_type: execution_type.to_owned(),
                order_status: order_status.to_owned(),
            });
        }
    };
    Ok(update)
}

/// One event's book commands and what committing them changes in the adapter (see
/// [`BinanceAdapter::prepare`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappedEvent {
    /// The commands, in the order to apply them.
    pub commands: Vec<BookCommand>,
    /// The order's client id.
    pub name: String,
    /// The order's book id (new if the client id is).
    pub order_id: OrderId,
    /// The event's symbol.
    pub symbol: String,
}

/// Maps one symbol's events onto book commands, keeping the client-id mapping.
#[derive(Debug, Clone)]
pub struct BinanceAdapter {
    grid: Grid,
    symbol: Option<String>,
    ids: HashMap<String, OrderId>,
    names: Vec<String>,
    /// Whether the order with id `index + 1` has been placed in the book (an order known only
    /// from an open-orders answer has an id but was never placed).
    placed: Vec<bool>,
}

impl BinanceAdapter {
    /// An adapter for `grid`; the symbol is fixed by the first order event unless given.
    pub fn new(grid: Grid, symbol: Option<String>) -> Self {
        Self {
            grid,
            symbol,
            ids: HashMap::new(),
            names: Vec::new(),
            placed: Vec::new(),
        }
    }

    /// The grid that prices map onto.
    pub fn grid(&self) -> &Grid {
        &self.grid
    }

    /// The symbol, once fixed.
    pub fn symbol(&self) -> Option<&str> {
        self.symbol.as_deref()
    }

    /// The client order id behind a book order id.
    pub fn name(&self, id: OrderId) -> Option<&str> {
        let index = usize::try_from(id.0).ok()?.checked_sub(1)?;
        self.names.get(index).map(String::as_str)
    }

    /// The book order id for a client order id, if it has appeared.
    pub fn id(&self, name: &str) -> Option<OrderId> {
        self.ids.get(name).copied()
    }

    /// The level of `price` on the grid.
    pub fn level_of(&self, price: Price) -> Option<Level> {
        self.grid.level_of(price)
    }

    /// The book commands for one event of the user data stream, as text (plain or wrapped).
    ///
    /// # Errors
    ///
    /// A [`BinanceError`] saying why the event maps onto nothing (see
    /// [`BinanceError::is_ignorable`] for those a capture skips); the adapter is then
    /// unchanged.
    pub fn map_line(&mut self, text: &str) -> Result<Vec<BookCommand>, BinanceError> {
        match parse_event(text)? {
            UserDataEvent::ExecutionReport(report) => self.map_report(&report),
            UserDataEvent::Other(event_type) => Err(BinanceError::NotAnOrderEvent(event_type)),
        }
    }

    /// The book commands for one `executionReport` (see the table in the module docs).
    ///
    /// # Errors
    ///
    /// A [`BinanceError`] saying why the event maps onto nothing; the adapter is then
    /// unchanged.
    pub fn map_report(
        &mut self,
        report: &ExecutionReport,
    ) -> Result<Vec<BookCommand>, BinanceError> {
        let mapped = self.prepare(report)?;
        self.commit(&mapped);
        Ok(mapped.commands)
    }

    /// The book commands for one `executionReport`, without changing the adapter: for a
    /// caller that validates the commands (applies them to a copy of its book) before it
    /// [`commit`](Self::commit)s them, so that a line the book refuses changes nothing.
    ///
    /// # Errors
    ///
    /// As [`map_report`](Self::map_report).
    pub fn prepare(&self, report: &ExecutionReport) -> Result<MappedEvent, BinanceError> {
        if report.event_type != EXECUTION_REPORT {
            return Err(BinanceError::NotAnOrderEvent(report.event_type.clone()));
        }
        if let Some(expected) = &self.symbol
            && *expected != report.symbol
        {
            return Err(BinanceError::OtherSymbol {
                expected: expected.clone(),
                found: report.symbol.clone(),
            });
        }
        let update = update(report)?;
        let name = match report.original_client_order_id.as_deref() {
            Some(original) if !original.is_empty() && update == Update::Cancel => original,
            _ => report.client_order_id.as_str(),
        };
        if name.is_empty() {
            return Err(BinanceError::EmptyClientOrderId);
        }
        let side = side(&report.side)?;
        if !matches!(report.order_type.as_str(), "LIMIT" | "LIMIT_MAKER") {
            return Err(BinanceError::UnsupportedOrderType(
                report.order_type.clone(),
            ));
        }
        let level = self
            .grid
            .level_of(report.price)
            .ok_or(BinanceError::OffGrid(report.price))?;

        let (order_id, first_seen) = match self.ids.get(name) {
            Some(&order_id) => (order_id, !self.is_placed(order_id)),
            None => (OrderId(self.names.len() as u64 + 1), true),
        };
        let place = first_seen.then(|| Place {
            order_id,
            level,
            side,
            price: report.price,
            quantity: report.quantity,
            at: Timestamp::from_millis(report.created_ms),
        });
        Ok(MappedEvent {
            commands: commands(report, order_id, update, place),
            name: name.to_owned(),
            order_id,
            symbol: report.symbol.clone(),
        })
    }

    /// Records what a [`prepare`](Self::prepare)d event changes: its order's client id, that
    /// the order is placed, and the symbol if none was fixed. Commit an event before preparing
    /// the next, so that a new client id gets the id the commands carry.
    pub fn commit(&mut self, mapped: &MappedEvent) {
        if self.symbol.is_none() {
            self.symbol = Some(mapped.symbol.clone());
        }
        let order_id = self.intern(&mapped.name);
        debug_assert_eq!(
            order_id, mapped.order_id,
            "an event is committed before the next one is prepared"
        );
        self.mark_placed(order_id);
    }

    fn is_placed(&self, id: OrderId) -> bool {
        usize::try_from(id.0)
            .ok()
            .and_then(|id| id.checked_sub(1))
            .and_then(|index| self.placed.get(index))
            .copied()
            .unwrap_or(false)
    }

    /// The venue's report for an open-orders answer received at `as_of`, interning the client
    /// ids of its orders (they are not placed in the book). Orders of another symbol than the
    /// adapter's are left out; with no symbol fixed yet, the first order's is used.
    ///
    /// # Errors
    ///
    /// A [`BinanceError`] for the first invalid order (an empty client id, an unknown side or
    /// status, an impossible quantity); the whole answer is validated before any id is
    /// interned, so the adapter is then unchanged.
    pub fn venue_report(
        &mut self,
        as_of: Timestamp,
        orders: &[OpenOrder],
    ) -> Result<VenueReport, BinanceError> {
        let symbol = self
            .symbol
            .clone()
            .or_else(|| orders.first().map(|order| order.symbol.clone()));
        let ours: Vec<&OpenOrder> = orders
            .iter()
            .filter(|order| {
                symbol
                    .as_deref()
                    .is_none_or(|symbol| order.symbol == symbol)
            })
            .collect();
        let checked = ours
            .iter()
            .map(|order| check_open_order(order))
            .collect::<Result<Vec<_>, _>>()?;
        let orders = ours
            .into_iter()
            .zip(checked)
            .map(|(order, (side, status))| VenueOrder {
                order_id: self.intern(&order.client_order_id),
                updated_at: Timestamp::from_millis(order.update_time),
                filled: order.executed_qty,
                status,
                side,
                price: order.price,
                quantity: order.orig_qty,
            })
            .collect();
        Ok(VenueReport {
            as_of,
            orders,
            net_position: None,
        })
    }

    fn intern(&mut self, name: &str) -> OrderId {
        if let Some(&id) = self.ids.get(name) {
            return id;
        }
        self.names.push(name.to_owned());
        self.placed.push(false);
        let id = OrderId(self.names.len() as u64);
        self.ids.insert(name.to_owned(), id);
        id
    }

    /// Marks an interned order as placed; true if it was not yet.
    fn mark_placed(&mut self, id: OrderId) -> bool {
        let index = usize::try_from(id.0).ok().and_then(|id| id.checked_sub(1));
        match index.and_then(|index| self.placed.get_mut(index)) {
            Some(placed) => !std::mem::replace(placed, true),
            // Every id comes from `intern`, which gives it a flag.
            None => false,
        }
    }
}

/// The commands for one event of an order: its placement if first seen, then what the event
/// says (invariant 1 of the module docs).
fn commands(
    report: &ExecutionReport,
    order_id: OrderId,
    update: Update,
    place: Option<Place>,
) -> Vec<BookCommand> {
    let at = Timestamp::from_millis(report.event_time_ms);
    let venue_seq = Some(report.transaction_time_ms);
    let status = StatusReport {
        order_id,
        venue_seq,
        at,
    };
    let mut commands = Vec::with_capacity(4);
    if let Some(place) = place {
        commands.push(BookCommand::Place(place));
        if !matches!(
            update,
            Update::Acknowledge | Update::PlaceOnly | Update::Reject
        ) {
            // Seen first in a later event: it was acknowledged before the capture began.
            commands.push(BookCommand::Acknowledge(status.clone()));
        }
    }
    let traded = update == Update::Fill;
    if traded || report.cumulative_filled > Decimal::ZERO {
        commands.push(BookCommand::Fill(FillReport {
            order_id,
            cumulative_filled: report.cumulative_filled,
            // `L` and `t` describe this event's execution; a final event has none.
            fill_price: (traded && report.last_price > Decimal::ZERO).then_some(report.last_price),
            trade_id: if traded {
                u64::try_from(report.trade_id).ok()
            } else {
                None
            },
            venue_seq,
            at,
        }));
    }
    // A fill that reaches the quantity finishes the order: a final status after it would be
    // stale.
    let finished_by_fill = report.cumulative_filled >= report.quantity;
    match update {
        Update::Acknowledge => commands.push(BookCommand::Acknowledge(status)),
        Update::Cancel if !finished_by_fill => commands.push(BookCommand::Cancel(status)),
        Update::Reject => commands.push(BookCommand::Reject(status)),
        Update::Expire if !finished_by_fill => commands.push(BookCommand::Expire(status)),
        Update::PlaceOnly | Update::Fill | Update::Cancel | Update::Expire => {}
    }
    commands
}

/// The side and venue status of an open order, or why no venue could list it.
fn check_open_order(order: &OpenOrder) -> Result<(Side, VenueOrderStatus), BinanceError> {
    if order.client_order_id.is_empty() {
        return Err(BinanceError::EmptyClientOrderId);
    }
    let side = side(&order.side)?;
    let status = match order.status.as_str() {
        // Not yet working, or a cancel in progress: still live until the venue says otherwise.
        "NEW" | "PENDING_NEW" | "PENDING_CANCEL" => VenueOrderStatus::Open,
        "PARTIALLY_FILLED" => VenueOrderStatus::PartiallyFilled,
        "FILLED" => VenueOrderStatus::Filled,
        "CANCELED" => VenueOrderStatus::Cancelled,
        "EXPIRED" | "EXPIRED_IN_MATCH" => VenueOrderStatus::Expired,
        "REJECTED" => VenueOrderStatus::Rejected,
        other => return Err(BinanceError::UnsupportedOrderStatus(other.to_owned())),
    };
    let impossible = if order.orig_qty <= Decimal::ZERO {
        Some(format!("quantity {} is not positive", order.orig_qty))
    } else if order.price <= Decimal::ZERO {
        Some(format!("price {} is not positive", order.price))
    } else if order.executed_qty < Decimal::ZERO {
        Some(format!("filled {} is negative", order.executed_qty))
    } else if order.executed_qty > order.orig_qty {
        Some(format!(
            "filled {} exceeds quantity {}",
            order.executed_qty, order.orig_qty
        ))
    } else {
        None
    };
    match impossible {
        Some(reason) => Err(BinanceError::ImpossibleOrder {
            client_order_id: order.client_order_id.clone(),
            reason,
        }),
        None => Ok((side, status)),
    }
}

fn side(text: &str) -> Result<Side, BinanceError> {
    match text {
        "BUY" => Ok(Side::Buy),
        "SELL" => Ok(Side::Sell),
        other => Err(BinanceError::InvalidSide(other.to_owned())),
    }
}

#[cfg(test)]
mod tests;
