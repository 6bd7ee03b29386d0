//! The state handles and keyed-state snapshots Flink 1.1 writes into a chain entry
//! (legacy-formats.md §2.2–2.6), decoded from the Java graph into typed values that know where
//! their bytes are: a span of the savepoint file or an external file, never a copy.

use super::error::{Error, Location, ModelProblem, Result};
use super::uri::{ExternalPath, Measure};
use crate::javaser::{self, Graph, NodeId, ObjectView, Value};
use crate::source::Span;

pub const SERIALIZED_STATE_HANDLE: &str = crate::classnames::SERIALIZED_STATE_HANDLE;
pub const BYTE_STREAM_STATE_HANDLE: &str = crate::classnames::BYTE_STREAM_STATE_HANDLE;
pub const DATA_INPUT_VIEW_HANDLE: &str =
    crate::classnames::ABSTRACT_STATE_BACKEND_DATA_INPUT_VIEW_HANDLE;
pub const FILE_STREAM_STATE_HANDLE: &str = crate::classnames::FILE_STREAM_STATE_HANDLE;
pub const FILE_SERIALIZABLE_STATE_HANDLE: &str = crate::classnames::FILE_SERIALIZABLE_STATE_HANDLE;
pub const FULLY_ASYNC_SNAPSHOT: &str =
    crate::classnames::ROCKSDB_STATE_BACKEND_FINAL_FULLY_ASYNC_SNAPSHOT;
pub const SEMI_ASYNC_SNAPSHOT: &str =
    crate::classnames::ROCKSDB_STATE_BACKEND_FINAL_SEMI_ASYNC_SNAPSHOT;
const CORE_FS_PATH: &str = crate::classnames::PATH;
const JAVA_NET_URI: &str = "java.net.URI";

/// Where a handle's bytes are. Never a copy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Bytes {
    /// A range of the savepoint file.
    Span(Span),
    /// A file outside the savepoint; Flink 1.1 records no size for it.
    External {
        path: ExternalPath,
        expected_size: Option<u64>,
    },
}

/// A `StateHandle` as it appears in `functionState`, `operatorState` and inside
/// RocksDB fully-async snapshots.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StateHandle {
    /// `SerializedStateHandle`: `serializedData` is a complete Java stream of the value.
    Serialized { node: NodeId, data: Span },
    /// `ByteStreamStateHandle`: opaque bytes the operator wrote.
    ByteStream { node: NodeId, data: Span },
    /// `AbstractStateBackend$DataInputViewHandle`: only a wrapper of a stream handle.
    DataInputView {
        node: NodeId,
        inner: Box<StateHandle>,
    },
    /// `FileStreamStateHandle`: opaque bytes in a file.
    FileStream { node: NodeId, path: ExternalPath },
    /// `FileSerializableStateHandle`: a Java stream of the value, in a file.
    FileSerializable { node: NodeId, path: ExternalPath },
}

impl StateHandle {
    pub fn node(&self) -> NodeId {
        match self {
            StateHandle::Serialized { node, .. }
            | StateHandle::ByteStream { node, .. }
            | StateHandle::DataInputView { node, .. }
            | StateHandle::FileStream { node, .. }
            | StateHandle::FileSerializable { node, .. } => *node,
        }
    }

    /// The Java class name, as written in the stream.
    pub fn class_name(&self) -> &'static str {
        match self {
            StateHandle::Serialized { .. } => SERIALIZED_STATE_HANDLE,
            StateHandle::ByteStream { .. } => BYTE_STREAM_STATE_HANDLE,
            StateHandle::DataInputView { .. } => DATA_INPUT_VIEW_HANDLE,
            StateHandle::FileStream { .. } => FILE_STREAM_STATE_HANDLE,
            StateHandle::FileSerializable { .. } => FILE_SERIALIZABLE_STATE_HANDLE,
        }
    }

    /// Whether this is a `StreamStateHandle` (what a `DataInputViewHandle` may wrap).
    pub fn is_stream_handle(&self) -> bool {
        matches!(
            self,
            StateHandle::ByteStream { .. } | StateHandle::FileStream { .. }
        )
    }

    /// The state's bytes (a wrapper's are its inner handle's).
    pub fn bytes(&self) -> Bytes {
        match self {
            StateHandle::Serialized { data, .. } | StateHandle::ByteStream { data, .. } => {
                Bytes::Span(*data)
            }
            StateHandle::DataInputView { inner, .. } => inner.bytes(),
            StateHandle::FileStream { path, .. } | StateHandle::FileSerializable { path, .. } => {
                Bytes::External {
                    path: path.clone(),
                    expected_size: None,
                }
            }
        }
    }

    /// The size Flink 1.1 reports (legacy-formats.md §2.6): array lengths, or a file's length
    /// as `measure` sees it (0 when it cannot be had).
    pub fn state_size(&self, measure: &dyn Measure) -> u64 {
        match self {
            StateHandle::Serialized { data, .. } | StateHandle::ByteStream { data, .. } => data.len,
            StateHandle::DataInputView { inner, .. } => inner.state_size(measure),
            StateHandle::FileStream { path, .. } | StateHandle::FileSerializable { path, .. } => {
                measure.file_size(path).unwrap_or(0)
            }
        }
    }
}

