//! The Flink 1.1 layer against the real Flink-written fixtures: the memory-backend
//! savepoint holds what its README says, every operator snapshot decodes into the same
//! model types, and damaged copies give errors, never panics.

mod common;

use savepointfs::prng::Prng;

use savepointfs::javaser::{self, Limits, NodeId, Value};
use savepointfs::keygroup::{JavaKey, operator_index_for_key_group};
use savepointfs::source::{FileSource, MemSource, Source, Span, read_span};
use savepointfs::v0::{
    Bytes, ChainEntry, HeapBackend, KvSnapshot, OperatorSnapshot, SavepointIndex, StateHandle,
    StateKind, SubtaskModel,
};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Vertices in 1.1 file order, with parallelism and the subtasks present.
const TASKS: [(&str, u32, &[u32]); 5] = [
    ("b6f2d694289c3a40c7b6f325a615a3cf", 4, &[0, 1, 2, 3]), // flatMap with keyed state
    ("c4e49e546d86951780eded4825c37bcc", 1, &[0]),          // source
    ("072c4efc280f5df0bfc5743297a438e7", 4, &[1, 2, 3]),    // keyed-state-setting flatMap
    ("9bef6223241ae84abda5b38d06a82622", 4, &[0, 1, 2, 3]), // flatMap (function state only)
    ("945350bceda4bf93ffcce1f8cb34a22f", 4, &[0, 1, 2, 3]), // custom operator + chained sink
];
const SOURCE: &str = "c4e49e546d86951780eded4825c37bcc";
const CUSTOM_OPERATOR: &str = "945350bceda4bf93ffcce1f8cb34a22f";
const KEYED: [&str; 3] = [
    "b6f2d694289c3a40c7b6f325a615a3cf",
    "072c4efc280f5df0bfc5743297a438e7",
    "945350bceda4bf93ffcce1f8cb34a22f",
];
const WITH_FUNCTION_STATE: [&str; 4] = [
    "b6f2d694289c3a40c7b6f325a615a3cf",
    "c4e49e546d86951780eded4825c37bcc",
    "9bef6223241ae84abda5b38d06a82622",
    "945350bceda4bf93ffcce1f8cb34a22f",
];

fn open_mem11() -> Option<SavepointIndex> {
    let fx = common::shared_fixtures()?;
    let src = FileSource::open(common::mem11(&fx)).expect("fixture opens");
    Some(SavepointIndex::open(Arc::new(src)).expect("fixture index"))
}

/// Every subtask's model, keyed by (vertex hex, subtask index).
fn models(idx: &SavepointIndex) -> BTreeMap<(String, u32), SubtaskModel> {
    idx.subtasks()
        .map(|(t, s)| {
            let m = SubtaskModel::decode(idx, t, s)
                .unwrap_or_else(|e| panic!("{} subtask {}: {e}", t.vertex, s.index));
            ((t.vertex.to_string(), s.index), m)
        })
        .collect()
}

/// The single non-null chain entry that holds user state (the head operator).
fn head(m: &SubtaskModel) -> &ChainEntry {
    m.chain
        .last()
        .unwrap()
        .as_ref()
        .expect("head operator has state")
}

/// Parses a nested Java stream held in a span of the savepoint.
fn nested(src: &Arc<dyn Source>, span: Span) -> javaser::Graph {
    javaser::parse_stream(src.clone(), span.start, span.end(), &Limits::default())
        .expect("nested stream parses")
}

#[test]
fn index_lists_the_tasks_in_file_order() {
    let Some(idx) = open_mem11() else { return };
    assert_eq!(idx.checkpoint_id(), 10);
    assert_eq!(idx.tasks().len(), 5);
    for (t, (vertex, parallelism, subtasks)) in idx.tasks().iter().zip(TASKS) {
        assert_eq!(t.vertex.to_string(), vertex);
        assert_eq!(t.parallelism, parallelism, "{vertex}");
        let indices: Vec<u32> = t.subtasks.iter().map(|s| s.index).collect();
        assert_eq!(indices, subtasks, "{vertex}");
        assert!(t.subtasks.iter().all(|s| s.blob.is_some()));
    }
    // The first blob sits right after the first entry's index and length (offset 44 + 8).
    assert_eq!(idx.tasks()[0].subtasks[0].blob, Some(Span::new(52, 847)));
    // Every blob is a Java stream.
    for (_, s) in idx.subtasks() {
        let head = read_span(&**idx.source(), Span::new(s.blob.unwrap().start, 4)).unwrap();
        assert_eq!(head, [0xAC, 0xED, 0x00, 0x05]);
    }
}

