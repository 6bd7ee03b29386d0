//! The conversion of one decoded subtask: the faithful files of legacy-formats.md §3.4–3.8 and
//! the native files of native-formats.md §7.3–7.4.

use super::FileKind;
pub use super::converted::{
    ConvertedEntry, ConvertedFile, ConvertedSubtask, FileResult, KeyedInfo, Offsets,
};
use super::error::{Error, FileLocation};
use super::external::ExternalPolicy;
use super::native;
use super::operators::{NativeLoss, Operator};
use crate::javaser::{self, Chunk, Value};
use crate::source::{Source, Span};
use crate::stream::{MultiStream, Piece};
use crate::v0::{Bytes, ChainEntry, KvSnapshot, StateHandle, SubtaskModel};
use std::sync::Arc;

/// The layout of native keyed state; it must match the restoring job's state backend.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyedLayout {
    /// Memory and filesystem backends (`HeapKeyedStateBackend`).
    Heap,
    RocksDb,
}

impl KeyedLayout {
    pub fn parse(s: &str) -> Result<KeyedLayout, String> {
        match s {
            "heap" => Ok(KeyedLayout::Heap),
            "rocksdb" => Ok(KeyedLayout::RocksDb),
            _ => Err(format!(
                "unknown keyed layout {s:?}: choose heap or rocksdb"
            )),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            KeyedLayout::Heap => "heap",
            KeyedLayout::RocksDb => "rocksdb",
        }
    }
}

/// How to convert.
#[derive(Clone, Debug, Default)]
pub struct ConvertOptions {
    pub policy: ExternalPolicy,
    /// The key serializer for native keyed state of RocksDB snapshots, as a Java stream
    /// (Flink 1.1's RocksDB backend does not record it).
    pub key_serializer: Option<Arc<[u8]>>,
    /// Namespace serializers of RocksDB states (`--rocksdb-namespace`).
    pub rocksdb_namespaces: Vec<super::rocks::NamespaceDecl>,
    /// Native keyed layout; `None`: the source's own (heap for memory/filesystem
    /// snapshots, RocksDB for RocksDB snapshots).
    pub keyed_layout: Option<KeyedLayout>,
    /// Build the keyed streams that need a pass over the state (`managed-keyed-state`,
    /// `managed-keyed-state-v6`) only where this target's `_metadata` names them;
    /// `None`: every form.
    pub target: Option<super::Target>,
    /// Chain entries whose operator the user named (`--operator`): `None` is the
    /// generic recipe.
    pub operators: OperatorOverrides,
    /// Aligned window operators to convert into WindowOperators (`--window`).
    pub windows: WindowSpecs,
}

/// `--window` choices by (vertex id, chain index).
pub type WindowSpecs = std::collections::HashMap<([u8; 16], usize), super::aligned::WindowSpec>;

/// `--operator` choices by (vertex id, chain index).
pub type OperatorOverrides =
    std::collections::HashMap<([u8; 16], usize), Option<super::operators::Operator>>;

impl ConvertOptions {
    fn builds(&self, kind: FileKind) -> bool {
        self.target.is_none_or(|t| t.names(kind))
    }
}

/// Converts a decoded subtask of a task with `parallelism` subtasks. Never fails as a
/// whole: each file carries its own result.
pub fn convert_subtask(
    model: &SubtaskModel,
    parallelism: u32,
    opts: &ConvertOptions,
) -> ConvertedSubtask {
    let converted = convert_model(model, parallelism, opts);
    match super::aligned::rewrite_named(model, parallelism, opts) {
        None => converted,
        // The WindowOperator's forms, but Flink 1.2's migration form of the operator
        // itself (Flink 1.2 restores aligned operators from their own bytes).
        Some((_, Ok(window))) => {
            let mut as_window = convert_model(&window, parallelism, opts);
            as_window.keyed_state = converted.keyed_state;
            for (w, o) in as_window.chain.iter_mut().zip(converted.chain) {
                if let (Some(w), Some(o)) = (w, o) {
                    w.legacy_operator_state = o.legacy_operator_state;
                }
            }
            as_window
        }
        // The files that would carry the windows say why they cannot.
        Some((chain, Err(reason))) => {
            let mut c = converted;
            let loc = |kind: FileKind| {
                let mut loc = model.location.clone();
                loc.chain = (kind == FileKind::OperatorState).then_some(chain);
                FileLocation::new(loc, kind.file_name())
            };
            let fail = |kind: FileKind| {
                opts.builds(kind).then(|| {
                    Err(Error::NotMigratable {
                        location: loc(kind),
                        reason: format!("aligned window operator (--window): {reason}"),
                    })
                })
            };
            c.managed_keyed_state = fail(FileKind::ManagedKeyedState);
            c.managed_keyed_state_v6 = fail(FileKind::ManagedKeyedStateV6);
            c.raw_keyed_state = fail(FileKind::RawKeyedState);
            if let Some(Some(e)) = c.chain.get_mut(chain) {
                e.operator_state = fail(FileKind::OperatorState);
            }
            c
        }
    }
}

