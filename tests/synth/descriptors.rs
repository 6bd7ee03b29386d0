//! Class descriptors and function-state streams of generated savepoints against the ones
//! Flink 1.1 wrote (the real fixtures).

use super::common;
use super::{bytes_of, configurations, decode, decode_rocks, generate, kind_configurations};
use savepointfs::javaser::{Elements, Graph, Limits, NodeKind, parse_first_object, parse_stream};
use savepointfs::source::{MemSource, Source};
use savepointfs::synth::{self, FunctionState, SynthSpec};
use savepointfs::v0::{KvSnapshot, StateHandle};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

/// One class descriptor as written: its fields, and its header bytes (from TC_CLASSDESC
/// through the field list) with type-string references resolved, plus the raw bytes
/// when every type string was written in full inside it.
#[derive(Debug)]
struct Desc {
    uid: i64,
    flags: u8,
    fields: Vec<(u8, String, Option<String>)>,
    superclass: Option<String>,
    resolved: Vec<u8>,
    raw: Option<Vec<u8>>,
}

fn utf(out: &mut Vec<u8>, s: &[u8]) {
    out.extend_from_slice(&(s.len() as u16).to_be_bytes());
    out.extend_from_slice(s);
}

fn collect_descs(g: &Graph, into: &mut BTreeMap<String, Desc>) {
    for node in &g.nodes {
        let NodeKind::ClassDesc(d) = &node.kind else {
            continue;
        };
        if d.proxy_interfaces.is_some() {
            continue;
        }
        let mut resolved = vec![0x72];
        utf(&mut resolved, d.name.bytes());
        resolved.extend_from_slice(&d.uid.to_be_bytes());
        resolved.push(d.flags);
        resolved.extend_from_slice(&(d.fields.len() as u16).to_be_bytes());
        // A type string is written in full at its first field inside this descriptor;
        // a later field naming the same type refers back to it (the JVM interns type
        // strings), written here as `71` + that field's index. References to strings from before the descriptor are resolved.
        let mut all_full = true;
        let mut local: Vec<(u32, usize)> = Vec::new();
        let mut fields = Vec::new();
        for (fi, f) in d.fields.iter().enumerate() {
            resolved.push(f.typecode);
            utf(&mut resolved, f.name.bytes());
            let sig = f.type_name.map(|t| {
                let text = g.string(t).unwrap();
                let inside = g.node(t).span.start > node.span.start;
                match local.iter().find(|x| x.0 == t) {
                    Some(&(_, i)) => {
                        resolved.extend_from_slice(&[0x71, i as u8]);
                        all_full = false;
                    }
                    None => {
                        if inside {
                            local.push((t, fi));
                        } else {
                            all_full = false;
                        }
                        resolved.push(0x74);
                        utf(&mut resolved, text.as_bytes());
                    }
                }
                text
            });
            fields.push((f.typecode, f.name.lossy(), sig));
        }
        let raw = all_full.then(|| {
            let mut b = vec![0u8; resolved.len()];
            g.source().read_at(node.span.start, &mut b).unwrap();
            assert_eq!(b, resolved, "a header without references reads as written");
            b
        });
        let desc = Desc {
            uid: d.uid,
            flags: d.flags,
            fields,
            superclass: d
                .super_desc
                .and_then(|s| g.class_desc(s))
                .map(|s| s.name.lossy()),
            resolved,
            raw,
        };
        let name = d.name.lossy();
        match into.get(&name) {
            Some(old) if old.raw.is_some() || desc.raw.is_none() => {}
            _ => {
                into.insert(name, desc);
            }
        }
    }
}

/// The graph and every Java stream nested in its byte arrays, recursively.
fn with_nested(g: Graph, out: &mut Vec<Graph>, depth: usize) {
    let mut nested = Vec::new();
    for n in &g.nodes {
        if let NodeKind::Array(a) = &n.kind
            && let Elements::Primitive {
                typecode: b'B',
                data,
            } = &a.elements
            && data.len >= 8
        {
            let mut head = [0u8; 4];
            g.source().read_at(data.start, &mut head).unwrap();
            if head == [0xAC, 0xED, 0, 5]
                && let Ok(inner) = parse_first_object(
                    g.source().clone(),
                    data.start,
                    data.end(),
                    &Limits::default(),
                )
            {
                nested.push(inner);
            }
        }
    }
    out.push(g);
    if depth < 4 {
        for inner in nested {
            with_nested(inner, out, depth + 1);
        }
    }
}

fn fixture_descs(fixtures: &Path) -> BTreeMap<String, Desc> {
    let mut graphs = Vec::new();
    for (label, bytes, off, len) in common::all_streams(fixtures) {
        let src: Arc<dyn Source> = Arc::new(MemSource::new(label, bytes));
        let g =
            parse_first_object(src, off as u64, (off + len) as u64, &Limits::default()).unwrap();
        with_nested(g, &mut graphs, 0);
    }
    let mut descs = BTreeMap::new();
    graphs.iter().for_each(|g| collect_descs(g, &mut descs));
    descs
}

