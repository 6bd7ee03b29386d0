//! Typed access for the layers above: fields by name up the class chain, annotations as
//! readers of block data and objects, and helpers for the JDK and Flink classes that
//! carry values (boxed primitives, String, HashMap, ArrayList, Flink tuples).

use super::error::{Error, ErrorKind, Result};
use super::model::*;
use crate::source::Span;

/// An object node with its graph, for field access by name.
#[derive(Clone, Copy)]
pub struct ObjectView<'g> {
    pub graph: &'g Graph,
    pub id: NodeId,
    pub object: &'g Object,
}

impl Graph {
    /// An access error located at a node.
    pub fn access_error(&self, id: NodeId, msg: impl Into<String>) -> Error {
        let offset = self
            .nodes
            .get(id as usize)
            .map_or(self.start, |n| n.span.start);
        Error::new(ErrorKind::Access(msg.into()), offset, self.source.name())
    }

    /// The object behind a value, or `None` for null.
    pub fn object(&self, v: Value) -> Result<Option<ObjectView<'_>>> {
        match v {
            Value::Null => Ok(None),
            Value::Node(id) => match &self.node(id).kind {
                NodeKind::Object(object) => Ok(Some(ObjectView {
                    graph: self,
                    id,
                    object,
                })),
                other => {
                    Err(self
                        .access_error(id, format!("expected an object, found a {}", other.label())))
                }
            },
            other => Err(Error::new(
                ErrorKind::Access(format!("expected an object, found {other:?}")),
                self.start,
                self.source.name(),
            )),
        }
    }

    /// The text of a String value (`None` for null).
    pub fn string_value(&self, v: Value) -> Result<Option<String>> {
        match v {
            Value::Null => Ok(None),
            Value::Node(id) => {
                match &self.node(id).kind {
                    NodeKind::String(_) => self
                        .string(id)
                        .map(Some)
                        .ok_or_else(|| self.access_error(id, "string is not valid modified UTF-8")),
                    other => Err(self
                        .access_error(id, format!("expected a string, found a {}", other.label()))),
                }
            }
            other => Err(Error::new(
                ErrorKind::Access(format!("expected a string, found {other:?}")),
                self.start,
                self.source.name(),
            )),
        }
    }

    /// The array behind a value, or `None` for null.
    pub fn array(&self, v: Value) -> Result<Option<(NodeId, &Array)>> {
        match v {
            Value::Null => Ok(None),
            Value::Node(id) => {
                match &self.node(id).kind {
                    NodeKind::Array(a) => Ok(Some((id, a))),
                    other => Err(self
                        .access_error(id, format!("expected an array, found a {}", other.label()))),
                }
            }
            other => Err(Error::new(
                ErrorKind::Access(format!("expected an array, found {other:?}")),
                self.start,
                self.source.name(),
            )),
        }
    }

    /// The span of a `byte[]` value (`None` for null).
    pub fn byte_array(&self, v: Value) -> Result<Option<Span>> {
        match self.array(v)? {
            None => Ok(None),
            Some((
                _,
                Array {
                    elements:
                        Elements::Primitive {
                            typecode: b'B',
                            data,
                        },
                    ..
                },
            )) => Ok(Some(*data)),
            Some((id, _)) => Err(self.access_error(id, "expected a byte[]")),
        }
    }
}

impl<'g> ObjectView<'g> {
    pub fn class_name(&self) -> &'g JStr {
        &self
            .graph
            .class_desc(self.object.desc)
            .expect("objects have descriptors")
            .name
    }

    /// Whether the object's class or one of its superclasses has this name.
    pub fn is_a(&self, class: &str) -> bool {
        self.graph
            .hierarchy(self.object.desc)
            .iter()
            .any(|&d| self.graph.class_desc(d).is_some_and(|c| c.name.is(class)))
    }

    /// A field's value, searched from the object's own class up its superclasses.
    pub fn field(&self, name: &str) -> Option<Value> {
        for data in self.object.class_data.iter().rev() {
            let desc = self.graph.class_desc(data.desc)?;
            if let Some(i) = desc.fields.iter().position(|f| f.name.is(name)) {
                return data.values.get(i).copied();
            }
        }
        None
    }

    /// A field that must exist (its value may still be null).
    pub fn require(&self, name: &str) -> Result<Value> {
        self.field(name)
            .ok_or_else(|| self.error(format!("{} has no field {name}", self.class_name().lossy())))
    }

    pub fn error(&self, msg: impl Into<String>) -> Error {
        self.graph.access_error(self.id, msg)
    }

    /// The annotation written by `class`'s `writeObject` (or `writeExternal`).
    pub fn annotation(&self, class: &str) -> Result<AnnotationReader<'g>> {
        for data in &self.object.class_data {
            let desc = self
                .graph
                .class_desc(data.desc)
                .expect("class data names a descriptor");
            if desc.name.is(class) {
                return match &data.annotation {
                    Some(contents) => Ok(AnnotationReader::new(self.graph, self.id, contents)),
                    None => Err(self.error(format!("class {class} wrote no annotation"))),
                };
            }
        }
        Err(self.error(format!("{} is not a {class}", self.class_name().lossy())))
    }

    /// The value of a boxed primitive (`java.lang.Long`, `Integer`, ...).
    pub fn boxed(&self) -> Result<Value> {
        const BOXES: [&str; 8] = [
            "java.lang.Long",
            "java.lang.Integer",
            "java.lang.Short",
            "java.lang.Byte",
            "java.lang.Character",
            "java.lang.Boolean",
            "java.lang.Double",
            "java.lang.Float",
        ];
        if BOXES.iter().any(|b| self.class_name().is(b)) {
            return self.require("value");
        }
        Err(self.error(format!(
            "{} is not a boxed primitive",
            self.class_name().lossy()
        )))
    }

    /// Entries of a `java.util.HashMap` (or subclass), in stream order.
    pub fn hash_map_entries(&self) -> Result<Vec<(Value, Value)>> {
        let mut a = self.annotation("java.util.HashMap")?;
        let _capacity = a.read_i32()?;
        let size = a.read_i32()?;
        if size < 0 {
            return Err(self.error(format!("HashMap size {size} is negative")));
        }
        let mut out = Vec::new();
        for _ in 0..size {
            let k = a.read_object()?;
            let v = a.read_object()?;
            out.push((k, v));
        }
        Ok(out)
    }

    /// Elements of a `java.util.ArrayList`.
    pub fn array_list_elements(&self) -> Result<Vec<Value>> {
        let mut a = self.annotation("java.util.ArrayList")?;
        let size = a.read_i32()?;
        if size < 0 {
            return Err(self.error(format!("ArrayList size {size} is negative")));
        }
        (0..size).map(|_| a.read_object()).collect()
    }
}

