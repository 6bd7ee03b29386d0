//! Heap snapshot entries as canonical savepoint records (docs/modern-formats.md §4),
//! re-framed on read. The 1.1 heap `data` has no per-entry lengths, so one pass at
//! conversion time measures every key, namespace and value and keeps a checkpoint every
//! [`STRIDE`] records (for fixed-size keys and values, one per namespace: the rest is
//! arithmetic, and only namespaces are read); a read resumes from the nearest checkpoint. Keys and namespaces
//! are copied from the input as they pass, values are copied (or read straight into the
//! output when large): nothing is held per entry, so memory is bounded by the number of
//! records / STRIDE whatever the size of the state.
//!
//! Records keep the heap's order (namespace by namespace); neither Flink's heap nor its
//! RocksDB restore needs them sorted.

use super::keys::Codec;
use super::scan::{Emitter, SCAN_WINDOW, Scan};
use crate::source::{Source, Span};
use crate::stream::Piece;
use std::io;
use std::sync::Arc;

pub use super::records::STREAM_RECORD_TAG;
/// Records between checkpoints.
const STRIDE: u64 = 1024;
/// Namespaces are small (a window is 16 bytes); a larger one is refused, not held.
const MAX_NAMESPACE: usize = 1 << 16;
/// Values up to this size are read through the scan window rather than skipped.
const SMALL: u64 = 4096;
use crate::keygroup::{END_OF_KEY_GROUP, LAST_IN_STATE};

/// One heap state: its `data` range and how to measure its entries.
#[derive(Clone)]
pub struct HeapStateData {
    pub source: Arc<dyn Source>,
    pub span: Span,
    pub key: Codec,
    pub namespace: Codec,
    pub value: Codec,
    /// List state: the element codec. A 1.1 heap list value (`int n`, n elements) is then
    /// written the way the RocksDB layouts hold lists: the elements joined by `,`.
    pub list: Option<Codec>,
}

/// List values larger than this are refused rather than held while being re-framed.
const MAX_LIST_VALUE: u64 = 64 << 20;

/// The length a value of `v` input bytes has in the output (a list's delimited form).
fn out_len(
    state: &HeapStateData,
    v: u64,
    value: &dyn Fn() -> io::Result<[u8; 4]>,
) -> io::Result<u64> {
    if state.list.is_none() {
        return Ok(v);
    }
    if v > MAX_LIST_VALUE {
        return Err(bad(format!(
            "a list value of {v} bytes (at most {MAX_LIST_VALUE} are re-framed)"
        )));
    }
    let n = i32::from_be_bytes(value()?);
    // Without the count, with a delimiter between elements and, for records, a tag each.
    let tags = match &state.list {
        Some(Codec::Record(_)) => n.max(0) as u64,
        _ => 0,
    };
    Ok(if n <= 0 {
        0
    } else {
        v - 4 + (n as u64 - 1) + tags
    })
}

/// A 1.1 heap list value as the RocksDB layouts hold it: its elements joined by `,`
/// (records, Flink 1.1's StreamRecordSerializer's, as Flink 1.2+ writes them: tag `01`
/// and the value).
fn delimited(value: &[u8], element: &Codec) -> io::Result<Vec<u8>> {
    let n = value
        .get(..4)
        .map(|b| i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
        .ok_or_else(|| bad("a list value without its length".into()))?;
    let mut out = Vec::with_capacity(value.len());
    let mut rest = &value[4..];
    for i in 0..n.max(0) {
        if i > 0 {
            out.push(crate::modern::proxy::LIST_DELIMITER);
        }
        let before = rest;
        element.read(&mut rest)?;
        if let Codec::Record(_) = element {
            out.push(STREAM_RECORD_TAG);
        }
        out.extend_from_slice(&before[..before.len() - rest.len()]);
    }
    if !rest.is_empty() {
        return Err(bad(format!(
            "{} bytes after a list's {n} elements",
            rest.len()
        )));
    }
    Ok(out)
}

/// A codec with its fixed length worked out once (it is asked for every entry).
struct FieldLen<'a> {
    codec: &'a Codec,
    fixed: Option<u64>,
}

impl<'a> FieldLen<'a> {
    fn new(codec: &'a Codec) -> Self {
        FieldLen {
            codec,
            fixed: codec.fixed_len(),
        }
    }

    /// The length of the next value, consuming it.
    #[inline]
    fn next(&self, scan: &mut Scan<'_>) -> io::Result<u64> {
        match self.fixed {
            Some(n) if n <= SMALL => scan.take(n as usize).map(|_| n),
            _ => measure(self.codec, scan),
        }
    }
}

