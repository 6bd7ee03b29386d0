//! `_metadata` for each target. `migration`: Flink 1.2.0's in-memory conversion flattened
//! to the V1 format (legacy-formats.md §3.3–3.4, §3.14): legacy streams and the keyed-state
//! stream as file handles. `flink-1.10` / `flink-1.2`: the native layout (native-formats.md §7.2):
//! managed operator state, raw operator state and key-group handles, with 0 legacy slots
//! (stock Flink 1.4–1.10) or one null slot per chain entry (Flink 1.2/1.3 check the count).

use super::FileKind;
use super::error::Error;
use super::metadata_modern::{Layout, ModernBuilder};
use super::native::DEFAULT_OPERATOR_STATE;
use super::subtask::{ConvertedFile, ConvertedSubtask, FileResult};
use crate::source::Source;
use crate::{modern, v1};
use std::collections::{BTreeMap, HashMap};

/// A converted file, by position, for naming it in `_metadata`.
#[derive(Clone, Copy, Debug)]
pub struct FileRef<'a> {
    pub vertex: &'a [u8; 16],
    pub subtask: u32,
    pub chain: Option<usize>,
    pub kind: FileKind,
}

/// Which Flink the `_metadata` is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Target {
    /// The faithful flattening of Flink 1.2.0's migration (loads, restores only partly).
    Migration,
    /// Native state, one null legacy slot per chain entry (Flink 1.2 and 1.3).
    Flink12,
    /// Native state, no legacy slots (stock Flink 1.4 to 1.10).
    Flink110,
    /// Metadata V3 per operator, keyed proxy v6 with serializer snapshots in the canonical
    /// savepoint layout, operator proxy v5 (stock Flink 1.13+; proven on 1.20 and 2.3).
    Flink23,
}

impl Target {
    pub const ALL: [Target; 4] = [
        Target::Flink23,
        Target::Flink110,
        Target::Flink12,
        Target::Migration,
    ];

    /// What every command serves unless told otherwise.
    pub const DEFAULT: Target = Target::Flink23;

    pub fn name(self) -> &'static str {
        match self {
            Target::Migration => "migration",
            Target::Flink12 => "flink-1.2",
            Target::Flink110 => "flink-1.10",
            Target::Flink23 => "flink-2.3",
        }
    }

    pub fn parse(s: &str) -> Result<Target, String> {
        Target::ALL
            .into_iter()
            .find(|t| t.name() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = Target::ALL.iter().map(|t| t.name()).collect();
                format!("unknown target {s:?}: choose {}", names.join(", "))
            })
    }

    /// Whether `_metadata` is per operator (V2+) rather than per chain (V1).
    pub fn per_operator(self) -> bool {
        match self {
            Target::Flink23 => true,
            Target::Flink110 | Target::Flink12 | Target::Migration => false,
        }
    }

    /// The files this target's `_metadata` names.
    pub fn names(self, kind: FileKind) -> bool {
        match self {
            Target::Migration => {
                matches!(kind, FileKind::LegacyOperatorState | FileKind::KeyedState)
            }
            Target::Flink110 | Target::Flink12 => matches!(
                kind,
                FileKind::ManagedOperatorState
                    | FileKind::OperatorState
                    | FileKind::ManagedKeyedState
                    | FileKind::RawKeyedState
            ),
            Target::Flink23 => matches!(
                kind,
                FileKind::ManagedOperatorStateV5
                    | FileKind::OperatorState
                    | FileKind::ManagedKeyedStateV6
            ),
        }
    }
}

/// `_metadata` as built, and the files it names (tree paths relative to the metadata
/// root, with the size each handle declares), so nothing has to parse it back.
pub struct BuiltMetadata {
    pub bytes: Vec<u8>,
    pub files: BTreeMap<String, i64>,
}

/// Operator ids of chain entries that are not a chain head (whose id is the vertex id),
/// from `--uid` / `--operator-id`: (vertex, chain index) → operator id.
pub type OperatorIds = HashMap<([u8; 16], usize), [u8; 16]>;

