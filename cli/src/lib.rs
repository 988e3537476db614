//! The snapstate command's library: the workloads behind `simulate`, `replay` and `bench`, kept
//! out of the engine library so that an embedder never pays for them.

pub mod bench;
pub mod format;
pub mod market_maker;
pub mod metrics_endpoint;
pub mod output;
pub mod replay;
pub mod sim;
pub mod simulate;
pub mod units;

/// The command's exit status for an error: [`replay::EXIT_INVALID_INPUT`] when a replay stopped
/// at an invalid line, 1 for every other failure. (Clap exits with 2 for a usage error.)
pub fn exit_code(error: &(dyn std::error::Error + 'static)) -> u8 {
    match error.downcast_ref::<replay::ReplayError>() {
        Some(replay::ReplayError::InvalidLine(_)) => replay::EXIT_INVALID_INPUT,
        _ => 1,
    }
}
