//! The `savepointfs` binary: a thin clap front over the library. Each command lives in
//! `cli/<command>.rs`; errors print as one line and exit with status 2 (bad input) or
//! 1 (anything else).

mod cli;

use clap::Parser;

/// External state files stay open from the check to the last read (so they cannot be
/// swapped in between); allow as many as the hard limit does.
fn raise_open_file_limit() {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit with a valid, initialised struct.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}

fn main() {
    // Log messages quote paths and names from the savepoint: escaped, one line each.
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn"))
        .format(|buf, record| {
            use std::io::Write;
            let msg = record.args().to_string();
            writeln!(
                buf,
                "[{} {} {}] {}",
                buf.timestamp(),
                record.level(),
                record.target(),
                savepointfs::text::escape_controls(&msg)
            )
        })
        .init();
    raise_open_file_limit();
    let args = cli::Cli::parse();
    if let Err(e) = cli::run(args) {
        eprintln!(
            "savepointfs: {}",
            savepointfs::text::escape_controls(&e.message)
        );
        std::process::exit(e.code);
    }
}
