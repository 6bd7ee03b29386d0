//! The faithful ("migration") `_metadata`: Flink 1.2.0's in-memory conversion flattened
//! to the V1 format (formats.md §3.3–3.4, §3.14). Each legacy stream and each keyed-state
//! stream becomes a file handle naming our converted file.

use super::FileKind;
use super::error::Error;
use super::subtask::ConvertedSubtask;
use crate::source::Source;
use crate::v1;

/// A converted file, by position, for naming it in `_metadata`.
#[derive(Clone, Copy, Debug)]
pub struct FileRef<'a> {
    pub vertex: &'a [u8; 16],
    pub subtask: u32,
    pub chain: Option<usize>,
    pub kind: FileKind,
}

/// One task state: its vertex, parallelism and converted subtasks in ascending index.
pub struct TaskInput<'a> {
    pub vertex: [u8; 16],
    pub parallelism: u32,
    /// `Err` for a subtask whose blob could not be decoded.
    pub subtasks: Vec<(u32, Result<&'a ConvertedSubtask, Error>)>,
}

/// Builds the V1 model. `path_of` names a file (an absolute URI, e.g. `file:/mnt/sp/...`).
pub fn migration_metadata(
    checkpoint_id: i64,
    tasks: &[TaskInput<'_>],
    path_of: &dyn Fn(FileRef<'_>) -> String,
) -> Result<v1::Savepoint, Error> {
    let mut out = Vec::with_capacity(tasks.len());
    for task in tasks {
        let vertex_hex: String = task.vertex.iter().map(|b| format!("{b:02x}")).collect();
        let parallelism = i32::try_from(task.parallelism).map_err(|_| {
            Error::Metadata(format!(
                "vertex {vertex_hex}: parallelism {} too large",
                task.parallelism
            ))
        })?;
        // §3.3: the chain length is the first subtask's; no subtask at all fails the load.
        let chain_length = match task.subtasks.first() {
            None => {
                return Err(Error::Metadata(format!(
                    "vertex {vertex_hex} has no subtask states, so its chain length is 0, which Flink 1.2 rejects"
                )));
            }
            Some((_, Err(e))) => return Err(Error::Metadata(e.to_string())),
            Some((_, Ok(s))) => s.chain.len(),
        };
        if chain_length == 0 {
            return Err(Error::Metadata(format!(
                "vertex {vertex_hex}: chain length 0, which Flink 1.2 rejects"
            )));
        }
        let mut subtasks = Vec::with_capacity(task.subtasks.len());
        for (index, converted) in &task.subtasks {
            let converted = converted
                .as_ref()
                .map_err(|e| Error::Metadata(e.to_string()))?;
            subtasks.push((
                *index as i32,
                subtask_state(&task.vertex, *index, converted, path_of)?,
            ));
        }
        out.push(v1::TaskState {
            vertex: v1::VertexId(task.vertex),
            parallelism,
            max_parallelism: parallelism,
            chain_length: chain_length as i32,
            subtasks,
        });
    }
    Ok(v1::Savepoint {
        version: 1,
        checkpoint_id,
        tasks: out,
    })
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
                    .map_err(|e| Error::Metadata(e.to_string()))?;
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
        Some(Err(e)) => return Err(Error::Metadata(e.to_string())),
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
