//! `verify`: everything a restore would need, checked before anyone relies on it.
//!
//! 1. Per subtask: the blob decodes; what Flink 1.2 could not migrate
//!    (`SubtaskModel::migration_problems`); every external state file resolves inside
//!    the allowed roots and is a readable regular file; contents whose end is knowable
//!    are walked to it (a `FileSerializableStateHandle` file is one complete Java
//!    stream, a RocksDB fully-async stream is well framed to its last byte); and the
//!    subtask's state size as Flink 1.1 recorded it (legacy-formats.md §2.6: inline lengths
//!    plus file lengths at snapshot time) still equals what the files add up to now,
//!    which is what catches an external file truncated or replaced since.
//! 2. `_metadata` is built for the chosen target and read back with our V1 reader;
//!    every file it names exists in the tree with the size it declares.
//! 3. Every file of the tree is converted and read to the end through the multi-stream
//!    reader, and yields exactly its `stat` size.
//!
//! A cause is reported once: a file whose conversion fails for a reason step 1 already
//! reported for its subtask is not reported again. A file that cannot be converted but
//! that `_metadata` does not name (e.g. a native-target file of a savepoint served for
//! `--target migration`) is a warning, not a problem.

use super::problems::{Place, Problem};
use super::{METADATA_NAME, NodeRef, ROOT, Tree};
use crate::javaser::{self, Limits};
use crate::source::{Source, Span};
use crate::stream::{MultiStream, Piece};
use crate::v0::{Bytes, ExternalPath, KvSnapshot, StateHandle, SubtaskModel, rocksdb};
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

/// What was checked.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    pub subtasks: usize,
    /// Tree files read to the end (`_metadata` included).
    pub files: usize,
    pub bytes: u64,
    /// External file references checked.
    pub external_files: usize,
    /// Keys whose key group was recomputed.
    pub keys_checked: u64,
    pub problems: usize,
    pub warnings: usize,
}

/// How an external file's content can be checked beyond its existence.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Content {
    /// Opaque bytes (read in step 2 through the tree file that serves them).
    Opaque,
    /// Opaque bytes the faithful tree only names (a filesystem-backend keyed-state
    /// snapshot file: `keyed-state` holds its path): read to the end here.
    Unserved,
    /// One complete Java serialization stream.
    JavaStream,
    /// A RocksDB fully-async snapshot stream.
    RocksDb,
}

const READ_BUFFER: usize = 1 << 20;

/// Reads a stream to its end; the number of bytes read.
pub fn drain(stream: &MultiStream, buf: &mut [u8]) -> std::io::Result<u64> {
    let mut off = 0u64;
    loop {
        let n = stream.read_at_most(off, buf)?;
        if n == 0 {
            return Ok(off);
        }
        off += n as u64;
    }
}

struct Verifier<'t, 'r> {
    tree: &'t Tree,
    report: &'r mut dyn FnMut(Problem),
    summary: Summary,
    buf: Vec<u8>,
}

impl Verifier<'_, '_> {
    fn problem(&mut self, place: Place, cause: impl Into<String>) {
        self.summary.problems += 1;
        (self.report)(Problem {
            place,
            cause: cause.into(),
            warning: false,
        });
    }

    fn warning(&mut self, place: Place, cause: impl Into<String>) {
        self.summary.warnings += 1;
        (self.report)(Problem {
            place,
            cause: cause.into(),
            warning: true,
        });
    }

