//! What one simulated run does: its seed, its faults, how long it trades, how it steps and how
//! often it reconciles, and the bound on convergence that follows from those.

use std::time::Duration;

use crate::venue::{Faults, SimulatedVenueConfig};
use rust_decimal::Decimal;
use snapstate::book::{Grid, Level};
use snapstate::reconcile::ReconcileConfig;
use snapstate::time::Timestamp;

use super::CrashConfig;
use crate::market_maker::MarketMakerConfig;

/// The two scenarios the command line and CI run for a seed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scenario {
    /// Every fault kind the simulated venue can inject, at [`Scenario::ci_faults`]' rates.
    Faults,
    /// A truthful venue: the run must end without a single confirmed mismatch or correction.
    FaultFree,
    /// [`Scenario::Faults`], and the engine crashes while trading ([`SimConfig::crash`]):
    /// it is recovered from its journal and runs the startup reconciliation.
    Crashes,
}

impl Scenario {
    /// The fault rates of [`Scenario::Faults`]: every kind, often enough that a ten-second run
    /// injects each several times, rarely enough that the market maker still trades.
    pub fn ci_faults() -> Faults {
        Faults {
            delay_rate: 0.1,
            max_extra_delay: Duration::from_millis(300),
            duplicate_rate: 0.05,
            reorder_rate: 0.05,
            drop_rate: 0.05,
            omit_just_closed_rate: 0.1,
            query_failure_rate: 0.05,
            query_timeout_rate: 0.05,
            fill_only_in_view_rate: 0.05,
            ..Faults::none()
        }
    }

    /// A stable name for reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Scenario::Faults => "faults",
            Scenario::FaultFree => "fault-free",
            Scenario::Crashes => "crashes",
        }
    }
}

/// Everything that determines one run. The same configuration gives the same run, step for
/// step, and the same [`RunReport`](super::RunReport).
#[derive(Clone, Debug, PartialEq)]
pub struct SimConfig {
    /// Seeds the venue's market and fault streams (the harness itself draws nothing).
    pub seed: u64,
    /// Which preset this configuration started from; with [`SimConfig::replay_command`], says
    /// how to rerun it from the command line.
    pub scenario: Scenario,
    /// What goes wrong while the market maker trades. Faults stop when trading stops.
    pub faults: Faults,
    /// How long the market maker trades (with faults) before the market is halted.
    pub trading: Duration,
    /// Simulated time per step while trading: the market maker decides, the venue delivers
    /// updates, and the engine applies everything, once per step
    /// ([`World::step`](crate::world::World::step)).
    pub step: Duration,
    /// A reconciliation cycle runs every this many steps while trading, and every cycle
    /// interval (`step * steps_per_cycle`) after.
    pub steps_per_cycle: u32,
    /// The reconciler's thresholds and policies.
    pub reconcile: ReconcileConfig,
    /// How the market maker quotes.
    pub maker: MarketMakerConfig,
    /// How often the venue refuses a valid order (normal venue behaviour, not a fault).
    pub reject_probability: f64,
    /// How long an order lives at the venue before it expires; `None`: until cancelled.
    pub time_in_force: Option<Duration>,
    /// Crashes while trading, with the engine journaled on a simulated disk; `None`: no
    /// journal, no crash.
    pub crash: Option<CrashConfig>,
}

/// Where every run starts: 2023-11-14, so that times print as plausible epochs.
pub const START: Timestamp = Timestamp::from_millis(1_700_000_000_000);

/// The venue's price when a run starts; the grid is centred on it.
pub fn initial_price() -> Decimal {
    Decimal::from(100)
}

/// The price grid: levels −190 to 190, half a unit apart (the venue's price step), so that
/// every price move crosses a level and a random walk of ten seconds stays well inside.
pub fn grid() -> Grid {
    Grid::new(initial_price(), Decimal::new(5, 1), Level(-190), Level(190))
        .expect("a fixed, valid grid")
}

