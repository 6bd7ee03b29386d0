//! `savepointfs wrap`: Flink 1.1's own operator snapshots (one `StreamTaskState` each,
//! written by its test harnesses) as one-vertex savepoints that every command takes.

mod common;

use common::mount::run;
use std::path::Path;

fn ok(out: std::process::Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn wrap(snapshot: &Path, out: &Path, uid: &str) {
    ok(
        run(&[
            "wrap",
            snapshot.to_str().unwrap(),
            out.to_str().unwrap(),
            "--uid",
            uid,
        ]),
        "wrap",
    );
}

#[test]
fn every_operator_snapshot_wraps_into_a_savepoint_that_verifies() {
    let Some(fx) = common::shared_fixtures() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let snapshots = common::operator_snapshots(&fx);
    assert_eq!(snapshots.len(), 11);
    for snap in &snapshots {
        let name = snap.file_name().unwrap().to_str().unwrap();
        let out = dir.path().join(name);
        wrap(snap, &out, name);
        // The vertex is the operator id Flink derives from the uid.
        let vertex = savepointfs::ids::hex(&savepointfs::modern::operator_id_of_uid(name));
        let inspect = ok(
            run(&["inspect", "--json", out.to_str().unwrap()]),
            "inspect",
        );
        assert!(inspect.contains(&vertex), "{name}: {vertex}");
        ok(
            run(&["verify", out.to_str().unwrap()]),
            &format!("verify {name}"),
        );
    }
    // The reduce window operator's contents, decoded: Flink's bytes, key by key.
    let out = dir
        .path()
        .join("win-op-migration-test-reduce-event-time-flink1.1-snapshot");
    let listing = ok(run(&["ls", out.to_str().unwrap(), "-R"]), "ls");
    let view = listing
        .lines()
        .find(|l| l.ends_with("state/window-contents.jsonl"))
        .unwrap();
    let lines = ok(run(&["cat", out.to_str().unwrap(), view]), "cat");
    let want = [
        r#"{"key_group":0,"key":"key1","namespace":{"end":3000,"start":0},"value":["key1",3]}"#,
        r#"{"key_group":0,"key":"key2","namespace":{"end":3000,"start":0},"value":["key2",3]}"#,
        r#"{"key_group":0,"key":"key2","namespace":{"end":6000,"start":3000},"value":["key2",2]}"#,
    ];
    assert_eq!(lines.lines().collect::<Vec<_>>(), want);
}

#[test]
fn what_is_not_an_operator_snapshot_is_refused_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let sp = common::mount::synth(dir.path(), "sp", &[]);
    let out = dir.path().join("out");
    let refused = run(&[
        "wrap",
        sp.to_str().unwrap(),
        out.to_str().unwrap(),
        "--uid",
        "u",
    ]);
    assert!(!refused.status.success());
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(
        err.contains(sp.to_str().unwrap()) && err.contains("offset"),
        "{err}"
    );
    assert!(!out.exists());
    // A Java stream of something else.
    let other = dir.path().join("string.ser");
    std::fs::write(&other, [0xAC, 0xED, 0, 5, 0x74, 0, 1, b'x']).unwrap();
    let refused = run(&[
        "wrap",
        other.to_str().unwrap(),
        out.to_str().unwrap(),
        "--uid",
        "u",
    ]);
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(
        err.contains("not a org.apache.flink.streaming.runtime.tasks.StreamTaskState"),
        "{err}"
    );
    assert!(!out.exists());
}
