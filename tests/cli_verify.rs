//! `savepointfs verify` through the real binary: silent and successful on intact
//! savepoints, one precise line per damaged, missing or disallowed external state file.

mod cli_support;
mod common;

use cli_support::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Output;

fn verify(sp: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["verify".to_string(), sp.display().to_string()];
    args.extend(extra.iter().map(|s| s.to_string()));
    args.extend(uid_args(sp));
    run(&args)
}

/// Passes: exit 0, no problem lines, a summary ending in `ok`.
fn passes(sp: &Path, extra: &[&str]) -> String {
    let out = verify(sp, extra);
    let stdout = text(&ok(out, &format!("verify {} {extra:?}", sp.display())));
    let lines: Vec<&str> = stdout
        .lines()
        .filter(|l| !l.starts_with("warning: "))
        .collect();
    assert_eq!(lines.len(), 1, "{stdout}");
    assert!(lines[0].ends_with(": ok"), "{stdout}");
    lines[0].to_string()
}

/// Fails with exit 2; the problem lines (stdout, warnings excluded).
fn fails(sp: &Path, extra: &[&str]) -> Vec<String> {
    let out = verify(sp, extra);
    assert_eq!(
        out.status.code(),
        Some(2),
        "stdout: {}\nstderr: {}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let err = text(&out.stderr);
    assert!(err.contains("problem"), "summary on stderr: {err}");
    text(&out.stdout)
        .lines()
        .filter(|l| !l.starts_with("warning: "))
        .map(str::to_string)
        .collect()
}

/// An external state file of the savepoint, from `inspect --json`.
#[derive(Debug)]
struct External {
    vertex: String,
    subtask: u64,
    chain: u64,
    /// `function_state`, `operator_state` or `kv`.
    field: &'static str,
    class: String,
    path: PathBuf,
}

fn externals(sp: &Path) -> Vec<External> {
    let doc: Value = serde_json::from_slice(&ok(
        run(["inspect", "--json", sp.to_str().unwrap()]),
        "inspect",
    ))
    .unwrap();
    let mut out = Vec::new();
    let innermost = |h: &Value| {
        let mut h = h.clone();
        while h.get("inner").is_some() {
            h = h["inner"].clone();
        }
        h
    };
    for t in doc["tasks"].as_array().unwrap() {
        for s in t["subtasks"].as_array().unwrap() {
            for c in s["chain"].as_array().unwrap() {
                let mut found = |field: &'static str, h: &Value| {
                    let h = innermost(h);
                    if let Some(p) = h.get("path").and_then(Value::as_str) {
                        out.push(External {
                            vertex: t["vertex"].as_str().unwrap().into(),
                            subtask: s["index"].as_u64().unwrap(),
                            chain: c["index"].as_u64().unwrap(),
                            field,
                            class: h["class"].as_str().unwrap().into(),
                            path: PathBuf::from(p.strip_prefix("file:").unwrap()),
                        });
                    }
                };
                for field in ["function_state", "operator_state"] {
                    if c[field].is_object() {
                        found(field, &c[field]);
                    }
                }
                for kv in c["kv_states"].as_array().into_iter().flatten() {
                    found("kv", kv);
                }
            }
        }
    }
    out
}

fn pick<'a>(ext: &'a [External], field: &str, class_suffix: &str) -> &'a External {
    ext.iter()
        .find(|e| e.field == field && e.class.ends_with(class_suffix))
        .unwrap_or_else(|| panic!("no {field} {class_suffix} in {ext:#?}"))
}

fn place(e: &External, what: &str) -> String {
    format!(
        "vertex {} subtask {} chain {} {what}: ",
        e.vertex, e.subtask, e.chain
    )
}

fn truncate(path: &Path, by: u64) {
    let f = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    let len = f.metadata().unwrap().len();
    f.set_len(len - by).unwrap();
}

