//! End-to-end tests of `savepointfs synth`: the generated class descriptors against the
//! ones Flink 1.1 wrote, the shape and sizes the V0 reader and `inspect --json` see for
//! every backend, key groups, and the demo fixture's reproducibility.

mod common;
#[path = "synth/descriptors.rs"]
mod descriptors;

use savepointfs::javaser::{Graph, Limits, parse_first_object};
use savepointfs::keygroup::JavaKey;
use savepointfs::source::{FileSource, MemSource, Source, read_span};
use savepointfs::synth::{self, Backend, KeyType, KeyedKind, RocksDbMode, SynthSpec, SynthSummary};
use savepointfs::v0::{Bytes, KvSnapshot, SavepointIndex, StateHandle, SubtaskModel};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

const BIN: &str = env!("CARGO_BIN_EXE_savepointfs");

fn generate(dir: &Path, spec: &SynthSpec) -> (PathBuf, SynthSummary) {
    let out = dir.join("savepoint-synth");
    let summary = synth::generate(spec, &out).expect("synth");
    (out, summary)
}

/// Every subtask of a savepoint, decoded with the V0 model: (task position, parallelism, model).
struct Decoded {
    index: SavepointIndex,
    subtasks: Vec<(usize, u32, SubtaskModel)>,
}

fn decode(path: &Path) -> Decoded {
    let src: Arc<dyn Source> = Arc::new(FileSource::open(path).unwrap());
    let index = SavepointIndex::open(src).expect("V0 index");
    let mut subtasks = Vec::new();
    for (pos, t) in index.tasks().iter().enumerate() {
        for s in &t.subtasks {
            let m = SubtaskModel::decode(&index, t, s).expect("subtask decodes");
            subtasks.push((pos, t.parallelism, m));
        }
    }
    Decoded { index, subtasks }
}

/// A handle's bytes: a span of the savepoint or an external file (which must exist).
fn bytes_of(src: &dyn Source, b: &Bytes) -> Vec<u8> {
    match b {
        Bytes::Span(s) => read_span(src, *s).unwrap(),
        Bytes::External { path, .. } => {
            let local = path.local.as_ref().expect("a local file: URI");
            std::fs::read(local).unwrap_or_else(|e| panic!("{}: {e}", local.display()))
        }
    }
}

fn be_i32(b: &[u8], at: usize) -> i32 {
    i32::from_be_bytes(b[at..at + 4].try_into().unwrap())
}

fn be_i64(b: &[u8], at: usize) -> i64 {
    i64::from_be_bytes(b[at..at + 8].try_into().unwrap())
}

/// Heap snapshot data (legacy-formats.md §2.5) with Long keys and values: one VoidSerializer
/// namespace, then the entries.
fn heap_keys(data: &[u8]) -> Vec<i64> {
    assert_eq!(be_i32(data, 0), 1, "one namespace");
    assert_eq!(data[4], 0, "VoidSerializer namespace");
    let n = be_i32(data, 5) as usize;
    assert_eq!(data.len(), 9 + 16 * n, "layout length");
    (0..n).map(|i| be_i64(data, 9 + 16 * i)).collect()
}

/// A RocksDB fully-async stream (legacy-formats.md §2.5): column descriptors, then records.
struct Rocks {
    /// (mapping byte, descriptor name, descriptor stream graph)
    columns: Vec<(u8, String, Graph)>,
    /// (mapping byte, key Long)
    records: Vec<(u8, i64)>,
}

