//! The V1 reader and writer against the real Flink 1.2 savepoints: exact round trips,
//! the walk table of legacy-formats.md §4.5, Flink's own view of each file (flinkcheck's
//! recorded reports), and hostile variants of the same files.

mod common;

use savepointfs::prng::Prng;

use savepointfs::source::{FileSource, MemSource, Source};
use savepointfs::v1::{self, Encoder, ErrorKind, HandleFamily, Mode, Savepoint, StreamHandle};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const UDF: &str = "stateful-udf-migration-itcase-flink1.2-savepoint";
const UDF_ROCKS: &str = "stateful-udf-migration-itcase-flink1.2-rocksdb-savepoint";
const SCALA: &str = "stateful-scala-udf-migration-itcase-flink1.2-jobmanager-savepoint";
const NON_KEYED: &str = "nonKeyed-flink1.2-metadata";
const ALL: [&str; 4] = [UDF, UDF_ROCKS, SCALA, NON_KEYED];

fn fixture(fx: &Path, name: &str) -> PathBuf {
    fx.join("flink-1.2/savepoints").join(name)
}

fn load(fx: &Path, name: &str) -> (Vec<u8>, Savepoint) {
    let bytes = std::fs::read(fixture(fx, name)).unwrap();
    let sp = v1::read(&MemSource::new(name, bytes.clone())).unwrap_or_else(|e| panic!("{e}"));
    (bytes, sp)
}

fn write(sp: &Savepoint) -> Vec<u8> {
    let mut out = Vec::new();
    let n = v1::write(sp, &mut out).unwrap();
    assert_eq!(n, out.len() as u64);
    out
}

/// A source over borrowed bytes, so the fuzz loop can flip bits in place.
struct Slice<'a>(&'a [u8]);
impl Source for Slice<'_> {
    fn len(&self) -> u64 {
        self.0.len() as u64
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> std::io::Result<()> {
        let s = offset as usize;
        let src = self
            .0
            .get(s..s + buf.len())
            .ok_or(std::io::ErrorKind::UnexpectedEof)?;
        buf.copy_from_slice(src);
        Ok(())
    }
    fn as_slice(&self) -> Option<&[u8]> {
        Some(self.0)
    }
    fn name(&self) -> String {
        "mutant".into()
    }
}

/// File offsets of the structure, found by re-encoding with [`Encoder`] and noting
/// positions: each task's and subtask record's start, and each inline data span.
#[derive(Default)]
struct Layout {
    tasks: Vec<u64>,
    subtasks: Vec<Vec<u64>>,
    /// (offset of the int length field, data start, data length)
    byte_streams: Vec<(u64, u64, u64)>,
}

fn layout(sp: &Savepoint) -> (Layout, Vec<u8>) {
    let mut l = Layout::default();
    let mut enc = Encoder::new(Vec::new());
    let stream = |enc: &mut Encoder<Vec<u8>>, l: &mut Layout, h: Option<&StreamHandle>| {
        if let Some(StreamHandle::ByteStream { name, data }) = h {
            let len_at = enc.position() + 1 + 2 + name.len() as u64;
            l.byte_streams.push((len_at, len_at + 4, data.len() as u64));
        }
        enc.stream_handle(h).unwrap();
    };
    enc.header(sp.checkpoint_id, sp.tasks.len()).unwrap();
    for t in &sp.tasks {
        l.tasks.push(enc.position());
        l.subtasks.push(Vec::new());
        let n = t.subtasks.len();
        enc.task_header(
            t.vertex,
            t.parallelism,
            t.max_parallelism,
            t.chain_length,
            n,
        )
        .unwrap();
        for (i, st) in &t.subtasks {
            l.subtasks.last_mut().unwrap().push(enc.position());
            enc.subtask_start(*i, st.duration).unwrap();
            enc.chain_count(st.legacy.len()).unwrap();
            for h in &st.legacy {
                stream(&mut enc, &mut l, h.as_ref());
            }
            for list in [&st.managed_operator, &st.raw_operator] {
                enc.chain_count(list.len()).unwrap();
                for h in list {
                    match h {
                        None => enc.operator_handle(None).unwrap(),
                        Some(h) => {
                            enc.operator_handle_head(&h.states).unwrap();
                            stream(&mut enc, &mut l, Some(&h.delegate));
                        }
                    }
                }
            }
            for h in [&st.managed_keyed, &st.raw_keyed] {
                match h {
                    None => enc.key_groups_handle(None).unwrap(),
                    Some(h) => {
                        enc.key_groups_head(h.start, &h.offsets).unwrap();
                        stream(&mut enc, &mut l, Some(&h.delegate));
                    }
                }
            }
        }
    }
    (l, enc.into_inner())
}

