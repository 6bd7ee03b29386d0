//! The virtual tree (README, Design), independent of FUSE: stable inode numbers, names made
//! only from ids and indices, exact sizes before any read, and files served through the
//! multi-stream reader. Opening reads only the savepoint's outer index; a subtask is
//! decoded and converted when something under it is first looked at, and kept in a
//! byte-bounded LRU.

mod ahead;
mod cache;
mod documents;
mod error;
mod ino;
pub mod problems;
mod rescaled;
pub mod verify;
mod views;
pub mod walk;

pub use ahead::SubtaskAt;
pub use error::{Error, io_kind_errno};
pub use ino::{Ino, NodeRef, ROOT};

use crate::convert::refile::{Rescale, RescaleRequest};
use crate::convert::{
    self, ConvertOptions, ConvertedFile, ConvertedSubtask, ExternalPolicy, FileKind, KeyedLayout,
    MultiStream, Target,
};
use crate::source::Source;
use crate::stream::Piece;
use crate::v0::{SavepointIndex, SubtaskModel, VertexId};
use cache::ByteLru;
use std::sync::{Arc, OnceLock};

pub type Result<T, E = Error> = std::result::Result<T, E>;

pub const METADATA_NAME: &str = "_metadata";
pub const REPORT_NAME: &str = "savepoint.json";

#[derive(Clone, Debug)]
pub struct TreeOptions {
    /// Bound on cached converted subtasks, in bytes.
    pub cache_bytes: usize,
    /// Prefix of the paths `_metadata` names, e.g. `file:/mnt/savepoint`.
    pub metadata_root: String,
    /// Name files relative to `_metadata` instead, where the target can (the default
    /// unless a metadata root is given), so a copy of the tree is relocatable.
    pub relative_paths: bool,
    /// Operator ids of stateful chain entries that are not chain heads (`--uid`).
    pub operator_ids: convert::OperatorIds,
    /// Built-in operators the user named (`--operator`).
    pub operators: convert::OperatorOverrides,
    /// Aligned window operators to convert into WindowOperators (`--window`).
    pub windows: convert::WindowSpecs,
    pub policy: ExternalPolicy,
    /// Which Flink `_metadata` is for.
    pub target: Target,
    /// Native keyed layout (`None`: the source's own).
    pub keyed_layout: Option<KeyedLayout>,
    /// Key serializer stream for RocksDB sources (`--key-serializer`).
    pub key_serializer: Option<Arc<[u8]>>,
    /// Namespace serializers of RocksDB states (`--rocksdb-namespace`).
    pub rocksdb_namespaces: Vec<convert::rocks::NamespaceDecl>,
    /// Which converted files the tree shows (`--forms`).
    pub forms: Forms,
    /// Re-file keyed state for another max parallelism or parallelism
    /// (`--max-parallelism`, `--parallelism`; flink-2.3 only).
    pub rescale: RescaleRequest,
    /// Where re-filed records are spilled (`--spill-dir`).
    pub spill_dir: std::path::PathBuf,
}

/// Which converted files a tree shows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Forms {
    /// Only those the target's `_metadata` names (plus `savepoint.json`): a copy of the
    /// tree is then exactly a savepoint directory, without the other targets' forms.
    #[default]
    Target,
    /// Every form of every state, for every target.
    All,
}

impl Forms {
    pub fn parse(s: &str) -> Result<Forms, String> {
        match s {
            "target" => Ok(Forms::Target),
            "all" => Ok(Forms::All),
            _ => Err(format!("{s:?}: expected target or all")),
        }
    }
}

impl TreeOptions {
    pub const DEFAULT_CACHE_BYTES: usize = 256 << 20;
}

/// A directory entry or `stat` result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub ino: Ino,
    pub name: String,
    pub is_dir: bool,
    /// Exact length for files; 0 for directories and for files that fail to convert.
    pub size: u64,
    /// A file whose conversion failed: it is listed, and reading it reports why.
    pub failed: bool,
}

/// A directory entry without its size (see [`Tree::list`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listed {
    pub ino: Ino,
    pub name: String,
    pub is_dir: bool,
}