/// Which heap backend wrote a keyed-state snapshot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum HeapBackend {
    Memory,
    Filesystem,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StateKind {
    Value,
    List,
    Reducing,
    Folding,
}

/// `Mem*State$Snapshot` / `Fs*State$Snapshot`: one named keyed state, its data laid out as
/// namespaces → (key, value) entries (legacy-formats.md §2.5), plus the objects needed to read
/// and re-emit it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeapSnapshot {
    pub node: NodeId,
    pub backend: HeapBackend,
    pub kind: StateKind,
    /// `data` array (memory) or the snapshot file (filesystem).
    pub data: Bytes,
    pub key_serializer: NodeId,
    pub namespace_serializer: NodeId,
    pub state_serializer: NodeId,
    pub state_desc: NodeId,
    /// The descriptor's `name` field.
    pub state_name: String,
}

/// A value of a chain entry's `kvStates` map.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KvSnapshot {
    Heap(HeapSnapshot),
    /// `RocksDBStateBackend$FinalFullyAsyncSnapshot`: the whole database as one stream.
    RocksDbFullyAsync {
        node: NodeId,
        checkpoint_id: i64,
        state_handle: StateHandle,
    },
    /// `RocksDBStateBackend$FinalSemiAsyncSnapshot` (the 1.1 default): the data is a
    /// RocksDB backup directory outside the savepoint. Flink 1.2 cannot migrate it.
    RocksDbSemiAsync {
        node: NodeId,
        checkpoint_id: i64,
        backup_uri: Option<ExternalPath>,
        state_descriptors: Option<NodeId>,
    },
}

impl KvSnapshot {
    pub fn node(&self) -> NodeId {
        match self {
            KvSnapshot::Heap(h) => h.node,
            KvSnapshot::RocksDbFullyAsync { node, .. }
            | KvSnapshot::RocksDbSemiAsync { node, .. } => *node,
        }
    }

    pub fn class_name(&self) -> &'static str {
        match self {
            KvSnapshot::Heap(h) => heap_class(h.backend, h.kind),
            KvSnapshot::RocksDbFullyAsync { .. } => FULLY_ASYNC_SNAPSHOT,
            KvSnapshot::RocksDbSemiAsync { .. } => SEMI_ASYNC_SNAPSHOT,
        }
    }

    /// "memory", "filesystem" or "rocksdb".
    pub fn backend_name(&self) -> &'static str {
        match self {
            KvSnapshot::Heap(h) if h.backend == HeapBackend::Memory => "memory",
            KvSnapshot::Heap(_) => "filesystem",
            _ => "rocksdb",
        }
    }

    /// The state's bytes; `None` for a semi-async snapshot (its data is a directory).
    pub fn bytes(&self) -> Option<Bytes> {
        match self {
            KvSnapshot::Heap(h) => Some(h.data.clone()),
            KvSnapshot::RocksDbFullyAsync { state_handle, .. } => Some(state_handle.bytes()),
            KvSnapshot::RocksDbSemiAsync { .. } => None,
        }
    }

    /// The size Flink 1.1 reports (legacy-formats.md §2.6).
    pub fn state_size(&self, measure: &dyn Measure) -> u64 {
        match self {
            KvSnapshot::Heap(h) => match &h.data {
                Bytes::Span(s) => s.len,
                Bytes::External { path, .. } => measure.file_size(path).unwrap_or(0),
            },
            KvSnapshot::RocksDbFullyAsync { state_handle, .. } => state_handle.state_size(measure),
            // Flink 1.1 sums the backup directory.
            KvSnapshot::RocksDbSemiAsync { backup_uri, .. } => backup_uri
                .as_ref()
                .and_then(|p| measure.tree_size(p))
                .unwrap_or(0),
        }
    }

    /// Why Flink 1.2 cannot migrate this snapshot, if it cannot (legacy-formats.md §3.9).
    pub fn migration_problem(&self) -> Option<String> {
        match self {
            KvSnapshot::RocksDbSemiAsync { backup_uri, .. } => Some(format!(
                "RocksDB semi-asynchronous snapshot (the Flink 1.1 default RocksDB mode): its keyed state is a RocksDB backup directory{} outside the savepoint, and Flink 1.2 cannot migrate it; take a new savepoint in Flink 1.1 with fully asynchronous snapshots enabled (RocksDBStateBackend.enableFullyAsyncSnapshots())",
                backup_uri
                    .as_ref()
                    .map_or(String::new(), |p| format!(" at {}", p.display))
            )),
            _ => None,
        }
    }
}

