//! The Flink 1.1 (and JDK) classes we write from scratch, exactly as a stream describes
//! them: names, serialVersionUIDs, flags, fields in stream order and superclasses
//! (legacy-formats.md §2.3, §2.4, §5.4). The synthetic savepoint generator writes whole
//! savepoints with them; the conversion writes serializer objects (key serializers the
//! user names for RocksDB state). `tests/synth.rs` compares these descriptors with the
//! ones in the real Flink-written fixtures.

use crate::javaser::builder::{BuildResult, ClassSpec, FieldSpec, Handle, StreamBuilder};
use crate::javaser::flags::{SERIALIZABLE, WRITE_METHOD};

const S: u8 = SERIALIZABLE;
const SW: u8 = SERIALIZABLE | WRITE_METHOD;

const STATE_HANDLE: &str = "Lorg/apache/flink/runtime/state/StateHandle;";
const TYPE_SERIALIZER_SIG: &str = "Lorg/apache/flink/api/common/typeutils/TypeSerializer;";
const STATE_DESCRIPTOR_SIG: &str = "Lorg/apache/flink/api/common/state/StateDescriptor;";
const OBJECT_SIG: &str = "Ljava/lang/Object;";

const fn class(
    name: &'static str,
    uid: i64,
    flags: u8,
    fields: &'static [FieldSpec],
    superclass: Option<&'static ClassSpec>,
) -> ClassSpec {
    ClassSpec {
        name,
        uid,
        flags,
        fields,
        superclass,
    }
}

// --- streaming runtime -------------------------------------------------------------

pub static STREAM_TASK_STATE_LIST: ClassSpec = class(
    crate::classnames::STREAM_TASK_STATE_LIST,
    1,
    S,
    &[FieldSpec::reference(
        "states",
        "[Lorg/apache/flink/streaming/runtime/tasks/StreamTaskState;",
    )],
    None,
);

pub static STREAM_TASK_STATE_ARRAY: ClassSpec = class(
    "[Lorg.apache.flink.streaming.runtime.tasks.StreamTaskState;",
    -3048050435236578399,
    S,
    &[],
    None,
);

pub static STREAM_TASK_STATE: ClassSpec = class(
    crate::classnames::STREAM_TASK_STATE,
    1,
    S,
    &[
        FieldSpec::reference("functionState", STATE_HANDLE),
        FieldSpec::reference("kvStates", "Ljava/util/HashMap;"),
        FieldSpec::reference("operatorState", STATE_HANDLE),
    ],
    None,
);

// --- state handles -----------------------------------------------------------------

pub static ABSTRACT_CLOSEABLE_HANDLE: ClassSpec = class(
    crate::classnames::ABSTRACT_CLOSEABLE_HANDLE,
    1,
    S,
    &[],
    None,
);

pub static SERIALIZED_STATE_HANDLE: ClassSpec = class(
    crate::classnames::SERIALIZED_STATE_HANDLE,
    4145685722538475769,
    S,
    &[FieldSpec::reference("serializedData", "[B")],
    Some(&ABSTRACT_CLOSEABLE_HANDLE),
);

pub static BYTE_STREAM_STATE_HANDLE: ClassSpec = class(
    crate::classnames::BYTE_STREAM_STATE_HANDLE,
    -5280226231200217594,
    S,
    &[FieldSpec::reference("data", "[B")],
    Some(&ABSTRACT_CLOSEABLE_HANDLE),
);

pub static DATA_INPUT_VIEW_HANDLE: ClassSpec = class(
    crate::classnames::ABSTRACT_STATE_BACKEND_DATA_INPUT_VIEW_HANDLE,
    2891559813513532079,
    S,
    &[FieldSpec::reference(
        "stream",
        "Lorg/apache/flink/runtime/state/StreamStateHandle;",
    )],
    None,
);

