//! Hand-made streams for what the fixtures never show: cycles, TC_RESET, deep nesting,
//! longs beyond 2^53, non-finite floats.

use super::*;
use crate::javaser::{Limits, parse_stream};
use crate::source::MemSource;
use std::sync::Arc;

/// Builds stream bytes: header, then whatever the test appends.
struct Bytes(Vec<u8>);

impl Bytes {
    fn new() -> Self {
        Bytes(vec![0xAC, 0xED, 0x00, 0x05])
    }
    fn u8(mut self, b: u8) -> Self {
        self.0.push(b);
        self
    }
    fn raw(mut self, b: &[u8]) -> Self {
        self.0.extend_from_slice(b);
        self
    }
    fn utf(self, s: &str) -> Self {
        self.raw(&(s.len() as u16).to_be_bytes()).raw(s.as_bytes())
    }
    fn string(self, s: &str) -> Self {
        self.u8(0x74).utf(s)
    }
    fn reference(self, handle: u32) -> Self {
        self.u8(0x71).raw(&handle.to_be_bytes())
    }
    /// TC_CLASSDESC with the given fields (`(typecode, name, signature)`), no annotation,
    /// no superclass.
    fn desc(mut self, name: &str, flags: u8, fields: &[(u8, &str, Option<&str>)]) -> Self {
        self = self.u8(0x72).utf(name).raw(&7i64.to_be_bytes()).u8(flags);
        self = self.raw(&(fields.len() as u16).to_be_bytes());
        for (code, fname, sig) in fields {
            self = self.u8(*code).utf(fname);
            if let Some(sig) = sig {
                self = self.string(sig);
            }
        }
        self.u8(0x78).u8(0x70)
    }
}

fn graph(bytes: Bytes) -> Graph {
    let len = bytes.0.len() as u64;
    let src = Arc::new(MemSource::new("test", bytes.0));
    parse_stream(src, 0, len, &Limits::default()).expect("test stream parses")
}

#[test]
fn a_self_reference_renders_once_in_full_then_as_a_ref() {
    // object A { A self = this }: desc 0x7e0000, its type string 0x7e0001, object 0x7e0002.
    let g = graph(
        Bytes::new()
            .u8(0x73)
            .desc("A", 0x02, &[(b'L', "self", Some("LA;"))])
            .reference(0x7E_0002),
    );
    let doc = to_json(&g, &Options::default()).unwrap();
    let obj = &doc["contents"][0];
    assert_eq!(obj["type"], "object");
    assert_eq!(obj["handle"], "0x7e0002");
    assert_eq!(obj["offset"], 4);
    assert_eq!(obj["class"]["handle"], "0x7e0000");
    assert_eq!(obj["class"]["fields"][0]["signature"]["handle"], "0x7e0001");
    let field = &obj["class_data"][0]["fields"][0];
    assert_eq!(field["name"], "self");
    assert_eq!(field["value"]["type"], "ref");
    assert_eq!(field["value"]["handle"], "0x7e0002");
    assert_eq!(field["value"]["target_offset"], 4);
    assert_eq!(field["value"]["class"], "A");
    let text = to_text(&g, &Options::default()).unwrap();
    assert!(
        text.lines()
            .any(|l| l.trim_start() == "4  object @0x7e0002 A"),
        "{text}"
    );
    assert!(text.contains("self = -> @0x7e0002 (object A)"), "{text}");
}

#[test]
fn handles_restart_after_a_reset() {
    // "a" = 0x7e0000, reset, "b" = 0x7e0000 again, then a reference to the new 0x7e0000.
    let g = graph(
        Bytes::new()
            .string("a")
            .u8(0x79)
            .string("b")
            .reference(0x7E_0000),
    );
    let doc = to_json(&g, &Options::default()).unwrap();
    let c = doc["contents"].as_array().unwrap();
    assert_eq!(c.len(), 4);
    assert_eq!(
        (&c[0]["handle"], &c[0]["value"]),
        (&json!("0x7e0000"), &json!("a"))
    );
    assert_eq!(c[1]["type"], "reset");
    assert_eq!(
        (&c[2]["handle"], &c[2]["value"]),
        (&json!("0x7e0000"), &json!("b"))
    );
    assert_eq!(c[3]["type"], "ref");
    assert_eq!(c[3]["value"], "b");
    assert_eq!(c[3]["target_offset"], 9);
}

#[test]
fn primitives_keep_their_exact_values() {
    let g = graph(
        Bytes::new()
            .u8(0x73)
            .desc(
                "P",
                0x02,
                &[
                    (b'C', "c", None),
                    (b'D', "d", None),
                    (b'F', "f", None),
                    (b'J', "j", None),
                ],
            )
            .raw(&0x263Au16.to_be_bytes())
            .raw(&f64::NAN.to_bits().to_be_bytes())
            .raw(&f32::NEG_INFINITY.to_bits().to_be_bytes())
            .raw(&0x7FFF_FFFF_FFFF_FFF1i64.to_be_bytes()),
    );
    let doc = to_json(&g, &Options::default()).unwrap();
    let fields = &doc["contents"][0]["class_data"][0]["fields"];
    assert_eq!(fields[0]["value"], 0x263A);
    assert_eq!(fields[1]["value"], "NaN");
    assert_eq!(fields[2]["value"], "-Infinity");
    let text = serde_json::to_string(&doc).unwrap();
    assert!(text.contains("\"value\":9223372036854775793"), "{text}");
    let tree = to_text(&g, &Options::default()).unwrap();
    assert!(tree.contains("c: char = '☺' (9786)"), "{tree}");
    assert!(tree.contains("j: long = 9223372036854775793"), "{tree}");
}