/// Builds `_metadata` one subtask at a time, so only one converted subtask need be held:
/// `begin_task`, then `subtask` for each subtask in ascending index, then `finish`.
pub struct MetadataBuilder<'p> {
    checkpoint_id: i64,
    root: Option<String>,
    form: Form<'p>,
}

enum Form<'p> {
    /// Per chain (V1): the Flink 1.2-1.10 targets.
    V1 {
        target: Target,
        path_of: Box<dyn Fn(FileRef<'_>) -> String + 'p>,
        tasks: Vec<v1::TaskState>,
    },
    PerOperator(ModernBuilder<'p>),
    /// flink-1.10: per operator (V2) where every stateful operator has an id, else per
    /// chain (V1, where Flink 1.10 maps chain positions itself). Both are built.
    Either(Box<Form<'p>>, ModernBuilder<'p>),
}

pub(super) use crate::ids::hex;

impl<'p> MetadataBuilder<'p> {
    /// `path_of` gives a file's tree path; `root` is the URI prefix `_metadata` names
    /// files under (`file:/mnt/sp`), or `None` for paths relative to `_metadata`'s
    /// directory (targets that have relative handles; the others need a root).
    pub fn new(
        target: Target,
        checkpoint_id: i64,
        path_of: &'p dyn Fn(FileRef<'_>) -> String,
        root: Option<String>,
        operator_ids: &'p OperatorIds,
    ) -> Result<Self, Error> {
        let v1 = |root: &Option<String>| -> Result<Form<'p>, Error> {
            let root = root.clone().ok_or_else(|| {
                Error::metadata_shape(format!("target {} needs a metadata root", target.name()))
            })?;
            let root = root.trim_end_matches('/').to_string();
            Ok(Form::V1 {
                target,
                path_of: Box::new(move |f| format!("{root}/{}", path_of(f))),
                tasks: Vec::new(),
            })
        };
        let form = match target {
            Target::Flink23 => Form::PerOperator(ModernBuilder::new(
                Layout::FLINK_2_3,
                path_of,
                root.clone(),
                operator_ids,
            )),
            Target::Flink110 => Form::Either(
                Box::new(v1(&root)?),
                ModernBuilder::new(Layout::FLINK_1_10, path_of, root.clone(), operator_ids),
            ),
            Target::Flink12 | Target::Migration => v1(&root)?,
        };
        Ok(MetadataBuilder {
            checkpoint_id,
            root,
            form,
        })
    }

    pub fn begin_task(&mut self, vertex: [u8; 16], parallelism: u32) -> Result<(), Error> {
        let parallelism = i32::try_from(parallelism).map_err(|_| {
            Error::metadata_shape(format!(
                "vertex {}: parallelism {parallelism} too large",
                hex(&vertex)
            ))
        })?;
        Self::begin_task_in(&mut self.form, vertex, parallelism)
    }

    /// A vertex re-filed for `rescale` (per-operator targets only: V1 has no max
    /// parallelism).
    pub fn begin_rescaled_task(
        &mut self,
        vertex: [u8; 16],
        rescale: super::refile::Rescale,
    ) -> Result<(), Error> {
        match &mut self.form {
            Form::PerOperator(b) => {
                // Both are at most 32768 (Rescale::new).
                b.begin_task(
                    vertex,
                    rescale.parallelism as i32,
                    rescale.max_parallelism as i32,
                );
                Ok(())
            }
            _ => Err(Error::metadata_shape(
                "re-filed keyed state is written for --target flink-2.3 only",
            )),
        }
    }

    fn begin_task_in(form: &mut Form<'p>, vertex: [u8; 16], parallelism: i32) -> Result<(), Error> {
        match form {
            Form::PerOperator(b) => {
                b.begin_task(vertex, parallelism, parallelism);
                Ok(())
            }
            Form::Either(v1, b) => {
                b.begin_task(vertex, parallelism, parallelism);
                Self::begin_task_in(v1, vertex, parallelism)
            }
            Form::V1 { tasks, .. } => {
                check_last_task(tasks)?;
                tasks.push(v1::TaskState {
                    vertex: v1::VertexId(vertex),
                    parallelism,
                    max_parallelism: parallelism,
                    chain_length: 0,
                    subtasks: Vec::new(),
                });
                Ok(())
            }
        }
    }

    /// The next subtask of the current task (`Err`: it could not be decoded).
    pub fn subtask(
        &mut self,
        index: u32,
        converted: Result<&ConvertedSubtask, &Error>,
    ) -> Result<(), Error> {
        let converted = converted.map_err(|e| e.in_metadata())?;
        Self::subtask_in(&mut self.form, index, converted)
    }

    fn subtask_in(
        form: &mut Form<'p>,
        index: u32,
        converted: &ConvertedSubtask,
    ) -> Result<(), Error> {
        let (target, path_of, tasks) = match form {
            Form::PerOperator(b) => return b.subtask(index, converted),
            Form::Either(v1, b) => {
                b.subtask(index, converted)?;
                return Self::subtask_in(v1, index, converted);
            }
            Form::V1 {
                target,
                path_of,
                tasks,
            } => (*target, path_of, tasks),
        };
        let task = tasks
            .last_mut()
            .ok_or_else(|| Error::metadata_shape("a subtask before its task"))?;
        let vertex = task.vertex.0;
        // §3.3: the chain length is the first subtask's.
        if task.subtasks.is_empty() {
            task.chain_length = i32::try_from(converted.chain.len()).unwrap_or(i32::MAX);
        }
        let chain_length = task.chain_length as usize;
        if target != Target::Migration && converted.chain.len() != chain_length {
            return Err(Error::metadata_shape(format!(
                "vertex {} subtask {index}: chain of {} operators where the task's first subtask has {chain_length}",
                hex(&vertex),
                converted.chain.len()
            )));
        }
        let state = match target {
            Target::Migration => subtask_state(&vertex, index, converted, &**path_of)?,
            native => native_subtask_state(native, &vertex, index, converted, &**path_of)?,
        };
        task.subtasks.push((index as i32, state));
        Ok(())
    }

    pub fn finish(self) -> Result<BuiltMetadata, Error> {
        Self::finish_form(self.form, self.checkpoint_id, self.root)
    }

    fn finish_form(
        form: Form<'p>,
        checkpoint_id: i64,
        root: Option<String>,
    ) -> Result<BuiltMetadata, Error> {
        let metadata = Error::metadata_shape;
        match form {
            Form::PerOperator(b) => b.finish(checkpoint_id),
            Form::Either(v1, b) if b.missing_uid().is_some() => {
                Self::finish_form(*v1, checkpoint_id, root)
            }
            Form::Either(_, b) => b.finish(checkpoint_id),
            Form::V1 { tasks, .. } => {
                check_last_task(&tasks)?;
                let model = v1::Savepoint {
                    version: 1,
                    checkpoint_id,
                    tasks,
                };
                let mut bytes = Vec::new();
                v1::write(&model, &mut bytes).map_err(|e| metadata(e.to_string()))?;
                let root = format!("{}/", root.unwrap_or_default().trim_end_matches('/'));
                Ok(BuiltMetadata {
                    bytes,
                    files: v1_files(&model, &root),
                })
            }
        }
    }
}

