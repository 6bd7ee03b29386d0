//! Flink's own reader judges our output: `convert` a savepoint, then run the
//! flinkcheck oracle (Flink 1.10.3's `SavepointV1Serializer`, restore validation, and
//! every file handle opened and measured through Flink's `FileSystem`) on the
//! directory. Needs Java; skipped with a notice without it, a failure under `CI=true`.

mod cli_support;
mod common;

use cli_support::*;
use savepointfs::source::FileSource;
use savepointfs::v1;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The oracle's wrapper script, or `None` (after a notice) when it cannot run here.
fn flinkcheck() -> Option<PathBuf> {
    common::flink_tool("flinkcheck")
}

/// The file handles of a V1 `_metadata`: (path, declared size).
fn file_handles(metadata: &Path) -> Vec<(String, i64)> {
    let model = v1::read(&FileSource::open(metadata).unwrap()).unwrap();
    let mut out = Vec::new();
    let mut add = |h: &v1::StreamHandle| {
        if let v1::StreamHandle::File { size, path } = h {
            out.push((path.clone(), *size));
        }
    };
    for t in &model.tasks {
        for (_, st) in &t.subtasks {
            st.legacy.iter().flatten().for_each(&mut add);
            for op in st.managed_operator.iter().chain(&st.raw_operator).flatten() {
                add(&op.delegate);
            }
            for kg in st.managed_keyed.iter().chain(&st.raw_keyed) {
                add(&kg.delegate);
            }
        }
    }
    out
}

/// Converts and has Flink check the result; returns the number of file handles.
fn flink_accepts(tool: &Path, sp: &Path, tree_args: &[&str], label: &str) -> usize {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("converted");
    // flinkcheck is Flink 1.10's V1 reader: the per-chain targets (flink-1.2 unless
    // named; flink-1.10 is per operator once every stateful operator has an id).
    let mut tree_args = tree_args.to_vec();
    if !tree_args.contains(&"--target") {
        tree_args.extend(["--target", "flink-1.2"]);
    }
    let tree_args = &tree_args[..];
    ok(convert(sp, &out, tree_args), &format!("{label}: convert"));
    let handles = file_handles(&out.join("_metadata"));
    assert!(!handles.is_empty(), "{label}: no file handles");
    let root = format!("{}/", file_uri(&out));
    let written = read_tree(&out);
    let mut named: Vec<String> = Vec::new();
    for (path, size) in &handles {
        let rel = path
            .strip_prefix(&root)
            .unwrap_or_else(|| panic!("{label}: {path} is not under {root}"));
        let len = written.get(rel).map(|b| b.len() as i64);
        assert_eq!(len, Some(*size), "{label}: {rel}");
        named.push(rel.to_string());
    }
    if tree_args.contains(&"--minimal") {
        named.extend(["_metadata".into(), "savepoint.json".into()]);
        named.sort();
        assert_eq!(
            written.keys().cloned().collect::<Vec<_>>(),
            named,
            "{label}: --minimal writes exactly what _metadata names"
        );
    }

    let run = Command::new(tool)
        .arg("--compact")
        .arg(&out)
        .output()
        .expect("run flinkcheck");
    let report: Value = serde_json::from_slice(&run.stdout).unwrap_or_else(|e| {
        panic!(
            "{label}: flinkcheck printed no JSON ({e}); exit {:?}; stderr: {}",
            run.status.code(),
            text(&run.stderr)
        )
    });
    assert_eq!(
        run.status.code(),
        Some(0),
        "{label}: errors {}; stderr: {}",
        report["errors"],
        text(&run.stderr)
    );
    assert_eq!(report["ok"], Value::Bool(true), "{label}");
    assert_eq!(
        report["errors"].as_array().map(Vec::len),
        Some(0),
        "{label}"
    );
    assert_eq!(
        report["flink_restore_validation"]["ok"],
        Value::Bool(true),
        "{label}"
    );
    let summary = &report["handle_summary"];
    assert_eq!(
        summary["handles_opened"].as_u64(),
        Some(handles.len() as u64),
        "{label}: Flink opened every file handle we wrote: {summary}"
    );
    assert_eq!(
        summary["stream_handle_types"]["file"].as_u64(),
        Some(handles.len() as u64),
        "{label}: {summary}"
    );
    let bytes: i64 = handles.iter().map(|(_, s)| s).sum();
    assert_eq!(
        summary["bytes_read"].as_i64(),
        Some(bytes),
        "{label}: {summary}"
    );
    handles.len()
}

#[test]
fn flink_reads_our_metadata_for_the_real_fixture() {
    let Some(tool) = flinkcheck() else { return };
    let Some(fx) = common::shared_fixtures() else {
        return;
    };
    let sp = common::mem11(&fx);
    // flink-1.10 (default): 9 keyed + 17 operator state handles; migration: 16
    // legacy streams (one per non-null chain entry) + 9 keyed.
    assert_eq!(flink_accepts(&tool, &sp, &[], "fixture"), 26);
    assert_eq!(
        flink_accepts(&tool, &sp, &["--minimal"], "fixture minimal"),
        26
    );
    assert_eq!(
        flink_accepts(&tool, &sp, &["--target", "migration"], "fixture migration"),
        25
    );
}

#[test]
fn flink_reads_our_metadata_for_synthetic_savepoints() {
    let Some(tool) = flinkcheck() else { return };
    for (backend, synth_args, tree_args) in [
        ("memory", &[][..], &[][..]),
        (
            "memory",
            &[][..],
            &["--minimal", "--target", "migration"][..],
        ),
        ("filesystem", &[][..], &[][..]),
        ("rocksdb", &[][..], &["--key-serializer", "tuple1-long"][..]),
        (
            "rocksdb",
            &["--rocksdb-files"][..],
            &["--target", "migration"][..],
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let sp = synth(dir.path(), backend, "256KiB", synth_args);
        flink_accepts(&tool, &sp, tree_args, backend);
    }
}