fn decode_rocks(bytes: Vec<u8>) -> Rocks {
    let len = bytes.len() as u64;
    let src: Arc<dyn Source> = Arc::new(MemSource::new("rocks", bytes.clone()));
    let n = be_i32(&bytes, 0);
    let mut pos = 4usize;
    let mut columns = Vec::new();
    for _ in 0..n {
        let mapping = bytes[pos];
        pos += 1;
        let g = parse_first_object(src.clone(), pos as u64, len, &Limits::default()).unwrap();
        pos += g.len as usize;
        let root = g.roots().next().unwrap();
        let obj = g.object(root).unwrap().unwrap();
        assert!(
            ["Value", "List", "Reducing", "Folding"]
                .iter()
                .any(|k| obj.class_name().is(&format!(
                    "org.apache.flink.api.common.state.{k}StateDescriptor"
                )))
        );
        let name = g.string_value(obj.field("name").unwrap()).unwrap().unwrap();
        columns.push((mapping, name, g));
    }
    let mut records = Vec::new();
    while pos < bytes.len() {
        let mapping = bytes[pos];
        assert_eq!(be_i32(&bytes, pos + 1), 10, "key length");
        let key = &bytes[pos + 5..pos + 15];
        assert_eq!(
            &key[8..],
            &[0x2A, 0x00],
            "separator and VoidSerializer namespace"
        );
        // A Long, or a list's elements joined by `,`.
        let value_len = be_i32(&bytes, pos + 15) as usize;
        assert!(
            value_len == 8 || value_len % 9 == 8,
            "value length {value_len}"
        );
        records.push((mapping, be_i64(key, 0)));
        pos += 19 + value_len;
    }
    assert_eq!(pos, bytes.len(), "records end at the end of the stream");
    Rocks { columns, records }
}

/// Keys of every keyed state of a subtask: (state name, keys).
fn subtask_keys(src: &dyn Source, m: &SubtaskModel) -> Vec<(String, Vec<i64>)> {
    let mut out = Vec::new();
    for e in m.entries() {
        for kv in &e.kv_states {
            match &kv.snapshot {
                KvSnapshot::Heap(h) => {
                    out.push((h.state_name.clone(), heap_keys(&bytes_of(src, &h.data))))
                }
                KvSnapshot::RocksDbFullyAsync { state_handle, .. } => {
                    let r = decode_rocks(bytes_of(src, &state_handle.bytes()));
                    for (mapping, name, _) in &r.columns {
                        let keys = r.records.iter().filter(|x| x.0 == *mapping).map(|x| x.1);
                        out.push((name.clone(), keys.collect()));
                    }
                }
                KvSnapshot::RocksDbSemiAsync { .. } => {}
            }
        }
    }
    out
}

/// Keys whose key group is not their subtask, over the whole savepoint.
fn misplaced_keys(d: &Decoded) -> usize {
    let src = d.index.source();
    let mut wrong = 0;
    for (_, p, m) in &d.subtasks {
        let i = m.location.subtask.expect("subtask index");
        for (_, keys) in subtask_keys(&**src, m) {
            wrong += keys
                .iter()
                .filter(|&&k| JavaKey::Tuple(vec![JavaKey::Long(k)]).key_group(*p) != i)
                .count();
        }
    }
    wrong
}

fn spec(backend: Backend) -> SynthSpec {
    SynthSpec {
        vertices: 3,
        parallelism: 3,
        chain: 2,
        backend,
        state_bytes: 200 << 10,
        keyed_states: 2,
        keys: None,
        seed: 5,
        ..SynthSpec::default()
    }
}

/// List and reducing state beside value state (the descriptor comparison covers them;
/// the oracle in `oracle.rs` reads their values back).
fn kind_configurations() -> Vec<(&'static str, SynthSpec)> {
    let kinds = vec![
        KeyedKind::List,
        KeyedKind::Reducing,
        KeyedKind::Folding,
        KeyedKind::Value,
    ];
    let of = |backend| SynthSpec {
        keyed_states: 4,
        keyed_kinds: kinds.clone(),
        ..spec(backend)
    };
    let pojo = SynthSpec {
        key_type: KeyType::Pojo,
        value_type: savepointfs::synth::ValueType::Pojo,
        ..of(Backend::Memory)
    };
    vec![
        ("memory-kinds", of(Backend::Memory)),
        ("filesystem-kinds", of(Backend::Filesystem)),
        ("rocksdb-kinds", of(Backend::RocksDb)),
        ("memory-pojo", pojo),
    ]
}

