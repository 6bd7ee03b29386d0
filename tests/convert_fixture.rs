//! The conversion against external truth: the real Flink 1.2 savepoint of the same job.

mod common;

use savepointfs::convert::{ConvertOptions, convert_subtask};
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
    let opts = ConvertOptions::default();

    // Ours: per (vertex, subtask), the legacy streams in chain order.
    let mut ours: BTreeMap<(String, u32), Vec<Vec<u8>>> = BTreeMap::new();
    let mut signal_only = 0;
    for (task, sub) in index.subtasks() {
        let model = SubtaskModel::decode(&index, task, sub).unwrap();
        let converted = convert_subtask(&model, 4, &opts);
        for (entry, model_entry) in converted.chain.iter().flatten().zip(model.entries()) {
            let bytes = read_all(
                &*entry
                    .legacy_operator_state
                    .as_ref()
                    .unwrap()
                    .as_ref()
                    .unwrap()
                    .stream,
            );
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
        let converted = convert_subtask(&model, 4, &ConvertOptions::default());
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

/// Inline bytes of a V1 stream handle (the 1.2 fixtures hold no file handles).
fn inline(h: &v1::StreamHandle) -> &[u8] {
    match h {
        v1::StreamHandle::ByteStream { data, .. } => data,
        other => panic!("expected inline bytes, found {other:?}"),
    }
}

#[test]
fn native_keyed_streams_equal_flink_1_2_heap_key_group_streams() {
    let Some(fx) = common::shared_fixtures() else {
        return;
    };
    let source: Arc<dyn Source> = Arc::new(FileSource::open(common::mem11(&fx)).unwrap());
    let index = SavepointIndex::open(source).unwrap();
    let v12 = FileSource::open(
        fx.join("flink-1.2/savepoints/stateful-udf-migration-itcase-flink1.2-savepoint"),
    )
    .unwrap();
    let sp = v1::read(&v12).unwrap();
    let mut compared = 0;
    for (task, sub) in index.subtasks() {
        let model = SubtaskModel::decode(&index, task, sub).unwrap();
        let converted = convert_subtask(&model, 4, &ConvertOptions::default());
        let Some(ours) = &converted.managed_keyed_state else {
            continue;
        };
        let ours = ours.as_ref().unwrap();
        let theirs_task = sp
            .tasks
            .iter()
            .find(|t| t.vertex.to_string() == task.vertex.to_string())
            .unwrap();
        let (_, theirs) = theirs_task
            .subtasks
            .iter()
            .find(|(i, _)| *i as u32 == sub.index)
            .unwrap();
        let kg = theirs
            .managed_keyed
            .as_ref()
            .expect("Flink 1.2 wrote keyed state here too");
        assert_eq!(
            (kg.start, kg.offsets.clone()),
            (sub.index as i32, vec![ours.offset as i64])
        );
        assert_eq!(
            ours.offset, 1223,
            "header length of a Tuple1<Long> key, Void namespace, Long value"
        );
        assert_eq!(
            read_all(&*ours.stream),
            inline(&kg.delegate),
            "{} subtask {}",
            task.vertex,
            sub.index
        );
        compared += 1;
    }
    assert_eq!(compared, 9, "9 of 9 (vertex, subtask) pairs");
}

#[test]
fn native_operator_streams_match_flink_1_2_layouts() {
    let Some(fx) = common::shared_fixtures() else {
        return;
    };
    let source: Arc<dyn Source> = Arc::new(FileSource::open(common::mem11(&fx)).unwrap());
    let index = SavepointIndex::open(source).unwrap();
    // The `_default_` header Flink 1.2 writes for ListCheckpointed state (nonKeyed job).
    let non_keyed = v1::read(
        &FileSource::open(fx.join("flink-1.2/savepoints/nonKeyed-flink1.2-metadata")).unwrap(),
    )
    .unwrap();
    let flink_headers: Vec<Vec<u8>> = non_keyed
        .tasks
        .iter()
        .flat_map(|t| t.subtasks.iter())
        .flat_map(|(_, s)| s.managed_operator.iter().flatten())
        .map(|h| inline(&h.delegate)[..155].to_vec())
        .collect();
    assert_eq!(flink_headers.len(), 12);
    let v12 = v1::read(
        &FileSource::open(
            fx.join("flink-1.2/savepoints/stateful-udf-migration-itcase-flink1.2-savepoint"),
        )
        .unwrap(),
    )
    .unwrap();
    let mut compared = 0;
    for (task, sub) in index.subtasks() {
        let model = SubtaskModel::decode(&index, task, sub).unwrap();
        let converted = convert_subtask(&model, 4, &ConvertOptions::default());
        for entry in converted.chain.iter().flatten() {
            let Some(managed) = &entry.managed_operator_state else {
                continue;
            };
            let managed = managed.as_ref().unwrap();
            let bytes = read_all(&*managed.stream);
            assert_eq!(managed.offset, 155);
            assert!(
                flink_headers.iter().all(|h| h[..] == bytes[..155]),
                "header equals Flink 1.2's `_default_` header"
            );
            // The element is the 1.2 legacy stream of the same vertex and subtask without its
            // leading 01 (and without the operator's own 21 bytes where it has them).
            let legacy = v12
                .tasks
                .iter()
                .find(|t| t.vertex.to_string() == task.vertex.to_string())
                .and_then(|t| t.subtasks.iter().find(|(i, _)| *i as u32 == sub.index))
                .and_then(|(_, s)| s.legacy.iter().flatten().next())
                .map(inline)
                .expect("Flink 1.2 wrote a legacy stream here");
            let raw = entry
                .operator_state
                .as_ref()
                .map(|r| read_all(&*r.as_ref().unwrap().stream))
                .unwrap_or_default();
            assert_eq!(&legacy[1..legacy.len() - raw.len()], &bytes[155..]);
            if !raw.is_empty() {
                assert_eq!(
                    &legacy[legacy.len() - raw.len()..],
                    &raw[..],
                    "raw operator state = the operator's bytes"
                );
                assert_eq!(raw.len(), 21);
            }
            compared += 1;
        }
    }
    assert_eq!(compared, 13, "13 of 13 function states");
}

#[test]
fn every_key_of_the_real_fixture_sits_in_its_key_group() {
    let Some(fx) = common::shared_fixtures() else {
        return;
    };
    let source: Arc<dyn Source> = Arc::new(FileSource::open(common::mem11(&fx)).unwrap());
    let index = SavepointIndex::open(source).unwrap();
    let mut checked = 0;
    for (task, sub) in index.subtasks() {
        let model = SubtaskModel::decode(&index, task, sub).unwrap();
        for c in savepointfs::convert::keys::check_subtask(
            &model,
            task.parallelism,
            &ConvertOptions::default(),
        ) {
            assert_eq!(
                (c.total_misplaced, c.unchecked.as_deref()),
                (0, None),
                "{} subtask {}: {c:?}",
                task.vertex,
                sub.index
            );
            checked += c.checked;
        }
    }
    assert_eq!(checked, 12, "3 keyed vertices x keys 0..3");
}

/// A Flink 1.1 RocksDB fully-async snapshot stream (legacy-formats.md §2.5) of the fixture job's
/// keyed state: one column `state-name` (LongSerializer), `Tuple1<Long>` keys k → k.
fn rocks11_stream(keys: &[i64]) -> Vec<u8> {
    use savepointfs::javaser::builder::StreamBuilder;
    use savepointfs::v0::classes::{LONG_SERIALIZER, VALUE_STATE_DESCRIPTOR};
    let mut b = StreamBuilder::new(Vec::new(), "column", 0).unwrap();
    b.begin_object(&VALUE_STATE_DESCRIPTOR).unwrap();
    b.string("state-name").unwrap();
    b.begin_object(&LONG_SERIALIZER).unwrap();
    b.block_boolean(false).unwrap();
    b.end_annotation().unwrap();
    let column = b.finish().unwrap();
    let mut s = 1i32.to_be_bytes().to_vec();
    s.push(0);
    s.extend_from_slice(&column);
    for k in keys {
        s.push(0);
        s.extend_from_slice(&10i32.to_be_bytes());
        s.extend_from_slice(&k.to_be_bytes());
        s.extend_from_slice(&[0x2A, 0x00]);
        s.extend_from_slice(&8i32.to_be_bytes());
        s.extend_from_slice(&k.to_be_bytes());
    }
    s
}

#[test]
fn rocksdb_key_group_streams_equal_flink_1_2_rocksdb_streams() {
    use savepointfs::convert::key_serializer::KeySerializer;
    use savepointfs::convert::rocks::RocksSnapshot;
    use savepointfs::source::Span;
    let Some(fx) = common::shared_fixtures() else {
        return;
    };
    let v12 =
        v1::read(
            &FileSource::open(fx.join(
                "flink-1.2/savepoints/stateful-udf-migration-itcase-flink1.2-rocksdb-savepoint",
            ))
            .unwrap(),
        )
        .unwrap();
    let key_serializer = KeySerializer::parse("tuple1-long")
        .unwrap()
        .stream()
        .unwrap();
    // Keys 0..3 with parallelism 4: key 3 in group 1, keys 0 and 1 in group 2, key 2 in group 3.
    let mut compared = 0;
    for (subtask, keys) in [(1u32, vec![3i64]), (2, vec![0, 1]), (3, vec![2])] {
        let stream = rocks11_stream(&keys);
        let len = stream.len() as u64;
        let snap = Arc::new(
            RocksSnapshot::open(
                Arc::new(MemSource::new("rocks11", stream)),
                Span::new(0, len),
            )
            .unwrap(),
        );
        assert_eq!(snap.record_count(), keys.len() as u64);
        let mut ours = snap.header(&key_serializer, false).unwrap();
        let offset = ours.len();
        let region = snap.key_group_region(subtask, 4).unwrap();
        let mut body = vec![0u8; region.len() as usize];
        region.read_at(0, &mut body).unwrap();
        ours.extend_from_slice(&body);
        // Every window of the region reads the same bytes as the whole.
        for start in 0..body.len() {
            let mut one = [0u8; 3];
            let n = (body.len() - start).min(3);
            region.read_at(start as u64, &mut one[..n]).unwrap();
            assert_eq!(&one[..n], &body[start..start + n]);
        }
        for task in &v12.tasks {
            for (i, st) in &task.subtasks {
                let Some(kg) = &st.managed_keyed else {
                    continue;
                };
                if *i as u32 != subtask
                    || task.chain_length != 1
                    || kg.offsets != vec![offset as i64]
                {
                    continue;
                }
                let theirs = inline(&kg.delegate);
                assert_eq!(theirs.len(), ours.len());
                // [368,372): TupleSerializerBase.length cached as 8 by Flink 1.2's RocksDB job, -2 in 1.1 (native-formats.md §7.3.5).
                assert_eq!(&theirs[..368], &ours[..368]);
                assert_eq!(
                    &theirs[372..],
                    &ours[372..],
                    "vertex {} subtask {i}",
                    task.vertex
                );
                compared += 1;
            }
        }
    }
    assert!(compared >= 6, "compared {compared} streams");
}

#[test]
fn keyed_layouts_convert_both_ways_to_flink_1_2_bytes() {
    use savepointfs::convert::KeyedLayout;
    use savepointfs::convert::key_serializer::KeySerializer;
    use savepointfs::convert::{relayout, rocks::RocksSnapshot};
    use savepointfs::source::Span;
    let Some(fx) = common::shared_fixtures() else {
        return;
    };
    let read12 = |name: &str| {
        v1::read(&FileSource::open(fx.join("flink-1.2/savepoints").join(name)).unwrap()).unwrap()
    };
    let heap12 = read12("stateful-udf-migration-itcase-flink1.2-savepoint");
    let rocks12 = read12("stateful-udf-migration-itcase-flink1.2-rocksdb-savepoint");
    let theirs = |sp: &v1::Savepoint, vertex: &str, subtask: u32| -> Vec<u8> {
        let t = sp
            .tasks
            .iter()
            .find(|t| t.vertex.to_string() == vertex)
            .unwrap();
        let (_, st) = t
            .subtasks
            .iter()
            .find(|(i, _)| *i as u32 == subtask)
            .unwrap();
        inline(&st.managed_keyed.as_ref().unwrap().delegate).to_vec()
    };

    // Heap snapshots of the real 1.1 file in the RocksDB layout: Flink 1.2's RocksDB streams
    // except the cached TupleSerializerBase.length at [368,372).
    let source: Arc<dyn Source> = Arc::new(FileSource::open(common::mem11(&fx)).unwrap());
    let index = SavepointIndex::open(source).unwrap();
    let opts = ConvertOptions {
        keyed_layout: Some(KeyedLayout::RocksDb),
        ..ConvertOptions::default()
    };
    let mut compared = 0;
    for (task, sub) in index.subtasks() {
        let model = SubtaskModel::decode(&index, task, sub).unwrap();
        let Some(ours) = convert_subtask(&model, 4, &opts).managed_keyed_state else {
            continue;
        };
        let ours = read_all(&*ours.unwrap().stream);
        let want = theirs(&rocks12, &task.vertex.to_string(), sub.index);
        assert_eq!(
            (&ours[..368], &ours[372..]),
            (&want[..368], &want[372..]),
            "{} {}",
            task.vertex,
            sub.index
        );
        compared += 1;
    }
    assert_eq!(compared, 9);

    // RocksDB records in the heap layout: byte-identical to Flink 1.2's heap streams.
    let key_serializer = KeySerializer::parse("tuple1-long")
        .unwrap()
        .stream()
        .unwrap();
    for (subtask, keys) in [(1u32, vec![3i64]), (2, vec![0, 1]), (3, vec![2])] {
        let stream = rocks11_stream(&keys);
        let len = stream.len() as u64;
        let snap = RocksSnapshot::open(
            Arc::new(MemSource::new("rocks11", stream)),
            Span::new(0, len),
        )
        .unwrap();
        let header = snap.header(&key_serializer, false).unwrap();
        let body = relayout::rocks_to_heap(&snap, subtask, &[]).unwrap();
        let ours: Vec<u8> = read_all(&savepointfs::stream::MultiStream::new(
            "heap",
            std::iter::once(savepointfs::stream::Piece::bytes(header)).chain(body),
        ));
        assert_eq!(
            ours,
            theirs(&heap12, "b6f2d694289c3a40c7b6f325a615a3cf", subtask),
            "subtask {subtask}"
        );
    }
}