pub static ABSTRACT_FILE_STATE_HANDLE: ClassSpec = class(
    crate::classnames::ABSTRACT_FILE_STATE_HANDLE,
    350284443258002355,
    S,
    &[FieldSpec::reference(
        "filePath",
        "Lorg/apache/flink/core/fs/Path;",
    )],
    Some(&ABSTRACT_CLOSEABLE_HANDLE),
);

pub static FILE_STREAM_STATE_HANDLE: ClassSpec = class(
    crate::classnames::FILE_STREAM_STATE_HANDLE,
    -6826990484549987311,
    S,
    &[],
    Some(&ABSTRACT_FILE_STATE_HANDLE),
);

pub static FILE_SERIALIZABLE_STATE_HANDLE: ClassSpec = class(
    crate::classnames::FILE_SERIALIZABLE_STATE_HANDLE,
    -657631394290213622,
    S,
    &[],
    Some(&ABSTRACT_FILE_STATE_HANDLE),
);

// --- keyed-state snapshots ---------------------------------------------------------

pub static ABSTRACT_MEM_STATE_SNAPSHOT: ClassSpec = class(
    crate::classnames::ABSTRACT_MEM_STATE_SNAPSHOT,
    1,
    S,
    &[
        FieldSpec::reference("data", "[B"),
        FieldSpec::reference("keySerializer", TYPE_SERIALIZER_SIG),
        FieldSpec::reference("namespaceSerializer", TYPE_SERIALIZER_SIG),
        FieldSpec::reference("stateDesc", STATE_DESCRIPTOR_SIG),
        FieldSpec::reference("stateSerializer", TYPE_SERIALIZER_SIG),
    ],
    None,
);

pub static MEM_VALUE_STATE_SNAPSHOT: ClassSpec = class(
    crate::classnames::MEM_VALUE_STATE_SNAPSHOT,
    1,
    S,
    &[],
    Some(&ABSTRACT_MEM_STATE_SNAPSHOT),
);

pub static MEM_LIST_STATE_SNAPSHOT: ClassSpec = class(
    crate::classnames::MEM_LIST_STATE_SNAPSHOT,
    1,
    S,
    &[],
    Some(&ABSTRACT_MEM_STATE_SNAPSHOT),
);

pub static MEM_REDUCING_STATE_SNAPSHOT: ClassSpec = class(
    crate::classnames::MEM_REDUCING_STATE_SNAPSHOT,
    1,
    S,
    &[],
    Some(&ABSTRACT_MEM_STATE_SNAPSHOT),
);

pub static MEM_FOLDING_STATE_SNAPSHOT: ClassSpec = class(
    crate::classnames::MEM_FOLDING_STATE_SNAPSHOT,
    1,
    S,
    &[],
    Some(&ABSTRACT_MEM_STATE_SNAPSHOT),
);

pub static ABSTRACT_FS_STATE_SNAPSHOT: ClassSpec = class(
    crate::classnames::ABSTRACT_FS_STATE_SNAPSHOT,
    1,
    S,
    &[
        FieldSpec::reference("keySerializer", TYPE_SERIALIZER_SIG),
        FieldSpec::reference("namespaceSerializer", TYPE_SERIALIZER_SIG),
        FieldSpec::reference("stateDesc", STATE_DESCRIPTOR_SIG),
        FieldSpec::reference("stateSerializer", TYPE_SERIALIZER_SIG),
    ],
    Some(&ABSTRACT_FILE_STATE_HANDLE),
);

pub static FS_VALUE_STATE_SNAPSHOT: ClassSpec = class(
    crate::classnames::FS_VALUE_STATE_SNAPSHOT,
    1,
    S,
    &[],
    Some(&ABSTRACT_FS_STATE_SNAPSHOT),
);

pub static FS_LIST_STATE_SNAPSHOT: ClassSpec = class(
    crate::classnames::FS_LIST_STATE_SNAPSHOT,
    1,
    S,
    &[],
    Some(&ABSTRACT_FS_STATE_SNAPSHOT),
);

