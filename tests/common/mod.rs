//! Shared helpers for end-to-end tests: where the real Flink fixtures live, and how a
//! test behaves when they are absent (skip loudly locally, fail in CI).
#![allow(dead_code)]

pub mod mount;
pub mod operators;

use std::path::PathBuf;

/// `../shared/fixtures` beside the clone, or `None` (after a loud notice) when absent.
/// With `CI=true` an absent folder is a failure, not a skip.
pub fn shared_fixtures() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures");
    if dir.is_dir() {
        return Some(dir);
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!(
            "CI=true but the shared fixtures folder {} is missing",
            dir.display()
        );
    }
    eprintln!(
        "NOTICE: skipping: shared fixtures not found at {} (they sit beside the clone in CI)",
        dir.display()
    );
    None
}

/// Where `synth --uid-file` puts a synthetic savepoint's uids: its stateful non-head
/// chain entries need them on every per-operator target, so test helpers pass them to
/// every command and mount of it.
pub fn uid_file(sp: &std::path::Path) -> PathBuf {
    sp.with_extension("uids")
}

/// `--uid-file` for a synthetic savepoint; nothing for others.
pub fn uid_args(sp: &std::path::Path) -> Vec<String> {
    let f = uid_file(sp);
    if f.is_file() {
        vec!["--uid-file".into(), f.display().to_string()]
    } else {
        Vec::new()
    }
}

/// Runs `savepointfs ARGS`, which must succeed.
pub fn savepointfs(args: &[&str]) -> std::process::Output {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_savepointfs"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "savepointfs {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// `savepointfs convert SP OUT --minimal EXTRA...`, which must succeed.
pub fn convert_minimal(sp: &std::path::Path, out: &std::path::Path, extra: &[&str]) {
    let mut args = vec![
        "convert",
        sp.to_str().unwrap(),
        out.to_str().unwrap(),
        "--minimal",
    ];
    args.extend_from_slice(extra);
    savepointfs(&args);
}

/// The 1.1 memory-backend savepoint.
pub fn mem11(fixtures: &std::path::Path) -> PathBuf {
    fixtures.join("flink-1.1/savepoints/stateful-udf-migration-itcase-flink1.1-savepoint")
}

/// Every single-operator 1.1 snapshot (one Java stream each), sorted.
pub fn operator_snapshots(fixtures: &std::path::Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(fixtures.join("flink-1.1/operator-snapshots"))
        .expect("operator-snapshots folder")
        .map(|e| e.expect("dir entry").path())
        .collect();
    v.sort();
    v
}

/// Subtask blobs of a V0 savepoint as (vertex hex, subtask index, offset, length),
/// found by walking only the framing (legacy-formats.md §1.2).
pub fn v0_blobs(bytes: &[u8]) -> Vec<(String, i32, usize, usize)> {
    let be32 = |o: usize| i32::from_be_bytes(bytes[o..o + 4].try_into().unwrap());
    assert_eq!(&bytes[0..8], &[0x49, 0x60, 0x67, 0x2d, 0, 0, 0, 0]);
    let mut pos = 16;
    let tasks = be32(pos);
    pos += 4;
    let mut out = Vec::new();
    for _ in 0..tasks {
        let vertex: String = bytes[pos..pos + 16]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        pos += 16 + 4;
        let n = be32(pos);
        pos += 4;
        for _ in 0..n {
            let index = be32(pos);
            let len = be32(pos + 4) as usize;
            pos += 8;
            out.push((vertex.clone(), index, pos, len));
            pos += len + 16;
        }
        assert_eq!(be32(pos), 0, "kv state count");
        pos += 4;
    }
    assert_eq!(pos, bytes.len());
    out
}

/// Every Java stream in the 1.1 fixtures: (label, whole file bytes, offset, length).
pub fn all_streams(
    fixtures: &std::path::Path,
) -> Vec<(String, std::sync::Arc<[u8]>, usize, usize)> {
    let mut out = Vec::new();
    for p in operator_snapshots(fixtures) {
        let b: std::sync::Arc<[u8]> = std::fs::read(&p).unwrap().into();
        let n = b.len();
        out.push((
            p.file_name().unwrap().to_string_lossy().into_owned(),
            b,
            0,
            n,
        ));
    }
    let sp = mem11(fixtures);
    let b: std::sync::Arc<[u8]> = std::fs::read(&sp).unwrap().into();
    for (vertex, index, off, len) in v0_blobs(&b) {
        out.push((
            format!("mem11 {vertex} subtask {index}"),
            b.clone(),
            off,
            len,
        ));
    }
    out
}

/// A real-Flink oracle from `../shared/tools` (`flinkcheck` or `flinkrestore`), or `None`
/// after a loud notice when it or Java is missing; with `CI=true` that is a failure.
pub fn flink_tool(tool: &str) -> Option<PathBuf> {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("../shared/tools/{tool}/{tool}"));
    let java = std::process::Command::new("java")
        .arg("-version")
        .output()
        .is_ok_and(|o| o.status.success());
    if java && path.is_file() {
        return Some(path);
    }
    let why = format!(
        "{tool} needs Java and {} (java found: {java})",
        path.display()
    );
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("CI=true but {why}");
    }
    eprintln!("NOTICE: skipping: {why}");
    None
}

/// Every file (not directory) below `root`.
pub fn walk_files(root: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p)
            } else {
                out.push(p)
            }
        }
    }
    out
}

