//! The JSON form, written as the walk goes: memory stays the graph's plus one frame per
//! nesting level, whatever the stream holds (building the document first took about
//! 1,500 bytes per input byte for an array of nulls).

use super::{Failed, Walk, float, handle_text, hex, type_name};
use crate::javaser::model::*;
use serde_json::{Value as Json, json};
use std::io::Write;

/// A pretty-printing JSON writer: two spaces per level, one member per line.
pub(super) struct JsonOut<'w> {
    w: &'w mut dyn Write,
    /// Per open container: whether it has a member yet.
    open: Vec<bool>,
}

impl<'w> JsonOut<'w> {
    pub(super) fn new(w: &'w mut dyn Write) -> Self {
        JsonOut {
            w,
            open: Vec::new(),
        }
    }

    fn raw(&mut self, s: &[u8]) -> Result<(), Failed> {
        self.w.write_all(s).map_err(Failed::Write)
    }

    /// Starts a member of the innermost container (or the document).
    fn next(&mut self) -> Result<(), Failed> {
        let Some(first) = self.open.last_mut() else {
            return Ok(());
        };
        let sep: &[u8] = if *first { b"\n" } else { b",\n" };
        *first = false;
        self.raw(sep)?;
        for _ in 0..self.open.len() {
            self.raw(b"  ")?;
        }
        Ok(())
    }

    fn begin(&mut self, c: u8) -> Result<(), Failed> {
        self.raw(&[c])?;
        self.open.push(true);
        Ok(())
    }

    fn end(&mut self, c: u8) -> Result<(), Failed> {
        let empty = self.open.pop().unwrap_or(true);
        if !empty {
            self.raw(b"\n")?;
            for _ in 0..self.open.len() {
                self.raw(b"  ")?;
            }
        }
        self.raw(&[c])
    }

    /// `"key": ` as the next member of an object.
    fn key(&mut self, k: &str) -> Result<(), Failed> {
        self.next()?;
        let k = serde_json::to_string(k).map_err(|e| Failed::Write(e.into()))?;
        self.raw(k.as_bytes())?;
        self.raw(b": ")
    }

    /// A small value, written compactly.
    fn value(&mut self, v: &Json) -> Result<(), Failed> {
        serde_json::to_writer(&mut *self.w, v).map_err(|e| Failed::Write(e.into()))
    }

    fn member(&mut self, k: &str, v: &Json) -> Result<(), Failed> {
        self.key(k)?;
        self.value(v)
    }

    fn members(&mut self, m: &serde_json::Map<String, Json>) -> Result<(), Failed> {
        m.iter().try_for_each(|(k, v)| self.member(k, v))
    }

    pub(super) fn finish(&mut self) -> Result<(), Failed> {
        self.raw(b"\n")?;
        self.w.flush().map_err(Failed::Write)
    }
}