/// The configurations the shape test covers, with what kvStates should hold per entry.
fn configurations() -> Vec<(&'static str, SynthSpec)> {
    let rocks_files = SynthSpec {
        rocksdb_files: true,
        key_type: KeyType::Long,
        ..spec(Backend::RocksDb)
    };
    let semi = SynthSpec {
        rocksdb_mode: RocksDbMode::SemiAsync,
        ..spec(Backend::RocksDb)
    };
    vec![
        (
            "memory",
            SynthSpec {
                null_entries: true,
                ..spec(Backend::Memory)
            },
        ),
        (
            "filesystem",
            SynthSpec {
                chain: 3,
                ..spec(Backend::Filesystem)
            },
        ),
        ("rocksdb", spec(Backend::RocksDb)),
        ("rocksdb-files", rocks_files),
        ("rocksdb-semi-async", semi),
    ]
}

#[test]
fn every_backend_decodes_to_the_requested_shape_and_sizes() {
    for (label, spec) in configurations() {
        let dir = tempfile::tempdir().unwrap();
        let (out, summary) = generate(dir.path(), &spec);
        let d = decode(&out);
        let src = d.index.source().clone();
        // External files sit beside the savepoint, inside the default allowed root.
        let measure =
            savepointfs::convert::ExternalPolicy::new(vec![], &[dir.path().to_path_buf()]).unwrap();
        assert_eq!(d.index.checkpoint_id(), spec.checkpoint_id, "{label}");
        assert_eq!(d.index.tasks().len(), spec.vertices as usize, "{label}");
        let mut total = 0u64;
        let mut external = 0u64;
        for (pos, p, m) in &d.subtasks {
            let what = format!("{label} task {pos} subtask {:?}", m.location.subtask);
            assert_eq!(*p, spec.parallelism, "{what}");
            assert_eq!(m.chain_length(), spec.chain as usize, "{what}");
            assert_eq!(
                m.chain[0].is_none(),
                spec.null_entries,
                "{what}: null entry 0"
            );
            let head = m.chain.last().unwrap().as_ref().expect("head present");
            assert!(
                head.function_state.is_some() && head.operator_state.is_some(),
                "{what}"
            );
            assert!(matches!(
                head.operator_state,
                Some(StateHandle::DataInputView { .. })
            ));
            // stateSize recorded = sum of the decoded handle sizes (legacy-formats.md §2.6).
            let entry = d.index.tasks()[*pos]
                .subtask(m.location.subtask.unwrap())
                .unwrap();
            assert_eq!(entry.state_size as u64, m.state_size(&measure), "{what}");
            total += m.state_size(&measure);
            let keyed = *pos > 0;
            let kv: Vec<&str> = head.kv_states.iter().map(|k| k.name.as_str()).collect();
            match (keyed, spec.backend) {
                (false, _) => assert!(kv.is_empty(), "{what}: the source is not keyed"),
                (true, Backend::RocksDb) => assert_eq!(kv, ["dummy_state"], "{what}"),
                (true, _) => {
                    let mut names = kv.clone();
                    names.sort();
                    let want: Vec<String> = (0..spec.keyed_states)
                        .map(|i| format!("state-{i}"))
                        .collect();
                    assert_eq!(names, want, "{what}");
                }
            }
            for e in m.entries() {
                for h in [&e.function_state, &e.operator_state].into_iter().flatten() {
                    if let Bytes::External { path, .. } = h.bytes() {
                        let len = std::fs::metadata(path.local.unwrap()).unwrap().len();
                        assert_eq!(len, h.state_size(&measure), "{what}");
                        assert!(len > 1024, "{what}: only large state goes to files");
                        external += 1;
                    }
                }
                for k in &e.kv_states {
                    match &k.snapshot {
                        KvSnapshot::Heap(h) => {
                            assert_eq!(k.snapshot.backend_name(), label, "{what}");
                            if matches!(h.data, Bytes::External { .. }) {
                                external += 1;
                            }
                            let keys = heap_keys(&bytes_of(&*src, &h.data));
                            assert_eq!(k.snapshot.state_size(&measure), 9 + 16 * keys.len() as u64);
                        }
                        KvSnapshot::RocksDbFullyAsync {
                            state_handle,
                            checkpoint_id,
                            ..
                        } => {
                            assert_eq!(*checkpoint_id, spec.checkpoint_id);
                            let bytes = bytes_of(&*src, &state_handle.bytes());
                            assert_eq!(bytes.len() as u64, k.snapshot.state_size(&measure));
                            if matches!(state_handle.bytes(), Bytes::External { .. }) {
                                external += 1;
                            }
                            let r = decode_rocks(bytes);
                            let mut names: Vec<&str> =
                                r.columns.iter().map(|c| c.1.as_str()).collect();
                            names.sort();
                            assert_eq!(names, ["state-0", "state-1"], "{what}");
                            let mappings: Vec<u8> = r.columns.iter().map(|c| c.0).collect();
                            assert_eq!(mappings, [0, 1], "{what}");
                        }
                        KvSnapshot::RocksDbSemiAsync { backup_uri, .. } => {
                            let uri = backup_uri.as_ref().expect("a backup URI");
                            assert!(uri.uri.ends_with("/dummy_state/chk-10"), "{}", uri.uri);
                            assert_eq!(k.snapshot.state_size(&measure), 0);
                            assert!(!m.migration_problems().is_empty(), "{what}");
                        }
                    }
                }
            }
        }
        assert_eq!(total, spec.state_bytes, "{label}: exact total");
        assert_eq!(summary.state_bytes, spec.state_bytes);
        assert_eq!(
            external, summary.external_files,
            "{label}: every external file is referenced"
        );
        if spec.backend == Backend::Memory {
            assert_eq!(summary.external_files, 0);
        }
        if spec.backend == Backend::Filesystem {
            assert!(
                summary.external_files >= 12,
                "{label}: kv snapshots are files"
            );
        }
        check_inspect_json(&out, &spec, label);
    }
}

