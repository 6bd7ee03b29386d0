//! Key placement checks. Flink files each restored key under the key group of the stream
//! it sits in and never re-hashes it, so a key in the wrong subtask is lost without an
//! error (native-formats.md §7.3.6). We decode keys where the serializers are known, recompute
//! each key's group (legacy-formats.md §3.13) and report every mismatch.

use super::error::SerializerError;
use crate::javaser::{Elements, Graph, NodeId, NodeKind};
use crate::keygroup::JavaKey;
use crate::modern::decode::read_string_value;
use crate::stream::MultiStream;
use std::io::{self, BufReader, Read};

/// How to read one serialized value, as far as we know the serializer.
#[derive(Clone, Debug, PartialEq)]
pub enum Codec {
    Long,
    Int,
    Bool,
    /// Flink `StringValue` encoding (legacy-formats.md §2.5).
    String,
    /// `VoidSerializer`: one byte.
    Void,
    /// Fields back to back, no arity (`TupleSerializer`).
    Tuple(Vec<Codec>),
    /// `int n` then n elements (`ArrayListSerializer`).
    List(Box<Codec>),
    /// `int n` then n bytes (`BytePrimitiveArraySerializer`).
    Bytes,
    /// `PojoSerializer`: a flags byte (2: exactly the POJO class; 1: null), then per
    /// field a null flag and, unless null, the field's value.
    Pojo(Vec<Codec>),
    /// Fixed-size values we cannot interpret (e.g. `TimeWindow$Serializer`: 16 bytes).
    Opaque(usize),
    /// Flink 1.1's `StreamRecordSerializer` (an EvictingWindowOperator's elements): the
    /// value alone. Flink 1.2+'s `StreamElementSerializer` writes a record as `01` + the
    /// value, which is how re-framing writes it.
    Record(Box<Codec>),
}

const BASE: &str = crate::classnames::TYPEUTILS_BASE;

impl Codec {
    /// The codec of a serializer object in a 1.1 blob; `Err` names a serializer we cannot read.
    pub fn of(graph: &Graph, node: NodeId) -> Result<Codec, SerializerError> {
        Self::of_depth(graph, node, 0)
    }

    fn of_depth(graph: &Graph, node: NodeId, depth: usize) -> Result<Codec, SerializerError> {
        let name = graph
            .class_name_of(node)
            .map(|n| n.lossy())
            .unwrap_or_else(|| "a non-object".into());
        if depth > 16 {
            return Err(SerializerError::malformed(&name, "nested too deeply"));
        }
        let simple = name.strip_prefix(BASE).unwrap_or("");
        Ok(match simple {
            "LongSerializer" => Codec::Long,
            "IntSerializer" => Codec::Int,
            "BooleanSerializer" => Codec::Bool,
            "StringSerializer" => Codec::String,
            "VoidSerializer" => Codec::Void,
            "ByteSerializer" => Codec::Opaque(1),
            "ShortSerializer" | "CharSerializer" => Codec::Opaque(2),
            "FloatSerializer" => Codec::Opaque(4),
            "DoubleSerializer" => Codec::Opaque(8),
            "array.BytePrimitiveArraySerializer" => Codec::Bytes,
            _ if name == crate::classnames::GLOBAL_WINDOW_SERIALIZER => Codec::Opaque(1),
            _ if name == crate::classnames::TIME_WINDOW_SERIALIZER => Codec::Opaque(16),
            _ if name == crate::classnames::TUPLE_SERIALIZER => {
                Codec::Tuple(Self::fields_of(graph, node, &name, depth)?)
            }
            _ if name == crate::classnames::POJO_SERIALIZER => {
                Codec::Pojo(Self::fields_of(graph, node, &name, depth)?)
            }
            _ if name == crate::classnames::STREAM_RECORD_SERIALIZER => {
                let inner =
                    field_node(graph, node, "typeSerializer").ok_or_else(|| unmeasurable(&name))?;
                Codec::Record(Box::new(Self::of_depth(graph, inner, depth + 1)?))
            }
            _ if name == crate::classnames::ARRAY_LIST_SERIALIZER => {
                let elem = field_node(graph, node, "elementSerializer")
                    .ok_or_else(|| unmeasurable(&name))?;
                Codec::List(Box::new(Self::of_depth(graph, elem, depth + 1)?))
            }
            _ => return Err(SerializerError::Unmeasurable { class: name }),
        })
    }