fn heap_class(backend: HeapBackend, kind: StateKind) -> &'static str {
    use HeapBackend::*;
    use StateKind::*;
    match (backend, kind) {
        (Memory, Value) => crate::classnames::MEM_VALUE_STATE_SNAPSHOT,
        (Memory, List) => crate::classnames::MEM_LIST_STATE_SNAPSHOT,
        (Memory, Reducing) => crate::classnames::MEM_REDUCING_STATE_SNAPSHOT,
        (Memory, Folding) => crate::classnames::MEM_FOLDING_STATE_SNAPSHOT,
        (Filesystem, Value) => crate::classnames::FS_VALUE_STATE_SNAPSHOT,
        (Filesystem, List) => crate::classnames::FS_LIST_STATE_SNAPSHOT,
        (Filesystem, Reducing) => crate::classnames::FS_REDUCING_STATE_SNAPSHOT,
        (Filesystem, Folding) => crate::classnames::FS_FOLDING_STATE_SNAPSHOT,
    }
}

fn heap_kind(class: &str) -> Option<(HeapBackend, StateKind)> {
    use HeapBackend::*;
    use StateKind::*;
    [Memory, Filesystem]
        .into_iter()
        .flat_map(|b| [Value, List, Reducing, Folding].map(|k| (b, k)))
        .find(|&(b, k)| heap_class(b, k) == class)
}

/// Decoding context: the graph and where we are in it, for errors.
pub(crate) struct Ctx<'g> {
    pub graph: &'g Graph,
    pub loc: Location,
}

impl<'g> Ctx<'g> {
    /// Runs `f` with `.name` (or an index like `["key"]`) appended to the field path.
    pub fn field<T>(&mut self, name: &str, f: impl FnOnce(&mut Self) -> Result<T>) -> Result<T> {
        let len = self.loc.field.len();
        if !name.starts_with('[') {
            self.loc.field.push('.');
        }
        self.loc.field.push_str(name);
        let r = f(self);
        self.loc.field.truncate(len);
        r
    }

    pub fn java(&self, e: javaser::Error) -> Error {
        Error::Java {
            location: Box::new(self.loc.clone()),
            error: Box::new(e),
        }
    }

    /// A model problem located at a node (or the stream start).
    pub fn problem(&self, node: Option<NodeId>, problem: ModelProblem) -> Error {
        let offset = node
            .and_then(|n| self.graph.nodes.get(n as usize))
            .map_or(self.graph.start, |n| n.span.start);
        Error::Model {
            source_name: self.graph.source().name(),
            offset,
            location: Box::new(self.loc.clone()),
            problem,
        }
    }

