//! The oracle: a real Flink reads every value back. Synthetic savepoints (value, list,
//! reducing and folding state side by side) are written with `synth --manifest`, converted, and restored by `scripts/flinkdump` (a MiniCluster job
//! with the same operator ids that registers every state and prints every key, namespace
//! and value its own backend holds); the lines must equal the manifest's, as sets. With
//! and without rescaling, from each source backend, for Flink 1.10.3 and 2.3.0 under
//! both backends; a value patched in a converted copy is caught, and so is a key in the
//! wrong 1.1 subtask, which re-filing puts right. Each run costs about 6 s.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

fn flinkdump() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/flinkdump")
}

/// `flinkdump DIR --check`: (exit code, output).
fn check(
    dir: &Path,
    manifest: &Path,
    flink: &str,
    backend: &str,
    extra: &[&str],
) -> (Option<i32>, String) {
    let out = Command::new(flinkdump())
        .arg(dir)
        .args(["--flink", flink, "--backend", backend, "--check", "--spec"])
        .arg(manifest)
        .args(extra)
        .output()
        .unwrap();
    let text = format!(
        "flinkdump {} --flink {flink} --backend {backend} {extra:?}\n{}{}",
        dir.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code(), text)
}

fn all_read_back((code, text): &(Option<i32>, String), values: usize) {
    assert_eq!(*code, Some(0), "{text}");
    let line = format!("read back {values} of {values} values; 0 missing, 0 unexpected");
    assert!(text.contains(&line), "missing {line:?} in:\n{text}");
}

struct Case {
    dir: tempfile::TempDir,
}

impl Case {
    fn new() -> Option<Case> {
        // flinkdump sets up the jars through flinkrestore's set-up.
        common::flink_tool("flinkrestore")?;
        Some(Case {
            dir: tempfile::tempdir().unwrap(),
        })
    }

