//! The FUSE floor for traversals in `scripts/bench-mount`: a minimal fuser file system
//! serving a directory tree held in memory (names, kinds and sizes copied from a real
//! directory at start), with savepointfs's kernel settings for listings (READDIRPLUS,
//! parallel directory operations, no opendir, POSIX ACLs declared, day-long TTLs,
//! extended-attribute calls answered). Nothing is computed per request: whatever
//! savepointfs's `find` or `ls -lR` is slower than this is our own cost, the rest is
//! FUSE's.
//!
//! `cargo run --release --example static_tree -- DIR MOUNTPOINT [THREADS]`
//! (foreground; stop it with `fusermount3 -u MOUNTPOINT`). Files read as zeros.

use fuser::{
    Errno, FileAttr, FileHandle, FileType, Filesystem, Generation, INodeNo, InitFlags,
    KernelConfig, MountOption, OpenFlags, ReplyAttr, ReplyData, ReplyDirectory, ReplyDirectoryPlus,
    ReplyEntry, ReplyOpen, ReplyXattr, Request,
};
use std::ffi::{OsStr, OsString};
use std::path::Path;
use std::time::{Duration, UNIX_EPOCH};

const TTL: Duration = Duration::from_secs(24 * 3600);

/// One node: its parent, kind, size, and (directories) its children by inode.
struct Node {
    parent: u64,
    dir: bool,
    size: u64,
    children: Vec<(OsString, u64)>,
}

struct StaticTree {
    nodes: Vec<Node>,
}

impl StaticTree {
    /// Copies the shape of `root` (inode 1 is index 0).
    fn load(root: &Path) -> std::io::Result<Self> {
        let mut tree = StaticTree {
            nodes: vec![Node {
                parent: 1,
                dir: true,
                size: 0,
                children: Vec::new(),
            }],
        };
        let mut todo = vec![(root.to_path_buf(), 1u64)];
        while let Some((path, ino)) = todo.pop() {
            let mut entries: Vec<_> = std::fs::read_dir(&path)?.collect::<Result<_, _>>()?;
            entries.sort_by_key(|e| e.file_name());
            for e in entries {
                let meta = e.metadata()?;
                let child = tree.nodes.len() as u64 + 1;
                tree.nodes.push(Node {
                    parent: ino,
                    dir: meta.is_dir(),
                    size: if meta.is_dir() { 0 } else { meta.len() },
                    children: Vec::new(),
                });
                tree.nodes[ino as usize - 1]
                    .children
                    .push((e.file_name(), child));
                if meta.is_dir() {
                    todo.push((e.path(), child));
                }
            }
        }
        Ok(tree)
    }

    fn node(&self, ino: u64) -> Option<&Node> {
        self.nodes.get((ino as usize).checked_sub(1)?)
    }

    fn attr(&self, ino: u64, n: &Node) -> FileAttr {
        FileAttr {
            ino: INodeNo(ino),
            size: n.size,
            blocks: n.size.div_ceil(512),
            atime: UNIX_EPOCH,
            mtime: UNIX_EPOCH,
            ctime: UNIX_EPOCH,
            crtime: UNIX_EPOCH,
            kind: if n.dir {
                FileType::Directory
            } else {
                FileType::RegularFile
            },
            perm: if n.dir { 0o555 } else { 0o444 },
            nlink: if n.dir { 2 } else { 1 },
            uid: 0,
            gid: 0,
            rdev: 0,
            blksize: 1 << 20,
            flags: 0,
        }
    }

    /// `.`, `..` and the children, as savepointfs lists them.
    fn entries(&self, ino: u64, n: &Node) -> Vec<(u64, bool, OsString)> {
        let mut out = vec![(ino, true, ".".into()), (n.parent, true, "..".into())];
        for (name, child) in &n.children {
            let dir = self.node(*child).is_some_and(|c| c.dir);
            out.push((*child, dir, name.clone()));
        }
        out
    }
}

