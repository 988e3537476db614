//! The worked example of `docs/reconciliation.md`.

use super::*;

/// The worked example of `docs/reconciliation.md`, step by step; keep the two in step.
#[test]
fn the_worked_example_of_the_documentation() {
    let seconds = |s: u64| Timestamp::from_millis(s * 1_000);
    let mut book = empty_book();
    let placed = seconds(1);
    let commands = [
        BookCommand::Place(Place {
            order_id: OrderId(1),
            level: Level(-2),
            side: Side::Buy,
            price: dec(98),
            quantity: dec(10),
            at: placed,
        }),
        BookCommand::Acknowledge(StatusReport {
            order_id: OrderId(1),
            venue_seq: None,
            at: placed,
        }),
        BookCommand::Fill(FillReport {
            order_id: OrderId(1),
            cumulative_filled: dec(4),
            fill_price: None,
            trade_id: None,
            venue_seq: None,
            at: placed,
        }),
        BookCommand::Place(Place {
            order_id: OrderId(2),
            level: Level(3),
            side: Side::Sell,
            price: dec(103),
            quantity: dec(5),
            at: placed,
        }),
        BookCommand::Acknowledge(StatusReport {
            order_id: OrderId(2),
            venue_seq: None,
            at: placed,
        }),
    ];
    for command in &commands {
        book.apply(command).expect("applies");
    }
    let venue_order =
        |id: u64, side, price: i64, quantity: i64, filled: i64, updated: u64| VenueOrder {
            order_id: OrderId(id),
            updated_at: seconds(updated),
            filled: dec(filled),
            status: if filled == 0 {
                VenueOrderStatus::Open
            } else {
                VenueOrderStatus::PartiallyFilled
            },
            side,
            price: dec(price),
            quantity: dec(quantity),
        };
    let config = ReconcileConfig::default();
    let mut evidence = Evidence::new();
    let mut transcript = Vec::new();
    for now in [31, 32, 33, 37] {
        let venue = VenueReport {
            as_of: seconds(now),
            orders: vec![
                venue_order(9, Side::Sell, 104, 2, 0, 10),
                venue_order(1, Side::Buy, 98, 10, 7, 20),
            ],
            net_position: Some(dec(8)),
        };
        let result = reconcile(&book, &venue, &config, seconds(now), &evidence);
        transcript.push(format!("cycle at {now} s:"));
        for finding in &result.findings {
            transcript.push(format!("  {finding}"));
            if finding.action != Action::Wait {
                transcript.push(format!("    action: {:?}", finding.action));
            }
        }
        for correction in result.corrections() {
            book.apply(&BookCommand::Correct(correction.clone()))
                .expect("the correction applies");
        }
        evidence = result.evidence;
    }
    let transcript = transcript.join("\n");
    let expected = [
        "cycle at 31 s:",
        "  [suspected, venue_filled_ahead since 31.000000000, seen 1x] order o1: venue filled 7, book filled 4 (venue ahead: a missed fill)",
        "  [suspected, missing_at_venue since 31.000000000, seen 1x] order o2: open in the book, not listed by the venue",
        "  [suspected, unknown_inside_grid since 31.000000000, seen 1x] order o9: live at the venue (sell 2 at 104), unknown to the book, inside the grid",
        "  [suspected, position_differs since 31.000000000, seen 1x] net position: venue 8, book 4, 1 unexplained by any listed order",
        "cycle at 32 s:",
        "  [confirmed, venue_filled_ahead since 31.000000000, seen 2x] order o1: venue filled 7, book filled 4 (venue ahead: a missed fill)",
        "    action: Correct(MissedFill { order_id: OrderId(1), expected: Revision(3), cumulative_filled: 7, at: Timestamp(32000000000) })",
        "  [suspected, missing_at_venue since 31.000000000, seen 2x] order o2: open in the book, not listed by the venue",
        "  [confirmed, unknown_inside_grid since 31.000000000, seen 2x] order o9: live at the venue (sell 2 at 104), unknown to the book, inside the grid",
        "    action: Correct(Adopt(Adoption { order_id: OrderId(9), level: Level(4), side: Sell, price: 104, quantity: 2, cumulative_filled: 0, expected: Revision(0), at: Timestamp(32000000000) }))",
        "  [suspected, position_differs since 31.000000000, seen 2x] net position: venue 8, book 4, 1 unexplained by any listed order",
        "cycle at 33 s:",
        "  [confirmed, missing_at_venue since 31.000000000, seen 3x] order o2: open in the book, not listed by the venue",
        "    action: Correct(MarkLost { order_id: OrderId(2), expected: Revision(2), at: Timestamp(33000000000) })",
        "  [suspected, position_differs since 31.000000000, seen 3x] net position: venue 8, book 7, 1 unexplained by any listed order",
        "cycle at 37 s:",
        "  [confirmed, position_differs since 31.000000000, seen 4x] net position: venue 8, book 7, 1 unexplained by any listed order",
        "    action: ReportOnly(Policy)",
    ]
    .join("\n");
    assert_eq!(transcript, expected);
    let order = |id| book.order(OrderId(id)).expect("known");
    assert_eq!(order(1).filled(), dec(7));
    assert_eq!(order(1).reconciled_fill(), dec(3));
    assert!(order(9).is_adopted());
    assert_eq!(order(2).status(), OrderStatus::Lost);
    assert_eq!(book.net_position(), dec(7));
}
