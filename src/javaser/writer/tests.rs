//! Writer tests on hand-written streams: the bytes are spelled out here, so a writer that
//! numbers handles, segments block data or names classes differently fails them.

use super::*;
use crate::javaser::{Limits, parse_stream};
use crate::source::MemSource;
use std::sync::Arc;

// ---- stream spelling helpers ----------------------------------------------------------

fn utf(s: &str) -> Vec<u8> {
    [&(s.len() as u16).to_be_bytes()[..], s.as_bytes()].concat()
}

fn handle(n: u32) -> [u8; 4] {
    (BASE_HANDLE + n).to_be_bytes()
}

/// TC_REFERENCE to handle `0x7E0000 + n`.
fn r(n: u32) -> Vec<u8> {
    [&[tc::REFERENCE][..], &handle(n)].concat()
}

fn string(s: &str) -> Vec<u8> {
    [vec![tc::STRING], utf(s)].concat()
}

fn long_string(bytes: &[u8]) -> Vec<u8> {
    [
        &[tc::LONGSTRING][..],
        &(bytes.len() as u64).to_be_bytes(),
        bytes,
    ]
    .concat()
}

/// An object field: type code, name, and the type string (new or a reference).
fn field(typecode: u8, name: &str, type_string: Vec<u8>) -> Vec<u8> {
    [vec![typecode], utf(name), type_string].concat()
}

/// TC_CLASSDESC with an empty class annotation.
fn desc(name: &str, uid: i64, flags: u8, fields: &[Vec<u8>], sup: &[u8]) -> Vec<u8> {
    [
        &[tc::CLASSDESC][..],
        &utf(name),
        &uid.to_be_bytes(),
        &[flags],
        &(fields.len() as u16).to_be_bytes(),
        &fields.concat(),
        &[tc::ENDBLOCKDATA],
        sup,
    ]
    .concat()
}

const NULL: [u8; 1] = [tc::NULL];
const HEADER: [u8; 4] = [0xAC, 0xED, 0x00, 0x05];

fn stream(parts: &[&[u8]]) -> Vec<u8> {
    [&HEADER[..], &parts.concat()].concat()
}

fn parse(bytes: &[u8]) -> Graph {
    parse_with(bytes, &Limits::default()).unwrap()
}

fn parse_with(bytes: &[u8], limits: &Limits) -> Result<Graph> {
    let src = Arc::new(MemSource::new("hand-built", bytes.to_vec()));
    parse_stream(src, 0, bytes.len() as u64, limits)
}

fn bytes_of(g: &Graph, c: &Chunks) -> Vec<u8> {
    let out = c.to_vec(&**g.source()).unwrap();
    assert_eq!(
        out.len() as u64,
        c.len(),
        "Chunks::len agrees with the bytes"
    );
    out
}

/// Parses, writes back without renaming, and insists on the same bytes.
fn round_trip(bytes: &[u8]) -> Graph {
    let g = parse(bytes);
    let c = write_stream(&g, &WriteOptions::default()).unwrap();
    assert_eq!(bytes_of(&g, &c), bytes);
    g
}

fn root(g: &Graph, i: usize) -> Value {
    g.roots().nth(i).unwrap()
}

// ---- handles and references -----------------------------------------------------------

#[test]
fn references_and_shared_strings_round_trip() {
    // desc T = h0, "Ljava/lang/String;" = h1, object = h2, "x" = h3, a second "x" = h4.
    let t = desc(
        "T",
        1,
        flags::SERIALIZABLE,
        &[
            field(b'L', "a", string("Ljava/lang/String;")),
            field(b'L', "b", r(1)),
        ],
        &NULL,
    );
    let bytes = stream(&[
        &[tc::OBJECT],
        &t,
        &string("x"),
        &r(3),
        &r(2),
        &string("x"),
        &r(3),
        &r(4),
    ]);
    let g = round_trip(&bytes);
    let obj = g.object(root(&g, 0)).unwrap().unwrap();
    assert_eq!(obj.field("a"), obj.field("b"), "b shares a's string");
    // Equal text, distinct nodes: the writer must not merge them.
    assert_ne!(root(&g, 2), root(&g, 3));
    assert_eq!(root(&g, 3), obj.field("a").unwrap());
}

#[test]
fn self_referencing_object_round_trips_and_reemits() {
    // desc N = h0, "LN;" = h1, object = h2 whose `next` is itself.
    let n = desc(
        "N",
        7,
        flags::SERIALIZABLE,
        &[field(b'L', "next", string("LN;"))],
        &NULL,
    );
    let bytes = stream(&[&[tc::OBJECT], &n, &r(2)]);
    let g = round_trip(&bytes);
    let v = root(&g, 0);
    assert_eq!(g.object(v).unwrap().unwrap().field("next"), Some(v));
    let alone = write_object(&g, v, &WriteOptions::default()).unwrap();
    assert_eq!(bytes_of(&g, &alone), bytes);
}

