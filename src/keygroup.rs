//! Key groups exactly as Flink computes them (legacy-formats.md §3.13): Flink 1.1 routed a key
//! to subtask `murmur(hashCode) % parallelism`, and Flink 1.2 assigns key groups with the
//! same hash, which is why a converted savepoint uses maxParallelism = parallelism.
//! Java's `hashCode` of the usual key types is here too, since the hash starts from it.

/// Flink's `MathUtils.murmurHash`: one murmur3 round plus finalizer, made non-negative.
pub fn murmur_hash(code: i32) -> i32 {
    let mut h = code.wrapping_mul(0xcc9e_2d51_u32 as i32);
    h = h.rotate_left(15);
    h = h.wrapping_mul(0x1b87_3593);
    h = h.rotate_left(13);
    h = h.wrapping_mul(5).wrapping_add(0xe654_6b64_u32 as i32);
    h ^= 4;
    h = fmix(h);
    if h >= 0 {
        h
    } else if h != i32::MIN {
        -h
    } else {
        0
    }
}

fn fmix(mut h: i32) -> i32 {
    h ^= ((h as u32) >> 16) as i32;
    h = h.wrapping_mul(0x85eb_ca6b_u32 as i32);
    h ^= ((h as u32) >> 13) as i32;
    h = h.wrapping_mul(0xc2b2_ae35_u32 as i32);
    h ^= ((h as u32) >> 16) as i32;
    h
}

/// `KeyGroupRangeAssignment.assignToKeyGroup` from the key's Java `hashCode`.
pub fn assign_to_key_group(hash_code: i32, max_parallelism: u32) -> u32 {
    debug_assert!(max_parallelism > 0);
    (murmur_hash(hash_code) as u32) % max_parallelism.max(1)
}

/// The operator (subtask) index that owns key group `group`.
pub fn operator_index_for_key_group(max_parallelism: u32, parallelism: u32, group: u32) -> u32 {
    (group as u64 * parallelism as u64 / max_parallelism.max(1) as u64) as u32
}

/// The inclusive key-group range of subtask `index`; `None` when it owns no group
/// (only possible when parallelism > maxParallelism).
pub fn key_group_range(max_parallelism: u32, parallelism: u32, index: u32) -> Option<(u32, u32)> {
    if max_parallelism == 0 {
        return None;
    }
    let (m, p, i) = (
        max_parallelism as u64,
        parallelism.max(1) as u64,
        index as u64,
    );
    let start = if i == 0 { 0 } else { (i * m - 1) / p + 1 };
    let end = ((i + 1) * m).checked_sub(1)? / p;
    (start <= end).then_some((start as u32, end as u32))
}

/// Flink 1.2's `KeyGroupRangeAssignment.computeDefaultMaxParallelism`.
pub fn default_max_parallelism(parallelism: u32) -> u32 {
    let p = parallelism as u64;
    (p + p / 2).next_power_of_two().clamp(128, 32768) as u32
}

/// Flink's limit on max parallelism (`KeyGroupRangeAssignment.UPPER_BOUND_MAX_PARALLELISM`).
pub const MAX_PARALLELISM: u32 = 1 << 15;

/// The `short` after a key group's last record in the canonical savepoint layout
/// (`END_OF_KEY_GROUP_MARK`); any other value there is the next state's id.
pub const END_OF_KEY_GROUP: u16 = 0xFFFF;
/// The flag on the first key byte of the last record of a state in its key group.
pub const LAST_IN_STATE: u8 = 0x80;

/// The key-group prefix of a key in RocksDB-style layouts (Flink's RocksDB backend and
/// the canonical savepoint format): the key group big-endian in one byte when the job
/// has at most 128 key groups, in two above; the first byte's top bit marks the last
/// record of a state in its key group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Prefix {
    bytes: [u8; 2],
    len: u8,
    group: u32,
}

/// The prefix of key group `group` of a job with `max_parallelism` key groups.
pub fn prefix(group: u32, max_parallelism: u32) -> Result<Prefix, String> {
    if max_parallelism == 0 || max_parallelism > MAX_PARALLELISM || group >= max_parallelism {
        return Err(format!(
            "key group {group} of max parallelism {max_parallelism} (Flink allows 1 to {MAX_PARALLELISM})"
        ));
    }
    let be = (group as u16).to_be_bytes();
    Ok(if max_parallelism > 128 {
        Prefix {
            bytes: be,
            len: 2,
            group,
        }
    } else {
        Prefix {
            bytes: [be[1], 0],
            len: 1,
            group,
        }
    })
}

impl Prefix {
    pub fn bytes(&self) -> &[u8] {
        &self.bytes[..self.len as usize]
    }
    pub fn len(&self) -> usize {
        self.len as usize
    }
    pub fn is_empty(&self) -> bool {
        false
    }
    pub fn key_group(&self) -> u32 {
        self.group
    }
    /// Flags the record as its state's last in the key group.
    pub fn mark_last(&mut self) {
        self.bytes[0] |= LAST_IN_STATE;
    }
}

/// A key value whose Java `hashCode` we can compute.
#[derive(Clone, Debug, PartialEq)]
pub enum JavaKey {
    Null,
    Long(i64),
    Int(i32),
    Bool(bool),
    String(String),
    /// A Flink `TupleN` (`Tuple1`, `Tuple2`, ...): fields `f0..`.
    Tuple(Vec<JavaKey>),
}

