//! `ls`, `cat` and `convert` through the real binary: they show the same tree with the
//! same bytes, sizes and inode numbers; `convert` is all-or-nothing, refuses to clobber,
//! and survives being killed.

mod cli_support;
mod common;

use cli_support::*;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::{Duration, Instant};

/// `ls -R -l` twice (identical: sizes and inode numbers are stable across runs), then
/// `convert`; every tree file's `cat` equals what `convert` wrote and `ls` says its
/// size; files that cannot be converted fail `cat` with one line and are not written.
/// Returns the number of files compared.
fn ls_cat_and_convert_agree(sp: &Path, tree_args: &[&str]) -> usize {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let root = file_uri(&out);
    let first = ls_all(sp, &root, tree_args);
    let second = ls_all(sp, &root, tree_args);
    assert_eq!(first.stdout, second.stdout, "ls -R -l differs between runs");
    let lines = parse_ls_long(&first.stdout);
    let failing: Vec<&LsLine> = lines.iter().filter(|l| l.kind == '!').collect();
    assert_eq!(
        first.status.code(),
        Some(if failing.is_empty() { 0 } else { 2 }),
        "ls exit status; stderr: {}",
        text(&first.stderr)
    );
    let inos: BTreeSet<u64> = lines.iter().map(|l| l.ino).collect();
    assert_eq!(inos.len(), lines.len(), "inode numbers are distinct");
    assert!(lines.iter().any(|l| l.path == "_metadata" && l.ino == 2));
    assert!(
        lines
            .iter()
            .any(|l| l.path == "savepoint.json" && l.ino == 3)
    );

    // The metadata root given to ls and cat is what convert names by default for targets
    // without relative handles; give it for all (relative `_metadata` is checked below).
    let mut args: Vec<&str> = tree_args.to_vec();
    args.extend(["--metadata-root", &root]);
    args.push("--cache-size=64KiB"); // several evictions on the way
    let conv = convert(sp, &out, &args);
    ok(conv, "convert");
    let written = read_tree(&out);
    let files: BTreeMap<&str, &LsLine> = lines
        .iter()
        .filter(|l| l.kind == '-')
        .map(|l| (l.path.as_str(), l))
        .collect();
    assert_eq!(
        written.keys().map(String::as_str).collect::<Vec<_>>(),
        files.keys().copied().collect::<Vec<_>>(),
        "convert wrote exactly the convertible tree files"
    );
    let ls_dirs: Vec<String> = {
        let mut v: Vec<String> = lines
            .iter()
            .filter(|l| l.kind == 'd')
            .map(|l| l.path.clone())
            .collect();
        v.sort();
        v
    };
    assert_eq!(dirs(&out), ls_dirs, "the same directories");
    for (path, line) in &files {
        let bytes = ok(cat(sp, path, &root, tree_args), &format!("cat {path}"));
        assert_eq!(
            bytes.len() as u64,
            line.size,
            "{path}: ls -l size = cat bytes"
        );
        assert!(bytes == written[*path], "{path}: cat = convert's file");
    }
    for l in &failing {
        let out = cat(sp, &l.path, &root, tree_args);
        assert_eq!(out.status.code(), Some(2), "cat {} fails", l.path);
        assert!(out.stdout.is_empty());
        let err = text(&out.stderr);
        assert_eq!(err.lines().count(), 1, "one line: {err}");
        assert!(err.contains(&l.path) && err.contains("cannot"), "{err}");
    }
    files.len()
}

/// `cat _metadata` with no metadata root: relative handles (the default target), the
/// same bytes wherever `convert` wrote its copy.
fn relative_metadata(sp: &Path) -> Vec<u8> {
    let mut args = vec![
        "cat".to_string(),
        sp.display().to_string(),
        "_metadata".into(),
    ];
    args.extend(uid_args(sp));
    ok(run(&args), "cat _metadata")
}