pub static FS_REDUCING_STATE_SNAPSHOT: ClassSpec = class(
    crate::classnames::FS_REDUCING_STATE_SNAPSHOT,
    1,
    S,
    &[],
    Some(&ABSTRACT_FS_STATE_SNAPSHOT),
);

pub static FS_FOLDING_STATE_SNAPSHOT: ClassSpec = class(
    crate::classnames::FS_FOLDING_STATE_SNAPSHOT,
    1,
    S,
    &[],
    Some(&ABSTRACT_FS_STATE_SNAPSHOT),
);

pub static FINAL_FULLY_ASYNC_SNAPSHOT: ClassSpec = class(
    crate::classnames::ROCKSDB_STATE_BACKEND_FINAL_FULLY_ASYNC_SNAPSHOT,
    1,
    S,
    &[
        FieldSpec::primitive(b'J', "checkpointId"),
        FieldSpec::reference("stateHandle", STATE_HANDLE),
    ],
    None,
);

pub static FINAL_SEMI_ASYNC_SNAPSHOT: ClassSpec = class(
    crate::classnames::ROCKSDB_STATE_BACKEND_FINAL_SEMI_ASYNC_SNAPSHOT,
    1,
    S,
    &[
        FieldSpec::primitive(b'J', "checkpointId"),
        FieldSpec::reference("backupUri", "Ljava/net/URI;"),
        FieldSpec::reference("stateDescriptors", "Ljava/util/List;"),
    ],
    None,
);

// --- state descriptors and serializers ---------------------------------------------

/// `writeObject`: `defaultWriteObject`, then block data `boolean hasDefault` (we never
/// write a default value).
pub static STATE_DESCRIPTOR: ClassSpec = class(
    crate::classnames::STATE_DESCRIPTOR,
    1,
    SW,
    &[
        FieldSpec::reference("name", "Ljava/lang/String;"),
        FieldSpec::reference("serializer", TYPE_SERIALIZER_SIG),
    ],
    None,
);

pub static VALUE_STATE_DESCRIPTOR: ClassSpec = class(
    crate::classnames::VALUE_STATE_DESCRIPTOR,
    1,
    S,
    &[],
    Some(&STATE_DESCRIPTOR),
);

pub static LIST_STATE_DESCRIPTOR: ClassSpec = class(
    crate::classnames::LIST_STATE_DESCRIPTOR,
    1,
    S,
    &[],
    Some(&STATE_DESCRIPTOR),
);

/// Its `reduceFunction` is a user object.
pub static REDUCING_STATE_DESCRIPTOR: ClassSpec = class(
    crate::classnames::REDUCING_STATE_DESCRIPTOR,
    1,
    S,
    &[FieldSpec::reference(
        "reduceFunction",
        "Lorg/apache/flink/api/common/functions/ReduceFunction;",
    )],
    Some(&STATE_DESCRIPTOR),
);

/// Its `foldFunction` is a user object; the initial value travels as the descriptor's
/// default value.
pub static FOLDING_STATE_DESCRIPTOR: ClassSpec = class(
    crate::classnames::FOLDING_STATE_DESCRIPTOR,
    1,
    S,
    &[FieldSpec::reference(
        "foldFunction",
        "Lorg/apache/flink/api/common/functions/FoldFunction;",
    )],
    Some(&STATE_DESCRIPTOR),
);

/// The user `FoldFunction` synthetic savepoints name (a Long sum from 0; no fields).
pub static SYNTH_SUM_FOLDER: ClassSpec = class("savepointfs.synth.LongFold", 1, S, &[], None);

/// The user `ReduceFunction` synthetic savepoints name (a Long sum; no fields). No Flink
/// reads it back: a modern restore takes the function from the job.
pub static SYNTH_SUM_REDUCER: ClassSpec = class("savepointfs.synth.LongSum", 1, S, &[], None);

pub static TYPE_SERIALIZER: ClassSpec = class(crate::classnames::TYPE_SERIALIZER, 1, S, &[], None);