    /// Step 1 for one subtask; whether it found a problem.
    fn subtask(&mut self, task: u32, sub: u32) -> bool {
        let index = &self.tree.index;
        let t = &index.tasks()[task as usize];
        let s = &t.subtasks[sub as usize];
        let base = Place {
            vertex: Some(t.vertex),
            subtask: Some(s.index),
            ..Place::default()
        };
        let before = self.summary.problems;
        let model = match SubtaskModel::decode(index, t, s) {
            Ok(m) => m,
            Err(e) => {
                self.problem(base, format!("cannot decode the subtask: {e}"));
                return true;
            }
        };
        // What Flink 1.2 cannot migrate: per keyed state where the snapshot says so
        // (placed precisely), and the model's chain-level findings (the per-snapshot
        // ones it also lists start with `chain[k]`).
        for e in model.entries() {
            for kv in &e.kv_states {
                if let Some(p) = kv.snapshot.migration_problem() {
                    let place = Place {
                        chain: Some(e.index),
                        what: Some(format!("keyed state {:?}", kv.name)),
                        ..base.clone()
                    };
                    self.problem(place, format!("cannot be migrated: {p}"));
                }
            }
        }
        for p in model.migration_problems() {
            if !p.starts_with("chain[") {
                self.problem(base.clone(), format!("cannot be migrated: {p}"));
            }
        }
        self.keys(&model, t.parallelism, &base);
        let savepoint = index.source().clone();
        // Sizes per legacy-formats.md §2.6, with external lengths as they are now.
        let mut now_size = Some(0u64);
        let mut externals: Vec<(String, u64)> = Vec::new();
        let mut size_known = true;
        for e in model.entries() {
            let at = |what: String| Place {
                chain: Some(e.index),
                what: Some(what),
                ..base.clone()
            };
            for (what, h) in [
                ("function-state", &e.function_state),
                ("operator-state", &e.operator_state),
            ] {
                let Some(h) = h else { continue };
                let content = match innermost(h) {
                    StateHandle::FileSerializable { .. } | StateHandle::Serialized { .. } => {
                        Content::JavaStream
                    }
                    _ => Content::Opaque,
                };
                // Inline Java streams are parsed here (external ones in `external`): a
                // damaged one would restore as garbage or fail the job.
                if let (Content::JavaStream, Bytes::Span(span)) = (content, h.bytes())
                    && let Err(e) = javaser::parse_stream(
                        savepoint.clone(),
                        span.start,
                        span.end(),
                        &Limits::default(),
                    )
                {
                    self.problem(
                        at(what.into()),
                        format!("not one complete Java serialization stream: {e}"),
                    );
                }
                let size = self.bytes_size(&h.bytes(), content, at(what.into()), &mut externals);
                add(&mut now_size, size);
            }
            for kv in &e.kv_states {
                let what = format!("keyed state {:?}", kv.name);
                match &kv.snapshot {
                    KvSnapshot::Heap(heap) => {
                        let size = self.bytes_size(
                            &heap.data,
                            Content::Unserved,
                            at(what),
                            &mut externals,
                        );
                        add(&mut now_size, size);
                    }
                    KvSnapshot::RocksDbFullyAsync { state_handle, .. } => {
                        let size = self.bytes_size(
                            &state_handle.bytes(),
                            Content::RocksDb,
                            at(what.clone()),
                            &mut externals,
                        );
                        // Inline in the savepoint: walked here (a file was walked above).
                        if let (Some(_), Bytes::Span(span)) = (size, state_handle.bytes())
                            && let Err(cause) = rocksdb::check_stream(savepoint.clone(), span)
                        {
                            self.problem(at(what), format!("RocksDB snapshot stream: {cause}"));
                        }
                        add(&mut now_size, size);
                    }
                    // Already a migration problem; Flink 1.1 counted a directory's size.
                    KvSnapshot::RocksDbSemiAsync { .. } => size_known = false,
                }
            }
        }
        if let (true, Some(now), false) = (size_known, now_size, externals.is_empty()) {
            self.check_recorded_size(base, s.state_size, now, &externals);
        }
        self.summary.problems > before
    }

    /// Operators the state does not tell apart and the native forms would lose
    /// (operators.md §2.5): a warning, since the state may be anything else.
    fn ambiguous_operators(&mut self, model: &SubtaskModel, base: &Place) {
        let source = model.graph.source();
        let vertex = model.location.task.map(|(_, v)| v.0);
        for e in model.entries() {
            let Some(Bytes::Span(span)) = e.function_state.as_ref().map(|h| h.bytes()) else {
                continue;
            };
            // Settled by `--operator`.
            if vertex.is_some_and(|v| self.tree.convert.operators.contains_key(&(v, e.index))) {
                continue;
            }
            // Enough for a Long or an empty HashMap, whole.
            let head = crate::convert::operators::head(&**source, span.start, span.len, 128);
            if let Some(why) = head
                .as_deref()
                .and_then(crate::convert::operators::ambiguous)
            {
                let at = Place {
                    chain: Some(e.index),
                    what: Some("function state".into()),
                    ..base.clone()
                };
                self.warning(at, why.to_string());
            }
        }
    }

