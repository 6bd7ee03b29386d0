//! `savepointfs convert SAVEPOINT OUTDIR [--metadata-root URI] [--force] [--keep-going]`:
//! writes the whole converted tree (`_metadata`, `savepoint.json`, every vertex,
//! subtask and chain directory and file) to OUTDIR.
//!
//! - OUTDIR's parent directories are created as needed.
//! - `_metadata` names the files as `file:` + OUTDIR's absolute path + `/...`, unless
//!   `--metadata-root URI` says where the directory will live.
//! - Bounded memory: each file is copied through one fixed buffer; decoded subtasks
//!   are held by the tree's byte-bounded cache (`--cache-size`).
//! - Atomic from the outside: everything is written into a hidden sibling
//!   `.OUTDIR.savepointfs-tmp-<pid>` and renamed onto OUTDIR only when complete, so an
//!   interrupted run never leaves an OUTDIR that looks converted. Leftovers of a killed
//!   run (whose pid is gone) are removed by the next run for the same OUTDIR.
//! - A non-empty OUTDIR is refused unless `--force`, which replaces it (atomically,
//!   by exchanging the two directories); `--force` never replaces a directory that
//!   holds the savepoint or an allowed root of its external files.
//! - Files that cannot be converted are listed (one line each, with vertex, subtask,
//!   chain and cause) before anything is written, and the exit status is 2 with
//!   nothing renamed into place. `--keep-going` instead writes every file that converts
//!   and leaves `_metadata` out (it would name missing files), still exiting 2.
//! - `--minimal` writes only `_metadata`, the files it names and `savepoint.json`.
//! - A progress line on stderr when stderr is a terminal; quiet otherwise.

use super::tree_args::{TreeArgs, file_uri};
use super::{CliResult, Failure};
use savepointfs::source::Source;
use savepointfs::stream::MultiStream;
use savepointfs::tree::{METADATA_NAME, REPORT_NAME, ROOT, Tree};
use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

mod outdir;
mod progress;

use outdir::{TMP_TAG, Target};
use progress::Progress;

#[derive(clap::Args)]
pub struct ConvertArgs {
    #[command(flatten)]
    pub tree: TreeArgs,
    /// The directory to create (or, with --force, replace).
    pub outdir: PathBuf,
    /// URI prefix `_metadata` names files under (default: `file:` + OUTDIR's absolute
    /// path), for a directory that will be moved or served from elsewhere.
    #[arg(long, value_name = "URI")]
    pub metadata_root: Option<String>,
    /// Replace OUTDIR if it exists and is not empty.
    #[arg(long)]
    pub force: bool,
    /// Write every file that converts even when some do not; `_metadata` is then left
    /// out. The exit status is still 2.
    #[arg(long)]
    pub keep_going: bool,
    /// fsync every file and directory before the final rename (durable after a crash).
    #[arg(long)]
    pub fsync: bool,
    /// Write only `_metadata`, the files it names and `savepoint.json` (about half the
    /// bytes of the whole tree: each state's bytes then appear once).
    #[arg(long, conflicts_with = "keep_going")]
    pub minimal: bool,
}

const COPY_BUFFER: usize = 1 << 20;

/// A node to write, found by the planning walk.
struct Item {
    path: String,
    ino: u64,
    is_dir: bool,
    size: u64,
}

