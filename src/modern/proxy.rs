//! The headers of keyed and operator state streams: `KeyedBackendSerializationProxy`
//! version 6 and `OperatorBackendSerializationProxy` version 5 with meta-info snapshots of
//! the current format (docs/modern-formats.md §4). Flink 1.17+ reads nothing older.

use super::{Snapshot, Utf, WriteError};

const KEYED_PROXY_VERSION: i32 = 6;
/// A list state's value in the canonical savepoint layout: its elements joined by this
/// byte (`ListDelimitedSerializer`, docs/modern-formats.md §4). It is the byte Flink 1.1's
/// RocksDB values already use, so those are copied as they are.
pub const LIST_DELIMITER: u8 = b',';
const OPERATOR_PROXY_VERSION: i32 = 5;
/// `StateMetaInfoSnapshot.BackendStateType` ordinals.
const BACKEND_KEY_VALUE: i32 = 0;
const BACKEND_OPERATOR: i32 = 1;
const BACKEND_PRIORITY_QUEUE: i32 = 3;

/// The state kinds a keyed header names (`StateDescriptor.Type`), and the priority
/// queues of timer services, which share the keyed stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyedStateType {
    Value,
    List,
    Reducing,
    Aggregating,
    Map,
    /// A timer service's queue: its records' keys are `flipped time ‖ key ‖ namespace`
    /// (`TimerSerializer`), their values empty; `value` is the timer serializer's
    /// snapshot, `namespace` the namespace's (not written in the header).
    PriorityQueue,
}

impl KeyedStateType {
    /// The `KEYED_STATE_TYPE` option; `None` for a priority queue, which has no options.
    pub fn name(self) -> Option<&'static str> {
        Some(match self {
            KeyedStateType::Value => "VALUE",
            KeyedStateType::List => "LIST",
            KeyedStateType::Reducing => "REDUCING",
            KeyedStateType::Aggregating => "AGGREGATING",
            KeyedStateType::Map => "MAP",
            KeyedStateType::PriorityQueue => return None,
        })
    }
}

/// The bytes a priority-queue record's key holds before the timer's key: its time, sign
/// bit flipped so that byte order is time order (`TimerSerializer`).
pub const TIMER_TIME_LEN: usize = 8;

/// One keyed state of a header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyedStateMeta {
    pub name: String,
    pub kind: KeyedStateType,
    pub value: Snapshot,
    pub namespace: Snapshot,
}

/// The keyed proxy: version 6, no key-group compression, the key serializer snapshot,
/// then each state's meta info. Its length is where the first key group starts.
pub fn keyed_header(key: &Snapshot, states: &[KeyedStateMeta]) -> Result<Vec<u8>, WriteError> {
    let mut h = Vec::with_capacity(512);
    h.extend_from_slice(&KEYED_PROXY_VERSION.to_be_bytes());
    h.push(0); // usingKeyGroupCompression = false
    key.write(&mut h)?;
    let n = i16::try_from(states.len()).map_err(|_| WriteError::CountTooLarge(states.len()))?;
    h.extend_from_slice(&n.to_be_bytes());
    for s in states {
        h.put_utf(&s.name)?;
        let Some(kind) = s.kind.name() else {
            h.extend_from_slice(&BACKEND_PRIORITY_QUEUE.to_be_bytes());
            h.put_count(0)?;
            h.put_count(1)?;
            h.put_utf("VALUE_SERIALIZER")?;
            s.value.write(&mut h)?;
            continue;
        };
        h.extend_from_slice(&BACKEND_KEY_VALUE.to_be_bytes());
        h.put_count(1)?;
        h.put_utf("KEYED_STATE_TYPE")?;
        h.put_utf(kind)?;
        h.put_count(2)?;
        h.put_utf("VALUE_SERIALIZER")?;
        s.value.write(&mut h)?;
        h.put_utf("NAMESPACE_SERIALIZER")?;
        s.namespace.write(&mut h)?;
    }
    Ok(h)
}

/// How an operator list state is redistributed (`OperatorStateHandle.Mode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Distribution {
    SplitDistribute,
    Union,
}

impl Distribution {
    fn name(self) -> &'static str {
        match self {
            Distribution::SplitDistribute => "SPLIT_DISTRIBUTE",
            Distribution::Union => "UNION",
        }
    }
}

/// The operator proxy (version 5) for one list state and no broadcast state. The
/// state's elements follow at the returned length.
pub fn operator_header(
    name: &str,
    mode: Distribution,
    element: &Snapshot,
) -> Result<Vec<u8>, WriteError> {
    let mut h = Vec::with_capacity(192);
    h.extend_from_slice(&OPERATOR_PROXY_VERSION.to_be_bytes());
    h.extend_from_slice(&1i16.to_be_bytes());
    h.put_utf(name)?;
    h.extend_from_slice(&BACKEND_OPERATOR.to_be_bytes());
    h.put_count(1)?;
    h.put_utf("OPERATOR_STATE_DISTRIBUTION_MODE")?;
    h.put_utf(mode.name())?;
    h.put_count(1)?;
    h.put_utf("VALUE_SERIALIZER")?;
    element.write(&mut h)?;
    h.extend_from_slice(&0i16.to_be_bytes()); // broadcast states
    Ok(h)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modern::snapshot::JAVA_SERIALIZER;

    /// docs/modern-formats.md §4.3: 179 bytes, the size Flink 1.10.3 and 1.20.5 write.
    #[test]
    fn default_operator_header_is_179_bytes() {
        let java = Snapshot::of_singleton(JAVA_SERIALIZER).unwrap();
        let h = operator_header("_default_", Distribution::SplitDistribute, &java).unwrap();
        assert_eq!(h.len(), 179);
        assert_eq!(&h[..6], &[0, 0, 0, 5, 0, 1]);
        assert_eq!(&h[h.len() - 2..], &[0, 0]);
    }
}
