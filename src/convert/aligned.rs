//! Flink 1.1's aligned processing-time window operators (operators.md §4.2): every keyed
//! `timeWindow` in processing time with `reduce` (Aggregating…) or `apply` (Accumulating…)
//! ran one of them, and they kept their panes in the operator's own bytes, which no Flink
//! after 1.3 reads. Flink 1.2 replayed the panes into a WindowOperator at restore; here
//! they are re-expressed, once per subtask, as the WindowOperator snapshot Flink 1.1
//! would have written for the same windows: `window-contents` (reducing or list state in
//! `TimeWindow` namespaces) plus one processing-time timer per key and window at its
//! `maxTimestamp`. Every target then converts that entry by the WindowOperator's rules
//! (`convert/timers.rs`). The operator's size, slide, function and key and value
//! serializers are not in the snapshot: `--window` gives them, and the panes must decode
//! with them exactly, or the conversion is refused naming the file and offset.
//!
//! The rewritten entry lives in a model of its own whose source is the savepoint followed
//! by the synthesized bytes (the savepoint's offsets unchanged, nothing copied), so the
//! other chain entries keep their handles.

use super::FileKind;
use super::key_serializer::KeySerializer;
use super::keys::Codec;
use super::operators::Operator;
use crate::javaser::builder::StreamBuilder;
use crate::javaser::{self, Limits};
use crate::source::{Source, Span};
use crate::stream::{MultiStream, Piece};
use crate::v0::operators::WINDOW_CONTENTS;
use crate::v0::{
    Bytes, ChainEntry, HeapBackend, HeapSnapshot, KvSnapshot, KvState, StateHandle, StateKind,
    SubtaskModel,
};
use std::collections::HashMap;
use std::sync::Arc;

/// The operator bytes' magic numbers (after two longs; before each pane).
const PANES_MAGIC: u32 = 0x0FF1_CE42;
const PANE_MAGIC: u32 = 0xBADF_00D5;
/// Panes are read whole (Flink 1.1 held them on its heap); larger bytes are refused.
const MAX_PANE_BYTES: u64 = 1 << 30;

/// What `--window VERTEX/chain-K=SPEC` says about an aligned window operator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WindowSpec {
    /// Window size and slide in ms (equal for tumbling windows).
    pub size: i64,
    pub slide: i64,
    /// `reduce` (AggregatingProcessingTimeWindowOperator: one pre-reduced value per key and
    /// pane) or `apply` (Accumulating…: the elements).
    pub function: WindowFunction,
    pub key: KeySerializer,
    /// The stream's element type (the window's input).
    pub value: KeySerializer,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WindowFunction {
    Reduce,
    Apply,
}

/// The form `--window` takes after `VERTEX/chain-K=`.
pub const SPEC_FORM: &str = "tumbling:SIZE|sliding:SIZE:SLIDE,reduce|apply,key=SERIALIZER,value=SERIALIZER (sizes in ms; serializers as --key-serializer takes them)";

impl WindowSpec {
    pub fn parse(s: &str) -> Result<WindowSpec, String> {
        let bad = |why: String| format!("--window {s:?}: {why}; the form is {SPEC_FORM}");
        let mut parts = s.split(',');
        let assigner = parts.next().unwrap_or("");
        let ms = |t: &str| -> Result<i64, String> {
            t.parse::<i64>()
                .ok()
                .filter(|&v| v > 0)
                .ok_or_else(|| bad(format!("{t:?} is not a positive number of ms")))
        };
        let (size, slide) = match assigner.split(':').collect::<Vec<_>>()[..] {
            ["tumbling", size] => (ms(size)?, ms(size)?),
            ["sliding", size, slide] => (ms(size)?, ms(slide)?),
            _ => return Err(bad(format!("{assigner:?} is not an assigner"))),
        };
        if slide > size {
            return Err(bad(format!(
                "a slide of {slide} ms is longer than the window"
            )));
        }
        let (mut function, mut key, mut value) = (None, None, None);
        for p in parts {
            match p.split_once('=') {
                None if p == "reduce" => function = Some(WindowFunction::Reduce),
                None if p == "apply" => function = Some(WindowFunction::Apply),
                Some(("key", k)) => key = Some(KeySerializer::parse(k).map_err(&bad)?),
                Some(("value", v)) => value = Some(KeySerializer::parse(v).map_err(&bad)?),
                _ => return Err(bad(format!("{p:?} is not understood"))),
            }
        }
        Ok(WindowSpec {
            size,
            slide,
            function: function.ok_or_else(|| bad("reduce or apply is missing".into()))?,
            key: key.ok_or_else(|| bad("key= is missing".into()))?,
            value: value.ok_or_else(|| bad("value= is missing".into()))?,
        })
    }

