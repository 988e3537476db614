//! The snapstate command's library: the workloads behind `simulate`, `replay` and `bench`, kept
//! out of the engine library so that an embedder never pays for them.

pub mod demo;
pub mod market_maker;
pub mod replay;
pub mod sim;
