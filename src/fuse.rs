//! The read-only FUSE file system: a thin adapter from fuser callbacks to [`Tree`].
//!
//! Everything here follows from the content being immutable for the life of the mount:
//! long entry/attribute TTLs, `FOPEN_KEEP_CACHE` so the kernel page cache survives
//! re-opens, cached directory listings, and negative lookups cached too. The tree is the
//! only source of names, sizes and bytes, and [`tree::Error::errno`] the only errno
//! mapping; every write-type operation answers `EROFS`.

use crate::stream::MultiStream;
use crate::tree::{self, Ino, Listed, NodeRef, Tree};
use fuser::{
    AccessFlags, BsdFileFlags, CopyFileRangeFlags, Errno, FileAttr, FileHandle, FileType,
    Filesystem, FopenFlags, Generation, INodeNo, InitFlags, KernelConfig, LockOwner, OpenAccMode,
    OpenFlags, RenameFlags, ReplyAttr, ReplyCreate, ReplyData, ReplyDirectory, ReplyDirectoryPlus,
    ReplyEmpty, ReplyEntry, ReplyLseek, ReplyOpen, ReplyStatfs, ReplyWrite, ReplyXattr, Request,
    TimeOrNow, WriteFlags,
};
use std::cell::RefCell;
use std::collections::HashMap;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

mod ahead;
mod dir;
mod passthrough;
mod recent;
use ahead::Ahead;
use dir::dir_entries;
use passthrough::{Backings, Served};
use recent::RecentStreams;

/// Entries and attributes never change while mounted; a new mount is a new superblock,
/// so nothing stale can outlive it.
const TTL: Duration = Duration::from_secs(24 * 3600);
/// Largest `st_blksize`: `cp` and friends size their buffers by it.
const BLKSIZE: u32 = 1 << 20;
/// Largest `getxattr`/`listxattr` value the kernel accepts (XATTR_SIZE_MAX).
const XATTR_MAX: usize = 64 << 10;
/// Every extended attribute the tree provides is named under this prefix.
const XATTR_PREFIX: &str = "user.savepointfs.";

/// Who owns the files and when they were made: fixed for the mount.
#[derive(Clone, Copy, Debug)]
pub struct Owner {
    pub uid: u32,
    pub gid: u32,
    /// Shown as atime, mtime and ctime of every node: the savepoint file's mtime.
    pub time: SystemTime,
    /// Reported by `statfs` as the file system's size (the savepoint file's length).
    pub bytes: u64,
    /// Permission bits of every file (read bits only); directories add the matching
    /// search bits. 0o444 for a private mount; under `allow_other` the savepoint
    /// file's own read bits, so `default_permissions` shares no more than it does.
    pub file_mode: u16,
}

impl Owner {
    /// Directories may be listed by whoever may read the files.
    fn dir_mode(&self) -> u16 {
        let r = self.file_mode & 0o444;
        r | (r >> 2)
    }
}

/// An open file's stream, and its inode when it is passed through.
type OpenStream = (Arc<MultiStream>, Option<Ino>);

/// The mounted savepoint.
pub struct SavepointFs {
    tree: Arc<Tree>,
    owner: Owner,
    next_fh: AtomicU64,
    /// Open files: each holds its stream, so cache eviction never affects a reader
    /// (and, when passed through, its inode, whose backing id it shares).
    files: Mutex<HashMap<u64, OpenStream>>,
    /// FUSE passthrough of files that are whole files on disk.
    backings: Backings,
    /// Open directories: the listing taken at `opendir`, so `readdir` continuations are
    /// consistent and cost no re-listing (only when the kernel sends `opendir`).
    dirs: Mutex<HashMap<u64, Arc<Vec<Listed>>>>,
    /// The kernel opens directories without asking us (FUSE_NO_OPENDIR_SUPPORT): two
    /// round trips fewer per directory, and it caches listings by itself.
    no_opendir: bool,
    /// The kernel opens files without asking us either (FUSE_NO_OPEN_SUPPORT): no OPEN
    /// and RELEASE round trips, two of the three `cp -r` costs per small file. Chosen at
    /// `init` when no file would be passed through (passthrough is set up at open).
    no_open: bool,
    /// With `no_open`: the streams made last.
    recent: RecentStreams,
    /// Serve `user.savepointfs.*`; without them the kernel stops sending any xattr
    /// request (`ls -l` asks three per entry).
    xattrs: bool,
    /// Decode the next subtasks while one is listed (off with one serving thread); the
    /// worker starts with the session, in the process that serves (after the fork).
    decode_ahead: bool,
    ahead: Option<Ahead>,
}