#[test]
fn reset_clears_the_handle_table() {
    let bytes = stream(&[
        &string("a"),
        &r(0),
        &[tc::RESET],
        &string("b"),
        &r(0),
        &string("c"),
        &r(1),
    ]);
    let g = round_trip(&bytes);
    assert_eq!(g.contents[2], Content::Reset);
    // After the reset "b" owns handle 0 again; standalone it is written in full.
    let alone = write_object(&g, root(&g, 3), &WriteOptions::default()).unwrap();
    assert_eq!(bytes_of(&g, &alone), stream(&[&string("b")]));
}

#[test]
fn block_data_segmentation_is_preserved() {
    let big: Vec<u8> = (0..300u32).map(|i| i as u8).collect();
    let kb: Vec<u8> = (0..1024u32).map(|i| (i * 7) as u8).collect();
    // A class with a writeObject method and no fields: its data is the annotation.
    let w = desc(
        "W",
        3,
        flags::SERIALIZABLE | flags::WRITE_METHOD,
        &[],
        &NULL,
    );
    let bytes = stream(&[
        &[tc::BLOCKDATA, 3, 1, 2, 3],
        // A short payload in a long record: not canonical, but it must survive.
        &[tc::BLOCKDATALONG, 0, 0, 0, 5, 4, 5, 6, 7, 8],
        &[tc::BLOCKDATALONG, 0, 0, 0x01, 0x2C],
        &big,
        &[tc::BLOCKDATA, 0],
        &[tc::OBJECT],
        &w,
        &[tc::BLOCKDATA, 2, 0xAA, 0xBB],
        &string("s"),
        &[tc::BLOCKDATALONG, 0, 0, 0x04, 0x00],
        &kb,
        &[tc::ENDBLOCKDATA],
    ]);
    let g = round_trip(&bytes);
    let longs: Vec<bool> = g
        .contents
        .iter()
        .filter_map(|c| match c {
            Content::Block(b) => Some(b.long),
            _ => None,
        })
        .collect();
    assert_eq!(longs, [false, true, true, false]);

    // With nothing inlined, every non-empty payload is a span of the input, in order.
    let opts = WriteOptions {
        inline_max: 0,
        ..WriteOptions::default()
    };
    let c = write_stream(&g, &opts).unwrap();
    assert_eq!(bytes_of(&g, &c), bytes);
    let spans: Vec<Span> = c
        .iter()
        .filter_map(|c| match c {
            Chunk::Span(s) => Some(*s),
            _ => None,
        })
        .collect();
    let mut expected: Vec<Span> = g
        .contents
        .iter()
        .filter_map(|c| match c {
            Content::Block(b) if b.data.len > 0 => Some(b.data),
            _ => None,
        })
        .collect();
    let obj = g.object(root(&g, 0)).unwrap().unwrap();
    for c in obj.object.class_data[0].annotation.as_ref().unwrap() {
        if let Content::Block(b) = c {
            expected.push(b.data);
        }
    }
    assert_eq!(spans, expected);
    assert_eq!(spans[1], Span::new(4 + 5 + 5, 5));
}

#[test]
fn long_strings_stay_long_and_big_ones_are_spans() {
    let big = vec![b'z'; 70_000];
    let bytes = stream(&[&long_string(&big), &long_string(b"short"), &r(1), &r(0)]);
    let g = round_trip(&bytes);
    assert!(matches!(
        g.node(1).kind,
        NodeKind::String(JString::Long(Span { len: 5, .. }))
    ));
    let c = write_stream(&g, &WriteOptions::default()).unwrap();
    let spans: Vec<&Chunk> = c.iter().filter(|c| matches!(c, Chunk::Span(_))).collect();
    assert_eq!(spans, [&Chunk::Span(Span::new(4 + 1 + 8, 70_000))]);
    assert_eq!(c.as_slice().len(), 3, "header bytes, the span, the rest");
}

