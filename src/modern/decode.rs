//! Serialized values as JSON, read with the serializer snapshots a modern header holds:
//! what the decoded views show. The snapshot names the serializer and, for composites,
//! their elements' snapshots (and a POJO's field names), so no Flink 1.1 object is needed.
//! A serializer without a decoder here is an [`Undecodable`] naming it; callers show such
//! a value as its byte span.

use super::snapshot::{
    ARRAY_LIST_SNAPSHOT, Body, GENERIC_ARRAY_SNAPSHOT, LIST_SNAPSHOT, MAP_SNAPSHOT,
    STREAM_ELEMENT_SNAPSHOT, Snapshot, TUPLE_SNAPSHOT,
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

/// A snapshot compiled once into what reads its values (no class names matched per value).
#[derive(Clone, Debug)]
pub enum Decoder {
    Long,
    Int,
    Short,
    Byte,
    Bool,
    Char,
    Float,
    Double,
    String,
    /// `VoidSerializer` / `VoidNamespaceSerializer`: one byte, `null`.
    Void,
    GlobalWindow,
    TimeWindow,
    Bytes,
    LongArray,
    IntArray,
    StringArray,
    Tuple(Vec<Decoder>),
    List(Box<Decoder>),
    Map(Box<Decoder>, Box<Decoder>),
    GenericArray(Box<Decoder>),
    Enum(Vec<String>),
    Pojo(Vec<(String, Decoder)>),
    /// `StreamElementSerializer` (an evicting window's elements): tag `01` + the value, or
    /// `00` + a timestamp + the value (shown as `{"timestamp", "value"}`).
    StreamElement(Box<Decoder>),
    /// No decoder: the snapshot class, or why.
    Unknown(String),
}

impl Decoder {
    pub fn of(s: &Snapshot) -> Decoder {
        Self::of_depth(s, 0)
    }

    fn of_depth(s: &Snapshot, depth: usize) -> Decoder {
        if depth > MAX_DEPTH {
            return Decoder::Unknown(format!("{}: serializers nested too deeply", s.class));
        }
        let nested = |i: usize| match &s.body {
            Body::Composite { nested, .. } => nested.get(i).map_or_else(
                || Decoder::Unknown(format!("{} without element {i}", s.class)),
                |n| Self::of_depth(n, depth + 1),
            ),
            _ => Decoder::Unknown(s.class.clone()),
        };
        match (serializer_name(&s.class), &s.body) {
            ("LongSerializer", _) => Decoder::Long,
            ("IntSerializer", _) => Decoder::Int,
            ("ShortSerializer", _) => Decoder::Short,
            ("ByteSerializer", _) => Decoder::Byte,
            ("BooleanSerializer", _) => Decoder::Bool,
            ("CharSerializer", _) => Decoder::Char,
            ("FloatSerializer", _) => Decoder::Float,
            ("DoubleSerializer", _) => Decoder::Double,
            ("StringSerializer", _) => Decoder::String,
            ("VoidSerializer" | "VoidNamespaceSerializer", _) => Decoder::Void,
            ("GlobalWindow", _) => Decoder::GlobalWindow,
            ("TimeWindow", _) => Decoder::TimeWindow,
            ("BytePrimitiveArraySerializer", _) => Decoder::Bytes,
            ("LongPrimitiveArraySerializer", _) => Decoder::LongArray,
            ("IntPrimitiveArraySerializer", _) => Decoder::IntArray,
            ("StringArraySerializer", _) => Decoder::StringArray,
            ("TupleSerializer", Body::Composite { nested, .. }) => Decoder::Tuple(
                nested
                    .iter()
                    .map(|n| Self::of_depth(n, depth + 1))
                    .collect(),
            ),
            ("ListSerializer" | "ArrayListSerializer", _) => Decoder::List(Box::new(nested(0))),
            ("MapSerializer", _) => Decoder::Map(Box::new(nested(0)), Box::new(nested(1))),
            ("GenericArraySerializer", _) => Decoder::GenericArray(Box::new(nested(0))),
            ("StreamElementSerializer", _) => Decoder::StreamElement(Box::new(nested(0))),
            (_, Body::Enum { constants, .. }) => Decoder::Enum(constants.clone()),
            (_, Body::Pojo { fields, .. }) => Decoder::Pojo(
                fields
                    .iter()
                    .map(|f| (f.name.clone(), Self::of_depth(&f.snapshot, depth + 1)))
                    .collect(),
            ),
            _ => Decoder::Unknown(s.class.clone()),
        }
    }

    /// Decodes exactly one value of `bytes`.
    pub fn decode_all(&self, bytes: &[u8]) -> Result<Value, Undecodable> {
        let mut r = bytes;
        let v = self.decode(&mut r)?;
        match r.len() {
            0 => Ok(v),
            n => Err(Undecodable::Trailing(n)),
        }
    }

    /// A list state's value in the canonical layout: its elements joined by `,`.
    pub fn decode_delimited(&self, bytes: &[u8]) -> Result<Value, Undecodable> {
        let mut r = bytes;
        let mut out = Vec::new();
        while !r.is_empty() {
            let before = r.len();
            out.push(self.decode(&mut r)?);
            if r.len() == before {
                // An element of no bytes (a tuple of nothing): the list would never end.
                return Err(Undecodable::Bytes(bad(
                    "list elements of no bytes cannot be delimited".into(),
                )));
            }
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

    /// Decodes one value from the front of `r`, leaving the rest.
    pub fn decode(&self, r: &mut &[u8]) -> Result<Value, Undecodable> {
        Ok(match self {
            Decoder::Long => json!(i64::from_be_bytes(take(r)?)),
            Decoder::Int => json!(i32::from_be_bytes(take(r)?)),
            Decoder::Short => json!(i16::from_be_bytes(take(r)?)),
            Decoder::Byte => json!(i8::from_be_bytes(take(r)?)),
            Decoder::Bool => json!(take::<1>(r)?[0] != 0),
            Decoder::Char => {
                let unit = u16::from_be_bytes(take(r)?);
                json!(String::from_utf16_lossy(&[unit]))
            }
            Decoder::Float => float(f32::from_be_bytes(take(r)?) as f64),
            Decoder::Double => float(f64::from_be_bytes(take(r)?)),
            Decoder::String => read_string_value(r)?.map_or(Value::Null, Value::String),
            Decoder::Void => {
                take::<1>(r)?;
                Value::Null
            }
            Decoder::GlobalWindow => {
                take::<1>(r)?;
                json!({})
            }
            Decoder::TimeWindow => {
                let start = i64::from_be_bytes(take(r)?);
                let end = i64::from_be_bytes(take(r)?);
                json!({"start": start, "end": end})
            }
            Decoder::Bytes => {
                let n = count(r)?;
                if n > r.len() {
                    return Err(Undecodable::Bytes(io::ErrorKind::UnexpectedEof.into()));
                }
                let (b, rest) = r.split_at(n);
                *r = rest;
                json!({"hex": hex(b)})
            }
            Decoder::LongArray => array(r, |r| Ok(json!(i64::from_be_bytes(take(r)?))))?,
            Decoder::IntArray => array(r, |r| Ok(json!(i32::from_be_bytes(take(r)?))))?,
            Decoder::StringArray => array(r, |r| {
                Ok(read_string_value(r)?.map_or(Value::Null, Value::String))
            })?,
            Decoder::StreamElement(value) => match take::<1>(r)?[0] {
                1 => value.decode(r)?,
                0 => {
                    let timestamp = i64::from_be_bytes(take(r)?);
                    json!({"timestamp": timestamp, "value": value.decode(r)?})
                }
                tag => {
                    return Err(Undecodable::Bytes(bad(format!(
                        "stream element tag {tag}, not a record's"
                    ))));
                }
            },
            Decoder::Tuple(fields) => Value::Array(
                fields
                    .iter()
                    .map(|f| f.decode(r))
                    .collect::<Result<_, _>>()?,
            ),
            Decoder::List(element) => {
                let n = count(r)?;
                let mut out = Vec::with_capacity(n.min(1024));
                for _ in 0..n {
                    out.push(element.decode(r)?);
                }
                Value::Array(out)
            }
            Decoder::Map(k, v) => {
                // Entries as [key, value] pairs: keys need not be strings.
                let n = count(r)?;
                let mut out = Vec::with_capacity(n.min(1024));
                for _ in 0..n {
                    let key = k.decode(r)?;
                    let is_null = take::<1>(r)?[0] != 0;
                    let value = if is_null { Value::Null } else { v.decode(r)? };
                    out.push(json!([key, value]));
                }
                Value::Array(out)
            }
            Decoder::GenericArray(element) => {
                let n = count(r)?;
                let mut out = Vec::with_capacity(n.min(1024));
                for _ in 0..n {
                    let present = take::<1>(r)?[0] != 0;
                    out.push(if present {
                        element.decode(r)?
                    } else {
                        Value::Null
                    });
                }
                Value::Array(out)
            }
            Decoder::Enum(constants) => {
                let ordinal = i32::from_be_bytes(take(r)?);
                match usize::try_from(ordinal).ok().and_then(|o| constants.get(o)) {
                    Some(c) => json!(c),
                    None => return Err(Undecodable::Bytes(bad(format!("enum ordinal {ordinal}")))),
                }
            }
            Decoder::Pojo(fields) => match take::<1>(r)?[0] {
                1 => Value::Null,
                2 => {
                    let mut out = serde_json::Map::new();
                    for (name, f) in fields {
                        let is_null = take::<1>(r)?[0] != 0;
                        let v = if is_null { Value::Null } else { f.decode(r)? };
                        out.insert(name.clone(), v);
                    }
                    Value::Object(out)
                }
                flags => {
                    return Err(Undecodable::Bytes(bad(format!(
                        "POJO flags {flags:#04x}: a subclass value"
                    ))));
                }
            },
            Decoder::Unknown(what) => return Err(Undecodable::Serializer(what.clone())),
        })
    }
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
        (STREAM_ELEMENT_SNAPSHOT.0, "StreamElementSerializer"),
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

mod json_out;
#[cfg(test)]
mod tests;
