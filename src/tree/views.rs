//! The decoded views in the tree: `SUBTASK/state/STATE.jsonl` (keyed state, from the
//! subtask's `managed-keyed-state-v6` stream) and `chain-K/function-state.json` (the
//! function state's Java object, as `dump --json` prints it). They are shown with every
//! `--forms`, are never named by `_metadata`, and are built on first use: a keyed view's
//! size comes from one pass over its stream, kept in a cache bounded like the subtasks'.

use super::ino::{MAX_VIEWED_STATES, NodeRef};
use super::{Error, Result, Tree};
use crate::convert::FileKind;
use crate::javaser::{self, Limits, render};
use crate::source::{MemSource, Source, Span};
use crate::stream::{MultiStream, Piece};
use crate::view::{self, KeyedViews, StateView};
use std::sync::Arc;

/// The directory of a subtask's keyed views.
pub const VIEW_DIR: &str = "state";
/// A chain entry's function state view.
pub const FUNCTION_VIEW: &str = "function-state.json";

/// How a view's bytes are named (errors, the `user.savepointfs.source` attribute): what
/// they are decoded from.
fn decoded(stream: &str) -> String {
    format!("decoded({stream})")
}

/// A subtask's keyed views, or why they cannot be had (cached either way).
pub(super) type ViewsEntry = std::result::Result<Arc<KeyedViews>, String>;

impl Tree {
    /// Whether a node is a decoded view (or their directory).
    pub fn is_view(&self, ino: super::Ino) -> bool {
        matches!(
            NodeRef::from_ino(ino),
            Some(
                NodeRef::ViewDir { .. } | NodeRef::StateView { .. } | NodeRef::FunctionView { .. }
            )
        )
    }

    /// The keyed views of a subtask; `None` when it has no canonical keyed stream (no
    /// keyed state, or one the options cannot convert).
    pub(super) fn keyed_views(&self, task: u32, sub: u32) -> Result<Option<Arc<KeyedViews>>> {
        if let Some(v) = self.views.get(&(task, sub)) {
            return (*v).clone().map(Some).map_err(Error::View);
        }
        let Some((file, info)) = self.viewed_stream(task, sub)? else {
            return Ok(None);
        };
        let stream: Arc<dyn Source> = file.stream.clone();
        let built = KeyedViews::build(
            stream,
            FileKind::ManagedKeyedStateV6.file_name().to_string(),
            file.offset,
            info,
        )
        .map(Arc::new)
        .map_err(|e| e.to_string());
        let bytes = built.as_ref().map_or(64, |v| v.held_bytes());
        self.views
            .insert((task, sub), Arc::new(built.clone()), bytes);
        built.map(Some).map_err(Error::View)
    }

    /// The decoded views of a node, for `cat --json`: a view is its own; a subtask (or
    /// one of its keyed-state files) has one per keyed state, named by the state; a chain
    /// entry (or one of its files) has its function state's.
    pub fn json_views(&self, ino: super::Ino) -> Result<Vec<(Option<String>, super::Ino)>> {
        let node = NodeRef::from_ino(ino).ok_or_else(|| Error::NotFound(format!("inode {ino}")))?;
        let none = || {
            Error::View(
                "no decoded view here (keyed state has one for --target flink-2.3, function state always)"
                    .into(),
            )
        };
        let keyed = |task, sub| -> Result<Vec<(Option<String>, super::Ino)>> {
            let views = self.keyed_views(task, sub)?.ok_or_else(none)?;
            Ok(views
                .states()
                .enumerate()
                .map(|(i, (name, _))| {
                    let node = NodeRef::StateView {
                        task,
                        sub,
                        state: i as u32,
                    };
                    (Some(name.to_string()), node.ino())
                })
                .collect())
        };
        match node {
            NodeRef::StateView { .. } | NodeRef::FunctionView { .. } => Ok(vec![(None, ino)]),
            NodeRef::Subtask { task, sub }
            | NodeRef::ViewDir { task, sub }
            | NodeRef::File {
                task,
                sub,
                chain: None,
                ..
            } => keyed(task, sub),
            NodeRef::Chain { task, sub, chain }
            | NodeRef::File {
                task,
                sub,
                chain: Some(chain),
                ..
            } => match self.chain_view_nodes(task, sub, chain).first() {
                Some(v) => Ok(vec![(None, v.ino())]),
                None => Err(none()),
            },
            _ => Err(none()),
        }
    }

