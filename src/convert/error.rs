//! Why a converted file cannot be produced. Cloneable, because a failed file keeps
//! failing with the same cause every time it is opened.

use super::external::ExternalProblem;
use crate::{javaser, v0};
use std::io;
use std::sync::Arc;

/// Where a conversion problem is: the place in the Flink 1.1 file (task, vertex,
/// subtask, chain entry) and the converted file it stops, in one typed value, so callers
/// can say where without parsing messages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileLocation {
    /// Shared: every file of a subtask, and every error about it, points at the same one.
    pub at: Arc<v0::Location>,
    /// The converted file (a tree file name), or `_metadata`; empty for the subtask.
    pub file: &'static str,
}

impl FileLocation {
    pub fn new(at: v0::Location, file: &'static str) -> Self {
        FileLocation {
            at: Arc::new(at),
            file,
        }
    }

    /// `_metadata` as a whole.
    pub fn metadata() -> Self {
        FileLocation::new(v0::Location::default(), "_metadata")
    }
}

impl std::fmt::Display for FileLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (*self.at == v0::Location::default(), self.file.is_empty()) {
            (true, _) => f.write_str(self.file),
            (false, true) => write!(f, "{}", self.at),
            (false, false) => write!(f, "{} {}", self.at, self.file),
        }
    }
}

/// Why a converted file cannot be produced. Shown as `location: cause` (see
/// [`Error::cause`], the one place each cause is worded).
#[derive(Clone, Debug)]
pub enum Error {
    /// The subtask blob could not be decoded.
    Decode(Arc<v0::Error>),
    External {
        location: FileLocation,
        problem: ExternalProblem,
    },
    /// Input Flink 1.2.0 itself refuses to convert (legacy-formats.md §3.9).
    NotMigratable {
        location: FileLocation,
        reason: String,
    },
    /// A native stream's header cannot be made.
    Header {
        location: FileLocation,
        error: HeaderError,
    },
    /// A Flink 1.13+ format cannot say what the file would need.
    Format {
        location: FileLocation,
        error: crate::modern::WriteError,
    },
    /// A serializer the target needs described or measured cannot be.
    Serializer {
        location: FileLocation,
        /// Which serializer (`state "count": value serializer`), or empty when the error
        /// says.
        context: String,
        error: Box<SerializerError>,
    },
    Reserialize {
        location: FileLocation,
        error: Arc<javaser::Error>,
    },
    /// Keyed state cannot be re-filed for `--max-parallelism`/`--parallelism`.
    Rescale {
        location: FileLocation,
        error: RescaleError,
    },
    /// `_metadata` cannot be built.
    Metadata(MetadataError),
    /// Nothing is wrong with the input, but the options given cannot serve it: the user
    /// must add `option` (a mount refuses to start rather than serve failing files).
    NeedsOption {
        location: FileLocation,
        option: &'static str,
        reason: String,
    },
}

/// Why keyed state cannot be re-filed into new key groups.
#[derive(Clone, Debug, thiserror::Error)]
pub enum RescaleError {
    #[error(
        "keys of {key} have no Java hashCode we can compute, and re-filing needs each key's key group (convert without re-filing: leave out --max-parallelism and --parallelism)"
    )]
    Unhashable { key: String },
    #[error("the key serializer cannot be read to hash keys: {0}")]
    KeySerializer(SerializerError),
    #[error("{what} differs between the vertex's subtasks, so they cannot share one header")]
    Differ { what: String },
    #[error("{0}")]
    Bounds(String),
    #[error("{0}")]
    Input(Arc<io::Error>),
    #[error("{0}")]
    Spill(Arc<io::Error>),
}

/// Why `_metadata` cannot be built.
#[derive(Clone, Debug, thiserror::Error)]
pub enum MetadataError {
    /// A file it names cannot be produced; `_metadata` fails the same way (a file
    /// outside the allowed roots makes it EACCES too).
    #[error("{0}")]
    File(Box<Error>),
    /// The savepoint's shape cannot be written in the target's format.
    #[error("{0}")]
    Shape(String),
    #[error("{0}")]
    Write(crate::modern::WriteError),
}

/// Why a Flink 1.1 serializer object cannot be carried to a later Flink, or measured.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SerializerError {
    /// Its class has no counterpart we write (Kryo, Avro, a user or Scala serializer,
    /// a 1.1 enum whose constants 1.1 does not record).
    #[error("{class}: {why}")]
    NotCarried { class: String, why: String },
    /// The object lacks what Flink always writes for its class.
    #[error("{class}: {problem}")]
    Malformed { class: String, problem: String },
    /// A serializer whose values have no length we can work out.
    #[error("{class}")]
    Unmeasurable { class: String },
    /// A standalone serializer stream (`--key-serializer`, a RocksDB column's) that does
    /// not hold one.
    #[error("{what}: {problem}")]
    Stream { what: String, problem: String },
}

impl SerializerError {
    pub(crate) fn malformed(class: &str, problem: impl Into<String>) -> Self {
        SerializerError::Malformed {
            class: class.to_string(),
            problem: problem.into(),
        }
    }
}

