//! `_metadata` per operator (metadata V3, docs/modern-formats.md §1): each stateful chain
//! entry of a 1.1 vertex becomes an operator. The chain head's operator id is the vertex
//! id; any other stateful entry needs its id from `--uid` or `--operator-id`, because
//! Flink ≥ 1.11 matches state to operators by id, not by chain position.

use super::FileKind;
use super::error::{Error, FileLocation, MetadataError};
use super::metadata::{BuiltMetadata, FileRef, OperatorIds, hex};
use super::native::DEFAULT_OPERATOR_STATE;
use super::subtask::{ConvertedFile, ConvertedSubtask, FileResult};
use crate::modern::metadata::{
    self as meta, KeyedHandle, KeyedKind, Metadata, OperatorHandle, OperatorId, OperatorState,
    StreamHandle, SubtaskState,
};
use crate::source::Source;
use std::collections::BTreeMap;

/// `OperatorStateHandle.Mode.SPLIT_DISTRIBUTE`.
const SPLIT_DISTRIBUTE: u8 = 0;

/// What a per-operator `_metadata` names, per target.
#[derive(Clone, Copy, Debug)]
pub(super) struct Layout {
    pub version: u32,
    pub managed_operator: FileKind,
    pub keyed: FileKind,
    pub keyed_kind: KeyedKind,
}

impl Layout {
    /// Metadata V3 (the first with relative and savepoint key-group handles, read by
    /// Flink 1.11 to 2.3) naming the proxy v5/v6 files.
    pub const FLINK_2_3: Layout = Layout {
        version: 3,
        managed_operator: FileKind::ManagedOperatorStateV5,
        keyed: FileKind::ManagedKeyedStateV6,
        keyed_kind: KeyedKind::Savepoint,
    };
    /// Metadata V2 (Flink 1.3 to 1.10 write it; 1.10 reads any proxy version in it)
    /// naming the flink-1.10 files: max parallelism travels, chain positions do not.
    pub const FLINK_1_10: Layout = Layout {
        version: 2,
        managed_operator: FileKind::ManagedOperatorState,
        keyed: FileKind::ManagedKeyedState,
        keyed_kind: KeyedKind::KeyGroups,
    };
}

/// The vertex being added: its id, parallelism and max parallelism, and its operators
/// by chain index.
struct Task {
    vertex: [u8; 16],
    parallelism: i32,
    max_parallelism: i32,
    ops: BTreeMap<usize, OperatorState>,
}

pub(super) struct ModernBuilder<'p> {
    layout: Layout,
    path_of: &'p dyn Fn(FileRef<'_>) -> String,
    /// `None`: relative handles.
    root: Option<String>,
    operator_ids: &'p OperatorIds,
    /// The current vertex.
    task: Option<Task>,
    operators: Vec<OperatorState>,
    files: BTreeMap<String, i64>,
    /// The first stateful non-head entry without an operator id, as the error to give.
    missing_uid: Option<String>,
}

