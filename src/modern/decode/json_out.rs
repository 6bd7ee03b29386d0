//! The decoded views' hot path: a value's JSON written straight into the output, with no
//! `serde_json::Value` built per value, for the common serializers (numbers, strings,
//! windows, tuples, lists, arrays). The bytes equal `serde_json::to_writer` of
//! [`Decoder::decode`]'s value (objects have sorted keys, as serde_json's map does); the
//! other serializers go through `decode`.

use super::{Decoder, Undecodable, count, read_string_value, take};
use std::io::Write;

impl Decoder {
    /// Writes the JSON of one value read from the front of `r`. On error `out` may hold
    /// part of it: the caller truncates.
    pub fn write(&self, r: &mut &[u8], out: &mut Vec<u8>) -> Result<(), Undecodable> {
        // Writing into a Vec cannot fail.
        match self {
            Decoder::Long => {
                let _ = write!(out, "{}", i64::from_be_bytes(take(r)?));
            }
            Decoder::Int => {
                let _ = write!(out, "{}", i32::from_be_bytes(take(r)?));
            }
            Decoder::Short => {
                let _ = write!(out, "{}", i16::from_be_bytes(take(r)?));
            }
            Decoder::Byte => {
                let _ = write!(out, "{}", i8::from_be_bytes(take(r)?));
            }
            Decoder::Bool => {
                let b = take::<1>(r)?[0] != 0;
                out.extend_from_slice(if b { b"true" } else { b"false" });
            }
            Decoder::String => match read_string_value(r)? {
                Some(s) => {
                    let _ = serde_json::to_writer(&mut *out, &s);
                }
                None => out.extend_from_slice(b"null"),
            },
            Decoder::Void => {
                take::<1>(r)?;
                out.extend_from_slice(b"null");
            }
            Decoder::GlobalWindow => {
                take::<1>(r)?;
                out.extend_from_slice(b"{}");
            }
            Decoder::TimeWindow => {
                let start = i64::from_be_bytes(take(r)?);
                let end = i64::from_be_bytes(take(r)?);
                let _ = write!(out, "{{\"end\":{end},\"start\":{start}}}");
            }
            Decoder::LongArray => {
                let n = count(r)?;
                elements(out, n, |out| {
                    let _ = write!(out, "{}", i64::from_be_bytes(take(r)?));
                    Ok(())
                })?;
            }
            Decoder::IntArray => {
                let n = count(r)?;
                elements(out, n, |out| {
                    let _ = write!(out, "{}", i32::from_be_bytes(take(r)?));
                    Ok(())
                })?;
            }
            Decoder::Tuple(fields) => {
                let n = fields.len();
                let mut fields = fields.iter();
                elements(out, n, |out| match fields.next() {
                    Some(f) => f.write(r, out),
                    None => Ok(()),
                })?;
            }
            Decoder::List(element) => {
                let n = count(r)?;
                elements(out, n, |out| element.write(r, out))?;
            }
            _ => {
                let v = self.decode(r)?;
                let _ = serde_json::to_writer(&mut *out, &v);
            }
        }
        Ok(())
    }

    /// [`Decoder::decode_all`]'s JSON, written.
    pub fn write_all(&self, bytes: &[u8], out: &mut Vec<u8>) -> Result<(), Undecodable> {
        let mut r = bytes;
        self.write(&mut r, out)?;
        match r.len() {
            0 => Ok(()),
            n => Err(Undecodable::Trailing(n)),
        }
    }

    /// [`Decoder::decode_delimited`]'s JSON, written.
    pub fn write_delimited(&self, bytes: &[u8], out: &mut Vec<u8>) -> Result<(), Undecodable> {
        let mut r = bytes;
        out.push(b'[');
        let mut n = 0usize;
        while !r.is_empty() {
            if n > 0 {
                out.push(b',');
            }
            let before = r.len();
            self.write(&mut r, out)?;
            if r.len() == before {
                return Err(Undecodable::Bytes(super::bad(
                    "list elements of no bytes cannot be delimited".into(),
                )));
            }
            match r {
                [] => {}
                [b',', rest @ ..] if !rest.is_empty() => r = rest,
                _ => {
                    return Err(Undecodable::Bytes(super::bad(format!(
                        "element {n} is not followed by the `,` delimiter"
                    ))));
                }
            }
            n += 1;
        }
        out.push(b']');
        Ok(())
    }
}

/// `[e1,e2,…]` of `n` elements, each written by `each`.
fn elements(
    out: &mut Vec<u8>,
    n: usize,
    mut each: impl FnMut(&mut Vec<u8>) -> Result<(), Undecodable>,
) -> Result<(), Undecodable> {
    out.push(b'[');
    for i in 0..n {
        if i > 0 {
            out.push(b',');
        }
        each(out)?;
    }
    out.push(b']');
    Ok(())
}