#[test]
fn cat_equals_convert_on_the_real_fixture() {
    let Some(fx) = common::shared_fixtures() else {
        return;
    };
    let sp = common::mem11(&fx);
    // By default only what `_metadata` names, savepoint.json and the decoded views (13
    // function states, 9 subtasks' keyed state); --forms all adds every other target's
    // form. Without the canonical keyed stream (migration) there are no keyed views.
    assert_eq!(ls_cat_and_convert_agree(&sp, &[]), 28 + 22);
    assert_eq!(ls_cat_and_convert_agree(&sp, &["--forms", "all"]), 79 + 22);
    assert_eq!(
        ls_cat_and_convert_agree(&sp, &["--target", "migration"]),
        27 + 13
    );
    assert_eq!(
        ls_cat_and_convert_agree(&sp, &["--target", "migration", "--forms", "all"]),
        70 + 13
    );
}

#[test]
fn cat_equals_convert_on_synthetic_savepoints_of_every_backend() {
    for (backend, args) in [
        ("memory", &[][..]),
        ("filesystem", &[][..]),
        // Flink 1.1's RocksDB backend does not record the key serializer.
        ("rocksdb", &["--key-serializer", "tuple1-long"][..]),
        // The faithful form: Flink 1.2's migration keyed-state stream.
        ("rocksdb", &["--target", "migration"][..]),
        ("rocksdb", &["--target", "migration", "--rocksdb-files"][..]),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let (synth_args, mut tree_args): (Vec<&str>, Vec<&str>) =
            args.iter().partition(|a| a.starts_with("--rocksdb"));
        tree_args.extend(["--forms", "all"]);
        let sp = synth(dir.path(), backend, "256KiB", &synth_args);
        let n = ls_cat_and_convert_agree(&sp, &tree_args);
        assert!(n > 50, "{backend}: {n} files");
    }
}

#[test]
fn ls_and_cat_report_missing_paths_in_one_line() {
    let Some(fx) = common::shared_fixtures() else {
        return;
    };
    let sp = common::mem11(&fx);
    let names = ok(run(["ls".as_ref(), sp.as_os_str()]), "ls");
    assert_eq!(
        text(&names).lines().collect::<Vec<_>>(),
        [
            "_metadata",
            "savepoint.json",
            "b6f2d694289c3a40c7b6f325a615a3cf",
            "c4e49e546d86951780eded4825c37bcc",
            "072c4efc280f5df0bfc5743297a438e7",
            "9bef6223241ae84abda5b38d06a82622",
            "945350bceda4bf93ffcce1f8cb34a22f",
        ]
    );
    let sub = ok(
        run([
            "ls",
            sp.to_str().unwrap(),
            "945350bceda4bf93ffcce1f8cb34a22f/subtask-1",
        ]),
        "ls subtask",
    );
    // Chain entry 0 is null (a stateless sink): only chain-1 and the subtask files the
    // target names; --forms all adds Flink 1.2's migration form.
    assert_eq!(
        text(&sub).lines().collect::<Vec<_>>(),
        ["chain-1", "managed-keyed-state-v6", "state"]
    );
    let all = ok(
        run([
            "ls",
            sp.to_str().unwrap(),
            "945350bceda4bf93ffcce1f8cb34a22f/subtask-1",
            "--forms",
            "all",
        ]),
        "ls subtask --forms all",
    );
    assert_eq!(
        text(&all).lines().collect::<Vec<_>>(),
        ["chain-1", "keyed-state", "managed-keyed-state-v6", "state"]
    );
    // A form not shown is not found, and says how to see it.
    let hidden = run([
        "cat",
        sp.to_str().unwrap(),
        "945350bceda4bf93ffcce1f8cb34a22f/subtask-1/keyed-state",
    ]);
    assert_eq!(hidden.status.code(), Some(2));
    assert!(text(&hidden.stderr).contains("--forms all"), "{hidden:?}");
    let file = "945350bceda4bf93ffcce1f8cb34a22f/subtask-1/chain-1/operator-state";
    let one = ok(run(["ls", "-l", sp.to_str().unwrap(), file]), "ls file");
    let l = parse_ls_long(&one);
    assert_eq!((l.len(), l[0].kind, l[0].size), (1, '-', 21), "{l:?}");
    // "Oh my, that's nice!" written with writeUTF (legacy-formats.md §2.5).
    let bytes = ok(run(["cat", sp.to_str().unwrap(), file]), "cat");
    assert_eq!(bytes, b"\x00\x13Oh my, that's nice!");

    for (cmd, path, says) in [
        ("ls", "nope", "nope: no such file or directory"),
        (
            "cat",
            "945350bceda4bf93ffcce1f8cb34a22f/subtask-9/x",
            "no such file",
        ),
        ("cat", "945350bceda4bf93ffcce1f8cb34a22f", "is a directory"),
        ("ls", "_metadata/x", "not a directory"),
    ] {
        let out = run([cmd, sp.to_str().unwrap(), path]);
        assert_eq!(out.status.code(), Some(2), "{cmd} {path}");
        let err = text(&out.stderr);
        assert_eq!(err.lines().count(), 1, "{cmd} {path}: {err}");
        assert!(err.contains(says), "{cmd} {path}: {err}");
    }
}

