//! Checkpoint metadata V2–V6 (Flink 1.3–2.3; docs/modern-formats.md §1): per operator, not
//! per chain. [`write`] writes V2 (read by Flink 1.3–2.3) and V3 (Flink 1.11+); [`read`]
//! reads V2 to V6, the versions Flink 1.20 (V4) and 2.3 (V6) write themselves.

use super::{Utf, WriteError};
use crate::scan::{Short, Window};
use crate::source::Source;
use std::fmt;

const MAGIC: u32 = 0x4960_672d;
const MASTER_STATE_MAGIC: u32 = 0xc96b_1696;

/// Stream, key-group and operator handle type codes (`MetadataV2V3SerializerBase`).
mod code {
    pub const NULL: u8 = 0;
    pub const BYTE_STREAM: u8 = 1;
    pub const FILE: u8 = 2;
    pub const KEY_GROUPS: u8 = 3;
    pub const OPERATOR: u8 = 4;
    pub const RELATIVE_FILE: u8 = 6;
    pub const SAVEPOINT_KEY_GROUPS: u8 = 7;
    pub const KEY_GROUPS_V2: u8 = 11;
    pub const SAVEPOINT_KEY_GROUPS_V2: u8 = 12;
}

/// A whole `_metadata` file.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Metadata {
    pub version: u32,
    pub checkpoint_id: i64,
    /// Master hook states (Flink writes none for plain jobs); only counted.
    pub master_states: u32,
    pub operators: Vec<OperatorState>,
    /// V4+: the bytes after the operators (Java-serialized `CheckpointProperties`).
    pub trailer_len: u64,
}

/// An operator id as its 16 file bytes (`lowerPart`, `upperPart`, big-endian).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OperatorId(pub [u8; 16]);

impl fmt::Display for OperatorId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&crate::ids::hex(&self.0))
    }
}

impl fmt::Debug for OperatorId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "OperatorId({self})")
    }
}

