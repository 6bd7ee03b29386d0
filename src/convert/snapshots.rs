//! Flink 1.1 serializer objects → the serializer snapshots Flink ≥ 1.8 expects in its
//! headers (docs/modern-formats.md §3). Written from the Java-serialized serializers we
//! parse, for every serializer whose snapshot is known; anything else (Kryo, Avro, Scala,
//! user serializers) is an error naming it, never a guess.

use super::error::SerializerError;
use crate::javaser::{self, Elements, Graph, Limits, NodeId, NodeKind, Value};
use crate::modern::snapshot::{
    self, ARRAY_LIST_SNAPSHOT, Body, ENUM_SNAPSHOT, GENERIC_ARRAY_SNAPSHOT, LIST_SNAPSHOT,
    MAP_SNAPSHOT, POJO_SNAPSHOT, PojoField, Snapshot, TUPLE_SNAPSHOT, VOID_NAMESPACE_SERIALIZER,
};
use crate::source::MemSource;
use std::sync::Arc;

const VOID_SERIALIZER: &str = crate::classnames::VOID_SERIALIZER;
const TUPLE_SERIALIZER: &str = crate::classnames::TUPLE_SERIALIZER;
const ARRAY_LIST_SERIALIZER: &str = crate::classnames::ARRAY_LIST_SERIALIZER;
const LIST_SERIALIZER: &str = crate::classnames::LIST_SERIALIZER;
const MAP_SERIALIZER: &str = crate::classnames::MAP_SERIALIZER;
const GENERIC_ARRAY_SERIALIZER: &str = crate::classnames::GENERIC_ARRAY_SERIALIZER;
const ENUM_SERIALIZER: &str = crate::classnames::ENUM_SERIALIZER;
const POJO_SERIALIZER: &str = crate::classnames::POJO_SERIALIZER;
/// Serializers whose snapshot cannot be written from what Flink 1.1 stored, and why.
const REFUSED: &[(&str, &str)] = &[
    (
        crate::classnames::KRYO_SERIALIZER,
        "Kryo-serialized types: Flink 1.1 wrote Kryo 2.24 bytes and the snapshot's registrations are not recorded",
    ),
    (
        crate::classnames::AVRO_SERIALIZER,
        "Avro serializers are not carried",
    ),
];

/// How a serializer is used: a namespace serializer `VoidSerializer` becomes Flink 1.2+'s
/// `VoidNamespaceSerializer`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Key,
    Namespace,
    Value,
}

/// The snapshot of the serializer object `node` of a 1.1 graph.
pub fn snapshot_of(graph: &Graph, node: NodeId, role: Role) -> Result<Snapshot, SerializerError> {
    let s = of_depth(graph, node, 0)?;
    let void = snapshot::Snapshot::of_singleton(VOID_SERIALIZER).map(|v| v.class);
    if role == Role::Namespace && Some(&s.class) == void.as_ref() {
        return Snapshot::of_singleton(VOID_NAMESPACE_SERIALIZER)
            .ok_or_else(|| SerializerError::malformed(VOID_NAMESPACE_SERIALIZER, "no snapshot"));
    }
    Ok(s)
}

