//! ContinuousFileReaderOperator (operators.md §6): Flink 1.1 wrote its splits into the
//! operator's own bytes, an `ObjectOutputStream` and a raw view taking turns on one
//! stream: the current split (or null), a raw `int n`, the n pending splits, then the
//! input format's state for the current split (or null). Flink 1.2+ restores them from
//! its list state `splits` (JavaSerializer): one `TimestampedFileInputSplit` per split,
//! a 1.1 `FileInputSplit` with a modification time and the format state. 1.1 recorded
//! no times, so they are Flink 1.2's restore rule with a clock at 0 (the current split
//! `n`, the pending ones `n-1` down to 0): the reader of Flink 1.2+ takes splits in
//! that order, each exactly once.

use super::FileKind;
use super::error::{Error, FileLocation, HeaderError};
use super::native;
use super::subtask::{Cx, FileResult, handle_classes, not_migratable};
use crate::javaser::builder::StreamBuilder;
use crate::javaser::{self, Elements, Graph, Limits, Next, Value, WriteOptions};
use crate::modern::proxy::{self, Distribution};
use crate::modern::snapshot::{JAVA_SERIALIZER, Snapshot};
use crate::v0::StateHandle;
use crate::v0::classes::{FILE_INPUT_SPLIT, STRING_ARRAY, TIMESTAMPED_FILE_INPUT_SPLIT};
use std::sync::Arc;

/// The reader's list state in Flink 1.2+.
pub const READER_STATE: &str = "splits";

/// One 1.1 `FileInputSplit`, as its fields read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Split {
    pub number: i32,
    pub hostnames: Option<Vec<Option<String>>>,
    /// The path's URI text (`None`: a null path).
    pub path: Option<String>,
    pub start: i64,
    pub length: i64,
}

/// The reader's 1.1 state, parsed.
pub struct ReaderState {
    pub graph: Graph,
    pub current: Option<Split>,
    pub pending: Vec<Split>,
    /// The input format's state of the current split (`Value::Null` for none).
    pub format_state: Value,
}

/// Parses the operator bytes `[start, start+len)` of `source`; errors say what and where.
pub fn parse(
    source: Arc<dyn crate::source::Source>,
    start: u64,
    len: u64,
) -> Result<ReaderState, String> {
    // Object, raw int n, n objects, object: `next` reads n from the raw run.
    let (mut step, mut pending) = (0u64, None::<Option<u64>>);
    let count = source.clone();
    let mut next = |raw: &[crate::source::Span]| -> Next {
        step += 1;
        match (step, raw.first()) {
            (1, _) => Next::Object,
            (2, _) => Next::Raw(4),
            (_, None) => Next::End,
            (_, Some(span)) => {
                let n = *pending.get_or_insert_with(|| {
                    let mut b = [0u8; 4];
                    count.read_at(span.start, &mut b).ok()?;
                    u64::try_from(i32::from_be_bytes(b)).ok()
                });
                // The n pending splits, then the format state.
                match n {
                    Some(n) if step <= n + 3 => Next::Object,
                    _ => Next::End,
                }
            }
        }
    };
    let (graph, raw) =
        javaser::parse_interleaved(source, start, start + len, &Limits::default(), &mut next)
            .map_err(|e| e.to_string())?;
    let Some(Some(n)) = pending else {
        let at = raw.first().map_or(start, |s| s.start);
        return Err(format!(
            "offset {at}: a negative or unreadable pending split count"
        ));
    };
    let n = n as usize;
    if graph.len != len {
        return Err(format!(
            "offset {}: {} bytes after the format state",
            start + graph.len,
            len - graph.len
        ));
    }
    let roots: Vec<Value> = graph.roots().collect();
    if roots.len() != n + 2 {
        return Err(format!("{} objects for {n} pending splits", roots.len()));
    }
    let current = split(&graph, roots[0])?;
    let pending = roots[1..=n]
        .iter()
        .map(|&v| split(&graph, v)?.ok_or_else(|| "a null pending split".to_string()))
        .collect::<Result<_, _>>()?;
    if current.is_none() && roots[n + 1] != Value::Null {
        return Err("a format state without a current split".into());
    }
    Ok(ReaderState {
        format_state: roots[n + 1],
        current,
        pending,
        graph,
    })
}

impl std::fmt::Debug for ReaderState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReaderState")
            .field("current", &self.current)
            .field("pending", &self.pending)
            .field("format_state", &self.format_state)
            .finish()
    }
}

/// A `FileInputSplit` object's fields (`None` for null); any other class is refused.
fn split(graph: &Graph, v: Value) -> Result<Option<Split>, String> {
    let Some(o) = graph.object(v).map_err(|e| e.to_string())? else {
        return Ok(None);
    };
    let class = o.class_name().lossy();
    if class != FILE_INPUT_SPLIT.name {
        return Err(format!(
            "a {class}, where a {} should be",
            FILE_INPUT_SPLIT.name
        ));
    }
    let bad = |what: &str| format!("a {class} without its {what}");
    let long = |f: &str| match o.field(f) {
        Some(Value::Long(v)) => Ok(v),
        _ => Err(bad(f)),
    };
    let number = match o.field("splitNumber") {
        Some(Value::Int(n)) => n,
        _ => return Err(bad("splitNumber")),
    };
    let hostnames = match o.field("hostnames") {
        None => return Err(bad("hostnames")),
        Some(h) => match graph.array(h).map_err(|e| e.to_string())? {
            None => None,
            Some((_, a)) => match &a.elements {
                Elements::Values(vs) => Some(
                    vs.iter()
                        .map(|&s| graph.string_value(s).map_err(|e| e.to_string()))
                        .collect::<Result<_, _>>()?,
                ),
                Elements::Primitive { .. } => return Err(bad("String[] hostnames")),
            },
        },
    };
    let path = match o.field("file") {
        None => return Err(bad("file")),
        Some(p) => match graph.object(p).map_err(|e| e.to_string())? {
            None => None,
            Some(p) => {
                let uri = p.field("uri").ok_or_else(|| bad("file's uri"))?;
                let uri = graph.object(uri).map_err(|e| e.to_string())?;
                let text = uri.and_then(|u| u.field("string"));
                let text = text.map(|t| graph.string_value(t)).transpose();
                Some(
                    text.map_err(|e| e.to_string())?
                        .flatten()
                        .ok_or_else(|| bad("file's URI"))?,
                )
            }
        },
    };
    Ok(Some(Split {
        number,
        hostnames,
        path,
        start: long("start")?,
        length: long("length")?,
    }))
}

