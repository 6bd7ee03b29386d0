//! Re-framing against records built here: whole reads, random reads, damaged data.

use super::*;
use crate::convert::records::tagged_heap_data;
use crate::prng::Prng;
use crate::source::MemSource;

/// (key, namespace, value) bytes of one record.
type Rec = (Vec<u8>, Vec<u8>, Vec<u8>);

/// Heap `data` of one state: namespaces of `ns_len` bytes, each with some entries of
/// an 8-byte key and a value of `value_len(i)` bytes (`int n` + bytes when variable).
fn heap_data(
    rng: &mut Prng,
    namespaces: usize,
    ns_len: usize,
    entries: &dyn Fn(usize) -> usize,
    bytes_values: bool,
) -> (Vec<u8>, Vec<Rec>) {
    let mut data = (namespaces as i32).to_be_bytes().to_vec();
    let mut recs = Vec::new();
    for n in 0..namespaces {
        let ns: Vec<u8> = (0..ns_len).map(|_| rng.below(256) as u8).collect();
        data.extend_from_slice(&ns);
        let count = entries(n);
        data.extend_from_slice(&(count as i32).to_be_bytes());
        for _ in 0..count {
            let key = rng.below(u64::MAX).to_be_bytes().to_vec();
            let value = if bytes_values {
                let len = rng.below(40) as usize;
                let mut v = (len as i32).to_be_bytes().to_vec();
                v.extend((0..len).map(|_| rng.below(256) as u8));
                v
            } else {
                rng.below(u64::MAX).to_be_bytes().to_vec()
            };
            data.extend_from_slice(&key);
            data.extend_from_slice(&value);
            recs.push((key, ns.clone(), value));
        }
    }
    (data, recs)
}

/// The canonical layout written the obvious way, all in memory.
fn expected(states: &[Vec<Rec>], prefix: &[u8]) -> Vec<u8> {
    let with: Vec<usize> = (0..states.len())
        .filter(|&j| !states[j].is_empty())
        .collect();
    let mut out = (with[0] as u16).to_be_bytes().to_vec();
    for (i, &j) in with.iter().enumerate() {
        for (r, (k, ns, v)) in states[j].iter().enumerate() {
            let last = r + 1 == states[j].len();
            out.extend_from_slice(&((prefix.len() + k.len() + ns.len()) as u32).to_be_bytes());
            let mut p = prefix.to_vec();
            if last {
                p[0] |= LAST_IN_STATE;
            }
            out.extend_from_slice(&p);
            out.extend_from_slice(k);
            out.extend_from_slice(ns);
            out.extend_from_slice(&(v.len() as u32).to_be_bytes());
            out.extend_from_slice(v);
            if last {
                let next = with.get(i + 1).map_or(END_OF_KEY_GROUP, |&n| n as u16);
                out.extend_from_slice(&next.to_be_bytes());
            }
        }
    }
    out
}

/// Random reads of every size, across checkpoints, states and empty namespaces, equal
/// the layout built in memory; for 1- and 2-byte key-group prefixes.
#[test]
fn random_reads_equal_the_layout_built_in_memory() {
    let mut rng = Prng::new(7);
    for (max_parallelism, group) in [(4u32, 3u32), (200, 150)] {
        // State 0: 3 window namespaces (one empty); state 1: empty; state 2: one Void
        // namespace with 3,000 entries (several checkpoints) and byte[] values.
        let (d0, r0) = heap_data(&mut rng, 3, 16, &|n| if n == 1 { 0 } else { 700 }, false);
        let (d1, r1) = heap_data(&mut rng, 0, 1, &|_| 0, false);
        let (d2, r2) = heap_data(&mut rng, 1, 1, &|_| 3000, true);
        let mut all = Vec::new();
        let mut spans = Vec::new();
        for d in [&d0, &d1, &d2] {
            spans.push(Span::new(all.len() as u64, d.len() as u64));
            all.extend_from_slice(d);
        }
        let src: Arc<dyn Source> = Arc::new(MemSource::new("heap", all));
        let codecs = [
            (Codec::Opaque(16), Codec::Long),
            (Codec::Void, Codec::Long),
            (Codec::Void, Codec::Bytes),
        ];
        let states = spans
            .iter()
            .zip(codecs)
            .map(|(span, (namespace, value))| HeapStateData {
                source: src.clone(),
                span: *span,
                key: Codec::Long,
                namespace,
                value,
                list: None,
            })
            .collect();
        let prefix = if max_parallelism > 128 {
            (group as u16).to_be_bytes().to_vec()
        } else {
            vec![group as u8]
        };
        let want = expected(&[r0, r1, r2], &prefix);
        let recs = HeapRecords::index("t".into(), states, group, max_parallelism)
            .unwrap()
            .unwrap();
        reads_equal(&recs, &want, &mut rng, 70_000);
        let mut past = [0u8; 2];
        assert!(recs.read_at(want.len() as u64 - 1, &mut past).is_err());
    }
}

