//! Binance spot user-data-stream `executionReport` events, mapped onto the book's commands.
//!
//! Fields used (Binance's public documentation of the user data stream): `e` event type, `E`
//! event time (ms), `s` symbol, `c` client order id, `C` original client order id (set on
//! cancels), `S` side, `o` order type, `q` quantity, `p` price, `x` execution type, `X` order
//! status, `i` order id, `l` last executed quantity, `z` cumulative filled quantity, `L` last
//! executed price, `T` transaction time (ms), `t` trade id, `O` order creation time (ms).
//!
//! Mapping:
//!
//! | `x` (execution type) | book commands |
//! |---|---|
//! | `NEW` | `place` (from `c`, `S`, `p`, `q`, at `O`) and `acknowledge` |
//! | `TRADE` | `fill` with cumulative `z`, price `L`, trade id `t` |
//! | `CANCELED` | `cancel` (the order is `C` when set, else `c`) |
//! | `REJECTED` | `reject` |
//! | `EXPIRED`, `TRADE_PREVENTION` | `expire` |
//! | `REPLACED`, `AMENDMENT` | refused: the book does not amend orders in place |
//!
//! The venue sequence of every report is `T`, the transaction time: Binance has no per-order
//! update counter, and `T` orders an order's events. An order first seen in a later event (a
//! capture that started while it was open) is placed from that event's own fields first.
//! Client order ids (strings) are mapped onto the book's `u64` ids in order of first
//! appearance, in events or in open-orders answers; [`BinanceAdapter::name`] maps them back
//! for display.
//!
//! Open orders, as `GET /api/v3/openOrders` answers them (fields `symbol`, `clientOrderId`,
//! `price`, `origQty`, `executedQty`, `status`, `side`, `updateTime`), map onto the venue's
//! view with [`BinanceAdapter::venue_order`]. An order that appears there first gets an id
//! but is not placed: the book learns of it only from an event, or from reconciliation.

use std::collections::HashMap;

use rust_decimal::Decimal;
use serde::Deserialize;
use snapstate::book::{
    BookCommand, FillReport, Grid, Level, OrderId, Place, Price, Quantity, Side, StatusReport,
};
use snapstate::time::Timestamp;
use snapstate::venue::{VenueOrder, VenueOrderStatus};

/// Why an event could not be mapped onto book commands.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BinanceError {
    /// Not JSON, or missing or mistyped fields.
    #[error("not a valid executionReport: {0}")]
    Malformed(String),
    /// An event of another type (`outboundAccountPosition`, `balanceUpdate`, …): not an error
    /// in a capture, and skipped by the replay.
    #[error("event type {0:?} carries no order update")]
    NotAnOrderEvent(String),
    /// An order of another symbol than the one being replayed.
    #[error("symbol {found:?} is not the replayed symbol {expected:?}")]
    OtherSymbol {
        /// The replayed symbol.
        expected: String,
        /// The event's symbol.
        found: String,
    },
    /// An execution type the book cannot represent.
    #[error("execution type {0:?} is not supported")]
    UnsupportedExecutionType(String),
    /// An order type without a limit price on the grid.
    #[error("order type {0:?} is not supported (limit orders only)")]
    UnsupportedOrderType(String),
    /// A side other than `BUY` or `SELL`.
    #[error("side {0:?} is neither BUY nor SELL")]
    InvalidSide(String),
    /// An empty client order id.
    #[error("empty client order id")]
    EmptyClientOrderId,
    /// A price that is not on the replay's grid.
    #[error("price {0} is not on the grid")]
    OffGrid(Price),
    /// An open order's status that an open-orders answer cannot carry.
    #[error("order status {0:?} is not supported")]
    UnsupportedOrderStatus(String),
}

/// The fields of an `executionReport` that the mapping uses.
#[derive(Debug, Clone, Deserialize)]
struct ExecutionReport {
    #[serde(rename = "E")]
    event_time_ms: u64,
    #[serde(rename = "s")]
    symbol: String,
    #[serde(rename = "c")]
    client_order_id: String,
    #[serde(rename = "C", default)]
    original_client_order_id: Option<String>,
    #[serde(rename = "S")]
    side: String,
    #[serde(rename = "o")]
    order_type: String,
    #[serde(rename = "q")]
    quantity: Quantity,
    #[serde(rename = "p")]
    price: Price,
    #[serde(rename = "x")]
    execution_type: String,
    #[serde(rename = "z")]
    cumulative_filled: Quantity,
    #[serde(rename = "L")]
    last_price: Price,
    #[serde(rename = "T")]
    transaction_time_ms: u64,
    #[serde(rename = "t")]
    trade_id: i64,
    #[serde(rename = "O")]
    created_ms: u64,
}