/// The namespace serializer of time-window state (`TimeWindow.Serializer`, no fields).
pub static TIME_WINDOW_SERIALIZER: ClassSpec = class(
    crate::classnames::TIME_WINDOW_SERIALIZER,
    1,
    S,
    &[],
    Some(&TYPE_SERIALIZER),
);

/// The namespace serializer of global-window state (`GlobalWindow.Serializer`, no fields).
pub static GLOBAL_WINDOW_SERIALIZER: ClassSpec = class(
    crate::classnames::GLOBAL_WINDOW_SERIALIZER,
    1,
    S,
    &[],
    Some(&TYPE_SERIALIZER),
);

/// `ArrayListSerializer(elementSerializer)`: a heap list state's state serializer.
pub static ARRAY_LIST_SERIALIZER: ClassSpec = class(
    crate::classnames::ARRAY_LIST_SERIALIZER,
    1119562170939152304,
    S,
    &[FieldSpec::reference(
        "elementSerializer",
        TYPE_SERIALIZER_SIG,
    )],
    Some(&TYPE_SERIALIZER),
);

pub static TYPE_SERIALIZER_SINGLETON: ClassSpec = class(
    crate::classnames::TYPE_SERIALIZER_SINGLETON,
    8766687317209282373,
    S,
    &[],
    Some(&TYPE_SERIALIZER),
);

pub static LONG_SERIALIZER: ClassSpec = class(
    crate::classnames::LONG_SERIALIZER,
    1,
    S,
    &[],
    Some(&TYPE_SERIALIZER_SINGLETON),
);

pub static VOID_SERIALIZER: ClassSpec = class(
    crate::classnames::VOID_SERIALIZER,
    1,
    S,
    &[],
    Some(&TYPE_SERIALIZER_SINGLETON),
);

/// Not emitted; listed with the other singletons of legacy-formats.md §2.4.
pub static INT_SERIALIZER: ClassSpec = class(
    crate::classnames::INT_SERIALIZER,
    1,
    S,
    &[],
    Some(&TYPE_SERIALIZER_SINGLETON),
);

pub static STRING_SERIALIZER: ClassSpec = class(
    crate::classnames::STRING_SERIALIZER,
    1,
    S,
    &[],
    Some(&TYPE_SERIALIZER_SINGLETON),
);

pub static TUPLE_SERIALIZER_BASE: ClassSpec = class(
    crate::classnames::TUPLE_SERIALIZER_BASE,
    1,
    S,
    &[
        FieldSpec::primitive(b'I', "arity"),
        FieldSpec::primitive(b'I', "length"),
        FieldSpec::reference(
            "fieldSerializers",
            "[Lorg/apache/flink/api/common/typeutils/TypeSerializer;",
        ),
        FieldSpec::reference("tupleClass", "Ljava/lang/Class;"),
    ],
    Some(&TYPE_SERIALIZER),
);

pub static TUPLE_SERIALIZER: ClassSpec = class(
    crate::classnames::TUPLE_SERIALIZER,
    1,
    S,
    &[],
    Some(&TUPLE_SERIALIZER_BASE),
);

pub static TYPE_SERIALIZER_ARRAY: ClassSpec = class(
    "[Lorg.apache.flink.api.common.typeutils.TypeSerializer;",
    4143624638847974296,
    S,
    &[],
    None,
);

/// `PojoSerializer` (uid 1). `writeObject`: the fields, then block `int n` and per field
/// its declaring `Class` and `writeUTF(name)` (`FieldSerializer.serializeField`).
pub static POJO_SERIALIZER: ClassSpec = class(
    crate::classnames::POJO_SERIALIZER,
    1,
    SW,
    &[
        FieldSpec::primitive(b'I', "numFields"),
        FieldSpec::reference("clazz", "Ljava/lang/Class;"),
        FieldSpec::reference(
            "executionConfig",
            "Lorg/apache/flink/api/common/ExecutionConfig;",
        ),
        FieldSpec::reference(
            "fieldSerializers",
            "[Lorg/apache/flink/api/common/typeutils/TypeSerializer;",
        ),
        FieldSpec::reference("registeredClasses", "Ljava/util/Map;"),
        FieldSpec::reference(
            "registeredSerializers",
            "[Lorg/apache/flink/api/common/typeutils/TypeSerializer;",
        ),
    ],
    Some(&TYPE_SERIALIZER),
);