#[test]
fn intact_savepoints_pass() {
    if let Some(fx) = common::shared_fixtures() {
        let sp = common::mem11(&fx);
        let summary = passes(&sp, &[]);
        assert!(summary.contains("16 subtasks, 28 files"), "{summary}");
        let summary = passes(&sp, &["--forms", "all"]);
        assert!(summary.contains("16 subtasks, 79 files"), "{summary}");
        passes(&sp, &["--target", "migration"]);
    }
    for (backend, synth_args, tree_args) in [
        ("memory", &[][..], &[][..]),
        ("filesystem", &[][..], &[][..]),
        ("rocksdb", &[][..], &["--key-serializer", "tuple1-long"][..]),
        ("rocksdb", &[][..], &["--target", "migration"][..]),
        (
            "rocksdb",
            &["--rocksdb-files"][..],
            &["--target", "migration"][..],
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let sp = synth(dir.path(), backend, "128KiB", synth_args);
        let n = externals(&sp).len();
        let summary = passes(&sp, tree_args);
        assert!(
            summary.contains(&format!("{n} external file references checked")),
            "{backend}: {summary}"
        );
    }
}

#[test]
fn a_deleted_external_file_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let sp = synth(dir.path(), "filesystem", "128KiB", &[]);
    let ext = externals(&sp);
    let gone = pick(&ext, "function_state", "FileSerializableStateHandle");
    std::fs::remove_file(&gone.path).unwrap();
    let lines = fails(&sp, &[]);
    assert_eq!(lines.len(), 1, "{lines:#?}");
    assert!(
        lines[0].starts_with(&place(gone, "function-state")),
        "{lines:#?}"
    );
    assert!(
        lines[0].contains(&gone.path.display().to_string()) && lines[0].contains("No such file"),
        "{lines:#?}"
    );
}

#[test]
fn truncated_external_files_are_reported() {
    // A FileSerializableStateHandle file is one Java stream: cut, it ends early.
    let dir = tempfile::tempdir().unwrap();
    let sp = synth(dir.path(), "filesystem", "128KiB", &[]);
    let ext = externals(&sp);
    let cut = pick(&ext, "function_state", "FileSerializableStateHandle");
    truncate(&cut.path, 1);
    let lines = fails(&sp, &[]);
    assert_eq!(lines.len(), 1, "{lines:#?}");
    assert!(
        lines[0].starts_with(&place(cut, "function-state")),
        "{lines:#?}"
    );
    assert!(lines[0].contains("not one complete Java serialization stream"));

    // An opaque keyed-state snapshot file: the subtask's recorded state size says.
    let dir = tempfile::tempdir().unwrap();
    let sp = synth(dir.path(), "filesystem", "128KiB", &[]);
    let ext = externals(&sp);
    let cut = pick(&ext, "kv", "FsValueState$Snapshot");
    truncate(&cut.path, 7);
    let lines = fails(&sp, &[]);
    assert_eq!(lines.len(), 1, "{lines:#?}");
    let subtask = format!("vertex {} subtask {}: ", cut.vertex, cut.subtask);
    assert!(lines[0].starts_with(&subtask), "{lines:#?}");
    assert!(lines[0].contains("changed since the savepoint was taken"));
    let now = std::fs::metadata(&cut.path).unwrap().len();
    assert!(
        lines[0].contains(&format!("{}: {now} bytes", cut.path.display())),
        "{lines:#?}"
    );

    // A RocksDB fully-async stream in a file: its framing ends mid-record.
    let dir = tempfile::tempdir().unwrap();
    let sp = synth(dir.path(), "rocksdb", "128KiB", &["--rocksdb-files"]);
    let ext = externals(&sp);
    let cut = pick(&ext, "kv", "FinalFullyAsyncSnapshot");
    truncate(&cut.path, 3);
    let lines = fails(&sp, &["--target", "migration"]);
    assert!(
        lines.iter().any(
            |l| l.starts_with(&place(cut, "keyed state \"dummy_state\""))
                && l.contains("RocksDB snapshot stream")
                && l.contains("truncated")
        ),
        "{lines:#?}"
    );
}

#[test]
fn external_files_outside_the_allowed_roots_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let outside = dir.path().join("elsewhere");
    let sp = synth(
        dir.path(),
        "filesystem",
        "128KiB",
        &["--external-dir", outside.to_str().unwrap()],
    );
    let n = externals(&sp).len();
    let lines = fails(&sp, &[]);
    assert_eq!(lines.len(), n, "one line per external file: {lines:#?}");
    assert!(
        lines
            .iter()
            .all(|l| l.starts_with("vertex ") && l.contains("is outside the allowed roots")),
        "{lines:#?}"
    );
    passes(&sp, &["--allow-root", outside.to_str().unwrap()]);
}

#[test]
fn what_flink_cannot_migrate_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let sp = synth(
        dir.path(),
        "rocksdb",
        "64KiB",
        &["--rocksdb-mode", "semi-async"],
    );
    let lines = fails(&sp, &["--target", "migration"]);
    assert_eq!(lines.len(), 8, "2 keyed vertices x 4 subtasks: {lines:#?}");
    assert!(
        lines.iter().all(
            |l| l.contains("keyed state \"dummy_state\": cannot be migrated")
                && l.contains("semi-asynchronous")
        ),
        "{lines:#?}"
    );
}