    /// Key placement (native-formats.md §7.3.6): Flink files each restored key under the key
    /// group of the stream it sits in and never re-checks, so a key in the wrong subtask
    /// would be lost silently. Also warns on serializers whose native restore is unproven.
    fn keys(&mut self, model: &SubtaskModel, parallelism: u32, base: &Place) {
        self.ambiguous_operators(model, base);
        let chain = model
            .entries()
            .find(|e| !e.kv_states.is_empty())
            .map(|e| e.index);
        let at = |state: &str| Place {
            chain,
            what: Some(format!("keyed state {state:?}")),
            ..base.clone()
        };
        for c in crate::convert::keys::check_subtask(model, parallelism, &self.tree.convert) {
            self.summary.keys_checked += c.checked;
            if c.total_misplaced > 0 {
                let examples: Vec<String> = c
                    .misplaced
                    .iter()
                    .take(3)
                    .map(|(k, g)| format!("{k} belongs to key group {g} (subtask {g})"))
                    .collect();
                self.problem(
                    at(&c.state),
                    format!(
                        "{} of {} keys are outside this subtask's key group {}; Flink would drop them without an error (e.g. {})",
                        c.total_misplaced,
                        c.checked,
                        model.location.subtask.unwrap_or(0),
                        examples.join(", ")
                    ),
                );
            }
            if let Some(why) = c.unchecked {
                self.warning(at(&c.state), format!("key groups not checked: {why}"));
            }
        }
        for kv in model.entries().flat_map(|e| e.kv_states.iter()) {
            if let KvSnapshot::Heap(h) = &kv.snapshot {
                let mut unproven = Vec::new();
                // Every state kind is proven by real restores (tests/oracle.rs).
                for (what, node) in [
                    ("namespace", h.namespace_serializer),
                    ("key", h.key_serializer),
                    ("value", h.state_serializer),
                ] {
                    let class = model
                        .graph
                        .class_name_of(node)
                        .map(|n| n.lossy())
                        .unwrap_or_default();
                    // Window namespaces and POJOs are proven by real restores (tests/oracle.rs).
                    if class.contains("kryo") || class.contains("Avro") {
                        unproven.push(format!("{what} serializer {class}"));
                    }
                }
                if !unproven.is_empty() {
                    self.warning(
                        at(&kv.name),
                        format!(
                            "native restore of {} is untested (native-formats.md §7.5)",
                            unproven.join(", ")
                        ),
                    );
                }
            }
        }
    }

