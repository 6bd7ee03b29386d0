//! Windowed emitting for the re-encoding sources (RocksDB records, heap entries as
//! canonical records): an emitter that copies whatever part of each generated piece
//! falls into a requested read. They parse their input with [`crate::scan::Scan`].

pub(super) use crate::scan::{SCAN_WINDOW, Scan};
use crate::source::Source;
use std::io;

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
            r.src()
                .read_at(r.pos() + from as u64, &mut self.buf[to..to + n])?;
            r.skip(len)?;
        }
        self.filled += n;
        Ok(())
    }
}