#[test]
fn enums_round_trip_and_reemit() {
    let color = desc(
        "Color",
        0,
        flags::SERIALIZABLE | flags::ENUM,
        &[],
        &desc(
            "java.lang.Enum",
            0,
            flags::SERIALIZABLE | flags::ENUM,
            &[],
            &NULL,
        ),
    );
    // Color = h0, Enum = h1, RED = h2 ("RED" = h3), GREEN = h4 ("GREEN" = h5).
    let bytes = stream(&[
        &[tc::ENUM],
        &color,
        &string("RED"),
        &[tc::ENUM],
        &r(0),
        &string("GREEN"),
        &[tc::ENUM],
        &r(0),
        &r(3),
        &r(2),
    ]);
    let g = round_trip(&bytes);
    let alone = write_object(&g, root(&g, 1), &WriteOptions::default()).unwrap();
    assert_eq!(
        bytes_of(&g, &alone),
        stream(&[&[tc::ENUM], &color, &string("GREEN")])
    );
}

#[test]
fn proxy_descriptors_and_class_objects_round_trip() {
    // Proxy desc = h0 (before its interface count), Proxy = h1, its field type = h2,
    // object = h3, TC_CLASS of the proxy = h4, Foo = h5, TC_CLASS Foo = h6.
    let proxy = [
        &[tc::PROXYCLASSDESC][..],
        &2i32.to_be_bytes(),
        &utf("a.I"),
        &utf("b.J"),
        &[tc::ENDBLOCKDATA],
        &desc(
            "java.lang.reflect.Proxy",
            -2222568056686623797,
            flags::SERIALIZABLE,
            &[field(
                b'L',
                "h",
                string("Ljava/lang/reflect/InvocationHandler;"),
            )],
            &NULL,
        ),
    ]
    .concat();
    let bytes = stream(&[
        &[tc::OBJECT],
        &proxy,
        &NULL,
        &r(0),
        &[tc::CLASS],
        &r(0),
        &[tc::CLASS],
        &desc("Foo", 9, flags::SERIALIZABLE, &[], &NULL),
        &r(6),
        &r(3),
    ]);
    let g = round_trip(&bytes);
    let d = g.class_desc(0).unwrap();
    assert_eq!(d.proxy_interfaces.as_ref().unwrap().len(), 2);
    let alone = write_object(&g, root(&g, 2), &WriteOptions::default()).unwrap();
    assert_eq!(
        bytes_of(&g, &alone),
        stream(&[&[tc::CLASS], &proxy]),
        "a TC_CLASS of a proxy re-emits the whole proxy descriptor"
    );
}

#[test]
fn write_object_renumbers_handles_from_base() {
    let inner_desc = |s_type: Vec<u8>, t_type: Vec<u8>| {
        desc(
            "Inner",
            2,
            flags::SERIALIZABLE,
            &[field(b'L', "s", s_type), field(b'L', "t", t_type)],
            &NULL,
        )
    };
    // pad = h0, Outer = h1, "LInner;" = h2, outer = h3, Inner = h4,
    // "Ljava/lang/String;" = h5, inner = h6; both inner fields refer to pad.
    let bytes = stream(&[
        &string("pad"),
        &[tc::OBJECT],
        &desc(
            "Outer",
            1,
            flags::SERIALIZABLE,
            &[field(b'L', "inner", string("LInner;"))],
            &NULL,
        ),
        &[tc::OBJECT],
        &inner_desc(string("Ljava/lang/String;"), r(5)),
        &r(0),
        &r(0),
    ]);
    let g = round_trip(&bytes);
    let inner = g
        .object(root(&g, 1))
        .unwrap()
        .unwrap()
        .field("inner")
        .unwrap();
    let alone = write_object(&g, inner, &WriteOptions::default()).unwrap();
    // Standalone: Inner = h0, its type string = h1, inner = h2, "pad" = h3.
    let expected = stream(&[
        &[tc::OBJECT],
        &inner_desc(string("Ljava/lang/String;"), r(1)),
        &string("pad"),
        &r(3),
    ]);
    assert_eq!(bytes_of(&g, &alone), expected);
    // And it parses on its own, unlike the byte range of the original.
    let again = parse(&expected);
    let o = again.object(root(&again, 0)).unwrap().unwrap();
    assert_eq!(
        again
            .string_value(o.field("t").unwrap())
            .unwrap()
            .as_deref(),
        Some("pad")
    );
    let range = g.node(inner.node().unwrap()).span;
    let cut = [
        &HEADER[..],
        &bytes[range.start as usize..range.end() as usize],
    ]
    .concat();
    assert!(parse_with(&cut, &Limits::default()).is_err());
}

fn byte_array(data: &[u8]) -> Vec<u8> {
    [
        &[tc::ARRAY][..],
        &desc("[B", -5984413125824719648, flags::SERIALIZABLE, &[], &NULL),
        &(data.len() as i32).to_be_bytes(),
        data,
    ]
    .concat()
}

