//! The tree's error, and the one place errors become errno values for the FUSE adapter.

use crate::{convert, v0};
use std::io;

/// Shown as `name: cause` for path errors (see [`Error::cause`], the one place each
/// cause is worded).
#[derive(Debug)]
pub enum Error {
    NotFound(String),
    /// A file the options given cannot produce: not listed, and named here with what
    /// it needs.
    Unserved {
        name: String,
        cause: Box<convert::Error>,
    },
    /// A file of a form the tree does not show (`--forms target`).
    NotShown(String),
    NotADirectory(String),
    IsADirectory(String),
    Convert(convert::Error),
    Savepoint(v0::Error),
    Io(io::Error),
    TooLarge(String),
    /// Options that cannot apply to this savepoint.
    BadOptions(String),
    /// A decoded view could not be built (its stream is damaged).
    View(String),
}

impl From<convert::Error> for Error {
    fn from(e: convert::Error) -> Self {
        Error::Convert(e)
    }
}

impl From<v0::Error> for Error {
    fn from(e: v0::Error) -> Self {
        Error::Savepoint(e)
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        Error::Io(e)
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::NotFound(name)
            | Error::NotShown(name)
            | Error::NotADirectory(name)
            | Error::IsADirectory(name)
            | Error::Unserved { name, .. } => write!(f, "{name}: {}", self.cause()),
            Error::Convert(e) => write!(f, "{e}"),
            Error::Savepoint(e) => write!(f, "{e}"),
            Error::Io(e) => write!(f, "{e}"),
            Error::TooLarge(m) | Error::BadOptions(m) | Error::View(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for Error {}

impl Error {
    /// The cause, without the location or name the message starts with (the caller
    /// says where: a [`Place`](super::problems::Place) or a path).
    pub fn cause(&self) -> String {
        match self {
            Error::Convert(c) => c.cause(),
            Error::NotFound(_) => "no such file or directory".into(),
            Error::NotShown(_) => {
                "not shown: a form the target's _metadata does not name (--forms all shows every form)"
                    .into()
            }
            Error::Unserved { cause, .. } => cause.cause(),
            Error::NotADirectory(_) => "not a directory".into(),
            Error::IsADirectory(_) => "is a directory".into(),
            Error::Savepoint(e) => e.to_string(),
            Error::Io(e) => e.to_string(),
            Error::TooLarge(m) | Error::BadOptions(m) | Error::View(m) => m.clone(),
        }
    }

    /// The errno a file-system caller sees.
    pub fn errno(&self) -> i32 {
        match self {
            Error::NotFound(_) | Error::Unserved { .. } | Error::NotShown(_) => libc::ENOENT,
            Error::NotADirectory(_) => libc::ENOTDIR,
            Error::IsADirectory(_) => libc::EISDIR,
            Error::Convert(e) => io_kind_errno(e.io_kind()),
            Error::Io(e) => io_kind_errno(e.kind()),
            Error::Savepoint(_) | Error::TooLarge(_) | Error::View(_) => libc::EIO,
            Error::BadOptions(_) => libc::EINVAL,
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
