//! Why a converted file cannot be produced. Cloneable, because a failed file keeps
//! failing with the same cause every time it is opened.

use super::external::ExternalProblem;
use crate::{javaser, v0};
use std::io;
use std::sync::Arc;

#[derive(Clone, Debug, thiserror::Error)]
pub enum Error {
    /// The subtask blob could not be decoded.
    #[error("{0}")]
    Decode(Arc<v0::Error>),
    #[error("{location}: external state file {problem}")]
    External {
        location: String,
        problem: ExternalProblem,
    },
    /// Input Flink 1.2.0 itself refuses to convert (legacy-formats.md §3.9).
    #[error("{location}: cannot be migrated: {reason}")]
    NotMigratable { location: String, reason: String },
    #[error("{location}: re-serializing the keyed state failed: {error}")]
    Reserialize {
        location: String,
        error: Arc<javaser::Error>,
    },
    /// `_metadata` cannot be built because a file it names cannot.
    #[error("_metadata: {0}")]
    Metadata(String),
    /// Nothing is wrong with the input, but the options given cannot serve it: the user
    /// must add `option` (a mount refuses to start rather than serve failing files).
    #[error("{location}: {reason}")]
    NeedsOption {
        location: String,
        option: &'static str,
        reason: String,
    },
}

/// Why a RocksDB snapshot's keyed stream needs `--key-serializer`.
pub fn needs_key_serializer(location: &str) -> Error {
    Error::NeedsOption {
        location: location.to_string(),
        option: "--key-serializer",
        reason: format!(
            "Flink 1.1's RocksDB backend does not record the key serializer; name it with --key-serializer ({}), or serve --target migration",
            super::key_serializer::CHOICES
        ),
    }
}

impl Error {
    /// The `io::ErrorKind` a reader of the file sees (mapped to errno in one place above).
    pub fn io_kind(&self) -> io::ErrorKind {
        match self {
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
