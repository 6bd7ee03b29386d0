//! Which built-in Flink 1.1 operator a chain entry is, from its state's signatures
//! (operators.md §2.5): what `inspect` shows, and what the conversion refuses to write
//! the generic way (`convert/operators.rs` says what each would lose).

use super::{ChainEntry, KvSnapshot, StateHandle};
use crate::source::Source;

/// A built-in operator the generic recipe cannot carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operator {
    /// `window-contents` keyed state, with timers in the operator bytes.
    WindowWithTimers,
    /// Aligned processing-time windows: panes in the operator bytes (`0FF1CE42`, `BADF00D5`).
    AlignedWindow,
    /// Keyed CEP: `nfaOperatorState` and `priorityQueueStateName`.
    CepKeyed,
    /// Non-keyed CEP: a Java-serialized `NFA` in the operator bytes.
    CepNonKeyed,
    /// ContinuousFileReaderOperator: the current split (or none) in the operator bytes.
    FileReader,
    /// FlinkKafkaConsumerBase: a HashMap of `KafkaTopicPartition` offsets as function state.
    Kafka,
    /// RollingSink: a `RollingSink$BucketState` as function state.
    RollingSink,
    /// ContinuousFileMonitoringFunction: its modification time, a bare `Long` function
    /// state that nothing tells apart from a user's, so only `--operator` names it.
    FileMonitoring,
}

/// What `--operator VERTEX/chain-K=KIND` accepts: the kinds the state cannot show.
pub const OVERRIDES: &str = "monitoring-function, kafka, generic";

/// The WindowOperator's keyed state of window contents (Flink 1.1 to 2.x).
pub const WINDOW_CONTENTS: &str = "window-contents";
const CEP_NFA: &str = "org.apache.flink.cep.nfa.NFA";
const FILE_INPUT_SPLIT: &str = "org.apache.flink.core.fs.FileInputSplit";
const KAFKA_PARTITION: &str = crate::classnames::KAFKA_TOPIC_PARTITION;
const ROLLING_SINK_STATE: &str = "org.apache.flink.streaming.connectors.fs.RollingSink$BucketState";
/// The aligned window operators' magic numbers, after two longs (operators.md §4.2).
const ALIGNED_MAGICS: [[u8; 4]; 2] = [[0x0F, 0xF1, 0xCE, 0x42], [0xBA, 0xDF, 0x00, 0xD5]];
/// Bytes of a state looked at to recognise it.
const PEEK: u64 = 4096;

impl Operator {
    pub fn name(self) -> &'static str {
        match self {
            Operator::WindowWithTimers => "WindowOperator",
            Operator::AlignedWindow => "an aligned processing-time window operator",
            Operator::CepKeyed => "a keyed CEP operator",
            Operator::CepNonKeyed => "a CEP operator",
            Operator::FileReader => "ContinuousFileReaderOperator",
            Operator::Kafka => "FlinkKafkaConsumer",
            Operator::RollingSink => "RollingSink",
            Operator::FileMonitoring => "ContinuousFileMonitoringFunction",
        }
    }

    /// An `--operator` kind: `Some(operator)`, or `None` for `generic` (convert the entry
    /// by the generic recipe, whatever its state looks like).
    pub fn parse_override(kind: &str) -> Result<Option<Operator>, String> {
        match kind {
            "monitoring-function" => Ok(Some(Operator::FileMonitoring)),
            "kafka" => Ok(Some(Operator::Kafka)),
            "generic" => Ok(None),
            _ => Err(format!("{kind:?}: the operator kinds are {OVERRIDES}")),
        }
    }
}

/// The first bytes of a handle, when it can be read (`None`: unreadable; the files that
/// need it report that themselves).
pub type Peek<'a> = &'a dyn Fn(&StateHandle, u64) -> Option<Vec<u8>>;

