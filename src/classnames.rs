//! Every Flink class name the crate reads or writes, spelled once. The Flink 1.1 model
//! recognises handles by them, the writers describe classes with them, the conversion
//! maps serializers by them and the migration renaming (convert/rename.rs) lists them.

/// The package prefix of Flink's basic type serializers (`LongSerializer`, ...).
pub const TYPEUTILS_BASE: &str = "org.apache.flink.api.common.typeutils.base.";

// org.apache.flink.api.common.state
pub const STATE_DESCRIPTOR: &str = "org.apache.flink.api.common.state.StateDescriptor";
pub const VALUE_STATE_DESCRIPTOR: &str = "org.apache.flink.api.common.state.ValueStateDescriptor";
pub const LIST_STATE_DESCRIPTOR: &str = "org.apache.flink.api.common.state.ListStateDescriptor";
pub const REDUCING_STATE_DESCRIPTOR: &str =
    "org.apache.flink.api.common.state.ReducingStateDescriptor";
pub const FOLDING_STATE_DESCRIPTOR: &str =
    "org.apache.flink.api.common.state.FoldingStateDescriptor";

// org.apache.flink.api.common.typeutils
pub const TYPE_SERIALIZER: &str = "org.apache.flink.api.common.typeutils.TypeSerializer";

// org.apache.flink.api.common.typeutils.base
pub const ENUM_SERIALIZER: &str = "org.apache.flink.api.common.typeutils.base.EnumSerializer";
pub const ENUM_SERIALIZER_SNAPSHOT: &str =
    "org.apache.flink.api.common.typeutils.base.EnumSerializer$EnumSerializerSnapshot";
pub const GENERIC_ARRAY_SERIALIZER: &str =
    "org.apache.flink.api.common.typeutils.base.GenericArraySerializer";
pub const GENERIC_ARRAY_SERIALIZER_SNAPSHOT: &str =
    "org.apache.flink.api.common.typeutils.base.GenericArraySerializerSnapshot";
pub const INT_SERIALIZER: &str = "org.apache.flink.api.common.typeutils.base.IntSerializer";
pub const LIST_SERIALIZER: &str = "org.apache.flink.api.common.typeutils.base.ListSerializer";
pub const LIST_SERIALIZER_SNAPSHOT: &str =
    "org.apache.flink.api.common.typeutils.base.ListSerializerSnapshot";
pub const LONG_SERIALIZER: &str = "org.apache.flink.api.common.typeutils.base.LongSerializer";
pub const MAP_SERIALIZER: &str = "org.apache.flink.api.common.typeutils.base.MapSerializer";
pub const MAP_SERIALIZER_SNAPSHOT: &str =
    "org.apache.flink.api.common.typeutils.base.MapSerializerSnapshot";
pub const STRING_SERIALIZER: &str = "org.apache.flink.api.common.typeutils.base.StringSerializer";
pub const TYPE_SERIALIZER_SINGLETON: &str =
    "org.apache.flink.api.common.typeutils.base.TypeSerializerSingleton";
pub const VOID_SERIALIZER: &str = "org.apache.flink.api.common.typeutils.base.VoidSerializer";

// org.apache.flink.api.common
pub const EXECUTION_CONFIG: &str = "org.apache.flink.api.common.ExecutionConfig";
pub const CODE_ANALYSIS_MODE: &str = "org.apache.flink.api.common.CodeAnalysisMode";
pub const EXECUTION_MODE: &str = "org.apache.flink.api.common.ExecutionMode";

// org.apache.flink.api.java.tuple
pub const TUPLE: &str = "org.apache.flink.api.java.tuple.Tuple";
pub const TUPLE1: &str = "org.apache.flink.api.java.tuple.Tuple1";
pub const TUPLE2: &str = "org.apache.flink.api.java.tuple.Tuple2";

// org.apache.flink.api.java.typeutils.runtime
pub const AVRO_SERIALIZER: &str = "org.apache.flink.api.java.typeutils.runtime.AvroSerializer";
pub const POJO_SERIALIZER: &str = "org.apache.flink.api.java.typeutils.runtime.PojoSerializer";
pub const POJO_SERIALIZER_SNAPSHOT: &str =
    "org.apache.flink.api.java.typeutils.runtime.PojoSerializerSnapshot";