/// `recs` has `want`'s length, and a whole read and 2,000 reads of up to `max_read`
/// bytes at random offsets give `want`'s bytes.
fn reads_equal(recs: &HeapRecords, want: &[u8], rng: &mut Prng, max_read: u64) {
    assert_eq!(recs.len(), want.len() as u64);
    let mut whole = vec![0u8; want.len()];
    recs.read_at(0, &mut whole).unwrap();
    assert!(whole == want, "whole read");
    for _ in 0..2000 {
        let off = rng.below(want.len() as u64);
        let len = rng.below((want.len() as u64 - off).min(max_read) + 1);
        let mut buf = vec![0u8; len as usize];
        recs.read_at(off, &mut buf).unwrap();
        assert!(
            buf[..] == want[off as usize..(off + len) as usize],
            "read {len} at {off}"
        );
    }
}

/// Truncated or lying data is an error at conversion, never a panic or a hang.
#[test]
fn damaged_data_is_an_error() {
    let mut rng = Prng::new(3);
    let (data, _) = heap_data(&mut rng, 2, 16, &|_| 5, false);
    for cut in 0..data.len() {
        let src: Arc<dyn Source> = Arc::new(MemSource::new("heap", data[..cut].to_vec()));
        let state = HeapStateData {
            source: src,
            span: Span::new(0, cut as u64),
            key: Codec::Long,
            namespace: Codec::Opaque(16),
            value: Codec::Long,
            list: None,
        };
        assert!(
            HeapRecords::index("t".into(), vec![state], 0, 1).is_err(),
            "cut at {cut}"
        );
    }
    let mut huge = data.clone();
    huge[20..24].copy_from_slice(&i32::MAX.to_be_bytes()); // an entry count
    let src: Arc<dyn Source> = Arc::new(MemSource::new("heap", huge.clone()));
    let state = HeapStateData {
        source: src,
        span: Span::new(0, huge.len() as u64),
        key: Codec::Long,
        namespace: Codec::Opaque(16),
        value: Codec::Long,
        list: None,
    };
    assert!(HeapRecords::index("t".into(), vec![state], 0, 1).is_err());
}

/// List state: a 1.1 heap list value (`int n`, n Longs) becomes its elements joined by
/// `,` (an empty list an empty value), at every read offset.
#[test]
fn list_values_become_delimited_element_lists() {
    list_values(false);
}

/// An evicting window's 1.1 records: every element gains Flink 1.2+'s tag `01`, in the
/// delimited lists and in the heap layout.
#[test]
fn records_gain_their_tag() {
    let (state, tagged) = list_values(true);
    assert_eq!(tagged_heap_data(&state).unwrap(), tagged);
    // Cut anywhere, the heap layout is an error naming an offset.
    let mut short = state;
    short.span = Span::new(0, short.span.len - 3);
    let e = tagged_heap_data(&short).unwrap_err().to_string();
    assert!(e.contains("at offset"), "{e}");
}

/// 500 keys with lists of 0-3 longs, re-framed (and compared) in the canonical layout;
/// the state and what its heap data is with each element tagged.
fn list_values(records: bool) -> (HeapStateData, Vec<u8>) {
    let mut rng = Prng::new(9);
    let mut data = 1i32.to_be_bytes().to_vec();
    data.push(0); // the void namespace
    let entries: i32 = 500;
    data.extend_from_slice(&entries.to_be_bytes());
    let mut tagged = data.clone();
    let mut want = 0u16.to_be_bytes().to_vec();
    for i in 0..entries {
        let key = rng.below(u64::MAX).to_be_bytes();
        let n = i % 4;
        let elements: Vec<[u8; 8]> = (0..n).map(|_| rng.below(u64::MAX).to_be_bytes()).collect();
        for d in [&mut data, &mut tagged] {
            d.extend_from_slice(&key);
            d.extend_from_slice(&n.to_be_bytes());
        }
        elements.iter().for_each(|e| data.extend_from_slice(e));
        let framed: Vec<Vec<u8>> = elements
            .iter()
            .map(|e| [&[STREAM_RECORD_TAG][..records as usize], &e[..]].concat())
            .collect();
        framed.iter().for_each(|e| tagged.extend_from_slice(e));
        let value: Vec<u8> = framed.join(&[b','][..]);
        want.extend_from_slice(&10u32.to_be_bytes());
        want.push(if i + 1 == entries { 0x85 } else { 5 });
        want.extend_from_slice(&key);
        want.push(0);
        want.extend_from_slice(&(value.len() as u32).to_be_bytes());
        want.extend_from_slice(&value);
    }
    want.extend_from_slice(&0xFFFFu16.to_be_bytes());
    let src: Arc<dyn Source> = Arc::new(MemSource::new("heap", data.clone()));
    let element = match records {
        true => Codec::Record(Box::new(Codec::Long)),
        false => Codec::Long,
    };
    let state = HeapStateData {
        source: src,
        span: Span::new(0, data.len() as u64),
        key: Codec::Long,
        namespace: Codec::Void,
        value: Codec::List(Box::new(element.clone())),
        list: Some(element),
    };
    let recs = HeapRecords::index("t".into(), vec![state.clone()], 5, 8)
        .unwrap()
        .unwrap();
    reads_equal(&recs, &want, &mut rng, 300);
    (state, tagged)
}