/// `ExecutionConfig`, every `PojoSerializer` carries one. The descriptor is the one Flink
/// 1.2 wrote (the 1.2 Scala fixture's); no reader of ours looks inside it.
pub static EXECUTION_CONFIG: ClassSpec = class(
    crate::classnames::EXECUTION_CONFIG,
    1,
    S,
    &[
        FieldSpec::primitive(b'Z', "autoTypeRegistrationEnabled"),
        FieldSpec::primitive(b'J', "autoWatermarkInterval"),
        FieldSpec::primitive(b'J', "executionRetryDelay"),
        FieldSpec::primitive(b'Z', "forceAvro"),
        FieldSpec::primitive(b'Z', "forceKryo"),
        FieldSpec::primitive(b'J', "latencyTrackingInterval"),
        FieldSpec::primitive(b'I', "maxParallelism"),
        FieldSpec::primitive(b'I', "numberOfExecutionRetries"),
        FieldSpec::primitive(b'Z', "objectReuse"),
        FieldSpec::primitive(b'I', "parallelism"),
        FieldSpec::primitive(b'Z', "printProgressDuringExecution"),
        FieldSpec::primitive(b'J', "taskCancellationIntervalMillis"),
        FieldSpec::primitive(b'J', "taskCancellationTimeoutMillis"),
        FieldSpec::primitive(b'Z', "useClosureCleaner"),
        FieldSpec::reference(
            "codeAnalysisMode",
            "Lorg/apache/flink/api/common/CodeAnalysisMode;",
        ),
        FieldSpec::reference("defaultKryoSerializerClasses", LINKED_HASH_MAP_SIG),
        FieldSpec::reference("defaultKryoSerializers", LINKED_HASH_MAP_SIG),
        FieldSpec::reference(
            "executionMode",
            "Lorg/apache/flink/api/common/ExecutionMode;",
        ),
        FieldSpec::reference(
            "globalJobParameters",
            "Lorg/apache/flink/api/common/ExecutionConfig$GlobalJobParameters;",
        ),
        FieldSpec::reference("registeredKryoTypes", LINKED_HASH_SET_SIG),
        FieldSpec::reference("registeredPojoTypes", LINKED_HASH_SET_SIG),
        FieldSpec::reference(
            "registeredTypesWithKryoSerializerClasses",
            LINKED_HASH_MAP_SIG,
        ),
        FieldSpec::reference("registeredTypesWithKryoSerializers", LINKED_HASH_MAP_SIG),
        FieldSpec::reference(
            "restartStrategyConfiguration",
            "Lorg/apache/flink/api/common/restartstrategy/RestartStrategies$RestartStrategyConfiguration;",
        ),
    ],
    None,
);

const LINKED_HASH_MAP_SIG: &str = "Ljava/util/LinkedHashMap;";
const LINKED_HASH_SET_SIG: &str = "Ljava/util/LinkedHashSet;";

pub static ENUM: ClassSpec = class("java.lang.Enum", 0, ENUM_FLAGS, &[], None);

const ENUM_FLAGS: u8 = SERIALIZABLE | crate::javaser::flags::ENUM;

pub static CODE_ANALYSIS_MODE: ClassSpec = class(
    crate::classnames::CODE_ANALYSIS_MODE,
    0,
    ENUM_FLAGS,
    &[],
    Some(&ENUM),
);

pub static EXECUTION_MODE: ClassSpec = class(
    crate::classnames::EXECUTION_MODE,
    0,
    ENUM_FLAGS,
    &[],
    Some(&ENUM),
);

