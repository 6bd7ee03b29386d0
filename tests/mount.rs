//! Real FUSE mounts of real and synthetic savepoints: what the kernel shows must be what
//! `ls`/`convert` compute, Flink must read it, it must stay read-only and correct under
//! concurrency, and mounting/unmounting must tell the truth and leave nothing behind.
//! Every test mounts into its own temporary directory through a guard that unmounts.

mod common;

use common::mount::{
    Mounted, alive, bin, daemon_pid, flinkcheck, fuse_available, is_mounted, run, synth,
    wait_until, walk, xattr,
};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fs::File;
use std::io::Read;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

fn sha256(p: &Path) -> Vec<u8> {
    Sha256::digest(std::fs::read(p).unwrap()).to_vec()
}

/// The metadata root a mount at `uri` uses by default: its own URI for the per-chain (V1)
/// targets, none (relative handles) for the default per-operator target.
fn default_root<'a>(uri: &'a str, extra: &[&str]) -> Vec<&'a str> {
    let v1 = extra
        .windows(2)
        .any(|w| w[0] == "--target" && ["flink-1.10", "flink-1.2", "migration"].contains(&w[1]));
    if v1 {
        vec!["--metadata-root", uri]
    } else {
        vec![]
    }
}

/// `savepointfs convert SAVEPOINT OUT EXTRA...` as a mount at `uri` serves it: the
/// expected bytes.
fn convert(savepoint: &Path, out: &Path, uri: &str, extra: &[&str]) {
    let mut args = vec![
        "convert",
        savepoint.to_str().unwrap(),
        out.to_str().unwrap(),
    ];
    args.extend(default_root(uri, extra));
    args.extend_from_slice(extra);
    let uids = common::uid_args(savepoint);
    args.extend(uids.iter().map(String::as_str));
    let o = run(&args);
    assert!(
        o.status.success(),
        "convert: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// `savepointfs ls -lR`: path → (is_dir, size, inode).
fn ls_lr(savepoint: &Path, uri: &str, extra: &[&str]) -> BTreeMap<String, (bool, u64, u64)> {
    let mut args = vec!["ls", "-l", "-R", savepoint.to_str().unwrap()];
    args.extend(default_root(uri, extra));
    args.extend_from_slice(extra);
    let uids = common::uid_args(savepoint);
    args.extend(uids.iter().map(String::as_str));
    let o = run(&args);
    assert!(
        o.status.success(),
        "ls: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            assert_eq!(f.len(), 4, "ls -l line {l:?}");
            (
                f[3].to_string(),
                (f[0] == "d", f[1].parse().unwrap(), f[2].parse().unwrap()),
            )
        })
        .collect()
}

/// A decoded view (`state/*.jsonl`, `function-state.json`).
fn is_view(path: &str) -> bool {
    path.contains("/state/") && path.ends_with(".jsonl") || path.ends_with("/function-state.json")
}

fn files(tree: &BTreeMap<String, (bool, u64, u64)>) -> Vec<&String> {
    tree.iter().filter(|(_, v)| !v.0).map(|(k, _)| k).collect()
}

/// The kernel's view (names, types, exact sizes, inode numbers) equals `ls -lR`; a plain
/// `cp -r` of the mount equals `convert` byte for byte and leaves the savepoint as it was;
/// a legacy stream starts with the signal byte and the Java stream magic.
fn listing_and_bytes(savepoint: &Path, extra: &[&str]) {
    let before = sha256(savepoint);
    let m = Mounted::new(savepoint, extra);
    let uri = m.uri();
    let seen = walk(m.path());
    assert_eq!(seen, ls_lr(savepoint, &uri, extra), "mount vs ls -lR");
    let out = tempfile::tempdir().unwrap();
    let copy = out.path().join("copy");
    let cp = Command::new("cp")
        .arg("-r")
        .arg(m.path())
        .arg(&copy)
        .status()
        .unwrap();
    assert!(cp.success());
    let conv = out.path().join("conv");
    convert(savepoint, &conv, &uri, extra);
    let want = walk(&conv);
    assert_eq!(
        files(&walk(&copy)),
        files(&want),
        "file sets of cp -r and convert"
    );
    for f in files(&want) {
        let got = std::fs::read(copy.join(f)).unwrap();
        assert_eq!(got.len() as u64, seen[f].1, "{f}: size before the read");
        assert!(
            got == std::fs::read(conv.join(f)).unwrap(),
            "{f}: bytes differ from convert"
        );
    }
    let meta = std::fs::read(m.path().join("_metadata")).unwrap();
    let names_uri = meta.windows(uri.len()).any(|w| w == uri.as_bytes());
    if default_root(&uri, extra).is_empty() {
        assert!(!names_uri, "_metadata names its files relative to itself");
    } else {
        assert!(names_uri, "_metadata names files under {uri}");
    }
    assert_eq!(sha256(savepoint), before, "the savepoint changed");

    // The default forms are exactly what `_metadata` names, and savepoint.json: the
    // files `convert --minimal` writes.
    if !extra.contains(&"all") {
        let minimal = out.path().join("minimal");
        let mut args = vec!["--minimal"];
        args.extend_from_slice(extra);
        convert(savepoint, &minimal, &uri, &args);
        let named: Vec<String> = walk(&minimal)
            .into_iter()
            .filter(|(_, (d, _, _))| !d)
            .map(|(p, _)| p)
            .collect();
        // Plus the decoded views, which `_metadata` never names.
        let shown: Vec<String> = files(&seen)
            .into_iter()
            .filter(|f| !is_view(f))
            .cloned()
            .collect();
        assert_eq!(shown, named, "default forms = the files _metadata names");
    }
    let any_legacy = files(&seen)
        .iter()
        .any(|f| f.ends_with("legacy-operator-state"));
    let mut legacy = 0;
    for f in files(&seen)
        .into_iter()
        .filter(|f| f.ends_with("legacy-operator-state"))
    {
        let mut head = [0u8; 5];
        let n = File::open(m.path().join(f))
            .unwrap()
            .read(&mut head)
            .unwrap();
        if n == 5 && head[0] == 1 {
            let dump = Command::new("hexdump")
                .args(["-C", "-n", "16"])
                .arg(m.path().join(f))
                .output();
            let dump = String::from_utf8(dump.unwrap().stdout).unwrap();
            assert!(dump.starts_with("00000000  01 ac ed 00 05"), "{f}: {dump}");
            legacy += 1;
        }
    }
    assert!(
        !any_legacy || legacy > 0,
        "no legacy stream with function state"
    );
}

#[test]
fn real_fixture_lists_and_copies_like_convert() {
    let Some(fx) = common::shared_fixtures() else {
        return;
    };
    if !fuse_available() {
        return;
    }
    listing_and_bytes(&common::mem11(&fx), &[]);
    listing_and_bytes(&common::mem11(&fx), &["--forms", "all"]);
    listing_and_bytes(&common::mem11(&fx), &["--target", "migration"]);
}

#[test]
fn synthetic_savepoints_list_and_copy_like_convert() {
    if !fuse_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for backend in ["memory", "filesystem"] {
        let sp = synth(
            dir.path(),
            backend,
            &["--backend", backend, "--state-bytes", "2MiB"],
        );
        listing_and_bytes(&sp, &[]);
    }
    // Flink 1.1's RocksDB backend does not record the key serializer: it is named.
    let sp = synth(
        dir.path(),
        "rocksdb",
        &["--backend", "rocksdb", "--state-bytes", "2MiB"],
    );
    listing_and_bytes(&sp, &["--key-serializer", "tuple1-long"]);
}

#[test]
fn flink_reads_through_the_mount() {
    if !fuse_available() {
        return;
    }
    let Some(tool) = flinkcheck() else { return };
    let dir = tempfile::tempdir().unwrap();
    let mut cases: Vec<(PathBuf, Vec<&str>)> = Vec::new();
    if let Some(fx) = common::shared_fixtures() {
        cases.push((common::mem11(&fx), vec!["--target", "flink-1.2"]));
        cases.push((common::mem11(&fx), vec!["--target", "migration"]));
    }
    for backend in ["memory", "filesystem", "rocksdb"] {
        let sp = synth(
            dir.path(),
            backend,
            &["--backend", backend, "--state-bytes", "1MiB"],
        );
        let mut extra = vec!["--target", "flink-1.2"];
        if backend == "rocksdb" {
            extra.extend(["--key-serializer", "tuple1-long"]);
        }
        cases.push((sp.clone(), extra));
        cases.push((sp, vec!["--target", "migration"]));
    }
    for (sp, extra) in cases {
        let m = Mounted::new(&sp, &extra);
        let o = Command::new(&tool)
            .arg("--compact")
            .arg(m.path())
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "flinkcheck {} {extra:?}: {}\n{}",
            sp.display(),
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
    }
}

/// Reproducible random offsets.
use savepointfs::prng::Prng as Rng;

#[test]
fn parallel_random_reads_under_a_tiny_cache_match_convert() {
    if !fuse_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let sp = synth(
        dir.path(),
        "sp",
        &[
            "--vertices",
            "3",
            "--parallelism",
            "8",
            "--state-bytes",
            "24MiB",
        ],
    );
    let m = Mounted::new(&sp, &["--cache-size", "1MiB", "--threads", "4"]);
    let conv = dir.path().join("conv");
    convert(&sp, &conv, &m.uri(), &[]);
    let expected: Vec<(PathBuf, Vec<u8>)> = files(&walk(&conv))
        .into_iter()
        .map(|f| (m.path().join(f), std::fs::read(conv.join(f)).unwrap()))
        .collect();
    let expected = &expected;
    let (mismatches, compared) = std::thread::scope(|s| {
        let workers: Vec<_> = (0..8u64)
            .map(|t| {
                s.spawn(move || {
                    let mut rng = Rng::new(t + 1);
                    let (mut bad, mut bytes) = (0u64, 0u64);
                    for _ in 0..250 {
                        let (path, want) = &expected[rng.below(expected.len() as u64) as usize];
                        // Odd threads bypass the page cache: every read reaches the daemon.
                        let direct = if t % 2 == 1 { libc::O_DIRECT } else { 0 };
                        let f = File::options()
                            .read(true)
                            .custom_flags(direct)
                            .open(path)
                            .unwrap();
                        let off = rng.below(want.len() as u64 + 1);
                        let mut buf = vec![0u8; rng.below(300_000) as usize + 1];
                        let n = f.read_at(&mut buf, off).unwrap();
                        let end = (off as usize + buf.len()).min(want.len());
                        let exp = &want[off as usize..end];
                        if n != exp.len() || &buf[..n] != exp {
                            bad += 1;
                        }
                        bytes += n as u64;
                    }
                    (bad, bytes)
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().unwrap())
            .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1))
    });
    assert_eq!(mismatches, 0);
    assert!(compared > 10 << 20, "only {compared} bytes compared");
}

#[test]
fn every_write_fails_with_erofs() {
    if !fuse_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let sp = synth(dir.path(), "sp", &[]);
    let m = Mounted::new(&sp, &[]);
    let p = m.path();
    let file = p.join("_metadata");
    let vertex = walk(p).into_iter().find(|(_, v)| v.0).unwrap().0;
    let erofs = |what: &str, r: std::io::Result<()>| {
        let e = r.expect_err(what);
        assert_eq!(e.raw_os_error(), Some(libc::EROFS), "{what}: {e}");
    };
    erofs(
        "open for write",
        File::options().write(true).open(&file).map(drop),
    );
    erofs(
        "open read-write",
        File::options().read(true).write(true).open(&file).map(drop),
    );
    erofs(
        "truncate",
        File::options()
            .write(true)
            .truncate(true)
            .open(&file)
            .map(drop),
    );
    erofs("create", File::create(p.join("new")).map(drop));
    erofs("rename", std::fs::rename(&file, p.join("renamed")));
    erofs("unlink", std::fs::remove_file(&file));
    erofs("rmdir", std::fs::remove_dir(p.join(&vertex)));
    erofs("mkdir", std::fs::create_dir(p.join("d")));
    erofs("symlink", std::os::unix::fs::symlink("x", p.join("l")));
    erofs("link", std::fs::hard_link(&file, p.join("h")));
    use std::os::unix::fs::PermissionsExt;
    erofs(
        "chmod",
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)),
    );
    let c = std::ffi::CString::new(file.to_str().unwrap()).unwrap();
    // SAFETY: valid C strings and buffer.
    let r = unsafe { libc::setxattr(c.as_ptr(), c"user.x".as_ptr(), b"1".as_ptr().cast(), 1, 0) };
    assert_eq!(r, -1);
    assert_eq!(
        std::io::Error::last_os_error().raw_os_error(),
        Some(libc::EROFS)
    );
    // Reads still work, and the provenance attributes are there.
    let names = xattr_names(&file);
    assert!(
        names.contains(&"user.savepointfs.source".to_string()),
        "{names:?}"
    );
    assert!(
        names.contains(&"user.savepointfs.handle".to_string()),
        "{names:?}"
    );
    let src = xattr(&file, "user.savepointfs.source").unwrap();
    assert!(src.starts_with("generated("), "{src}");
    let e = xattr(&file, "user.other").unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::ENODATA), "{e}");
    // POSIX ACL support is declared (so the kernel caches "no ACL" per inode) and none
    // is there; the kernel then checks the mode bits itself, as `access` did.
    for (path, acl) in [
        (&file, "system.posix_acl_access"),
        (&p.join(&vertex), "system.posix_acl_default"),
    ] {
        let e = xattr(path, acl).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ENODATA), "{acl}: {e}");
    }
    let access = |path: &Path, mode| {
        let c = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
        // SAFETY: a valid C string.
        match unsafe { libc::access(c.as_ptr(), mode) } {
            0 => None,
            _ => std::io::Error::last_os_error().raw_os_error(),
        }
    };
    assert_eq!(access(&file, libc::R_OK), None);
    assert_eq!(access(&p.join(&vertex), libc::R_OK | libc::X_OK), None);
    assert_eq!(access(&file, libc::X_OK), Some(libc::EACCES));
    assert_eq!(access(&file, libc::W_OK), Some(libc::EROFS));
    assert_eq!(access(&p.join(&vertex), libc::W_OK), Some(libc::EROFS));
    drop(m);
    // -o noxattr: the kernel is told once and answers by itself from then on.
    let m = Mounted::new(&sp, &["-o", "noxattr"]);
    for _ in 0..2 {
        let e = xattr(&m.path().join("_metadata"), "user.savepointfs.source").unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EOPNOTSUPP), "{e}");
    }
}

