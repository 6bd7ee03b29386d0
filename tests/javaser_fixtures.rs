//! The Java serialization reader and writer against every stream Flink 1.1 wrote in
//! the shared fixtures.

mod common;

use savepointfs::javaser::{self, Limits};
use savepointfs::source::MemSource;
use std::sync::Arc;

#[test]
fn every_fixture_stream_parses_to_its_last_byte() {
    let Some(fx) = common::shared_fixtures() else {
        return;
    };
    let streams = common::all_streams(&fx);
    assert_eq!(
        streams.len(),
        11 + 16,
        "11 operator snapshots and 16 subtask blobs"
    );
    for (label, bytes, off, len) in streams {
        let src = Arc::new(MemSource::new(label.clone(), bytes));
        let g = javaser::parse_stream(src, off as u64, (off + len) as u64, &Limits::default())
            .unwrap_or_else(|e| panic!("{label}: {e}"));
        assert_eq!(g.len, len as u64, "{label}");
        assert_eq!(g.roots().count(), 1, "{label}: one root object");
    }
}

// ---- writer ---------------------------------------------------------------------------

use javaser::{
    Chunks, Content, Graph, JString, NodeId, NodeKind, Value, WriteOptions, write_object,
    write_stream,
};
use savepointfs::source::read_span;
use std::collections::{BTreeSet, HashMap};

fn parse_fixture(label: &str, bytes: &Arc<[u8]>, off: usize, len: usize) -> Graph {
    let src = Arc::new(MemSource::new(label.to_string(), bytes.clone()));
    javaser::parse_stream(src, off as u64, (off + len) as u64, &Limits::default())
        .unwrap_or_else(|e| panic!("{label}: {e}"))
}

fn written(g: &Graph, c: &Chunks) -> Vec<u8> {
    let out = c.to_vec(&**g.source()).unwrap();
    assert_eq!(out.len() as u64, c.len());
    out
}

fn reparse(label: &str, bytes: Vec<u8>) -> Graph {
    let n = bytes.len() as u64;
    let src = Arc::new(MemSource::new(format!("{label} (re-emitted)"), bytes));
    javaser::parse_stream(src, 0, n, &Limits::default())
        .unwrap_or_else(|e| panic!("{label}: re-emitted stream does not parse: {e}"))
}

#[test]
fn every_fixture_stream_is_rewritten_byte_for_byte() {
    let Some(fx) = common::shared_fixtures() else {
        return;
    };
    let mut total = 0;
    for (label, bytes, off, len) in common::all_streams(&fx) {
        let g = parse_fixture(&label, &bytes, off, len);
        let c = write_stream(&g, &WriteOptions::default()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.len(), len as u64, "{label}");
        assert!(
            written(&g, &c) == bytes[off..off + len],
            "{label}: rewritten bytes differ"
        );
        total += len;
    }
    assert!(total > 20_000, "all streams together are {total} bytes");
}

/// The 1.1 names the migration writer must rename in these fixtures, with the expected
/// result spelled out (legacy-formats.md §3.2); every other name must come out unchanged.
const EXPECTED_CLASS_RENAMES: &[(&str, &str)] = &[
    (
        "org.apache.flink.streaming.runtime.tasks.StreamTaskStateList",
        "org.apache.flink.migration.streaming.runtime.tasks.StreamTaskStateList",
    ),
    (
        "[Lorg.apache.flink.streaming.runtime.tasks.StreamTaskState;",
        "[Lorg.apache.flink.migration.streaming.runtime.tasks.StreamTaskState;",
    ),
    (
        "org.apache.flink.streaming.runtime.tasks.StreamTaskState",
        "org.apache.flink.migration.streaming.runtime.tasks.StreamTaskState",
    ),
    (
        "org.apache.flink.runtime.state.AbstractCloseableHandle",
        "org.apache.flink.migration.runtime.state.AbstractCloseableHandle",
    ),
    (
        "org.apache.flink.runtime.state.AbstractStateBackend$DataInputViewHandle",
        "org.apache.flink.migration.runtime.state.AbstractStateBackend$DataInputViewHandle",
    ),
    (
        "org.apache.flink.runtime.state.memory.SerializedStateHandle",
        "org.apache.flink.migration.runtime.state.memory.SerializedStateHandle",
    ),
    (
        "org.apache.flink.runtime.state.memory.ByteStreamStateHandle",
        "org.apache.flink.migration.runtime.state.memory.ByteStreamStateHandle",
    ),
    (
        "org.apache.flink.runtime.state.memory.AbstractMemStateSnapshot",
        "org.apache.flink.migration.runtime.state.memory.AbstractMemStateSnapshot",
    ),
    (
        "org.apache.flink.runtime.state.memory.MemValueState$Snapshot",
        "org.apache.flink.migration.runtime.state.memory.MemValueState$Snapshot",
    ),
    (
        "org.apache.flink.runtime.state.memory.MemListState$Snapshot",
        "org.apache.flink.migration.runtime.state.memory.MemListState$Snapshot",
    ),
    (
        "org.apache.flink.runtime.state.memory.MemReducingState$Snapshot",
        "org.apache.flink.migration.runtime.state.memory.MemReducingState$Snapshot",
    ),
    (
        "org.apache.flink.runtime.state.memory.MemFoldingState$Snapshot",
        "org.apache.flink.migration.runtime.state.memory.MemFoldingState$Snapshot",
    ),
];

