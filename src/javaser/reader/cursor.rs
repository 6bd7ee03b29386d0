//! Positional reading over a source, bounded by an end offset: the reader's only way to
//! touch input bytes (through the crate's one [`Window`]).

use super::super::error::ErrorKind;
use crate::scan::{Short, Window};
use crate::source::{Source, Span};

/// Positional reading over a source, bounded by `end`.
pub(super) struct Cursor<'s> {
    pub(super) src: &'s dyn Source,
    pub(super) pos: u64,
    pub(super) end: u64,
    win: Window<'s>,
}

const WINDOW: usize = 128 * 1024;

impl<'s> Cursor<'s> {
    pub(super) fn new(src: &'s dyn Source, start: u64, end: u64) -> Self {
        Cursor {
            src,
            pos: start,
            end,
            win: Window::new(src, WINDOW),
        }
    }

    pub(super) fn remaining(&self) -> u64 {
        self.end.saturating_sub(self.pos)
    }

    /// The next `n` bytes (n ≤ 65,544), advancing past them.
    #[inline]
    pub(super) fn take(&mut self, n: usize, what: &'static str) -> Result<&[u8], ErrorKind> {
        let pos = self.pos;
        match self.win.fetch(pos, n, self.end) {
            Ok(b) => {
                self.pos += n as u64;
                Ok(b)
            }
            Err(Short::Truncated { need, have }) => Err(ErrorKind::Truncated { what, need, have }),
            Err(Short::Io(e)) => Err(ErrorKind::Io(e)),
        }
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
