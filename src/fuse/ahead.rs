//! The worker that decodes subtasks ahead of a traversal ([`Tree::warm`]), fed with the
//! subtasks after each subtask directory a request lists.

use crate::tree::{Ino, SubtaskAt, Tree};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};

/// How many subtasks past the one being listed are made ahead.
const AHEAD: u32 = 8;

/// Hints waiting for the worker; when it is this far behind, new hints are dropped (the
/// serving threads then make those subtasks themselves).
const QUEUE: usize = 64;

pub(super) struct Ahead {
    hints: SyncSender<SubtaskAt>,
}

impl Ahead {
    /// One worker thread; it ends when the file system (this sender) is dropped.
    pub(super) fn start(tree: Arc<Tree>) -> std::io::Result<Ahead> {
        let (hints, queue) = sync_channel(QUEUE);
        std::thread::Builder::new()
            .name("decode-ahead".into())
            .spawn(move || work(&tree, &queue))?;
        Ok(Ahead { hints })
    }

    /// `dir` is being listed: queue the subtasks after it.
    pub(super) fn listed(&self, tree: &Tree, dir: Ino) {
        for at in tree.subtasks_after(dir, AHEAD) {
            match self.hints.try_send(at) {
                Ok(()) => {}
                Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => break,
            }
        }
    }
}

fn work(tree: &Tree, queue: &Receiver<SubtaskAt>) {
    while let Ok(at) = queue.recv() {
        tree.warm(at);
    }
}
