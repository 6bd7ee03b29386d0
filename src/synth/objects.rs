//! The small Java objects of a Flink 1.1 savepoint, written with the stream builder:
//! serializers, state descriptors, paths, and the standalone streams that are state
//! themselves (a UDF's function state value, a RocksDB column's descriptor).
//!
//! Object identity follows what the fixture shows: a state descriptor's `name` is the
//! very String used as the kvStates key, and its `serializer` object is the snapshot's
//! `stateSerializer`; the key serializer's `LongSerializer` is a separate object.

use super::SynthError;
use super::plan::FunctionState;
use super::state_bytes::write_filler;
use super::{KeyType, KeyedKind, ValueType};
use crate::javaser::builder::{
    ArrayBodyWriter, BuildError, BuildResult, ClassSpec, CountingWriter, Handle, StreamBuilder,
};
use crate::prng::Prng;
use crate::v0::classes::*;
use std::io::{self, Write};

/// A string field value: a new String object, or one written before.
#[derive(Clone, Copy)]
pub enum Text<'a> {
    New(&'a str),
    Ref(Handle),
}

fn text<W: Write>(b: &mut StreamBuilder<W>, t: Text<'_>) -> BuildResult<()> {
    match t {
        Text::New(s) => b.string(s).map(|_| ()),
        Text::Ref(h) => b.reference(h),
    }
}

/// A serializer singleton such as `LongSerializer` (no fields anywhere in its hierarchy).
pub fn singleton<W: Write>(
    b: &mut StreamBuilder<W>,
    spec: &'static ClassSpec,
) -> BuildResult<Handle> {
    b.begin_object(spec)
}

/// `TupleSerializer(Tuple1, [LongSerializer])` as the fixture has it (`length` -2).
pub fn tuple1_long_serializer<W: Write>(b: &mut StreamBuilder<W>) -> BuildResult<Handle> {
    let h = b.begin_object(&TUPLE_SERIALIZER)?;
    // TupleSerializerBase: arity, length, fieldSerializers, tupleClass.
    b.field_int(1)?;
    b.field_int(-2)?;
    b.begin_object_array(&TYPE_SERIALIZER_ARRAY, 1)?;
    singleton(b, &LONG_SERIALIZER)?;
    b.class_object(&TUPLE1)?;
    Ok(h)
}

/// `TupleSerializer(Tuple2, [LongSerializer, StringSerializer])`, its length not yet
/// computed (-2), as for `Tuple1`.
pub fn tuple2_long_string_serializer<W: Write>(b: &mut StreamBuilder<W>) -> BuildResult<Handle> {
    let h = b.begin_object(&TUPLE_SERIALIZER)?;
    b.field_int(2)?;
    b.field_int(-2)?;
    b.begin_object_array(&TYPE_SERIALIZER_ARRAY, 2)?;
    singleton(b, &LONG_SERIALIZER)?;
    singleton(b, &STRING_SERIALIZER)?;
    b.class_object(&TUPLE2)?;
    Ok(h)
}

pub fn key_serializer<W: Write>(b: &mut StreamBuilder<W>, key: KeyType) -> BuildResult<Handle> {
    match key {
        KeyType::Tuple1Long => tuple1_long_serializer(b),
        KeyType::Long => singleton(b, &LONG_SERIALIZER),
        KeyType::Int => singleton(b, &INT_SERIALIZER),
        KeyType::String => singleton(b, &STRING_SERIALIZER),
        KeyType::Tuple2LongString => tuple2_long_string_serializer(b),
        KeyType::Pojo => pojo_serializer(b),
    }
}

/// The serializer of a value type.
pub fn value_serializer<W: Write>(
    b: &mut StreamBuilder<W>,
    value: ValueType,
) -> BuildResult<Handle> {
    match value {
        ValueType::Long => singleton(b, &LONG_SERIALIZER),
        ValueType::String => singleton(b, &STRING_SERIALIZER),
        ValueType::Pojo => pojo_serializer(b),
    }
}

