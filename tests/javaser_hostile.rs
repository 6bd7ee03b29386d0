//! The Java serialization reader against hostile input: truncations and bit flips of
//! every fixture stream, hand-made malicious streams (huge lengths, deep nesting,
//! cycles, bad handles and flags), and the configurable limits.
//!
//! A counting global allocator (per thread, so parallel tests do not disturb each
//! other) proves that no input makes the parser allocate out of proportion.

mod common;

use savepointfs::javaser::{
    self, Content, Error, ErrorKind, Graph, Limits, NodeId, NodeKind, Value,
};
use savepointfs::source::MemSource;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------
// Allocation accounting

struct CountingAlloc;

thread_local! {
    static LIVE: Cell<usize> = const { Cell::new(0) };
    static PEAK: Cell<usize> = const { Cell::new(0) };
    static TOTAL: Cell<u64> = const { Cell::new(0) };
}

fn grew(n: usize) {
    let _ = LIVE.try_with(|live| {
        let now = live.get() + n;
        live.set(now);
        let _ = PEAK.try_with(|p| p.set(p.get().max(now)));
    });
    let _ = TOTAL.try_with(|t| t.set(t.get() + n as u64));
}

fn shrank(n: usize) {
    let _ = LIVE.try_with(|live| live.set(live.get().saturating_sub(n)));
}

unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        shrank(layout.size());
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            shrank(layout.size());
            grew(new_size);
        }
        p
    }
}

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

/// What a closure allocated on this thread: the peak of live bytes above the level at
/// the start, and the sum of all allocations.
#[derive(Clone, Copy, Debug)]
struct Usage {
    peak: usize,
    total: u64,
}

fn measured<R>(f: impl FnOnce() -> R) -> (R, Usage) {
    let base = LIVE.with(Cell::get);
    PEAK.with(|p| p.set(base));
    let total0 = TOTAL.with(Cell::get);
    let r = f();
    let usage = Usage {
        peak: PEAK.with(Cell::get) - base,
        total: TOTAL.with(Cell::get) - total0,
    };
    (r, usage)
}

const MIB: usize = 1 << 20;

// ---------------------------------------------------------------------------
// Parsing helpers

fn source(name: &str, bytes: &[u8]) -> Arc<MemSource> {
    Arc::new(MemSource::new(name, bytes.to_vec()))
}

fn parse_limited(name: &str, bytes: &[u8], limits: &Limits) -> javaser::Result<Graph> {
    javaser::parse_stream(source(name, bytes), 0, bytes.len() as u64, limits)
}

fn parse(name: &str, bytes: &[u8]) -> javaser::Result<Graph> {
    parse_limited(name, bytes, &Limits::default())
}

/// Parses input that must fail, checks where and that the message names the source.
fn fails_at(name: &str, bytes: &[u8], limits: &Limits, offset: u64) -> ErrorKind {
    let e: Error = match parse_limited(name, bytes, limits) {
        Ok(_) => panic!("{name}: parsed, but must fail"),
        Err(e) => e,
    };
    let text = e.to_string();
    assert!(
        text.starts_with(name),
        "{name}: message does not name the source: {text}"
    );
    assert_eq!(e.offset, offset, "{name}: offset of: {text}");
    e.kind
}

/// Exercises the typed access layer on every node, as a consumer of a weird but
/// well-formed graph would. It may return errors; it must not panic.
fn walk(g: &Graph) {
    use std::hint::black_box;
    for root in g.roots() {
        let _ = black_box(g.object(root).is_ok());
        let _ = black_box(g.string_value(root).is_ok());
        let _ = black_box(g.byte_array(root).is_ok());
    }
    for id in 0..g.nodes.len() as NodeId {
        black_box(g.class_name_of(id));
        let v = Value::Node(id);
        match &g.node(id).kind {
            NodeKind::String(_) => {
                black_box(g.string(id));
                let _ = black_box(g.string_value(v));
            }
            NodeKind::ClassDesc(_) => {
                assert!(g.hierarchy(id).first() == Some(&id));
            }
            NodeKind::Array(_) => {
                let _ = black_box(g.array(v).is_ok());
                let _ = black_box(g.byte_array(v));
            }
            NodeKind::Object(o) => {
                let view = g.object(v).expect("an object node").expect("not null");
                black_box(view.class_name());
                black_box(view.is_a("java.util.HashMap"));
                let _ = black_box(view.hash_map_entries());
                let _ = black_box(view.array_list_elements());
                let _ = black_box(view.tuple_fields());
                let _ = black_box(view.boxed());
                for data in &o.class_data {
                    let Some(desc) = g.class_desc(data.desc) else {
                        panic!("class data of node {id} names a non-descriptor")
                    };
                    for f in &desc.fields {
                        let name = f.name.lossy();
                        if let Ok(value) = view.require(&name) {
                            let _ = black_box(g.object(value).is_ok());
                            let _ = black_box(g.string_value(value));
                            let _ = black_box(g.array(value).is_ok());
                        }
                    }
                    if let Ok(mut a) = view.annotation(&desc.name.lossy()) {
                        black_box(a.at_end());
                        let _ = black_box(a.read_i64());
                        let _ = black_box(a.read_object());
                        let _ = black_box(a.read_bool());
                        black_box(a.at_end());
                    }
                }
            }
            NodeKind::Class { .. } | NodeKind::Enum { .. } => {}
        }
    }
}

