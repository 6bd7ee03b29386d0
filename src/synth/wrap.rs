//! A Flink 1.1 operator snapshot (one Java-serialized `StreamTaskState`, as Flink's
//! operator test harnesses write them) wrapped into a Flink 1.1 savepoint: one vertex,
//! whose id Flink derives from the operator's uid, with the snapshot as the one chain
//! entry of each subtask. Every command and the mount then take Flink's own operator
//! files like any savepoint. The state object is written again into the subtask blob
//! (its handles renumbered after the wrapper's); its state bytes are copied unchanged.

use super::SynthError;
use crate::javaser::builder::StreamBuilder;
use crate::javaser::{self, Limits, WriteOptions};
use crate::source::{FileSource, Source};
use crate::v0::classes::{STREAM_TASK_STATE_ARRAY, STREAM_TASK_STATE_LIST};
use crate::v0::{MAGIC, VERSION_V0};
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

/// What the wrapped savepoint is made of.
pub struct Wrap<'a> {
    pub snapshot: &'a Path,
    pub uid: &'a str,
    /// Subtasks, each holding the same snapshot.
    pub parallelism: u32,
    pub checkpoint_id: i64,
}

/// Writes the savepoint to `out`; returns the vertex id.
pub fn wrap(w: &Wrap<'_>, out: &Path) -> Result<[u8; 16], SynthError> {
    let name = w.snapshot.display().to_string();
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source: std::io::Error| SynthError::Io { path, source }
    };
    let src: Arc<dyn Source> = Arc::new(FileSource::open(w.snapshot).map_err(io(w.snapshot))?);
    let graph = javaser::parse_stream(src.clone(), 0, src.len(), &Limits::default())
        .map_err(|e| SynthError::Spec(e.to_string()))?;
    let root = graph
        .roots()
        .next()
        .ok_or_else(|| SynthError::Spec(format!("{name}: offset 4: the stream holds no object")))?;
    let class = root
        .node()
        .and_then(|n| graph.class_name_of(n))
        .map(|c| c.lossy())
        .unwrap_or_else(|| "a non-object".into());
    if class != crate::classnames::STREAM_TASK_STATE {
        return Err(SynthError::Spec(format!(
            "{name}: offset 4: the stream holds a {class}, not a {} (an operator snapshot of Flink 1.1)",
            crate::classnames::STREAM_TASK_STATE
        )));
    }
    if w.parallelism == 0 {
        return Err(SynthError::Spec("--parallelism must be at least 1".into()));
    }
    let vertex = crate::modern::operator_id_of_uid(w.uid);
    let mut blob = StreamBuilder::new(Vec::new(), format!("{} blob", out.display()), 0)?;
    blob.begin_object(&STREAM_TASK_STATE_LIST)?;
    blob.begin_object_array(&STREAM_TASK_STATE_ARRAY, 1)?;
    let first = blob.next_handle();
    let mut blob = blob.finish()?;
    let state = javaser::write_object_continuing(&graph, root, &WriteOptions::default(), first)
        .map_err(|e| SynthError::Spec(format!("{name}: {e}")))?;
    blob.extend(state.to_vec(&**graph.source()).map_err(io(w.snapshot))?);
    let blob_len =
        i32::try_from(blob.len()).map_err(|_| SynthError::Spec(format!("{name}: over 2 GiB")))?;
    let mut file = Vec::with_capacity(blob.len() * w.parallelism as usize + 64);
    file.extend(MAGIC.to_be_bytes());
    file.extend(VERSION_V0.to_be_bytes());
    file.extend(w.checkpoint_id.to_be_bytes());
    file.extend(1i32.to_be_bytes());
    file.extend(vertex);
    let p = i32::try_from(w.parallelism)
        .map_err(|_| SynthError::Spec("parallelism too large".into()))?;
    file.extend(p.to_be_bytes());
    file.extend(p.to_be_bytes());
    for index in 0..p {
        file.extend(index.to_be_bytes());
        file.extend(blob_len.to_be_bytes());
        file.extend(&blob);
        // State size: the blob (the snapshot's state is inline); duration unknown.
        file.extend(i64::from(blob_len).to_be_bytes());
        file.extend((-1i64).to_be_bytes());
    }
    // numKvStates: always 0 in Flink 1.1 files (legacy-formats.md §1.4).
    file.extend(0i32.to_be_bytes());
    let mut f = std::fs::File::create(out).map_err(io(out))?;
    f.write_all(&file).map_err(io(out))?;
    Ok(vertex)
}