fn convert_model(
    model: &SubtaskModel,
    parallelism: u32,
    opts: &ConvertOptions,
) -> ConvertedSubtask {
    let cx = Cx::new(model, parallelism, opts);
    // Each entry's operator, recognised once (it peeks at its state, maybe in files).
    let operators: Vec<_> = model
        .chain
        .iter()
        .map(|e| e.as_ref().and_then(|e| cx.operator(e)))
        .collect();
    let chain = model
        .chain
        .iter()
        .zip(&operators)
        .map(|(e, &op)| e.as_ref().map(|e| cx.entry(e, op)))
        .collect();
    // A keyed stream that cannot carry an operator's state (keyed CEP; a window
    // operator's timers in the v6 stream) is refused.
    let native = |kind: FileKind, f: Option<FileResult>| {
        let loss = operators
            .iter()
            .flatten()
            .copied()
            .find(|o| o.lost_in(kind));
        f.map(|f| cx.unless_lost(f, loss, cx.location(None, kind)))
    };
    ConvertedSubtask {
        chain,
        keyed_state: cx.keyed_state(),
        managed_keyed_state: native(
            FileKind::ManagedKeyedState,
            opts.builds(FileKind::ManagedKeyedState)
                .then(|| cx.managed_keyed_state())
                .flatten(),
        ),
        managed_keyed_state_v6: native(
            FileKind::ManagedKeyedStateV6,
            opts.builds(FileKind::ManagedKeyedStateV6)
                .then(|| cx.managed_keyed_state_v6(&operators))
                .flatten(),
        ),
        raw_keyed_state: opts
            .builds(FileKind::RawKeyedState)
            .then(|| cx.raw_keyed_state(&operators))
            .flatten(),
    }
}

pub(super) struct Cx<'a> {
    pub(super) model: &'a SubtaskModel,
    /// The task's parallelism, which is the converted state's max parallelism.
    pub(super) parallelism: u32,
    policy: &'a ExternalPolicy,
    pub(super) opts: &'a ConvertOptions,
    savepoint: Arc<dyn Source>,
}

const SIGNAL_0: u8 = 0;
const SIGNAL_1: u8 = 1;

impl<'a> Cx<'a> {
    pub(super) fn new(model: &'a SubtaskModel, parallelism: u32, opts: &'a ConvertOptions) -> Self {
        Cx {
            model,
            parallelism,
            policy: &opts.policy,
            opts,
            savepoint: model.graph.source().clone(),
        }
    }
}

