//! `savepointfs ls SAVEPOINT [PATH] [-l] [-R]`: the converted tree as a mount would
//! show it, without mounting.
//!
//! Output: one node per line. Without `-R`, a directory's children by name (a file
//! PATH prints PATH itself). With `-R`, every node below PATH, depth first, as a path
//! relative to PATH. With `-l`, each line is `TYPE SIZE INODE NAME`: TYPE `d` or `-`
//! (or `!` for a file that cannot be converted), the exact size in bytes, the inode
//! number the mount uses (stable across runs). Names never contain spaces.
//!
//! A missing PATH is one line on stderr and exit status 2. A directory or file that
//! cannot be converted is reported on stderr (one line each); the listing goes on and
//! the exit status is 2.

use super::tree_args::{TreeArgs, file_uri};
use super::{CliResult, Failure};
use savepointfs::tree::{Error, Ino, Tree};
use std::io::{self, Write};

#[derive(clap::Args)]
pub struct LsArgs {
    #[command(flatten)]
    pub tree: TreeArgs,
    /// A path in the tree (default: the root).
    #[arg(default_value = "")]
    pub path: String,
    /// Long format: type, exact size, inode number, name.
    #[arg(short = 'l')]
    pub long: bool,
    /// List everything below PATH, depth first.
    #[arg(short = 'R')]
    pub recursive: bool,
    /// JSON Lines: `{"path", "type": "file"|"dir", "size", "ino"}` per node (sizes are
    /// exact; a node that cannot be converted has `"error"` instead of a size).
    #[arg(long)]
    pub json: bool,
    /// URI prefix `_metadata` names files under (default: `file:` + the current
    /// directory's absolute path); it changes `_metadata`'s size.
    #[arg(long, value_name = "URI")]
    pub metadata_root: Option<String>,
}

/// The offline commands print every problem themselves, as one line each; the
/// library's log warnings about the same failures would only repeat them (an explicit
/// `RUST_LOG` still wins).
pub fn quiet_library_warnings() {
    if std::env::var_os("RUST_LOG").is_none() {
        log::set_max_level(log::LevelFilter::Error);
    }
}

/// `--metadata-root`, or `file:` + the current directory.
pub fn metadata_root(given: &Option<String>) -> Result<String, Failure> {
    match given {
        Some(root) => Ok(root.clone()),
        None => file_uri(&std::env::current_dir().map_err(Failure::other)?),
    }
}

pub fn run(args: LsArgs) -> CliResult {
    quiet_library_warnings();
    let tree = args.tree.open(
        metadata_root(&args.metadata_root)?,
        args.metadata_root.is_none(),
    )?;
    let start = tree
        .resolve(&args.path)
        .map_err(|e| Failure::input(format!("{}: {}", args.path_label(), e.cause())))?;
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    let mut failures = 0usize;
    let result: io::Result<()> = (|| {
        let line = |name: &str, ino: Ino, failures: &mut usize| match args.json {
            true => json_line(&tree, name, ino, failures),
            false => line(&tree, args.long, name, ino, failures),
        };
        if !start.is_dir {
            let text = line(&args.path, start.ino, &mut failures);
            return writeln!(out, "{text}");
        }
        let nodes: Vec<(String, Ino)> = if args.recursive {
            let mut v = Vec::new();
            for item in tree.walk(start.ino, "") {
                match item {
                    Ok(n) => v.push((n.path, n.entry.ino)),
                    Err(u) => {
                        failures += 1;
                        let line = format!("{}: {}", u.path, u.error.cause());
                        eprintln!("savepointfs: {}", savepointfs::text::escape_controls(&line));
                    }
                }
            }
            v
        } else {
            match tree.list(start.ino) {
                Ok(children) => children.into_iter().map(|c| (c.name, c.ino)).collect(),
                Err(e) => {
                    failures += 1;
                    let line = format!("{}: {}", args.path_label(), e.cause());
                    eprintln!("savepointfs: {}", savepointfs::text::escape_controls(&line));
                    Vec::new()
                }
            }
        };
        for (name, ino) in nodes {
            let text = line(&name, ino, &mut failures);
            writeln!(out, "{text}")?;
        }
        Ok(())
    })();
    match result.and_then(|()| out.flush()) {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return Ok(()),
        Err(e) => return Err(Failure::other(format!("cannot write to stdout: {e}"))),
        Ok(()) => {}
    }
    if failures > 0 {
        return Err(Failure::input(format!(
            "{failures} node(s) could not be converted (see above)"
        )));
    }
    Ok(())
}

impl LsArgs {
    fn path_label(&self) -> &str {
        if self.path.is_empty() {
            "/"
        } else {
            &self.path
        }
    }
}

/// One node as a JSON line; a node that cannot be converted names why (and counts).
fn json_line(tree: &Tree, name: &str, ino: Ino, failures: &mut usize) -> String {
    let attr = tree.getattr(ino).and_then(|e| {
        if e.is_dir {
            Ok(e)
        } else {
            tree.open_file(ino).map(|_| e)
        }
    });
    match attr {
        Ok(e) => serde_json::json!({
            "path": name, "type": if e.is_dir { "dir" } else { "file" }, "size": e.size, "ino": ino,
        }),
        Err(err) => {
            *failures += 1;
            serde_json::json!({"path": name, "ino": ino, "error": err.cause()})
        }
    }
    .to_string()
}

/// The name, or with `long` `TYPE SIZE INODE NAME`; a file that cannot be converted is
/// `!` with size 0 and its cause goes to stderr.
fn line(tree: &Tree, long: bool, name: &str, ino: Ino, failures: &mut usize) -> String {
    if !long {
        return name.to_string();
    }
    let mut fail = |e: &Error| {
        *failures += 1;
        let line = format!("{name}: {}", e.cause());
        eprintln!("savepointfs: {}", savepointfs::text::escape_controls(&line));
    };
    let (kind, size) = match tree.getattr(ino) {
        Ok(e) if e.is_dir => ('d', 0),
        Ok(e) => match tree.open_file(ino) {
            Ok(_) => ('-', e.size),
            Err(err) => {
                fail(&err);
                ('!', 0)
            }
        },
        Err(err) => {
            fail(&err);
            ('!', 0)
        }
    };
    format!("{kind} {size:>12} {ino:>20} {name}")
}
