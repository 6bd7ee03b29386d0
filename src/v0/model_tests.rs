//! Tests of the subtask model on hand-written Java streams of the classes no fixture
//! holds: filesystem handles, RocksDB snapshots, unknown classes.

use super::*;
use crate::v0::handles::{Bytes, HeapBackend, StateKind};
use crate::v0::index::tests::Builder;
use crate::v0::testjava::*;

fn serializer(j: &mut J, name: &'static str) {
    j.object(&desc(name, 0x02, &[], None), |_| {});
}

fn value_descriptor(j: &mut J, name: &str) {
    let sd = desc(
        "org.apache.flink.api.common.state.StateDescriptor",
        0x03,
        &[
            (b'L', "name", "Ljava/lang/String;"),
            (
                b'L',
                "serializer",
                "Lorg/apache/flink/api/common/typeutils/TypeSerializer;",
            ),
        ],
        None,
    );
    let vd = desc(
        "org.apache.flink.api.common.state.ValueStateDescriptor",
        0x02,
        &[],
        Some(sd),
    );
    j.object(&vd, |j| {
        j.string(name);
        serializer(
            j,
            "org.apache.flink.api.common.typeutils.base.LongSerializer",
        );
        j.block(&[0]);
        j.end_block();
    });
}

fn data_input_view(j: &mut J, inner: impl FnOnce(&mut J)) {
    let d = desc(
        "org.apache.flink.runtime.state.AbstractStateBackend$DataInputViewHandle",
        0x02,
        &[(
            b'L',
            "stream",
            "Lorg/apache/flink/runtime/state/StreamStateHandle;",
        )],
        None,
    );
    j.object(&d, inner);
}

fn byte_stream(j: &mut J, data: &[u8]) {
    let d = desc(
        "org.apache.flink.runtime.state.memory.ByteStreamStateHandle",
        0x02,
        &[(b'[', "data", "[B")],
        Some(closeable()),
    );
    j.object(&d, |j| j.byte_array(data));
}

fn serialized(j: &mut J, data: &[u8]) {
    let d = desc(
        "org.apache.flink.runtime.state.memory.SerializedStateHandle",
        0x02,
        &[(b'[', "serializedData", "[B")],
        Some(closeable()),
    );
    j.object(&d, |j| j.byte_array(data));
}

fn file_handle(j: &mut J, class: &'static str, uri: &str) {
    j.object(&desc(class, 0x02, &[], Some(file_handle_super())), |j| {
        j.path(uri)
    });
}

fn fs_value_snapshot(j: &mut J, uri: &str, name: &str) {
    let fs_super = desc(
        "org.apache.flink.runtime.state.filesystem.AbstractFsStateSnapshot",
        0x02,
        &[
            (
                b'L',
                "keySerializer",
                "Lorg/apache/flink/api/common/typeutils/TypeSerializer;",
            ),
            (
                b'L',
                "namespaceSerializer",
                "Lorg/apache/flink/api/common/typeutils/TypeSerializer;",
            ),
            (
                b'L',
                "stateDesc",
                "Lorg/apache/flink/api/common/state/StateDescriptor;",
            ),
            (
                b'L',
                "stateSerializer",
                "Lorg/apache/flink/api/common/typeutils/TypeSerializer;",
            ),
        ],
        Some(file_handle_super()),
    );
    let d = desc(
        "org.apache.flink.runtime.state.filesystem.FsValueState$Snapshot",
        0x02,
        &[],
        Some(fs_super),
    );
    j.object(&d, |j| {
        j.path(uri);
        serializer(
            j,
            "org.apache.flink.api.common.typeutils.base.IntSerializer",
        );
        serializer(
            j,
            "org.apache.flink.api.common.typeutils.base.VoidSerializer",
        );
        value_descriptor(j, name);
        serializer(
            j,
            "org.apache.flink.api.common.typeutils.base.StringSerializer",
        );
    });
}

fn rocks(
    j: &mut J,
    class: &'static str,
    fields: &[(u8, &'static str, &'static str)],
    data: impl FnOnce(&mut J),
) {
    j.object(
        &desc(
            &*Box::leak(
                format!("org.apache.flink.contrib.streaming.state.RocksDBStateBackend${class}")
                    .into_boxed_str(),
            ),
            0x02,
            fields,
            None,
        ),
        data,
    );
}

fn savepoint(blobs: &[Option<Vec<u8>>]) -> SavepointIndex {
    let mut b = Builder::new(0, 1, 1);
    b.task(0x5a, blobs.len() as i32, blobs.len() as i32);
    for (i, blob) in blobs.iter().enumerate() {
        b.subtask(i as i32, blob.as_deref(), 0);
    }
    b.end_task(0);
    SavepointIndex::open(b.source()).unwrap()
}