/// `PojoSerializer` of [`SYNTH_POJO`] as Flink 1.1 writes one: `numFields`, the class,
/// a default `ExecutionConfig`, the field serializers in field-name order (`id`:
/// `LongSerializer`, `name`: `StringSerializer`), no registered subclasses, then the
/// annotation naming each field by declaring class and name.
pub fn pojo_serializer<W: Write>(b: &mut StreamBuilder<W>) -> BuildResult<Handle> {
    let h = b.begin_object(&POJO_SERIALIZER)?;
    b.field_int(2)?;
    let class = b.class_object(&SYNTH_POJO)?;
    execution_config(b)?;
    b.begin_object_array(&TYPE_SERIALIZER_ARRAY, 2)?;
    singleton(b, &LONG_SERIALIZER)?;
    singleton(b, &STRING_SERIALIZER)?;
    empty_linked_hash_map(b)?;
    b.begin_object_array(&TYPE_SERIALIZER_ARRAY, 0)?;
    b.block_int(2)?;
    for field in ["id", "name"] {
        b.reference(class)?;
        block_utf(b, field)?;
    }
    b.end_annotation()?;
    Ok(h)
}

/// `writeUTF` inside block data: `u16` length, then modified UTF-8.
fn block_utf<W: Write>(b: &mut StreamBuilder<W>, s: &str) -> BuildResult<()> {
    let bytes = crate::javaser::mutf8::encode(s);
    b.block_bytes(&(bytes.len() as u16).to_be_bytes())?;
    b.block_bytes(&bytes)
}

/// A default `ExecutionConfig` (the field values of a new one; the empty sets as the 1.2
/// fixture writes them).
fn execution_config<W: Write>(b: &mut StreamBuilder<W>) -> BuildResult<Handle> {
    let h = b.begin_object(&EXECUTION_CONFIG)?;
    b.field_boolean(true)?; // autoTypeRegistrationEnabled
    b.field_long(0)?; // autoWatermarkInterval
    b.field_long(10_000)?; // executionRetryDelay
    b.field_boolean(false)?; // forceAvro
    b.field_boolean(false)?; // forceKryo
    b.field_long(2000)?; // latencyTrackingInterval
    b.field_int(-1)?; // maxParallelism
    b.field_int(-1)?; // numberOfExecutionRetries
    b.field_boolean(false)?; // objectReuse
    b.field_int(-1)?; // parallelism
    b.field_boolean(true)?; // printProgressDuringExecution
    b.field_long(-1)?; // taskCancellationIntervalMillis
    b.field_long(-1)?; // taskCancellationTimeoutMillis
    b.field_boolean(true)?; // useClosureCleaner
    b.enum_constant(&CODE_ANALYSIS_MODE, "DISABLE")?;
    empty_linked_hash_map(b)?; // defaultKryoSerializerClasses
    empty_linked_hash_map(b)?; // defaultKryoSerializers
    b.enum_constant(&EXECUTION_MODE, "PIPELINED")?;
    b.null()?; // globalJobParameters
    empty_linked_hash_set(b)?; // registeredKryoTypes
    empty_linked_hash_set(b)?; // registeredPojoTypes
    empty_linked_hash_map(b)?; // registeredTypesWithKryoSerializerClasses
    empty_linked_hash_map(b)?; // registeredTypesWithKryoSerializers
    b.null()?; // restartStrategyConfiguration
    Ok(h)
}

/// An empty `LinkedHashMap`: `HashMap`'s fields and annotation (16 buckets, size 0),
/// then `accessOrder`.
fn empty_linked_hash_map<W: Write>(b: &mut StreamBuilder<W>) -> BuildResult<Handle> {
    let h = b.begin_object(&LINKED_HASH_MAP)?;
    b.field_float(0.75)?;
    b.field_int(0)?;
    b.block_int(16)?;
    b.block_int(0)?;
    b.end_annotation()?;
    b.field_boolean(false)?;
    Ok(h)
}

