//! `savepointfs inspect SAVEPOINT [--json] [--shallow]`: what a Flink 1.1 savepoint holds,
//! as a compact table or as the JSON document of `v0::report` (`v0::report`). A Flink 1.2
//! (V1) file — or a directory holding `_metadata`, such as a mount or `convert` output —
//! is shown from the V1 model, and metadata V2–V6 (Flink 1.3–2.3) per operator, each
//! with the target its layout matches.
//!
//! A subtask whose blob does not decode is reported in place (an `error` field / line)
//! and the rest is still printed; the exit status is then 2.

use super::{CliResult, Failure};
use savepointfs::convert::{ExternalPolicy, Target};
use savepointfs::source::{FileSource, Source};
use savepointfs::v0::report::{ChainReport, HandleReport, SavepointReport, SubtaskReport};
use savepointfs::v0::{self, SavepointIndex};
use savepointfs::v1;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(clap::Args)]
pub struct InspectArgs {
    /// The savepoint file (Flink 1.1 or 1.2), or a directory holding `_metadata`.
    pub savepoint: PathBuf,
    /// Print the JSON document instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Read only the outer index; do not decode the subtask blobs.
    #[arg(long)]
    pub shallow: bool,
}

pub fn run(args: InspectArgs) -> CliResult {
    let path = if args.savepoint.is_dir() {
        args.savepoint.join("_metadata")
    } else {
        args.savepoint.clone()
    };
    let name = path.display().to_string();
    let file =
        FileSource::open(&path).map_err(|e| Failure::input(format!("{name}: cannot open: {e}")))?;
    let source: Arc<dyn Source> = Arc::new(file);
    match v0::format_version(&*source).ok() {
        Some(v0::VERSION_V1) => return write_out(&inspect_v1(&*source, args.json)?),
        Some(2..=6) => return write_out(&super::inspect_modern::inspect(&*source, args.json)?),
        _ => {}
    }
    let index = SavepointIndex::open(source).map_err(Failure::input)?;
    // External sizes as the default policy of the tree commands allows: files under the
    // savepoint's own directory only.
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let policy = ExternalPolicy::new(Vec::new(), &[dir]).map_err(Failure::input)?;
    let report = SavepointReport::build(&index, args.shallow, &policy);
    let text = if args.json {
        let mut s = serde_json::to_string_pretty(&report).map_err(Failure::other)?;
        s.push('\n');
        s
    } else {
        table(&report)
    };
    write_out(&text)?;
    if report.errors > 0 {
        return Err(Failure::input(format!(
            "{name}: {} subtask blob(s) could not be decoded (see the error entries above)",
            report.errors
        )));
    }
    Ok(())
}

/// Writes human output or JSON: a table's lines are ours, what is inside them may come
/// from the savepoint and is escaped (JSON escapes control characters itself).
fn write_out(text: &str) -> CliResult {
    std::io::stdout()
        .lock()
        .write_all(savepointfs::text::escape_lines(text).as_bytes())
        .map_err(|e| Failure::other(format!("cannot write to stdout: {e}")))
}

/// A Flink 1.2 savepoint: the V1 model as JSON, or one line per task and subtask.
fn inspect_v1(source: &dyn Source, json: bool) -> Result<String, Failure> {
    let sp = v1::read(source).map_err(Failure::input)?;
    let target = Target::infer(&sp).map(Target::name);
    if json {
        let doc = serde_json::json!({
            "source": source.name(),
            "format": "flink-1.2",
            "version": sp.version,
            "checkpoint_id": sp.checkpoint_id,
            "target": target,
            "tasks": sp.tasks,
        });
        let mut s = serde_json::to_string_pretty(&doc).map_err(Failure::other)?;
        s.push('\n');
        return Ok(s);
    }
    let mut out = String::new();
    let subtasks: usize = sp.tasks.iter().map(|t| t.subtasks.len()).sum();
    let _ = writeln!(
        out,
        "{}: Flink 1.2 savepoint metadata (format version {}), checkpoint {}, {} tasks, {} subtasks, layout: {}",
        source.name(),
        sp.version,
        sp.checkpoint_id,
        sp.tasks.len(),
        subtasks,
        target.unwrap_or("not one of ours")
    );
    for t in &sp.tasks {
        let _ = writeln!(
            out,
            "task vertex {}  parallelism {}  max parallelism {}  chain {}",
            t.vertex, t.parallelism, t.max_parallelism, t.chain_length
        );
        for (i, s) in &t.subtasks {
            let count = |v: &[Option<v1::OperatorHandle>]| v.iter().flatten().count();
            let size = |h: &v1::StreamHandle| h.size();
            let keyed = s.managed_keyed.as_ref().map_or("-".to_string(), |k| {
                format!(
                    "key groups {}..{} ({} B)",
                    k.start,
                    k.start + k.offsets.len() as i32 - 1,
                    size(&k.delegate)
                )
            });
            let _ = writeln!(
                out,
                "  subtask {i}: legacy {}/{}  managed operator {}  raw operator {}  managed keyed {keyed}",
                s.legacy.iter().flatten().count(),
                s.legacy.len(),
                count(&s.managed_operator),
                count(&s.raw_operator),
            );
        }
    }
    Ok(out)
}