/// Whether the tree lists a converted file: not when the options given cannot produce
/// it (it needs `--key-serializer`, `--uid`, ...). Files that fail on damaged input are
/// listed and fail on read, naming the damage.
fn servable((_, f): &(FileKind, &crate::convert::FileResult)) -> bool {
    !matches!(f, Err(convert::Error::NeedsOption { .. }))
}

fn is_dir(node: NodeRef) -> bool {
    matches!(
        node,
        NodeRef::Root
            | NodeRef::Vertex { .. }
            | NodeRef::Subtask { .. }
            | NodeRef::Chain { .. }
            | NodeRef::ViewDir { .. }
    )
}

/// An open file: its bytes stay readable whatever the cache evicts.
pub struct OpenFile {
    pub stream: Arc<MultiStream>,
}

type Converted = Result<ConvertedSubtask, convert::Error>;

/// The served `_metadata` and the files it names.
#[derive(Clone)]
struct Metadata {
    stream: Arc<MultiStream>,
    files: Arc<std::collections::BTreeMap<String, i64>>,
}

pub struct Tree {
    index: SavepointIndex,
    opts: TreeOptions,
    convert: ConvertOptions,
    cache: ByteLru<(u32, u32), Converted>,
    /// Keyed views per (task, subtask), built on first use.
    views: ByteLru<(u32, u32), views::ViewsEntry>,
    /// Rendered function state views per (task, subtask, chain entry).
    function_views: ByteLru<(u32, u32, u32), MultiStream>,
    metadata: OnceLock<Result<Metadata, convert::Error>>,
    report: OnceLock<Arc<MultiStream>>,
    /// Per task: how it is re-filed (`None`: it keeps its shape), and its plan once made.
    rescales: Vec<Option<Rescale>>,
    plans: Vec<OnceLock<Result<Arc<rescaled::TaskPlan>, convert::Error>>>,
}

/// Cache keys of a re-filed task's source subtasks (as converted from the 1.1 file).
const SOURCE_SUBTASK: u32 = 1 << 31;

impl Tree {
    /// Opens a savepoint, reading its outer index only.
    pub fn open(source: Arc<dyn Source>, opts: TreeOptions) -> Result<Tree> {
        let index = SavepointIndex::open(source)?;
        if index.tasks().len() > ino::MAX_TASKS
            || index
                .tasks()
                .iter()
                .any(|t| t.subtasks.len() > ino::MAX_SUBTASKS)
        {
            return Err(Error::TooLarge(format!(
                "{}: more than {} task states or {} subtasks per task",
                index.source().name(),
                ino::MAX_TASKS,
                ino::MAX_SUBTASKS
            )));
        }
        let mut rescales = Vec::with_capacity(index.tasks().len());
        for t in index.tasks() {
            let r = opts
                .rescale
                .for_vertex(t.parallelism)
                .map_err(|e| Error::BadOptions(format!("vertex {}: {e}", t.vertex)))?;
            if r.is_some() && opts.target != Target::Flink23 {
                return Err(Error::BadOptions(format!(
                    "--max-parallelism and --parallelism re-file keyed state for --target flink-2.3 only, not {}",
                    opts.target.name()
                )));
            }
            rescales.push(r);
        }
        let plans = (0..rescales.len()).map(|_| OnceLock::new()).collect();
        let cache = ByteLru::new(opts.cache_bytes);
        let views = ByteLru::new(opts.cache_bytes / 4);
        let function_views = ByteLru::new(opts.cache_bytes / 4);
        let convert = ConvertOptions {
            policy: opts.policy.clone(),
            key_serializer: opts.key_serializer.clone(),
            rocksdb_namespaces: opts.rocksdb_namespaces.clone(),
            keyed_layout: opts.keyed_layout,
            target: Some(opts.target),
            operators: opts.operators.clone(),
            windows: opts.windows.clone(),
        };
        Ok(Tree {
            index,
            opts,
            convert,
            cache,
            views,
            function_views,
            metadata: OnceLock::new(),
            report: OnceLock::new(),
            rescales,
            plans,
        })
    }

    /// How task `task` is re-filed, if it is.
    fn rescale_of(&self, task: u32) -> Option<Rescale> {
        self.rescales.get(task as usize).copied().flatten()
    }