/// A task with no subtask, or chain length 0, fails Flink 1.2's load (§3.3).
fn check_last_task(tasks: &[v1::TaskState]) -> Result<(), Error> {
    match tasks.last() {
        Some(t) if t.subtasks.is_empty() => Err(Error::metadata_shape(format!(
            "vertex {} has no subtask states, so its chain length is 0, which Flink 1.2 rejects",
            t.vertex
        ))),
        Some(t) if t.chain_length == 0 => Err(Error::metadata_shape(format!(
            "vertex {}: chain length 0, which Flink 1.2 rejects",
            t.vertex
        ))),
        _ => Ok(()),
    }
}

/// The files a V1 model names, relative to `root`.
fn v1_files(model: &v1::Savepoint, root: &str) -> BTreeMap<String, i64> {
    let mut out = BTreeMap::new();
    let mut add = |h: &v1::StreamHandle| {
        if let v1::StreamHandle::File { size, path } = h {
            let rel = path.strip_prefix(root).unwrap_or(path);
            out.insert(rel.to_string(), *size);
        }
    };
    for task in &model.tasks {
        for (_, st) in &task.subtasks {
            st.legacy.iter().flatten().for_each(&mut add);
            for op in st.managed_operator.iter().chain(&st.raw_operator).flatten() {
                add(&op.delegate);
            }
            for kg in st.managed_keyed.iter().chain(&st.raw_keyed) {
                add(&kg.delegate);
            }
        }
    }
    out
}

