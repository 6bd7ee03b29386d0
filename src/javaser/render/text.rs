//! The text form: the JSON document of [`super::to_json`] laid out as an indented tree,
//! one node per line, with the node's byte offset in a left column (blank for lines
//! that are not nodes of their own: fields of primitives, references, nulls, headers).

use super::{Options, flag_names, to_json};
use crate::javaser::Graph;
use crate::javaser::error::Result;
use serde_json::Value as Json;
use std::fmt::Write;

/// The graph as an indented text tree.
pub fn to_text(graph: &Graph, opts: &Options) -> Result<String> {
    let doc = to_json(graph, opts)?;
    let stream = &doc["stream"];
    let (start, len) = (num(stream, "offset"), num(stream, "length"));
    let mut out = Text {
        out: String::new(),
        width: (start + len).to_string().len(),
    };
    let _ = writeln!(
        out.out,
        "{}: Java serialization stream at offset {start}, {len} bytes",
        graph.source().name()
    );
    for item in doc["contents"].as_array().into_iter().flatten() {
        out.item(item, "", 0);
    }
    Ok(out.out)
}

fn num(v: &Json, key: &str) -> u64 {
    v.get(key).and_then(Json::as_u64).unwrap_or(0)
}

fn text<'a>(v: &'a Json, key: &str) -> &'a str {
    v.get(key).and_then(Json::as_str).unwrap_or("")
}

fn list<'a>(v: &'a Json, key: &str) -> &'a [Json] {
    v.get(key)
        .and_then(Json::as_array)
        .map_or(&[], Vec::as_slice)
}