#[test]
fn large_byte_array_is_a_span_not_a_copy() {
    let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    let bytes = stream(&[&byte_array(&data)]);
    let g = round_trip(&bytes);
    let body = g.byte_array(root(&g, 0)).unwrap().unwrap();
    for c in [
        write_stream(&g, &WriteOptions::default()).unwrap(),
        write_object(
            &g,
            root(&g, 0),
            &crate::convert::rename::migration_options(),
        )
        .unwrap(),
    ] {
        let generated = (bytes.len() - data.len()) as u64;
        assert_eq!(c.as_slice().len(), 2);
        assert!(matches!(&c.as_slice()[0], Chunk::Bytes(b) if b.len() as u64 == generated));
        assert_eq!(c.as_slice()[1], Chunk::Span(body));
        let mut written = Vec::new();
        c.write_to(&**g.source(), &mut written).unwrap();
        assert_eq!(written, bytes);
    }
    // A small array is inlined: one chunk.
    let small = stream(&[&byte_array(&[1, 2, 3])]);
    let g = round_trip(&small);
    let c = write_stream(&g, &WriteOptions::default()).unwrap();
    assert_eq!(c.as_slice(), [Chunk::Bytes(small)]);
}

// ---- renaming ---------------------------------------------------------------------------

/// A DataInputViewHandle around a ByteStreamStateHandle, as Flink 1.1 writes them, with
/// the names given; plus a data string and a non-migration Flink class.
fn handle_stream(view: &str, stream_type: &str, bssh: &str, closeable: &str) -> Vec<u8> {
    stream(&[
        &[tc::OBJECT],
        &desc(
            view,
            2891559813513532079,
            flags::SERIALIZABLE,
            &[field(b'L', "stream", string(stream_type))],
            &NULL,
        ),
        &[tc::OBJECT],
        &desc(
            bssh,
            -5280226231200217594,
            flags::SERIALIZABLE,
            &[field(b'[', "data", string("[B"))],
            &desc(closeable, 1, flags::SERIALIZABLE, &[], &NULL),
        ),
        &byte_array(&[0, 0x13]),
        &string("org.apache.flink.runtime.state.memory.ByteStreamStateHandle"),
        &[tc::CLASS],
        &desc("org.apache.flink.api.java.tuple.Tuple2", 1, 2, &[], &NULL),
    ])
}

#[test]
fn migration_renames_classes_and_field_types_only() {
    let original = handle_stream(
        "org.apache.flink.runtime.state.AbstractStateBackend$DataInputViewHandle",
        "Lorg/apache/flink/runtime/state/StreamStateHandle;",
        "org.apache.flink.runtime.state.memory.ByteStreamStateHandle",
        "org.apache.flink.runtime.state.AbstractCloseableHandle",
    );
    let g = round_trip(&original);
    let c = write_stream(&g, &crate::convert::rename::migration_options()).unwrap();
    let expected = handle_stream(
        "org.apache.flink.migration.runtime.state.AbstractStateBackend$DataInputViewHandle",
        "Lorg/apache/flink/migration/runtime/state/StreamStateHandle;",
        "org.apache.flink.migration.runtime.state.memory.ByteStreamStateHandle",
        "org.apache.flink.migration.runtime.state.AbstractCloseableHandle",
    );
    assert_eq!(bytes_of(&g, &c), expected);
    assert_eq!(c.len(), original.len() as u64 + 4 * 10);
}

#[test]
fn renamed_class_name_over_65535_bytes_is_an_error() {
    let name = "[".repeat(65_490) + "Lorg.apache.flink.runtime.state.StateHandle;";
    assert!(name.len() <= 65_535 && name.len() + 10 > 65_535);
    let bytes = stream(&[&[tc::CLASS], &desc(&name, 1, 2, &[], &NULL)]);
    let g = round_trip(&bytes);
    let e = write_stream(&g, &crate::convert::rename::migration_options()).unwrap_err();
    assert!(
        matches!(&e.kind, ErrorKind::Write(m) if m.contains("65,535")),
        "{e}"
    );
    assert_eq!(e.offset, 5, "located at the descriptor");
}

#[test]
fn renamed_type_string_over_65535_bytes_becomes_a_long_string() {
    let sig = "[".repeat(65_490) + "Lorg/apache/flink/runtime/state/StateHandle;";
    let bytes = stream(&[
        &[tc::OBJECT],
        &desc("C", 1, 2, &[field(b'[', "a", string(&sig))], &NULL),
        &NULL,
    ]);
    let g = round_trip(&bytes);
    let c = write_stream(&g, &crate::convert::rename::migration_options()).unwrap();
    let out = bytes_of(&g, &c);
    let again = parse(&out);
    let t = again.class_desc(0).unwrap().fields[0].type_name.unwrap();
    assert!(matches!(
        again.node(t).kind,
        NodeKind::String(JString::Long(_))
    ));
    let renamed = "[".repeat(65_490) + "Lorg/apache/flink/migration/runtime/state/StateHandle;";
    assert_eq!(again.string(t).as_deref(), Some(renamed.as_str()));
}

