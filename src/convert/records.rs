//! Flink 1.1's stream records, an EvictingWindowOperator's window contents: 1.1's
//! `StreamRecordSerializer` wrote a record as its value alone, Flink 1.2+'s
//! `StreamElementSerializer` (same UID and field, `rename::Native`) as a tag and the
//! value. Re-framing adds the tag: here for the heap layout, in `heap_reframe.rs` for the
//! delimited lists of the RocksDB and canonical layouts.

use super::heap_reframe::HeapStateData;
use super::keys::Codec;
use std::io;

/// `StreamElementSerializer`'s tag of a record without a timestamp.
pub const STREAM_RECORD_TAG: u8 = 1;

fn bad(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

/// Heap data above this size are refused rather than re-framed in memory.
const MAX_TAGGED_DATA: u64 = 1 << 30;

/// Whether a heap list state's elements are Flink 1.1 stream records (an evicting
/// window's contents), which Flink 1.2+ reads with a tag each: its serializer says so.
pub fn holds_records(graph: &crate::javaser::Graph, h: &crate::v0::HeapSnapshot) -> bool {
    h.kind == crate::v0::StateKind::List
        && super::snapshots::list_element(graph, h.state_serializer)
            .and_then(|e| graph.class_name_of(e))
            .is_some_and(|n| n.is(crate::classnames::STREAM_RECORD_SERIALIZER))
}

/// A heap state's 1.1 `data` in the heap layout with each list element tagged `01`, as
/// Flink 1.2+'s `StreamElementSerializer` writes a record: namespaces, keys and list
/// counts unchanged. Held in memory (at most [`MAX_TAGGED_DATA`] bytes of input).
pub fn tagged_heap_data(state: &HeapStateData) -> io::Result<Vec<u8>> {
    let Some(element) = &state.list else {
        return Err(bad("not a list state".into()));
    };
    if state.span.len > MAX_TAGGED_DATA {
        return Err(bad(format!(
            "{} bytes of evicting-window contents (at most {MAX_TAGGED_DATA} are re-framed)",
            state.span.len
        )));
    }
    let mut input = vec![0u8; state.span.len as usize];
    state.source.read_at(state.span.start, &mut input)?;
    let mut r = &input[..];
    let mut out = Vec::with_capacity(input.len() + input.len() / 8);
    let at = |r: &[u8]| state.span.start + (input.len() - r.len()) as u64;
    let copy = |r: &mut &[u8], out: &mut Vec<u8>, codec: &Codec, what: &str| {
        let before = *r;
        let from = at(r);
        codec
            .read(r)
            .map_err(|e| bad(format!("{what} at offset {from}: {e}")))?;
        out.extend_from_slice(&before[..before.len() - r.len()]);
        io::Result::Ok(())
    };
    let count = |r: &mut &[u8], out: &mut Vec<u8>, what: &str| {
        let from = at(r);
        let Some((b, rest)) = r.split_first_chunk::<4>() else {
            return Err(bad(format!("{what} at offset {from}: cut short")));
        };
        *r = rest;
        let n = i32::from_be_bytes(*b);
        if n < 0 {
            return Err(bad(format!("negative {what} {n} at offset {from}")));
        }
        out.extend_from_slice(&n.to_be_bytes());
        io::Result::Ok(n)
    };
    for _ in 0..count(&mut r, &mut out, "namespace count")? {
        copy(&mut r, &mut out, &state.namespace, "a namespace")?;
        for _ in 0..count(&mut r, &mut out, "entry count")? {
            copy(&mut r, &mut out, &state.key, "a key")?;
            for _ in 0..count(&mut r, &mut out, "list length")? {
                out.push(STREAM_RECORD_TAG);
                copy(&mut r, &mut out, element, "a list element")?;
            }
        }
    }
    if !r.is_empty() {
        return Err(bad(format!("{} bytes after the last namespace", r.len())));
    }
    Ok(out)
}
