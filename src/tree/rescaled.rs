//! A task re-filed for `--max-parallelism`/`--parallelism` (convert::refile): it has
//! the new number of subtasks. A new subtask's keyed stream comes from the task's
//! re-filed records; its operator state from the old subtasks that Flink's round-robin
//! split of `SPLIT_DISTRIBUTE` state gives it (`RoundRobinOperatorStateRepartitioner`:
//! contiguous runs of the old partitions, the first runs one longer), merged into one
//! file per kind with one list element per old subtask. Only the target's forms exist.

use super::{Converted, Error, Result, Tree};
use crate::convert::refile::{Input, RefileBuilder, Refiled};
use crate::convert::{
    self, ConvertedEntry, ConvertedFile, ConvertedSubtask, FileKind, FileResult, Offsets,
};
use crate::source::{Source, Span};
use crate::stream::{MultiStream, Piece};
use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::Arc;

/// The operator-state kinds a re-filed subtask has (those `flink-2.3` names).
const OPERATOR_KINDS: [FileKind; 2] = [FileKind::ManagedOperatorStateV5, FileKind::OperatorState];

/// What one pass over a task's old subtasks found.
pub(super) struct TaskPlan {
    /// Chain length of the task's subtasks.
    chain_len: usize,
    /// Per (chain index, kind): the old subtasks that have such a file, in order (each
    /// is one partition of `_default_`).
    partitions: BTreeMap<(usize, FileKind), Vec<u32>>,
    /// The re-filed keyed state; `None` without any.
    keyed: Option<Arc<Refiled>>,
}

/// The old partitions `0..total` new subtask `index` of `parallelism` gets, as Flink
/// splits one named `SPLIT_DISTRIBUTE` state.
pub fn split(total: usize, parallelism: usize, index: usize) -> Range<usize> {
    let base = total / parallelism.max(1);
    let extra = total % parallelism.max(1);
    let start = index * base + index.min(extra);
    start..start + base + usize::from(index < extra)
}

impl Tree {
    /// The plan of re-filed task `task`, made by one pass over its old subtasks.
    fn plan(&self, task: u32) -> Result<Arc<TaskPlan>> {
        let slot = self
            .plans
            .get(task as usize)
            .ok_or_else(|| Error::NotFound(format!("task {task}")))?;
        slot.get_or_init(|| self.make_plan(task))
            .clone()
            .map_err(Error::Convert)
    }

    fn make_plan(&self, task: u32) -> Result<Arc<TaskPlan>, convert::Error> {
        let shape = |e: Error| match e {
            Error::Convert(c) => c,
            other => convert::Error::metadata_shape(other.to_string()),
        };
        let Some(rescale) = self.rescale_of(task) else {
            return Err(convert::Error::metadata_shape(
                "a task that keeps its shape",
            ));
        };
        let old = self.subtask_task(task).map_err(shape)?.subtasks.len() as u32;
        let mut builder = RefileBuilder::new(rescale, &self.opts.spill_dir)
            .map_err(convert::Error::metadata_shape)?;
        let mut partitions: BTreeMap<(usize, FileKind), Vec<u32>> = BTreeMap::new();
        let mut chain_len = 0;
        for sub in 0..old {
            let c = self.source_subtask(task, sub).map_err(shape)?;
            let conv = c.as_ref().as_ref().map_err(Clone::clone)?;
            chain_len = chain_len.max(conv.chain.len());
            for entry in conv.chain.iter().flatten() {
                for (kind, _) in entry.files().filter(|(k, _)| OPERATOR_KINDS.contains(k)) {
                    partitions.entry((entry.index, kind)).or_default().push(sub);
                }
            }
            let Some(keyed) = &conv.managed_keyed_state_v6 else {
                continue;
            };
            let file = keyed.as_ref().map_err(Clone::clone)?;
            let info = file.keyed.as_ref().ok_or_else(|| {
                convert::Error::metadata_shape("a keyed stream without its header facts")
            })?;
            let location = convert::FileLocation::new(
                self.subtask_location(task, sub),
                FileKind::ManagedKeyedStateV6.file_name(),
            );
            builder.add(&Input {
                stream: &file.stream,
                body: file.offset,
                info,
                location: &location,
            })?;
        }
        Ok(Arc::new(TaskPlan {
            chain_len,
            partitions,
            keyed: builder.finish()?.map(Arc::new),
        }))
    }

    /// The 1.1 place of an old subtask, for errors.
    fn subtask_location(&self, task: u32, sub: u32) -> crate::v0::Location {
        let (t, s) = match self.subtask_entry(task, sub) {
            Ok(e) => e,
            Err(_) => return crate::v0::Location::default(),
        };
        crate::v0::Location {
            task: Some((task as usize, t.vertex)),
            entry: Some(sub as usize),
            subtask: Some(s.index),
            ..Default::default()
        }
    }

    /// Keyed records of the task re-filed, if it is re-filed and has keyed state.
    pub fn refiled(&self, task: u32) -> Result<Option<Arc<Refiled>>> {
        if self.rescale_of(task).is_none() {
            return Ok(None);
        }
        Ok(self.plan(task)?.keyed.clone())
    }