fn xattr_names(p: &Path) -> Vec<String> {
    let c = std::ffi::CString::new(p.to_str().unwrap()).unwrap();
    let mut buf = vec![0u8; 4096];
    // SAFETY: valid C string and buffer.
    let n = unsafe { libc::listxattr(c.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    assert!(n >= 0, "listxattr: {}", std::io::Error::last_os_error());
    buf[..n as usize]
        .split(|&b| b == 0)
        .filter(|s| !s.is_empty())
        .map(|s| String::from_utf8(s.to_vec()).unwrap())
        .collect()
}

/// The largest file of a mount and its expected bytes.
fn largest(m: &Mounted, conv: &Path) -> (PathBuf, Vec<u8>) {
    let all = walk(conv);
    let f = files(&all)
        .into_iter()
        .max_by_key(|f| all[*f].1)
        .unwrap()
        .clone();
    (m.path().join(&f), std::fs::read(conv.join(&f)).unwrap())
}

#[test]
fn unmount_during_a_large_read_ends_cleanly() {
    if !fuse_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let sp = synth(
        dir.path(),
        "sp",
        &[
            "--vertices",
            "1",
            "--parallelism",
            "1",
            "--state-bytes",
            "48MiB",
        ],
    );
    let m = Mounted::new(&sp, &[]);
    let pid = daemon_pid(m.path()).expect("daemon pid");
    let conv = dir.path().join("conv");
    convert(&sp, &conv, &m.uri(), &[]);
    let (path, want) = largest(&m, &conv);
    assert!(want.len() > 8 << 20);
    let (started_tx, started_rx) = std::sync::mpsc::channel();
    let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
    let reader = std::thread::spawn(move || {
        let mut f = File::options()
            .read(true)
            .custom_flags(libc::O_DIRECT)
            .open(&path)
            .unwrap();
        let mut got = vec![0u8; 1 << 20];
        f.read_exact(&mut got).unwrap();
        started_tx.send(()).unwrap();
        go_rx.recv().unwrap();
        f.read_to_end(&mut got).unwrap();
        got == want
    });
    started_rx.recv().unwrap();
    // Busy: a plain umount refuses and says how to detach; the mount keeps working.
    let o = run(&["umount", m.path().to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("busy"), "{o:?}");
    assert!(is_mounted(m.path()));
    // Lazy: out of the mount table at once, the open file keeps reading correctly.
    let o = run(&["umount", "-z", m.path().to_str().unwrap()]);
    assert!(o.status.success(), "{o:?}");
    assert!(!is_mounted(m.path()));
    go_tx.send(()).unwrap();
    assert!(
        reader.join().unwrap(),
        "bytes read across the detach differ"
    );
    assert!(
        wait_until(Duration::from_secs(10), || !alive(pid)),
        "daemon still running after its last file closed"
    );
}

#[test]
fn signals_unmount_and_a_killed_daemon_is_cleaned_by_umount() {
    if !fuse_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let sp = synth(dir.path(), "sp", &[]);

    // SIGTERM to the daemon: unmounted, exited.
    let m = Mounted::new(&sp, &[]);
    let pid = daemon_pid(m.path()).expect("daemon pid");
    unsafe { libc::kill(pid, libc::SIGTERM) };
    assert!(wait_until(Duration::from_secs(10), || !is_mounted(
        m.path()
    ) && !alive(pid)));

    // SIGTERM while a file is open: detached at once, served until closed.
    let m = Mounted::new(&sp, &[]);
    let pid = daemon_pid(m.path()).expect("daemon pid");
    let open = File::open(m.path().join("_metadata")).unwrap();
    unsafe { libc::kill(pid, libc::SIGTERM) };
    assert!(wait_until(Duration::from_secs(10), || !is_mounted(
        m.path()
    )));
    let mut head = [0u8; 4];
    open.read_exact_at(&mut head, 0).unwrap();
    assert_eq!(
        head,
        [0x49, 0x60, 0x67, 0x2d],
        "_metadata magic after detach"
    );
    drop(open);
    assert!(wait_until(Duration::from_secs(10), || !alive(pid)));

    // SIGINT to a foreground mount: exit status 0, unmounted.
    let m = Mounted::unmounted();
    let mut child = Command::new(bin())
        .args(["mount", "-f"])
        .arg(&sp)
        .arg(m.path())
        .args(common::uid_args(&sp))
        .spawn()
        .unwrap();
    assert!(wait_until(Duration::from_secs(10), || is_mounted(m.path())));
    assert!(m.path().join("_metadata").is_file());
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    assert!(child.wait().unwrap().success());
    assert!(!is_mounted(m.path()));

    // SIGKILL: a dead mount stays; mounting on it is refused; umount removes it.
    // `status` tells the three states apart (a plain `ls` may answer from the cache).
    let m = Mounted::new(&sp, &[]);
    let mp = m.path().to_str().unwrap();
    let o = run(&["status", mp]);
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("alive"),
        "{o:?}"
    );
    let pid = daemon_pid(m.path()).expect("daemon pid");
    unsafe { libc::kill(pid, libc::SIGKILL) };
    assert!(wait_until(Duration::from_secs(10), || !alive(pid)));
    let o = run(&["status", mp]);
    assert_eq!(o.status.code(), Some(3), "{o:?}");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("dead") && err.contains("savepointfs umount"),
        "{err}"
    );
    // `stat` may still be answered from the kernel's cache; opening asks the daemon.
    // ENOTCONN once the kernel knows the daemon is gone; ECONNABORTED for a request that
    // was in flight when it died.
    let e = std::fs::read_dir(m.path()).unwrap_err();
    assert!(
        matches!(e.raw_os_error(), Some(libc::ENOTCONN | libc::ECONNABORTED)),
        "{e}"
    );
    let o = m.mount(&sp, &[]);
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("umount"),
        "{o:?}"
    );
    let o = run(&["umount", m.path().to_str().unwrap()]);
    assert!(o.status.success(), "{o:?}");
    assert!(!is_mounted(m.path()));
    assert!(std::fs::metadata(m.path()).unwrap().is_dir());
    let o = run(&["status", mp]);
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("not mounted"),
        "{o:?}"
    );
}

