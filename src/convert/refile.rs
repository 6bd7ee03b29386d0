//! Rescaling at the upgrade (README "Rescale at the upgrade"). A converted 1.1 vertex
//! holds one key group per subtask (max parallelism = the old parallelism). Re-filing
//! reads every record of the vertex's canonical keyed streams once, hashes its key as
//! Flink does (Java `hashCode`, then murmur: legacy-formats.md §3.13) into a key group of
//! the new max parallelism, and appends it to the buffer of its (key group, state)
//! bucket; a full buffer goes to the spill file as one chunk. A new subtask's stream is
//! then the header plus, per key group of its range, the state ids and the chunks of
//! its buckets: byte ranges of the spill file. Memory holds bucket buffers (bounded in
//! total) and one entry per chunk, never one per key.

use super::error::{Error, FileLocation, RescaleError};
use super::keys::Codec;
use super::scan::Scan;
use super::spill::Spill;
use super::subtask::{KeyedInfo, Offsets};
use crate::keygroup::{self, END_OF_KEY_GROUP, LAST_IN_STATE, key_group_range};
use crate::modern::Snapshot;
use crate::modern::proxy::{self, KeyedStateMeta, KeyedStateType, TIMER_TIME_LEN};
use crate::source::{Source, Span};
use crate::stream::{MultiStream, Piece};
use std::io;
use std::path::Path;
use std::sync::Arc;

/// The max parallelism and parallelism a converted job is re-filed for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rescale {
    pub max_parallelism: u32,
    pub parallelism: u32,
}

impl Rescale {
    /// Checks Flink's bounds: 1 ≤ parallelism ≤ max parallelism ≤ 32768.
    pub fn new(max_parallelism: u32, parallelism: u32) -> Result<Rescale, String> {
        if !(1..=keygroup::MAX_PARALLELISM).contains(&max_parallelism) {
            return Err(format!(
                "max parallelism {max_parallelism}: Flink allows 1 to {}",
                keygroup::MAX_PARALLELISM
            ));
        }
        if !(1..=max_parallelism).contains(&parallelism) {
            return Err(format!(
                "parallelism {parallelism}: must be 1 to the max parallelism ({max_parallelism})"
            ));
        }
        Ok(Rescale {
            max_parallelism,
            parallelism,
        })
    }

    /// The key groups new subtask `index` owns, as Flink assigns them.
    pub fn range(&self, index: u32) -> Option<(u32, u32)> {
        key_group_range(self.max_parallelism, self.parallelism, index)
    }
}

/// What `--max-parallelism` and `--parallelism` ask for (`None`: the vertex's own).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RescaleRequest {
    pub max_parallelism: Option<u32>,
    pub parallelism: Option<u32>,
}

impl RescaleRequest {
    /// The re-filing of a 1.1 vertex of `old` subtasks (which has `old` key groups);
    /// `None` when it keeps its shape.
    pub fn for_vertex(&self, old: u32) -> Result<Option<Rescale>, String> {
        let r = Rescale::new(
            self.max_parallelism.unwrap_or(old),
            self.parallelism.unwrap_or(old),
        )?;
        Ok((r.max_parallelism != old || r.parallelism != old).then_some(r))
    }
}

/// One keyed stream to re-file: its bytes, where its key group's records start, and
/// what its header said.
pub struct Input<'a> {
    pub stream: &'a Arc<MultiStream>,
    pub body: u64,
    pub info: &'a KeyedInfo,
    pub location: &'a FileLocation,
}

/// Bucket buffers take at most this much in total (each at least [`MIN_CHUNK`]).
const BUFFER_BUDGET: usize = 32 << 20;
const MIN_CHUNK: usize = 512;
const MAX_CHUNK: usize = 256 << 10;
/// Values above this go to the spill file without passing through a buffer.
const LARGE_VALUE: usize = 1 << 20;

/// Where a bucket's last record's first key byte is (it gets [`LAST_IN_STATE`]).
#[derive(Clone, Copy)]
enum Flag {
    Buffer(usize),
    Spill(u64),
}

#[derive(Default)]
struct Bucket {
    buf: Vec<u8>,
    chunks: Vec<(u64, u32)>,
    last: Option<Flag>,
}

