//! FUSE passthrough on a real mount: a file that is one whole external file is handed to
//! the kernel (`user.savepointfs.served` says `passthrough` once opened) and reads as the
//! file; everything else, every file under `--no-passthrough`, and every file where the
//! kernel (< 6.9) or privileges refuse, is served by the daemon with the same bytes.

mod common;

use common::mount::{self, Mounted, xattr};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Whether this kernel and user can pass files through (Linux >= 6.9, as root).
fn passthrough_possible() -> bool {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let mut v = release
        .trim()
        .split(['.', '-'])
        .map(|p| p.parse::<u32>().unwrap_or(0));
    let (major, minor) = (v.next().unwrap_or(0), v.next().unwrap_or(0));
    // SAFETY: geteuid cannot fail.
    (major, minor) >= (6, 9) && unsafe { libc::geteuid() } == 0
}

/// Each file of the mount with its single whole-file source (`PATH@0+LEN`), if it has one.
fn sources(m: &Mounted) -> BTreeMap<PathBuf, Option<PathBuf>> {
    common::walk_files(m.path())
        .into_iter()
        .map(|f| {
            let src = xattr(&f, "user.savepointfs.source").unwrap_or_default();
            let whole = match src.split_once("@0+") {
                Some((path, len)) if !src.contains(' ') && path.starts_with('/') => {
                    let path = PathBuf::from(path);
                    let len: u64 = len.parse().unwrap();
                    (std::fs::metadata(&path).map(|m| m.len()).ok() == Some(len)).then_some(path)
                }
                _ => None,
            };
            (f, whole)
        })
        .collect()
}

fn served(f: &Path) -> String {
    xattr(f, "user.savepointfs.served").unwrap()
}

#[test]
fn whole_files_are_passed_through_and_the_rest_served_by_the_daemon() {
    if !mount::fuse_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let sp = mount::synth(
        dir.path(),
        "sp",
        &[
            "--backend",
            "filesystem",
            "--chain",
            "1",
            "--vertices",
            "3",
            "--state-bytes",
            "8MiB",
        ],
    );
    let expect_passthrough = passthrough_possible();
    if !expect_passthrough {
        eprintln!(
            "NOTICE: this kernel or user cannot pass files through; checking the fallback only"
        );
    }
    for extra in [&[][..], &["--no-passthrough"][..]] {
        let m = Mounted::new(&sp, extra);
        let files = sources(&m);
        let wholes = files.values().filter(|w| w.is_some()).count();
        assert!(
            wholes >= 2,
            "whole external files to pass through: {files:?}"
        );
        for (f, whole) in &files {
            let bytes = std::fs::read(f).unwrap();
            let via = served(f);
            match whole {
                Some(path) => {
                    assert_eq!(bytes, std::fs::read(path).unwrap(), "{f:?}");
                    let want = if expect_passthrough && extra.is_empty() {
                        "passthrough"
                    } else {
                        "daemon"
                    };
                    assert_eq!(via, want, "{f:?} {extra:?}");
                }
                None => assert_eq!(via, "daemon", "{f:?}"),
            }
        }
        // Two handles of one passed-through file share its backing id; reads through
        // either, and after one closes, are still the file's.
        if let Some((f, Some(path))) = files.iter().find(|(_, w)| w.is_some()) {
            use std::os::unix::fs::FileExt;
            let want = std::fs::read(path).unwrap();
            let a = std::fs::File::open(f).unwrap();
            let b = std::fs::File::open(f).unwrap();
            let mut buf = vec![0u8; want.len().min(4096)];
            a.read_exact_at(&mut buf, 0).unwrap();
            assert_eq!(buf, want[..buf.len()]);
            drop(a);
            let tail = (want.len() - buf.len()) as u64;
            b.read_exact_at(&mut buf, tail).unwrap();
            assert_eq!(buf, want[want.len() - buf.len()..]);
        }
    }
}
