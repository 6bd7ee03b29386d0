//! The text form: the same walk as the JSON form, laid out as an indented tree, one
//! node per line, with the node's byte offset in a left column (blank for lines that
//! are not nodes of their own: fields of primitives, references, nulls, headers).
//! Lines are written as they are made.

use super::json::scalar;
use super::{Failed, Walk, flag_names, handle_text, hex};
use crate::javaser::model::*;
use std::io::Write;

/// The left column's width and the output.
struct Text<'w> {
    w: &'w mut dyn Write,
    width: usize,
}

impl Text<'_> {
    fn line(&mut self, offset: Option<u64>, depth: usize, body: &str) -> Result<(), Failed> {
        let col = offset.map(|o| o.to_string()).unwrap_or_default();
        writeln!(
            self.w,
            "{col:>w$}  {:ind$}{body}",
            "",
            w = self.width,
            ind = depth * 2
        )
        .map_err(Failed::Write)
    }
}

/// `ac ed 00 05` from bytes.
fn spaced(bytes: &[u8]) -> String {
    let h = hex(bytes);
    let mut out = String::with_capacity(h.len() * 3 / 2);
    for (i, c) in h.chars().enumerate() {
        if i > 0 && i % 2 == 0 {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

fn type_word(code: u8) -> &'static str {
    match code {
        b'B' => "byte",
        b'C' => "char",
        b'D' => "double",
        b'F' => "float",
        b'I' => "int",
        b'J' => "long",
        b'S' => "short",
        b'Z' => "boolean",
        b'[' => "array",
        _ => "object",
    }
}

impl Walk<'_> {
    pub(super) fn text_document(&mut self, w: &mut dyn Write) -> Result<(), Failed> {
        let g = self.graph;
        let (start, len) = (g.start, g.len);
        let mut t = Text {
            w,
            width: (start + len).to_string().len(),
        };
        writeln!(
            t.w,
            "{}: Java serialization stream at offset {start}, {len} bytes",
            g.source().name()
        )
        .map_err(Failed::Write)?;
        for item in &g.contents {
            self.text_content(&mut t, item, "", 0)?;
        }
        t.w.flush().map_err(Failed::Write)
    }

    fn text_content(
        &mut self,
        t: &mut Text,
        item: &Content,
        label: &str,
        depth: usize,
    ) -> Result<(), Failed> {
        match item {
            Content::Value(v) => self.text_value(t, *v, label, depth),
            Content::Reset => {
                self.epoch_base = self.defined;
                t.line(
                    None,
                    depth,
                    &format!("{label}reset (handles restart at 0x7e0000)"),
                )
            }
            Content::Block(b) => {
                let bytes = self.read(b.data, self.opts.block_hex_limit as u64)?;
                let more = if (bytes.len() as u64) < b.data.len {
                    " …"
                } else {
                    ""
                };
                let header = if b.long { 5 } else { 2 };
                t.line(
                    Some(b.data.start.saturating_sub(header)),
                    depth,
                    &format!(
                        "{label}block data{}, {} bytes at {}: {}{more}",
                        if b.long { " (long)" } else { "" },
                        b.data.len,
                        b.data.start,
                        spaced(&bytes)
                    ),
                )
            }
        }
    }

    fn text_value(
        &mut self,
        t: &mut Text,
        v: Value,
        label: &str,
        depth: usize,
    ) -> Result<(), Failed> {
        match v {
            Value::Null => t.line(None, depth, &format!("{label}null")),
            Value::Node(id) => self.text_node(t, id, label, depth),
            other => t.line(None, depth, &format!("{label}{}", scalar(other))),
        }
    }

    /// The class name of a node with a class, and ` (class -> @H)` when its descriptor
    /// was defined earlier (empty when it follows inline).
    fn class_label(&self, id: NodeId, desc: NodeId) -> (String, String) {
        let name = self
            .graph
            .class_name_of(id)
            .map(|n| n.lossy())
            .unwrap_or_default();
        let r = match self.handles.get(desc as usize).copied().flatten() {
            Some(h) => format!(" (class -> @{})", handle_text(h)),
            None => String::new(),
        };
        (name, r)
    }

    /// The descriptor when it is defined right here (the walk meets it first).
    fn text_inline_class(
        &mut self,
        t: &mut Text,
        desc: NodeId,
        depth: usize,
    ) -> Result<(), Failed> {
        if self.handles.get(desc as usize).copied().flatten().is_none() {
            self.text_node(t, desc, "", depth)?;
        }
        Ok(())
    }

    fn text_node(
        &mut self,
        t: &mut Text,
        id: NodeId,
        label: &str,
        depth: usize,
    ) -> Result<(), Failed> {
        let node = self.node(id)?;
        let Some(handle) = self.define(id)? else {
            let r = self.target(id)?;
            let shown = match (r.kind, r.value) {
                ("string", v) => format!("string {:?}", v.unwrap_or_default()),
                (kind, _) => format!("{} {}", kind.replace('_', " "), r.class.unwrap_or_default()),
            };
            let h = handle_text(r.handle);
            return t.line(None, depth, &format!("{label}-> @{h} ({shown})"));
        };
        let h = handle_text(handle);
        let at = Some(node.span.start);
        self.enter(node.span.start)?;
        match &node.kind {
            NodeKind::String(s) => {
                let (value, valid, truncated) = self.string_text(s)?;
                let mut notes = String::new();
                if matches!(s, JString::Long(_)) {
                    notes.push_str(" (long string)");
                }
                if truncated {
                    notes.push_str(" (truncated)");
                }
                if !valid {
                    notes.push_str(" (not valid modified UTF-8)");
                }
                t.line(at, depth, &format!("{label}string @{h} {value:?}{notes}"))?;
            }
            NodeKind::Object(o) => {
                let (name, r) = self.class_label(id, o.desc);
                t.line(at, depth, &format!("{label}object @{h} {name}{r}"))?;
                self.text_inline_class(t, o.desc, depth + 1)?;
                // Classes of the hierarchy that wrote nothing are left out; the others
                // are headed by their name when there are several.
                let mut data = Vec::new();
                for cd in &o.class_data {
                    let desc = self.data_desc(cd)?;
                    if !(desc.fields.is_empty() || cd.values.is_empty()) || cd.annotation.is_some()
                    {
                        data.push((cd, desc));
                    }
                }
                let headed = data.len() > 1;
                for (cd, desc) in data {
                    let mut d = depth + 1;
                    if headed {
                        t.line(None, d, &format!("[{}]", desc.name.lossy()))?;
                        d += 1;
                    }
                    self.text_fields(t, cd, desc, d)?;
                }
            }
            NodeKind::Array(a) => {
                let (name, r) = self.class_label(id, a.desc);
                let mut body = format!("{label}array @{h} {name} length {}{r}", a.length);
                let mut elements: &[Value] = &[];
                match &a.elements {
                    Elements::Primitive { typecode, data } => {
                        let preview = self.read(*data, self.opts.preview_bytes as u64)?;
                        let more = if (preview.len() as u64) < data.len {
                            " …"
                        } else {
                            ""
                        };
                        body.push_str(&format!(
                            ": {} data, {} bytes at {}: {}{more}",
                            type_word(*typecode),
                            data.len,
                            data.start,
                            spaced(&preview)
                        ));
                    }
                    Elements::Values(v) => elements = v,
                }
                t.line(at, depth, &body)?;
                self.text_inline_class(t, a.desc, depth + 1)?;
                for (i, e) in elements.iter().enumerate() {
                    self.text_value(t, *e, &format!("[{i}] = "), depth + 1)?;
                }
            }
            NodeKind::Class { desc } => {
                let (name, r) = self.class_label(id, *desc);
                t.line(at, depth, &format!("{label}class @{h} {name}{r}"))?;
                self.text_inline_class(t, *desc, depth + 1)?;
            }
            NodeKind::Enum { desc, constant } => {
                let (name, r) = self.class_label(id, *desc);
                let value = match &self.node(*constant)?.kind {
                    NodeKind::String(s) => self.string_text(s)?.0,
                    _ => String::new(),
                };
                t.line(at, depth, &format!("{label}enum @{h} {name}.{value}{r}"))?;
                self.text_inline_class(t, *desc, depth + 1)?;
                self.text_node(t, *constant, "constant = ", depth + 1)?;
            }
            NodeKind::ClassDesc(d) => self.text_class_desc(t, d, &h, at, label, depth)?,
        }
        self.depth -= 1;
        Ok(())
    }

    fn text_class_desc(
        &mut self,
        t: &mut Text,
        d: &ClassDesc,
        h: &str,
        at: Option<u64>,
        label: &str,
        depth: usize,
    ) -> Result<(), Failed> {
        let head = match &d.proxy_interfaces {
            Some(ifaces) => {
                let names: Vec<String> = ifaces.iter().map(|n| n.lossy()).collect();
                format!("proxy class desc @{h} implements {}", names.join(", "))
            }
            None => format!("class desc @{h} {} uid {}", d.name.lossy(), d.uid),
        };
        let flags = d.flags;
        let body = format!(
            "{label}{head} flags {flags:#04x} {}",
            flag_names(flags).join("|")
        );
        t.line(at, depth, &body)?;
        for f in &d.fields {
            let name = f.name.lossy();
            match f.type_name {
                Some(sig) => self.text_node(t, sig, &format!("field {name}: "), depth + 1)?,
                None => t.line(
                    None,
                    depth + 1,
                    &format!("field {name}: {}", type_word(f.typecode)),
                )?,
            }
        }
        self.enter(self.graph.start)?;
        if !d.annotation.is_empty() {
            t.line(None, depth + 1, "class annotation:")?;
            for a in &d.annotation {
                self.text_content(t, a, "", depth + 2)?;
            }
        }
        self.depth -= 1;
        if let Some(s) = d.super_desc {
            self.text_node(t, s, "superclass: ", depth + 1)?;
        }
        Ok(())
    }

    fn text_fields(
        &mut self,
        t: &mut Text,
        cd: &ClassData,
        desc: &ClassDesc,
        depth: usize,
    ) -> Result<(), Failed> {
        for (f, v) in desc.fields.iter().zip(&cd.values) {
            let name = f.name.lossy();
            match f.typecode {
                b'L' | b'[' => self.text_value(t, *v, &format!("{name} = "), depth)?,
                b'C' => {
                    let unit = match v {
                        Value::Char(c) => *c as u32,
                        _ => 0,
                    };
                    let shown = char::from_u32(unit).map_or(String::new(), |c| format!("{c:?} "));
                    t.line(None, depth, &format!("{name}: char = {shown}({unit})"))?;
                }
                code => t.line(
                    None,
                    depth,
                    &format!("{name}: {} = {}", type_word(code), scalar(*v)),
                )?,
            }
        }
        if let Some(annotation) = &cd.annotation {
            let class = desc.name.lossy();
            self.enter(self.graph.start)?;
            if annotation.is_empty() {
                t.line(None, depth, &format!("annotation ({class}): empty"))?;
            } else {
                t.line(None, depth, &format!("annotation ({class}):"))?;
                for a in annotation {
                    self.text_content(t, a, "", depth + 1)?;
                }
            }
            self.depth -= 1;
        }
        Ok(())
    }
}
