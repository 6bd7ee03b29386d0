//! A Flink 1.1 WindowOperator's pending timers (operators.md §3, §4.1). 1.1 wrote them
//! into the operator's own bytes: `int n, n × (key, window, long time)` for event time,
//! the same for processing time, then a multiset of processing times (`int m,
//! m × (long, int)`) no later Flink reads. Flink 1.2 to 1.10 restore timers from raw
//! keyed state, per key group, as the pre-versioned timer-service snapshot: `int 1,
//! UTF "window-timers"`, the key and window serializers as two standalone Java streams,
//! then the two timer lists. Those lists are byte for byte 1.1's, so `raw-keyed-state`
//! is a computed header plus a range of the operator bytes; the scan only measures the
//! lists (and checks each key belongs to the subtask's key group, which Flink checks
//! loudly at restore).

use super::error::{Error, FileLocation};
use super::keys::Codec;
use super::operators::Operator;
use super::subtask::{Cx, FileResult, not_migratable};
use super::{FileKind, native};
use crate::modern::Utf;
use crate::source::Span;
use crate::stream::{MultiStream, Piece};
use crate::v0::{ChainEntry, KvSnapshot};
use std::io::{self, BufReader, Read};
use std::sync::Arc;

/// WindowOperator's timer service in Flink 1.2+ (`getInternalTimerService`).
pub const WINDOW_TIMER_SERVICE: &str = "window-timers";
/// The keyed state whose key and namespace serializers the timers share.
const WINDOW_CONTENTS: &str = "window-contents";

/// What the scan of a 1.1 WindowOperator's operator bytes found.
#[derive(Debug, PartialEq, Eq)]
pub struct TimerScan {
    pub event: u32,
    pub processing: u32,
    /// Where the processing-time list ends (the timer-service body's length).
    pub end: u64,
}

/// Counts the bytes read, for offsets in errors and the lists' end.
struct Counting<R> {
    inner: R,
    at: u64,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.at += n as u64;
        Ok(n)
    }
}

/// Scans the timer lists of operator bytes of `len` bytes. Every key must hash to
/// `key_group` of `max_parallelism` when its `hashCode` is known. Errors say at which
/// offset of the operator bytes.
pub fn scan_window_timers(
    r: impl Read,
    len: u64,
    key: &Codec,
    window: &Codec,
    key_group: u32,
    max_parallelism: u32,
) -> Result<TimerScan, String> {
    let mut r = Counting { inner: r, at: 0 };
    // The smallest timer: a one-byte key, a window, the time.
    let min_timer = 1 + window.fixed_len().unwrap_or(1) + 8;
    let mut counts = [0u32; 2];
    for (list, count) in ["event-time", "processing-time"].iter().zip(&mut counts) {
        let at = r.at;
        let n =
            read_i32(&mut r).map_err(|e| format!("offset {at}: the {list} timer count: {e}"))?;
        if n < 0 || (n as u64).saturating_mul(min_timer) > len - r.at {
            return Err(format!(
                "offset {at}: {n} {list} timers cannot fit in the {} bytes left",
                len - r.at
            ));
        }
        for i in 0..n {
            let at = r.at;
            let k = key
                .read(&mut r)
                .map_err(|e| format!("offset {at}: {list} timer {i}: its key: {e}"))?;
            window
                .read(&mut r)
                .map_err(|e| format!("offset {at}: {list} timer {i}: its window: {e}"))?;
            let mut time = [0u8; 8];
            r.read_exact(&mut time)
                .map_err(|e| format!("offset {at}: {list} timer {i}: its time: {e}"))?;
            if let Some(k) = k {
                let group = k.key_group(max_parallelism);
                if group != key_group {
                    return Err(format!(
                        "offset {at}: {list} timer {i} is for a key of key group {group}, not this subtask's {key_group}"
                    ));
                }
            }
        }
        *count = n as u32;
    }
    let end = r.at;
    let at = r.at;
    let m = read_i32(&mut r)
        .map_err(|e| format!("offset {at}: the processing-time multiset's count: {e}"))?;
    if m < 0 || (m as u64).saturating_mul(12) != len - r.at {
        return Err(format!(
            "offset {at}: a multiset of {m} processing times does not fill the {} bytes left",
            len - r.at
        ));
    }
    Ok(TimerScan {
        event: counts[0],
        processing: counts[1],
        end,
    })
}

fn read_i32(r: &mut impl Read) -> io::Result<i32> {
    let mut b = [0u8; 4];
    r.read_exact(&mut b)?;
    Ok(i32::from_be_bytes(b))
}