impl Cx<'_> {
    pub(super) fn location(&self, chain: Option<usize>, kind: FileKind) -> FileLocation {
        let mut loc = self.model.location.clone();
        loc.chain = chain;
        FileLocation::new(loc, kind.file_name())
    }

    /// Where bytes live: a range of the savepoint, or all of a resolved external file.
    pub(super) fn bytes_range(
        &self,
        bytes: Bytes,
        location: &FileLocation,
    ) -> Result<(Arc<dyn Source>, Span), Error> {
        match bytes {
            Bytes::Span(span) => Ok((self.savepoint.clone(), span)),
            Bytes::External { path, .. } => {
                let file = self
                    .policy
                    .resolve(&path)
                    .map_err(|problem| Error::External {
                        location: location.clone(),
                        problem,
                    })?;
                let len = file.len();
                Ok((Arc::new(file), Span::new(0, len)))
            }
        }
    }

    pub(super) fn bytes_piece(
        &self,
        bytes: Bytes,
        location: &FileLocation,
    ) -> Result<Piece, Error> {
        let (source, span) = self.bytes_range(bytes, location)?;
        Ok(Piece::range(source, span))
    }

    /// The bytes of a handle (a wrapper's are its inner handle's, §3.6).
    pub(super) fn handle_piece(
        &self,
        h: &StateHandle,
        location: &FileLocation,
    ) -> Result<Piece, Error> {
        self.bytes_piece(h.bytes(), location)
    }

    /// A handle's bytes as one Java stream (a built-in operator's own state, which its
    /// rules read), and where they are, `FILE at offset N`, for errors; a stream that
    /// does not parse is refused as `what`'s.
    pub(super) fn java_state(
        &self,
        h: &StateHandle,
        what: &str,
        loc: &FileLocation,
    ) -> Result<(javaser::Graph, String), Error> {
        let (src, span) = self.bytes_range(h.bytes(), loc)?;
        let place = format!("{} at offset {}", src.name(), span.start);
        let limits = javaser::Limits::default();
        let graph = javaser::parse_stream(src, span.start, span.end(), &limits)
            .map_err(|e| not_migratable(loc)(format!("{what}: {e}")))?;
        Ok((graph, place))
    }

    pub(super) fn file(
        &self,
        location: FileLocation,
        handle: String,
        pieces: Vec<Piece>,
        offset: u64,
    ) -> ConvertedFile {
        ConvertedFile {
            stream: Arc::new(MultiStream::new(location.to_string(), pieces)),
            handle,
            offset,
            offsets: None,
            keyed: None,
            list_state: None,
        }
    }

    /// A list state's file: `header`, then its elements (each a Java stream of its own),
    /// with the element offsets its `_metadata` entry names.
    pub(super) fn list_file(
        &self,
        location: FileLocation,
        handle: String,
        header: Vec<u8>,
        elements: Vec<Vec<u8>>,
    ) -> ConvertedFile {
        let mut at = header.len() as u64;
        let mut pieces = vec![Piece::bytes(header)];
        let mut offsets = Vec::with_capacity(elements.len());
        for e in elements {
            offsets.push(at);
            at += e.len() as u64;
            pieces.push(Piece::bytes(e));
        }
        let mut file = self.file(
            location,
            handle,
            pieces,
            offsets.first().copied().unwrap_or(at),
        );
        file.offsets = Some(Arc::new(Offsets {
            first_key_group: 0,
            offsets,
        }));
        file
    }

    /// The built-in operator of a chain entry that is converted by its own rules: the
    /// one `--operator` names, else the one its state shows.
    pub(super) fn operator(&self, e: &ChainEntry) -> Option<super::operators::Operator> {
        if let Some((_, vertex)) = self.model.location.task
            && let Some(&named) = self.opts.operators.get(&(vertex.0, e.index))
        {
            return named;
        }
        let peek = |h: &StateHandle, n: u64| {
            let loc = self.location(Some(e.index), FileKind::OperatorState);
            let (src, span) = self.bytes_range(h.bytes(), &loc).ok()?;
            super::operators::head(&*src, span.start, span.len, n)
        };
        super::operators::detect(self.model, e, &peek)
    }

    /// `file`, or the refusal of `lost`, an operator whose state it would drop.
    fn unless_lost(
        &self,
        file: FileResult,
        lost: Option<super::operators::Operator>,
        loc: FileLocation,
    ) -> FileResult {
        match lost {
            Some(op) => Err(Error::NotMigratable {
                location: loc,
                reason: format!("{} state: {}", op.name(), op.why()),
            }),
            None => file,
        }
    }

    fn entry(&self, e: &ChainEntry, op: Option<super::operators::Operator>) -> ConvertedEntry {
        let single = |h: &StateHandle, kind| {
            let loc = self.location(Some(e.index), kind);
            let piece = self.handle_piece(h, &loc)?;
            Ok(self.file(loc, handle_classes(h), vec![piece], 0))
        };
        let guard = |f: FileResult, kind: FileKind| {
            let loss = op.filter(|o| o.lost_in(kind));
            self.unless_lost(f, loss, self.location(Some(e.index), kind))
        };
        // Managed operator state of `kind`: the built-in operators' own, else the
        // function state by the generic recipe (refused where it would lose state).
        let managed = |kind: FileKind| -> Option<FileResult> {
            if let (Some(Operator::FileReader), Some(h)) = (op, &e.operator_state) {
                return self.reader_splits(e.index, h, kind);
            }
            let h = e.function_state.as_ref()?;
            let native = kind == FileKind::ManagedOperatorState;
            match op {
                Some(Operator::FileMonitoring) => Some(self.monitoring_state(e.index, h, kind)),
                Some(Operator::Kafka) => self.kafka_offsets(e.index, h, kind),
                Some(Operator::RollingSink) if native => self.bucketing_sink(e.index, h),
                _ if native => Some(guard(self.managed_operator_state(e.index, h), kind)),
                _ => Some(guard(self.managed_operator_state_v5(e.index, h), kind)),
            }
        };
        ConvertedEntry {
            index: e.index,
            operator: op,
            legacy_operator_state: Some(self.legacy(e)),
            function_state: e
                .function_state
                .as_ref()
                .map(|h| single(h, FileKind::FunctionState)),
            operator_state: e
                .operator_state
                .as_ref()
                .map(|h| guard(single(h, FileKind::OperatorState), FileKind::OperatorState)),
            managed_operator_state: managed(FileKind::ManagedOperatorState),
            managed_operator_state_v5: managed(FileKind::ManagedOperatorStateV5),
        }
    }

    /// `[0x01 | function state | operator state]` or `[0x00 | operator state]` (§3.5, release 1.2.0).
    fn legacy(&self, e: &ChainEntry) -> FileResult {
        let loc = self.location(Some(e.index), FileKind::LegacyOperatorState);
        let mut pieces = Vec::new();
        let mut classes = Vec::new();
        match &e.function_state {
            Some(h) => {
                pieces.push(Piece::bytes(vec![SIGNAL_1]));
                pieces.push(self.handle_piece(h, &loc)?);
                classes.push(handle_classes(h));
            }
            None => pieces.push(Piece::bytes(vec![SIGNAL_0])),
        }
        if let Some(h) = &e.operator_state {
            pieces.push(self.handle_piece(h, &loc)?);
            classes.push(handle_classes(h));
        }
        Ok(self.file(loc, classes.join(" + "), pieces, 0))
    }

    /// The kv-state HashMap of the one chain entry that has it, as a fresh Java stream
    /// under migration class names (§3.7–3.8). No size cap.
    fn keyed_state(&self) -> Option<FileResult> {
        let keyed: Vec<&ChainEntry> = self
            .model
            .entries()
            .filter(|e| e.kv_states_map.is_some())
            .collect();
        let first = keyed.first()?;
        let loc = self.location(None, FileKind::KeyedState);
        if keyed.len() > 1 {
            let indices: Vec<usize> = keyed.iter().map(|e| e.index).collect();
            return Some(Err(Error::NotMigratable {
                location: loc,
                reason: format!(
                    "found more than one keyed state in chain (entries {indices:?}); Flink 1.2 converts one per subtask"
                ),
            }));
        }
        if let Some(reason) = first
            .kv_states
            .iter()
            .find_map(|k| k.snapshot.migration_problem())
        {
            return Some(Err(Error::NotMigratable {
                location: loc,
                reason,
            }));
        }
        let map = first.kv_states_map?;
        let graph = &self.model.graph;
        let chunks = match javaser::write_object(
            graph,
            Value::Node(map),
            &crate::convert::rename::migration_options(),
        ) {
            Ok(c) => c,
            Err(e) => {
                return Some(Err(Error::Reserialize {
                    location: loc,
                    error: Arc::new(e),
                }));
            }
        };
        let pieces = chunks
            .into_vec()
            .into_iter()
            .map(|c| match c {
                Chunk::Bytes(b) => Piece::bytes(b),
                Chunk::Span(s) => Piece::range(graph.source().clone(), s),
            })
            .collect();
        Some(Ok(self.file(
            loc,
            format!("java.util.HashMap<{}>", kv_classes(first)),
            pieces,
            0,
        )))
    }

    /// Native: `_default_` header + the function state's Java stream verbatim (§7.4.1).
    fn managed_operator_state(&self, chain: usize, h: &StateHandle) -> FileResult {
        let loc = self.location(Some(chain), FileKind::ManagedOperatorState);
        let header = native::operator_state_header().map_err(Error::header(&loc))?;
        let offset = header.len() as u64;
        let element = self.handle_piece(h, &loc)?;
        let handle = format!("ListCheckpointed({})", handle_classes(h));
        Ok(self.file(loc, handle, vec![Piece::bytes(header), element], offset))
    }

    /// What every keyed stream starts from: the head operator's keyed entry (`None`
    /// without keyed state), refused where Flink 1.2 could not migrate it, with the
    /// subtask's key group and its RocksDB snapshot handle if it is one.
    pub(super) fn keyed_source(
        &self,
        loc: &FileLocation,
    ) -> Result<Option<KeyedSource<'_>>, Error> {
        let Some(entry) = native::keyed_entry(self.model, loc)? else {
            return Ok(None);
        };
        if let Some(reason) = entry
            .kv_states
            .iter()
            .find_map(|k| k.snapshot.migration_problem())
        {
            return Err(not_migratable(loc)(reason));
        }
        let rocks = entry.kv_states.iter().find_map(|k| match &k.snapshot {
            KvSnapshot::RocksDbFullyAsync { state_handle, .. } => Some(state_handle),
            _ => None,
        });
        Ok(Some(KeyedSource {
            entry,
            // maxParallelism = parallelism, so subtask i owns exactly key group i
            // (legacy-formats.md §3.13).
            key_group: self.model.location.subtask.unwrap_or(0),
            rocks,
        }))
    }

    /// A keyed stream of kind `kind`: `build` gives its header and body (and the
    /// handle description) from the keyed source; `None` without keyed state or records.
    pub(super) fn keyed_file(
        &self,
        kind: FileKind,
        build: impl FnOnce(&KeyedSource<'_>, &FileLocation) -> (Keyed, String),
    ) -> Option<FileResult> {
        let loc = self.location(None, kind);
        let source = match self.keyed_source(&loc) {
            Ok(None) => return None,
            Ok(Some(k)) => k,
            Err(e) => return Some(Err(e)),
        };
        let (built, handle) = build(&source, &loc);
        match built {
            Ok(None) => None,
            Ok(Some((header, body))) => {
                let offset = header.len() as u64;
                let pieces = std::iter::once(Piece::bytes(header)).chain(body).collect();
                Some(Ok(self.file(loc, handle, pieces, offset)))
            }
            Err(e) => Some(Err(e)),
        }
    }
}

