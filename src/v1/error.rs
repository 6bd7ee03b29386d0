//! One error type for reading and writing V1 savepoints: what went wrong, in which
//! source (or writer output), at which byte offset, and where in the savepoint's structure.

use super::model::{Slot, VertexId};
use std::fmt;

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A V1 read or write failure. `offset` is the first byte of the field at fault (for the
/// writer: the output position where the field would have gone).
#[derive(Debug, thiserror::Error)]
#[error("{source_name}: offset {offset}: {kind} (at {location})")]
pub struct Error {
    pub kind: ErrorKind,
    pub offset: u64,
    /// The input's name, or `"V1 writer"` for output errors.
    pub source_name: String,
    /// Task, subtask record, chain list and entry, e.g.
    /// `task 2 (vertex a4996af6…), subtask record 1 (index 1), managed operator state [0]`.
    pub location: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ErrorKind {
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    #[error("truncated {what}: needs {need} bytes, {have} remain")]
    Truncated {
        what: &'static str,
        need: u64,
        have: u64,
    },
    #[error("not a Flink savepoint: magic {found:#010x}, expected 0x4960672d")]
    BadMagic { found: u32 },
    #[error("Flink 1.1 savepoint (format version 0): use the V0 reader")]
    Version0,
    #[error("Flink ≥1.3 format version {version} not supported (only version 1, Flink 1.2)")]
    NewerVersion { version: i32 },
    #[error("unknown savepoint format version {version}")]
    UnknownVersion { version: i32 },
    #[error("negative {what}: {count}")]
    NegativeCount { what: &'static str, count: i64 },
    #[error(
        "{what} {count} cannot fit: each takes at least {min_each} bytes, only {remaining} remain"
    )]
    CountPastEnd {
        what: &'static str,
        count: i64,
        min_each: u64,
        remaining: u64,
    },
    #[error("negative parallelism {parallelism}")]
    NegativeParallelism { parallelism: i32 },
    #[error("parallelism {parallelism} exceeds max parallelism {max_parallelism}")]
    ParallelismAboveMax {
        parallelism: i32,
        max_parallelism: i32,
    },
    #[error("chain length {chain_length} must be > 0")]
    ChainLength { chain_length: i32 },
    #[error("subtask index {index} outside [0, {parallelism})")]
    SubtaskIndex { index: i32, parallelism: i32 },
    #[error("subtask index {index} appears twice in this task")]
    DuplicateSubtask { index: i32 },
    #[error("unknown stream handle type code {code} (expected 0 null, 1 byte stream, 2 file)")]
    UnknownStreamType { code: u8 },
    #[error("unknown operator state handle type code {code} (expected 0 null, 4 operator state)")]
    UnknownOperatorType { code: i8 },
    #[error("unknown keyed state handle type code {code} (expected 0 null, 3 key groups)")]
    UnknownKeyGroupsType { code: i8 },
    #[error("null delegate stream handle (Flink's handle constructors reject it)")]
    NullDelegate,
    #[error("unknown operator state distribution mode {code} (expected 0 or 1)")]
    UnknownMode { code: i8 },
    #[error("operator state name {name:?} appears twice in one handle")]
    DuplicateStateName { name: String },
    #[error(
        "invalid key-group range: start {start}, {num} key groups (start must be ≥ 0 and the range must end ≤ 2^31-1)"
    )]
    KeyGroupRange { start: i32, num: i32 },
    #[error("file handle size {size} is below -1")]
    FileSize { size: i64 },
    #[error("empty file handle path")]
    EmptyPath,
    #[error("malformed modified UTF-8 string of {len} bytes")]
    BadUtf { len: u16 },
    #[error(
        "non-canonical modified UTF-8 string of {len} bytes (Java reads it, but writing it back would change its bytes)"
    )]
    NonCanonicalUtf { len: u16 },
    #[error("{what} is {len} bytes in modified UTF-8, more than writeUTF's 65535")]
    UtfTooLong { what: &'static str, len: usize },
    #[error("{what} {len} does not fit a Java int")]
    TooLarge { what: &'static str, len: u64 },
    #[error("inline data ended after {got} of {expected} bytes")]
    ShortData { expected: u64, got: u64 },
    #[error("only format version 1 can be written, the model says {version}")]
    WriteVersion { version: u32 },
    #[error("{count} trailing bytes after the savepoint body")]
    TrailingBytes { count: u64 },
}

/// Where a field sits in a V1 savepoint: rendered only when an error is made.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Where {
    /// Task state number in file order, and its vertex once read.
    pub task: Option<(u32, Option<VertexId>)>,
    /// Subtask record number within the task, and its subtask index once read.
    pub subtask: Option<(u32, Option<i32>)>,
    pub part: Part,
    /// Operator state entry within an operator state handle.
    pub state: Option<u32>,
    /// Inside the delegate stream handle of an operator or key-group handle.
    pub delegate: bool,
}

#[derive(Clone, Copy, Debug, Default)]
pub(crate) enum Part {
    #[default]
    Header,
    TaskHeader,
    SubtaskIndex,
    Duration,
    ChainCount(&'static str),
    Handle(Slot),
    End,
}

impl fmt::Display for Where {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some((t, vertex)) = self.task else {
            return f.write_str(match self.part {
                Part::End => "end of file",
                _ => "savepoint header",
            });
        };
        write!(f, "task {t}")?;
        if let Some(v) = vertex {
            write!(f, " (vertex {v})")?;
        }
        let Some((s, index)) = self.subtask else {
            return f.write_str(", task header");
        };
        write!(f, ", subtask record {s}")?;
        if let Some(i) = index {
            write!(f, " (index {i})")?;
        }
        match self.part {
            Part::Header | Part::TaskHeader | Part::End => Ok(()),
            Part::SubtaskIndex => f.write_str(", subtask index"),
            Part::Duration => f.write_str(", duration"),
            Part::ChainCount(list) => write!(f, ", {list} count"),
            Part::Handle(slot) => {
                write!(f, ", {slot}")?;
                if let Some(k) = self.state {
                    write!(f, ", operator state entry {k}")?;
                }
                if self.delegate {
                    f.write_str(", delegate")?;
                }
                Ok(())
            }
        }
    }
}

impl Error {
    pub(crate) fn new(
        kind: ErrorKind,
        offset: u64,
        source_name: impl Into<String>,
        at: &Where,
    ) -> Self {
        Error {
            kind,
            offset,
            source_name: source_name.into(),
            location: at.to_string(),
        }
    }
}