/// A `TimestampedFileInputSplit` of `split` as a fresh Java stream; `state` is the format
/// state (an object of `graph`, re-emitted) or null.
pub fn split_stream(
    split: &Split,
    modification_time: i64,
    state: Option<(&Graph, Value)>,
) -> Result<Vec<u8>, HeaderError> {
    let mut b = StreamBuilder::new(Vec::new(), TIMESTAMPED_FILE_INPUT_SPLIT.name, 0)?;
    b.begin_object(&TIMESTAMPED_FILE_INPUT_SPLIT)?;
    // Class data from the top: LocatableInputSplit, FileInputSplit, then ours.
    b.field_int(split.number)?;
    match &split.hostnames {
        None => b.null()?,
        Some(hosts) => {
            b.begin_object_array(&STRING_ARRAY, hosts.len() as i32)?;
            for h in hosts {
                match h {
                    Some(h) => b.string(h).map(|_| ())?,
                    None => b.null()?,
                }
            }
        }
    }
    b.field_long(split.length)?;
    b.field_long(split.start)?;
    match &split.path {
        Some(p) => crate::v0::classes::path(&mut b, p).map(|_| ())?,
        None => b.null()?,
    }
    b.field_long(modification_time)?;
    match state {
        Some((graph, v)) if v != Value::Null => {
            let first = b.next_handle();
            let mut out = b.finish()?;
            let rest = javaser::write_object_continuing(graph, v, &WriteOptions::default(), first)?;
            out.extend(rest.to_vec(&**graph.source())?);
            Ok(out)
        }
        _ => {
            b.null()?;
            Ok(b.finish()?)
        }
    }
}

/// The splits with their modification times and states, in the order 1.1 held them.
fn elements(s: &ReaderState) -> Result<Vec<(String, Vec<u8>)>, HeaderError> {
    let n = s.pending.len() as i64;
    let mut out = Vec::with_capacity(s.pending.len() + 1);
    let describe = |sp: &Split, t: i64| {
        format!(
            "#{} {}+{}@{}",
            sp.number,
            sp.path.as_deref().unwrap_or("null"),
            sp.start,
            t
        )
    };
    if let Some(c) = &s.current {
        let state = Some((&s.graph, s.format_state));
        out.push((describe(c, n), split_stream(c, n, state)?));
    }
    for (i, p) in s.pending.iter().enumerate() {
        let t = n - 1 - i as i64;
        out.push((describe(p, t), split_stream(p, t, None)?));
    }
    Ok(out)
}

impl Cx<'_> {
    /// The reader's splits as its `splits` list state, for a file of `kind` (the native
    /// operator proxy, or proxy v5 with a JavaSerializer snapshot); `None` without splits.
    pub(super) fn reader_splits(
        &self,
        chain: usize,
        h: &StateHandle,
        kind: FileKind,
    ) -> Option<FileResult> {
        let loc = self.location(Some(chain), kind);
        match self.reader_elements(h, &loc) {
            Ok(e) if e.is_empty() => None,
            Ok(e) => Some(self.reader_file(loc, h, kind, e)),
            Err(e) => Some(Err(e)),
        }
    }

    fn reader_elements(
        &self,
        h: &StateHandle,
        loc: &FileLocation,
    ) -> Result<Vec<(String, Vec<u8>)>, Error> {
        let (src, span) = self.bytes_range(h.bytes(), loc)?;
        let place = format!("{} at offset {}", src.name(), span.start);
        let state = parse(src, span.start, span.len).map_err(|e| {
            not_migratable(loc)(format!(
                "ContinuousFileReaderOperator state in {place}: {e}"
            ))
        })?;
        elements(&state).map_err(Error::header(loc))
    }

    fn reader_file(
        &self,
        loc: FileLocation,
        h: &StateHandle,
        kind: FileKind,
        elements: Vec<(String, Vec<u8>)>,
    ) -> FileResult {
        let fail = not_migratable(&loc);
        let header = match kind {
            FileKind::ManagedOperatorStateV5 => {
                let java = Snapshot::of_singleton(JAVA_SERIALIZER)
                    .ok_or_else(|| fail("no JavaSerializer snapshot".into()))?;
                proxy::operator_header(READER_STATE, Distribution::SplitDistribute, &java)
                    .map_err(Error::format(&loc))?
            }
            _ => native::list_state_header(READER_STATE).map_err(Error::header(&loc))?,
        };
        let (labels, elements): (Vec<String>, Vec<Vec<u8>>) = elements.into_iter().unzip();
        let handle = format!(
            "ContinuousFileReaderOperator splits {} ({})",
            labels.join(", "),
            handle_classes(h)
        );
        let mut file = self.list_file(loc, handle, header, elements);
        file.list_state = Some(READER_STATE);
        Ok(file)
    }
}

#[cfg(test)]
mod tests;
