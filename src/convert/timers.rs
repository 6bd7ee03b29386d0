//! A Flink 1.1 WindowOperator's pending timers (operators.md §3, §4.1). 1.1 wrote them
//! into the operator's own bytes: `int n, n × (key, window, long time)` for event time,
//! the same for processing time, then a multiset of processing times (`int m,
//! m × (long, int)`) no later Flink reads. Flink 1.2 to 1.10 restore timers from raw
//! keyed state, per key group, as the pre-versioned timer-service snapshot: `int 1,
//! UTF "window-timers"`, the key and window serializers as two standalone Java streams,
//! then the two timer lists. Those lists are byte for byte 1.1's, so `raw-keyed-state`
//! is a computed header plus a range of the operator bytes; the scan only measures the
//! lists (and checks each key belongs to the subtask's key group, which Flink checks
//! loudly at restore). Flink >= 1.11 keeps timers in the keyed backend instead: the
//! service's two priority-queue states in the keyed stream (docs/modern-formats.md §4),
//! whose records the scan builds from each timer's bytes (`timers_v6`).

use super::error::{Error, FileLocation};
use super::keys::Codec;
use super::operators::Operator;
use super::subtask::{Cx, FileResult, not_migratable};
use super::{FileKind, native};
use crate::keygroup::{END_OF_KEY_GROUP, LAST_IN_STATE};
use crate::modern::Utf;
use crate::modern::proxy::{KeyedStateMeta, KeyedStateType, TIMER_TIME_LEN};
use crate::modern::snapshot::Snapshot;
use crate::source::Span;
use crate::stream::{MultiStream, Piece};
// The keyed state whose key and namespace serializers the timers share.
use super::rocks::ColumnNamespace;
use crate::v0::operators::WINDOW_CONTENTS;
use crate::v0::{ChainEntry, KvSnapshot};
use std::io::{self, BufReader, Read};
use std::sync::Arc;

/// WindowOperator's timer service in Flink 1.2+ (`getInternalTimerService`).
pub const WINDOW_TIMER_SERVICE: &str = "window-timers";

/// What the scan of a 1.1 WindowOperator's operator bytes found.
#[derive(Debug, PartialEq, Eq)]
pub struct TimerScan {
    pub event: u32,
    pub processing: u32,
    /// Where the processing-time list ends (the timer-service body's length).
    pub end: u64,
}

/// Counts the bytes read, for offsets in errors and the lists' end; keeps the bytes of
/// the current timer when asked to.
struct Counting<R> {
    inner: R,
    at: u64,
    kept: Option<Vec<u8>>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.at += n as u64;
        if let Some(kept) = &mut self.kept {
            kept.extend_from_slice(&buf[..n]);
        }
        Ok(n)
    }
}

/// Which of a timer service's two queues a timer is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeDomain {
    Event,
    Processing,
}

/// One timer as 1.1 wrote it: its key's and window's bytes, and its time.
pub struct Timer<'a> {
    pub domain: TimeDomain,
    pub key: &'a [u8],
    pub window: &'a [u8],
    pub time: i64,
}

/// What a scan calls with each timer; an error stops it.
pub type EachTimer<'a> = dyn FnMut(Timer<'_>) -> Result<(), String> + 'a;