#[test]
fn every_file_parses_to_its_last_byte_and_writes_back_identically() {
    let Some(fx) = common::shared_fixtures() else {
        return;
    };
    for name in ALL {
        let (bytes, sp) = load(&fx, name);
        assert_eq!(write(&sp), bytes, "{name}: read → write");
        // The piecewise encoder lays out the same bytes.
        assert_eq!(layout(&sp).1, bytes, "{name}: encoder");
        // Through a positional file source (windowed reads, no whole-file slice).
        let from_file = v1::read(&FileSource::open(fixture(&fx, name)).unwrap()).unwrap();
        assert_eq!(from_file, sp, "{name}: FileSource");
    }
}

fn vertex_table(sp: &Savepoint) -> Vec<(String, i32, i32, i32)> {
    sp.tasks
        .iter()
        .map(|t| {
            let hex = t.vertex.to_string()[..4].to_string();
            (hex, t.parallelism, t.max_parallelism, t.chain_length)
        })
        .collect()
}

fn counts(sp: &Savepoint) -> Vec<(HandleFamily, u8, usize)> {
    sp.type_counts()
        .into_iter()
        .map(|((f, c), n)| (f, c, n))
        .collect()
}

fn row(v: &[(&str, i32, i32, i32)]) -> Vec<(String, i32, i32, i32)> {
    v.iter()
        .map(|&(h, p, m, c)| (h.to_string(), p, m, c))
        .collect()
}

/// legacy-formats.md §4.5, one row per file. The table counts every type byte in the file,
/// in its family: chain slots, keyed slots and the delegate of every non-null handle.
#[test]
fn structure_matches_the_walk_table() {
    use HandleFamily::*;
    let Some(fx) = common::shared_fixtures() else {
        return;
    };
    let udf_vertices = row(&[
        ("b6f2", 4, 4, 1),
        ("9453", 4, 4, 1),
        ("a499", 4, 4, 2),
        ("c4e4", 1, 1, 1),
        ("072c", 4, 4, 1),
        ("9bef", 4, 4, 1),
    ]);
    let udf_counts = vec![
        (Stream, 0, 12),
        (Stream, 1, 41),
        (Operator, 0, 50),
        (KeyGroups, 0, 14),
        (KeyGroups, 3, 28),
    ];
    for (name, size) in [(UDF, 25_245), (UDF_ROCKS, 25_256)] {
        let (bytes, sp) = load(&fx, name);
        assert_eq!(bytes.len(), size);
        assert_eq!((sp.version, sp.checkpoint_id, sp.tasks.len()), (1, 10, 6));
        assert_eq!(vertex_table(&sp), udf_vertices, "{name}");
        assert_eq!(counts(&sp), udf_counts, "{name}");
    }

    let (bytes, sp) = load(&fx, SCALA);
    assert_eq!(bytes.len(), 92_818);
    assert_eq!((sp.version, sp.checkpoint_id), (1, 7));
    assert_eq!(
        vertex_table(&sp),
        row(&[("4df5", 1, 1, 1), ("d139", 4, 4, 2)])
    );
    let expected = vec![
        (Stream, 0, 9),
        (Stream, 1, 9),
        (Operator, 0, 17),
        (Operator, 4, 1),
        (KeyGroups, 0, 2),
        (KeyGroups, 3, 8),
    ];
    assert_eq!(counts(&sp), expected);
    let op = sp.tasks[0].subtasks[0].1.managed_operator[0]
        .as_ref()
        .unwrap();
    assert_eq!(op.states.len(), 1);
    let st = &op.states[0];
    assert_eq!(
        (st.name.as_str(), st.mode, &st.offsets[..]),
        ("sourceState", Mode::SplitDistribute, &[917i64][..])
    );

    // The table lists no operator nulls for this file; its 32 operator slots (4 × 3 × 2
    // + 4 × 1 × 2) hold 12 handles, so 20 are null.
    let (bytes, sp) = load(&fx, NON_KEYED);
    assert_eq!(bytes.len(), 3_212);
    assert_eq!((sp.version, sp.checkpoint_id), (1, 41));
    assert_eq!(
        vertex_table(&sp),
        row(&[("6730", 4, 128, 3), ("adf0", 4, 128, 1)])
    );
    let expected = vec![
        (Stream, 0, 16),
        (Stream, 1, 12),
        (Operator, 0, 20),
        (Operator, 4, 12),
        (KeyGroups, 0, 16),
    ];
    assert_eq!(counts(&sp), expected);
    let mut seen = 0;
    for (_, h) in sp.handles() {
        if let v1::HandleRef::Operator(Some(op)) = h {
            let st = &op.states[..];
            assert_eq!(st.len(), 1);
            assert_eq!(
                (st[0].name.as_str(), st[0].mode, &st[0].offsets[..]),
                ("_default_", Mode::SplitDistribute, &[155i64][..])
            );
            seen += 1;
        }
    }
    assert_eq!(seen, 12);
}

fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && s.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit() && !c.is_ascii_uppercase(),
        })
}

/// The details legacy-formats.md §4.5 gives for the first file.
#[test]
fn first_file_details() {
    let Some(fx) = common::shared_fixtures() else {
        return;
    };
    let (_, sp) = load(&fx, UDF);
    let mut names = 0;
    for (at, h) in sp.handles() {
        if let v1::HandleRef::Stream(Some(StreamHandle::ByteStream { name, .. })) = h {
            assert!(is_uuid(name), "{at}: {name:?}");
            names += 1;
        }
    }
    assert_eq!(names, 41);

    let mut legacy_sizes = BTreeMap::new();
    let (mut managed, mut raw) = (0, 0);
    for t in &sp.tasks {
        let two_chain = t.vertex.to_string().starts_with("a499");
        for (i, st) in &t.subtasks {
            for h in st.legacy.iter().flatten() {
                let StreamHandle::ByteStream { data, .. } = h else {
                    panic!("legacy file handle");
                };
                assert_eq!(data[0], 1, "legacy stream starts with signal 01");
                *legacy_sizes.entry(data.len()).or_insert(0) += 1;
                // Then a Java stream of the UDF state (§3.5).
                assert_eq!(&data[1..5], &[0xac, 0xed, 0, 5]);
                match data.len() {
                    24 => assert_eq!(&data[5..], b"\x74\x00\x10Here be dragons!"),
                    255 => assert_eq!(&data[234..], b"\x00\x13Oh my, that's nice!"),
                    n => assert_eq!(n, 234),
                }
            }
            if let Some(m) = &st.managed_keyed {
                managed += 1;
                assert_eq!(m.start, *i);
                assert_eq!(m.offsets, vec![if two_chain { 1226 } else { 1223 }]);
                let size = m.delegate.size();
                let range = if two_chain { 1265..=1293 } else { 1255..=1271 };
                assert!(range.contains(&size), "{} subtask {i}: {size}", t.vertex);
                let StreamHandle::ByteStream { data, .. } = &m.delegate else {
                    panic!("file delegate");
                };
                // §4.4: the heap keyed stream starts with proxy version 1.
                assert_eq!(&data[..4], &[0, 0, 0, 1]);
            }
            if let Some(r) = &st.raw_keyed {
                raw += 1;
                assert_eq!((r.start, &r.offsets[..]), (*i, &[0i64][..]));
                let StreamHandle::ByteStream { data, .. } = &r.delegate else {
                    panic!("file delegate");
                };
                if two_chain {
                    assert!((973..=1069).contains(&data.len()), "{}", data.len());
                } else {
                    assert_eq!(data, &[0u8; 4], "no timer services");
                }
            }
        }
    }
    // 16 raw + 12 managed = the 28 key-group handles of the table.
    assert_eq!((managed, raw), (12, 16));
    assert_eq!(legacy_sizes.values().sum::<usize>(), 13);
    assert!(
        legacy_sizes.keys().all(|k| [24, 234, 255].contains(k)),
        "{legacy_sizes:?}"
    );
    assert_eq!(legacy_sizes.len(), 3, "{legacy_sizes:?}");
}

