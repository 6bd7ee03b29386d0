//! Synthetic Flink 1.1 (version 0) savepoints of any shape and size, for tests, demos and
//! benchmarks (`savepointfs synth`).
//!
//! The objects are the ones Flink 1.1 writes (legacy-formats.md §1.2, §2; class descriptors
//! byte-identical to the real fixtures', see [`classes`]), laid out like the fixture job:
//! per chain entry (head operator last) a `SerializedStateHandle` function state, a
//! `DataInputViewHandle` operator state and a `kvStates` map of `ValueState<Long>`
//! snapshots, with each key in the subtask its key group names (maxParallelism =
//! parallelism).
//!
//! **Shape.** Vertex 0 is a source (function and operator state, never keyed) unless it
//! is the only vertex; every other vertex is keyed when `keyed_states > 0`. In each
//! vertex's chain the head (last entry) has function state, operator state and the keyed
//! states; the other entries hold a small function state (a `Tuple2<String, Long>`).
//! With `null_entries` entry 0 is null (like the fixture's stateless sink); with
//! `two_keyed_entries` entry `chain - 2` gets keyed states too (and is then never null).
//! A state is present in a subtask only if the subtask holds one of its keys (Flink 1.1
//! registers states lazily); a subtask without any has `kvStates = null`. Keys: see
//! [`keys`]; map headers and entry order: `javamap`.
//!
//! **Size.** The sum of all subtasks' `stateSize` (the sum of handle sizes, legacy-formats.md §2.6)
//! equals `state_bytes` exactly. The structural part (small function states, operator
//! labels, keyed data of `keys` keys per state) is fixed by the shape; the rest is spread
//! evenly over the subtasks as head-operator payload: half as a `byte[]` function state
//! when that half is at least 1,024 bytes, the other half (or all of it) as operator
//! bytes. Without `keys`, the key count is chosen so that keyed data is about half of
//! `state_bytes`. A `state_bytes` smaller than the structural part is an error naming
//! the minimum.
//!
//! **Memory.** Everything streams: blobs go straight to the output file (each blob's
//! length is patched in afterwards), array bodies and external files are written in
//! 64 KiB pieces, and keys are recomputed rather than stored, so memory stays at a few
//! MiB whatever the size.

mod blob;

mod javamap;
pub mod keys;
mod manifest;
pub(crate) mod objects;
mod output;
mod plan;

mod state_bytes;
pub mod wrap;

use crate::javaser::builder::BuildError;
use std::path::{Path, PathBuf};

pub use manifest::write_manifest;
pub use objects::key_serializer_stream;
pub use output::generate;
pub use plan::FunctionState;

/// The standalone Java stream Flink 1.1 stores for a `Checkpointed` UDF's state value
/// (`SerializedStateHandle.serializedData`, or a `FileSerializableStateHandle` file);
/// a `Bytes` payload is filler drawn from `seed`.
pub fn function_state_stream(value: &FunctionState, seed: u64) -> Result<Vec<u8>, SynthError> {
    objects::function_stream(
        Vec::new(),
        value,
        &mut crate::prng::Prng::new(seed),
        "function state",
    )
}

/// Which backend wrote the savepoint (Flink 1.1 names).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// `MemoryStateBackend`: every handle inline in the blobs.
    Memory,
    /// `FsStateBackend`: keyed snapshots in files, function and operator state in files
    /// when over 1,024 bytes (the default file-state threshold).
    Filesystem,
    /// `RocksDBStateBackend`: keyed state as one `"dummy_state"` snapshot per subtask;
    /// function and operator state as its non-partitioned backend writes them.
    RocksDb,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RocksDbMode {
    /// `FinalFullyAsyncSnapshot`: the database as one stream (legacy-formats.md §2.5).
    FullyAsync,
    /// `FinalSemiAsyncSnapshot`: only a `backupUri` (no directory is created there, so
    /// its size counts 0); Flink 1.2 cannot migrate it (legacy-formats.md §3.9).
    SemiAsync,
}

/// The key type of the keyed states.
/// The kind of every keyed state of a synthetic job, all of `Long` values: a list holds
/// 1 to 3 elements (entry `i` of a subtask's state holds `1 + i % 3`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum KeyedKind {
    #[default]
    Value,
    List,
    /// A `ReducingState<Long>` summing with a user `ReduceFunction` (named, never run).
    Reducing,
    /// A `FoldingState<Long, Long>` folding from 0 with a user `FoldFunction`.
    Folding,
}

impl KeyedKind {
    pub fn name(self) -> &'static str {
        match self {
            KeyedKind::Value => "value",
            KeyedKind::List => "list",
            KeyedKind::Reducing => "reducing",
            KeyedKind::Folding => "folding",
        }
    }
}