/// The keyed state a keyed stream is made from.
pub(super) struct KeyedSource<'m> {
    pub entry: &'m ChainEntry,
    pub key_group: u32,
    pub rocks: Option<&'m StateHandle>,
}

/// Makes the error for input the conversion refuses, at `loc`.
pub(super) fn not_migratable(loc: &FileLocation) -> impl Fn(String) -> Error + Copy + '_ {
    move |reason| Error::NotMigratable {
        location: loc.clone(),
        reason,
    }
}

/// A native keyed stream's header and body, or `None` when it holds nothing.
pub(super) type Keyed = Result<Option<(Vec<u8>, Vec<Piece>)>, Error>;

/// The class chain of a handle, wrapper first: `DataInputViewHandle(ByteStreamStateHandle)`.
pub(super) fn handle_classes(h: &StateHandle) -> String {
    match h {
        StateHandle::DataInputView { inner, .. } => {
            format!("{}({})", h.class_name(), handle_classes(inner))
        }
        _ => h.class_name().to_string(),
    }
}

/// The distinct snapshot classes of an entry's keyed state.
pub(super) fn kv_classes(e: &ChainEntry) -> String {
    let mut classes: Vec<&str> = e
        .kv_states
        .iter()
        .map(|k| k.snapshot.class_name())
        .collect();
    classes.dedup();
    classes.join(", ")
}
