//! FUSE passthrough (`FOPEN_PASSTHROUGH`, Linux ≥ 6.9): a file that is one whole, open
//! file on disk (an external state file served unchanged) is handed to the kernel, which
//! then reads it without a round trip to the daemon, at native speed. The kernel wants one
//! backing id per inode for all its open handles, so ids are shared and counted here.
//! Anything else, or a kernel or privilege that refuses it, is served by the daemon.

use fuser::BackingId;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

/// How the last open of a file was served (`user.savepointfs.served`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Served {
    Daemon,
    Passthrough,
}

impl Served {
    pub fn name(self) -> &'static str {
        match self {
            Served::Daemon => "daemon",
            Served::Passthrough => "passthrough",
        }
    }
}

/// The backing ids of open passthrough files.
pub struct Backings {
    /// Wanted (`--no-passthrough` clears it) and granted by the kernel at `init`; turned
    /// off for good by the first refused backing id (no privilege, say).
    enabled: AtomicBool,
    open: Mutex<HashMap<u64, (Arc<BackingId>, usize)>>,
    served: Mutex<HashMap<u64, Served>>,
}

impl Backings {
    pub fn new(wanted: bool) -> Self {
        Backings {
            enabled: AtomicBool::new(wanted),
            open: Mutex::new(HashMap::new()),
            served: Mutex::new(HashMap::new()),
        }
    }

    pub fn enabled(&self) -> bool {
        self.enabled.load(Ordering::Relaxed)
    }

    /// What `init` negotiated.
    pub fn set_granted(&self, granted: bool) {
        if !granted {
            self.enabled.store(false, Ordering::Relaxed);
        }
    }

    /// The backing id for `ino`: the one its open handles share, or a new one from
    /// `create`; `None` (and passthrough off from now on) when the kernel refuses.
    pub fn acquire(
        &self,
        ino: u64,
        create: impl FnOnce() -> std::io::Result<BackingId>,
    ) -> Option<Arc<BackingId>> {
        let mut open = lock(&self.open);
        if let Some((id, n)) = open.get_mut(&ino) {
            *n += 1;
            return Some(id.clone());
        }
        match create() {
            Ok(id) => {
                let id = Arc::new(id);
                open.insert(ino, (id.clone(), 1));
                Some(id)
            }
            Err(e) => {
                if self.enabled.swap(false, Ordering::Relaxed) {
                    log::warn!(
                        "FUSE passthrough refused ({e}); every file is served by the daemon"
                    );
                }
                None
            }
        }
    }

    /// A passthrough handle of `ino` was released: its id goes with the last one.
    pub fn release(&self, ino: u64) {
        let mut open = lock(&self.open);
        if let Some((_, n)) = open.get_mut(&ino) {
            *n -= 1;
            if *n == 0 {
                open.remove(&ino);
            }
        }
    }

    pub fn note(&self, ino: u64, how: Served) {
        lock(&self.served).insert(ino, how);
    }

    /// How `ino` was last opened, if it was.
    pub fn served(&self, ino: u64) -> Option<Served> {
        lock(&self.served).get(&ino).copied()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
