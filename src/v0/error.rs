//! One error type for the Flink 1.1 layer. Every error says where it sits in the savepoint
//! (task position and vertex, subtask, chain entry, field) and at which byte offset, so a
//! user can find the damage with a hex viewer.

use super::index::VertexId;
use crate::javaser;
use std::fmt;

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Where something sits in a savepoint; every part is optional because errors happen at
/// every level (header, task, subtask entry, chain entry, field inside a chain entry).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Location {
    /// Position of the task state in the file (0-based) and its vertex.
    pub task: Option<(usize, VertexId)>,
    /// Position of the subtask entry inside its task (known before its index is read).
    pub entry: Option<usize>,
    /// The subtask index written in the file.
    pub subtask: Option<u32>,
    /// Chain index (head operator last, legacy-formats.md §2.1).
    pub chain: Option<usize>,
    /// Field path inside the chain entry, e.g. `.operatorState.stream`.
    pub field: String,
}

impl Location {
    pub fn task(position: usize, vertex: VertexId) -> Self {
        Location {
            task: Some((position, vertex)),
            ..Location::default()
        }
    }

    pub fn with_subtask(mut self, subtask: u32) -> Self {
        self.subtask = Some(subtask);
        self
    }

    pub fn with_chain(mut self, chain: usize) -> Self {
        self.chain = Some(chain);
        self
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if let Some((pos, vertex)) = &self.task {
            parts.push(format!("task {pos} (vertex {vertex})"));
        }
        match (self.subtask, self.entry) {
            (Some(s), Some(e)) => parts.push(format!("subtask {s} (entry {e})")),
            (Some(s), None) => parts.push(format!("subtask {s}")),
            (None, Some(e)) => parts.push(format!("subtask entry {e}")),
            (None, None) => {}
        }
        match self.chain {
            Some(c) => parts.push(format!("chain[{c}]{}", self.field)),
            None if !self.field.is_empty() => parts.push(self.field.trim_start_matches('.').into()),
            None => {}
        }
        if parts.is_empty() {
            f.write_str("header")
        } else {
            f.write_str(&parts.join(", "))
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{source_name}: offset {offset}: cannot read {what}: {error}")]
    Io {
        source_name: String,
        offset: u64,
        what: &'static str,
        #[source]
        error: std::io::Error,
    },
    #[error(
        "{source_name}: not a Flink savepoint: magic number {found:#010x} at offset 0, expected 0x4960672d"
    )]
    BadMagic { source_name: String, found: u32 },
    #[error(
        "{source_name}: this is already a Flink 1.2 savepoint (format version 1 at offset 4), not a Flink 1.1 one; it needs no migration"
    )]
    AlreadyV1 { source_name: String },
    #[error(
        "{source_name}: unsupported savepoint format version {version} at offset 4 (Flink 1.1 writes 0, Flink 1.2 writes 1)"
    )]
    UnsupportedVersion { source_name: String, version: u32 },
    /// The outer index (legacy-formats.md §1.2) is inconsistent.
    #[error("{source_name}: offset {offset}: {location}: {problem}")]
    Framing {
        source_name: String,
        offset: u64,
        location: Box<Location>,
        problem: String,
    },
    /// The Java stream of a blob is malformed (the inner error has offset and field path).
    #[error("{}", java_message(.location, .error))]
    Java {
        location: Box<Location>,
        #[source]
        error: Box<javaser::Error>,
    },
    /// The Java objects are well-formed but not what Flink 1.1 writes.
    #[error("{source_name}: offset {offset}: {location}: {problem}")]
    Model {
        source_name: String,
        offset: u64,
        location: Box<Location>,
        problem: ModelProblem,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum ModelProblem {
    #[error(
        "the subtask's state is null (blob length -1); Flink 1.1 never writes this and Flink 1.2 cannot convert it"
    )]
    NullBlob,
    #[error("unknown {role} class {class}")]
    UnknownClass { role: &'static str, class: String },
    #[error("expected {expected}, found {found}")]
    Unexpected {
        expected: &'static str,
        found: String,
    },
    #[error("{field} is null")]
    NullField { field: &'static str },
    #[error("bad URI {uri:?}: {reason}")]
    BadUri { uri: String, reason: String },
}

/// Same shape as the other variants: source, offset, location, then what went wrong.
fn java_message(location: &Location, e: &javaser::Error) -> String {
    let mut s = format!(
        "{}: offset {}: {location}: {}",
        e.source_name, e.offset, e.kind
    );
    if !e.path.is_empty() {
        s.push_str(&format!(" (at {})", e.path));
    }
    s
}

impl Error {
    /// The location inside the savepoint, when the error has one.
    pub fn location(&self) -> Option<&Location> {
        match self {
            Error::Framing { location, .. }
            | Error::Java { location, .. }
            | Error::Model { location, .. } => Some(location),
            _ => None,
        }
    }

    /// The absolute byte offset of the problem in the savepoint file.
    pub fn offset(&self) -> u64 {
        match self {
            Error::Io { offset, .. }
            | Error::Framing { offset, .. }
            | Error::Model { offset, .. } => *offset,
            Error::Java { error, .. } => error.offset,
            Error::BadMagic { .. } => 0,
            Error::AlreadyV1 { .. } | Error::UnsupportedVersion { .. } => 4,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn location_names_every_level() {
        let v = VertexId([0xab; 16]);
        let mut loc = Location::task(2, v).with_subtask(3).with_chain(1);
        loc.field = ".operatorState.stream".into();
        assert_eq!(
            loc.to_string(),
            format!(
                "task 2 (vertex {}), subtask 3, chain[1].operatorState.stream",
                "ab".repeat(16)
            )
        );
        let mut entry = Location::task(0, v);
        entry.entry = Some(4);
        assert!(entry.to_string().ends_with("subtask entry 4"));
        assert_eq!(Location::default().to_string(), "header");
    }
}