impl SimConfig {
    /// The preset for `scenario` and `seed`: what CI runs and `snapstate sim-check` replays.
    ///
    /// Ten seconds of trading in 50 ms steps (the venue's price moves every 10 ms), a
    /// reconciliation every 250 ms, the reconciler's default thresholds (5 s in-flight grace,
    /// 3 absences, 2 observations), orders of 4 so that fills come in parts; on odd seeds,
    /// orders expire after 2 s unless filled or cancelled first.
    pub fn new(scenario: Scenario, seed: u64) -> Self {
        let faults = match scenario {
            Scenario::Faults | Scenario::Crashes => Scenario::ci_faults(),
            Scenario::FaultFree => Faults::none(),
        };
        Self {
            seed,
            scenario,
            faults,
            trading: Duration::from_secs(10),
            step: Duration::from_millis(50),
            steps_per_cycle: 5,
            reconcile: ReconcileConfig::default(),
            maker: MarketMakerConfig {
                quantity: Decimal::from(4),
                ..MarketMakerConfig::default()
            },
            reject_probability: 0.02,
            // Odd seeds: orders expire after 2 s, so expiries (and faults on them) happen while
            // trading. Even seeds: good till cancelled, so an order lives long enough for a lost
            // acknowledgement to be confirmed and repaired (which takes the 5 s grace window).
            time_in_force: (seed % 2 == 1).then_some(Duration::from_secs(2)),
            crash: (scenario == Scenario::Crashes).then(CrashConfig::default),
        }
    }

    /// The simulated venue this run trades on.
    pub fn venue_config(&self) -> SimulatedVenueConfig {
        let mut venue = SimulatedVenueConfig::new(self.seed, START, initial_price());
        venue.reject_probability = self.reject_probability;
        venue.time_in_force = self.time_in_force;
        venue.faults = self.faults.clone();
        venue
    }

    /// How many steps the market maker trades: `trading` in whole steps, rounded up.
    pub fn trading_steps(&self) -> u64 {
        let step = self.step.as_nanos().max(1);
        u64::try_from(self.trading.as_nanos().div_ceil(step)).unwrap_or(u64::MAX)
    }

    /// The time between reconciliation cycles.
    pub fn cycle_interval(&self) -> Duration {
        self.step * self.steps_per_cycle.max(1)
    }

    /// The longest an order update can be in flight: the venue's normal delay plus, when
    /// updates may be delayed, the longest injected extra delay. (A reordered update moves to
    /// the delivery time of the one that overtook it, which is no later than this.)
    pub fn longest_in_flight(&self) -> Duration {
        let extra = if self.faults.delay_rate > 0.0 {
            self.faults.max_extra_delay
        } else {
            Duration::ZERO
        };
        self.venue_config().update_delay + extra
    }

    /// How many reconciliation cycles after the halt the book may take to agree with the
    /// venue's truth for good.
    ///
    /// After the halt (time `T`) faults stop and the price holds still, so nothing fills any
    /// more; orders still live expire within the time in force `F` (if any), and those
    /// updates arrive fault-free, `d` (the venue's normal delay) later. Updates sent before the
    /// halt arrive by `T + D`, `D` = [`longest_in_flight`]. So every order's last change, on
    /// either side, is before `T + E`, `E = max(D, F + d)`. From then on an order can differ
    /// from the venue only through information that never arrived, and each such order needs
    /// at most two corrections: one for its fills (a missed fill, which also moves a pending
    /// order on) and then one for its status (a missed acknowledgement, or marking it lost
    /// when the venue has finished it). One correction per order per cycle, the fill first,
    /// because the diff puts it first.
    ///
    /// A correction is sent at the first cycle at which its difference is confirmed: both
    /// sides quiet for the grace window `g`, and seen in enough consecutive answers, which at
    /// one answer per cycle `c` takes `k·c` (`k` the larger threshold). So it is sent before
    /// `L + G + c`, where `L` is the order's last change and `G = max(g, k·c)`. The first
    /// correction is itself the order's last change for the second. Hence every correction is
    /// applied before `T + E + 2·(G + c)`, that is within `ceil((E + 2·(G + c)) / c)` cycles
    /// of the halt. No answer fails after the halt, and nothing else writes to the book, so no
    /// correction can be refused as stale and none has to wait for a retry.
    ///
    /// [`longest_in_flight`]: Self::longest_in_flight
    pub fn convergence_bound_cycles(&self) -> u64 {
        let cycle = self.cycle_interval();
        let confirmations = self
            .reconcile
            .absences_before_missing
            .max(self.reconcile.observations_before_confirmed);
        let confirm = self.reconcile.in_flight_grace.max(cycle * confirmations);
        let last_expiry = self.time_in_force.map_or(Duration::ZERO, |time_in_force| {
            time_in_force + self.venue_config().update_delay
        });
        let last_change = self.longest_in_flight().max(last_expiry);
        let window = last_change + 2 * (confirm + cycle);
        u64::try_from(window.as_nanos().div_ceil(cycle.as_nanos().max(1))).unwrap_or(u64::MAX)
    }