impl serde::Serialize for OperatorId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct OperatorState {
    pub id: OperatorId,
    /// V5+: the operator's name and uid (empty when Flink had none).
    pub name: Option<String>,
    pub uid: Option<String>,
    pub parallelism: i32,
    pub max_parallelism: i32,
    /// V3+: the operator coordinator's state.
    pub coordinator: Option<StreamHandle>,
    /// `(subtask index, state)`; V3+ writes `-(i+1)` for a finished subtask, kept as read.
    pub subtasks: Vec<(i32, SubtaskState)>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct SubtaskState {
    pub managed_operator: Vec<OperatorHandle>,
    pub raw_operator: Vec<OperatorHandle>,
    pub managed_keyed: Option<KeyedHandle>,
    pub raw_keyed: Option<KeyedHandle>,
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum StreamHandle {
    /// Inline bytes: where they sit in the metadata file.
    ByteStream {
        name: String,
        offset: u64,
        len: u64,
    },
    File {
        path: String,
        size: i64,
    },
    /// Type 6 (Flink 1.11+): relative to the directory holding `_metadata`.
    RelativeFile {
        path: String,
        size: i64,
    },
}

/// Which key-group handle class a keyed handle is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyedKind {
    /// Type 3: a backend's own layout (heap or RocksDB).
    KeyGroups,
    /// Type 7 (Flink 1.13+): the canonical savepoint layout any backend restores.
    Savepoint,
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct KeyedHandle {
    pub kind: KeyedKind,
    /// Types 11/12 carry a handle id.
    pub handle_id: Option<String>,
    pub start: i32,
    pub offsets: Vec<i64>,
    pub delegate: StreamHandle,
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct OperatorHandle {
    /// (state name, distribution mode ordinal, partition offsets).
    pub states: Vec<(String, u8, Vec<i64>)>,
    pub delegate: StreamHandle,
}

/// Serializes `m` as V2 or V3. Refuses what that version cannot say.
pub fn write(m: &Metadata) -> Result<Vec<u8>, WriteError> {
    let v = m.version;
    if v != 2 && v != 3 {
        return Err(WriteError::Version(v));
    }
    let mut o = Vec::new();
    o.extend_from_slice(&MAGIC.to_be_bytes());
    o.extend_from_slice(&v.to_be_bytes());
    o.extend_from_slice(&m.checkpoint_id.to_be_bytes());
    o.put_count(0)?; // master states
    o.put_count(m.operators.len())?;
    for op in &m.operators {
        if op.parallelism <= 0 || op.parallelism > op.max_parallelism {
            return Err(WriteError::Operator {
                operator: op.id,
                problem: format!(
                    "parallelism {} with max parallelism {}",
                    op.parallelism, op.max_parallelism
                ),
            });
        }
        o.extend_from_slice(&op.id.0);
        o.extend_from_slice(&op.parallelism.to_be_bytes());
        o.extend_from_slice(&op.max_parallelism.to_be_bytes());
        if v == 2 {
            o.put_count(1)?; // the former chain length, unused
        } else {
            stream_handle(&mut o, v, op.coordinator.as_ref())?;
        }
        o.put_count(op.subtasks.len())?;
        for (index, st) in &op.subtasks {
            if !(0..op.parallelism).contains(index) {
                return Err(WriteError::Operator {
                    operator: op.id,
                    problem: format!("subtask index {index}"),
                });
            }
            o.extend_from_slice(&index.to_be_bytes());
            if v == 2 {
                o.extend_from_slice(&(-1i64).to_be_bytes()); // duration
                o.put_count(0)?; // legacy operator state
            }
            for list in [&st.managed_operator, &st.raw_operator] {
                if list.len() > 1 {
                    return Err(WriteError::Operator {
                        operator: op.id,
                        problem: "more than one operator handle".into(),
                    });
                }
                o.put_count(list.len())?;
                for h in list {
                    operator_handle(&mut o, v, h)?;
                }
            }
            keyed_handle(&mut o, v, st.managed_keyed.as_ref())?;
            keyed_handle(&mut o, v, st.raw_keyed.as_ref())?;
            if v == 3 {
                o.put_count(0)?; // input channel state
                o.put_count(0)?; // result subpartition state
            }
        }
    }
    Ok(o)
}

fn stream_handle(o: &mut Vec<u8>, v: u32, h: Option<&StreamHandle>) -> Result<(), WriteError> {
    match h {
        None => o.push(code::NULL),
        Some(StreamHandle::File { path, size }) => {
            o.push(code::FILE);
            o.extend_from_slice(&size.to_be_bytes());
            o.put_utf(path)?;
        }
        Some(StreamHandle::RelativeFile { path, size }) => {
            if v < 3 {
                return Err(WriteError::NotExpressible(
                    "relative file handles need metadata version 3",
                ));
            }
            o.push(code::RELATIVE_FILE);
            o.put_utf(path)?;
            o.extend_from_slice(&size.to_be_bytes());
        }
        Some(StreamHandle::ByteStream { .. }) => {
            return Err(WriteError::NotExpressible(
                "inline byte streams are not written",
            ));
        }
    }
    Ok(())
}

fn operator_handle(o: &mut Vec<u8>, v: u32, h: &OperatorHandle) -> Result<(), WriteError> {
    o.push(code::OPERATOR);
    o.put_count(h.states.len())?;
    for (name, mode, offsets) in &h.states {
        o.put_utf(name)?;
        o.push(*mode);
        o.put_count(offsets.len())?;
        for off in offsets {
            o.extend_from_slice(&off.to_be_bytes());
        }
    }
    stream_handle(o, v, Some(&h.delegate))
}

fn keyed_handle(o: &mut Vec<u8>, v: u32, h: Option<&KeyedHandle>) -> Result<(), WriteError> {
    let Some(h) = h else {
        o.push(code::NULL);
        return Ok(());
    };
    if h.handle_id.is_some() {
        return Err(WriteError::NotExpressible(
            "key-group handles with ids are not written",
        ));
    }
    match h.kind {
        KeyedKind::KeyGroups => o.push(code::KEY_GROUPS),
        KeyedKind::Savepoint if v >= 3 => o.push(code::SAVEPOINT_KEY_GROUPS),
        KeyedKind::Savepoint => {
            return Err(WriteError::NotExpressible(
                "savepoint key-group handles need metadata version 3",
            ));
        }
    }
    o.extend_from_slice(&h.start.to_be_bytes());
    o.put_count(h.offsets.len())?;
    for off in &h.offsets {
        o.extend_from_slice(&off.to_be_bytes());
    }
    stream_handle(o, v, Some(&h.delegate))
}

/// A metadata read error: what was expected, at which byte.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: byte {offset}: {what}")]
pub struct ReadError {
    pub file: String,
    pub offset: u64,
    pub what: String,
}

/// Reads a V2–V6 `_metadata` from `source` (through the crate's one window, so it is
/// never loaded whole); the source's name names it in errors.
pub fn read(source: &dyn Source) -> Result<Metadata, ReadError> {
    let file = source.name();
    let mut c = Reader {
        win: Window::new(source, 1 << 16),
        end: source.len(),
        pos: 0,
        file: &file,
    };
    if c.u32("magic number")? != MAGIC {
        return Err(c.fail_at(0, "not a Flink checkpoint metadata file (bad magic number)"));
    }
    let version = c.u32("version")?;
    if !(2..=6).contains(&version) {
        return Err(c.fail_at(
            4,
            &format!("metadata version {version}: only 2 to 6 are read here"),
        ));
    }
    let checkpoint_id = c.i64("checkpoint id")?;
    let master_states = c.count("master states", 12)?;
    for _ in 0..master_states {
        if c.u32("master state magic")? != MASTER_STATE_MAGIC {
            return Err(c.fail(4, "bad master state magic number"));
        }
        c.u32("master state version")?;
        let n = c.count("master state length", 1)?;
        c.skip(n as u64, "master state")?;
    }
    let n = c.count("operators", 24)?;
    let mut operators = Vec::with_capacity(n);
    for _ in 0..n {
        operators.push(c.operator(version)?);
    }
    Ok(Metadata {
        version,
        checkpoint_id,
        master_states: master_states as u32,
        operators,
        trailer_len: c.end - c.pos,
    })
    .and_then(|m| {
        if version < 4 && m.trailer_len > 0 {
            Err(c.fail(
                0,
                &format!("{} bytes after the last operator", m.trailer_len),
            ))
        } else {
            Ok(m)
        }
    })
}

struct Reader<'a> {
    win: Window<'a>,
    end: u64,
    pos: u64,
    file: &'a str,
}

impl Reader<'_> {
    fn fail_at(&self, offset: u64, what: &str) -> ReadError {
        ReadError {
            file: self.file.to_string(),
            offset,
            what: what.to_string(),
        }
    }

    /// An error about the field of `len` bytes that was just read.
    fn fail(&self, len: usize, what: &str) -> ReadError {
        self.fail_at(self.pos.saturating_sub(len as u64), what)
    }

    fn take(&mut self, n: usize, what: &str) -> Result<&[u8], ReadError> {
        let pos = self.pos;
        match self.win.fetch(pos, n, self.end) {
            Ok(b) => {
                self.pos += n as u64;
                Ok(b)
            }
            Err(Short::Truncated { have, .. }) => Err(ReadError {
                file: self.file.to_string(),
                offset: pos,
                what: format!("truncated: {what} needs {n} bytes, {have} remain"),
            }),
            Err(Short::Io(e)) => Err(ReadError {
                file: self.file.to_string(),
                offset: pos,
                what: format!("cannot read {what}: {e}"),
            }),
        }
    }

    fn skip(&mut self, n: u64, what: &str) -> Result<(), ReadError> {
        if n > self.end - self.pos {
            return Err(self.fail_at(
                self.pos,
                &format!(
                    "truncated: {what} needs {n} bytes, {} remain",
                    self.end - self.pos
                ),
            ));
        }
        self.pos += n;
        Ok(())
    }

    fn u8(&mut self, what: &str) -> Result<u8, ReadError> {
        Ok(self.take(1, what)?[0])
    }

    fn u32(&mut self, what: &str) -> Result<u32, ReadError> {
        let b = self.take(4, what)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn i32(&mut self, what: &str) -> Result<i32, ReadError> {
        self.u32(what).map(|v| v as i32)
    }

    fn i64(&mut self, what: &str) -> Result<i64, ReadError> {
        let b = self.take(8, what)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(i64::from_be_bytes(a))
    }

    /// A count whose items need at least `min_each` bytes each: checked against what remains.
    fn count(&mut self, what: &str, min_each: usize) -> Result<usize, ReadError> {
        let n = self.i32(what)?;
        let remaining = self.end - self.pos;
        if n < 0 || (n as u64).saturating_mul(min_each.max(1) as u64) > remaining {
            return Err(self.fail(
                4,
                &format!("{what}: count {n} does not fit the {remaining} bytes left"),
            ));
        }
        Ok(n as usize)
    }

    fn utf(&mut self, what: &str) -> Result<String, ReadError> {
        let b = self.take(2, what)?;
        let n = u16::from_be_bytes([b[0], b[1]]) as usize;
        let s = self.take(n, what)?;
        crate::javaser::mutf8::decode(s)
            .ok_or_else(|| self.fail(n, &format!("{what}: invalid modified UTF-8")))
    }

    fn operator(&mut self, version: u32) -> Result<OperatorState, ReadError> {
        let (name, uid) = if version >= 5 {
            (
                Some(self.utf("operator name")?),
                Some(self.utf("operator uid")?),
            )
        } else {
            (None, None)
        };
        let mut id = [0u8; 16];
        id.copy_from_slice(self.take(16, "operator id")?);
        let parallelism = self.i32("parallelism")?;
        let max_parallelism = self.i32("max parallelism")?;
        let coordinator = if version == 2 {
            self.i32("former chain length")?;
            None
        } else {
            self.stream_handle()?
        };
        let n = self.count("subtask states", 4)?;
        let mut subtasks = Vec::with_capacity(n);
        for _ in 0..n {
            let index = self.i32("subtask index")?;
            if version == 2 {
                self.i64("duration")?;
                if self.i32("legacy operator state count")? != 0 {
                    return Err(self.fail(4, "legacy operator state (Flink <= 1.1) in a V2 file"));
                }
            }
            let managed_operator = self.operator_handles()?;
            let raw_operator = self.operator_handles()?;
            let managed_keyed = self.keyed_handle()?;
            let raw_keyed = self.keyed_handle()?;
            if version >= 3 {
                for what in ["input channel state", "result subpartition state"] {
                    if self.count(what, 1)? != 0 {
                        return Err(self.fail(
                            4,
                            &format!("{what} (unaligned checkpoints) is not read here"),
                        ));
                    }
                }
            }
            subtasks.push((
                index,
                SubtaskState {
                    managed_operator,
                    raw_operator,
                    managed_keyed,
                    raw_keyed,
                },
            ));
        }
        Ok(OperatorState {
            id: OperatorId(id),
            name,
            uid,
            parallelism,
            max_parallelism,
            coordinator,
            subtasks,
        })
    }

    fn stream_handle(&mut self) -> Result<Option<StreamHandle>, ReadError> {
        Ok(Some(match self.u8("stream handle type")? {
            code::NULL => return Ok(None),
            code::BYTE_STREAM => {
                let name = self.utf("byte stream name")?;
                let len = self.count("byte stream length", 1)?;
                let offset = self.pos;
                self.skip(len as u64, "byte stream data")?;
                StreamHandle::ByteStream {
                    name,
                    offset,
                    len: len as u64,
                }
            }
            code::FILE => {
                let size = self.i64("file size")?;
                StreamHandle::File {
                    size,
                    path: self.utf("file path")?,
                }
            }
            code::RELATIVE_FILE => {
                let path = self.utf("relative path")?;
                StreamHandle::RelativeFile {
                    path,
                    size: self.i64("file size")?,
                }
            }
            t => return Err(self.fail(1, &format!("stream handle type {t} is not read here"))),
        }))
    }

    fn operator_handles(&mut self) -> Result<Vec<OperatorHandle>, ReadError> {
        let n = self.count("operator handles", 1)?;
        let mut v = Vec::with_capacity(n);
        for _ in 0..n {
            match self.u8("operator handle type")? {
                code::NULL => {}
                code::OPERATOR => {
                    let states_n = self.count("operator states", 7)?;
                    let mut states = Vec::with_capacity(states_n);
                    for _ in 0..states_n {
                        let name = self.utf("operator state name")?;
                        let mode = self.u8("distribution mode")?;
                        let k = self.count("operator state offsets", 8)?;
                        let offsets = (0..k)
                            .map(|_| self.i64("offset"))
                            .collect::<Result<_, _>>()?;
                        states.push((name, mode, offsets));
                    }
                    let delegate = self
                        .stream_handle()?
                        .ok_or_else(|| self.fail(1, "operator handle without a delegate"))?;
                    v.push(OperatorHandle { states, delegate });
                }
                t => {
                    return Err(self.fail(1, &format!("operator handle type {t} is not read here")));
                }
            }
        }
        Ok(v)
    }

    fn keyed_handle(&mut self) -> Result<Option<KeyedHandle>, ReadError> {
        let t = self.u8("keyed handle type")?;
        let (kind, with_id) = match t {
            code::NULL => return Ok(None),
            code::KEY_GROUPS => (KeyedKind::KeyGroups, false),
            code::SAVEPOINT_KEY_GROUPS => (KeyedKind::Savepoint, false),
            code::KEY_GROUPS_V2 => (KeyedKind::KeyGroups, true),
            code::SAVEPOINT_KEY_GROUPS_V2 => (KeyedKind::Savepoint, true),
            t => {
                return Err(self.fail(
                    1,
                    &format!("keyed handle type {t} (incremental or changelog) is not read here"),
                ));
            }
        };
        let start = self.i32("key group start")?;
        let n = self.count("key groups", 8)?;
        let offsets = (0..n)
            .map(|_| self.i64("key group offset"))
            .collect::<Result<_, _>>()?;
        let delegate = self
            .stream_handle()?
            .ok_or_else(|| self.fail(1, "key-group handle without a delegate"))?;
        let handle_id = if with_id {
            Some(self.utf("handle id")?)
        } else {
            None
        };
        Ok(Some(KeyedHandle {
            kind,
            handle_id,
            start,
            offsets,
            delegate,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(version: u32) -> Metadata {
        let file = |p: &str| StreamHandle::File {
            path: p.into(),
            size: 10,
        };
        Metadata {
            version,
            checkpoint_id: 7,
            master_states: 0,
            trailer_len: 0,
            operators: vec![OperatorState {
                id: OperatorId([3; 16]),
                name: None,
                uid: None,
                parallelism: 2,
                max_parallelism: 4,
                coordinator: None,
                subtasks: vec![(
                    1,
                    SubtaskState {
                        managed_operator: vec![OperatorHandle {
                            states: vec![("_default_".into(), 0, vec![179])],
                            delegate: file("a"),
                        }],
                        raw_operator: vec![],
                        managed_keyed: Some(KeyedHandle {
                            kind: if version == 3 {
                                KeyedKind::Savepoint
                            } else {
                                KeyedKind::KeyGroups
                            },
                            handle_id: None,
                            start: 2,
                            offsets: vec![100, 120],
                            delegate: if version == 3 {
                                StreamHandle::RelativeFile {
                                    path: "x/y".into(),
                                    size: 140,
                                }
                            } else {
                                file("b")
                            },
                        }),
                        raw_keyed: None,
                    },
                )],
            }],
        }
    }

    fn mem(bytes: &[u8]) -> crate::source::MemSource {
        crate::source::MemSource::new("t", bytes.to_vec())
    }

    #[test]
    fn written_files_read_back() {
        for v in [2, 3] {
            let m = sample(v);
            let bytes = write(&m).unwrap();
            assert_eq!(read(&mem(&bytes)).unwrap(), m, "version {v}");
            // Every proper prefix is a clean error.
            for n in 0..bytes.len() {
                let e = read(&mem(&bytes[..n])).unwrap_err();
                assert!(e.offset <= n as u64, "{e}");
            }
        }
    }

    #[test]
    fn version_2_cannot_say_what_needs_version_3() {
        let mut m = sample(3);
        m.version = 2;
        assert!(write(&m).unwrap_err().to_string().contains("version 3"));
    }

    #[test]
    fn hostile_counts_are_refused_before_allocating() {
        let mut bytes = write(&sample(3)).unwrap();
        // The operator count (after magic, version, id, master count) set to i32::MAX.
        bytes[20..24].copy_from_slice(&i32::MAX.to_be_bytes());
        let e = read(&mem(&bytes)).unwrap_err();
        assert_eq!(e.offset, 20, "{e}");
        assert!(e.what.contains("does not fit"), "{e}");
    }
}
