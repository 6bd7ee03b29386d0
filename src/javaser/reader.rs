//! The stream parser. Recursive descent whose depth is bounded by [`Limits::max_depth`];
//! every length is checked against the remaining input before it is used.

use super::error::{Error, ErrorKind, Result};
use super::model::*;
use super::{BASE_HANDLE, STREAM_MAGIC, STREAM_VERSION, flags, tc};
use crate::source::{Source, Span};
use std::collections::HashSet;
use std::sync::Arc;

/// The reader's internal result: the error boxed, so that the `Result`s living in
/// every frame of the recursion stay one pointer wide. With the full [`Error`] inline,
/// unoptimized builds spent about 15 KB of stack per nesting level (7.6 MB at the
/// default depth limit, past a 2 MiB thread stack).
type Res<T> = std::result::Result<T, Box<Error>>;

/// Bounds on what one stream may make the parser do.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Nesting of objects, arrays, descriptors and annotations.
    pub max_depth: usize,
    /// Handles defined between two resets.
    pub max_handles: usize,
    /// Nodes (objects, strings, arrays, descriptors...) in the whole graph, plus the
    /// per-class data records of objects (which cost memory but maybe no input bytes).
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
    let (nodes, contents, consumed_to) = read_all(&*source, start, end, limits, first_only)?;
    Ok(Graph {
        source,
        start,
        len: consumed_to - start,
        nodes,
        contents,
    })
}

fn read_all(
    source: &dyn Source,
    start: u64,
    end: u64,
    limits: &Limits,
    first_only: bool,
) -> Result<(Vec<Node>, Vec<Content>, u64)> {
    let unbox = |e: Box<Error>| *e;
    let mut r = Reader::new(source, start, end, limits);
    r.header().map_err(unbox)?;
    let mut contents = Vec::new();
    while r.cur.pos < end {
        let c = r.content(true).map_err(unbox)?;
        let is_object = matches!(c, Content::Value(_));
        contents.push(c);
        if first_only && is_object {
            break;
        }
    }
    if first_only && !matches!(contents.last(), Some(Content::Value(_))) {
        return Err(*r.fail(ErrorKind::Truncated {
            what: "object",
            need: 1,
            have: 0,
        }));
    }
    Ok((r.nodes, contents, r.cur.pos))
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
    /// Per-class data records of objects so far, charged to `max_nodes` with the nodes
    /// and held to [`RECORDS_PER_BYTE`] of the input read.
    records: usize,
    /// Where the stream starts.
    start: u64,
}

