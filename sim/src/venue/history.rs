//! The simulated venue's answers to the startup queries: its fill history (bounded, paged by
//! trade id), its position, and one order by id.
//!
//! Each query fails or times out at the same rates as an open-orders query
//! ([`Faults::query_failure_rate`](super::Faults::query_failure_rate),
//! [`Faults::query_timeout_rate`](super::Faults::query_timeout_rate)), drawn from the fault
//! stream only when the query is asked, so runs that never ask see the same faults as before.

use std::collections::VecDeque;

use snapstate::book::OrderId;
use snapstate::venue::{
    FillCursor, FillPage, OrderLookup, PositionReport, QueryError, QueryKind, VenueFill,
};

use super::{INJECTED_FAILURE, QueryFault, SimulatedVenue};

/// The most fills one page holds, whatever the caller asks for.
pub const MAX_FILL_PAGE: usize = 1_000;

/// How many fills the venue keeps by default; the oldest are forgotten beyond it.
pub const DEFAULT_FILL_HISTORY_LIMIT: usize = 100_000;

/// The fills the venue remembers, oldest first, bounded.
#[derive(Clone, Debug)]
pub(super) struct FillHistory {
    fills: VecDeque<VenueFill>,
    limit: usize,
}

impl Default for FillHistory {
    fn default() -> Self {
        Self {
            fills: VecDeque::new(),
            limit: DEFAULT_FILL_HISTORY_LIMIT,
        }
    }
}

impl FillHistory {
    pub(super) fn record(&mut self, fill: VenueFill) {
        self.fills.push_back(fill);
        self.forget_beyond_limit();
    }

    fn forget_beyond_limit(&mut self) {
        while self.fills.len() > self.limit {
            self.fills.pop_front();
        }
    }

    fn page(&self, cursor: FillCursor, limit: usize) -> FillPage {
        let limit = limit.clamp(1, MAX_FILL_PAGE);
        let mut matching = self.fills.iter().filter(|fill| match cursor {
            FillCursor::Beginning => true,
            FillCursor::AfterTrade(trade_id) => fill.trade_id > trade_id,
            FillCursor::Since(at) => fill.at >= at,
        });
        let fills: Vec<VenueFill> = matching.by_ref().take(limit).cloned().collect();
        let more = matching.next().is_some();
        let next = match fills.last() {
            Some(last) if more => Some(FillCursor::AfterTrade(last.trade_id)),
            _ => None,
        };
        FillPage {
            fills,
            next,
            oldest_kept_trade_id: self.fills.front().map(|fill| fill.trade_id),
        }
    }
}

impl SimulatedVenue {
    /// Keeps at most `limit` fills in the history from now on (at least one), forgetting the
    /// oldest: a venue whose history is shorter than the book's life.
    pub fn set_fill_history_limit(&mut self, limit: usize) {
        self.fill_history.limit = limit.max(1);
        self.fill_history.forget_beyond_limit();
    }

    /// Every fill the venue still keeps, oldest first.
    pub fn fill_history(&self) -> impl Iterator<Item = &VenueFill> {
        self.fill_history.fills.iter()
    }

    /// Draws the query faults for one query: a failure or a timeout, as the faults say.
    fn query_fault(&mut self, query: QueryKind) -> Result<(), QueryError> {
        match self.draw_query_fault() {
            Some(QueryFault::Failed) => Err(QueryError::Failed {
                query,
                reason: INJECTED_FAILURE.to_owned(),
            }),
            Some(QueryFault::TimedOut) => Err(QueryError::TimedOut {
                query,
                after: self.config.faults.query_timeout,
            }),
            None => Ok(()),
        }
    }

    pub(super) fn answer_fills_since(
        &mut self,
        cursor: FillCursor,
        limit: usize,
    ) -> Result<FillPage, QueryError> {
        self.query_fault(QueryKind::Fills)?;
        Ok(self.fill_history.page(cursor, limit))
    }

    pub(super) fn answer_position(&mut self) -> Result<PositionReport, QueryError> {
        self.query_fault(QueryKind::Position)?;
        Ok(PositionReport::Reported {
            net_position: self.net_position,
            as_of: self.now,
        })
    }