    /// New subtask `sub` of re-filed task `task`.
    pub(super) fn rescaled_subtask(&self, task: u32, sub: u32) -> Result<Converted> {
        let plan = match self.plan(task) {
            Ok(p) => p,
            Err(Error::Convert(e)) => return Ok(Err(e)),
            Err(e) => return Err(e),
        };
        let parallelism = self.subtask_count(task)? as usize;
        let vertex = self.subtask_task(task)?.vertex;
        let mut chain: Vec<Option<ConvertedEntry>> = (0..plan.chain_len).map(|_| None).collect();
        for (&(k, kind), olds) in &plan.partitions {
            let mine = &olds[split(olds.len(), parallelism, sub as usize)];
            if mine.is_empty() {
                continue;
            }
            let mut files = Vec::with_capacity(mine.len());
            let mut operator = None;
            for &old in mine {
                let c = self.source_subtask(task, old)?;
                let file = match c.as_ref() {
                    Ok(conv) => {
                        operator = operator.or(conv.entry(k).and_then(|e| e.operator));
                        conv.file(Some(k), kind).cloned()
                    }
                    Err(e) => Some(Err(e.clone())),
                };
                files.extend(file);
            }
            let name = format!(
                "{}/{}/{}/{} (merged from {} old subtasks)",
                vertex,
                super::layout::subtask_dir(sub),
                super::layout::chain_dir(k),
                kind.file_name(),
                files.len()
            );
            let merged = merge(name, files);
            let entry = chain[k].get_or_insert_with(|| ConvertedEntry {
                index: k,
                legacy_operator_state: None,
                function_state: None,
                operator_state: None,
                managed_operator_state: None,
                managed_operator_state_v5: None,
                operator,
            });
            match kind {
                FileKind::OperatorState => entry.operator_state = Some(merged),
                _ => entry.managed_operator_state_v5 = Some(merged),
            }
        }
        let managed_keyed_state_v6 = plan.keyed.as_ref().and_then(|r| {
            let (pieces, offsets) = r.subtask(sub)?;
            let name = format!(
                "{}/{}/{}",
                vertex,
                super::layout::subtask_dir(sub),
                FileKind::ManagedKeyedStateV6.file_name()
            );
            let rescale = r.rescale();
            Some(Ok(ConvertedFile {
                stream: Arc::new(MultiStream::new(name, pieces)),
                handle: format!(
                    "key groups {}..={} of max parallelism {}, re-filed from the savepoint layout",
                    offsets.first_key_group,
                    offsets.first_key_group as usize + offsets.offsets.len() - 1,
                    rescale.max_parallelism
                ),
                offset: offsets
                    .offsets
                    .iter()
                    .copied()
                    .find(|&o| o != 0)
                    .unwrap_or(0),
                offsets: Some(Arc::new(offsets)),
                keyed: Some(r.info()),
                list_state: None,
            }))
        });
        Ok(Ok(ConvertedSubtask {
            chain,
            keyed_state: None,
            managed_keyed_state: None,
            managed_keyed_state_v6,
            raw_keyed_state: None,
        }))
    }
}

/// One file of several old subtasks' files of one kind: the first one's header (the
/// bytes before its state, identical in each), then each one's state as a list element.
fn merge(name: String, files: Vec<FileResult>) -> FileResult {
    let files: Vec<ConvertedFile> = files.into_iter().collect::<Result<_, _>>()?;
    if let [one] = files.as_slice() {
        return Ok(one.clone());
    }
    let Some(first) = files.first() else {
        return Err(convert::Error::metadata_shape("merging no files"));
    };
    let mut pieces = Vec::with_capacity(files.len() + 1);
    let header = first.offset;
    if header > 0 {
        pieces.push(Piece::range(first.stream.clone(), Span::new(0, header)));
    }
    let mut offsets = Vec::with_capacity(files.len());
    let mut pos = header;
    for f in &files {
        let len = f.stream.len() - f.offset;
        offsets.push(pos);
        pieces.push(Piece::range(f.stream.clone(), Span::new(f.offset, len)));
        pos += len;
    }
    let handles: Vec<&str> = files.iter().map(|f| f.handle.as_str()).collect();
    Ok(ConvertedFile {
        stream: Arc::new(MultiStream::new(name, pieces)),
        handle: format!("merged: {}", handles.join(" + ")),
        offset: header,
        offsets: Some(Arc::new(Offsets {
            first_key_group: 0,
            offsets,
        })),
        keyed: None,
        list_state: first.list_state,
    })
}

#[cfg(test)]
mod tests {
    use super::split;

    #[test]
    fn splits_like_flinks_round_robin_repartitioner() {
        // 4 old subtasks onto 2: [0, 1] and [2, 3].
        assert_eq!(split(4, 2, 0), 0..2);
        assert_eq!(split(4, 2, 1), 2..4);
        // 3 onto 5: one each for the first three, none for the last two.
        assert_eq!(split(3, 5, 0), 0..1);
        assert_eq!(split(3, 5, 2), 2..3);
        assert_eq!(split(3, 5, 3), 3..3);
        assert_eq!(split(3, 5, 4), 3..3);
        // 5 onto 2: the first run is one longer.
        assert_eq!(split(5, 2, 0), 0..3);
        assert_eq!(split(5, 2, 1), 3..5);
        for (total, p) in [(7, 3), (1, 4), (10, 10), (0, 3)] {
            let covered: Vec<usize> = (0..p).flat_map(|i| split(total, p, i)).collect();
            assert_eq!(covered, (0..total).collect::<Vec<_>>());
        }
    }
}
