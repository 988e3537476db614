use super::*;

/// An `executionReport` as Binance documents it, with every field, for client id `client`.
fn event(client: &str, x: &str, status: &str, z: &str, t: i64) -> String {
    format!(
        r#"{{"e":"executionReport","E":1700000000200,"s":"BTCUSDT","c":"{client}","S":"BUY","o":"LIMIT","f":"GTC","q":"0.03000000","p":"37000.00000000","P":"0.00000000","F":"0.00000000","g":-1,"C":"","x":"{x}","X":"{status}","r":"NONE","i":4293153,"l":"0.01000000","z":"{z}","L":"37000.00000000","n":"0","N":null,"T":1700000000199,"t":{t},"I":8641984,"w":true,"m":false,"M":false,"O":1700000000100,"Z":"0","Y":"0","Q":"0"}}"#
    )
}

fn adapter() -> BinanceAdapter {
    let grid = Grid::centred(Decimal::new(37_000, 0), Decimal::new(1, 2), 1_000).expect("grid");
    BinanceAdapter::new(grid, None)
}

/// The commands' types, in order.
fn kinds(commands: &[BookCommand]) -> Vec<&'static str> {
    commands.iter().map(BookCommand::kind).collect()
}

fn placed(adapter: &mut BinanceAdapter, client: &str) {
    adapter
        .map_line(&event(client, "NEW", "NEW", "0", -1))
        .expect("a NEW event maps");
}

#[test]
fn new_places_and_acknowledges_then_trades_fill_cumulatively() {
    let mut adapter = adapter();
    let placed = adapter
        .map_line(&event("grid-1", "NEW", "NEW", "0", -1))
        .expect("maps");
    assert!(
        matches!(placed.as_slice(), [BookCommand::Place(place), BookCommand::Acknowledge(_)]
        if place.order_id == OrderId(1) && place.side == Side::Buy
            && place.quantity == Decimal::new(3, 2) && place.at == Timestamp::from_millis(1_700_000_000_100))
    );
    let filled = adapter
        .map_line(&event(
            "grid-1",
            "TRADE",
            "PARTIALLY_FILLED",
            "0.02000000",
            77,
        ))
        .expect("maps");
    assert!(matches!(filled.as_slice(), [BookCommand::Fill(fill)]
        if fill.cumulative_filled == Decimal::new(2, 2) && fill.trade_id == Some(77)
            && fill.fill_price == Some(Decimal::new(37_000, 0))
            && fill.venue_seq == Some(1_700_000_000_199)));
    assert_eq!(adapter.name(OrderId(1)), Some("grid-1"));
    assert_eq!(adapter.id("grid-1"), Some(OrderId(1)));
}

#[test]
fn a_pending_new_order_is_placed_but_not_acknowledged() {
    let mut adapter = adapter();
    let commands = adapter
        .map_line(&event("oto-2", "NEW", "PENDING_NEW", "0", -1))
        .expect("maps");
    assert_eq!(kinds(&commands), ["place"]);
}

#[test]
fn an_order_first_seen_mid_life_is_placed_from_its_own_fields() {
    let mut adapter = adapter();
    let commands = adapter
        .map_line(&event("late", "TRADE", "PARTIALLY_FILLED", "0.01", 5))
        .expect("maps");
    assert_eq!(kinds(&commands), ["place", "acknowledge", "fill"]);
}