impl Bucket {
    fn flush(&mut self, spill: &mut Spill, cap: usize) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let at = spill.append(&self.buf)?;
        self.chunks.push((at, self.buf.len() as u32));
        if let Some(Flag::Buffer(o)) = self.last {
            self.last = Some(Flag::Spill(at + o as u64));
        }
        self.buf.clear();
        if self.buf.capacity() > 2 * cap {
            self.buf.shrink_to(cap);
        }
        Ok(())
    }
}

/// A bucket's (offset, length) ranges of the spill file, in order.
type Chunks = Box<[(u64, u32)]>;

/// A vertex's keyed state re-filed into the key groups of [`Rescale`].
pub struct Refiled {
    rescale: Rescale,
    header: Arc<[u8]>,
    /// What the header says (the union of the inputs' states, the new max parallelism).
    info: Arc<KeyedInfo>,
    spill: Arc<Spill>,
    /// Per key group, per state: its chunks of the spill file, in order.
    chunks: Vec<Vec<Chunks>>,
    /// Records per new key group.
    records: Vec<u64>,
}

/// The header all inputs share: one key serializer, and the union of their states
/// (by name, in first-seen order); a state declared two ways is refused.
struct Union {
    key: Snapshot,
    key_codec: Result<super::keys::Codec, super::error::SerializerError>,
    states: Vec<KeyedStateMeta>,
}

impl Union {
    fn add(&mut self, info: &KeyedInfo) -> Result<Vec<usize>, RescaleError> {
        if info.key != self.key {
            return Err(RescaleError::Differ {
                what: "the key serializer".into(),
            });
        }
        let mut ids = Vec::with_capacity(info.states.len());
        for s in &info.states {
            match self.states.iter().position(|u| u.name == s.name) {
                Some(i) if self.states[i] == *s => ids.push(i),
                Some(_) => {
                    return Err(RescaleError::Differ {
                        what: format!("state {:?}", s.name),
                    });
                }
                None => {
                    ids.push(self.states.len());
                    self.states.push(s.clone());
                }
            }
        }
        Ok(ids)
    }
}

/// Re-files inputs one at a time (each read once), then [`RefileBuilder::finish`].
pub struct RefileBuilder {
    rescale: Rescale,
    union: Option<Union>,
    /// Created with the first input.
    spill: Option<Spill>,
    spill_dir: std::path::PathBuf,
    /// Per key group, per state (grown as states are seen).
    buckets: Vec<Vec<Bucket>>,
    records: Vec<u64>,
    prefixes: Vec<keygroup::Prefix>,
    /// The first input's place, for errors of the whole.
    first: Option<FileLocation>,
}

/// States of one vertex that can be re-filed (a bucket is kept per key group and state;
/// Flink's own limit is `Short.MAX_VALUE`).
const MAX_STATES: usize = 1024;

impl RefileBuilder {
    pub fn new(rescale: Rescale, spill_dir: &Path) -> Result<RefileBuilder, String> {
        let prefixes = (0..rescale.max_parallelism)
            .map(|g| keygroup::prefix(g, rescale.max_parallelism))
            .collect::<Result<_, _>>()?;
        Ok(RefileBuilder {
            rescale,
            union: None,
            spill: None,
            spill_dir: spill_dir.to_path_buf(),
            buckets: Vec::new(),
            records: vec![0; rescale.max_parallelism as usize],
            prefixes,
            first: None,
        })
    }

    /// Bytes one bucket buffers before it goes to the spill file.
    fn cap(&self) -> usize {
        let states = self.union.as_ref().map_or(1, |u| u.states.len().max(1));
        (BUFFER_BUDGET / (self.buckets.len().max(1) * states)).clamp(MIN_CHUNK, MAX_CHUNK)
    }