    /// The codecs of a composite serializer's `fieldSerializers` (tuples, POJOs).
    fn fields_of(
        graph: &Graph,
        node: NodeId,
        name: &str,
        depth: usize,
    ) -> Result<Vec<Codec>, SerializerError> {
        let fields =
            field_node(graph, node, "fieldSerializers").ok_or_else(|| unmeasurable(name))?;
        let NodeKind::Array(arr) = &graph.node(fields).kind else {
            return Err(unmeasurable(name));
        };
        let Elements::Values(vs) = &arr.elements else {
            return Err(unmeasurable(name));
        };
        vs.iter()
            .map(|v| {
                v.node()
                    .ok_or_else(|| SerializerError::malformed(name, "with a null field serializer"))
            })
            .map(|n| n.and_then(|n| Self::of_depth(graph, n, depth + 1)))
            .collect()
    }

    /// The serialized length when every value has the same one.
    pub fn fixed_len(&self) -> Option<u64> {
        match self {
            Codec::Long => Some(8),
            Codec::Int => Some(4),
            Codec::Bool | Codec::Void => Some(1),
            Codec::Opaque(n) => Some(*n as u64),
            Codec::Tuple(parts) => parts.iter().map(Codec::fixed_len).sum(),
            Codec::Record(inner) => inner.fixed_len(),
            Codec::String | Codec::List(_) | Codec::Bytes | Codec::Pojo(_) => None,
        }
    }

    /// Reads one value; `Some(key)` when it is a type whose Java `hashCode` we know.
    pub fn read(&self, r: &mut impl Read) -> io::Result<Option<JavaKey>> {
        let mut b8 = [0u8; 8];
        Ok(match self {
            Codec::Long => {
                r.read_exact(&mut b8)?;
                Some(JavaKey::Long(i64::from_be_bytes(b8)))
            }
            Codec::Int => {
                r.read_exact(&mut b8[..4])?;
                Some(JavaKey::Int(i32::from_be_bytes([
                    b8[0], b8[1], b8[2], b8[3],
                ])))
            }
            Codec::Bool => {
                r.read_exact(&mut b8[..1])?;
                Some(JavaKey::Bool(b8[0] != 0))
            }
            Codec::Void => {
                r.read_exact(&mut b8[..1])?;
                None
            }
            Codec::Record(inner) => inner.read(r)?,
            Codec::String => read_string_value(r)?.map(JavaKey::String),
            Codec::Tuple(parts) => {
                let mut fields = Vec::with_capacity(parts.len());
                for p in parts {
                    fields.push(p.read(r)?);
                }
                fields
                    .into_iter()
                    .collect::<Option<Vec<_>>>()
                    .map(JavaKey::Tuple)
            }
            Codec::List(elem) => {
                r.read_exact(&mut b8[..4])?;
                let n = i32::from_be_bytes([b8[0], b8[1], b8[2], b8[3]]);
                if n < 0 {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("negative list length {n}"),
                    ));
                }
                for _ in 0..n {
                    elem.read(r)?;
                }
                None
            }
            Codec::Opaque(n) => {
                io::copy(&mut r.take(*n as u64), &mut io::sink())?;
                None
            }
            Codec::Pojo(fields) => {
                r.read_exact(&mut b8[..1])?;
                match pojo_flags(b8[0])? {
                    false => return Ok(None),
                    true => {
                        for f in fields {
                            r.read_exact(&mut b8[..1])?;
                            if b8[0] == 0 {
                                f.read(r)?;
                            }
                        }
                    }
                }
                None
            }
            Codec::Bytes => {
                r.read_exact(&mut b8[..4])?;
                let n = i32::from_be_bytes([b8[0], b8[1], b8[2], b8[3]]);
                if n < 0 {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("negative byte array length {n}"),
                    ));
                }
                io::copy(&mut r.take(n as u64), &mut io::sink())?;
                None
            }
        })
    }
}