/// The real binary's `inspect --json` reports the same shape and sizes.
fn check_inspect_json(out: &Path, spec: &SynthSpec, label: &str) {
    let o = Command::new(BIN)
        .args(["inspect", "--json"])
        .arg(out)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{label}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["format"], "flink-1.1");
    assert_eq!(j["checkpoint_id"], spec.checkpoint_id);
    let tasks = j["tasks"].as_array().unwrap();
    assert_eq!(tasks.len(), spec.vertices as usize, "{label}");
    let mut total = 0;
    for (pos, t) in tasks.iter().enumerate() {
        assert_eq!(t["parallelism"], spec.parallelism);
        assert_eq!(t["chain_length"], spec.chain);
        for s in t["subtasks"].as_array().unwrap() {
            total += s["state_size"].as_u64().unwrap();
            assert_eq!(s["state_size"], s["handle_size_sum"], "{label}");
            let head = s["chain"].as_array().unwrap().last().unwrap().clone();
            let names: Vec<&str> = head["kv_states"]
                .as_array()
                .unwrap()
                .iter()
                .map(|k| k["name"].as_str().unwrap())
                .collect();
            assert_eq!(names.is_empty(), pos == 0, "{label}: {names:?}");
        }
    }
    assert_eq!(total, spec.state_bytes, "{label}");
}