/// The value type of every keyed state of a synthetic job (list elements too): a drawn
/// number `v` is the `Long` `v`, the `String` `"v"` + `v` in 6 digits (which serializes
/// to the same 8 bytes), or the POJO `savepointfs.synth.Pojo(id = v, name = that String)`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ValueType {
    #[default]
    Long,
    String,
    Pojo,
}

impl ValueType {
    pub fn name(self) -> &'static str {
        match self {
            ValueType::Long => "long",
            ValueType::String => "string",
            ValueType::Pojo => "pojo",
        }
    }

    /// Serialized length of every value.
    pub fn byte_len(self) -> u64 {
        match self {
            ValueType::Long | ValueType::String => 8,
            ValueType::Pojo => POJO_HEAD + 8 + 1 + 8,
        }
    }

    fn text(v: i64) -> String {
        format!("v{v:06}")
    }

    /// Appends drawn value `v` (below 10^6) serialized.
    pub fn put(self, buf: &mut Vec<u8>, v: i64) {
        match self {
            ValueType::Long => buf.extend_from_slice(&v.to_be_bytes()),
            ValueType::String => put_ascii(buf, &Self::text(v)),
            ValueType::Pojo => put_pojo(buf, v, &Self::text(v)),
        }
    }

    pub fn json(self, v: i64) -> serde_json::Value {
        match self {
            ValueType::Long => serde_json::json!(v),
            ValueType::String => serde_json::json!(Self::text(v)),
            ValueType::Pojo => pojo_json(v, &Self::text(v)),
        }
    }

    /// A fold's initial value, serialized: `0L`, the empty String, or `Pojo(0, "")`.
    pub fn fold_initial(self) -> Vec<u8> {
        let mut buf = Vec::new();
        match self {
            ValueType::Long => buf.extend_from_slice(&0i64.to_be_bytes()),
            ValueType::String => put_ascii(&mut buf, ""),
            ValueType::Pojo => put_pojo(&mut buf, 0, ""),
        }
        buf
    }
}

/// Bytes of a [`ValueType::Pojo`] or [`KeyType::Pojo`] before the `id`: the
/// `PojoSerializer` flags byte (2: exactly the class) and `id`'s not-null flag; `name`'s
/// not-null flag sits between the fields.
const POJO_HEAD: u64 = 2;

/// Appends a `StringValue` of ASCII text: its length + 1 (one varint byte), the chars.
fn put_ascii(buf: &mut Vec<u8>, s: &str) {
    buf.push(s.len() as u8 + 1);
    buf.extend_from_slice(s.as_bytes());
}

/// Appends `Pojo(id, name)` as `PojoSerializer` writes it: flags `02`, then per field (in
/// name order) a not-null flag `00` and the value.
fn put_pojo(buf: &mut Vec<u8>, id: i64, name: &str) {
    buf.extend_from_slice(&[2, 0]);
    buf.extend_from_slice(&id.to_be_bytes());
    buf.push(0);
    put_ascii(buf, name);
}

fn pojo_json(id: i64, name: &str) -> serde_json::Value {
    serde_json::json!({"id": id, "name": name})
}

/// The namespace of every keyed state of a synthetic job. Time windows are 3 per state:
/// entry `i` of a subtask's state sits in window `i % 3`, `[1000 w, 1000 (w + 1))`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Namespace {
    /// `VoidSerializer` (non-windowed state): one byte `00`.
    #[default]
    Void,
    /// `TimeWindow$Serializer`: start and end, two Longs.
    TimeWindow,
    /// `GlobalWindow$Serializer`: one byte `00`.
    GlobalWindow,
}

impl Namespace {
    pub fn name(self) -> &'static str {
        match self {
            Namespace::Void => "void",
            Namespace::TimeWindow => "time-window",
            Namespace::GlobalWindow => "global-window",
        }
    }

    /// Namespaces a state of `entries` entries has.
    pub fn windows(self, entries: u64) -> u64 {
        match self {
            Namespace::TimeWindow => entries.min(3),
            _ => entries.min(1),
        }
    }

    /// Windows entries are spread over.
    pub fn spread(self) -> u64 {
        match self {
            Namespace::TimeWindow => 3,
            _ => 1,
        }
    }

    /// Serialized bytes of window `w`.
    pub fn bytes(self, w: u64) -> Vec<u8> {
        match self {
            Namespace::Void | Namespace::GlobalWindow => vec![0],
            Namespace::TimeWindow => {
                let (start, end) = Self::window(w);
                [start.to_be_bytes(), end.to_be_bytes()].concat()
            }
        }
    }

    /// Serialized length.
    pub fn byte_len(self) -> u64 {
        match self {
            Namespace::TimeWindow => 16,
            _ => 1,
        }
    }

    /// `[start, end)` of time window `w`.
    pub fn window(w: u64) -> (i64, i64) {
        (1000 * w as i64, 1000 * (w as i64 + 1))
    }
}

