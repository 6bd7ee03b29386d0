//! `inspect` of checkpoint metadata V2–V6 (Flink 1.3–2.3), such as our `flink-2.3`
//! output or a savepoint Flink 1.20 or 2.3 wrote itself: per operator, its subtasks and
//! their handles, and the target the layout matches.

use super::Failure;
use savepointfs::convert::Target;
use savepointfs::modern::metadata::{self, KeyedKind, StreamHandle};
use savepointfs::source::Source;
use std::fmt::Write as _;

pub fn inspect(source: &dyn Source, json: bool) -> Result<String, Failure> {
    let name = source.name();
    let m = metadata::read(source).map_err(Failure::input)?;
    let target = Target::infer_per_operator(&m).map(Target::name);
    if json {
        let doc = serde_json::json!({
            "source": name,
            "format": format!("checkpoint metadata v{}", m.version),
            "version": m.version,
            "checkpoint_id": m.checkpoint_id,
            "target": target,
            "operators": m.operators,
        });
        let mut s = serde_json::to_string_pretty(&doc).map_err(Failure::other)?;
        s.push('\n');
        return Ok(s);
    }
    let mut out = String::new();
    let subtasks: usize = m.operators.iter().map(|o| o.subtasks.len()).sum();
    let _ = writeln!(
        out,
        "{name}: checkpoint metadata version {} (Flink {}), checkpoint {}, {} operators, {} subtask states, layout: {}",
        m.version,
        written_by(m.version),
        m.checkpoint_id,
        m.operators.len(),
        subtasks,
        target.unwrap_or("not one of ours")
    );
    for o in &m.operators {
        let uid = o
            .uid
            .as_deref()
            .map_or(String::new(), |u| format!("  uid {u:?}"));
        let _ = writeln!(
            out,
            "operator {}  parallelism {}  max parallelism {}{uid}",
            o.id, o.parallelism, o.max_parallelism
        );
        for (i, s) in &o.subtasks {
            let keyed = s.managed_keyed.as_ref().map_or("-".to_string(), |k| {
                format!(
                    "{} key groups {}..{} ({} B)",
                    match k.kind {
                        KeyedKind::KeyGroups => "backend",
                        KeyedKind::Savepoint => "savepoint",
                    },
                    k.start,
                    k.start + k.offsets.len() as i32 - 1,
                    size(&k.delegate)
                )
            });
            let _ = writeln!(
                out,
                "  subtask {i}: managed operator {}  raw operator {}  managed keyed {keyed}",
                s.managed_operator.len(),
                s.raw_operator.len(),
            );
        }
    }
    Ok(out)
}

fn size(h: &StreamHandle) -> i64 {
    match h {
        StreamHandle::ByteStream { len, .. } => *len as i64,
        StreamHandle::File { size, .. } | StreamHandle::RelativeFile { size, .. } => *size,
    }
}

/// Which Flink release line writes a metadata version.
fn written_by(version: u32) -> &'static str {
    match version {
        2 => "1.3-1.10",
        3 => "1.11-1.15",
        4 => "1.16-1.20",
        5 => "2.0-2.2",
        _ => "2.3",
    }
}
