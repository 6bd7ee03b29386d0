//! Hex text of bytes and Flink's 16-byte job vertex id: one spelling for every layer
//! (Flink 1.1, Flink 1.2 and the tree all name vertices by the same 32 hex digits).

use std::fmt;

/// Lower-case hex, two digits per byte.
pub fn hex(bytes: &[u8]) -> String {
    use fmt::Write;
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// 16 bytes from exactly 32 hex digits (either case).
pub fn parse_hex16(s: &str) -> Option<[u8; 16]> {
    if s.len() != 32 || !s.is_ascii() {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

/// A JobVertexID: the 16 bytes as they sit in the file (`lowerPart` ‖ `upperPart`, both
/// big-endian), which is also the order of Flink's hex text form.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct VertexId(pub [u8; 16]);

impl VertexId {
    /// Parses the 32-hex-digit form (either case).
    pub fn from_hex(s: &str) -> Option<VertexId> {
        parse_hex16(s).map(VertexId)
    }
    pub fn lower_part(&self) -> i64 {
        i64::from_be_bytes(self.0[..8].try_into().expect("8 bytes"))
    }
    pub fn upper_part(&self) -> i64 {
        i64::from_be_bytes(self.0[8..].try_into().expect("8 bytes"))
    }
}

impl fmt::Display for VertexId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex(&self.0))
    }
}

/// As its hex text (how `inspect --json` and `savepoint.json` show it).
impl serde::Serialize for VertexId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl fmt::Debug for VertexId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VertexId({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips() {
        let id = [0xab; 16];
        assert_eq!(hex(&id), "ab".repeat(16));
        assert_eq!(parse_hex16(&"AB".repeat(16)), Some(id));
        assert_eq!(parse_hex16("ab"), None);
        assert_eq!(parse_hex16(&"zz".repeat(16)), None);
        let v = VertexId::from_hex("0000000000000001ffffffffffffffff").unwrap();
        assert_eq!((v.lower_part(), v.upper_part()), (1, -1));
        assert_eq!(v.to_string(), "0000000000000001ffffffffffffffff");
    }
}