    /// Subtasks task `task` has in the tree: the new parallelism if it is re-filed.
    fn subtask_count(&self, task: u32) -> Result<u32> {
        Ok(match self.rescale_of(task) {
            Some(r) => r.parallelism,
            None => self.subtask_task(task)?.subtasks.len() as u32,
        })
    }

    pub fn index(&self) -> &SavepointIndex {
        &self.index
    }

    /// (entries, bytes) in the subtask cache.
    pub fn cache_usage(&self) -> (usize, usize) {
        self.cache.usage()
    }

    /// The converted subtask at (task position, subtask position), from the cache or
    /// decoded now; in a re-filed task, the new subtask `sub`.
    pub fn subtask(&self, task: u32, sub: u32) -> Result<Arc<Converted>> {
        let Some(rescale) = self.rescale_of(task) else {
            return self.source_subtask(task, sub);
        };
        if sub >= rescale.parallelism {
            return Err(Error::NotFound(format!("task {task} subtask {sub}")));
        }
        self.cache.get_or_make(&(task, sub), || {
            let converted = self.rescaled_subtask(task, sub)?;
            let cost = converted.as_ref().map_or(256, ConvertedSubtask::heap_bytes);
            Ok((converted, cost))
        })
    }

    /// A 1.1 subtask converted as it is (what a re-filed task is made from).
    fn source_subtask(&self, task: u32, sub: u32) -> Result<Arc<Converted>> {
        let key = match self.rescale_of(task) {
            Some(_) => (task, sub | SOURCE_SUBTASK),
            None => (task, sub),
        };
        let (t, s) = self.subtask_entry(task, sub)?;
        self.cache.get_or_make(&key, || {
            Ok(match SubtaskModel::decode(&self.index, t, s) {
                Ok(model) if model.chain.len() > ino::MAX_CHAIN => {
                    let e = convert::Error::NotMigratable {
                        location: convert::FileLocation::new(model.location.clone(), ""),
                        reason: format!(
                            "chain of {} operators, more than {} supported",
                            model.chain.len(),
                            ino::MAX_CHAIN
                        ),
                    };
                    (Err(e), 256)
                }
                Ok(model) => {
                    let c = convert::convert_subtask(&model, t.parallelism, &self.convert);
                    // The graph is dropped here: only the converted pieces are kept.
                    let cost = c.heap_bytes();
                    (Ok(c), cost)
                }
                Err(e) => {
                    log::warn!("{e}");
                    (Err(convert::Error::Decode(Arc::new(e))), 256)
                }
            })
        })
    }

    fn subtask_entry(
        &self,
        task: u32,
        sub: u32,
    ) -> Result<(&crate::v0::TaskEntry, &crate::v0::SubtaskEntry)> {
        let t = self
            .index
            .tasks()
            .get(task as usize)
            .ok_or_else(|| Error::NotFound(format!("task {task}")))?;
        let s = t
            .subtasks
            .get(sub as usize)
            .ok_or_else(|| Error::NotFound(format!("task {task} subtask {sub}")))?;
        Ok((t, s))
    }

    fn converted(&self, task: u32, sub: u32) -> Result<Arc<Converted>> {
        let c = self.subtask(task, sub)?;
        if let Err(e) = c.as_ref() {
            return Err(Error::Convert(e.clone()));
        }
        Ok(c)
    }

    /// The name of a node (not its path).
    pub fn name(&self, node: NodeRef) -> Result<String> {
        Ok(match node {
            NodeRef::Root => String::new(),
            NodeRef::Metadata => METADATA_NAME.into(),
            NodeRef::Report => REPORT_NAME.into(),
            NodeRef::Vertex { task } => self.subtask_task(task)?.vertex.to_string(),
            NodeRef::Subtask { task, sub } if self.rescale_of(task).is_some() => {
                layout::subtask_dir(sub)
            }
            NodeRef::Subtask { task, sub } => {
                layout::subtask_dir(self.subtask_entry(task, sub)?.1.index)
            }
            NodeRef::Chain { chain, .. } => layout::chain_dir(chain as usize),
            NodeRef::File { kind, .. } => kind.file_name().into(),
            NodeRef::ViewDir { .. } | NodeRef::StateView { .. } | NodeRef::FunctionView { .. } => {
                self.view_name(node)?
            }
        })
    }