#[test]
fn a_cancel_names_the_original_client_order_id() {
    let mut adapter = adapter();
    placed(&mut adapter, "grid-1");
    let cancel = event("cancel-request-9", "CANCELED", "CANCELED", "0", -1)
        .replace(r#""C":"""#, r#""C":"grid-1""#);
    let commands = adapter.map_line(&cancel).expect("maps");
    assert!(
        matches!(commands.as_slice(), [BookCommand::Cancel(report)] if report.order_id == OrderId(1))
    );
}

/// Defect 4 of issue 10: a final event's cumulative fill reached the book only through a
/// trade event, so a lost trade left the position short for good.
#[test]
fn every_final_event_carries_its_cumulative_fill_to_the_book_before_its_status() {
    for (x, status, last) in [
        ("CANCELED", "CANCELED", "cancel"),
        ("EXPIRED", "EXPIRED", "expire"),
        ("EXPIRED", "EXPIRED_IN_MATCH", "expire"),
        ("TRADE_PREVENTION", "EXPIRED_IN_MATCH", "expire"),
        ("TRADE_PREVENTION", "EXPIRED", "expire"),
    ] {
        let mut adapter = adapter();
        placed(&mut adapter, "grid-1");
        let commands = adapter
            .map_line(&event("grid-1", x, status, "0.02000000", -1))
            .expect("maps");
        assert_eq!(kinds(&commands), ["fill", last], "{x}/{status}");
        assert!(
            matches!(&commands[0], BookCommand::Fill(fill)
                if fill.cumulative_filled == Decimal::new(2, 2)
                    && fill.trade_id.is_none() && fill.fill_price.is_none()),
            "{x}/{status}: the fill carries z, and no trade of its own"
        );
        let unfilled = adapter
            .map_line(&event("grid-2", x, status, "0", -1))
            .expect("maps");
        assert_eq!(
            kinds(&unfilled),
            ["place", "acknowledge", last],
            "{x}/{status} with nothing filled adds no fill"
        );
    }
}

#[test]
fn a_final_event_with_the_whole_quantity_filled_is_a_complete_fill_only() {
    let mut adapter = adapter();
    placed(&mut adapter, "grid-1");
    let commands = adapter
        .map_line(&event("grid-1", "EXPIRED", "EXPIRED", "0.03000000", -1))
        .expect("maps");
    assert_eq!(kinds(&commands), ["fill"]);
}

#[test]
fn a_rejection_is_a_reject() {
    let mut adapter = adapter();
    let commands = adapter
        .map_line(&event("bad-1", "REJECTED", "REJECTED", "0", -1))
        .expect("maps");
    assert_eq!(kinds(&commands), ["place", "reject"]);
}

#[test]
fn pairs_the_book_cannot_represent_are_refused_and_change_nothing() {
    for (x, status) in [
        ("REPLACED", "NEW"),
        ("AMENDMENT", "NEW"),
        ("TRADE_PREVENTION", "PARTIALLY_FILLED"),
        ("TRADE_PREVENTION", "NEW"),
        ("CANCELED", "PENDING_CANCEL"),
        ("NEW", "FILLED"),
        ("TRADE", "CANCELED"),
        ("CALCULATED", "NEW"),
    ] {
        let mut adapter = adapter();
        let error = adapter
            .map_line(&event("a", x, status, "0", -1))
            .expect_err(x);
        assert_eq!(
            error,
            BinanceError::UnsupportedEvent {
                execution_type: x.into(),
                order_status: status.into()
            }
        );
        assert!(error.is_unsupported());
        assert_eq!(adapter.id("a"), None, "a refused event interns nothing");
        assert_eq!(adapter.symbol(), None, "a refused event fixes no symbol");
    }
}

#[test]
fn the_wrapped_event_form_maps_like_the_plain_one() {
    let plain = event("grid-1", "NEW", "NEW", "0", -1);
    let wrapped = format!(r#"{{"subscriptionId":0,"event":{plain}}}"#);
    assert_eq!(adapter().map_line(&wrapped), adapter().map_line(&plain));
    let other = r#"{"subscriptionId":3,"event":{"e":"balanceUpdate","E":1,"a":"BTC","d":"1"}}"#;
    assert_eq!(
        adapter().map_line(other),
        Err(BinanceError::NotAnOrderEvent("balanceUpdate".into()))
    );
    let bad = wrapped.replace(r#""z":"0""#, r#""z":"zero""#);
    let error = adapter().map_line(&bad).expect_err("a bad z");
    assert_eq!(error.field(), Some("event.z"));
}

/// Defect 2 of issue 10: a decimal with more digits than are kept was rounded.
#[test]
fn a_decimal_that_would_be_rounded_is_refused_naming_its_field() {
    let line = event("a", "TRADE", "PARTIALLY_FILLED", "0.01", 3).replace(
        r#""q":"0.03000000""#,
        r#""q":"1.00000000000000000000000000000000001""#,
    );
    let error = adapter().map_line(&line).expect_err("too precise");
    assert!(error.is_malformed());
    assert_eq!(error.field(), Some("q"));
    assert!(
        error.to_string().starts_with("invalid field `q`: "),
        "{error}"
    );
    let price = event("a", "NEW", "NEW", "0", -1).replace(
        r#""p":"37000.00000000""#,
        r#""p":"37000.000000000000000000000000001""#,
    );
    assert_eq!(
        adapter().map_line(&price).expect_err("rounded").field(),
        Some("p")
    );
}

/// Defect 6 of issue 10: errors said "at line 1 column 29" under another line number.
#[test]
fn errors_give_the_column_within_the_text_and_no_line_of_their_own() {
    let error = adapter()
        .map_line(r#"{"e":"executionReport",}"#)
        .expect_err("bad JSON");
    let message = error.to_string();
    assert!(!message.contains("line"), "{message}");
    assert!(message.ends_with("(column 24)"), "{message}");
    let error = adapter()
        .map_line(r#"{"e":"executionReport","s":"BTCUSDT"}"#)
        .expect_err("missing fields");
    assert!(!error.to_string().contains("line"), "{error}");
}

#[test]
fn unsupported_and_malformed_events_are_typed_errors_and_change_nothing() {
    let mut adapter = adapter();
    assert!(
        adapter
            .map_line("{not json")
            .expect_err("not JSON")
            .is_malformed()
    );
    assert!(
        adapter
            .map_line("[1]")
            .expect_err("not an object")
            .is_malformed()
    );
    assert!(
        adapter
            .map_line(r#"{"E":1}"#)
            .expect_err("no type")
            .is_malformed()
    );
    let other = adapter
        .map_line(r#"{"e":"outboundAccountPosition","E":1}"#)
        .expect_err("another event");
    assert_eq!(
        other,
        BinanceError::NotAnOrderEvent("outboundAccountPosition".into())
    );
    assert!(other.is_ignorable());
    let off_grid =
        event("a", "NEW", "NEW", "0", -1).replace("37000.00000000\",\"P", "37000.00500000\",\"P");
    assert_eq!(
        adapter.map_line(&off_grid),
        Err(BinanceError::OffGrid(Decimal::new(370_000_050, 4)))
    );
    let market = event("a", "NEW", "NEW", "0", -1).replace(r#""o":"LIMIT""#, r#""o":"MARKET""#);
    assert_eq!(
        adapter.map_line(&market),
        Err(BinanceError::UnsupportedOrderType("MARKET".into()))
    );
    let side = event("a", "NEW", "NEW", "0", -1).replace(r#""S":"BUY""#, r#""S":"HOLD""#);
    assert_eq!(
        adapter.map_line(&side),
        Err(BinanceError::InvalidSide("HOLD".into()))
    );
    assert_eq!(adapter.id("a"), None, "a refused event interns nothing");
}

fn open_order(client: &str, status: &str, executed: &str) -> String {
    format!(
        r#"{{"symbol":"BTCUSDT","orderId":4293153,"orderListId":-1,"clientOrderId":"{client}","price":"37000.00000000","origQty":"0.03000000","executedQty":"{executed}","cummulativeQuoteQty":"0","status":"{status}","timeInForce":"GTC","type":"LIMIT","side":"BUY","stopPrice":"0.0","icebergQty":"0.0","time":1700000000100,"updateTime":1700000000300,"isWorking":true,"origQuoteOrderQty":"0.000000","workingTime":1700000000100,"selfTradePreventionMode":"NONE"}}"#
    )
}

fn answer(orders: &[String]) -> Vec<OpenOrder> {
    parse_open_orders(&format!("[{}]", orders.join(","))).expect("the documented layout parses")
}

#[test]
fn an_open_order_maps_onto_the_venue_view_without_placing_it() {
    let mut adapter = adapter();
    let at = Timestamp::from_millis(1_700_000_000_400);
    let report = adapter
        .venue_report(
            at,
            &answer(&[open_order("web-7", "PARTIALLY_FILLED", "0.01000000")]),
        )
        .expect("maps");
    assert_eq!(report.as_of, at);
    assert_eq!(report.net_position, None);
    let [venue] = report.orders.as_slice() else {
        panic!("one order: {report:?}");
    };
    assert_eq!(venue.order_id, OrderId(1));
    assert_eq!(venue.status, VenueOrderStatus::PartiallyFilled);
    assert_eq!(venue.filled, Decimal::new(1, 2));
    assert_eq!(venue.quantity, Decimal::new(3, 2));
    assert_eq!(venue.updated_at, Timestamp::from_millis(1_700_000_000_300));
    assert_eq!(adapter.name(OrderId(1)), Some("web-7"));
    // Its first event still places it, under the same id.
    let commands = adapter
        .map_line(&event("web-7", "TRADE", "PARTIALLY_FILLED", "0.02", 9))
        .expect("maps");
    assert!(matches!(commands.as_slice(),
        [BookCommand::Place(place), BookCommand::Acknowledge(_), BookCommand::Fill(_)]
        if place.order_id == OrderId(1)));
}

#[test]
fn every_documented_open_order_status_maps() {
    for (status, expected) in [
        ("NEW", VenueOrderStatus::Open),
        ("PENDING_NEW", VenueOrderStatus::Open),
        ("PENDING_CANCEL", VenueOrderStatus::Open),
        ("PARTIALLY_FILLED", VenueOrderStatus::PartiallyFilled),
        ("FILLED", VenueOrderStatus::Filled),
        ("CANCELED", VenueOrderStatus::Cancelled),
        ("EXPIRED", VenueOrderStatus::Expired),
        ("EXPIRED_IN_MATCH", VenueOrderStatus::Expired),
        ("REJECTED", VenueOrderStatus::Rejected),
    ] {
        let report = adapter()
            .venue_report(Timestamp::EPOCH, &answer(&[open_order("a", status, "0")]))
            .expect(status);
        assert_eq!(report.orders[0].status, expected, "{status}");
    }
}

/// Defect 5 of issue 10 (the library's half): an answer with one bad order interned the
/// orders before it.
#[test]
fn an_answer_with_one_invalid_order_changes_nothing() {
    for bad in [
        open_order("bad", "HALF_DONE", "0"),
        open_order("bad", "NEW", "0.04"),
        open_order("", "NEW", "0"),
        open_order("bad", "NEW", "0").replace(r#""side":"BUY""#, r#""side":"UP""#),
        open_order("bad", "NEW", "0").replace(r#""origQty":"0.03000000""#, r#""origQty":"0""#),
    ] {
        let mut adapter = adapter();
        let error = adapter
            .venue_report(
                Timestamp::EPOCH,
                &answer(&[open_order("good", "NEW", "0"), bad]),
            )
            .expect_err("an invalid order");
        assert!(!error.is_ignorable(), "{error}");
        assert_eq!(adapter.id("good"), None, "{error}: nothing interned");
        assert_eq!(adapter.symbol(), None, "{error}: no symbol fixed");
    }
}

#[test]
fn an_answer_names_the_order_and_field_of_a_bad_value() {
    let text = format!(
        "[{},{}]",
        open_order("a", "NEW", "0"),
        open_order("b", "NEW", "0.0100000000000000000000000000000001")
    );
    let error = parse_open_orders(&text).expect_err("too precise");
    assert_eq!(error.field(), Some("[1].executedQty"));
}

#[test]
fn other_symbols_are_left_out_of_an_answer_and_refused_as_events() {
    let mut adapter = adapter();
    placed(&mut adapter, "a");
    let other = open_order("x", "NEW", "0").replace("BTCUSDT", "ETHUSDT");
    let report = adapter
        .venue_report(Timestamp::EPOCH, &answer(&[other]))
        .expect("maps");
    assert!(report.orders.is_empty());
    assert_eq!(adapter.id("x"), None);
    let event = event("b", "NEW", "NEW", "0", -1).replace("BTCUSDT", "ETHUSDT");
    assert_eq!(
        adapter.map_line(&event),
        Err(BinanceError::OtherSymbol {
            expected: "BTCUSDT".into(),
            found: "ETHUSDT".into()
        })
    );
}

#[test]
fn a_prepared_event_changes_nothing_until_it_is_committed() {
    let mut adapter = adapter();
    let UserDataEvent::ExecutionReport(report) =
        parse_event(&event("grid-1", "NEW", "NEW", "0", -1)).expect("parses")
    else {
        panic!("an execution report");
    };
    let prepared = adapter.prepare(&report).expect("maps");
    assert_eq!(prepared.order_id, OrderId(1));
    assert_eq!(adapter.id("grid-1"), None, "preparing interns nothing");
    assert_eq!(adapter.symbol(), None, "preparing fixes no symbol");
    assert_eq!(
        adapter.prepare(&report).expect("maps"),
        prepared,
        "an uncommitted event is prepared the same way again"
    );
    adapter.commit(&prepared);
    assert_eq!(adapter.id("grid-1"), Some(OrderId(1)));
    assert_eq!(adapter.symbol(), Some("BTCUSDT"));
    let again = adapter.prepare(&report).expect("maps");
    assert_eq!(kinds(&again.commands), ["acknowledge"], "placed once only");
}