#[test]
fn a_string_both_type_and_data_cannot_be_renamed() {
    let bytes = stream(&[
        &[tc::OBJECT],
        &desc(
            "C",
            1,
            2,
            &[field(
                b'L',
                "h",
                string("Lorg/apache/flink/runtime/state/StateHandle;"),
            )],
            &NULL,
        ),
        &NULL,
        &r(1),
    ]);
    let g = round_trip(&bytes);
    let e = write_stream(&g, &crate::convert::rename::migration_options()).unwrap_err();
    assert!(
        matches!(&e.kind, ErrorKind::Write(m) if m.contains("both")),
        "{e}"
    );
}

// ---- bounds and errors ----------------------------------------------------------------

/// A chain of `n` nested objects; the last one's `next` is `tail`.
fn chain(n: usize, first: bool, tail: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for i in 0..n {
        out.push(tc::OBJECT);
        if first && i == 0 {
            out.extend(desc(
                "L",
                1,
                2,
                &[field(b'L', "next", string("LL;"))],
                &NULL,
            ));
        } else {
            out.extend(r(0));
        }
    }
    [out, tail.to_vec()].concat()
}

#[test]
fn standalone_reemit_can_nest_deeper_than_the_original_and_is_bounded() {
    // Content 1: a chain of 12 (L = h0, "LL;" = h1, objects h2..h13). Content 2: a chain
    // of 12 more whose tail points at content 1's head.
    let bytes = stream(&[&chain(12, true, &NULL), &chain(12, false, &r(2))]);
    let needed = (1..100)
        .find(|&d| {
            parse_with(
                &bytes,
                &Limits {
                    max_depth: d,
                    ..Limits::default()
                },
            )
            .is_ok()
        })
        .unwrap();
    let g = parse(&bytes);
    let shallow = WriteOptions {
        max_depth: needed,
        ..WriteOptions::default()
    };
    write_stream(&g, &shallow).unwrap();
    let e = write_object(&g, root(&g, 1), &shallow).unwrap_err();
    assert!(
        matches!(e.kind, ErrorKind::TooDeep { limit } if limit == needed),
        "{e}"
    );
    let deep = WriteOptions {
        max_depth: 2 * needed,
        ..WriteOptions::default()
    };
    let c = write_object(&g, root(&g, 1), &deep).unwrap();
    let limits = Limits {
        max_depth: 2 * needed,
        ..Limits::default()
    };
    let again = parse_with(&bytes_of(&g, &c), &limits).unwrap();
    assert_eq!(
        again.nodes.len(),
        2 + 24,
        "desc, type string and 24 objects"
    );
}

#[test]
fn a_value_that_does_not_fit_its_field_is_a_write_error_with_its_path() {
    let n = desc("N", 7, 2, &[field(b'L', "next", string("LN;"))], &NULL);
    let bytes = stream(&[&string("first"), &[tc::OBJECT], &n, &NULL]);
    let mut g = parse(&bytes);
    let id = root(&g, 1).node().unwrap();
    let NodeKind::Object(o) = &mut g.nodes[id as usize].kind else {
        panic!("object")
    };
    o.class_data[0].values[0] = Value::Int(3);
    let e = write_stream(&g, &WriteOptions::default()).unwrap_err();
    assert!(matches!(e.kind, ErrorKind::Write(_)), "{e}");
    assert_eq!(e.path, "content[1].next");
    assert_eq!(e.offset, g.node(id).span.start);
    assert_eq!(e.source_name, "hand-built");

    let e = write_object(&g, Value::Long(1), &WriteOptions::default()).unwrap_err();
    assert!(matches!(e.kind, ErrorKind::Write(_)), "{e}");
    let e = write_object(&g, Value::Node(99), &WriteOptions::default()).unwrap_err();
    assert!(matches!(e.kind, ErrorKind::Write(_)), "{e}");
}

#[test]
fn null_object_is_a_four_byte_header_and_tc_null() {
    let g = parse(&stream(&[&NULL]));
    let c = write_object(&g, Value::Null, &WriteOptions::default()).unwrap();
    assert_eq!(bytes_of(&g, &c), [0xAC, 0xED, 0, 5, tc::NULL]);
}