/// The POJO class synthetic savepoints use for POJO keys and values: `long id` and
/// `String name` (Flink orders POJO fields by name). `tests/flinkdump` has the class.
pub static SYNTH_POJO: ClassSpec = class(
    "savepointfs.synth.Pojo",
    1,
    S,
    &[
        FieldSpec::primitive(b'J', "id"),
        FieldSpec::reference("name", "Ljava/lang/String;"),
    ],
    None,
);

// --- values ------------------------------------------------------------------------

pub static TUPLE: ClassSpec = class(crate::classnames::TUPLE, 1, S, &[], None);

pub static TUPLE1: ClassSpec = class(
    crate::classnames::TUPLE1,
    1,
    S,
    &[FieldSpec::reference("f0", OBJECT_SIG)],
    Some(&TUPLE),
);

pub static TUPLE2: ClassSpec = class(
    crate::classnames::TUPLE2,
    1,
    S,
    &[
        FieldSpec::reference("f0", OBJECT_SIG),
        FieldSpec::reference("f1", OBJECT_SIG),
    ],
    Some(&TUPLE),
);

pub static NUMBER: ClassSpec = class("java.lang.Number", -8742448824652078965, S, &[], None);

pub static LONG: ClassSpec = class(
    "java.lang.Long",
    4290774380558885855,
    S,
    &[FieldSpec::primitive(b'J', "value")],
    Some(&NUMBER),
);

pub static BYTE_ARRAY: ClassSpec = class("[B", -5984413125824719648, S, &[], None);

// --- collections and paths ---------------------------------------------------------

/// `writeObject`: fields, then block `int capacity, int size`, then size × (key, value).
pub static HASH_MAP: ClassSpec = class(
    "java.util.HashMap",
    362498820763181265,
    SW,
    &[
        FieldSpec::primitive(b'F', "loadFactor"),
        FieldSpec::primitive(b'I', "threshold"),
    ],
    None,
);

/// `writeObject` (`HashMap`'s), then the field `accessOrder`.
pub static LINKED_HASH_MAP: ClassSpec = class(
    "java.util.LinkedHashMap",
    3801124242820219131,
    S,
    &[FieldSpec::primitive(b'Z', "accessOrder")],
    Some(&HASH_MAP),
);

/// `writeObject`: block `int capacity, float loadFactor, int size`, then the elements.
pub static HASH_SET: ClassSpec = class("java.util.HashSet", -5024744406713321676, SW, &[], None);

pub static LINKED_HASH_SET: ClassSpec = class(
    "java.util.LinkedHashSet",
    -2851667679971038690,
    S,
    &[],
    Some(&HASH_SET),
);

/// `writeObject`: field `size`, then block `int size`, then the elements.
pub static ARRAY_LIST: ClassSpec = class(
    "java.util.ArrayList",
    8683452581122892189,
    SW,
    &[FieldSpec::primitive(b'I', "size")],
    None,
);

pub static PATH: ClassSpec = class(
    crate::classnames::PATH,
    1,
    S,
    &[FieldSpec::reference("uri", "Ljava/net/URI;")],
    None,
);

/// `writeObject`: the `string` field, then an empty annotation.
pub static URI: ClassSpec = class(
    "java.net.URI",
    -6052424284110960213,
    SW,
    &[FieldSpec::reference("string", "Ljava/lang/String;")],
    None,
);

/// `LocatableInputSplit` (SUID 1): a split's number and hosts.
pub static LOCATABLE_INPUT_SPLIT: ClassSpec = class(
    crate::classnames::LOCATABLE_INPUT_SPLIT,
    1,
    S,
    &[
        FieldSpec::primitive(b'I', "splitNumber"),
        FieldSpec::reference("hostnames", "[Ljava/lang/String;"),
    ],
    None,
);