/// The key type. Keys are drawn from candidates 0, 1, 2, …: candidate `c` is the Long
/// `c`, `Tuple1(c)`, the Int `c`, the String `"k"` + `c` in 11 digits, or
/// `Tuple2(c, "s" + c mod 10^7 in 7 digits)` (so every key of a type has the same length,
/// and RocksDB's byte order is the candidates').
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyType {
    /// `Tuple1<Long>` (a `keyBy(0)` on a tuple, as in the fixture job).
    Tuple1Long,
    Long,
    Int,
    String,
    /// `Tuple2<Long, String>`.
    Tuple2LongString,
    /// The POJO `savepointfs.synth.Pojo(id = c, name = the String key)`; its `hashCode`
    /// is `Tuple2(id, name)`'s.
    Pojo,
}

impl KeyType {
    pub fn name(self) -> &'static str {
        match self {
            KeyType::Tuple1Long => "tuple1-long",
            KeyType::Long => "long",
            KeyType::Int => "int",
            KeyType::String => "string",
            KeyType::Tuple2LongString => "tuple2-long-string",
            KeyType::Pojo => "pojo",
        }
    }

    /// Serialized length of every key.
    pub fn byte_len(self) -> u64 {
        match self {
            KeyType::Tuple1Long | KeyType::Long => 8,
            KeyType::Int => 4,
            // StringValue: the length + 1 as one varint byte, then one byte per ASCII char.
            KeyType::String => 13,
            KeyType::Tuple2LongString => 8 + 9,
            KeyType::Pojo => POJO_HEAD + 8 + 1 + 13,
        }
    }

    /// The most candidates a key type has.
    pub fn candidates(self) -> u64 {
        match self {
            KeyType::Int => i32::MAX as u64,
            KeyType::String | KeyType::Pojo => 100_000_000_000,
            _ => i64::MAX as u64,
        }
    }

    /// Candidate `c` as a Java value (for its hashCode).
    pub fn java(self, c: i64) -> crate::keygroup::JavaKey {
        use crate::keygroup::JavaKey;
        match self {
            KeyType::Tuple1Long => JavaKey::Tuple(vec![JavaKey::Long(c)]),
            KeyType::Long => JavaKey::Long(c),
            KeyType::Int => JavaKey::Int(c as i32),
            KeyType::String => JavaKey::String(Self::string(c)),
            KeyType::Tuple2LongString => {
                JavaKey::Tuple(vec![JavaKey::Long(c), JavaKey::String(Self::second(c))])
            }
            KeyType::Pojo => {
                JavaKey::Tuple(vec![JavaKey::Long(c), JavaKey::String(Self::string(c))])
            }
        }
    }

    fn string(c: i64) -> String {
        format!("k{c:011}")
    }

    /// A `Tuple2` key's second field.
    fn second(c: i64) -> String {
        format!("s{:07}", c % 10_000_000)
    }

    /// Appends candidate `c`'s serialized key.
    pub fn put(self, buf: &mut Vec<u8>, c: i64) {
        match self {
            KeyType::Tuple1Long | KeyType::Long => buf.extend_from_slice(&c.to_be_bytes()),
            KeyType::Int => buf.extend_from_slice(&(c as i32).to_be_bytes()),
            KeyType::String => put_ascii(buf, &Self::string(c)),
            KeyType::Tuple2LongString => {
                buf.extend_from_slice(&c.to_be_bytes());
                put_ascii(buf, &Self::second(c));
            }
            KeyType::Pojo => put_pojo(buf, c, &Self::string(c)),
        }
    }

    /// Candidate `c` as the manifest writes it.
    pub fn json(self, c: i64) -> serde_json::Value {
        match self {
            KeyType::Tuple1Long => serde_json::json!([c]),
            KeyType::Long | KeyType::Int => serde_json::json!(c),
            KeyType::String => serde_json::json!(Self::string(c)),
            KeyType::Tuple2LongString => serde_json::json!([c, Self::second(c)]),
            KeyType::Pojo => pojo_json(c, &Self::string(c)),
        }
    }
}