/// A `PojoSerializer` flags byte: `true` when the fields follow, `false` for null; a
/// subclass (tagged or by name) is an error, its layout is another serializer's.
pub fn pojo_flags(flags: u8) -> io::Result<bool> {
    const IS_NULL: u8 = 1;
    const NO_SUBCLASS: u8 = 2;
    match flags {
        IS_NULL => Ok(false),
        NO_SUBCLASS => Ok(true),
        f => Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("POJO flags {f:#04x}: a subclass value, which is not measured"),
        )),
    }
}

/// The object an object's field refers to.
fn field_node(graph: &Graph, node: NodeId, field: &str) -> Option<NodeId> {
    let obj = graph
        .object(crate::javaser::Value::Node(node))
        .ok()
        .flatten()?;
    obj.field(field).and_then(|v| v.node())
}

/// What a key check found for one keyed state of one subtask.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct KeyCheck {
    pub state: String,
    pub checked: u64,
    /// (key as text, the group it belongs to) for keys outside the subtask's group.
    pub misplaced: Vec<(String, u32)>,
    pub total_misplaced: u64,
    /// Why (part of) the state could not be checked.
    pub unchecked: Option<String>,
}

const MAX_LISTED: usize = 20;

impl KeyCheck {
    /// Counts a decoded key, and lists it (up to a few) when it is outside `expected_group`.
    fn record(&mut self, key: &JavaKey, expected_group: u32, max_parallelism: u32) {
        self.checked += 1;
        let group = key.key_group(max_parallelism);
        if group != expected_group {
            self.total_misplaced += 1;
            if self.misplaced.len() < MAX_LISTED {
                self.misplaced.push((show(key), group));
            }
        }
    }
}

/// Walks a heap snapshot's data (legacy-formats.md §2.5) and checks every key's group.
pub fn check_heap_data(
    state: &str,
    data: &MultiStream,
    key: &Codec,
    namespace: &Codec,
    value: &Codec,
    expected_group: u32,
    max_parallelism: u32,
) -> KeyCheck {
    let mut check = KeyCheck {
        state: state.to_string(),
        ..KeyCheck::default()
    };
    let stream = std::sync::Arc::new(data.clone());
    let mut r = BufReader::with_capacity(1 << 16, stream.reader());
    let result = (|| -> io::Result<()> {
        let namespaces = read_i32(&mut r)?;
        for _ in 0..namespaces.max(0) {
            namespace.read(&mut r)?;
            let entries = read_i32(&mut r)?;
            for _ in 0..entries.max(0) {
                let k = key.read(&mut r)?;
                value.read(&mut r)?;
                match k {
                    Some(k) => check.record(&k, expected_group, max_parallelism),
                    None => {
                        check.unchecked.get_or_insert_with(|| {
                            "keys of a type whose hashCode is unknown".into()
                        });
                    }
                }
            }
        }
        Ok(())
    })();
    if let Err(e) = result {
        check.unchecked = Some(format!(
            "data could not be decoded after {} keys: {e}",
            check.checked
        ));
    }
    check
}

/// A key as Java would print it: `3`, `"a"`, `(3,"a")` for a tuple.
fn show(k: &JavaKey) -> String {
    match k {
        JavaKey::Long(v) => v.to_string(),
        JavaKey::Int(v) => v.to_string(),
        JavaKey::Bool(v) => v.to_string(),
        JavaKey::String(s) => format!("{s:?}"),
        JavaKey::Tuple(fields) => format!(
            "({})",
            fields.iter().map(show).collect::<Vec<_>>().join(",")
        ),
        other => format!("{other:?}"),
    }
}

fn read_i32(r: &mut impl Read) -> io::Result<i32> {
    let mut b = [0u8; 4];
    r.read_exact(&mut b)?;
    Ok(i32::from_be_bytes(b))
}

fn unmeasurable(class: &str) -> SerializerError {
    SerializerError::Unmeasurable {
        class: class.to_string(),
    }
}

/// The codec of a key serializer given as a standalone Java stream (`--key-serializer`).
pub fn codec_of_stream(stream: &[u8]) -> Result<Codec, SerializerError> {
    let src = std::sync::Arc::new(crate::source::MemSource::new(
        "key serializer",
        stream.to_vec(),
    ));
    let g = crate::javaser::parse_stream(
        src,
        0,
        stream.len() as u64,
        &crate::javaser::Limits::default(),
    )
    .map_err(|e| SerializerError::Stream {
        what: "key serializer".into(),
        problem: e.to_string(),
    })?;
    let root = g
        .roots()
        .next()
        .and_then(|v| v.node())
        .ok_or_else(|| SerializerError::Stream {
            what: "key serializer".into(),
            problem: "holds no object".into(),
        })?;
    Codec::of(&g, root)
}

