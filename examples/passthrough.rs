//! The FUSE floor for `scripts/bench-mount`: a minimal fuser file system serving one
//! backing file by `pread`, with the same kernel settings as savepointfs (TTLs,
//! FOPEN_KEEP_CACHE, readahead, threads). Whatever savepointfs is slower than this is
//! our own cost.
//!
//! `cargo run --release --example passthrough -- FILE MOUNTPOINT [THREADS]`
//! (foreground; stop it with `fusermount3 -u MOUNTPOINT`). The file appears as
//! `MOUNTPOINT/data`.

use fuser::{
    Errno, FileAttr, FileHandle, FileType, Filesystem, FopenFlags, Generation, INodeNo,
    KernelConfig, LockOwner, MountOption, OpenFlags, ReplyAttr, ReplyData, ReplyDirectory,
    ReplyEntry, ReplyOpen, Request,
};
use std::ffi::OsStr;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::time::{Duration, UNIX_EPOCH};

const TTL: Duration = Duration::from_secs(24 * 3600);
const FILE_INO: u64 = 2;

thread_local! {
    static BUF: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

struct Passthrough {
    file: File,
    len: u64,
}

impl Passthrough {
    fn attr(&self, ino: u64) -> FileAttr {
        let dir = ino == 1;
        FileAttr {
            ino: INodeNo(ino),
            size: if dir { 0 } else { self.len },
            blocks: if dir { 0 } else { self.len.div_ceil(512) },
            atime: UNIX_EPOCH,
            mtime: UNIX_EPOCH,
            ctime: UNIX_EPOCH,
            crtime: UNIX_EPOCH,
            kind: if dir {
                FileType::Directory
            } else {
                FileType::RegularFile
            },
            perm: if dir { 0o555 } else { 0o444 },
            nlink: 1,
            uid: 0,
            gid: 0,
            rdev: 0,
            blksize: 1 << 20,
            flags: 0,
        }
    }
}

impl Filesystem for Passthrough {
    fn init(&mut self, _: &Request, config: &mut KernelConfig) -> std::io::Result<()> {
        let mut ra = u32::MAX;
        while let Err(max) = config.set_max_readahead(ra) {
            if max == ra {
                break;
            }
            ra = max;
        }
        Ok(())
    }

    fn lookup(&self, _: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        if parent.0 == 1 && name == "data" {
            reply.entry(&TTL, &self.attr(FILE_INO), Generation(0));
        } else {
            reply.error(Errno::ENOENT);
        }
    }

    fn getattr(&self, _: &Request, ino: INodeNo, _: Option<FileHandle>, reply: ReplyAttr) {
        match ino.0 {
            1 | FILE_INO => reply.attr(&TTL, &self.attr(ino.0)),
            _ => reply.error(Errno::ENOENT),
        }
    }

    fn open(&self, _: &Request, _: INodeNo, _: OpenFlags, reply: ReplyOpen) {
        reply.opened(FileHandle(0), FopenFlags::FOPEN_KEEP_CACHE);
    }

    fn read(
        &self,
        _: &Request,
        _: INodeNo,
        _: FileHandle,
        offset: u64,
        size: u32,
        _: OpenFlags,
        _: Option<LockOwner>,
        reply: ReplyData,
    ) {
        // A reused per-thread buffer, as savepointfs does: the floor should be a fast one.
        BUF.with_borrow_mut(|buf| {
            if buf.len() < size as usize {
                buf.resize(size as usize, 0);
            }
            match self.file.read_at(&mut buf[..size as usize], offset) {
                Ok(n) => reply.data(&buf[..n]),
                Err(_) => reply.error(Errno::EIO),
            }
        });
    }

    fn readdir(&self, _: &Request, _: INodeNo, _: FileHandle, off: u64, mut r: ReplyDirectory) {
        if off == 0 {
            let _ = r.add(INodeNo(FILE_INO), 1, FileType::RegularFile, "data");
        }
        r.ok();
    }
}

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        eprintln!("usage: passthrough FILE MOUNTPOINT [THREADS]");
        std::process::exit(2);
    }
    let file = File::open(&args[1])?;
    let len = file.metadata()?.len();
    let threads: usize = args.get(3).and_then(|t| t.parse().ok()).unwrap_or(2);
    let mut config = fuser::Config::default();
    config.mount_options = vec![MountOption::RO, MountOption::FSName("passthrough".into())];
    config.n_threads = Some(threads);
    config.clone_fd = threads > 1;
    fuser::mount(Passthrough { file, len }, &args[2], &config)
}