#[test]
fn every_key_sits_in_its_key_group_unless_misplaced() {
    for backend in [Backend::Memory, Backend::Filesystem, Backend::RocksDb] {
        let dir = tempfile::tempdir().unwrap();
        let s = SynthSpec {
            parallelism: 5,
            keys: Some(40),
            ..spec(backend)
        };
        let (out, _) = generate(dir.path(), &s);
        let d = decode(&out);
        assert_eq!(misplaced_keys(&d), 0, "{backend:?}");
        // Each keyed vertex holds keys 0.. spread by key group, 40 per state in all.
        for pos in [1, 2] {
            let mut all: BTreeMap<String, Vec<i64>> = BTreeMap::new();
            for (p, _, m) in d.subtasks.iter().filter(|x| x.0 == pos) {
                assert_eq!(*p, pos);
                for (name, keys) in subtask_keys(&**d.index.source(), m) {
                    all.entry(name).or_default().extend(keys);
                }
            }
            assert_eq!(all.len(), 2, "{backend:?}");
            for keys in all.values() {
                assert_eq!(keys.len(), 40, "{backend:?}");
                let distinct: std::collections::BTreeSet<_> = keys.iter().collect();
                assert_eq!(distinct.len(), 40);
            }
        }

        let dir = tempfile::tempdir().unwrap();
        let (out, _) = generate(
            dir.path(),
            &SynthSpec {
                misplace_key: true,
                ..s
            },
        );
        assert_eq!(
            misplaced_keys(&decode(&out)),
            1,
            "{backend:?} --misplace-key"
        );
    }
}

#[test]
fn two_keyed_entries_are_reported_as_unmigratable() {
    let dir = tempfile::tempdir().unwrap();
    let s = SynthSpec {
        two_keyed_entries: true,
        ..spec(Backend::Memory)
    };
    let (out, _) = generate(dir.path(), &s);
    let d = decode(&out);
    for (pos, _, m) in d.subtasks.iter().filter(|x| x.0 > 0) {
        let keyed: Vec<usize> = m
            .entries()
            .filter(|e| !e.kv_states.is_empty())
            .map(|e| e.index)
            .collect();
        assert_eq!(keyed, [0, 1], "task {pos}");
        assert!(
            m.migration_problems()
                .iter()
                .any(|p| p.contains("all have keyed state"))
        );
    }
}

#[test]
fn generation_is_deterministic_per_seed() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a");
    let b = dir.path().join("b");
    let c = dir.path().join("c");
    let s = spec(Backend::Memory);
    synth::generate(&s, &a).unwrap();
    synth::generate(&s, &b).unwrap();
    synth::generate(&SynthSpec { seed: 6, ..s }, &c).unwrap();
    let (a, b, c) = (
        std::fs::read(a).unwrap(),
        std::fs::read(b).unwrap(),
        std::fs::read(c).unwrap(),
    );
    assert_eq!(a, b);
    assert_ne!(a, c);
}

#[test]
fn too_few_state_bytes_fail_naming_the_minimum() {
    let dir = tempfile::tempdir().unwrap();
    let o = Command::new(BIN)
        .arg("synth")
        .arg(dir.path().join("sp"))
        .args(["--state-bytes", "1KiB", "--keys", "100"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("--state-bytes 1024 is less than the"), "{err}");
    let o = Command::new(BIN)
        .arg("synth")
        .arg(dir.path().join("sp"))
        .args(["--state-bytes", "12XB"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "clap usage error");
}

#[test]
fn demo_fixture_regenerates_byte_identically() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let committed = root.join("fixtures/demo-flink1.1-savepoint");
    let dir = tempfile::tempdir().unwrap();
    let o = Command::new(root.join("scripts/regen-fixtures"))
        .arg(dir.path())
        .env("SAVEPOINTFS", BIN)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let fresh = std::fs::read(dir.path().join("demo-flink1.1-savepoint")).unwrap();
    let committed = std::fs::read(&committed).expect("fixtures/demo-flink1.1-savepoint");
    assert!(
        fresh == committed,
        "regenerated demo differs from the committed one"
    );
    let d = decode(&root.join("fixtures/demo-flink1.1-savepoint"));
    assert_eq!(misplaced_keys(&d), 0);
    let kinds = d.subtasks.iter().flat_map(|(_, _, m)| {
        m.entries().map(|e| {
            (
                e.function_state.is_some(),
                e.operator_state.is_some(),
                !e.kv_states.is_empty(),
            )
        })
    });
    let kinds: std::collections::BTreeSet<_> = kinds.collect();
    assert!(
        kinds.contains(&(true, true, true)),
        "keyed + function + operator state: {kinds:?}"
    );
}
