//! `savepointfs cat SAVEPOINT PATH`: one file of the converted tree on stdout, binary
//! safe and streamed through a fixed buffer (a multi-GiB keyed state never sits in
//! memory). A missing path, a directory, or a file that cannot be converted or read is
//! one line on stderr and exit status 2.

use super::ls::metadata_root;
use super::tree_args::TreeArgs;
use super::{CliResult, Failure};
use std::io::{self, Write};

#[derive(clap::Args)]
pub struct CatArgs {
    #[command(flatten)]
    pub tree: TreeArgs,
    /// A file in the tree, e.g. `_metadata` or `<vertex>/subtask-0/keyed-state`.
    pub path: String,
    /// URI prefix `_metadata` names files under (default: `file:` + the current
    /// directory's absolute path).
    #[arg(long, value_name = "URI")]
    pub metadata_root: Option<String>,
    /// The decoded view of PATH instead of its bytes: for a subtask (or its keyed-state
    /// files) every keyed state's JSON lines, each with its `"state"`; for a chain entry
    /// (or its files) the function state's JSON.
    #[arg(long)]
    pub json: bool,
}

/// Bytes per read: large enough that per-call overhead vanishes, small enough to stay
/// far below the memory budget.
pub const COPY_BUFFER: usize = 1 << 20;

pub fn run(args: CatArgs) -> CliResult {
    super::ls::quiet_library_warnings();
    let tree = args.tree.open(
        metadata_root(&args.metadata_root)?,
        args.metadata_root.is_none(),
    )?;
    let fail = |e: &dyn std::fmt::Display| Failure::input(format!("{}: {e}", args.path));
    let entry = tree.resolve(&args.path).map_err(|e| fail(&e.cause()))?;
    let stdout = io::stdout();
    let mut out = io::BufWriter::with_capacity(COPY_BUFFER, stdout.lock());
    if args.json {
        let views = tree.json_views(entry.ino).map_err(|e| fail(&e.cause()))?;
        for (state, ino) in views {
            let file = tree.open_file(ino).map_err(|e| fail(&e.cause()))?;
            let written = match state {
                None => io::copy(&mut file.stream.reader(), &mut out).map(|_| ()),
                Some(state) => with_state(&file, &state, &mut out),
            };
            match written {
                Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return Ok(()),
                Err(e) => return Err(fail(&e)),
                Ok(()) => {}
            }
        }
        return finish(out);
    }
    let file = tree.open_file(entry.ino).map_err(|e| fail(&e.cause()))?;
    let mut buf = vec![0u8; COPY_BUFFER];
    let mut offset = 0u64;
    loop {
        let n = file
            .stream
            .read_at_most(offset, &mut buf)
            .map_err(|e| fail(&e))?;
        if n == 0 {
            break;
        }
        match out.write_all(&buf[..n]) {
            // The reader went away (`| head`): not our failure.
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return Ok(()),
            Err(e) => return Err(Failure::other(format!("cannot write to stdout: {e}"))),
            Ok(()) => {}
        }
        offset += n as u64;
    }
    finish(out)
}

/// A keyed view's lines with `"state":NAME,` put first in each.
fn with_state(
    file: &savepointfs::tree::OpenFile,
    state: &str,
    out: &mut dyn Write,
) -> io::Result<()> {
    use io::BufRead;
    let head = format!("{{\"state\":{},", serde_json::Value::from(state));
    let mut lines = io::BufReader::with_capacity(COPY_BUFFER, file.stream.reader());
    let mut line = Vec::new();
    loop {
        line.clear();
        if lines.read_until(b'\n', &mut line)? == 0 {
            return Ok(());
        }
        out.write_all(head.as_bytes())?;
        out.write_all(line.strip_prefix(b"{").unwrap_or(&line))?;
    }
}

fn finish(mut out: impl Write) -> CliResult {
    match out.flush() {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => {
            Err(Failure::other(format!("cannot write to stdout: {e}")))
        }
        _ => Ok(()),
    }
}
