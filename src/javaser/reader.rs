//! The stream parser. Recursive descent whose depth is bounded by [`Limits::max_depth`];
//! every length is checked against the remaining input before it is used.

use super::error::{Error, ErrorKind, Result};
use super::model::*;
use super::{BASE_HANDLE, STREAM_MAGIC, STREAM_VERSION, flags, tc};
use crate::source::{Source, Span};
use std::sync::Arc;

/// Bounds on what one stream may make the parser do.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Nesting of objects, arrays, descriptors and annotations.
    pub max_depth: usize,
    /// Handles defined between two resets.
    pub max_handles: usize,
    /// Nodes (objects, strings, arrays, descriptors...) in the whole graph.
    pub max_nodes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_depth: 512,
            max_handles: 1 << 24,
            max_nodes: 1 << 24,
        }
    }
}

/// Parses a whole stream occupying `[start, end)` of `source`: header, then contents
/// up to `end`.
pub fn parse_stream(
    source: Arc<dyn Source>,
    start: u64,
    end: u64,
    limits: &Limits,
) -> Result<Graph> {
    parse(source, start, end, limits, false)
}

/// Parses the header and the first object of a stream that starts at `start`; the
/// stream's length (`Graph::len`) is found by parsing (e.g. inside a RocksDB snapshot,
/// where streams are not length-prefixed).
pub fn parse_first_object(
    source: Arc<dyn Source>,
    start: u64,
    end: u64,
    limits: &Limits,
) -> Result<Graph> {
    parse(source, start, end, limits, true)
}

fn parse(
    source: Arc<dyn Source>,
    start: u64,
    end: u64,
    limits: &Limits,
    first_only: bool,
) -> Result<Graph> {
    let end = end.min(source.len());
    let (nodes, contents, consumed_to) = {
        let mut r = Reader::new(&*source, start, end, limits);
        r.header()?;
        let mut contents = Vec::new();
        while r.cur.pos < end {
            let c = r.content(true)?;
            let is_object = matches!(c, Content::Value(_));
            contents.push(c);
            if first_only && is_object {
                break;
            }
        }
        if first_only && !matches!(contents.last(), Some(Content::Value(_))) {
            return Err(r.fail(ErrorKind::Truncated {
                what: "object",
                need: 1,
                have: 0,
            }));
        }
        (r.nodes, contents, r.cur.pos)
    };
    Ok(Graph {
        source,
        start,
        len: consumed_to - start,
        nodes,
        contents,
    })
}

/// Buffered positional reading over a source, bounded by `end`.
struct Cursor<'s> {
    src: &'s dyn Source,
    slice: Option<&'s [u8]>,
    pos: u64,
    end: u64,
    buf: Vec<u8>,
    buf_start: u64,
}

const WINDOW: usize = 128 * 1024;

impl<'s> Cursor<'s> {
    fn remaining(&self) -> u64 {
        self.end.saturating_sub(self.pos)
    }

    /// The next `n` bytes (n ≤ 65,544), advancing past them.
    fn take(&mut self, n: usize, what: &'static str) -> Result<&[u8], ErrorKind> {
        if (n as u64) > self.remaining() {
            return Err(ErrorKind::Truncated {
                what,
                need: n as u64,
                have: self.remaining(),
            });
        }
        let pos = self.pos;
        self.pos += n as u64;
        if let Some(s) = self.slice {
            return Ok(&s[pos as usize..pos as usize + n]);
        }
        let in_buf =
            pos >= self.buf_start && pos + n as u64 <= self.buf_start + self.buf.len() as u64;
        if !in_buf {
            let want = (self.end - pos).min(WINDOW.max(n) as u64) as usize;
            self.buf.resize(want, 0);
            self.src
                .read_at(pos, &mut self.buf)
                .map_err(ErrorKind::Io)?;
            self.buf_start = pos;
        }
        let off = (pos - self.buf_start) as usize;
        Ok(&self.buf[off..off + n])
    }

    fn peek(&mut self, what: &'static str) -> Result<u8, ErrorKind> {
        let b = self.take(1, what)?[0];
        self.pos -= 1;
        Ok(b)
    }

    /// Passes over `n` bytes without reading them, returning their span.
    fn skip(&mut self, n: u64, what: &'static str) -> Result<Span, ErrorKind> {
        if n > self.remaining() {
            return Err(ErrorKind::Truncated {
                what,
                need: n,
                have: self.remaining(),
            });
        }
        let span = Span::new(self.pos, n);
        self.pos += n;
        Ok(span)
    }
}