/// Where a read can resume: the output offset of a record and everything the parser
/// needs at its key.
#[derive(Clone)]
struct Checkpoint {
    out: u64,
    record: u64,
    state: usize,
    /// Input offset of the record's key.
    input: u64,
    /// The namespace the record is in, entries left in it (this one included) and
    /// namespaces left after it.
    namespace: Box<[u8]>,
    left_in_namespace: u32,
    namespaces_left: u32,
}

/// The re-framed records of one key group, as a [`Source`].
pub struct HeapRecords {
    name: String,
    states: Vec<HeapStateData>,
    /// The key-group prefix (1 byte for max parallelism ≤ 128, else 2).
    prefix: Vec<u8>,
    /// Per state with records, in order: (state index, index of its last record).
    runs: Vec<(usize, u64)>,
    checkpoints: Vec<Checkpoint>,
    records: u64,
    len: u64,
}

fn bad(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

/// Walks a state's entries: yields each entry's key and value, measured.
struct Walker<'a> {
    scan: Scan<'a>,
    state: &'a HeapStateData,
    key: FieldLen<'a>,
    ns: FieldLen<'a>,
    value: FieldLen<'a>,
    namespace: Vec<u8>,
    left_in_namespace: u32,
    namespaces_left: u32,
}

impl<'a> Walker<'a> {
    fn at_start(state: &'a HeapStateData, window: usize) -> io::Result<Walker<'a>> {
        let mut scan =
            Scan::new(&*state.source, state.span.start, state.span.end()).with_window(window);
        let namespaces = scan.len("namespace count", state.span.start)?;
        Ok(Walker {
            scan,
            state,
            key: FieldLen::new(&state.key),
            ns: FieldLen::new(&state.namespace),
            value: FieldLen::new(&state.value),
            namespace: Vec::new(),
            left_in_namespace: 0,
            namespaces_left: namespaces,
        })
    }

    fn at(state: &'a HeapStateData, cp: &Checkpoint, window: usize) -> Walker<'a> {
        Walker {
            scan: Scan::new(&*state.source, cp.input, state.span.end()).with_window(window),
            state,
            key: FieldLen::new(&state.key),
            ns: FieldLen::new(&state.namespace),
            value: FieldLen::new(&state.value),
            namespace: cp.namespace.to_vec(),
            left_in_namespace: cp.left_in_namespace,
            namespaces_left: cp.namespaces_left,
        }
    }

    /// Moves to the next entry's key; `false` when the state has no more entries.
    fn next_entry(&mut self) -> io::Result<bool> {
        while self.left_in_namespace == 0 {
            if self.namespaces_left == 0 {
                return Ok(false);
            }
            self.namespaces_left -= 1;
            let at = self.scan.pos();
            let n = self.ns.next(&mut self.scan)?;
            if n as usize > MAX_NAMESPACE {
                return Err(bad(format!("namespace of {n} bytes at offset {at}")));
            }
            self.namespace.clear();
            match self.scan.recent(at) {
                Some(b) => self.namespace.extend_from_slice(b),
                None => {
                    self.namespace.resize(n as usize, 0);
                    self.state.source.read_at(at, &mut self.namespace)?;
                }
            }
            self.left_in_namespace = self.scan.len("entry count", at)?;
        }
        Ok(true)
    }
}

/// A list value's element count: its first 4 bytes, from the scan window or the source.
fn list_count(scan: &Scan<'_>, source: &dyn Source, value_at: u64) -> io::Result<[u8; 4]> {
    let mut n = [0u8; 4];
    match scan.recent(value_at) {
        Some(b) if b.len() >= 4 => n.copy_from_slice(&b[..4]),
        _ => source.read_at(value_at, &mut n)?,
    }
    Ok(n)
}

/// The length of the next value `codec` reads, consuming it.
fn measure(codec: &Codec, scan: &mut Scan<'_>) -> io::Result<u64> {
    if let Some(n) = codec.fixed_len() {
        // Small values are taken into the window (the next read copies them from there);
        // only large ones are skipped unread.
        if n <= SMALL {
            scan.take(n as usize)?;
        } else {
            scan.skip(n)?;
        }
        return Ok(n);
    }
    let start = scan.pos();
    match codec {
        Codec::String => {
            let varint = |scan: &mut Scan<'_>| -> io::Result<u32> {
                let mut out = 0u32;
                for shift in (0..35).step_by(7) {
                    let b = scan.u8()?;
                    out |= ((b & 0x7F) as u32) << shift;
                    if b & 0x80 == 0 {
                        return Ok(out);
                    }
                }
                Err(bad(format!(
                    "string length varint too long at offset {start}"
                )))
            };
            let len = varint(scan)?;
            for _ in 1..len {
                varint(scan)?;
            }
        }
        Codec::Tuple(parts) => {
            for p in parts {
                measure(p, scan)?;
            }
        }
        Codec::List(elem) => {
            let n = scan.len("list length", start)?;
            for _ in 0..n {
                measure(elem, scan)?;
            }
        }
        Codec::Record(inner) => {
            measure(inner, scan)?;
        }
        Codec::Pojo(fields) => {
            if super::keys::pojo_flags(scan.u8()?)? {
                for f in fields {
                    if scan.u8()? == 0 {
                        measure(f, scan)?;
                    }
                }
            }
        }
        Codec::Bytes => {
            let n = scan.len("byte array length", start)? as u64;
            if n <= SMALL {
                scan.take(n as usize)?;
            } else {
                scan.skip(n)?;
            }
        }
        _ => return Err(bad(format!("cannot measure {codec:?}"))),
    }
    Ok(scan.pos() - start)
}

/// Frames fixed-size `K ‖ V` entries of `input` as records of `rec` bytes into `out`
/// (none of them the last of its state).
fn frame_fixed(out: &mut [u8], input: &[u8], prefix: &[u8], ns: &[u8], k: usize, rec: usize) {
    let v = rec - 8 - prefix.len() - k - ns.len();
    let klen = ((prefix.len() + k + ns.len()) as u32).to_be_bytes();
    let vlen = (v as u32).to_be_bytes();
    for (dst, src) in out.chunks_exact_mut(rec).zip(input.chunks_exact(k + v)) {
        let (head, rest) = dst.split_at_mut(4);
        head.copy_from_slice(&klen);
        let (pre, rest) = rest.split_at_mut(prefix.len());
        pre.copy_from_slice(prefix);
        let (key, rest) = rest.split_at_mut(k);
        key.copy_from_slice(&src[..k]);
        let (nsb, rest) = rest.split_at_mut(ns.len());
        nsb.copy_from_slice(ns);
        let (vl, value) = rest.split_at_mut(4);
        vl.copy_from_slice(&vlen);
        value.copy_from_slice(&src[k..]);
    }
}

impl HeapRecords {
    /// Indexes the entries of `states` (one pass), for key group `key_group` of a job
    /// with `max_parallelism`. `None` when no state has an entry.
    pub fn index(
        name: String,
        states: Vec<HeapStateData>,
        key_group: u32,
        max_parallelism: u32,
    ) -> io::Result<Option<HeapRecords>> {
        if states.len() > i16::MAX as usize {
            return Err(bad(format!("{} states in one operator", states.len())));
        }
        for s in &states {
            if s.key.fixed_len().is_none() && s.namespace.fixed_len().is_none() {
                return Err(bad(
                    "keys and namespaces both of variable length need Flink's ambiguous-key framing, which is not written yet".into(),
                ));
            }
        }
        let prefix = crate::keygroup::prefix(key_group, max_parallelism)
            .map_err(bad)?
            .bytes()
            .to_vec();
        let mut runs = Vec::new();
        let mut checkpoints = Vec::new();
        let mut out = 2u64; // the first state id
        let mut record = 0u64;
        for (j, state) in states.iter().enumerate() {
            let mut w = Walker::at_start(state, SCAN_WINDOW)?;
            let first = record;
            let fixed = w.key.fixed.zip(w.value.fixed);
            while w.next_entry()? {
                if let Some((k, v)) = fixed {
                    // Fixed-size entries: the rest of the namespace is arithmetic, and
                    // only its end is read (to check the data is all there).
                    let n = u64::from(w.left_in_namespace);
                    let start = w.scan.pos();
                    let klen = prefix.len() as u64 + k + w.namespace.len() as u64;
                    let rec = 4 + klen + 4 + v;
                    // One checkpoint at the namespace's start: a read finds any record
                    // in it by arithmetic, so memory grows with namespaces, not entries.
                    if n > 0 {
                        checkpoints.push(Checkpoint {
                            out,
                            record,
                            state: j,
                            input: start,
                            namespace: w.namespace.clone().into_boxed_slice(),
                            left_in_namespace: n as u32,
                            namespaces_left: w.namespaces_left,
                        });
                    }
                    let bytes = n
                        .checked_mul(k + v)
                        .ok_or_else(|| bad(format!("{n} entries of {} bytes", k + v)))?;
                    w.scan.skip(bytes)?;
                    out += n * rec;
                    record += n;
                    w.left_in_namespace = 0;
                    continue;
                }
                if record.is_multiple_of(STRIDE) {
                    checkpoints.push(Checkpoint {
                        out,
                        record,
                        state: j,
                        input: w.scan.pos(),
                        namespace: w.namespace.clone().into_boxed_slice(),
                        left_in_namespace: w.left_in_namespace,
                        namespaces_left: w.namespaces_left,
                    });
                }
                let k = w.key.next(&mut w.scan)?;
                let value_at = w.scan.pos();
                let v = w.value.next(&mut w.scan)?;
                let v = out_len(state, v, &|| list_count(&w.scan, &*state.source, value_at))?;
                let klen = prefix.len() as u64 + k + w.namespace.len() as u64;
                if klen > i32::MAX as u64 || v > i32::MAX as u64 {
                    return Err(bad(format!("record {record}: key or value over 2 GiB")));
                }
                out += 4 + klen + 4 + v;
                w.left_in_namespace -= 1;
                record += 1;
            }
            if record > first {
                runs.push((j, record - 1));
                out += 2; // the next state id or the end mark
            }
        }
        if record == 0 {
            return Ok(None);
        }
        Ok(Some(HeapRecords {
            name,
            states,
            prefix,
            runs,
            checkpoints,
            records: record,
            len: out,
        }))
    }
}

/// The re-framed records of one key group as one piece of a file, named after the
/// state files it reads (so a file's sources say which it needs); `None` without
/// records. The canonical savepoint layout and Flink 1.10's RocksDB layout frame
/// records alike.
pub fn heap_records(
    states: Vec<HeapStateData>,
    key_group: u32,
    max_parallelism: u32,
) -> Result<Option<Piece>, String> {
    let mut inputs: Vec<String> = states.iter().map(|s| s.source.name()).collect();
    inputs.dedup();
    let name = format!("{} (heap entries as records)", inputs.join(", "));
    let records = HeapRecords::index(name, states, key_group, max_parallelism)
        .map_err(|e| format!("heap state: {e}"))?;
    Ok(records.map(|r| {
        let len = r.len();
        Piece::range(Arc::new(r), Span::new(0, len))
    }))
}

impl Source for HeapRecords {
    fn len(&self) -> u64 {
        self.len
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        let mut out = Emitter::for_read(offset, buf, self.len, &|| self.name())?;
        if out.done() {
            return Ok(());
        }
        let state_id = |run: usize| self.runs.get(run).map(|&(j, _)| j as u16);
        if offset < 2 {
            out.put(0, &state_id(0).unwrap_or(END_OF_KEY_GROUP).to_be_bytes());
        }
        let cp = &self.checkpoints[self
            .checkpoints
            .partition_point(|c| c.out <= offset)
            .saturating_sub(1)];
        let mut record = cp.record;
        let mut pos = cp.out;
        let mut run = self.runs.partition_point(|&(_, last)| last < record);
        // Input is never longer than the output it frames: read ahead about one request.
        let window = out.wanted() + 16 * 1024;
        let mut w = Walker::at(&self.states[cp.state], cp, window);
        while !out.done() && record < self.records {
            let Some(&(j, last_of_run)) = self.runs.get(run) else {
                break;
            };
            if !std::ptr::eq(w.state, &self.states[j]) {
                w = Walker::at_start(&self.states[j], window)?;
            }
            if !w.next_entry()? {
                return Err(bad(format!(
                    "{}: state {j} ended before record {record}; its data changed since it was indexed",
                    self.name()
                )));
            }
            // Fixed-size records wholly before the read are passed over by arithmetic
            // (never the last of a state, which is 2 bytes longer).
            if let (Some(k), Some(v)) = (w.key.fixed, w.value.fixed) {
                let rec = 4 + self.prefix.len() as u64 + k + w.namespace.len() as u64 + 4 + v;
                let skip = (offset.saturating_sub(pos) / rec)
                    .min(u64::from(w.left_in_namespace))
                    .min(last_of_run - record);
                if skip > 0 {
                    w.scan.skip(skip * (k + v))?;
                    pos += skip * rec;
                    record += skip;
                    w.left_in_namespace -= skip as u32;
                    continue;
                }
                // Records wholly inside the read, again not the last of a state: framed
                // in one loop straight from the scan window.
                let room = (offset + out.wanted() as u64).saturating_sub(pos) / rec;
                let run = room
                    .min(u64::from(w.left_in_namespace))
                    .min(last_of_run - record)
                    .min((SCAN_WINDOW as u64 / (k + v)).max(1));
                if run > 1
                    && let Some(slot) = out.slot(pos, run * rec)
                {
                    let input = w.scan.take((run * (k + v)) as usize)?;
                    frame_fixed(
                        slot,
                        input,
                        &self.prefix,
                        &w.namespace,
                        k as usize,
                        rec as usize,
                    );
                    pos += run * rec;
                    record += run;
                    w.left_in_namespace -= run as u32;
                    continue;
                }
            }
            let key_at = w.scan.pos();
            let k = w.key.next(&mut w.scan)?;
            let value_at = w.scan.pos();
            let v_in = w.value.next(&mut w.scan)?;
            let source = &*w.state.source;
            let v = out_len(w.state, v_in, &|| list_count(&w.scan, source, value_at))?;
            let last = record == last_of_run;
            let p = self.prefix.len();
            let ns = &w.namespace;
            let klen = p as u64 + k + ns.len() as u64;
            let wanted = out.wants(pos, 4 + klen + 4 + v);
            // A wanted list value is re-framed whole (it is bounded by MAX_LIST_VALUE).
            let list = match &w.state.list {
                Some(element) if wanted => {
                    let bytes = match w.scan.recent(value_at) {
                        Some(b) => delimited(b, element)?,
                        None => {
                            let mut b = vec![0u8; v_in as usize];
                            source.read_at(value_at, &mut b)?;
                            delimited(&b, element)?
                        }
                    };
                    Some(bytes)
                }
                _ => None,
            };
            let mut prefix = [0u8; 2];
            prefix[..p].copy_from_slice(&self.prefix);
            if last {
                prefix[0] |= LAST_IN_STATE;
            }
            let (k, v) = (k as usize, v as usize);
            let rec = 4 + klen as usize + 4 + v;
            let input = w.scan.recent(key_at);
            match input.and_then(|kv| out.slot(pos, rec as u64).map(|slot| (slot, kv))) {
                // The whole record is wanted and its input is in the window: one pass.
                Some((slot, kv)) => {
                    let (head, rest) = slot.split_at_mut(4);
                    head.copy_from_slice(&(klen as u32).to_be_bytes());
                    let (pre, rest) = rest.split_at_mut(p);
                    pre.copy_from_slice(&prefix[..p]);
                    let (key, rest) = rest.split_at_mut(k);
                    key.copy_from_slice(&kv[..k]);
                    let (nsb, rest) = rest.split_at_mut(ns.len());
                    nsb.copy_from_slice(ns);
                    let (vlen, value) = rest.split_at_mut(4);
                    vlen.copy_from_slice(&(v as u32).to_be_bytes());
                    match &list {
                        Some(l) => value.copy_from_slice(l),
                        None => value.copy_from_slice(&kv[k..k + v]),
                    }
                }
                None => {
                    out.put(pos, &(klen as u32).to_be_bytes());
                    out.put(pos + 4, &prefix[..p]);
                    let key_pos = pos + 4 + p as u64;
                    if out.wants(key_pos, k as u64) {
                        match w.scan.recent(key_at) {
                            Some(kv) => out.put(key_pos, &kv[..k]),
                            None => out.put_source(key_pos, &*w.state.source, key_at, k as u64)?,
                        }
                    }
                    out.put(key_pos + k as u64, ns);
                    let vlen_pos = key_pos + k as u64 + ns.len() as u64;
                    out.put(vlen_pos, &(v as u32).to_be_bytes());
                    if let Some(l) = &list {
                        out.put(vlen_pos + 4, l);
                    } else if out.wants(vlen_pos + 4, v as u64) {
                        match w.scan.recent(value_at) {
                            Some(value) => out.put(vlen_pos + 4, value),
                            None => {
                                out.put_source(vlen_pos + 4, &*w.state.source, value_at, v as u64)?
                            }
                        }
                    }
                }
            }
            let vlen_pos = pos + 4 + klen;
            let v = v as u64;
            pos = vlen_pos + 4 + v;
            w.left_in_namespace -= 1;
            if last {
                let next = state_id(run + 1).unwrap_or(END_OF_KEY_GROUP);
                out.put(pos, &next.to_be_bytes());
                pos += 2;
                run += 1;
            }
            record += 1;
        }
        out.finish(&|| self.name())
    }

    fn name(&self) -> String {
        self.name.clone()
    }

    fn held_bytes(&self) -> usize {
        self.checkpoints.len() * (std::mem::size_of::<Checkpoint>() + 16)
            + self.runs.len() * 16
            + 256
    }
}

#[cfg(test)]
mod tests;
