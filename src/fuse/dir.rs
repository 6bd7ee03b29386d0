//! Directory entries as the kernel sees them: `.` and `..` included, parents from the
//! inode layout alone (no tree access).

use crate::tree::{Ino, Listed, NodeRef};

/// The directory holding a node (the root is its own parent).
pub(super) fn parent_of(ino: Ino) -> Ino {
    let parent = match NodeRef::from_ino(ino) {
        Some(NodeRef::Vertex { .. } | NodeRef::Metadata | NodeRef::Report) | None => NodeRef::Root,
        Some(NodeRef::Root) => NodeRef::Root,
        Some(NodeRef::Subtask { task, .. }) => NodeRef::Vertex { task },
        Some(NodeRef::Chain { task, sub, .. }) => NodeRef::Subtask { task, sub },
        Some(NodeRef::File {
            task,
            sub,
            chain: Some(chain),
            ..
        }) => NodeRef::Chain { task, sub, chain },
        Some(NodeRef::File { task, sub, .. } | NodeRef::ViewDir { task, sub }) => {
            NodeRef::Subtask { task, sub }
        }
        Some(NodeRef::StateView { task, sub, .. }) => NodeRef::ViewDir { task, sub },
        Some(NodeRef::FunctionView { task, sub, chain }) => NodeRef::Chain { task, sub, chain },
    };
    parent.ino()
}

/// A directory's entries as the kernel sees them: `.` and `..` first, then the tree's.
pub(super) fn dir_entries(ino: Ino, listing: &[Listed]) -> impl Iterator<Item = (Ino, bool, &str)> {
    [(ino, true, "."), (parent_of(ino), true, "..")]
        .into_iter()
        .chain(listing.iter().map(|l| (l.ino, l.is_dir, l.name.as_str())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::convert::FileKind;
    use crate::tree::ROOT;

    #[test]
    fn parents_follow_the_layout() {
        let task = 3;
        let sub = 7;
        let chain = Some(2);
        let file = NodeRef::File {
            task,
            sub,
            chain,
            kind: FileKind::LegacyOperatorState,
        };
        let keyed = NodeRef::File {
            task,
            sub,
            chain: None,
            kind: FileKind::KeyedState,
        };
        let chain_dir = NodeRef::Chain {
            task,
            sub,
            chain: 2,
        };
        let sub_dir = NodeRef::Subtask { task, sub };
        let vertex = NodeRef::Vertex { task };
        assert_eq!(parent_of(file.ino()), chain_dir.ino());
        assert_eq!(parent_of(keyed.ino()), sub_dir.ino());
        assert_eq!(parent_of(chain_dir.ino()), sub_dir.ino());
        assert_eq!(parent_of(sub_dir.ino()), vertex.ino());
        assert_eq!(parent_of(vertex.ino()), ROOT);
        assert_eq!(parent_of(NodeRef::Metadata.ino()), ROOT);
        assert_eq!(parent_of(ROOT), ROOT);
    }

    #[test]
    fn directory_offsets_start_with_dot_entries() {
        let listing = vec![Listed {
            ino: 99,
            name: "_metadata".into(),
            is_dir: false,
        }];
        let v: Vec<_> = dir_entries(ROOT, &listing).collect();
        assert_eq!(
            v,
            vec![
                (ROOT, true, "."),
                (ROOT, true, ".."),
                (99, false, "_metadata")
            ]
        );
    }
}
