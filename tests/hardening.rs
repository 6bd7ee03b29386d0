//! Regression tests for hostile and unlucky inputs found by trying the product as an
//! attacker would: none may hang, block or read outside what the user allowed.

mod cli_support;
mod common;

use cli_support::*;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Every command given a FIFO as the savepoint fails at once with "not a regular file"
/// (it used to block in `open()` forever, waiting for a writer).
#[test]
fn a_fifo_as_the_savepoint_fails_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("savepoint");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: a valid C string.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let f = fifo.to_str().unwrap();
    let out = dir.path().join("out");
    let mnt = dir.path().join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    for args in [
        vec!["inspect", f],
        vec!["ls", f],
        vec!["cat", f, "_metadata"],
        vec!["convert", f, out.to_str().unwrap()],
        vec!["verify", f],
        vec!["dump", f],
        vec!["mount", f, mnt.to_str().unwrap()],
    ] {
        let start = Instant::now();
        let mut child = Command::new(BIN)
            .args(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let status = loop {
            if let Some(s) = child.try_wait().unwrap() {
                break s;
            }
            if start.elapsed() > Duration::from_secs(10) {
                child.kill().unwrap();
                panic!("{args:?} blocked on a FIFO");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut err = String::new();
        std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
        assert_eq!(status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains("not a regular file"), "{args:?}: {err}");
    }
}

/// `inspect` and `savepoint.json` show the sizes of external files only where the path
/// policy allows reading them: a savepoint naming files elsewhere learns nothing about
/// them (a semi-async backup directory elsewhere is not walked either).
#[test]
fn sizes_outside_the_allowed_roots_are_not_shown() {
    let dir = tempfile::tempdir().unwrap();
    let sp_dir = dir.path().join("sp");
    let elsewhere = dir.path().join("elsewhere");
    std::fs::create_dir_all(&sp_dir).unwrap();
    for (backend, extra) in [
        ("filesystem", &[][..]),
        ("rocksdb", &["--rocksdb-mode", "semi-async"][..]),
    ] {
        let sp = sp_dir.join(format!("savepoint-{backend}"));
        let mut args = vec![
            "synth",
            sp.to_str().unwrap(),
            "--backend",
            backend,
            "--state-bytes",
            "256KiB",
        ];
        args.extend(["--external-dir", elsewhere.to_str().unwrap()]);
        args.extend_from_slice(extra);
        ok(run(&args), "synth");
        let inspect = || -> serde_json::Value {
            serde_json::from_slice(&ok(
                run(["inspect", "--json", sp.to_str().unwrap()]),
                "inspect",
            ))
            .unwrap()
        };
        // A semi-async snapshot names a backup directory: give it content to count.
        let mut paths = Vec::new();
        walk(&inspect(), &mut |v| {
            if let Some(p) = v.get("path").and_then(|p| p.as_str()) {
                paths.push(p.trim_start_matches("file:").to_string());
            }
        });
        // Only ever inside this test's directory.
        for p in paths
            .iter()
            .filter(|p| p.starts_with(dir.path().to_str().unwrap()))
            .filter(|p| !std::path::Path::new(p).exists())
        {
            std::fs::create_dir_all(p).unwrap();
            std::fs::write(std::path::Path::new(p).join("sst"), b"0123456789").unwrap();
        }
        let doc = inspect();
        let text = doc.to_string();
        assert!(
            text.contains(elsewhere.to_str().unwrap()),
            "{backend}: external paths are listed"
        );
        let mut external = 0;
        walk(&doc, &mut |v| {
            if v.get("path").is_some_and(|p| p.is_string()) && v.get("size").is_some() {
                external += 1;
                assert_eq!(v["size"], 0, "{backend}: {v}");
            }
        });
        assert!(external > 0, "{backend}: no external handle in {doc:#}");
        // With the directory allowed, the tree's report sees the real sizes.
        let out = ok(
            run([
                "cat",
                sp.to_str().unwrap(),
                "savepoint.json",
                "--allow-root",
                elsewhere.to_str().unwrap(),
                "--target",
                "migration",
            ]),
            "cat savepoint.json",
        );
        let allowed: serde_json::Value = serde_json::from_slice(&out).unwrap();
        let mut sized = 0;
        walk(&allowed, &mut |v| {
            if v.get("path").is_some_and(|p| p.is_string())
                && v["size"].as_u64().is_some_and(|s| s > 0)
            {
                sized += 1;
            }
        });
        assert!(sized > 0, "{backend}: allowed files are measured");
    }
}

/// Calls `f` on every value of a JSON document.
fn walk(v: &serde_json::Value, f: &mut dyn FnMut(&serde_json::Value)) {
    f(v);
    match v {
        serde_json::Value::Array(a) => a.iter().for_each(|x| walk(x, f)),
        serde_json::Value::Object(o) => o.values().for_each(|x| walk(x, f)),
        _ => {}
    }
}

/// Paths in a savepoint are untrusted text: an ESC sequence or a line break in one never
/// reaches the terminal raw from `inspect`, `verify`, `ls` or `convert`.
#[test]
fn control_characters_in_input_never_reach_the_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let evil = dir.path().join("x\x1b]0;pwned\x07\rverify: ok\ny");
    let sp_dir = dir.path().join("sp");
    std::fs::create_dir_all(&sp_dir).unwrap();
    let sp = sp_dir.join("savepoint");
    ok(
        run([
            "synth",
            sp.to_str().unwrap(),
            "--backend",
            "filesystem",
            "--state-bytes",
            "64KiB",
            "--external-dir",
            evil.to_str().unwrap(),
        ]),
        "synth",
    );
    // One state file gone: verify and convert name its (evil) path in their messages.
    let mut stack = vec![evil.clone()];
    let victim = loop {
        let d = stack.pop().expect("a state file");
        let mut found = None;
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p)
            } else {
                found = Some(p)
            }
        }
        if let Some(f) = found {
            break f;
        }
    };
    std::fs::remove_file(&victim).unwrap();
    let out = dir.path().join("out");
    for args in [
        vec!["inspect", sp.to_str().unwrap()],
        vec!["verify", sp.to_str().unwrap(), "--target", "migration"],
        vec![
            "ls",
            "-R",
            "-l",
            sp.to_str().unwrap(),
            "--target",
            "migration",
        ],
        vec![
            "convert",
            sp.to_str().unwrap(),
            out.to_str().unwrap(),
            "--target",
            "migration",
        ],
    ] {
        let o = run(&args);
        for (stream, bytes) in [("stdout", &o.stdout), ("stderr", &o.stderr)] {
            assert!(
                !bytes.contains(&0x1b) && !bytes.contains(&0x07) && !bytes.contains(&b'\r'),
                "{args:?} {stream}: {}",
                text(bytes)
            );
            let t = text(bytes);
            assert!(
                !t.lines().any(|l| l.trim() == "verify: ok"),
                "{args:?} {stream}: a forged line"
            );
        }
        let shown = format!("{}{}", text(&o.stdout), text(&o.stderr));
        if args[0] != "ls" {
            assert!(
                shown.contains("\\e]0;pwned"),
                "{args:?}: shown escaped: {shown}"
            );
        }
    }
}