/// The writer must give back exactly the bytes that parsed, however odd they are.
fn assert_rewritten(g: &Graph, bytes: &[u8]) {
    let chunks = javaser::write_stream(g, &javaser::WriteOptions::default())
        .unwrap_or_else(|e| panic!("writer refused a parsed graph: {e}"));
    let out = chunks.to_vec(&**g.source()).expect("chunks read back");
    assert!(out == bytes, "writer changed the bytes");
}

// ---------------------------------------------------------------------------
// Fixture streams: truncation and bit flips

fn fixture_streams() -> Vec<(String, Vec<u8>)> {
    let Some(fx) = common::shared_fixtures() else {
        return Vec::new();
    };
    let streams: Vec<_> = common::all_streams(&fx)
        .into_iter()
        .map(|(label, bytes, off, len)| (label, bytes[off..off + len].to_vec()))
        .collect();
    assert_eq!(streams.len(), 27);
    streams
}

/// Every proper prefix is an error, except the 4-byte header alone: that is a complete
/// stream with no contents (what `new ObjectOutputStream(out)` writes), which
/// `parse_stream` accepts and `parse_first_object` rejects.
#[test]
fn every_proper_prefix_of_every_fixture_stream_is_an_error() {
    let mut prefixes = 0;
    for (label, bytes) in fixture_streams() {
        let src = source(&label, &bytes);
        let whole = javaser::parse_stream(src.clone(), 0, bytes.len() as u64, &Limits::default());
        assert!(whole.is_ok(), "{label}: the whole stream must parse");
        let empty = javaser::parse_stream(src.clone(), 0, 4, &Limits::default()).unwrap();
        assert!(empty.contents.is_empty() && empty.len == 4, "{label}");
        assert!(javaser::parse_first_object(src.clone(), 0, 4, &Limits::default()).is_err());
        for end in (0..bytes.len() as u64).filter(|&end| end != 4) {
            let r = catch_unwind(AssertUnwindSafe(|| {
                let a = javaser::parse_stream(src.clone(), 0, end, &Limits::default());
                let b = javaser::parse_first_object(src.clone(), 0, end, &Limits::default());
                (a.is_err(), b.is_err())
            }));
            match r {
                Ok((true, true)) => prefixes += 1,
                Ok(r) => panic!("{label}: prefix of {end} bytes parsed: {r:?}"),
                Err(_) => panic!("{label}: prefix of {end} bytes panicked"),
            }
        }
    }
    eprintln!("{prefixes} prefixes rejected");
}

/// splitmix64: a tiny deterministic generator, so every failure is reproducible.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

const FLIPS_PER_STREAM: usize = 10_000;
const MAX_PARSE_TIME: Duration = Duration::from_secs(1);
const MAX_PARSE_ALLOC: usize = 64 * MIB;

#[test]
fn ten_thousand_bit_flips_per_fixture_stream_never_panic_hang_or_balloon() {
    let (mut ok, mut err) = (0usize, 0usize);
    let (mut slowest, mut biggest) = (Duration::ZERO, 0usize);
    for (si, (label, original)) in fixture_streams().into_iter().enumerate() {
        let seed = 0x5EED_0000 + si as u64;
        let mut rng = SplitMix(seed);
        let mut bytes = original.clone();
        for _ in 0..FLIPS_PER_STREAM {
            let bit = (rng.next() % (bytes.len() as u64 * 8)) as usize;
            bytes[bit / 8] ^= 1 << (bit % 8);
            let src = source(&label, &bytes);
            let len = bytes.len() as u64;
            let start = Instant::now();
            let (outcome, usage) = measured(|| {
                catch_unwind(AssertUnwindSafe(|| {
                    match javaser::parse_stream(src, 0, len, &Limits::default()) {
                        Ok(g) => {
                            walk(&g);
                            assert_rewritten(&g, &bytes);
                            true
                        }
                        Err(e) => {
                            assert!(e.to_string().starts_with(&label));
                            false
                        }
                    }
                }))
            });
            let took = start.elapsed();
            let what = format!("{label} (stream {si}, seed {seed:#x}, bit {bit})");
            match outcome {
                Ok(true) => ok += 1,
                Ok(false) => err += 1,
                Err(_) => panic!("{what}: panicked"),
            }
            assert!(took < MAX_PARSE_TIME, "{what}: took {took:?}");
            assert!(usage.peak < MAX_PARSE_ALLOC, "{what}: allocated {usage:?}");
            slowest = slowest.max(took);
            biggest = biggest.max(usage.peak);
            bytes[bit / 8] ^= 1 << (bit % 8);
        }
    }
    eprintln!(
        "bit flips: {ok} parsed, {err} rejected; slowest parse+walk {slowest:?}, \
         largest peak allocation {biggest} bytes"
    );
}