    /// How many clean cycles must follow convergence: long enough for any difference still
    /// there to be confirmed and acted on (a grace window, plus the answers a missing order
    /// needs), so that a run that merely looked converged for a moment fails.
    pub fn confirmation_cycles(&self) -> u64 {
        let cycle = self.cycle_interval().as_nanos().max(1);
        let grace = self.reconcile.in_flight_grace.as_nanos().div_ceil(cycle);
        let answers = u128::from(self.reconcile.absences_before_missing);
        u64::try_from(grace + answers).unwrap_or(u64::MAX)
    }

    /// The longest simulated time the run can take: trading, then the bound, then the
    /// confirmation cycles. It must stay within the book's tombstone retention, or the book
    /// would forget finished orders that the venue still remembers, and the comparison with
    /// the venue's truth would no longer mean anything.
    pub fn longest_run(&self) -> Duration {
        let cycles = self
            .convergence_bound_cycles()
            .saturating_add(self.confirmation_cycles());
        let settle = self
            .cycle_interval()
            .saturating_mul(u32::try_from(cycles).unwrap_or(u32::MAX));
        let expiries = self.time_in_force.unwrap_or(Duration::ZERO);
        self.trading.saturating_add(settle).saturating_add(expiries)
    }

    /// The command that replays this run, if it is a preset the command line can rebuild
    /// from its seed; `None` for a configuration changed after [`SimConfig::new`].
    pub fn replay_command(&self) -> Option<String> {
        if *self != Self::new(self.scenario, self.seed) {
            return None;
        }
        let flag = match self.scenario {
            Scenario::Faults => "",
            Scenario::FaultFree => " --fault-free",
            Scenario::Crashes => " --crash",
        };
        Some(format!(
            "cargo run --release -- sim-check --seed {}{flag}",
            self.seed
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_preset_bound_follows_the_delays_the_time_in_force_and_the_grace_window() {
        // D = 305 ms, G = 5 s, c = 250 ms: ceil(10.805 / 0.25) = 44.
        let even = SimConfig::new(Scenario::Faults, 2);
        assert_eq!(even.time_in_force, None);
        assert_eq!(even.convergence_bound_cycles(), 44);
        assert_eq!(even.confirmation_cycles(), 23);
        // E = max(305 ms, 2 s + 5 ms): ceil(12.505 / 0.25) = 51.
        let odd = SimConfig::new(Scenario::Faults, 3);
        assert_eq!(odd.time_in_force, Some(Duration::from_secs(2)));
        assert_eq!(odd.convergence_bound_cycles(), 51);
        let mut slower = even.clone();
        slower.reconcile.in_flight_grace = Duration::from_secs(10);
        assert_eq!(slower.convergence_bound_cycles(), 84);
        // Without delays, D is the venue's 5 ms: ceil(10.505 / 0.25) = 43.
        assert_eq!(
            SimConfig::new(Scenario::FaultFree, 2).convergence_bound_cycles(),
            43
        );
        // Odd seeds expire orders after 2 s with or without faults: the same 51 as above.
        assert_eq!(
            SimConfig::new(Scenario::FaultFree, 3).convergence_bound_cycles(),
            51
        );
    }

    #[test]
    fn only_presets_have_a_replay_command() {
        let preset = SimConfig::new(Scenario::FaultFree, 7);
        assert_eq!(
            preset.replay_command().as_deref(),
            Some("cargo run --release -- sim-check --seed 7 --fault-free")
        );
        let mut changed = preset;
        changed.trading = Duration::from_secs(1);
        assert_eq!(changed.replay_command(), None);
    }
}