/// Every stream a generated savepoint holds: blobs, nested streams, files, RocksDB columns.
fn generated_descs(dir: &Path, spec: &SynthSpec, into: &mut BTreeMap<String, Desc>) {
    let (out, _) = generate(dir, spec);
    let d = decode(&out);
    let src = d.index.source().clone();
    let mut graphs = Vec::new();
    for (_, _, m) in &d.subtasks {
        let g = parse_stream(src.clone(), m.blob.start, m.blob.end(), &Limits::default()).unwrap();
        with_nested(g, &mut graphs, 0);
        for e in m.entries() {
            if let Some(h @ StateHandle::FileSerializable { .. }) = &e.function_state {
                let bytes = bytes_of(&*src, &h.bytes());
                let n = bytes.len() as u64;
                let fsrc: Arc<dyn Source> = Arc::new(MemSource::new("file", bytes));
                graphs.push(parse_stream(fsrc, 0, n, &Limits::default()).unwrap());
            }
            for k in &e.kv_states {
                if let KvSnapshot::RocksDbFullyAsync { state_handle, .. } = &k.snapshot {
                    let r = decode_rocks(bytes_of(&*src, &state_handle.bytes()));
                    graphs.extend(r.columns.into_iter().map(|c| c.2));
                }
            }
        }
    }
    graphs.iter().for_each(|g| collect_descs(g, into));
}

#[test]
fn class_descriptors_match_the_ones_flink_wrote() {
    let Some(fixtures) = common::shared_fixtures() else {
        return;
    };
    let flink = fixture_descs(&fixtures);
    let mut ours = BTreeMap::new();
    let dir = tempfile::tempdir().unwrap();
    for (i, (_, spec)) in configurations()
        .into_iter()
        .chain(kind_configurations())
        .enumerate()
    {
        let sub = dir.path().join(i.to_string());
        std::fs::create_dir(&sub).unwrap();
        // Large operator and function state too (byte[] function state, files).
        let spec = SynthSpec {
            state_bytes: 400 << 10,
            ..spec
        };
        generated_descs(&sub, &spec, &mut ours);
    }
    let mut compared = Vec::new();
    let mut raw = 0;
    for (name, mine) in &ours {
        let Some(theirs) = flink.get(name) else {
            continue;
        };
        assert_eq!(mine.uid, theirs.uid, "{name}: UID");
        assert_eq!(mine.flags, theirs.flags, "{name}: flags");
        assert_eq!(mine.fields, theirs.fields, "{name}: fields");
        assert_eq!(mine.superclass, theirs.superclass, "{name}: superclass");
        match (&mine.raw, &theirs.raw) {
            (Some(a), Some(b)) => {
                assert_eq!(a, b, "{name}: header bytes");
                raw += 1;
            }
            _ => assert_eq!(mine.resolved, theirs.resolved, "{name}: resolved header"),
        }
        compared.push(name.as_str());
    }
    eprintln!(
        "compared {} class descriptors with Flink's ({raw} byte for byte): {compared:?}",
        compared.len()
    );
    eprintln!(
        "emitted but not in the fixtures: {:?}",
        ours.keys()
            .filter(|n| !flink.contains_key(*n))
            .collect::<Vec<_>>()
    );
    for must in [
        "org.apache.flink.streaming.runtime.tasks.StreamTaskStateList",
        "[Lorg.apache.flink.streaming.runtime.tasks.StreamTaskState;",
        "org.apache.flink.streaming.runtime.tasks.StreamTaskState",
        "org.apache.flink.runtime.state.AbstractCloseableHandle",
        "org.apache.flink.runtime.state.memory.SerializedStateHandle",
        "org.apache.flink.runtime.state.memory.ByteStreamStateHandle",
        "org.apache.flink.runtime.state.AbstractStateBackend$DataInputViewHandle",
        "org.apache.flink.runtime.state.memory.AbstractMemStateSnapshot",
        "org.apache.flink.runtime.state.memory.MemValueState$Snapshot",
        "org.apache.flink.api.common.state.StateDescriptor",
        "org.apache.flink.api.common.state.ValueStateDescriptor",
        "org.apache.flink.api.common.state.ListStateDescriptor",
        "org.apache.flink.runtime.state.ArrayListSerializer",
        "org.apache.flink.runtime.state.memory.MemListState$Snapshot",
        "org.apache.flink.api.common.state.ReducingStateDescriptor",
        "org.apache.flink.runtime.state.memory.MemReducingState$Snapshot",
        "org.apache.flink.api.common.typeutils.TypeSerializer",
        "org.apache.flink.api.common.typeutils.base.TypeSerializerSingleton",
        "org.apache.flink.api.common.typeutils.base.LongSerializer",
        "org.apache.flink.api.common.typeutils.base.VoidSerializer",
        "org.apache.flink.api.java.typeutils.runtime.TupleSerializerBase",
        "org.apache.flink.api.java.typeutils.runtime.TupleSerializer",
        "[Lorg.apache.flink.api.common.typeutils.TypeSerializer;",
        "org.apache.flink.api.java.tuple.Tuple",
        "org.apache.flink.api.java.tuple.Tuple1",
        "org.apache.flink.api.java.tuple.Tuple2",
        "java.lang.Long",
        "java.lang.Number",
        "java.util.HashMap",
        "[B",
        "org.apache.flink.core.fs.Path",
        "java.net.URI",
    ] {
        assert!(compared.contains(&must), "{must} was not compared");
    }
}

