//! The layout of a synthetic savepoint, decided before a byte is written: every vertex,
//! subtask and chain entry with the exact size of each of its handles, so that sizes can
//! be balanced to the requested total and checked afterwards (see the module docs of
//! [`super`] for the rules).

use super::javamap::{JavaHashMap, string_hash};
use super::keys::{KeySelection, balanced_count, nth_key};
use super::objects::{column_stream, function_stream_size};
use super::{
    Backend, KeyType, KeyedKind, Namespace, RocksDbMode, SynthError, SynthSpec, ValueType,
};
use crate::prng::Prng;

/// `FsStateBackend`'s default file-state threshold: state up to this size stays inline.
pub const FS_THRESHOLD: u64 = 1024;
/// The largest blob or inline array a V0 file / Java array can hold, with room for the
/// objects around the state bytes.
const MAX_INLINE: u64 = i32::MAX as u64 - (1 << 20);

/// PRNG stream tags (`Prng::derive` paths start with one).
pub mod tag {
    pub const IDS: u64 = 1;
    pub const SUBTASK: u64 = 2;
    pub const VALUES: u64 = 3;
    pub const FILLER: u64 = 4;
    pub const FILES: u64 = 5;
}

/// How the keyed state of a chain entry is stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyedStore {
    Memory,
    Filesystem,
    RocksFullyAsync,
    RocksSemiAsync,
}

/// One Checkpointed UDF's state value, serialized as its own Java stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FunctionState {
    /// A String (a source's state; the fixture's is "Here be dragons!").
    Text(String),
    /// `Tuple2<String, Long>` (the fixture's is ("hello", 42)).
    Tuple2(String, i64),
    /// A `byte[]` of this many payload bytes (large state).
    Bytes(u64),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OperatorState {
    /// Written first with `writeUTF`.
    pub label: String,
    /// Raw bytes after it.
    pub filler: u64,
}

