//! Binance captures: the user data stream's events, one per line, with the answers to
//! `GET /api/v3/openOrders` recorded between them as the venue's snapshots.
//!
//! An event line is the stream's JSON as received. An open-orders line wraps the REST answer
//! with the time it was received, since the answer carries none:
//!
//! ```json
//! {"capture":"openOrders","received_ms":1700000060000,"response":[ …the answer's orders… ]}
//! ```
//!
//! Spot accounts have balances, not a position per symbol, so these snapshots carry no net
//! position and the position check is skipped.

use serde::Deserialize;
use snapstate::binance::{
    BinanceAdapter, BinanceError, MappedEvent, OpenOrder, UserDataEvent, parse_event,
};
use snapstate::book::{Grid, OrderId, Price};
use snapstate::time::Timestamp;

use super::BinanceOptions;
use super::source::{Entry, LineError, check_venue_report, expect_object, from_line};

/// The wrapper's tag for an open-orders answer.
pub const OPEN_ORDERS_CAPTURE: &str = "openOrders";

#[derive(Deserialize)]
struct Envelope {
    capture: Option<String>,
}

#[derive(Deserialize)]
struct OpenOrdersCapture {
    received_ms: u64,
    response: Vec<OpenOrder>,
}

/// A Binance capture, line by line: the adapter, once the first price has set the grid.
#[derive(Debug)]
pub struct BinanceSource {
    options: BinanceOptions,
    adapter: Option<BinanceAdapter>,
    grid: Option<Grid>,
    /// The last event's mapping, committed to the adapter only once the book accepts its
    /// commands ([`commit`](Self::commit)).
    pending: Option<MappedEvent>,
}

impl BinanceSource {
    /// A source with no grid yet.
    pub fn new(options: BinanceOptions) -> Self {
        Self {
            options,
            adapter: None,
            grid: None,
            pending: None,
        }
    }

    /// The grid, once the first price has set it.
    pub fn grid(&self) -> Option<&Grid> {
        self.grid.as_ref()
    }

    /// The client order id behind a book id.
    pub fn name(&self, order_id: OrderId) -> Option<&str> {
        let pending = self
            .pending
            .as_ref()
            .filter(|pending| pending.order_id == order_id)
            .map(|pending| pending.name.as_str());
        self.adapter.as_ref()?.name(order_id).or(pending)
    }

    /// Commits the last event's mapping: the book accepted its commands.
    pub fn commit(&mut self) {
        if let (Some(adapter), Some(pending)) = (self.adapter.as_mut(), self.pending.take()) {
            adapter.commit(&pending);
        }
    }

    /// What one line of a capture says.
    ///
    /// # Errors
    ///
    /// A [`LineError`] when the line is invalid; the source is then unchanged (one line, one
    /// unit: an open-orders answer is validated whole before it sets the grid or interns an
    /// id).
    pub fn entry(&mut self, line: &str) -> Result<Entry, LineError> {
        // An event not committed by now was refused by the book: it changes nothing.
        self.pending = None;
        expect_object(line)?;
        let envelope: Envelope =
            serde_json::from_str(line).map_err(|error| LineError::json(&error))?;
        match envelope.capture.as_deref() {
            None => self.event(line),
            Some(OPEN_ORDERS_CAPTURE) => self.open_orders(line),
            Some(other) => Err(LineError::Malformed {
                record: "capture".to_owned(),
                reason: format!("unknown capture {other:?}; expected {OPEN_ORDERS_CAPTURE:?}"),
            }),
        }
    }

    fn event(&mut self, line: &str) -> Result<Entry, LineError> {
        let report = match parse_event(line) {
            Ok(UserDataEvent::ExecutionReport(report)) => report,
            Ok(UserDataEvent::Other(event_type)) => {
                return ignored_or_invalid(BinanceError::NotAnOrderEvent(event_type));
            }
            Err(error) => return ignored_or_invalid(error),
        };
        let (adapter, new) = match self.adapter.take() {
            Some(adapter) => (adapter, false),
            // A zero price (a market order's) cannot centre a grid; a provisional one lets
            // the mapping say what is wrong with the event.
            None => {
                let centre = report.price.max(self.options.tick_size);
                (new_adapter(&self.options, centre, None)?, true)
            }
        };
        let result = adapter.prepare(&report);
        // An adapter made for this line is kept only if the line maps: a refused first event
        // must not centre the grid. (One the book then refuses has centred it: the engine
        // started on that grid.)
        if result.is_ok() || !new {
            self.grid = Some(adapter.grid().clone());
            self.adapter = Some(adapter);
        }
        match result {
            Ok(mapped) => {
                let commands = mapped.commands.clone();
                self.pending = Some(mapped);
                Ok(Entry::Commands(commands))
            }
            Err(error) => ignored_or_invalid(error),
        }
    }

    fn open_orders(&mut self, line: &str) -> Result<Entry, LineError> {
        let capture: OpenOrdersCapture = from_line("openOrders capture", line)?;
        let as_of = Timestamp::from_millis(capture.received_ms);
        // The adapter is only replaced once the whole answer maps; a new one (the answer
        // sets the grid) is kept only then.
        let report = match self.adapter.as_mut() {
            Some(adapter) => adapter.venue_report(as_of, &capture.response)?,
            None => {
                let symbol = self
                    .options
                    .symbol
                    .clone()
                    .or_else(|| capture.response.first().map(|order| order.symbol.clone()));
                let Some(first) = capture
                    .response
                    .iter()
                    .find(|order| symbol.as_deref() == Some(order.symbol.as_str()))
                else {
                    return Ok(Entry::Ignored("open orders before any order"));
                };
                let mut adapter = new_adapter(&self.options, first.price, symbol)?;
                let report = adapter.venue_report(as_of, &capture.response)?;
                check_venue_report(&report)?;
                self.grid = Some(adapter.grid().clone());
                self.adapter = Some(adapter);
                return Ok(Entry::VenueSnapshot(report));
            }
        };
        check_venue_report(&report)?;
        Ok(Entry::VenueSnapshot(report))
    }
}

fn new_adapter(
    options: &BinanceOptions,
    price: Price,
    symbol: Option<String>,
) -> Result<BinanceAdapter, LineError> {
    let grid = Grid::centred(price, options.tick_size, options.grid_levels)?;
    Ok(BinanceAdapter::new(grid, options.symbol.clone().or(symbol)))
}

/// Other events of the user data stream and other symbols' orders are not errors in a capture:
/// they carry nothing for this book.
fn ignored_or_invalid(error: BinanceError) -> Result<Entry, LineError> {
    match error {
        BinanceError::NotAnOrderEvent(_) => Ok(Entry::Ignored("not an order event")),
        BinanceError::OtherSymbol { .. } => Ok(Entry::Ignored("another symbol")),
        other => Err(LineError::Binance(other)),
    }
}