impl Filesystem for StaticTree {
    fn init(&mut self, _: &Request, config: &mut KernelConfig) -> std::io::Result<()> {
        for cap in [
            InitFlags::FUSE_DO_READDIRPLUS,
            InitFlags::FUSE_PARALLEL_DIROPS,
            InitFlags::FUSE_NO_OPENDIR_SUPPORT,
            InitFlags::FUSE_POSIX_ACL,
        ] {
            let _ = config.add_capabilities(cap);
        }
        Ok(())
    }

    fn lookup(&self, _: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        let found = self.node(parent.0).and_then(|p| {
            p.children
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, ino)| *ino)
        });
        match found.and_then(|ino| Some((ino, self.node(ino)?))) {
            Some((ino, n)) => reply.entry(&TTL, &self.attr(ino, n), Generation(0)),
            None => reply.error(Errno::ENOENT),
        }
    }

    fn getattr(&self, _: &Request, ino: INodeNo, _: Option<FileHandle>, reply: ReplyAttr) {
        match self.node(ino.0) {
            Some(n) => reply.attr(&TTL, &self.attr(ino.0, n)),
            None => reply.error(Errno::ENOENT),
        }
    }

    fn opendir(&self, _: &Request, _: INodeNo, _: OpenFlags, reply: ReplyOpen) {
        reply.error(Errno::ENOSYS);
    }

    fn readdir(&self, _: &Request, ino: INodeNo, _: FileHandle, off: u64, mut r: ReplyDirectory) {
        let Some(n) = self.node(ino.0) else {
            return r.error(Errno::ENOENT);
        };
        for (i, (child, dir, name)) in self.entries(ino.0, n).iter().enumerate().skip(off as usize)
        {
            let kind = if *dir {
                FileType::Directory
            } else {
                FileType::RegularFile
            };
            if r.add(INodeNo(*child), i as u64 + 1, kind, name) {
                break;
            }
        }
        r.ok();
    }

    fn readdirplus(
        &self,
        _: &Request,
        ino: INodeNo,
        _: FileHandle,
        off: u64,
        mut r: ReplyDirectoryPlus,
    ) {
        let Some(n) = self.node(ino.0) else {
            return r.error(Errno::ENOENT);
        };
        for (i, (child, _, name)) in self.entries(ino.0, n).iter().enumerate().skip(off as usize) {
            let Some(c) = self.node(*child) else { continue };
            if r.add(
                INodeNo(*child),
                i as u64 + 1,
                name,
                &TTL,
                &self.attr(*child, c),
                Generation(0),
            ) {
                break;
            }
        }
        r.ok();
    }

    fn open(&self, _: &Request, _: INodeNo, _: OpenFlags, reply: ReplyOpen) {
        reply.opened(FileHandle(0), fuser::FopenFlags::FOPEN_KEEP_CACHE);
    }

    #[allow(clippy::too_many_arguments)]
    fn read(
        &self,
        _: &Request,
        ino: INodeNo,
        _: FileHandle,
        offset: u64,
        size: u32,
        _: OpenFlags,
        _: Option<fuser::LockOwner>,
        reply: ReplyData,
    ) {
        let len = self.node(ino.0).map_or(0, |n| n.size);
        let n = len.saturating_sub(offset).min(size as u64) as usize;
        reply.data(&vec![0; n]);
    }

    /// Answered, as savepointfs answers them: a file system without xattrs would be
    /// spared `ls`'s calls after the first ENOSYS.
    fn getxattr(&self, _: &Request, _: INodeNo, _: &OsStr, _: u32, reply: ReplyXattr) {
        reply.error(Errno::ENODATA);
    }

    fn listxattr(&self, _: &Request, _: INodeNo, size: u32, reply: ReplyXattr) {
        if size == 0 {
            reply.size(0);
        } else {
            reply.data(&[]);
        }
    }
}

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        eprintln!("usage: static_tree DIR MOUNTPOINT [THREADS]");
        std::process::exit(2);
    }
    let tree = StaticTree::load(Path::new(&args[1]))?;
    let threads: usize = args.get(3).and_then(|t| t.parse().ok()).unwrap_or(2);
    let mut config = fuser::Config::default();
    config.mount_options = vec![MountOption::RO, MountOption::FSName("static_tree".into())];
    config.n_threads = Some(threads);
    config.clone_fd = threads > 1;
    fuser::mount(tree, &args[2], &config)
}