    pub(super) fn answer_order_status(
        &mut self,
        order_id: OrderId,
    ) -> Result<OrderLookup, QueryError> {
        self.query_fault(QueryKind::Order)?;
        Ok(match self.orders.get(&order_id) {
            Some(kept) => OrderLookup::Found(kept.order.clone()),
            None => OrderLookup::NotFound { as_of: self.now },
        })
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use rust_decimal::Decimal;

    use super::*;
    use crate::venue::FaultKind;
    use snapstate::book::{Level, Place, Side};
    use snapstate::time::Timestamp;
    use snapstate::venue::{Venue, VenueOrderStatus};

    use crate::venue::{Faults, SimulatedVenueConfig};

    /// A still venue at 100 that has filled four buys of 1 at 100, 101, 102 and 103 (trade
    /// ids 1 to 4, one order each) by 10 ms.
    fn filled_venue() -> SimulatedVenue {
        let mut config = SimulatedVenueConfig::new(3, Timestamp::EPOCH, Decimal::from(100));
        config.price_interval = None;
        config.partial_fill_probability = 0.0;
        let mut venue = SimulatedVenue::new(config).expect("valid");
        for id in 1..=4_u64 {
            let price = Decimal::from(99 + id);
            venue
                .place(&Place {
                    order_id: OrderId(id),
                    level: Level(i32::try_from(id).expect("small")),
                    side: Side::Buy,
                    price,
                    quantity: Decimal::ONE,
                    at: Timestamp::from_millis(id),
                })
                .expect("placed");
        }
        venue.advance_to(Timestamp::from_millis(10));
        venue
    }

    fn trade_ids(page: &FillPage) -> Vec<u64> {
        page.fills.iter().map(|fill| fill.trade_id).collect()
    }

    #[test]
    fn the_history_pages_by_trade_id_until_it_ends() {
        let mut venue = filled_venue();
        let first = venue
            .fills_since(FillCursor::Beginning, 3)
            .expect("answered");
        assert_eq!(trade_ids(&first), [1, 2, 3]);
        assert_eq!(first.next, Some(FillCursor::AfterTrade(3)));
        let second = venue
            .fills_since(first.next.expect("more"), 3)
            .expect("answered");
        assert_eq!(trade_ids(&second), [4]);
        assert_eq!(second.next, None, "the history ends here");
        assert_eq!(second.fills[0].cumulative_filled, Decimal::ONE);
        let since = venue
            .fills_since(FillCursor::Since(Timestamp::from_millis(3)), 10)
            .expect("answered");
        assert_eq!(trade_ids(&since), [3, 4]);
    }

    #[test]
    fn a_short_history_forgets_the_oldest_fills_and_says_where_it_starts() {
        let mut venue = filled_venue();
        venue.set_fill_history_limit(2);
        let page = venue
            .fills_since(FillCursor::Beginning, 10)
            .expect("answered");
        assert_eq!(trade_ids(&page), [3, 4]);
        assert_eq!(page.oldest_kept_trade_id, Some(3));
        // The position still counts every fill: it is older than the history.
        assert_eq!(
            venue.position().expect("answered").net_position(),
            Some(Decimal::from(4))
        );
    }

    #[test]
    fn an_order_is_found_while_remembered_and_not_found_otherwise() {
        let mut venue = filled_venue();
        match venue.order_status(OrderId(2)).expect("answered") {
            OrderLookup::Found(order) => assert_eq!(order.status, VenueOrderStatus::Filled),
            other => panic!("expected found, got {other:?}"),
        }
        assert!(matches!(
            venue.order_status(OrderId(99)).expect("answered"),
            OrderLookup::NotFound { .. }
        ));
    }

    #[test]
    fn failing_queries_return_errors_never_empty_answers() {
        let mut venue = filled_venue();
        venue
            .set_faults(Faults {
                query_failure_rate: 1.0,
                ..Faults::none()
            })
            .expect("valid");
        let fills = venue.fills_since(FillCursor::Beginning, 10);
        assert!(matches!(
            fills,
            Err(QueryError::Failed {
                query: QueryKind::Fills,
                ..
            })
        ));
        assert!(venue.position().is_err());
        assert!(venue.order_status(OrderId(1)).is_err());
        assert_eq!(venue.fault_counts().get(FaultKind::QueryFailed), 3);
    }
}
