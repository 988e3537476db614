//! The `snapstate` command: thin over the library.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// A lock-free copy-on-write state engine for a market maker's orders and inventory.
#[derive(Debug, Parser)]
#[command(name = "snapstate", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Drive the engine with a grid of orders and check every snapshot (the default).
    Demo,
    /// Run the deterministic fault-injection simulation: one seed with its report, or a range.
    SimCheck(snapstate_cli::sim::SimCheckArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command.unwrap_or(Command::Demo) {
        Command::Demo => snapstate_cli::demo::run(),
        Command::SimCheck(args) => snapstate_cli::sim::run_check(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}