impl Walk<'_> {
    pub(super) fn json_document(&mut self, o: &mut JsonOut) -> Result<(), Failed> {
        let g = self.graph;
        o.begin(b'{')?;
        o.member("source", &json!(g.source().name()))?;
        o.member("stream", &json!({"offset": g.start, "length": g.len}))?;
        o.key("contents")?;
        self.json_contents(o, &g.contents)?;
        o.end(b'}')?;
        o.finish()
    }

    fn json_contents(&mut self, o: &mut JsonOut, items: &[Content]) -> Result<(), Failed> {
        o.begin(b'[')?;
        for item in items {
            o.next()?;
            match item {
                Content::Value(v) => self.json_value(o, *v)?,
                Content::Reset => {
                    self.epoch_base = self.defined;
                    o.value(&json!({"type": "reset"}))?
                }
                Content::Block(b) => o.value(&self.block(b)?)?,
            }
        }
        o.end(b']')
    }

    fn block(&self, b: &Block) -> Result<Json, Failed> {
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
        Ok(m)
    }

    fn json_value(&mut self, o: &mut JsonOut, v: Value) -> Result<(), Failed> {
        match v {
            Value::Node(id) => self.json_node(o, id),
            other => o.value(&scalar(other)),
        }
    }

    fn json_node(&mut self, o: &mut JsonOut, id: NodeId) -> Result<(), Failed> {
        let Some(handle) = self.define(id)? else {
            let t = self.target(id)?;
            let mut m = json!({
                "type": "ref",
                "handle": handle_text(t.handle),
                "kind": t.kind,
                "target_offset": t.offset,
            });
            if let Some(v) = t.value {
                m["value"] = json!(v);
            } else if let Some(c) = t.class {
                m["class"] = json!(c);
            }
            return o.value(&m);
        };
        let node = self.node(id)?;
        self.enter(node.span.start)?;
        o.begin(b'{')?;
        o.member("type", &json!(type_name(&node.kind)))?;
        o.member("handle", &json!(handle_text(handle)))?;
        o.member("offset", &json!(node.span.start))?;
        o.member("end", &json!(node.span.end()))?;
        match &node.kind {
            NodeKind::ClassDesc(d) => self.json_class_desc(o, d)?,
            NodeKind::Object(obj) => {
                o.key("class")?;
                self.json_node(o, obj.desc)?;
                o.key("class_data")?;
                o.begin(b'[')?;
                for cd in &obj.class_data {
                    o.next()?;
                    self.json_class_data(o, cd)?;
                }
                o.end(b']')?;
            }
            NodeKind::String(s) => o.members(&self.string(s)?)?,
            NodeKind::Array(a) => {
                o.key("class")?;
                self.json_node(o, a.desc)?;
                o.member("length", &json!(a.length))?;
                match &a.elements {
                    Elements::Primitive { typecode, data } => {
                        let preview = self.read(*data, self.opts.preview_bytes as u64)?;
                        o.member("element", &json!((*typecode as char).to_string()))?;
                        o.member("data_offset", &json!(data.start))?;
                        o.member("data_length", &json!(data.len))?;
                        o.member("hex_preview", &json!(hex(&preview)))?;
                    }
                    Elements::Values(values) => {
                        let element = self.element_code(id);
                        o.member("element", &json!((element as char).to_string()))?;
                        o.key("elements")?;
                        o.begin(b'[')?;
                        for v in values {
                            o.next()?;
                            self.json_value(o, *v)?;
                        }
                        o.end(b']')?;
                    }
                }
            }
            NodeKind::Class { desc } => {
                o.key("class")?;
                self.json_node(o, *desc)?;
            }
            NodeKind::Enum { desc, constant } => {
                o.key("class")?;
                self.json_node(o, *desc)?;
                o.key("constant")?;
                self.json_node(o, *constant)?;
            }
        }
        self.depth -= 1;
        o.end(b'}')
    }

    fn json_class_desc(&mut self, o: &mut JsonOut, d: &ClassDesc) -> Result<(), Failed> {
        o.member("name", &json!(d.name.lossy()))?;
        o.member("uid", &json!(d.uid))?;
        o.member("flags", &json!(d.flags))?;
        o.member("flag_names", &json!(super::flag_names(d.flags)))?;
        if let Some(ifaces) = &d.proxy_interfaces {
            let names: Vec<String> = ifaces.iter().map(|n| n.lossy()).collect();
            o.member("proxy_interfaces", &json!(names))?;
        }
        o.key("fields")?;
        o.begin(b'[')?;
        for f in &d.fields {
            o.next()?;
            o.begin(b'{')?;
            o.member("name", &json!(f.name.lossy()))?;
            o.member("type", &json!((f.typecode as char).to_string()))?;
            if let Some(sig) = f.type_name {
                o.key("signature")?;
                self.json_node(o, sig)?;
            }
            o.end(b'}')?;
        }
        o.end(b']')?;
        o.key("annotation")?;
        self.json_annotation(o, &d.annotation)?;
        o.key("super")?;
        match d.super_desc {
            Some(s) => self.json_node(o, s),
            None => o.value(&Json::Null),
        }
    }

    fn json_annotation(&mut self, o: &mut JsonOut, items: &[Content]) -> Result<(), Failed> {
        self.enter(self.graph.start)?;
        self.json_contents(o, items)?;
        self.depth -= 1;
        Ok(())
    }

    fn json_class_data(&mut self, o: &mut JsonOut, cd: &ClassData) -> Result<(), Failed> {
        let desc = self.data_desc(cd)?;
        o.begin(b'{')?;
        o.member("class_name", &json!(desc.name.lossy()))?;
        o.key("fields")?;
        o.begin(b'[')?;
        for (f, v) in desc.fields.iter().zip(&cd.values) {
            o.next()?;
            o.begin(b'{')?;
            o.member("name", &json!(f.name.lossy()))?;
            o.member("type", &json!((f.typecode as char).to_string()))?;
            o.key("value")?;
            self.json_value(o, *v)?;
            o.end(b'}')?;
        }
        o.end(b']')?;
        if let Some(a) = &cd.annotation {
            o.key("annotation")?;
            self.json_annotation(o, a)?;
        }
        o.end(b'}')
    }
}

/// A value that is not a node, as JSON (`{"type":"null"}` for null).
pub(super) fn scalar(v: Value) -> Json {
    match v {
        Value::Null => json!({"type": "null"}),
        Value::Node(id) => json!({"type": "node", "id": id}),
        Value::Byte(x) => json!(x),
        Value::Short(x) => json!(x),
        Value::Int(x) => json!(x),
        Value::Long(x) => json!(x),
        Value::Char(x) => json!(x),
        Value::Boolean(x) => json!(x),
        Value::Float(x) => float(x as f64),
        Value::Double(x) => float(x),
    }
}