// ---------------------------------------------------------------------------
// Hand-made streams

const OBJECT_ARRAY: &str = "[Ljava.lang.Object;";
const H: u32 = javaser::BASE_HANDLE;

/// Stream bytes assembled by hand; `at()` gives the offsets the assertions use.
struct Stream(Vec<u8>);

impl Stream {
    fn new() -> Self {
        Stream(vec![0xAC, 0xED, 0x00, 0x05])
    }
    fn at(&self) -> u64 {
        self.0.len() as u64
    }
    fn u8(&mut self, b: u8) -> &mut Self {
        self.0.push(b);
        self
    }
    fn u16(&mut self, v: u16) -> &mut Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    fn i32(&mut self, v: i32) -> &mut Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    fn i64(&mut self, v: i64) -> &mut Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    fn utf(&mut self, s: &str) -> &mut Self {
        self.u16(s.len() as u16);
        self.0.extend_from_slice(s.as_bytes());
        self
    }
    fn reference(&mut self, handle: u32) -> &mut Self {
        self.u8(0x71).i32(handle as i32)
    }
    fn string(&mut self, s: &str) -> &mut Self {
        self.u8(0x74).utf(s)
    }
    /// TC_CLASSDESC with primitive fields only, up to its (empty) class annotation;
    /// the superclass comes next. Takes one handle.
    fn desc(&mut self, name: &str, flags: u8, fields: &[(u8, &str)]) -> &mut Self {
        self.u8(0x72).utf(name).i64(0x1234).u8(flags);
        self.u16(fields.len() as u16);
        for (t, n) in fields {
            self.u8(*t).utf(n);
        }
        self.u8(0x78)
    }
    /// A class with one object field `name` of JVM type `ty`: takes two handles
    /// (descriptor, then the type string).
    fn desc_with_object_field(
        &mut self,
        name: &str,
        flags: u8,
        field: &str,
        ty: &str,
    ) -> &mut Self {
        self.u8(0x72).utf(name).i64(0x1234).u8(flags).u16(1);
        self.u8(b'L').utf(field).string(ty).u8(0x78)
    }
}

const SER: u8 = 0x02;
const SER_WRITE: u8 = 0x03;

#[test]
fn byte_array_lengths_beyond_the_input_are_rejected_before_allocating() {
    // 75, class desc [B (handle 0), null super, then the length.
    for (len, elem, name) in [
        (i32::MAX, "[B", "bytes max"),
        (i32::MAX, "[J", "longs max"),
        (i32::MAX, OBJECT_ARRAY, "objects max"),
        (i32::MIN, "[B", "bytes negative"),
        (-1, "[I", "ints negative"),
    ] {
        let mut s = Stream::new();
        s.u8(0x75).desc(elem, SER, &[]).u8(0x70);
        let len_at = s.at();
        s.i32(len).u8(0).u8(0);
        let (kind, usage) = measured(|| {
            if len < 0 {
                fails_at(name, &s.0, &Limits::default(), len_at)
            } else {
                fails_at(name, &s.0, &Limits::default(), len_at + 4)
            }
        });
        assert!(usage.peak < MIB, "{name}: {usage:?}");
        match kind {
            ErrorKind::NegativeLength {
                what: "array",
                len: l,
            } => assert_eq!(l, len as i64),
            ErrorKind::Truncated {
                what: "array elements",
                need,
                have: 2,
            } => {
                let size = if elem == "[J" { 8 } else { 1 };
                assert_eq!(need, len as u64 * size, "{name}");
            }
            other => panic!("{name}: {other:?}"),
        }
    }
}

/// The shapes in which the grammar nests, each `levels` deep, with the offset where
/// the default depth limit (512) must stop it.
#[derive(Clone, Copy, Debug)]
enum Nesting {
    /// `Object[]` holding `Object[]` holding ...: one depth unit per level.
    ObjectArrays,
    /// An object whose field holds the next object: one unit per level.
    ObjectFields,
    /// A `writeObject` class whose annotation holds the next object: two units.
    ObjectAnnotations,
    /// A class descriptor whose superclass is written inline: one unit per level,
    /// plus its class annotation.
    Superclasses,
    /// A class descriptor whose class annotation holds an object of a new class: three.
    ClassAnnotations,
}