#[test]
fn a_damaged_subtask_is_one_problem_and_stops_convert() {
    let dir = tempfile::tempdir().unwrap();
    let sp = synth(dir.path(), "memory", "64KiB", &[]);
    let doc: Value = serde_json::from_slice(&ok(
        run(["inspect", "--json", sp.to_str().unwrap()]),
        "inspect",
    ))
    .unwrap();
    let task = &doc["tasks"][1];
    let blob = task["subtasks"][2]["blob_offset"].as_u64().unwrap() as usize;
    let mut bytes = std::fs::read(&sp).unwrap();
    assert_eq!(
        &bytes[blob..blob + 2],
        [0xAC, 0xED],
        "a Java stream starts there"
    );
    bytes[blob] = 0;
    std::fs::write(&sp, &bytes).unwrap();

    let lines = fails(&sp, &[]);
    assert_eq!(lines.len(), 1, "{lines:#?}");
    let at = format!(
        "vertex {} subtask 2: cannot decode the subtask: ",
        task["vertex"].as_str().unwrap()
    );
    assert!(lines[0].starts_with(&at), "{lines:#?}");
    assert!(
        lines[0].contains(&format!("offset {blob}")),
        "names the byte offset: {lines:#?}"
    );

    let out = dir.path().join("out");
    let refused = convert(&sp, &out, &[]);
    assert_eq!(refused.status.code(), Some(2));
    let err = text(&refused.stderr);
    assert_eq!(
        err.lines().count(),
        2,
        "one problem line and the summary: {err}"
    );
    assert!(
        err.contains(&format!("subtask 2: {}", sp.display()))
            && err.contains("not a Java serialization stream"),
        "{err}"
    );
    assert!(!out.exists());
}

/// A key in the wrong subtask would be dropped by Flink without a word (native-formats.md
/// §7.3.6): `verify` recomputes every key's group, on all three backends.
#[test]
fn a_key_in_the_wrong_subtask_is_reported() {
    for backend in ["memory", "filesystem", "rocksdb"] {
        let dir = tempfile::tempdir().unwrap();
        let args = ["--key-serializer", "tuple1-long"];
        let good = synth(dir.path(), backend, "256KiB", &[]);
        let summary = passes(&good, &args);
        let checked: u64 = summary
            .split(", ")
            .find_map(|p| p.strip_suffix(" keys checked in their key groups"))
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{backend}: no key count in {summary:?}"));
        assert!(checked > 100, "{backend}: {summary}");

        let bad_dir = tempfile::tempdir().unwrap();
        let bad = synth(bad_dir.path(), backend, "256KiB", &["--misplace-key"]);
        let out = verify(&bad, &args);
        assert_eq!(out.status.code(), Some(2), "{backend}");
        let stdout = text(&out.stdout);
        let lines: Vec<&str> = stdout
            .lines()
            .filter(|l| l.contains("outside this subtask's key group"))
            .collect();
        assert_eq!(lines.len(), 1, "{backend}: {stdout}");
        assert!(
            lines[0].starts_with("vertex ") && lines[0].contains(" 1 of "),
            "{backend}: {}",
            lines[0]
        );
        assert!(text(&out.stderr).contains("1 problem"), "{backend}");
    }
    // Without the key serializer, RocksDB keys cannot be checked: a warning, not silence.
    let dir = tempfile::tempdir().unwrap();
    let sp = synth(dir.path(), "rocksdb", "256KiB", &["--misplace-key"]);
    let out = verify(&sp, &[]);
    assert!(
        text(&out.stdout).contains("key groups not checked")
            && text(&out.stdout).contains("--key-serializer")
    );
}

/// Inline `Checkpointed` state is a Java stream of its own inside the blob: one zeroed
/// in place (the blob still decodes) is reported, not passed.
#[test]
fn damaged_inline_function_state_is_reported() {
    let Some(fx) = common::shared_fixtures() else {
        return;
    };
    let mut bytes = std::fs::read(common::mem11(&fx)).unwrap();
    // The source's state: writeObject("Here be dragons!") as its own stream.
    let mut stream = vec![0xac, 0xed, 0x00, 0x05, 0x74, 0x00, 0x10];
    stream.extend_from_slice(b"Here be dragons!");
    let at = bytes
        .windows(stream.len())
        .position(|w| w == stream)
        .expect("the source's function state");
    bytes[at..at + stream.len()].fill(0);
    let dir = tempfile::tempdir().unwrap();
    let sp = dir.path().join("savepoint");
    std::fs::write(&sp, bytes).unwrap();
    let lines = fails(&sp, &[]);
    assert!(
        lines.iter().any(|l| l.contains("function-state")
            && l.contains("not one complete Java serialization stream")),
        "{lines:?}"
    );
}
