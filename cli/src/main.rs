//! The `snapstate` command: thin over the library.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Counts the bytes the process has allocated, for `snapstate bench`'s memory figures.
#[global_allocator]
static ALLOCATOR: cap::Cap<std::alloc::System> = cap::Cap::new(std::alloc::System, usize::MAX);

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
    /// Compare snapstate with the designs a user would otherwise pick, on one workload.
    Bench(snapstate_cli::bench::BenchArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command.unwrap_or(Command::Demo) {
        Command::Demo => snapstate_cli::demo::run(),
        Command::Bench(args) => snapstate_cli::bench::run(&args, Some(|| ALLOCATOR.allocated())),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}