const SHAPES: [Nesting; 5] = [
    Nesting::ObjectArrays,
    Nesting::ObjectFields,
    Nesting::ObjectAnnotations,
    Nesting::Superclasses,
    Nesting::ClassAnnotations,
];

fn nested(shape: Nesting, levels: usize) -> (Vec<u8>, u64) {
    let mut s = Stream::new();
    // The offset at which each level enters the depth that matters for the limit.
    let mut marks = Vec::with_capacity(levels);
    let fail_level = match shape {
        Nesting::ObjectArrays => {
            for i in 0..levels {
                marks.push(s.at());
                s.u8(0x75);
                if i == 0 {
                    s.desc(OBJECT_ARRAY, SER, &[]).u8(0x70);
                } else {
                    s.reference(H);
                }
                s.i32(1);
            }
            marks.push(s.at());
            s.u8(0x70);
            512 // array i is at depth i + 1, and so is the innermost null at i = levels
        }
        Nesting::ObjectFields => {
            for i in 0..levels {
                marks.push(s.at());
                s.u8(0x73);
                if i == 0 {
                    s.desc_with_object_field("N", SER, "next", "LN;").u8(0x70);
                } else {
                    s.reference(H);
                }
            }
            marks.push(s.at());
            s.u8(0x70);
            512 // likewise
        }
        Nesting::ObjectAnnotations => {
            for i in 0..levels {
                marks.push(s.at());
                s.u8(0x73);
                if i == 0 {
                    s.desc("W", SER_WRITE, &[]).u8(0x70);
                } else {
                    s.reference(H);
                }
            }
            s.0.extend(std::iter::repeat_n(0x78, levels));
            256 // object i at depth 2i + 1, its annotation at 2i + 2
        }
        Nesting::Superclasses => {
            s.u8(0x73);
            for _ in 0..levels {
                s.u8(0x72).utf("C").i64(1).u8(SER).u16(0);
                marks.push(s.at());
                s.u8(0x78);
            }
            s.u8(0x70);
            510 // descriptor i at depth i + 2, its class annotation at i + 3
        }
        Nesting::ClassAnnotations => {
            for _ in 0..levels {
                s.u8(0x73).u8(0x72).utf("A").i64(1).u8(SER).u16(0);
                marks.push(s.at());
            }
            for _ in 0..levels {
                s.u8(0x78).u8(0x70);
            }
            170 // object i at depth 3i + 1, its class annotation at 3i + 3
        }
    };
    let fail_at = marks.get(fail_level).copied().unwrap_or(u64::MAX);
    (s.0, fail_at)
}

#[test]
fn nesting_100000_deep_stops_at_the_depth_limit() {
    for shape in SHAPES {
        let name = format!("{shape:?} x 100000");
        let (bytes, at) = nested(shape, 100_000);
        let (kind, usage) = measured(|| fails_at(&name, &bytes, &Limits::default(), at));
        assert!(
            matches!(kind, ErrorKind::TooDeep { limit: 512 }),
            "{name}: {kind:?}"
        );
        assert!(usage.peak < 16 * MIB, "{name}: {usage:?}");
    }
}

#[test]
fn nesting_right_at_the_depth_limit_parses() {
    for shape in SHAPES {
        // The most levels that stay within 512.
        let levels = match shape {
            // The innermost null is a level too.
            Nesting::ObjectArrays | Nesting::ObjectFields => 511,
            Nesting::ObjectAnnotations => 256,
            Nesting::Superclasses => 510,
            Nesting::ClassAnnotations => 170,
        };
        let name = format!("{shape:?} x {levels}");
        let (bytes, _) = nested(shape, levels);
        let g = parse(&name, &bytes).unwrap_or_else(|e| panic!("{e}"));
        walk(&g);
        assert_rewritten(&g, &bytes);
        let (deeper, at) = nested(shape, levels + 1);
        let kind = fails_at(&name, &deeper, &Limits::default(), at);
        assert!(
            matches!(kind, ErrorKind::TooDeep { .. }),
            "{name}: {kind:?}"
        );
    }
}

