//! Buffered positional reading over a source, bounded by an end offset: the reader's
//! only way to touch input bytes.

use super::super::error::ErrorKind;
use crate::source::{Source, Span};

/// Buffered positional reading over a source, bounded by `end`.
pub(super) struct Cursor<'s> {
    pub(super) src: &'s dyn Source,
    pub(super) slice: Option<&'s [u8]>,
    pub(super) pos: u64,
    pub(super) end: u64,
    pub(super) buf: Vec<u8>,
    pub(super) buf_start: u64,
}

const WINDOW: usize = 128 * 1024;

impl<'s> Cursor<'s> {
    pub(super) fn remaining(&self) -> u64 {
        self.end.saturating_sub(self.pos)
    }

    /// The next `n` bytes (n ≤ 65,544), advancing past them.
    pub(super) fn take(&mut self, n: usize, what: &'static str) -> Result<&[u8], ErrorKind> {
        if (n as u64) > self.remaining() {
            return Err(ErrorKind::Truncated {
                what,
                need: n as u64,
                have: self.remaining(),
            });
        }
        let pos = self.pos;
        self.pos += n as u64;
        if let Some(s) = self.slice {
            return Ok(&s[pos as usize..pos as usize + n]);
        }
        let in_buf =
            pos >= self.buf_start && pos + n as u64 <= self.buf_start + self.buf.len() as u64;
        if !in_buf {
            let want = (self.end - pos).min(WINDOW.max(n) as u64) as usize;
            self.buf.resize(want, 0);
            self.src
                .read_at(pos, &mut self.buf)
                .map_err(ErrorKind::Io)?;
            self.buf_start = pos;
        }
        let off = (pos - self.buf_start) as usize;
        Ok(&self.buf[off..off + n])
    }

    pub(super) fn peek(&mut self, what: &'static str) -> Result<u8, ErrorKind> {
        let b = self.take(1, what)?[0];
        self.pos -= 1;
        Ok(b)
    }

    /// Passes over `n` bytes without reading them, returning their span.
    pub(super) fn skip(&mut self, n: u64, what: &'static str) -> Result<Span, ErrorKind> {
        if n > self.remaining() {
            return Err(ErrorKind::Truncated {
                what,
                need: n,
                have: self.remaining(),
            });
        }
        let span = Span::new(self.pos, n);
        self.pos += n;
        Ok(span)
    }
}
