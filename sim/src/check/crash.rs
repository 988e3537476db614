//! Crashes in the deterministic simulation (`sim-check --crash`): when the engine dies, what
//! its journal's disk keeps, and the figures a crashed run reports.
//!
//! A run with [`SimConfig::crash`](super::SimConfig::crash) set journals into a
//! [`SimulatedStorage`](snapstate::journal::SimulatedStorage). At the steps its
//! [`CrashSchedule`] names (drawn from the seed), right after the step:
//!
//! 1. the harness waits until the journal thread has taken every published batch
//!    ([`flush_durable`](snapstate::engine::WriteHandle::flush_durable): under
//!    [`SyncPolicy::Os`] that means written, not synced), so that what the disk holds does not
//!    depend on thread timing;
//! 2. the disk crashes: everything not synced is lost, except, when the crash tears, a prefix
//!    of the unsynced bytes in the order they were written, cut anywhere (a torn record); or,
//!    for a crash that is a kill (`kill -9`, the machine staying up), nothing is lost: the
//!    operating system keeps what was written, synced or not, and recovery must find every
//!    record and make it durable before counting it so, which a later crash in the same run
//!    then checks;
//! 3. the engine is dropped without a shutdown (its threads find the disk gone), and a new one
//!    is recovered from what survived ([`Engine::recover`](snapstate::engine::Engine::recover),
//!    same storage, same configuration); the recovered book must equal the pure book replayed
//!    to the recovered sequence number;
//! 4. the engine stays down for the crash's downtime: the venue trades on, and the updates it
//!    sends meanwhile are lost, as they would be to a dead process;
//! 5. the startup reconciliation ([`snapstate::reconcile::startup::run`]) runs against the
//!    venue until it is complete (a failed query makes it incomplete: it is retried one cycle
//!    later, with updates flowing, and trading waits); the reconciler restarts with no
//!    evidence; trading resumes.
//!
//! The journal syncs every batch on some seeds and leaves syncing to the operating system
//! ([`SyncPolicy::Os`]) on the others, so that a crash loses records on those: everything
//! written since the segment was started (segments are small, and a new one starts with a
//! sync). `SyncPolicy::Interval` is not drawn: it syncs by the wall clock, so what a crash
//! loses would depend on thread timing, and the figures would not replay.

use std::collections::BTreeMap;
use std::time::Duration;

use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};
use serde::Serialize;
use snapstate::journal::SyncPolicy;

/// Mixed into the seed so that the crash schedule's stream differs from the venue's streams.
const SCHEDULE_STREAM: u64 = 0x6372_6173_6820_7331;

/// Mixed into the seed for the draws of which crashes are kills: a stream of its own, so that
/// the schedule's other draws are those they were before kills were drawn.
const KILL_STREAM: u64 = 0x6b69_6c6c_2073_7431;

/// How often and how hard a run crashes.
#[derive(Clone, Debug, PartialEq)]
pub struct CrashConfig {
    /// The fewest crashes per run.
    pub crashes_min: u32,
    /// The most crashes per run (each at its own step; fewer when steps run out).
    pub crashes_max: u32,
    /// The longest the engine stays down after a crash; each crash draws its downtime from
    /// zero to this, in whole steps.
    pub max_downtime: Duration,
    /// The probability that a seed's journal leaves syncing to the operating system
    /// ([`SyncPolicy::Os`]) rather than syncing every batch.
    pub os_sync_probability: f64,
    /// The probability that a crash tears: the disk keeps a part of the unsynced writes.
    pub tear_probability: f64,
    /// The probability that a crash that does not tear is instead the process being killed
    /// while the machine stays up: the disk keeps everything written, synced or not.
    pub kill_probability: f64,
    /// The journal's segment size (small, so that runs start new segments).
    pub segment_bytes: u64,
    /// The most startup passes after one crash before the run fails (each retry waits a cycle).
    pub max_startup_passes: u32,
}

