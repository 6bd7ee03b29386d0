//! Reading bytes for every cursor of the crate, with the bounds checks and windowing in
//! one place: [`Window`] (random access through a window, for the Java stream parser and
//! the metadata readers) and [`Scan`] (the forward record scanner of large inputs).

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
    /// How far a refill may read ahead (at least what one request needs).
    size: usize,
    /// How far the next refill reads ahead: [`FIRST_REFILL`] after a jump, doubling up to
    /// `size` while refills follow each other, so that a parser stepping over a large
    /// array (a memory-backend subtask's inline state) does not read its bytes.
    ahead: usize,
}

/// The first refill after a jump; a Java stream's header objects fit in it.
const FIRST_REFILL: usize = 4096;

#[cold]
fn short_of(pos: u64, n: usize, end: u64) -> Short {
    Short::Truncated {
        need: n as u64,
        have: end.saturating_sub(pos),
    }
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
            ahead: FIRST_REFILL.min(size),
        }
    }

    /// The `n` bytes at source offset `pos`, which the caller may read up to `end` (a
    /// window serves one cursor, whose `end` does not change: what it holds is inside it).
    #[inline(always)]
    pub(crate) fn fetch(&mut self, pos: u64, n: usize, end: u64) -> Result<&[u8], Short> {
        if let Some(s) = self.slice {
            let p = pos as usize;
            if pos.saturating_add(n as u64) <= end
                && let Some(b) = s.get(p..p.saturating_add(n))
            {
                return Ok(b);
            }
            return Err(short_of(pos, n, end.min(s.len() as u64)));
        }
        if pos >= self.start {
            let off = (pos - self.start) as usize;
            if off.saturating_add(n) <= self.buf.len() {
                return Ok(&self.buf[off..off + n]);
            }
        }
        self.fetch_slow(pos, n, end)
    }

    #[inline(never)]
    fn fetch_slow(&mut self, pos: u64, n: usize, end: u64) -> Result<&[u8], Short> {
        let have = end.saturating_sub(pos);
        if n as u64 > have {
            return Err(Short::Truncated {
                need: n as u64,
                have,
            });
        }
        self.refill(pos, n, have)?;
        Ok(&self.buf[..n])
    }

    fn refill(&mut self, pos: u64, n: usize, have: u64) -> Result<(), Short> {
        // A read starting inside the window or right after it continues a sequential
        // pass; anything else is a jump.
        let end = self.start + self.buf.len() as u64;
        let follows = !self.buf.is_empty() && pos >= self.start && pos <= end;
        self.ahead = match follows {
            true => self.ahead.saturating_mul(2).min(self.size),
            false => FIRST_REFILL.min(self.size),
        };
        let want = have.min(self.ahead.max(n) as u64) as usize;
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
}

/// A forward parser over a source through a large window: records are a few bytes each,
/// so they are parsed from memory and the source is read in big `pread`s. It keeps its
/// own parse index into its buffer rather than going through a [`Window`]: this is the
/// hottest loop of the crate (every RocksDB record and heap entry passes it; the extra
/// bookkeeping of a window cost 20–50% there).
pub(crate) struct Scan<'a> {
    src: &'a dyn Source,
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

    /// The source being parsed.
    pub(crate) fn src(&self) -> &'a dyn Source {
        self.src
    }

    /// Source offset of the parse position.
    #[inline(always)]
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

    fn truncated(&self, n: u64) -> io::Error {
        truncated(self.src, self.pos(), self.end, n)
    }

    /// The next `n` bytes (refilling the window as needed), consumed.
    #[inline(always)]
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
            return Err(self.truncated(n as u64));
        }
        self.buf.resize(want, 0);
        self.src.read_at(pos, &mut self.buf)?;
        self.base = pos;
        self.at = 0;
        Ok(())
    }

    #[inline(always)]
    pub(crate) fn u8(&mut self) -> io::Result<u8> {
        Ok(self.take(1)?[0])
    }

    #[inline(always)]
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
            return Err(self.truncated(n));
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

#[cfg(test)]
mod window_tests {
    use super::*;
    use std::sync::Mutex;

    /// A source of zeros that records every read's offset and length.
    struct Counting(Mutex<Vec<(u64, usize)>>, u64);

    impl Source for Counting {
        fn len(&self) -> u64 {
            self.1
        }
        fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
            self.0.lock().unwrap().push((offset, buf.len()));
            buf.fill(0);
            Ok(())
        }
        fn name(&self) -> String {
            "counting".into()
        }
    }

    #[test]
    fn stepping_over_an_array_does_not_read_it() {
        let src = Counting(Mutex::new(Vec::new()), 1 << 20);
        let mut w = Window::new(&src, 128 << 10);
        let end = src.len();
        // A header, then a 512 KiB array stepped over, then the fields after it.
        w.fetch(0, 2, end).unwrap();
        w.fetch(100, 4, end).unwrap();
        w.fetch(600 << 10, 2, end).unwrap();
        let reads = src.0.lock().unwrap().clone();
        assert_eq!(reads, vec![(0, FIRST_REFILL), (600 << 10, FIRST_REFILL)]);
    }

    #[test]
    fn a_sequential_pass_reads_ever_larger_windows() {
        let src = Counting(Mutex::new(Vec::new()), 4 << 20);
        let mut w = Window::new(&src, 128 << 10);
        let end = src.len();
        // 6-byte records: most refills start inside the window, not at its end.
        let mut pos = 0;
        while pos + 6 <= 1 << 20 {
            w.fetch(pos, 6, end).unwrap();
            pos += 6;
        }
        let reads = src.0.lock().unwrap().clone();
        let sizes: Vec<usize> = reads.iter().map(|r| r.1).collect();
        assert_eq!(&sizes[..6], &[4096, 8192, 16384, 32768, 65536, 131072]);
        assert!(sizes[6..].iter().all(|&s| s == 128 << 10), "{sizes:?}");
        // Every byte read, and little twice (the records straddling refills).
        let total: usize = sizes.iter().sum();
        assert!(
            ((1 << 20)..(1 << 20) + (256 << 10)).contains(&total),
            "{total}"
        );
    }
}
