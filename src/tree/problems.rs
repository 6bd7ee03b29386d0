//! Naming what went wrong where, for `convert` and `verify`: a place in savepoint terms
//! (vertex, subtask, chain, file), a cause without the location repeated, and the set
//! of files `_metadata` names, which decides whether a file that cannot be converted
//! matters for the chosen target.

use super::{Error, Ino, METADATA_NAME, NodeRef, Tree};
use crate::v0::VertexId;
use std::collections::BTreeMap;
use std::fmt;

/// Where a problem is, as precisely as known.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Place {
    pub vertex: Option<VertexId>,
    pub subtask: Option<u32>,
    pub chain: Option<usize>,
    /// A tree file name, or what inside the chain entry (`keyed state "count"`).
    pub what: Option<String>,
}

impl Place {
    pub fn named(what: &str) -> Place {
        Place {
            what: Some(what.to_string()),
            ..Place::default()
        }
    }
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

/// One finding: `vertex <hex> subtask <i> chain <k> <file>: cause`. A warning is
/// something that does not affect the chosen target's `_metadata`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub place: Place,
    pub cause: String,
    pub warning: bool,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.warning {
            f.write_str("warning: ")?;
        }
        write!(f, "{}: {}", self.place, self.cause)
    }
}

impl Tree {
    /// The place of a node, in savepoint terms.
    pub fn place_of(&self, ino: Ino) -> Place {
        let Some(node) = NodeRef::from_ino(ino) else {
            return Place::named(&format!("inode {ino}"));
        };
        let (task, sub, chain, what) = match node {
            NodeRef::File {
                task,
                sub,
                chain,
                kind,
            } => (task, Some(sub), chain, Some(kind.file_name().to_string())),
            NodeRef::Chain { task, sub, chain } => (task, Some(sub), Some(chain), None),
            NodeRef::ViewDir { task, sub } | NodeRef::StateView { task, sub, .. } => {
                (task, Some(sub), None, self.name(node).ok())
            }
            NodeRef::FunctionView { task, sub, chain } => {
                (task, Some(sub), Some(chain), self.name(node).ok())
            }
            NodeRef::Subtask { task, sub } => (task, Some(sub), None, None),
            NodeRef::Vertex { task } => (task, None, None, None),
            NodeRef::Root => return Place::named("/"),
            other => return Place::named(&self.name(other).unwrap_or_default()),
        };
        let t = self.index.tasks().get(task as usize);
        // A re-filed task's subtasks are the new ones, named by their index.
        let rescaled = self.rescale_of(task).is_some();
        Place {
            vertex: t.map(|t| t.vertex),
            subtask: match sub {
                Some(s) if rescaled => Some(s),
                Some(s) => t.and_then(|t| t.subtasks.get(s as usize)).map(|s| s.index),
                None => None,
            },
            chain: chain.map(|c| c as usize),
            what,
        }
    }

    /// The files `_metadata` names, as tree paths (relative to the metadata root) with
    /// the size each handle declares. `Err` when `_metadata` cannot be built.
    pub fn metadata_files(&self) -> Result<BTreeMap<String, i64>, Error> {
        self.resolve(METADATA_NAME)?;
        let files = self.named_files().map_err(Error::Convert)?;
        Ok((*files).clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problem_lines_read_like_tree_places() {
        let p = Problem {
            place: Place {
                vertex: Some(VertexId([0xab; 16])),
                subtask: Some(3),
                chain: Some(1),
                what: Some("legacy-operator-state".into()),
            },
            cause: "gone".into(),
            warning: false,
        };
        assert_eq!(
            p.to_string(),
            format!(
                "vertex {} subtask 3 chain 1 legacy-operator-state: gone",
                "ab".repeat(16)
            )
        );
        let w = Problem { warning: true, ..p };
        assert!(w.to_string().starts_with("warning: vertex abab"));
        assert_eq!(Place::named("_metadata").to_string(), "_metadata");
    }
}