/// An empty `LinkedHashSet`: `HashSet`'s annotation (capacity 1, load factor 0.75, size 0).
fn empty_linked_hash_set<W: Write>(b: &mut StreamBuilder<W>) -> BuildResult<Handle> {
    let h = b.begin_object(&LINKED_HASH_SET)?;
    b.block_int(1)?;
    b.block_bytes(&0.75f32.to_bits().to_be_bytes())?;
    b.block_int(0)?;
    b.end_annotation()?;
    Ok(h)
}

/// The key serializer of `key` as a standalone Java stream (what `--key-serializer
/// java:FILE` reads for RocksDB state).
pub fn key_serializer_stream(key: KeyType) -> Result<Vec<u8>, SynthError> {
    let mut b = StreamBuilder::new(Vec::new(), "key serializer", 0)?;
    key_serializer(&mut b, key)?;
    Ok(b.finish()?)
}

/// The state descriptor of `kind` over `LongSerializer`, without default value
/// (`ValueStateDescriptor`, `ListStateDescriptor` of Long elements, or
/// `ReducingStateDescriptor` with a user `ReduceFunction`); returns the handle of its
/// serializer object.
pub fn state_descriptor<W: Write>(
    b: &mut StreamBuilder<W>,
    name: Text<'_>,
    kind: KeyedKind,
    value: ValueType,
) -> BuildResult<Handle> {
    b.begin_object(match kind {
        KeyedKind::Value => &VALUE_STATE_DESCRIPTOR,
        KeyedKind::List => &LIST_STATE_DESCRIPTOR,
        KeyedKind::Reducing => &REDUCING_STATE_DESCRIPTOR,
        KeyedKind::Folding => &FOLDING_STATE_DESCRIPTOR,
    })?;
    // StateDescriptor: name, serializer, then writeObject's `boolean hasDefault` (and a
    // default value as `int length` + its serialized bytes: a fold's initial value).
    text(b, name)?;
    let serializer = value_serializer(b, value)?;
    match kind {
        KeyedKind::Folding => {
            let initial = value.fold_initial();
            b.block_boolean(true)?;
            b.block_int(initial.len() as i32)?;
            b.block_bytes(&initial)?;
        }
        _ => b.block_boolean(false)?,
    }
    b.end_annotation()?;
    match kind {
        KeyedKind::Reducing => {
            b.begin_object(&SYNTH_SUM_REDUCER)?;
        }
        KeyedKind::Folding => {
            b.begin_object(&SYNTH_SUM_FOLDER)?;
        }
        KeyedKind::Value | KeyedKind::List => {}
    }
    Ok(serializer)
}

/// A heap snapshot's `stateSerializer`: the descriptor's serializer (`serializer`, written
/// before), or for list state an `ArrayListSerializer` around it.
pub fn state_serializer<W: Write>(
    b: &mut StreamBuilder<W>,
    serializer: Handle,
    kind: KeyedKind,
) -> BuildResult<()> {
    match kind {
        KeyedKind::Value | KeyedKind::Reducing | KeyedKind::Folding => b.reference(serializer),
        KeyedKind::List => {
            b.begin_object(&ARRAY_LIST_SERIALIZER)?;
            b.reference(serializer)
        }
    }
}

pub use crate::v0::classes::{path, uri};

/// A `java.lang.Long` object.
pub fn boxed_long<W: Write>(b: &mut StreamBuilder<W>, v: i64) -> BuildResult<Handle> {
    let h = b.begin_object(&LONG)?;
    b.field_long(v)?;
    Ok(h)
}

/// Turns an I/O error from a nested writer back into the builder error it carries, if any.
pub fn body_error(e: io::Error, target: &str) -> SynthError {
    if e.get_ref().is_some_and(|inner| inner.is::<BuildError>()) {
        let inner = e.into_inner().map(|i| i.downcast::<BuildError>());
        if let Some(Ok(b)) = inner {
            return SynthError::Build(*b);
        }
        return SynthError::Spec(format!("{target}: lost a builder error"));
    }
    SynthError::Io {
        path: target.into(),
        source: e,
    }
}