fn decode(idx: &SavepointIndex, i: usize) -> Result<SubtaskModel> {
    let t = &idx.tasks()[0];
    SubtaskModel::decode(idx, t, &t.subtasks[i])
}

#[test]
fn filesystem_and_rocksdb_handles_decode_with_their_locations() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display().to_string();
    std::fs::write(dir.path().join("fn"), vec![0u8; 300]).unwrap();
    std::fs::write(dir.path().join("kv state"), vec![0u8; 70]).unwrap();
    let blob = task_state_list(3, |j| {
        j.null();
        task_state(
            j,
            |j| {
                file_handle(
                    j,
                    "org.apache.flink.runtime.state.filesystem.FileSerializableStateHandle",
                    &format!("file:{d}/fn"),
                )
            },
            |j| {
                j.hash_map(1, |j| {
                    j.string("fs-state");
                    fs_value_snapshot(j, &format!("file://{d}/kv%20state"), "fs-state");
                })
            },
            |j| {
                data_input_view(j, |j| {
                    file_handle(
                        j,
                        "org.apache.flink.runtime.state.filesystem.FileStreamStateHandle",
                        "hdfs://nn:8020/chk-1/op",
                    )
                })
            },
        );
        task_state(
            j,
            |j| j.null(),
            |j| {
                j.hash_map(1, |j| {
                    j.string("dummy_state");
                    rocks(
                        j,
                        "FinalFullyAsyncSnapshot",
                        &[
                            (b'J', "checkpointId", ""),
                            (
                                b'L',
                                "stateHandle",
                                "Lorg/apache/flink/runtime/state/StateHandle;",
                            ),
                        ],
                        |j| {
                            j.raw(&7i64.to_be_bytes());
                            data_input_view(j, |j| byte_stream(j, &[1, 2, 3]));
                        },
                    );
                })
            },
            |j| j.null(),
        );
    });
    let idx = savepoint(&[Some(blob)]);
    let m = decode(&idx, 0).unwrap();
    assert_eq!(m.chain_length(), 3);
    assert!(m.chain[0].is_none());
    let e1 = m.chain[1].as_ref().unwrap();
    let StateHandle::FileSerializable { path, .. } = e1.function_state.as_ref().unwrap() else {
        panic!("{:?}", e1.function_state)
    };
    assert_eq!(path.local, Some(dir.path().join("fn")));
    assert_eq!(
        e1.function_state.as_ref().unwrap().state_size(&LocalFiles),
        300
    );
    let op = e1.operator_state.as_ref().unwrap();
    assert_eq!(op.class_name(), crate::v0::DATA_INPUT_VIEW_HANDLE);
    match op.bytes() {
        Bytes::External {
            path,
            expected_size,
        } => {
            assert_eq!(path.display, "hdfs://nn:8020/chk-1/op");
            assert_eq!((path.local, expected_size), (None, None));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        op.state_size(&crate::v0::Unmeasured),
        0,
        "a remote file's size cannot be determined"
    );
    assert_eq!(e1.kv_states.len(), 1);
    assert_eq!(e1.kv_states[0].name, "fs-state");
    let KvSnapshot::Heap(h) = &e1.kv_states[0].snapshot else {
        panic!()
    };
    assert_eq!(
        (h.backend, h.kind),
        (HeapBackend::Filesystem, StateKind::Value)
    );
    assert_eq!(h.state_name, "fs-state");
    assert_eq!(
        m.graph.class_name_of(h.key_serializer).unwrap().lossy(),
        "org.apache.flink.api.common.typeutils.base.IntSerializer"
    );
    assert_eq!(
        m.graph.class_name_of(h.state_serializer).unwrap().lossy(),
        "org.apache.flink.api.common.typeutils.base.StringSerializer"
    );
    assert_eq!(
        m.graph.class_name_of(h.state_desc).unwrap().lossy(),
        "org.apache.flink.api.common.state.ValueStateDescriptor"
    );
    assert_eq!(
        e1.kv_states[0].snapshot.class_name(),
        "org.apache.flink.runtime.state.filesystem.FsValueState$Snapshot"
    );
    assert_eq!(e1.kv_states[0].snapshot.state_size(&LocalFiles), 70);
    assert!(matches!(
        m.graph.nodes[e1.kv_states_map.unwrap() as usize].kind,
        crate::javaser::NodeKind::Object(_)
    ));

    let e2 = m.chain[2].as_ref().unwrap();
    let KvSnapshot::RocksDbFullyAsync {
        checkpoint_id,
        state_handle,
        ..
    } = &e2.kv_states[0].snapshot
    else {
        panic!()
    };
    assert_eq!(*checkpoint_id, 7);
    let Bytes::Span(span) = state_handle.bytes() else {
        panic!()
    };
    assert_eq!(span.len, 3);
    let mut three = [0u8; 3];
    idx.source().read_at(span.start, &mut three).unwrap();
    assert_eq!(three, [1, 2, 3]);
    assert_eq!(m.state_size(&LocalFiles), 300 + 70 + 3);
    assert_eq!(
        m.state_size(&crate::v0::Unmeasured),
        3,
        "nothing measured: inline only"
    );
    assert_eq!(m.keyed_state_size(&LocalFiles), Some(73));
    let problems = m.migration_problems();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].contains("[1, 2]"), "{problems:?}");
}

