//! The `flink-2.3` target without a Flink at hand: operator ids from uids, per-operator
//! `_metadata` for synthetic savepoints of every backend (stateful non-head chain entries
//! named with `--uid`), relative handles, and the refusals a user must see.

mod cli_support;
mod common;

use cli_support::*;
use savepointfs::source::FileSource;
use savepointfs::v0::SavepointIndex;
use std::sync::Arc;

/// Flink derives operator ids from uids; the fixture job's five vertex ids are its uids'.
#[test]
fn vertex_ids_of_the_fixture_are_its_uids_hashes() {
    let Some(fx) = common::shared_fixtures() else {
        return;
    };
    let index =
        SavepointIndex::open(Arc::new(FileSource::open(common::mem11(&fx)).unwrap())).unwrap();
    let mut ids: Vec<[u8; 16]> = index.tasks().iter().map(|t| t.vertex.0).collect();
    let mut from_uids: Vec<[u8; 16]> = [
        "LegacyCheckpointedSource",
        "LegacyCheckpointedFlatMap",
        "LegacyCheckpointedFlatMapWithKeyedState",
        "KeyedStateSettingFlatMap",
        "LegacyCheckpointedOperator",
    ]
    .iter()
    .map(|u| savepointfs::modern::operator_id_of_uid(u))
    .collect();
    ids.sort();
    from_uids.sort();
    assert_eq!(ids, from_uids, "5 of 5");
}

fn inspect_json(dir: &std::path::Path) -> serde_json::Value {
    let out = ok(run(["inspect", "--json", dir.to_str().unwrap()]), "inspect");
    serde_json::from_slice(&out).unwrap()
}

/// Synthetic savepoints of every backend: 3 vertices × 2-operator chains whose non-head
/// entry has function state. With their uids each stateful entry is an operator of its
/// own; `inspect` reads the result back; every handle is relative and names a file.
#[test]
fn synthetic_savepoints_of_every_backend_become_per_operator_metadata() {
    for (backend, extra) in [
        ("memory", &[][..]),
        ("filesystem", &[][..]),
        ("rocksdb", &["--key-serializer", "tuple1-long"][..]),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let sp = synth(dir.path(), backend, "256KiB", &[]);
        let uids = std::fs::read_to_string(uid_file(&sp)).unwrap();
        assert_eq!(
            uids.lines().count(),
            3,
            "{backend}: one non-head entry per vertex"
        );
        let out = dir.path().join("out");
        ok(convert(&sp, &out, extra), &format!("{backend}: convert"));
        let doc = inspect_json(&out);
        assert_eq!(doc["version"], 3);
        assert_eq!(doc["target"], "flink-2.3");
        let ops = doc["operators"].as_array().unwrap();
        assert_eq!(ops.len(), 6, "{backend}: 3 heads + 3 chained operators");
        for line in uids.lines() {
            let (entry, uid) = line.split_once('=').unwrap();
            let id: String = savepointfs::modern::operator_id_of_uid(uid)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            assert!(
                ops.iter().any(|o| o["id"] == id),
                "{backend}: {entry} as operator {id}"
            );
        }
        let mut keyed = 0;
        for op in ops {
            for sub in op["subtasks"].as_array().unwrap() {
                let st = &sub[1];
                let handles = st["managed_operator"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .chain(st["raw_operator"].as_array().unwrap())
                    .map(|h| &h["delegate"])
                    .chain(st["managed_keyed"].as_object().map(|k| &k["delegate"]));
                for d in handles {
                    assert_eq!(d["type"], "relative_file", "{backend}: {d}");
                    let f = out.join(d["path"].as_str().unwrap());
                    assert_eq!(
                        std::fs::metadata(&f).unwrap().len() as i64,
                        d["size"].as_i64().unwrap()
                    );
                }
                keyed += st["managed_keyed"].is_object() as usize;
            }
        }
        assert_eq!(
            keyed, 8,
            "{backend}: keyed state on 2 vertices × 4 subtasks"
        );
    }
}

/// Without the uid of a stateful non-head entry, `_metadata` cannot say which operator
/// the state belongs to: the error names the vertex, the chain index and the options,
/// while every state file still converts.
#[test]
fn a_missing_uid_is_named_and_the_state_files_still_serve() {
    let dir = tempfile::tempdir().unwrap();
    let sp = synth(dir.path(), "memory", "64KiB", &[]);
    let uids = std::fs::read_to_string(uid_file(&sp)).unwrap();
    let first = uids.lines().next().unwrap();
    let (entry, _) = first.split_once('=').unwrap();
    std::fs::write(
        uid_file(&sp),
        uids.lines().skip(1).collect::<Vec<_>>().join("\n"),
    )
    .unwrap();
    let out = cat(&sp, "_metadata", "file:/x", &[]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains(entry) && err.contains("--uid") && err.contains("--operator-id"),
        "{err}"
    );
    // The state itself still converts; only what names it cannot be written.
    let (vertex, chain) = entry.split_once('/').unwrap();
    let file = format!("{vertex}/subtask-0/{chain}/managed-operator-state-v5");
    ok(
        cat(&sp, &file, "file:/x", &[]),
        "the chained operator's state",
    );
    // --operator-id gives the same id as the uid it stands for.
    let id: String = savepointfs::modern::operator_id_of_uid(first.split_once('=').unwrap().1)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let with_id = cat(
        &sp,
        "_metadata",
        "file:/x",
        &["--operator-id", &format!("{entry}={id}")],
    );
    let with_uid = cat(&sp, "_metadata", "file:/x", &["--uid", first]);
    assert_eq!(ok(with_id, "--operator-id"), ok(with_uid, "--uid"));
}

/// A key type that re-types bytes is refused before Flink sees it; `Tuple1<Long>` ↔
/// `Long` is accepted, and the header then names the new type.
#[test]
fn key_re_typing_keeps_bytes_or_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let sp = synth(dir.path(), "memory", "64KiB", &[]);
    let listing = text(&ok(run(["ls", "-R", sp.to_str().unwrap()]), "ls"));
    let keyed = listing
        .lines()
        .find(|l| l.ends_with("managed-keyed-state-v6"))
        .expect("a keyed file")
        .to_string();
    let tuple = ok(cat(&sp, &keyed, "file:/x", &[]), "Tuple1<Long>");
    let long = ok(
        cat(&sp, &keyed, "file:/x", &["--key-serializer", "long"]),
        "Long",
    );
    assert_ne!(tuple, long, "the header names the key type");
    let body = |b: &[u8]| b[b.len() - 200..].to_vec();
    assert_eq!(body(&tuple), body(&long), "the records do not change");
    let int = cat(&sp, &keyed, "file:/x", &["--key-serializer", "int"]);
    assert_eq!(int.status.code(), Some(2));
    assert!(
        text(&int.stderr).contains("re-type"),
        "{}",
        text(&int.stderr)
    );
}

