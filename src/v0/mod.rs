//! Flink 1.1 ("V0") savepoints: the outer index ([`SavepointIndex`], offsets only) and the
//! typed model of one subtask's blob ([`SubtaskModel`]: chain entries, state handles,
//! keyed-state snapshots), decoded lazily and never copying state bytes.
//!
//! Layout and classes: legacy-formats.md §1 and §2.

pub mod classes;
mod error;
mod handles;
mod index;
mod model;
pub mod operators;
pub mod report;
pub(crate) mod rocksdb;
#[cfg(test)]
mod testjava;
mod uri;

pub use error::{Error, Location, ModelProblem, Result};
pub use handles::{
    BYTE_STREAM_STATE_HANDLE, Bytes, DATA_INPUT_VIEW_HANDLE, FILE_SERIALIZABLE_STATE_HANDLE,
    FILE_STREAM_STATE_HANDLE, FULLY_ASYNC_SNAPSHOT, HeapBackend, HeapSnapshot, KvSnapshot,
    SEMI_ASYNC_SNAPSHOT, SERIALIZED_STATE_HANDLE, StateHandle, StateKind,
};
pub use index::{
    MAGIC, SavepointIndex, SubtaskEntry, TaskEntry, VERSION_V0, VERSION_V1, VertexId,
    format_version,
};
pub use model::{
    ChainEntry, KvState, OperatorSnapshot, STREAM_TASK_STATE, STREAM_TASK_STATE_LIST, SubtaskModel,
};
pub use uri::{ExternalPath, Measure, Unmeasured};
