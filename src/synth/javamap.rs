//! The shape a Java 8 `java.util.HashMap` has when Flink 1.1 serializes it: the
//! `threshold` field, the capacity `writeObject` records, and the iteration order of its
//! entries (bucket by bucket, insertion order within a bucket; exact while no bucket
//! holds 8 or more entries, when the JDK would turn it into a tree).
//!
//! Flink 1.1 builds the maps we write as follows (so this is what the generator models):
//! - heap backends: `new HashMap<>(n)` filled from `keyValueStatesByName` (itself a
//!   `new HashMap<>()`); one entry gives threshold 1 and capacity 2, as in the fixture;
//! - RocksDB: `new HashMap<>()` with the single `"dummy_state"` (threshold 12, capacity
//!   16); its columns come from a `new HashMap<>()` copied by `putAll`.

const MAXIMUM_CAPACITY: u32 = 1 << 30;
const LOAD_FACTOR: f32 = 0.75;

/// A HashMap's sizing state, following the JDK 8 `resize()` rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JavaHashMap {
    /// Table length; 0 before the first put.
    table: u32,
    pub threshold: i32,
    pub size: u32,
}

/// `HashMap.tableSizeFor`.
fn table_size_for(cap: u32) -> u32 {
    if cap <= 1 {
        1
    } else {
        cap.next_power_of_two().min(MAXIMUM_CAPACITY)
    }
}

impl JavaHashMap {
    /// `new HashMap<>()`.
    pub fn new() -> Self {
        JavaHashMap {
            table: 0,
            threshold: 0,
            size: 0,
        }
    }

    /// `new HashMap<>(initialCapacity)`.
    pub fn with_capacity(initial: u32) -> Self {
        JavaHashMap {
            table: 0,
            threshold: table_size_for(initial) as i32,
            size: 0,
        }
    }

    fn resize(&mut self) {
        let old_cap = self.table;
        let old_thr = self.threshold;
        let (new_cap, mut new_thr);
        if old_cap > 0 {
            if old_cap >= MAXIMUM_CAPACITY {
                self.threshold = i32::MAX;
                return;
            }
            new_cap = old_cap << 1;
            new_thr = if new_cap < MAXIMUM_CAPACITY && old_cap >= 16 {
                old_thr << 1
            } else {
                0
            };
        } else if old_thr > 0 {
            new_cap = old_thr as u32;
            new_thr = 0;
        } else {
            new_cap = 16;
            new_thr = 12;
        }
        if new_thr == 0 {
            let ft = new_cap as f32 * LOAD_FACTOR;
            new_thr = if new_cap < MAXIMUM_CAPACITY && ft < MAXIMUM_CAPACITY as f32 {
                ft as i32
            } else {
                i32::MAX
            };
        }
        self.threshold = new_thr;
        self.table = new_cap;
    }

    /// `put` of a new key.
    pub fn put(&mut self) {
        if self.table == 0 {
            self.resize();
        }
        self.size += 1;
        if self.size as i32 > self.threshold {
            self.resize();
        }
    }

    /// `putAll` of `n` new keys into this (empty, table-less) map: pre-sizes, then puts.
    pub fn put_all(&mut self, n: u32) {
        if n > 0 && self.table == 0 {
            let ft = n as f32 / LOAD_FACTOR + 1.0;
            let t = if ft < MAXIMUM_CAPACITY as f32 {
                ft as u32
            } else {
                MAXIMUM_CAPACITY
            };
            if t as i32 > self.threshold {
                self.threshold = table_size_for(t) as i32;
            }
        }
        for _ in 0..n {
            self.put();
        }
    }

    /// `HashMap.capacity()`, the bucket count `writeObject` records.
    pub fn capacity(&self) -> u32 {
        if self.table > 0 {
            self.table
        } else if self.threshold > 0 {
            self.threshold as u32
        } else {
            16
        }
    }

    /// The iteration order of keys given in insertion order (indices into `hashes`),
    /// from their Java `hashCode`s.
    pub fn iteration_order(&self, hashes: &[i32]) -> Vec<usize> {
        let mask = self.capacity().saturating_sub(1);
        let bucket = |h: i32| ((h ^ ((h as u32) >> 16) as i32) as u32) & mask;
        let mut order: Vec<usize> = (0..hashes.len()).collect();
        order.sort_by_key(|&i| bucket(hashes[i]));
        order
    }
}

/// Java `String.hashCode`.
pub fn string_hash(s: &str) -> i32 {
    s.encode_utf16()
        .fold(0i32, |h, u| h.wrapping_mul(31).wrapping_add(u as i32))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filled(mut m: JavaHashMap, n: u32) -> (i32, u32) {
        for _ in 0..n {
            m.put();
        }
        (m.threshold, m.capacity())
    }

    #[test]
    fn sizes_follow_the_jdk() {
        // The fixture: new HashMap<>(1) + one put → threshold 1, capacity 2.
        assert_eq!(filled(JavaHashMap::with_capacity(1), 1), (1, 2));
        assert_eq!(filled(JavaHashMap::with_capacity(2), 2), (3, 4));
        assert_eq!(filled(JavaHashMap::with_capacity(3), 3), (3, 4));
        assert_eq!(filled(JavaHashMap::with_capacity(12), 12), (12, 16));
        assert_eq!(filled(JavaHashMap::with_capacity(13), 13), (24, 32));
        assert_eq!(filled(JavaHashMap::new(), 1), (12, 16));
        assert_eq!(filled(JavaHashMap::new(), 13), (24, 32));
        let mut m = JavaHashMap::new();
        m.put_all(1);
        assert_eq!((m.threshold, m.capacity()), (1, 2));
        let mut m = JavaHashMap::new();
        m.put_all(12);
        assert_eq!((m.threshold, m.capacity()), (24, 32));
    }

    #[test]
    fn iteration_is_by_bucket_then_insertion() {
        let m = JavaHashMap::with_capacity(4);
        assert_eq!(m.capacity(), 4);
        // Buckets (h ^ h>>>16) & 3: 3, 1, 1, 0.
        assert_eq!(m.iteration_order(&[3, 1, 5, 8]), vec![3, 1, 2, 0]);
        assert_eq!(string_hash("state-name"), {
            let mut h = 0i32;
            for b in "state-name".bytes() {
                h = h.wrapping_mul(31).wrapping_add(b as i32);
            }
            h
        });
    }
}