#[test]
fn function_states_hold_what_the_job_checkpointed() {
    let Some(idx) = open_mem11() else { return };
    let src = idx.source().clone();
    for ((vertex, sub), m) in models(&idx) {
        let fs = &head(&m).function_state;
        if !WITH_FUNCTION_STATE.contains(&vertex.as_str()) {
            assert!(fs.is_none(), "{vertex}/{sub} has no function state");
            continue;
        }
        let Some(StateHandle::Serialized { data, .. }) = fs else {
            panic!("{vertex}/{sub}: {fs:?}")
        };
        let g = nested(&src, *data);
        let root = g.roots().next().unwrap();
        if vertex == SOURCE {
            assert_eq!(data.len, 23);
            assert_eq!(
                g.string_value(root).unwrap().as_deref(),
                Some("Here be dragons!")
            );
        } else {
            assert_eq!(data.len, 233);
            let tuple = g.object(root).unwrap().unwrap();
            assert_eq!(
                tuple.class_name().lossy(),
                "org.apache.flink.api.java.tuple.Tuple2"
            );
            let f0 = tuple.field("f0").unwrap();
            assert_eq!(g.string_value(f0).unwrap().as_deref(), Some("hello"));
            let long = g.object(tuple.field("f1").unwrap()).unwrap().unwrap();
            assert_eq!(long.class_name().lossy(), "java.lang.Long");
            assert_eq!(long.boxed().unwrap(), Value::Long(42));
        }
    }
}

/// Class name of a node, for serializer checks.
fn class(m: &SubtaskModel, id: NodeId) -> String {
    m.graph.class_name_of(id).unwrap().lossy()
}

/// Decodes a MemValueState data array whose key is Tuple1<Long>, namespace Void and
/// value Long (legacy-formats.md §2.5): key → value.
fn value_state_entries(bytes: &[u8]) -> Vec<(i64, i64)> {
    let int = |o: usize| i32::from_be_bytes(bytes[o..o + 4].try_into().unwrap());
    let long = |o: usize| i64::from_be_bytes(bytes[o..o + 8].try_into().unwrap());
    assert_eq!(int(0), 1, "one namespace");
    assert_eq!(bytes[4], 0, "VoidSerializer namespace");
    let n = int(5) as usize;
    let mut out = Vec::new();
    for i in 0..n {
        out.push((long(9 + 16 * i), long(17 + 16 * i)));
    }
    assert_eq!(bytes.len(), 9 + 16 * n, "no trailing bytes");
    out
}

#[test]
fn keyed_state_sits_where_the_key_groups_say() {
    let Some(idx) = open_mem11() else { return };
    let all = models(&idx);
    for vertex in KEYED {
        let mut found: BTreeMap<i64, u32> = BTreeMap::new();
        for ((v, sub), m) in &all {
            if v != vertex {
                continue;
            }
            let entry = head(m);
            for kv in &entry.kv_states {
                assert_eq!(kv.name, "state-name");
                let KvSnapshot::Heap(h) = &kv.snapshot else {
                    panic!("{:?}", kv.snapshot)
                };
                assert_eq!((h.backend, h.kind), (HeapBackend::Memory, StateKind::Value));
                assert_eq!(h.state_name, "state-name");
                assert_eq!(
                    kv.snapshot.class_name(),
                    "org.apache.flink.runtime.state.memory.MemValueState$Snapshot"
                );
                assert_eq!(
                    class(m, h.key_serializer),
                    "org.apache.flink.api.java.typeutils.runtime.TupleSerializer"
                );
                assert_eq!(
                    class(m, h.namespace_serializer),
                    "org.apache.flink.api.common.typeutils.base.VoidSerializer"
                );
                assert_eq!(
                    class(m, h.state_serializer),
                    "org.apache.flink.api.common.typeutils.base.LongSerializer"
                );
                assert_eq!(
                    class(m, h.state_desc),
                    "org.apache.flink.api.common.state.ValueStateDescriptor"
                );
                let Bytes::Span(span) = &h.data else {
                    panic!("memory data is inline")
                };
                let data = read_span(&**idx.source(), *span).unwrap();
                for (key, value) in value_state_entries(&data) {
                    assert_eq!(key, value, "value = f1 of the last element, key i -> i");
                    assert!(found.insert(key, *sub).is_none(), "key {key} twice");
                }
            }
        }
        let expected: BTreeMap<i64, u32> = (0..4)
            .map(|k| {
                let group = JavaKey::Tuple(vec![JavaKey::Long(k)]).key_group(4);
                (k, operator_index_for_key_group(4, 4, group))
            })
            .collect();
        assert_eq!(found, expected, "{vertex}");
        // legacy-formats.md §3.13: key 3 in subtask 1, keys 0 and 1 in 2, key 2 in 3.
        assert_eq!(found, BTreeMap::from([(0, 2), (1, 2), (2, 3), (3, 1)]));
    }
}