/// A huge sparse external file makes a huge tree: `convert` checks the free space of
/// OUTDIR's file system up front and writes nothing (it used to fill the disk).
#[test]
fn convert_checks_free_space_before_writing() {
    let dir = tempfile::tempdir().unwrap();
    let sp = dir.path().join("sp");
    let ext = dir.path().join("ext");
    ok(
        run([
            "synth",
            sp.to_str().unwrap(),
            "--backend",
            "filesystem",
            "--state-bytes",
            "256KiB",
            "--external-dir",
            ext.to_str().unwrap(),
        ]),
        "synth",
    );
    let files = common::walk_files(&ext);
    assert!(!files.is_empty(), "synth wrote no external file");
    // 4 TiB, sparse: no file system of a test machine has that free.
    std::fs::File::options()
        .write(true)
        .open(&files[0])
        .unwrap()
        .set_len(4 << 40)
        .unwrap();
    let out = dir.path().join("out");
    let o = run([
        "convert",
        sp.to_str().unwrap(),
        out.to_str().unwrap(),
        "--target",
        "migration",
    ]);
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("free") && err.contains("nothing was written"),
        "{err}"
    );
    assert!(!out.exists());
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n.to_string_lossy().starts_with(".out."))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

/// A mount refused to a user who is not root says what to do about it (it used to be
/// a bare "Permission denied").
#[test]
fn a_refused_user_mount_says_what_to_do() {
    use std::os::unix::fs::PermissionsExt;
    // SAFETY: geteuid cannot fail.
    let root = unsafe { libc::geteuid() } == 0;
    let fuse_mode = std::fs::metadata("/dev/fuse")
        .ok()
        .map(|m| m.permissions().mode() & 0o777);
    let Some(fuse_mode) = fuse_mode.filter(|m| root && m & 0o006 != 0o006) else {
        eprintln!("NOTICE: needs root and a /dev/fuse closed to other users; skipped");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let sp = dir.path().join("sp");
    ok(run(["synth", sp.to_str().unwrap()]), "synth");
    std::fs::set_permissions(&sp, std::fs::Permissions::from_mode(0o644)).unwrap();
    let mnt = dir.path().join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    let c = std::ffi::CString::new(mnt.to_str().unwrap()).unwrap();
    // SAFETY: a valid C string.
    assert_eq!(unsafe { libc::chown(c.as_ptr(), 65534, 65534) }, 0);
    let o = Command::new("setpriv")
        .args([
            "--reuid",
            "65534",
            "--regid",
            "65534",
            "--clear-groups",
            BIN,
            "mount",
        ])
        .args([&sp, &mnt])
        .args(["--target", "migration"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(&format!("/dev/fuse, mode {fuse_mode:o}")) && err.contains("run as root"),
        "{err}"
    );
}

/// A tree never lists a file it knows the options given cannot produce: a RocksDB
/// savepoint without `--key-serializer` shows no keyed stream for the target (it used
/// to list them all, each failing with EIO), and asking for one names the option.
#[test]
fn unservable_files_are_not_listed() {
    let dir = tempfile::tempdir().unwrap();
    let sp = common::mount::synth(dir.path(), "sp", &["--backend", "rocksdb"]);
    let uids = common::uid_file(&sp);
    let (s, u) = (sp.to_str().unwrap(), uids.to_str().unwrap());
    for (target, file) in [
        ("flink-2.3", "managed-keyed-state-v6"),
        ("flink-1.10", "managed-keyed-state"),
    ] {
        let ls = |extra: &[&str]| -> Vec<String> {
            let mut args = vec!["ls", "-R", s, "--uid-file", u, "--target", target];
            args.extend_from_slice(extra);
            String::from_utf8(ok(run(args), "ls"))
                .unwrap()
                .lines()
                .filter(|l| l.ends_with(&format!("/{file}")))
                .map(str::to_string)
                .collect()
        };
        assert!(ls(&[]).is_empty(), "{target}: {:?}", ls(&[]));
        let served = ls(&["--key-serializer", "long"]);
        assert!(
            !served.is_empty(),
            "{target}: no keyed stream with --key-serializer"
        );
        let o = run(["cat", s, &served[0], "--uid-file", u, "--target", target]);
        assert_eq!(o.status.code(), Some(2), "{o:?}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains("--key-serializer") && err.contains("--target migration"),
            "{err}"
        );
        ok(
            run([
                "cat",
                s,
                &served[0],
                "--uid-file",
                u,
                "--target",
                target,
                "--key-serializer",
                "long",
            ]),
            "cat with --key-serializer",
        );
    }
}