    /// Pane length: the largest that divides both size and slide.
    fn pane(&self) -> i64 {
        let (mut a, mut b) = (self.size, self.slide);
        while b != 0 {
            (a, b) = (b, a % b);
        }
        a
    }
}

/// One key's aggregate in one pane: where its key and value bytes are in the operator bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
struct PaneEntry {
    key: std::ops::Range<usize>,
    value: std::ops::Range<usize>,
}

/// The operator bytes, parsed.
#[derive(Debug, PartialEq, Eq)]
struct Panes {
    next_evaluation: i64,
    next_slide: i64,
    /// Oldest first; the last ends at `next_slide`.
    panes: Vec<Vec<PaneEntry>>,
}

fn parse_panes(b: &[u8], key: &Codec, aggregate: &Codec) -> Result<Panes, String> {
    let mut at = 0usize;
    let take = |at: &mut usize, n: usize, what: &str| -> Result<std::ops::Range<usize>, String> {
        let r = *at..at.checked_add(n).filter(|&e| e <= b.len()).ok_or_else(|| {
            format!(
                "offset {at}: {what} is cut short ({} bytes in all)",
                b.len()
            )
        })?;
        *at = r.end;
        Ok(r)
    };
    let long = |at: &mut usize, what: &str| -> Result<i64, String> {
        let r = take(at, 8, what)?;
        Ok(i64::from_be_bytes(b[r].try_into().unwrap_or_default()))
    };
    let int = |at: &mut usize, what: &str| -> Result<u32, String> {
        let r = take(at, 4, what)?;
        Ok(u32::from_be_bytes(b[r].try_into().unwrap_or_default()))
    };
    let next_evaluation = long(&mut at, "the next evaluation time")?;
    let next_slide = long(&mut at, "the next slide time")?;
    let magic_at = at;
    if int(&mut at, "the panes' magic number")? != PANES_MAGIC {
        return Err(format!(
            "offset {magic_at}: not the aligned window operator's magic number 0FF1CE42"
        ));
    }
    let count_at = at;
    let n = int(&mut at, "the pane count")? as usize;
    // A pane is at least its magic and its count.
    if n > (b.len() - at) / 8 {
        return Err(format!(
            "offset {count_at}: {n} panes cannot fit in the {} bytes left",
            b.len() - at
        ));
    }
    let mut panes = Vec::with_capacity(n);
    for p in 0..n {
        let pane_at = at;
        if int(&mut at, "a pane's magic number")? != PANE_MAGIC {
            return Err(format!(
                "offset {pane_at}: pane {p} does not start with the magic number BADF00D5"
            ));
        }
        let entries = int(&mut at, "a pane's entry count")? as usize;
        if entries > b.len() - at {
            return Err(format!(
                "offset {pane_at}: pane {p} declares {entries} entries in {} bytes",
                b.len() - at
            ));
        }
        let mut pane = Vec::with_capacity(entries);
        for i in 0..entries {
            let entry_at = at;
            let mut r = &b[at..];
            let left = r.len();
            let read = |r: &mut &[u8], codec: &Codec, what: &str| {
                codec
                    .read(r)
                    .map(|_| ())
                    .map_err(|e| format!("offset {entry_at}: pane {p} entry {i}: its {what}: {e}"))
            };
            read(&mut r, key, "key")?;
            let key_end = at + (left - r.len());
            read(&mut r, aggregate, "value")?;
            let value_end = at + (left - r.len());
            pane.push(PaneEntry {
                key: at..key_end,
                value: key_end..value_end,
            });
            at = value_end;
        }
        panes.push(pane);
    }
    if at != b.len() {
        return Err(format!(
            "offset {at}: {} bytes after the last pane (do --window's serializers and function match the job?)",
            b.len() - at
        ));
    }
    Ok(Panes {
        next_evaluation,
        next_slide,
        panes,
    })
}

