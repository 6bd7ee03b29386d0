//! One subtask's blob: the `StreamTaskStateList` with its chain entries and their handles,
//! written straight to the output; external files are written as their handles are
//! reached (legacy-formats.md §2.1–2.5).

use super::objects::{self, Text, body_error};
use super::output::ExternalFiles;
use super::plan::{
    EntryPlan, FS_THRESHOLD, FunctionState, KeyedPlan, KeyedStore, OperatorState, Plan, StatePlan,
    SubtaskPlan, tag,
};
use super::state_bytes::{write_heap_data, write_operator_bytes, write_rocks_records};
use super::{KeyedKind, Namespace, SynthError};
use crate::javaser::builder::{ArrayBodyWriter, Handle, StreamBuilder};
use crate::prng::Prng;
use crate::v0::classes::*;
use std::io::Write;

/// Where a blob is and what it needs besides its plan.
pub struct BlobCtx<'a> {
    pub plan: &'a Plan,
    pub files: &'a mut ExternalFiles,
    pub seed: u64,
    pub checkpoint_id: i64,
    pub vertex: u32,
    pub subtask: u32,
    /// For error messages.
    pub target: String,
}

impl BlobCtx<'_> {
    fn rng(&self, t: u64, k: usize, which: u64) -> Prng {
        Prng::derive(
            self.seed,
            &[t, self.vertex as u64, self.subtask as u64, k as u64, which],
        )
    }

    fn large(&self, size: u64) -> bool {
        self.plan.files_for_large && size > FS_THRESHOLD
    }
}

fn array_len(n: u64) -> Result<u32, SynthError> {
    u32::try_from(n).map_err(|_| SynthError::Spec(format!("an inline array of {n} bytes")))
}

/// Writes the blob's root object.
pub fn write_blob<W: Write>(
    b: &mut StreamBuilder<W>,
    cx: &mut BlobCtx<'_>,
    st: &SubtaskPlan,
) -> Result<(), SynthError> {
    b.begin_object(&STREAM_TASK_STATE_LIST)?;
    let len =
        i32::try_from(st.chain.len()).map_err(|_| SynthError::Spec("chain too long".into()))?;
    b.begin_object_array(&STREAM_TASK_STATE_ARRAY, len)?;
    for (k, entry) in st.chain.iter().enumerate() {
        match entry {
            None => b.null()?,
            Some(e) => task_state(b, cx, k, e)?,
        }
    }
    Ok(())
}

fn task_state<W: Write>(
    b: &mut StreamBuilder<W>,
    cx: &mut BlobCtx<'_>,
    k: usize,
    e: &EntryPlan,
) -> Result<(), SynthError> {
    b.begin_object(&STREAM_TASK_STATE)?;
    // Fields in stream order: functionState, kvStates, operatorState.
    function_handle(b, cx, k, &e.function)?;
    match &e.keyed {
        Some(kp) if !kp.states.is_empty() => kv_states(b, cx, k, kp)?,
        _ => b.null()?,
    }
    match &e.operator {
        Some(op) => operator_handle(b, cx, k, op)?,
        None => b.null()?,
    }
    Ok(())
}

fn function_handle<W: Write>(
    b: &mut StreamBuilder<W>,
    cx: &mut BlobCtx<'_>,
    k: usize,
    f: &FunctionState,
) -> Result<(), SynthError> {
    let size = objects::function_stream_size(f)?;
    let mut rng = cx.rng(tag::FILLER, k, 0);
    if cx.large(size) {
        let target = cx.target.clone();
        let uri = cx.files.write(size, |w| {
            objects::function_stream(w, f, &mut rng, &target).map(|_| ())
        })?;
        b.begin_object(&FILE_SERIALIZABLE_STATE_HANDLE)?;
        objects::path(b, &uri)?;
    } else {
        b.begin_object(&SERIALIZED_STATE_HANDLE)?;
        b.begin_primitive_array(&BYTE_ARRAY, array_len(size)?)?;
        objects::function_stream(ArrayBodyWriter(b), f, &mut rng, &cx.target)?;
    }
    Ok(())
}

