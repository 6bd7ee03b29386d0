//! `verify`: everything a restore would need, checked before anyone relies on it.
//!
//! 1. Per subtask: the blob decodes; what Flink 1.2 could not migrate
//!    (`SubtaskModel::migration_problems`); every external state file resolves inside
//!    the allowed roots and is a readable regular file; contents whose end is knowable
//!    are walked to it (a `FileSerializableStateHandle` file is one complete Java
//!    stream, a RocksDB fully-async stream is well framed to its last byte); and the
//!    subtask's state size as Flink 1.1 recorded it (formats.md §2.6: inline lengths
//!    plus file lengths at snapshot time) still equals what the files add up to now,
//!    which is what catches an external file truncated or replaced since.
//! 2. Every file of the tree is converted and read to the end through the multi-stream
//!    reader, and yields exactly its `stat` size.
//! 3. `_metadata` is built and read back with our V1 reader.
//!
//! A cause is reported once: a file whose conversion fails for a reason step 1 already
//! reported for its subtask is not reported again.

mod rocksdb;

pub use rocksdb::{RocksDbSummary, check_stream as check_rocksdb_stream};

use super::{METADATA_NAME, NodeRef, ROOT, Tree};
use crate::javaser::{self, Limits};
use crate::source::{Source, Span};
use crate::stream::{MultiStream, Piece};
use crate::v0::{Bytes, ExternalPath, KvSnapshot, StateHandle, SubtaskModel, VertexId};
use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;

/// Where a problem is, as precisely as known.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Place {
    pub vertex: Option<VertexId>,
    pub subtask: Option<u32>,
    pub chain: Option<usize>,
    /// A tree file name, or what inside the chain entry (`keyed state "count"`).
    pub what: Option<String>,
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if let Some(v) = &self.vertex {
            parts.push(format!("vertex {v}"));
        }
        if let Some(s) = self.subtask {
            parts.push(format!("subtask {s}"));
        }
        if let Some(c) = self.chain {
            parts.push(format!("chain {c}"));
        }
        if let Some(w) = &self.what {
            parts.push(w.clone());
        }
        if parts.is_empty() {
            parts.push("savepoint".into());
        }
        f.write_str(&parts.join(" "))
    }
}

/// One problem: `vertex <hex> subtask <i> chain <k> <file>: cause`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub place: Place,
    pub cause: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.place, self.cause)
    }
}

/// What was checked.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    pub subtasks: usize,
    /// Tree files read to the end (`_metadata` included).
    pub files: usize,
    pub bytes: u64,
    /// External file references checked.
    pub external_files: usize,
    pub problems: usize,
}

