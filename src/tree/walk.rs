//! A depth-first walk of the tree (pre-order, children in listing order), shared by
//! `ls -R`, `convert` and `verify`. A directory that cannot be listed (its subtask does
//! not decode) is reported in place and the walk goes on with its siblings, so one
//! damaged subtask never hides the rest.

use super::{Entry, Error, Tree};

/// A node met by the walk; `path` is relative to the walk's start, `/`-separated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Visited {
    pub path: String,
    pub entry: Entry,
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
    stack: Vec<(String, std::vec::IntoIter<Entry>)>,
    /// The start directory, listed lazily on the first `next`.
    pending: Option<(String, Entry)>,
    /// A listing failure to report right after the directory itself.
    deferred: Option<Unlisted>,
}

impl Tree {
    /// Walks everything below `start`, naming nodes relative to `start_path` (`""` for none).
    pub fn walk(&self, start: Entry, start_path: &str) -> Walk<'_> {
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
    fn descend(&mut self, path: String, dir: &Entry) -> Result<(), Unlisted> {
        match self.tree.children(dir.ino) {
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
        if let Some((path, start)) = self.pending.take() {
            if let Err(e) = self.descend(path, &start) {
                return Some(Err(e));
            }
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
                self.deferred = self.descend(path.clone(), &entry).err();
            }
            return Some(Ok(Visited { path, entry }));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::join;

    #[test]
    fn joins_relative_paths() {
        assert_eq!(join("", "_metadata"), "_metadata");
        assert_eq!(join("ab/subtask-0", "chain-1"), "ab/subtask-0/chain-1");
    }
}