impl Default for CrashConfig {
    /// One to three crashes per run, down for up to a second, half the seeds on
    /// [`SyncPolicy::Os`], half the crashes torn and half of the others kills, 64 KiB
    /// segments, 20 startup passes at most.
    fn default() -> Self {
        Self {
            crashes_min: 1,
            crashes_max: 3,
            max_downtime: Duration::from_secs(1),
            os_sync_probability: 0.5,
            tear_probability: 0.5,
            kill_probability: 0.5,
            segment_bytes: 64 << 10,
            max_startup_passes: 20,
        }
    }
}

/// One crash: after which trading step, how long the engine stays down, and whether it is a
/// kill (nothing lost) or else whether the disk tears (the fraction of the unsynced bytes it
/// keeps).
#[derive(Clone, Debug, PartialEq)]
pub struct PlannedCrash {
    /// The trading step (from 0) after which the engine crashes.
    pub after_step: u64,
    /// Steps the engine stays down.
    pub downtime_steps: u64,
    /// `Some(fraction)`: the disk keeps that fraction of the unsynced bytes, in write order.
    /// Never set for a kill.
    pub tear: Option<f64>,
    /// The process is killed and the machine stays up: nothing written is lost.
    pub kill: bool,
}

/// A run's crashes and its journal's sync policy, drawn from the seed.
#[derive(Clone, Debug, PartialEq)]
pub struct CrashSchedule {
    /// The journal's sync policy for the whole run.
    pub sync: SyncPolicy,
    /// The crashes, in step order, none within the downtime of the one before.
    pub crashes: Vec<PlannedCrash>,
}

impl CrashSchedule {
    /// Draws the schedule of a run of `trading_steps` steps of `step` each. The same
    /// arguments give the same schedule.
    pub fn draw(config: &CrashConfig, seed: u64, trading_steps: u64, step: Duration) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ SCHEDULE_STREAM);
        let mut kills = ChaCha8Rng::seed_from_u64(seed ^ KILL_STREAM);
        let sync = if rng.random_bool(config.os_sync_probability.clamp(0.0, 1.0)) {
            SyncPolicy::Os
        } else {
            SyncPolicy::EveryBatch
        };
        let step_nanos = step.as_nanos().max(1);
        let max_downtime_steps =
            u64::try_from(config.max_downtime.as_nanos() / step_nanos).unwrap_or(u64::MAX);
        let count =
            rng.random_range(config.crashes_min..=config.crashes_max.max(config.crashes_min));
        let mut steps: Vec<u64> = (0..count)
            .filter(|_| trading_steps > 2)
            .map(|_| rng.random_range(1..trading_steps - 1))
            .collect();
        steps.sort_unstable();
        let mut crashes: Vec<PlannedCrash> = Vec::new();
        for after_step in steps {
            let downtime_steps = rng.random_range(0..=max_downtime_steps);
            let tear = rng
                .random_bool(config.tear_probability.clamp(0.0, 1.0))
                .then(|| rng.random_range(0.0..1.0));
            // Drawn for every crash, so that each crash's draw is its own whatever the tears.
            let kill = kills.random_bool(config.kill_probability.clamp(0.0, 1.0)) && tear.is_none();
            // One crash per step: a second crash at the same step would find nothing new.
            if crashes
                .last()
                .is_some_and(|last| last.after_step >= after_step)
            {
                continue;
            }
            crashes.push(PlannedCrash {
                after_step,
                downtime_steps,
                tear,
                kill,
            });
        }
        Self { sync, crashes }
    }
}

