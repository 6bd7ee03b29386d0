//! The framing of a Flink 1.1 RocksDB fully-async snapshot stream, the one reading of it
//! that the conversion and `verify` share (docs/legacy-formats.md §2): `int columns`, per
//! column its mapping byte (`0, 1, ...` in order, as Flink 1.1 writes them) and a Java
//! stream holding one `StateDescriptor`, then records `u8 column | int keyLen | key | int
//! valueLen | value` up to the end of the stream. Nothing records the stream's length,
//! so walking this framing to the exact end is how a truncated snapshot is caught.

use crate::javaser::{self, Graph, Limits};
use crate::scan::Scan;
use crate::source::{Source, Span};
use std::io;
use std::sync::Arc;

/// Mapping bytes are one byte each.
const MAX_COLUMNS: i32 = 256;

/// A list state's value is its elements joined by this byte: RocksDB's string-append
/// merge operator's delimiter (legacy-formats.md §2.5).
pub const LIST_DELIMITER: u8 = b',';

fn bad(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

/// The column header of a snapshot stream.
pub struct Framing {
    /// Each column's descriptor stream, parsed, in mapping-byte order.
    pub descriptors: Vec<Graph>,
    /// Where the records start and end.
    pub records: Span,
}

impl Framing {
    /// Parses the column header of the stream at `span` of `source`.
    pub fn parse(source: &Arc<dyn Source>, span: Span) -> io::Result<Framing> {
        let name = source.name();
        let mut r = Scan::new(&**source, span.start, span.end()).with_window(64);
        let n = i32::from_be_bytes(take4(&mut r, "the column count")?);
        // Each column needs at least a mapping byte and a 4-byte stream header.
        if !(0..=MAX_COLUMNS).contains(&n) || n as u64 * 5 > span.len - 4 {
            return Err(bad(format!(
                "{name}: offset {}: implausible column count {n} for a RocksDB snapshot",
                span.start
            )));
        }
        let mut pos = span.start + 4;
        let mut descriptors = Vec::with_capacity(n as usize);
        for expected in 0..n {
            let mut mapping = [0u8; 1];
            if pos >= span.end() {
                return Err(bad(format!(
                    "{name}: offset {pos}: the stream is truncated before column {expected}"
                )));
            }
            source.read_at(pos, &mut mapping)?;
            if i32::from(mapping[0]) != expected {
                return Err(bad(format!(
                    "{name}: offset {pos}: column {expected} has mapping byte {}",
                    mapping[0]
                )));
            }
            let g = javaser::parse_first_object(
                source.clone(),
                pos + 1,
                span.end(),
                &Limits::default(),
            )
            .map_err(|e| {
                bad(format!(
                    "{name}: column {expected}: state descriptor stream: {e}"
                ))
            })?;
            if g.roots().next().is_none() {
                return Err(bad(format!(
                    "{name}: offset {}: column {expected}: no state descriptor object",
                    pos + 1
                )));
            }
            pos += 1 + g.len;
            descriptors.push(g);
        }
        Ok(Framing {
            descriptors,
            records: Span::new(pos, span.end() - pos),
        })
    }

    pub fn columns(&self) -> usize {
        self.descriptors.len()
    }

    /// A reader at the first record.
    pub(crate) fn scan<'a>(&self, source: &'a dyn Source) -> Scan<'a> {
        Scan::new(source, self.records.start, self.records.end())
    }
}

fn take4(r: &mut Scan<'_>, what: &str) -> io::Result<[u8; 4]> {
    let at = r.pos();
    let name = r.src().name();
    let b = r.take(4).map_err(|_| {
        bad(format!(
            "{name}: offset {at}: expected {what}, but the stream is truncated"
        ))
    })?;
    Ok([b[0], b[1], b[2], b[3]])
}

/// A record's head as it is read: where it starts, its column and its key (borrowed from
/// the reader's window). The value length follows ([`value_len`]).
pub struct RecordHead<'s> {
    pub at: u64,
    pub column: u8,
    pub key: &'s [u8],
}