/// Scans the timer lists of operator bytes of `len` bytes. Every key must hash to
/// `key_group` of `max_parallelism` when its `hashCode` is known. `each`, if given, sees
/// every timer. Errors say at which offset of the operator bytes.
pub fn scan_window_timers(
    r: impl Read,
    len: u64,
    key: &Codec,
    window: &Codec,
    key_group: u32,
    max_parallelism: u32,
    mut each: Option<&mut EachTimer<'_>>,
) -> Result<TimerScan, String> {
    let mut r = Counting {
        inner: r,
        at: 0,
        kept: each.as_ref().map(|_| Vec::with_capacity(64)),
    };
    // The smallest timer: a one-byte key, a window, the time.
    let min_timer = 1 + window.fixed_len().unwrap_or(1) + 8;
    let mut counts = [0u32; 2];
    let lists = [
        ("event-time", TimeDomain::Event),
        ("processing-time", TimeDomain::Processing),
    ];
    for (&(list, domain), count) in lists.iter().zip(&mut counts) {
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
            if let Some(kept) = &mut r.kept {
                kept.clear();
            }
            let k = key
                .read(&mut r)
                .map_err(|e| format!("offset {at}: {list} timer {i}: its key: {e}"))?;
            let key_end = (r.at - at) as usize;
            window
                .read(&mut r)
                .map_err(|e| format!("offset {at}: {list} timer {i}: its window: {e}"))?;
            let window_end = (r.at - at) as usize;
            let mut time = [0u8; 8];
            r.read_exact(&mut time)
                .map_err(|e| format!("offset {at}: {list} timer {i}: its time: {e}"))?;
            if let (Some(each), Some(kept)) = (each.as_mut(), &r.kept) {
                each(Timer {
                    domain,
                    key: &kept[..key_end],
                    window: &kept[key_end..window_end],
                    time: i64::from_be_bytes(time),
                })
                .map_err(|e| format!("offset {at}: {list} timer {i}: {e}"))?;
            }
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

/// Flink's timer-state name prefix (`InternalTimeServiceManager`): a service's queues
/// are `_timer_state/processing_NAME` and `_timer_state/event_NAME`.
pub const TIMER_STATE_PREFIX: &str = "_timer_state/";
/// Timer records of one key group held in memory at most (a window operator's timers
/// are one per key and window: about 40 bytes each).
pub const MAX_TIMER_RECORDS: usize = 256 << 20;

/// One priority queue's records in the canonical layout: key `prefix ‖ time with its
/// sign bit flipped ‖ key ‖ window`, empty value; the last record's prefix flagged.
struct TimerQueue {
    prefix: crate::keygroup::Prefix,
    records: Vec<u8>,
    /// Where the last record's prefix is.
    last: Option<usize>,
}

impl TimerQueue {
    fn new(prefix: crate::keygroup::Prefix) -> Self {
        TimerQueue {
            prefix,
            records: Vec::new(),
            last: None,
        }
    }

    fn push(&mut self, t: &Timer<'_>) -> Result<(), String> {
        let p = self.prefix.bytes();
        let klen = p.len() + TIMER_TIME_LEN + t.key.len() + t.window.len();
        if self.records.len() + klen + 8 > MAX_TIMER_RECORDS {
            return Err(format!(
                "the timers of one key group take more than {} MiB",
                MAX_TIMER_RECORDS >> 20
            ));
        }
        self.records.extend_from_slice(&(klen as u32).to_be_bytes());
        self.last = Some(self.records.len());
        self.records.extend_from_slice(p);
        self.records
            .extend_from_slice(&(t.time ^ i64::MIN).to_be_bytes());
        self.records.extend_from_slice(t.key);
        self.records.extend_from_slice(t.window);
        self.records.extend_from_slice(&0u32.to_be_bytes());
        Ok(())
    }

    fn finish(mut self) -> Vec<u8> {
        if let Some(at) = self.last {
            self.records[at] |= LAST_IN_STATE;
        }
        self.records
    }
}

/// A keyed body (records ending in the end mark, or none) followed by timer records
/// (from their first state id to the end mark): the body's end mark gives way to them.
pub(super) fn with_timers(
    mut body: Vec<Piece>,
    timers: Option<Vec<u8>>,
) -> Result<Vec<Piece>, String> {
    let Some(timers) = timers else {
        return Ok(body);
    };
    if let Some(last) = body.pop() {
        let end = END_OF_KEY_GROUP.to_be_bytes().len() as u64;
        match last {
            Piece::Range { source, span } if span.len >= end => {
                body.push(Piece::range(source, Span::new(span.start, span.len - end)))
            }
            Piece::Bytes(b) if b.len() as u64 >= end => {
                body.push(Piece::bytes(&b[..b.len() - end as usize]))
            }
            _ => return Err("a keyed body too short to end with its end mark".into()),
        }
    }
    body.push(Piece::bytes(timers));
    Ok(body)
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
        let (key_stream, window_stream, key, window) = self.timer_serializers(entry, None, loc)?;
        let (bytes, span, scan) =
            self.scan_timers(entry, (&key, &window), source.key_group, None, loc)?;
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

    /// The timers of a subtask's WindowOperator in the canonical savepoint layout, as
    /// the two priority-queue states of its timer service (processing, then event time,
    /// as Flink names them): their metas are appended to `metas` (whose
    /// `window-contents` gives the window snapshot), and their records returned, from
    /// the first state id to the end mark; `None` without timers. `key_group` of
    /// `max_parallelism` gives the records' prefix.
    /// `namespace`: the window namespace a RocksDB source's pass has already found, so the
    /// timers need no pass of their own.
    pub(super) fn timers_v6(
        &self,
        entry: &ChainEntry,
        key: &Snapshot,
        metas: &mut Vec<KeyedStateMeta>,
        key_group: u32,
        namespace: Option<ColumnNamespace>,
        loc: &FileLocation,
    ) -> Result<Option<Vec<u8>>, Error> {
        let fail = not_migratable(loc);
        let window_snapshot = metas
            .iter()
            .find(|m| m.name == WINDOW_CONTENTS)
            .map(|m| m.namespace.clone())
            .ok_or_else(|| fail(format!("no keyed state {WINDOW_CONTENTS:?}")))?;
        let (_, _, key_codec, window) = self.timer_serializers(entry, namespace, loc)?;
        let prefix = crate::keygroup::prefix(key_group, self.parallelism).map_err(fail)?;
        let first_id = metas.len();
        let mut queues = [TimerQueue::new(prefix), TimerQueue::new(prefix)];
        let mut each = |t: Timer<'_>| {
            let q = &mut queues[(t.domain == TimeDomain::Event) as usize];
            q.push(&t)
        };
        let codecs = (&key_codec, &window);
        self.scan_timers(entry, codecs, key_group, Some(&mut each), loc)?;
        let element = Snapshot::composite(
            crate::modern::snapshot::TIMER_SNAPSHOT,
            Vec::new(),
            vec![key.clone(), window_snapshot.clone()],
        );
        for domain in ["processing", "event"] {
            metas.push(KeyedStateMeta {
                name: format!("{TIMER_STATE_PREFIX}{domain}_{WINDOW_TIMER_SERVICE}"),
                kind: KeyedStateType::PriorityQueue,
                value: element.clone(),
                namespace: window_snapshot.clone(),
            });
        }
        let with: Vec<_> = queues
            .into_iter()
            .enumerate()
            .filter(|(_, q)| q.last.is_some())
            .collect();
        if with.is_empty() {
            return Ok(None);
        }
        let mut out = Vec::new();
        for (i, q) in with {
            let id = u16::try_from(first_id + i)
                .map_err(|_| fail(format!("{} states in one operator", first_id + i)))?;
            out.extend_from_slice(&id.to_be_bytes());
            out.extend_from_slice(&q.finish());
        }
        out.extend_from_slice(&END_OF_KEY_GROUP.to_be_bytes());
        Ok(Some(out))
    }

    /// Scans the timer lists in a window operator's bytes (`each` sees every timer):
    /// where the bytes are, and what the scan found.
    fn scan_timers(
        &self,
        entry: &ChainEntry,
        (key, window): (&Codec, &Codec),
        key_group: u32,
        each: Option<&mut EachTimer<'_>>,
        loc: &FileLocation,
    ) -> Result<(Arc<dyn crate::source::Source>, Span, TimerScan), Error> {
        let fail = not_migratable(loc);
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
            key,
            window,
            key_group,
            self.parallelism,
            each,
        )
        .map_err(|e| {
            fail(format!(
                "the window timers in {} (the operator bytes): {e}",
                bytes.name()
            ))
        })?;
        Ok((bytes, span, scan))
    }

    /// The key and window serializers of the timers (those of `window-contents`), as
    /// streams and as codecs. A RocksDB snapshot records neither: the key serializer is
    /// `--key-serializer`'s, the window the one `--rocksdb-namespace` declares, or
    /// `known` (what a pass over the records already found), or the records tell.
    fn timer_serializers(
        &self,
        entry: &ChainEntry,
        known: Option<ColumnNamespace>,
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
                // A declaration, or a pass already made, settles it without a pass over
                // the database (the keyed stream checks it against the records);
                // otherwise the records tell.
                let declared = self
                    .opts
                    .rocksdb_namespaces
                    .iter()
                    .find(|d| d.state == WINDOW_CONTENTS)
                    .map(|d| d.namespace)
                    .or(known);
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

    #[test]
    fn timer_records_flip_the_time_and_flag_the_last() {
        let prefix = crate::keygroup::prefix(3, 128).unwrap();
        let mut q = TimerQueue::new(prefix);
        let window = [0u8; 16];
        for (key, time) in [(&b"\x05key1"[..], 2999i64), (b"\x05key2", -1)] {
            let t = Timer {
                domain: TimeDomain::Event,
                key,
                window: &window,
                time,
            };
            q.push(&t).unwrap();
        }
        let b = q.finish();
        let rec = 4 + 1 + 8 + 5 + 16 + 4;
        assert_eq!(b.len(), 2 * rec);
        assert_eq!(&b[..4], &30u32.to_be_bytes(), "prefix, time, key, window");
        assert_eq!(b[4], 3, "key group 3, not the last");
        assert_eq!(
            &b[5..13],
            &(2999u64 | 1 << 63).to_be_bytes(),
            "sign bit flipped"
        );
        assert_eq!(&b[rec - 4..rec], &[0; 4], "an empty value");
        assert_eq!(b[rec + 4], 3 | LAST_IN_STATE, "the last record is flagged");
        assert_eq!(
            &b[rec + 5..rec + 13],
            &0x7fff_ffff_ffff_ffffu64.to_be_bytes(),
            "-1"
        );
    }

    #[test]
    fn timers_take_the_place_of_the_end_mark() {
        let concat = |pieces: Vec<Piece>| -> Vec<u8> {
            pieces
                .iter()
                .flat_map(|p| match p {
                    Piece::Bytes(b) => b.to_vec(),
                    Piece::Range { .. } => unreachable!(),
                })
                .collect()
        };
        let timers = || Some(b"\x00\x02timers\xff\xff".to_vec());
        let body = vec![Piece::bytes(&b"\x00\x00records\xff\xff"[..])];
        let joined = concat(with_timers(body, timers()).unwrap());
        assert_eq!(joined, b"\x00\x00records\x00\x02timers\xff\xff");
        // No records: the timers alone, from their state id.
        assert_eq!(
            concat(with_timers(Vec::new(), timers()).unwrap()),
            timers().unwrap()
        );
        // No timers: the body as it was.
        let body = vec![Piece::bytes(&b"\xff\xff"[..])];
        assert_eq!(concat(with_timers(body, None).unwrap()), b"\xff\xff");
        assert!(with_timers(vec![Piece::bytes(&b"\xff"[..])], timers()).is_err());
    }

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
            None,
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