#[derive(Clone, Copy)]
enum PathSeg {
    Top(usize),
    Field { desc: NodeId, index: u16 },
    Element(u32),
    Annotation(NodeId),
    ClassAnnotation(NodeId),
    Super(NodeId),
}

struct Reader<'s, 'l> {
    cur: Cursor<'s>,
    limits: &'l Limits,
    nodes: Vec<Node>,
    /// Handle number - BASE_HANDLE → node.
    handles: Vec<NodeId>,
    /// Descriptors whose handle exists but whose body is still being read.
    incomplete: Vec<NodeId>,
    depth: usize,
    path: Vec<PathSeg>,
    top_index: usize,
}

macro_rules! prim {
    ($self:ident, $n:expr, $what:expr, $conv:expr) => {{
        let off = $self.cur.pos;
        match $self.cur.take($n, $what) {
            Ok(b) => {
                let b: [u8; $n] = b.try_into().expect("take returned the requested length");
                Ok($conv(b))
            }
            Err(k) => Err($self.fail_at(k, off)),
        }
    }};
}

impl<'s, 'l> Reader<'s, 'l> {
    fn new(src: &'s dyn Source, start: u64, end: u64, limits: &'l Limits) -> Self {
        let cur = Cursor {
            src,
            slice: src.as_slice(),
            pos: start,
            end,
            buf: Vec::new(),
            buf_start: 0,
        };
        Reader {
            cur,
            limits,
            nodes: Vec::new(),
            handles: Vec::new(),
            incomplete: Vec::new(),
            depth: 0,
            path: Vec::new(),
            top_index: 0,
        }
    }

    fn fail(&self, kind: ErrorKind) -> Error {
        self.fail_at(kind, self.cur.pos)
    }

    fn fail_at(&self, kind: ErrorKind, offset: u64) -> Error {
        Error {
            kind,
            offset,
            source_name: self.cur.src.name(),
            path: self.render_path(),
        }
    }

    fn render_path(&self) -> String {
        let mut out = String::new();
        for seg in &self.path {
            match *seg {
                PathSeg::Top(i) => out.push_str(&format!("content[{i}]")),
                PathSeg::Field { desc, index } => {
                    if let NodeKind::ClassDesc(d) = &self.nodes[desc as usize].kind {
                        let field = d
                            .fields
                            .get(index as usize)
                            .map(|f| f.name.lossy())
                            .unwrap_or_default();
                        out.push_str(&format!(".{}", field));
                    }
                }
                PathSeg::Element(i) => out.push_str(&format!("[{i}]")),
                PathSeg::Annotation(desc) => {
                    out.push_str(&format!("<{} annotation>", self.class_name(desc)))
                }
                PathSeg::ClassAnnotation(desc) => {
                    out.push_str(&format!("<{} class annotation>", self.class_name(desc)))
                }
                PathSeg::Super(desc) => {
                    out.push_str(&format!("<{} superclass>", self.class_name(desc)))
                }
            }
        }
        out
    }

    fn class_name(&self, desc: NodeId) -> String {
        match &self.nodes[desc as usize].kind {
            NodeKind::ClassDesc(d) => d.name.lossy(),
            _ => String::new(),
        }
    }

    fn u8(&mut self, what: &'static str) -> Result<u8> {
        prim!(self, 1, what, |b: [u8; 1]| b[0])
    }
    fn u16(&mut self, what: &'static str) -> Result<u16> {
        prim!(self, 2, what, u16::from_be_bytes)
    }
    fn i32(&mut self, what: &'static str) -> Result<i32> {
        prim!(self, 4, what, i32::from_be_bytes)
    }
    fn i64(&mut self, what: &'static str) -> Result<i64> {
        prim!(self, 8, what, i64::from_be_bytes)
    }
    fn peek(&mut self, what: &'static str) -> Result<u8> {
        self.cur.peek(what).map_err(|k| self.fail(k))
    }
    fn skip(&mut self, n: u64, what: &'static str) -> Result<Span> {
        self.cur.skip(n, what).map_err(|k| self.fail(k))
    }
    fn utf(&mut self, what: &'static str) -> Result<JStr> {
        let off = self.cur.pos;
        let n = self.u16(what)? as usize;
        match self.cur.take(n, what) {
            Ok(b) => Ok(JStr(b.into())),
            Err(k) => Err(self.fail_at(k, off)),
        }
    }