    /// A synthetic savepoint of 3 subtasks, 4 keyed states per keyed vertex and 200 keys
    /// per state, and its manifest (`extra`: more synth options).
    fn synth(&self, name: &str, extra: &[&str]) -> (PathBuf, PathBuf) {
        let manifest = self.dir.path().join(format!("{name}.manifest"));
        let mut args = vec![
            "--chain",
            "1",
            "--parallelism",
            "3",
            "--keyed-states",
            "4",
            "--keys",
            "200",
            "--manifest",
            manifest.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        (common::mount::synth(self.dir.path(), name, &args), manifest)
    }

    fn convert(&self, sp: &Path, name: &str, extra: &[&str]) -> PathBuf {
        let out = self.dir.path().join(name);
        common::convert_minimal(sp, &out, extra);
        out
    }
}

/// One state of each kind in every keyed vertex: value, list (1 to 3 elements),
/// reducing and folding (read as aggregating state by Flink 2.3), all of Long values.
const KINDS: &str = "--state-kind=value,list,reducing,folding";

fn value_lines(manifest: &Path) -> usize {
    std::fs::read_to_string(manifest).unwrap().lines().count() - 1
}

/// Flink 2.3 under both backends, from heap and RocksDB sources, with rescaling off and
/// on: for (128, 5), and for Flink's limit of 32,768 key groups (two-byte key-group
/// prefixes) over 7. Heap list values (`int n`, elements) are re-framed as delimited
/// lists; RocksDB ones pass.
#[test]
fn flink_2_3_reads_back_every_value_with_and_without_rescaling() {
    let Some(c) = Case::new() else { return };
    let (mem, mem_manifest) = c.synth("memory", &[KINDS, "--vertices", "3", "--backend", "memory"]);
    let n = value_lines(&mem_manifest);
    assert_eq!(n, 2 * 4 * 200, "2 keyed vertices x 4 states x 200 keys");
    let plain = c.convert(&mem, "mem-plain", &[]);
    all_read_back(&check(&plain, &mem_manifest, "2.3", "heap", &[]), n);
    let rescaled = c.convert(
        &mem,
        "mem-rescaled",
        &["--max-parallelism", "128", "--parallelism", "5"],
    );
    all_read_back(
        &check(
            &rescaled,
            &mem_manifest,
            "2.3",
            "rocksdb",
            &["--parallelism", "5"],
        ),
        n,
    );

    let (rocks, rocks_manifest) = c.synth(
        "rocksdb",
        &[
            "--vertices",
            "3",
            "--backend",
            "rocksdb",
            "--key-type",
            "long",
        ],
    );
    let wide = c.convert(
        &rocks,
        "rocks-wide",
        &[
            "--key-serializer",
            "long",
            "--max-parallelism",
            "32768",
            "--parallelism",
            "7",
        ],
    );
    all_read_back(
        &check(
            &wide,
            &rocks_manifest,
            "2.3",
            "heap",
            &["--parallelism", "7"],
        ),
        n,
    );

    // Window namespaces, re-filed and not: time windows (3 per state) of String keys
    // from a RocksDB source (the namespace found from the keys' bytes) and from a
    // filesystem one, and the global window of Int keys.
    for (name, namespace, key, source, backend) in [
        (
            "time-window-rocks",
            "time-window",
            "string",
            "rocksdb",
            "heap",
        ),
        (
            "time-window",
            "time-window",
            "string",
            "filesystem",
            "rocksdb",
        ),
        (
            "global-window",
            "global-window",
            "int",
            "filesystem",
            "heap",
        ),
        (
            "time-window-memory",
            "time-window",
            "long",
            "memory",
            "rocksdb",
        ),
    ] {
        // String values from the RocksDB source (its list elements joined by `,`).
        let values = if source == "rocksdb" {
            "string"
        } else {
            "long"
        };
        let (sp, manifest) = c.synth(
            name,
            &[
                KINDS,
                "--vertices",
                "2",
                "--backend",
                source,
                "--namespace",
                namespace,
                "--key-type",
                key,
                "--value-type",
                values,
            ],
        );
        let out = c.convert(
            &sp,
            &format!("{name}-out"),
            &[
                "--key-serializer",
                key,
                "--max-parallelism",
                "128",
                "--parallelism",
                "5",
            ],
        );
        let want = value_lines(&manifest);
        all_read_back(
            &check(&out, &manifest, "2.3", backend, &["--parallelism", "5"]),
            want,
        );
        // And without re-filing, under the other backend.
        let other = if backend == "heap" { "rocksdb" } else { "heap" };
        let plain = c.convert(&sp, &format!("{name}-plain"), &["--key-serializer", key]);
        all_read_back(&check(&plain, &manifest, "2.3", other, &[]), want);
    }
}

/// Flink 1.10.3 from a filesystem source of time-window state keyed by
/// `Tuple2<Long, String>` with `String` values, in its heap layout and in its RocksDB
/// layout.
#[test]
fn flink_1_10_reads_back_every_value_in_both_layouts() {
    let Some(c) = Case::new() else { return };
    let (fs, manifest) = c.synth(
        "filesystem",
        &[
            KINDS,
            "--vertices",
            "3",
            "--backend",
            "filesystem",
            "--namespace",
            "time-window",
            "--key-type",
            "tuple2-long-string",
            "--value-type",
            "string",
        ],
    );
    let n = value_lines(&manifest);
    let heap = c.convert(&fs, "heap", &["--target", "flink-1.10"]);
    all_read_back(&check(&heap, &manifest, "1.10", "heap", &[]), n);
    let rocks = c.convert(
        &fs,
        "rocks",
        &["--target", "flink-1.10", "--keyed-layout", "rocksdb"],
    );
    all_read_back(&check(&rocks, &manifest, "1.10", "rocksdb", &[]), n);
}

/// POJO keys and values (`savepointfs.synth.Pojo`, which the harness has): from a heap
/// source into Flink 2.3 and Flink 1.10.3, and from a RocksDB source, whose key
/// serializer the user hands over as the Java stream `synth --key-serializer-out`
/// writes. Re-filing POJO keys is refused: their `hashCode` is the user's.
#[test]
fn pojo_keys_and_values_read_back() {
    let Some(c) = Case::new() else { return };
    let pojo = [
        "--key-type",
        "pojo",
        "--value-type",
        "pojo",
        "--vertices",
        "2",
        "--state-bytes",
        "256KiB",
    ];
    let (mem, mem_manifest) = c.synth(
        "pojo-memory",
        &[&[KINDS, "--backend", "memory"], &pojo[..]].concat(),
    );
    let n = value_lines(&mem_manifest);
    assert_eq!(n, 4 * 200, "1 keyed vertex x 4 states x 200 keys");
    let modern = c.convert(&mem, "pojo-2.3", &[]);
    all_read_back(&check(&modern, &mem_manifest, "2.3", "rocksdb", &[]), n);
    let native = c.convert(&mem, "pojo-1.10", &["--target", "flink-1.10"]);
    all_read_back(&check(&native, &mem_manifest, "1.10", "heap", &[]), n);

    let serializer = c.dir.path().join("pojo.serializer");
    let serializer_arg = format!("--key-serializer-out={}", serializer.display());
    let (rocks, rocks_manifest) = c.synth(
        "pojo-rocksdb",
        &[&[KINDS, "--backend", "rocksdb", &serializer_arg], &pojo[..]].concat(),
    );
    let key_serializer = format!("java:{}", serializer.display());
    let out = c.convert(
        &rocks,
        "pojo-rocks-2.3",
        &["--key-serializer", &key_serializer],
    );
    all_read_back(&check(&out, &rocks_manifest, "2.3", "heap", &[]), n);

    let refused = Command::new(env!("CARGO_BIN_EXE_savepointfs"))
        .args(["convert", "--minimal", "--max-parallelism", "128"])
        .arg(&mem)
        .arg(c.dir.path().join("pojo-refiled"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success(), "{err}");
    assert!(
        err.contains("keys of PojoSerializer have no Java hashCode we can compute"),
        "{err}"
    );
    assert!(!c.dir.path().join("pojo-refiled").exists());
}

/// A 1.1 job at parallelism 200 (above 128: two-byte key-group prefixes in the RocksDB
/// layouts) restores at parallelism 200, without re-filing: from a RocksDB source into
/// Flink 2.3's RocksDB backend, and from a memory source in Flink 1.10.3's RocksDB layout.
#[test]
fn two_hundred_subtasks_restore_without_rescaling() {
    let Some(c) = Case::new() else { return };
    let wide = |name: &str, backend: &str| {
        let manifest = c.dir.path().join(format!("{name}.manifest"));
        let sp = common::mount::synth(
            c.dir.path(),
            name,
            &[
                "--vertices",
                "2",
                "--chain",
                "1",
                "--parallelism",
                "200",
                "--keys",
                "2000",
                "--keyed-states",
                "2",
                "--state-kind=value,list",
                "--state-bytes",
                "4MiB",
                "--key-type",
                "long",
                "--backend",
                backend,
                "--manifest",
                manifest.to_str().unwrap(),
            ],
        );
        (sp, manifest)
    };
    let (rocks, manifest) = wide("wide-rocksdb", "rocksdb");
    assert_eq!(value_lines(&manifest), 4000);
    let out = c.convert(&rocks, "wide-rocksdb-2.3", &["--key-serializer", "long"]);
    all_read_back(&check(&out, &manifest, "2.3", "rocksdb", &[]), 4000);
    let (mem, manifest) = wide("wide-memory", "memory");
    let out = c.convert(
        &mem,
        "wide-memory-1.10",
        &["--target", "flink-1.10", "--keyed-layout", "rocksdb"],
    );
    all_read_back(&check(&out, &manifest, "1.10", "rocksdb", &[]), 4000);
}

/// The negative controls: one value patched in a converted copy is reported as missing
/// and unexpected; a key that 1.1 left in the wrong subtask makes Flink fail on it,
/// and re-filing puts it in its key group, after which every value reads back.
#[test]
fn a_patched_value_and_a_misplaced_key_are_caught() {
    let Some(c) = Case::new() else { return };
    let (sp, manifest) = c.synth("patched", &["--vertices", "2"]);
    let out = c.convert(&sp, "patched-out", &[]);
    // The first value line's record: key (Tuple1<Long>), void namespace, value length 8.
    let first: serde_json::Value = serde_json::from_str(
        std::fs::read_to_string(&manifest)
            .unwrap()
            .lines()
            .nth(1)
            .unwrap(),
    )
    .unwrap();
    let (key, value) = (
        first["key"][0].as_i64().unwrap(),
        first["value"].as_i64().unwrap(),
    );
    let mut record = key.to_be_bytes().to_vec();
    record.extend_from_slice(&[0, 0, 0, 0, 8]);
    record.extend_from_slice(&value.to_be_bytes());
    let vertex = first["vertex"].as_str().unwrap();
    let mut patched = 0;
    for f in common::walk_files(&out.join(vertex)) {
        let mut bytes = std::fs::read(&f).unwrap();
        if let Some(at) = bytes.windows(record.len()).position(|w| w == record) {
            let n = record.len();
            bytes[at + n - 8..at + n].copy_from_slice(&(value + 1).to_be_bytes());
            std::fs::write(&f, bytes).unwrap();
            patched += 1;
        }
    }
    assert_eq!(patched, 1, "key {key}'s record found once");
    let (code, text) = check(&out, &manifest, "2.3", "heap", &[]);
    assert_eq!(code, Some(3), "{text}");
    assert!(text.contains("1 missing, 1 unexpected"), "{text}");
    assert!(text.contains(&format!("\"value\":{}", value + 1)), "{text}");

    let (mis, mis_manifest) = c.synth("misplaced", &["--vertices", "2", "--misplace-key"]);
    let plain = c.convert(&mis, "misplaced-plain", &[]);
    let (code, text) = check(&plain, &mis_manifest, "2.3", "heap", &[]);
    assert_eq!(code, Some(2), "{text}");
    assert!(text.contains("is not in KeyGroupRange"), "{text}");
    let refiled = c.convert(&mis, "misplaced-refiled", &["--max-parallelism", "128"]);
    all_read_back(
        &check(&refiled, &mis_manifest, "2.3", "heap", &[]),
        value_lines(&mis_manifest),
    );
}

/// Flink 1.1's RocksDB snapshots do not record the namespace serializer. Time windows
/// are recognised from the keys' bytes (16 bytes after the `2A` separator); a global
/// window is one byte `00`, like Void, so it is declared with `--rocksdb-namespace`.
/// Flink 1.10.3 reads both from its RocksDB layout, and time windows from its heap layout; Flink 2.3 reads the declared global
/// window and refuses the undeclared one (its namespace serializer check), never misreads.
#[test]
fn rocksdb_window_namespaces_read_back() {
    let Some(c) = Case::new() else { return };
    let rocks = |name: &str, namespace: &str, key: &str| {
        c.synth(
            name,
            &[
                KINDS,
                "--vertices",
                "2",
                "--backend",
                "rocksdb",
                "--namespace",
                namespace,
                "--key-type",
                key,
            ],
        )
    };
    let (tw, tw_manifest) = rocks("rocks-time-window", "time-window", "string");
    let out = c.convert(
        &tw,
        "rocks-time-window-1.10",
        &["--key-serializer", "string", "--target", "flink-1.10"],
    );
    all_read_back(
        &check(&out, &tw_manifest, "1.10", "rocksdb", &[]),
        value_lines(&tw_manifest),
    );
    // In the heap layout: windows grouped per state, list values split into elements
    // under the heap's ArrayListSerializer.
    let out = c.convert(
        &tw,
        "rocks-time-window-1.10-heap",
        &[
            "--key-serializer",
            "string",
            "--target",
            "flink-1.10",
            "--keyed-layout",
            "heap",
        ],
    );
    all_read_back(
        &check(&out, &tw_manifest, "1.10", "heap", &[]),
        value_lines(&tw_manifest),
    );

    let (gw, gw_manifest) = rocks("rocks-global-window", "global-window", "int");
    let n = value_lines(&gw_manifest);
    let declared: Vec<String> = (0..4)
        .map(|i| format!("--rocksdb-namespace=state-{i}=global-window"))
        .collect();
    let mut args: Vec<&str> = vec!["--key-serializer", "int"];
    args.extend(declared.iter().map(String::as_str));
    let out = c.convert(&gw, "rocks-global-window-2.3", &args);
    all_read_back(&check(&out, &gw_manifest, "2.3", "heap", &[]), n);
    args.extend(["--target", "flink-1.10"]);
    let out = c.convert(&gw, "rocks-global-window-1.10", &args);
    all_read_back(&check(&out, &gw_manifest, "1.10", "rocksdb", &[]), n);
    // Undeclared, the states are Void: Flink 2.3 refuses the job's global-window serializer.
    let void = c.convert(
        &gw,
        "rocks-global-window-void",
        &["--key-serializer", "int"],
    );
    let (code, text) = check(&void, &gw_manifest, "2.3", "heap", &[]);
    assert_eq!(code, Some(2), "{text}");
}

/// A namespace declaration the records contradict is refused with the reason, and a
/// wrong key serializer is not guessed around.
#[test]
fn rocksdb_namespaces_are_never_guessed() {
    let dir = tempfile::tempdir().unwrap();
    let sp = common::mount::synth(
        dir.path(),
        "sp",
        &[
            "--backend",
            "rocksdb",
            "--namespace",
            "time-window",
            "--vertices",
            "2",
            "--chain",
            "1",
        ],
    );
    let refused = |args: &[&str], needle: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_savepointfs"))
            .args(["convert", sp.to_str().unwrap()])
            .arg(dir.path().join("out"))
            .args(args)
            .output()
            .unwrap();
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle), "{err}");
        assert!(!dir.path().join("out").exists());
    };
    // A declaration the records contradict.
    refused(
        &[
            "--key-serializer",
            "tuple1-long",
            "--rocksdb-namespace",
            "state-0=global-window",
        ],
        "state \"state-0\" is declared global-window (--rocksdb-namespace) but its records hold 16-byte namespaces (time-window)",
    );
    // A key serializer whose keys are shorter than the records': the separator is not
    // where it must be, and this is said instead of a guess.
    refused(
        &["--key-serializer", "int"],
        "not followed by the 2A separator",
    );
}