#[derive(Deserialize)]
struct EventType {
    #[serde(rename = "e")]
    event_type: String,
}

/// Parses one line of a capture into the event's fields, if it is an `executionReport`.
fn parse(line: &str) -> Result<ExecutionReport, BinanceError> {
    let kind: EventType =
        serde_json::from_str(line).map_err(|error| BinanceError::Malformed(error.to_string()))?;
    if kind.event_type != "executionReport" {
        return Err(BinanceError::NotAnOrderEvent(kind.event_type));
    }
    serde_json::from_str(line).map_err(|error| BinanceError::Malformed(error.to_string()))
}

/// The limit price of an order event, to centre the replay's grid on the first one.
///
/// # Errors
///
/// The [`BinanceError`] that mapping the line would give if it is not an `executionReport`.
pub fn event_price(line: &str) -> Result<Price, BinanceError> {
    parse(line).map(|report| report.price)
}

/// One order of a `GET /api/v3/openOrders` answer: the fields the venue's view needs.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OpenOrder {
    /// The symbol.
    pub symbol: String,
    /// The client order id.
    pub client_order_id: String,
    /// The limit price.
    pub price: Price,
    /// The order's quantity.
    pub orig_qty: Quantity,
    /// The cumulative filled quantity.
    pub executed_qty: Quantity,
    /// `NEW`, `PARTIALLY_FILLED`, or (in answers about any order) a finished status.
    pub status: String,
    /// `BUY` or `SELL`.
    pub side: String,
    /// When the order last changed, in milliseconds.
    pub update_time: u64,
}