/// Field-type strings of migration classes, as a 1.2 JVM writes them (legacy-formats.md §3.8).
const EXPECTED_TYPE_RENAMES: &[(&str, &str)] = &[
    (
        "Lorg/apache/flink/runtime/state/StateHandle;",
        "Lorg/apache/flink/migration/runtime/state/StateHandle;",
    ),
    (
        "Lorg/apache/flink/runtime/state/StreamStateHandle;",
        "Lorg/apache/flink/migration/runtime/state/StreamStateHandle;",
    ),
    (
        "[Lorg/apache/flink/streaming/runtime/tasks/StreamTaskState;",
        "[Lorg/apache/flink/migration/streaming/runtime/tasks/StreamTaskState;",
    ),
];

fn expected_rename(table: &[(&str, &'static str)], name: &str) -> Option<&'static str> {
    table
        .iter()
        .find(|(from, _)| *from == name)
        .map(|(_, to)| *to)
}

/// Structural comparison of two graphs: the same shape node for node (kinds, field
/// names and values, array lengths and bytes, strings, block bytes, sharing), allowing
/// only the expected renames of class names and field-type strings.
struct Iso<'g> {
    a: &'g Graph,
    b: &'g Graph,
    map: HashMap<NodeId, NodeId>,
    back: HashMap<NodeId, NodeId>,
    pending: Vec<(NodeId, NodeId)>,
    /// Class names seen in `b`, and the renames observed (class and type strings).
    names_b: BTreeSet<String>,
    renamed: BTreeSet<(String, String)>,
    /// Whether names are compared through the expected-rename tables.
    renaming: bool,
}

impl<'g> Iso<'g> {
    fn new(a: &'g Graph, b: &'g Graph, renaming: bool) -> Self {
        Iso {
            a,
            b,
            map: HashMap::new(),
            back: HashMap::new(),
            pending: Vec::new(),
            names_b: BTreeSet::new(),
            renamed: BTreeSet::new(),
            renaming,
        }
    }

    fn pair(&mut self, x: NodeId, y: NodeId) {
        match (self.map.get(&x), self.back.get(&y)) {
            (Some(&m), _) => assert_eq!(m, y, "node {x} maps to two nodes"),
            (None, Some(&n)) => panic!("nodes {n} and {x} both map to {y}"),
            (None, None) => {
                self.map.insert(x, y);
                self.back.insert(y, x);
                self.pending.push((x, y));
            }
        }
    }

    fn value(&mut self, x: Value, y: Value) {
        match (x, y) {
            (Value::Node(p), Value::Node(q)) => self.pair(p, q),
            (Value::Double(p), Value::Double(q)) => assert_eq!(p.to_bits(), q.to_bits()),
            (Value::Float(p), Value::Float(q)) => assert_eq!(p.to_bits(), q.to_bits()),
            (p, q) => assert_eq!(p, q),
        }
    }

    fn span_bytes(g: &Graph, s: savepointfs::source::Span) -> Vec<u8> {
        read_span(&**g.source(), s).unwrap()
    }

    fn contents(&mut self, x: &[Content], y: &[Content]) {
        assert_eq!(x.len(), y.len(), "content count");
        for (p, q) in x.iter().zip(y) {
            match (p, q) {
                (Content::Value(p), Content::Value(q)) => self.value(*p, *q),
                (Content::Block(p), Content::Block(q)) => {
                    assert_eq!(p.long, q.long);
                    assert_eq!(
                        Self::span_bytes(self.a, p.data),
                        Self::span_bytes(self.b, q.data)
                    );
                }
                (Content::Reset, Content::Reset) => {}
                (p, q) => panic!("content {p:?} became {q:?}"),
            }
        }
    }

    fn name(&mut self, table: &[(&str, &'static str)], x: &str, y: &str) {
        if !self.renaming {
            assert_eq!(x, y);
            return;
        }
        match expected_rename(table, x) {
            Some(to) => {
                assert_eq!(y, to, "{x} must be renamed");
                self.renamed.insert((x.to_string(), y.to_string()));
            }
            None => assert_eq!(x, y, "{x} must keep its name"),
        }
    }

    fn run(&mut self) {
        while let Some((x, y)) = self.pending.pop() {
            let (a, b) = (self.a, self.b);
            match (&a.node(x).kind, &b.node(y).kind) {
                (NodeKind::ClassDesc(p), NodeKind::ClassDesc(q)) => {
                    self.names_b.insert(q.name.lossy());
                    self.name(EXPECTED_CLASS_RENAMES, &p.name.lossy(), &q.name.lossy());
                    assert_eq!((p.uid, p.flags), (q.uid, q.flags), "{:?}", p.name);
                    assert_eq!(p.proxy_interfaces, q.proxy_interfaces);
                    assert_eq!(p.fields.len(), q.fields.len());
                    for (f, g) in p.fields.iter().zip(&q.fields) {
                        assert_eq!((f.typecode, &f.name), (g.typecode, &g.name));
                        if let (Some(s), Some(t)) = (f.type_name, g.type_name) {
                            let (ss, ts) = (a.string(s).unwrap(), b.string(t).unwrap());
                            self.name(EXPECTED_TYPE_RENAMES, &ss, &ts);
                            // Sharing is checked, the text was checked just now.
                            match (self.map.get(&s), self.back.get(&t)) {
                                (Some(&m), _) => assert_eq!(m, t),
                                (None, Some(_)) => panic!("type string sharing differs"),
                                (None, None) => {
                                    self.map.insert(s, t);
                                    self.back.insert(t, s);
                                }
                            }
                        } else {
                            assert_eq!(f.type_name.is_some(), g.type_name.is_some());
                        }
                    }
                    self.contents(&p.annotation, &q.annotation);
                    match (p.super_desc, q.super_desc) {
                        (Some(s), Some(t)) => self.pair(s, t),
                        (s, t) => assert_eq!(s.is_some(), t.is_some()),
                    }
                }
                (NodeKind::Object(p), NodeKind::Object(q)) => {
                    self.pair(p.desc, q.desc);
                    assert_eq!(p.class_data.len(), q.class_data.len());
                    for (c, d) in p.class_data.iter().zip(&q.class_data) {
                        self.pair(c.desc, d.desc);
                        assert_eq!(c.values.len(), d.values.len());
                        for (v, w) in c.values.iter().zip(&d.values) {
                            self.value(*v, *w);
                        }
                        match (&c.annotation, &d.annotation) {
                            (Some(s), Some(t)) => self.contents(s, t),
                            (s, t) => assert_eq!(s.is_some(), t.is_some()),
                        }
                    }
                }
                (NodeKind::String(p), NodeKind::String(q)) => {
                    assert_eq!(matches!(p, JString::Long(_)), matches!(q, JString::Long(_)));
                    assert_eq!(a.string(x), b.string(y));
                }
                (NodeKind::Array(p), NodeKind::Array(q)) => {
                    self.pair(p.desc, q.desc);
                    assert_eq!(p.length, q.length);
                    match (&p.elements, &q.elements) {
                        (
                            javaser::Elements::Primitive {
                                typecode: s,
                                data: d,
                            },
                            javaser::Elements::Primitive {
                                typecode: t,
                                data: e,
                            },
                        ) => {
                            assert_eq!(s, t);
                            assert_eq!(Self::span_bytes(a, *d), Self::span_bytes(b, *e));
                        }
                        (javaser::Elements::Values(s), javaser::Elements::Values(t)) => {
                            assert_eq!(s.len(), t.len());
                            for (v, w) in s.iter().zip(t) {
                                self.value(*v, *w);
                            }
                        }
                        _ => panic!("array element kinds differ"),
                    }
                }
                (NodeKind::Class { desc: p }, NodeKind::Class { desc: q }) => self.pair(*p, *q),
                (
                    NodeKind::Enum {
                        desc: p,
                        constant: s,
                    },
                    NodeKind::Enum {
                        desc: q,
                        constant: t,
                    },
                ) => {
                    self.pair(*p, *q);
                    self.pair(*s, *t);
                }
                (p, q) => panic!("a {} became a {}", p.label(), q.label()),
            }
        }
    }
}

#[test]
fn migration_renaming_changes_only_the_migration_names() {
    let Some(fx) = common::shared_fixtures() else {
        return;
    };
    let mut all_renamed = BTreeSet::new();
    let mut all_names = BTreeSet::new();
    for (label, bytes, off, len) in common::all_streams(&fx) {
        let g = parse_fixture(&label, &bytes, off, len);
        let c = write_stream(&g, &savepointfs::convert::rename::migration_options())
            .unwrap_or_else(|e| panic!("{e}"));
        let again = reparse(&label, written(&g, &c));
        let mut iso = Iso::new(&g, &again, true);
        iso.contents(&g.contents, &again.contents);
        iso.run();
        // Every node of both graphs was matched: nothing added or lost.
        assert_eq!(iso.map.len(), g.nodes.len(), "{label}");
        assert_eq!(again.nodes.len(), g.nodes.len(), "{label}");
        let growth: usize = iso.renamed.iter().map(|(x, y)| y.len() - x.len()).sum();
        assert!(growth > 0, "{label}: nothing renamed");
        println!(
            "{label}: {len} B -> {} B with migration names ({} distinct renames)",
            c.len(),
            iso.renamed.len()
        );
        all_renamed.extend(iso.renamed);
        all_names.extend(iso.names_b);
    }
    for must in [
        "org.apache.flink.migration.streaming.runtime.tasks.StreamTaskStateList",
        "org.apache.flink.migration.streaming.runtime.tasks.StreamTaskState",
        "[Lorg.apache.flink.migration.streaming.runtime.tasks.StreamTaskState;",
        "org.apache.flink.migration.runtime.state.memory.MemValueState$Snapshot",
        "org.apache.flink.migration.runtime.state.memory.SerializedStateHandle",
        "org.apache.flink.api.common.typeutils.base.LongSerializer",
        "org.apache.flink.api.java.tuple.Tuple2",
        "java.util.HashMap",
    ] {
        assert!(
            all_names.contains(must),
            "{must} not seen in the re-emitted streams"
        );
    }
    for old in [
        "org.apache.flink.streaming.runtime.tasks.StreamTaskState",
        "org.apache.flink.runtime.state.memory.MemValueState$Snapshot",
    ] {
        assert!(!all_names.contains(old), "{old} survived renaming");
    }
    assert!(all_renamed.contains(&(
        "Lorg/apache/flink/runtime/state/StateHandle;".into(),
        "Lorg/apache/flink/migration/runtime/state/StateHandle;".into()
    )));
}

/// The StreamTaskStates of a stream: the chain entries of a subtask blob, or the one
/// state of an operator snapshot.
fn task_states(g: &Graph) -> Vec<Value> {
    let root = g.object(g.roots().next().unwrap()).unwrap().unwrap();
    if root.is_a("org.apache.flink.streaming.runtime.tasks.StreamTaskState") {
        return vec![Value::Node(root.id)];
    }
    let states = root.require("states").unwrap();
    match g.array(states).unwrap() {
        Some((
            _,
            javaser::Array {
                elements: javaser::Elements::Values(v),
                ..
            },
        )) => v.iter().copied().filter(|v| *v != Value::Null).collect(),
        _ => panic!("states is not an object array"),
    }
}

/// (key, data bytes) of the memory snapshots in a kvStates HashMap, by key.
fn mem_snapshot_data(g: &Graph, map: Value) -> Vec<(String, Option<Vec<u8>>)> {
    let map = g.object(map).unwrap().unwrap();
    let mut out = Vec::new();
    for (k, v) in map.hash_map_entries().unwrap() {
        let key = g.string_value(k).unwrap().unwrap();
        let snap = g.object(v).unwrap().unwrap();
        let data = snap
            .field("data")
            .filter(|_| snap.class_name().lossy().contains(".memory.Mem"))
            .map(|d| read_span(&**g.source(), g.byte_array(d).unwrap().unwrap()).unwrap());
        out.push((key, data));
    }
    out.sort();
    out
}

#[test]
fn kv_states_reemit_as_standalone_migration_streams() {
    let Some(fx) = common::shared_fixtures() else {
        return;
    };
    let mut blob_maps = 0;
    for (label, bytes, off, len) in common::all_streams(&fx) {
        let g = parse_fixture(&label, &bytes, off, len);
        // Operator snapshots carry kvStates too (Flink 1.2's harness converts them the same way).
        for state in task_states(&g) {
            let state = g.object(state).unwrap().unwrap();
            let kv = state.require("kvStates").unwrap();
            if kv == Value::Null {
                continue;
            }
            // The byte range of the HashMap inside the stream is not a stream of its own.
            let range = g.node(kv.node().unwrap()).span;
            let cut: Vec<u8> = [
                &[0xAC, 0xED, 0, 5][..],
                &bytes[range.start as usize..range.end() as usize],
            ]
            .concat();
            let cut_parses = {
                let n = cut.len() as u64;
                let src = Arc::new(MemSource::new("cut", cut));
                javaser::parse_stream(src, 0, n, &Limits::default()).is_ok()
            };

            let c = write_object(&g, kv, &savepointfs::convert::rename::migration_options())
                .unwrap_or_else(|e| panic!("{label}: {e}"));
            let out = written(&g, &c);
            assert_eq!(&out[..4], &[0xAC, 0xED, 0, 5]);
            let again = reparse(&label, out);
            let root = again.roots().next().unwrap();
            assert_eq!(again.roots().count(), 1);
            let map = again.object(root).unwrap().unwrap();
            assert!(map.class_name().is("java.util.HashMap"), "{label}");
            // The same structure, renamed; sharing inside the map preserved.
            let mut iso = Iso::new(&g, &again, true);
            iso.value(kv, root);
            iso.run();
            assert_eq!(iso.map.len(), again.nodes.len(), "{label}: extra nodes");
            let before = mem_snapshot_data(&g, kv);
            let after = mem_snapshot_data(&again, root);
            assert_eq!(before, after, "{label}: keys or data differ");
            for (_, v) in map.hash_map_entries().unwrap() {
                let class = again.object(v).unwrap().unwrap().class_name().lossy();
                assert!(
                    class.starts_with("org.apache.flink.migration.runtime.state.memory.Mem"),
                    "{label}: {class}"
                );
            }
            println!(
                "{label}: kvStates HashMap {} B inside the stream (cut alone parses: {cut_parses}), \
                 {} B as a standalone migration stream, keys {:?}",
                range.len,
                c.len(),
                before.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>()
            );
            if label.starts_with("mem11") {
                blob_maps += 1;
                assert!(
                    !cut_parses,
                    "{label}: the cut should back-reference earlier handles"
                );
                assert!(
                    after.iter().all(|(_, d)| d.is_some()),
                    "{label}: memory snapshots"
                );
                // legacy-formats.md §3.8 reproduced 1,548 B (one keyed entry in `data`) and 1,564 B
                // (two) on JDK 17 with 1.2.0 class shapes. Ours keeps the 1.1 StateDescriptor
                // descriptor (no `queryableStateName` field: 26 B of field descriptor and a
                // 1 B null value less) and the original HashMap header (same size, other
                // values), so it is near those sizes but not equal.
                let nearest = [1_548u64, 1_564]
                    .map(|r| r.abs_diff(c.len()))
                    .into_iter()
                    .min();
                assert!(nearest.unwrap() <= 40, "{label}: {} B", c.len());
            }
        }
    }
    assert!(blob_maps > 0, "no subtask blob had keyed state");
}
