//! `snapstate replay`: recorded order streams through the engine, with reconciliation at each
//! venue snapshot.

pub mod binance;
pub mod lines;