/// Reads the next record's column byte and key; the column must exist.
#[inline(always)]
pub(crate) fn record_head<'s>(r: &'s mut Scan<'_>, columns: usize) -> io::Result<RecordHead<'s>> {
    let at = r.pos();
    let column = r.u8()?;
    if usize::from(column) >= columns {
        return Err(no_such_column(r.src(), at, column, columns));
    }
    let klen = r.len("key", at)?;
    let key = r.take(klen as usize)?;
    Ok(RecordHead { at, column, key })
}

#[cold]
#[inline(never)]
fn no_such_column(src: &dyn Source, at: u64, column: u8, columns: usize) -> io::Error {
    bad(format!(
        "{}: offset {at}: record with column mapping byte {column}, which names no column ({columns} columns)",
        src.name()
    ))
}

/// Reads a record's value length (after its key).
#[inline]
pub(crate) fn value_len(r: &mut Scan<'_>, at: u64) -> io::Result<u32> {
    r.len("value", at)
}

/// What a well-framed stream holds.
#[derive(Debug, PartialEq, Eq)]
pub struct Summary {
    pub columns: usize,
    pub records: u64,
}

/// Walks the whole stream at `span`: its header and every record to the exact end.
pub fn check_stream(source: Arc<dyn Source>, span: Span) -> io::Result<Summary> {
    let framing = Framing::parse(&source, span)?;
    let columns = framing.columns();
    let mut r = framing.scan(&*source);
    let mut records = 0u64;
    while !r.at_end() {
        let at = record_head(&mut r, columns)?.at;
        let n = value_len(&mut r, at)?;
        r.skip(u64::from(n))?;
        records += 1;
    }
    Ok(Summary { columns, records })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::MemSource;

    /// A minimal Java stream: header + TC_STRING "d" (stands in for a descriptor object).
    const DESCRIPTOR: [u8; 8] = [0xAC, 0xED, 0x00, 0x05, 0x74, 0x00, 0x01, b'd'];

    fn stream(records: &[(&[u8], &[u8])]) -> Vec<u8> {
        let mut b = 1i32.to_be_bytes().to_vec();
        b.push(0);
        b.extend_from_slice(&DESCRIPTOR);
        for (k, v) in records {
            b.push(0);
            b.extend_from_slice(&(k.len() as i32).to_be_bytes());
            b.extend_from_slice(k);
            b.extend_from_slice(&(v.len() as i32).to_be_bytes());
            b.extend_from_slice(v);
        }
        b
    }

    fn check(bytes: Vec<u8>) -> Result<Summary, String> {
        let n = bytes.len() as u64;
        check_stream(Arc::new(MemSource::new("s", bytes)), Span::new(0, n))
            .map_err(|e| e.to_string())
    }

    #[test]
    fn walks_records_to_the_end_and_catches_truncation() {
        let whole = stream(&[
            (b"\0\0\0\0\0\0\0\x03*\0", b"\0\0\0\0\0\0\0\x03"),
            (b"k", b""),
        ]);
        assert_eq!(
            check(whole.clone()),
            Ok(Summary {
                columns: 1,
                records: 2
            })
        );
        for cut in [whole.len() - 1, whole.len() - 2, 20, 12, 3] {
            let e = check(whole[..cut].to_vec()).unwrap_err();
            assert!(
                e.contains("past the end") || e.contains("truncated") || e.contains("descriptor"),
                "cut at {cut}: {e}"
            );
        }
        let mut bad_record = whole.clone();
        bad_record[1 + 4 + DESCRIPTOR.len()] = 7;
        let e = check(bad_record).unwrap_err();
        assert!(
            e.contains("mapping byte 7") && e.contains("offset 13"),
            "{e}"
        );
        // Columns carry mapping bytes 0, 1, ... in order: anything else is not Flink's.
        let mut bad_column = whole.clone();
        bad_column[4] = 1;
        let e = check(bad_column).unwrap_err();
        assert!(e.contains("column 0 has mapping byte 1"), "{e}");
        let mut many = whole;
        many[..4].copy_from_slice(&1000i32.to_be_bytes());
        assert!(
            check(many)
                .unwrap_err()
                .contains("implausible column count 1000")
        );
    }
}
