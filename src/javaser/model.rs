//! The parsed graph: an arena of nodes addressed by [`NodeId`], each remembering its
//! byte range. Java references become shared `NodeId`s, so cycles are just ids.

use super::mutf8;
use crate::source::{Source, Span};
use std::sync::Arc;

/// Index of a node in [`Graph::nodes`].
pub type NodeId = u32;

/// A string as it sits in the stream: modified UTF-8 bytes, kept verbatim so that
/// re-emitting is byte-exact even for strings Rust cannot represent.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct JStr(pub Box<[u8]>);

impl JStr {
    pub fn new(s: &str) -> Self {
        JStr(mutf8::encode(s).into_boxed_slice())
    }
    pub fn bytes(&self) -> &[u8] {
        &self.0
    }
    /// The text, when it is valid modified UTF-8.
    pub fn decode(&self) -> Option<String> {
        mutf8::decode(&self.0)
    }
    pub fn lossy(&self) -> String {
        mutf8::decode_lossy(&self.0)
    }
    /// Cheap comparison with ASCII/UTF-8 text (identical encodings for those).
    pub fn is(&self, s: &str) -> bool {
        &*self.0 == s.as_bytes()
    }
}

impl std::fmt::Debug for JStr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.lossy())
    }
}

/// A field or array element value. Objects are referenced by id.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Value {
    Null,
    Node(NodeId),
    Byte(i8),
    Char(u16),
    Double(f64),
    Float(f32),
    Int(i32),
    Long(i64),
    Short(i16),
    Boolean(bool),
}

impl Value {
    pub fn node(self) -> Option<NodeId> {
        match self {
            Value::Node(id) => Some(id),
            _ => None,
        }
    }
}

/// One item of a content sequence: the top level of a stream, a class annotation or
/// an object annotation (the data a `writeObject` method added).
#[derive(Clone, Debug, PartialEq)]
pub enum Content {
    /// An object (or null).
    Value(Value),
    /// One block-data record, as segmented in the input (kept for byte-exact output).
    Block(Block),
    /// TC_RESET: the handle table was cleared here.
    Reset,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Block {
    /// The payload bytes (without the record header).
    pub data: Span,
    /// Written as TC_BLOCKDATALONG rather than TC_BLOCKDATA.
    pub long: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct FieldDesc {
    /// `B C D F I J S Z` for primitives, `L` or `[` for references.
    pub typecode: u8,
    pub name: JStr,
    /// For `L`/`[`: the String node holding the JVM type signature.
    pub type_name: Option<NodeId>,
}

impl FieldDesc {
    pub fn is_primitive(&self) -> bool {
        self.type_name.is_none()
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct ClassDesc {
    pub name: JStr,
    pub uid: i64,
    pub flags: u8,
    pub fields: Vec<FieldDesc>,
    pub annotation: Vec<Content>,
    pub super_desc: Option<NodeId>,
    /// `Some` for a TC_PROXYCLASSDESC: its interface names (then `name` is empty).
    pub proxy_interfaces: Option<Vec<JStr>>,
}

impl ClassDesc {
    pub fn has(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }
}

/// The data one class of an object's hierarchy contributed.
#[derive(Clone, Debug, PartialEq)]
pub struct ClassData {
    pub desc: NodeId,
    /// Field values in descriptor order.
    pub values: Vec<Value>,
    /// What `writeObject`/`writeExternal` added, up to TC_ENDBLOCKDATA.
    pub annotation: Option<Vec<Content>>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Object {
    pub desc: NodeId,
    /// Top-most serializable superclass first, as in the stream.
    pub class_data: Vec<ClassData>,
}

/// Array elements: primitive arrays are spans, never copied.
#[derive(Clone, Debug, PartialEq)]
pub enum Elements {
    Primitive { typecode: u8, data: Span },
    Values(Vec<Value>),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Array {
    pub desc: NodeId,
    pub length: u32,
    pub elements: Elements,
}

#[derive(Clone, Debug, PartialEq)]
pub enum JString {
    /// TC_STRING: at most 65,535 bytes, owned.
    Short(JStr),
    /// TC_LONGSTRING: left in the source.
    Long(Span),
}

#[derive(Clone, Debug, PartialEq)]
pub enum NodeKind {
    ClassDesc(ClassDesc),
    Object(Object),
    String(JString),
    Array(Array),
    Class { desc: NodeId },
    Enum { desc: NodeId, constant: NodeId },
}

#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub kind: NodeKind,
    /// Where the node was written in full, from its type code on.
    pub span: Span,
}

impl NodeKind {
    pub fn label(&self) -> &'static str {
        match self {
            NodeKind::ClassDesc(_) => "class descriptor",
            NodeKind::Object(_) => "object",
            NodeKind::String(_) => "string",
            NodeKind::Array(_) => "array",
            NodeKind::Class { .. } => "class",
            NodeKind::Enum { .. } => "enum constant",
        }
    }
}

/// A parsed stream (or the first object of one), with the source its spans point into.
pub struct Graph {
    pub(crate) source: Arc<dyn Source>,
    /// Where the stream's magic number sits in the source.
    pub start: u64,
    /// Bytes consumed from `start`, header included.
    pub len: u64,
    pub nodes: Vec<Node>,
    /// Top-level contents in stream order.
    pub contents: Vec<Content>,
}

impl Graph {
    pub fn source(&self) -> &Arc<dyn Source> {
        &self.source
    }

    pub fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id as usize]
    }

    pub fn class_desc(&self, id: NodeId) -> Option<&ClassDesc> {
        match &self.nodes.get(id as usize)?.kind {
            NodeKind::ClassDesc(d) => Some(d),
            _ => None,
        }
    }

    /// The top-level objects (block data and resets skipped).
    pub fn roots(&self) -> impl Iterator<Item = Value> + '_ {
        self.contents.iter().filter_map(|c| match c {
            Content::Value(v) => Some(*v),
            _ => None,
        })
    }

    /// The class name of any node that has a class (objects, arrays, enums, descriptors).
    pub fn class_name_of(&self, id: NodeId) -> Option<&JStr> {
        let desc = match &self.node(id).kind {
            NodeKind::ClassDesc(_) => id,
            NodeKind::Object(o) => o.desc,
            NodeKind::Array(a) => a.desc,
            NodeKind::Enum { desc, .. } | NodeKind::Class { desc } => *desc,
            NodeKind::String(_) => return None,
        };
        self.class_desc(desc).map(|d| &d.name)
    }

    /// The descriptor chain from `desc` up to the root superclass (`desc` first).
    /// Chains are acyclic: the reader rejects cycles.
    pub fn hierarchy(&self, desc: NodeId) -> Vec<NodeId> {
        let mut out = vec![desc];
        let mut cur = desc;
        while let Some(next) = self.class_desc(cur).and_then(|d| d.super_desc) {
            if out.contains(&next) {
                break;
            }
            out.push(next);
            cur = next;
        }
        out
    }

    /// The text of a String node (reads a long string from the source).
    pub fn string(&self, id: NodeId) -> Option<String> {
        match &self.node(id).kind {
            NodeKind::String(JString::Short(s)) => s.decode(),
            NodeKind::String(JString::Long(span)) => {
                let bytes = crate::source::read_span(&*self.source, *span).ok()?;
                mutf8::decode(&bytes)
            }
            _ => None,
        }
    }
}
