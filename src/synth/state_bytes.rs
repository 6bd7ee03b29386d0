//! The state bytes themselves, streamed in 64 KiB pieces to any writer (an array body in
//! a blob, or an external file): keyed data in the heap-snapshot layout, RocksDB
//! fully-async records, operator bytes and filler (legacy-formats.md §2.5).

use super::keys::KeySelection;
use super::plan::{OperatorState, StatePlan, list_len};
use super::{KeyedKind, Namespace};
use crate::prng::Prng;
use crate::v0::rocksdb::LIST_DELIMITER;
use std::io::{self, Write};

const CHUNK: usize = 64 << 10;

/// `n` pseudo-random bytes.
pub fn write_filler(out: &mut dyn Write, mut n: u64, rng: &mut Prng) -> io::Result<()> {
    let mut buf = vec![0u8; (n as usize).min(CHUNK)];
    while n > 0 {
        let m = (n as usize).min(buf.len());
        rng.fill(&mut buf[..m]);
        out.write_all(&buf[..m])?;
        n -= m as u64;
    }
    Ok(())
}

/// An operator's own bytes: `writeUTF(label)` (like the fixture's "Oh my, that's
/// nice!"), then filler.
pub fn write_operator_bytes(
    out: &mut dyn Write,
    op: &OperatorState,
    rng: &mut Prng,
) -> io::Result<()> {
    let label = crate::javaser::mutf8::encode(&op.label);
    let n = u16::try_from(label.len()).map_err(|_| io::Error::other("operator label too long"))?;
    out.write_all(&n.to_be_bytes())?;
    out.write_all(&label)?;
    write_filler(out, op.filler, rng)
}

/// A state's entries in the order they are written (and their values drawn): on the
/// heap window by window, each window's entries in key order; in RocksDB in key order,
/// as RocksDB sorts `K ‖ 2A ‖ NS` (entry `i` is in window `i % spread`). Items:
/// (window, entry index, key).
pub fn entries(
    keys: &KeySelection,
    namespace: Namespace,
    rocks: bool,
) -> Box<dyn Iterator<Item = (u64, u64, i64)> + '_> {
    let spread = namespace.spread();
    let indexed = move || keys.iter().enumerate().map(|(i, k)| (i as u64, k));
    if rocks {
        return Box::new(indexed().map(move |(i, k)| (i % spread, i, k)));
    }
    Box::new((0..spread).flat_map(move |w| {
        indexed()
            .filter(move |(i, _)| i % spread == w)
            .map(move |(i, k)| (w, i, k))
    }))
}

/// Appends one value or, for list state, `int n` and n values
/// (`ArrayListSerializer`, heap) or the n values joined by `,` (RocksDB).
fn put_value(buf: &mut Vec<u8>, st: &StatePlan, i: u64, values: &mut Prng, rocks: bool) {
    if st.kind != KeyedKind::List {
        if rocks {
            buf.extend_from_slice(&(st.value_type.byte_len() as i32).to_be_bytes());
        }
        st.value_type.put(buf, value(values));
        return;
    }
    let len = list_len(i);
    let head = if rocks {
        (st.value_type.byte_len() + 1) * len - 1
    } else {
        len
    };
    buf.extend_from_slice(&(head as i32).to_be_bytes());
    for e in 0..len {
        if rocks && e > 0 {
            buf.push(LIST_DELIMITER);
        }
        st.value_type.put(buf, value(values));
    }
}

/// One state's heap data: per namespace its bytes, `int entries` and the key/value
/// entries; keys are 8-byte Longs (a `Tuple1<Long>` key serializes as its Long).
pub fn write_heap_data(out: &mut dyn Write, st: &StatePlan, values: &mut Prng) -> io::Result<()> {
    let (keys, namespace) = (&st.keys, st.namespace);
    let n = keys.len();
    let windows = namespace.windows(n).max(1);
    let mut buf = Vec::with_capacity(CHUNK);
    buf.extend_from_slice(&(windows as i32).to_be_bytes());
    let mut current = None;
    if n == 0 {
        buf.extend_from_slice(&namespace.bytes(0));
        buf.extend_from_slice(&0i32.to_be_bytes());
    }
    for (w, i, key) in entries(keys, namespace, false) {
        if current != Some(w) {
            current = Some(w);
            let count = (n + namespace.spread() - 1 - w) / namespace.spread();
            let count = i32::try_from(count).map_err(|_| io::Error::other("too many keys"))?;
            buf.extend_from_slice(&namespace.bytes(w));
            buf.extend_from_slice(&count.to_be_bytes());
        }
        if buf.len() + 64 > CHUNK {
            out.write_all(&buf)?;
            buf.clear();
        }
        keys.key_type.put(&mut buf, key);
        put_value(&mut buf, st, i, values, false);
    }
    out.write_all(&buf)
}