/// Checks every keyed state of a decoded subtask against the subtask's key group
/// (maxParallelism = parallelism, so subtask i owns group i). RocksDB snapshots need the
/// key serializer the user named (Flink 1.1 did not record it).
pub fn check_subtask(
    model: &crate::v0::SubtaskModel,
    parallelism: u32,
    opts: &super::ConvertOptions,
) -> Vec<KeyCheck> {
    use crate::v0::{Bytes, KvSnapshot};
    let group = model.location.subtask.unwrap_or(0);
    let piece = |bytes: &Bytes| -> Result<crate::stream::Piece, String> {
        match bytes {
            Bytes::Span(span) => Ok(crate::stream::Piece::range(
                model.graph.source().clone(),
                *span,
            )),
            Bytes::External { path, .. } => opts
                .policy
                .resolve(path)
                .map_err(|p| format!("external state file {p}"))
                .map(|f| {
                    let len = crate::source::Source::len(&f);
                    crate::stream::Piece::range(
                        std::sync::Arc::new(f),
                        crate::source::Span::new(0, len),
                    )
                }),
        }
    };
    let mut out = Vec::new();
    for entry in model.entries() {
        for kv in &entry.kv_states {
            let mut check = KeyCheck {
                state: kv.name.clone(),
                ..KeyCheck::default()
            };
            match &kv.snapshot {
                KvSnapshot::Heap(h) => {
                    let codecs = (
                        Codec::of(&model.graph, h.key_serializer),
                        Codec::of(&model.graph, h.namespace_serializer),
                        Codec::of(&model.graph, h.state_serializer),
                    );
                    match (codecs, piece(&h.data)) {
                        ((Ok(k), Ok(n), Ok(v)), Ok(p)) => {
                            let data = MultiStream::new(kv.name.clone(), [p]);
                            out.push(check_heap_data(
                                &kv.name,
                                &data,
                                &k,
                                &n,
                                &v,
                                group,
                                parallelism,
                            ));
                            continue;
                        }
                        ((k, n, v), p) => {
                            let mut why: Vec<String> = [k.err(), n.err(), v.err()]
                                .into_iter()
                                .flatten()
                                .map(|s| format!("cannot decode values of {s}"))
                                .collect();
                            why.extend(p.err());
                            check.unchecked = Some(why.join("; "));
                        }
                    }
                }
                KvSnapshot::RocksDbFullyAsync { state_handle, .. } => {
                    let Some(stream) = &opts.key_serializer else {
                        check.unchecked = Some("Flink 1.1's RocksDB backend does not record the key serializer; name it with --key-serializer".into());
                        out.push(check);
                        continue;
                    };
                    match (codec_of_stream(stream), piece(&state_handle.bytes())) {
                        (Ok(codec), Ok(crate::stream::Piece::Range { source, span })) => {
                            out.extend(check_rocks(source, span, &codec, group, parallelism));
                            continue;
                        }
                        (Err(e), _) => check.unchecked = Some(e.to_string()),
                        (_, Err(e)) => check.unchecked = Some(e),
                        (Ok(_), Ok(_)) => {
                            check.unchecked = Some("snapshot stream unexpectedly in memory".into())
                        }
                    }
                }
                KvSnapshot::RocksDbSemiAsync { .. } => {
                    check.unchecked = Some(
                        "semi-asynchronous RocksDB snapshot: its keys are not in the savepoint"
                            .into(),
                    )
                }
            }
            out.push(check);
        }
    }
    out
}