/// A window [start, end) and its contents: per key (in first-seen order) its value.
type Windows = Vec<((i64, i64), Vec<(Vec<u8>, Vec<u8>)>)>;

/// The windows still to fire and what each holds (operators.md §4.2 (3)): a pane goes to
/// every window that contains it and ends at or after the next evaluation time. Lists are
/// concatenated oldest pane first; a reduced value cannot be combined with another without
/// the job's ReduceFunction, so a window with two filled panes of one key is refused.
fn windows(b: &[u8], p: &Panes, spec: &WindowSpec) -> Result<Windows, String> {
    let pane = spec.pane();
    let overflow = || "pane times overflow a long".to_string();
    let mut out: Windows = Vec::new();
    let mut index: HashMap<(i64, i64), usize> = HashMap::new();
    let n = p.panes.len() as i64;
    for (k, entries) in p.panes.iter().enumerate() {
        let back = (n - 1 - k as i64).checked_mul(pane).ok_or_else(overflow)?;
        let end = p.next_slide.checked_sub(back).ok_or_else(overflow)?;
        let start = end.checked_sub(pane).ok_or_else(overflow)?;
        if entries.is_empty() {
            continue;
        }
        // Window ends are multiples of the slide, from the first at or after the pane's
        // end to the last whose window still covers its start.
        let first = end
            .checked_add((spec.slide - end.rem_euclid(spec.slide)) % spec.slide)
            .ok_or_else(overflow)?;
        let last = start.checked_add(spec.size).ok_or_else(overflow)?;
        let mut placed = false;
        let mut e = first;
        while e <= last {
            if e >= p.next_evaluation {
                placed = true;
                let w = (e - spec.size, e);
                let at = *index.entry(w).or_insert_with(|| {
                    out.push((w, Vec::new()));
                    out.len() - 1
                });
                for entry in entries {
                    let (key, value) = (&b[entry.key.clone()], &b[entry.value.clone()]);
                    let keys = &mut out[at].1;
                    match keys.iter_mut().find(|(k, _)| k == key) {
                        None => keys.push((key.to_vec(), value.to_vec())),
                        Some((_, held)) => match spec.function {
                            WindowFunction::Apply => append_list(held, value)?,
                            WindowFunction::Reduce => {
                                return Err(format!(
                                    "window [{}, {}) holds two reduced panes of one key (bytes {:02x?}): combining them needs the job's ReduceFunction, which no file records",
                                    w.0, w.1, key
                                ));
                            }
                        },
                    }
                }
            }
            e = e.checked_add(spec.slide).ok_or_else(overflow)?;
        }
        if !placed {
            return Err(format!(
                "pane [{start}, {end}) is in no window still to fire (the next fires at {})",
                p.next_evaluation
            ));
        }
    }
    out.sort_by_key(|(w, _)| *w);
    Ok(out)
}

/// `int n, elements` + `int m, elements` → `int n+m, elements`.
fn append_list(held: &mut Vec<u8>, more: &[u8]) -> Result<(), String> {
    let count = |b: &[u8]| {
        b.get(..4)
            .map(|c| i32::from_be_bytes([c[0], c[1], c[2], c[3]]))
    };
    let (Some(a), Some(m)) = (count(held), count(more)) else {
        return Err("a list aggregate without its length".into());
    };
    let sum = a
        .checked_add(m)
        .ok_or_else(|| format!("lists of {a} and {m} elements overflow an int"))?;
    held[..4].copy_from_slice(&sum.to_be_bytes());
    held.extend_from_slice(&more[4..]);
    Ok(())
}

/// The 1.1 heap snapshot `data` of `window-contents`: `int namespaces`, per window its
/// 16 bytes (start, end), `int keys`, per key its key and value.
fn heap_data(w: &Windows) -> Result<Vec<u8>, String> {
    let mut d = Vec::new();
    d.extend_from_slice(&count(w.len())?.to_be_bytes());
    for ((start, end), keys) in w {
        d.extend_from_slice(&start.to_be_bytes());
        d.extend_from_slice(&end.to_be_bytes());
        d.extend_from_slice(&count(keys.len())?.to_be_bytes());
        for (k, v) in keys {
            d.extend_from_slice(k);
            d.extend_from_slice(v);
        }
    }
    Ok(d)
}