/// What to generate.
#[derive(Clone, Debug)]
pub struct SynthSpec {
    pub vertices: u32,
    pub parallelism: u32,
    /// Operators per chain (chain entries per subtask).
    pub chain: u32,
    pub backend: Backend,
    /// Total state bytes: the sum of every subtask's stateSize.
    pub state_bytes: u64,
    /// Keyed states per keyed chain entry.
    pub keyed_states: u32,
    /// Their kinds: state `i` is of `keyed_kinds[i % len]` (not empty).
    pub keyed_kinds: Vec<KeyedKind>,
    /// Their namespace.
    pub namespace: Namespace,
    /// Their value type.
    pub value_type: ValueType,
    /// Keys per keyed state, over all subtasks; `None` = derived from `state_bytes`.
    pub keys: Option<u64>,
    pub key_type: KeyType,
    /// Where external state files go; `None` = `<savepoint dir>/state`.
    pub external_dir: Option<PathBuf>,
    pub seed: u64,
    pub checkpoint_id: i64,
    pub rocksdb_mode: RocksDbMode,
    /// RocksDB with an `FsStateBackend` as its non-partitioned backend: the database
    /// stream, function and operator state go to files when over 1,024 bytes.
    pub rocksdb_files: bool,
    /// Move one key of subtask 0 into subtask 1 (a wrong key group, for `verify` tests).
    pub misplace_key: bool,
    /// Keyed state on two chain entries (Flink 1.2 refuses that).
    pub two_keyed_entries: bool,
    /// Chain entry 0 is null (a stateless operator, like the fixture's sink).
    pub null_entries: bool,
}

impl Default for SynthSpec {
    fn default() -> Self {
        SynthSpec {
            vertices: 3,
            parallelism: 4,
            chain: 2,
            backend: Backend::Memory,
            state_bytes: 64 << 10,
            keyed_states: 1,
            keyed_kinds: vec![KeyedKind::Value],
            namespace: Namespace::Void,
            value_type: ValueType::Long,
            keys: None,
            key_type: KeyType::Tuple1Long,
            external_dir: None,
            seed: 1,
            checkpoint_id: 10,
            rocksdb_mode: RocksDbMode::FullyAsync,
            rocksdb_files: false,
            misplace_key: false,
            two_keyed_entries: false,
            null_entries: false,
        }
    }
}

impl SynthSpec {
    /// The external directory: as given (made absolute), or `<savepoint dir>/state`.
    pub fn external_dir_for(&self, savepoint: &Path) -> std::io::Result<PathBuf> {
        let dir = match &self.external_dir {
            Some(d) => d.clone(),
            None => savepoint
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."))
                .join("state"),
        };
        std::path::absolute(dir)
    }
}

/// What was written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SynthSummary {
    pub savepoint: PathBuf,
    pub file_size: u64,
    /// Sum of the subtasks' stateSize (= the spec's `state_bytes`).
    pub state_bytes: u64,
    pub subtasks: u64,
    pub keys_per_state: u64,
    pub external_files: u64,
    pub external_bytes: u64,
    /// Where the external files are (`<dir>/<job id>/chk-<id>`), when there are any.
    pub external_dir: Option<PathBuf>,
    /// The uid of every stateful chain entry that is not its chain's head, as
    /// `VERTEX/chain-K=UID` lines for `--uid-file` (synthetic uids `synth-V-K`).
    pub uids: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum SynthError {
    #[error("invalid synth options: {0}")]
    Spec(String),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Build(#[from] BuildError),
}

impl SynthError {
    fn io(path: &Path, source: std::io::Error) -> Self {
        SynthError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

pub use crate::size::parse_size;

#[cfg(test)]
mod tests {
    use super::*;

    /// `Pojo(id, name)` as `PojoSerializer` writes it, at the length the plan counts.
    #[test]
    fn pojo_keys_and_values_serialize_as_the_pojo_serializer_does() {
        let mut key = Vec::new();
        KeyType::Pojo.put(&mut key, 5);
        let mut want = vec![2, 0];
        want.extend(5i64.to_be_bytes());
        want.extend([0, 13]);
        want.extend(b"k00000000005");
        assert_eq!(key, want);
        assert_eq!(key.len() as u64, KeyType::Pojo.byte_len());
        let mut value = Vec::new();
        ValueType::Pojo.put(&mut value, 7);
        assert_eq!(value.len() as u64, ValueType::Pojo.byte_len());
        assert_eq!(&value[value.len() - 8..], b"\x08v000007");
        assert_eq!(
            ValueType::Pojo.fold_initial(),
            [2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]
        );
        assert_eq!(
            KeyType::Pojo.json(5),
            serde_json::json!({"id": 5, "name": "k00000000005"})
        );
        // hashCode: 31 * Long.hashCode(id) + name.hashCode(), as the harness's Pojo has it.
        let name = crate::keygroup::JavaKey::String("k00000000005".into()).hash_code();
        assert_eq!(
            KeyType::Pojo.java(5).hash_code(),
            31i32.wrapping_mul(5).wrapping_add(name)
        );
    }

    #[test]
    fn external_dir_defaults_beside_the_savepoint() {
        let spec = SynthSpec::default();
        let d = spec
            .external_dir_for(Path::new("/tmp/x/savepoint-1"))
            .unwrap();
        assert_eq!(d, PathBuf::from("/tmp/x/state"));
        let rel = spec.external_dir_for(Path::new("sp")).unwrap();
        assert!(rel.is_absolute() && rel.ends_with("state"), "{rel:?}");
    }
}
