//! Readable views of a parsed stream: a JSON document (machine-readable, stable field
//! names) and an indented text tree made from it, for `savepointfs dump` and for
//! cross-checking the reader against an independent parser.
//!
//! Both are written as the walk goes, never built first, so memory stays the graph's
//! whatever the stream holds; both walks share the bookkeeping below, so they show the
//! same facts and handle numbers. The walk follows the stream's own order, so the
//! first time it meets a node is where the node was written: it is rendered in full
//! there and as a reference everywhere after (cycles stay finite). Handle numbers are
//! recomputed the way the reader assigns them — in node order, restarting after each
//! TC_RESET — and so match the numbers inside the stream's TC_REFERENCEs.
//!
//! # JSON schema
//! Document: `{"source": NAME, "stream": {"offset": N, "length": N}, "contents": [ITEM]}`
//! (`offset` = where `AC ED 00 05` sits, `length` = bytes the stream used).
//!
//! `ITEM` (top-level contents and annotations) is a `VALUE`, or
//! - `{"type":"block", "offset", "data_offset", "length", "long": bool, "hex", "truncated"?}`:
//!   one block-data record; `hex` holds at most [`Options::block_hex_limit`] bytes
//!   (`"truncated": true` when cut);
//! - `{"type":"reset"}`: TC_RESET, handles restart at `0x7e0000`.
//!
//! `VALUE` is `{"type":"null"}`, a reference
//! `{"type":"ref", "handle": "0x7e000a", "kind", "target_offset", "class"?, "value"?}`
//! (`kind` as in a definition's `type`; `class` = the target's class name, `value` = the
//! text of a string target), or a definition carrying `"handle"` (hex string),
//! `"offset"` (its type code) and `"end"` (exclusive), one of:
//! - `"type":"object"`, `"class": DESC`, `"class_data": [{"class_name", "fields": [FIELD],
//!   "annotation"?: [ITEM]}]`, top-most superclass first; `annotation` is present when
//!   the class wrote one (`writeObject`/`writeExternal`);
//! - `"type":"string"`, `"value"`, `"long": bool`, `"valid"?: false` (not modified UTF-8;
//!   `value` is then a lossy decoding), `"truncated"?: true` (longer than
//!   [`Options::max_string_bytes`]);
//! - `"type":"array"`, `"class": DESC`, `"length"` (elements), `"element"` (type code
//!   letter); primitive arrays add `"data_offset"`, `"data_length"` and `"hex_preview"`
//!   (the first [`Options::preview_bytes`] bytes), object arrays add `"elements": [VALUE]`;
//! - `"type":"class"`, `"class": DESC`;
//! - `"type":"enum"`, `"class": DESC`, `"constant": VALUE` (a string or a ref to one);
//! - `"type":"class_desc"`, `"name"`, `"uid"` (signed 64-bit number, exact), `"flags"`
//!   (number), `"flag_names"`, `"fields": [{"name", "type", "signature"?: VALUE}]`,
//!   `"annotation": [ITEM]`, `"super": DESC | null`, and `"proxy_interfaces": [..]`
//!   for a TC_PROXYCLASSDESC.
//!
//! `DESC` is a `class_desc` definition or a ref to one. `FIELD` is `{"name", "type", "value"}`
//! where `type` is the type code letter and `value` is a `VALUE` for `L`/`[` fields and a
//! JSON number or boolean for primitives: `B S I J` exact integers, `C` the UTF-16 code
//! unit as a number, `F D` numbers (`"NaN"`, `"Infinity"`, `"-Infinity"` as strings).

mod json;
mod text;

use super::error::{Error, ErrorKind, Result};
use super::model::*;
use super::{BASE_HANDLE, flags};
use crate::source::Span;
use serde_json::{Map, Value as Json, json};

/// The target of a reference: its handle, kind, offset, and its text (strings) or class.
struct Target {
    handle: u32,
    kind: &'static str,
    offset: u64,
    value: Option<String>,
    class: Option<String>,
}