#[test]
fn arrays_and_block_data_point_at_their_bytes() {
    // byte[5] at the top level, then a 3-byte block.
    let g = graph(
        Bytes::new()
            .u8(0x75)
            .desc("[B", 0x02, &[])
            .raw(&5i32.to_be_bytes())
            .raw(&[1, 2, 3, 4, 5])
            .u8(0x77)
            .u8(3)
            .raw(&[0xAA, 0xBB, 0xCC]),
    );
    let opts = Options {
        preview_bytes: 2,
        ..Options::default()
    };
    let doc = to_json(&g, &opts).unwrap();
    let arr = &doc["contents"][0];
    assert_eq!(arr["element"], "B");
    assert_eq!(arr["length"], 5);
    let data_offset = 4 + 1 + 18 + 4; // header, TC_ARRAY, descriptor, length
    assert_eq!(arr["data_offset"], data_offset);
    assert_eq!(arr["data_length"], 5);
    assert_eq!(arr["hex_preview"], "0102");
    let block = &doc["contents"][1];
    assert_eq!(block["type"], "block");
    assert_eq!(block["offset"], data_offset + 5);
    assert_eq!(block["data_offset"], data_offset + 7);
    assert_eq!(
        (&block["length"], &block["hex"]),
        (&json!(3), &json!("aabbcc"))
    );
    let text = to_text(&g, &opts).unwrap();
    assert!(
        text.contains("[B length 5: byte data, 5 bytes at 27: 01 02 …"),
        "{text}"
    );
    assert!(
        text.contains("block data, 3 bytes at 34: aa bb cc"),
        "{text}"
    );
}

#[test]
fn nesting_beyond_the_bound_is_an_error_not_a_crash() {
    // Object[]{ Object[]{ ... } } six deep; the renderer is allowed four levels.
    let mut b = Bytes::new()
        .u8(0x75)
        .desc("[Ljava.lang.Object;", 0x02, &[])
        .raw(&1i32.to_be_bytes());
    for _ in 0..5 {
        b = b.u8(0x75).reference(0x7E_0000).raw(&1i32.to_be_bytes());
    }
    let g = graph(b.u8(0x70));
    let opts = Options {
        max_depth: 4,
        ..Options::default()
    };
    let err = to_json(&g, &opts).unwrap_err();
    let super::Failed::Read(err) = err else {
        panic!("{err}")
    };
    assert!(matches!(err.kind, ErrorKind::TooDeep { limit: 4 }), "{err}");
    assert!(to_text(&g, &opts).is_err());
    let doc = to_json(&g, &Options::default()).unwrap();
    let mut v = &doc["contents"][0];
    let mut depth = 0;
    while v["type"] == "array" {
        v = &v["elements"][0];
        depth += 1;
    }
    assert_eq!((depth, &v["type"]), (6, &json!("null")));
}

#[test]
fn enums_classes_and_externalizable_data() {
    // enum E.RED (E extends java.lang.Enum), the class E, an Externalizable X writing 2 bytes.
    let g = graph(
        Bytes::new()
            .u8(0x7E)
            .u8(0x72)
            .utf("E")
            .raw(&0i64.to_be_bytes())
            .u8(0x12)
            .raw(&[0, 0, 0x78])
            .desc("java.lang.Enum", 0x12, &[])
            .string("RED")
            .u8(0x76)
            .reference(0x7E_0000)
            .u8(0x73)
            .desc("X", 0x0C, &[])
            .u8(0x77)
            .u8(2)
            .raw(&[0xAB, 0xCD])
            .u8(0x78),
    );
    let doc = to_json(&g, &Options::default()).unwrap();
    let c = &doc["contents"];
    assert_eq!(c[0]["type"], "enum");
    assert_eq!(c[0]["handle"], "0x7e0002");
    assert_eq!(c[0]["class"]["super"]["name"], "java.lang.Enum");
    assert_eq!(c[0]["class"]["flag_names"], json!(["SERIALIZABLE", "ENUM"]));
    assert_eq!(
        (&c[0]["constant"]["handle"], &c[0]["constant"]["value"]),
        (&json!("0x7e0003"), &json!("RED"))
    );
    assert_eq!(c[1]["type"], "class");
    assert_eq!(c[1]["handle"], "0x7e0004");
    assert_eq!(
        (&c[1]["class"]["type"], &c[1]["class"]["class"]),
        (&json!("ref"), &json!("E"))
    );
    let x = &c[2];
    assert_eq!(x["class"]["flags"], 0x0C);
    let data = &x["class_data"][0];
    assert_eq!(data["fields"], json!([]));
    assert_eq!(data["annotation"][0]["hex"], "abcd");
    let text = to_text(&g, &Options::default()).unwrap();
    assert!(text.contains("enum @0x7e0002 E.RED"), "{text}");
    assert!(
        text.contains("class @0x7e0004 E (class -> @0x7e0000)"),
        "{text}"
    );
    assert!(
        text.contains("flags 0x0c EXTERNALIZABLE|BLOCK_DATA"),
        "{text}"
    );
    assert!(text.contains("annotation (X):"), "{text}");
}
