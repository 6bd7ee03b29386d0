//! The summary document of a Flink 1.1 savepoint (`inspect --json`, and `savepoint.json`
//! in the tree). Field names are a contract. A subtask that fails to decode
//! carries its error and does not hide the others.

use super::handles::{Bytes, KvSnapshot, StateHandle};
use super::index::{SavepointIndex, SubtaskEntry, TaskEntry, VertexId};
use super::model::{ChainEntry, SubtaskModel};
use super::uri::Measure;
use serde::Serialize;

#[derive(Clone, Debug, Serialize)]
pub struct SavepointReport {
    /// Always "flink-1.1" here.
    pub format: &'static str,
    /// The file's format version (0).
    pub version: u32,
    pub source: String,
    pub file_size: u64,
    pub checkpoint_id: i64,
    /// True when blobs were not decoded (`--shallow`).
    pub shallow: bool,
    /// Number of subtasks whose blob could not be decoded.
    pub errors: usize,
    pub tasks: Vec<TaskReport>,
}

#[derive(Clone, Debug, Serialize)]
pub struct TaskReport {
    /// Position in the file (0-based).
    pub position: usize,
    pub offset: u64,
    pub vertex: VertexId,
    pub parallelism: u32,
    /// Chain length of the first decoded subtask (Flink 1.2 takes the first subtask's);
    /// null when shallow or when no subtask decoded.
    pub chain_length: Option<usize>,
    pub subtasks: Vec<SubtaskReport>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct SubtaskReport {
    pub index: u32,
    /// Where the subtask entry starts in the file.
    pub offset: u64,
    /// Where the blob starts; null for a null (‑1) blob.
    pub blob_offset: Option<u64>,
    pub blob_length: Option<u64>,
    /// The stateSize recorded in the file.
    pub state_size: i64,
    pub duration: i64,
    /// Sum of the decoded handles' sizes (legacy-formats.md §2.6); equals `state_size` for a
    /// consistent file whose external files are all present.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub handle_size_sum: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chain_length: Option<usize>,
    /// Every chain entry, null ones included (`present: false`); absent when shallow or
    /// on error.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chain: Option<Vec<ChainReport>>,
    pub keyed_state_size: Option<u64>,
    /// Whether Flink 1.2 could migrate this subtask; null when not decoded.
    pub migratable: Option<bool>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct ChainReport {
    pub index: usize,
    /// False for a null chain entry (an operator without state).
    pub present: bool,
    pub function_state: Option<HandleReport>,
    pub operator_state: Option<HandleReport>,
    pub kv_states: Vec<KvReport>,
    /// The built-in operator the state says this is, where it is one whose state the
    /// generic native conversion cannot carry (`v0::operators`).
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "operator_name"
    )]
    pub operator: Option<super::operators::Operator>,
}

fn operator_name<S: serde::Serializer>(
    op: &Option<super::operators::Operator>,
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_str(op.map_or("", |o| o.name()))
}

#[derive(Clone, Debug, Serialize)]
pub struct HandleReport {
    pub class: String,
    pub size: u64,
    /// External file (Flink's `Path.toString()` form).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Start of the bytes in the savepoint file, when they are inline.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    /// The wrapped handle of a `DataInputViewHandle`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inner: Option<Box<HandleReport>>,
}