/// Runs `f` on a fresh thread and reports how many bytes of stack it used, by painting
/// the unused stack below the caller with a pattern and finding the lowest overwrite.
fn stack_used(f: impl FnOnce() + Send + 'static) -> usize {
    const STACK: usize = 32 * MIB;
    const PAINT: usize = 24 * MIB;
    const PATTERN: u64 = 0xA5C3_5A3C_A5C3_5A3C;
    std::thread::Builder::new()
        .stack_size(STACK)
        .spawn(move || {
            let marker = 0u8;
            let top = std::hint::black_box(&marker) as *const u8 as usize;
            let low = (top - PAINT) & !7;
            let high = (top - 64 * 1024) & !7;
            // SAFETY: [low, high) lies inside this thread's 32 MiB stack, below every
            // live frame; nothing else uses it until `f` grows into it.
            unsafe {
                let mut p = low;
                while p < high {
                    std::ptr::write_volatile(p as *mut u64, PATTERN);
                    p += 8;
                }
            }
            f();
            let mut p = low;
            // SAFETY: the same stack range, read after `f` returned.
            while p < high && unsafe { std::ptr::read_volatile(p as *const u64) } == PATTERN {
                p += 8;
            }
            top - p
        })
        .expect("spawn")
        .join()
        .expect("measured closure panicked")
}

/// The reader recurses; 512 levels of its deepest-framed shape must fit a test
/// thread's default 2 MiB stack with room to spare, in debug builds too.
#[test]
fn depth_limit_fits_in_half_of_a_2_mib_stack() {
    let mut worst = 0;
    for shape in SHAPES {
        let (bytes, at) = nested(shape, 100_000);
        let used = stack_used(move || {
            let e = parse("deep", &bytes).err().expect("too deep");
            assert_eq!(e.offset, at);
        });
        eprintln!(
            "{shape:?}: {used} bytes of stack at depth 512 ({} per depth unit)",
            used / 512
        );
        worst = worst.max(used);
    }
    assert!(worst < MIB, "deepest parse used {worst} bytes of stack");
    // And the real thing: a 2 MiB thread survives every shape.
    std::thread::Builder::new()
        .stack_size(2 * MIB)
        .spawn(|| {
            for shape in SHAPES {
                let (bytes, _) = nested(shape, 100_000);
                assert!(parse("deep", &bytes).is_err());
            }
        })
        .expect("spawn")
        .join()
        .expect("2 MiB thread");
}

#[test]
fn an_object_whose_field_references_itself_parses() {
    // desc "Self" (handle 0), type string (1), the object (2); its field -> handle 2.
    let mut s = Stream::new();
    s.u8(0x73)
        .desc_with_object_field("Self", SER, "me", "LSelf;")
        .u8(0x70)
        .reference(H + 2);
    let g = parse("self-ref", &s.0).unwrap();
    let Some(Value::Node(id)) = g.roots().next() else {
        panic!("root is an object")
    };
    let view = g.object(Value::Node(id)).unwrap().unwrap();
    assert!(view.class_name().is("Self"));
    assert_eq!(view.field("me"), Some(Value::Node(id)));
    assert_eq!(g.len, s.at());
    walk(&g);
    assert_rewritten(&g, &s.0);
}

#[test]
fn a_superclass_that_is_the_class_itself_is_a_cycle() {
    // Directly: desc "Loop" (handle 0) names handle 0 as its superclass.
    let mut s = Stream::new();
    s.u8(0x73).desc("Loop", SER, &[]);
    let super_at = s.at();
    s.reference(H);
    let kind = fails_at("direct", &s.0, &Limits::default(), super_at);
    assert!(
        matches!(&kind, ErrorKind::ClassCycle { class } if class == "Loop"),
        "{kind:?}"
    );

    // Through an inline superclass: A (0) -> B (1) -> A.
    let mut s = Stream::new();
    s.u8(0x73).desc("A", SER, &[]).desc("B", SER, &[]);
    let super_at = s.at();
    s.reference(H);
    let kind = fails_at("indirect", &s.0, &Limits::default(), super_at);
    assert!(
        matches!(&kind, ErrorKind::ClassCycle { class } if class == "B"),
        "{kind:?}"
    );

    // An object of a class whose descriptor is still being read (from its annotation).
    let mut s = Stream::new();
    s.u8(0x73).u8(0x72).utf("Early").i64(1).u8(SER).u16(0);
    let inner_at = s.at();
    s.u8(0x73).reference(H).u8(0x78).u8(0x70);
    let kind = fails_at("incomplete", &s.0, &Limits::default(), inner_at + 1);
    assert!(
        matches!(&kind, ErrorKind::IncompleteClassDesc { class } if class == "Early"),
        "{kind:?}"
    );
}

#[test]
fn a_superclass_chain_longer_than_the_depth_limit_is_rejected() {
    // 600 descriptors at the top level, each naming the previous as its superclass,
    // then an object of the last: its hierarchy is 600 deep.
    let mut s = Stream::new();
    for i in 0..600u32 {
        s.desc("D", SER, &[]);
        if i == 0 {
            s.u8(0x70)
        } else {
            s.reference(H + i - 1)
        };
    }
    let object_at = s.at();
    s.u8(0x73).reference(H + 599);
    let kind = fails_at("chain", &s.0, &Limits::default(), object_at);
    assert!(
        matches!(kind, ErrorKind::TooDeep { limit: 512 }),
        "{kind:?}"
    );
}