impl<'p> ModernBuilder<'p> {
    pub fn new(
        layout: Layout,
        path_of: &'p dyn Fn(FileRef<'_>) -> String,
        root: Option<String>,
        operator_ids: &'p OperatorIds,
    ) -> Self {
        ModernBuilder {
            layout,
            missing_uid: None,
            path_of,
            root: root.map(|r| r.trim_end_matches('/').to_string()),
            operator_ids,
            task: None,
            operators: Vec::new(),
            files: BTreeMap::new(),
        }
    }

    fn end_task(&mut self) {
        if let Some(t) = self.task.take() {
            // Head first, as Flink lists a chain's operators.
            self.operators.extend(t.ops.into_values().rev());
        }
    }

    /// A vertex of `parallelism` subtasks whose keyed state has `max_parallelism` key
    /// groups (a 1.1 vertex: as many as subtasks, legacy-formats.md §3.13).
    pub fn begin_task(&mut self, vertex: [u8; 16], parallelism: i32, max_parallelism: i32) {
        self.end_task();
        self.task = Some(Task {
            vertex,
            parallelism,
            max_parallelism,
            ops: BTreeMap::new(),
        });
    }

    /// A file's handle: relative to `_metadata`, or under the root the caller prefixed,
    /// with the file itself.
    fn handle<'f>(
        &mut self,
        f: FileRef<'_>,
        file: &'f FileResult,
    ) -> Result<(StreamHandle, &'f ConvertedFile), Error> {
        let file = file.as_ref().map_err(|e| e.in_metadata())?;
        let path = (self.path_of)(f);
        let size = file.stream.len() as i64;
        self.files.insert(path.clone(), size);
        let h = match &self.root {
            None => StreamHandle::RelativeFile { path, size },
            Some(root) => StreamHandle::File {
                path: format!("{root}/{path}"),
                size,
            },
        };
        Ok((h, file))
    }

    pub fn subtask(&mut self, index: u32, converted: &ConvertedSubtask) -> Result<(), Error> {
        let (vertex, parallelism, max_parallelism) = self
            .task
            .as_ref()
            .map(|t| (t.vertex, t.parallelism, t.max_parallelism))
            .ok_or_else(|| Error::metadata_shape("a subtask before its task"))?;
        let head = converted.chain.len().saturating_sub(1);
        let mut states: BTreeMap<usize, SubtaskState> = BTreeMap::new();
        for entry in converted.chain.iter().flatten() {
            let k = entry.index;
            let at = |kind| FileRef {
                vertex: &vertex,
                subtask: index,
                chain: Some(k),
                kind,
            };
            let mut st = SubtaskState::default();
            let managed = match self.layout.managed_operator {
                FileKind::ManagedOperatorStateV5 => &entry.managed_operator_state_v5,
                _ => &entry.managed_operator_state,
            };
            if let Some(f) = managed {
                let (delegate, file) = self.handle(at(self.layout.managed_operator), f)?;
                st.managed_operator.push(default_state(delegate, file));
            }
            if let Some(f) = entry
                .operator_state
                .as_ref()
                .filter(|_| entry.raw_operator_state())
            {
                let (delegate, file) = self.handle(at(FileKind::OperatorState), f)?;
                st.raw_operator.push(default_state(delegate, file));
            }
            if st != SubtaskState::default() {
                states.insert(k, st);
            }
        }
        let keyed = match self.layout.keyed {
            FileKind::ManagedKeyedStateV6 => &converted.managed_keyed_state_v6,
            _ => &converted.managed_keyed_state,
        };
        if let Some(f) = keyed {
            let at = FileRef {
                vertex: &vertex,
                subtask: index,
                chain: None,
                kind: self.layout.keyed,
            };
            let (delegate, file) = self.handle(at, f)?;
            // One key group per subtask (index i holds group i), unless re-filed.
            let (start, offsets) = match &file.offsets {
                Some(o) => (o.first_key_group, o.offsets.clone()),
                None => (index, vec![file.offset]),
            };
            let start = i32::try_from(start)
                .map_err(|_| Error::metadata_shape(format!("key group {start} too large")))?;
            states.entry(head).or_default().managed_keyed = Some(KeyedHandle {
                kind: self.layout.keyed_kind,
                handle_id: None,
                start,
                offsets: offsets.into_iter().map(|o| o as i64).collect(),
                delegate,
            });
        }
        // A window operator's timers, where the layout's Flink restores them from raw
        // keyed state (operators.md §3.3; Flink >= 1.17 no longer reads that form).
        let timers = converted.raw_keyed_state.as_ref();
        if let Some(f) = timers.filter(|_| self.layout.keyed == FileKind::ManagedKeyedState) {
            let at = FileRef {
                vertex: &vertex,
                subtask: index,
                chain: None,
                kind: FileKind::RawKeyedState,
            };
            let (delegate, file) = self.handle(at, f)?;
            states.entry(head).or_default().raw_keyed = Some(KeyedHandle {
                kind: KeyedKind::KeyGroups,
                handle_id: None,
                start: index as i32,
                offsets: vec![file.offset as i64],
                delegate,
            });
        }
        for (k, st) in states {
            let id = if k == head {
                vertex
            } else if let Some(id) = self.operator_ids.get(&(vertex, k)) {
                *id
            } else {
                self.missing_uid.get_or_insert_with(|| {
                    format!(
                        "vertex {} chain-{k} has state but is not the chain head, so Flink finds it by its operator id: give --uid {}/chain-{k}=UID (the operator's uid) or --operator-id {}/chain-{k}=HEX",
                        hex(&vertex),
                        hex(&vertex),
                        hex(&vertex)
                    )
                });
                continue;
            };
            let Some(task) = self.task.as_mut() else {
                continue;
            };
            let op = task.ops.entry(k).or_insert_with(|| OperatorState {
                id: OperatorId(id),
                name: None,
                uid: None,
                parallelism,
                max_parallelism,
                coordinator: None,
                subtasks: Vec::new(),
            });
            op.subtasks.push((index as i32, st));
        }
        Ok(())
    }

    /// Why this layout cannot name every operator (a stateful non-head entry has no id).
    pub fn missing_uid(&self) -> Option<&str> {
        self.missing_uid.as_deref()
    }

    pub fn finish(mut self, checkpoint_id: i64) -> Result<BuiltMetadata, Error> {
        if let Some(reason) = self.missing_uid.take() {
            return Err(Error::NeedsOption {
                location: FileLocation::metadata(),
                option: "--uid",
                reason,
            });
        }
        self.end_task();
        let mut seen = std::collections::HashSet::new();
        if let Some(dup) = self.operators.iter().find(|o| !seen.insert(o.id)) {
            return Err(Error::metadata_shape(format!(
                "operator id {} is given to two operators",
                dup.id
            )));
        }
        let m = Metadata {
            version: self.layout.version,
            checkpoint_id,
            master_states: 0,
            operators: self.operators,
            trailer_len: 0,
        };
        let bytes = meta::write(&m).map_err(|e| Error::Metadata(MetadataError::Write(e)))?;
        Ok(BuiltMetadata {
            bytes,
            files: self.files,
        })
    }
}

/// An operator handle naming the `_default_` list of a file: one element at its offset,
/// or each element of a merged file.
fn default_state(delegate: StreamHandle, file: &ConvertedFile) -> OperatorHandle {
    let offsets = match &file.offsets {
        Some(o) => o.offsets.iter().map(|&o| o as i64).collect(),
        None => vec![file.offset as i64],
    };
    OperatorHandle {
        states: vec![(
            file.list_state
                .unwrap_or(DEFAULT_OPERATOR_STATE)
                .to_string(),
            SPLIT_DISTRIBUTE,
            offsets,
        )],
        delegate,
    }
}
