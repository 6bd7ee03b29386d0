//! Subcommands. Add a command as a variant of [`Command`] plus a module of its own.

use clap::{Parser, Subcommand};

pub mod cat;
pub mod convert;
pub mod dump;
pub mod inspect;
mod inspect_modern;
pub mod ls;
pub mod mount;
pub mod status;
pub mod synth;
pub mod tree_args;
pub mod verify;

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
    /// Memory one decoded Java object graph may take (a subtask's state handles, an
    /// inline state stream); a bigger one is refused, naming its offset. Each serving
    /// thread of a mount, and its decoding-ahead thread, decodes at most one at a time.
    #[arg(long, global = true, value_name = "BYTES", value_parser = savepointfs::size::parse_size, default_value = "24MiB")]
    pub graph_memory: u64,
}

#[derive(Subcommand)]
pub enum Command {
    /// Show a Java serialization stream (or list the blobs of a Flink 1.1 savepoint).
    Dump(dump::DumpArgs),
    /// Summarize a Flink 1.1 savepoint: tasks, subtasks, chain entries, state handles.
    Inspect(inspect::InspectArgs),
    /// Mount a savepoint read-only (FUSE) in its converted form.
    Mount(mount::MountArgs),
    /// Unmount a savepointfs mount (also a dead one).
    Umount(mount::UmountArgs),
    /// Tell whether a mount is alive (exit 0), absent (1) or dead/not answering (3).
    Status(status::StatusArgs),
    /// List the converted tree without mounting it.
    Ls(ls::LsArgs),
    /// Write one file of the converted tree to stdout.
    Cat(cat::CatArgs),
    /// Write the whole converted tree (with _metadata) to a directory.
    Convert(convert::ConvertArgs),
    /// Decode everything, check external state files, read every converted file.
    Verify(verify::VerifyArgs),
    /// Write a synthetic Flink 1.1 savepoint of any shape and size.
    Synth(synth::SynthArgs),
    /// Wrap a Flink 1.1 operator snapshot (a test harness's StreamTaskState) into a
    /// one-vertex Flink 1.1 savepoint, so every command and the mount take it.
    Wrap(synth::WrapArgs),
}

pub fn run(cli: Cli) -> CliResult {
    savepointfs::javaser::set_default_max_bytes(
        usize::try_from(cli.graph_memory).unwrap_or(usize::MAX),
    );
    match cli.command {
        Command::Dump(args) => dump::run(args),
        Command::Inspect(args) => inspect::run(args),
        Command::Mount(args) => mount::run(args),
        Command::Umount(args) => mount::run_umount(args),
        Command::Status(args) => status::run(args),
        Command::Ls(args) => ls::run(args),
        Command::Cat(args) => cat::run(args),
        Command::Convert(args) => convert::run(args),
        Command::Verify(args) => verify::run(args),
        Command::Synth(args) => synth::run(args),
        Command::Wrap(args) => synth::run_wrap(args),
    }
}
