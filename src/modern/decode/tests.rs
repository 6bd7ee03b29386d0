//! Each decoder against bytes laid out as Flink's serializers write them.

use super::*;
use crate::classnames as names;
use crate::modern::snapshot::{ENUM_SNAPSHOT, POJO_SNAPSHOT, PojoField, SIMPLE_VERSION};

/// Decodes, and checks that the views' writer gives the same JSON (or fails alike).
fn decode_all(s: &Snapshot, bytes: &[u8]) -> Result<Value, Undecodable> {
    let d = Decoder::of(s);
    let mut out = Vec::new();
    same(d.decode_all(bytes), d.write_all(bytes, &mut out), out)
}

fn decode_delimited(element: &Snapshot, bytes: &[u8]) -> Result<Value, Undecodable> {
    let d = Decoder::of(element);
    let mut out = Vec::new();
    same(
        d.decode_delimited(bytes),
        d.write_delimited(bytes, &mut out),
        out,
    )
}

fn same(
    decoded: Result<Value, Undecodable>,
    written: Result<(), Undecodable>,
    out: Vec<u8>,
) -> Result<Value, Undecodable> {
    match (&decoded, written) {
        (Ok(v), Ok(())) => assert_eq!(String::from_utf8(out).unwrap(), v.to_string()),
        (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string()),
        (d, w) => panic!("decoded {d:?} but written {w:?}"),
    }
    decoded
}

fn single(serializer: &str) -> Snapshot {
    Snapshot::of_singleton(serializer).unwrap()
}

/// A `StringValue` of ASCII text.
fn sv(s: &str) -> Vec<u8> {
    [vec![s.len() as u8 + 1], s.as_bytes().to_vec()].concat()
}

#[test]
fn primitives_strings_and_windows() {
    let long = single(names::LONG_SERIALIZER);
    assert_eq!(
        decode_all(&long, &(-5i64).to_be_bytes()).unwrap(),
        json!(-5)
    );
    let string = single(names::STRING_SERIALIZER);
    assert_eq!(
        decode_all(&string, &[sv("hi"), vec![9, 9]].concat())
            .unwrap_err()
            .to_string(),
        "2 bytes left after the value"
    );
    // 'é' (U+00E9) is one 7-bit group with continuation: E9 01.
    assert_eq!(
        decode_all(&string, &[3, b'h', 0xE9, 0x01]).unwrap(),
        json!("hé")
    );
    assert_eq!(decode_all(&string, &[0]).unwrap(), Value::Null);
    let double = single(&format!("{}DoubleSerializer", names::TYPEUTILS_BASE));
    assert_eq!(
        decode_all(&double, &1.5f64.to_be_bytes()).unwrap(),
        json!(1.5)
    );
    assert_eq!(
        decode_all(&double, &f64::NAN.to_be_bytes()).unwrap(),
        json!("NaN")
    );
    let window = single(names::TIME_WINDOW_SERIALIZER);
    let bytes = [0i64.to_be_bytes(), 1000i64.to_be_bytes()].concat();
    assert_eq!(
        decode_all(&window, &bytes).unwrap(),
        json!({"start": 0, "end": 1000})
    );
    assert_eq!(
        decode_all(&single(names::GLOBAL_WINDOW_SERIALIZER), &[0]).unwrap(),
        json!({})
    );
    assert_eq!(
        decode_all(&single(names::VOID_NAMESPACE_SERIALIZER), &[0]).unwrap(),
        Value::Null
    );
    let bytes_ser = single(&format!(
        "{}array.BytePrimitiveArraySerializer",
        names::TYPEUTILS_BASE
    ));
    assert_eq!(
        decode_all(&bytes_ser, &[0, 0, 0, 2, 0xAB, 0x01]).unwrap(),
        json!({"hex": "ab01"})
    );
    // A cut value is an error, never a panic or a guess.
    assert!(decode_all(&long, &[1, 2, 3]).is_err());
    assert!(decode_all(&bytes_ser, &[0x7F, 0xFF, 0xFF, 0xFF]).is_err());
}