/// Maps one symbol's `executionReport`s onto book commands, keeping the id mapping.
#[derive(Debug)]
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

    /// The symbol being replayed, once fixed.
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

    /// The book commands for one line of a capture.
    ///
    /// # Errors
    ///
    /// A [`BinanceError`] saying why the line maps onto nothing; the adapter is then unchanged.
    pub fn map_line(&mut self, line: &str) -> Result<Vec<BookCommand>, BinanceError> {
        let report = parse(line)?;
        match &self.symbol {
            Some(expected) if *expected != report.symbol => {
                return Err(BinanceError::OtherSymbol {
                    expected: expected.clone(),
                    found: report.symbol,
                });
            }
            _ => {}
        }
        let name = match report.original_client_order_id.as_deref() {
            Some(original) if !original.is_empty() && report.execution_type == "CANCELED" => {
                original.to_owned()
            }
            _ => report.client_order_id.clone(),
        };
        if name.is_empty() {
            return Err(BinanceError::EmptyClientOrderId);
        }
        let side = side(&report.side)?;
        if !matches!(report.order_type.as_str(), "LIMIT" | "LIMIT_MAKER") {
            return Err(BinanceError::UnsupportedOrderType(report.order_type));
        }
        let at = Timestamp::from_millis(report.event_time_ms);
        let venue_seq = Some(report.transaction_time_ms);
        let status = |order_id| StatusReport {
            order_id,
            venue_seq,
            at,
        };
        let update = match report.execution_type.as_str() {
            "NEW" => Update::Acknowledge,
            "TRADE" => Update::Fill,
            "CANCELED" => Update::Cancel,
            "REJECTED" => Update::Reject,
            "EXPIRED" | "TRADE_PREVENTION" => Update::Expire,
            other => return Err(BinanceError::UnsupportedExecutionType(other.to_owned())),
        };
        let level = self
            .grid
            .level_of(report.price)
            .ok_or(BinanceError::OffGrid(report.price))?;

        // Nothing can fail from here on: the adapter changes only now.
        if self.symbol.is_none() {
            self.symbol = Some(report.symbol.clone());
        }
        let order_id = self.intern(&name);
        let first_seen = self.mark_placed(order_id);
        let mut commands = Vec::with_capacity(3);
        if first_seen {
            commands.push(BookCommand::Place(Place {
                order_id,
                level,
                side,
                price: report.price,
                quantity: report.quantity,
                at: Timestamp::from_millis(report.created_ms),
            }));
            if !matches!(update, Update::Acknowledge | Update::Reject) {
                // Seen first in a later event: it was acknowledged before the capture began.
                commands.push(BookCommand::Acknowledge(status(order_id)));
            }
        }
        commands.push(match update {
            Update::Acknowledge => BookCommand::Acknowledge(status(order_id)),
            Update::Fill => BookCommand::Fill(FillReport {
                order_id,
                cumulative_filled: report.cumulative_filled,
                fill_price: (report.last_price > Decimal::ZERO).then_some(report.last_price),
                trade_id: u64::try_from(report.trade_id).ok(),
                venue_seq,
                at,
            }),
            Update::Cancel => BookCommand::Cancel(status(order_id)),
            Update::Reject => BookCommand::Reject(status(order_id)),
            Update::Expire => BookCommand::Expire(status(order_id)),
        });
        Ok(commands)
    }

    /// The venue's view of one order of an open-orders answer, interning its client id (the
    /// order is not placed in the book).
    ///
    /// # Errors
    ///
    /// A [`BinanceError`] for an empty client id, an unknown side or status; the adapter is
    /// then unchanged.
    pub fn venue_order(&mut self, order: &OpenOrder) -> Result<VenueOrder, BinanceError> {
        if order.client_order_id.is_empty() {
            return Err(BinanceError::EmptyClientOrderId);
        }
        let side = side(&order.side)?;
        let status = match order.status.as_str() {
            // A cancel in progress: still working until the venue confirms it.
            "NEW" | "PENDING_CANCEL" => VenueOrderStatus::Open,
            "PARTIALLY_FILLED" => VenueOrderStatus::PartiallyFilled,
            "FILLED" => VenueOrderStatus::Filled,
            "CANCELED" => VenueOrderStatus::Cancelled,
            "EXPIRED" | "EXPIRED_IN_MATCH" => VenueOrderStatus::Expired,
            "REJECTED" => VenueOrderStatus::Rejected,
            other => return Err(BinanceError::UnsupportedOrderStatus(other.to_owned())),
        };
        Ok(VenueOrder {
            order_id: self.intern(&order.client_order_id),
            updated_at: Timestamp::from_millis(order.update_time),
            filled: order.executed_qty,
            status,
            side,
            price: order.price,
            quantity: order.orig_qty,
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

    /// The level of `price` on the replay's grid.
    pub fn level_of(&self, price: Price) -> Option<Level> {
        self.grid.level_of(price)
    }
}

fn side(text: &str) -> Result<Side, BinanceError> {
    match text {
        "BUY" => Ok(Side::Buy),
        "SELL" => Ok(Side::Sell),
        other => Err(BinanceError::InvalidSide(other.to_owned())),
    }
}

#[derive(Clone, Copy)]
enum Update {
    Acknowledge,
    Fill,
    Cancel,
    Reject,
    Expire,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(client: &str, x: &str, z: &str, t: i64) -> String {
        format!(
            r#"{{"e":"executionReport","E":1700000000200,"s":"BTCUSDT","c":"{client}","S":"BUY","o":"LIMIT","f":"GTC","q":"0.03000000","p":"37000.00000000","P":"0.00000000","F":"0.00000000","g":-1,"C":"","x":"{x}","X":"NEW","r":"NONE","i":4293153,"l":"0.01000000","z":"{z}","L":"37000.00000000","n":"0","N":null,"T":1700000000199,"t":{t},"I":8641984,"w":true,"m":false,"M":false,"O":1700000000100,"Z":"0","Y":"0","Q":"0"}}"#
        )
    }

    fn adapter() -> BinanceAdapter {
        let grid = Grid::centred(Decimal::new(37_000, 0), Decimal::new(1, 2), 1_000).expect("grid");
        BinanceAdapter::new(grid, None)
    }

    #[test]
    fn new_places_and_acknowledges_then_trades_fill_cumulatively() {
        let mut adapter = adapter();
        let placed = adapter
            .map_line(&event("grid-1", "NEW", "0", -1))
            .expect("maps");
        assert!(
            matches!(placed.as_slice(), [BookCommand::Place(place), BookCommand::Acknowledge(_)]
            if place.order_id == OrderId(1) && place.side == Side::Buy
                && place.quantity == Decimal::new(3, 2) && place.at == Timestamp::from_millis(1_700_000_000_100))
        );
        let filled = adapter
            .map_line(&event("grid-1", "TRADE", "0.02000000", 77))
            .expect("maps");
        assert!(matches!(filled.as_slice(), [BookCommand::Fill(fill)]
            if fill.cumulative_filled == Decimal::new(2, 2) && fill.trade_id == Some(77)
                && fill.venue_seq == Some(1_700_000_000_199)));
        assert_eq!(adapter.name(OrderId(1)), Some("grid-1"));
        assert_eq!(adapter.id("grid-1"), Some(OrderId(1)));
    }

    #[test]
    fn an_order_first_seen_mid_life_is_placed_from_its_own_fields() {
        let mut adapter = adapter();
        let commands = adapter
            .map_line(&event("late", "TRADE", "0.01", 5))
            .expect("maps");
        assert!(matches!(
            commands.as_slice(),
            [
                BookCommand::Place(_),
                BookCommand::Acknowledge(_),
                BookCommand::Fill(_)
            ]
        ));
    }

    #[test]
    fn a_cancel_names_the_original_client_order_id() {
        let mut adapter = adapter();
        adapter
            .map_line(&event("grid-1", "NEW", "0", -1))
            .expect("maps");
        let cancel =
            event("cancel-request-9", "CANCELED", "0", -1).replace(r#""C":"""#, r#""C":"grid-1""#);
        let commands = adapter.map_line(&cancel).expect("maps");
        assert!(
            matches!(commands.as_slice(), [BookCommand::Cancel(report)] if report.order_id == OrderId(1))
        );
    }

    #[test]
    fn unsupported_and_malformed_events_are_typed_errors_and_change_nothing() {
        let mut adapter = adapter();
        assert_eq!(
            adapter.map_line(&event("a", "REPLACED", "0", -1)),
            Err(BinanceError::UnsupportedExecutionType("REPLACED".into()))
        );
        assert!(matches!(
            adapter.map_line("{not json"),
            Err(BinanceError::Malformed(_))
        ));
        assert!(matches!(
            adapter.map_line(r#"{"e":"executionReport","s":"BTCUSDT"}"#),
            Err(BinanceError::Malformed(_))
        ));
        assert_eq!(
            adapter.map_line(r#"{"e":"outboundAccountPosition","E":1}"#),
            Err(BinanceError::NotAnOrderEvent(
                "outboundAccountPosition".into()
            ))
        );
        let off_grid =
            event("a", "NEW", "0", -1).replace("37000.00000000\",\"P", "37000.00500000\",\"P");
        assert_eq!(
            adapter.map_line(&off_grid),
            Err(BinanceError::OffGrid(Decimal::new(370_000_050, 4)))
        );
        let market = event("a", "NEW", "0", -1).replace(r#""o":"LIMIT""#, r#""o":"MARKET""#);
        assert_eq!(
            adapter.map_line(&market),
            Err(BinanceError::UnsupportedOrderType("MARKET".into()))
        );
        assert_eq!(adapter.id("a"), None, "a refused event interns nothing");
    }

    fn open_order(client: &str, status: &str, executed: &str) -> OpenOrder {
        let line = format!(
            r#"{{"symbol":"BTCUSDT","orderId":4293153,"orderListId":-1,"clientOrderId":"{client}","price":"37000.00000000","origQty":"0.03000000","executedQty":"{executed}","cummulativeQuoteQty":"0","status":"{status}","timeInForce":"GTC","type":"LIMIT","side":"BUY","stopPrice":"0.0","icebergQty":"0.0","time":1700000000100,"updateTime":1700000000300,"isWorking":true,"origQuoteOrderQty":"0.000000","workingTime":1700000000100,"selfTradePreventionMode":"NONE"}}"#
        );
        serde_json::from_str(&line).expect("the documented layout parses")
    }

    #[test]
    fn an_open_order_maps_onto_the_venue_view_without_placing_it() {
        let mut adapter = adapter();
        let venue = adapter
            .venue_order(&open_order("web-7", "PARTIALLY_FILLED", "0.01000000"))
            .expect("maps");
        assert_eq!(venue.order_id, OrderId(1));
        assert_eq!(venue.status, VenueOrderStatus::PartiallyFilled);
        assert_eq!(venue.filled, Decimal::new(1, 2));
        assert_eq!(venue.quantity, Decimal::new(3, 2));
        assert_eq!(venue.updated_at, Timestamp::from_millis(1_700_000_000_300));
        assert_eq!(adapter.name(OrderId(1)), Some("web-7"));
        // Its first event still places it, under the same id.
        let commands = adapter
            .map_line(&event("web-7", "TRADE", "0.02", 9))
            .expect("maps");
        assert!(matches!(commands.as_slice(),
            [BookCommand::Place(place), BookCommand::Acknowledge(_), BookCommand::Fill(_)]
            if place.order_id == OrderId(1)));
        assert!(matches!(
            adapter.venue_order(&open_order("x", "HALF_DONE", "0")),
            Err(BinanceError::UnsupportedOrderStatus(_))
        ));
        assert_eq!(adapter.id("x"), None, "a refused order interns nothing");
    }

    #[test]
    fn another_symbol_is_refused_once_the_symbol_is_fixed() {
        let mut adapter = adapter();
        adapter.map_line(&event("a", "NEW", "0", -1)).expect("maps");
        let other = event("b", "NEW", "0", -1).replace("BTCUSDT", "ETHUSDT");
        assert_eq!(
            adapter.map_line(&other),
            Err(BinanceError::OtherSymbol {
                expected: "BTCUSDT".into(),
                found: "ETHUSDT".into()
            })
        );
    }
}
