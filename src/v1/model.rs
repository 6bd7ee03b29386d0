//! The Flink 1.2 savepoint as plain data, in file order (legacy-formats.md §4).
//!
//! Everything the file holds is kept, including fields Flink ignores (the subtask
//! `duration`) and orders Flink does not preserve (operator state names, which Flink
//! keeps in a `HashMap`), so that reading then writing gives back the same bytes.
//!
//! JSON (`serde::Serialize`): byte-stream data is rendered as `len` plus `head_hex`, the
//! hex of its first [`JSON_HEAD_BYTES`] bytes, so that a report stays small and still
//! shows the leading signal or version bytes. Vertex ids are 32 lowercase hex digits in
//! file byte order.

use serde::{Serialize, Serializer, ser::SerializeStruct};
use std::collections::BTreeMap;
use std::fmt;

/// How many leading bytes of inline data the JSON rendering shows.
pub const JSON_HEAD_BYTES: usize = 16;

/// A whole V1 savepoint file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Savepoint {
    /// Format version from the header; always 1 for this layer.
    pub version: u32,
    pub checkpoint_id: i64,
    pub tasks: Vec<TaskState>,
}

pub use crate::ids::VertexId;

/// The state of one job vertex (a chain of operators).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TaskState {
    pub vertex: VertexId,
    pub parallelism: i32,
    pub max_parallelism: i32,
    pub chain_length: i32,
    /// `(subtask index, state)` in file order.
    #[serde(serialize_with = "subtasks_json")]
    pub subtasks: Vec<(i32, SubtaskState)>,
}

/// One parallel instance. Chain lists are indexed by chain position (head last, as in
/// Flink 1.1); their lengths are whatever the file says.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SubtaskState {
    /// Ignored by Flink's reader; Flink's writer puts -1.
    pub duration: i64,
    /// Flink ≤ 1.1 `Checkpointed` state, one stream per chain position.
    pub legacy: Vec<Option<StreamHandle>>,
    pub managed_operator: Vec<Option<OperatorHandle>>,
    pub raw_operator: Vec<Option<OperatorHandle>>,
    pub managed_keyed: Option<KeyGroupsHandle>,
    pub raw_keyed: Option<KeyGroupsHandle>,
}

/// Where state bytes live: inline in the savepoint, or in a file.
#[derive(Clone, PartialEq, Eq)]
pub enum StreamHandle {
    /// Type 1: a named in-memory byte array (`ByteStreamStateHandle`).
    ByteStream { name: String, data: Vec<u8> },
    /// Type 2: `FileStateHandle`; `path` is Flink's `Path.toString()`.
    File { size: i64, path: String },
}

impl StreamHandle {
    /// The number of bytes the handle declares (`getStateSize()`).
    pub fn size(&self) -> i64 {
        match self {
            StreamHandle::ByteStream { data, .. } => data.len() as i64,
            StreamHandle::File { size, .. } => *size,
        }
    }
}

impl fmt::Debug for StreamHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StreamHandle::ByteStream { name, data } => f
                .debug_struct("ByteStream")
                .field("name", name)
                .field("len", &data.len())
                .field(
                    "head",
                    &crate::ids::hex(&data[..data.len().min(JSON_HEAD_BYTES)]),
                )
                .finish(),
            StreamHandle::File { size, path } => f
                .debug_struct("File")
                .field("size", size)
                .field("path", path)
                .finish(),
        }
    }
}

impl Serialize for StreamHandle {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            StreamHandle::ByteStream { name, data } => {
                let mut st = s.serialize_struct("StreamHandle", 4)?;
                st.serialize_field("type", "byte_stream")?;
                st.serialize_field("name", name)?;
                st.serialize_field("len", &data.len())?;
                st.serialize_field(
                    "head_hex",
                    &crate::ids::hex(&data[..data.len().min(JSON_HEAD_BYTES)]),
                )?;
                st.end()
            }
            StreamHandle::File { size, path } => {
                let mut st = s.serialize_struct("StreamHandle", 3)?;
                st.serialize_field("type", "file")?;
                st.serialize_field("size", size)?;
                st.serialize_field("path", path)?;
                st.end()
            }
        }
    }
}

/// Type 4: named operator states (`OperatorStreamStateHandle`), all in one stream.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OperatorHandle {
    /// In file order (Flink writes its map's iteration order; we keep what we read).
    pub states: Vec<OperatorStateEntry>,
    pub delegate: StreamHandle,
}

/// One named operator state: where its partitions start in the delegate stream.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OperatorStateEntry {
    pub name: String,
    pub mode: Mode,
    pub offsets: Vec<i64>,
}

/// How Flink redistributes an operator state's partitions on rescaling.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum Mode {
    #[serde(rename = "SPLIT_DISTRIBUTE")]
    SplitDistribute,
    #[serde(rename = "BROADCAST")]
    Broadcast,
}

