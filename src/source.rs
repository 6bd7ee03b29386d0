//! Positional byte sources: everything above reads input through `read_at`, so a
//! multi-GiB savepoint is never loaded whole and big arrays stay where they are.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Random-access, read-only bytes. Implementations must be cheap to share across threads.
pub trait Source: Send + Sync {
    fn len(&self) -> u64;

    /// Fills `buf` from `offset`; a short source is an `UnexpectedEof` error.
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()>;

    /// The whole source when it already sits in memory (lets parsers skip buffering).
    fn as_slice(&self) -> Option<&[u8]> {
        None
    }

    /// A name for error messages: a path, or what made the bytes.
    fn name(&self) -> String;

    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Heap bytes this source keeps beyond what it reads through (an index, say), so
    /// that a cache of converted files can bound what it really holds.
    fn held_bytes(&self) -> usize {
        0
    }

    /// The open file whose bytes this source is, from offset 0 (what FUSE passthrough
    /// can hand to the kernel); `None` for anything generated or in memory.
    fn backing_file(&self) -> Option<&std::fs::File> {
        None
    }
}

/// Bytes held in memory, named for error messages.
pub struct MemSource {
    name: String,
    bytes: Arc<[u8]>,
}

impl MemSource {
    pub fn new(name: impl Into<String>, bytes: impl Into<Arc<[u8]>>) -> Self {
        MemSource {
            name: name.into(),
            bytes: bytes.into(),
        }
    }
}

impl Source for MemSource {
    fn len(&self) -> u64 {
        self.bytes.len() as u64
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        let slice = slice_at(&self.bytes, offset, buf.len())?;
        buf.copy_from_slice(slice);
        Ok(())
    }
    fn as_slice(&self) -> Option<&[u8]> {
        Some(&self.bytes)
    }
    fn name(&self) -> String {
        self.name.clone()
    }
}

fn slice_at(bytes: &[u8], offset: u64, len: usize) -> io::Result<&[u8]> {
    let start = usize::try_from(offset).ok().filter(|&s| s <= bytes.len());
    match start.and_then(|s| {
        s.checked_add(len)
            .filter(|&e| e <= bytes.len())
            .map(|e| (s, e))
    }) {
        Some((s, e)) => Ok(&bytes[s..e]),
        None => Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!(
                "read of {len} bytes at offset {offset} past the end ({} bytes)",
                bytes.len()
            ),
        )),
    }
}

/// A read-only file, read with `pread` (no shared cursor, so threads never contend).
pub struct FileSource {
    path: PathBuf,
    file: File,
    len: u64,
}

/// Opens a file for reading without ever blocking (a FIFO or device in its place is
/// refused, not waited on) and checks the open file itself is a regular file.
/// `no_symlinks`: no component of `path` may be a symlink (`openat2` with
/// `RESOLVE_NO_SYMLINKS`, or `O_NOFOLLOW` on the last component where the kernel lacks
/// it), so a path checked once cannot be redirected before it is opened.
pub fn open_regular(path: &Path, no_symlinks: bool) -> io::Result<File> {
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::io::FromRawFd;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path with a NUL byte"))?;
    let flags = libc::O_RDONLY | libc::O_CLOEXEC | libc::O_NONBLOCK | libc::O_NOCTTY;
    let mut fd = -1;
    if no_symlinks {
        let mut how: libc::open_how = unsafe { std::mem::zeroed() };
        how.flags = flags as u64;
        how.resolve = libc::RESOLVE_NO_SYMLINKS;
        // SAFETY: a valid C string and a fully initialised open_how of the size given.
        let r = unsafe {
            libc::syscall(
                libc::SYS_openat2,
                libc::AT_FDCWD,
                c.as_ptr(),
                &how as *const libc::open_how,
                std::mem::size_of::<libc::open_how>(),
            )
        };
        if r >= 0 {
            fd = r as i32;
        } else {
            let e = io::Error::last_os_error();
            if e.raw_os_error() != Some(libc::ENOSYS) {
                return Err(symlink_hint(e));
            }
        }
    }
    if fd < 0 {
        let extra = if no_symlinks { libc::O_NOFOLLOW } else { 0 };
        // SAFETY: a valid C string.
        fd = unsafe { libc::open(c.as_ptr(), flags | extra) };
        if fd < 0 {
            return Err(symlink_hint(io::Error::last_os_error()));
        }
    }
    // SAFETY: fd was just opened and is owned by nothing else.
    let file = unsafe { File::from_raw_fd(fd) };
    let meta = file.metadata()?;
    if !meta.file_type().is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a regular file",
        ));
    }
    Ok(file)
}

