//! Decoding ahead of a traversal. A subtask's names, sizes and views come from its
//! conversion, so `find`, `ls -lR` and `cp -r` of a fresh mount decode subtask after
//! subtask; a worker can make the next ones while the kernel and the command handle
//! this one. Only subtasks right after one being listed are made, and only while the
//! cache has room, so a plain `ls` decodes nothing ahead and nothing in use is evicted.

use super::ino::NodeRef;
use super::{Ino, Tree};

/// A subtask of the tree: (task position, subtask position in the tree).
pub type SubtaskAt = (u32, u32);

impl Tree {
    /// Up to `n` subtasks after the one whose directory `ino` is, in listing order, not
    /// made yet (none when `ino` is not a subtask directory, or is one of a re-filed
    /// task: each of its subtasks is made from the whole vertex, too much to guess at).
    pub fn subtasks_after(&self, ino: Ino, n: u32) -> Vec<SubtaskAt> {
        let Some(NodeRef::Subtask { task, sub }) = NodeRef::from_ino(ino) else {
            return Vec::new();
        };
        if self.rescale_of(task).is_some() {
            return Vec::new();
        }
        let count = self.subtask_count(task).unwrap_or(0);
        (sub.saturating_add(1)..count.min(sub.saturating_add(1).saturating_add(n)))
            .filter(|&s| !self.cache.has(&(task, s)))
            .map(|s| (task, s))
            .collect()
    }

    /// Makes what listing and `stat`-ing every node of a subtask needs (its conversion,
    /// its views' sizes), unless it is made already or the cache is over half full.
    /// Failures are left for the request that meets them. Whether it did anything.
    pub fn warm(&self, (task, sub): SubtaskAt) -> bool {
        if !self.cache.has_room_ahead() || self.cache.has(&(task, sub)) {
            return false;
        }
        let mut dirs = vec![NodeRef::Subtask { task, sub }.ino()];
        while let Some(dir) = dirs.pop() {
            for child in self.list(dir).unwrap_or_default() {
                match child.is_dir {
                    true => dirs.push(child.ino),
                    false => drop(self.getattr(child.ino)),
                }
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::super::walk::tests::open_with;
    use super::*;
    use crate::synth::{SynthSpec, generate};

    fn open_with_cache(path: &std::path::Path, cache_bytes: usize) -> Tree {
        open_with(path, |o| o.cache_bytes = cache_bytes)
    }

    fn subtask_dir(tree: &Tree, task: u32, sub: u32) -> Ino {
        let vertex = tree.list(super::super::ROOT).unwrap()[2 + task as usize].ino;
        tree.list(vertex).unwrap()[sub as usize].ino
    }

    #[test]
    fn the_next_subtasks_are_made_once_and_only_after_a_subtask() {
        let dir = tempfile::tempdir().unwrap();
        let sp = dir.path().join("sp");
        generate(&SynthSpec::default(), &sp).unwrap();
        let tree = open_with_cache(&sp, 64 << 20);
        let count = tree.subtask_count(0).unwrap();
        assert!(count >= 3, "{count} subtasks");
        // Nothing ahead of the root, a vertex or a file: a plain `ls` decodes nothing.
        assert!(tree.subtasks_after(super::super::ROOT, 8).is_empty());
        let vertex = tree.list(super::super::ROOT).unwrap()[2].ino;
        assert!(tree.subtasks_after(vertex, 8).is_empty());
        assert_eq!(tree.cache_usage().0, 0);
        // After subtask 0: the next ones, up to the vertex's last.
        let first = subtask_dir(&tree, 0, 0);
        let ahead = tree.subtasks_after(first, 8);
        let want: Vec<SubtaskAt> = (1..count.min(9)).map(|s| (0, s)).collect();
        assert_eq!(ahead, want);
        assert_eq!(tree.subtasks_after(first, 1), vec![(0, 1)]);
        let last = subtask_dir(&tree, 0, count - 1);
        assert!(tree.subtasks_after(last, 8).is_empty());
        // Made once: the second warm finds it, and it is no longer "ahead".
        assert!(tree.warm((0, 1)));
        assert!(!tree.warm((0, 1)));
        assert_eq!(tree.cache_usage().0, 1);
        assert!(!tree.subtasks_after(first, 8).contains(&(0, 1)));
        // What it made is what a listing shows.
        let listed = tree.list(subtask_dir(&tree, 0, 1)).unwrap();
        assert!(!listed.is_empty());
        assert_eq!(tree.cache_usage().0, 1, "the listing found it made");
    }

    #[test]
    fn nothing_is_made_ahead_in_a_cache_over_half_full() {
        let dir = tempfile::tempdir().unwrap();
        let sp = dir.path().join("sp");
        generate(&SynthSpec::default(), &sp).unwrap();
        let tree = open_with_cache(&sp, 1);
        assert!(!tree.warm((0, 1)), "a 1-byte cache has no room ahead");
        assert_eq!(tree.cache_usage().0, 0);
        // Requests still convert what they need.
        assert!(!tree.list(subtask_dir(&tree, 0, 1)).unwrap().is_empty());
    }

    #[test]
    fn nothing_is_guessed_ahead_in_a_re_filed_task() {
        let dir = tempfile::tempdir().unwrap();
        let sp = dir.path().join("sp");
        generate(&SynthSpec::default(), &sp).unwrap();
        let tree = open_with(&sp, |o| {
            o.cache_bytes = 64 << 20;
            o.target = crate::convert::Target::Flink23;
            o.relative_paths = true;
            o.rescale = crate::convert::refile::RescaleRequest {
                max_parallelism: Some(128),
                parallelism: Some(2),
            };
        });
        let first = subtask_dir(&tree, 0, 0);
        assert_eq!(tree.subtask_count(0).unwrap(), 2);
        assert!(tree.subtasks_after(first, 8).is_empty());
    }
}
