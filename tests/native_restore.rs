//! Real Flink restores our native output: a Flink 1.10.3 MiniCluster running the job that
//! wrote the 1.1 fixture (../shared/tools/flinkrestore) checks every restored value.

mod common;

use common::savepointfs;

use std::path::Path;
use std::process::Command;

fn restore(tool: &Path, dir: &Path, v11: &Path, extra: &[&str]) -> (Option<i32>, String) {
    restore_on(tool, dir, v11, "heap", extra)
}

fn restore_on(
    tool: &Path,
    dir: &Path,
    v11: &Path,
    backend: &str,
    extra: &[&str],
) -> (Option<i32>, String) {
    let out = Command::new(tool)
        .arg(dir)
        .args(extra)
        .args([
            "--v11",
            v11.to_str().unwrap(),
            "--backend",
            backend,
            "--operator-state",
            "--raw-operator-state",
        ])
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code(), text)
}

/// flinkrestore, the memory fixture and a scratch directory (a notice and `None` when
/// the fixtures or the tool are missing).
fn restore_setup() -> Option<(std::path::PathBuf, std::path::PathBuf, tempfile::TempDir)> {
    let fx = common::shared_fixtures()?;
    let tool = common::flink_tool("flinkrestore")?;
    Some((tool, common::mem11(&fx), tempfile::tempdir().unwrap()))
}

/// `convert` of a savepoint once per target, into `dir/<target>`.
fn convert_every_target(v11: &Path, dir: &Path) -> Vec<(&'static str, std::path::PathBuf)> {
    ["flink-2.3", "flink-1.10", "flink-1.2", "migration"]
        .into_iter()
        .map(|target| {
            let out = dir.join(target);
            savepointfs(&[
                "convert",
                v11.to_str().unwrap(),
                out.to_str().unwrap(),
                "--target",
                target,
            ]);
            (target, out)
        })
        .collect()
}

/// flinkrestore's lines for a complete restore of the fixture job (native-formats.md §7.6).
fn assert_everything_restored(text: &str) {
    for line in [
        "correct restored keyed values: 12 of 12",
        "restored legacy function states (ListCheckpointed \"_default_\"): 13 of 13",
        "restored raw operator states: 4 of 4",
    ] {
        assert!(text.contains(line), "missing {line:?} in:\n{text}");
    }
}

#[test]
fn flink_1_10_restores_every_value_and_the_check_is_live() {
    let Some((tool, v11, dir)) = restore_setup() else {
        return;
    };
    let out = dir.path().join("native");
    savepointfs(&[
        "convert",
        v11.to_str().unwrap(),
        out.to_str().unwrap(),
        "--target",
        "flink-1.10",
    ]);

    // Metadata V2 carries max parallelism: the job need not set it.
    let meta = std::fs::read(out.join("_metadata")).unwrap();
    assert_eq!(&meta[4..8], &[0, 0, 0, 2], "per-operator metadata V2");
    let (code, text) = restore(&tool, &out, &v11, &["--no-max-parallelism"]);
    assert_eq!(code, Some(0), "{text}");
    assert_everything_restored(&text);

    // Negative control: key 3 of KeyedStateSettingFlatMap (072c..., subtask 1) patched to 99.
    // Its stream ends with the one entry's value (data = ns count, Void ns, 1 entry, key, value).
    let patched = dir.path().join("patched");
    savepointfs(&[
        "convert",
        v11.to_str().unwrap(),
        patched.to_str().unwrap(),
        "--target",
        "flink-1.10",
    ]);
    let file = patched.join("072c4efc280f5df0bfc5743297a438e7/subtask-1/managed-keyed-state");
    let mut bytes = std::fs::read(&file).unwrap();
    let n = bytes.len();
    assert_eq!(
        &bytes[n - 16..],
        &[0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 3],
        "key 3 -> 3"
    );
    bytes[n - 8..].copy_from_slice(&99i64.to_be_bytes());
    std::fs::write(&file, bytes).unwrap();
    let (code, text) = restore(&tool, &patched, &v11, &[]);
    assert_eq!(code, Some(3), "{text}");
    assert!(
        text.contains("correct restored keyed values: 11 of 12"),
        "{text}"
    );
    assert!(text.contains("key 3: value 99 subtask 1 WRONG"), "{text}");
}