    /// Flink 1.1 recorded the subtask's state size with the external files' lengths at
    /// snapshot time; a difference now means a file changed since.
    fn check_recorded_size(&mut self, base: Place, recorded: i64, now: u64, ext: &[(String, u64)]) {
        if recorded <= 0 || recorded as u64 == now {
            return;
        }
        let recorded = recorded as u64;
        let cause = match ext {
            [(path, len)] => match (recorded + len).checked_sub(now) {
                Some(expected) => format!(
                    "external state file {path} is {len} bytes, but the savepoint recorded a state size that needs it to be {expected} bytes (truncated or replaced since the savepoint was taken)"
                ),
                None => format!(
                    "external state file {path} is {len} bytes, but the savepoint's recorded state size ({recorded}) is smaller than the inline state alone"
                ),
            },
            _ => format!(
                "external state files changed since the savepoint was taken: it recorded a state size of {recorded} bytes, the handles now add up to {now} ({})",
                ext.iter()
                    .map(|(p, l)| format!("{p}: {l} bytes"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        self.problem(base, cause);
    }

    /// The size of a handle's bytes now, checking an external file on the way; `None`
    /// when it cannot be had (a problem was reported).
    fn bytes_size(
        &mut self,
        bytes: &Bytes,
        content: Content,
        place: Place,
        externals: &mut Vec<(String, u64)>,
    ) -> Option<u64> {
        match bytes {
            Bytes::Span(span) => Some(span.len),
            Bytes::External { path, .. } => {
                let (path, len) = self.external(path, content, place)?;
                externals.push((path, len));
                Some(len)
            }
        }
    }

    /// Resolves and checks an external file: its canonical path and length.
    fn external(
        &mut self,
        path: &ExternalPath,
        content: Content,
        place: Place,
    ) -> Option<(String, u64)> {
        self.summary.external_files += 1;
        let file = match self.tree.opts.policy.resolve(path) {
            Ok(f) => f,
            Err(problem) => {
                self.problem(place, format!("external state file {problem}"));
                return None;
            }
        };
        let (name, len) = (file.path().display().to_string(), file.len());
        let source: Arc<dyn Source> = Arc::new(file);
        let checked = match content {
            Content::Opaque => Ok(()),
            Content::Unserved => {
                let stream =
                    MultiStream::new(name.clone(), [Piece::range(source, Span::new(0, len))]);
                drain(&stream, &mut self.buf)
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            }
            Content::JavaStream => javaser::parse_stream(source, 0, len, &Limits::default())
                .map(|_| ())
                .map_err(|e| format!("not one complete Java serialization stream: {e}")),
            Content::RocksDb => rocksdb::check_stream(source, Span::new(0, len))
                .map(|_| ())
                .map_err(|e| format!("RocksDB snapshot stream: {e}")),
        };
        if let Err(cause) = checked {
            self.problem(place, format!("external state file {cause}"));
            return None;
        }
        Some((name, len))
    }

    /// Step 2: `_metadata` and the files it names.
    fn metadata(&mut self) -> Result<BTreeMap<String, i64>, super::Error> {
        let tree = self.tree;
        let place = Place::named(METADATA_NAME);
        let named = tree.metadata_files()?;
        if let Ok(entry) = tree.resolve(METADATA_NAME) {
            self.file(METADATA_NAME, entry.ino, None);
        }
        for (path, declared) in &named {
            match tree.resolve(path) {
                Ok(e) if !e.is_dir && e.size as i64 == *declared => {}
                Ok(e) => self.problem(
                    place.clone(),
                    format!(
                        "names {path} with size {declared}, but the tree has {} bytes there",
                        e.size
                    ),
                ),
                Err(e) => self.problem(
                    place.clone(),
                    format!("names {path}, which the tree does not have: {e}"),
                ),
            }
        }
        Ok(named)
    }

    /// Step 3: every other file, read to the end.
    fn files(&mut self, failed: &HashSet<(u32, u32)>, named: Option<&BTreeMap<String, i64>>) {
        let tree = self.tree;
        for item in tree.walk(ROOT, "") {
            let v = match item {
                Ok(v) => v,
                Err(u) => {
                    let ino = tree.resolve(&u.path).map(|e| e.ino).ok();
                    let covered = match ino.and_then(NodeRef::from_ino) {
                        Some(NodeRef::Subtask { task, sub } | NodeRef::Chain { task, sub, .. }) => {
                            failed.contains(&(task, sub))
                        }
                        _ => false,
                    };
                    if !covered {
                        let place = ino.map_or_else(|| Place::named(&u.path), |i| tree.place_of(i));
                        self.problem(place, u.error.cause());
                    }
                    continue;
                }
            };
            // Decoded views are derived from files read here; reading them would only
            // decode the same bytes again.
            if v.entry.is_dir || v.path == METADATA_NAME || tree.is_view(v.entry.ino) {
                continue;
            }
            let in_failed = match NodeRef::from_ino(v.entry.ino) {
                Some(NodeRef::File { task, sub, .. }) => failed.contains(&(task, sub)),
                _ => false,
            };
            let unnamed = named.is_some_and(|n| !n.contains_key(&v.path));
            let policy = if in_failed {
                OnFailure::Skip
            } else if unnamed {
                OnFailure::Warn
            } else {
                OnFailure::Report
            };
            self.file(&v.path, v.entry.ino, Some(policy));
        }
    }

    /// Reads one file to the end. `policy` says what a conversion failure is (`None`
    /// for `_metadata`, which was just built).
    fn file(&mut self, path: &str, ino: u64, policy: Option<OnFailure>) {
        let tree = self.tree;
        let opened = tree
            .getattr(ino)
            .and_then(|e| Ok((e.size, tree.open_file(ino)?)));
        let (size, stream) = match opened {
            Ok((size, f)) => (size, f.stream),
            Err(e) => {
                match policy {
                    Some(OnFailure::Skip) => {}
                    Some(OnFailure::Warn) => self.warning(
                        tree.place_of(ino),
                        format!("{} (not named by _metadata)", e.cause()),
                    ),
                    _ => self.problem(tree.place_of(ino), e.cause()),
                }
                return;
            }
        };
        match drain(&stream, &mut self.buf) {
            Ok(n) if n == size => {
                self.summary.files += 1;
                self.summary.bytes += n;
            }
            Ok(n) => self.problem(
                tree.place_of(ino),
                format!("{path}: read {n} bytes, but its size is {size}"),
            ),
            Err(e) => self.problem(tree.place_of(ino), format!("cannot read: {e}")),
        }
    }
}

#[derive(Clone, Copy)]
enum OnFailure {
    /// Its subtask's problem was already reported.
    Skip,
    /// `_metadata` does not name it.
    Warn,
    Report,
}

/// The handle holding the bytes, wrappers removed.
fn innermost(h: &StateHandle) -> &StateHandle {
    match h {
        StateHandle::DataInputView { inner, .. } => innermost(inner),
        other => other,
    }
}

fn add(total: &mut Option<u64>, size: Option<u64>) {
    *total = match (*total, size) {
        (Some(t), Some(s)) => t.checked_add(s),
        _ => None,
    };
}

impl Tree {
    /// Checks everything (module docs); `report` gets each problem as it is found.
    pub fn verify(&self, report: &mut dyn FnMut(Problem)) -> Summary {
        let mut v = Verifier {
            tree: self,
            report,
            summary: Summary::default(),
            buf: vec![0u8; READ_BUFFER],
        };
        let mut failed = HashSet::new();
        for (ti, t) in self.index.tasks().iter().enumerate() {
            for si in 0..t.subtasks.len() {
                v.summary.subtasks += 1;
                if v.subtask(ti as u32, si as u32) {
                    failed.insert((ti as u32, si as u32));
                }
            }
        }
        // A re-filed task's new subtasks are made from all of its old ones.
        for ti in 0..self.index.tasks().len() as u32 {
            if let Some(r) = self.rescale_of(ti)
                && failed.iter().any(|&(t, _)| t == ti)
            {
                failed.extend((0..r.parallelism).map(|sub| (ti, sub)));
            }
        }
        let named = v.metadata();
        v.files(&failed, named.as_ref().ok());
        // `_metadata` cannot be built when a file it names cannot: a consequence of
        // problems already reported, unless there are none.
        if let Err(e) = named
            && v.summary.problems == 0
        {
            v.problem(Place::named(METADATA_NAME), e.cause());
        }
        v.summary
    }

    /// Per re-filed task with keyed state: its vertex, how it is re-filed and its
    /// records per new key group (`verify` reports them). Makes each task's plan.
    pub fn key_group_histograms(&self) -> Vec<KeyGroupHistogram> {
        let mut out = Vec::new();
        for (ti, t) in self.index.tasks().iter().enumerate() {
            if let Ok(Some(r)) = self.refiled(ti as u32) {
                out.push(KeyGroupHistogram {
                    vertex: t.vertex,
                    rescale: r.rescale(),
                    records: r.records_per_key_group().to_vec(),
                });
            }
        }
        out
    }
}

/// Records per key group of a re-filed vertex.
#[derive(Clone, Debug)]
pub struct KeyGroupHistogram {
    pub vertex: crate::v0::VertexId,
    pub rescale: crate::convert::refile::Rescale,
    pub records: Vec<u64>,
}

impl KeyGroupHistogram {
    /// Records per new subtask.
    pub fn per_subtask(&self) -> Vec<u64> {
        (0..self.rescale.parallelism)
            .map(|i| match self.rescale.range(i) {
                Some((lo, hi)) => self.records[lo as usize..=hi as usize].iter().sum(),
                None => 0,
            })
            .collect()
    }
}
