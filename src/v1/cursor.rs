//! Byte-level reading for the V1 reader: big-endian primitives, counts checked against
//! the bytes that remain, and Java `readUTF` strings, from any [`Source`].

use super::error::{Error, ErrorKind, Result, Where};
use crate::javaser::mutf8;
use crate::scan::{Short, Window};
use crate::source::Source;

/// Non-slice sources are read through a window of this size.
const WINDOW: usize = 64 * 1024;

/// A positional reader over a [`Source`] that knows where it is in the structure.
pub(super) struct Cursor<'a> {
    /// Offset of the next byte to read.
    pub pos: u64,
    /// Where in the structure the next field is (for error messages).
    pub at: Where,
    src: &'a dyn Source,
    len: u64,
    win: Window<'a>,
}

impl<'a> Cursor<'a> {
    pub fn new(src: &'a dyn Source) -> Self {
        Cursor {
            src,
            len: src.len(),
            pos: 0,
            win: Window::new(src, WINDOW),
            at: Where::default(),
        }
    }

    pub fn remaining(&self) -> u64 {
        self.len.saturating_sub(self.pos)
    }

    pub fn err_at(&self, offset: u64, kind: ErrorKind) -> Error {
        Error::new(kind, offset, self.src.name(), &self.at)
    }

    pub fn err(&self, kind: ErrorKind) -> Error {
        self.err_at(self.pos, kind)
    }

    /// Fills `out` from the current position and advances.
    pub fn take(&mut self, out: &mut [u8], what: &'static str) -> Result<()> {
        match self.win.read_into(self.pos, out, self.len) {
            Ok(()) => {
                self.pos += out.len() as u64;
                Ok(())
            }
            Err(Short::Truncated { need, have }) => {
                Err(self.err(ErrorKind::Truncated { what, need, have }))
            }
            Err(Short::Io(e)) => Err(self.err(ErrorKind::Io(e))),
        }
    }

    pub fn u8(&mut self, what: &'static str) -> Result<u8> {
        let mut b = [0u8; 1];
        self.take(&mut b, what)?;
        Ok(b[0])
    }
    pub fn u16(&mut self, what: &'static str) -> Result<u16> {
        let mut b = [0u8; 2];
        self.take(&mut b, what)?;
        Ok(u16::from_be_bytes(b))
    }
    pub fn u32(&mut self, what: &'static str) -> Result<u32> {
        let mut b = [0u8; 4];
        self.take(&mut b, what)?;
        Ok(u32::from_be_bytes(b))
    }
    pub fn i32(&mut self, what: &'static str) -> Result<i32> {
        Ok(self.u32(what)? as i32)
    }
    pub fn i64(&mut self, what: &'static str) -> Result<i64> {
        let mut b = [0u8; 8];
        self.take(&mut b, what)?;
        Ok(i64::from_be_bytes(b))
    }

    /// Checks that `count` elements of at least `min_each` bytes fit in what remains.
    pub fn fits(&self, at: u64, what: &'static str, count: i64, min_each: u64) -> Result<usize> {
        if count < 0 {
            return Err(self.err_at(at, ErrorKind::NegativeCount { what, count }));
        }
        let remaining = self.remaining();
        if (count as u64).saturating_mul(min_each) > remaining {
            let kind = ErrorKind::CountPastEnd {
                what,
                count,
                min_each,
                remaining,
            };
            return Err(self.err_at(at, kind));
        }
        Ok(count as usize)
    }

    /// Reads an int count and checks it against the remaining bytes.
    pub fn count(&mut self, what: &'static str, min_each: u64) -> Result<usize> {
        let at = self.pos;
        let n = self.i32(what)?;
        self.fits(at, what, n.into(), min_each)
    }

    /// An int count, then that many longs.
    pub fn longs(&mut self, count_what: &'static str, what: &'static str) -> Result<Vec<i64>> {
        let n = self.count(count_what, 8)?;
        self.longs_n(n, what)
    }

    /// `n` longs; the caller has checked that they fit.
    pub fn longs_n(&mut self, n: usize, what: &'static str) -> Result<Vec<i64>> {
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            out.push(self.i64(what)?);
        }
        Ok(out)
    }

    /// `readUTF`: u16 length, modified UTF-8. Only strings that re-encode to the same
    /// bytes are accepted, so that a write gives back the input.
    pub fn utf(&mut self, what: &'static str) -> Result<String> {
        let at = self.pos;
        let len = self.u16(what)?;
        let have = self.remaining();
        if u64::from(len) > have {
            let kind = ErrorKind::Truncated {
                what,
                need: len.into(),
                have,
            };
            return Err(self.err_at(at, kind));
        }
        let mut bytes = vec![0u8; len as usize];
        self.take(&mut bytes, what)?;
        let Some(s) = mutf8::decode(&bytes) else {
            return Err(self.err_at(at, ErrorKind::BadUtf { len }));
        };
        if mutf8::encode(&s) != bytes {
            return Err(self.err_at(at, ErrorKind::NonCanonicalUtf { len }));
        }
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A source that only answers `read_at`, as a file does.
    struct NoSlice(Vec<u8>);
    impl Source for NoSlice {
        fn len(&self) -> u64 {
            self.0.len() as u64
        }
        fn read_at(&self, offset: u64, buf: &mut [u8]) -> std::io::Result<()> {
            let s = offset as usize;
            buf.copy_from_slice(&self.0[s..s + buf.len()]);
            Ok(())
        }
        fn name(&self) -> String {
            "noslice".into()
        }
    }

    #[test]
    fn windowed_reads_straddle_window_edges_and_bypass_it_when_big() {
        let bytes: Vec<u8> = (0..3 * WINDOW + 10).map(|i| (i % 251) as u8).collect();
        let src = NoSlice(bytes.clone());
        let mut c = Cursor::new(&src);
        c.pos = WINDOW as u64 - 2;
        let v = c.u32("x").unwrap();
        assert_eq!(v.to_be_bytes(), bytes[WINDOW - 2..WINDOW + 2]);
        let mut big = vec![0u8; WINDOW + 1];
        c.take(&mut big, "big").unwrap();
        assert_eq!(big, bytes[WINDOW + 2..2 * WINDOW + 3]);
        let v = c.i64("y").unwrap();
        assert_eq!(v.to_be_bytes(), bytes[2 * WINDOW + 3..2 * WINDOW + 11]);
        c.pos = src.len() - 3;
        let e = c.u32("tail").unwrap_err();
        assert!(
            matches!(
                e.kind,
                ErrorKind::Truncated {
                    what: "tail",
                    need: 4,
                    have: 3
                }
            ),
            "{e}"
        );
        assert_eq!(
            (e.offset, e.source_name.as_str()),
            (src.len() - 3, "noslice")
        );
    }

    #[test]
    fn counts_are_checked_against_remaining_bytes() {
        let src = NoSlice(vec![0, 0, 0, 3, 1, 2, 3, 4, 5, 6, 7, 8]);
        let mut c = Cursor::new(&src);
        let e = c.count("things", 4).unwrap_err();
        assert!(
            matches!(
                e.kind,
                ErrorKind::CountPastEnd {
                    count: 3,
                    min_each: 4,
                    remaining: 8,
                    ..
                }
            ),
            "{e}"
        );
        assert_eq!(e.offset, 0);
        let mut c = Cursor::new(&src);
        assert_eq!(c.count("things", 2).unwrap(), 3);
    }
}
