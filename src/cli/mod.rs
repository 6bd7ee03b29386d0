//! Subcommands. Add a command as a variant of [`Command`] plus a module of its own.

use clap::{Parser, Subcommand};

pub mod dump;
pub mod inspect;
pub mod tree_args;

/// A command's failure: one line for the user and the exit status.
pub struct Failure {
    pub message: String,
    pub code: i32,
}

impl Failure {
    /// Bad or unreadable input (exit status 2).
    pub fn input(e: impl std::fmt::Display) -> Self {
        Failure {
            message: e.to_string(),
            code: 2,
        }
    }
    /// Anything else: usage, I/O on our own outputs (exit status 1).
    pub fn other(e: impl std::fmt::Display) -> Self {
        Failure {
            message: e.to_string(),
            code: 1,
        }
    }
}

pub type CliResult = Result<(), Failure>;

#[derive(Parser)]
#[command(
    name = "savepointfs",
    version,
    about = "Flink 1.1 savepoints, served in Flink 1.2 form"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Show a Java serialization stream (or list the blobs of a Flink 1.1 savepoint).
    Dump(dump::DumpArgs),
    /// Summarize a Flink 1.1 savepoint: tasks, subtasks, chain entries, state handles.
    Inspect(inspect::InspectArgs),
}

pub fn run(cli: Cli) -> CliResult {
    match cli.command {
        Command::Dump(args) => dump::run(args),
        Command::Inspect(args) => inspect::run(args),
    }
}