/// One column's RocksDB records: `mapping`, `int` key length, key ‖ `2A` ‖ namespace,
/// then the value: `int 8` and a Long, or for list state the elements joined by `,` (the
/// merge operator's delimiter).
pub fn write_rocks_records(
    out: &mut dyn Write,
    mapping: u8,
    st: &StatePlan,
    values: &mut Prng,
) -> io::Result<()> {
    let (keys, namespace) = (&st.keys, st.namespace);
    let mut buf = Vec::with_capacity(CHUNK);
    let klen = (keys.key_type.byte_len() + 1 + namespace.byte_len()) as i32;
    for (w, i, key) in entries(keys, namespace, true) {
        if buf.len() + 64 > CHUNK {
            out.write_all(&buf)?;
            buf.clear();
        }
        buf.push(mapping);
        buf.extend_from_slice(&klen.to_be_bytes());
        keys.key_type.put(&mut buf, key);
        buf.push(0x2A);
        buf.extend_from_slice(&namespace.bytes(w));
        put_value(&mut buf, st, i, values, true);
    }
    out.write_all(&buf)
}

/// A state value: a Long below one million (readable in dumps).
pub(super) fn value(values: &mut Prng) -> i64 {
    values.below(1_000_000) as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sel(count: u64) -> KeySelection {
        KeySelection {
            key_type: crate::synth::KeyType::Long,
            group: 3,
            max_parallelism: 4,
            count,
            extra: None,
        }
    }

    /// A Long-valued, non-windowed value state of `count` keys.
    fn state(count: u64) -> StatePlan {
        StatePlan {
            index: 0,
            name: "s".into(),
            kind: KeyedKind::Value,
            namespace: Namespace::Void,
            value_type: crate::synth::ValueType::Long,
            keys: sel(count),
        }
    }

    #[test]
    fn heap_data_has_the_snapshot_layout() {
        let mut out = Vec::new();
        write_heap_data(&mut out, &state(1), &mut Prng::new(1)).unwrap();
        // legacy-formats.md §2.5's example: 1 namespace, VoidSerializer 00, 1 entry, key 2
        // (the first key of group 3 with p = 4).
        assert_eq!(
            &out[..17],
            &[0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2]
        );
        assert_eq!(out.len(), 25);
        let mut big = Vec::new();
        write_heap_data(&mut big, &state(10_000), &mut Prng::new(1)).unwrap();
        assert_eq!(big.len(), 9 + 16 * 10_000);
    }

    #[test]
    fn rocks_records_end_their_keys_with_the_separator_and_namespace() {
        let mut out = Vec::new();
        write_rocks_records(&mut out, 5, &state(3), &mut Prng::new(1)).unwrap();
        assert_eq!(out.len(), 3 * 27);
        for r in out.chunks(27) {
            assert_eq!(r[0], 5);
            assert_eq!(&r[1..5], &[0, 0, 0, 10]);
            assert_eq!(&r[13..15], &[0x2A, 0x00]);
            assert_eq!(&r[15..19], &[0, 0, 0, 8]);
        }
    }

    #[test]
    fn operator_bytes_are_a_utf_label_then_filler() {
        let op = OperatorState {
            label: "Oh my, that's nice!".into(),
            filler: 100_000,
        };
        let mut out = Vec::new();
        write_operator_bytes(&mut out, &op, &mut Prng::new(2)).unwrap();
        assert_eq!(out.len() as u64, op.size());
        assert_eq!(&out[..21], b"\x00\x13Oh my, that's nice!");
    }
}