/// `FileInputSplit` (SUID 1): its file and byte range.
pub static FILE_INPUT_SPLIT: ClassSpec = class(
    crate::classnames::FILE_INPUT_SPLIT,
    1,
    S,
    &[
        FieldSpec::primitive(b'J', "length"),
        FieldSpec::primitive(b'J', "start"),
        FieldSpec::reference("file", "Lorg/apache/flink/core/fs/Path;"),
    ],
    Some(&LOCATABLE_INPUT_SPLIT),
);

/// `TimestampedFileInputSplit` of Flink 1.2+: no declared SUID; the JVM's, as Flink 1.2
/// wrote it and 1.10 reads it (operators.md §6 (3)).
pub static TIMESTAMPED_FILE_INPUT_SPLIT: ClassSpec = class(
    crate::classnames::TIMESTAMPED_FILE_INPUT_SPLIT,
    -8153252402661556005,
    S,
    &[
        FieldSpec::primitive(b'J', "modificationTime"),
        FieldSpec::reference("splitState", "Ljava/io/Serializable;"),
    ],
    Some(&FILE_INPUT_SPLIT),
);

/// `BucketingSink$State` (SUID 1): bucket directory → its state.
pub static BUCKETING_SINK_STATE: ClassSpec = class(
    "org.apache.flink.streaming.connectors.fs.bucketing.BucketingSink$State",
    1,
    S,
    &[FieldSpec::reference("bucketStates", "Ljava/util/Map;")],
    None,
);

/// `BucketingSink$BucketState` (SUID 1) as Flink 1.2 wrote it (1.10's `creationTime`
/// absent, read as 0).
pub static BUCKETING_SINK_BUCKET_STATE: ClassSpec = class(
    "org.apache.flink.streaming.connectors.fs.bucketing.BucketingSink$BucketState",
    1,
    S,
    &[
        FieldSpec::primitive(b'J', "currentFileValidLength"),
        FieldSpec::primitive(b'J', "lastWrittenToTime"),
        FieldSpec::reference("currentFile", "Ljava/lang/String;"),
        FieldSpec::reference("pendingFiles", "Ljava/util/List;"),
        FieldSpec::reference("pendingFilesPerCheckpoint", "Ljava/util/Map;"),
    ],
    None,
);

pub static STRING_ARRAY: ClassSpec =
    class("[Ljava.lang.String;", -5921575005990323385, S, &[], None);

/// A `java.net.URI`: its string, then the empty `writeObject` annotation.
pub fn uri<W: std::io::Write>(b: &mut StreamBuilder<W>, uri: &str) -> BuildResult<Handle> {
    let h = b.begin_object(&URI)?;
    b.string(uri)?;
    b.end_annotation()?;
    Ok(h)
}

/// An `org.apache.flink.core.fs.Path` of a URI.
pub fn path<W: std::io::Write>(b: &mut StreamBuilder<W>, uri_text: &str) -> BuildResult<Handle> {
    let h = b.begin_object(&PATH)?;
    uri(b, uri_text)?;
    Ok(h)
}