#[test]
fn external_state_errors_stay_on_the_files_that_use_it() {
    if !fuse_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let sp = synth(
        dir.path(),
        "sp",
        &[
            "--backend",
            "filesystem",
            "--state-bytes",
            "1MiB",
            "--parallelism",
            "2",
        ],
    );
    let conv = dir.path().join("conv");
    // Where each file's bytes come from, while everything is present.
    let (uri, sources) = {
        let m = Mounted::new(&sp, &[]);
        convert(&sp, &conv, &m.uri(), &[]);
        let all = walk(m.path());
        // Decoded views follow the streams they decode (tests/views.rs).
        let sources: BTreeMap<String, String> = files(&all)
            .into_iter()
            .filter(|f| !is_view(f))
            .map(|f| {
                (
                    f.clone(),
                    xattr(&m.path().join(f), "user.savepointfs.source").unwrap(),
                )
            })
            .collect();
        (m.uri(), sources)
    };
    let externals: Vec<&String> = sources
        .iter()
        .filter(|(_, s)| s.contains("/state/"))
        .map(|(f, _)| f)
        .collect();
    assert!(
        !externals.is_empty(),
        "no file reads external state: {sources:?}"
    );
    // A state file some file reads as a plain range (`PATH@OFFSET+LEN`).
    let victim = externals
        .iter()
        .flat_map(|f| sources[*f].split(' '))
        .find(|p| p.contains("/state/") && p.contains('@'))
        .and_then(|p| p.split('@').next())
        .unwrap()
        .to_string();
    let saved = std::fs::read(&victim).unwrap();
    std::fs::remove_file(&victim).unwrap();

    let m = Mounted::new(&sp, &["--metadata-root", &uri]);
    for (f, src) in &sources {
        let got = std::fs::read(m.path().join(f));
        // `_metadata` describes every file, the missing one too: it cannot be written.
        if src.contains(&victim) || f == "_metadata" {
            let e = got.expect_err(f);
            assert_eq!(e.raw_os_error(), Some(libc::EIO), "{f}: {e}");
        } else if f == "savepoint.json" {
            // The report still reads: it shows the missing file's size as 0.
            assert!(got.unwrap().starts_with(b"{"));
        } else {
            assert!(got.unwrap() == std::fs::read(conv.join(f)).unwrap(), "{f}");
        }
    }
    let ok = sources
        .keys()
        .filter(|f| !sources[*f].contains(&victim))
        .count();
    assert!(ok > 3, "too few unaffected files to mean anything");
    drop(m);
    std::fs::write(&victim, saved).unwrap();

    // Outside the allowed roots: EACCES on external files, the rest reads fine.
    let elsewhere = tempfile::tempdir().unwrap();
    let root = elsewhere.path().to_str().unwrap().to_string();
    let m = Mounted::new(&sp, &["--allow-root", &root, "--metadata-root", &uri]);
    for (f, src) in &sources {
        let got = std::fs::read(m.path().join(f));
        if src.contains("/state/") {
            let e = got.expect_err(f);
            assert_eq!(e.raw_os_error(), Some(libc::EACCES), "{f}: {e}");
        } else if f == "_metadata" {
            // It names those files: refused the same way, EACCES (it used to be EIO).
            let e = got.expect_err("_metadata of unservable files");
            assert_eq!(e.raw_os_error(), Some(libc::EACCES), "_metadata: {e}");
        } else if f != "savepoint.json" {
            assert!(got.unwrap() == std::fs::read(conv.join(f)).unwrap(), "{f}");
        }
    }
}