#[test]
fn function_state_streams_equal_the_fixture_bytes() {
    let Some(fixtures) = common::shared_fixtures() else {
        return;
    };
    // The mem11 blobs carry ("hello", 42) and "Here be dragons!" as function state
    // (legacy-formats.md §2.5); the generator's streams for those values must be those bytes.
    let bytes = std::fs::read(common::mem11(&fixtures)).unwrap();
    let d = decode(&common::mem11(&fixtures));
    let mut seen = BTreeMap::new();
    for (_, _, m) in &d.subtasks {
        for e in m.entries() {
            if let Some(StateHandle::Serialized { data, .. }) = &e.function_state {
                let s = &bytes[data.start as usize..data.end() as usize];
                seen.insert(s.len(), s.to_vec());
            }
        }
    }
    assert_eq!(seen.len(), 2, "two distinct function states in mem11");
    let tuple =
        synth::function_state_stream(&FunctionState::Tuple2("hello".into(), 42), 0).unwrap();
    assert_eq!(tuple, seen[&233]);
    let text =
        synth::function_state_stream(&FunctionState::Text("Here be dragons!".into()), 0).unwrap();
    assert_eq!(text, seen[&23]);
}

/// The JDK and Flink classes a 1.1 `PojoSerializer` carries (its `ExecutionConfig`, the
/// enums and linked collections in it) are not in the 1.1 fixtures: they are compared
/// with the ones Flink 1.2 wrote in its Scala savepoint, byte for byte.
#[test]
fn pojo_serializer_descriptors_match_flink_1_2s() {
    let Some(fixtures) = common::shared_fixtures() else {
        return;
    };
    let path = fixtures.join(
        "flink-1.2/savepoints/stateful-scala-udf-migration-itcase-flink1.2-jobmanager-savepoint",
    );
    let bytes: Arc<[u8]> = std::fs::read(&path).unwrap().into();
    let src: Arc<dyn Source> = Arc::new(MemSource::new("scala 1.2", bytes.to_vec()));
    let mut flink = BTreeMap::new();
    for at in (0..bytes.len().saturating_sub(4)).filter(|&i| bytes[i..i + 4] == [0xAC, 0xED, 0, 5])
    {
        if let Ok(g) = parse_first_object(
            src.clone(),
            at as u64,
            bytes.len() as u64,
            &Limits::default(),
        ) {
            collect_descs(&g, &mut flink);
        }
    }
    let stream = synth::key_serializer_stream(synth::KeyType::Pojo).unwrap();
    let n = stream.len() as u64;
    let ours_src: Arc<dyn Source> = Arc::new(MemSource::new("pojo", stream));
    let g = parse_stream(ours_src, 0, n, &Limits::default()).unwrap();
    let mut ours = BTreeMap::new();
    collect_descs(&g, &mut ours);
    for name in [
        "org.apache.flink.api.common.ExecutionConfig",
        "org.apache.flink.api.common.CodeAnalysisMode",
        "org.apache.flink.api.common.ExecutionMode",
        "java.lang.Enum",
        "java.util.LinkedHashMap",
        "java.util.HashMap",
        "java.util.LinkedHashSet",
        "java.util.HashSet",
        "[Lorg.apache.flink.api.common.typeutils.TypeSerializer;",
        "org.apache.flink.api.common.typeutils.base.StringSerializer",
    ] {
        let (mine, theirs) = (&ours[name], &flink[name]);
        assert_eq!(mine.uid, theirs.uid, "{name}: UID");
        assert_eq!(mine.flags, theirs.flags, "{name}: flags");
        assert_eq!(mine.fields, theirs.fields, "{name}: fields");
        assert_eq!(mine.superclass, theirs.superclass, "{name}: superclass");
    }
    // And the conversion reads it as the POJO it describes.
    let root = g.roots().next().unwrap().node().unwrap();
    let snap = savepointfs::convert::snapshots::snapshot_of(
        &g,
        root,
        savepointfs::convert::snapshots::Role::Key,
    )
    .unwrap();
    let text = format!("{snap:?}");
    for part in [
        "savepointfs.synth.Pojo",
        "\"id\"",
        "\"name\"",
        "LongSerializer",
        "StringSerializer",
    ] {
        assert!(text.contains(part), "{part} in {text}");
    }
}