/// `ac ed 00 05` from `aced0005`.
fn spaced(hex: &str) -> String {
    let mut out = String::with_capacity(hex.len() * 3 / 2);
    for (i, c) in hex.chars().enumerate() {
        if i > 0 && i % 2 == 0 {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

fn type_word(code: &str) -> &'static str {
    match code {
        "B" => "byte",
        "C" => "char",
        "D" => "double",
        "F" => "float",
        "I" => "int",
        "J" => "long",
        "S" => "short",
        "Z" => "boolean",
        "[" => "array",
        _ => "object",
    }
}

/// The class name a `class` entry (a descriptor or a ref to one) stands for.
fn class_of(v: &Json) -> &str {
    let class = &v["class"];
    match text(class, "type") {
        "class_desc" => text(class, "name"),
        _ => text(class, "class"),
    }
}

/// `-> @0x7e0000` when the class was defined earlier, empty when it follows inline.
fn class_ref(v: &Json) -> String {
    let class = &v["class"];
    if text(class, "type") == "ref" {
        format!(" (class -> @{})", text(class, "handle"))
    } else {
        String::new()
    }
}

struct Text {
    out: String,
    width: usize,
}

impl Text {
    fn line(&mut self, offset: Option<u64>, depth: usize, body: &str) {
        let col = offset.map(|o| o.to_string()).unwrap_or_default();
        let _ = writeln!(
            self.out,
            "{col:>w$}  {:ind$}{body}",
            "",
            w = self.width,
            ind = depth * 2
        );
    }

    /// A content item or value, `label` prefixed (`name = `, `[3] = `).
    fn item(&mut self, v: &Json, label: &str, depth: usize) {
        let at = v.get("offset").and_then(Json::as_u64);
        let handle = text(v, "handle");
        match text(v, "type") {
            "null" => self.line(None, depth, &format!("{label}null")),
            "reset" => self.line(
                None,
                depth,
                &format!("{label}reset (handles restart at 0x7e0000)"),
            ),
            "block" => {
                let more = if v.get("truncated").is_some() {
                    " …"
                } else {
                    ""
                };
                self.line(
                    at,
                    depth,
                    &format!(
                        "{label}block data{}, {} bytes at {}: {}{more}",
                        if v["long"] == true { " (long)" } else { "" },
                        num(v, "length"),
                        num(v, "data_offset"),
                        spaced(text(v, "hex"))
                    ),
                )
            }
            "ref" => {
                let target = match text(v, "kind") {
                    "string" => format!("string {:?}", text(v, "value")),
                    kind => format!("{} {}", kind.replace('_', " "), text(v, "class")),
                };
                self.line(None, depth, &format!("{label}-> @{handle} ({target})"));
            }
            "string" => {
                let mut notes = String::new();
                for (key, note) in [("long", " (long string)"), ("truncated", " (truncated)")] {
                    if v.get(key) == Some(&Json::Bool(true)) {
                        notes.push_str(note);
                    }
                }
                if v.get("valid") == Some(&Json::Bool(false)) {
                    notes.push_str(" (not valid modified UTF-8)");
                }
                let body = format!("{label}string @{handle} {:?}{notes}", text(v, "value"));
                self.line(at, depth, &body);
            }
            "object" => {
                let body = format!("{label}object @{handle} {}{}", class_of(v), class_ref(v));
                self.line(at, depth, &body);
                self.inline_class(v, depth + 1);
                // Classes of the hierarchy that wrote nothing are left out; the others
                // are headed by their name when there are several.
                let data: Vec<&Json> = list(v, "class_data")
                    .iter()
                    .filter(|cd| !list(cd, "fields").is_empty() || cd.get("annotation").is_some())
                    .collect();
                for cd in &data {
                    let mut d = depth + 1;
                    if data.len() > 1 {
                        let header = format!("[{}]", text(cd, "class_name"));
                        self.line(None, d, &header);
                        d += 1;
                    }
                    self.fields(cd, d);
                }
            }
            "array" => {
                let mut body = format!(
                    "{label}array @{handle} {} length {}{}",
                    class_of(v),
                    num(v, "length"),
                    class_ref(v)
                );
                if v.get("data_offset").is_some() {
                    let n = num(v, "data_length");
                    let shown = text(v, "hex_preview").len() as u64 / 2;
                    let preview = spaced(text(v, "hex_preview"));
                    let more = if shown < n { " …" } else { "" };
                    let _ = write!(
                        body,
                        ": {} data, {n} bytes at {}: {preview}{more}",
                        type_word(text(v, "element")),
                        num(v, "data_offset")
                    );
                }
                self.line(at, depth, &body);
                self.inline_class(v, depth + 1);
                for (i, e) in list(v, "elements").iter().enumerate() {
                    self.item(e, &format!("[{i}] = "), depth + 1);
                }
            }
            "class" => {
                let body = format!("{label}class @{handle} {}{}", class_of(v), class_ref(v));
                self.line(at, depth, &body);
                self.inline_class(v, depth + 1);
            }
            "enum" => {
                let constant = &v["constant"];
                let body = format!(
                    "{label}enum @{handle} {}.{}{}",
                    class_of(v),
                    text(constant, "value"),
                    class_ref(v)
                );
                self.line(at, depth, &body);
                self.inline_class(v, depth + 1);
                self.item(constant, "constant = ", depth + 1);
            }
            "class_desc" => self.class_desc(v, label, depth),
            other => self.line(at, depth, &format!("{label}<{other}>")),
        }
    }

    /// An object's, array's, class's or enum's descriptor when it is defined right here.
    fn inline_class(&mut self, v: &Json, depth: usize) {
        let class = &v["class"];
        if text(class, "type") == "class_desc" {
            self.class_desc(class, "", depth);
        }
    }

    fn class_desc(&mut self, v: &Json, label: &str, depth: usize) {
        let at = v.get("offset").and_then(Json::as_u64);
        let flags = num(v, "flags") as u8;
        let head = match v.get("proxy_interfaces").and_then(Json::as_array) {
            Some(ifaces) => {
                let names: Vec<&str> = ifaces.iter().filter_map(Json::as_str).collect();
                format!(
                    "proxy class desc @{} implements {}",
                    text(v, "handle"),
                    names.join(", ")
                )
            }
            None => format!(
                "class desc @{} {} uid {}",
                text(v, "handle"),
                text(v, "name"),
                v["uid"]
            ),
        };
        let body = format!(
            "{label}{head} flags {flags:#04x} {}",
            flag_names(flags).join("|")
        );
        self.line(at, depth, &body);
        for f in list(v, "fields") {
            let (code, name) = (text(f, "type"), text(f, "name"));
            match f.get("signature") {
                Some(sig) => self.item(sig, &format!("field {name}: "), depth + 1),
                None => self.line(
                    None,
                    depth + 1,
                    &format!("field {name}: {}", type_word(code)),
                ),
            }
        }
        let annotation = list(v, "annotation");
        if !annotation.is_empty() {
            self.line(None, depth + 1, "class annotation:");
            for a in annotation {
                self.item(a, "", depth + 2);
            }
        }
        let sup = &v["super"];
        if !sup.is_null() {
            self.item(sup, "superclass: ", depth + 1);
        }
    }

    fn fields(&mut self, cd: &Json, depth: usize) {
        for f in list(cd, "fields") {
            let (name, code, value) = (text(f, "name"), text(f, "type"), &f["value"]);
            match code {
                "L" | "[" => self.item(value, &format!("{name} = "), depth),
                "C" => {
                    let unit = value.as_u64().unwrap_or(0) as u32;
                    let shown = char::from_u32(unit).map_or(String::new(), |c| format!("{c:?} "));
                    self.line(None, depth, &format!("{name}: char = {shown}({unit})"));
                }
                _ => self.line(
                    None,
                    depth,
                    &format!("{name}: {} = {value}", type_word(code)),
                ),
            }
        }
        if let Some(annotation) = cd.get("annotation").and_then(Json::as_array) {
            let class = text(cd, "class_name");
            if annotation.is_empty() {
                self.line(None, depth, &format!("annotation ({class}): empty"));
            } else {
                self.line(None, depth, &format!("annotation ({class}):"));
                for a in annotation {
                    self.item(a, "", depth + 1);
                }
            }
        }
    }
}
