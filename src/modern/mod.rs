//! Flink ≥ 1.8 formats (docs/modern-formats.md): checkpoint metadata V2–V6, the keyed and
//! operator backend serialization proxies, and serializer snapshots. This is what a stock
//! Flink 1.20 or 2.x restores; it knows nothing of Flink 1.1.

pub mod decode;
pub mod metadata;
pub mod proxy;
pub(crate) mod snapshot;

pub use snapshot::{Body, Snapshot};

use crate::javaser::mutf8;

/// What a modern format cannot say of what it was given.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum WriteError {
    #[error("a string of {0} bytes does not fit writeUTF")]
    StringTooLong(usize),
    #[error("a count of {0} does not fit an int")]
    CountTooLarge(usize),
    #[error("metadata version {0} cannot be written (2 or 3)")]
    Version(u32),
    /// A handle or field the chosen version has no encoding for (or we never write).
    #[error("{0}")]
    NotExpressible(&'static str),
    #[error("operator {operator}: {problem}")]
    Operator {
        operator: metadata::OperatorId,
        problem: String,
    },
}

/// Big-endian `DataOutput` primitives over a byte vector; lengths are checked, never
/// truncated.
pub(crate) trait Utf {
    /// `writeUTF`.
    fn put_utf(&mut self, s: &str) -> Result<(), WriteError>;
    /// A count as a Java int.
    fn put_count(&mut self, n: usize) -> Result<(), WriteError>;
}

impl Utf for Vec<u8> {
    fn put_utf(&mut self, s: &str) -> Result<(), WriteError> {
        let b = mutf8::encode(s);
        let n = u16::try_from(b.len()).map_err(|_| WriteError::StringTooLong(b.len()))?;
        self.extend_from_slice(&n.to_be_bytes());
        self.extend_from_slice(&b);
        Ok(())
    }

    fn put_count(&mut self, n: usize) -> Result<(), WriteError> {
        let n = i32::try_from(n).map_err(|_| WriteError::CountTooLarge(n))?;
        self.extend_from_slice(&n.to_be_bytes());
        Ok(())
    }
}

/// The operator id Flink derives from a uid: murmur3_x64_128 (seed 0) of its UTF-8 bytes,
/// in Guava's byte order (`h1` then `h2`, each little-endian), which are the id's file bytes.
pub fn operator_id_of_uid(uid: &str) -> [u8; 16] {
    let (h1, h2) = murmur3_x64_128(uid.as_bytes(), 0);
    let mut id = [0u8; 16];
    id[..8].copy_from_slice(&h1.to_le_bytes());
    id[8..].copy_from_slice(&h2.to_le_bytes());
    id
}

fn murmur3_x64_128(data: &[u8], seed: u64) -> (u64, u64) {
    const C1: u64 = 0x87c3_7b91_1142_53d5;
    const C2: u64 = 0x4cf5_ad43_2745_937f;
    let fmix = |mut k: u64| {
        k ^= k >> 33;
        k = k.wrapping_mul(0xff51_afd7_ed55_8ccd);
        k ^= k >> 33;
        k = k.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        k ^ (k >> 33)
    };
    let (mut h1, mut h2) = (seed, seed);
    let mut blocks = data.chunks_exact(16);
    for b in &mut blocks {
        let mut k1 = u64::from_le_bytes(b[..8].try_into().unwrap_or_default());
        let mut k2 = u64::from_le_bytes(b[8..].try_into().unwrap_or_default());
        k1 = k1.wrapping_mul(C1).rotate_left(31).wrapping_mul(C2);
        h1 ^= k1;
        h1 = h1
            .rotate_left(27)
            .wrapping_add(h2)
            .wrapping_mul(5)
            .wrapping_add(0x52dc_e729);
        k2 = k2.wrapping_mul(C2).rotate_left(33).wrapping_mul(C1);
        h2 ^= k2;
        h2 = h2
            .rotate_left(31)
            .wrapping_add(h1)
            .wrapping_mul(5)
            .wrapping_add(0x3849_5ab5);
    }
    let tail = blocks.remainder();
    let (mut k1, mut k2) = (0u64, 0u64);
    for (i, &byte) in tail.iter().enumerate() {
        if i < 8 {
            k1 |= (byte as u64) << (8 * i);
        } else {
            k2 |= (byte as u64) << (8 * (i - 8));
        }
    }
    if tail.len() > 8 {
        h2 ^= k2.wrapping_mul(C2).rotate_left(33).wrapping_mul(C1);
    }
    if !tail.is_empty() {
        h1 ^= k1.wrapping_mul(C1).rotate_left(31).wrapping_mul(C2);
    }
    let len = data.len() as u64;
    h1 ^= len;
    h2 ^= len;
    h1 = h1.wrapping_add(h2);
    h2 = h2.wrapping_add(h1);
    h1 = fmix(h1);
    h2 = fmix(h2);
    h1 = h1.wrapping_add(h2);
    h2 = h2.wrapping_add(h1);
    (h1, h2)
}

#[cfg(test)]
mod tests {
    /// Reference ids: the Flink 1.1 fixture job's vertex ids, which Flink 1.1 to 2.3 all
    /// derive from these uids (tests/modern_target.rs checks them against the file).
    #[test]
    fn operator_ids_of_uids() {
        let hex = |uid: &str| -> String { crate::ids::hex(&super::operator_id_of_uid(uid)) };
        assert_eq!(
            hex("LegacyCheckpointedSource"),
            "c4e49e546d86951780eded4825c37bcc"
        );
        assert_eq!(
            hex("KeyedStateSettingFlatMap"),
            "072c4efc280f5df0bfc5743297a438e7"
        );
        // 39 bytes: two blocks and a tail of 7.
        assert_eq!(
            hex("LegacyCheckpointedFlatMapWithKeyedState"),
            "b6f2d694289c3a40c7b6f325a615a3cf"
        );
        assert_eq!(super::murmur3_x64_128(b"", 0), (0, 0));
    }
}