/// Why rendering stopped: the graph or its source could not be read, or the output
/// could not be written.
#[derive(Debug, thiserror::Error)]
pub enum Failed {
    #[error("{0}")]
    Read(#[from] Error),
    #[error("writing the output: {0}")]
    Write(std::io::Error),
}

/// What the renderers show of big things, and how deep they may go.
#[derive(Clone, Debug)]
pub struct Options {
    /// Bytes of a primitive array shown as `hex_preview`.
    pub preview_bytes: usize,
    /// Bytes of one block-data record shown as `hex` (records the JDK writes are ≤ 1 KiB).
    pub block_hex_limit: usize,
    /// Bytes of a TC_LONGSTRING read for `value`.
    pub max_string_bytes: u64,
    /// Nesting bound of the walk. It mirrors the reader's nesting, so the reader's
    /// `Limits::max_depth` (512 by default) is what normally bounds it; this guards
    /// graphs parsed with larger limits against exhausting the stack.
    pub max_depth: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            preview_bytes: 32,
            block_hex_limit: 4096,
            max_string_bytes: 1 << 20,
            max_depth: 1024,
        }
    }
}

/// Writes the graph as a JSON document (schema in the module documentation).
pub fn write_json(
    graph: &Graph,
    opts: &Options,
    w: &mut dyn std::io::Write,
) -> std::result::Result<(), Failed> {
    Walk::new(graph, opts).json_document(&mut json::JsonOut::new(w))
}

/// Writes the graph as an indented text tree, one node per line.
pub fn write_text(
    graph: &Graph,
    opts: &Options,
    w: &mut dyn std::io::Write,
) -> std::result::Result<(), Failed> {
    Walk::new(graph, opts).text_document(w)
}

/// The graph as a JSON document (for small graphs: tests, cross-checks).
pub fn to_json(graph: &Graph, opts: &Options) -> std::result::Result<Json, Failed> {
    let mut out = Vec::new();
    write_json(graph, opts, &mut out)?;
    serde_json::from_slice(&out).map_err(|e| Failed::Write(e.into()))
}

/// The graph as text (for small graphs: tests).
pub fn to_text(graph: &Graph, opts: &Options) -> std::result::Result<String, Failed> {
    let mut out = Vec::new();
    write_text(graph, opts, &mut out)?;
    String::from_utf8(out).map_err(|e| Failed::Write(std::io::Error::other(e)))
}

/// `0x7e000a`: how handles are written in both forms.
pub fn handle_text(handle: u32) -> String {
    format!("{handle:#08x}")
}

/// Names of the class descriptor flags that are set.
pub fn flag_names(f: u8) -> Vec<&'static str> {
    [
        (flags::WRITE_METHOD, "WRITE_METHOD"),
        (flags::SERIALIZABLE, "SERIALIZABLE"),
        (flags::EXTERNALIZABLE, "EXTERNALIZABLE"),
        (flags::BLOCK_DATA, "BLOCK_DATA"),
        (flags::ENUM, "ENUM"),
    ]
    .into_iter()
    .filter(|(bit, _)| f & bit != 0)
    .map(|(_, name)| name)
    .collect()
}

use crate::ids::hex;

struct Walk<'g> {
    graph: &'g Graph,
    opts: &'g Options,
    /// Handle of each node, once the walk has met its definition.
    handles: Vec<Option<u32>>,
    /// Nodes defined before the latest TC_RESET: their ids precede every later node's.
    epoch_base: usize,
    defined: usize,
    depth: usize,
}

impl<'g> Walk<'g> {
    fn new(graph: &'g Graph, opts: &'g Options) -> Self {
        Walk {
            graph,
            opts,
            handles: vec![None; graph.nodes.len()],
            epoch_base: 0,
            defined: 0,
            depth: 0,
        }
    }

    fn error(&self, offset: u64, msg: String) -> Error {
        Error::new(ErrorKind::Access(msg), offset, self.graph.source().name())
    }

    fn enter(&mut self, offset: u64) -> Result<()> {
        self.depth += 1;
        if self.depth > self.opts.max_depth {
            return Err(Error::new(
                ErrorKind::TooDeep {
                    limit: self.opts.max_depth,
                },
                offset,
                self.graph.source().name(),
            ));
        }
        Ok(())
    }