    /// The canonical keyed stream a subtask's views decode, and its header facts; `None`
    /// without one. Listing and naming views needs only this, not the pass that sizes them.
    fn viewed_stream(
        &self,
        task: u32,
        sub: u32,
    ) -> Result<
        Option<(
            crate::convert::ConvertedFile,
            Arc<crate::convert::KeyedInfo>,
        )>,
    > {
        let file = match self.converted_file(task, sub, None, FileKind::ManagedKeyedStateV6) {
            Ok(f) => f,
            Err(Error::NotFound(_) | Error::Convert(_)) => return Ok(None),
            Err(e) => return Err(e),
        };
        Ok(match file.keyed.clone() {
            Some(info) if info.states.len() <= MAX_VIEWED_STATES => Some((file, info)),
            _ => None,
        })
    }

    /// The view nodes under a subtask directory.
    pub(super) fn subtask_view_nodes(&self, task: u32, sub: u32) -> Result<Vec<NodeRef>> {
        Ok(match self.viewed_stream(task, sub)? {
            Some(_) => vec![NodeRef::ViewDir { task, sub }],
            None => Vec::new(),
        })
    }

    /// The files of a `state/` directory.
    pub(super) fn view_dir_nodes(&self, task: u32, sub: u32) -> Result<Vec<NodeRef>> {
        let (_, info) = self
            .viewed_stream(task, sub)?
            .ok_or_else(|| Error::NotFound(VIEW_DIR.into()))?;
        Ok((0..info.states.len() as u32)
            .map(|state| NodeRef::StateView { task, sub, state })
            .collect())
    }

    /// The view of a chain entry's function state, when it has one.
    pub(super) fn chain_view_nodes(&self, task: u32, sub: u32, chain: u32) -> Vec<NodeRef> {
        match self.converted_file(task, sub, Some(chain), FileKind::FunctionState) {
            Ok(_) => vec![NodeRef::FunctionView { task, sub, chain }],
            Err(_) => Vec::new(),
        }
    }

    /// A view node's name.
    pub(super) fn view_name(&self, node: NodeRef) -> Result<String> {
        Ok(match node {
            NodeRef::ViewDir { .. } => VIEW_DIR.into(),
            NodeRef::FunctionView { .. } => FUNCTION_VIEW.into(),
            NodeRef::StateView { task, sub, state } => {
                let (_, info) = self
                    .viewed_stream(task, sub)?
                    .ok_or_else(|| Error::NotFound(format!("state {state}")))?;
                let meta = info
                    .states
                    .get(state as usize)
                    .ok_or_else(|| Error::NotFound(format!("state {state}")))?;
                view::state_file_name(&meta.name)
            }
            _ => return Err(Error::NotFound("a view".into())),
        })
    }

    /// A view file's stream.
    pub(super) fn view_stream(&self, node: NodeRef) -> Result<Arc<MultiStream>> {
        match node {
            NodeRef::StateView { task, sub, state } => {
                let views = self
                    .keyed_views(task, sub)?
                    .ok_or_else(|| Error::NotFound(format!("state {state}")))?;
                let name = self.view_name(node)?;
                let source: Arc<dyn Source> = Arc::new(StateView {
                    name: decoded(&views.stream_name()),
                    views,
                    state: state as usize,
                });
                let len = source.len();
                Ok(Arc::new(MultiStream::new(
                    name,
                    [Piece::range(source, Span::new(0, len))],
                )))
            }
            NodeRef::FunctionView { task, sub, chain } => {
                if let Some(v) = self.function_views.get(&(task, sub, chain)) {
                    return Ok(v);
                }
                let file = self.converted_file(task, sub, Some(chain), FileKind::FunctionState)?;
                let stream: Arc<dyn Source> = file.stream.clone();
                let len = stream.len();
                let graph = javaser::parse_stream(stream, 0, len, &Limits::default())
                    .map_err(|e| Error::View(e.to_string()))?;
                let mut json = Vec::new();
                render::write_json(&graph, &render::Options::default(), &mut json)
                    .map_err(|e| Error::View(e.to_string()))?;
                let held = json.len();
                let source: Arc<dyn Source> =
                    Arc::new(MemSource::new(decoded(&file.stream.name()), json));
                let len = source.len();
                let view = Arc::new(MultiStream::new(
                    FUNCTION_VIEW,
                    [Piece::range(source, Span::new(0, len))],
                ));
                // Rendered once: `ls -l` and every read after it take this copy.
                self.function_views
                    .insert((task, sub, chain), view.clone(), held + 128);
                Ok(view)
            }
            _ => Err(Error::IsADirectory(self.view_name(node)?)),
        }
    }
}
