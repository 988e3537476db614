//! The wall-clock run behind `snapstate simulate`: a grid market maker against the simulated venue, through the engine,
//! with the reconciler running, then a report.
//!
//! # How a run goes
//!
//! 1. **Trading** (`--duration`, default 10 s). Every tick (`--tick`, default 1 ms) the driver
//!    takes one [`World::step`](crate::world::World::step) to the wall clock, the same step
//!    the deterministic checker takes: the
//!    [`GridMarketMaker`](crate::market_maker::GridMarketMaker) decides what to place and
//!    cancel given the latest snapshot and the venue's mid price; the venue advances to the
//!    wall clock and the order updates that are due (after the venue's latency and whatever the
//!    faults did to them) go to the engine, then the placements; the step waits for everything
//!    it submitted to become visible (a [`flush`](snapstate::engine::WriteHandle::flush)
//!    barrier: the submit-to-visible latency). Placements the book accepted then go to the
//!    venue; cancels go to the venue for orders the book still has live, each once, and their
//!    confirmations come back as updates. The venue is shared behind a mutex with the
//!    reconciler's [`Runner`](snapstate::reconcile::Runner), which compares a snapshot with the
//!    venue's open orders every `--reconcile-interval` and corrects what the faults broke.
//! 2. **Converging** (at most `--converge-timeout`). The venue stops injecting faults and its
//!    price stops moving, and the market maker stops trading ([`World::halt`](crate::world::World::halt)).
//!    The driver keeps stepping, which now only delivers the updates still in flight. The reconciler needs each remaining difference to be quiet for
//!    its grace window (`--grace`) and seen in consecutive answers before it corrects it, so
//!    the run waits until the book agrees with the venue's truth on every order and on the
//!    net position, checked every [`CONVERGENCE_CHECK_INTERVAL`].
//! 3. **Report**: throughput, submit-to-visible latency percentiles, reconciliation runs and
//!    their durations, mismatches by class, corrections applied and rejected as stale, faults
//!    injected, and the final positions against the venue's.
//!
//! With `--journal DIR` ([`Simulation::start_with`]) the engine is recovered from DIR before
//! trading (a fresh journal when DIR is empty), the startup reconciliation settles the recovered
//! book against the fresh venue before the runner starts, and the report adds the journal's
//! [`JournalReport`]: the final `last_seq`, `durable_seq` and state digest, and what recovery
//! found.
//!
//! The command exits with status 1 if the book still differs from the venue at the end.

pub mod compare;
pub mod driver;
pub mod progress;
pub mod report;
pub mod settings;
mod table;

pub use compare::{Comparison, OrderDifference, compare};
pub use driver::{CONVERGENCE_CHECK_INTERVAL, JournalSettings, RunError, Simulation};
pub use progress::{Progress, ProgressMode, Sample};
pub use report::{JournalReport, RecoveryFigures, Report, StartupFigures, latency_histogram};
pub use settings::{FaultSettings, Settings, SettingsError};