impl Mode {
    pub fn code(self) -> i8 {
        match self {
            Mode::SplitDistribute => 0,
            Mode::Broadcast => 1,
        }
    }
    pub fn from_code(code: i8) -> Option<Mode> {
        match code {
            0 => Some(Mode::SplitDistribute),
            1 => Some(Mode::Broadcast),
            _ => None,
        }
    }
}

/// Type 3: keyed state of the key groups `start .. start + offsets.len()`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct KeyGroupsHandle {
    pub start: i32,
    /// `offsets[j]`: where key group `start + j` begins in the delegate stream.
    pub offsets: Vec<i64>,
    pub delegate: StreamHandle,
}

/// Wire type codes (legacy-formats.md §4.4).
pub mod code {
    pub const NULL: u8 = 0;
    pub const BYTE_STREAM: u8 = 1;
    pub const FILE: u8 = 2;
    pub const KEY_GROUPS: u8 = 3;
    pub const OPERATOR_STATE: u8 = 4;
}

/// A handle position inside one subtask state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Slot {
    Legacy(usize),
    ManagedOperator(usize),
    RawOperator(usize),
    ManagedKeyed,
    RawKeyed,
}

impl fmt::Display for Slot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Slot::Legacy(k) => write!(f, "legacy operator state [{k}]"),
            Slot::ManagedOperator(k) => write!(f, "managed operator state [{k}]"),
            Slot::RawOperator(k) => write!(f, "raw operator state [{k}]"),
            Slot::ManagedKeyed => f.write_str("managed keyed state"),
            Slot::RawKeyed => f.write_str("raw keyed state"),
        }
    }
}

/// The three handle families of §4.4; each has its own type-code space.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum HandleFamily {
    Stream,
    Operator,
    KeyGroups,
}

/// One handle position (possibly null) as the file encodes it.
#[derive(Clone, Copy, Debug)]
pub enum HandleRef<'a> {
    Stream(Option<&'a StreamHandle>),
    Operator(Option<&'a OperatorHandle>),
    KeyGroups(Option<&'a KeyGroupsHandle>),
}

impl HandleRef<'_> {
    pub fn family(&self) -> HandleFamily {
        match self {
            HandleRef::Stream(_) => HandleFamily::Stream,
            HandleRef::Operator(_) => HandleFamily::Operator,
            HandleRef::KeyGroups(_) => HandleFamily::KeyGroups,
        }
    }
    /// The type byte written for this position.
    pub fn type_code(&self) -> u8 {
        match self {
            HandleRef::Stream(None) | HandleRef::Operator(None) | HandleRef::KeyGroups(None) => {
                code::NULL
            }
            HandleRef::Stream(Some(StreamHandle::ByteStream { .. })) => code::BYTE_STREAM,
            HandleRef::Stream(Some(StreamHandle::File { .. })) => code::FILE,
            HandleRef::Operator(Some(_)) => code::OPERATOR_STATE,
            HandleRef::KeyGroups(Some(_)) => code::KEY_GROUPS,
        }
    }
}

/// Where a handle sits: task (file order), subtask index, slot, and whether it is the
/// delegate stream of the operator or key-group handle in that slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HandleLocation {
    pub task: usize,
    pub vertex: VertexId,
    pub subtask: i32,
    pub slot: Slot,
    pub delegate: bool,
}

impl fmt::Display for HandleLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "task {} (vertex {}) subtask {} {}",
            self.task, self.vertex, self.subtask, self.slot
        )?;
        if self.delegate {
            f.write_str(" delegate")?;
        }
        Ok(())
    }
}

impl Savepoint {
    /// Every handle position in file order, nulls included; a non-null operator or
    /// key-group handle is followed by its delegate stream handle. This is the
    /// counting convention of legacy-formats.md §4.5 (one entry per type byte in the file).
    pub fn handles(&self) -> Vec<(HandleLocation, HandleRef<'_>)> {
        let mut out = Vec::new();
        for (t, task) in self.tasks.iter().enumerate() {
            for (index, st) in &task.subtasks {
                let at = |slot, delegate| HandleLocation {
                    task: t,
                    vertex: task.vertex,
                    subtask: *index,
                    slot,
                    delegate,
                };
                for (k, h) in st.legacy.iter().enumerate() {
                    out.push((at(Slot::Legacy(k), false), HandleRef::Stream(h.as_ref())));
                }
                let operator_lists = [
                    (
                        &st.managed_operator,
                        Slot::ManagedOperator as fn(usize) -> Slot,
                    ),
                    (&st.raw_operator, Slot::RawOperator),
                ];
                for (list, slot) in operator_lists {
                    for (k, h) in list.iter().enumerate() {
                        out.push((at(slot(k), false), HandleRef::Operator(h.as_ref())));
                        if let Some(h) = h {
                            out.push((at(slot(k), true), HandleRef::Stream(Some(&h.delegate))));
                        }
                    }
                }
                for (h, slot) in [
                    (&st.managed_keyed, Slot::ManagedKeyed),
                    (&st.raw_keyed, Slot::RawKeyed),
                ] {
                    out.push((at(slot, false), HandleRef::KeyGroups(h.as_ref())));
                    if let Some(h) = h {
                        out.push((at(slot, true), HandleRef::Stream(Some(&h.delegate))));
                    }
                }
            }
        }
        out
    }

