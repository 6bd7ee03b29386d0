//! The native target (native-formats.md): state written the way Flink 1.2+ writes its own
//! savepoints, so a stock Flink restores it with its normal code. Keyed state becomes a
//! key-group stream (computed header + the 1.1 `data` bytes verbatim), `Checkpointed`
//! function state becomes `ListCheckpointed` managed operator state `_default_`
//! (computed header + the 1.1 `serializedData` verbatim), and the operator's own bytes
//! are raw operator state (the `operator-state` file itself, offset 0).

use super::error::{Error, FileLocation, HeaderError};
use crate::javaser::builder::{ClassSpec, StreamBuilder};
use crate::javaser::{self, Graph, NodeId, Value, WriteOptions};
use crate::modern::Utf;
use crate::modern::WriteError;
use crate::source::Source;
use crate::stream::Piece;
use crate::v0::classes::{ARRAY_LIST_SERIALIZER, TYPE_SERIALIZER, TYPE_SERIALIZER_SINGLETON};
use crate::v0::{ChainEntry, HeapSnapshot, KvSnapshot, StateKind, SubtaskModel};

/// The operator-state name Flink gives `ListCheckpointed` state and raw operator state.
pub const DEFAULT_OPERATOR_STATE: &str = "_default_";

const VOID_SERIALIZER: &str = crate::classnames::VOID_SERIALIZER;

/// `VoidNamespaceSerializer` (a class Flink 1.1 lacks): Flink 1.2+ needs a non-null
/// namespace where 1.1 used `VoidSerializer` (native-formats.md §7.3.5, A.2).
static VOID_NAMESPACE_SERIALIZER: ClassSpec = ClassSpec {
    name: crate::classnames::VOID_NAMESPACE_SERIALIZER,
    uid: 1,
    flags: javaser::flags::SERIALIZABLE,
    fields: &[],
    superclass: Some(&TYPE_SERIALIZER_SINGLETON),
};

/// `JavaSerializer`, the element serializer of `ListCheckpointed` state (native-formats.md A.4).
static JAVA_SERIALIZER: ClassSpec = ClassSpec {
    name: crate::classnames::JAVA_SERIALIZER,
    uid: 0x465358cea4340a92,
    flags: javaser::flags::SERIALIZABLE,
    fields: &[],
    superclass: Some(&TYPE_SERIALIZER),
};

/// A stream holding one fresh object of a field-less class.
pub(crate) fn singleton_stream(spec: &'static ClassSpec) -> Result<Vec<u8>, HeaderError> {
    let mut b = StreamBuilder::new(Vec::new(), spec.name, 0)?;
    b.begin_object(spec)?;
    Ok(b.finish()?)
}

/// The header of a `_default_` managed operator state stream (native-formats.md §7.4.1): proxy
/// version 1, one state `_default_` in SPLIT_DISTRIBUTE mode, its `JavaSerializer` as a
/// bare stream, then the element count 1. The element follows at the returned length.
pub fn operator_state_header() -> Result<Vec<u8>, HeaderError> {
    list_state_header(DEFAULT_OPERATOR_STATE)
}

/// The same header for a SPLIT_DISTRIBUTE list state `name` of Java-serialized elements
/// (what `getSerializableListState(name)` restores).
pub fn list_state_header(name: &str) -> Result<Vec<u8>, HeaderError> {
    let mut h = Vec::with_capacity(160);
    h.extend_from_slice(&1i32.to_be_bytes());
    h.extend_from_slice(&1i16.to_be_bytes());
    h.put_utf(name)?;
    h.push(0); // SPLIT_DISTRIBUTE
    h.extend_from_slice(&singleton_stream(&JAVA_SERIALIZER)?);
    h.extend_from_slice(&1i32.to_be_bytes());
    Ok(h)
}

/// Serializer proxy framing: `int 1, int length, Java stream` (native-formats.md §7.3.5).
fn put_proxy(out: &mut Vec<u8>, stream: &[u8]) -> Result<(), HeaderError> {
    let n = i32::try_from(stream.len()).map_err(|_| WriteError::CountTooLarge(stream.len()))?;
    out.extend_from_slice(&1i32.to_be_bytes());
    out.extend_from_slice(&n.to_be_bytes());
    out.extend_from_slice(stream);
    Ok(())
}