#[test]
fn semi_async_rocksdb_is_represented_and_reported_as_not_migratable() {
    let blob = task_state_list(1, |j| {
        task_state(
            j,
            |j| j.null(),
            |j| {
                j.hash_map(1, |j| {
                    j.string("dummy_state");
                    rocks(
                        j,
                        "FinalSemiAsyncSnapshot",
                        &[
                            (b'J', "checkpointId", ""),
                            (b'L', "backupUri", "Ljava/net/URI;"),
                            (b'L', "stateDescriptors", "Ljava/util/List;"),
                        ],
                        |j| {
                            j.raw(&5i64.to_be_bytes());
                            j.uri("hdfs://nn/backups/chk-5");
                            j.null();
                        },
                    );
                })
            },
            |j| j.null(),
        );
    });
    let idx = savepoint(&[Some(blob)]);
    let m = decode(&idx, 0).unwrap();
    let kv = &m.chain[0].as_ref().unwrap().kv_states[0];
    let KvSnapshot::RocksDbSemiAsync {
        checkpoint_id,
        backup_uri,
        state_descriptors,
        ..
    } = &kv.snapshot
    else {
        panic!("{:?}", kv.snapshot)
    };
    assert_eq!(*checkpoint_id, 5);
    assert_eq!(
        backup_uri.as_ref().unwrap().display,
        "hdfs://nn/backups/chk-5"
    );
    assert_eq!(*state_descriptors, None);
    assert_eq!(kv.snapshot.bytes(), None);
    let p = kv.snapshot.migration_problem().unwrap();
    assert!(
        p.contains("semi-asynchronous") && p.contains("cannot migrate"),
        "{p}"
    );
    assert!(p.contains("hdfs://nn/backups/chk-5"), "{p}");
    assert_eq!(m.migration_problems().len(), 1);
    let report = crate::v0::report::SavepointReport::build(&idx, false, &crate::v0::Unmeasured);
    let s = &report.tasks[0].subtasks[0];
    assert_eq!(s.migratable, Some(false));
    let k = &s.chain.as_ref().unwrap()[0].kv_states[0];
    assert!(!k.migratable);
    assert_eq!(k.backend, "rocksdb");
    assert_eq!(k.path.as_deref(), Some("hdfs://nn/backups/chk-5"));
}

fn model_problem(r: Result<SubtaskModel>) -> (u64, Location, ModelProblem) {
    match r {
        Err(Error::Model {
            offset,
            location,
            problem,
            ..
        }) => (offset, *location, problem),
        Err(e) => panic!("expected a model error, got {e}"),
        Ok(_) => panic!("expected a model error, got a model"),
    }
}