/// Reads an annotation the way a `readObject` method would: primitives from the block
/// data (which may straddle records) and objects in between.
pub struct AnnotationReader<'g> {
    graph: &'g Graph,
    owner: NodeId,
    contents: &'g [Content],
    index: usize,
    /// Bytes already consumed from `contents[index]` when it is a block.
    used: u64,
}

impl<'g> AnnotationReader<'g> {
    pub fn new(graph: &'g Graph, owner: NodeId, contents: &'g [Content]) -> Self {
        AnnotationReader {
            graph,
            owner,
            contents,
            index: 0,
            used: 0,
        }
    }

    fn error(&self, msg: impl Into<String>) -> Error {
        self.graph.access_error(self.owner, msg)
    }

    /// Fills `buf` from block data, crossing record boundaries.
    pub fn read_bytes(&mut self, buf: &mut [u8]) -> Result<()> {
        let mut filled = 0;
        while filled < buf.len() {
            let Some(Content::Block(b)) = self.contents.get(self.index) else {
                return Err(self.error(format!(
                    "annotation ran out of block data ({} more bytes wanted)",
                    buf.len() - filled
                )));
            };
            let avail = b.data.len - self.used;
            let n = avail.min((buf.len() - filled) as u64) as usize;
            self.graph
                .source
                .read_at(b.data.start + self.used, &mut buf[filled..filled + n])
                .map_err(|e| {
                    Error::new(
                        ErrorKind::Io(e),
                        b.data.start + self.used,
                        self.graph.source.name(),
                    )
                })?;
            filled += n;
            self.used += n as u64;
            if self.used == b.data.len {
                self.index += 1;
                self.used = 0;
            }
        }
        Ok(())
    }

    pub fn read_u8(&mut self) -> Result<u8> {
        let mut b = [0u8; 1];
        self.read_bytes(&mut b)?;
        Ok(b[0])
    }
    pub fn read_bool(&mut self) -> Result<bool> {
        Ok(self.read_u8()? != 0)
    }
    pub fn read_i32(&mut self) -> Result<i32> {
        let mut b = [0u8; 4];
        self.read_bytes(&mut b)?;
        Ok(i32::from_be_bytes(b))
    }
    pub fn read_i64(&mut self) -> Result<i64> {
        let mut b = [0u8; 8];
        self.read_bytes(&mut b)?;
        Ok(i64::from_be_bytes(b))
    }

    /// The next object. Like Java, unread block data before it is an error.
    pub fn read_object(&mut self) -> Result<Value> {
        // Empty block records may sit before an object.
        while let Some(Content::Block(b)) = self.contents.get(self.index) {
            if b.data.len > self.used {
                return Err(
                    self.error("annotation has unread block data where an object was expected")
                );
            }
            self.index += 1;
            self.used = 0;
        }
        match self.contents.get(self.index) {
            Some(Content::Value(v)) => {
                self.index += 1;
                Ok(*v)
            }
            _ => Err(self.error("annotation ran out of objects")),
        }
    }

    /// True when everything has been read.
    pub fn at_end(&self) -> bool {
        self.contents[self.index.min(self.contents.len())..]
            .iter()
            .enumerate()
            .all(|(i, c)| matches!(c, Content::Block(b) if b.data.len == if i == 0 { self.used } else { 0 }))
    }
}
