//! One error type for the Java serialization layer: what went wrong, in which source,
//! at which byte offset, and along which path of fields.

use std::fmt;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug)]
pub struct Error {
    pub kind: ErrorKind,
    /// Absolute offset in the source.
    pub offset: u64,
    /// The source's name (usually a file path).
    pub source_name: String,
    /// Fields and indices that led to the failure, e.g. `StreamTaskStateList.states[1].kvStates`.
    pub path: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ErrorKind {
    #[error("truncated {what}: needs {need} bytes, {have} remain")]
    Truncated {
        what: &'static str,
        need: u64,
        have: u64,
    },
    #[error("not a Java serialization stream: header {found:#010x}, expected 0xaced0005")]
    BadHeader { found: u32 },
    #[error("expected {expected}, found type code {found:#04x}")]
    UnexpectedTypeCode { expected: &'static str, found: u8 },
    #[error("negative {what} length {len}")]
    NegativeLength { what: &'static str, len: i64 },
    #[error("reference to handle {handle:#x}, but only {defined} handles are defined")]
    UndefinedHandle { handle: u32, defined: u32 },
    #[error("reference to handle {handle:#x} is a {found}, expected a {expected}")]
    WrongHandleKind {
        handle: u32,
        expected: &'static str,
        found: &'static str,
    },
    #[error("class descriptor {class} is used before it is complete (a cycle)")]
    IncompleteClassDesc { class: String },
    #[error("class descriptor {class}: superclass chain loops back on itself")]
    ClassCycle { class: String },
    #[error("class descriptor {class}: inconsistent flags {flags:#04x}")]
    BadFlags { class: String, flags: u8 },
    #[error("class descriptor {class}: field {field} appears twice")]
    DuplicateField { class: String, field: String },
    #[error("class descriptor {class}: field {field} has invalid type code {typecode:#04x}")]
    BadFieldType {
        class: String,
        field: String,
        typecode: u8,
    },
    #[error(
        "class {class} is externalizable in protocol version 1 (no block data); its data cannot be read without the class"
    )]
    ExternalizableProtocol1 { class: String },
    #[error("array class name {class:?} is not an array type")]
    BadArrayClass { class: String },
    #[error("the stream holds a serialized exception (TC_EXCEPTION): the writer failed mid-stream")]
    Exception,
    #[error("nesting deeper than {limit} levels")]
    TooDeep { limit: usize },
    #[error("more than {limit} {what}")]
    TooMany { what: &'static str, limit: usize },
    #[error("{0}")]
    Io(std::io::Error),
    #[error("{0}")]
    Access(String),
    #[error("cannot re-emit: {0}")]
    Write(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: offset {}: {}",
            self.source_name, self.offset, self.kind
        )?;
        if !self.path.is_empty() {
            write!(f, " (at {})", self.path)?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            ErrorKind::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl Error {
    pub fn new(kind: ErrorKind, offset: u64, source_name: impl Into<String>) -> Self {
        Error {
            kind,
            offset,
            source_name: source_name.into(),
            path: String::new(),
        }
    }
}
