//! Flink 1.1 RocksDB fully-async snapshots (framing: `v0/rocksdb.rs`) served as Flink 1.2+
//! RocksDB key-group streams (native-formats.md §7.3.3), without materialising them.
//!
//! Old record: `u8 column, int kLen, K ‖ 2A ‖ NS, int vLen, value`. New record:
//! `int kLen, kg ‖ K ‖ NS, int vLen, value` — the same key length, the separator replaced
//! by a key-group prefix — plus, after the last record of each state, a short naming the
//! next state (or `ffff`), and bit 0x80 set on that record's first key byte. Reads are
//! served by re-encoding records on the fly from a sparse index of record positions
//! built by one pass over the stream at conversion time.

use super::scan::{Emitter, Scan};
use crate::javaser::{self, Value};
use crate::source::{Source, Span};
use crate::v0::rocksdb::{Framing, RecordHead, record_head, value_len};
use std::io;
use std::sync::Arc;

/// A column's namespace. Flink 1.1's RocksDB snapshot does not record the namespace
/// serializer; with the key serializer known, a record's key `K ‖ 2A ‖ NS` tells its
/// namespace's length: 1 byte `00` (Void, non-windowed state) or 16 bytes (a `TimeWindow`).
/// A `GlobalWindow` is also 1 byte `00`: it is taken for Void unless the user declares it
/// (`--rocksdb-namespace STATE=global-window`); a job that registers a global window on
/// Void state is refused by Flink's namespace serializer check, never misread.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ColumnNamespace {
    #[default]
    Void,
    TimeWindow,
    GlobalWindow,
}

impl ColumnNamespace {
    pub fn byte_len(self) -> usize {
        match self {
            ColumnNamespace::Void | ColumnNamespace::GlobalWindow => 1,
            ColumnNamespace::TimeWindow => 16,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            ColumnNamespace::Void => "void",
            ColumnNamespace::TimeWindow => "time-window",
            ColumnNamespace::GlobalWindow => "global-window",
        }
    }

    /// The 1.1 serializer class of a window namespace (`None`: Void).
    pub fn window_serializer(self) -> Option<&'static crate::javaser::builder::ClassSpec> {
        match self {
            ColumnNamespace::Void => None,
            ColumnNamespace::TimeWindow => Some(&crate::v0::classes::TIME_WINDOW_SERIALIZER),
            ColumnNamespace::GlobalWindow => Some(&crate::v0::classes::GLOBAL_WINDOW_SERIALIZER),
        }
    }
}

/// `--rocksdb-namespace STATE=void|time-window|global-window`: the namespace serializer
/// of a RocksDB state, which Flink 1.1 did not record. The records' bytes must agree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NamespaceDecl {
    pub state: String,
    pub namespace: ColumnNamespace,
}

impl NamespaceDecl {
    pub fn parse(s: &str) -> Result<NamespaceDecl, String> {
        let (state, kind) = s
            .rsplit_once('=')
            .ok_or_else(|| format!("{s:?}: expected STATE=void|time-window|global-window"))?;
        let namespace = [
            ColumnNamespace::Void,
            ColumnNamespace::TimeWindow,
            ColumnNamespace::GlobalWindow,
        ]
        .into_iter()
        .find(|n| n.name() == kind)
        .ok_or_else(|| format!("{s:?}: {kind:?} is not void, time-window or global-window"))?;
        Ok(NamespaceDecl {
            state: state.to_string(),
            namespace,
        })
    }
}

/// One column of the snapshot: a keyed state.
pub struct Column {
    pub name: String,
    /// Found from its records (Void without a key serializer to measure keys by).
    pub namespace: ColumnNamespace,
    /// `KeyedBackendSerializationProxy` state type (1 VALUE, 2 LIST, 3 REDUCING, 4 FOLDING).
    pub type_ordinal: i32,
    /// The descriptor's value serializer, re-emitted as a fresh stream.
    pub value_serializer: Vec<u8>,
}