#[test]
fn convert_refuses_a_non_empty_outdir_without_force() {
    let Some(fx) = common::shared_fixtures() else {
        return;
    };
    let sp = common::mem11(&fx);
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("precious"), b"keep me").unwrap();
    let refused = convert(&sp, &out, &[]);
    assert_eq!(refused.status.code(), Some(2));
    let err = text(&refused.stderr);
    assert!(
        err.contains("not empty") && err.contains("--force"),
        "{err}"
    );
    assert_eq!(read_tree(&out).len(), 1, "untouched");

    // An empty directory is fine; --force replaces a non-empty one.
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    ok(convert(&sp, &empty, &[]), "convert into an empty dir");
    assert_eq!(read_tree(&empty).len(), 50);
    ok(convert(&sp, &out, &["--force"]), "convert --force");
    let replaced = read_tree(&out);
    assert!(!replaced.contains_key("precious"));
    assert_eq!(replaced.len(), 50);
    // The same bytes, except the two files that name their own directory.
    let other = read_tree(&empty);
    for (k, v) in &replaced {
        if k != "_metadata" && k != "savepoint.json" {
            assert!(other[k] == *v, "{k}");
        }
    }
    let meta = relative_metadata(&sp);
    assert_eq!(replaced["_metadata"], meta);
    let siblings: Vec<String> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(
        siblings.is_empty(),
        "no temporary siblings left: {siblings:?}"
    );

    // --force never replaces a directory holding the savepoint it reads.
    let holder = tmp.path().join("holder");
    std::fs::create_dir(&holder).unwrap();
    std::fs::copy(&sp, holder.join("sp")).unwrap();
    let refused = convert(&holder.join("sp"), &holder, &["--force"]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        text(&refused.stderr).contains("refusing"),
        "{}",
        text(&refused.stderr)
    );
    assert!(holder.join("sp").is_file());
}