pub const TUPLE_SERIALIZER: &str = "org.apache.flink.api.java.typeutils.runtime.TupleSerializer";
pub const TUPLE_SERIALIZER_BASE: &str =
    "org.apache.flink.api.java.typeutils.runtime.TupleSerializerBase";
pub const TUPLE_SERIALIZER_SNAPSHOT: &str =
    "org.apache.flink.api.java.typeutils.runtime.TupleSerializerSnapshot";

// org.apache.flink.api.java.typeutils.runtime.kryo
pub const KRYO_SERIALIZER: &str = "org.apache.flink.api.java.typeutils.runtime.kryo.KryoSerializer";

// org.apache.flink.contrib.streaming.state
pub const ROCKSDB_STATE_BACKEND: &str =
    "org.apache.flink.contrib.streaming.state.RocksDBStateBackend";
pub const ROCKSDB_STATE_BACKEND_FINAL_FULLY_ASYNC_SNAPSHOT: &str =
    "org.apache.flink.contrib.streaming.state.RocksDBStateBackend$FinalFullyAsyncSnapshot";
pub const ROCKSDB_STATE_BACKEND_FINAL_SEMI_ASYNC_SNAPSHOT: &str =
    "org.apache.flink.contrib.streaming.state.RocksDBStateBackend$FinalSemiAsyncSnapshot";

// org.apache.flink.core.fs
pub const PATH: &str = "org.apache.flink.core.fs.Path";
/// A file split (Flink 1.1's file reader state) and what it extends.
pub const FILE_INPUT_SPLIT: &str = "org.apache.flink.core.fs.FileInputSplit";
pub const LOCATABLE_INPUT_SPLIT: &str = "org.apache.flink.core.io.LocatableInputSplit";
/// Flink 1.2+'s split with a modification time, what its file reader restores.
pub const TIMESTAMPED_FILE_INPUT_SPLIT: &str =
    "org.apache.flink.streaming.api.functions.source.TimestampedFileInputSplit";

// org.apache.flink.runtime.checkpoint
pub const KEY_GROUP_STATE: &str = "org.apache.flink.runtime.checkpoint.KeyGroupState";
pub const SUBTASK_STATE: &str = "org.apache.flink.runtime.checkpoint.SubtaskState";
pub const TASK_STATE: &str = "org.apache.flink.runtime.checkpoint.TaskState";

// org.apache.flink.runtime.state
pub const ABSTRACT_CLOSEABLE_HANDLE: &str =
    "org.apache.flink.runtime.state.AbstractCloseableHandle";
pub const ABSTRACT_STATE_BACKEND: &str = "org.apache.flink.runtime.state.AbstractStateBackend";
pub const ABSTRACT_STATE_BACKEND_DATA_INPUT_VIEW_HANDLE: &str =
    "org.apache.flink.runtime.state.AbstractStateBackend$DataInputViewHandle";
pub const ARRAY_LIST_SERIALIZER: &str = "org.apache.flink.runtime.state.ArrayListSerializer";
pub const ARRAY_LIST_SERIALIZER_SNAPSHOT: &str =
    "org.apache.flink.runtime.state.ArrayListSerializerSnapshot";
pub const JAVA_SERIALIZER: &str = "org.apache.flink.runtime.state.JavaSerializer";
pub const STATE_HANDLE: &str = "org.apache.flink.runtime.state.StateHandle";
pub const STREAM_STATE_HANDLE: &str = "org.apache.flink.runtime.state.StreamStateHandle";
pub const VOID_NAMESPACE_SERIALIZER: &str =
    "org.apache.flink.runtime.state.VoidNamespaceSerializer";

// org.apache.flink.runtime.state.filesystem
pub const ABSTRACT_FILE_STATE_HANDLE: &str =
    "org.apache.flink.runtime.state.filesystem.AbstractFileStateHandle";
pub const ABSTRACT_FS_STATE_SNAPSHOT: &str =
    "org.apache.flink.runtime.state.filesystem.AbstractFsStateSnapshot";
pub const FILE_SERIALIZABLE_STATE_HANDLE: &str =
    "org.apache.flink.runtime.state.filesystem.FileSerializableStateHandle";