#[test]
fn handles_must_be_defined_and_of_the_right_kind() {
    // Nothing defined yet.
    let mut s = Stream::new();
    s.u8(0x73).reference(H + 5);
    let kind = fails_at("undefined", &s.0, &Limits::default(), 5);
    assert!(
        matches!(kind, ErrorKind::UndefinedHandle { handle, defined: 0 } if handle == H + 5),
        "{kind:?}"
    );
    assert!(
        parse("undefined", &s.0)
            .err()
            .is_some_and(|e| e.to_string().contains("0x7e0005"))
    );

    // Below the base handle.
    let mut s = Stream::new();
    s.string("x").reference(3);
    let kind = fails_at("below base", &s.0, &Limits::default(), 8);
    assert!(
        matches!(
            kind,
            ErrorKind::UndefinedHandle {
                handle: 3,
                defined: 1
            }
        ),
        "{kind:?}"
    );

    // TC_RESET forgets earlier handles.
    let mut s = Stream::new();
    s.string("x").u8(0x79);
    let at = s.at();
    s.reference(H);
    let kind = fails_at("after reset", &s.0, &Limits::default(), at);
    assert!(
        matches!(kind, ErrorKind::UndefinedHandle { defined: 0, .. }),
        "{kind:?}"
    );

    // A string where a class descriptor is expected.
    let mut s = Stream::new();
    s.string("not a class");
    let at = s.at() + 1;
    s.u8(0x73).reference(H);
    let kind = fails_at("string as desc", &s.0, &Limits::default(), at);
    assert!(
        matches!(
            kind,
            ErrorKind::WrongHandleKind { handle, expected: "class descriptor", found: "string" }
                if handle == H
        ),
        "{kind:?}"
    );

    // A class descriptor where a field's type string is expected.
    let mut s = Stream::new();
    s.u8(0x73)
        .u8(0x72)
        .utf("T")
        .i64(1)
        .u8(SER)
        .u16(1)
        .u8(b'L')
        .utf("f");
    let at = s.at();
    s.reference(H).u8(0x78).u8(0x70).u8(0x70);
    let kind = fails_at("desc as type", &s.0, &Limits::default(), at);
    assert!(
        matches!(
            kind,
            ErrorKind::WrongHandleKind {
                expected: "string",
                found: "class",
                ..
            }
        ),
        "{kind:?}"
    );
}

#[test]
fn exceptions_and_huge_lengths_are_rejected() {
    let mut s = Stream::new();
    s.u8(0x7B).u8(0x79).u8(0x73);
    let kind = fails_at("exception", &s.0, &Limits::default(), 4);
    assert!(matches!(kind, ErrorKind::Exception), "{kind:?}");

    for (len, name) in [(i64::MAX, "longstring max"), (-5, "longstring negative")] {
        let mut s = Stream::new();
        s.u8(0x7C).i64(len).u8(b'x');
        let (kind, usage) =
            measured(|| fails_at(name, &s.0, &Limits::default(), if len < 0 { 5 } else { 13 }));
        assert!(usage.peak < MIB, "{name}: {usage:?}");
        match kind {
            ErrorKind::Truncated {
                what: "long string",
                need,
                have: 1,
            } => {
                assert_eq!(need, len as u64)
            }
            ErrorKind::NegativeLength {
                what: "long string",
                len: l,
            } => assert_eq!(l, len),
            other => panic!("{name}: {other:?}"),
        }
    }

    for (len, name) in [
        (i32::MAX, "blockdatalong max"),
        (i32::MIN, "blockdatalong negative"),
    ] {
        let mut s = Stream::new();
        s.u8(0x7A).i32(len).u8(1).u8(2);
        let (kind, usage) =
            measured(|| fails_at(name, &s.0, &Limits::default(), if len < 0 { 5 } else { 9 }));
        assert!(usage.peak < MIB, "{name}: {usage:?}");
        match kind {
            ErrorKind::Truncated {
                what: "block data",
                need,
                have: 2,
            } => {
                assert_eq!(need, len as u64)
            }
            ErrorKind::NegativeLength {
                what: "block data",
                len: l,
            } => assert_eq!(l, len as i64),
            other => panic!("{name}: {other:?}"),
        }
    }

    for (count, name) in [(i32::MAX, "proxy max"), (-1, "proxy negative")] {
        let mut s = Stream::new();
        s.u8(0x73).u8(0x7D).i32(count).utf("java.lang.Runnable");
        let (kind, usage) = measured(|| {
            fails_at(
                name,
                &s.0,
                &Limits::default(),
                if count < 0 { 6 } else { 10 },
            )
        });
        assert!(usage.peak < MIB, "{name}: {usage:?}");
        match kind {
            ErrorKind::Truncated {
                what: "proxy interfaces",
                need,
                have: 20,
            } => {
                assert_eq!(need, count as u64 * 2)
            }
            ErrorKind::NegativeLength {
                what: "proxy interface count",
                len,
            } => {
                assert_eq!(len, count as i64)
            }
            other => panic!("{name}: {other:?}"),
        }
    }
}