/// One line per task, one per subtask, one per non-null chain entry.
fn table(r: &SavepointReport) -> String {
    let subtasks: usize = r.tasks.iter().map(|t| t.subtasks.len()).sum();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}: Flink 1.1 savepoint (format version {}), checkpoint {}, {} bytes, {} tasks, {} subtasks",
        r.source,
        r.version,
        r.checkpoint_id,
        r.file_size,
        r.tasks.len(),
        subtasks
    );
    for t in &r.tasks {
        let chain = t
            .chain_length
            .map_or(String::new(), |c| format!("  chain {c}"));
        let _ = writeln!(
            out,
            "task {}  vertex {}  parallelism {}  subtasks {}{chain}",
            t.position,
            t.vertex,
            t.parallelism,
            t.subtasks.len()
        );
        for p in &t.problems {
            let _ = writeln!(out, "  problem: {p}");
        }
        for s in &t.subtasks {
            subtask_lines(&mut out, s);
        }
    }
    out
}

fn subtask_lines(out: &mut String, s: &SubtaskReport) {
    let blob = match (s.blob_offset, s.blob_length) {
        (Some(o), Some(l)) => format!("blob {l} B @{o}"),
        _ => "blob null".to_string(),
    };
    let keyed = s
        .keyed_state_size
        .map_or(String::new(), |k| format!("  keyed {k} B"));
    let _ = writeln!(
        out,
        "  subtask {}  {blob}  stateSize {}{keyed}",
        s.index, s.state_size
    );
    if let Some(e) = &s.error {
        let _ = writeln!(out, "    ERROR: {e}");
    }
    for c in s.chain.iter().flatten() {
        chain_line(out, c);
    }
    for p in &s.problems {
        let _ = writeln!(out, "    cannot be migrated: {p}");
    }
}

fn chain_line(out: &mut String, c: &ChainReport) {
    if !c.present {
        let _ = writeln!(out, "    chain[{}] (no state)", c.index);
        return;
    }
    let mut parts = Vec::new();
    if let Some(op) = c.operator {
        use savepointfs::convert::operators::NativeLoss;
        parts.push(format!("{} ({})", op.name(), op.carried()));
    }
    if let Some(h) = &c.function_state {
        parts.push(format!("function {}", handle(h)));
    }
    if let Some(h) = &c.operator_state {
        parts.push(format!("operator {}", handle(h)));
    }
    for k in &c.kv_states {
        let path = k.path.as_ref().map_or(String::new(), |p| format!(" {p}"));
        parts.push(format!(
            "kv {:?} {} {} B{path}",
            k.name,
            short(&k.class),
            k.size
        ));
    }
    if parts.is_empty() {
        parts.push("(all fields null)".into());
    }
    let _ = writeln!(out, "    chain[{}] {}", c.index, parts.join("; "));
}

fn handle(h: &HandleReport) -> String {
    let mut s = format!("{} {} B", short(&h.class), h.size);
    if let Some(p) = &h.path {
        let _ = write!(s, " {p}");
    }
    if let Some(inner) = &h.inner {
        let _ = write!(s, " -> {}", handle(inner));
    }
    s
}

/// The class name without its package (`MemValueState$Snapshot`).
fn short(class: &str) -> &str {
    class.rsplit('.').next().unwrap_or(class)
}
