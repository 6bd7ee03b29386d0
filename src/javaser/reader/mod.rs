//! The stream parser. Recursive descent whose depth is bounded by [`Limits::max_depth`];
//! every length is checked against the remaining input before it is used.

mod classdesc;
mod cursor;
mod instances;

use super::error::{Error, ErrorKind, Result};
use super::model::*;
use super::{BASE_HANDLE, STREAM_MAGIC, STREAM_VERSION, tc};
use crate::source::{Source, Span};
use cursor::Cursor;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The reader's internal result: the error boxed, so that the `Result`s living in
/// every frame of the recursion stay one pointer wide. With the full [`Error`] inline,
/// unoptimized builds spent about 15 KB of stack per nesting level (7.6 MB at the
/// default depth limit, past a 2 MiB thread stack).
type Res<T> = std::result::Result<T, Box<Error>>;

/// The default [`Limits::max_bytes`]: a real Flink 1.1 blob (one subtask's handles,
/// or a whole job's for the inline kinds) takes far less; big payloads are spans.
pub const DEFAULT_MAX_BYTES: usize = 24 << 20;

/// The process's [`Limits::max_bytes`] default (the binary's `--graph-memory`).
static MAX_BYTES: AtomicUsize = AtomicUsize::new(DEFAULT_MAX_BYTES);

/// Sets the graph memory bound that `Limits::default()` gives from now on.
pub fn set_default_max_bytes(n: usize) {
    MAX_BYTES.store(n, Ordering::Relaxed);
}

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
    /// Memory the decoded graph may take (nodes, values, names, handles), whatever
    /// the input: one byte of input can cost 16–46 bytes of graph (an `Object[]` of
    /// nulls, a run of empty strings), so a node count alone does not bound it.
    pub max_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_depth: 512,
            max_handles: 1 << 24,
            max_nodes: 1 << 24,
            max_bytes: MAX_BYTES.load(Ordering::Relaxed),
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

/// What comes next in a stream that mixes objects with raw bytes written beside its
/// `ObjectOutputStream` (drained between them, so no block-data framing): an object, `n`
/// raw bytes, or the end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next {
    Object,
    Raw(u64),
    End,
}

/// Parses such a stream in `[start, end)` of `source`: `next` is asked before each item,
/// given the raw runs read so far (whose bytes may say how many objects follow). Returns
/// the graph of the objects (handles run on across the raw bytes, as Java numbers them)
/// and where each raw run is.
pub fn parse_interleaved(
    source: Arc<dyn Source>,
    start: u64,
    end: u64,
    limits: &Limits,
    next: &mut dyn FnMut(&[Span]) -> Next,
) -> Result<(Graph, Vec<Span>)> {
    let end = end.min(source.len());
    let unbox = |e: Box<Error>| *e;
    let mut r = Reader::new(&*source, start, end, limits);
    r.header().map_err(unbox)?;
    let mut contents = Vec::new();
    let mut raw = Vec::new();
    loop {
        match next(&raw) {
            Next::End => break,
            Next::Raw(n) => {
                let span = r.cur.skip(n, "raw bytes").map_err(|k| *r.fail(k))?;
                raw.push(span);
            }
            Next::Object => {
                let code = r.cur.peek("an object").map_err(|k| *r.fail(k))?;
                if matches!(code, tc::BLOCKDATA | tc::BLOCKDATALONG | tc::RESET) {
                    return Err(*r.fail(ErrorKind::UnexpectedTypeCode {
                        expected: "an object",
                        found: code,
                    }));
                }
                let c = r.content(true).map_err(unbox)?;
                r.charge(CONTENT_COST, r.cur.pos).map_err(unbox)?;
                contents.push(c);
            }
        }
    }
    let (nodes, len) = (r.nodes, r.cur.pos - start);
    Ok((
        Graph {
            source,
            start,
            len,
            nodes,
            contents,
        },
        raw,
    ))
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
        r.charge(CONTENT_COST, r.cur.pos).map_err(unbox)?;
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
    /// Estimated heap bytes of the graph so far, held to `max_bytes`.
    bytes: usize,
}

/// Per-class data records that objects may hold per byte read so far, beyond
/// [`RECORDS_ALLOWANCE`]. A class with no fields and no annotation takes no bytes, so
/// 6-byte objects of a 512-deep chain of such classes would otherwise allocate 28 KB
/// each (250 KB of input reached 950 MB before `max_nodes` stopped it). Real streams
/// stay far below: every object takes at least 6 bytes, and it would need a hierarchy
/// of 12 classes that all write nothing to reach 2 records per byte.
const RECORDS_PER_BYTE: u64 = 2;
/// What [`Limits::max_bytes`] charges per node (the node and its handle slot), per
/// field or element value and per content item; owned names are charged by length.
const NODE_COST: usize = std::mem::size_of::<Node>() + std::mem::size_of::<NodeId>();
pub(super) const VALUE_COST: usize = std::mem::size_of::<Value>();
const CONTENT_COST: usize = std::mem::size_of::<Content>();
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
        let cur = Cursor::new(src, start, end);
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
            bytes: 0,
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
        self.charge(n, off)?;
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
        self.charge(NODE_COST, start)?;
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

    /// Counts `n` bytes of graph memory against `max_bytes`.
    fn charge(&mut self, n: usize, at: u64) -> Res<()> {
        self.bytes = self.bytes.saturating_add(n);
        if self.bytes > self.limits.max_bytes {
            return Err(self.fail_at(
                ErrorKind::TooMany {
                    what: "bytes of decoded graph (raise the bound with --graph-memory)",
                    limit: self.limits.max_bytes,
                },
                at,
            ));
        }
        Ok(())
    }

    /// Counts an object's per-class records against `max_nodes` and against the input
    /// read so far (see [`RECORDS_PER_BYTE`]).
    fn charge_records(&mut self, n: usize, at: u64) -> Res<()> {
        self.records += n;
        self.charge(n * std::mem::size_of::<ClassData>(), at)?;
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
            let c = self.content(false)?;
            self.charge(CONTENT_COST, self.cur.pos)?;
            out.push(c);
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