#[test]
fn mount_exit_status_tells_the_truth() {
    if !fuse_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad");
    std::fs::write(&bad, b"not a savepoint at all, just some bytes").unwrap();
    let m = Mounted::unmounted();
    let o = m.mount(&bad, &[]);
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    assert!(String::from_utf8_lossy(&o.stderr).contains("bad"), "{o:?}");
    assert!(!is_mounted(m.path()));

    let sp = synth(dir.path(), "sp", &[]);
    let missing = dir.path().join("no-such-dir");
    let o = run(&["mount", sp.to_str().unwrap(), missing.to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("no-such-dir"),
        "{o:?}"
    );
    let o = run(&["mount", sp.to_str().unwrap(), bad.to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("not a directory"),
        "{o:?}"
    );
    let o = m.mount(&sp, &["-o", "rw"]);
    assert!(!o.status.success() && !is_mounted(m.path()), "{o:?}");
    // A target the options cannot serve is refused before the mount starts, naming the
    // option: a RocksDB savepoint's key serializer, a chained operator's uid.
    let rocks = synth(dir.path(), "rocks", &["--backend", "rocksdb"]);
    let o = m.mount(&rocks, &[]);
    assert!(!o.status.success() && !is_mounted(m.path()), "{o:?}");
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("--key-serializer"),
        "{o:?}"
    );
    let no_uids = dir.path().join("no-uids");
    std::fs::copy(&sp, &no_uids).unwrap();
    let o = m.mount(&no_uids, &[]);
    assert!(!o.status.success() && !is_mounted(m.path()), "{o:?}");
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("--uid"),
        "{o:?}"
    );
    // Served by a target that needs neither.
    let o = m.mount(&no_uids, &["--target", "migration"]);
    assert!(o.status.success(), "{o:?}");
    assert!(
        run(&["umount", m.path().to_str().unwrap()])
            .status
            .success()
    );
    // A mount point with files would hide them: refused unless -o nonempty.
    let full = Mounted::unmounted();
    std::fs::write(full.path().join("keep"), b"x").unwrap();
    let o = full.mount(&sp, &[]);
    assert!(!o.status.success() && !is_mounted(full.path()), "{o:?}");
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("not empty"),
        "{o:?}"
    );
    let o = full.mount(&sp, &["-o", "nonempty"]);
    assert!(o.status.success() && is_mounted(full.path()), "{o:?}");
    drop(full);

    let o = m.mount(&sp, &[]);
    assert!(o.status.success(), "{o:?}");
    assert!(is_mounted(m.path()));
    assert!(m.path().join("savepoint.json").is_file());
    let o = m.mount(&sp, &[]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("busy"), "{o:?}");
}

