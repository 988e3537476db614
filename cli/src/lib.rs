//! The snapstate command's library: the workloads behind `simulate`, `replay` and `bench`, kept
//! out of the engine library so that an embedder never pays for them.

pub mod format;
pub mod market_maker;
pub mod replay;
pub mod simulate;
pub mod units;