    /// Reads one input's records into the buckets.
    pub fn add(&mut self, input: &Input<'_>) -> Result<(), Error> {
        let fail = |error| Error::Rescale {
            location: input.location.clone(),
            error,
        };
        let union = self.union.get_or_insert_with(|| Union {
            key: input.info.key.clone(),
            key_codec: input.info.key_codec.clone(),
            states: Vec::new(),
        });
        let ids = union.add(input.info).map_err(fail)?;
        if union.states.len() > MAX_STATES {
            return Err(fail(RescaleError::Bounds(format!(
                "{} keyed states in one vertex; re-filing handles up to {MAX_STATES}",
                union.states.len()
            ))));
        }
        if self.spill.is_none() {
            self.first = Some(input.location.clone());
            let spill = Spill::create(&self.spill_dir)
                .map_err(|e| fail(RescaleError::Spill(Arc::new(e))))?;
            self.spill = Some(spill);
            self.buckets = (0..self.rescale.max_parallelism)
                .map(|_| Vec::new())
                .collect();
        }
        let cap = self.cap();
        let Some(spill) = self.spill.as_mut() else {
            return Ok(());
        };
        Refiler {
            input,
            ids: &ids,
            buckets: &mut self.buckets,
            spill,
            records: &mut self.records,
            prefixes: &self.prefixes,
            cap,
            rescale: self.rescale,
        }
        .run()
        .map_err(fail)
    }

    /// Flushes every bucket and flags each state's last record in its key group;
    /// `None` when no input was added.
    pub fn finish(mut self) -> Result<Option<Refiled>, Error> {
        let (Some(mut spill), Some(union), Some(first)) =
            (self.spill.take(), self.union.take(), self.first.take())
        else {
            return Ok(None);
        };
        let fail = |e: io::Error| Error::Rescale {
            location: first.clone(),
            error: RescaleError::Spill(Arc::new(e)),
        };
        let cap = self.cap();
        for (g, group) in self.buckets.iter_mut().enumerate() {
            for b in group {
                b.flush(&mut spill, cap).map_err(fail)?;
                if let Some(Flag::Spill(at)) = b.last {
                    let flagged = self.prefixes[g].bytes()[0] | LAST_IN_STATE;
                    spill.patch(at, flagged).map_err(fail)?;
                }
            }
        }
        let header: Arc<[u8]> = proxy::keyed_header(&union.key, &union.states)
            .map_err(Error::format(&first))?
            .into();
        let info = Arc::new(KeyedInfo {
            key: union.key,
            key_codec: union.key_codec,
            states: union.states,
            max_parallelism: self.rescale.max_parallelism,
        });
        Ok(Some(Refiled {
            rescale: self.rescale,
            header,
            info,
            spill: Arc::new(spill),
            chunks: self
                .buckets
                .into_iter()
                .map(|g| g.into_iter().map(|b| b.chunks.into_boxed_slice()).collect())
                .collect(),
            records: self.records,
        }))
    }
}

impl Refiled {
    pub fn rescale(&self) -> Rescale {
        self.rescale
    }

    /// What the re-filed streams' header says.
    pub fn info(&self) -> Arc<KeyedInfo> {
        self.info.clone()
    }

    /// Records per key group of the new max parallelism.
    pub fn records_per_key_group(&self) -> &[u64] {
        &self.records
    }

    /// New subtask `index`'s stream and its key-group offsets; `None` when none of its
    /// key groups has a record (Flink then expects no keyed handle).
    pub fn subtask(&self, index: u32) -> Option<(Vec<Piece>, Offsets)> {
        let (lo, hi) = self.rescale.range(index)?;
        let mut pieces = vec![Piece::bytes(self.header.clone())];
        let mut pos = self.header.len() as u64;
        let mut offsets = vec![0u64; (hi - lo + 1) as usize];
        let spill: Arc<dyn Source> = self.spill.clone();
        for g in lo..=hi {
            let mut any = false;
            for (s, chunks) in self.chunks[g as usize].iter().enumerate() {
                if chunks.is_empty() {
                    continue;
                }
                if !any {
                    offsets[(g - lo) as usize] = pos;
                    any = true;
                }
                pieces.push(Piece::bytes((s as u16).to_be_bytes().to_vec()));
                pos += 2;
                for &(at, len) in chunks {
                    pieces.push(Piece::range(spill.clone(), Span::new(at, len as u64)));
                    pos += len as u64;
                }
            }
            if any {
                pieces.push(Piece::bytes(END_OF_KEY_GROUP.to_be_bytes().to_vec()));
                pos += 2;
            }
        }
        offsets.iter().any(|&o| o != 0).then_some((
            pieces,
            Offsets {
                first_key_group: lo,
                offsets,
            },
        ))
    }
}

