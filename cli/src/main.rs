//! The `snapstate` command: thin over the library.

use std::error::Error;
use std::io::{self, Write};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use snapstate_cli::bench::BenchArgs;
use snapstate_cli::replay::ReplayArgs;
use snapstate_cli::simulate::SimulateArgs;

/// Counts the bytes the process has allocated, for `snapstate bench`'s memory figures.
#[global_allocator]
static ALLOCATOR: cap::Cap<std::alloc::System> = cap::Cap::new(std::alloc::System, usize::MAX);

/// A lock-free copy-on-write state engine for a market maker's orders and inventory.
///
/// Without a subcommand, runs `simulate` with the options given.
#[derive(Debug, Parser)]
#[command(
    name = "snapstate",
    version,
    about,
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    simulate: SimulateArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a grid market maker against a simulated venue with faults, through the engine, with
    /// the reconciler correcting what the faults broke; then report (the default).
    Simulate(SimulateArgs),
    /// Replay a recorded order stream (JSON Lines) through the engine, reconciling at each
    /// venue snapshot; print every finding and the final book.
    Replay(ReplayArgs),
    /// Run the deterministic fault-injection simulation: one seed with its report, or a range.
    SimCheck(snapstate_sim::check::SimCheckArgs),
    /// Recover a journal directory read-only and print what it holds (last_seq, state_digest,
    /// the book in short); exits 4 naming the file and byte offset if it is damaged.
    Recover(snapstate_cli::recover::RecoverArgs),
    /// Compare snapstate with the designs a user would otherwise pick, on one workload.
    Bench(BenchArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // A closed standard stream ends the command quietly, however the write was made.
    match snapstate_cli::output::run_quietly_on_closed_output(|| run(cli)) {
        Ok(code) | Err(code) => ExitCode::from(code),
    }
}

/// Runs the command; its exit status.
fn run(cli: Cli) -> u8 {
    let result: Result<(), Box<dyn Error>> =
        match cli.command.unwrap_or(Command::Simulate(cli.simulate)) {
            Command::Simulate(args) => snapstate_cli::simulate::run(&args).map_err(Into::into),
            Command::Replay(args) => snapstate_cli::replay::run(&args).map_err(Into::into),
            Command::SimCheck(args) => snapstate_sim::check::run_check(&args),
            Command::Recover(args) => snapstate_cli::recover::run(&args).map_err(Into::into),
            Command::Bench(args) => bench(&args),
        };
    match result {
        Ok(()) => 0,
        Err(error) if snapstate_cli::output::is_closed_output(error.as_ref()) => {
            snapstate_cli::output::EXIT_CLOSED_OUTPUT
        }
        Err(error) => {
            report(error.as_ref());
            snapstate_cli::exit_code(error.as_ref())
        }
    }
}

/// Prints an error and its causes on stderr; a stderr that cannot be written to is not
/// reported anywhere (the exit status still says the command failed).
fn report(error: &(dyn Error + 'static)) {
    let mut stderr = io::stderr().lock();
    let _ = writeln!(stderr, "error: {error}");
    for cause in snapstate_cli::output::chain(error).skip(1) {
        let _ = writeln!(stderr, "  caused by: {cause}");
    }
}

/// `snapstate bench`, with the counting allocator's reading for the memory figures.
fn bench(args: &BenchArgs) -> Result<(), Box<dyn Error>> {
    snapstate_cli::bench::run(args, Some(|| ALLOCATOR.allocated()))
}
