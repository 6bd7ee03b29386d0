//! Serialized values as JSON, read with the serializer snapshots a modern header holds:
//! what the decoded views show. The snapshot names the serializer and, for composites,
//! their elements' snapshots (and a POJO's field names), so no Flink 1.1 object is needed.
//! A serializer without a decoder here is an [`Undecodable`] naming it; callers show such
//! a value as its byte span.

use super::snapshot::{
    ARRAY_LIST_SNAPSHOT, Body, GENERIC_ARRAY_SNAPSHOT, LIST_SNAPSHOT, MAP_SNAPSHOT, Snapshot,
    TUPLE_SNAPSHOT,
};
use serde_json::{Value, json};
use std::io::{self, Read};

/// Why a value could not be decoded.
#[derive(Debug, thiserror::Error)]
pub enum Undecodable {
    #[error("no decoder for {0}")]
    Serializer(String),
    #[error("{0}")]
    Bytes(#[from] io::Error),
    #[error("{0} bytes left after the value")]
    Trailing(usize),
}

/// Composite values nested deeper than this are refused (hostile headers).
const MAX_DEPTH: usize = 32;
/// Collections longer than this are refused rather than allocated for.
const MAX_ELEMENTS: usize = 1 << 24;

/// Decodes exactly one value of `bytes`.
pub fn decode_all(snapshot: &Snapshot, bytes: &[u8]) -> Result<Value, Undecodable> {
    let mut r = bytes;
    let v = decode(snapshot, &mut r, 0)?;
    match r.len() {
        0 => Ok(v),
        n => Err(Undecodable::Trailing(n)),
    }
}

/// Decodes one value from the front of `r`, leaving the rest.
pub fn decode_prefix(snapshot: &Snapshot, r: &mut &[u8]) -> Result<Value, Undecodable> {
    decode(snapshot, r, 0)
}

/// A list state's value in the canonical layout: its elements joined by `,`.
pub fn decode_delimited(element: &Snapshot, bytes: &[u8]) -> Result<Value, Undecodable> {
    let mut r = bytes;
    let mut out = Vec::new();
    while !r.is_empty() {
        out.push(decode(element, &mut r, 0)?);
        match r {
            [] => {}
            [b',', rest @ ..] if !rest.is_empty() => r = rest,
            _ => {
                return Err(Undecodable::Bytes(bad(format!(
                    "element {} is not followed by the `,` delimiter",
                    out.len() - 1
                ))));
            }
        }
    }
    Ok(Value::Array(out))
}

fn bad(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

/// What a snapshot class decodes as: composites by their snapshot class, singletons by
/// the simple name of the serializer their nested snapshot class sits in (`LongSerializer`
/// for `…base.LongSerializer$LongSerializerSnapshot`, `TimeWindow` for
/// `…TimeWindow$Serializer$TimeWindowSerializerSnapshot`).
fn serializer_name(class: &str) -> &str {
    for (snapshot, name) in [
        (TUPLE_SNAPSHOT.0, "TupleSerializer"),
        (LIST_SNAPSHOT.0, "ListSerializer"),
        (ARRAY_LIST_SNAPSHOT.0, "ArrayListSerializer"),
        (MAP_SNAPSHOT.0, "MapSerializer"),
        (GENERIC_ARRAY_SNAPSHOT.0, "GenericArraySerializer"),
    ] {
        if class == snapshot {
            return name;
        }
    }
    let outer = class.split('$').next().unwrap_or(class);
    outer.rsplit('.').next().unwrap_or(outer)
}

fn take<const N: usize>(r: &mut &[u8]) -> io::Result<[u8; N]> {
    let mut b = [0u8; N];
    r.read_exact(&mut b)?;
    Ok(b)
}

fn count(r: &mut &[u8]) -> io::Result<usize> {
    let n = i32::from_be_bytes(take(r)?);
    usize::try_from(n)
        .ok()
        .filter(|&n| n <= MAX_ELEMENTS)
        .ok_or_else(|| bad(format!("a collection of {n} elements")))
}

fn decode(s: &Snapshot, r: &mut &[u8], depth: usize) -> Result<Value, Undecodable> {
    if depth > MAX_DEPTH {
        return Err(Undecodable::Bytes(bad("values nested too deeply".into())));
    }
    let nested = |i: usize| -> Result<&Snapshot, Undecodable> {
        match &s.body {
            Body::Composite { nested, .. } => nested
                .get(i)
                .ok_or_else(|| Undecodable::Serializer(format!("{} without element {i}", s.class))),
            _ => Err(Undecodable::Serializer(s.class.clone())),
        }
    };
    let name = serializer_name(&s.class);
    Ok(match (name, &s.body) {
        ("LongSerializer", _) => json!(i64::from_be_bytes(take(r)?)),
        ("IntSerializer", _) => json!(i32::from_be_bytes(take(r)?)),
        ("ShortSerializer", _) => json!(i16::from_be_bytes(take(r)?)),
        ("ByteSerializer", _) => json!(i8::from_be_bytes(take(r)?)),
        ("BooleanSerializer", _) => json!(take::<1>(r)?[0] != 0),
        ("CharSerializer", _) => {
            let unit = u16::from_be_bytes(take(r)?);
            json!(String::from_utf16_lossy(&[unit]))
        }
        ("FloatSerializer", _) => float(f32::from_be_bytes(take(r)?) as f64),
        ("DoubleSerializer", _) => float(f64::from_be_bytes(take(r)?)),
        ("StringSerializer", _) => match read_string_value(r)? {
            Some(s) => json!(s),
            None => Value::Null,
        },
        ("VoidSerializer" | "VoidNamespaceSerializer", _) => {
            take::<1>(r)?;
            Value::Null
        }
        ("GlobalWindow", _) => {
            take::<1>(r)?;
            json!({})
        }
        ("TimeWindow", _) => {
            let start = i64::from_be_bytes(take(r)?);
            let end = i64::from_be_bytes(take(r)?);
            json!({"start": start, "end": end})
        }
        ("BytePrimitiveArraySerializer", _) => {
            let n = count(r)?;
            let mut b = vec![0u8; n.min(r.len())];
            r.read_exact(&mut b)?;
            if b.len() < n {
                return Err(Undecodable::Bytes(io::ErrorKind::UnexpectedEof.into()));
            }
            json!({"hex": hex(&b)})
        }
        ("LongPrimitiveArraySerializer", _) => {
            array(r, |r| Ok(json!(i64::from_be_bytes(take(r)?))))?
        }
        ("IntPrimitiveArraySerializer", _) => {
            array(r, |r| Ok(json!(i32::from_be_bytes(take(r)?))))?
        }
        ("StringArraySerializer", _) => array(r, |r| {
            Ok(read_string_value(r)?.map_or(Value::Null, Value::String))
        })?,
        ("TupleSerializer", Body::Composite { nested, .. }) => Value::Array(
            nested
                .iter()
                .map(|n| decode(n, r, depth + 1))
                .collect::<Result<_, _>>()?,
        ),
        ("ListSerializer" | "ArrayListSerializer", _) => {
            let element = nested(0)?;
            let n = count(r)?;
            let mut out = Vec::with_capacity(n.min(1024));
            for _ in 0..n {
                out.push(decode(element, r, depth + 1)?);
            }
            Value::Array(out)
        }
        ("MapSerializer", _) => {
            // Entries as [key, value] pairs: keys need not be strings.
            let (k, v) = (nested(0)?, nested(1)?);
            let n = count(r)?;
            let mut out = Vec::with_capacity(n.min(1024));
            for _ in 0..n {
                let key = decode(k, r, depth + 1)?;
                let is_null = take::<1>(r)?[0] != 0;
                let value = if is_null {
                    Value::Null
                } else {
                    decode(v, r, depth + 1)?
                };
                out.push(json!([key, value]));
            }
            Value::Array(out)
        }
        ("GenericArraySerializer", _) => {
            let element = nested(0)?;
            let n = count(r)?;
            let mut out = Vec::with_capacity(n.min(1024));
            for _ in 0..n {
                let present = take::<1>(r)?[0] != 0;
                out.push(if present {
                    decode(element, r, depth + 1)?
                } else {
                    Value::Null
                });
            }
            Value::Array(out)
        }
        (_, Body::Enum { constants, .. }) => {
            let ordinal = i32::from_be_bytes(take(r)?);
            match usize::try_from(ordinal).ok().and_then(|o| constants.get(o)) {
                Some(c) => json!(c),
                None => return Err(Undecodable::Bytes(bad(format!("enum ordinal {ordinal}")))),
            }
        }
        (_, Body::Pojo { fields, .. }) => match take::<1>(r)?[0] {
            1 => Value::Null,
            2 => {
                let mut out = serde_json::Map::new();
                for f in fields {
                    let is_null = take::<1>(r)?[0] != 0;
                    let v = if is_null {
                        Value::Null
                    } else {
                        decode(&f.snapshot, r, depth + 1)?
                    };
                    out.insert(f.name.clone(), v);
                }
                Value::Object(out)
            }
            flags => {
                return Err(Undecodable::Bytes(bad(format!(
                    "POJO flags {flags:#04x}: a subclass value"
                ))));
            }
        },
        _ => return Err(Undecodable::Serializer(s.class.clone())),
    })
}

fn array(
    r: &mut &[u8],
    mut element: impl FnMut(&mut &[u8]) -> io::Result<Value>,
) -> io::Result<Value> {
    let n = count(r)?;
    let mut out = Vec::with_capacity(n.min(1024));
    for _ in 0..n {
        out.push(element(r)?);
    }
    Ok(Value::Array(out))
}

/// JSON has no NaN or infinities: those are written as strings.
fn float(v: f64) -> Value {
    serde_json::Number::from_f64(v).map_or_else(|| json!(v.to_string()), Value::Number)
}

pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// `StringValue.readString`: length+1 as 7-bit groups (0 = null), then UTF-16 units the
/// same way.
pub fn read_string_value(r: &mut impl Read) -> io::Result<Option<String>> {
    let varint = |r: &mut dyn Read| -> io::Result<u32> {
        let mut out = 0u32;
        for shift in (0..35).step_by(7) {
            let mut b = [0u8; 1];
            r.read_exact(&mut b)?;
            out |= ((b[0] & 0x7F) as u32) << shift;
            if b[0] & 0x80 == 0 {
                return Ok(out);
            }
        }
        Err(bad("string length varint too long".into()))
    };
    let len = varint(r)?;
    if len == 0 {
        return Ok(None);
    }
    let mut units = Vec::with_capacity((len as usize - 1).min(1 << 16));
    for _ in 0..len - 1 {
        units.push(varint(r)? as u16);
    }
    Ok(Some(String::from_utf16_lossy(&units)))
}

#[cfg(test)]
mod tests;