    fn node(&self, id: NodeId) -> Result<&'g Node> {
        self.graph.nodes.get(id as usize).ok_or_else(|| {
            self.error(
                self.graph.start,
                format!("graph refers to node {id}, which does not exist"),
            )
        })
    }

    /// `Some(handle)` the first time a node is met (render it in full), `None` after.
    fn define(&mut self, id: NodeId) -> Result<Option<u32>> {
        let offset = self.node(id)?.span.start;
        if self.handles[id as usize].is_some() {
            return Ok(None);
        }
        // The reader numbers nodes in handle order, so the handle is the id's distance
        // from the first node after the latest reset.
        let index = (id as usize).checked_sub(self.epoch_base).ok_or_else(|| {
            self.error(
                offset,
                format!("node {id} precedes the last reset it follows"),
            )
        })?;
        let handle = BASE_HANDLE.wrapping_add(index as u32);
        self.handles[id as usize] = Some(handle);
        self.defined += 1;
        Ok(Some(handle))
    }

    fn read(&self, span: Span, limit: u64) -> Result<Vec<u8>> {
        let n = span.len.min(limit) as usize;
        let mut buf = vec![0u8; n];
        self.graph
            .source()
            .read_at(span.start, &mut buf)
            .map_err(|e| Error::new(ErrorKind::Io(e), span.start, self.graph.source().name()))?;
        Ok(buf)
    }

    /// What a reference to an already defined node shows of its target.
    fn target(&self, id: NodeId) -> Result<Target> {
        let node = self.node(id)?;
        // Stream order guarantees a definition precedes every reference to it.
        let handle = self.handles[id as usize].ok_or_else(|| {
            self.error(
                node.span.start,
                format!("reference to node {id} before its definition"),
            )
        })?;
        let (value, class) = match &node.kind {
            NodeKind::String(s) => (Some(self.string_text(s)?.0), None),
            _ => (None, self.graph.class_name_of(id).map(|n| n.lossy())),
        };
        Ok(Target {
            handle,
            kind: type_name(&node.kind),
            offset: node.span.start,
            value,
            class,
        })
    }

    /// An object array's element type code, from its class name (`[L...;` → `L`).
    fn element_code(&self, id: NodeId) -> u8 {
        self.graph
            .class_name_of(id)
            .and_then(|n| n.bytes().get(1).copied())
            .unwrap_or(b'L')
    }

    /// The descriptor a class data record belongs to.
    fn data_desc(&self, cd: &ClassData) -> Result<&'g ClassDesc> {
        self.graph.class_desc(cd.desc).ok_or_else(|| {
            self.error(
                self.graph.start,
                format!("class data names node {}, not a class descriptor", cd.desc),
            )
        })
    }

    /// The text of a string node, and whether it is complete valid modified UTF-8.
    fn string_text(&self, s: &JString) -> Result<(String, bool, bool)> {
        Ok(match s {
            JString::Short(j) => match j.decode() {
                Some(t) => (t, true, false),
                None => (j.lossy(), false, false),
            },
            JString::Long(span) => {
                let bytes = self.read(*span, self.opts.max_string_bytes)?;
                let truncated = (bytes.len() as u64) < span.len;
                match super::mutf8::decode(&bytes) {
                    Some(t) => (t, true, truncated),
                    // A cut may split a character: only a whole string is known invalid.
                    None => (super::mutf8::decode_lossy(&bytes), truncated, truncated),
                }
            }
        })
    }

    /// A string definition's members after its header.
    fn string(&self, s: &JString) -> Result<Map<String, Json>> {
        let mut m = Map::new();
        let (text, valid, truncated) = self.string_text(s)?;
        m.insert("value".into(), json!(text));
        m.insert("long".into(), json!(matches!(s, JString::Long(_))));
        if !valid {
            m.insert("valid".into(), json!(false));
        }
        if truncated {
            m.insert("truncated".into(), json!(true));
        }
        Ok(m)
    }
}

fn type_name(kind: &NodeKind) -> &'static str {
    match kind {
        NodeKind::ClassDesc(_) => "class_desc",
        NodeKind::Object(_) => "object",
        NodeKind::String(_) => "string",
        NodeKind::Array(_) => "array",
        NodeKind::Class { .. } => "class",
        NodeKind::Enum { .. } => "enum",
    }
}

fn float(x: f64) -> Json {
    if x.is_nan() {
        json!("NaN")
    } else if x.is_infinite() {
        json!(if x > 0.0 { "Infinity" } else { "-Infinity" })
    } else {
        json!(x)
    }
}

#[cfg(test)]
mod tests;