/// A 1.1 WindowOperator's timer bytes for these windows: no event-time timers, one
/// processing-time timer per key and window at `end - 1`, then the multiset of
/// processing times (`convert/timers.rs` reads them).
fn timer_bytes(w: &Windows) -> Result<Vec<u8>, String> {
    let mut t = 0i32.to_be_bytes().to_vec();
    let timers: usize = w.iter().map(|(_, keys)| keys.len()).sum();
    t.extend_from_slice(&count(timers)?.to_be_bytes());
    for ((start, end), keys) in w {
        for (k, _) in keys {
            t.extend_from_slice(k);
            t.extend_from_slice(&start.to_be_bytes());
            t.extend_from_slice(&end.to_be_bytes());
            t.extend_from_slice(&(end - 1).to_be_bytes());
        }
    }
    t.extend_from_slice(&count(w.len())?.to_be_bytes());
    for ((_, end), keys) in w {
        t.extend_from_slice(&(end - 1).to_be_bytes());
        t.extend_from_slice(&count(keys.len())?.to_be_bytes());
    }
    Ok(t)
}

fn count(n: usize) -> Result<i32, String> {
    i32::try_from(n).map_err(|_| format!("{n} entries do not fit an int"))
}

/// The key, namespace and state serializers as one Java stream of three objects (each
/// after a TC_RESET), so one graph holds them.
fn serializers(spec: &WindowSpec) -> Result<Vec<u8>, String> {
    let key = spec.key.stream()?;
    let value = spec.value.stream()?;
    let window = super::native::singleton_stream(&crate::v0::classes::TIME_WINDOW_SERIALIZER)
        .map_err(|e| e.to_string())?;
    let state = match (spec.function, &spec.value) {
        (WindowFunction::Reduce, _) => value.to_vec(),
        // A serializer from a file joins the list serializer's stream re-emitted.
        (WindowFunction::Apply, KeySerializer::Java(_)) => {
            super::native::array_list_serializer(&value).map_err(|e| e.to_string())?
        }
        // Built in one stream, its class descriptors shared as Java writes them.
        (WindowFunction::Apply, element) => {
            let fail = |e: crate::javaser::builder::BuildError| e.to_string();
            let list = &crate::v0::classes::ARRAY_LIST_SERIALIZER;
            let mut b = StreamBuilder::new(Vec::new(), list.name, 0).map_err(fail)?;
            b.begin_object(list).map_err(fail)?;
            element.write(&mut b)?;
            b.finish().map_err(fail)?
        }
    };
    let mut out = key.to_vec();
    for s in [&window[..], &state[..]] {
        out.push(javaser::tc::RESET);
        out.extend_from_slice(s.get(4..).ok_or("a serializer stream without its header")?);
    }
    Ok(out)
}

/// The subtask re-expressed with its aligned window operator as a WindowOperator, where
/// `--window` names one, or why that fails, with its chain index.
pub(super) fn rewrite_named(
    model: &SubtaskModel,
    parallelism: u32,
    opts: &super::ConvertOptions,
) -> Option<(usize, Result<SubtaskModel, String>)> {
    let (_, vertex) = model.location.task?;
    let (&(_, chain), spec) = opts.windows.iter().find(|((v, _), _)| *v == vertex.0)?;
    let cx = super::subtask::Cx::new(model, parallelism, opts);
    let rewritten = (|| {
        let entry = model.chain.get(chain).and_then(Option::as_ref);
        let entry = entry.ok_or_else(|| format!("chain entry {chain} has no state"))?;
        // What the entry is: as `--operator` names it, else as its state shows.
        let detected = cx.operator(entry);
        let handle = entry
            .operator_state
            .as_ref()
            .filter(|_| detected == Some(Operator::AlignedWindow));
        let handle = handle.ok_or_else(|| {
            format!("chain entry {chain}'s state is not an aligned window operator's panes")
        })?;
        let loc = cx.location(Some(chain), FileKind::OperatorState);
        let bytes = cx
            .bytes_range(handle.bytes(), &loc)
            .map_err(|e| e.to_string())?;
        super::aligned::rewrite(model, chain, spec, bytes)
    })();
    Some((chain, rewritten))
}

