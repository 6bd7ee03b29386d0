//! `savepointfs verify SAVEPOINT`: decodes every subtask, checks every external state
//! file (allowed root, readable, the size the savepoint recorded, complete content
//! where that is knowable), reads every converted file to the end and builds
//! `_metadata` (see `tree::verify`). One line per problem on stdout
//! (`vertex <hex> subtask <i> chain <k> <file>: cause`), then a summary line; exit
//! status 2 when anything is wrong.

use super::ls::metadata_root;
use super::tree_args::TreeArgs;
use super::{CliResult, Failure};
use savepointfs::text::escape_controls;
use std::io::Write;

#[derive(clap::Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub tree: TreeArgs,
    /// URI prefix `_metadata` names files under (default: `file:` + the current
    /// directory's absolute path); only its size depends on it.
    #[arg(long, value_name = "URI")]
    pub metadata_root: Option<String>,
    /// With --max-parallelism or --parallelism: print every key group's record count,
    /// not only the summary per vertex.
    #[arg(long)]
    pub histogram: bool,
}

pub fn run(args: VerifyArgs) -> CliResult {
    super::ls::quiet_library_warnings();
    let tree = args.tree.open(
        metadata_root(&args.metadata_root)?,
        args.metadata_root.is_none(),
    )?;
    let stdout = std::io::stdout();
    let mut write_error = None;
    let summary = tree.verify(&mut |p| {
        if write_error.is_none()
            && let Err(e) = writeln!(stdout.lock(), "{}", escape_controls(&p.to_string()))
        {
            write_error = Some(e);
        }
    });
    if let Some(e) = write_error {
        return Err(Failure::other(format!("cannot write to stdout: {e}")));
    }
    let mut out = stdout.lock();
    for h in tree.key_group_histograms() {
        write_histogram(&mut out, &h, args.histogram)
            .map_err(|e| Failure::other(format!("cannot write to stdout: {e}")))?;
    }
    drop(out);
    let line = format!(
        "{}: {} subtasks, {} files ({} bytes) read, {} external file references checked, {} keys checked in their key groups, {} warning(s): {}",
        args.tree.savepoint.display(),
        summary.subtasks,
        summary.files,
        summary.bytes,
        summary.external_files,
        summary.keys_checked,
        summary.warnings,
        match summary.problems {
            0 => "ok".to_string(),
            1 => "1 problem".to_string(),
            n => format!("{n} problems"),
        }
    );
    if summary.problems > 0 {
        return Err(Failure::input(line));
    }
    writeln!(stdout.lock(), "{line}")
        .map_err(|e| Failure::other(format!("cannot write to stdout: {e}")))?;
    Ok(())
}

/// One line per re-filed vertex: how its records spread over the new key groups and
/// subtasks; with `full`, every key group's count.
fn write_histogram(
    out: &mut impl Write,
    h: &savepointfs::tree::verify::KeyGroupHistogram,
    full: bool,
) -> std::io::Result<()> {
    let mut sorted = h.records.clone();
    sorted.sort_unstable();
    let total: u64 = sorted.iter().sum();
    let empty = sorted.iter().take_while(|&&n| n == 0).count();
    let join = |v: &[u64]| v.iter().map(u64::to_string).collect::<Vec<_>>().join(" ");
    writeln!(
        out,
        "vertex {}: {total} records re-filed into {} key groups over {} subtasks; per key group min {}, median {}, max {}, {empty} empty; per subtask {}",
        h.vertex,
        h.rescale.max_parallelism,
        h.rescale.parallelism,
        sorted.first().copied().unwrap_or(0),
        sorted.get(sorted.len() / 2).copied().unwrap_or(0),
        sorted.last().copied().unwrap_or(0),
        join(&h.per_subtask()),
    )?;
    if full {
        writeln!(
            out,
            "vertex {}: records per key group: {}",
            h.vertex,
            join(&h.records)
        )?;
    }
    Ok(())
}
