//! The Java serialization reader against hostile input: truncations and bit flips of
//! every fixture stream, hand-made malicious streams (huge lengths, deep nesting,
//! cycles, bad handles and flags), and the configurable limits.
//!
//! A counting global allocator (per thread, so parallel tests do not disturb each
//! other; see `hostile/mod.rs`) proves that no input makes the parser allocate out of
//! proportion, and a stack probe that deep nesting fits a 2 MiB thread.

mod common;
mod hostile;

use hostile::walk::walk;
use hostile::{
    H, MIB, Nesting, OBJECT_ARRAY, SER, SHAPES, SplitMix, Stream, measured, nested, stack_used,
};
use savepointfs::javaser::{self, Content, Error, ErrorKind, Graph, Limits, Value};
use savepointfs::source::MemSource;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::time::{Duration, Instant};

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

const FLIPS_PER_STREAM: usize = 10_000;
const MAX_PARSE_TIME: Duration = Duration::from_secs(1);
const MAX_PARSE_ALLOC: usize = 64 * MIB;

#[test]
fn ten_thousand_bit_flips_per_fixture_stream_never_panic_hang_or_balloon() {
    let (mut ok, mut err) = (0usize, 0usize);
    let (mut slowest, mut biggest) = (Duration::ZERO, 0usize);
    for (si, (label, original)) in fixture_streams().into_iter().enumerate() {
        let seed = 0x5EED_0000 + si as u64;
        let mut rng = SplitMix::new(seed);
        let mut bytes = original.clone();
        for _ in 0..FLIPS_PER_STREAM {
            let bit = (rng.next_u64() % (bytes.len() as u64 * 8)) as usize;
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
        // The writer recurses as deep, with boxed errors like the reader: it must fit a
        // default 2 MiB thread stack too, in debug builds.
        let bytes = Arc::new(bytes);
        let (g, b) = (Arc::new(g), bytes.clone());
        std::thread::Builder::new()
            .stack_size(2 * MIB)
            .spawn(move || assert_rewritten(&g, &b))
            .expect("spawn")
            .join()
            .unwrap_or_else(|_| panic!("{name}: not rewritten"));
        let (deeper, at) = nested(shape, levels + 1);
        let kind = fails_at(&name, &deeper, &Limits::default(), at);
        assert!(
            matches!(kind, ErrorKind::TooDeep { .. }),
            "{name}: {kind:?}"
        );
    }
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
    type Build = Box<dyn Fn(&mut Stream)>;
    let cases: [(&str, Build); 2] = [
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

/// Objects of a long chain of classes that write nothing cost 6 bytes each but one
/// record per class: the records are held to 2 per input byte read (plus 4096).
#[test]
fn records_of_empty_classes_are_held_to_the_input_read() {
    let mut s = Stream::new();
    for i in 0..512u32 {
        s.desc("E", SER, &[]);
        if i == 0 {
            s.u8(0x70)
        } else {
            s.reference(H + i - 1)
        };
    }
    let mut fail_at = None;
    for j in 0..40_000u64 {
        let start = s.at();
        s.u8(0x73).reference(H + 511);
        if fail_at.is_none() && 512 * (j + 1) > 2 * s.at() + 4096 {
            fail_at = Some(start);
        }
    }
    let (kind, usage) =
        measured(|| fails_at("empty classes", &s.0, &Limits::default(), fail_at.unwrap()));
    assert!(
        matches!(kind, ErrorKind::TooMany { what, .. } if what.starts_with("class data records")),
        "{kind:?}"
    );
    // Before this bound, the same 250 KB made the reader allocate 950 MB.
    assert!(usage.peak < 4 * MIB, "{} bytes in, {usage:?}", s.0.len());
}