/// `DataInputViewHandle` around a byte-stream or file-stream handle holding `size` bytes.
fn stream_handle<W: Write>(
    b: &mut StreamBuilder<W>,
    cx: &mut BlobCtx<'_>,
    size: u64,
    body: &mut dyn FnMut(&mut dyn Write) -> Result<(), SynthError>,
) -> Result<(), SynthError> {
    b.begin_object(&DATA_INPUT_VIEW_HANDLE)?;
    if cx.large(size) {
        let uri = cx.files.write(size, |w| body(w))?;
        b.begin_object(&FILE_STREAM_STATE_HANDLE)?;
        objects::path(b, &uri)?;
    } else {
        b.begin_object(&BYTE_STREAM_STATE_HANDLE)?;
        b.begin_primitive_array(&BYTE_ARRAY, array_len(size)?)?;
        body(&mut ArrayBodyWriter(b))?;
    }
    Ok(())
}

fn operator_handle<W: Write>(
    b: &mut StreamBuilder<W>,
    cx: &mut BlobCtx<'_>,
    k: usize,
    op: &OperatorState,
) -> Result<(), SynthError> {
    let mut rng = cx.rng(tag::FILLER, k, 1);
    let target = cx.target.clone();
    stream_handle(b, cx, op.size(), &mut |w| {
        write_operator_bytes(w, op, &mut rng).map_err(|e| body_error(e, &target))
    })
}

fn kv_states<W: Write>(
    b: &mut StreamBuilder<W>,
    cx: &mut BlobCtx<'_>,
    k: usize,
    kp: &KeyedPlan,
) -> Result<(), SynthError> {
    b.begin_object(&HASH_MAP)?;
    b.field_float(0.75)?;
    b.field_int(kp.map_shape.0)?;
    let entries = match kp.store {
        KeyedStore::Memory | KeyedStore::Filesystem => kp.states.len(),
        KeyedStore::RocksFullyAsync | KeyedStore::RocksSemiAsync => 1,
    };
    b.block_int(kp.map_shape.1 as i32)?;
    b.block_int(entries as i32)?;
    match kp.store {
        KeyedStore::Memory | KeyedStore::Filesystem => heap_snapshots(b, cx, k, kp)?,
        KeyedStore::RocksFullyAsync => {
            b.string("dummy_state")?;
            b.begin_object(&FINAL_FULLY_ASYNC_SNAPSHOT)?;
            b.field_long(cx.checkpoint_id)?;
            let size = kp.rocks_size()?;
            let target = cx.target.clone();
            let (seed, v, s) = (cx.seed, cx.vertex, cx.subtask);
            stream_handle(b, cx, size, &mut |w| {
                rocks_stream(w, kp, |st| values(seed, v, s, k, st)).map_err(|e| match e {
                    SynthError::Io { source, .. } => body_error(source, &target),
                    other => other,
                })
            })?;
        }
        KeyedStore::RocksSemiAsync => {
            b.string("dummy_state")?;
            b.begin_object(&FINAL_SEMI_ASYNC_SNAPSHOT)?;
            b.field_long(cx.checkpoint_id)?;
            let backup = cx.files.backup_uri(cx.vertex, cx.subtask, cx.checkpoint_id);
            objects::uri(b, &backup)?;
            b.begin_object(&ARRAY_LIST)?;
            b.field_int(kp.states.len() as i32)?;
            b.block_int(kp.states.len() as i32)?;
            for st in &kp.states {
                objects::state_descriptor(b, Text::New(&st.name), st.kind, st.value_type)?;
            }
            b.end_annotation()?;
        }
    }
    b.end_annotation()?;
    Ok(())
}

/// The PRNG a state's values are drawn from (the manifest draws them again).
pub(super) fn values(seed: u64, v: u32, s: u32, k: usize, st: &StatePlan) -> Prng {
    Prng::derive(
        seed,
        &[tag::VALUES, v as u64, s as u64, k as u64, st.index as u64],
    )
}