    /// How many times each (family, type code) occurs over [`Savepoint::handles`].
    pub fn type_counts(&self) -> BTreeMap<(HandleFamily, u8), usize> {
        let mut counts = BTreeMap::new();
        for (_, h) in self.handles() {
            *counts.entry((h.family(), h.type_code())).or_insert(0) += 1;
        }
        counts
    }
}

/// Subtasks as `[{"index": i, ...state}]` rather than `[[i, {...}]]`.
fn subtasks_json<S: Serializer>(subtasks: &[(i32, SubtaskState)], s: S) -> Result<S::Ok, S::Error> {
    #[derive(Serialize)]
    struct Entry<'a> {
        index: i32,
        #[serde(flatten)]
        state: &'a SubtaskState,
    }
    s.collect_seq(subtasks.iter().map(|(index, state)| Entry {
        index: *index,
        state,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Savepoint {
        let delegate = StreamHandle::ByteStream {
            name: "n".into(),
            data: (0u8..40).collect(),
        };
        Savepoint {
            version: 1,
            checkpoint_id: 3,
            tasks: vec![TaskState {
                vertex: VertexId([0xab; 16]),
                parallelism: 2,
                max_parallelism: 2,
                chain_length: 1,
                subtasks: vec![(
                    1,
                    SubtaskState {
                        duration: -1,
                        legacy: vec![None],
                        managed_operator: vec![Some(OperatorHandle {
                            states: vec![OperatorStateEntry {
                                name: "s".into(),
                                mode: Mode::Broadcast,
                                offsets: vec![0],
                            }],
                            delegate: StreamHandle::File {
                                size: 9,
                                path: "file:/x".into(),
                            },
                        })],
                        raw_operator: vec![None],
                        managed_keyed: Some(KeyGroupsHandle {
                            start: 1,
                            offsets: vec![0],
                            delegate,
                        }),
                        raw_keyed: None,
                    },
                )],
            }],
        }
    }

    #[test]
    fn handles_walk_counts_every_type_byte_including_delegates() {
        let sp = sample();
        let hs = sp.handles();
        let codes: Vec<(HandleFamily, u8, String)> = hs
            .iter()
            .map(|(l, h)| (h.family(), h.type_code(), l.to_string()))
            .collect();
        let v = "abababababababababababababababab";
        assert_eq!(
            codes,
            vec![
                (
                    HandleFamily::Stream,
                    0,
                    format!("task 0 (vertex {v}) subtask 1 legacy operator state [0]")
                ),
                (
                    HandleFamily::Operator,
                    4,
                    format!("task 0 (vertex {v}) subtask 1 managed operator state [0]")
                ),
                (
                    HandleFamily::Stream,
                    2,
                    format!("task 0 (vertex {v}) subtask 1 managed operator state [0] delegate")
                ),
                (
                    HandleFamily::Operator,
                    0,
                    format!("task 0 (vertex {v}) subtask 1 raw operator state [0]")
                ),
                (
                    HandleFamily::KeyGroups,
                    3,
                    format!("task 0 (vertex {v}) subtask 1 managed keyed state")
                ),
                (
                    HandleFamily::Stream,
                    1,
                    format!("task 0 (vertex {v}) subtask 1 managed keyed state delegate")
                ),
                (
                    HandleFamily::KeyGroups,
                    0,
                    format!("task 0 (vertex {v}) subtask 1 raw keyed state")
                ),
            ]
        );
        assert_eq!(sp.type_counts().get(&(HandleFamily::Stream, 0)), Some(&1));
    }

    #[test]
    fn json_shows_hex_vertex_index_and_data_head() {
        let json = serde_json::to_value(sample()).unwrap();
        let task = &json["tasks"][0];
        assert_eq!(task["vertex"], "abababababababababababababababab");
        let sub = &task["subtasks"][0];
        assert_eq!(sub["index"], 1);
        assert_eq!(sub["duration"], -1);
        assert_eq!(sub["legacy"][0], serde_json::Value::Null);
        let kd = &sub["managed_keyed"]["delegate"];
        assert_eq!(kd["type"], "byte_stream");
        assert_eq!(kd["len"], 40);
        assert_eq!(kd["head_hex"], "000102030405060708090a0b0c0d0e0f");
        let op = &sub["managed_operator"][0];
        assert_eq!(op["states"][0]["mode"], "BROADCAST");
        assert_eq!(op["delegate"]["path"], "file:/x");
    }

    #[test]
    fn vertex_parts_follow_file_byte_order() {
        let mut b = [0u8; 16];
        b[7] = 1;
        b[8] = 0xff;
        let v = VertexId(b);
        assert_eq!(v.lower_part(), 1);
        assert_eq!(
            v.upper_part(),
            i64::from_be_bytes([0xff, 0, 0, 0, 0, 0, 0, 0])
        );
        assert_eq!(v.to_string(), "0000000000000001ff00000000000000");
    }
}