pub const FILE_STREAM_STATE_HANDLE: &str =
    "org.apache.flink.runtime.state.filesystem.FileStreamStateHandle";
pub const FS_FOLDING_STATE_SNAPSHOT: &str =
    "org.apache.flink.runtime.state.filesystem.FsFoldingState$Snapshot";
pub const FS_LIST_STATE_SNAPSHOT: &str =
    "org.apache.flink.runtime.state.filesystem.FsListState$Snapshot";
pub const FS_REDUCING_STATE_SNAPSHOT: &str =
    "org.apache.flink.runtime.state.filesystem.FsReducingState$Snapshot";
pub const FS_STATE_BACKEND: &str = "org.apache.flink.runtime.state.filesystem.FsStateBackend";
pub const FS_VALUE_STATE_SNAPSHOT: &str =
    "org.apache.flink.runtime.state.filesystem.FsValueState$Snapshot";

// org.apache.flink.runtime.state.memory
pub const ABSTRACT_MEM_STATE_SNAPSHOT: &str =
    "org.apache.flink.runtime.state.memory.AbstractMemStateSnapshot";
pub const BYTE_STREAM_STATE_HANDLE: &str =
    "org.apache.flink.runtime.state.memory.ByteStreamStateHandle";
pub const MEM_FOLDING_STATE_SNAPSHOT: &str =
    "org.apache.flink.runtime.state.memory.MemFoldingState$Snapshot";
pub const MEM_LIST_STATE_SNAPSHOT: &str =
    "org.apache.flink.runtime.state.memory.MemListState$Snapshot";
pub const MEM_REDUCING_STATE_SNAPSHOT: &str =
    "org.apache.flink.runtime.state.memory.MemReducingState$Snapshot";
pub const MEM_VALUE_STATE_SNAPSHOT: &str =
    "org.apache.flink.runtime.state.memory.MemValueState$Snapshot";
pub const SERIALIZED_STATE_HANDLE: &str =
    "org.apache.flink.runtime.state.memory.SerializedStateHandle";

// org.apache.flink.streaming.connectors.kafka.internals
pub const KAFKA_TOPIC_PARTITION: &str =
    "org.apache.flink.streaming.connectors.kafka.internals.KafkaTopicPartition";

// org.apache.flink.streaming.api.operators
/// The element serializer of a timer service's priority queues (Flink >= 1.6), around
/// the key and namespace serializers.
pub const TIMER_SERIALIZER_SNAPSHOT: &str =
    "org.apache.flink.streaming.api.operators.TimerSerializerSnapshot";

// org.apache.flink.streaming.runtime.streamrecord
/// An EvictingWindowOperator's element serializer in Flink 1.1 (the value only) and in
/// Flink 1.2+ (a tag, a timestamp if any, the value); same SUID 1 and field.
pub const STREAM_RECORD_SERIALIZER: &str =
    "org.apache.flink.streaming.runtime.streamrecord.StreamRecordSerializer";
pub const STREAM_ELEMENT_SERIALIZER: &str =
    "org.apache.flink.streaming.runtime.streamrecord.StreamElementSerializer";
pub const STREAM_ELEMENT_SERIALIZER_SNAPSHOT: &str = "org.apache.flink.streaming.runtime.streamrecord.StreamElementSerializer$StreamElementSerializerSnapshot";

// org.apache.flink.streaming.api.windowing.windows
pub const GLOBAL_WINDOW_SERIALIZER: &str =
    "org.apache.flink.streaming.api.windowing.windows.GlobalWindow$Serializer";
pub const TIME_WINDOW_SERIALIZER: &str =
    "org.apache.flink.streaming.api.windowing.windows.TimeWindow$Serializer";

// org.apache.flink.streaming.runtime.tasks
pub const STREAM_TASK_STATE: &str = "org.apache.flink.streaming.runtime.tasks.StreamTaskState";
pub const STREAM_TASK_STATE_LIST: &str =
    "org.apache.flink.streaming.runtime.tasks.StreamTaskStateList";

// org.apache.flink.util
pub const SERIALIZED_VALUE: &str = "org.apache.flink.util.SerializedValue";