/// Checks the keys of a RocksDB fully-async snapshot, one result per column.
fn check_rocks(
    source: std::sync::Arc<dyn crate::source::Source>,
    span: crate::source::Span,
    key: &Codec,
    expected_group: u32,
    max_parallelism: u32,
) -> Vec<KeyCheck> {
    let snap = match super::rocks::RocksSnapshot::open_keyed(source.clone(), span, Some(key)) {
        Ok(s) => s,
        Err(e) => {
            return vec![KeyCheck {
                state: "dummy_state".into(),
                unchecked: Some(format!("RocksDB snapshot: {e}")),
                ..KeyCheck::default()
            }];
        }
    };
    let mut checks: Vec<KeyCheck> = snap
        .columns
        .iter()
        .map(|c| KeyCheck {
            state: c.name.clone(),
            ..KeyCheck::default()
        })
        .collect();
    let mut buf = Vec::new();
    let walked = snap.for_each_record(|r| {
        let check = &mut checks[r.column as usize];
        buf.resize(r.key.len as usize, 0);
        source.read_at(r.key.start, &mut buf)?;
        let mut reader: &[u8] = &buf;
        match key.read(&mut reader) {
            Ok(Some(k)) if reader.is_empty() => check.record(&k, expected_group, max_parallelism),
            Ok(Some(_)) => {
                check.unchecked.get_or_insert_with(|| {
                    "keys longer than the named key serializer reads".into()
                });
            }
            Ok(None) => {
                check
                    .unchecked
                    .get_or_insert_with(|| "keys of a type whose hashCode is unknown".into());
            }
            Err(e) => {
                check.unchecked.get_or_insert_with(|| {
                    format!("a key does not decode with the named key serializer: {e}")
                });
            }
        }
        Ok(())
    });
    if let Err(e) = walked {
        for c in &mut checks {
            c.unchecked
                .get_or_insert_with(|| format!("RocksDB records: {e}"));
        }
    }
    checks
}

#[cfg(test)]
mod tests {

    /// POJO values: flags 2, then per field a null flag and the value unless null;
    /// a null POJO is one byte; a subclass value is refused, not guessed.
    #[test]
    fn pojo_values_are_measured_field_by_field() {
        let pojo = Codec::Pojo(vec![Codec::Long, Codec::String, Codec::Int]);
        let mut bytes = vec![2, 0];
        bytes.extend_from_slice(&7i64.to_be_bytes());
        bytes.extend_from_slice(&[0, 3, b'a', b'b']); // "ab": length+1, then units
        bytes.push(1); // a null Int field
        bytes.push(0xEE); // the next value
        let mut r = &bytes[..];
        assert_eq!(pojo.read(&mut r).unwrap(), None);
        assert_eq!(r, [0xEE]);
        let mut null = &[1u8, 0xEE][..];
        pojo.read(&mut null).unwrap();
        assert_eq!(null, [0xEE]);
        assert!(
            pojo.read(&mut &[4u8, 0, 0][..]).is_err(),
            "a subclass value"
        );
        assert_eq!(pojo.fixed_len(), None);
    }

    use super::*;
    use crate::stream::Piece;

    fn stream(bytes: Vec<u8>) -> MultiStream {
        MultiStream::new("data", [Piece::bytes(bytes)])
    }

    #[test]
    fn finds_a_key_in_the_wrong_group() {
        // 1 namespace (Void 00), 2 entries: Tuple1<Long>(3) -> 3 and (0) -> 0.
        let mut d = vec![0, 0, 0, 1, 0, 0, 0, 0, 2];
        for k in [3i64, 0] {
            d.extend_from_slice(&k.to_be_bytes());
            d.extend_from_slice(&k.to_be_bytes());
        }
        let key = Codec::Tuple(vec![Codec::Long]);
        // Key 3 is in group 1 and key 0 in group 2 with max parallelism 4 (legacy-formats.md §3.13).
        let c = check_heap_data(
            "s",
            &stream(d.clone()),
            &key,
            &Codec::Void,
            &Codec::Long,
            1,
            4,
        );
        assert_eq!((c.checked, c.total_misplaced), (2, 1));
        assert_eq!(c.misplaced[0].1, 2);
        assert_eq!(c.unchecked, None);
        let truncated = check_heap_data(
            "s",
            &stream(d[..20].to_vec()),
            &key,
            &Codec::Void,
            &Codec::Long,
            1,
            4,
        );
        assert!(truncated.unchecked.unwrap().contains("after 0 keys"));
    }

    #[test]
    fn reads_string_values() {
        let mut r: &[u8] = &[0x05, b'k', b'e', b'y', b'1', 0x00];
        assert_eq!(read_string_value(&mut r).unwrap().as_deref(), Some("key1"));
        assert_eq!(read_string_value(&mut r).unwrap(), None);
    }
}
