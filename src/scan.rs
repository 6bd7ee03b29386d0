//! The forward byte reader every sequential parser of large inputs uses (RocksDB
//! snapshot records, heap entries): it reads its [`Source`] in big `pread`s through a
//! window and parses from memory, with the bounds checks and offsets in one place.

use crate::source::Source;
use std::io;

fn bad(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

#[cold]
fn truncated(src: &dyn Source, pos: u64, end: u64, n: u64) -> io::Error {
    io::Error::new(
        io::ErrorKind::UnexpectedEof,
        format!(
            "{}: offset {pos}: {n} bytes expected, but the stream ends {} bytes on (it is truncated)",
            src.name(),
            end.saturating_sub(pos)
        ),
    )
}

#[cold]
fn negative_length(what: &str, n: i32, record_at: u64) -> io::Error {
    bad(format!(
        "negative {what} length {n} in the record at offset {record_at}"
    ))
}

/// Random access to a source's bytes for the crate's cursors: straight from the source's
/// slice when it is one in memory, else through a window refilled with large `pread`s.
/// Every cursor (the Java stream parser, the V1 reader, the sequential record scanners)
/// reads through one, so the bounds checks and the windowing live here.
pub(crate) struct Window<'a> {
    pub(crate) src: &'a dyn Source,
    slice: Option<&'a [u8]>,
    buf: Vec<u8>,
    /// Source offset of `buf[0]`.
    start: u64,
    /// How far a refill reads ahead (at least what one request needs).
    size: usize,
}

/// Why a window could not give the bytes asked for.
#[derive(Debug)]
pub(crate) enum Short {
    /// Fewer than `need` bytes lie before the end the caller allows.
    Truncated {
        need: u64,
        have: u64,
    },
    Io(io::Error),
}

impl<'a> Window<'a> {
    pub(crate) fn new(src: &'a dyn Source, size: usize) -> Self {
        Window {
            src,
            slice: src.as_slice(),
            buf: Vec::new(),
            start: 0,
            size,
        }
    }

    /// The `n` bytes at source offset `pos`, which the caller may read up to `end`.
    #[inline]
    pub(crate) fn fetch(&mut self, pos: u64, n: usize, end: u64) -> Result<&[u8], Short> {
        let have = end.saturating_sub(pos);
        if n as u64 > have {
            return Err(Short::Truncated {
                need: n as u64,
                have,
            });
        }
        if let Some(s) = self.slice {
            let p = pos as usize;
            return s.get(p..p + n).ok_or(Short::Truncated {
                need: n as u64,
                have: (s.len() as u64).saturating_sub(pos),
            });
        }
        if pos < self.start || pos - self.start + n as u64 > self.buf.len() as u64 {
            self.refill(pos, n, have)?;
        }
        let off = (pos - self.start) as usize;
        Ok(&self.buf[off..off + n])
    }

    #[cold]
    #[inline(never)]
    fn refill(&mut self, pos: u64, n: usize, have: u64) -> Result<(), Short> {
        let want = have.min(self.size.max(n) as u64) as usize;
        self.buf.resize(want, 0);
        self.src.read_at(pos, &mut self.buf).map_err(Short::Io)?;
        self.start = pos;
        Ok(())
    }

    /// Fills `out` from source offset `pos` (up to `end`); a request as big as the window
    /// is read straight into `out`, not through the window.
    pub(crate) fn read_into(&mut self, pos: u64, out: &mut [u8], end: u64) -> Result<(), Short> {
        let n = out.len();
        if self.slice.is_none() && n >= self.size {
            let have = end.saturating_sub(pos);
            if n as u64 > have {
                return Err(Short::Truncated {
                    need: n as u64,
                    have,
                });
            }
            return self.src.read_at(pos, out).map_err(Short::Io);
        }
        out.copy_from_slice(self.fetch(pos, n, end)?);
        Ok(())
    }

    /// Bytes `[from, from + n)` if they are at hand without reading.
    pub(crate) fn at_hand(&self, from: u64, n: usize) -> Option<&[u8]> {
        if let Some(s) = self.slice {
            return s.get(from as usize..from as usize + n);
        }
        let off = from.checked_sub(self.start)? as usize;
        self.buf.get(off..off + n)
    }
}

/// A forward parser over a source through a large window: records are a few bytes each,
/// so they are parsed from memory and the source is read in big `pread`s.
pub(crate) struct Scan<'a> {
    win: Window<'a>,
    pos: u64,
    end: u64,
}

pub(crate) const SCAN_WINDOW: usize = 1 << 18;

impl<'a> Scan<'a> {
    pub(crate) fn new(src: &'a dyn Source, start: u64, end: u64) -> Self {
        Scan {
            win: Window::new(src, SCAN_WINDOW),
            pos: start,
            end,
        }
    }

    /// Reads ahead at most `window` bytes at a time (at least what one parse needs): a
    /// reader that wants little should not read far past it.
    pub(crate) fn with_window(mut self, window: usize) -> Self {
        self.win.size = window.clamp(1, SCAN_WINDOW);
        self
    }

    /// The source being parsed.
    pub(crate) fn src(&self) -> &'a dyn Source {
        self.win.src
    }

    /// Source offset of the parse position.
    pub(crate) fn pos(&self) -> u64 {
        self.pos
    }

    /// The bytes from source offset `start` to the parse position, if they are all still
    /// in the window.
    pub(crate) fn recent(&self, start: u64) -> Option<&[u8]> {
        let n = self.pos.checked_sub(start)?;
        self.win.at_hand(start, usize::try_from(n).ok()?)
    }

    pub(crate) fn at_end(&self) -> bool {
        self.pos >= self.end
    }

    fn truncated(&self, n: u64) -> io::Error {
        truncated(self.win.src, self.pos, self.end, n)
    }

    /// The next `n` bytes (refilling the window as needed), consumed.
    #[inline]
    pub(crate) fn take(&mut self, n: usize) -> io::Result<&[u8]> {
        let (src, pos, end) = (self.win.src, self.pos, self.end);
        match self.win.fetch(pos, n, end) {
            Ok(b) => {
                self.pos += n as u64;
                Ok(b)
            }
            Err(Short::Truncated { .. }) => Err(truncated(src, pos, end, n as u64)),
            Err(Short::Io(e)) => Err(e),
        }
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

    /// Passes over `n` bytes without reading them.
    pub(crate) fn skip(&mut self, n: u64) -> io::Result<()> {
        if n > self.end.saturating_sub(self.pos) {
            return Err(self.truncated(n));
        }
        self.pos += n;
        Ok(())
    }
}
