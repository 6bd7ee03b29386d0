//! Unit tests of the stream builder: handle numbering, interning, block-data records,
//! streamed array bodies, nested streams and misuse errors.

use super::*;
use crate::javaser::{Content, Limits, NodeKind, Value, parse_stream};
use crate::source::MemSource;
use std::sync::Arc;

static BASE: ClassSpec = ClassSpec {
    name: "t.Base",
    uid: 7,
    flags: flags::SERIALIZABLE,
    fields: &[FieldSpec::reference("label", "Ljava/lang/String;")],
    superclass: None,
};
static PAIR: ClassSpec = ClassSpec {
    name: "t.Pair",
    uid: -2,
    flags: flags::SERIALIZABLE | flags::WRITE_METHOD,
    fields: &[
        FieldSpec::primitive(b'I', "n"),
        FieldSpec::reference("left", "Ljava/lang/String;"),
        FieldSpec::reference("right", "Ljava/lang/String;"),
    ],
    superclass: Some(&BASE),
};
static BYTES: ClassSpec = ClassSpec {
    name: "[B",
    uid: -5984413125824719648,
    flags: flags::SERIALIZABLE,
    fields: &[],
    superclass: None,
};

fn parse(bytes: Vec<u8>) -> crate::javaser::Graph {
    let n = bytes.len() as u64;
    let src: Arc<dyn crate::source::Source> = Arc::new(MemSource::new("built", bytes));
    parse_stream(src, 0, n, &Limits::default()).expect("the built stream parses")
}

#[test]
fn descriptors_and_type_strings_are_written_once() {
    let mut b = StreamBuilder::new(Vec::new(), "test", 0).unwrap();
    for i in 0..2 {
        let obj = b.begin_object(&PAIR).unwrap();
        assert_eq!(obj, if i == 0 { 0x7E0003 } else { 0x7E0005 });
        let label = b.string("base").unwrap(); // Base.label
        b.field_int(i).unwrap(); // Pair.n
        b.reference(label).unwrap(); // Pair.left: the same String object
        b.null().unwrap(); // Pair.right
        b.end_annotation().unwrap();
    }
    let bytes = b.finish().unwrap();
    // Pair desc 0x7E0000, its "Ljava/lang/String;" 0x7E0001 (written once: `right`
    // refers to it), Base desc 0x7E0002 whose field type is a reference too.
    let sig = b"Ljava/lang/String;";
    let full = bytes.windows(sig.len()).filter(|w| w == sig).count();
    assert_eq!(full, 1, "the type string is written once");
    let g = parse(bytes);
    let roots: Vec<Value> = g.roots().collect();
    assert_eq!(roots.len(), 2);
    let NodeKind::Object(o) = &g.node(roots[1].node().unwrap()).kind else {
        panic!("an object")
    };
    assert_eq!(g.class_desc(o.desc).unwrap().name.lossy(), "t.Pair");
    assert_eq!(o.class_data[1].values[0], Value::Int(1));
    assert_eq!(o.class_data[1].values[1], o.class_data[0].values[0]);
}

#[test]
fn block_data_is_cut_into_records_of_at_most_1024_bytes() {
    let mut b = StreamBuilder::new(Vec::new(), "test", 0).unwrap();
    b.block_int(7).unwrap();
    b.block_bytes(&[0xAB; 2500]).unwrap();
    b.string("x").unwrap();
    b.block_bytes(&[1; 200]).unwrap();
    let bytes = b.finish().unwrap();
    assert_eq!(&bytes[4..9], &[0x7A, 0, 0, 4, 0]);
    let second = 9 + 1024;
    assert_eq!(&bytes[second..second + 5], &[0x7A, 0, 0, 4, 0]);
    let third = second + 5 + 1024;
    assert_eq!(&bytes[third..third + 5], &[0x7A, 0, 0, 1, 0xC8]); // 2504 - 2048 = 456
    let string = third + 5 + 456;
    assert_eq!(&bytes[string..string + 4], &[0x74, 0, 1, b'x']);
    assert_eq!(&bytes[string + 4..string + 6], &[0x77, 200]);
    assert_eq!(bytes.len(), string + 6 + 200);
    let g = parse(bytes);
    let blocks = g
        .contents
        .iter()
        .filter(|c| matches!(c, Content::Block(_)))
        .count();
    assert_eq!(blocks, 4);
}