#[test]
fn inconsistent_class_descriptors_are_rejected() {
    // Externalizable in protocol 1: its data cannot be delimited.
    let mut s = Stream::new();
    s.u8(0x73).desc("Ext", 0x04, &[]).u8(0x70);
    let data_at = s.at();
    s.u8(0x00);
    let kind = fails_at("protocol 1", &s.0, &Limits::default(), data_at);
    assert!(
        matches!(&kind, ErrorKind::ExternalizableProtocol1 { class } if class == "Ext"),
        "{kind:?}"
    );

    // Externalizable with block data parses: its data is the annotation.
    let mut s = Stream::new();
    s.u8(0x73)
        .desc("Ext", 0x0C, &[])
        .u8(0x70)
        .u8(0x77)
        .u8(1)
        .u8(9)
        .u8(0x78);
    let g = parse("protocol 2", &s.0).unwrap();
    assert_eq!(g.len, s.at());

    // SERIALIZABLE | EXTERNALIZABLE.
    let mut s = Stream::new();
    s.u8(0x73).u8(0x72).utf("Both").i64(1);
    let flags_at = s.at();
    s.u8(0x06).u16(0).u8(0x78).u8(0x70);
    let kind = fails_at("both flags", &s.0, &Limits::default(), flags_at);
    assert!(
        matches!(&kind, ErrorKind::BadFlags { class, flags: 0x06 } if class == "Both"),
        "{kind:?}"
    );

    // Duplicate field names (the second `a` is at fault).
    let mut s = Stream::new();
    s.u8(0x73).u8(0x72).utf("Dup").i64(1).u8(SER).u16(3);
    s.u8(b'I').utf("a").u8(b'J').utf("b");
    let dup_at = s.at();
    s.u8(b'I').utf("a").u8(0x78).u8(0x70);
    let kind = fails_at("duplicate", &s.0, &Limits::default(), dup_at);
    assert!(
        matches!(&kind, ErrorKind::DuplicateField { class, field } if class == "Dup" && field == "a"),
        "{kind:?}"
    );

    // The same, past the point where the reader switches to a set of names.
    let mut s = Stream::new();
    s.u8(0x73).u8(0x72).utf("Wide").i64(1).u8(SER).u16(41);
    for i in 0..40 {
        s.u8(b'I').utf(&format!("f{i}"));
    }
    let dup_at = s.at();
    s.u8(b'Z').utf("f7").u8(0x78).u8(0x70);
    let kind = fails_at("wide duplicate", &s.0, &Limits::default(), dup_at);
    assert!(
        matches!(&kind, ErrorKind::DuplicateField { field, .. } if field == "f7"),
        "{kind:?}"
    );

    // An invalid field type code.
    let mut s = Stream::new();
    s.u8(0x73).u8(0x72).utf("Odd").i64(1).u8(SER).u16(1);
    let field_at = s.at();
    s.u8(b'Q').utf("q").u8(0x78).u8(0x70);
    let kind = fails_at("bad type", &s.0, &Limits::default(), field_at);
    assert!(
        matches!(kind, ErrorKind::BadFieldType { typecode: b'Q', .. }),
        "{kind:?}"
    );
}

#[test]
fn node_and_handle_limits_fire() {
    // Ten strings, then resets between pairs: 20 nodes, never more than 2 live handles.
    let mut s = Stream::new();
    let mut starts = Vec::new();
    for i in 0..10 {
        starts.push(s.at());
        s.string(&format!("s{i}"));
    }
    let limits = Limits {
        max_nodes: 6,
        ..Limits::default()
    };
    let kind = fails_at("nodes", &s.0, &limits, starts[6]);
    assert!(
        matches!(
            kind,
            ErrorKind::TooMany {
                what: "nodes",
                limit: 6
            }
        ),
        "{kind:?}"
    );

    let limits = Limits {
        max_handles: 4,
        ..Limits::default()
    };
    let kind = fails_at("handles", &s.0, &limits, starts[4]);
    assert!(
        matches!(
            kind,
            ErrorKind::TooMany {
                what: "handles",
                limit: 4
            }
        ),
        "{kind:?}"
    );

    let mut s = Stream::new();
    for i in 0..10 {
        s.string(&format!("s{i}")).string("again").u8(0x79);
    }
    let limits = Limits {
        max_handles: 2,
        max_nodes: 20,
        ..Limits::default()
    };
    let g = parse_limited("resets", &s.0, &limits).unwrap();
    assert_eq!(g.nodes.len(), 20);
    assert_eq!(
        g.contents.iter().filter(|c| **c == Content::Reset).count(),
        10
    );

    // Per-class data of objects counts towards `max_nodes`: 100 chained empty classes
    // and objects of the last one, which carry 100 class records each but no bytes.
    let mut s = Stream::new();
    for i in 0..100u32 {
        s.desc("E", SER, &[]);
        if i == 0 {
            s.u8(0x70)
        } else {
            s.reference(H + i - 1)
        };
    }
    let mut objects = Vec::new();
    for _ in 0..20 {
        objects.push(s.at());
        s.u8(0x73).reference(H + 99);
    }
    let limits = Limits {
        max_nodes: 1000,
        ..Limits::default()
    };
    // Object j makes 100 + j + 1 nodes and 100 (j + 1) records.
    let kind = fails_at("records", &s.0, &limits, objects[8]);
    assert!(
        matches!(
            kind,
            ErrorKind::TooMany {
                what: "nodes",
                limit: 1000
            }
        ),
        "{kind:?}"
    );
    assert!(parse("records", &s.0).is_ok());
}