/// The fixture's heap state in the RocksDB layout (records re-framed on read) restores
/// into Flink 1.10's RocksDB backend, value for value; a patched value is caught.
#[test]
fn flink_1_10_rocksdb_restores_heap_state_in_its_layout() {
    let Some((tool, v11, dir)) = restore_setup() else {
        return;
    };
    let out = dir.path().join("rocks");
    let convert = |out: &Path| {
        savepointfs(&[
            "convert",
            v11.to_str().unwrap(),
            out.to_str().unwrap(),
            "--target",
            "flink-1.10",
            "--keyed-layout",
            "rocksdb",
            "--minimal",
        ])
    };
    convert(&out);
    let (code, text) = restore_on(&tool, &out, &v11, "rocksdb", &["--no-max-parallelism"]);
    assert_eq!(code, Some(0), "{text}");
    assert_everything_restored(&text);

    // Key 3 (subtask 1's one record): key length 10, key group 1 flagged last, key,
    // Void namespace, value length 8, value, end of key group.
    let file = out.join("072c4efc280f5df0bfc5743297a438e7/subtask-1/managed-keyed-state");
    let mut bytes = std::fs::read(&file).unwrap();
    let n = bytes.len();
    let mut record = vec![0, 0, 0, 10, 0x81];
    record.extend(3i64.to_be_bytes());
    record.extend([0, 0, 0, 0, 8]);
    record.extend(3i64.to_be_bytes());
    record.extend([0xff, 0xff]);
    assert_eq!(&bytes[n - record.len()..], &record[..], "key 3 -> 3, last");
    bytes[n - 10..n - 2].copy_from_slice(&99i64.to_be_bytes());
    std::fs::write(&file, bytes).unwrap();
    let (code, text) = restore_on(&tool, &out, &v11, "rocksdb", &["--no-max-parallelism"]);
    assert_eq!(code, Some(3), "{text}");
    assert!(text.contains("key 3: value 99 subtask 1 WRONG"), "{text}");
}

#[test]
fn flink_1_10_restores_through_the_live_mount() {
    let Some(fx) = common::shared_fixtures() else {
        return;
    };
    let Some(tool) = common::flink_tool("flinkrestore") else {
        return;
    };
    if !common::mount::fuse_available() {
        return;
    }
    let v11 = common::mem11(&fx);
    let m = common::mount::Mounted::new(&v11, &["--target", "flink-1.10"]);
    let (code, text) = restore(&tool, m.path(), &v11, &[]);
    assert_eq!(code, Some(0), "{text}");
    assert_everything_restored(&text);
}