    fn subtask_task(&self, task: u32) -> Result<&crate::v0::TaskEntry> {
        self.index
            .tasks()
            .get(task as usize)
            .ok_or_else(|| Error::NotFound(format!("task {task}")))
    }

    /// A converted file by position, or why it cannot be had.
    fn converted_file(
        &self,
        task: u32,
        sub: u32,
        chain: Option<u32>,
        kind: FileKind,
    ) -> Result<ConvertedFile> {
        let c = self.converted(task, sub)?;
        let conv = c.as_ref().as_ref().map_err(|e| Error::Convert(e.clone()))?;
        let file = conv.file(chain.map(|c| c as usize), kind).ok_or_else(|| {
            Error::NotFound(format!(
                "task {task} subtask {sub} chain {chain:?} {}",
                kind.file_name()
            ))
        })?;
        file.clone().map_err(Error::Convert)
    }

    /// The file's converted stream, or why it cannot be had.
    fn file_stream(&self, node: NodeRef) -> Result<Arc<MultiStream>> {
        match node {
            NodeRef::Metadata => Ok(self.metadata_stream()?),
            NodeRef::Report => Ok(self.report_stream()),
            NodeRef::File {
                task,
                sub,
                chain,
                kind,
            } => Ok(self.converted_file(task, sub, chain, kind)?.stream),
            NodeRef::StateView { .. } | NodeRef::FunctionView { .. } => self.view_stream(node),
            _ => Err(Error::IsADirectory(self.name(node)?)),
        }
    }

    /// `stat`: exact sizes for files (converting the subtask if needed).
    pub fn getattr(&self, ino: Ino) -> Result<Entry> {
        let node = NodeRef::from_ino(ino).ok_or_else(|| Error::NotFound(format!("inode {ino}")))?;
        let name = self.name(node)?;
        match node {
            NodeRef::Root | NodeRef::Vertex { .. } | NodeRef::Subtask { .. } => Ok(Entry {
                ino,
                name,
                is_dir: true,
                size: 0,
                failed: false,
            }),
            NodeRef::ViewDir { .. } => Ok(Entry {
                ino,
                name,
                is_dir: true,
                size: 0,
                failed: false,
            }),
            NodeRef::Chain { task, sub, chain } => {
                let c = self.converted(task, sub)?;
                match c.as_ref() {
                    Ok(conv) if conv.entry(chain as usize).is_some() => Ok(Entry {
                        ino,
                        name,
                        is_dir: true,
                        size: 0,
                        failed: false,
                    }),
                    _ => Err(Error::NotFound(name)),
                }
            }
            _ => {
                let (size, failed) = match self.file_stream(node) {
                    Ok(s) => (s.len(), false),
                    // A file that fails to convert still exists; opening it reports why.
                    Err(Error::Convert(_)) => (0, true),
                    Err(e) => return Err(e),
                };
                Ok(Entry {
                    ino,
                    name,
                    is_dir: false,
                    size,
                    failed,
                })
            }
        }
    }

    /// Directory listing in a stable order.
    pub fn children(&self, ino: Ino) -> Result<Vec<Entry>> {
        self.child_nodes(ino)?
            .into_iter()
            .map(|n| self.getattr(n.ino()))
            .collect()
    }

    /// Directory listing without sizes: names, inode numbers and types only. Listing the
    /// root this way does not build `_metadata` (which converts every subtask).
    pub fn list(&self, ino: Ino) -> Result<Vec<Listed>> {
        self.child_nodes(ino)?
            .into_iter()
            .map(|n| {
                Ok(Listed {
                    ino: n.ino(),
                    name: self.name(n)?,
                    is_dir: is_dir(n),
                })
            })
            .collect()
    }

    /// Whether `getattr(ino)` costs no more than converting the node's own subtask:
    /// false for `_metadata` and `savepoint.json` until first built (each decodes every
    /// subtask), so a directory listing can leave their sizes for an explicit `stat`.
    pub fn attr_is_cheap(&self, ino: Ino) -> bool {
        match NodeRef::from_ino(ino) {
            Some(NodeRef::Metadata) => self.metadata.get().is_some(),
            Some(NodeRef::Report) => self.report.get().is_some(),
            _ => true,
        }
    }