/// The pre-versioned timer-service header: one service, its name, the key and the
/// namespace (window) serializer streams.
pub fn timer_service_header(
    key_serializer: &[u8],
    window_serializer: &[u8],
) -> Result<Vec<u8>, super::error::HeaderError> {
    let mut h = Vec::with_capacity(8 + key_serializer.len() + window_serializer.len() + 32);
    h.extend_from_slice(&1i32.to_be_bytes());
    h.put_utf(WINDOW_TIMER_SERVICE)?;
    h.extend_from_slice(key_serializer);
    h.extend_from_slice(window_serializer);
    Ok(h)
}

impl Cx<'_> {
    /// `raw-keyed-state`: the timers of the subtask's WindowOperator as its timer
    /// service's snapshot of the subtask's key group; `None` without one.
    pub(super) fn raw_keyed_state(&self, operators: &[Option<Operator>]) -> Option<FileResult> {
        let k = operators
            .iter()
            .position(|o| *o == Some(Operator::WindowWithTimers))?;
        let entry = self.model.chain.get(k)?.as_ref()?;
        let loc = self.location(None, FileKind::RawKeyedState);
        Some(self.window_timers(entry, &loc))
    }

    fn window_timers(&self, entry: &ChainEntry, loc: &FileLocation) -> FileResult {
        let fail = not_migratable(loc);
        let source = self.keyed_source(loc)?.ok_or_else(|| {
            fail("a window operator's timers need its keyed state, and the subtask has none".into())
        })?;
        if !std::ptr::eq(source.entry, entry) {
            return Err(fail(format!(
                "the window operator is chain entry {} but the keyed state is entry {}",
                entry.index, source.entry.index
            )));
        }
        let (key_stream, window_stream, key, window) = self.timer_serializers(entry, loc)?;
        let handle = entry
            .operator_state
            .as_ref()
            .ok_or_else(|| fail("a window operator without operator bytes".into()))?;
        let (bytes, span) = self.bytes_range(handle.bytes(), loc)?;
        let stream = Arc::new(MultiStream::new(
            bytes.name(),
            vec![Piece::range(bytes.clone(), span)],
        ));
        let reader = BufReader::with_capacity(1 << 16, stream.reader());
        let scan = scan_window_timers(
            reader,
            span.len,
            &key,
            &window,
            source.key_group,
            self.parallelism,
        )
        .map_err(|e| {
            fail(format!(
                "the window timers in {} (the operator bytes): {e}",
                bytes.name()
            ))
        })?;
        let header =
            timer_service_header(&key_stream, &window_stream).map_err(Error::header(loc))?;
        let described = format!(
            "{} event-time and {} processing-time timers of service {WINDOW_TIMER_SERVICE:?}, key group {}",
            scan.event, scan.processing, source.key_group
        );
        let timers = Piece::range(bytes, Span::new(span.start, scan.end));
        Ok(self.file(
            loc.clone(),
            described,
            vec![Piece::bytes(header), timers],
            0,
        ))
    }

    /// The key and window serializers of the timers (those of `window-contents`), as
    /// streams and as codecs. A RocksDB snapshot records neither: the key serializer is
    /// `--key-serializer`'s, the window the one `--rocksdb-namespace` (or the records)
    /// declare.
    fn timer_serializers(
        &self,
        entry: &ChainEntry,
        loc: &FileLocation,
    ) -> Result<(Vec<u8>, Vec<u8>, Codec, Codec), Error> {
        let fail = not_migratable(loc);
        let contents = entry
            .kv_states
            .iter()
            .find(|k| k.name == WINDOW_CONTENTS)
            .ok_or_else(|| fail(format!("no keyed state {WINDOW_CONTENTS:?}")))?;
        let unreadable = |what: &str, e: super::error::SerializerError| {
            fail(format!(
                "the timers' {what} cannot be measured ({e}), so their end is unknown"
            ))
        };
        let graph = &self.model.graph;
        match &contents.snapshot {
            KvSnapshot::Heap(h) => {
                let key_stream =
                    native::reemit(graph, h.key_serializer).map_err(Error::header(loc))?;
                let window_stream =
                    native::reemit(graph, h.namespace_serializer).map_err(Error::header(loc))?;
                let key = Codec::of(graph, h.key_serializer).map_err(|e| unreadable("keys", e))?;
                let window = Codec::of(graph, h.namespace_serializer)
                    .map_err(|e| unreadable("windows", e))?;
                Ok((key_stream, window_stream, key, window))
            }
            KvSnapshot::RocksDbFullyAsync { state_handle, .. } => {
                let Some(key_stream) = &self.opts.key_serializer else {
                    return Err(super::error::needs_key_serializer(loc));
                };
                let key =
                    super::keys::codec_of_stream(key_stream).map_err(|e| unreadable("keys", e))?;
                // A declaration settles it without a pass over the database (the keyed
                // stream checks it against the records); otherwise the records tell.
                let declared = self
                    .opts
                    .rocksdb_namespaces
                    .iter()
                    .find(|d| d.state == WINDOW_CONTENTS)
                    .map(|d| d.namespace);
                let namespace = match declared {
                    Some(ns) => Some(ns),
                    None => self
                        .rocks_snapshot(state_handle, Some(&key), loc)?
                        .ok_or_else(|| fail("timers without any window contents".into()))?
                        .columns
                        .iter()
                        .find(|c| c.name == WINDOW_CONTENTS)
                        .map(|c| c.namespace),
                };
                let spec = namespace
                    .and_then(|ns| ns.window_serializer())
                    .ok_or_else(|| {
                        fail(format!(
                            "{WINDOW_CONTENTS:?} is not in a window namespace (declare it with --rocksdb-namespace {WINDOW_CONTENTS}=time-window or global-window)"
                        ))
                    })?;
                let window_stream = native::singleton_stream(spec).map_err(Error::header(loc))?;
                let window = super::keys::codec_of_stream(&window_stream)
                    .map_err(|e| unreadable("windows", e))?;
                Ok((key_stream.to_vec(), window_stream, key, window))
            }
            other => Err(fail(format!(
                "window contents in a {} cannot be carried",
                other.class_name()
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Timers of String keys and 16-byte windows, as 1.1 writes them.
    fn timers(event: &[(&str, i64)], processing: &[(&str, i64)], multiset: u32) -> Vec<u8> {
        let mut b = Vec::new();
        for list in [event, processing] {
            b.extend((list.len() as i32).to_be_bytes());
            for (key, time) in list {
                // StringValue: length + 1 as a varint, then the chars.
                b.push(key.len() as u8 + 1);
                b.extend(key.as_bytes());
                b.extend(0i64.to_be_bytes());
                b.extend(3000i64.to_be_bytes());
                b.extend(time.to_be_bytes());
            }
        }
        b.extend((multiset as i32).to_be_bytes());
        for _ in 0..multiset {
            b.extend(5999i64.to_be_bytes());
            b.extend(1i32.to_be_bytes());
        }
        b
    }

    fn scan(b: &[u8], max_parallelism: u32, group: u32) -> Result<TimerScan, String> {
        scan_window_timers(
            b,
            b.len() as u64,
            &Codec::String,
            &Codec::Opaque(16),
            group,
            max_parallelism,
        )
    }

    #[test]
    fn the_lists_end_before_the_multiset() {
        let b = timers(&[("key1", 2999), ("key2", 5999)], &[("key2", 5999)], 1);
        let s = scan(&b, 1, 0).unwrap();
        assert_eq!((s.event, s.processing), (2, 1));
        assert_eq!(s.end, b.len() as u64 - 16);
        let none = timers(&[], &[], 0);
        assert_eq!(scan(&none, 1, 0).unwrap().end, 8);
    }

    #[test]
    fn bad_lists_are_refused_with_their_offset() {
        let b = timers(&[("key1", 2999)], &[], 0);
        let cut = scan(&b[..b.len() - 10], 1, 0).unwrap_err();
        assert!(cut.contains("offset 4: event-time timer 0"), "{cut}");
        let mut huge = b.clone();
        huge[..4].copy_from_slice(&i32::MAX.to_be_bytes());
        assert!(scan(&huge, 1, 0).unwrap_err().contains("cannot fit"));
        let mut trailing = b.clone();
        trailing.push(0);
        assert!(scan(&trailing, 1, 0).unwrap_err().contains("multiset"));
        // With two key groups, "key1" belongs to one of them only.
        let wrong = (0..2).filter(|&g| scan(&b, 2, g).is_err()).count();
        assert_eq!(wrong, 1);
        let e = (0..2).find_map(|g| scan(&b, 2, g).err()).unwrap();
        assert!(
            e.contains("offset 4: event-time timer 0 is for a key of key group"),
            "{e}"
        );
    }

    #[test]
    fn the_header_names_one_service() {
        let h = timer_service_header(b"K", b"W").unwrap();
        let mut want = vec![0, 0, 0, 1, 0, 13];
        want.extend(b"window-timersKW");
        assert_eq!(h, want);
    }
}