    pub fn object(&self, v: Value) -> Result<Option<ObjectView<'g>>> {
        self.graph.object(v).map_err(|e| self.java(e))
    }

    /// A field that must be present and non-null.
    pub fn required(&self, obj: &ObjectView<'g>, field: &'static str) -> Result<Value> {
        match obj.require(field).map_err(|e| self.java(e))? {
            Value::Null => Err(self.problem(Some(obj.id), ModelProblem::NullField { field })),
            v => Ok(v),
        }
    }

    /// A non-null object field, as an object of one of `classes` (exact names).
    pub fn required_object(
        &mut self,
        obj: &ObjectView<'g>,
        field: &'static str,
        classes: &[&'static str],
        expected: &'static str,
    ) -> Result<ObjectView<'g>> {
        let v = self.required(obj, field)?;
        self.field(field, |ctx| {
            let o = ctx
                .object(v)?
                .ok_or_else(|| ctx.problem(Some(obj.id), ModelProblem::NullField { field }))?;
            if !classes.is_empty() && !classes.iter().any(|c| o.class_name().is(c)) {
                return Err(ctx.problem(
                    Some(o.id),
                    ModelProblem::Unexpected {
                        expected,
                        found: o.class_name().lossy(),
                    },
                ));
            }
            Ok(o)
        })
    }

    /// A non-null `byte[]` field.
    pub fn byte_array(&mut self, obj: &ObjectView<'g>, field: &'static str) -> Result<Span> {
        let v = self.required(obj, field)?;
        self.field(field, |ctx| {
            ctx.graph
                .byte_array(v)
                .map_err(|e| ctx.java(e))?
                .ok_or_else(|| ctx.problem(Some(obj.id), ModelProblem::NullField { field }))
        })
    }

    pub fn long(&self, obj: &ObjectView<'g>, field: &'static str) -> Result<i64> {
        match obj.require(field).map_err(|e| self.java(e))? {
            Value::Long(v) => Ok(v),
            other => Err(self.problem(
                Some(obj.id),
                ModelProblem::Unexpected {
                    expected: "a long",
                    found: format!("{other:?}"),
                },
            )),
        }
    }

    /// A `java.net.URI` object's location.
    pub fn uri(&mut self, uri: &ObjectView<'g>) -> Result<ExternalPath> {
        let v = self.required(uri, "string")?;
        let s = self.field("string", |ctx| {
            ctx.graph
                .string_value(v)
                .map_err(|e| ctx.java(e))?
                .ok_or_else(|| {
                    ctx.problem(Some(uri.id), ModelProblem::NullField { field: "string" })
                })
        })?;
        ExternalPath::parse(&s).map_err(|reason| {
            self.problem(
                Some(uri.id),
                ModelProblem::BadUri {
                    uri: s.clone(),
                    reason,
                },
            )
        })
    }

    /// `AbstractFileStateHandle.filePath` (a `core.fs.Path` holding a `URI`).
    pub fn file_path(&mut self, obj: &ObjectView<'g>) -> Result<ExternalPath> {
        let path = self.required_object(obj, "filePath", &[CORE_FS_PATH], "a core.fs.Path")?;
        self.field("filePath", |ctx| {
            let uri = ctx.required_object(&path, "uri", &[JAVA_NET_URI], "a java.net.URI")?;
            ctx.field("uri", |ctx| ctx.uri(&uri))
        })
    }
}

/// Decodes a `StateHandle` field value (`None` for null).
pub(crate) fn decode_state_handle(ctx: &mut Ctx<'_>, v: Value) -> Result<Option<StateHandle>> {
    let Some(obj) = ctx.object(v)? else {
        return Ok(None);
    };
    let node = obj.id;
    let class = obj.class_name();
    let handle = if class.is(SERIALIZED_STATE_HANDLE) {
        StateHandle::Serialized {
            node,
            data: ctx.byte_array(&obj, "serializedData")?,
        }
    } else if class.is(BYTE_STREAM_STATE_HANDLE) {
        StateHandle::ByteStream {
            node,
            data: ctx.byte_array(&obj, "data")?,
        }
    } else if class.is(DATA_INPUT_VIEW_HANDLE) {
        let v = ctx.required(&obj, "stream")?;
        let inner = ctx.field("stream", |ctx| {
            let inner = decode_state_handle(ctx, v)?.ok_or_else(|| {
                ctx.problem(Some(node), ModelProblem::NullField { field: "stream" })
            })?;
            if !inner.is_stream_handle() {
                return Err(ctx.problem(
                    Some(inner.node()),
                    ModelProblem::Unexpected {
                        expected: "a stream state handle (ByteStreamStateHandle or FileStreamStateHandle)",
                        found: inner.class_name().into(),
                    },
                ));
            }
            Ok(inner)
        })?;
        StateHandle::DataInputView {
            node,
            inner: Box::new(inner),
        }
    } else if class.is(FILE_STREAM_STATE_HANDLE) {
        StateHandle::FileStream {
            node,
            path: ctx.file_path(&obj)?,
        }
    } else if class.is(FILE_SERIALIZABLE_STATE_HANDLE) {
        StateHandle::FileSerializable {
            node,
            path: ctx.file_path(&obj)?,
        }
    } else {
        return Err(ctx.problem(
            Some(node),
            ModelProblem::UnknownClass {
                role: "state handle",
                class: class.lossy(),
            },
        ));
    };
    Ok(Some(handle))
}