/// Checkpoints every this many records: reads re-encode at most this many to find their start.
const STRIDE: u64 = 1024;
/// The Void namespace: one byte `00` after the `2A` separator.
const VOID_NAMESPACE: [u8; 2] = [0x2A, 0x00];
/// The byte between a record's key and its namespace.
const SEPARATOR: u8 = 0x2A;

#[derive(Clone, Copy)]
struct Checkpoint {
    /// Offset in the output's record region.
    out: u64,
    /// Offset of the record's column byte in the input.
    input: u64,
    record: u64,
}

/// The parsed shape of a snapshot stream.
pub struct RocksSnapshot {
    pub columns: Vec<Column>,
    source: Arc<dyn Source>,
    /// Where the records start and end in `source`.
    records: Span,
    record_count: u64,
    /// For each state with records, in order: (state id, index of its last record).
    runs: Vec<(u16, u64)>,
    checkpoints: Vec<Checkpoint>,
    /// Length of the re-encoded record region (first short included).
    region_len: u64,
}

fn bad(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

impl RocksSnapshot {
    /// Parses the column header and indexes the records of a stream at `span` of `source`;
    /// every namespace must be Void.
    pub fn open(source: Arc<dyn Source>, span: Span) -> io::Result<RocksSnapshot> {
        Self::open_keyed(source, span, None)
    }

    /// The same, measuring each record's key with `key` (the key serializer), so that a
    /// column's namespace is known from its bytes (Void or a time window).
    pub fn open_keyed(
        source: Arc<dyn Source>,
        span: Span,
        key: Option<&super::keys::Codec>,
    ) -> io::Result<RocksSnapshot> {
        let name = source.name();
        let framing = Framing::parse(&source, span)?;
        let mut columns = Vec::with_capacity(framing.columns());
        for g in &framing.descriptors {
            columns.push(column(g).map_err(|e| bad(format!("{name}: offset {}: {e}", g.start)))?);
        }
        let mut snap = RocksSnapshot {
            columns,
            source,
            records: framing.records,
            record_count: 0,
            runs: Vec::new(),
            checkpoints: Vec::new(),
            region_len: 0,
        };
        snap.index(key)?;
        Ok(snap)
    }

    /// The namespace of a record's key `K ‖ 2A ‖ NS`.
    fn namespace_of(
        key: &[u8],
        codec: Option<&super::keys::Codec>,
        name: &str,
        at: u64,
    ) -> io::Result<ColumnNamespace> {
        let Some(codec) = codec else {
            return if key.ends_with(&VOID_NAMESPACE) {
                Ok(ColumnNamespace::Void)
            } else {
                Err(bad(format!(
                    "{name}: offset {at}: key does not end with 2A 00: only the Void namespace (non-windowed state) is supported without the key serializer"
                )))
            };
        };
        let mut rest = key;
        codec.read(&mut rest).map_err(|e| {
            bad(format!(
                "{name}: offset {at}: the key cannot be read with the key serializer: {e}"
            ))
        })?;
        match rest {
            [SEPARATOR, 0] => Ok(ColumnNamespace::Void),
            [SEPARATOR, ns @ ..] if ns.len() == 16 => Ok(ColumnNamespace::TimeWindow),
            [SEPARATOR, ns @ ..] => Err(bad(format!(
                "{name}: offset {at}: a namespace of {} bytes: neither Void nor a time window (only the Void namespace and time windows are supported)",
                ns.len()
            ))),
            _ => Err(bad(format!(
                "{name}: offset {at}: the key serializer's key is not followed by the 2A separator (is --key-serializer right?)"
            ))),
        }
    }

    /// One pass over the records: checks the layout and records checkpoints.
    fn index(&mut self, codec: Option<&super::keys::Codec>) -> io::Result<()> {
        let name = self.source.name();
        let mut r = Scan::new(&*self.source, self.records.start, self.records.end());
        let mut out = 2u64; // the first state id
        let mut prev_key: Vec<u8> = Vec::new();
        let mut state: Option<u8> = None;
        let mut record = 0u64;
        while !r.at_end() {
            let RecordHead { at, column, key } = record_head(&mut r, self.columns.len())?;
            let klen = key.len() as u32;
            let ns = Self::namespace_of(key, codec, &name, at)?;
            let c = &mut self.columns[column as usize];
            if state != Some(column) {
                c.namespace = ns;
            } else if c.namespace != ns {
                return Err(bad(format!(
                    "{name}: offset {at}: state {:?} has records of two namespace kinds ({:?}, {ns:?})",
                    c.name, c.namespace
                )));
            }
            // RocksDB lists a column's keys sorted by their bytes (K ‖ 2A ‖ NS); Flink's
            // restore does not need it, but anything else is not a RocksDB snapshot.
            let ordered = state != Some(column) || key > &prev_key[..];
            prev_key.clear();
            prev_key.extend_from_slice(key);
            let vlen = value_len(&mut r, at)?;
            r.skip(vlen as u64)?;
            if state != Some(column) {
                if let Some(s) = state {
                    if column < s {
                        return Err(bad(format!(
                            "{name}: offset {at}: records of column {column} after column {s}"
                        )));
                    }
                    self.runs.push((s as u16, record - 1));
                    out += 2;
                }
                state = Some(column);
            } else if !ordered {
                return Err(bad(format!(
                    "{name}: offset {at}: keys out of order (a RocksDB snapshot lists them sorted)"
                )));
            }
            if record.is_multiple_of(STRIDE) {
                self.checkpoints.push(Checkpoint {
                    out,
                    input: at,
                    record,
                });
            }
            out += 4 + klen as u64 + 4 + vlen as u64;
            record += 1;
        }
        if let Some(s) = state {
            self.runs.push((s as u16, record - 1));
            out += 2;
        }
        self.record_count = record;
        self.region_len = if record == 0 { 0 } else { out };
        Ok(())
    }

    pub fn is_empty(&self) -> bool {
        self.record_count == 0
    }

    /// Applies the user's namespace declarations. A declaration must agree with the
    /// records' bytes (a 1-byte `00` namespace is Void or the global window; 16 bytes are a
    /// time window); a state without records here takes the declared one.
    pub fn declare(&mut self, decls: &[NamespaceDecl]) -> Result<(), String> {
        let counts = self.counts();
        for (c, count) in self.columns.iter_mut().zip(counts) {
            let Some(d) = decls.iter().find(|d| d.state == c.name) else {
                continue;
            };
            let agrees = count == 0
                || c.namespace == d.namespace
                || c.namespace.byte_len() == d.namespace.byte_len()
                    && c.namespace != ColumnNamespace::TimeWindow;
            if !agrees {
                return Err(format!(
                    "state {:?} is declared {} (--rocksdb-namespace) but its records hold {}-byte namespaces ({})",
                    c.name,
                    d.namespace.name(),
                    c.namespace.byte_len(),
                    c.namespace.name()
                ));
            }
            c.namespace = d.namespace;
        }
        Ok(())
    }

    /// The key-group stream header for these columns (native-formats.md §7.3.1): the given key
    /// serializer, each column's namespace serializer (1.1's window serializers, as a heap
    /// snapshot holds them) and value serializer; for the heap layout (`heap`), a list
    /// state's is the heap's `ArrayListSerializer` of the column's element serializer.
    pub fn header(
        &self,
        key_serializer: &[u8],
        heap: bool,
    ) -> Result<Vec<u8>, super::error::HeaderError> {
        let lists: Vec<Option<Vec<u8>>> = self
            .columns
            .iter()
            .map(|c| {
                (heap && c.type_ordinal == 2)
                    .then(|| super::native::array_list_serializer(&c.value_serializer))
                    .transpose()
            })
            .collect::<Result<_, _>>()?;
        let states: Vec<super::native::StateHeader<'_>> = self
            .columns
            .iter()
            .zip(&lists)
            .map(|(c, list)| {
                Ok(super::native::StateHeader {
                    type_ordinal: c.type_ordinal,
                    name: &c.name,
                    namespace_serializer: match c.namespace.window_serializer() {
                        Some(spec) => Some(super::native::singleton_stream(spec)?),
                        None => None,
                    },
                    value_serializer: list.as_deref().unwrap_or(&c.value_serializer),
                })
            })
            .collect::<Result<_, super::error::HeaderError>>()?;
        super::native::keyed_header(key_serializer, &states)
    }

    pub fn record_count(&self) -> u64 {
        self.record_count
    }

    /// The re-encoded records as key group `key_group` of a job with `max_parallelism`
    /// key groups: a one-byte key-group prefix up to 128 key groups, two bytes above.
    pub fn key_group_region(
        self: &Arc<Self>,
        key_group: u32,
        max_parallelism: u32,
    ) -> Result<Arc<dyn Source>, String> {
        let prefix = crate::keygroup::prefix(key_group, max_parallelism)?;
        Ok(Arc::new(Region {
            snap: self.clone(),
            prefix,
        }))
    }
}

/// The column's `StateDescriptor`: name, state type and value serializer.
fn column(g: &javaser::Graph) -> Result<Column, String> {
    let root = g.roots().next().ok_or("empty column stream")?;
    let obj = g
        .object(root)
        .map_err(|e| e.to_string())?
        .ok_or("null column descriptor")?;
    use crate::classnames as names;
    let type_ordinal = [
        (names::VALUE_STATE_DESCRIPTOR, 1),
        (names::LIST_STATE_DESCRIPTOR, 2),
        (names::REDUCING_STATE_DESCRIPTOR, 3),
        (names::FOLDING_STATE_DESCRIPTOR, 4),
    ]
    .iter()
    .find(|(c, _)| obj.is_a(c))
    .map(|(_, t)| *t)
    .ok_or_else(|| {
        format!(
            "column descriptor is a {}, not a StateDescriptor",
            obj.class_name().lossy()
        )
    })?;
    let name = g
        .string_value(obj.require("name").map_err(|e| e.to_string())?)
        .map_err(|e| e.to_string())?;
    let name = name.ok_or("column descriptor without a name")?;
    let serializer = obj.require("serializer").map_err(|e| e.to_string())?;
    let Value::Node(_) = serializer else {
        return Err(format!("state {name:?} has no serializer"));
    };
    let chunks = javaser::write_object(g, serializer, &javaser::WriteOptions::default())
        .map_err(|e| e.to_string())?;
    let value_serializer = chunks.to_vec(&**g.source()).map_err(|e| e.to_string())?;
    Ok(Column {
        name,
        namespace: ColumnNamespace::Void,
        type_ordinal,
        value_serializer,
    })
}

/// The record region of a key-group stream, re-encoded on read.
struct Region {
    snap: Arc<RocksSnapshot>,
    /// The key-group prefix of every key; a two-byte one makes each record one byte
    /// longer than its 1.1 form (whose `2A` separator the first byte replaces).
    prefix: crate::keygroup::Prefix,
}

impl Region {
    /// Bytes each record grows by.
    fn extra(&self) -> u64 {
        self.prefix.len() as u64 - 1
    }

    /// Where a checkpoint's record starts in this region.
    fn out_of(&self, cp: &Checkpoint) -> u64 {
        cp.out + cp.record * self.extra()
    }
}

impl Source for Region {
    fn len(&self) -> u64 {
        if self.snap.record_count == 0 {
            return 0;
        }
        self.snap.region_len + self.snap.record_count * self.extra()
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        let empty = buf.is_empty();
        let mut out = Emitter::for_read(offset, buf, self.len(), &|| self.name())?;
        let snap = &self.snap;
        let Some(&(first_state, _)) = snap.runs.first() else {
            return if empty {
                Ok(())
            } else {
                Err(bad(format!("{}: no records", self.name())))
            };
        };
        if offset < 2 {
            out.put(0, &first_state.to_be_bytes());
        }
        let cp = snap.checkpoints[snap
            .checkpoints
            .partition_point(|c| self.out_of(c) <= offset)
            .saturating_sub(1)];
        let mut r = Scan::new(&*snap.source, cp.input, snap.records.end());
        let mut pos = self.out_of(&cp);
        let mut record = cp.record;
        let mut run = snap.runs.partition_point(|&(_, last)| last < record);
        while !out.done() && record < snap.record_count {
            let RecordHead { at, key, column } = record_head(&mut r, snap.columns.len())?;
            let klen = key.len() as u32 + self.extra() as u32;
            let ns = snap.columns[column as usize].namespace.byte_len();
            let last = snap.runs.get(run).is_some_and(|&(_, l)| l == record);
            let mut group = self.prefix;
            if last {
                group.mark_last();
            }
            let sep = key.len().checked_sub(ns + 1);
            if sep.is_none_or(|s| key[s] != SEPARATOR) {
                return Err(bad(format!(
                    "{}: offset {at}: record changed since it was indexed",
                    self.name()
                )));
            }
            let sep = key.len() - ns - 1;
            // kg ‖ K ‖ NS: the 2A separator dropped, the key group prefixed.
            let k = klen as u64;
            let p = group.len() as u64;
            out.put(pos, &klen.to_be_bytes());
            out.put(pos + 4, group.bytes());
            out.put(pos + 4 + p, &key[..sep]);
            out.put(pos + 4 + p + sep as u64, &key[sep + 1..]);
            let vlen = value_len(&mut r, at)?;
            out.put(pos + 4 + k, &vlen.to_be_bytes());
            let value_at = pos + 8 + k;
            out.put_scan(value_at, vlen as u64, &mut r)?;
            pos = value_at + vlen as u64;
            if last {
                let next = snap
                    .runs
                    .get(run + 1)
                    .map_or(crate::keygroup::END_OF_KEY_GROUP, |&(s, _)| s);
                out.put(pos, &next.to_be_bytes());
                pos += 2;
                run += 1;
            }
            record += 1;
        }
        out.finish(&|| self.name())
    }

    fn name(&self) -> String {
        format!(
            "{} (RocksDB records as key group {})",
            self.snap.source.name(),
            self.prefix.key_group()
        )
    }

    fn held_bytes(&self) -> usize {
        self.snap.checkpoints.len() * std::mem::size_of::<Checkpoint>()
            + self.snap.runs.len() * 16
            + self
                .snap
                .columns
                .iter()
                .map(|c| c.value_serializer.len() + 64)
                .sum::<usize>()
    }
}

/// One record of a snapshot, as ranges of the source.
pub struct Record {
    pub column: u8,
    /// The key without its `2A` separator and namespace: `K`.
    pub key: Span,
    pub value: Span,
}

impl RocksSnapshot {
    pub fn source(&self) -> &Arc<dyn Source> {
        &self.source
    }

    /// Walks every record in stream order (one sequential pass).
    pub fn for_each_record(&self, mut f: impl FnMut(Record) -> io::Result<()>) -> io::Result<()> {
        let mut r = Scan::new(&*self.source, self.records.start, self.records.end());
        for _ in 0..self.record_count {
            let head = record_head(&mut r, self.columns.len())?;
            let (at, column, klen) = (head.at, head.column, head.key.len() as u64);
            let vlen = u64::from(value_len(&mut r, at)?);
            r.skip(vlen)?;
            let ns = self.columns[column as usize].namespace.byte_len() as u64 + 1;
            let key = Span::new(at + 5, klen.saturating_sub(ns));
            let value = Span::new(at + 5 + klen + 4, vlen);
            f(Record { column, key, value })?;
        }
        Ok(())
    }

    /// Records per column (the index already checked they are grouped by column).
    pub fn counts(&self) -> Vec<u64> {
        let mut counts = vec![0u64; self.columns.len()];
        let mut first = 0u64;
        for &(state, last) in &self.runs {
            counts[state as usize] = last + 1 - first;
            first = last + 1;
        }
        counts
    }
}

#[cfg(test)]
mod tests;