pub fn run(args: ConvertArgs) -> CliResult {
    super::ls::quiet_library_warnings();
    let target = Target::new(&args.outdir)?;
    target.check_replaceable(&args)?;
    target.remove_stale();
    let root = match &args.metadata_root {
        Some(r) => r.clone(),
        None => file_uri(&target.abs)?,
    };
    let tree = args.tree.open(root, args.metadata_root.is_none())?;

    // Plan: every node and every file's size, and what cannot be converted, before
    // anything is written.
    let mut problems: Vec<String> = Vec::new();
    let mut failed = Vec::new();
    let mut items = Vec::new();
    for visited in tree.walk(ROOT, "") {
        let v = match visited {
            Err(u) => {
                let place = tree.resolve(&u.path).map(|e| tree.place_of(e.ino));
                let place = place.map_or_else(|_| u.path.clone(), |p| p.to_string());
                problems.push(format!("{place}: {}", u.error.cause()));
                continue;
            }
            Ok(v) if v.path == METADATA_NAME => continue,
            Ok(v) => v,
        };
        let mut size = 0;
        if !v.entry.is_dir {
            match tree.open_file(v.entry.ino) {
                Ok(f) => size = f.stream.len(),
                Err(e) => {
                    failed.push((v.path, v.entry.ino, e));
                    continue;
                }
            }
        }
        items.push(Item {
            path: v.path,
            ino: v.entry.ino,
            is_dir: v.entry.is_dir,
            size,
        });
    }
    // A file `_metadata` does not name cannot break it: leave it out, with a warning
    // (none with --minimal, which leaves out every such file anyway).
    let named = tree.metadata_files();
    for (path, ino, e) in &failed {
        let line = format!("{}: {}", tree.place_of(*ino), e.cause());
        match &named {
            Ok(n) if !n.contains_key(path) && args.minimal => {}
            Ok(n) if !n.contains_key(path) => {
                eprintln!(
                    "savepointfs: warning: {} (not named by _metadata; left out)",
                    savepointfs::text::escape_controls(&line.to_string())
                )
            }
            _ => problems.push(line),
        }
    }
    if let (true, Ok(n)) = (args.minimal, &named) {
        keep_only(&mut items, n);
    }
    if let Err(e) = &named
        && problems.is_empty()
    {
        problems.push(format!("{METADATA_NAME}: {}", e.cause()));
    }
    if !problems.is_empty() && !args.keep_going {
        return Err(report(&problems, "nothing was written", &args.outdir));
    }

    target.check_free_space(items.iter().filter(|i| !i.is_dir).map(|i| i.size))?;
    let tmp = target.sibling(TMP_TAG);
    if tmp.exists() {
        fs::remove_dir_all(&tmp).map_err(|e| io_failure(&tmp, e))?;
    }
    fs::create_dir(&tmp).map_err(|e| io_failure(&tmp, e))?;
    let named = named.ok();
    let written = write_all(&tree, &items, &tmp, &args, named.as_ref(), &mut problems);
    let written = match written {
        Ok(n) => n,
        Err(f) => {
            let _ = fs::remove_dir_all(&tmp);
            return Err(f);
        }
    };
    if !problems.is_empty() && !args.keep_going {
        let _ = fs::remove_dir_all(&tmp);
        return Err(report(&problems, "nothing was written", &args.outdir));
    }
    if args.fsync {
        sync_dirs(&tmp, &items).map_err(|e| io_failure(&tmp, e))?;
    }
    if let Err(e) = target.replace_with(&tmp) {
        let _ = fs::remove_dir_all(&tmp);
        return Err(io_failure(&target.abs, e));
    }
    if !problems.is_empty() {
        let done = format!("{written} files were written, without {METADATA_NAME}");
        return Err(report(&problems, &done, &args.outdir));
    }
    Ok(())
}

/// Keeps the files `_metadata` names, `savepoint.json` and their directories.
fn keep_only(items: &mut Vec<Item>, named: &BTreeMap<String, i64>) {
    let files: BTreeSet<&str> = named
        .keys()
        .map(String::as_str)
        .chain([REPORT_NAME])
        .collect();
    let dirs: BTreeSet<String> = files
        .iter()
        .flat_map(|f| f.match_indices('/').map(move |(i, _)| f[..i].to_string()))
        .collect();
    items.retain(|i| {
        if i.is_dir {
            dirs.contains(&i.path)
        } else {
            files.contains(i.path.as_str())
        }
    });
}