/// Keyed state in the other backend's layout is still well-formed V1 state that Flink's
/// own reader opens, sizes and validates (the bytes are compared with Flink's files in
/// tests/convert_fixture.rs).
#[test]
fn flinkcheck_accepts_both_keyed_layouts() {
    let Some(check) = common::flink_tool("flinkcheck") else {
        return;
    };
    for (backend, layout) in [
        ("memory", "rocksdb"),
        ("rocksdb", "heap"),
        ("memory", "heap"),
        ("rocksdb", "rocksdb"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let sp = dir.path().join("savepoint");
        savepointfs(&[
            "synth",
            sp.to_str().unwrap(),
            "--backend",
            backend,
            "--state-bytes",
            "256KiB",
        ]);
        let out = dir.path().join("out");
        savepointfs(&[
            "convert",
            sp.to_str().unwrap(),
            out.to_str().unwrap(),
            "--keyed-layout",
            layout,
            "--key-serializer",
            "tuple1-long",
            "--minimal",
            "--target",
            "flink-1.10",
        ]);
        let report = Command::new(&check).arg(&out).output().unwrap();
        let json: serde_json::Value = serde_json::from_slice(&report.stdout).unwrap_or_else(|e| {
            panic!(
                "{backend}->{layout}: {e}: {}",
                String::from_utf8_lossy(&report.stderr)
            )
        });
        assert_eq!(
            report.status.code(),
            Some(0),
            "{backend}->{layout}: {json:#}"
        );
        // Chained operators with state and no uids: flink-1.10 falls back to V1 with no
        // legacy slots, which a stock Flink 1.10 accepts.
        assert_eq!(
            json["stock_flink_1_10_default_mode"]["accepted"], true,
            "{backend}->{layout}"
        );
        let keyed = json["task_states"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|t| t["subtasks"].as_array().unwrap())
            .filter(|s| s["managed_keyed_state"]["type"] == "key_groups")
            .count();
        assert!(keyed > 0, "{backend}->{layout}: no keyed state in {json:#}");
    }
}

#[test]
fn flinkcheck_accepts_every_target_for_the_real_fixture() {
    let Some(fx) = common::shared_fixtures() else {
        return;
    };
    let Some(check) = common::flink_tool("flinkcheck") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    // flinkcheck reads V1: the per-chain targets (flink-1.10 is V2 here, where every
    // stateful operator heads its chain; its V1 fallback is checked on synthetic
    // savepoints below).
    for (target, out) in convert_every_target(&common::mem11(&fx), dir.path())
        .into_iter()
        .filter(|(t, _)| ["flink-1.2", "migration"].contains(t))
    {
        let report = Command::new(&check).arg(&out).output().unwrap();
        let json: serde_json::Value = serde_json::from_slice(&report.stdout).unwrap_or_else(|e| {
            panic!("{target}: {e}: {}", String::from_utf8_lossy(&report.stderr))
        });
        assert_eq!(report.status.code(), Some(0), "{target}: {json:#}");
        assert_eq!(json["ok"], true);
        assert_eq!(json["flink_restore_validation"]["ok"], true, "{target}");
        let stock = json["stock_flink_1_10_default_mode"]["accepted"].as_bool();
        // A stock Flink 1.10 refuses any legacy slot count != 0 (legacy-formats.md §3.14).
        assert_eq!(stock, Some(false), "{target}");
        let summary = json["handle_summary"].to_string();
        if target != "migration" {
            // native-formats.md §7.6: 9 key-group and 17 operator-state handles (13 managed + 4 raw).
            let handles: Vec<&serde_json::Value> = json["task_states"]
                .as_array()
                .unwrap()
                .iter()
                .flat_map(|t| t["subtasks"].as_array().unwrap())
                .flat_map(|s| {
                    let mut v: Vec<&serde_json::Value> = s["managed_operator_state"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .collect();
                    v.extend(s["raw_operator_state"].as_array().unwrap());
                    v.push(&s["managed_keyed_state"]);
                    v
                })
                .filter(|h| !h.is_null())
                .collect();
            let kg = handles.iter().filter(|h| h["type"] == "key_groups").count();
            let op = handles
                .iter()
                .filter(|h| h["type"] == "operator_state")
                .count();
            assert_eq!((kg, op), (9, 17), "{target}: {summary}");
        }
    }
}

/// `savepoint.json` and `inspect` of the served `_metadata` both say which target is served.
#[test]
fn the_served_target_is_visible() {
    let Some(fx) = common::shared_fixtures() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    for (target, out) in convert_every_target(&common::mem11(&fx), dir.path()) {
        let report: serde_json::Value =
            serde_json::from_slice(&std::fs::read(out.join("savepoint.json")).unwrap()).unwrap();
        assert_eq!(report["target"], target);
        assert_eq!(report["checkpoint_id"], 10);
        let inspected: serde_json::Value = serde_json::from_slice(
            &savepointfs(&["inspect", "--json", out.to_str().unwrap()]).stdout,
        )
        .unwrap();
        assert_eq!(inspected["target"], target, "inspect of {target} output");
    }
}
