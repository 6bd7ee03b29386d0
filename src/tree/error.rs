//! The tree's error, and the one place errors become errno values for the FUSE adapter.

use crate::{convert, v0};
use std::io;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}: no such file or directory")]
    NotFound(String),
    /// A file the options given cannot produce: not listed, and named here with what
    /// it needs.
    #[error("{name}: not served under the options given: {cause}")]
    Unserved {
        name: String,
        cause: Box<convert::Error>,
    },
    /// A file of a form the tree does not show (`--forms target`).
    #[error(
        "{0}: not shown: a form the target's _metadata does not name (--forms all shows every form)"
    )]
    NotShown(String),
    #[error("{0}: not a directory")]
    NotADirectory(String),
    #[error("{0}: is a directory")]
    IsADirectory(String),
    #[error("{0}")]
    Convert(#[from] convert::Error),
    #[error("{0}")]
    Savepoint(#[from] v0::Error),
    #[error("{0}")]
    Io(#[from] io::Error),
    #[error("{0}")]
    TooLarge(String),
}

impl Error {
    /// The errno a file-system caller sees.
    pub fn errno(&self) -> i32 {
        match self {
            Error::NotFound(_) | Error::Unserved { .. } | Error::NotShown(_) => libc::ENOENT,
            Error::NotADirectory(_) => libc::ENOTDIR,
            Error::IsADirectory(_) => libc::EISDIR,
            Error::Convert(e) => io_kind_errno(e.io_kind()),
            Error::Io(e) => io_kind_errno(e.kind()),
            Error::Savepoint(_) | Error::TooLarge(_) => libc::EIO,
        }
    }
}

/// Read failures keep their meaning (a file outside the allowed roots is EACCES);
/// everything else about damaged or missing state is EIO.
pub fn io_kind_errno(kind: io::ErrorKind) -> i32 {
    match kind {
        io::ErrorKind::PermissionDenied => libc::EACCES,
        _ => libc::EIO,
    }
}
