//! Readable views of a parsed stream: a JSON document (machine-readable, stable field
//! names) and an indented text tree made from it, for `savepointfs dump` and for
//! cross-checking the reader against an independent parser.
//!
//! One walk over the graph builds the JSON; the text form is a formatting of that JSON,
//! so both always show the same facts. The walk follows the stream's own order, so the
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

mod text;

use super::error::{Error, ErrorKind, Result};
use super::model::*;
use super::{BASE_HANDLE, flags};
use crate::source::Span;
use serde_json::{Map, Value as Json, json};

pub use text::to_text;

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

/// The graph as a JSON document (schema in the module documentation).
pub fn to_json(graph: &Graph, opts: &Options) -> Result<Json> {
    let mut walk = Walk {
        graph,
        opts,
        handles: vec![None; graph.nodes.len()],
        epoch_base: 0,
        defined: 0,
        depth: 0,
    };
    let contents = walk.contents(&graph.contents)?;
    Ok(json!({
        "source": graph.source().name(),
        "stream": {"offset": graph.start, "length": graph.len},
        "contents": contents,
    }))
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

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

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

    fn contents(&mut self, items: &[Content]) -> Result<Vec<Json>> {
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            out.push(match item {
                Content::Value(v) => self.value(*v)?,
                Content::Reset => {
                    self.epoch_base = self.defined;
                    json!({"type": "reset"})
                }
                Content::Block(b) => {
                    let bytes = self.read(b.data, self.opts.block_hex_limit as u64)?;
                    let header = if b.long { 5 } else { 2 };
                    let mut m = json!({
                        "type": "block",
                        "offset": b.data.start.saturating_sub(header),
                        "data_offset": b.data.start,
                        "length": b.data.len,
                        "long": b.long,
                        "hex": hex(&bytes),
                    });
                    if (bytes.len() as u64) < b.data.len {
                        m["truncated"] = json!(true);
                    }
                    m
                }
            });
        }
        Ok(out)
    }

    fn value(&mut self, v: Value) -> Result<Json> {
        Ok(match v {
            Value::Null => json!({"type": "null"}),
            Value::Node(id) => self.node_value(id)?,
            Value::Byte(x) => json!(x),
            Value::Short(x) => json!(x),
            Value::Int(x) => json!(x),
            Value::Long(x) => json!(x),
            Value::Char(x) => json!(x),
            Value::Boolean(x) => json!(x),
            Value::Float(x) => float(x as f64),
            Value::Double(x) => float(x),
        })
    }

    fn node_value(&mut self, id: NodeId) -> Result<Json> {
        let Some(handle) = self.define(id)? else {
            return self.reference(id);
        };
        let node = self.node(id)?;
        self.enter(node.span.start)?;
        let mut m = Map::new();
        m.insert("type".into(), json!(type_name(&node.kind)));
        m.insert("handle".into(), json!(handle_text(handle)));
        m.insert("offset".into(), json!(node.span.start));
        m.insert("end".into(), json!(node.span.end()));
        match &node.kind {
            NodeKind::ClassDesc(d) => self.class_desc(d, &mut m)?,
            NodeKind::Object(o) => {
                m.insert("class".into(), self.node_value(o.desc)?);
                let mut data = Vec::with_capacity(o.class_data.len());
                for cd in &o.class_data {
                    data.push(self.class_data(cd)?);
                }
                m.insert("class_data".into(), Json::Array(data));
            }
            NodeKind::String(s) => self.string(s, &mut m)?,
            NodeKind::Array(a) => {
                m.insert("class".into(), self.node_value(a.desc)?);
                m.insert("length".into(), json!(a.length));
                match &a.elements {
                    Elements::Primitive { typecode, data } => {
                        let preview = self.read(*data, self.opts.preview_bytes as u64)?;
                        m.insert("element".into(), json!((*typecode as char).to_string()));
                        m.insert("data_offset".into(), json!(data.start));
                        m.insert("data_length".into(), json!(data.len));
                        m.insert("hex_preview".into(), json!(hex(&preview)));
                    }
                    Elements::Values(values) => {
                        let element = self
                            .graph
                            .class_name_of(id)
                            .and_then(|n| n.bytes().get(1).copied())
                            .unwrap_or(b'L');
                        m.insert("element".into(), json!((element as char).to_string()));
                        let mut elements = Vec::with_capacity(values.len());
                        for v in values {
                            elements.push(self.value(*v)?);
                        }
                        m.insert("elements".into(), Json::Array(elements));
                    }
                }
            }
            NodeKind::Class { desc } => {
                m.insert("class".into(), self.node_value(*desc)?);
            }
            NodeKind::Enum { desc, constant } => {
                m.insert("class".into(), self.node_value(*desc)?);
                m.insert("constant".into(), self.node_value(*constant)?);
            }
        }
        self.depth -= 1;
        Ok(Json::Object(m))
    }

    fn reference(&self, id: NodeId) -> Result<Json> {
        let node = self.node(id)?;
        // Stream order guarantees a definition precedes every reference to it.
        let handle = self.handles[id as usize].ok_or_else(|| {
            self.error(
                node.span.start,
                format!("reference to node {id} before its definition"),
            )
        })?;
        let mut m = json!({
            "type": "ref",
            "handle": handle_text(handle),
            "kind": type_name(&node.kind),
            "target_offset": node.span.start,
        });
        if let NodeKind::String(s) = &node.kind {
            m["value"] = json!(self.string_text(s)?.0);
        } else if let Some(name) = self.graph.class_name_of(id) {
            m["class"] = json!(name.lossy());
        }
        Ok(m)
    }

    fn class_desc(&mut self, d: &ClassDesc, m: &mut Map<String, Json>) -> Result<()> {
        m.insert("name".into(), json!(d.name.lossy()));
        m.insert("uid".into(), json!(d.uid));
        m.insert("flags".into(), json!(d.flags));
        m.insert("flag_names".into(), json!(flag_names(d.flags)));
        if let Some(ifaces) = &d.proxy_interfaces {
            let names: Vec<String> = ifaces.iter().map(|n| n.lossy()).collect();
            m.insert("proxy_interfaces".into(), json!(names));
        }
        let mut fields = Vec::with_capacity(d.fields.len());
        for f in &d.fields {
            let mut fm = json!({
                "name": f.name.lossy(),
                "type": (f.typecode as char).to_string(),
            });
            if let Some(sig) = f.type_name {
                fm["signature"] = self.node_value(sig)?;
            }
            fields.push(fm);
        }
        m.insert("fields".into(), Json::Array(fields));
        let annotation = self.annotation(&d.annotation)?;
        m.insert("annotation".into(), annotation);
        let sup = match d.super_desc {
            Some(s) => self.node_value(s)?,
            None => Json::Null,
        };
        m.insert("super".into(), sup);
        Ok(())
    }

    fn annotation(&mut self, items: &[Content]) -> Result<Json> {
        self.enter(self.graph.start)?;
        let items = self.contents(items)?;
        self.depth -= 1;
        Ok(Json::Array(items))
    }

    fn class_data(&mut self, cd: &ClassData) -> Result<Json> {
        let desc = self.graph.class_desc(cd.desc).ok_or_else(|| {
            self.error(
                self.graph.start,
                format!("class data names node {}, not a class descriptor", cd.desc),
            )
        })?;
        let mut fields = Vec::with_capacity(cd.values.len());
        for (f, v) in desc.fields.iter().zip(&cd.values) {
            fields.push(json!({
                "name": f.name.lossy(),
                "type": (f.typecode as char).to_string(),
                "value": self.value(*v)?,
            }));
        }
        let mut m = json!({"class_name": desc.name.lossy(), "fields": fields});
        if let Some(a) = &cd.annotation {
            m["annotation"] = self.annotation(a)?;
        }
        Ok(m)
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

    fn string(&self, s: &JString, m: &mut Map<String, Json>) -> Result<()> {
        let (text, valid, truncated) = self.string_text(s)?;
        m.insert("value".into(), json!(text));
        m.insert("long".into(), json!(matches!(s, JString::Long(_))));
        if !valid {
            m.insert("valid".into(), json!(false));
        }
        if truncated {
            m.insert("truncated".into(), json!(true));
        }
        Ok(())
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
