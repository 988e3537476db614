//! snapstate's simulator: a deterministic, fault-injecting venue, a grid market maker, the
//! world that steps them through the engine and the reconciler, and the two drivers that step
//! it.
//!
//! - [`venue`]: [`SimulatedVenue`](venue::SimulatedVenue), an exchange in memory, deterministic
//!   for a seed, with injected faults.
//! - [`market_maker`]: the grid market maker that quotes around the venue's price.
//! - [`world`]: the [`World`](world::World) (venue, engine, market maker, reconciler) and its
//!   one [`step`](world::World::step); each driver only chooses its clock.
//! - [`run`]: the wall-clock run behind `snapstate simulate` (the demo and its report).
//! - [`check`]: the deterministic checker behind `snapstate sim-check` (a manual clock, every
//!   step checked, convergence after the faults stop).
//!
//! The simulator lives outside the library so that its randomness (`rand`) and its drivers
//! never reach an embedder's build.

pub mod check;
pub mod format;
pub mod market_maker;
pub mod run;
pub mod venue;
pub mod world;
