//! Native keyed state in the layout of the other backend (native.md §7.3.4): a heap
//! snapshot as RocksDB records, or RocksDB records as heap state. Possible only where
//! every key, namespace and value can be measured: the heap `data` has no per-entry
//! lengths, and a RocksDB list value (elements joined by a delimiter) has no heap form.
//! Both keep the bulk bytes (keys, values) as ranges of the source; the per-entry
//! framing is generated, so memory grows with the number of entries.

use super::keys::Codec;
use super::rocks::RocksSnapshot;
use crate::source::{Source, Span};
use crate::stream::{MultiStream, Piece};
use std::io::{self, BufReader, Read};
use std::sync::Arc;

/// The heap body (from the key-group int on) built from RocksDB records: per state,
/// `short j, 01, int 1, 00 (Void namespace), int n, n × (K, V)`, or `short j, 00`.
pub fn rocks_to_heap(snap: &RocksSnapshot, key_group: u32) -> Result<Vec<Piece>, String> {
    if let Some(c) = snap.columns.iter().find(|c| c.type_ordinal == 2) {
        return Err(format!(
            "state {:?} is list state: RocksDB keeps its elements joined by a delimiter, which has no heap form",
            c.name
        ));
    }
    let counts = snap.counts();
    let source = snap.source().clone();
    let mut per_state: Vec<Vec<Piece>> = vec![Vec::new(); snap.columns.len()];
    snap.for_each_record(|r| {
        per_state[r.column as usize].push(Piece::range(source.clone(), r.key));
        per_state[r.column as usize].push(Piece::range(source.clone(), r.value));
        Ok(())
    })
    .map_err(|e| format!("RocksDB snapshot: {e}"))?;
    let mut pieces = vec![Piece::bytes((key_group as i32).to_be_bytes().to_vec())];
    for (j, (records, count)) in per_state.into_iter().zip(counts).enumerate() {
        let mut head = (j as i16).to_be_bytes().to_vec();
        if count == 0 {
            head.push(0);
            pieces.push(Piece::bytes(head));
            continue;
        }
        let n = i32::try_from(count).map_err(|_| format!("{count} entries in one state"))?;
        head.push(1);
        head.extend_from_slice(&1i32.to_be_bytes());
        head.push(0); // the Void namespace
        head.extend_from_slice(&n.to_be_bytes());
        pieces.push(Piece::bytes(head));
        pieces.extend(records);
    }
    Ok(pieces)
}

/// Counts bytes read, so entry boundaries in a heap `data` stream are known.
struct Counting<R> {
    inner: R,
    pos: u64,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.pos += n as u64;
        Ok(n)
    }
}

/// One heap state to re-lay as RocksDB records.
pub struct HeapState {
    /// The snapshot's `data`, as a range of its source.
    pub data: (Arc<dyn Source>, Span),
    pub key: Codec,
    pub namespace: Codec,
    pub value: Codec,
}

/// The RocksDB body (native.md §7.3.3) from heap snapshots: records sorted by (state,
/// key bytes), `kg ‖ K ‖ NS` keys, the last record of each state flagged and followed by
/// the next state id or `ffff`. `None` when there are no entries at all.
pub fn heap_to_rocks(states: &[HeapState], key_group: u8) -> Result<Option<Vec<Piece>>, String> {
    // (state, new key without the group byte, value span) for every entry.
    let mut records: Vec<Entry> = Vec::new();
    for (j, s) in states.iter().enumerate() {
        let (source, span) = &s.data;
        let stream = Arc::new(MultiStream::new(
            source.name(),
            [Piece::range(source.clone(), *span)],
        ));
        let mut r = Counting {
            inner: BufReader::with_capacity(1 << 16, stream.reader()),
            pos: 0,
        };
        let fail = |e: io::Error, what: &str| format!("state {j}: {what}: {e}");
        let mut b4 = [0u8; 4];
        r.read_exact(&mut b4)
            .map_err(|e| fail(e, "namespace count"))?;
        for _ in 0..i32::from_be_bytes(b4).max(0) {
            let ns = capture(&mut r, &s.namespace).map_err(|e| fail(e, "namespace"))?;
            r.read_exact(&mut b4).map_err(|e| fail(e, "entry count"))?;
            for _ in 0..i32::from_be_bytes(b4).max(0) {
                let mut key = capture(&mut r, &s.key).map_err(|e| fail(e, "key"))?;
                key.extend_from_slice(&ns);
                let start = r.pos;
                s.value.read(&mut r).map_err(|e| fail(e, "value"))?;
                records.push((
                    j as u16,
                    key,
                    source.clone(),
                    Span::new(span.start + start, r.pos - start),
                ));
            }
        }
    }
    if records.is_empty() {
        return Ok(None);
    }
    records.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
    let mut pieces = vec![Piece::bytes(records[0].0.to_be_bytes().to_vec())];
    for (i, (state, key, source, value)) in records.iter().enumerate() {
        let next = records.get(i + 1).map(|r| r.0);
        let last = next != Some(*state);
        let klen = i32::try_from(key.len() + 1).map_err(|_| "key too long".to_string())?;
        let vlen = i32::try_from(value.len).map_err(|_| "value too long".to_string())?;
        let mut head = klen.to_be_bytes().to_vec();
        head.push(key_group | if last { 0x80 } else { 0 });
        head.extend_from_slice(key);
        head.extend_from_slice(&vlen.to_be_bytes());
        pieces.push(Piece::bytes(head));
        pieces.push(Piece::range(source.clone(), *value));
        if last {
            pieces.push(Piece::bytes(next.unwrap_or(0xFFFF).to_be_bytes().to_vec()));
        }
    }
    Ok(Some(pieces))
}

/// One heap entry as a RocksDB record: state id, `K ‖ NS`, and where its value is.
type Entry = (u16, Vec<u8>, Arc<dyn Source>, Span);

/// Reads one value with `codec`, returning its bytes.
fn capture(r: &mut impl Read, codec: &Codec) -> io::Result<Vec<u8>> {
    struct Tee<'a, R> {
        inner: &'a mut R,
        seen: Vec<u8>,
    }
    impl<R: Read> Read for Tee<'_, R> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.inner.read(buf)?;
            self.seen.extend_from_slice(&buf[..n]);
            Ok(n)
        }
    }
    let mut tee = Tee {
        inner: r,
        seen: Vec::new(),
    };
    codec.read(&mut tee)?;
    Ok(tee.seen)
}