/// The operator a chain entry's state says it is, if one the generic recipe cannot carry.
pub fn detect(model: &super::SubtaskModel, e: &ChainEntry, peek: Peek<'_>) -> Option<Operator> {
    let names: Vec<&str> = e.kv_states.iter().map(|k| k.name.as_str()).collect();
    if names.contains(&"nfaOperatorState") && names.contains(&"priorityQueueStateName") {
        return Some(Operator::CepKeyed);
    }
    let op_bytes = e.operator_state.as_ref().and_then(|h| peek(h, PEEK));
    if let Some(window) = e.kv_states.iter().find(|k| k.name == WINDOW_CONTENTS) {
        // A heap snapshot names its namespace serializer; RocksDB's does not record it.
        let namespace = match &window.snapshot {
            KvSnapshot::Heap(h) => model
                .graph
                .class_name_of(h.namespace_serializer)
                .map(|c| c.lossy()),
            _ => None,
        };
        let windowed = namespace.is_none_or(|ns| ns.contains("Window"));
        let timers = op_bytes.as_ref().is_some_and(|b| b.iter().any(|&x| x != 0));
        if windowed && timers {
            return Some(Operator::WindowWithTimers);
        }
    }
    if let Some(b) = &op_bytes {
        if b.len() >= 20 && ALIGNED_MAGICS.iter().any(|m| b[16..20] == *m) {
            return Some(Operator::AlignedWindow);
        }
        if let Some(class) = first_class(b) {
            if class == CEP_NFA {
                return Some(Operator::CepNonKeyed);
            }
            if class == FILE_INPUT_SPLIT
                || class.starts_with(
                    "org.apache.flink.streaming.api.functions.source.TimestampedFileInputSplit",
                )
            {
                return Some(Operator::FileReader);
            }
        }
        if b.starts_with(&[0xAC, 0xED, 0x00, 0x05, 0x70]) && e.kv_states.is_empty() {
            // A Java stream opening with null: the reader with no current split.
            return Some(Operator::FileReader);
        }
    }
    let function = e.function_state.as_ref().and_then(|h| peek(h, PEEK));
    if let Some(b) = &function {
        if first_class(b).as_deref() == Some(ROLLING_SINK_STATE) {
            return Some(Operator::RollingSink);
        }
        if contains(b, KAFKA_PARTITION.as_bytes()) {
            return Some(Operator::Kafka);
        }
    }
    None
}

/// A warning for state whose operator cannot be told from its bytes and that the native
/// forms would lose if it is the one it may be: a bare `java.lang.Long` function state is
/// how ContinuousFileMonitoringFunction stores its modification time.
pub fn ambiguous(function_state_head: &[u8]) -> Option<&'static str> {
    match first_class(function_state_head).as_deref()? {
        "java.lang.Long" => Some(
            "a bare Long function state: if this is ContinuousFileMonitoringFunction, say so with --operator VERTEX/chain-K=monitoring-function (converted as a user's Checkpointed Long, the function reads every file again)",
        ),
        // An empty map's stream ends with its size, 0, and the end of its block data.
        "java.util.HashMap" if function_state_head.ends_with(&[0, 0, 0, 0, 0x78]) => Some(
            "an empty HashMap function state: if this is FlinkKafkaConsumer, say so with --operator VERTEX/chain-K=kafka (converted as a user's Checkpointed HashMap, the consumer of Flink 1.2+ fails on it at restore)",
        ),
        _ => None,
    }
}

/// [`detect`] from what the subtask blob holds itself (external handles are not opened:
/// what `inspect` can tell without the allowed roots).
pub fn detect_inline(model: &super::SubtaskModel, e: &ChainEntry) -> Option<Operator> {
    let peek = |h: &StateHandle, n: u64| match h.bytes() {
        super::Bytes::Span(span) => head(&**model.graph.source(), span.start, span.len, n),
        super::Bytes::External { .. } => None,
    };
    detect(model, e, &peek)
}

/// The class of a Java stream's first object (`AC ED 00 05 73 72 len name`).
fn first_class(b: &[u8]) -> Option<String> {
    let rest = b.strip_prefix(&[0xAC, 0xED, 0x00, 0x05, 0x73, 0x72])?;
    let len = u16::from_be_bytes([*rest.first()?, *rest.get(1)?]) as usize;
    let name = rest.get(2..2 + len)?;
    std::str::from_utf8(name).ok().map(str::to_string)
}

/// Whether `needle` occurs in `hay` (run on every subtask a listing converts).
fn contains(hay: &[u8], needle: &[u8]) -> bool {
    memchr::memmem::find(hay, needle).is_some()
}

/// Up to `n` bytes at the start of `src`.
pub fn head(src: &dyn Source, start: u64, len: u64, n: u64) -> Option<Vec<u8>> {
    let mut buf = vec![0u8; len.min(n) as usize];
    src.read_at(start, &mut buf).ok()?;
    Some(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_streams_first_class_is_read_from_its_descriptor() {
        let mut b = vec![0xAC, 0xED, 0x00, 0x05, 0x73, 0x72];
        b.extend((CEP_NFA.len() as u16).to_be_bytes());
        b.extend(CEP_NFA.as_bytes());
        b.extend([0x29, 0x08]);
        assert_eq!(first_class(&b).as_deref(), Some(CEP_NFA));
        assert_eq!(first_class(&b[..10]), None, "cut short");
        assert_eq!(first_class(&[0xAC, 0xED, 0x00, 0x05, 0x70]), None, "null");
        assert!(contains(b"..KafkaTopicPartition..", b"KafkaTopicPartition"));
        assert!(!contains(b"Kafka", b"KafkaTopicPartition"));
    }
}
