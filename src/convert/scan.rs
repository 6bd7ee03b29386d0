//! Sequential parsing and windowed emitting for the re-encoding sources (RocksDB records,
//! heap entries as canonical records): one forward reader over a [`Source`] through a
//! large window, and an emitter that copies whatever part of each generated piece falls
//! into a requested read.

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
pub(super) struct Scan<'a> {
    pub(super) src: &'a dyn Source,
    end: u64,
    buf: Vec<u8>,
    /// Source offset of `buf[0]`.
    base: u64,
    /// Parse position within `buf`.
    at: usize,
    /// How far a refill reads ahead.
    window: usize,
}

pub(super) const SCAN_WINDOW: usize = 1 << 18;

impl<'a> Scan<'a> {
    pub(super) fn new(src: &'a dyn Source, start: u64, end: u64) -> Self {
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
    pub(super) fn with_window(mut self, window: usize) -> Self {
        self.window = window.clamp(1, SCAN_WINDOW);
        self
    }

    /// Source offset of the parse position.
    pub(super) fn pos(&self) -> u64 {
        self.base + self.at as u64
    }

    /// The bytes from source offset `start` to the parse position, if they are all still
    /// in the window.
    pub(super) fn recent(&self, start: u64) -> Option<&[u8]> {
        let from = start.checked_sub(self.base)? as usize;
        self.buf.get(from..self.at)
    }

    pub(super) fn at_end(&self) -> bool {
        self.pos() >= self.end
    }

    /// The next `n` bytes (refilling the window as needed), consumed.
    #[inline]
    pub(super) fn take(&mut self, n: usize) -> io::Result<&[u8]> {
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
                    "{}: record runs past the end of the stream at {pos}",
                    self.src.name()
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
    pub(super) fn u8(&mut self) -> io::Result<u8> {
        Ok(self.take(1)?[0])
    }

    #[inline]
    pub(super) fn len(&mut self, what: &str, record_at: u64) -> io::Result<u32> {
        let b = self.take(4)?;
        let n = i32::from_be_bytes([b[0], b[1], b[2], b[3]]);
        if n < 0 {
            return Err(negative_length(what, n, record_at));
        }
        Ok(n as u32)
    }

    /// Passes over `n` bytes, reading them only if they are already in the window.
    pub(super) fn skip(&mut self, n: u64) -> io::Result<()> {
        let pos = self.pos() + n;
        if pos > self.end {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("{}: value runs past the end of the stream", self.src.name()),
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

impl<'b> Emitter<'b> {
    /// An emitter for a read of `buf` at `offset` of a source of `len` bytes named
    /// `name`; a read past the end is an error.
    pub(super) fn for_read(
        offset: u64,
        buf: &'b mut [u8],
        len: u64,
        name: &dyn Fn() -> String,
    ) -> io::Result<Self> {
        if offset.checked_add(buf.len() as u64).is_none_or(|e| e > len) {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("{}: read past the end", name()),
            ));
        }
        Ok(Emitter {
            offset,
            buf,
            filled: 0,
        })
    }
}

/// Copies the part of each emitted piece that overlaps the requested window.
pub(super) struct Emitter<'b> {
    pub(super) offset: u64,
    pub(super) buf: &'b mut [u8],
    pub(super) filled: usize,
}

impl Emitter<'_> {
    /// The output for `len` bytes at `at` when all of them are wanted, counted as filled.
    #[inline]
    pub(super) fn slot(&mut self, at: u64, len: u64) -> Option<&mut [u8]> {
        let from = at.checked_sub(self.offset)? as usize;
        let end = from.checked_add(len as usize)?;
        if end > self.buf.len() {
            return None;
        }
        self.filled += len as usize;
        Some(&mut self.buf[from..end])
    }

    /// Whether any of `len` bytes at output offset `at` fall into the requested read.
    pub(super) fn wants(&self, at: u64, len: u64) -> bool {
        self.window(at, len).is_some()
    }

    /// Emits `len` bytes that sit at `from` in `src`, reading only the wanted part.
    pub(super) fn put_source(
        &mut self,
        at: u64,
        src: &dyn Source,
        from: u64,
        len: u64,
    ) -> io::Result<()> {
        if let Some((skip, to, n)) = self.window(at, len) {
            src.read_at(from + skip as u64, &mut self.buf[to..to + n])?;
            self.filled += n;
        }
        Ok(())
    }

    /// How many bytes the read asks for.
    pub(super) fn wanted(&self) -> usize {
        self.buf.len()
    }

    /// Ends a read: an error unless every requested byte was emitted.
    pub(super) fn finish(self, name: &dyn Fn() -> String) -> io::Result<()> {
        if self.done() {
            return Ok(());
        }
        Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "{}: records ended before offset {}",
                name(),
                self.offset + self.buf.len() as u64
            ),
        ))
    }

    pub(super) fn done(&self) -> bool {
        self.filled == self.buf.len()
    }

    #[inline]
    fn window(&self, at: u64, len: u64) -> Option<(usize, usize, usize)> {
        let end = self.offset + self.buf.len() as u64;
        let lo = at.max(self.offset);
        let hi = (at + len).min(end);
        (lo < hi).then(|| {
            (
                (lo - at) as usize,
                (lo - self.offset) as usize,
                (hi - lo) as usize,
            )
        })
    }

    #[inline]
    pub(super) fn put(&mut self, at: u64, bytes: &[u8]) {
        if let Some((from, to, n)) = self.window(at, bytes.len() as u64) {
            self.buf[to..to + n].copy_from_slice(&bytes[from..from + n]);
            self.filled += n;
        }
    }

    /// Emits `len` bytes from the scan, consuming them whether or not they are wanted;
    /// a large wanted value is read straight from the source into the output.
    pub(super) fn put_scan(&mut self, at: u64, len: u64, r: &mut Scan<'_>) -> io::Result<()> {
        let Some((from, to, n)) = self.window(at, len) else {
            return r.skip(len);
        };
        if n <= SCAN_WINDOW {
            let start = r.pos();
            r.skip(from as u64)?;
            let bytes = r.take(n)?;
            self.buf[to..to + n].copy_from_slice(bytes);
            r.skip(len - (r.pos() - start))?;
        } else {
            r.src
                .read_at(r.pos() + from as u64, &mut self.buf[to..to + n])?;
            r.skip(len)?;
        }
        self.filled += n;
        Ok(())
    }
}