/// Every class above, for table-wide checks.
pub static ALL: &[&ClassSpec] = &[
    &STREAM_TASK_STATE_LIST,
    &STREAM_TASK_STATE_ARRAY,
    &STREAM_TASK_STATE,
    &ABSTRACT_CLOSEABLE_HANDLE,
    &SERIALIZED_STATE_HANDLE,
    &BYTE_STREAM_STATE_HANDLE,
    &DATA_INPUT_VIEW_HANDLE,
    &ABSTRACT_FILE_STATE_HANDLE,
    &FILE_STREAM_STATE_HANDLE,
    &FILE_SERIALIZABLE_STATE_HANDLE,
    &ABSTRACT_MEM_STATE_SNAPSHOT,
    &MEM_VALUE_STATE_SNAPSHOT,
    &MEM_LIST_STATE_SNAPSHOT,
    &MEM_REDUCING_STATE_SNAPSHOT,
    &MEM_FOLDING_STATE_SNAPSHOT,
    &ABSTRACT_FS_STATE_SNAPSHOT,
    &FS_VALUE_STATE_SNAPSHOT,
    &FS_LIST_STATE_SNAPSHOT,
    &FS_REDUCING_STATE_SNAPSHOT,
    &FS_FOLDING_STATE_SNAPSHOT,
    &FINAL_FULLY_ASYNC_SNAPSHOT,
    &FINAL_SEMI_ASYNC_SNAPSHOT,
    &STATE_DESCRIPTOR,
    &VALUE_STATE_DESCRIPTOR,
    &LIST_STATE_DESCRIPTOR,
    &REDUCING_STATE_DESCRIPTOR,
    &SYNTH_SUM_REDUCER,
    &FOLDING_STATE_DESCRIPTOR,
    &SYNTH_SUM_FOLDER,
    &TYPE_SERIALIZER,
    &ARRAY_LIST_SERIALIZER,
    &TIME_WINDOW_SERIALIZER,
    &GLOBAL_WINDOW_SERIALIZER,
    &TYPE_SERIALIZER_SINGLETON,
    &LONG_SERIALIZER,
    &VOID_SERIALIZER,
    &INT_SERIALIZER,
    &STRING_SERIALIZER,
    &TUPLE_SERIALIZER_BASE,
    &TUPLE_SERIALIZER,
    &TYPE_SERIALIZER_ARRAY,
    &POJO_SERIALIZER,
    &EXECUTION_CONFIG,
    &ENUM,
    &CODE_ANALYSIS_MODE,
    &EXECUTION_MODE,
    &SYNTH_POJO,
    &TUPLE,
    &TUPLE1,
    &TUPLE2,
    &NUMBER,
    &LONG,
    &BYTE_ARRAY,
    &HASH_MAP,
    &LINKED_HASH_MAP,
    &HASH_SET,
    &LINKED_HASH_SET,
    &ARRAY_LIST,
    &PATH,
    &URI,
    &LOCATABLE_INPUT_SPLIT,
    &FILE_INPUT_SPLIT,
    &TIMESTAMPED_FILE_INPUT_SPLIT,
    &STRING_ARRAY,
    &BUCKETING_SINK_STATE,
    &BUCKETING_SINK_BUCKET_STATE,
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::v0;

    #[test]
    fn fields_are_in_the_jdk_order_and_names_are_unique() {
        let mut names = std::collections::HashSet::new();
        for c in ALL {
            assert!(c.fields_in_jdk_order(), "{}", c.name);
            assert!(names.insert(c.name), "{} listed twice", c.name);
        }
    }

    #[test]
    fn handle_class_names_agree_with_the_v0_reader() {
        assert_eq!(SERIALIZED_STATE_HANDLE.name, v0::SERIALIZED_STATE_HANDLE);
        assert_eq!(BYTE_STREAM_STATE_HANDLE.name, v0::BYTE_STREAM_STATE_HANDLE);
        assert_eq!(DATA_INPUT_VIEW_HANDLE.name, v0::DATA_INPUT_VIEW_HANDLE);
        assert_eq!(FILE_STREAM_STATE_HANDLE.name, v0::FILE_STREAM_STATE_HANDLE);
        assert_eq!(
            FILE_SERIALIZABLE_STATE_HANDLE.name,
            v0::FILE_SERIALIZABLE_STATE_HANDLE
        );
        assert_eq!(FINAL_FULLY_ASYNC_SNAPSHOT.name, v0::FULLY_ASYNC_SNAPSHOT);
        assert_eq!(FINAL_SEMI_ASYNC_SNAPSHOT.name, v0::SEMI_ASYNC_SNAPSHOT);
        assert_eq!(STREAM_TASK_STATE_LIST.name, v0::STREAM_TASK_STATE_LIST);
        assert_eq!(STREAM_TASK_STATE.name, v0::STREAM_TASK_STATE);
    }
}
