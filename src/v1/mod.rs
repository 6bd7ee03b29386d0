//! Flink 1.2 ("V1") savepoint metadata: the format Flink 1.2.0 writes as
//! `savepoint-XXXX` and the 1.3 development line as `_metadata` (legacy-formats.md §4).
//!
//! [`read()`] parses a whole file into a [`Savepoint`] (hostile input expected, every
//! error located by offset and structure); [`write()`] gives back the exact bytes, and
//! [`Encoder`] writes the same format piecewise for inline state too big to hold.

mod cursor;
mod error;
mod model;
mod reader;
mod writer;

pub use error::{Error, ErrorKind, Result};
pub use model::*;
pub use reader::read;
pub use writer::{Encoder, WRITER_NAME, write};

/// First four bytes of every Flink savepoint, V0 and V1 alike.
pub const MAGIC: u32 = 0x4960_672D;
/// The only format version this layer reads and writes.
pub const VERSION: i32 = 1;
/// Smallest task state: vertex id 16, parallelism, max parallelism, chain length and
/// subtask count 4 each (legacy-formats.md §5.5).
pub const MIN_TASK_BYTES: u64 = 32;
/// Smallest subtask record: index 4, duration 8, three chain counts 4 each, two null
/// keyed handles 1 each.
pub const MIN_SUBTASK_BYTES: u64 = 26;