/// `-o allow_other` is refused unless the user names the allowed roots and acknowledges
/// the sharing; it then serves every file with the savepoint file's owner and read bits
/// under `default_permissions`, so another user reads no more than the savepoint file
/// itself lets them (it used to serve everything 0444).
#[test]
fn allow_other_shares_no_more_than_the_savepoint_file() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    if !fuse_available() || unsafe { libc::geteuid() } != 0 {
        eprintln!("NOTICE: needs root and FUSE; skipped");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let sp = synth(dir.path(), "sp", &[]);
    let root = dir.path().to_str().unwrap();
    for extra in [
        &["-o", "allow_other"][..],
        &["-o", "allow_other", "--allow-root", root][..],
        &["-o", "allow_other", "--shared-with-all-users"][..],
    ] {
        let m = Mounted::unmounted();
        let o = m.mount(&sp, extra);
        assert_eq!(o.status.code(), Some(1), "{extra:?}: {o:?}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains("--allow-root") && err.contains("--shared-with-all-users"),
            "{err}"
        );
        assert!(!is_mounted(m.path()));
    }
    // The savepoint: owner 1234, group 1234, 0640.
    let c = std::ffi::CString::new(sp.to_str().unwrap()).unwrap();
    assert_eq!(unsafe { libc::chown(c.as_ptr(), 1234, 1234) }, 0);
    std::fs::set_permissions(&sp, std::fs::Permissions::from_mode(0o640)).unwrap();
    let m = Mounted::new(
        &sp,
        &[
            "-o",
            "allow_other",
            "--allow-root",
            root,
            "--shared-with-all-users",
        ],
    );
    let meta = std::fs::metadata(m.path().join("_metadata")).unwrap();
    assert_eq!(
        (meta.uid(), meta.gid(), meta.mode() & 0o777),
        (1234, 1234, 0o440)
    );
    let top = std::fs::metadata(m.path()).unwrap();
    assert_eq!(top.mode() & 0o777, 0o550);
    let cat_as = |uid: &str, gid: &str| {
        Command::new("setpriv")
            .args(["--reuid", uid, "--regid", gid, "--clear-groups", "cat"])
            .arg(m.path().join("_metadata"))
            .output()
            .unwrap()
    };
    let owner = cat_as("1234", "4321");
    assert!(owner.status.success(), "{owner:?}");
    assert_eq!(
        owner.stdout,
        std::fs::read(m.path().join("_metadata")).unwrap()
    );
    let group = cat_as("4321", "1234");
    assert!(group.status.success(), "{group:?}");
    let other = cat_as("4321", "4321");
    assert!(
        !other.status.success(),
        "another user read a 0640 savepoint: {other:?}"
    );
    assert!(
        String::from_utf8_lossy(&other.stderr).contains("Permission denied"),
        "{other:?}"
    );
}