/// What a run's crashes did. Two runs of the same configuration give equal figures.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CrashFigures {
    /// The journal's sync policy (`every_batch` or `os`).
    pub sync_policy: &'static str,
    /// Crashes, kills included.
    pub crashes: u64,
    /// Crashes that were kills (the machine stayed up: nothing written was lost).
    pub kills: u64,
    /// Journal records (commands) visible before a crash and lost with the unsynced writes.
    pub records_lost_unsynced: u64,
    /// Recoveries that found a torn final record and truncated it.
    pub torn_tails: u64,
    /// Bytes of torn records truncated.
    pub torn_bytes: u64,
    /// Venue updates sent while the engine was down, and so lost.
    pub updates_lost_while_down: u64,
    /// Placements whose journal record was lost (the venue still had the orders).
    pub placements_lost: u64,
    /// Venue updates refused as about an unknown order: orders whose placement was lost and
    /// that the venue finished before the startup pass and that it did not adopt (it adopts
    /// live orders, and finished ones with fills that the venue still lists).
    pub updates_unknown_after_crash: u64,
    /// Startup passes run (one per crash, plus retries).
    pub startup_passes: u64,
    /// Startup passes that were incomplete (a query failed) and retried.
    pub startup_retries: u64,
    /// Commands the startup passes sent, by kind (`adopt_order`, `adopt_position`,
    /// `correct_order/<correction>`).
    pub startup_corrections: BTreeMap<String, u64>,
}

impl CrashFigures {
    /// Adds `other`'s counts to these (the sync policy is per run and is not summed).
    pub fn add(&mut self, other: &CrashFigures) {
        self.crashes += other.crashes;
        self.kills += other.kills;
        self.records_lost_unsynced += other.records_lost_unsynced;
        self.torn_tails += other.torn_tails;
        self.torn_bytes += other.torn_bytes;
        self.updates_lost_while_down += other.updates_lost_while_down;
        self.placements_lost += other.placements_lost;
        self.updates_unknown_after_crash += other.updates_unknown_after_crash;
        self.startup_passes += other.startup_passes;
        self.startup_retries += other.startup_retries;
        for (kind, count) in &other.startup_corrections {
            *self.startup_corrections.entry(kind.clone()).or_default() += count;
        }
    }
}

impl std::fmt::Display for CrashFigures {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "crashes: {} ({} kills; {} records lost unsynced, {} torn tails of {} bytes, {} \
             placements lost, {} updates lost while down, {} refused as unknown after); startup \
             passes {} ({} retried); startup corrections:",
            self.crashes,
            self.kills,
            self.records_lost_unsynced,
            self.torn_tails,
            self.torn_bytes,
            self.placements_lost,
            self.updates_lost_while_down,
            self.updates_unknown_after_crash,
            self.startup_passes,
            self.startup_retries
        )?;
        if self.startup_corrections.is_empty() {
            return write!(f, " none");
        }
        for (index, (kind, count)) in self.startup_corrections.iter().enumerate() {
            let separator = if index == 0 { " " } else { ", " };
            write!(f, "{separator}{kind} {count}")?;
        }
        Ok(())
    }
}

/// The name of a sync policy in the figures.
pub(crate) fn policy_name(policy: SyncPolicy) -> &'static str {
    match policy {
        SyncPolicy::EveryBatch => "every_batch",
        SyncPolicy::Interval(_) => "interval",
        SyncPolicy::Os => "os",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schedule_is_a_function_of_the_seed_and_crashes_are_in_step_order() {
        let config = CrashConfig::default();
        let step = Duration::from_millis(50);
        let mut policies = BTreeMap::new();
        let mut kills = BTreeMap::new();
        for seed in 0..64 {
            let schedule = CrashSchedule::draw(&config, seed, 200, step);
            assert_eq!(schedule, CrashSchedule::draw(&config, seed, 200, step));
            assert!(!schedule.crashes.is_empty() && schedule.crashes.len() <= 3);
            for pair in schedule.crashes.windows(2) {
                assert!(pair[0].after_step < pair[1].after_step);
            }
            for crash in &schedule.crashes {
                assert!((1..199).contains(&crash.after_step));
                assert!(crash.downtime_steps <= 20);
                *kills.entry(crash.kill).or_insert(0) += 1;
            }
            *policies.entry(policy_name(schedule.sync)).or_insert(0) += 1;
        }
        // Both policies are drawn, and crashes both kills and not.
        assert_eq!(policies.len(), 2, "{policies:?}");
        assert_eq!(kills.len(), 2, "{kills:?}");
    }
}