/// Inputs that once made the reader copy or scan a large descriptor for every small
/// object that referenced it: the work must stay proportional to the input.
#[test]
fn small_objects_of_a_large_class_cost_little() {
    let cases: [(&str, Box<dyn Fn(&mut Stream)>); 2] = [
        (
            "class annotation of 50,000 nulls",
            Box::new(|s: &mut Stream| {
                s.u8(0x73).u8(0x72).utf("Big").i64(1).u8(SER).u16(0);
                s.0.extend(std::iter::repeat_n(0x70, 50_000));
                s.u8(0x78).u8(0x70);
                for _ in 0..10_000 {
                    s.u8(0x73).reference(H);
                }
            }),
        ),
        (
            "array class named with 65,000 bytes",
            Box::new(|s: &mut Stream| {
                let name = format!("[B{}", "x".repeat(65_000));
                s.u8(0x75).desc(&name, SER, &[]).u8(0x70).i32(0);
                for _ in 0..10_000 {
                    s.u8(0x75).reference(H).i32(0);
                }
            }),
        ),
    ];
    for (name, build) in cases {
        let mut s = Stream::new();
        build(&mut s);
        let input = s.0.len();
        let (g, usage) = measured(|| parse(name, &s.0).map(|g| g.nodes.len()));
        assert!(g.is_ok(), "{name}: {g:?}");
        eprintln!("{name}: {input} input bytes, {usage:?}");
        assert!(
            usage.total < 100 * input as u64,
            "{name}: {input} bytes in, {usage:?}"
        );
    }
}

/// Truncated input that declares big containers at every level of a deep nesting
/// must not make the reader reserve room for all of them up front.
#[test]
fn deep_truncated_containers_do_not_preallocate() {
    // 500 nested Object[4096], each holding the next as element 0; the input ends
    // after the innermost array's elements.
    let mut s = Stream::new();
    for i in 0..500 {
        s.u8(0x75);
        if i == 0 {
            s.desc(OBJECT_ARRAY, SER, &[]).u8(0x70)
        } else {
            s.reference(H)
        };
        s.i32(4096);
    }
    s.0.extend(std::iter::repeat_n(0x70, 4096));
    let end = s.at();
    let input = s.0.len();
    let (kind, usage) = measured(|| fails_at("arrays", &s.0, &Limits::default(), end));
    assert!(matches!(kind, ErrorKind::Truncated { .. }), "{kind:?}");
    assert!(usage.peak < 4 * MIB, "{input} bytes in, {usage:?}");

    // A class with 65,535 object fields, 500 objects nested through the first field,
    // then the end of the input.
    let mut s = Stream::new();
    s.u8(0x73).u8(0x72).utf("Wide").i64(1).u8(SER).u16(u16::MAX);
    s.u8(b'L').utf("f0").string("LWide;");
    for i in 1..u16::MAX {
        s.u8(b'L').utf(&format!("f{i}")).reference(H + 1);
    }
    s.u8(0x78).u8(0x70);
    for _ in 1..500 {
        s.u8(0x73).reference(H);
    }
    let end = s.at();
    let input = s.0.len();
    let start = Instant::now();
    let (kind, usage) = measured(|| fails_at("wide", &s.0, &Limits::default(), end));
    let took = start.elapsed();
    assert!(matches!(kind, ErrorKind::Truncated { .. }), "{kind:?}");
    eprintln!("wide: {input} bytes in, {usage:?}, {took:?}");
    assert!(usage.peak < 16 * MIB, "{input} bytes in, {usage:?}");
    assert!(took < MAX_PARSE_TIME, "{took:?}");
}
