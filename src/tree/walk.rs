//! A depth-first walk of the tree (pre-order, children in listing order), shared by
//! `ls -R`, `convert` and `verify`. A directory that cannot be listed (its subtask does
//! not decode) is reported in place and the walk goes on with its siblings, so one
//! damaged subtask never hides the rest.

use super::{Error, Listed, Tree};

/// A node met by the walk; `path` is relative to the walk's start, `/`-separated.
/// Sizes are left to the caller (`Tree::getattr`): listing alone converts no more than
/// the subtasks walked through, and never builds `_metadata`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Visited {
    pub path: String,
    pub entry: Listed,
}

/// A directory the walk could not list.
#[derive(Debug)]
pub struct Unlisted {
    pub path: String,
    pub error: Error,
}

/// Iterator over the descendants of a directory (the start itself is not yielded).
pub struct Walk<'t> {
    tree: &'t Tree,
    /// Directories still to list, innermost last; each with its remaining children.
    stack: Vec<(String, std::vec::IntoIter<Listed>)>,
    /// The start directory, listed lazily on the first `next`.
    pending: Option<(String, super::Ino)>,
    /// A listing failure to report right after the directory itself.
    deferred: Option<Unlisted>,
}

impl Tree {
    /// Walks everything below directory `start`, naming nodes relative to `start_path`
    /// (`""` for none).
    pub fn walk(&self, start: super::Ino, start_path: &str) -> Walk<'_> {
        Walk {
            tree: self,
            stack: Vec::new(),
            pending: Some((start_path.trim_matches('/').to_string(), start)),
            deferred: None,
        }
    }
}

fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_string()
    } else {
        format!("{dir}/{name}")
    }
}

impl Walk<'_> {
    /// Lists a directory and pushes its children; `Err` when it cannot be listed.
    fn descend(&mut self, path: String, dir: super::Ino) -> Result<(), Unlisted> {
        match self.tree.list(dir) {
            Ok(children) => {
                self.stack.push((path, children.into_iter()));
                Ok(())
            }
            Err(error) => Err(Unlisted { path, error }),
        }
    }
}

impl Iterator for Walk<'_> {
    type Item = Result<Visited, Unlisted>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some((path, start)) = self.pending.take()
            && let Err(e) = self.descend(path, start)
        {
            return Some(Err(e));
        }
        if let Some(e) = self.deferred.take() {
            return Some(Err(e));
        }
        loop {
            let (dir, children) = self.stack.last_mut()?;
            let Some(entry) = children.next() else {
                self.stack.pop();
                continue;
            };
            let path = join(dir, &entry.name);
            if entry.is_dir {
                // The directory exists (its parent listed it) even when its contents
                // cannot be had: yield it, then the failure.
                self.deferred = self.descend(path.clone(), entry.ino).err();
            }
            return Some(Ok(Visited { path, entry }));
        }
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::join;
    use crate::convert::ExternalPolicy;
    use crate::source::{FileSource, Source};
    use crate::synth::{SynthSpec, generate};
    use crate::tree::{ROOT, Tree, TreeOptions};
    use std::collections::BTreeSet;
    use std::sync::Arc;

    fn open(path: &std::path::Path) -> Tree {
        open_with(path, |_| {})
    }

    /// A tree over a savepoint for the `migration` target, every form shown, a 1 MiB
    /// cache, as `change` leaves these options.
    pub(in crate::tree) fn open_with(
        path: &std::path::Path,
        change: impl FnOnce(&mut TreeOptions),
    ) -> Tree {
        let source: Arc<dyn Source> = Arc::new(FileSource::open(path).unwrap());
        let mut opts = TreeOptions {
            cache_bytes: 1 << 20,
            metadata_root: "file:/x".into(),
            policy: ExternalPolicy::default(),
            target: crate::convert::Target::parse("migration").unwrap(),
            keyed_layout: None,
            key_serializer: None,
            rocksdb_namespaces: Vec::new(),
            relative_paths: false,
            operator_ids: Default::default(),
            operators: Default::default(),
            windows: Default::default(),
            forms: super::super::Forms::All,
            rescale: Default::default(),
            spill_dir: std::env::temp_dir(),
        };
        change(&mut opts);
        Tree::open(source, opts).unwrap()
    }

    /// Paths by recursive `list`, for comparison.
    fn listed(tree: &Tree, ino: u64, prefix: &str, out: &mut Vec<String>) {
        for e in tree.list(ino).unwrap() {
            let p = join(prefix, &e.name);
            out.push(p.clone());
            if e.is_dir {
                listed(tree, e.ino, &p, out);
            }
        }
    }

    #[test]
    fn visits_every_node_once_parents_first() {
        let dir = tempfile::tempdir().unwrap();
        let sp = dir.path().join("sp");
        let spec = SynthSpec {
            null_entries: true,
            ..SynthSpec::default()
        };
        generate(&spec, &sp).unwrap();
        let tree = open(&sp);
        let walked: Vec<String> = tree.walk(ROOT, "").map(|v| v.unwrap().path).collect();
        let mut expected = Vec::new();
        listed(&tree, ROOT, "", &mut expected);
        assert_eq!(walked, expected);
        let mut seen = BTreeSet::new();
        for p in &walked {
            if let Some((parent, _)) = p.rsplit_once('/') {
                assert!(seen.contains(parent), "{p} before its parent");
            }
            assert!(seen.insert(p.clone()), "{p} twice");
        }
        // From a subdirectory, paths are relative to the given start path.
        let vertex = &walked[2];
        let start = tree.resolve(vertex).unwrap();
        let below: Vec<String> = tree
            .walk(start.ino, vertex)
            .map(|v| v.unwrap().path)
            .collect();
        let expected_below: Vec<&String> = walked
            .iter()
            .filter(|p| p.starts_with(&format!("{vertex}/")))
            .collect();
        assert_eq!(below.iter().collect::<Vec<_>>(), expected_below);
    }

    #[test]
    fn a_subtask_that_cannot_be_listed_is_reported_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let sp = dir.path().join("sp");
        generate(&SynthSpec::default(), &sp).unwrap();
        // Break the Java stream magic (AC ED 00 05) of task 0's second subtask blob.
        let blob = open(&sp).index().tasks()[0].subtasks[1].blob.unwrap();
        let mut bytes = std::fs::read(&sp).unwrap();
        assert_eq!(bytes[blob.start as usize], 0xAC);
        bytes[blob.start as usize] = 0;
        std::fs::write(&sp, &bytes).unwrap();
        let tree = open(&sp);
        let items: Vec<_> = tree.walk(ROOT, "").collect();
        let failed: Vec<(usize, &str)> = items
            .iter()
            .enumerate()
            .filter_map(|(i, r)| r.as_ref().err().map(|u| (i, u.path.as_str())))
            .collect();
        assert_eq!(failed.len(), 1, "one subtask fails to list");
        let (at, path) = failed[0];
        assert!(path.ends_with("/subtask-1"), "{path}");
        // The directory itself comes first, then its failure, then its siblings.
        assert_eq!(items[at - 1].as_ref().unwrap().path, path);
        let next = items[at + 1].as_ref().unwrap();
        assert!(next.path.ends_with("/subtask-2"), "{}", next.path);
        assert!(items.len() > 20);
    }

    #[test]
    fn joins_relative_paths() {
        assert_eq!(join("", "_metadata"), "_metadata");
        assert_eq!(join("ab/subtask-0", "chain-1"), "ab/subtask-0/chain-1");
    }
}
