//! A least-recently-used cache bounded in bytes rather than entries: converted subtasks
//! vary from a few hundred bytes to megabytes of generated headers. A value being made
//! is made once: a second asker waits for it (serving threads and decoding ahead meet
//! on the same subtask).

use lru::LruCache;
use std::collections::HashSet;
use std::hash::Hash;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

pub struct ByteLru<K: Hash + Eq, V> {
    inner: Mutex<Inner<K, V>>,
    /// Signalled whenever a value being made is in (or its maker gave up).
    made: Condvar,
    capacity: usize,
}

struct Inner<K: Hash + Eq, V> {
    map: LruCache<K, (Arc<V>, usize)>,
    bytes: usize,
    /// Keys whose value a thread is making now.
    making: HashSet<K>,
}

/// Takes a key off the being-made set however its maker ends (a panic included), so
/// that waiters never wait for a value nobody makes.
struct Making<'a, K: Hash + Eq + Clone, V> {
    cache: &'a ByteLru<K, V>,
    key: K,
}

impl<K: Hash + Eq + Clone, V> Drop for Making<'_, K, V> {
    fn drop(&mut self) {
        self.cache.lock().making.remove(&self.key);
        self.cache.made.notify_all();
    }
}

impl<K: Hash + Eq + Clone, V> ByteLru<K, V> {
    pub fn new(capacity: usize) -> Self {
        ByteLru {
            inner: Mutex::new(Inner {
                map: LruCache::unbounded(),
                bytes: 0,
                making: HashSet::new(),
            }),
            made: Condvar::new(),
            capacity,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner<K, V>> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn get(&self, k: &K) -> Option<Arc<V>> {
        self.lock().map.get(k).map(|(v, _)| v.clone())
    }

    /// The cached value of `k`, or the one `make` returns (with its cost in bytes),
    /// inserted. While one thread makes it, others asking for `k` wait for it.
    pub fn get_or_make<E>(
        &self,
        k: &K,
        make: impl FnOnce() -> Result<(V, usize), E>,
    ) -> Result<Arc<V>, E> {
        let mut inner = self.lock();
        loop {
            if let Some((v, _)) = inner.map.get(k) {
                return Ok(v.clone());
            }
            if !inner.making.contains(k) {
                break;
            }
            inner = self.made.wait(inner).unwrap_or_else(|p| p.into_inner());
        }
        inner.making.insert(k.clone());
        drop(inner);
        let _making = Making {
            cache: self,
            key: k.clone(),
        };
        let (v, bytes) = make()?;
        let v = Arc::new(v);
        self.insert(k.clone(), v.clone(), bytes);
        Ok(v)
    }

    /// Whether `k` is cached or being made (without touching its recency).
    pub fn has(&self, k: &K) -> bool {
        let inner = self.lock();
        inner.map.contains(k) || inner.making.contains(k)
    }

    /// Whether less than half the bound is used: room to make values nobody asked for
    /// yet without evicting ones in use.
    pub fn has_room_ahead(&self) -> bool {
        self.lock().bytes < self.capacity / 2
    }

    /// Inserts and evicts least-recently-used entries until the total fits. The newest
    /// entry always stays, even when it alone is over the bound (readers hold `Arc`s, so
    /// eviction never invalidates anything in use).
    pub fn insert(&self, k: K, v: Arc<V>, bytes: usize) {
        let mut inner = self.lock();
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
        let inner = self.lock();
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

    #[test]
    fn a_value_is_made_once_however_many_ask() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let c = ByteLru::new(1 << 20);
        let made = AtomicUsize::new(0);
        std::thread::scope(|s| {
            for _ in 0..8 {
                s.spawn(|| {
                    let v = c
                        .get_or_make(&7, || {
                            made.fetch_add(1, Ordering::SeqCst);
                            std::thread::sleep(std::time::Duration::from_millis(20));
                            Ok::<_, ()>(("seven", 10))
                        })
                        .unwrap();
                    assert_eq!(*v, "seven");
                });
            }
        });
        assert_eq!(made.load(Ordering::SeqCst), 1);
        assert!(c.has(&7) && !c.has(&8));
    }

    #[test]
    fn a_failed_or_panicking_maker_lets_the_next_asker_make_it() {
        let c = ByteLru::new(100);
        assert_eq!(
            c.get_or_make(&1, || Err::<(&str, usize), _>("bad")),
            Err("bad")
        );
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _ = c.get_or_make(&1, || -> Result<(&str, usize), ()> { panic!("maker") });
        }));
        assert!(panicked.is_err());
        assert!(!c.has(&1), "nothing left marked as being made");
        assert_eq!(
            *c.get_or_make(&1, || Ok::<_, ()>(("one", 1))).unwrap(),
            "one"
        );
        assert!(c.has_room_ahead());
        c.insert(2, Arc::new("big"), 60);
        assert!(!c.has_room_ahead(), "61 of 100 bytes used");
    }
}
