//! Which keys a subtask holds. Keys are non-negative `Long`s (or `Tuple1<Long>`, whose
//! hashCode is the Long's); subtask `s` of a vertex with parallelism `p` holds the first
//! `n` of 0, 1, 2, … whose key group (legacy-formats.md §3.13, maxParallelism = p) is `s`, in
//! ascending order — which is also the order RocksDB iterates them in (the big-endian
//! bytes of a non-negative Long sort like the numbers).
//!
//! Finding a subtask's keys costs about `p` hashes per key; nothing is stored, so any
//! number of keys streams in constant memory.

use super::KeyType;
use crate::keygroup::{JavaKey, assign_to_key_group};

/// Java `Long.hashCode`.
fn long_hash(v: i64) -> i32 {
    (v ^ ((v as u64) >> 32) as i64) as i32
}

/// The key group of a Long (or Tuple1<Long>) key.
pub fn key_group(key: i64, max_parallelism: u32) -> u32 {
    debug_assert_eq!(long_hash(key), JavaKey::Long(key).hash_code());
    assign_to_key_group(long_hash(key), max_parallelism)
}

/// How many of `total` keys subtask `index` of `parallelism` holds: an even split, the
/// first `total % parallelism` subtasks one more.
pub fn balanced_count(total: u64, parallelism: u32, index: u32) -> u64 {
    let p = parallelism.max(1) as u64;
    total / p + u64::from((index as u64) < total % p)
}

/// The keys of one subtask's state, ascending; optionally one foreign key merged in at its
/// sorted place (`--misplace-key`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeySelection {
    pub key_type: KeyType,
    pub group: u32,
    pub max_parallelism: u32,
    /// Own keys yielded (the first `count` of the group).
    pub count: u64,
    /// A key of another group, merged in.
    pub extra: Option<i64>,
}

impl KeySelection {
    /// Entries this selection yields.
    pub fn len(&self) -> u64 {
        self.count + u64::from(self.extra.is_some())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn iter(&self) -> KeyIter {
        KeyIter {
            key_type: self.key_type,
            group: self.group,
            max_parallelism: self.max_parallelism,
            next_candidate: 0,
            left: self.count,
            extra: self.extra,
        }
    }
}

pub struct KeyIter {
    key_type: KeyType,
    group: u32,
    max_parallelism: u32,
    next_candidate: i64,
    left: u64,
    extra: Option<i64>,
}

impl KeyIter {
    fn next_own(&mut self) -> i64 {
        loop {
            let k = self.next_candidate;
            self.next_candidate += 1;
            if self.key_type.java(k).key_group(self.max_parallelism) == self.group {
                return k;
            }
        }
    }
}

impl Iterator for KeyIter {
    type Item = i64;

    fn next(&mut self) -> Option<i64> {
        if self.left == 0 {
            return self.extra.take();
        }
        let own = self.next_own();
        if let Some(x) = self.extra
            && x < own
        {
            self.extra = None;
            // `own` is found again by the next call.
            self.next_candidate = own;
            return Some(x);
        }
        self.left -= 1;
        Some(own)
    }
}

/// The `n`-th (0-based) key of `group`.
pub fn nth_key(key_type: KeyType, group: u32, max_parallelism: u32, n: u64) -> i64 {
    let mut it = KeySelection {
        key_type,
        group,
        max_parallelism,
        count: n + 1,
        extra: None,
    }
    .iter();
    let mut last = 0;
    for k in &mut it {
        last = k;
    }
    last
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_fixture_assignment() {
        // legacy-formats.md §3.13: keys 0..3 with p = 4 fall in groups 2, 2, 3, 1.
        let groups: Vec<u32> = (0..4).map(|k| key_group(k, 4)).collect();
        assert_eq!(groups, vec![2, 2, 3, 1]);
        let sel = KeySelection {
            key_type: KeyType::Long,
            group: 2,
            max_parallelism: 4,
            count: 2,
            extra: None,
        };
        assert_eq!(sel.iter().collect::<Vec<_>>(), vec![0, 1]);
    }

    #[test]
    fn every_key_is_in_its_group_ascending_and_counts_are_exact() {
        for p in [1u32, 3, 7] {
            for s in 0..p {
                let sel = KeySelection {
                    key_type: KeyType::Long,
                    group: s,
                    max_parallelism: p,
                    count: 50,
                    extra: None,
                };
                let keys: Vec<i64> = sel.iter().collect();
                assert_eq!(keys.len(), 50);
                assert!(keys.windows(2).all(|w| w[0] < w[1]));
                assert!(keys.iter().all(|&k| key_group(k, p) == s));
                assert_eq!(nth_key(KeyType::Long, s, p, 49), keys[49]);
            }
        }
        assert_eq!((0..5).map(|i| balanced_count(12, 5, i)).sum::<u64>(), 12);
        assert_eq!(balanced_count(12, 5, 1), 3);
        assert_eq!(balanced_count(12, 5, 2), 2);
    }

    #[test]
    fn a_foreign_key_is_merged_in_sorted_order() {
        let own = KeySelection {
            key_type: KeyType::Long,
            group: 1,
            max_parallelism: 4,
            count: 6,
            extra: None,
        };
        let plain: Vec<i64> = own.iter().collect();
        for extra in [-1, plain[0] + 1, plain[3] + 1, plain[5] + 100] {
            let with = KeySelection {
                key_type: KeyType::Long,
                extra: Some(extra),
                ..own.clone()
            };
            let keys: Vec<i64> = with.iter().collect();
            assert_eq!(keys.len() as u64, with.len());
            assert!(keys.windows(2).all(|w| w[0] < w[1]), "{keys:?}");
            assert!(keys.contains(&extra));
        }
    }
}