/// `Mem/FsValueState$Snapshot`s, one per state; the key and namespace serializers are the
/// backend's, shared by all of them.
fn heap_snapshots<W: Write>(
    b: &mut StreamBuilder<W>,
    cx: &mut BlobCtx<'_>,
    k: usize,
    kp: &KeyedPlan,
) -> Result<(), SynthError> {
    let mut key_serializer: Option<Handle> = None;
    let mut namespace_serializer: Option<Handle> = None;
    for st in &kp.states {
        let name = b.string(&st.name)?;
        let size = KeyedPlan::heap_size(st);
        let mut rng = values(cx.seed, cx.vertex, cx.subtask, k, st);
        let target = cx.target.clone();
        if kp.store == KeyedStore::Filesystem {
            let uri = cx.files.write(size, |w| {
                write_heap_data(w, st, &mut rng).map_err(|e| body_error(e, &target))
            })?;
            b.begin_object(match st.kind {
                KeyedKind::Value => &FS_VALUE_STATE_SNAPSHOT,
                KeyedKind::List => &FS_LIST_STATE_SNAPSHOT,
                KeyedKind::Reducing => &FS_REDUCING_STATE_SNAPSHOT,
                KeyedKind::Folding => &FS_FOLDING_STATE_SNAPSHOT,
            })?;
            // AbstractFileStateHandle.filePath, then AbstractFsStateSnapshot's fields.
            objects::path(b, &uri)?;
        } else {
            b.begin_object(match st.kind {
                KeyedKind::Value => &MEM_VALUE_STATE_SNAPSHOT,
                KeyedKind::List => &MEM_LIST_STATE_SNAPSHOT,
                KeyedKind::Reducing => &MEM_REDUCING_STATE_SNAPSHOT,
                KeyedKind::Folding => &MEM_FOLDING_STATE_SNAPSHOT,
            })?;
            // AbstractMemStateSnapshot.data, then its serializer fields.
            b.begin_primitive_array(&BYTE_ARRAY, array_len(size)?)?;
            write_heap_data(&mut ArrayBodyWriter(b), st, &mut rng)
                .map_err(|e| body_error(e, &target))?;
        }
        match key_serializer {
            Some(h) => b.reference(h)?,
            None => key_serializer = Some(objects::key_serializer(b, cx.plan.key_type)?),
        }
        match namespace_serializer {
            Some(h) => b.reference(h)?,
            None => {
                namespace_serializer = Some(objects::singleton(
                    b,
                    match st.namespace {
                        Namespace::Void => &VOID_SERIALIZER,
                        Namespace::TimeWindow => &TIME_WINDOW_SERIALIZER,
                        Namespace::GlobalWindow => &GLOBAL_WINDOW_SERIALIZER,
                    },
                )?)
            }
        }
        let serializer = objects::state_descriptor(b, Text::Ref(name), st.kind, st.value_type)?;
        objects::state_serializer(b, serializer, st.kind)?;
    }
    Ok(())
}

/// The RocksDB fully-async stream: `int` column count, per column its mapping byte and
/// descriptor stream, then every column's records (legacy-formats.md §2.5).
fn rocks_stream(
    w: &mut dyn Write,
    kp: &KeyedPlan,
    mut values: impl FnMut(&StatePlan) -> Prng,
) -> Result<(), SynthError> {
    let io = |e| SynthError::Io {
        path: "RocksDB stream".into(),
        source: e,
    };
    w.write_all(&(kp.states.len() as i32).to_be_bytes())
        .map_err(io)?;
    for (m, st) in kp.states.iter().enumerate() {
        w.write_all(&[m as u8]).map_err(io)?;
        w.write_all(&objects::column_stream(&st.name, st.kind, st.value_type)?)
            .map_err(io)?;
    }
    for (m, st) in kp.states.iter().enumerate() {
        write_rocks_records(w, m as u8, st, &mut values(st)).map_err(io)?;
    }
    Ok(())
}