#[test]
fn unconvertible_files_stop_convert_unless_keep_going() {
    let dir = tempfile::tempdir().unwrap();
    // Keyed state on two chain entries: Flink 1.2 refuses it (legacy-formats.md §3.4).
    let sp = synth(dir.path(), "memory", "64KiB", &["--two-keyed-entries"]);
    let out = dir.path().join("out");
    let failed = convert(&sp, &out, &["--target", "migration"]);
    assert_eq!(failed.status.code(), Some(2));
    let err = text(&failed.stderr);
    let problems: Vec<&str> = err
        .lines()
        .filter(|l| l.contains(" keyed-state: "))
        .collect();
    // 2 keyed vertices x 4 subtasks, one line each, naming vertex and subtask.
    assert_eq!(problems.len(), 8, "{err}");
    assert!(
        problems.iter().all(|l| l.contains("vertex ")
            && l.contains(" subtask ")
            && l.contains("more than one keyed state")),
        "{err}"
    );
    assert!(err.contains("nothing was written"), "{err}");
    assert!(!out.exists(), "no OUTDIR after a refused convert");
    assert!(
        std::fs::read_dir(dir.path()).unwrap().all(|e| !e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .starts_with('.')),
        "no temporary sibling left"
    );

    let kept = convert(
        &sp,
        &out,
        &["--target", "migration", "--keep-going", "--forms", "all"],
    );
    assert_eq!(kept.status.code(), Some(2), "{}", text(&kept.stderr));
    let written = read_tree(&out);
    assert!(
        !written.contains_key("_metadata"),
        "no _metadata without every file"
    );
    let root = file_uri(&out);
    let keyed: Vec<&String> = written
        .keys()
        .filter(|k| k.ends_with("/keyed-state"))
        .collect();
    assert!(keyed.is_empty(), "failed files are not written: {keyed:?}");
    for (path, bytes) in written.iter().filter(|(k, _)| k.contains("/chain-")) {
        let catted = ok(
            cat(
                &sp,
                path,
                &root,
                &["--target", "migration", "--forms", "all"],
            ),
            path,
        );
        assert!(&catted == bytes, "{path}");
    }
    assert!(written.len() > 50);
}

/// SIGKILL in the middle of a convert leaves no OUTDIR that looks complete, and the
/// next run succeeds and removes the leftover.
#[test]
fn an_interrupted_convert_leaves_nothing_that_looks_complete() {
    let dir = tempfile::tempdir().unwrap();
    let sp = synth(dir.path(), "memory", "256MiB", &[]);
    let out = dir.path().join("out");
    let tmp_prefix = ".out.savepointfs-tmp-";
    let find_tmp = || {
        std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap())
            .find(|e| e.file_name().to_string_lossy().starts_with(tmp_prefix))
            .map(|e| e.path())
    };
    let mut killed_mid_way = false;
    for _attempt in 0..5 {
        let mut child = std::process::Command::new(BIN)
            .args(["convert", sp.to_str().unwrap(), out.to_str().unwrap()])
            .args(uid_args(&sp))
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        // Wait until it is writing (the temporary directory holds some bytes), then kill.
        let start = Instant::now();
        let mut writing = false;
        while start.elapsed() < Duration::from_secs(60) && child.try_wait().unwrap().is_none() {
            if find_tmp().is_some_and(|t| read_size(&t) > (1 << 20)) {
                writing = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        child.kill().unwrap();
        let status = child.wait().unwrap();
        if writing && !status.success() {
            killed_mid_way = true;
            break;
        }
        // It finished first: start over.
        let _ = std::fs::remove_dir_all(&out);
    }
    assert!(killed_mid_way, "could not catch convert mid-way");
    assert!(
        !out.join("_metadata").exists(),
        "an interrupted convert must not leave a _metadata at OUTDIR"
    );
    assert!(!out.exists(), "OUTDIR appears only at the end");
    let stale = find_tmp().expect("the killed run's temporary directory is left");

    let again = convert(&sp, &out, &[]);
    let err = text(&again.stderr);
    ok(again, "second convert");
    assert!(err.contains("interrupted run"), "{err}");
    assert!(!stale.exists(), "the stale temporary directory was removed");
    assert!(out.join("_metadata").is_file());
    let meta = relative_metadata(&sp);
    assert_eq!(std::fs::read(out.join("_metadata")).unwrap(), meta);
}

fn read_size(dir: &Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            match e.metadata() {
                Ok(m) if m.is_dir() => stack.push(e.path()),
                Ok(m) => total += m.len(),
                Err(_) => {}
            }
        }
    }
    total
}