impl JavaKey {
    /// `Object.hashCode()` of the Java value (0 for null, as Flink's tuples treat it).
    pub fn hash_code(&self) -> i32 {
        match self {
            JavaKey::Null => 0,
            JavaKey::Long(v) => (v ^ ((*v as u64) >> 32) as i64) as i32,
            JavaKey::Int(v) => *v,
            JavaKey::Bool(b) => {
                if *b {
                    1231
                } else {
                    1237
                }
            }
            JavaKey::String(s) => s
                .encode_utf16()
                .fold(0i32, |h, u| h.wrapping_mul(31).wrapping_add(u as i32)),
            JavaKey::Tuple(fields) => {
                let mut it = fields.iter();
                let first = it.next().map_or(0, JavaKey::hash_code);
                it.fold(first, |h, f| h.wrapping_mul(31).wrapping_add(f.hash_code()))
            }
        }
    }

    /// The key group of this key.
    pub fn key_group(&self, max_parallelism: u32) -> u32 {
        assign_to_key_group(self.hash_code(), max_parallelism)
    }
}

#[cfg(test)]
mod prefix_tests {
    use super::*;

    #[test]
    fn one_byte_up_to_128_key_groups_two_above() {
        assert_eq!(prefix(5, 128).unwrap().bytes(), &[5]);
        assert_eq!(prefix(5, 129).unwrap().bytes(), &[0, 5]);
        assert_eq!(prefix(300, 1024).unwrap().bytes(), &[1, 44]);
        let mut last = prefix(300, 1024).unwrap();
        last.mark_last();
        assert_eq!(last.bytes(), &[0x81, 44]);
        assert!(prefix(128, 128).is_err());
        assert!(prefix(0, 40000).is_err());
        assert_eq!(prefix(32767, 32768).unwrap().bytes(), &[0x7f, 0xff]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn murmur_matches_the_jdk_vectors() {
        let vectors = [
            (0, 593689054),
            (1, 68075478),
            (2, 1085422463),
            (3, 847579505),
            (42, 1134849565),
            (-1, 1982413648),
            (2147483647, 1653689534),
            (-2147483648, 1718298732),
        ];
        for (input, want) in vectors {
            assert_eq!(murmur_hash(input), want, "murmurHash({input})");
        }
    }

    #[test]
    fn fixture_keys_land_in_the_documented_groups() {
        // Keys are Tuple1<Long>(k) in the 1.1 fixture, p = maxP = 4.
        let groups: Vec<u32> = (0..4)
            .map(|k| JavaKey::Tuple(vec![JavaKey::Long(k)]).key_group(4))
            .collect();
        assert_eq!(groups, [2, 2, 3, 1]);
        let owners: Vec<u32> = groups
            .iter()
            .map(|&g| operator_index_for_key_group(4, 4, g))
            .collect();
        assert_eq!(owners, [2, 2, 3, 1]);
    }

    #[test]
    fn java_hash_codes() {
        assert_eq!(JavaKey::Long(42).hash_code(), 42);
        assert_eq!(JavaKey::Long(-1).hash_code(), 0);
        assert_eq!(JavaKey::Long(1 << 32).hash_code(), 1);
        assert_eq!(JavaKey::Long(i64::MIN).hash_code(), i32::MIN);
        assert_eq!(JavaKey::Int(-7).hash_code(), -7);
        assert_eq!(JavaKey::Bool(true).hash_code(), 1231);
        assert_eq!(JavaKey::Bool(false).hash_code(), 1237);
        assert_eq!(JavaKey::String("hello".into()).hash_code(), 99162322);
        assert_eq!(JavaKey::String("".into()).hash_code(), 0);
        // A supplementary character hashes as its two UTF-16 surrogates.
        assert_eq!(
            JavaKey::String("\u{1F600}".into()).hash_code(),
            0xD83D * 31 + 0xDE00
        );
        // Overflow wraps like Java's int arithmetic ("polygenelubricants" is a classic
        // string whose hashCode is Integer.MIN_VALUE).
        assert_eq!(
            JavaKey::String("polygenelubricants".into()).hash_code(),
            i32::MIN
        );
        assert_eq!(JavaKey::Tuple(vec![JavaKey::Long(3)]).hash_code(), 3);
        assert_eq!(JavaKey::Tuple(vec![JavaKey::Null]).hash_code(), 0);
        assert_eq!(
            JavaKey::Tuple(vec![JavaKey::String("hello".into()), JavaKey::Long(42)]).hash_code(),
            99162322i32.wrapping_mul(31).wrapping_add(42)
        );
    }

    #[test]
    fn ranges_and_operator_indices_agree() {
        for (max_p, p) in [(4, 4), (128, 3), (128, 5), (7, 3), (32768, 1000), (3, 5)] {
            let mut covered = 0;
            for i in 0..p {
                if let Some((s, e)) = key_group_range(max_p, p, i) {
                    for g in s..=e {
                        assert_eq!(
                            operator_index_for_key_group(max_p, p, g),
                            i,
                            "{max_p} {p} {g}"
                        );
                    }
                    covered += e - s + 1;
                }
            }
            assert_eq!(covered, max_p, "every group owned once for ({max_p}, {p})");
        }
        assert_eq!(key_group_range(128, 3, 0), Some((0, 42)));
        assert_eq!(key_group_range(128, 3, 1), Some((43, 85)));
        assert_eq!(key_group_range(128, 3, 2), Some((86, 127)));
    }

    #[test]
    fn default_max_parallelism_bounds() {
        assert_eq!(default_max_parallelism(1), 128);
        assert_eq!(default_max_parallelism(100), 256);
        assert_eq!(default_max_parallelism(86), 256);
        assert_eq!(default_max_parallelism(85), 128);
        assert_eq!(default_max_parallelism(30000), 32768);
    }
}