#[test]
fn primitive_arrays_stream_their_body_and_check_its_length() {
    let mut b = StreamBuilder::new(Vec::new(), "test", 100).unwrap();
    b.begin_primitive_array(&BYTES, 5).unwrap();
    b.array_body(&[1, 2]).unwrap();
    b.array_body(&[3, 4, 5]).unwrap();
    let bytes = b.finish().unwrap();
    assert_eq!(&bytes[bytes.len() - 9..], &[0, 0, 0, 5, 1, 2, 3, 4, 5]);
    parse(bytes);

    let mut b = StreamBuilder::new(Vec::new(), "out.bin", 100).unwrap();
    b.begin_primitive_array(&BYTES, 5).unwrap();
    b.array_body(&[1, 2]).unwrap();
    let e = b.array_body(&[0; 4]).unwrap_err();
    assert!(
        e.to_string()
            .contains("4 body bytes given where the array needs 3"),
        "{e}"
    );
    assert!(e.to_string().starts_with("out.bin: offset "), "{e}");
    let e = b.null().unwrap_err();
    assert!(e.to_string().contains("still needs 3 body bytes"), "{e}");
    assert!(b.finish().is_err());
}

#[test]
fn nested_stream_writes_into_an_array_body() {
    let mut inner_len = CountingWriter::new(io::sink());
    let mut nested = StreamBuilder::new(&mut inner_len, "nested", 0).unwrap();
    nested.string("Here be dragons!").unwrap();
    nested.finish().unwrap();
    assert_eq!(inner_len.count, 23); // legacy-formats.md §2.5: 23 B

    let mut b = StreamBuilder::new(Vec::new(), "outer", 0).unwrap();
    b.begin_primitive_array(&BYTES, inner_len.count as u32)
        .unwrap();
    let mut nested = StreamBuilder::new(ArrayBodyWriter(&mut b), "nested", 0).unwrap();
    nested.string("Here be dragons!").unwrap();
    nested.finish().unwrap();
    let bytes = b.finish().unwrap();
    assert_eq!(
        &bytes[bytes.len() - 23..bytes.len() - 19],
        &[0xAC, 0xED, 0, 5]
    );
    parse(bytes);
}

#[test]
fn misuse_is_an_error_not_a_panic() {
    let mut b = StreamBuilder::new(Vec::new(), "test", 0).unwrap();
    assert!(b.reference(0x7E0000).is_err(), "nothing assigned yet");
    assert!(b.begin_primitive_array(&PAIR, 1).is_err());
    assert!(b.begin_object_array(&BYTES, 1).is_err());
    let long = "x".repeat(70_000);
    let h = b.string(&long).unwrap();
    assert_eq!(h, 0x7E0000);
    let bytes = b.finish().unwrap();
    assert_eq!(bytes[4], tc::LONGSTRING);
    assert!(PAIR.fields_in_jdk_order());
}

static COLOUR: ClassSpec = ClassSpec {
    name: "t.Colour",
    uid: 0,
    flags: flags::SERIALIZABLE | flags::ENUM,
    fields: &[],
    superclass: None,
};

/// `TC_ENUM`: descriptor, handle, then the constant's name; the descriptor once.
#[test]
fn enum_constants_are_written_as_the_jdk_writes_them() {
    let mut b = StreamBuilder::new(Vec::new(), "test", 0).unwrap();
    assert_eq!(b.enum_constant(&COLOUR, "RED").unwrap(), 0x7E0001);
    assert_eq!(b.enum_constant(&COLOUR, "BLUE").unwrap(), 0x7E0003);
    assert!(b.enum_constant(&BASE, "X").is_err(), "not an enum class");
    let bytes = b.finish().unwrap();
    assert_eq!(&bytes[4..7], &[tc::ENUM, tc::CLASSDESC, 0]);
    let g = parse(bytes);
    let names: Vec<String> = g
        .roots()
        .map(|v| match &g.node(v.node().unwrap()).kind {
            NodeKind::Enum { constant, .. } => {
                g.string_value(Value::Node(*constant)).unwrap().unwrap()
            }
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(names, ["RED", "BLUE"]);
}