/// The daemon's decode memory is bounded whatever a blob repeats: a 51 MiB subtask blob
/// of empty strings (which once took a mount with `--cache-size 1MiB` to 2.4 GiB) is
/// refused at the graph bound, and the daemon's peak RSS stays under 64 MiB.
#[test]
fn a_hostile_blob_does_not_blow_up_the_daemon() {
    use std::io::Write;
    if !fuse_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let sp = dir.path().join("savepoint-hostile");
    let n: usize = 17 << 20;
    let blob_head = common::object_array_head(n);
    let blob_len = blob_head.len() + 3 * n;
    let mut f = std::io::BufWriter::new(File::create(&sp).unwrap());
    // V0: magic, version 0, checkpoint id, one task of one subtask, no kv states.
    f.write_all(&[0x49, 0x60, 0x67, 0x2d, 0, 0, 0, 0]).unwrap();
    f.write_all(&10i64.to_be_bytes()).unwrap();
    f.write_all(&1i32.to_be_bytes()).unwrap();
    f.write_all(&[7u8; 16]).unwrap();
    f.write_all(&1i32.to_be_bytes()).unwrap(); // parallelism
    f.write_all(&1i32.to_be_bytes()).unwrap(); // subtask states
    f.write_all(&0i32.to_be_bytes()).unwrap(); // index
    f.write_all(&(blob_len as i32).to_be_bytes()).unwrap();
    f.write_all(&blob_head).unwrap();
    for _ in 0..n {
        f.write_all(&[0x74, 0, 0]).unwrap();
    }
    f.write_all(&(blob_len as i64).to_be_bytes()).unwrap(); // state size
    f.write_all(&0i64.to_be_bytes()).unwrap(); // duration
    f.write_all(&0i32.to_be_bytes()).unwrap(); // kv states
    f.flush().unwrap();
    drop(f);

    let m = Mounted::new(&sp, &["--cache-size", "1MiB", "--target", "migration"]);
    let pid = daemon_pid(m.path()).expect("daemon pid");
    let subtask = m.path().join("07070707070707070707070707070707/subtask-0");
    // Listing it decodes it: the error comes from opendir or from the first readdir.
    let e = match std::fs::read_dir(&subtask) {
        Err(e) => e,
        Ok(mut d) => d
            .find_map(Result::err)
            .expect("a failed subtask lists nothing"),
    };
    assert_eq!(e.raw_os_error(), Some(libc::EIO), "{e}");
    assert!(std::fs::read(m.path().join("_metadata")).is_err());
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let hwm_kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    assert!(hwm_kib < 64 << 10, "daemon peak RSS {hwm_kib} KiB");
}

