//! Why a simulated run failed, with its seed and the command that replays it.

use std::fmt;

use snapstate::time::Timestamp;

use super::{Scenario, SimConfig};

/// A failed run: which seed, when in simulated time, what broke, and how to replay it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimFailure {
    /// The run's seed.
    pub seed: u64,
    /// The scenario it ran.
    pub scenario: Scenario,
    /// The command that replays the run, if its configuration is a preset (see
    /// [`SimConfig::replay_command`]).
    pub replay: Option<String>,
    /// The simulated time at which the check failed.
    pub at: Timestamp,
    /// What broke.
    pub reason: FailureReason,
    /// How far the run had got (empty if it failed while being set up).
    pub progress: String,
}

impl SimFailure {
    pub(crate) fn new(config: &SimConfig, at: Timestamp, reason: FailureReason) -> Self {
        Self {
            seed: config.seed,
            scenario: config.scenario,
            replay: config.replay_command(),
            at,
            reason,
            progress: String::new(),
        }
    }
}

impl fmt::Display for SimFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "seed {} ({}) failed at {}: {}",
            self.seed,
            self.scenario.as_str(),
            self.at,
            self.reason
        )?;
        if !self.progress.is_empty() {
            write!(f, "\n  {}", self.progress)?;
        }
        match &self.replay {
            Some(command) => write!(f, "\n  replay: {command}"),
            None => write!(
                f,
                "\n  replay: not a preset configuration; rerun it with snapstate_sim::check::run"
            ),
        }
    }
}

impl std::error::Error for SimFailure {}

/// What a failed check found.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FailureReason {
    /// The run could not be set up (a configuration the library refused).
    #[error("setup: {0}")]
    Setup(String),
    /// The engine stopped, or refused a submission, a flush or a cycle.
    #[error("engine: {0}")]
    Engine(String),
    /// The venue refused a placement, a cancel or a change of settings that it should take.
    #[error("venue: {0}")]
    Venue(String),
    /// A snapshot broke the book's invariants, or its counters do not account for every
    /// command sent.
    #[error("invariant: {0}")]
    Invariant(String),
    /// The engine reported an outcome the pure book does not give for the same command.
    #[error("the engine diverged from the pure book: {0}")]
    Diverged(String),
    /// The book refused a command the market maker, the venue or the reconciler sent.
    #[error("the book rejected a command: {0}")]
    Rejected(String),
    /// A venue query gave no answer, yet the reconciler's evidence changed.
    #[error("a failed or timed-out query changed the reconciler's evidence")]
    EvidenceChangedWithoutAnswer,
    /// The book did not agree with the venue's truth within the bound.
    #[error("not converged {cycles} cycles after the halt (bound {bound}): {}", .differences.join("; "))]
    NotConverged {
        /// Cycles run after the halt.
        cycles: u64,
        /// The bound ([`SimConfig::convergence_bound_cycles`]).
        bound: u64,
        /// What still differs, by order.
        differences: Vec<String>,
    },
    /// After converging, the book moved away from the venue's truth or the reconciler still
    /// found or did something.
    #[error("unsettled after convergence: {0}")]
    Unsettled(String),
    /// A fault was not resolved by the end of the run, or the journal and the counters
    /// disagree about what was injected.
    #[error("unresolved faults: {0}")]
    Unresolved(String),
    /// A run without faults confirmed a mismatch, corrected something, or saw a stale or
    /// duplicate update.
    #[error("a fault-free run was not clean: {0}")]
    NotClean(String),
    /// Two counters that must agree do not.
    #[error("counters disagree: {0}")]
    Counters(String),
}