/// The standalone Java stream of a UDF's state value (`SerializedStateHandle.serializedData`
/// or a `FileSerializableStateHandle` file). `Bytes` payloads are filler from `rng`.
pub fn function_stream<W: Write>(
    out: W,
    f: &FunctionState,
    rng: &mut Prng,
    target: &str,
) -> Result<W, SynthError> {
    let mut b = StreamBuilder::new(out, target, 0)?;
    match f {
        FunctionState::Text(t) => {
            b.string(t)?;
        }
        FunctionState::Tuple2(word, n) => {
            b.begin_object(&TUPLE2)?;
            b.string(word)?;
            boxed_long(&mut b, *n)?;
        }
        FunctionState::Bytes(n) => {
            let len = u32::try_from(*n).map_err(|_| {
                SynthError::Spec(format!("a function state of {n} bytes is over 4 GiB"))
            })?;
            b.begin_primitive_array(&BYTE_ARRAY, len)?;
            write_filler(&mut ArrayBodyWriter(&mut b), *n, rng)
                .map_err(|e| body_error(e, target))?;
        }
    }
    Ok(b.finish()?)
}

/// Length of [`function_stream`] without writing it.
pub fn function_stream_size(f: &FunctionState) -> Result<u64, SynthError> {
    let (probe, extra) = match f {
        FunctionState::Bytes(n) => (FunctionState::Bytes(0), *n),
        other => (other.clone(), 0),
    };
    let c = function_stream(
        CountingWriter::new(io::sink()),
        &probe,
        &mut Prng::new(0),
        "size",
    )?;
    Ok(c.count + extra)
}

/// One RocksDB column header's Java stream: a fresh `ObjectOutputStream` holding the
/// column's `ValueStateDescriptor` (legacy-formats.md §2.5).
pub fn column_stream(name: &str, kind: KeyedKind, value: ValueType) -> Result<Vec<u8>, SynthError> {
    let mut b = StreamBuilder::new(Vec::new(), "RocksDB column descriptor", 0)?;
    state_descriptor(&mut b, Text::New(name), kind, value)?;
    Ok(b.finish()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::javaser::{Limits, parse_stream};
    use crate::source::{MemSource, Source};
    use std::sync::Arc;

    fn parse(bytes: Vec<u8>) -> crate::javaser::Graph {
        let n = bytes.len() as u64;
        let src: Arc<dyn Source> = Arc::new(MemSource::new("t", bytes));
        parse_stream(src, 0, n, &Limits::default()).unwrap()
    }

    #[test]
    fn function_streams_have_the_fixture_sizes() {
        // legacy-formats.md §2.5: "Here be dragons!" is 23 B and ("hello", 42) is 233 B.
        let text = FunctionState::Text("Here be dragons!".into());
        assert_eq!(function_stream_size(&text).unwrap(), 23);
        let tuple = FunctionState::Tuple2("hello".into(), 42);
        assert_eq!(function_stream_size(&tuple).unwrap(), 233);
        let bytes = FunctionState::Bytes(5000);
        let mut rng = Prng::new(9);
        let out = function_stream(Vec::new(), &bytes, &mut rng, "t").unwrap();
        assert_eq!(out.len() as u64, function_stream_size(&bytes).unwrap());
        parse(out);
    }

    #[test]
    fn column_stream_is_one_value_state_descriptor() {
        let s = column_stream("state-0", KeyedKind::Value, ValueType::Long).unwrap();
        let g = parse(s);
        let root = g.roots().next().unwrap().node().unwrap();
        assert_eq!(
            g.class_name_of(root).unwrap().lossy(),
            "org.apache.flink.api.common.state.ValueStateDescriptor"
        );
    }
}
