//! A least-recently-used cache bounded in bytes rather than entries: converted subtasks
//! vary from a few hundred bytes to megabytes of generated headers.

use lru::LruCache;
use std::hash::Hash;
use std::sync::{Arc, Mutex};

pub struct ByteLru<K: Hash + Eq, V> {
    inner: Mutex<Inner<K, V>>,
    capacity: usize,
}

struct Inner<K: Hash + Eq, V> {
    map: LruCache<K, (Arc<V>, usize)>,
    bytes: usize,
}

impl<K: Hash + Eq + Clone, V> ByteLru<K, V> {
    pub fn new(capacity: usize) -> Self {
        ByteLru {
            inner: Mutex::new(Inner {
                map: LruCache::unbounded(),
                bytes: 0,
            }),
            capacity,
        }
    }

    pub fn get(&self, k: &K) -> Option<Arc<V>> {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner.map.get(k).map(|(v, _)| v.clone())
    }

    /// Inserts and evicts least-recently-used entries until the total fits. The newest
    /// entry always stays, even when it alone is over the bound (readers hold `Arc`s, so
    /// eviction never invalidates anything in use).
    pub fn insert(&self, k: K, v: Arc<V>, bytes: usize) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((_, old)) = inner.map.put(k.clone(), (v, bytes)) {
            inner.bytes -= old;
        }
        inner.bytes += bytes;
        while inner.bytes > self.capacity && inner.map.len() > 1 {
            match inner.map.pop_lru() {
                Some((_, (_, b))) => inner.bytes -= b,
                None => break,
            }
        }
    }

    /// (entries, bytes) held now.
    pub fn usage(&self) -> (usize, usize) {
        let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        (inner.map.len(), inner.bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evicts_least_recently_used_by_bytes() {
        let c = ByteLru::new(100);
        c.insert(1, Arc::new("a"), 40);
        c.insert(2, Arc::new("b"), 40);
        assert!(c.get(&1).is_some()); // 1 is now most recent
        c.insert(3, Arc::new("c"), 40);
        assert!(c.get(&2).is_none(), "2 was least recently used");
        assert!(c.get(&1).is_some() && c.get(&3).is_some());
        assert_eq!(c.usage(), (2, 80));
        let held = c.get(&1).unwrap();
        c.insert(4, Arc::new("huge"), 500);
        assert_eq!(
            c.usage(),
            (1, 500),
            "the newest entry stays even over the bound"
        );
        assert_eq!(*held, "a", "evicted values stay valid for holders");
    }
}