    fn child_nodes(&self, ino: Ino) -> Result<Vec<NodeRef>> {
        let node = NodeRef::from_ino(ino).ok_or_else(|| Error::NotFound(format!("inode {ino}")))?;
        let nodes: Vec<NodeRef> = match node {
            NodeRef::Root => [NodeRef::Metadata, NodeRef::Report]
                .into_iter()
                .chain((0..self.index.tasks().len() as u32).map(|task| NodeRef::Vertex { task }))
                .collect(),
            NodeRef::Vertex { task } => (0..self.subtask_count(task)?)
                .map(|sub| NodeRef::Subtask { task, sub })
                .collect(),
            NodeRef::Subtask { task, sub } => {
                let c = self.converted(task, sub)?;
                let conv = c.as_ref().as_ref().map_err(|e| Error::Convert(e.clone()))?;
                // A chain entry whose files are all of forms not shown is not listed.
                let mut v: Vec<NodeRef> = conv
                    .chain
                    .iter()
                    .flatten()
                    .filter(|e| e.files().any(|f| self.shows(Some(e), &f)))
                    .map(|e| NodeRef::Chain {
                        task,
                        sub,
                        chain: e.index as u32,
                    })
                    .collect();
                v.extend(
                    conv.subtask_files()
                        .filter(|f| self.shows(None, f))
                        .map(|(kind, _)| NodeRef::File {
                            task,
                            sub,
                            chain: None,
                            kind,
                        }),
                );
                v.extend(self.subtask_view_nodes(task, sub)?);
                v
            }
            NodeRef::ViewDir { task, sub } => self.view_dir_nodes(task, sub)?,
            NodeRef::Chain { task, sub, chain } => {
                let c = self.converted(task, sub)?;
                let conv = c.as_ref().as_ref().map_err(|e| Error::Convert(e.clone()))?;
                let e = conv
                    .entry(chain as usize)
                    .ok_or_else(|| Error::NotFound(layout::chain_dir(chain as usize)))?;
                let mut v: Vec<NodeRef> = e
                    .files()
                    .filter(|f| self.shows(Some(e), f))
                    .map(|(kind, _)| NodeRef::File {
                        task,
                        sub,
                        chain: Some(chain),
                        kind,
                    })
                    .collect();
                v.extend(self.chain_view_nodes(task, sub, chain));
                v
            }
            _ => return Err(Error::NotADirectory(self.name(node)?)),
        };
        Ok(nodes)
    }

    /// A child by name (only that child's size is computed).
    pub fn lookup(&self, parent: Ino, name: &str) -> Result<Entry> {
        let not_found = || Error::NotFound(name.to_string());
        // Names are made from ids and indices, so the big directories (the root's
        // vertices, a vertex's subtasks) parse them back instead of listing.
        let direct = match NodeRef::from_ino(parent) {
            Some(NodeRef::Root) => Some(match name {
                METADATA_NAME => NodeRef::Metadata,
                REPORT_NAME => NodeRef::Report,
                hex => {
                    let vertex = VertexId::from_hex(hex)
                        .filter(|v| v.to_string() == hex)
                        .ok_or_else(not_found)?;
                    let task = self
                        .index
                        .tasks()
                        .iter()
                        .position(|t| t.vertex == vertex)
                        .ok_or_else(not_found)?;
                    NodeRef::Vertex { task: task as u32 }
                }
            }),
            Some(NodeRef::Vertex { task }) if self.rescale_of(task).is_some() => {
                let index = layout::parse_subtask_dir(name).ok_or_else(not_found)?;
                if index >= self.subtask_count(task)? {
                    return Err(not_found());
                }
                Some(NodeRef::Subtask { task, sub: index })
            }
            Some(NodeRef::Vertex { task }) => {
                let index = layout::parse_subtask_dir(name).ok_or_else(not_found)?;
                let subtasks = &self.subtask_task(task)?.subtasks;
                let sub = subtasks
                    .iter()
                    .position(|s| s.index == index)
                    .ok_or_else(not_found)?;
                Some(NodeRef::Subtask {
                    task,
                    sub: sub as u32,
                })
            }
            _ => None,
        };
        let ino = match direct {
            Some(node) => node.ino(),
            None => match self.list(parent)?.into_iter().find(|e| e.name == name) {
                Some(e) => e.ino,
                None => return Err(self.unlisted(parent, name).unwrap_or_else(not_found)),
            },
        };
        self.getattr(ino)
    }