/// Per-class data records that objects may hold per byte read so far, beyond
/// [`RECORDS_ALLOWANCE`]. A class with no fields and no annotation takes no bytes, so
/// 6-byte objects of a 512-deep chain of such classes would otherwise allocate 28 KB
/// each (250 KB of input reached 950 MB before `max_nodes` stopped it). Real streams
/// stay far below: every object takes at least 6 bytes, and it would need a hierarchy
/// of 12 classes that all write nothing to reach 2 records per byte.
const RECORDS_PER_BYTE: u64 = 2;
const RECORDS_ALLOWANCE: u64 = 4096;

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
            records: 0,
            start,
        }
    }

    fn fail(&self, kind: ErrorKind) -> Box<Error> {
        self.fail_at(kind, self.cur.pos)
    }

    #[cold]
    fn fail_at(&self, kind: ErrorKind, offset: u64) -> Box<Error> {
        Box::new(Error {
            kind,
            offset,
            source_name: self.cur.src.name(),
            path: self.render_path(),
        })
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

    fn u8(&mut self, what: &'static str) -> Res<u8> {
        prim!(self, 1, what, |b: [u8; 1]| b[0])
    }
    fn u16(&mut self, what: &'static str) -> Res<u16> {
        prim!(self, 2, what, u16::from_be_bytes)
    }
    fn i32(&mut self, what: &'static str) -> Res<i32> {
        prim!(self, 4, what, i32::from_be_bytes)
    }
    fn i64(&mut self, what: &'static str) -> Res<i64> {
        prim!(self, 8, what, i64::from_be_bytes)
    }
    fn peek(&mut self, what: &'static str) -> Res<u8> {
        self.cur.peek(what).map_err(|k| self.fail(k))
    }
    fn skip(&mut self, n: u64, what: &'static str) -> Res<Span> {
        self.cur.skip(n, what).map_err(|k| self.fail(k))
    }
    fn utf(&mut self, what: &'static str) -> Res<JStr> {
        let off = self.cur.pos;
        let n = self.u16(what)? as usize;
        match self.cur.take(n, what) {
            Ok(b) => Ok(JStr(b.into())),
            Err(k) => Err(self.fail_at(k, off)),
        }
    }

    fn header(&mut self) -> Res<()> {
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

    fn enter(&mut self) -> Res<()> {
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

    fn push_node(&mut self, kind: NodeKind, start: u64) -> Res<NodeId> {
        if self.nodes.len() + self.records >= self.limits.max_nodes {
            return Err(self.fail_at(
                ErrorKind::TooMany {
                    what: "nodes",
                    limit: self.limits.max_nodes,
                },
                start,
            ));
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

    /// Counts an object's per-class records against `max_nodes` and against the input
    /// read so far (see [`RECORDS_PER_BYTE`]).
    fn charge_records(&mut self, n: usize, at: u64) -> Res<()> {
        self.records += n;
        if self.nodes.len() + self.records > self.limits.max_nodes {
            return Err(self.fail_at(
                ErrorKind::TooMany {
                    what: "nodes",
                    limit: self.limits.max_nodes,
                },
                at,
            ));
        }
        let budget = (self.cur.pos - self.start)
            .saturating_mul(RECORDS_PER_BYTE)
            .saturating_add(RECORDS_ALLOWANCE);
        if self.records as u64 > budget {
            return Err(self.fail_at(
                ErrorKind::TooMany {
                    what: "class data records for the bytes read (2 per byte)",
                    limit: budget as usize,
                },
                at,
            ));
        }
        Ok(())
    }

    fn assign_handle(&mut self, id: NodeId) -> Res<()> {
        if self.handles.len() >= self.limits.max_handles {
            return Err(self.fail_at(
                ErrorKind::TooMany {
                    what: "handles",
                    limit: self.limits.max_handles,
                },
                self.nodes[id as usize].span.start,
            ));
        }
        self.handles.push(id);
        Ok(())
    }

    /// Reads a TC_REFERENCE's handle and resolves it.
    fn reference(&mut self) -> Res<NodeId> {
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

    fn wrong_kind(&self, off: u64, id: NodeId, expected: &'static str) -> Box<Error> {
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
    fn content(&mut self, top: bool) -> Res<Content> {
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

    // The functions below recurse into one another. Whatever does not recurse (reading
    // headers, lengths, primitives, error construction) sits in separate helpers so that
    // it does not enlarge the frames that pile up once per nesting level.

    fn content_inner(&mut self) -> Res<Content> {
        match self.peek("content")? {
            code @ (tc::BLOCKDATA | tc::BLOCKDATALONG) => {
                Ok(Content::Block(self.block(code == tc::BLOCKDATALONG)?))
            }
            tc::RESET => {
                self.u8("reset")?;
                self.handles.clear();
                Ok(Content::Reset)
            }
            _ => Ok(Content::Value(self.value_object()?)),
        }
    }

    /// One block-data record.
    fn block(&mut self, long: bool) -> Res<Block> {
        self.u8("block data")?;
        let n = if long {
            let len_off = self.cur.pos;
            let n = self.i32("block data length")?;
            if n < 0 {
                return Err(self.fail_at(
                    ErrorKind::NegativeLength {
                        what: "block data",
                        len: n as i64,
                    },
                    len_off,
                ));
            }
            n as u64
        } else {
            self.u8("block data length")? as u64
        };
        let data = self.skip(n, "block data")?;
        Ok(Block { data, long })
    }

    /// Contents up to and including TC_ENDBLOCKDATA.
    fn annotation(&mut self) -> Res<Vec<Content>> {
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
    fn value_object(&mut self) -> Res<Value> {
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
            found => return Err(self.not_an_object(found, off)),
        };
        self.leave();
        Ok(v)
    }

    #[cold]
    fn not_an_object(&self, found: u8, off: u64) -> Box<Error> {
        let kind = if found == tc::EXCEPTION {
            ErrorKind::Exception
        } else {
            ErrorKind::UnexpectedTypeCode {
                expected: "an object",
                found,
            }
        };
        self.fail_at(kind, off)
    }

    /// A class descriptor position: TC_CLASSDESC, TC_PROXYCLASSDESC, TC_NULL or a reference to one.
    fn class_desc(&mut self) -> Res<Option<NodeId>> {
        match self.peek("class descriptor")? {
            tc::CLASSDESC | tc::PROXYCLASSDESC => {
                self.enter()?;
                let id = self.new_class_desc()?;
                self.leave();
                Ok(Some(id))
            }
            _ => self.class_desc_other(),
        }
    }

    /// The non-recursive class descriptor positions: TC_NULL and references.
    fn class_desc_other(&mut self) -> Res<Option<NodeId>> {
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
    fn instance_desc(&mut self) -> Res<NodeId> {
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

    fn new_class_desc(&mut self) -> Res<NodeId> {
        // The body read so far is in the node, visible to references made from the
        // annotation and the superclass; the descriptor stays incomplete until both are read.
        let id = self.class_desc_head()?;
        self.incomplete.push(id);
        self.path.push(PathSeg::ClassAnnotation(id));
        let annotation = self.annotation()?;
        self.path.pop();
        self.path.push(PathSeg::Super(id));
        let super_off = self.cur.pos;
        let super_desc = self.class_desc()?;
        self.path.pop();
        if let Some(sup) = super_desc
            && self.incomplete.contains(&sup)
        {
            return Err(self.fail_at(
                ErrorKind::ClassCycle {
                    class: self.class_name(id),
                },
                super_off,
            ));
        }
        self.incomplete.pop();
        let node = &mut self.nodes[id as usize];
        if let NodeKind::ClassDesc(d) = &mut node.kind {
            d.annotation = annotation;
            d.super_desc = super_desc;
        }
        node.span.len = self.cur.pos - node.span.start;
        Ok(id)
    }

    /// A class descriptor up to its class annotation: type code, handle, name, UID,
    /// flags and fields (or a proxy's interfaces), stored in a new node.
    fn class_desc_head(&mut self) -> Res<NodeId> {
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
            let count_off = self.cur.pos;
            let n = self.i32("proxy interface count")?;
            if n < 0 {
                return Err(self.fail_at(
                    ErrorKind::NegativeLength {
                        what: "proxy interface count",
                        len: n as i64,
                    },
                    count_off,
                ));
            }
            if n as u64 * 2 > self.cur.remaining() {
                return Err(self.fail(ErrorKind::Truncated {
                    what: "proxy interfaces",
                    need: n as u64 * 2,
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
            let flags_off = self.cur.pos;
            desc.flags = self.u8("class flags")?;
            let f = desc.flags;
            if f & flags::SERIALIZABLE != 0 && f & flags::EXTERNALIZABLE != 0 {
                return Err(self.fail_at(
                    ErrorKind::BadFlags {
                        class: desc.name.lossy(),
                        flags: f,
                    },
                    flags_off,
                ));
            }
            let n = self.u16("field count")?;
            // A linear scan for duplicates is quadratic; past a few fields use a set.
            let mut seen: Option<HashSet<JStr>> = (n > 16).then(HashSet::new);
            for _ in 0..n {
                let field_off = self.cur.pos;
                let typecode = self.u8("field type code")?;
                let fname = self.utf("field name")?;
                if !b"BCDFIJSZL[".contains(&typecode) {
                    return Err(self.fail_at(
                        ErrorKind::BadFieldType {
                            class: desc.name.lossy(),
                            field: fname.lossy(),
                            typecode,
                        },
                        field_off,
                    ));
                }
                let duplicate = match &mut seen {
                    Some(set) => !set.insert(fname.clone()),
                    None => desc.fields.iter().any(|x| x.name == fname),
                };
                if duplicate {
                    return Err(self.fail_at(
                        ErrorKind::DuplicateField {
                            class: desc.name.lossy(),
                            field: fname.lossy(),
                        },
                        field_off,
                    ));
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
        self.nodes[id as usize].kind = NodeKind::ClassDesc(desc);
        Ok(id)
    }

    /// A field's type signature: a String object, new or referenced.
    fn type_string(&mut self) -> Res<NodeId> {
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

    fn new_string(&mut self) -> Res<NodeId> {
        let start = self.cur.pos;
        let s = if self.u8("string")? == tc::STRING {
            JString::Short(self.utf("string")?)
        } else {
            let len_off = self.cur.pos;
            let n = self.i64("long string length")?;
            if n < 0 {
                return Err(self.fail_at(
                    ErrorKind::NegativeLength {
                        what: "long string",
                        len: n,
                    },
                    len_off,
                ));
            }
            JString::Long(self.skip(n as u64, "long string")?)
        };
        let id = self.push_node(NodeKind::String(s), start)?;
        self.nodes[id as usize].span.len = self.cur.pos - start;
        self.assign_handle(id)?;
        Ok(id)
    }

    fn new_object(&mut self) -> Res<NodeId> {
        let (id, chain) = self.object_head()?;
        // Each class's record goes into the node as soon as it starts, and values are
        // stored as they are read, so this frame (one per nesting level) holds no
        // records of its own.
        for &desc in chain.iter().rev() {
            let (fields, annotated) = self.open_class_data(id, desc);
            for index in 0..fields {
                self.path.push(PathSeg::Field {
                    desc,
                    index: index as u16,
                });
                let value = self.field_value(desc, index)?;
                self.path.pop();
                self.last_class_data(id).values.push(value);
            }
            if annotated {
                self.path.push(PathSeg::Annotation(desc));
                let annotation = self.annotation()?;
                self.path.pop();
                self.last_class_data(id).annotation = Some(annotation);
            }
        }
        let node = &mut self.nodes[id as usize];
        node.span.len = self.cur.pos - node.span.start;
        Ok(id)
    }

    /// An object up to its class data: type code, descriptor, node and handle. Returns
    /// the node and the classes whose data follows, most derived first (just the
    /// object's own class when it is externalizable: its data is one annotation).
    fn object_head(&mut self) -> Res<(NodeId, Vec<NodeId>)> {
        let start = self.cur.pos;
        self.u8("object")?;
        let desc = self.instance_desc()?;
        let id = self.push_node(NodeKind::Class { desc }, start)?;
        self.assign_handle(id)?;
        let f = self.class_flags(desc);
        let chain = if f & flags::EXTERNALIZABLE != 0 {
            if f & flags::BLOCK_DATA == 0 {
                return Err(self.fail(ErrorKind::ExternalizableProtocol1 {
                    class: self.class_name(desc),
                }));
            }
            vec![desc]
        } else {
            self.hierarchy(desc, start)?
        };
        self.charge_records(chain.len(), start)?;
        self.nodes[id as usize].kind = NodeKind::Object(Object {
            desc,
            class_data: Vec::with_capacity(chain.len()),
        });
        Ok((id, chain))
    }

    /// Starts the record of class `desc` in object `id`. Returns how many field values
    /// follow in the stream and whether an annotation follows them: `writeObject` data
    /// of a serializable class, or all the data of an externalizable object's class.
    /// Other classes in the chain contribute nothing.
    fn open_class_data(&mut self, id: NodeId, desc: NodeId) -> (usize, bool) {
        let own = matches!(&self.nodes[id as usize].kind, NodeKind::Object(o) if o.desc == desc);
        let (fields, annotated) = match &self.nodes[desc as usize].kind {
            NodeKind::ClassDesc(d) if d.has(flags::SERIALIZABLE) => {
                (d.fields.len(), d.has(flags::WRITE_METHOD))
            }
            NodeKind::ClassDesc(d) => (0, own && d.has(flags::EXTERNALIZABLE)),
            _ => (0, false),
        };
        if let NodeKind::Object(o) = &mut self.nodes[id as usize].kind {
            o.class_data.push(ClassData {
                desc,
                values: Vec::with_capacity(fields.min(PREALLOCATE)),
                annotation: None,
            });
        }
        (fields, annotated)
    }

    /// The record being read of object `id` (opened by `open_class_data`).
    fn last_class_data(&mut self, id: NodeId) -> &mut ClassData {
        match &mut self.nodes[id as usize].kind {
            NodeKind::Object(o) => o.class_data.last_mut().expect("opened before use"),
            _ => unreachable!("object_head made the node an object"),
        }
    }

    fn class_flags(&self, desc: NodeId) -> u8 {
        match &self.nodes[desc as usize].kind {
            NodeKind::ClassDesc(d) => d.flags,
            _ => 0,
        }
    }

    /// `desc` and its superclasses, most derived first. Chains cannot loop (a superclass
    /// is complete before its subclass is), but references can build one far longer
    /// than inline nesting could: it is held to the same depth limit.
    fn hierarchy(&self, desc: NodeId, at: u64) -> Res<Vec<NodeId>> {
        let mut out = vec![desc];
        let mut cur = desc;
        while let NodeKind::ClassDesc(d) = &self.nodes[cur as usize].kind {
            let Some(next) = d.super_desc else { break };
            if out.len() >= self.limits.max_depth {
                return Err(self.fail_at(
                    ErrorKind::TooDeep {
                        limit: self.limits.max_depth,
                    },
                    at,
                ));
            }
            out.push(next);
            cur = next;
        }
        Ok(out)
    }

    /// The value of field `index` of class `desc`.
    fn field_value(&mut self, desc: NodeId, index: usize) -> Res<Value> {
        let typecode = match &self.nodes[desc as usize].kind {
            NodeKind::ClassDesc(d) => d.fields.get(index).map_or(b'L', |f| f.typecode),
            _ => b'L',
        };
        match typecode {
            b'L' | b'[' => self.value_object(),
            _ => self.primitive(typecode),
        }
    }

    fn primitive(&mut self, typecode: u8) -> Res<Value> {
        Ok(match typecode {
            b'B' => Value::Byte(self.u8("byte field")? as i8),
            b'C' => Value::Char(self.u16("char field")?),
            b'D' => Value::Double(f64::from_bits(self.i64("double field")? as u64)),
            b'F' => Value::Float(f32::from_bits(self.i32("float field")? as u32)),
            b'I' => Value::Int(self.i32("int field")?),
            b'J' => Value::Long(self.i64("long field")?),
            b'S' => Value::Short(self.u16("short field")? as i16),
            _ => Value::Boolean(self.u8("boolean field")? != 0),
        })
    }

    fn new_array(&mut self) -> Res<NodeId> {
        let (id, desc, length, elem) = self.array_head()?;
        let elements = match primitive_size(elem) {
            Some(size) => Elements::Primitive {
                typecode: elem,
                data: self.skip(length as u64 * size, "array elements")?,
            },
            None => {
                let mut values = Vec::with_capacity((length as usize).min(PREALLOCATE));
                for i in 0..length {
                    self.path.push(PathSeg::Element(i));
                    values.push(self.value_object()?);
                    self.path.pop();
                }
                Elements::Values(values)
            }
        };
        self.finish_node(
            id,
            NodeKind::Array(Array {
                desc,
                length,
                elements,
            }),
        );
        Ok(id)
    }

    /// An array up to its elements: type code, descriptor, length, node and handle.
    /// Returns the node, the descriptor, the length and the element type code.
    fn array_head(&mut self) -> Res<(NodeId, NodeId, u32, u8)> {
        let start = self.cur.pos;
        self.u8("array")?;
        let desc = self.instance_desc()?;
        let elem = match &self.nodes[desc as usize].kind {
            NodeKind::ClassDesc(d) => match d.name.bytes() {
                [b'[', e, ..] if primitive_size(*e).is_some() || *e == b'L' || *e == b'[' => {
                    Some(*e)
                }
                _ => None,
            },
            _ => None,
        };
        let Some(elem) = elem else {
            return Err(self.fail(ErrorKind::BadArrayClass {
                class: self.class_name(desc),
            }));
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
        // Each element takes at least one byte.
        if primitive_size(elem).is_none() && length as u64 > self.cur.remaining() {
            return Err(self.fail(ErrorKind::Truncated {
                what: "array elements",
                need: length as u64,
                have: self.cur.remaining(),
            }));
        }
        Ok((id, desc, length as u32, elem))
    }

    fn new_class(&mut self) -> Res<NodeId> {
        let start = self.cur.pos;
        self.u8("class")?;
        let desc = self.instance_desc()?;
        let id = self.push_node(NodeKind::Class { desc }, start)?;
        self.assign_handle(id)?;
        self.finish_node(id, NodeKind::Class { desc });
        Ok(id)
    }

    fn new_enum(&mut self) -> Res<NodeId> {
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

/// Most elements or field values reserved before any is read: a declared count is
/// only a claim, and nested containers would each reserve their full claim.
const PREALLOCATE: usize = 256;

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
