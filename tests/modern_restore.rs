//! Stock Flink 1.20.5 and 2.3.0 restore the `flink-2.3` target (the default): every keyed
//! value, function state and raw operator byte of the real 1.1 fixture job, under the
//! HashMap and the RocksDB backend, from `convert` output, through the live mount and
//! from a `cp -r` copy of the mount; a patched value and a wrong key type are caught.
//! Each Flink run costs 5-15 s, so every run checks as much as it can.

mod common;

use common::savepointfs;

use std::path::{Path, PathBuf};
use std::process::Command;

/// `flinkrestore DIR --flink VERSION --backend BACKEND` with every check on, plus `extra`.
fn restore(
    tool: &Path,
    dir: &Path,
    v11: &Path,
    flink: &str,
    backend: &str,
    extra: &[&str],
) -> (Option<i32>, String) {
    let out = Command::new(tool)
        .arg(dir)
        .args([
            "--flink",
            flink,
            "--v11",
            v11.to_str().unwrap(),
            "--backend",
            backend,
        ])
        .args(["--operator-state", "--raw-operator-state"])
        .args(extra)
        .output()
        .unwrap();
    let text = format!(
        "flinkrestore {} --flink {flink} --backend {backend} {extra:?}\n{}{}",
        dir.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code(), text)
}

fn assert_everything_restored((code, text): &(Option<i32>, String)) {
    assert_eq!(*code, Some(0), "{text}");
    for line in [
        "job vertices equal to the 1.1 file's (id and parallelism): 5 of 5",
        "correct restored keyed values: 12 of 12",
        "restored legacy function states (ListCheckpointed \"_default_\"): 13 of 13",
        "restored raw operator states: 4 of 4",
    ] {
        assert!(text.contains(line), "missing {line:?} in:\n{text}");
    }
}

struct Setup {
    tool: PathBuf,
    v11: PathBuf,
    dir: tempfile::TempDir,
}

fn setup() -> Option<Setup> {
    let fx = common::shared_fixtures()?;
    let tool = common::flink_tool("flinkrestore")?;
    if !common::mount::fuse_available() {
        return None;
    }
    Some(Setup {
        tool,
        v11: common::mem11(&fx),
        dir: tempfile::tempdir().unwrap(),
    })
}

impl Setup {
    fn convert(&self, name: &str, extra: &[&str]) -> PathBuf {
        let out = self.dir.path().join(name);
        let mut args = vec!["convert", self.v11.to_str().unwrap(), out.to_str().unwrap()];
        args.extend_from_slice(extra);
        savepointfs(&args);
        out
    }
}

/// Both backends of one Flink version, from `convert` output and through the live mount.
/// The first run also takes a savepoint of Flink's own, which `inspect` must read, and
/// whose keyed streams must be ours up to the order of records in a key group.
fn both_backends_from_convert_and_mount(flink: &str, metadata_version: u64) {
    let Some(s) = setup() else { return };
    let out = s.convert("out", &[]);
    let m = common::mount::Mounted::new(&s.v11, &[]);
    let flinks = s.dir.path().join("flinks");
    let taken = flinks.to_str().unwrap();
    let first = ["--write", "--savepoint-to", taken];
    for backend in ["heap", "rocksdb"] {
        for dir in [out.as_path(), m.path()] {
            let extra: &[&str] = if backend == "heap" && dir == out {
                &first
            } else {
                &[]
            };
            assert_everything_restored(&restore(&s.tool, dir, &s.v11, flink, backend, extra));
        }
    }
    let written = std::fs::read_dir(&flinks)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    compare_with_flinks_savepoint(&written, &out, metadata_version);
}

/// Flink's own savepoint of the restored job: `inspect` reads it (per operator, with
/// uids from V5 on), and each inline keyed stream has our header byte for byte and our
/// records (Flink lists a key group's records in its hash map's order, we in 1.1's).
fn compare_with_flinks_savepoint(dir: &Path, ours: &Path, version: u64) {
    let doc: serde_json::Value =
        serde_json::from_slice(&savepointfs(&["inspect", "--json", dir.to_str().unwrap()]).stdout)
            .unwrap();
    assert_eq!(doc["version"], version, "{doc:#}");
    let metadata = std::fs::read(dir.join("_metadata")).unwrap();
    let mut compared = 0;
    for op in doc["operators"].as_array().unwrap() {
        let id = op["id"].as_str().unwrap();
        for sub in op["subtasks"].as_array().unwrap() {
            let Some(k) = sub[1]["managed_keyed"].as_object() else {
                continue;
            };
            assert_eq!(k["kind"], "savepoint");
            let d = &k["delegate"];
            assert_eq!(d["type"], "byte_stream", "{k:?}");
            let (at, len) = (
                d["offset"].as_u64().unwrap() as usize,
                d["len"].as_u64().unwrap() as usize,
            );
            let theirs = &metadata[at..at + len];
            let mine =
                std::fs::read(ours.join(format!("{id}/subtask-{}/managed-keyed-state-v6", sub[0])))
                    .unwrap();
            let header = k["offsets"][0].as_u64().unwrap() as usize;
            assert_eq!(
                theirs[..header],
                mine[..header],
                "{id} subtask {}: header",
                sub[0]
            );
            let sorted = |b: &[u8]| {
                let mut v = b.to_vec();
                v.sort();
                v
            };
            assert_eq!(
                sorted(&theirs[header..]),
                sorted(&mine[header..]),
                "{id} subtask {}",
                sub[0]
            );
            compared += 1;
        }
    }
    assert_eq!(compared, 9, "keyed streams compared");
}

#[test]
fn flink_1_20_restores_every_value_on_both_backends() {
    both_backends_from_convert_and_mount("1.20", 4);
}