/// Why a native (Flink 1.2–1.10) stream header cannot be made.
#[derive(Clone, Debug, thiserror::Error)]
pub enum HeaderError {
    /// A serializer stream could not be written (built from a class spec, or a 1.1
    /// serializer object re-emitted).
    #[error("writing a serializer stream: {0}")]
    Java(Arc<javaser::Error>),
    #[error("reading a serializer's bytes: {0}")]
    Io(Arc<io::Error>),
    #[error(transparent)]
    Format(#[from] crate::modern::WriteError),
    #[error("{class} is not a heap (memory or filesystem backend) snapshot")]
    NotHeap { class: String },
    #[error("the keyed-state map is empty")]
    NoStates,
    #[error("a serializer stream holds no object")]
    EmptyStream,
}

impl From<javaser::Error> for HeaderError {
    fn from(e: javaser::Error) -> Self {
        HeaderError::Java(Arc::new(e))
    }
}

impl From<io::Error> for HeaderError {
    fn from(e: io::Error) -> Self {
        HeaderError::Io(Arc::new(e))
    }
}

/// Why a RocksDB snapshot's keyed stream needs `--key-serializer`.
pub fn needs_key_serializer(location: &FileLocation) -> Error {
    Error::NeedsOption {
        location: location.clone(),
        option: "--key-serializer",
        reason: format!(
            "Flink 1.1's RocksDB backend does not record the key serializer; name it with --key-serializer ({}), or serve --target migration",
            super::key_serializer::CHOICES
        ),
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Decode(d) => write!(f, "{d}"),
            Error::Metadata(m) => write!(f, "_metadata: {m}"),
            // What to pass, without the category `cause` adds for reports.
            Error::NeedsOption {
                location, reason, ..
            } => write!(f, "{location}: {reason}"),
            other => match other.location() {
                Some(l) => write!(f, "{l}: {}", other.cause()),
                None => f.write_str(&other.cause()),
            },
        }
    }
}

impl std::error::Error for Error {}

impl Error {
    /// `_metadata` fails because the file that failed with `self` is one it names.
    pub fn in_metadata(&self) -> Error {
        match self {
            Error::Metadata(_) => self.clone(),
            e => Error::Metadata(MetadataError::File(Box::new(e.clone()))),
        }
    }

    /// A serializer (`context` says which) cannot be carried or measured.
    pub fn serializer<'a>(
        location: &'a FileLocation,
        context: impl Into<String> + Clone + 'a,
    ) -> impl Fn(SerializerError) -> Error + 'a {
        move |error| Error::Serializer {
            location: location.clone(),
            context: context.clone().into(),
            error: Box::new(error),
        }
    }

    /// A native stream header cannot be made.
    pub fn header(location: &FileLocation) -> impl Fn(HeaderError) -> Error + '_ {
        move |error| Error::Header {
            location: location.clone(),
            error,
        }
    }

    /// A file header in a modern format cannot be written.
    pub fn format(location: &FileLocation) -> impl Fn(crate::modern::WriteError) -> Error + '_ {
        move |error| Error::Format {
            location: location.clone(),
            error,
        }
    }

    /// `_metadata` cannot describe the savepoint's shape.
    pub fn metadata_shape(why: impl Into<String>) -> Error {
        Error::Metadata(MetadataError::Shape(why.into()))
    }

    /// Where the problem is; `None` for a subtask that cannot be decoded (its error
    /// names its place) and for `_metadata` as a whole.
    pub fn location(&self) -> Option<&FileLocation> {
        match self {
            Error::External { location, .. }
            | Error::NotMigratable { location, .. }
            | Error::Header { location, .. }
            | Error::Format { location, .. }
            | Error::Serializer { location, .. }
            | Error::Reserialize { location, .. }
            | Error::Rescale { location, .. }
            | Error::NeedsOption { location, .. } => Some(location),
            Error::Decode(_) | Error::Metadata(_) => None,
        }
    }

    /// What went wrong, without where (the location is a field: callers that name the
    /// place themselves, as `verify` and `convert` do, print this).
    pub fn cause(&self) -> String {
        match self {
            Error::External { problem, .. } => format!("external state file {problem}"),
            Error::NotMigratable { reason, .. } => format!("cannot be migrated: {reason}"),
            Error::Format { error, .. } => error.to_string(),
            Error::Header { error, .. } => error.to_string(),
            Error::Serializer { context, error, .. } if context.is_empty() => error.to_string(),
            Error::Serializer { context, error, .. } => format!("{context}: {error}"),
            Error::Reserialize { error, .. } => {
                format!("re-serializing the keyed state failed: {error}")
            }
            Error::Rescale { error, .. } => format!("cannot be re-filed: {error}"),
            Error::Decode(d) => d.to_string(),
            Error::Metadata(m) => m.to_string(),
            Error::NeedsOption { reason, .. } => {
                format!("cannot be served with these options: {reason}")
            }
        }
    }

    /// The `io::ErrorKind` a reader of the file sees (mapped to errno in one place above).
    pub fn io_kind(&self) -> io::ErrorKind {
        match self {
            Error::Metadata(MetadataError::File(e)) => e.io_kind(),
            Error::External {
                problem: ExternalProblem::NotAllowed { .. },
                ..
            } => io::ErrorKind::PermissionDenied,
            _ => io::ErrorKind::InvalidData,
        }
    }

    pub fn to_io(&self) -> io::Error {
        io::Error::new(self.io_kind(), self.to_string())
    }
}