    /// Whether the tree lists a converted file (of chain entry `entry`, if not a
    /// subtask's): one the options can produce, of a form `--forms` shows.
    fn shows(
        &self,
        entry: Option<&crate::convert::ConvertedEntry>,
        f: &(FileKind, &crate::convert::FileResult),
    ) -> bool {
        let target = self.opts.target;
        let named = match entry {
            Some(e) => e.named_by(target, f.0),
            None => target.names(f.0),
        };
        servable(f) && (self.opts.forms == Forms::All || named)
    }

    /// Why a file of this name is not listed: the options given cannot produce it (`cat`
    /// then says what to pass), or it is of a form `--forms` hides.
    fn unlisted(&self, parent: Ino, name: &str) -> Option<Error> {
        let (task, sub, chain) = match NodeRef::from_ino(parent)? {
            NodeRef::Subtask { task, sub } => (task, sub, None),
            NodeRef::Chain { task, sub, chain } => (task, sub, Some(chain as usize)),
            _ => return None,
        };
        let c = self.converted(task, sub).ok()?;
        let conv = c.as_ref().as_ref().ok()?;
        let (_, kind, f) = conv
            .files()
            .find(|(ch, kind, _)| *ch == chain && kind.file_name() == name)?;
        match f {
            Err(e) if !servable(&(kind, f)) => Some(Error::Unserved {
                name: name.to_string(),
                cause: Box::new(e.clone()),
            }),
            _ => Some(Error::NotShown(name.to_string())),
        }
    }

    /// A node by slash-separated path from the root (`""` or `"/"` is the root).
    pub fn resolve(&self, path: &str) -> Result<Entry> {
        let mut entry = self.getattr(ROOT)?;
        for part in path.split('/').filter(|p| !p.is_empty() && *p != ".") {
            if !entry.is_dir {
                return Err(Error::NotADirectory(entry.name));
            }
            entry = self.lookup(entry.ino, part)?;
        }
        Ok(entry)
    }

    pub fn open_file(&self, ino: Ino) -> Result<OpenFile> {
        let node = NodeRef::from_ino(ino).ok_or_else(|| Error::NotFound(format!("inode {ino}")))?;
        Ok(OpenFile {
            stream: self.file_stream(node)?,
        })
    }

    /// Provenance, as extended attributes: where the bytes come from and which Flink 1.1
    /// handle they were.
    pub fn xattrs(&self, ino: Ino) -> Result<Vec<(&'static str, String)>> {
        let node = NodeRef::from_ino(ino).ok_or_else(|| Error::NotFound(format!("inode {ino}")))?;
        let stream = match self.file_stream(node) {
            Ok(s) => s,
            Err(Error::IsADirectory(_)) => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let savepoint = self.index.source().name();
        let source = stream
            .pieces()
            .iter()
            .map(|p| match p {
                Piece::Bytes(b) => format!("generated({})", b.len()),
                Piece::Range { source, span } if source.name() == savepoint => {
                    format!("savepoint@{}+{}", span.start, span.len)
                }
                Piece::Range { source, span } => {
                    format!("{}@{}+{}", source.name(), span.start, span.len)
                }
            })
            .collect::<Vec<_>>()
            .join(" ");
        let handle = match node {
            NodeRef::Metadata => format!(
                "generated: savepoint metadata for --target {}",
                self.opts.target.name()
            ),
            NodeRef::Report => "generated: inspect --json".to_string(),
            NodeRef::File {
                task,
                sub,
                chain,
                kind,
            } => self
                .converted_file(task, sub, chain, kind)
                .map(|f| f.handle)
                .unwrap_or_default(),
            NodeRef::StateView { .. } | NodeRef::FunctionView { .. } => {
                "decoded view (JSON), not named by _metadata".to_string()
            }
            _ => String::new(),
        };
        Ok(vec![
            ("user.savepointfs.source", source),
            ("user.savepointfs.handle", handle),
        ])
    }
}

/// The tree's layout: where each converted file lives.
pub mod layout;