/// `model` with chain entry `chain` (an aligned window operator whose operator bytes
/// are `bytes`) re-expressed as a WindowOperator. Errors name what in the bytes does not
/// fit `spec`, at which offset of the operator bytes.
pub fn rewrite(
    model: &SubtaskModel,
    chain: usize,
    spec: &WindowSpec,
    (bytes, span): (Arc<dyn Source>, Span),
) -> Result<SubtaskModel, String> {
    let entry = model
        .chain
        .get(chain)
        .and_then(Option::as_ref)
        .ok_or_else(|| format!("chain entry {chain} has no state"))?;
    if chain + 1 != model.chain.len() {
        return Err(format!(
            "the aligned window operator is chain entry {chain}, not the head; Flink restores keyed state to the head"
        ));
    }
    if model.entries().any(|e| !e.kv_states.is_empty()) {
        return Err("the chain already has keyed state; a task has one keyed backend".into());
    }
    if span.len > MAX_PANE_BYTES {
        return Err(format!(
            "{} bytes of panes (at most {MAX_PANE_BYTES} are converted)",
            span.len
        ));
    }
    let mut b = vec![0u8; span.len as usize];
    bytes
        .read_at(span.start, &mut b)
        .map_err(|e| format!("reading the operator bytes: {e}"))?;
    let codec = |s: &KeySerializer, what: &str| {
        super::keys::codec_of_stream(&s.stream()?)
            .map_err(|e| format!("the {what} serializer cannot measure values: {e}"))
    };
    let key = codec(&spec.key, "key")?;
    let value = codec(&spec.value, "value")?;
    let aggregate = match spec.function {
        WindowFunction::Reduce => value,
        WindowFunction::Apply => Codec::List(Box::new(value)),
    };
    let panes = parse_panes(&b, &key, &aggregate)
        .map_err(|e| format!("{} (operator bytes at {}): {e}", bytes.name(), span.start))?;
    let windows = windows(&b, &panes, spec)?;
    let serializers = serializers(spec)?;
    let data = heap_data(&windows)?;
    let timers = timer_bytes(&windows)?;

    // The savepoint, then the serializers, the contents and the timers.
    let savepoint = model.graph.source().clone();
    let base = savepoint.len();
    let spans = {
        let s = Span::new(base, serializers.len() as u64);
        let d = Span::new(s.end(), data.len() as u64);
        (s, d, Span::new(d.end(), timers.len() as u64))
    };
    let mut synthesized = serializers;
    synthesized.extend_from_slice(&data);
    synthesized.extend_from_slice(&timers);
    let source: Arc<dyn Source> = Arc::new(MultiStream::new(
        savepoint.name(),
        [
            Piece::range(savepoint.clone(), Span::new(0, base)),
            Piece::bytes(synthesized),
        ],
    ));
    let graph = javaser::parse_stream(source, spans.0.start, spans.0.end(), &Limits::default())
        .map_err(|e| format!("the synthesized serializers: {e}"))?;
    let nodes: Vec<_> = graph.roots().filter_map(|v| v.node()).collect();
    let [key_serializer, namespace_serializer, state_serializer] = nodes[..] else {
        return Err(format!("{} synthesized serializers, not 3", nodes.len()));
    };
    let heap = HeapSnapshot {
        // An aligned operator has no state descriptor: its serializer stands for it.
        node: state_serializer,
        backend: HeapBackend::Memory,
        kind: match spec.function {
            WindowFunction::Reduce => StateKind::Reducing,
            WindowFunction::Apply => StateKind::List,
        },
        data: Bytes::Span(spans.1),
        key_serializer,
        namespace_serializer,
        state_serializer,
        state_desc: state_serializer,
        state_name: WINDOW_CONTENTS.into(),
    };
    let window_operator = ChainEntry {
        index: entry.index,
        node: entry.node,
        function_state: entry.function_state.clone(),
        operator_state: Some(StateHandle::ByteStream {
            node: state_serializer,
            data: spans.2,
        }),
        kv_states_map: Some(state_serializer),
        kv_states: vec![KvState {
            name: WINDOW_CONTENTS.into(),
            key_node: state_serializer,
            snapshot: KvSnapshot::Heap(heap),
        }],
    };
    let mut chain_entries = model.chain.clone();
    chain_entries[chain] = Some(window_operator);
    Ok(SubtaskModel {
        location: model.location.clone(),
        blob: model.blob,
        graph,
        root: model.root,
        states_array: model.states_array,
        chain: chain_entries,
    })
}

#[cfg(test)]
mod tests;
