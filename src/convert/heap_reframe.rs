//! Heap snapshot entries as canonical savepoint records (docs/modern-formats.md §4.4),
//! re-framed on read. The 1.1 heap `data` has no per-entry lengths, so one pass at
//! conversion time measures every key, namespace and value and keeps a checkpoint every
//! [`STRIDE`] records; a read resumes from the nearest checkpoint. Keys and namespaces
//! are copied from the input as they pass, values are copied (or read straight into the
//! output when large): nothing is held per entry, so memory is bounded by the number of
//! records / STRIDE whatever the size of the state.
//!
//! Records keep the heap's order (namespace by namespace); neither Flink's heap nor its
//! RocksDB restore needs them sorted.

use super::keys::Codec;
use super::scan::{Emitter, Scan};
use crate::source::{Source, Span};
use std::io;
use std::sync::Arc;

/// Records between checkpoints.
const STRIDE: u64 = 1024;
/// Namespaces are small (a window is 16 bytes); a larger one is refused, not held.
const MAX_NAMESPACE: usize = 1 << 16;
/// Values up to this size are read through the scan window rather than skipped.
const SMALL: u64 = 4096;
/// `END_OF_KEY_GROUP_MARK`.
const END_OF_KEY_GROUP: u16 = 0xFFFF;
/// The flag on the first key byte of the last record of a state.
const LAST_IN_STATE: u8 = 0x80;

/// One heap state: its `data` range and how to measure its entries.
pub struct HeapStateData {
    pub source: Arc<dyn Source>,
    pub span: Span,
    pub key: Codec,
    pub namespace: Codec,
    pub value: Codec,
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
    namespace: Vec<u8>,
    left_in_namespace: u32,
    namespaces_left: u32,
}

impl<'a> Walker<'a> {
    fn at_start(state: &'a HeapStateData) -> io::Result<Walker<'a>> {
        let mut scan = Scan::new(&*state.source, state.span.start, state.span.end());
        let namespaces = scan.len("namespace count", state.span.start)?;
        Ok(Walker {
            scan,
            state,
            namespace: Vec::new(),
            left_in_namespace: 0,
            namespaces_left: namespaces,
        })
    }

    fn at(state: &'a HeapStateData, cp: &Checkpoint) -> Walker<'a> {
        Walker {
            scan: Scan::new(&*state.source, cp.input, state.span.end()),
            state,
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
            let n = measure(&self.state.namespace, &mut self.scan)?;
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
                Err(bad(format!("string length varint too long at offset {start}")))
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
        let prefix = if max_parallelism > 128 {
            (key_group as u16).to_be_bytes().to_vec()
        } else {
            vec![key_group as u8]
        };
        let mut runs = Vec::new();
        let mut checkpoints = Vec::new();
        let mut out = 2u64; // the first state id
        let mut record = 0u64;
        for (j, state) in states.iter().enumerate() {
            let mut w = Walker::at_start(state)?;
            let first = record;
            while w.next_entry()? {
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
                let k = measure(&state.key, &mut w.scan)?;
                let v = measure(&state.value, &mut w.scan)?;
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

impl Source for HeapRecords {
    fn len(&self) -> u64 {
        self.len
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        if offset
            .checked_add(buf.len() as u64)
            .is_none_or(|e| e > self.len)
        {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("{}: read past the end", self.name()),
            ));
        }
        if buf.is_empty() {
            return Ok(());
        }
        let mut out = Emitter {
            offset,
            buf,
            filled: 0,
        };
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
        let mut w = Walker::at(&self.states[cp.state], cp);
        while !out.done() && record < self.records {
            let Some(&(j, last_of_run)) = self.runs.get(run) else {
                break;
            };
            if !std::ptr::eq(w.state, &self.states[j]) {
                w = Walker::at_start(&self.states[j])?;
            }
            if !w.next_entry()? {
                return Err(bad(format!(
                    "{}: state {j} ended before record {record}; its data changed since it was indexed",
                    self.name()
                )));
            }
            let key_at = w.scan.pos();
            let k = measure(&w.state.key, &mut w.scan)?;
            let klen = self.prefix.len() as u64 + k + w.namespace.len() as u64;
            out.put(pos, &(klen as u32).to_be_bytes());
            let last = record == last_of_run;
            let mut prefix = [0u8; 2];
            let p = self.prefix.len();
            prefix[..p].copy_from_slice(&self.prefix);
            if last {
                prefix[0] |= LAST_IN_STATE;
            }
            out.put(pos + 4, &prefix[..p]);
            // The key's bytes: usually still in the scan window; re-read them if not.
            let key_pos = pos + 4 + p as u64;
            if out.wants(key_pos, k) {
                match w.scan.recent(key_at) {
                    Some(key) => out.put(key_pos, key),
                    None => out.put_source(key_pos, &*w.state.source, key_at, k)?,
                }
            }
            out.put(key_pos + k, &w.namespace);
            let value_at = w.scan.pos();
            let v = measure(&w.state.value, &mut w.scan)?;
            let vlen_pos = key_pos + k + w.namespace.len() as u64;
            out.put(vlen_pos, &(v as u32).to_be_bytes());
            if out.wants(vlen_pos + 4, v) {
                match w.scan.recent(value_at) {
                    Some(value) => out.put(vlen_pos + 4, value),
                    None => out.put_source(vlen_pos + 4, &*w.state.source, value_at, v)?,
                }
            }
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
        if !out.done() {
            return Err(bad(format!(
                "{}: records ended before offset {}",
                self.name(),
                offset + buf.len() as u64
            )));
        }
        Ok(())
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