/// Decodes a value of the `kvStates` map.
pub(crate) fn decode_kv_snapshot(ctx: &mut Ctx<'_>, v: Value) -> Result<KvSnapshot> {
    let obj = ctx.object(v)?.ok_or_else(|| {
        ctx.problem(
            None,
            ModelProblem::NullField {
                field: "kvStates value",
            },
        )
    })?;
    let node = obj.id;
    let class = obj.class_name();
    if let Some((backend, kind)) = class.decode().as_deref().and_then(heap_kind) {
        let data = match backend {
            HeapBackend::Memory => Bytes::Span(ctx.byte_array(&obj, "data")?),
            HeapBackend::Filesystem => Bytes::External {
                path: ctx.file_path(&obj)?,
                expected_size: None,
            },
        };
        let key_serializer = ctx
            .required_object(&obj, "keySerializer", &[], "an object")?
            .id;
        let namespace_serializer = ctx
            .required_object(&obj, "namespaceSerializer", &[], "an object")?
            .id;
        let state_serializer = ctx
            .required_object(&obj, "stateSerializer", &[], "an object")?
            .id;
        let desc = ctx.required_object(&obj, "stateDesc", &[], "a StateDescriptor")?;
        let state_name = ctx.field("stateDesc", |ctx| {
            let v = ctx.required(&desc, "name")?;
            ctx.field("name", |ctx| {
                ctx.graph
                    .string_value(v)
                    .map_err(|e| ctx.java(e))?
                    .ok_or_else(|| {
                        ctx.problem(Some(desc.id), ModelProblem::NullField { field: "name" })
                    })
            })
        })?;
        return Ok(KvSnapshot::Heap(HeapSnapshot {
            node,
            backend,
            kind,
            data,
            key_serializer,
            namespace_serializer,
            state_serializer,
            state_desc: desc.id,
            state_name,
        }));
    }
    if class.is(FULLY_ASYNC_SNAPSHOT) {
        let checkpoint_id = ctx.long(&obj, "checkpointId")?;
        let v = ctx.required(&obj, "stateHandle")?;
        let state_handle = ctx.field("stateHandle", |ctx| {
            decode_state_handle(ctx, v)?.ok_or_else(|| {
                ctx.problem(
                    Some(node),
                    ModelProblem::NullField {
                        field: "stateHandle",
                    },
                )
            })
        })?;
        return Ok(KvSnapshot::RocksDbFullyAsync {
            node,
            checkpoint_id,
            state_handle,
        });
    }
    if class.is(SEMI_ASYNC_SNAPSHOT) {
        let checkpoint_id = ctx.long(&obj, "checkpointId")?;
        let uri_value = obj.require("backupUri").map_err(|e| ctx.java(e))?;
        let backup_uri = match ctx.object(uri_value)? {
            None => None,
            Some(_) => {
                let uri =
                    ctx.required_object(&obj, "backupUri", &[JAVA_NET_URI], "a java.net.URI")?;
                Some(ctx.field("backupUri", |ctx| ctx.uri(&uri))?)
            }
        };
        let state_descriptors = obj
            .require("stateDescriptors")
            .map_err(|e| ctx.java(e))?
            .node();
        return Ok(KvSnapshot::RocksDbSemiAsync {
            node,
            checkpoint_id,
            backup_uri,
            state_descriptors,
        });
    }
    Err(ctx.problem(
        Some(node),
        ModelProblem::UnknownClass {
            role: "keyed state snapshot",
            class: class.lossy(),
        },
    ))
}