/// A file the target cannot carry (Flink 2.3 has no BucketingSink) is listed but never
/// reads as empty. A savepoint with all its state inside has nothing to pass through, so
/// the kernel opens its files without asking the daemon; the refusal then comes at `stat`,
/// with the errno a read would give, and `cp -r` fails naming the file.
#[test]
fn a_refused_file_never_reads_as_empty_when_the_kernel_opens_files_itself() {
    if !fuse_available() {
        return;
    }
    let Some(fx) = common::shared_fixtures() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let snapshot =
        fx.join("flink-1.1/operator-snapshots/rolling-sink-migration-test-flink1.1-snapshot");
    let sp = dir.path().join("rolling-sink.savepoint");
    let (snapshot, sp_arg) = (snapshot.to_str().unwrap(), sp.to_str().unwrap());
    let w = run(&["wrap", snapshot, sp_arg, "--uid", "rolling-sink"]);
    assert!(w.status.success(), "{}", String::from_utf8_lossy(&w.stderr));
    for extra in [&[][..], &["--no-passthrough"][..]] {
        let m = Mounted::new(&sp, extra);
        let all = common::walk_files(m.path());
        let refused: Vec<_> = all
            .iter()
            .filter(|f| f.ends_with("managed-operator-state-v5"))
            .collect();
        assert_eq!(refused.len(), 1, "{all:?}");
        let refused = refused[0].clone();
        let e = std::fs::metadata(&refused).expect_err("stat of a refused file");
        assert_eq!(e.raw_os_error(), Some(libc::EIO), "{e}");
        assert!(std::fs::read(&refused).is_err());
        // `_metadata` names it, so it cannot be written either; the rest reads.
        assert!(std::fs::read(m.path().join("_metadata")).is_err());
        assert!(
            !std::fs::read(m.path().join("savepoint.json"))
                .unwrap()
                .is_empty()
        );
        let out = dir.path().join("copy");
        let cp = Command::new("cp")
            .args(["-r", m.path().to_str().unwrap(), out.to_str().unwrap()])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&cp.stderr);
        assert!(
            !cp.status.success(),
            "cp -r of a mount with a refused file: {err}"
        );
        assert!(err.contains("managed-operator-state-v5"), "{err}");
        assert!(!out.join(refused.strip_prefix(m.path()).unwrap()).exists());
        std::fs::remove_dir_all(&out).unwrap();
    }
}