/// `ArrayListSerializer(element)` as a standalone stream, from the element serializer's
/// own stream: the heap backend's serializer of a list state (a RocksDB column names the
/// element's).
pub fn array_list_serializer(element: &[u8]) -> Result<Vec<u8>, HeaderError> {
    let src = std::sync::Arc::new(crate::source::MemSource::new(
        "element serializer".to_string(),
        element.to_vec(),
    ));
    let g = javaser::parse_stream(src, 0, element.len() as u64, &javaser::Limits::default())?;
    let root = g.roots().next().ok_or(HeaderError::EmptyStream)?;
    let mut b = StreamBuilder::new(Vec::new(), ARRAY_LIST_SERIALIZER.name, 0)?;
    b.begin_object(&ARRAY_LIST_SERIALIZER)?;
    let first = b.next_handle();
    let mut out = b.finish()?;
    let rest = javaser::write_object_continuing(&g, root, &WriteOptions::default(), first)?;
    out.extend(rest.to_vec(&**g.source())?);
    Ok(out)
}

/// A serializer object re-emitted as a fresh standalone stream (handles renumbered),
/// under the names native Flink knows (`rename::Native`).
pub(super) fn reemit(graph: &Graph, node: NodeId) -> Result<Vec<u8>, HeaderError> {
    let opts = super::rename::native_options();
    let chunks = javaser::write_object(graph, Value::Node(node), &opts)?;
    Ok(chunks.to_vec(&**graph.source())?)
}

fn is_class(graph: &Graph, node: NodeId, name: &str) -> bool {
    graph.class_name_of(node).is_some_and(|n| n.is(name))
}

/// State type ordinals of `KeyedBackendSerializationProxy` (native-formats.md §7.3.1).
fn type_ordinal(kind: StateKind) -> i32 {
    match kind {
        StateKind::Value => 1,
        StateKind::List => 2,
        StateKind::Reducing => 3,
        StateKind::Folding => 4,
    }
}

/// The one chain entry whose keyed state native Flink can take: the head operator's.
pub fn keyed_entry<'m>(
    model: &'m SubtaskModel,
    location: &FileLocation,
) -> Result<Option<&'m ChainEntry>, Error> {
    let keyed: Vec<&ChainEntry> = model
        .entries()
        .filter(|e| e.kv_states_map.is_some())
        .collect();
    let Some(first) = keyed.first() else {
        return Ok(None);
    };
    let not = |reason: String| Error::NotMigratable {
        location: location.clone(),
        reason,
    };
    if keyed.len() > 1 {
        let idx: Vec<usize> = keyed.iter().map(|e| e.index).collect();
        return Err(not(format!(
            "chain entries {idx:?} all have keyed state; a Flink job has one keyed backend per task"
        )));
    }
    let head = model.chain.len().saturating_sub(1);
    if first.index != head {
        return Err(not(format!(
            "keyed state sits on chain entry {} but the head operator is entry {head}; Flink restores keyed state to the head",
            first.index
        )));
    }
    Ok(Some(first))
}

/// One state of a keyed stream's header.
pub struct StateHeader<'a> {
    pub type_ordinal: i32,
    pub name: &'a str,
    /// The namespace serializer stream; `None` = `VoidNamespaceSerializer`.
    pub namespace_serializer: Option<Vec<u8>>,
    pub value_serializer: &'a [u8],
}