    fn header(&mut self) -> Result<()> {
        let off = self.cur.pos;
        let magic = self.u16("stream header")?;
        let version = self.u16("stream header")?;
        if magic != STREAM_MAGIC || version != STREAM_VERSION {
            return Err(self.fail_at(
                ErrorKind::BadHeader {
                    found: (magic as u32) << 16 | version as u32,
                },
                off,
            ));
        }
        Ok(())
    }

    fn enter(&mut self) -> Result<()> {
        self.depth += 1;
        if self.depth > self.limits.max_depth {
            return Err(self.fail(ErrorKind::TooDeep {
                limit: self.limits.max_depth,
            }));
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth -= 1;
    }

    fn push_node(&mut self, kind: NodeKind, start: u64) -> Result<NodeId> {
        if self.nodes.len() >= self.limits.max_nodes {
            return Err(self.fail(ErrorKind::TooMany {
                what: "nodes",
                limit: self.limits.max_nodes,
            }));
        }
        self.nodes.push(Node {
            kind,
            span: Span::new(start, 0),
        });
        Ok((self.nodes.len() - 1) as NodeId)
    }

    fn finish_node(&mut self, id: NodeId, kind: NodeKind) {
        let node = &mut self.nodes[id as usize];
        node.kind = kind;
        node.span.len = self.cur.pos - node.span.start;
    }

    fn assign_handle(&mut self, id: NodeId) -> Result<()> {
        if self.handles.len() >= self.limits.max_handles {
            return Err(self.fail(ErrorKind::TooMany {
                what: "handles",
                limit: self.limits.max_handles,
            }));
        }
        self.handles.push(id);
        Ok(())
    }

    /// Reads a TC_REFERENCE's handle and resolves it.
    fn reference(&mut self) -> Result<NodeId> {
        let off = self.cur.pos;
        self.u8("reference")?;
        let handle = self.i32("reference handle")? as u32;
        let index = handle.wrapping_sub(BASE_HANDLE) as usize;
        match self.handles.get(index) {
            Some(&id) => Ok(id),
            None => Err(self.fail_at(
                ErrorKind::UndefinedHandle {
                    handle,
                    defined: self.handles.len() as u32,
                },
                off,
            )),
        }
    }

    fn wrong_kind(&self, off: u64, id: NodeId, expected: &'static str) -> Error {
        let handle = self
            .handles
            .iter()
            .position(|&h| h == id)
            .map_or(0, |p| p as u32 + BASE_HANDLE);
        self.fail_at(
            ErrorKind::WrongHandleKind {
                handle,
                expected,
                found: self.nodes[id as usize].kind.label(),
            },
            off,
        )
    }

    /// One item of a content sequence (top level or annotation).
    fn content(&mut self, top: bool) -> Result<Content> {
        if top {
            self.path.push(PathSeg::Top(self.top_index));
            self.top_index += 1;
        }
        let r = self.content_inner();
        if top && r.is_ok() {
            self.path.pop();
        }
        r
    }

    fn content_inner(&mut self) -> Result<Content> {
        match self.peek("content")? {
            tc::BLOCKDATA => {
                self.u8("block data")?;
                let n = self.u8("block data length")? as u64;
                let data = self.skip(n, "block data")?;
                Ok(Content::Block(Block { data, long: false }))
            }
            tc::BLOCKDATALONG => {
                self.u8("block data")?;
                let n = self.i32("block data length")?;
                if n < 0 {
                    return Err(self.fail(ErrorKind::NegativeLength {
                        what: "block data",
                        len: n as i64,
                    }));
                }
                let data = self.skip(n as u64, "block data")?;
                Ok(Content::Block(Block { data, long: true }))
            }
            tc::RESET => {
                self.u8("reset")?;
                self.handles.clear();
                Ok(Content::Reset)
            }
            _ => Ok(Content::Value(self.value_object()?)),
        }
    }

    /// Contents up to and including TC_ENDBLOCKDATA.
    fn annotation(&mut self) -> Result<Vec<Content>> {
        self.enter()?;
        let mut out = Vec::new();
        loop {
            if self.peek("annotation")? == tc::ENDBLOCKDATA {
                self.u8("end of block data")?;
                break;
            }
            out.push(self.content(false)?);
        }
        self.leave();
        Ok(out)
    }

    /// An object in a field, array element or content position.
    fn value_object(&mut self) -> Result<Value> {
        let off = self.cur.pos;
        self.enter()?;
        let v = match self.peek("object")? {
            tc::NULL => {
                self.u8("null")?;
                Value::Null
            }
            tc::REFERENCE => Value::Node(self.reference()?),
            tc::OBJECT => Value::Node(self.new_object()?),
            tc::STRING | tc::LONGSTRING => Value::Node(self.new_string()?),
            tc::ARRAY => Value::Node(self.new_array()?),
            tc::CLASS => Value::Node(self.new_class()?),
            tc::ENUM => Value::Node(self.new_enum()?),
            tc::CLASSDESC | tc::PROXYCLASSDESC => Value::Node(self.new_class_desc()?),
            tc::EXCEPTION => return Err(self.fail_at(ErrorKind::Exception, off)),
            found => {
                return Err(self.fail_at(
                    ErrorKind::UnexpectedTypeCode {
                        expected: "an object",
                        found,
                    },
                    off,
                ));
            }
        };
        self.leave();
        Ok(v)
    }

    /// A class descriptor position: TC_CLASSDESC, TC_PROXYCLASSDESC, TC_NULL or a reference to one.
    fn class_desc(&mut self) -> Result<Option<NodeId>> {
        let off = self.cur.pos;
        match self.peek("class descriptor")? {
            tc::NULL => {
                self.u8("null")?;
                Ok(None)
            }
            tc::REFERENCE => {
                let id = self.reference()?;
                if !matches!(self.nodes[id as usize].kind, NodeKind::ClassDesc(_)) {
                    return Err(self.wrong_kind(off, id, "class descriptor"));
                }
                Ok(Some(id))
            }
            tc::CLASSDESC | tc::PROXYCLASSDESC => {
                self.enter()?;
                let id = self.new_class_desc()?;
                self.leave();
                Ok(Some(id))
            }
            found => Err(self.fail_at(
                ErrorKind::UnexpectedTypeCode {
                    expected: "a class descriptor",
                    found,
                },
                off,
            )),
        }
    }

    /// A class descriptor that instances are about to use: present and complete.
    fn instance_desc(&mut self) -> Result<NodeId> {
        let off = self.cur.pos;
        let Some(id) = self.class_desc()? else {
            return Err(self.fail_at(
                ErrorKind::UnexpectedTypeCode {
                    expected: "a class descriptor",
                    found: tc::NULL,
                },
                off,
            ));
        };
        if self.incomplete.contains(&id) {
            return Err(self.fail_at(
                ErrorKind::IncompleteClassDesc {
                    class: self.class_name(id),
                },
                off,
            ));
        }
        Ok(id)
    }

    fn new_class_desc(&mut self) -> Result<NodeId> {
        let start = self.cur.pos;
        let code = self.u8("class descriptor")?;
        let placeholder = NodeKind::Class { desc: 0 };
        let id = self.push_node(placeholder, start)?;
        let mut desc = ClassDesc {
            name: JStr(Box::default()),
            uid: 0,
            flags: flags::SERIALIZABLE,
            fields: Vec::new(),
            annotation: Vec::new(),
            super_desc: None,
            proxy_interfaces: None,
        };
        if code == tc::PROXYCLASSDESC {
            self.assign_handle(id)?;
            let n = self.i32("proxy interface count")?;
            if n < 0 || n as u64 * 2 > self.cur.remaining() {
                return Err(self.fail(ErrorKind::Truncated {
                    what: "proxy interfaces",
                    need: (n as i64).unsigned_abs() * 2,
                    have: self.cur.remaining(),
                }));
            }
            let mut names = Vec::new();
            for _ in 0..n {
                names.push(self.utf("proxy interface name")?);
            }
            desc.proxy_interfaces = Some(names);
        } else {
            desc.name = self.utf("class name")?;
            desc.uid = self.i64("serialVersionUID")?;
            self.assign_handle(id)?;
            desc.flags = self.u8("class flags")?;
            let name = desc.name.lossy();
            let f = desc.flags;
            if f & flags::SERIALIZABLE != 0 && f & flags::EXTERNALIZABLE != 0 {
                return Err(self.fail(ErrorKind::BadFlags {
                    class: name,
                    flags: f,
                }));
            }
            let n = self.u16("field count")?;
            for _ in 0..n {
                let typecode = self.u8("field type code")?;
                let fname = self.utf("field name")?;
                if !b"BCDFIJSZL[".contains(&typecode) {
                    return Err(self.fail(ErrorKind::BadFieldType {
                        class: name,
                        field: fname.lossy(),
                        typecode,
                    }));
                }
                if desc.fields.iter().any(|x| x.name == fname) {
                    return Err(self.fail(ErrorKind::DuplicateField {
                        class: name,
                        field: fname.lossy(),
                    }));
                }
                let type_name = if typecode == b'L' || typecode == b'[' {
                    Some(self.type_string()?)
                } else {
                    None
                };
                desc.fields.push(FieldDesc {
                    typecode,
                    name: fname,
                    type_name,
                });
            }
        }
        // The body so far is visible to references made from the annotation and superclass.
        self.nodes[id as usize].kind = NodeKind::ClassDesc(desc.clone());
        self.incomplete.push(id);
        self.path.push(PathSeg::ClassAnnotation(id));
        desc.annotation = self.annotation()?;
        self.path.pop();
        self.path.push(PathSeg::Super(id));
        let super_off = self.cur.pos;
        desc.super_desc = self.class_desc()?;
        self.path.pop();
        if let Some(sup) = desc.super_desc {
            if self.incomplete.contains(&sup) {
                return Err(self.fail_at(
                    ErrorKind::ClassCycle {
                        class: desc.name.lossy(),
                    },
                    super_off,
                ));
            }
        }
        self.incomplete.pop();
        self.finish_node(id, NodeKind::ClassDesc(desc));
        Ok(id)
    }

    /// A field's type signature: a String object, new or referenced.
    fn type_string(&mut self) -> Result<NodeId> {
        let off = self.cur.pos;
        match self.peek("field type")? {
            tc::STRING | tc::LONGSTRING => self.new_string(),
            tc::REFERENCE => {
                let id = self.reference()?;
                match self.nodes[id as usize].kind {
                    NodeKind::String(_) => Ok(id),
                    _ => Err(self.wrong_kind(off, id, "string")),
                }
            }
            found => Err(self.fail_at(
                ErrorKind::UnexpectedTypeCode {
                    expected: "a field type string",
                    found,
                },
                off,
            )),
        }
    }

    fn new_string(&mut self) -> Result<NodeId> {
        let start = self.cur.pos;
        let s = if self.u8("string")? == tc::STRING {
            JString::Short(self.utf("string")?)
        } else {
            let n = self.i64("long string length")?;
            if n < 0 {
                return Err(self.fail(ErrorKind::NegativeLength {
                    what: "long string",
                    len: n,
                }));
            }
            JString::Long(self.skip(n as u64, "long string")?)
        };
        let id = self.push_node(NodeKind::String(s), start)?;
        self.nodes[id as usize].span.len = self.cur.pos - start;
        self.assign_handle(id)?;
        Ok(id)
    }

    fn new_object(&mut self) -> Result<NodeId> {
        let start = self.cur.pos;
        self.u8("object")?;
        let desc = self.instance_desc()?;
        let id = self.push_node(NodeKind::Class { desc }, start)?;
        self.assign_handle(id)?;
        let own = self.nodes[desc as usize].kind.clone();
        let NodeKind::ClassDesc(own) = own else {
            unreachable!("instance_desc checks the kind")
        };
        let mut class_data = Vec::new();
        if own.has(flags::EXTERNALIZABLE) {
            if !own.has(flags::BLOCK_DATA) {
                return Err(self.fail(ErrorKind::ExternalizableProtocol1 {
                    class: own.name.lossy(),
                }));
            }
            self.path.push(PathSeg::Annotation(desc));
            let annotation = self.annotation()?;
            self.path.pop();
            class_data.push(ClassData {
                desc,
                values: Vec::new(),
                annotation: Some(annotation),
            });
        } else {
            let chain = hierarchy(&self.nodes, desc);
            for &d in chain.iter().rev() {
                class_data.push(self.class_data(d)?);
            }
        }
        self.finish_node(id, NodeKind::Object(Object { desc, class_data }));
        Ok(id)
    }

    fn class_data(&mut self, desc_id: NodeId) -> Result<ClassData> {
        let NodeKind::ClassDesc(desc) = &self.nodes[desc_id as usize].kind else {
            unreachable!("hierarchies hold descriptors only")
        };
        if !desc.has(flags::SERIALIZABLE) {
            return Ok(ClassData {
                desc: desc_id,
                values: Vec::new(),
                annotation: None,
            });
        }
        let typecodes: Vec<u8> = desc.fields.iter().map(|f| f.typecode).collect();
        let write_method = desc.has(flags::WRITE_METHOD);
        let mut values = Vec::with_capacity(typecodes.len());
        for (i, &t) in typecodes.iter().enumerate() {
            self.path.push(PathSeg::Field {
                desc: desc_id,
                index: i as u16,
            });
            values.push(self.field_value(t)?);
            self.path.pop();
        }
        let annotation = if write_method {
            self.path.push(PathSeg::Annotation(desc_id));
            let a = self.annotation()?;
            self.path.pop();
            Some(a)
        } else {
            None
        };
        Ok(ClassData {
            desc: desc_id,
            values,
            annotation,
        })
    }

    fn field_value(&mut self, typecode: u8) -> Result<Value> {
        Ok(match typecode {
            b'B' => Value::Byte(self.u8("byte field")? as i8),
            b'C' => Value::Char(self.u16("char field")?),
            b'D' => Value::Double(f64::from_bits(self.i64("double field")? as u64)),
            b'F' => Value::Float(f32::from_bits(self.i32("float field")? as u32)),
            b'I' => Value::Int(self.i32("int field")?),
            b'J' => Value::Long(self.i64("long field")?),
            b'S' => Value::Short(self.u16("short field")? as i16),
            b'Z' => Value::Boolean(self.u8("boolean field")? != 0),
            _ => self.value_object()?,
        })
    }

    fn new_array(&mut self) -> Result<NodeId> {
        let start = self.cur.pos;
        self.u8("array")?;
        let desc = self.instance_desc()?;
        let name = match &self.nodes[desc as usize].kind {
            NodeKind::ClassDesc(d) => d.name.clone(),
            _ => unreachable!("instance_desc checks the kind"),
        };
        let elem = match name.bytes() {
            [b'[', e, ..] => *e,
            _ => {
                return Err(self.fail(ErrorKind::BadArrayClass {
                    class: name.lossy(),
                }));
            }
        };
        let len_off = self.cur.pos;
        let length = self.i32("array length")?;
        if length < 0 {
            return Err(self.fail_at(
                ErrorKind::NegativeLength {
                    what: "array",
                    len: length as i64,
                },
                len_off,
            ));
        }
        let id = self.push_node(NodeKind::Class { desc }, start)?;
        self.assign_handle(id)?;
        let elements = match primitive_size(elem) {
            Some(size) => {
                let data = self.skip(length as u64 * size, "array elements")?;
                Elements::Primitive {
                    typecode: elem,
                    data,
                }
            }
            None if elem == b'L' || elem == b'[' => {
                if length as u64 > self.cur.remaining() {
                    return Err(self.fail(ErrorKind::Truncated {
                        what: "array elements",
                        need: length as u64,
                        have: self.cur.remaining(),
                    }));
                }
                let mut values = Vec::with_capacity((length as usize).min(4096));
                for i in 0..length as u32 {
                    self.path.push(PathSeg::Element(i));
                    values.push(self.value_object()?);
                    self.path.pop();
                }
                Elements::Values(values)
            }
            None => {
                return Err(self.fail(ErrorKind::BadArrayClass {
                    class: name.lossy(),
                }));
            }
        };
        self.finish_node(
            id,
            NodeKind::Array(Array {
                desc,
                length: length as u32,
                elements,
            }),
        );
        Ok(id)
    }

    fn new_class(&mut self) -> Result<NodeId> {
        let start = self.cur.pos;
        self.u8("class")?;
        let desc = self.instance_desc()?;
        let id = self.push_node(NodeKind::Class { desc }, start)?;
        self.assign_handle(id)?;
        self.finish_node(id, NodeKind::Class { desc });
        Ok(id)
    }

    fn new_enum(&mut self) -> Result<NodeId> {
        let start = self.cur.pos;
        self.u8("enum")?;
        let desc = self.instance_desc()?;
        let id = self.push_node(NodeKind::Class { desc }, start)?;
        self.assign_handle(id)?;
        let constant = self.type_string()?;
        self.finish_node(id, NodeKind::Enum { desc, constant });
        Ok(id)
    }
}

fn hierarchy(nodes: &[Node], desc: NodeId) -> Vec<NodeId> {
    let mut out = vec![desc];
    let mut cur = desc;
    while let NodeKind::ClassDesc(d) = &nodes[cur as usize].kind {
        match d.super_desc {
            Some(s) if !out.contains(&s) => {
                out.push(s);
                cur = s;
            }
            _ => break,
        }
    }
    out
}

/// Bytes per element of a primitive array type code.
pub fn primitive_size(typecode: u8) -> Option<u64> {
    match typecode {
        b'B' | b'Z' => Some(1),
        b'C' | b'S' => Some(2),
        b'I' | b'F' => Some(4),
        b'J' | b'D' => Some(8),
        _ => None,
    }
}