/// The head of a Java stream holding one `Object[]` of `n` elements (the elements follow):
/// inputs that repeat one cheap element to blow up a decoder.
pub fn object_array_head(n: usize) -> Vec<u8> {
    let name = b"[Ljava.lang.Object;";
    let mut s = vec![0xac, 0xed, 0x00, 0x05, 0x75, 0x72];
    s.extend((name.len() as u16).to_be_bytes());
    s.extend(name);
    s.extend(0x1234i64.to_be_bytes());
    s.extend([0x02, 0, 0, 0x78, 0x70]);
    s.extend((n as i32).to_be_bytes());
    s
}

/// A Flink 1.1 FlinkKafkaConsumer snapshot with the offsets of Flink's own migration
/// test ({abc-13: 16768, def-7: 987654321}, operators.md §5.4), which the fixtures hold
/// only empty: the empty snapshot with its function state (an empty `HashMap` stream)
/// replaced by the one `tests/java/KafkaState.java` writes (JDK only, with the stand-in
/// partition class). `None` (after a notice) without Java.
pub fn kafka_snapshot(fx: &std::path::Path, dir: &std::path::Path) -> Option<PathBuf> {
    flink_tool("flinkrestore")?;
    let java = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/java");
    let classes = dir.join("kafka-classes");
    let javac = std::process::Command::new("javac")
        .arg("-d")
        .arg(&classes)
        .arg(java.join("KafkaState.java"))
        .arg(java.join(
            "standin/org/apache/flink/streaming/connectors/kafka/internals/KafkaTopicPartition.java",
        ))
        .output()
        .unwrap();
    assert!(
        javac.status.success(),
        "{}",
        String::from_utf8_lossy(&javac.stderr)
    );
    let map = dir.join("offsets.ser");
    let run = std::process::Command::new("java")
        .arg("-cp")
        .arg(&classes)
        .arg("KafkaState")
        .arg(&map)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let map = std::fs::read(map).unwrap();
    let empty = std::fs::read(fx.join(
        "flink-1.1/operator-snapshots/kafka-consumer-migration-test-flink1.1-empty-state-snapshot",
    ))
    .unwrap();
    // The serializedData byte[]: its length (82), then the empty map's stream.
    let at = empty
        .windows(8)
        .position(|w| w == [0, 0, 0, 82, 0xAC, 0xED, 0, 5])
        .expect("the empty map's byte array");
    let mut out = empty[..at].to_vec();
    out.extend((map.len() as u32).to_be_bytes());
    out.extend(&map);
    out.extend(&empty[at + 4 + 82..]);
    let path = dir.join("kafka-consumer-migration-test-flink1.1-snapshot");
    std::fs::write(&path, out).unwrap();
    Some(path)
}

/// An EvictingWindowOperator's snapshot as Flink 1.1 would have written it for the
/// apply-event-time scenario (no fixture has one): the same snapshot with the window
/// contents' element serializer wrapped in 1.1's `StreamRecordSerializer`, which writes
/// the elements as they are (operators.md §4.1 (1)). Built by editing the parsed graph and
/// writing it again (handles renumbered), so the stream is one Java would write.
#[allow(dead_code)]
pub fn evicting_snapshot(fx: &std::path::Path, out: &std::path::Path) {
    use savepointfs::javaser::{
        self, ClassData, ClassDesc, FieldDesc, JStr, Node, NodeKind, Object, Value,
    };
    use savepointfs::source::{MemSource, Source, Span};
    let path = fx.join(
        "flink-1.1/operator-snapshots/win-op-migration-test-apply-event-time-flink1.1-snapshot",
    );
    let bytes = std::fs::read(path).unwrap();
    let src: std::sync::Arc<dyn Source> =
        std::sync::Arc::new(MemSource::new("apply", bytes.clone()));
    let mut g =
        javaser::parse_stream(src.clone(), 0, bytes.len() as u64, &Default::default()).unwrap();
    let list = (0..g.nodes.len() as u32)
        .find(|&id| {
            g.class_name_of(id)
                .is_some_and(|n| n.is("org.apache.flink.runtime.state.ArrayListSerializer"))
                && matches!(g.nodes[id as usize].kind, NodeKind::Object(_))
        })
        .expect("the window contents' ArrayListSerializer");
    let NodeKind::Object(o) = &g.nodes[list as usize].kind else {
        unreachable!()
    };
    let list_desc = g.class_desc(o.desc).unwrap().clone();
    let element = o.class_data.last().unwrap().values[0];
    let super_desc = list_desc.super_desc.unwrap();
    let signature = list_desc.fields[0].type_name;
    let desc = g.nodes.len() as u32;
    g.nodes.push(Node {
        kind: NodeKind::ClassDesc(ClassDesc {
            name: JStr::new(
                "org.apache.flink.streaming.runtime.streamrecord.StreamRecordSerializer",
            ),
            uid: 1,
            flags: javaser::flags::SERIALIZABLE,
            fields: vec![FieldDesc {
                typecode: b'L',
                name: JStr::new("typeSerializer"),
                type_name: signature,
            }],
            annotation: Vec::new(),
            super_desc: Some(super_desc),
            proxy_interfaces: None,
        }),
        span: Span::new(0, 0),
    });
    let record = g.nodes.len() as u32;
    g.nodes.push(Node {
        kind: NodeKind::Object(Object {
            desc,
            class_data: vec![
                ClassData {
                    desc: super_desc,
                    values: Vec::new(),
                    annotation: None,
                },
                ClassData {
                    desc,
                    values: vec![element],
                    annotation: None,
                },
            ],
        }),
        span: Span::new(0, 0),
    });
    let NodeKind::Object(o) = &mut g.nodes[list as usize].kind else {
        unreachable!()
    };
    o.class_data.last_mut().unwrap().values[0] = Value::Node(record);
    let chunks = javaser::write_stream(&g, &Default::default()).unwrap();
    std::fs::write(out, chunks.to_vec(&*src).unwrap()).unwrap();
}