/// The pass over one input.
struct Refiler<'r, 'i> {
    input: &'r Input<'i>,
    ids: &'r [usize],
    buckets: &'r mut [Vec<Bucket>],
    spill: &'r mut Spill,
    records: &'r mut [u64],
    prefixes: &'r [keygroup::Prefix],
    cap: usize,
    rescale: Rescale,
}

impl Refiler<'_, '_> {
    fn run(&mut self) -> Result<(), RescaleError> {
        let codec = self
            .input
            .info
            .key_codec
            .as_ref()
            .map_err(|e| RescaleError::KeySerializer(e.clone()))?;
        let stream: &dyn Source = &**self.input.stream;
        let old_prefix = if self.input.info.max_parallelism > 128 {
            2
        } else {
            1
        };
        let mut scan = Scan::new(stream, self.input.body, stream.len());
        let input = |e: io::Error| RescaleError::Input(Arc::new(e));
        let hasher = KeyHash::of(codec);
        let timers: Vec<bool> = (self.input.info.states.iter())
            .map(|s| s.kind == KeyedStateType::PriorityQueue)
            .collect();
        let mut state = u16_at(&mut scan).map_err(input)?;
        while state != END_OF_KEY_GROUP {
            let Some(&bucket_state) = self.ids.get(state as usize) else {
                return Err(RescaleError::Input(Arc::new(bad(format!(
                    "{}: state id {state} at offset {} is not in its header",
                    stream.name(),
                    scan.pos() - 2
                )))));
            };
            let at = scan.pos();
            let klen = scan.len("key length", at).map_err(input)? as usize;
            if klen < old_prefix {
                return Err(RescaleError::Input(Arc::new(bad(format!(
                    "{}: a key of {klen} bytes at offset {at}, shorter than its key-group prefix",
                    stream.name()
                )))));
            }
            // The key and the value's length, read together.
            let kv = scan.take(klen + 4).map_err(input)?;
            let (key, vlen) = kv.split_at(klen);
            let vlen = i32::from_be_bytes([vlen[0], vlen[1], vlen[2], vlen[3]]);
            let vlen = usize::try_from(vlen).map_err(|_| {
                RescaleError::Input(Arc::new(bad(format!(
                    "{}: negative value length {vlen} in the record at offset {at}",
                    stream.name()
                ))))
            })?;
            let last = key[0] & LAST_IN_STATE != 0;
            let key = &key[old_prefix..];
            // A timer's key starts with its time.
            let hashed = match timers.get(state as usize) {
                Some(true) => key.get(TIMER_TIME_LEN..).ok_or_else(|| {
                    RescaleError::Input(Arc::new(bad(format!(
                        "{}: a timer of {} bytes at offset {at}, shorter than its time",
                        stream.name(),
                        key.len()
                    ))))
                })?,
                _ => key,
            };
            let group = match hasher.hash(hashed) {
                Some(h) => keygroup::assign_to_key_group(h, self.rescale.max_parallelism),
                None => self.key_group(codec, hashed, at)?,
            };
            self.records[group as usize] += 1;
            let prefix = self.prefixes[group as usize];
            let group_buckets = &mut self.buckets[group as usize];
            if group_buckets.len() <= bucket_state {
                group_buckets.resize_with(bucket_state + 1, Bucket::default);
            }
            let bucket = &mut group_buckets[bucket_state];
            let head_len = 4 + prefix.len() + key.len() + 4;
            if vlen <= LARGE_VALUE {
                if !bucket.buf.is_empty() && bucket.buf.len() + head_len + vlen > self.cap {
                    bucket.flush(self.spill, self.cap).map_err(spilled)?;
                }
                put_head(bucket, prefix, key, vlen);
                bucket
                    .buf
                    .extend_from_slice(scan.take(vlen).map_err(input)?);
            } else {
                // A large value: the head goes as its own chunk, then the value is copied
                // through a bounded buffer.
                bucket.flush(self.spill, self.cap).map_err(spilled)?;
                put_head(bucket, prefix, key, vlen);
                bucket.flush(self.spill, self.cap).map_err(spilled)?;
                let start = scan.pos();
                scan.skip(vlen as u64).map_err(input)?;
                copy_to_spill(stream, start, vlen as u64, self.spill, &mut bucket.chunks)?;
            }
            if last {
                state = u16_at(&mut scan).map_err(input)?;
            }
        }
        Ok(())
    }

