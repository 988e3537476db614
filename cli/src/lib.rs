//! The snapstate command's library: argument parsing, output and the metrics exporter around
//! `replay`, and the thin layers over the simulator (`snapstate-sim`: `simulate`, `sim-check`)
//! and the benchmarks (`snapstate-bench`: `bench`).

pub mod bench;
pub mod metrics_endpoint;
pub mod output;
pub mod recover;
pub mod replay;
pub mod simulate;
pub mod units;

/// The command's exit status for an error: [`replay::EXIT_INVALID_INPUT`] when a replay stopped
/// at an invalid line, [`recover::EXIT_JOURNAL_REFUSED`] when `recover` found the journal
/// damaged or foreign, 1 for every other failure. (Clap exits with 2 for a usage error.)
pub fn exit_code(error: &(dyn std::error::Error + 'static)) -> u8 {
    if error
        .downcast_ref::<recover::RecoverError>()
        .is_some_and(recover::RecoverError::is_refused)
    {
        return recover::EXIT_JOURNAL_REFUSED;
    }
    match error.downcast_ref::<replay::ReplayError>() {
        Some(replay::ReplayError::InvalidLine(_)) => replay::EXIT_INVALID_INPUT,
        _ => 1,
    }
}
