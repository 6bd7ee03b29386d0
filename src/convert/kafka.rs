//! FlinkKafkaConsumerBase (operators.md §5): Flink 1.1 kept the offsets it had emitted up
//! to as `Checkpointed<HashMap<KafkaTopicPartition, Long>>` function state. Flink 1.2 to
//! 1.10 restore them from the `_default_` list of `Tuple2(partition, offset)` elements,
//! each a Java stream of its own (the 1.10 consumer moves them into its union state);
//! the partition and offset objects are 1.1's, re-emitted, so no Kafka class is needed.
//! Flink >= 1.11's consumer reads only its union state, whose partitions are
//! Kryo-serialized: that form is not written, so the offsets are refused there, named in
//! the error. An empty map is no state at all: the consumer starts from the group's
//! committed offsets, as it did in 1.1.

use super::FileKind;
use super::error::{Error, FileLocation, HeaderError};
use super::native;
use super::subtask::{Cx, FileResult, handle_classes, not_migratable};
use crate::javaser::builder::StreamBuilder;
use crate::javaser::{self, Graph, Value, WriteOptions};
use crate::v0::StateHandle;
use crate::v0::classes::TUPLE2;

const HASH_MAP: &str = "java.util.HashMap";

/// One offset: the partition and offset objects of the 1.1 map, and how they read.
struct Offset {
    partition: Value,
    offset: Value,
    label: String,
}

/// The map's entries; errors name what is not a partition → Long map.
fn offsets(graph: &Graph) -> Result<Vec<Offset>, String> {
    let root = graph.roots().next().ok_or("an empty stream")?;
    let map = match graph.object(root) {
        Ok(Some(o)) if o.is_a(HASH_MAP) => o,
        Ok(Some(o)) => return Err(format!("a {}, not a {HASH_MAP}", o.class_name().lossy())),
        Ok(None) => return Err("null".into()),
        Err(e) => return Err(e.to_string()),
    };
    let mut out = Vec::new();
    for (k, v) in map.hash_map_entries().map_err(|e| e.to_string())? {
        let partition = graph
            .object(k)
            .map_err(|e| e.to_string())?
            .ok_or("a null partition")?;
        if !partition.is_a(crate::classnames::KAFKA_TOPIC_PARTITION) {
            return Err(format!(
                "a key of class {}, not a KafkaTopicPartition",
                partition.class_name().lossy()
            ));
        }
        let topic = match partition.field("topic") {
            Some(t) => graph.string_value(t).map_err(|e| e.to_string())?,
            None => None,
        };
        let number = match partition.field("partition") {
            Some(Value::Int(p)) => p,
            _ => return Err("a partition without its number".into()),
        };
        let long = graph
            .object(v)
            .map_err(|e| e.to_string())?
            .filter(|o| o.is_a("java.lang.Long"))
            .ok_or("an offset that is not a java.lang.Long")?;
        let Ok(Value::Long(at)) = long.boxed() else {
            return Err("an offset that is not a java.lang.Long".into());
        };
        out.push(Offset {
            partition: k,
            offset: v,
            label: format!("{}-{number}={at}", topic.as_deref().unwrap_or("?")),
        });
    }
    Ok(out)
}

/// `Tuple2(partition, offset)` as a fresh Java stream, the two objects re-emitted.
fn element(graph: &Graph, o: &Offset) -> Result<Vec<u8>, HeaderError> {
    let mut b = StreamBuilder::new(Vec::new(), TUPLE2.name, 0)?;
    b.begin_object(&TUPLE2)?;
    let first = b.next_handle();
    let mut out = b.finish()?;
    let fields = javaser::write_objects_continuing(
        graph,
        &[o.partition, o.offset],
        &WriteOptions::default(),
        first,
    )?;
    out.extend(fields.to_vec(&**graph.source())?);
    Ok(out)
}

impl Cx<'_> {
    /// The consumer's offsets for a file of `kind`: `None` for an empty map (no state).
    pub(super) fn kafka_offsets(
        &self,
        chain: usize,
        h: &StateHandle,
        kind: FileKind,
    ) -> Option<FileResult> {
        let loc = self.location(Some(chain), kind);
        match self.kafka_elements(h, &loc) {
            Ok(None) => None,
            Ok(Some((graph, all))) => Some(self.kafka_file(loc, h, kind, &graph, &all)),
            Err(e) => Some(Err(e)),
        }
    }

    fn kafka_elements(
        &self,
        h: &StateHandle,
        loc: &FileLocation,
    ) -> Result<Option<(Graph, Vec<Offset>)>, Error> {
        let (graph, place) = self.java_state(h, "FlinkKafkaConsumer state", loc)?;
        let all = offsets(&graph).map_err(|e| {
            not_migratable(loc)(format!("FlinkKafkaConsumer state in {place}: {e}"))
        })?;
        Ok((!all.is_empty()).then_some((graph, all)))
    }

    fn kafka_file(
        &self,
        loc: FileLocation,
        h: &StateHandle,
        kind: FileKind,
        graph: &Graph,
        all: &[Offset],
    ) -> FileResult {
        let fail = not_migratable(&loc);
        let labels: Vec<&str> = all.iter().map(|o| o.label.as_str()).collect();
        if kind != FileKind::ManagedOperatorState {
            return Err(fail(format!(
                "FlinkKafkaConsumer offsets {}: the consumer of Flink >= 1.11 reads them only from its union state of Kryo-serialized partitions, which is not written; convert with --target flink-1.10 (partition discovery off for that first restore) and take a savepoint there, or start the new job from these offsets (setStartFromSpecificOffsets)",
                labels.join(", ")
            )));
        }
        let header = native::operator_state_header().map_err(Error::header(&loc))?;
        let elements = all
            .iter()
            .map(|o| element(graph, o))
            .collect::<Result<_, _>>()
            .map_err(Error::header(&loc))?;
        let handle = format!(
            "FlinkKafkaConsumer offsets {} ({})",
            labels.join(", "),
            handle_classes(h)
        );
        Ok(self.list_file(loc, handle, header, elements))
    }
}
