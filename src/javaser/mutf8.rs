//! Java's "modified UTF-8" (`DataInput.readUTF`): NUL is `C0 80`, supplementary
//! characters are two 3-byte surrogates.

/// Decodes modified UTF-8; `None` on a malformed sequence.
pub fn decode(bytes: &[u8]) -> Option<String> {
    // Fast path: plain UTF-8 without NUL reads the same in both encodings.
    if let Ok(s) = std::str::from_utf8(bytes) {
        return Some(s.to_owned());
    }
    let mut units: Vec<u16> = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let (unit, n) = match b >> 4 {
            0..=7 => (b as u16, 1),
            12 | 13 => {
                let c = *bytes.get(i + 1)?;
                if c & 0xC0 != 0x80 {
                    return None;
                }
                ((((b & 0x1F) as u16) << 6) | (c & 0x3F) as u16, 2)
            }
            14 => {
                let c = *bytes.get(i + 1)?;
                let d = *bytes.get(i + 2)?;
                if c & 0xC0 != 0x80 || d & 0xC0 != 0x80 {
                    return None;
                }
                (
                    (((b & 0x0F) as u16) << 12) | (((c & 0x3F) as u16) << 6) | (d & 0x3F) as u16,
                    3,
                )
            }
            _ => return None,
        };
        units.push(unit);
        i += n;
    }
    String::from_utf16(&units).ok()
}

/// Decodes, replacing anything malformed (for display).
pub fn decode_lossy(bytes: &[u8]) -> String {
    decode(bytes).unwrap_or_else(|| String::from_utf8_lossy(bytes).into_owned())
}

/// Encodes a Rust string as modified UTF-8.
pub fn encode(s: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    for unit in s.encode_utf16() {
        match unit {
            1..=0x7F => out.push(unit as u8),
            0 | 0x80..=0x7FF => {
                out.push(0xC0 | (unit >> 6) as u8);
                out.push(0x80 | (unit & 0x3F) as u8);
            }
            _ => {
                out.push(0xE0 | (unit >> 12) as u8);
                out.push(0x80 | ((unit >> 6) & 0x3F) as u8);
                out.push(0x80 | (unit & 0x3F) as u8);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_nul_bmp_and_supplementary() {
        for s in ["", "plain", "a\0b", "é€", "𝄞 clef"] {
            let enc = encode(s);
            assert_eq!(decode(&enc).as_deref(), Some(s), "{s:?}");
        }
        assert_eq!(encode("\0"), vec![0xC0, 0x80]);
        assert_eq!(encode("𝄞").len(), 6);
    }

    #[test]
    fn rejects_malformed() {
        assert_eq!(decode(&[0xC0]), None);
        assert_eq!(decode(&[0xF0, 0x9D, 0x84, 0x9E]), Some("𝄞".into())); // valid UTF-8 accepted
        assert_eq!(decode(&[0xE0, 0x80]), None);
        assert_eq!(decode(&[0xFF]), None);
    }
}
