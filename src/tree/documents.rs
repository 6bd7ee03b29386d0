//! The two documents the tree generates: `_metadata` (built by converting every subtask
//! through the cache, for the chosen target) and `savepoint.json` (the `inspect --json`
//! report), and the check a mount makes before it serves either.

use super::{Error, METADATA_NAME, Metadata, REPORT_NAME, Tree, layout};
use crate::convert::{self, MetadataBuilder, MultiStream};
use crate::stream::Piece;
use crate::v0::report::SavepointReport;
use std::sync::Arc;

impl Tree {
    pub(super) fn report_stream(&self) -> Arc<MultiStream> {
        self.report
            .get_or_init(|| {
                let report = SavepointReport::build(&self.index, false, &self.opts.policy);
                // The inspect document, plus which target `_metadata` serves. Serialized
                // straight from the structs: a `serde_json::Value` of 10,000 subtasks
                // would triple the memory this takes.
                #[derive(serde::Serialize)]
                struct Doc<'a> {
                    #[serde(flatten)]
                    report: &'a SavepointReport,
                    target: &'a str,
                    /// `None`: `_metadata` names its files relative to itself.
                    metadata_root: Option<&'a str>,
                }
                let doc = Doc {
                    report: &report,
                    target: self.opts.target.name(),
                    metadata_root: (!self.relative_paths()).then_some(&*self.opts.metadata_root),
                };
                let mut bytes = serde_json::to_vec_pretty(&doc)
                    .unwrap_or_else(|e| format!("{{\"error\": {:?}}}", e.to_string()).into_bytes());
                bytes.push(b'\n');
                Arc::new(MultiStream::new(REPORT_NAME, [Piece::bytes(bytes)]))
            })
            .clone()
    }

    /// What the options given cannot serve, checked on the first subtask of every
    /// vertex: a keyed stream that needs `--key-serializer`, a chained operator that
    /// needs `--uid`. A mount refuses to start on it, instead of serving a `_metadata`
    /// that fails on read; files that fail on damaged input are left to fail alone.
    pub fn preflight(&self) -> Result<(), convert::Error> {
        let mut builder = self.metadata_builder(Some(self.opts.metadata_root.clone()))?;
        for (ti, t) in self.index.tasks().iter().enumerate() {
            let Some(first) = t.subtasks.first() else {
                continue;
            };
            // The 1.1 subtask as it is: re-filing is a pass over all of its task's state,
            // and needs no option the first subtask would not show.
            let Ok(c) = self.source_subtask(ti as u32, 0) else {
                continue;
            };
            let Ok(converted) = c.as_ref() else { continue };
            for (_, kind, f) in converted.files() {
                if let Err(e @ convert::Error::NeedsOption { .. }) = f
                    && self.opts.target.names(kind)
                {
                    return Err(e.clone());
                }
            }
            let step = builder
                .begin_task(t.vertex.0, t.parallelism)
                .and_then(|()| builder.subtask(first.index, Ok(converted)));
            match step {
                Ok(()) => {}
                Err(e @ convert::Error::NeedsOption { .. }) => return Err(e),
                // Other failures are the input's and stay with their files.
                Err(_) => return Ok(()),
            }
        }
        match builder.finish() {
            Err(e @ convert::Error::NeedsOption { .. }) => Err(e),
            _ => Ok(()),
        }
    }

    /// Whether `_metadata` names its files relative to itself (so the tree can move).
    pub(super) fn relative_paths(&self) -> bool {
        self.opts.relative_paths && self.opts.target.per_operator()
    }

    pub(super) fn metadata_stream(&self) -> Result<Arc<MultiStream>, convert::Error> {
        self.metadata().map(|m| m.stream)
    }

    /// The files `_metadata` names, as tree paths with the size each handle declares.
    pub(crate) fn named_files(
        &self,
    ) -> Result<Arc<std::collections::BTreeMap<String, i64>>, convert::Error> {
        self.metadata().map(|m| m.files)
    }

    fn metadata(&self) -> Result<Metadata, convert::Error> {
        self.metadata.get_or_init(|| self.build_metadata()).clone()
    }

    /// A `_metadata` builder for this tree's target and ids, naming files by tree path
    /// under `root` (`None`: relative to `_metadata`).
    fn metadata_builder(
        &self,
        root: Option<String>,
    ) -> Result<MetadataBuilder<'_>, convert::Error> {
        MetadataBuilder::new(
            self.opts.target,
            self.index.checkpoint_id(),
            &layout::file_path,
            root,
            &self.opts.operator_ids,
        )
    }

    /// Converts every subtask (through the cache) and writes `_metadata`.
    fn build_metadata(&self) -> Result<Metadata, convert::Error> {
        let root = (!self.relative_paths()).then(|| self.opts.metadata_root.clone());
        // One converted subtask at a time: memory stays bounded by the cache.
        let mut builder = self.metadata_builder(root)?;
        let in_metadata = |e| match e {
            Error::Convert(c) => c.in_metadata(),
            other => convert::Error::metadata_shape(other.to_string()),
        };
        for (ti, t) in self.index.tasks().iter().enumerate() {
            let ti = ti as u32;
            if let Some(r) = self.rescale_of(ti) {
                builder.begin_rescaled_task(t.vertex.0, r)?;
                for sub in 0..r.parallelism {
                    let c = self.subtask(ti, sub).map_err(in_metadata)?;
                    builder.subtask(sub, c.as_ref().as_ref())?;
                }
                continue;
            }
            builder.begin_task(t.vertex.0, t.parallelism)?;
            for (si, s) in t.subtasks.iter().enumerate() {
                let c = self.subtask(ti, si as u32).map_err(in_metadata)?;
                builder.subtask(s.index, c.as_ref().as_ref())?;
            }
        }
        let built = builder.finish()?;
        Ok(Metadata {
            stream: Arc::new(MultiStream::new(METADATA_NAME, [Piece::bytes(built.bytes)])),
            files: Arc::new(built.files),
        })
    }
}