/// How an external file's content can be checked beyond its existence.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Content {
    /// Opaque bytes (read in step 2 through the tree file that serves them).
    Opaque,
    /// Opaque bytes no tree file serves (a filesystem-backend keyed-state snapshot
    /// file, named by path inside `keyed-state`): read it here.
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
        for p in model.migration_problems() {
            let place = Place {
                what: Some("keyed-state".into()),
                ..base.clone()
            };
            self.problem(place, p);
        }
        let savepoint = index.source().clone();
        // Sizes per formats.md §2.6, with external lengths as they are now.
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
                    StateHandle::FileSerializable { .. } => Content::JavaStream,
                    _ => Content::Opaque,
                };
                let size = self.bytes_size(&h.bytes(), content, at(what.into()), &mut externals);
                add(&mut now_size, size);
            }
            for kv in &e.kv_states {
                let what = format!("keyed state {:?}", kv.name);
                match &kv.snapshot {
                    KvSnapshot::Heap(heap) => {
                        let size =
                            self.bytes_size(&heap.data, Content::Unserved, at(what), &mut externals);
                        add(&mut now_size, size);
                    }
                    KvSnapshot::RocksDbFullyAsync { state_handle, .. } => {
                        let size = self.bytes_size(
                            &state_handle.bytes(),
                            Content::RocksDb,
                            at(what.clone()),
                            &mut externals,
                        );
                        if let (Some(_), Bytes::Span(span)) = (size, state_handle.bytes()) {
                            if let Err(cause) = rocksdb::check_stream(savepoint.clone(), span) {
                                self.problem(at(what), format!("RocksDB snapshot stream: {cause}"));
                            }
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
                let stream = MultiStream::new(name.clone(), [Piece::range(source, Span::new(0, len))]);
                drain(&stream, &mut self.buf).map(|_| ()).map_err(|e| e.to_string())
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

    /// Step 2 and 3.
    fn files(&mut self, failed: &HashSet<(u32, u32)>) {
        let tree = self.tree;
        let root = match tree.getattr(ROOT) {
            Ok(r) => r,
            Err(e) => return self.problem(Place::default(), e.to_string()),
        };
        for item in tree.walk(root, "") {
            let v = match item {
                Ok(v) => v,
                Err(u) => {
                    let node = subtask_of_path(tree, &u.path);
                    if !node.is_some_and(|(t, s)| failed.contains(&(t, s))) {
                        self.problem(self.place_of_path(&u.path), u.error.to_string());
                    }
                    continue;
                }
            };
            if v.entry.is_dir || v.entry.name == METADATA_NAME {
                continue;
            }
            self.file(&v.path, v.entry.ino, v.entry.size, failed);
        }
        // `_metadata` cannot be built when a file it names cannot; that is a
        // consequence of problems already reported, not a new one.
        let earlier = self.summary.problems;
        let place = Place {
            what: Some(METADATA_NAME.into()),
            ..Place::default()
        };
        let stream = match tree.resolve(METADATA_NAME).and_then(|e| tree.open_file(e.ino)) {
            Ok(f) => f.stream,
            Err(e) if earlier == 0 => return self.problem(place, e.to_string()),
            Err(_) => return,
        };
        match drain(&stream, &mut self.buf) {
            Ok(n) => {
                self.summary.files += 1;
                self.summary.bytes += n;
            }
            Err(e) => return self.problem(place, format!("cannot read: {e}")),
        }
        if let Err(e) = crate::v1::read(&*stream) {
            self.problem(place, format!("does not read back as a V1 savepoint: {e}"));
        }
    }

    fn place_of_path(&self, path: &str) -> Place {
        let node = self.tree.resolve(path).ok().and_then(|e| NodeRef::from_ino(e.ino));
        let what = path.rsplit('/').next().map(str::to_string);
        let (task, sub, chain) = match node {
            Some(NodeRef::File { task, sub, chain, .. }) => (task, Some(sub), chain),
            Some(NodeRef::Chain { task, sub, chain }) => (task, Some(sub), Some(chain)),
            Some(NodeRef::Subtask { task, sub }) => (task, Some(sub), None),
            Some(NodeRef::Vertex { task }) => (task, None, None),
            _ => {
                return Place {
                    what,
                    ..Place::default()
                };
            }
        };
        let t = self.tree.index.tasks().get(task as usize);
        Place {
            vertex: t.map(|t| t.vertex),
            subtask: sub.and_then(|s| t?.subtasks.get(s as usize)).map(|s| s.index),
            chain: chain.map(|c| c as usize),
            what: match node {
                Some(NodeRef::File { .. }) => what,
                _ => None,
            },
        }
    }

    fn file(&mut self, path: &str, ino: u64, size: u64, failed: &HashSet<(u32, u32)>) {
        let in_failed = match NodeRef::from_ino(ino) {
            Some(NodeRef::File { task, sub, .. }) => failed.contains(&(task, sub)),
            _ => false,
        };
        let stream = match self.tree.open_file(ino) {
            Ok(f) => f.stream,
            Err(e) => {
                if !in_failed {
                    self.problem(self.place_of_path(path), e.to_string());
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
                self.place_of_path(path),
                format!("read {n} bytes, but its size is {size}"),
            ),
            Err(e) => self.problem(self.place_of_path(path), format!("cannot read: {e}")),
        }
    }
}

/// The (task, subtask) positions a tree path lies under, if any.
fn subtask_of_path(tree: &Tree, path: &str) -> Option<(u32, u32)> {
        let mut parts = path.split('/').filter(|p| !p.is_empty());
        let vertex = parts.next()?;
        let subtask = parts.next()?;
        let task = tree
            .index
            .tasks()
            .iter()
            .position(|t| t.vertex.to_string() == vertex)?;
        let index: u32 = subtask.strip_prefix("subtask-")?.parse().ok()?;
        let sub = tree.index.tasks()[task]
            .subtasks
            .iter()
            .position(|s| s.index == index)?;
        Some((task as u32, sub as u32))
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
        v.files(&failed);
        v.summary
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_read_like_tree_paths() {
        let p = Place {
            vertex: Some(VertexId([0xab; 16])),
            subtask: Some(3),
            chain: Some(1),
            what: Some("legacy-operator-state".into()),
        };
        assert_eq!(
            Problem {
                place: p,
                cause: "gone".into()
            }
            .to_string(),
            format!("vertex {} subtask 3 chain 1 legacy-operator-state: gone", "ab".repeat(16))
        );
        let m = Place {
            what: Some("_metadata".into()),
            ..Place::default()
        };
        assert_eq!(m.to_string(), "_metadata");
    }
}
