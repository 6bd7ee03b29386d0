//! The conversion against external truth: the real Flink 1.2 savepoint of the same job.

mod common;

use savepointfs::convert::{ExternalPolicy, convert_subtask};
use savepointfs::javaser::{self, Limits};
use savepointfs::source::{FileSource, MemSource, Source};
use savepointfs::v0::{Bytes, KvSnapshot, SavepointIndex, SubtaskModel};
use savepointfs::v1;
use std::collections::BTreeMap;
use std::sync::Arc;

fn read_all(s: &dyn Source) -> Vec<u8> {
    let mut b = vec![0u8; s.len() as usize];
    s.read_at(0, &mut b).unwrap();
    b
}

#[test]
fn legacy_streams_equal_the_ones_real_flink_1_2_wrote() {
    let Some(fx) = common::shared_fixtures() else {
        return;
    };
    let source: Arc<dyn Source> = Arc::new(FileSource::open(common::mem11(&fx)).unwrap());
    let index = SavepointIndex::open(source).unwrap();
    let policy = ExternalPolicy::default();

    // Ours: per (vertex, subtask), the legacy streams in chain order.
    let mut ours: BTreeMap<(String, u32), Vec<Vec<u8>>> = BTreeMap::new();
    let mut signal_only = 0;
    for (task, sub) in index.subtasks() {
        let model = SubtaskModel::decode(&index, task, sub).unwrap();
        let converted = convert_subtask(&model, &policy);
        for (entry, model_entry) in converted.chain.iter().flatten().zip(model.entries()) {
            let bytes = read_all(&*entry.legacy_operator_state.as_ref().unwrap().stream);
            if model_entry.function_state.is_none() {
                // No function state: Flink 1.2 writes a null legacy handle, we serve [0x00 | operator state].
                assert_eq!(bytes[0], 0x00);
                if model_entry.operator_state.is_none() {
                    assert_eq!(bytes, [0x00], "{} {}", task.vertex, sub.index);
                    signal_only += 1;
                }
                continue;
            }
            assert_eq!(bytes[0], 0x01);
            ours.entry((task.vertex.to_string(), sub.index))
                .or_default()
                .push(bytes);
        }
    }

    // Theirs: the non-null legacy handles of the real 1.2 savepoint of the same job.
    let v12 = FileSource::open(
        fx.join("flink-1.2/savepoints/stateful-udf-migration-itcase-flink1.2-savepoint"),
    )
    .unwrap();
    let sp = v1::read(&v12).unwrap();
    let mut theirs: BTreeMap<(String, u32), Vec<Vec<u8>>> = BTreeMap::new();
    for task in &sp.tasks {
        for (index, st) in &task.subtasks {
            for h in st.legacy.iter().flatten() {
                let v1::StreamHandle::ByteStream { data, .. } = h else {
                    panic!("the 1.2 fixture has inline handles")
                };
                theirs
                    .entry((task.vertex.to_string(), *index as u32))
                    .or_default()
                    .push(data.clone());
            }
        }
    }
    assert_eq!(
        theirs.values().map(Vec::len).sum::<usize>(),
        13,
        "13 non-null legacy streams in the 1.2 file"
    );
    assert_eq!(
        ours, theirs,
        "every legacy stream with function state is byte-identical to Flink 1.2's"
    );
    // The source (function state only) is 24 B; the custom operator's stream is 255 B = 1 + 233 + 21.
    let sizes: Vec<usize> = ours.values().flatten().map(Vec::len).collect();
    assert!(
        sizes.contains(&24) && sizes.contains(&255) && sizes.contains(&234),
        "{sizes:?}"
    );
    // The keyed-only entries (KeyedStateSettingFlatMap: 3 of its 4 subtasks hold keys, the
    // fourth stored no state at all) get a 1-byte [0x00] stream.
    assert_eq!(signal_only, 3);
}

#[test]
fn keyed_state_files_carry_the_1_1_snapshot_bytes_under_migration_names() {
    let Some(fx) = common::shared_fixtures() else {
        return;
    };
    let source: Arc<dyn Source> = Arc::new(FileSource::open(common::mem11(&fx)).unwrap());
    let index = SavepointIndex::open(source.clone()).unwrap();
    let mut files = 0;
    for (task, sub) in index.subtasks() {
        let model = SubtaskModel::decode(&index, task, sub).unwrap();
        let converted = convert_subtask(&model, &ExternalPolicy::default());
        let Some(keyed) = &converted.keyed_state else {
            assert!(model.entries().all(|e| e.kv_states_map.is_none()));
            continue;
        };
        let bytes = read_all(&*keyed.as_ref().unwrap().stream);
        let g = javaser::parse_stream(
            Arc::new(MemSource::new("keyed-state", bytes.clone())),
            0,
            bytes.len() as u64,
            &Limits::default(),
        )
        .unwrap();
        assert_eq!(g.len, bytes.len() as u64);
        let root = g.object(g.roots().next().unwrap()).unwrap().unwrap();
        assert!(root.class_name().is("java.util.HashMap"));
        let entries = root.hash_map_entries().unwrap();
        let original: Vec<_> = model.entries().flat_map(|e| e.kv_states.iter()).collect();
        assert_eq!(entries.len(), original.len());
        for ((k, v), orig) in entries.iter().zip(&original) {
            assert_eq!(
                g.string_value(*k).unwrap().as_deref(),
                Some(orig.name.as_str())
            );
            let snap = g.object(*v).unwrap().unwrap();
            assert!(
                snap.class_name()
                    .is("org.apache.flink.migration.runtime.state.memory.MemValueState$Snapshot")
            );
            assert!(
                snap.is_a(
                    "org.apache.flink.migration.runtime.state.memory.AbstractMemStateSnapshot"
                )
            );
            let ours = g
                .byte_array(snap.require("data").unwrap())
                .unwrap()
                .unwrap();
            let KvSnapshot::Heap(h) = &orig.snapshot else {
                panic!("memory backend")
            };
            let Bytes::Span(theirs) = &h.data else {
                panic!("inline data")
            };
            let mut a = vec![0u8; ours.len as usize];
            g.source().read_at(ours.start, &mut a).unwrap();
            let mut b = vec![0u8; theirs.len as usize];
            source.read_at(theirs.start, &mut b).unwrap();
            assert_eq!(a, b, "kv snapshot data bytes are the 1.1 bytes");
        }
        files += 1;
    }
    assert_eq!(
        files, 9,
        "3 keyed vertices x the 3 subtasks that hold keys (keys 0..3 fall in key groups 1, 2, 3)"
    );
}