#[test]
fn unknown_and_misplaced_classes_are_errors_naming_where_they_sit() {
    let local = desc(
        "org.apache.flink.runtime.state.LocalStateHandle",
        0x02,
        &[(b'L', "state", "Ljava/io/Serializable;")],
        None,
    );
    let blob = task_state_list(2, |j| {
        j.null();
        task_state(
            j,
            |j| j.null(),
            |j| j.null(),
            |j| j.object(&local, |j| j.null()),
        );
    });
    let unknown_at = blob
        .windows(4)
        .position(|w| w == [0x73, 0x72, 0x00, 0x2f])
        .unwrap();
    let idx = savepoint(&[Some(blob), None]);
    let (offset, loc, problem) = model_problem(decode(&idx, 0));
    let blob_start = idx.tasks()[0].subtasks[0].blob.unwrap().start;
    assert_eq!(offset, blob_start + unknown_at as u64);
    assert_eq!(loc.subtask, Some(0));
    assert_eq!(loc.task.unwrap().0, 0);
    assert_eq!((loc.chain, loc.field.as_str()), (Some(1), ".operatorState"));
    let ModelProblem::UnknownClass { role, class } = problem else {
        panic!("{problem:?}")
    };
    assert_eq!(
        (role, class.as_str()),
        (
            "state handle",
            "org.apache.flink.runtime.state.LocalStateHandle"
        )
    );

    // A null blob is an error for that subtask.
    let (offset, loc, problem) = model_problem(decode(&idx, 1));
    assert!(matches!(problem, ModelProblem::NullBlob));
    assert_eq!(
        (offset, loc.subtask),
        (idx.tasks()[0].subtasks[1].offset, Some(1))
    );

    // A DataInputViewHandle may only wrap a stream handle.
    let blob = task_state_list(1, |j| {
        task_state(
            j,
            |j| j.null(),
            |j| j.null(),
            |j| data_input_view(j, |j| serialized(j, b"x")),
        );
    });
    let (_, loc, problem) = model_problem(decode(&savepoint(&[Some(blob)]), 0));
    assert_eq!(loc.field, ".operatorState.stream");
    assert!(
        matches!(problem, ModelProblem::Unexpected { .. }),
        "{problem:?}"
    );

    // An unknown keyed snapshot class.
    let blob = task_state_list(1, |j| {
        task_state(
            j,
            |j| j.null(),
            |j| {
                j.hash_map(1, |j| {
                    j.string("s");
                    j.object(&desc("com.example.MySnapshot", 0x02, &[], None), |_| {});
                })
            },
            |j| j.null(),
        );
    });
    let (_, loc, problem) = model_problem(decode(&savepoint(&[Some(blob)]), 0));
    assert_eq!(loc.field, ".kvStates[\"s\"]");
    assert!(
        matches!(&problem, ModelProblem::UnknownClass { role: "keyed state snapshot", class } if class == "com.example.MySnapshot"),
        "{problem:?}"
    );

    // A root that is not a StreamTaskStateList, and an empty stream.
    let mut j = J::new();
    j.string("not a state list");
    let (_, _, problem) = model_problem(decode(&savepoint(&[Some(j.out)]), 0));
    assert!(
        matches!(&problem, ModelProblem::Unexpected { expected: "a StreamTaskStateList", found } if found == "a string"),
        "{problem:?}"
    );
    let (_, _, problem) = model_problem(decode(&savepoint(&[Some(J::new().out)]), 0));
    assert!(matches!(
        problem,
        ModelProblem::Unexpected {
            expected: "a root object",
            ..
        }
    ));
    let mut j = J::new();
    j.object(&desc("java.lang.Object2", 0x02, &[], None), |_| {});
    let (_, _, problem) = model_problem(decode(&savepoint(&[Some(j.out)]), 0));
    assert!(
        matches!(&problem, ModelProblem::Unexpected { expected: "a StreamTaskStateList", found } if found == "java.lang.Object2"),
        "{problem:?}"
    );
}

#[test]
fn bad_uris_and_null_fields_are_errors() {
    let blob = task_state_list(1, |j| {
        task_state(
            j,
            |j| {
                file_handle(
                    j,
                    "org.apache.flink.runtime.state.filesystem.FileStreamStateHandle",
                    "file:/x%zz",
                )
            },
            |j| j.null(),
            |j| j.null(),
        );
    });
    let (_, loc, problem) = model_problem(decode(&savepoint(&[Some(blob)]), 0));
    assert_eq!(loc.field, ".functionState.filePath.uri");
    assert!(
        matches!(problem, ModelProblem::BadUri { .. }),
        "{problem:?}"
    );

    let blob = task_state_list(1, |j| {
        task_state(
            j,
            |j| data_input_view(j, |j| j.null()),
            |j| j.null(),
            |j| j.null(),
        );
    });
    let (_, loc, problem) = model_problem(decode(&savepoint(&[Some(blob)]), 0));
    assert_eq!(loc.field, ".functionState");
    assert!(
        matches!(problem, ModelProblem::NullField { field: "stream" }),
        "{problem:?}"
    );
}

/// Sizes straight from the local file system (the product asks its path policy).
struct LocalFiles;

impl crate::v0::Measure for LocalFiles {
    fn file_size(&self, path: &crate::v0::ExternalPath) -> Option<u64> {
        std::fs::metadata(path.local.as_ref()?)
            .ok()
            .filter(|m| m.is_file())
            .map(|m| m.len())
    }
    fn tree_size(&self, _: &crate::v0::ExternalPath) -> Option<u64> {
        None
    }
}