fn symlink_hint(e: io::Error) -> io::Error {
    if e.raw_os_error() == Some(libc::ELOOP) {
        io::Error::new(
            e.kind(),
            "a path component became a symbolic link after it was checked",
        )
    } else {
        e
    }
}

impl FileSource {
    /// Opens a regular file (never blocking on a FIFO or device).
    pub fn open(path: impl AsRef<Path>) -> io::Result<Self> {
        let path = path.as_ref().to_path_buf();
        let file = open_regular(&path, false)?;
        let len = file.metadata()?.len();
        Ok(FileSource { path, file, len })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// The error for a read of `n` bytes at `offset` of a source of `len` bytes that would
/// pass its end (`name` says which source), if it would.
pub fn past_end(name: &dyn Fn() -> String, offset: u64, n: usize, len: u64) -> io::Result<()> {
    if offset.checked_add(n as u64).is_none_or(|end| end > len) {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!(
                "{}: read of {n} bytes at offset {offset} past the end ({len} bytes)",
                name()
            ),
        ));
    }
    Ok(())
}

impl Source for FileSource {
    fn len(&self) -> u64 {
        self.len
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        past_end(&|| self.name(), offset, buf.len(), self.len)?;
        self.file.read_exact_at(buf, offset)
    }
    fn name(&self) -> String {
        self.path.display().to_string()
    }
    fn backing_file(&self) -> Option<&File> {
        Some(&self.file)
    }
}

impl<S: Source + ?Sized> Source for Arc<S> {
    fn len(&self) -> u64 {
        (**self).len()
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        (**self).read_at(offset, buf)
    }
    fn as_slice(&self) -> Option<&[u8]> {
        (**self).as_slice()
    }
    fn name(&self) -> String {
        (**self).name()
    }
    fn backing_file(&self) -> Option<&File> {
        (**self).backing_file()
    }
    fn held_bytes(&self) -> usize {
        (**self).held_bytes()
    }
}

/// A byte range `[start, start+len)` of a source.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Span {
    pub start: u64,
    pub len: u64,
}

impl Span {
    pub fn new(start: u64, len: u64) -> Self {
        Span { start, len }
    }
    pub fn end(&self) -> u64 {
        self.start + self.len
    }
}

/// Reads a span whole. Only for spans the caller knows are small (or wants in memory).
pub fn read_span(src: &dyn Source, span: Span) -> io::Result<Vec<u8>> {
    let len = usize::try_from(span.len)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "span too large for memory"))?;
    if span.end() > src.len() {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!(
                "span {}+{} past the end ({} bytes)",
                span.start,
                span.len,
                src.len()
            ),
        ));
    }
    let mut buf = vec![0u8; len];
    src.read_at(span.start, &mut buf)?;
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mem_source_rejects_reads_past_end() {
        let s = MemSource::new("t", vec![1u8, 2, 3]);
        let mut b = [0u8; 2];
        s.read_at(1, &mut b).unwrap();
        assert_eq!(b, [2, 3]);
        assert!(s.read_at(2, &mut b).is_err());
        assert!(s.read_at(u64::MAX, &mut b).is_err());
    }

    #[test]
    fn file_source_reads_ranges() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, b"hello world").unwrap();
        let s = FileSource::open(&p).unwrap();
        assert_eq!(s.len(), 11);
        assert_eq!(read_span(&s, Span::new(6, 5)).unwrap(), b"world");
        assert!(read_span(&s, Span::new(7, 5)).is_err());
    }
}