/// `flink-1.10` is per operator (V2, which carries max parallelism) when every stateful
/// operator has an id, and per chain (V1, which Flink 1.10 maps by chain position) when a
/// chained operator's uid is missing; `inspect` names the target of both.
#[test]
fn flink_1_10_is_per_operator_where_it_can_be() {
    let dir = tempfile::tempdir().unwrap();
    let sp = synth(dir.path(), "memory", "64KiB", &[]);
    let with = dir.path().join("with");
    ok(
        convert(&sp, &with, &["--target", "flink-1.10"]),
        "with uids",
    );
    let without = dir.path().join("without");
    ok(
        run([
            "convert",
            sp.to_str().unwrap(),
            without.to_str().unwrap(),
            "--target",
            "flink-1.10",
        ]),
        "without uids",
    );
    let version = |d: &std::path::Path| std::fs::read(d.join("_metadata")).unwrap()[4..8].to_vec();
    assert_eq!(version(&with), [0, 0, 0, 2]);
    assert_eq!(version(&without), [0, 0, 0, 1]);
    for d in [&with, &without] {
        assert_eq!(inspect_json(d)["target"], "flink-1.10", "{}", d.display());
    }
    let ops = inspect_json(&with)["operators"].as_array().unwrap().len();
    assert_eq!(ops, 6, "3 heads + 3 chained operators");
}

/// RocksDB sources above parallelism 128 convert (two-byte key-group prefixes; they
/// used to be refused): every subtask's keyed stream is written for both RocksDB-style
/// targets, and key group 150's records carry `0x0096` (flagged `0x8096` on the last).
#[test]
fn rocksdb_sources_above_128_subtasks_convert() {
    let dir = tempfile::tempdir().unwrap();
    let sp = common::mount::synth(
        dir.path(),
        "sp",
        &[
            "--backend",
            "rocksdb",
            "--parallelism",
            "200",
            "--vertices",
            "1",
            "--chain",
            "1",
            "--state-bytes",
            "1MiB",
        ],
    );
    let uids = common::uid_file(&sp);
    let (s, u) = (sp.to_str().unwrap(), uids.to_str().unwrap());
    for (target, file) in [
        ("flink-2.3", "managed-keyed-state-v6"),
        ("flink-1.10", "managed-keyed-state"),
    ] {
        let out = dir.path().join(target);
        ok(
            run([
                "convert",
                s,
                out.to_str().unwrap(),
                "--minimal",
                "--target",
                target,
                "--key-serializer",
                "tuple1-long",
                "--uid-file",
                u,
            ]),
            target,
        );
        let streams: Vec<_> = common::walk_files(&out)
            .into_iter()
            .filter(|p| p.ends_with(file))
            .collect();
        assert_eq!(streams.len(), 200, "{target}");
        let group150 = streams
            .iter()
            .find(|p| p.parent().unwrap().ends_with("subtask-150"))
            .unwrap();
        let bytes = std::fs::read(group150).unwrap();
        // The last record: key length 11 (2 + 8 + 1), prefix 80 96, ..., then ffff.
        let tail = &bytes[bytes.len() - 2..];
        assert_eq!(tail, [0xff, 0xff], "{target}");
        let flagged = bytes.windows(6).any(|w| w == [0, 0, 0, 11, 0x80, 0x96]);
        let plain = bytes.windows(6).any(|w| w == [0, 0, 0, 11, 0x00, 0x96]);
        assert!(
            flagged && plain,
            "{target}: two-byte prefixes of key group 150"
        );
        ok(
            run([
                "verify",
                s,
                "--target",
                target,
                "--key-serializer",
                "tuple1-long",
                "--uid-file",
                u,
            ]),
            "verify",
        );
    }
}
