//! The streams made last, for reads that come without an open (the kernel opens files
//! itself under FUSE_NO_OPEN_SUPPORT, so no handle holds a stream): a file whose subtask
//! has left the cache is not converted again for every read of it.

use crate::stream::MultiStream;
use crate::tree::Ino;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

/// Enough for the files that the readahead of a few parallel readers interleaves; each
/// holds no more than an open file would.
const KEPT: usize = 16;

#[derive(Default)]
pub(super) struct RecentStreams {
    /// Newest at the back.
    kept: Mutex<VecDeque<(Ino, Arc<MultiStream>)>>,
}

impl RecentStreams {
    /// The stream of `ino`: a kept one, or a new one from `make`, kept from now on.
    pub fn get_or_make<E>(
        &self,
        ino: Ino,
        make: impl FnOnce() -> Result<Arc<MultiStream>, E>,
    ) -> Result<Arc<MultiStream>, E> {
        let find = |kept: &VecDeque<(Ino, Arc<MultiStream>)>| {
            kept.iter()
                .rev()
                .find(|(i, _)| *i == ino)
                .map(|(_, s)| s.clone())
        };
        if let Some(s) = find(&super::lock(&self.kept)) {
            return Ok(s);
        }
        // Made without the lock held (it may convert a subtask).
        let stream = make()?;
        let mut kept = super::lock(&self.kept);
        // Another reader of the same file may have kept its stream meanwhile.
        if let Some(s) = find(&kept) {
            return Ok(s);
        }
        if kept.len() == KEPT {
            kept.pop_front();
        }
        kept.push_back((ino, stream.clone()));
        Ok(stream)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stream::Piece;

    fn stream(byte: u8) -> Arc<MultiStream> {
        Arc::new(MultiStream::new("test", [Piece::bytes(vec![byte])]))
    }

    #[test]
    fn keeps_the_last_files_and_makes_each_once_while_kept() {
        let recent = RecentStreams::default();
        let made = std::cell::Cell::new(0);
        let get = |ino: Ino| {
            recent
                .get_or_make(ino, || -> Result<_, ()> {
                    made.set(made.get() + 1);
                    Ok(stream(ino as u8))
                })
                .unwrap()
        };
        for ino in 0..KEPT as Ino {
            get(ino);
        }
        let first = get(0);
        assert_eq!(made.get(), KEPT, "every kept file is made once");
        let mut byte = [0u8];
        first.read_at_most(0, &mut byte).unwrap();
        assert_eq!(byte, [0]);
        get(KEPT as Ino); // pushes out the oldest, inode 0
        get(0);
        assert_eq!(made.get(), KEPT + 2);
        // A failure is passed on and nothing is kept for it.
        assert_eq!(recent.get_or_make(99, || Err("no")).err(), Some("no"));
        assert_eq!(recent.kept.lock().unwrap().len(), KEPT);
    }
}
