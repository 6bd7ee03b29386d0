//! The state bytes themselves, streamed in 64 KiB pieces to any writer (an array body in
//! a blob, or an external file): keyed data in the heap-snapshot layout, RocksDB
//! fully-async records, operator bytes and filler (legacy-formats.md §2.5).

use super::KeyedKind;
use super::keys::KeySelection;
use super::plan::{OperatorState, list_len};
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

/// One state's heap data: one namespace (VoidSerializer `00`), then key/value entries;
/// keys are 8-byte Longs (a `Tuple1<Long>` key serializes as its Long), values a Long or,
/// for list state, `int n` and n Longs (`ArrayListSerializer`).
pub fn write_heap_data(
    out: &mut dyn Write,
    keys: &KeySelection,
    values: &mut Prng,
    kind: KeyedKind,
) -> io::Result<()> {
    let n = i32::try_from(keys.len()).map_err(|_| io::Error::other("too many keys"))?;
    let mut buf = Vec::with_capacity(CHUNK);
    buf.extend_from_slice(&1i32.to_be_bytes());
    buf.push(0);
    buf.extend_from_slice(&n.to_be_bytes());
    for (i, key) in keys.iter().enumerate() {
        if buf.len() + 64 > CHUNK {
            out.write_all(&buf)?;
            buf.clear();
        }
        buf.extend_from_slice(&key.to_be_bytes());
        match kind {
            KeyedKind::Value | KeyedKind::Reducing | KeyedKind::Folding => {
                buf.extend_from_slice(&value(values).to_be_bytes())
            }
            KeyedKind::List => {
                let len = list_len(i as u64);
                buf.extend_from_slice(&(len as i32).to_be_bytes());
                for _ in 0..len {
                    buf.extend_from_slice(&value(values).to_be_bytes());
                }
            }
        }
    }
    out.write_all(&buf)
}

/// One column's RocksDB records: `mapping`, `int 10`, key ‖ `2A` ‖ namespace `00`, then
/// the value: `int 8` and a Long, or for list state the elements joined by `,` (the
/// merge operator's delimiter).
pub fn write_rocks_records(
    out: &mut dyn Write,
    mapping: u8,
    keys: &KeySelection,
    values: &mut Prng,
    kind: KeyedKind,
) -> io::Result<()> {
    let mut buf = Vec::with_capacity(CHUNK);
    for (i, key) in keys.iter().enumerate() {
        if buf.len() + 64 > CHUNK {
            out.write_all(&buf)?;
            buf.clear();
        }
        buf.push(mapping);
        buf.extend_from_slice(&10i32.to_be_bytes());
        buf.extend_from_slice(&key.to_be_bytes());
        buf.extend_from_slice(&[0x2A, 0x00]);
        match kind {
            KeyedKind::Value | KeyedKind::Reducing | KeyedKind::Folding => {
                buf.extend_from_slice(&8i32.to_be_bytes());
                buf.extend_from_slice(&value(values).to_be_bytes());
            }
            KeyedKind::List => {
                let len = list_len(i as u64);
                buf.extend_from_slice(&((9 * len - 1) as i32).to_be_bytes());
                for e in 0..len {
                    if e > 0 {
                        buf.push(LIST_DELIMITER);
                    }
                    buf.extend_from_slice(&value(values).to_be_bytes());
                }
            }
        }
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
            group: 3,
            max_parallelism: 4,
            count,
            extra: None,
        }
    }

    #[test]
    fn heap_data_has_the_snapshot_layout() {
        let mut out = Vec::new();
        write_heap_data(&mut out, &sel(1), &mut Prng::new(1), KeyedKind::Value).unwrap();
        // legacy-formats.md §2.5's example: 1 namespace, VoidSerializer 00, 1 entry, key 2
        // (the first key of group 3 with p = 4).
        assert_eq!(
            &out[..17],
            &[0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2]
        );
        assert_eq!(out.len(), 25);
        let mut big = Vec::new();
        write_heap_data(&mut big, &sel(10_000), &mut Prng::new(1), KeyedKind::Value).unwrap();
        assert_eq!(big.len(), 9 + 16 * 10_000);
    }

    #[test]
    fn rocks_records_end_their_keys_with_the_separator_and_namespace() {
        let mut out = Vec::new();
        write_rocks_records(&mut out, 5, &sel(3), &mut Prng::new(1), KeyedKind::Value).unwrap();
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