    /// The new key group of a key (`K ‖ NS`, without its old prefix).
    fn key_group(&self, codec: &Codec, key: &[u8], at: u64) -> Result<u32, RescaleError> {
        let mut r = key;
        match codec.read(&mut r) {
            Ok(Some(k)) => Ok(k.key_group(self.rescale.max_parallelism)),
            Ok(None) => Err(RescaleError::Unhashable {
                key: self.input.info.key.describe(),
            }),
            Err(e) => Err(RescaleError::Input(Arc::new(bad(format!(
                "{}: the key of the record at offset {at} cannot be read: {e}",
                self.input.stream.name()
            ))))),
        }
    }
}

/// The Java `hashCode` of the common key types straight from their bytes (the key
/// loop's fast path); anything else goes through [`Codec::read`].
#[derive(Clone, Copy)]
enum KeyHash {
    /// `Long`, or `Tuple1<Long>` (a tuple's hash is its one field's).
    Long,
    Int,
    Other,
}

impl KeyHash {
    fn of(codec: &Codec) -> KeyHash {
        match codec {
            Codec::Long => KeyHash::Long,
            Codec::Int => KeyHash::Int,
            Codec::Tuple(f) if f.len() == 1 => match Self::of(&f[0]) {
                KeyHash::Other => KeyHash::Other,
                one => one,
            },
            _ => KeyHash::Other,
        }
    }

    #[inline]
    fn hash(self, key: &[u8]) -> Option<i32> {
        match self {
            KeyHash::Long => {
                let v = i64::from_be_bytes(key.get(..8)?.try_into().ok()?);
                Some(crate::keygroup::JavaKey::Long(v).hash_code())
            }
            KeyHash::Int => Some(i32::from_be_bytes(key.get(..4)?.try_into().ok()?)),
            KeyHash::Other => None,
        }
    }
}

#[inline]
fn put_head(bucket: &mut Bucket, prefix: keygroup::Prefix, key: &[u8], vlen: usize) {
    let klen = (prefix.len() + key.len()) as u32;
    bucket.last = Some(Flag::Buffer(bucket.buf.len() + 4));
    bucket.buf.extend_from_slice(&klen.to_be_bytes());
    bucket.buf.extend_from_slice(prefix.bytes());
    bucket.buf.extend_from_slice(key);
    bucket.buf.extend_from_slice(&(vlen as u32).to_be_bytes());
}

fn copy_to_spill(
    src: &dyn Source,
    mut at: u64,
    mut len: u64,
    spill: &mut Spill,
    chunks: &mut Vec<(u64, u32)>,
) -> Result<(), RescaleError> {
    let mut buf = vec![0u8; LARGE_VALUE];
    while len > 0 {
        let n = len.min(LARGE_VALUE as u64) as usize;
        src.read_at(at, &mut buf[..n])
            .map_err(|e| RescaleError::Input(Arc::new(e)))?;
        let to = spill.append(&buf[..n]).map_err(spilled)?;
        match chunks.last_mut() {
            Some((o, l)) if *o + *l as u64 == to && (*l as u64 + n as u64) < u32::MAX as u64 => {
                *l += n as u32
            }
            _ => chunks.push((to, n as u32)),
        }
        at += n as u64;
        len -= n as u64;
    }
    Ok(())
}

fn spilled(e: io::Error) -> RescaleError {
    RescaleError::Spill(Arc::new(e))
}

fn u16_at(scan: &mut Scan<'_>) -> io::Result<u16> {
    let b = scan.take(2)?;
    Ok(u16::from_be_bytes([b[0], b[1]]))
}

fn bad(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

#[cfg(test)]
mod tests;
