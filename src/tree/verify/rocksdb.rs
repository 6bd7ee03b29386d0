//! The framing of a Flink 1.1 RocksDB fully-async snapshot stream (formats.md §2.5):
//! `int numColumns`, per column a mapping byte and a Java stream holding one
//! `StateDescriptor`, then records `u8 mapping | int keyLen | key | int valueLen | value`
//! up to the end of the stream. Nothing records the stream's length, so walking this
//! framing to the exact end is how a truncated snapshot file is caught.

use crate::javaser::{self, Limits};
use crate::source::{Source, Span};
use std::sync::Arc;

/// What a well-framed stream holds.
#[derive(Debug, PartialEq, Eq)]
pub struct RocksDbSummary {
    pub columns: usize,
    pub records: u64,
}

/// Buffered forward reader over a span of a source; records are tiny, so reading them
/// one `pread` each would be far too slow on a multi-GiB snapshot.
struct Cursor<'a> {
    source: &'a dyn Source,
    pos: u64,
    end: u64,
    buf: Vec<u8>,
    /// Source offset of `buf[0]`.
    buf_start: u64,
}

const BUFFER: usize = 1 << 20;

impl Cursor<'_> {
    fn remaining(&self) -> u64 {
        self.end - self.pos
    }

    fn fail(&self, what: &str) -> String {
        format!("{}: offset {}: {what}", self.source.name(), self.pos)
    }

    /// `N` bytes at the cursor, advancing it.
    fn take<const N: usize>(&mut self, what: &str) -> Result<[u8; N], String> {
        if self.remaining() < N as u64 {
            return Err(self.fail(&format!(
                "expected {what} ({N} bytes), but only {} bytes remain (the stream is truncated)",
                self.remaining()
            )));
        }
        let buffered_end = self.buf_start + self.buf.len() as u64;
        if self.pos < self.buf_start || self.pos + N as u64 > buffered_end {
            let len = self.remaining().min(BUFFER as u64) as usize;
            self.buf.resize(len, 0);
            self.source
                .read_at(self.pos, &mut self.buf)
                .map_err(|e| self.fail(&format!("cannot read: {e}")))?;
            self.buf_start = self.pos;
        }
        let at = (self.pos - self.buf_start) as usize;
        let mut out = [0u8; N];
        out.copy_from_slice(&self.buf[at..at + N]);
        self.pos += N as u64;
        Ok(out)
    }

    /// Skips a length-prefixed byte array.
    fn skip_array(&mut self, what: &str) -> Result<(), String> {
        let len = i32::from_be_bytes(self.take::<4>(&format!("the {what} length"))?);
        if len < 0 {
            return Err(self.fail(&format!("negative {what} length {len}")));
        }
        if len as u64 > self.remaining() {
            return Err(self.fail(&format!(
                "{what} of {len} bytes runs past the end ({} bytes remain; the stream is truncated)",
                self.remaining()
            )));
        }
        self.pos += len as u64;
        Ok(())
    }
}

/// Walks the stream at `span` of `source` to its end.
pub fn check_stream(source: Arc<dyn Source>, span: Span) -> Result<RocksDbSummary, String> {
    let mut c = Cursor {
        source: &*source,
        pos: span.start,
        end: span.end(),
        buf: Vec::new(),
        buf_start: 0,
    };
    let columns = i32::from_be_bytes(c.take::<4>("the column count")?);
    // Each column needs at least a mapping byte and a 4-byte stream header.
    if columns < 0 || columns as u64 > c.remaining() / 5 {
        return Err(c.fail(&format!("implausible column count {columns}")));
    }
    let mut mappings = Vec::with_capacity(columns as usize);
    for i in 0..columns {
        let [mapping] = c.take::<1>("a column mapping byte")?;
        let graph = javaser::parse_first_object(source.clone(), c.pos, c.end, &Limits::default())
            .map_err(|e| c.fail(&format!("column {i}: state descriptor stream: {e}")))?;
        if graph.roots().next().is_none() {
            return Err(c.fail(&format!("column {i}: no state descriptor object")));
        }
        c.pos += graph.len;
        mappings.push(mapping);
    }
    let mut records = 0u64;
    while c.remaining() > 0 {
        let [mapping] = c.take::<1>("a record's column mapping byte")?;
        if !mappings.contains(&mapping) {
            c.pos -= 1;
            return Err(c.fail(&format!(
                "record {records}: column mapping byte {mapping} names no column (columns: {mappings:?})"
            )));
        }
        c.skip_array("key")?;
        c.skip_array("value")?;
        records += 1;
    }
    Ok(RocksDbSummary {
        columns: mappings.len(),
        records,
    })
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

    fn check(bytes: Vec<u8>) -> Result<RocksDbSummary, String> {
        let n = bytes.len() as u64;
        check_stream(Arc::new(MemSource::new("s", bytes)), Span::new(0, n))
    }

    #[test]
    fn walks_records_to_the_end_and_catches_truncation() {
        let whole = stream(&[
            (b"\0\0\0\0\0\0\0\x03*\0", b"\0\0\0\0\0\0\0\x03"),
            (b"k", b""),
        ]);
        assert_eq!(
            check(whole.clone()),
            Ok(RocksDbSummary {
                columns: 1,
                records: 2
            })
        );
        for cut in [whole.len() - 1, whole.len() - 2, 20, 12, 3] {
            let e = check(whole[..cut].to_vec()).unwrap_err();
            assert!(
                e.contains("truncated") || e.contains("descriptor") || e.contains("column"),
                "cut at {cut}: {e}"
            );
        }
        let mut bad_mapping = whole.clone();
        bad_mapping[1 + 4 + DESCRIPTOR.len()] = 7;
        assert!(check(bad_mapping).unwrap_err().contains("mapping byte 7"));
    }
}