thread_local! {
    /// One read buffer per FUSE thread, reused (no allocation or page faults per read).
    static READ_BUF: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

impl SavepointFs {
    pub fn new(tree: Arc<Tree>, owner: Owner) -> Self {
        SavepointFs {
            tree,
            owner,
            next_fh: AtomicU64::new(1),
            files: Mutex::new(HashMap::new()),
            backings: Backings::new(true),
            dirs: Mutex::new(HashMap::new()),
            no_opendir: false,
            no_open: false,
            recent: RecentStreams::default(),
            xattrs: true,
            decode_ahead: false,
            ahead: None,
        }
    }

    /// A worker decodes the subtasks after each one listed, ahead of the traversal.
    pub fn with_decode_ahead(mut self) -> Self {
        self.decode_ahead = true;
        self
    }

    /// Every file served by the daemon, none passed through to the kernel.
    pub fn without_passthrough(mut self) -> Self {
        self.backings = Backings::new(false);
        self
    }

    /// No extended attributes: `getxattr`/`listxattr` answer ENOSYS once, and the
    /// kernel then answers every later one itself.
    pub fn without_xattrs(mut self) -> Self {
        self.xattrs = false;
        self
    }

    fn attr(&self, ino: Ino, is_dir: bool, size: u64) -> FileAttr {
        let t = self.owner.time;
        FileAttr {
            ino: INodeNo(ino),
            size,
            blocks: size.div_ceil(512),
            atime: t,
            mtime: t,
            ctime: t,
            crtime: t,
            kind: if is_dir {
                FileType::Directory
            } else {
                FileType::RegularFile
            },
            perm: if is_dir {
                self.owner.dir_mode()
            } else {
                self.owner.file_mode & 0o444
            },
            nlink: if is_dir { 2 } else { 1 },
            uid: self.owner.uid,
            gid: self.owner.gid,
            rdev: 0,
            // Large files: big `cp`/`cat` buffers; small ones: no 1 MiB buffer (an
            // mmap/munmap in `cp`) per file.
            blksize: size.next_power_of_two().clamp(4096, BLKSIZE as u64) as u32,
            flags: 0,
        }
    }

    /// A node's entry as the kernel may cache it. A file that failed to convert is
    /// listed with size 0 and fails when opened; when the kernel opens files without us,
    /// it would read as empty, so then its `stat` fails instead, with the reason's errno.
    fn entry(&self, found: Result<tree::Entry, tree::Error>) -> Result<tree::Entry, tree::Error> {
        let e = found?;
        if self.no_open && e.failed {
            self.tree.open_file(e.ino)?;
        }
        Ok(e)
    }

    fn entry_attr(&self, e: &tree::Entry) -> FileAttr {
        self.attr(e.ino, e.is_dir, e.size)
    }

    /// Runs `f`; if that built `_metadata` or `savepoint.json` (each decodes every subtask
    /// and frees most of what it allocated), the freed heap goes back to the system, so
    /// the daemon's resident size stays near its cache bound.
    fn building<T>(&self, f: impl FnOnce() -> T) -> T {
        let docs = [NodeRef::Metadata.ino(), NodeRef::Report.ino()];
        let before = docs.map(|i| self.tree.attr_is_cheap(i));
        let out = f();
        if docs.map(|i| self.tree.attr_is_cheap(i)) != before {
            #[cfg(target_env = "gnu")]
            // SAFETY: malloc_trim only returns free heap pages to the kernel.
            unsafe {
                libc::malloc_trim(0);
            }
        }
        out
    }

    fn fh(&self) -> u64 {
        self.next_fh.fetch_add(1, Ordering::Relaxed)
    }

    /// The stream a read is served from: the open file's, or without opens, the file's
    /// own (kept among the recent ones).
    fn stream(&self, ino: Ino, fh: FileHandle) -> Result<Arc<MultiStream>, Errno> {
        if !self.no_open {
            return lock(&self.files)
                .get(&fh.0)
                .map(|(s, _)| s.clone())
                .ok_or(Errno::EBADF);
        }
        self.recent.get_or_make(ino, || {
            self.building(|| self.tree.open_file(ino))
                .map(|f| f.stream)
                .map_err(|e| fail(ino, &e))
        })
    }

    /// The tree's attributes of a node, and for a file opened before, how it was served
    /// (`user.savepointfs.served`: `daemon` or `passthrough`).
    fn xattrs_of(&self, ino: Ino) -> Result<Vec<(&'static str, String)>, tree::Error> {
        let mut attrs = self.tree.xattrs(ino)?;
        let how = match self.no_open {
            true if !self.tree.getattr(ino)?.is_dir => Some(Served::Daemon),
            _ => self.backings.served(ino),
        };
        if let Some(how) = how {
            attrs.push(("user.savepointfs.served", how.name().to_string()));
        }
        Ok(attrs)
    }

    /// The listing of an open directory, or a fresh one (a readdir without opendir). A
    /// listing from offset 0 is a traversal arriving there: the decoding ahead is told.
    fn listing(&self, ino: Ino, fh: FileHandle, offset: u64) -> Result<Arc<Vec<Listed>>, Errno> {
        if let (0, Some(ahead)) = (offset, &self.ahead) {
            ahead.listed(&self.tree, ino);
        }
        if let Some(l) = lock(&self.dirs).get(&fh.0) {
            return Ok(l.clone());
        }
        self.tree.list(ino).map(Arc::new).map_err(|e| fail(ino, &e))
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The errno for a tree error, logged with its cause unless it is a plain "not found".
fn fail(ino: Ino, e: &tree::Error) -> Errno {
    let errno = e.errno();
    if errno != libc::ENOENT {
        log::warn!("inode {ino:#x}: {e}");
    }
    Errno::from_i32(errno)
}

fn xattr_reply(value: &[u8], size: u32, reply: ReplyXattr) {
    if value.len() > XATTR_MAX {
        reply.error(Errno::E2BIG);
    } else if size == 0 {
        reply.size(value.len() as u32);
    } else if value.len() > size as usize {
        reply.error(Errno::ERANGE);
    } else {
        reply.data(value);
    }
}

impl Filesystem for SavepointFs {
    fn init(&mut self, _req: &Request, config: &mut KernelConfig) -> std::io::Result<()> {
        // Attributes come with the listing (`ls -l`, `find`, `cp -r` without a lookup per
        // entry); directory operations may run in parallel (nothing here is per directory).
        // Declaring POSIX ACLs (there are none) lets the kernel cache "no ACL" per inode,
        // which `ls -l` asks of every entry, and makes it check the mode bits itself
        // (default_permissions), which is all `access` below does.
        for cap in [
            InitFlags::FUSE_DO_READDIRPLUS,
            InitFlags::FUSE_PARALLEL_DIROPS,
            InitFlags::FUSE_POSIX_ACL,
        ] {
            if let Err(missing) = config.add_capabilities(cap) {
                log::info!("kernel lacks FUSE capability {missing:?}");
            }
        }
        self.no_opendir = config
            .add_capabilities(InitFlags::FUSE_NO_OPENDIR_SUPPORT)
            .is_ok();
        // Passthrough needs the capability and a stack depth of 1 (we are not stacked on
        // another FUSE file system's backing files).
        if self.backings.enabled() {
            let granted = config.add_capabilities(InitFlags::FUSE_PASSTHROUGH).is_ok()
                && config.set_max_stack_depth(1).is_ok();
            if !granted {
                log::info!("kernel lacks FUSE passthrough; every file is served by the daemon");
            }
            self.backings.set_granted(granted);
        }
        // Without a file to pass through, opens need not reach us. A savepoint whose state
        // is all inside it has none.
        let passthrough =
            self.backings.enabled() && self.tree.index().may_reference_external_state();
        if !passthrough {
            self.no_open = config
                .add_capabilities(InitFlags::FUSE_NO_OPEN_SUPPORT)
                .is_ok();
        }
        if self.decode_ahead {
            match Ahead::start(self.tree.clone()) {
                Ok(ahead) => self.ahead = Some(ahead),
                Err(e) => log::warn!("no decoding ahead: cannot start its thread: {e}"),
            }
        }
        // As much readahead as the kernel allows.
        let mut ra = u32::MAX;
        while let Err(max) = config.set_max_readahead(ra) {
            if max == ra {
                break;
            }
            ra = max;
        }
        Ok(())
    }

    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        let Some(name) = name.to_str() else {
            return reply.error(Errno::ENOENT);
        };
        match self.building(|| self.entry(self.tree.lookup(parent.0, name))) {
            Ok(e) => reply.entry(&TTL, &self.entry_attr(&e), Generation(0)),
            // Names never appear later: cache the miss (inode 0 = negative entry).
            Err(tree::Error::NotFound(_)) => {
                let mut negative = self.attr(0, false, 0);
                negative.ino = INodeNo(0);
                reply.entry(&TTL, &negative, Generation(0))
            }
            Err(e) => reply.error(fail(parent.0, &e)),
        }
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, _fh: Option<FileHandle>, reply: ReplyAttr) {
        match self.building(|| self.entry(self.tree.getattr(ino.0))) {
            Ok(e) => reply.attr(&TTL, &self.entry_attr(&e)),
            Err(e) => reply.error(fail(ino.0, &e)),
        }
    }

    fn open(&self, _req: &Request, ino: INodeNo, flags: OpenFlags, reply: ReplyOpen) {
        if flags.acc_mode() != OpenAccMode::O_RDONLY {
            return reply.error(Errno::EROFS);
        }
        if self.no_open {
            // The kernel opens this and every later file itself, with KEEP_CACHE and no
            // RELEASE (the mount is `ro`: it refuses writable opens itself).
            return reply.error(Errno::ENOSYS);
        }
        match self.building(|| self.tree.open_file(ino.0)) {
            Ok(file) => {
                let fh = self.fh();
                let backing = match file.stream.whole_file() {
                    Some(f) if self.backings.enabled() => {
                        self.backings.acquire(ino.0, || reply.open_backing(f))
                    }
                    _ => None,
                };
                let passed = backing.is_some();
                log::debug!("open {:#x}: passthrough {passed}", ino.0);
                lock(&self.files).insert(fh, (file.stream, passed.then_some(ino.0)));
                match backing {
                    // The kernel reads the backing file itself from now on.
                    Some(id) => {
                        self.backings.note(ino.0, Served::Passthrough);
                        reply.opened_passthrough(FileHandle(fh), FopenFlags::FOPEN_NOFLUSH, &id)
                    }
                    // Keep the page cache across opens; no FLUSH round trip on close.
                    None => {
                        self.backings.note(ino.0, Served::Daemon);
                        reply.opened(
                            FileHandle(fh),
                            FopenFlags::FOPEN_KEEP_CACHE | FopenFlags::FOPEN_NOFLUSH,
                        )
                    }
                }
            }
            Err(e) => reply.error(fail(ino.0, &e)),
        }
    }

    fn read(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyData,
    ) {
        let stream = match self.stream(ino.0, fh) {
            Ok(s) => s,
            Err(e) => return reply.error(e),
        };
        READ_BUF.with_borrow_mut(|buf| {
            if buf.len() < size as usize {
                buf.resize(size as usize, 0);
            }
            match stream.read_at_most(offset, &mut buf[..size as usize]) {
                Ok(n) => reply.data(&buf[..n]),
                Err(e) => reply.error(fail(ino.0, &tree::Error::Io(e))),
            }
        });
    }

    fn release(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        _flush: bool,
        reply: ReplyEmpty,
    ) {
        if let Some((_, Some(ino))) = lock(&self.files).remove(&fh.0) {
            self.backings.release(ino);
        }
        reply.ok();
    }

    /// Nothing to flush: ENOSYS makes the kernel stop sending FLUSH on close (it would for
    /// files opened without us, whose flags lack FOPEN_NOFLUSH).
    fn flush(&self, _: &Request, _: INodeNo, _: FileHandle, _: LockOwner, reply: ReplyEmpty) {
        reply.error(Errno::ENOSYS);
    }

    fn fsync(&self, _: &Request, _: INodeNo, _: FileHandle, _: bool, reply: ReplyEmpty) {
        reply.ok();
    }

    fn opendir(&self, _req: &Request, ino: INodeNo, _flags: OpenFlags, reply: ReplyOpen) {
        if self.no_opendir {
            // The kernel then opens every directory itself, with KEEP_CACHE|CACHE_DIR.
            return reply.error(Errno::ENOSYS);
        }
        match self.tree.list(ino.0) {
            Ok(listing) => {
                let fh = self.fh();
                lock(&self.dirs).insert(fh, Arc::new(listing));
                reply.opened(
                    FileHandle(fh),
                    FopenFlags::FOPEN_CACHE_DIR | FopenFlags::FOPEN_KEEP_CACHE,
                );
            }
            Err(e) => reply.error(fail(ino.0, &e)),
        }
    }

    fn readdir(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectory,
    ) {
        let listing = match self.listing(ino.0, fh, offset) {
            Ok(l) => l,
            Err(e) => return reply.error(e),
        };
        for (i, (child, is_dir, name)) in dir_entries(ino.0, &listing)
            .enumerate()
            .skip(offset as usize)
        {
            let kind = if is_dir {
                FileType::Directory
            } else {
                FileType::RegularFile
            };
            if reply.add(INodeNo(child), i as u64 + 1, kind, name) {
                break;
            }
        }
        reply.ok();
    }

    /// Like `readdir`, with each entry's attributes. A file whose size would need more
    /// than its own subtask converted (`_metadata` before its first build) goes out
    /// with size 0 and zero TTLs: the kernel then asks again on the first `stat` or
    /// open, and a plain `ls` of the root stays as cheap as the outer index.
    fn readdirplus(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectoryPlus,
    ) {
        let listing = match self.listing(ino.0, fh, offset) {
            Ok(l) => l,
            Err(e) => return reply.error(e),
        };
        for (i, (child, is_dir, name)) in dir_entries(ino.0, &listing)
            .enumerate()
            .skip(offset as usize)
        {
            // `.` and `..` are not linked by the kernel: their attributes go unused.
            let known = i >= 2 && self.tree.attr_is_cheap(child);
            let (attr, ttl) = match known.then(|| self.entry(self.tree.getattr(child))) {
                Some(Ok(e)) => (self.entry_attr(&e), TTL),
                Some(Err(e)) => {
                    fail(child, &e);
                    (self.attr(child, is_dir, 0), Duration::ZERO)
                }
                None => (self.attr(child, is_dir, 0), Duration::ZERO),
            };
            if reply.add(
                INodeNo(child),
                i as u64 + 1,
                name,
                &ttl,
                &attr,
                Generation(0),
            ) {
                break;
            }
        }
        reply.ok();
    }

    fn releasedir(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        reply: ReplyEmpty,
    ) {
        lock(&self.dirs).remove(&fh.0);
        reply.ok();
    }

    fn fsyncdir(&self, _: &Request, _: INodeNo, _: FileHandle, _: bool, reply: ReplyEmpty) {
        reply.ok();
    }

    fn statfs(&self, _req: &Request, _ino: INodeNo, reply: ReplyStatfs) {
        let bsize = 4096u32;
        let blocks = self.owner.bytes.div_ceil(bsize as u64);
        reply.statfs(blocks, 0, 0, 0, 0, bsize, 255, bsize);
    }

    fn getxattr(&self, _req: &Request, ino: INodeNo, name: &OsStr, size: u32, reply: ReplyXattr) {
        // `ls -l` asks every entry for security.selinux and both POSIX ACLs: answer those
        // without building our attributes.
        if !self.xattrs {
            return reply.error(Errno::ENOSYS);
        }
        if !name.as_bytes().starts_with(XATTR_PREFIX.as_bytes()) {
            return reply.error(Errno::NO_XATTR);
        }
        match self.xattrs_of(ino.0) {
            Ok(attrs) => match attrs.iter().find(|(n, _)| OsStr::new(n) == name) {
                Some((_, value)) => xattr_reply(value.as_bytes(), size, reply),
                None => reply.error(Errno::NO_XATTR),
            },
            Err(e) => reply.error(fail(ino.0, &e)),
        }
    }

    fn listxattr(&self, _req: &Request, ino: INodeNo, size: u32, reply: ReplyXattr) {
        if !self.xattrs {
            return reply.error(Errno::ENOSYS);
        }
        match self.xattrs_of(ino.0) {
            Ok(attrs) => {
                let mut names = Vec::new();
                for (n, _) in &attrs {
                    names.extend_from_slice(n.as_bytes());
                    names.push(0);
                }
                xattr_reply(&names, size, reply);
            }
            Err(e) => reply.error(fail(ino.0, &e)),
        }
    }

    fn access(&self, _req: &Request, ino: INodeNo, mask: AccessFlags, reply: ReplyEmpty) {
        match self.tree.getattr(ino.0) {
            Err(e) => reply.error(fail(ino.0, &e)),
            Ok(_) if mask.contains(AccessFlags::W_OK) => reply.error(Errno::EROFS),
            Ok(e) if !e.is_dir && mask.contains(AccessFlags::X_OK) => reply.error(Errno::EACCES),
            Ok(_) => reply.ok(),
        }
    }

    /// Only `SEEK_DATA`/`SEEK_HOLE` reach here: files have no holes.
    fn lseek(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        offset: i64,
        whence: i32,
        reply: ReplyLseek,
    ) {
        let stream = match self.stream(ino.0, fh) {
            Ok(s) => s,
            Err(e) => return reply.error(e),
        };
        let len = crate::source::Source::len(stream.as_ref());
        match u64::try_from(offset) {
            Ok(o) if o < len && whence == libc::SEEK_DATA => reply.offset(offset),
            Ok(o) if o < len && whence == libc::SEEK_HOLE => reply.offset(len as i64),
            Ok(_) if whence == libc::SEEK_DATA || whence == libc::SEEK_HOLE => {
                reply.error(Errno::from_i32(libc::ENXIO))
            }
            _ => reply.error(Errno::EINVAL),
        }
    }

    // Everything below would change the savepoint's view: read-only file system.

    fn setattr(
        &self,
        _: &Request,
        _: INodeNo,
        _: Option<u32>,
        _: Option<u32>,
        _: Option<u32>,
        _: Option<u64>,
        _: Option<TimeOrNow>,
        _: Option<TimeOrNow>,
        _: Option<SystemTime>,
        _: Option<FileHandle>,
        _: Option<SystemTime>,
        _: Option<SystemTime>,
        _: Option<SystemTime>,
        _: Option<BsdFileFlags>,
        reply: ReplyAttr,
    ) {
        reply.error(Errno::EROFS);
    }

    fn mknod(&self, _: &Request, _: INodeNo, _: &OsStr, _: u32, _: u32, _: u32, r: ReplyEntry) {
        r.error(Errno::EROFS);
    }

    fn mkdir(&self, _: &Request, _: INodeNo, _: &OsStr, _: u32, _: u32, reply: ReplyEntry) {
        reply.error(Errno::EROFS);
    }

    fn unlink(&self, _: &Request, _: INodeNo, _: &OsStr, reply: ReplyEmpty) {
        reply.error(Errno::EROFS);
    }

    fn rmdir(&self, _: &Request, _: INodeNo, _: &OsStr, reply: ReplyEmpty) {
        reply.error(Errno::EROFS);
    }

    fn symlink(&self, _: &Request, _: INodeNo, _: &OsStr, _: &Path, reply: ReplyEntry) {
        reply.error(Errno::EROFS);
    }

    fn rename(
        &self,
        _: &Request,
        _: INodeNo,
        _: &OsStr,
        _: INodeNo,
        _: &OsStr,
        _: RenameFlags,
        reply: ReplyEmpty,
    ) {
        reply.error(Errno::EROFS);
    }

    fn link(&self, _: &Request, _: INodeNo, _: INodeNo, _: &OsStr, reply: ReplyEntry) {
        reply.error(Errno::EROFS);
    }

    fn write(
        &self,
        _: &Request,
        _: INodeNo,
        _: FileHandle,
        _: u64,
        _: &[u8],
        _: WriteFlags,
        _: OpenFlags,
        _: Option<LockOwner>,
        reply: ReplyWrite,
    ) {
        reply.error(Errno::EROFS);
    }

    fn create(
        &self,
        _: &Request,
        _: INodeNo,
        _: &OsStr,
        _: u32,
        _: u32,
        _: i32,
        reply: ReplyCreate,
    ) {
        reply.error(Errno::EROFS);
    }

    fn setxattr(
        &self,
        _: &Request,
        _: INodeNo,
        _: &OsStr,
        _: &[u8],
        _: i32,
        _: u32,
        reply: ReplyEmpty,
    ) {
        reply.error(Errno::EROFS);
    }

    fn removexattr(&self, _: &Request, _: INodeNo, _: &OsStr, reply: ReplyEmpty) {
        reply.error(Errno::EROFS);
    }

    fn fallocate(
        &self,
        _: &Request,
        _: INodeNo,
        _: FileHandle,
        _: u64,
        _: u64,
        _: i32,
        reply: ReplyEmpty,
    ) {
        reply.error(Errno::EROFS);
    }

    fn copy_file_range(
        &self,
        _: &Request,
        _: INodeNo,
        _: FileHandle,
        _: u64,
        _: INodeNo,
        _: FileHandle,
        _: u64,
        _: u64,
        _: CopyFileRangeFlags,
        reply: ReplyWrite,
    ) {
        reply.error(Errno::EROFS);
    }
}
