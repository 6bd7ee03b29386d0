//! The forward byte reader every sequential parser of large inputs uses (RocksDB
//! snapshot records, heap entries): it reads its [`Source`] in big `pread`s through a
//! window and parses from memory, with the bounds checks and offsets in one place.

use crate::source::Source;
use std::io;

fn bad(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

#[cold]
fn negative_length(what: &str, n: i32, record_at: u64) -> io::Error {
    bad(format!(
        "negative {what} length {n} in the record at offset {record_at}"
    ))
}

/// A forward parser over a source through a large window: records are a few bytes each,
/// so they are parsed from memory and the source is read in big `pread`s.
pub(crate) struct Scan<'a> {
    pub(crate) src: &'a dyn Source,
    end: u64,
    buf: Vec<u8>,
    /// Source offset of `buf[0]`.
    base: u64,
    /// Parse position within `buf`.
    at: usize,
    /// How far a refill reads ahead.
    window: usize,
}

pub(crate) const SCAN_WINDOW: usize = 1 << 18;

impl<'a> Scan<'a> {
    pub(crate) fn new(src: &'a dyn Source, start: u64, end: u64) -> Self {
        Scan {
            src,
            end,
            buf: Vec::new(),
            base: start,
            at: 0,
            window: SCAN_WINDOW,
        }
    }

    /// Reads ahead at most `window` bytes at a time (at least what one parse needs): a
    /// reader that wants little should not read far past it.
    pub(crate) fn with_window(mut self, window: usize) -> Self {
        self.window = window.clamp(1, SCAN_WINDOW);
        self
    }

    /// Source offset of the parse position.
    pub(crate) fn pos(&self) -> u64 {
        self.base + self.at as u64
    }

    /// The bytes from source offset `start` to the parse position, if they are all still
    /// in the window.
    pub(crate) fn recent(&self, start: u64) -> Option<&[u8]> {
        let from = start.checked_sub(self.base)? as usize;
        self.buf.get(from..self.at)
    }

    pub(crate) fn at_end(&self) -> bool {
        self.pos() >= self.end
    }

    /// The next `n` bytes (refilling the window as needed), consumed.
    #[inline]
    pub(crate) fn take(&mut self, n: usize) -> io::Result<&[u8]> {
        if self.at + n > self.buf.len() {
            self.refill(n)?;
        }
        let out = &self.buf[self.at..self.at + n];
        self.at += n;
        Ok(out)
    }

    #[cold]
    #[inline(never)]
    fn refill(&mut self, n: usize) -> io::Result<()> {
        let pos = self.pos();
        let want = (self.end.saturating_sub(pos)).min(n.max(self.window) as u64) as usize;
        if want < n {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!(
                    "{}: offset {pos}: {n} bytes expected, but the stream ends {} bytes on (it is truncated)",
                    self.src.name(),
                    self.end.saturating_sub(pos)
                ),
            ));
        }
        self.buf.resize(want, 0);
        self.src.read_at(pos, &mut self.buf)?;
        self.base = pos;
        self.at = 0;
        Ok(())
    }

    #[inline]
    pub(crate) fn u8(&mut self) -> io::Result<u8> {
        Ok(self.take(1)?[0])
    }

    #[inline]
    pub(crate) fn len(&mut self, what: &str, record_at: u64) -> io::Result<u32> {
        let b = self.take(4)?;
        let n = i32::from_be_bytes([b[0], b[1], b[2], b[3]]);
        if n < 0 {
            return Err(negative_length(what, n, record_at));
        }
        Ok(n as u32)
    }

    /// Passes over `n` bytes, reading them only if they are already in the window.
    pub(crate) fn skip(&mut self, n: u64) -> io::Result<()> {
        let pos = self.pos() + n;
        if pos > self.end {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!(
                    "{}: offset {}: {n} bytes expected, but the stream ends {} bytes on (it is truncated)",
                    self.src.name(),
                    self.pos(),
                    self.end.saturating_sub(self.pos())
                ),
            ));
        }
        if pos <= self.base + self.buf.len() as u64 {
            self.at = (pos - self.base) as usize;
        } else {
            self.buf.clear();
            self.base = pos;
            self.at = 0;
        }
        Ok(())
    }
}