#[test]
fn custom_operator_state_is_a_wrapped_byte_stream() {
    let Some(idx) = open_mem11() else { return };
    for ((vertex, sub), m) in models(&idx) {
        if vertex != CUSTOM_OPERATOR {
            assert!(m.entries().all(|e| e.operator_state.is_none()));
            continue;
        }
        assert_eq!(m.chain_length(), 2, "chained sink first, head last");
        assert!(m.chain[0].is_none(), "the stateless sink");
        let op = head(&m).operator_state.as_ref().unwrap();
        let StateHandle::DataInputView { inner, .. } = op else {
            panic!("{op:?}")
        };
        assert!(
            matches!(**inner, StateHandle::ByteStream { .. }),
            "{inner:?}"
        );
        let Bytes::Span(span) = op.bytes() else {
            panic!("inline bytes")
        };
        let bytes = read_span(&**idx.source(), span).unwrap();
        let mut want = vec![0x00, 0x13];
        want.extend_from_slice(b"Oh my, that's nice!");
        assert_eq!(
            bytes, want,
            "subtask {sub}: writeUTF(\"Oh my, that's nice!\")"
        );
        assert_eq!(op.state_size(&savepointfs::v0::Unmeasured), 21);
    }
}

#[test]
fn handle_sizes_sum_to_the_recorded_state_size() {
    let Some(idx) = open_mem11() else { return };
    let mut checked = 0;
    for (t, s) in idx.subtasks() {
        let m = SubtaskModel::decode(&idx, t, s).unwrap();
        assert_eq!(
            m.state_size(&savepointfs::v0::Unmeasured) as i64,
            s.state_size,
            "{} subtask {}",
            t.vertex,
            s.index
        );
        checked += 1;
    }
    assert_eq!(checked, 16);
}

// Operator snapshots (one StreamTaskState each), as the bytes say:
//   kafka-consumer-migration-test-…-empty-state      function: SerializedStateHandle
//   monitoring-function-migration-test-…             function: SerializedStateHandle
//   reader-migration-test-…                          operator: bare ByteStreamStateHandle
//   rolling-sink-migration-test-…                    function: SerializedStateHandle
//   win-op-…-accum-aligned / aggr-aligned            operator: DataInputViewHandle → ByteStream
//   win-op-…-apply-event-time / apply-processing-time
//        kv "window-contents": MemListState$Snapshot; operator: DataInputViewHandle → ByteStream
//   win-op-…-reduce-event-time / reduce-processing-time
//        kv "window-contents": MemReducingState$Snapshot; operator: DataInputViewHandle → ByteStream
//   win-op-…-session-with-stateful-trigger-mint       operator: DataInputViewHandle → ByteStream
#[test]
fn every_operator_snapshot_decodes_as_a_chain_entry() {
    let Some(fx) = common::shared_fixtures() else {
        return;
    };
    let files = common::operator_snapshots(&fx);
    assert_eq!(files.len(), 11);
    for p in files {
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        let src: Arc<dyn Source> = Arc::new(FileSource::open(&p).unwrap());
        let len = src.len();
        let snap = OperatorSnapshot::decode(src.clone(), Span::new(0, len))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let e = &snap.entry;
        assert_eq!(e.index, 0);
        let short = |h: &Option<StateHandle>| {
            h.as_ref()
                .map(|h| h.class_name().rsplit('.').next().unwrap())
        };
        let kv: Vec<(&str, &str)> = e
            .kv_states
            .iter()
            .map(|k| {
                (
                    k.name.as_str(),
                    k.snapshot.class_name().rsplit('.').next().unwrap(),
                )
            })
            .collect();
        let (function, operator) = (short(&e.function_state), short(&e.operator_state));
        if name.starts_with("kafka")
            || name.starts_with("monitoring")
            || name.starts_with("rolling")
        {
            assert_eq!(
                (function, operator),
                (Some("SerializedStateHandle"), None),
                "{name}"
            );
            assert!(kv.is_empty(), "{name}");
            // The function state is itself a Java stream.
            let Some(StateHandle::Serialized { data, .. }) = &e.function_state else {
                unreachable!()
            };
            assert_eq!(nested(&src, *data).roots().count(), 1, "{name}");
        } else if name.starts_with("reader") {
            assert_eq!(
                (function, operator),
                (None, Some("ByteStreamStateHandle")),
                "{name}"
            );
            assert!(kv.is_empty());
        } else {
            assert!(name.starts_with("win-op"), "{name}");
            assert_eq!(function, None, "{name}");
            assert_eq!(
                operator,
                Some("AbstractStateBackend$DataInputViewHandle"),
                "{name}"
            );
            let expected_kv: &[(&str, &str)] = if name.contains("-apply-") {
                &[("window-contents", "MemListState$Snapshot")]
            } else if name.contains("-reduce-") {
                &[("window-contents", "MemReducingState$Snapshot")]
            } else {
                &[]
            };
            assert_eq!(kv, expected_kv, "{name}");
            for k in &e.kv_states {
                let KvSnapshot::Heap(h) = &k.snapshot else {
                    panic!()
                };
                assert_eq!(h.state_name, "window-contents", "{name}");
                assert_eq!(
                    snap.graph
                        .class_name_of(h.namespace_serializer)
                        .unwrap()
                        .lossy(),
                    "org.apache.flink.streaming.api.windowing.windows.TimeWindow$Serializer",
                    "{name}"
                );
            }
        }
        // Every handle's bytes lie inside the file.
        let handles = [&e.function_state, &e.operator_state].into_iter().flatten();
        let kv_bytes = e.kv_states.iter().filter_map(|k| k.snapshot.bytes());
        for b in handles.map(StateHandle::bytes).chain(kv_bytes) {
            let Bytes::Span(s) = b else {
                panic!("{name}: external bytes")
            };
            assert!(s.end() <= len, "{name}");
        }
    }
}