#[test]
fn flink_2_3_restores_every_value_on_both_backends() {
    both_backends_from_convert_and_mount("2.3", 6);
}

/// A copy of the mount is a relocatable savepoint (relative handles); the job may leave
/// max parallelism to the savepoint and read function state through
/// `CheckpointedFunction`.
#[test]
fn flink_2_3_restores_a_copy_of_the_mount_from_its_new_place() {
    let Some(s) = setup() else { return };
    let copy = s.dir.path().join("moved/savepoint");
    std::fs::create_dir_all(copy.parent().unwrap()).unwrap();
    {
        let m = common::mount::Mounted::new(&s.v11, &[]);
        let cp = Command::new("cp")
            .arg("-r")
            .arg(m.path())
            .arg(&copy)
            .output()
            .unwrap();
        assert!(
            cp.status.success(),
            "{}",
            String::from_utf8_lossy(&cp.stderr)
        );
    }
    let metadata = std::fs::read(copy.join("_metadata")).unwrap();
    let text = String::from_utf8_lossy(&metadata);
    assert!(!text.contains("file:"), "relative handles only");
    let flags = ["--no-max-parallelism", "--checkpointed-function"];
    assert_everything_restored(&restore(&s.tool, &copy, &s.v11, "2.3", "heap", &flags));
}

/// A 2.x job keys by `v -> v.f0` (a `Long`), not `Tuple1<Long>`: `--key-serializer long`
/// re-types the key without changing a byte, and without it Flink refuses the header.
#[test]
fn flink_2_3_takes_a_re_typed_key_and_refuses_the_wrong_one() {
    let Some(s) = setup() else { return };
    let long = s.convert("long", &["--key-serializer", "long"]);
    assert_everything_restored(&restore(
        &s.tool,
        &long,
        &s.v11,
        "2.3",
        "rocksdb",
        &["--long-key"],
    ));
    let tuple = s.convert("tuple", &[]);
    let (code, text) = restore(&s.tool, &tuple, &s.v11, "2.3", "heap", &["--long-key"]);
    assert_eq!(code, Some(2), "{text}");
    assert!(text.contains("key serializer"), "{text}");
    // A re-typing that changes bytes is refused by us, before Flink sees it.
    let bad = Command::new(env!("CARGO_BIN_EXE_savepointfs"))
        .args(["cat", s.v11.to_str().unwrap()])
        .arg("072c4efc280f5df0bfc5743297a438e7/subtask-1/managed-keyed-state-v6")
        .args(["--key-serializer", "int"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        err.contains("re-type") && err.contains("IntSerializer"),
        "{err}"
    );
}

/// The check is live: one patched value is reported as exactly that value.
#[test]
fn flink_2_3_reports_a_patched_value() {
    let Some(s) = setup() else { return };
    let out = s.convert("patched", &[]);
    let file = out.join("072c4efc280f5df0bfc5743297a438e7/subtask-1/managed-keyed-state-v6");
    let mut bytes = std::fs::read(&file).unwrap();
    let n = bytes.len();
    // The canonical layout ends with the one record's value, then the end-of-group mark.
    assert_eq!(
        &bytes[n - 14..],
        &[0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 3, 0xff, 0xff]
    );
    bytes[n - 10..n - 2].copy_from_slice(&99i64.to_be_bytes());
    std::fs::write(&file, bytes).unwrap();
    let (code, text) = restore(&s.tool, &out, &s.v11, "2.3", "rocksdb", &[]);
    assert_eq!(code, Some(3), "{text}");
    assert!(
        text.contains("correct restored keyed values: 11 of 12"),
        "{text}"
    );
    assert!(text.contains("key 3: value 99 subtask 1 WRONG"), "{text}");
}

/// Rescaling at the upgrade: re-filed for max parallelism 128 over 2 subtasks, the job
/// (parallelism 4, max parallelism from the savepoint) restores every value, from
/// `convert` output under HashMap and through the live mount under RocksDB, so Flink
/// itself splits our 2 subtasks' key groups and merged operator lists over 4. Keys move
/// between subtasks here (key 3 was in 1.1 subtask 1; key group 22 of 128 is in new
/// subtask 1 of 2). A value patched in the re-filed stream is caught.
#[test]
fn flink_2_3_restores_a_rescaled_savepoint_and_reports_a_patched_value() {
    let Some(s) = setup() else { return };
    let rescale = ["--max-parallelism", "128", "--parallelism", "2"];
    let out = s.convert("rescaled", &rescale);
    let flags = ["--no-max-parallelism"];
    assert_everything_restored(&restore(&s.tool, &out, &s.v11, "2.3", "heap", &flags));
    {
        let m = common::mount::Mounted::new(&s.v11, &rescale);
        assert_everything_restored(&restore(
            &s.tool,
            m.path(),
            &s.v11,
            "2.3",
            "rocksdb",
            &flags,
        ));
    }
    let file = out.join("072c4efc280f5df0bfc5743297a438e7/subtask-1/managed-keyed-state-v6");
    let mut bytes = std::fs::read(&file).unwrap();
    // Key Tuple1(3), the void namespace byte, then value length 8 and the value 3.
    let record = [
        0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 3,
    ];
    let at = bytes
        .windows(record.len())
        .position(|w| w == record)
        .expect("key 3's record");
    bytes[at + 13..at + 21].copy_from_slice(&99i64.to_be_bytes());
    std::fs::write(&file, bytes).unwrap();
    let (code, text) = restore(&s.tool, &out, &s.v11, "2.3", "heap", &flags);
    assert_eq!(code, Some(3), "{text}");
    assert!(
        text.contains("correct restored keyed values: 11 of 12"),
        "{text}"
    );
    assert!(text.contains("key 3: value 99"), "{text}");
}