/// `KeyedBackendSerializationProxy` version 1 (native-formats.md §7.3.1): key serializer proxy,
/// then per state its type, name and namespace and value serializer proxies. Its
/// length is the key group's offset.
pub fn keyed_header(
    key_serializer: &[u8],
    states: &[StateHeader<'_>],
) -> Result<Vec<u8>, HeaderError> {
    let mut header = Vec::new();
    header.extend_from_slice(&1i32.to_be_bytes());
    put_proxy(&mut header, key_serializer)?;
    let n = i16::try_from(states.len()).map_err(|_| WriteError::CountTooLarge(states.len()))?;
    header.extend_from_slice(&n.to_be_bytes());
    for s in states {
        header.extend_from_slice(&s.type_ordinal.to_be_bytes());
        header.put_utf(s.name)?;
        match &s.namespace_serializer {
            Some(ns) => put_proxy(&mut header, ns)?,
            None => put_proxy(&mut header, &singleton_stream(&VOID_NAMESPACE_SERIALIZER)?)?,
        }
        put_proxy(&mut header, s.value_serializer)?;
    }
    Ok(header)
}

/// The heap snapshots of a keyed chain entry, by state name.
pub fn heap_states(entry: &ChainEntry) -> Result<Vec<(&str, &HeapSnapshot)>, HeaderError> {
    let heaps: Vec<(&str, &HeapSnapshot)> = entry
        .kv_states
        .iter()
        .map(|k| match &k.snapshot {
            KvSnapshot::Heap(h) => Ok((k.name.as_str(), h)),
            other => Err(HeaderError::NotHeap {
                class: other.class_name().to_string(),
            }),
        })
        .collect::<Result<_, _>>()?;
    if heaps.is_empty() {
        return Err(HeaderError::NoStates);
    }
    Ok(heaps)
}

/// The header of a stream made from heap snapshots: their own key, namespace
/// (`VoidSerializer` → `VoidNamespaceSerializer`) and value serializers, re-emitted.
pub fn heap_header(graph: &Graph, heaps: &[(&str, &HeapSnapshot)]) -> Result<Vec<u8>, HeaderError> {
    let first = heaps.first().ok_or(HeaderError::NoStates)?.1;
    let key_serializer = reemit(graph, first.key_serializer)?;
    let mut values = Vec::with_capacity(heaps.len());
    let mut namespaces = Vec::with_capacity(heaps.len());
    for (_, h) in heaps {
        values.push(reemit(graph, h.state_serializer)?);
        let void = is_class(graph, h.namespace_serializer, VOID_SERIALIZER);
        namespaces.push(if void {
            None
        } else {
            Some(reemit(graph, h.namespace_serializer)?)
        });
    }
    let states: Vec<StateHeader<'_>> = heaps
        .iter()
        .zip(values.iter().zip(namespaces))
        .map(|((name, h), (value, ns))| StateHeader {
            type_ordinal: type_ordinal(h.kind),
            name,
            namespace_serializer: ns,
            value_serializer: value,
        })
        .collect();
    keyed_header(&key_serializer, &states)
}

/// Gives a heap snapshot's data as a piece, with its namespace count.
pub type DataPiece<'a> = dyn Fn(&HeapSnapshot) -> Result<(Piece, i32), Error> + 'a;

/// The heap-layout body (native-formats.md §7.3.2): `int key group`, then per state `short j,
/// 01` + the 1.1 `data` verbatim, or `short j, 00` when it has no namespaces.
/// `data_piece` gives a snapshot's data as a piece with its namespace count.
pub fn heap_body(
    heaps: &[(&str, &HeapSnapshot)],
    key_group: u32,
    data_piece: &DataPiece<'_>,
) -> Result<Vec<Piece>, Error> {
    let mut pieces = Vec::new();
    let mut pending = (key_group as i32).to_be_bytes().to_vec();
    for (j, (_, h)) in heaps.iter().enumerate() {
        pending.extend_from_slice(&(j as i16).to_be_bytes());
        let (piece, namespaces) = data_piece(h)?;
        if namespaces == 0 {
            pending.push(0);
        } else {
            pending.push(1);
            pieces.push(Piece::bytes(std::mem::take(&mut pending)));
            pieces.push(piece);
        }
    }
    if !pending.is_empty() {
        pieces.push(Piece::bytes(pending));
    }
    Ok(pieces)
}

/// Reads the big-endian int at the start of a piece (a snapshot's namespace count).
pub fn first_int(piece: &Piece) -> std::io::Result<i32> {
    let mut b = [0u8; 4];
    match piece {
        Piece::Bytes(bytes) => {
            b.copy_from_slice(bytes.get(..4).ok_or(std::io::ErrorKind::UnexpectedEof)?)
        }
        Piece::Range { source, span } => {
            if span.len < 4 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            source.read_at(span.start, &mut b)?;
        }
    }
    Ok(i32::from_be_bytes(b))
}