/// Writes directories and files, then `_metadata` when nothing failed and every file
/// it names was written with the size it declares; returns the number of files.
fn write_all(
    tree: &Tree,
    items: &[Item],
    tmp: &Path,
    args: &ConvertArgs,
    named: Option<&BTreeMap<String, i64>>,
    problems: &mut Vec<String>,
) -> Result<usize, Failure> {
    let total: u64 = items.iter().filter(|i| !i.is_dir).map(|i| i.size).sum();
    let mut progress = Progress::new(total);
    let mut buf = vec![0u8; COPY_BUFFER];
    let mut written: BTreeMap<&str, u64> = BTreeMap::new();
    for item in items {
        let dest = tmp.join(&item.path);
        if item.is_dir {
            fs::create_dir(&dest).map_err(|e| io_failure(&dest, e))?;
            continue;
        }
        let stream = match tree.open_file(item.ino) {
            Ok(f) => f.stream,
            Err(e) => {
                problems.push(format!("{}: {}", tree.place_of(item.ino), e.cause()));
                continue;
            }
        };
        match copy_file(&stream, &dest, &mut buf, args.fsync, &mut progress) {
            Ok(n) => {
                written.insert(&item.path, n);
            }
            Err(Copy::Read(e)) => {
                let _ = fs::remove_file(&dest);
                problems.push(format!("{}: cannot read: {e}", tree.place_of(item.ino)));
            }
            Err(Copy::Write(e)) => return Err(io_failure(&dest, e)),
        }
    }
    let files = written.len();
    let Some(named) = named.filter(|_| problems.is_empty()) else {
        progress.finish(files);
        return Ok(files);
    };
    // `_metadata` must never name a file that is not there, or not that long.
    for (path, declared) in named {
        if written.get(path.as_str()).map(|&n| n as i64) != Some(*declared) {
            problems.push(format!(
                "{METADATA_NAME}: names {path} with size {declared}, but {} was written",
                written
                    .get(path.as_str())
                    .map_or("no such file".to_string(), |n| format!("{n} bytes"))
            ));
        }
    }
    if !problems.is_empty() {
        progress.finish(files);
        return Ok(files);
    }
    let dest = tmp.join(METADATA_NAME);
    let meta = tree
        .resolve(METADATA_NAME)
        .and_then(|e| tree.open_file(e.ino));
    let result = match meta {
        Ok(f) => match copy_file(&f.stream, &dest, &mut buf, args.fsync, &mut progress) {
            Ok(_) => Ok(files + 1),
            Err(Copy::Read(e)) => {
                problems.push(format!("{METADATA_NAME}: {e}"));
                Ok(files)
            }
            Err(Copy::Write(e)) => Err(io_failure(&dest, e)),
        },
        Err(e) => {
            problems.push(format!("{METADATA_NAME}: {}", e.cause()));
            Ok(files)
        }
    };
    progress.finish(files);
    result
}

enum Copy {
    /// The converted stream could not be read (e.g. an external file shrank).
    Read(io::Error),
    /// Our output could not be written.
    Write(io::Error),
}

fn copy_file(
    stream: &MultiStream,
    dest: &Path,
    buf: &mut [u8],
    sync: bool,
    progress: &mut Progress,
) -> Result<u64, Copy> {
    let mut out = File::create(dest).map_err(Copy::Write)?;
    let mut offset = 0u64;
    loop {
        let n = stream.read_at_most(offset, buf).map_err(Copy::Read)?;
        if n == 0 {
            break;
        }
        out.write_all(&buf[..n]).map_err(Copy::Write)?;
        offset += n as u64;
        progress.add(n as u64);
    }
    if sync {
        out.sync_all().map_err(Copy::Write)?;
    }
    Ok(offset)
}

/// fsyncs every directory of the new tree, deepest first, then the tree's own root.
fn sync_dirs(tmp: &Path, items: &[Item]) -> io::Result<()> {
    for item in items.iter().rev().filter(|i| i.is_dir) {
        File::open(tmp.join(&item.path))?.sync_all()?;
    }
    File::open(tmp)?.sync_all()
}

fn report(problems: &[String], outcome: &str, outdir: &Path) -> Failure {
    for p in problems {
        eprintln!(
            "savepointfs: {}",
            savepointfs::text::escape_controls(&p.to_string())
        );
    }
    Failure::input(format!(
        "{} file(s) could not be converted; {outcome} ({})",
        problems.len(),
        outdir.display()
    ))
}

fn io_failure(path: &Path, e: io::Error) -> Failure {
    Failure::other(format!("{}: {e}", path.display()))
}