#[test]
fn composites_pojos_and_enums() {
    let long = single(names::LONG_SERIALIZER);
    let string = single(names::STRING_SERIALIZER);
    let tuple = Snapshot::composite(
        TUPLE_SNAPSHOT,
        vec![names::TUPLE2.into()],
        vec![long.clone(), string.clone()],
    );
    let bytes = [7i64.to_be_bytes().to_vec(), sv("x")].concat();
    assert_eq!(decode_all(&tuple, &bytes).unwrap(), json!([7, "x"]));
    let list = Snapshot::composite(LIST_SNAPSHOT, vec![], vec![long.clone()]);
    let bytes = [
        2i32.to_be_bytes().to_vec(),
        1i64.to_be_bytes().to_vec(),
        2i64.to_be_bytes().to_vec(),
    ]
    .concat();
    assert_eq!(decode_all(&list, &bytes).unwrap(), json!([1, 2]));
    let map = Snapshot::composite(MAP_SNAPSHOT, vec![], vec![string.clone(), long.clone()]);
    let bytes = [
        vec![0, 0, 0, 2],
        sv("k"),
        vec![1],
        sv("j"),
        vec![0],
        3i64.to_be_bytes().to_vec(),
    ]
    .concat();
    assert_eq!(
        decode_all(&map, &bytes).unwrap(),
        json!([["k", null], ["j", 3]])
    );
    let pojo = Snapshot {
        class: POJO_SNAPSHOT.0.into(),
        version: POJO_SNAPSHOT.1,
        body: Body::Pojo {
            class: "p.P".into(),
            fields: vec![
                PojoField {
                    name: "id".into(),
                    declaring_class: "p.P".into(),
                    snapshot: long.clone(),
                },
                PojoField {
                    name: "name".into(),
                    declaring_class: "p.P".into(),
                    snapshot: string.clone(),
                },
            ],
        },
    };
    let bytes = [vec![2, 0], 5i64.to_be_bytes().to_vec(), vec![1]].concat();
    assert_eq!(
        decode_all(&pojo, &bytes).unwrap(),
        json!({"id": 5, "name": null})
    );
    assert_eq!(decode_all(&pojo, &[1]).unwrap(), Value::Null);
    assert!(
        decode_all(&pojo, &[4])
            .unwrap_err()
            .to_string()
            .contains("subclass")
    );
    let colour = Snapshot {
        class: ENUM_SNAPSHOT.into(),
        version: SIMPLE_VERSION,
        body: Body::Enum {
            enum_class: "p.Colour".into(),
            constants: vec!["RED".into(), "BLUE".into()],
        },
    };
    assert_eq!(
        decode_all(&colour, &1i32.to_be_bytes()).unwrap(),
        json!("BLUE")
    );
    assert!(decode_all(&colour, &2i32.to_be_bytes()).is_err());
}

#[test]
fn delimited_lists_and_unknown_serializers() {
    let long = single(names::LONG_SERIALIZER);
    let bytes = [
        1i64.to_be_bytes().to_vec(),
        vec![b','],
        2i64.to_be_bytes().to_vec(),
    ]
    .concat();
    assert_eq!(decode_delimited(&long, &bytes).unwrap(), json!([1, 2]));
    let trailing = [1i64.to_be_bytes().to_vec(), vec![b',']].concat();
    assert!(
        decode_delimited(&long, &trailing)
            .unwrap_err()
            .to_string()
            .contains("delimiter")
    );
    let kryo =
        Snapshot::simple("org.apache.flink.api.java.typeutils.runtime.kryo.KryoSerializerSnapshot");
    assert_eq!(
        decode_all(&kryo, &[1]).unwrap_err().to_string(),
        "no decoder for org.apache.flink.api.java.typeutils.runtime.kryo.KryoSerializerSnapshot"
    );
}

/// A hostile header (a tuple of no fields as a list element) cannot make a delimited
/// list loop forever.
#[test]
fn elements_of_no_bytes_are_refused() {
    let empty = Snapshot::composite(TUPLE_SNAPSHOT, vec![names::TUPLE.into()], vec![]);
    let e = decode_delimited(&empty, &[1, 2, 3]).unwrap_err();
    assert!(e.to_string().contains("no bytes"), "{e}");
}