fn of_depth(graph: &Graph, node: NodeId, depth: usize) -> Result<Snapshot, SerializerError> {
    let name = graph
        .class_name_of(node)
        .map(|n| n.lossy())
        .unwrap_or_else(|| "a non-object".into());
    if depth > 16 {
        return Err(SerializerError::malformed(
            &name,
            "serializers nested more than 16 deep",
        ));
    }
    if let Some(s) = Snapshot::of_singleton(&name) {
        return Ok(s);
    }
    let nested = |field: &str| -> Result<Snapshot, SerializerError> {
        let n = field_node(graph, node, field)
            .ok_or_else(|| SerializerError::malformed(&name, format!("without its {field}")))?;
        of_depth(graph, n, depth + 1)
    };
    match name.as_str() {
        TUPLE_SERIALIZER => {
            let class = class_field(graph, node, "tupleClass")
                .ok_or_else(|| SerializerError::malformed(&name, "without its tupleClass"))?;
            let fields = field_node(graph, node, "fieldSerializers")
                .ok_or_else(|| SerializerError::malformed(&name, "without its fieldSerializers"))?;
            let NodeKind::Array(arr) = &graph.node(fields).kind else {
                return Err(SerializerError::malformed(&name, "fieldSerializers is not an array"));
            };
            let Elements::Values(vs) = &arr.elements else {
                return Err(SerializerError::malformed(&name, "fieldSerializers is a primitive array"));
            };
            let parts = vs
                .iter()
                .map(|v| {
                    let n = v
                        .node()
                        .ok_or_else(|| SerializerError::malformed(&name, "with a null field serializer"))?;
                    of_depth(graph, n, depth + 1)
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Snapshot::composite(TUPLE_SNAPSHOT, vec![class], parts))
        }
        // Flink 1.1's element serializer of evicting windows becomes Flink 1.2+'s
        // (convert/heap_reframe.rs tags each element).
        crate::classnames::STREAM_RECORD_SERIALIZER | crate::classnames::STREAM_ELEMENT_SERIALIZER => {
            Ok(Snapshot::composite(
                snapshot::STREAM_ELEMENT_SNAPSHOT,
                vec![],
                vec![nested("typeSerializer")?],
            ))
        }
        ARRAY_LIST_SERIALIZER => Ok(Snapshot::composite(
            ARRAY_LIST_SNAPSHOT,
            vec![],
            vec![nested("elementSerializer")?],
        )),
        LIST_SERIALIZER => Ok(Snapshot::composite(
            LIST_SNAPSHOT,
            vec![],
            vec![nested("elementSerializer")?],
        )),
        MAP_SERIALIZER => Ok(Snapshot::composite(
            MAP_SNAPSHOT,
            vec![],
            vec![nested("keySerializer")?, nested("valueSerializer")?],
        )),
        GENERIC_ARRAY_SERIALIZER => {
            let class = class_field(graph, node, "componentClass")
                .ok_or_else(|| SerializerError::malformed(&name, "without its componentClass"))?;
            Ok(Snapshot::composite(
                GENERIC_ARRAY_SNAPSHOT,
                vec![class],
                vec![nested("componentSerializer")?],
            ))
        }
        ENUM_SERIALIZER => {
            let class = class_field(graph, node, "enumClass")
                .ok_or_else(|| SerializerError::malformed(&name, "without its enumClass"))?;
            let constants = enum_constants(graph, node).ok_or_else(|| {
                SerializerError::NotCarried {
                    class: name.clone(),
                    why: format!("of {class}: Flink 1.1's EnumSerializer does not record the enum's constants (its values are transient), and the snapshot needs them"),
                }
            })?;
            Ok(Snapshot {
                class: ENUM_SNAPSHOT.to_string(),
                version: snapshot::SIMPLE_VERSION,
                body: Body::Enum {
                    enum_class: class,
                    constants,
                },
            })
        }
        POJO_SERIALIZER => pojo(graph, node, depth),
        _ => match REFUSED.iter().find(|(c, _)| *c == name) {
            Some((_, why)) => Err(SerializerError::NotCarried {
                class: name,
                why: why.to_string(),
            }),
            None => Err(SerializerError::NotCarried {
                class: name,
                why: "has no known serializer snapshot (user, Scala or other serializers are not carried)".into(),
            }),
        },
    }
}

/// The snapshot Flink ≥ 1.13 records for a list state: `ListSerializer` of the element.
pub fn list_state_snapshot(element: Snapshot) -> Snapshot {
    Snapshot::composite(LIST_SNAPSHOT, vec![], vec![element])
}

/// The element serializer of a 1.1 heap list state's `ArrayListSerializer`.
pub fn list_element(graph: &Graph, node: NodeId) -> Option<NodeId> {
    (graph.class_name_of(node)?.lossy() == ARRAY_LIST_SERIALIZER)
        .then(|| field_node(graph, node, "elementSerializer"))
        .flatten()
}

/// A `PojoSerializer`: its class, its fields (which its `writeObject` appends as a
/// count, then per field the declaring `Class` and `writeUTF(name)`) with their
/// serializers; registered subclasses are refused (their snapshots are not carried).
fn pojo(graph: &Graph, node: NodeId, depth: usize) -> Result<Snapshot, SerializerError> {
    let name = POJO_SERIALIZER;
    let class = class_field(graph, node, "clazz")
        .ok_or_else(|| SerializerError::malformed(name, "without its clazz"))?;
    let fail = |e: javaser::Error| SerializerError::malformed(name, format!("of {class}: {e}"));
    let obj = graph
        .object(Value::Node(node))
        .map_err(fail)?
        .ok_or_else(|| SerializerError::malformed(name, "null"))?;
    if let Some(Value::Node(reg)) = obj.field("registeredClasses")
        && let Some(map) = graph.object(Value::Node(reg)).map_err(fail)?
        && !map.hash_map_entries().map_err(fail)?.is_empty()
    {
        return Err(SerializerError::NotCarried {
            class: name.to_string(),
            why: format!(
                "of {class} has registered subclasses, whose snapshots are not carried yet"
            ),
        });
    }
    let mut a = obj.annotation(POJO_SERIALIZER).map_err(fail)?;
    let n = a.read_i32().map_err(fail)?;
    let serializers = field_node(graph, node, "fieldSerializers").ok_or_else(|| {
        SerializerError::malformed(name, format!("of {class} without its fieldSerializers"))
    })?;
    let NodeKind::Array(arr) = &graph.node(serializers).kind else {
        return Err(SerializerError::malformed(
            name,
            format!("of {class}: fieldSerializers is not an array"),
        ));
    };
    let Elements::Values(vs) = &arr.elements else {
        return Err(SerializerError::malformed(
            name,
            format!("of {class}: fieldSerializers is a primitive array"),
        ));
    };
    if n < 0 || n as usize != vs.len() {
        return Err(SerializerError::malformed(
            name,
            format!("of {class}: {n} fields but {} field serializers", vs.len()),
        ));
    }
    let mut fields = Vec::with_capacity(vs.len());
    for v in vs {
        let declaring = match a.read_object().map_err(fail)? {
            Value::Node(c) => match &graph.node(c).kind {
                NodeKind::Class { desc } => graph.class_desc(*desc).map(|d| d.name.lossy()),
                _ => None,
            },
            _ => None,
        }
        .ok_or_else(|| {
            SerializerError::malformed(
                name,
                format!("of {class}: a field without its declaring class"),
            )
        })?;
        let mut len = [0u8; 2];
        a.read_bytes(&mut len).map_err(fail)?;
        let mut utf = vec![0u8; u16::from_be_bytes(len) as usize];
        a.read_bytes(&mut utf).map_err(fail)?;
        let field = javaser::mutf8::decode(&utf).ok_or_else(|| {
            SerializerError::malformed(name, format!("of {class}: a field name that is not UTF"))
        })?;
        let serializer = v.node().ok_or_else(|| {
            SerializerError::malformed(name, format!("of {class}: field {field} has no serializer"))
        })?;
        fields.push(PojoField {
            snapshot: of_depth(graph, serializer, depth + 1)?,
            name: field,
            declaring_class: declaring,
        });
    }
    Ok(Snapshot {
        class: POJO_SNAPSHOT.0.to_string(),
        version: POJO_SNAPSHOT.1,
        body: Body::Pojo { class, fields },
    })
}

/// The names of the enum constants in an `EnumSerializer`'s `values` field, in order.
fn enum_constants(graph: &Graph, node: NodeId) -> Option<Vec<String>> {
    let values = field_node(graph, node, "values")?;
    let NodeKind::Array(arr) = &graph.node(values).kind else {
        return None;
    };
    let Elements::Values(vs) = &arr.elements else {
        return None;
    };
    vs.iter()
        .map(|v| match &graph.node(v.node()?).kind {
            NodeKind::Enum { constant, .. } => graph.string_value(Value::Node(*constant)).ok()?,
            _ => None,
        })
        .collect()
}

/// The snapshot of a standalone Java-serialized serializer (a `--key-serializer`, a
/// RocksDB column's value serializer).
pub fn snapshot_of_stream(
    bytes: &[u8],
    what: &str,
    role: Role,
) -> Result<Snapshot, SerializerError> {
    let src = Arc::new(MemSource::new(what.to_string(), bytes.to_vec()));
    let g = javaser::parse_stream(src, 0, bytes.len() as u64, &Limits::default())
        .map_err(|e| stream_problem(what, e))?;
    let root = g
        .roots()
        .next()
        .and_then(|v| v.node())
        .ok_or_else(|| stream_problem(what, "no serializer object"))?;
    snapshot_of(&g, root, role).map_err(|e| stream_problem(what, e))
}

fn stream_problem(what: &str, problem: impl std::fmt::Display) -> SerializerError {
    SerializerError::Stream {
        what: what.to_string(),
        problem: problem.to_string(),
    }
}

/// The object an object's field refers to.
fn field_node(graph: &Graph, node: NodeId, field: &str) -> Option<NodeId> {
    let obj = graph.object(Value::Node(node)).ok().flatten()?;
    obj.field(field).and_then(|v| v.node())
}

/// The name of the `java.lang.Class` an object's field holds.
fn class_field(graph: &Graph, node: NodeId, field: &str) -> Option<String> {
    let class = field_node(graph, node, field)?;
    match &graph.node(class).kind {
        NodeKind::Class { desc } => graph.class_desc(*desc).map(|d| d.name.lossy()),
        _ => None,
    }
}

/// Whether a key snapshot can stand for another without changing a byte or a key group:
/// equal, or `Tuple1<X>` against `X` (a Tuple1 serializes as its one field, and
/// `Tuple1.hashCode()` is its field's).
pub fn same_key_bytes(a: &Snapshot, b: &Snapshot) -> bool {
    let unwrap1 = |s: &Snapshot| match &s.body {
        snapshot::Body::Composite { nested, outer, .. }
            if s.class == TUPLE_SNAPSHOT.0
                && nested.len() == 1
                && outer
                    .first()
                    .is_some_and(|c| c == crate::classnames::TUPLE1) =>
        {
            nested[0].clone()
        }
        _ => s.clone(),
    };
    a == b || unwrap1(a) == unwrap1(b)
}