/// Opens the bytes and decodes every subtask; true when all of it succeeded.
fn decode_everything(bytes: Vec<u8>) -> bool {
    let Ok(idx) = SavepointIndex::open(Arc::new(MemSource::new("damaged", bytes))) else {
        return false;
    };
    let mut ok = true;
    for (t, s) in idx.subtasks() {
        if let Ok(m) = SubtaskModel::decode(&idx, t, s) {
            // Exercise what the report computes, too.
            let u = &savepointfs::v0::Unmeasured;
            let _ = (
                m.state_size(u),
                m.keyed_state_size(u),
                m.migration_problems(),
            );
        } else {
            ok = false;
        }
    }
    let _ =
        savepointfs::v0::report::SavepointReport::build(&idx, false, &savepointfs::v0::Unmeasured);
    ok
}

#[test]
fn every_prefix_is_an_error_never_a_panic() {
    let Some(fx) = common::shared_fixtures() else {
        return;
    };
    let bytes = std::fs::read(common::mem11(&fx)).unwrap();
    for n in 0..bytes.len() {
        let prefix = bytes[..n].to_vec();
        let r = std::panic::catch_unwind(|| decode_everything(prefix));
        assert_eq!(r.ok(), Some(false), "prefix of {n} bytes");
    }
    // Truncated blobs inside an intact index: every prefix of every blob.
    let src: Arc<dyn Source> = Arc::new(MemSource::new("mem11", bytes.clone()));
    let idx = SavepointIndex::open(src.clone()).unwrap();
    for (t, s) in idx.subtasks() {
        let blob = s.blob.unwrap();
        for n in 0..blob.len {
            let loc = t.location().with_subtask(s.index);
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                SubtaskModel::decode_blob(src.clone(), Span::new(blob.start, n), loc).is_ok()
            }));
            assert_eq!(
                r.ok(),
                Some(false),
                "{} subtask {} blob prefix {n}",
                t.vertex,
                s.index
            );
        }
    }
}

#[test]
fn single_bit_flips_give_errors_or_valid_results() {
    let Some(fx) = common::shared_fixtures() else {
        return;
    };
    let bytes = std::fs::read(common::mem11(&fx)).unwrap();
    let mut rng = Prng::new(0x5EED_F11B);
    let (mut ok, mut failed) = (0, 0);
    for i in 0..10_000 {
        let bit = rng.next_u64() % (bytes.len() as u64 * 8);
        let mut damaged = bytes.clone();
        damaged[(bit / 8) as usize] ^= 1 << (bit % 8);
        match std::panic::catch_unwind(|| decode_everything(damaged)) {
            Ok(true) => ok += 1,
            Ok(false) => failed += 1,
            Err(_) => panic!("flip {i} of bit {bit} (byte {}) panicked", bit / 8),
        }
    }
    eprintln!("10,000 single-bit flips: {ok} decoded, {failed} rejected");
    // Both outcomes occur: flips inside state bytes are harmless, framing flips are not.
    assert!(ok > 100 && failed > 100, "ok {ok}, failed {failed}");
}