#[derive(Clone, Debug, Serialize)]
pub struct KvReport {
    pub name: String,
    pub class: String,
    pub size: u64,
    /// "memory", "filesystem" or "rocksdb".
    pub backend: &'static str,
    /// value / list / reducing / folding (heap backends).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<super::handles::StateKind>,
    /// The state descriptor's name (heap backends).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub descriptor_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    /// RocksDB snapshots: the checkpoint they were taken for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checkpoint_id: Option<i64>,
    /// RocksDB fully-async: the handle holding the database stream.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state_handle: Option<HandleReport>,
    pub migratable: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

impl SavepointReport {
    /// Builds the document; unless `shallow`, decodes every subtask blob. External sizes
    /// are what `measure` (the caller's path policy) may see.
    pub fn build(index: &SavepointIndex, shallow: bool, measure: &dyn Measure) -> SavepointReport {
        let tasks: Vec<TaskReport> = index
            .tasks()
            .iter()
            .map(|t| task_report(index, t, shallow, measure))
            .collect();
        let errors = tasks
            .iter()
            .flat_map(|t| &t.subtasks)
            .filter(|s| s.error.is_some())
            .count();
        SavepointReport {
            format: "flink-1.1",
            version: super::index::VERSION_V0,
            source: index.source().name(),
            file_size: index.source().len(),
            checkpoint_id: index.checkpoint_id(),
            shallow,
            errors,
            tasks,
        }
    }
}

fn task_report(
    index: &SavepointIndex,
    task: &TaskEntry,
    shallow: bool,
    measure: &dyn Measure,
) -> TaskReport {
    let subtasks: Vec<SubtaskReport> = task
        .subtasks
        .iter()
        .map(|s| subtask_report(index, task, s, shallow, measure))
        .collect();
    let lengths: Vec<usize> = subtasks.iter().filter_map(|s| s.chain_length).collect();
    let mut problems = Vec::new();
    if lengths.windows(2).any(|w| w[0] != w[1]) {
        problems.push(format!(
            "subtasks disagree on the chain length ({lengths:?}); Flink 1.2 uses the first subtask's"
        ));
    }
    TaskReport {
        position: task.position,
        offset: task.offset,
        vertex: task.vertex,
        parallelism: task.parallelism,
        chain_length: lengths.first().copied(),
        subtasks,
        problems,
    }
}

fn subtask_report(
    index: &SavepointIndex,
    task: &TaskEntry,
    s: &SubtaskEntry,
    shallow: bool,
    measure: &dyn Measure,
) -> SubtaskReport {
    let mut r = SubtaskReport {
        index: s.index,
        offset: s.offset,
        blob_offset: s.blob.map(|b| b.start),
        blob_length: s.blob.map(|b| b.len),
        state_size: s.state_size,
        duration: s.duration,
        handle_size_sum: None,
        chain_length: None,
        chain: None,
        keyed_state_size: None,
        migratable: None,
        problems: Vec::new(),
        error: None,
    };
    if shallow {
        return r;
    }
    match SubtaskModel::decode(index, task, s) {
        Ok(model) => {
            r.handle_size_sum = Some(model.state_size(measure));
            r.chain_length = Some(model.chain_length());
            r.keyed_state_size = model.keyed_state_size(measure);
            r.problems = model.migration_problems();
            r.migratable = Some(r.problems.is_empty());
            r.chain = Some(
                model
                    .chain
                    .iter()
                    .enumerate()
                    .map(|(i, e)| chain_report(i, e.as_ref(), &model, measure))
                    .collect(),
            );
        }
        Err(e) => r.error = Some(e.to_string()),
    }
    r
}

fn chain_report(
    index: usize,
    entry: Option<&ChainEntry>,
    model: &SubtaskModel,
    measure: &dyn Measure,
) -> ChainReport {
    let Some(e) = entry else {
        return ChainReport {
            index,
            present: false,
            function_state: None,
            operator_state: None,
            kv_states: Vec::new(),
            operator: None,
        };
    };
    ChainReport {
        index,
        present: true,
        operator: super::operators::detect_inline(model, e),
        function_state: e.function_state.as_ref().map(|h| handle_report(h, measure)),
        operator_state: e.operator_state.as_ref().map(|h| handle_report(h, measure)),
        kv_states: e
            .kv_states
            .iter()
            .map(|k| {
                let (path, offset) = locate(k.snapshot.bytes().as_ref());
                let (kind, descriptor_name, checkpoint_id, state_handle) = match &k.snapshot {
                    KvSnapshot::Heap(h) => (Some(h.kind), Some(h.state_name.clone()), None, None),
                    KvSnapshot::RocksDbFullyAsync {
                        checkpoint_id,
                        state_handle,
                        ..
                    } => (
                        None,
                        None,
                        Some(*checkpoint_id),
                        Some(handle_report(state_handle, measure)),
                    ),
                    KvSnapshot::RocksDbSemiAsync { checkpoint_id, .. } => {
                        (None, None, Some(*checkpoint_id), None)
                    }
                };
                let path = path.or_else(|| match &k.snapshot {
                    KvSnapshot::RocksDbSemiAsync { backup_uri, .. } => {
                        backup_uri.as_ref().map(|p| p.display.clone())
                    }
                    _ => None,
                });
                let problem = k.snapshot.migration_problem();
                KvReport {
                    name: k.name.clone(),
                    class: k.snapshot.class_name().into(),
                    size: k.snapshot.state_size(measure),
                    backend: k.snapshot.backend_name(),
                    kind,
                    descriptor_name,
                    path,
                    offset,
                    checkpoint_id,
                    state_handle,
                    migratable: problem.is_none(),
                    problem,
                }
            })
            .collect(),
    }
}

fn locate(bytes: Option<&Bytes>) -> (Option<String>, Option<u64>) {
    match bytes {
        Some(Bytes::Span(s)) => (None, Some(s.start)),
        Some(Bytes::External { path, .. }) => (Some(path.display.clone()), None),
        None => (None, None),
    }
}

fn handle_report(h: &StateHandle, measure: &dyn Measure) -> HandleReport {
    let (path, offset) = match h {
        StateHandle::DataInputView { .. } => (None, None),
        _ => locate(Some(&h.bytes())),
    };
    HandleReport {
        class: h.class_name().into(),
        size: h.state_size(measure),
        path,
        offset,
        inner: match h {
            StateHandle::DataInputView { inner, .. } => {
                Some(Box::new(handle_report(inner, measure)))
            }
            _ => None,
        },
    }
}
