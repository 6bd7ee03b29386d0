//! The `savepointfs` binary: a thin clap front over the library. Each command lives in
//! `cli/<command>.rs`; errors print as one line and exit with status 2 (bad input) or
//! 1 (anything else).

mod cli;

use clap::Parser;

fn main() {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    let args = cli::Cli::parse();
    if let Err(e) = cli::run(args) {
        eprintln!("savepointfs: {}", e.message);
        std::process::exit(e.code);
    }
}
