//! `savepointfs dump FILE [--offset N] [--length N] [--json]`: shows a Java
//! serialization stream as an indented tree or as JSON (schema: `javaser::render`).
//!
//! Given a Flink 1.1 savepoint without `--offset`, it lists the subtask blobs instead, so
//! the user can pick one to dump.

use super::{CliResult, Failure};
use savepointfs::javaser::{self, Limits, render};
use savepointfs::source::{FileSource, Source};
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

/// `FsSavepointStore`'s magic number (Flink 1.1 and 1.2 savepoint files).
const SAVEPOINT_MAGIC: [u8; 4] = [0x49, 0x60, 0x67, 0x2D];

#[derive(clap::Args)]
pub struct DumpArgs {
    /// The file holding the stream (or a Flink 1.1 savepoint, to list its blobs).
    pub file: PathBuf,
    /// Byte offset of the stream's `AC ED 00 05` header (decimal or 0x-hex). The stream
    /// then ends where its first top-level object ends, unless --length is given.
    #[arg(long, value_parser = parse_number)]
    pub offset: Option<u64>,
    /// Bytes the stream occupies; all of them must parse (decimal or 0x-hex).
    #[arg(long, value_parser = parse_number)]
    pub length: Option<u64>,
    /// Print JSON instead of the text tree.
    #[arg(long)]
    pub json: bool,
}

fn parse_number(s: &str) -> Result<u64, String> {
    let r = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => s.parse(),
    };
    r.map_err(|e| format!("{s:?} is not a byte count: {e}"))
}

pub fn run(args: DumpArgs) -> CliResult {
    let name = args.file.display().to_string();
    let file = FileSource::open(&args.file)
        .map_err(|e| Failure::input(format!("{name}: cannot open: {e}")))?;
    let source: Arc<dyn Source> = Arc::new(file);
    let file_len = source.len();

    if args.offset.is_none() && args.length.is_none() {
        let mut head = [0u8; 4];
        if source.read_at(0, &mut head).is_ok() && head == SAVEPOINT_MAGIC {
            let index = listing::open(source)?;
            return print(&if args.json {
                listing::json(&index)
            } else {
                listing::text(&index)
            });
        }
    }

    let start = args.offset.unwrap_or(0);
    if start > file_len {
        return Err(Failure::input(format!(
            "{name}: offset {start}: past the end of the file ({file_len} bytes); expected the offset of a stream header"
        )));
    }
    let limits = Limits::default();
    let graph = match args.length {
        Some(len) => {
            let end = start.checked_add(len).filter(|&e| e <= file_len).ok_or_else(|| {
                Failure::input(format!(
                    "{name}: offset {start}: a stream of {len} bytes runs past the end of the file ({file_len} bytes)"
                ))
            })?;
            javaser::parse_stream(source.clone(), start, end, &limits)
        }
        // A stream inside a bigger file is followed by other bytes: stop after its object.
        None if args.offset.is_some() => {
            javaser::parse_first_object(source.clone(), start, file_len, &limits)
        }
        None => javaser::parse_stream(source.clone(), start, file_len, &limits),
    }
    .map_err(Failure::input)?;

    let opts = render::Options::default();
    let mut stdout = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    let written = if args.json {
        render::write_json(&graph, &opts, &mut stdout)
    } else {
        render::write_text(&graph, &opts, &mut stdout).and_then(|()| {
            let end = graph.start + graph.len;
            if end < file_len {
                writeln!(
                    stdout,
                    "stream ends at offset {end}; {} more bytes of the file follow",
                    file_len - end
                )
                .and_then(|()| stdout.flush())
                .map_err(render::Failed::Write)?;
            }
            Ok(())
        })
    };
    written.map_err(|e| match e {
        render::Failed::Read(e) => Failure::input(e),
        render::Failed::Write(e) => Failure::other(format!("writing to stdout: {e}")),
    })
}

fn print(text: &str) -> CliResult {
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
        .map_err(|e| Failure::other(format!("writing to stdout: {e}")))
}

/// The blob listing of a Flink 1.1 savepoint, from its outer index.
mod listing {
    use super::Failure;
    use savepointfs::source::Source;
    use savepointfs::v0::{self, SavepointIndex};
    use serde_json::json;
    use std::fmt::Write;
    use std::sync::Arc;

    pub fn open(source: Arc<dyn Source>) -> Result<SavepointIndex, Failure> {
        let name = source.name();
        let other_version = |version: u32| {
            Failure::input(format!(
                "{name}: offset 4: savepoint format version {version}, expected 0 (Flink 1.1) to list subtask blobs; \
                 pass --offset N to dump a Java stream inside the file"
            ))
        };
        SavepointIndex::open(source).map_err(|e| match e {
            v0::Error::AlreadyV1 { .. } => other_version(v0::VERSION_V1),
            v0::Error::UnsupportedVersion { version, .. } => other_version(version),
            e => Failure::input(e),
        })
    }

    pub fn json(index: &SavepointIndex) -> String {
        let blobs: Vec<_> = index
            .subtasks()
            .map(|(t, s)| {
                json!({
                    "vertex": t.vertex,
                    "parallelism": t.parallelism,
                    "subtask": s.index,
                    "offset": s.blob.map(|b| b.start),
                    "length": s.blob.map(|b| b.len),
                })
            })
            .collect();
        let doc = json!({
            "format": "flink-1.1",
            "version": 0,
            "checkpoint_id": index.checkpoint_id(),
            "tasks": index.tasks().len(),
            "blobs": blobs,
        });
        serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n"
    }

    pub fn text(index: &SavepointIndex) -> String {
        let name = index.source().name();
        let mut out = format!(
            "{name}: Flink 1.1 savepoint (version 0), checkpoint {}, {} tasks, {} subtask blobs\n",
            index.checkpoint_id(),
            index.tasks().len(),
            index.subtasks().count()
        );
        let _ = writeln!(
            out,
            "{:<32}  {:>7}  {:>10}  {:>10}",
            "vertex", "subtask", "offset", "length"
        );
        for (t, s) in index.subtasks() {
            let (off, len) = match s.blob {
                Some(b) => (b.start.to_string(), b.len.to_string()),
                None => ("-".into(), "null".into()),
            };
            let subtask = format!("{}/{}", s.index, t.parallelism);
            let _ = writeln!(
                out,
                "{:<32}  {subtask:>7}  {off:>10}  {len:>10}",
                t.vertex.to_string()
            );
        }
        let _ = writeln!(
            out,
            "dump one with: savepointfs dump {name} --offset OFFSET"
        );
        out
    }
}