impl OperatorState {
    pub fn size(&self) -> u64 {
        2 + crate::javaser::mutf8::encode(&self.label).len() as u64 + self.filler
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatePlan {
    /// Index among the entry's keyed states (registration order).
    pub index: u32,
    pub name: String,
    pub kind: KeyedKind,
    pub namespace: Namespace,
    pub value_type: ValueType,
    pub keys: KeySelection,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyedPlan {
    pub store: KeyedStore,
    /// States with at least one key in this subtask, in the order they are written (the
    /// kvStates map's, the RocksDB columns', or the semi-async descriptor list's).
    pub states: Vec<StatePlan>,
    /// The `kvStates` HashMap header: (threshold, capacity).
    pub map_shape: (i32, u32),
}

/// Elements of the list of entry `i` of a state in a subtask (list state).
pub fn list_len(i: u64) -> u64 {
    1 + i % 3
}

/// Elements of the first `n` entries' lists: `sum(1 + i % 3)` for `i < n`.
fn list_elements(n: u64) -> u64 {
    n + 3 * (n / 3) + u64::from(n % 3 == 2)
}

impl KeyedPlan {
    /// Bytes of one state's heap data: `int namespaces`, per namespace its bytes and
    /// `int entries`, then the entries (a list value is `int n` + its elements).
    pub fn heap_size(state: &StatePlan) -> u64 {
        let n = state.keys.len();
        let ns = state.namespace;
        let header = 4 + ns.windows(n).max(1) * (ns.byte_len() + 4);
        header
            + match state.kind {
                KeyedKind::Value | KeyedKind::Reducing | KeyedKind::Folding => {
                    (state.keys.key_type.byte_len() + state.value_type.byte_len()) * n
                }
                KeyedKind::List => {
                    (state.keys.key_type.byte_len() + 4) * n
                        + state.value_type.byte_len() * list_elements(n)
                }
            }
    }

    /// Bytes of the RocksDB fully-async stream (a list value is its elements joined by
    /// the merge operator's `,`).
    pub fn rocks_size(&self) -> Result<u64, SynthError> {
        let mut n = 4;
        for s in &self.states {
            let keys = s.keys.len();
            // mapping byte, `int` key length, K ‖ 2A ‖ NS, `int` value length, value (one,
            // or a list's elements joined by `,`).
            let head = 1 + 4 + s.keys.key_type.byte_len() + 1 + s.namespace.byte_len() + 4;
            let v = s.value_type.byte_len();
            let records = head * keys
                + match s.kind {
                    KeyedKind::Value | KeyedKind::Reducing | KeyedKind::Folding => v * keys,
                    KeyedKind::List => (v + 1) * list_elements(keys) - keys,
                };
            n += 1 + column_stream(&s.name, s.kind, s.value_type)?.len() as u64 + records;
        }
        Ok(n)
    }

    /// The handle sizes Flink 1.1 adds to the stateSize (legacy-formats.md §2.6).
    pub fn size(&self) -> Result<u64, SynthError> {
        Ok(match self.store {
            KeyedStore::Memory | KeyedStore::Filesystem => {
                self.states.iter().map(Self::heap_size).sum()
            }
            KeyedStore::RocksFullyAsync => self.rocks_size()?,
            KeyedStore::RocksSemiAsync => 0,
        })
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntryPlan {
    pub function: FunctionState,
    pub operator: Option<OperatorState>,
    pub keyed: Option<KeyedPlan>,
}

impl EntryPlan {
    pub fn size(&self) -> Result<u64, SynthError> {
        let mut n = function_stream_size(&self.function)?;
        n += self.operator.as_ref().map_or(0, OperatorState::size);
        if let Some(k) = &self.keyed {
            n += k.size()?;
        }
        Ok(n)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubtaskPlan {
    pub index: u32,
    pub duration: i64,
    pub chain: Vec<Option<EntryPlan>>,
}

impl SubtaskPlan {
    pub fn state_size(&self) -> Result<u64, SynthError> {
        let mut n = 0;
        for e in self.chain.iter().flatten() {
            n += e.size()?;
        }
        Ok(n)
    }

    fn head_mut(&mut self) -> Option<&mut EntryPlan> {
        self.chain.last_mut().and_then(Option::as_mut)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VertexPlan {
    pub index: u32,
    pub id: [u8; 16],
    pub subtasks: Vec<SubtaskPlan>,
}

#[derive(Clone, Debug)]
pub struct Plan {
    pub job_id: [u8; 16],
    /// Function and operator state over [`FS_THRESHOLD`] go to files.
    pub files_for_large: bool,
    pub key_type: KeyType,
    pub keys_per_state: u64,
    pub vertices: Vec<VertexPlan>,
}

fn spec_error(msg: impl Into<String>) -> SynthError {
    SynthError::Spec(msg.into())
}

fn validate(spec: &SynthSpec) -> Result<(), SynthError> {
    let rocks = spec.backend == Backend::RocksDb;
    let checks: [(bool, String); 9] = [
        (spec.vertices == 0, "--vertices must be at least 1".into()),
        (
            spec.keyed_kinds.is_empty(),
            "--state-kind needs at least one kind".into(),
        ),
        (
            spec.parallelism == 0 || spec.parallelism > 32768,
            format!("--parallelism {} is not in 1..=32768", spec.parallelism),
        ),
        (
            spec.chain == 0 || spec.chain > 1000,
            format!("--chain {} is not in 1..=1000", spec.chain),
        ),
        (
            spec.vertices as u64 * spec.parallelism as u64 > 1_000_000,
            "more than 1,000,000 subtasks".into(),
        ),
        (
            spec.keyed_states > if rocks { 128 } else { 10_000 },
            format!(
                "--keyed-states {} is too many (at most 128 RocksDB columns, 10,000 heap states)",
                spec.keyed_states
            ),
        ),
        (
            spec.two_keyed_entries && spec.chain < 2,
            "--two-keyed-entries needs --chain 2 or more".into(),
        ),
        (
            spec.misplace_key && (spec.parallelism < 2 || spec.keyed_states == 0),
            "--misplace-key needs --parallelism 2 or more and at least one keyed state".into(),
        ),
        (
            spec.misplace_key && spec.keys == Some(0),
            "--misplace-key needs at least one key".into(),
        ),
    ];
    match checks.into_iter().find(|(bad, _)| *bad) {
        Some((_, msg)) => Err(spec_error(msg)),
        None => Ok(()),
    }
}

const WORDS: [&str; 8] = [
    "hello", "flink", "state", "window", "count", "event", "tuple", "value",
];

/// Decides the whole layout.
pub fn plan(spec: &SynthSpec) -> Result<Plan, SynthError> {
    validate(spec)?;
    let p = spec.parallelism;
    let mut ids = Prng::derive(spec.seed, &[tag::IDS]);
    let job_id = ids.bytes16();
    let keyed_vertex = |v: u32| spec.keyed_states > 0 && (spec.vertices == 1 || v > 0);
    let head = spec.chain as usize - 1;
    let keyed_entry =
        |k: usize| k == head || (spec.two_keyed_entries && k + 2 == spec.chain as usize);
    let store = match (spec.backend, spec.rocksdb_mode) {
        (Backend::Memory, _) => KeyedStore::Memory,
        (Backend::Filesystem, _) => KeyedStore::Filesystem,
        (Backend::RocksDb, RocksDbMode::FullyAsync) => KeyedStore::RocksFullyAsync,
        (Backend::RocksDb, RocksDbMode::SemiAsync) => KeyedStore::RocksSemiAsync,
    };
    let keyed_entries = (0..spec.vertices).filter(|&v| keyed_vertex(v)).count() as u64
        * (1 + u64::from(spec.two_keyed_entries));
    let keys_per_state = match spec.keys {
        Some(n) => n,
        None if keyed_entries == 0 => 0,
        None => {
            // One entry: key and value, plus for RocksDB the mapping byte, both lengths,
            // the separator and the namespace (27 bytes for Long keys and values).
            let entry = spec.key_type.byte_len() + spec.value_type.byte_len();
            let per_key = if store == KeyedStore::RocksFullyAsync {
                entry + 1 + 4 + 1 + spec.namespace.byte_len() + 4
            } else {
                entry
            };
            (spec.state_bytes / 2 / (per_key * spec.keyed_states as u64 * keyed_entries)).max(1)
        }
    };
    // Keys of a group are about p apart; keep them well inside the key type's range.
    if keys_per_state > (1 << 40) || keys_per_state * 4 * p as u64 > spec.key_type.candidates() {
        return Err(spec_error(format!(
            "{keys_per_state} keys per state is too many"
        )));
    }

    let mut vertices = Vec::with_capacity(spec.vertices as usize);
    for v in 0..spec.vertices {
        let id = ids.bytes16();
        let mut subtasks = Vec::with_capacity(p as usize);
        for s in 0..p {
            let mut rng = Prng::derive(spec.seed, &[tag::SUBTASK, v as u64, s as u64]);
            let mut chain = Vec::with_capacity(spec.chain as usize);
            for k in 0..spec.chain as usize {
                let is_keyed = keyed_vertex(v) && keyed_entry(k);
                if spec.null_entries && k == 0 && k != head && !is_keyed {
                    chain.push(None);
                    continue;
                }
                let word = WORDS[rng.below(WORDS.len() as u64) as usize];
                let function = if v == 0 && spec.vertices > 1 && k == head {
                    FunctionState::Text(format!("synthetic source state {s}: {word}"))
                } else {
                    FunctionState::Tuple2(word.to_string(), rng.below(1000) as i64)
                };
                let operator = (k == head).then(|| OperatorState {
                    label: format!("synthetic operator state {v}/{s}/{k}"),
                    filler: 0,
                });
                let keyed = is_keyed.then(|| KeyedPlan {
                    store,
                    states: (0..spec.keyed_states)
                        .map(|i| StatePlan {
                            index: i,
                            name: format!("state-{i}"),
                            kind: spec.keyed_kinds[i as usize % spec.keyed_kinds.len()],
                            namespace: spec.namespace,
                            value_type: spec.value_type,
                            keys: KeySelection {
                                key_type: spec.key_type,
                                group: s,
                                max_parallelism: p,
                                count: balanced_count(keys_per_state, p, s),
                                extra: None,
                            },
                        })
                        .collect(),
                    map_shape: (0, 0),
                });
                chain.push(Some(EntryPlan {
                    function,
                    operator,
                    keyed,
                }));
            }
            subtasks.push(SubtaskPlan {
                index: s,
                duration: 10 + rng.below(490) as i64,
                chain,
            });
        }
        vertices.push(VertexPlan {
            index: v,
            id,
            subtasks,
        });
    }
    if spec.misplace_key {
        misplace_one_key(&mut vertices, head)?;
    }
    for e in vertices
        .iter_mut()
        .flat_map(|v| v.subtasks.iter_mut())
        .flat_map(|s| s.chain.iter_mut().flatten())
    {
        if let Some(k) = &mut e.keyed {
            order_states(k);
        }
    }
    let mut plan = Plan {
        job_id,
        files_for_large: spec.backend == Backend::Filesystem
            || (spec.backend == Backend::RocksDb && spec.rocksdb_files),
        key_type: spec.key_type,
        keys_per_state,
        vertices,
    };
    spread_payload(&mut plan, spec)?;
    check_inline_limits(&plan)?;
    Ok(plan)
}

/// Moves the last key of subtask 0 (first keyed vertex, head entry, first state) into
/// subtask 1, where its key group says it does not belong.
fn misplace_one_key(vertices: &mut [VertexPlan], head: usize) -> Result<(), SynthError> {
    fn first_state(s: &mut SubtaskPlan, head: usize) -> Option<&mut StatePlan> {
        s.chain
            .get_mut(head)?
            .as_mut()?
            .keyed
            .as_mut()?
            .states
            .first_mut()
    }
    for v in vertices.iter_mut() {
        let [s0, s1, ..] = v.subtasks.as_mut_slice() else {
            continue;
        };
        let (Some(a), Some(b)) = (first_state(s0, head), first_state(s1, head)) else {
            continue;
        };
        if a.keys.count == 0 {
            return Err(spec_error(
                "--misplace-key: subtask 0 holds no key to move (raise --keys)",
            ));
        }
        a.keys.count -= 1;
        b.keys.extra = Some(nth_key(
            a.keys.key_type,
            a.keys.group,
            a.keys.max_parallelism,
            a.keys.count,
        ));
        return Ok(());
    }
    Err(spec_error("--misplace-key: no keyed vertex"))
}

/// Drops the states without keys here and puts the rest in the order Flink 1.1 wrote
/// them (see `javamap`).
fn order_states(k: &mut KeyedPlan) {
    k.states.retain(|s| !s.keys.is_empty());
    let n = k.states.len() as u32;
    let hashes: Vec<i32> = k.states.iter().map(|s| string_hash(&s.name)).collect();
    // The registry: `new HashMap<>()`, one put per state in registration order.
    let mut registry = JavaHashMap::new();
    (0..n).for_each(|_| registry.put());
    let registry_order = registry.iteration_order(&hashes);
    let (order, shape) = match k.store {
        KeyedStore::Memory | KeyedStore::Filesystem => {
            // kvStates = new HashMap<>(n) filled from the registry.
            let mut snapshots = JavaHashMap::with_capacity(n);
            (0..n).for_each(|_| snapshots.put());
            let reordered: Vec<i32> = registry_order.iter().map(|&i| hashes[i]).collect();
            let order: Vec<usize> = snapshots
                .iteration_order(&reordered)
                .into_iter()
                .map(|i| registry_order[i])
                .collect();
            (order, (snapshots.threshold, snapshots.capacity()))
        }
        KeyedStore::RocksFullyAsync | KeyedStore::RocksSemiAsync => {
            let mut dummy = JavaHashMap::new();
            dummy.put();
            let order = if k.store == KeyedStore::RocksFullyAsync {
                // Columns: a `new HashMap<>()` copied from the registry by putAll.
                let mut copy = JavaHashMap::new();
                copy.put_all(n);
                let reordered: Vec<i32> = registry_order.iter().map(|&i| hashes[i]).collect();
                copy.iteration_order(&reordered)
                    .into_iter()
                    .map(|i| registry_order[i])
                    .collect()
            } else {
                // Semi-async: an ArrayList of the registry's values.
                registry_order
            };
            (order, (dummy.threshold, dummy.capacity()))
        }
    };
    let mut states: Vec<Option<StatePlan>> = std::mem::take(&mut k.states)
        .into_iter()
        .map(Some)
        .collect();
    k.states = order.into_iter().filter_map(|i| states[i].take()).collect();
    k.map_shape = shape;
}

/// Spreads what the structure leaves of `state_bytes` over the head operators.
fn spread_payload(plan: &mut Plan, spec: &SynthSpec) -> Result<(), SynthError> {
    let mut minimum = 0u64;
    for s in plan.vertices.iter().flat_map(|v| v.subtasks.iter()) {
        minimum += s.state_size()?;
    }
    let Some(rest) = spec.state_bytes.checked_sub(minimum) else {
        return Err(spec_error(format!(
            "--state-bytes {} is less than the {minimum} bytes this shape needs ({} keys per state); raise --state-bytes or lower --keys, --keyed-states, --vertices, --parallelism or --chain",
            spec.state_bytes, plan.keys_per_state
        )));
    };
    let total_subtasks = plan.vertices.len() as u64 * spec.parallelism as u64;
    let small_bytes = function_stream_size(&FunctionState::Bytes(0))?;
    let subtasks = plan.vertices.iter_mut().flat_map(|v| v.subtasks.iter_mut());
    for (i, s) in (0u64..).zip(subtasks) {
        let extra = rest / total_subtasks + u64::from(i < rest % total_subtasks);
        let Some(head) = s.head_mut() else {
            return Err(spec_error("the head operator of a chain is null"));
        };
        let half = extra / 2;
        let mut to_operator = extra;
        if half >= FS_THRESHOLD {
            let before = function_stream_size(&head.function)?;
            head.function = FunctionState::Bytes(before + half - small_bytes);
            to_operator = extra - half;
        }
        if let Some(op) = &mut head.operator {
            op.filler += to_operator;
        }
    }
    Ok(())
}

fn check_inline_limits(plan: &Plan) -> Result<(), SynthError> {
    for v in &plan.vertices {
        for s in &v.subtasks {
            let mut inline = 0u64;
            for e in s.chain.iter().flatten() {
                let f = function_stream_size(&e.function)?;
                let o = e.operator.as_ref().map_or(0, OperatorState::size);
                for part in [f, o] {
                    if !(plan.files_for_large && part > FS_THRESHOLD) {
                        inline += part;
                    }
                }
                if let Some(k) = &e.keyed {
                    inline += match k.store {
                        KeyedStore::Memory => k.size()?,
                        KeyedStore::RocksFullyAsync if !plan.files_for_large => k.size()?,
                        _ => 0,
                    };
                }
            }
            if inline > MAX_INLINE {
                return Err(spec_error(format!(
                    "subtask {} of vertex {} would hold {inline} inline state bytes, more than a Flink 1.1 blob can (2 GiB); raise --parallelism or --vertices, or use --backend filesystem",
                    s.index, v.index
                )));
            }
        }
    }
    Ok(())
}
