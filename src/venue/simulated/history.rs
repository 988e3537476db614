//! The simulated venue's answers to the startup queries: its fill history (bounded, paged by
//! trade id), its position, and one order by id.
//!
//! Each query fails or times out at the same rates as an open-orders query
//! ([`Faults::query_failure_rate`](super::Faults::query_failure_rate),
//! [`Faults::query_timeout_rate`](super::Faults::query_timeout_rate)), drawn from the fault
//! stream only when the query is asked, so runs that never ask see the same faults as before.

use std::collections::VecDeque;

use rand::RngExt;

use crate::book::OrderId;
use crate::venue::{
    FillCursor, FillPage, OrderLookup, PositionReport, QueryError, QueryKind, VenueFill,
};

use super::{FaultKind, FaultSubject, SimulatedVenue};

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
        let failed = self
            .fault_rng
            .random_bool(self.config.faults.query_failure_rate);
        let timed_out = self
            .fault_rng
            .random_bool(self.config.faults.query_timeout_rate);
        if failed {
            self.fault_record
                .record(FaultKind::QueryFailed, self.now, || FaultSubject::Query);
            return Err(QueryError::Failed {
                query,
                reason: "injected failure".to_owned(),
            });
        }
        if timed_out {
            self.fault_record
                .record(FaultKind::QueryTimedOut, self.now, || FaultSubject::Query);
            return Err(QueryError::TimedOut {
                query,
                after: self.config.faults.query_timeout,
            });
        }
        Ok(())
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
