//! Scratch space for re-filed records: a file created in the spill directory and
//! unlinked at once (so nothing is left behind, whatever ends the process), written by
//! appending and read back as a [`Source`]. It is never the savepoint or one of its files.

use crate::source::Source;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

pub struct Spill {
    file: File,
    len: u64,
    /// Where it was created (it no longer has a name), for messages.
    created_in: PathBuf,
}

static SEQUENCE: AtomicU64 = AtomicU64::new(0);

impl Spill {
    /// A new, empty spill file in `dir`.
    pub fn create(dir: &Path) -> io::Result<Spill> {
        let name = format!(
            ".savepointfs-spill-{}-{}",
            std::process::id(),
            SEQUENCE.fetch_add(1, Ordering::Relaxed)
        );
        let path = dir.join(name);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .map_err(|e| {
                io::Error::new(e.kind(), format!("spill file in {}: {e}", dir.display()))
            })?;
        std::fs::remove_file(&path)?;
        Ok(Spill {
            file,
            len: 0,
            created_in: dir.to_path_buf(),
        })
    }

    /// Appends `bytes`; returns the offset they start at.
    pub fn append(&mut self, bytes: &[u8]) -> io::Result<u64> {
        let at = self.len;
        (&self.file).write_all(bytes).map_err(|e| self.failed(e))?;
        self.len += bytes.len() as u64;
        Ok(at)
    }

    /// Overwrites one byte already written.
    pub fn patch(&self, at: u64, byte: u8) -> io::Result<()> {
        debug_assert!(at < self.len);
        self.file
            .write_all_at(&[byte], at)
            .map_err(|e| self.failed(e))
    }

    fn failed(&self, e: io::Error) -> io::Error {
        io::Error::new(
            e.kind(),
            format!(
                "writing the spill file in {}: {e}",
                self.created_in.display()
            ),
        )
    }
}

impl Source for Spill {
    fn len(&self) -> u64 {
        self.len
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        crate::source::past_end(&|| self.name(), offset, buf.len(), self.len)?;
        self.file.read_exact_at(buf, offset)
    }

    fn name(&self) -> String {
        format!("spill file in {}", self.created_in.display())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appends_patches_and_leaves_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Spill::create(dir.path()).unwrap();
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        assert_eq!(s.append(b"hello").unwrap(), 0);
        assert_eq!(s.append(b" world").unwrap(), 5);
        s.patch(0, b'j').unwrap();
        let mut buf = [0u8; 11];
        s.read_at(0, &mut buf).unwrap();
        assert_eq!(&buf, b"jello world");
        assert!(s.read_at(6, &mut [0u8; 6]).is_err());
    }

    #[test]
    fn a_missing_directory_is_named() {
        let e = Spill::create(Path::new("/nonexistent/spill"))
            .err()
            .unwrap();
        assert!(e.to_string().contains("/nonexistent/spill"), "{e}");
    }
}