fn subtask_state(
    vertex: &[u8; 16],
    index: u32,
    converted: &ConvertedSubtask,
    path_of: &dyn Fn(FileRef<'_>) -> String,
) -> Result<v1::SubtaskState, Error> {
    let file_handle = |chain, kind, size: u64| v1::StreamHandle::File {
        size: size as i64,
        path: path_of(FileRef {
            vertex,
            subtask: index,
            chain,
            kind,
        }),
    };
    let mut legacy = Vec::with_capacity(converted.chain.len());
    for entry in &converted.chain {
        legacy.push(match entry {
            None => None,
            Some(e) => {
                let f = e
                    .legacy_operator_state
                    .as_ref()
                    .ok_or_else(|| Error::metadata_shape("a rescaled tree has no legacy state"))?
                    .as_ref()
                    .map_err(|e| e.in_metadata())?;
                Some(file_handle(
                    Some(e.index),
                    FileKind::LegacyOperatorState,
                    f.stream.len(),
                ))
            }
        });
    }
    let managed_keyed = match &converted.keyed_state {
        None => None,
        Some(Err(e)) => return Err(e.in_metadata()),
        // §3.7: key group [i, i] at offset 0 (maxParallelism = parallelism).
        Some(Ok(f)) => Some(v1::KeyGroupsHandle {
            start: index as i32,
            offsets: vec![0],
            delegate: file_handle(None, FileKind::KeyedState, f.stream.len()),
        }),
    };
    let nulls = vec![None; converted.chain.len()];
    Ok(v1::SubtaskState {
        duration: -1,
        legacy,
        managed_operator: nulls.clone(),
        raw_operator: nulls,
        managed_keyed,
        raw_keyed: None,
    })
}

/// Native layout (native-formats.md §7.2).
fn native_subtask_state(
    target: Target,
    vertex: &[u8; 16],
    index: u32,
    converted: &ConvertedSubtask,
    path_of: &dyn Fn(FileRef<'_>) -> String,
) -> Result<v1::SubtaskState, Error> {
    let handle = |chain: Option<usize>,
                  kind: FileKind,
                  f: &FileResult|
     -> Result<(v1::StreamHandle, u64), Error> {
        let f: &ConvertedFile = f.as_ref().map_err(|e| e.in_metadata())?;
        let path = path_of(FileRef {
            vertex,
            subtask: index,
            chain,
            kind,
        });
        Ok((
            v1::StreamHandle::File {
                size: f.stream.len() as i64,
                path,
            },
            f.offset,
        ))
    };
    let operator = |chain: usize,
                    kind: FileKind,
                    f: Option<&FileResult>|
     -> Result<Option<v1::OperatorHandle>, Error> {
        let Some(f) = f else { return Ok(None) };
        let (delegate, offset) = handle(Some(chain), kind, f)?;
        // A list of several elements (Kafka offsets) names each one.
        let (name, offsets) = match f {
            Ok(file) => (
                file.list_state.unwrap_or(DEFAULT_OPERATOR_STATE),
                match &file.offsets {
                    Some(o) => o.offsets.iter().map(|&o| o as i64).collect(),
                    None => vec![offset as i64],
                },
            ),
            Err(_) => (DEFAULT_OPERATOR_STATE, vec![offset as i64]),
        };
        Ok(Some(v1::OperatorHandle {
            states: vec![v1::OperatorStateEntry {
                name: name.to_string(),
                mode: v1::Mode::SplitDistribute,
                offsets,
            }],
            delegate,
        }))
    };
    let mut managed_operator = Vec::with_capacity(converted.chain.len());
    let mut raw_operator = Vec::with_capacity(converted.chain.len());
    for (k, entry) in converted.chain.iter().enumerate() {
        let (managed, raw) = match entry {
            None => (None, None),
            Some(e) => (
                operator(
                    k,
                    FileKind::ManagedOperatorState,
                    e.managed_operator_state.as_ref(),
                )?,
                // A window operator's bytes are its timers: raw keyed state below.
                match e.raw_operator_state() {
                    false => None,
                    true => operator(k, FileKind::OperatorState, e.operator_state.as_ref())?,
                },
            ),
        };
        managed_operator.push(managed);
        raw_operator.push(raw);
    }
    let managed_keyed = match &converted.managed_keyed_state {
        None => None,
        Some(f) => {
            let (delegate, offset) = handle(None, FileKind::ManagedKeyedState, f)?;
            Some(v1::KeyGroupsHandle {
                start: index as i32,
                offsets: vec![offset as i64],
                delegate,
            })
        }
    };
    // Timers: the key group [i, i] at offset 0, like the keyed state (operators.md §3.3).
    let raw_keyed = match &converted.raw_keyed_state {
        None => None,
        Some(f) => {
            let (delegate, offset) = handle(None, FileKind::RawKeyedState, f)?;
            Some(v1::KeyGroupsHandle {
                start: index as i32,
                offsets: vec![offset as i64],
                delegate,
            })
        }
    };
    let legacy = match target {
        Target::Flink12 => vec![None; converted.chain.len()],
        Target::Flink110 | Target::Migration | Target::Flink23 => Vec::new(),
    };
    Ok(v1::SubtaskState {
        duration: -1,
        legacy,
        managed_operator,
        raw_operator,
        managed_keyed,
        raw_keyed,
    })
}

impl Target {
    /// Which target a per-operator `_metadata` (V2–V6) matches: V3 or later with
    /// savepoint key-group handles is what `flink-2.3` serves, V2 with backend key-group
    /// handles what `flink-1.10` serves where every stateful operator has an id.
    pub fn infer_per_operator(m: &modern::metadata::Metadata) -> Option<Target> {
        use modern::metadata::KeyedKind;
        let all_keyed = |kind| {
            m.operators
                .iter()
                .flat_map(|o| &o.subtasks)
                .filter_map(|(_, s)| s.managed_keyed.as_ref())
                .all(|k| k.kind == kind)
        };
        match m.version {
            2 if all_keyed(KeyedKind::KeyGroups) => Some(Target::Flink110),
            3.. if all_keyed(KeyedKind::Savepoint) => Some(Target::Flink23),
            _ => None,
        }
    }

    /// Which target a V1 `_metadata` looks like it was written for, from its layout:
    /// non-null legacy handles → migration; no legacy slots → flink-1.10; one null slot
    /// per chain entry → flink-1.2. `None` when it fits none (e.g. a file Flink wrote
    /// itself with mixed slots).
    pub fn infer(sp: &v1::Savepoint) -> Option<Target> {
        let subtasks = || {
            sp.tasks
                .iter()
                .flat_map(|t| t.subtasks.iter().map(move |(_, s)| (t, s)))
        };
        if subtasks().any(|(_, s)| s.legacy.iter().any(Option::is_some)) {
            return Some(Target::Migration);
        }
        if subtasks().all(|(_, s)| s.legacy.is_empty()) {
            return Some(Target::Flink110);
        }
        if subtasks().all(|(t, s)| s.legacy.len() == t.chain_length as usize) {
            return Some(Target::Flink12);
        }
        None
    }
}
