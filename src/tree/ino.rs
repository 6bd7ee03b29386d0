//! Inode numbers derived from positions in the savepoint, so the same savepoint gives
//! the same numbers in every run (tools like `rsync` and `find` remember them).

use crate::convert::FileKind;

pub type Ino = u64;

/// A node of the tree, by position: task = position in the file, sub = position of the
/// subtask entry within its task (not its index), chain = chain index.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NodeRef {
    Root,
    Metadata,
    Report,
    Vertex {
        task: u32,
    },
    Subtask {
        task: u32,
        sub: u32,
    },
    Chain {
        task: u32,
        sub: u32,
        chain: u32,
    },
    File {
        task: u32,
        sub: u32,
        chain: Option<u32>,
        kind: FileKind,
    },
    /// A subtask's `state/` directory of decoded keyed state.
    ViewDir {
        task: u32,
        sub: u32,
    },
    /// One keyed state's decoded view, by its position in the keyed stream's header.
    StateView {
        task: u32,
        sub: u32,
        state: u32,
    },
    /// A chain entry's function state as JSON.
    FunctionView {
        task: u32,
        sub: u32,
        chain: u32,
    },
}

pub const ROOT: Ino = 1;
const METADATA: Ino = 2;
const REPORT: Ino = 3;

const TASK_BITS: u32 = 22;
const SUB_BITS: u32 = 20;
const CHAIN_BITS: u32 = 12;
pub const MAX_TASKS: usize = 1 << TASK_BITS;
pub const MAX_SUBTASKS: usize = 1 << SUB_BITS;
/// Chain indices are stored +1 (0 = none), so one less fits.
pub const MAX_CHAIN: usize = (1 << CHAIN_BITS) - 1;
/// States of one subtask that get a decoded view (their index sits in the chain bits).
pub const MAX_VIEWED_STATES: usize = 1 << CHAIN_BITS;

const TAG_SHIFT: u32 = 60;
const TASK_SHIFT: u32 = 36;
const SUB_SHIFT: u32 = 16;
const CHAIN_SHIFT: u32 = 4;

fn kind_code(k: FileKind) -> u64 {
    FileKind::ALL
        .iter()
        .position(|&x| x == k)
        .expect("every kind is listed") as u64
        + 1
}

impl NodeRef {
    pub fn ino(self) -> Ino {
        let pack = |tag: u64, task: u32, sub: u32, chain: u64, kind: u64| {
            tag << TAG_SHIFT
                | (task as u64) << TASK_SHIFT
                | (sub as u64) << SUB_SHIFT
                | chain << CHAIN_SHIFT
                | kind
        };
        match self {
            NodeRef::Root => ROOT,
            NodeRef::Metadata => METADATA,
            NodeRef::Report => REPORT,
            NodeRef::Vertex { task } => pack(1, task, 0, 0, 0),
            NodeRef::Subtask { task, sub } => pack(2, task, sub, 0, 0),
            NodeRef::Chain { task, sub, chain } => pack(3, task, sub, chain as u64 + 1, 0),
            NodeRef::File {
                task,
                sub,
                chain,
                kind,
            } => pack(
                4,
                task,
                sub,
                chain.map_or(0, |c| c as u64 + 1),
                kind_code(kind),
            ),
            NodeRef::ViewDir { task, sub } => pack(5, task, sub, 0, 0),
            NodeRef::StateView { task, sub, state } => pack(6, task, sub, state as u64, 0),
            NodeRef::FunctionView { task, sub, chain } => pack(7, task, sub, chain as u64, 0),
        }
    }

    /// The node an inode number names (structure only: whether it exists is the tree's call).
    pub fn from_ino(ino: Ino) -> Option<NodeRef> {
        let field = |shift: u32, bits: u32| ((ino >> shift) & ((1u64 << bits) - 1)) as u32;
        let (task, sub, chain, kind) = (
            field(TASK_SHIFT, TASK_BITS),
            field(SUB_SHIFT, SUB_BITS),
            field(CHAIN_SHIFT, CHAIN_BITS),
            field(0, 4),
        );
        let chain = chain.checked_sub(1);
        Some(match (ino >> TAG_SHIFT, ino) {
            (0, ROOT) => NodeRef::Root,
            (0, METADATA) => NodeRef::Metadata,
            (0, REPORT) => NodeRef::Report,
            (1, _) => NodeRef::Vertex { task },
            (2, _) => NodeRef::Subtask { task, sub },
            (3, _) => NodeRef::Chain {
                task,
                sub,
                chain: chain?,
            },
            (4, _) => NodeRef::File {
                task,
                sub,
                chain,
                kind: *FileKind::ALL.get((kind as usize).checked_sub(1)?)?,
            },
            (5, _) => NodeRef::ViewDir { task, sub },
            (6, _) => NodeRef::StateView {
                task,
                sub,
                state: field(CHAIN_SHIFT, CHAIN_BITS),
            },
            (7, _) => NodeRef::FunctionView {
                task,
                sub,
                chain: field(CHAIN_SHIFT, CHAIN_BITS),
            },
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inode_numbers_round_trip_and_are_distinct() {
        let mut seen = std::collections::HashSet::new();
        let mut nodes = vec![NodeRef::Root, NodeRef::Metadata, NodeRef::Report];
        for task in [0, 1, MAX_TASKS as u32 - 1] {
            nodes.push(NodeRef::Vertex { task });
            for sub in [0, 7, MAX_SUBTASKS as u32 - 1] {
                nodes.push(NodeRef::Subtask { task, sub });
                nodes.push(NodeRef::File {
                    task,
                    sub,
                    chain: None,
                    kind: FileKind::KeyedState,
                });
                nodes.push(NodeRef::ViewDir { task, sub });
                for state in [0, 1, MAX_VIEWED_STATES as u32 - 1] {
                    nodes.push(NodeRef::StateView { task, sub, state });
                }
                for chain in [0, 1, MAX_CHAIN as u32 - 1] {
                    nodes.push(NodeRef::Chain { task, sub, chain });
                    nodes.push(NodeRef::FunctionView { task, sub, chain });
                    for kind in FileKind::ALL {
                        nodes.push(NodeRef::File {
                            task,
                            sub,
                            chain: Some(chain),
                            kind,
                        });
                    }
                }
            }
        }
        for n in nodes {
            let ino = n.ino();
            assert!(seen.insert(ino), "{n:?} collides");
            assert_eq!(NodeRef::from_ino(ino), Some(n));
        }
        assert_eq!(NodeRef::from_ino(0), None);
        assert_eq!(NodeRef::from_ino(u64::MAX), None);
    }
}