fn sha256_hex(b: &[u8]) -> String {
    Sha256::digest(b)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Compares one of our stream handles with flinkcheck's rendering of it.
fn check_stream(at: &str, ours: &StreamHandle, theirs: &Value) {
    assert_eq!(theirs["state_size"], ours.size(), "{at}");
    match ours {
        StreamHandle::ByteStream { name, .. } => {
            assert_eq!(theirs["type"], "byte_stream", "{at}");
            assert_eq!(theirs["v1_type_code"], 1, "{at}");
            assert_eq!(theirs["handle_name"], name.as_str(), "{at}");
        }
        StreamHandle::File { path, .. } => {
            assert_eq!(theirs["type"], "file", "{at}");
            assert_eq!(theirs["v1_type_code"], 2, "{at}");
            assert_eq!(theirs["path"], path.as_str(), "{at}");
        }
    }
}

/// flinkcheck opens and hashes the bytes once, at the outermost handle.
/// `files`: the bytes behind file handles, by path.
fn check_bytes(at: &str, ours: &StreamHandle, outer: &Value, files: &Files) {
    let data = match ours {
        StreamHandle::ByteStream { data, .. } => data,
        StreamHandle::File { path, .. } => &files[path],
    };
    assert_eq!(outer["state_size"], data.len(), "{at}");
    assert_eq!(outer["readable_bytes"], data.len(), "{at}");
    assert_eq!(outer["sha256"], sha256_hex(data).as_str(), "{at}");
}

fn check_operator(at: &str, ours: &Option<v1::OperatorHandle>, theirs: &Value, files: &Files) {
    let Some(h) = ours else {
        return assert!(theirs.is_null(), "{at}");
    };
    assert_eq!(theirs["v1_type_code"], 4, "{at}");
    // flinkcheck sorts states by name; we keep file order.
    let mut states: Vec<_> = h.states.iter().collect();
    states.sort_by(|a, b| a.name.cmp(&b.name));
    let theirs_states = theirs["states"].as_array().unwrap();
    assert_eq!(theirs_states.len(), states.len(), "{at}");
    for (o, t) in states.iter().zip(theirs_states) {
        assert_eq!(t["name"], o.name.as_str(), "{at}");
        assert_eq!(t["mode_ordinal"], o.mode.code(), "{at}");
        let mode = serde_json::to_value(o.mode).unwrap();
        assert_eq!(t["mode"], mode, "{at}");
        assert_eq!(t["offsets"], serde_json::json!(o.offsets), "{at}");
    }
    check_stream(at, &h.delegate, &theirs["delegate"]);
    check_bytes(at, &h.delegate, theirs, files);
}

fn check_keyed(at: &str, ours: &Option<v1::KeyGroupsHandle>, theirs: &Value, files: &Files) {
    let Some(h) = ours else {
        return assert!(theirs.is_null(), "{at}");
    };
    assert_eq!(theirs["v1_type_code"], 3, "{at}");
    let n = h.offsets.len() as i32;
    let range = &theirs["key_group_range"];
    assert_eq!(
        (&range["start"], &range["num"]),
        (&h.start.into(), &n.into()),
        "{at}"
    );
    assert_eq!(range["end"], h.start + n - 1, "{at}");
    assert_eq!(theirs["offsets"], serde_json::json!(h.offsets), "{at}");
    check_stream(at, &h.delegate, &theirs["delegate"]);
    check_bytes(at, &h.delegate, theirs, files);
}

/// Our reading agrees with Flink 1.10.3's, as flinkcheck recorded it: ids, sizes,
/// file offsets, handle names, state names, modes, offsets, key-group ranges and the
/// SHA-256 of every handle's bytes.
#[test]
fn agrees_with_flinks_own_reading() {
    let Some(fx) = common::shared_fixtures() else {
        return;
    };
    let expected = fx.join("../tools/flinkcheck/expected");
    for (name, report) in [
        (UDF, "stateful-udf-migration-itcase-flink1.2-savepoint.json"),
        (
            UDF_ROCKS,
            "stateful-udf-migration-itcase-flink1.2-rocksdb-savepoint.json",
        ),
        (
            SCALA,
            "stateful-scala-udf-migration-itcase-flink1.2-jobmanager-savepoint.json",
        ),
        (NON_KEYED, "operatorstate-nonKeyed-flink1.2.json"),
    ] {
        let text = std::fs::read_to_string(expected.join(report)).expect("flinkcheck report");
        let j: Value = serde_json::from_str(&text).unwrap();
        let (bytes, sp) = load(&fx, name);
        compare_with_report(name, &bytes, &sp, &j, &Files::new());
    }
}

type Files = std::collections::HashMap<String, Vec<u8>>;

/// Asserts that flinkcheck's report `j` on `bytes` shows what we read as `sp`.
fn compare_with_report(name: &str, bytes: &[u8], sp: &Savepoint, j: &Value, files: &Files) {
    assert_eq!(j["ok"], true, "{name}: {}", j["errors"]);
    assert_eq!(j["warnings"], serde_json::json!([]), "{name}");
    assert_eq!(j["input"]["size"], bytes.len());
    assert_eq!(j["input"]["sha256"], sha256_hex(bytes).as_str());
    assert_eq!(j["flink_deserializer"]["bytes_consumed"], bytes.len());
    assert_eq!(j["header"]["version"], sp.version);
    assert_eq!(j["checkpoint_id"], sp.checkpoint_id);
    let (lay, _) = layout(sp);
    let tasks = j["task_states"].as_array().unwrap();
    assert_eq!(tasks.len(), sp.tasks.len(), "{name}");
    for (ti, (t, jt)) in sp.tasks.iter().zip(tasks).enumerate() {
        let at = format!("{name} task {ti}");
        assert_eq!(jt["job_vertex_id"], t.vertex.to_string().as_str(), "{at}");
        assert_eq!(
            jt["job_vertex_id_lower_part"],
            t.vertex.lower_part(),
            "{at}"
        );
        assert_eq!(
            jt["job_vertex_id_upper_part"],
            t.vertex.upper_part(),
            "{at}"
        );
        assert_eq!(jt["parallelism"], t.parallelism, "{at}");
        assert_eq!(jt["max_parallelism"], t.max_parallelism, "{at}");
        assert_eq!(jt["chain_length"], t.chain_length, "{at}");
        assert_eq!(jt["file_offset"], lay.tasks[ti], "{at}");
        let subs = jt["subtasks"].as_array().unwrap();
        assert_eq!(subs.len(), t.subtasks.len(), "{at}");
        for (si, ((index, st), js)) in t.subtasks.iter().zip(subs).enumerate() {
            let at = format!("{at} subtask {index}");
            assert_eq!(js["subtask_index"], *index, "{at}");
            assert_eq!(js["file_offset"], lay.subtasks[ti][si], "{at}");
            assert_eq!(js["ignored_duration_field"], st.duration, "{at}");
            let legacy = &js["legacy_operator_state"];
            assert_eq!(legacy["count"], st.legacy.len(), "{at}");
            let jl = legacy["handles"].as_array().unwrap();
            assert_eq!(jl.len(), st.legacy.len(), "{at}");
            for (h, jh) in st.legacy.iter().zip(jl) {
                match h {
                    None => assert!(jh.is_null(), "{at}"),
                    Some(h) => {
                        check_stream(&at, h, jh);
                        check_bytes(&at, h, jh, files);
                    }
                }
            }
            for (ours, key) in [
                (&st.managed_operator, "managed_operator_state"),
                (&st.raw_operator, "raw_operator_state"),
            ] {
                let theirs = js[key].as_array().unwrap();
                assert_eq!(theirs.len(), ours.len(), "{at} {key}");
                for (o, t) in ours.iter().zip(theirs) {
                    check_operator(&format!("{at} {key}"), o, t, files);
                }
            }
            check_keyed(
                &format!("{at} managed keyed"),
                &st.managed_keyed,
                &js["managed_keyed_state"],
                files,
            );
            check_keyed(
                &format!("{at} raw keyed"),
                &st.raw_keyed,
                &js["raw_keyed_state"],
                files,
            );
        }
    }
}

#[test]
fn json_rendering_of_a_real_file() {
    let Some(fx) = common::shared_fixtures() else {
        return;
    };
    let (_, sp) = load(&fx, NON_KEYED);
    let j = serde_json::to_value(&sp).unwrap();
    assert_eq!(j["checkpoint_id"], 41);
    let t = &j["tasks"][0];
    assert_eq!(t["vertex"], sp.tasks[0].vertex.to_string().as_str());
    let sub = &t["subtasks"][0];
    assert_eq!(sub["index"], sp.tasks[0].subtasks[0].0);
    let op = sub["managed_operator"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| !h.is_null())
        .expect("an operator handle");
    assert_eq!(op["states"][0]["name"], "_default_");
    assert_eq!(op["states"][0]["mode"], "SPLIT_DISTRIBUTE");
    let ours = sp.tasks[0].subtasks[0]
        .1
        .managed_operator
        .iter()
        .flatten()
        .next()
        .unwrap();
    let StreamHandle::ByteStream { data, .. } = &ours.delegate else {
        panic!("inline delegate expected");
    };
    assert_eq!(op["delegate"]["type"], "byte_stream");
    assert_eq!(op["delegate"]["len"], data.len());
    let head: String = data[..v1::JSON_HEAD_BYTES]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(op["delegate"]["head_hex"], head.as_str());
}

#[test]
fn every_proper_prefix_is_an_error() {
    let Some(fx) = common::shared_fixtures() else {
        return;
    };
    for name in ALL {
        let bytes = std::fs::read(fixture(&fx, name)).unwrap();
        for n in 0..bytes.len() {
            match v1::read(&Slice(&bytes[..n])) {
                Ok(_) => panic!("{name}: prefix of {n} bytes parsed"),
                Err(e) => assert!(e.offset <= n as u64, "{name} prefix {n}: {e}"),
            }
        }
    }
}

/// 10,000 mutants per file, 1–3 flipped bits each, half of them aimed at the framing
/// (bytes outside inline data). Each must give Ok or Err without panicking, and every
/// mutant that parses must write back to exactly its own bytes.
#[test]
fn bit_flips_never_panic_and_accepted_mutants_round_trip() {
    let Some(fx) = common::shared_fixtures() else {
        return;
    };
    let mut rng = Prng::new(0x5EED_0FF1_1B00);
    for name in ALL {
        let (mut bytes, sp) = load(&fx, name);
        let (lay, _) = layout(&sp);
        let framing: Vec<usize> = {
            let mut in_data = vec![false; bytes.len()];
            for &(_, start, len) in &lay.byte_streams {
                in_data[start as usize..(start + len) as usize].fill(true);
            }
            (0..bytes.len()).filter(|&i| !in_data[i]).collect()
        };
        let (mut ok, mut err) = (0, 0);
        for iter in 0..10_000 {
            let flips: Vec<(usize, u8)> = (0..1 + below(&mut rng, 3))
                .map(|_| {
                    let pos = if below(&mut rng, 2) == 0 {
                        framing[below(&mut rng, framing.len())]
                    } else {
                        below(&mut rng, bytes.len())
                    };
                    (pos, 1u8 << below(&mut rng, 8))
                })
                .collect();
            for &(p, m) in &flips {
                bytes[p] ^= m;
            }
            let result = std::panic::catch_unwind(|| v1::read(&Slice(&bytes)).map(|sp| write(&sp)));
            match result {
                Err(_) => panic!("{name} mutant {iter} {flips:?}: panic"),
                Ok(Ok(written)) => {
                    assert!(
                        written == bytes,
                        "{name} mutant {iter} {flips:?}: round trip differs"
                    );
                    ok += 1;
                }
                Ok(Err(e)) => {
                    assert!(e.offset <= bytes.len() as u64, "{e}");
                    err += 1;
                }
            }
            for &(p, m) in &flips {
                bytes[p] ^= m;
            }
        }
        eprintln!("{name}: {ok} mutants read (and wrote back identically), {err} refused");
        assert!(ok > 100 && err > 1000, "{name}: {ok} ok, {err} errors");
    }
}

/// Huge counts patched into a real file are refused at the field, without allocating.
#[test]
fn huge_counts_in_a_real_file() {
    let Some(fx) = common::shared_fixtures() else {
        return;
    };
    let (bytes, sp) = load(&fx, UDF);
    let patch = |at: usize, v: i32| {
        let mut b = bytes.clone();
        b[at..at + 4].copy_from_slice(&v.to_be_bytes());
        v1::read(&MemSource::new("patched", b)).unwrap_err()
    };
    let e = patch(16, i32::MAX);
    assert!(
        matches!(
            e.kind,
            ErrorKind::CountPastEnd {
                what: "number of task states",
                min_each: 32,
                ..
            }
        ),
        "{e}"
    );
    assert_eq!((e.offset, e.source_name.as_str()), (16, "patched"));

    let (lay, _) = layout(&sp);
    let (len_at, _, _) = lay.byte_streams[3];
    let e = patch(len_at as usize, i32::MAX);
    assert!(
        matches!(
            e.kind,
            ErrorKind::CountPastEnd {
                what: "byte stream length",
                ..
            }
        ),
        "{e}"
    );
    assert_eq!(e.offset, len_at);
    assert!(e.location.starts_with("task 0 (vertex b6f2"), "{e}");

    // Subtask count of task 1 (at task offset + 28).
    let e = patch(lay.tasks[1] as usize + 28, -5);
    assert!(
        matches!(e.kind, ErrorKind::NegativeCount { count: -5, .. }),
        "{e}"
    );
    assert!(e.location.contains("task 1 (vertex 9453"), "{e}");

    // Version 0 is pointed to the V0 reader.
    let mut v0 = bytes.clone();
    v0[7] = 0;
    let e = v1::read(&MemSource::new("v0", v0)).unwrap_err();
    assert!(matches!(e.kind, ErrorKind::Version0), "{e}");
}

/// Moves every inline byte stream of `sp` into its own file under `dir`, as the native
/// target writes them (design: FILE_STREAM, `file:` + absolute path, size = file length).
fn inline_to_files(sp: &mut Savepoint, dir: &Path) -> Files {
    let mut files = Files::new();
    let mut to_file = |h: &mut StreamHandle| {
        if let StreamHandle::ByteStream { data, .. } = h {
            let p = dir.join(format!("state-{}", files.len()));
            std::fs::write(&p, &*data).unwrap();
            let path = format!("file:{}", p.display());
            files.insert(path.clone(), std::mem::take(data));
            *h = StreamHandle::File {
                size: files[&path].len() as i64,
                path,
            };
        }
    };
    for t in &mut sp.tasks {
        for (_, st) in &mut t.subtasks {
            st.legacy.iter_mut().flatten().for_each(&mut to_file);
            for h in st
                .managed_operator
                .iter_mut()
                .chain(&mut st.raw_operator)
                .flatten()
            {
                to_file(&mut h.delegate);
            }
            for h in [&mut st.managed_keyed, &mut st.raw_keyed]
                .into_iter()
                .flatten()
            {
                to_file(&mut h.delegate);
            }
        }
    }
    files
}

/// Flink 1.10.3's own deserializer (flinkcheck) reads what our writer makes of every
/// fixture once its inline state is moved to files: file handles, their paths and
/// sizes, and every byte behind them. Needs Java and `../shared/tools/flinkcheck/setup.sh`.
#[test]
fn flinkcheck_accepts_written_file_handles() {
    let Some(fx) = common::shared_fixtures() else {
        return;
    };
    let Some(tool) = common::flink_tool("flinkcheck") else {
        return;
    };
    for name in ALL {
        let (_, mut sp) = load(&fx, name);
        let dir = tempfile::tempdir().unwrap();
        let files = inline_to_files(&mut sp, dir.path());
        assert!(!files.is_empty());
        let bytes = write(&sp);
        std::fs::write(dir.path().join("_metadata"), &bytes).unwrap();
        let out = std::process::Command::new(&tool)
            .arg(dir.path())
            .output()
            .expect("run flinkcheck");
        let j: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "{name}: {e}; stderr: {}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
        assert!(out.status.success(), "{name}: {}", j["errors"]);
        compare_with_report(name, &bytes, &sp, &j, &files);
        eprintln!("{name}: flinkcheck ok, {} file handles", files.len());
    }
}

/// Uniform in `[0, n)` as an index.
fn below(rng: &mut Prng, n: usize) -> usize {
    rng.below(n as u64) as usize
}
