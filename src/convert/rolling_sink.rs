//! RollingSink → BucketingSink (operators.md §7): Flink 1.1's RollingSink kept one bucket
//! as `Checkpointed<RollingSink.BucketState>` function state (the in-progress file and
//! its valid length, the pending files, and the pending files of each checkpoint). The
//! RollingSink is gone after Flink 1.8; BucketingSink, which took its place, restores
//! the same facts from its list state `bucket-states`: one `BucketingSink$State` holding
//! a map from bucket directory (the in-progress file's parent) to a
//! `BucketingSink$BucketState`. At restore it truncates the in-progress file to its
//! valid length and moves the pending files of past checkpoints to their final names,
//! as Flink 1.2 did for a RollingSink's state. BucketingSink is gone from Flink 1.12 on,
//! so `flink-2.3` cannot carry the state and the file is refused, saying which Flink can.

use super::FileKind;
use super::error::{Error, FileLocation, HeaderError};
use super::native;
use super::subtask::{Cx, FileResult, handle_classes, not_migratable};
use crate::javaser::builder::StreamBuilder;
use crate::javaser::{Graph, ObjectView, Value};
use crate::stream::Piece;
use crate::v0::StateHandle;
use crate::v0::classes::{
    ARRAY_LIST, BUCKETING_SINK_BUCKET_STATE, BUCKETING_SINK_STATE, HASH_MAP, LONG,
};

/// BucketingSink's list state.
pub const BUCKET_STATES: &str = "bucket-states";
const ROLLING_SINK_STATE: &str = "org.apache.flink.streaming.connectors.fs.RollingSink$BucketState";

/// A 1.1 `RollingSink$BucketState`, as its fields read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bucket {
    pub current_file: Option<String>,
    pub valid_length: i64,
    pub pending: Vec<Option<String>>,
    /// Per checkpoint id, its pending files, in the 1.1 map's order.
    pub per_checkpoint: Vec<(i64, Vec<Option<String>>)>,
    /// The map's `threshold` and capacity, kept.
    pub map_shape: (i32, i32),
}

impl Bucket {
    /// The bucket directory: the parent of the in-progress file, else of a pending one,
    /// as Flink's `Path.getParent()` gives it; `None` when no file is named at all.
    pub fn directory(&self) -> Option<String> {
        let any = self
            .current_file
            .iter()
            .chain(self.pending.iter().flatten());
        let any = any.chain(
            self.per_checkpoint
                .iter()
                .flat_map(|(_, f)| f.iter().flatten()),
        );
        let file = any.into_iter().next()?;
        let file = file.trim_end_matches('/');
        Some(match file.rsplit_once('/') {
            Some(("", _)) => "/".to_string(),
            // `file:/x` → `file:/`, `hdfs://nn/x` → `hdfs://nn/`.
            Some((parent, _))
                if parent.ends_with(':')
                    || parent
                        .split_once("://")
                        .is_some_and(|(_, authority)| !authority.contains('/')) =>
            {
                format!("{parent}/")
            }
            Some((parent, _)) => parent.to_string(),
            None => ".".to_string(),
        })
    }
}

/// The bucket of a RollingSink's function state; errors say what is not as 1.1 wrote it.
pub fn bucket(graph: &Graph) -> Result<Bucket, String> {
    let root = graph.roots().next().ok_or("an empty stream")?;
    let o = graph
        .object(root)
        .map_err(|e| e.to_string())?
        .ok_or("null")?;
    if !o.class_name().is(ROLLING_SINK_STATE) {
        return Err(format!(
            "a {}, not a {ROLLING_SINK_STATE}",
            o.class_name().lossy()
        ));
    }
    let valid_length = match o.field("currentFileValidLength") {
        Some(Value::Long(v)) => v,
        _ => return Err("no currentFileValidLength".into()),
    };
    let current_file = match o.field("currentFile") {
        Some(v) => graph.string_value(v).map_err(|e| e.to_string())?,
        None => return Err("no currentFile".into()),
    };
    let pending = match o.field("pendingFiles") {
        Some(v) => strings(graph, v, "pendingFiles")?,
        None => return Err("no pendingFiles".into()),
    };
    let map = o
        .field("pendingFilesPerCheckpoint")
        .map(|v| graph.object(v))
        .transpose()
        .map_err(|e| e.to_string())?
        .flatten()
        .ok_or("no pendingFilesPerCheckpoint map")?;
    if !map.class_name().is(HASH_MAP.name) {
        return Err(format!(
            "pendingFilesPerCheckpoint is a {}, not a HashMap",
            map.class_name().lossy()
        ));
    }
    let mut per_checkpoint = Vec::new();
    for (k, v) in map.hash_map_entries().map_err(|e| e.to_string())? {
        let id = graph
            .object(k)
            .map_err(|e| e.to_string())?
            .filter(|l| l.is_a(LONG.name))
            .map(|l| l.boxed());
        let Some(Ok(Value::Long(id))) = id else {
            return Err("a checkpoint id that is not a java.lang.Long".into());
        };
        per_checkpoint.push((id, strings(graph, v, "pending files of a checkpoint")?));
    }
    Ok(Bucket {
        current_file,
        valid_length,
        pending,
        per_checkpoint,
        map_shape: shape(&map)?,
    })
}

/// A HashMap's `threshold` and capacity.
fn shape(map: &ObjectView<'_>) -> Result<(i32, i32), String> {
    let threshold = match map.field("threshold") {
        Some(Value::Int(t)) => t,
        _ => return Err("a HashMap without its threshold".into()),
    };
    let capacity = map
        .annotation(HASH_MAP.name)
        .and_then(|mut a| a.read_i32())
        .map_err(|e| e.to_string())?;
    Ok((threshold, capacity))
}

/// An `ArrayList` of Strings (or nulls).
fn strings(graph: &Graph, v: Value, what: &str) -> Result<Vec<Option<String>>, String> {
    let list = graph
        .object(v)
        .map_err(|e| e.to_string())?
        .filter(|l| l.class_name().is(ARRAY_LIST.name))
        .ok_or_else(|| format!("{what} is not an ArrayList"))?;
    list.array_list_elements()
        .map_err(|e| e.to_string())?
        .into_iter()
        .map(|s| graph.string_value(s).map_err(|e| format!("{what}: {e}")))
        .collect()
}

/// `BucketingSink$State{ {directory → BucketState} }` as a fresh Java stream, as Flink
/// 1.2 wrote it (its `BucketState` had no `creationTime`, which Flink 1.10 reads as 0).
pub fn element(directory: &str, bucket: &Bucket) -> Result<Vec<u8>, HeaderError> {
    let mut b = StreamBuilder::new(Vec::new(), BUCKETING_SINK_STATE.name, 0)?;
    b.begin_object(&BUCKETING_SINK_STATE)?;
    // A new HashMap with one entry.
    b.begin_object(&HASH_MAP)?;
    b.field_float(0.75)?;
    b.field_int(12)?;
    b.block_int(16)?;
    b.block_int(1)?;
    b.string(directory)?;
    b.begin_object(&BUCKETING_SINK_BUCKET_STATE)?;
    b.field_long(bucket.valid_length)?;
    b.field_long(0)?; // lastWrittenToTime
    text(&mut b, bucket.current_file.as_deref())?;
    list(&mut b, &bucket.pending)?;
    b.begin_object(&HASH_MAP)?;
    b.field_float(0.75)?;
    b.field_int(bucket.map_shape.0)?;
    b.block_int(bucket.map_shape.1)?;
    b.block_int(bucket.per_checkpoint.len() as i32)?;
    for (id, files) in &bucket.per_checkpoint {
        b.begin_object(&LONG)?;
        b.field_long(*id)?;
        list(&mut b, files)?;
    }
    b.end_annotation()?;
    b.end_annotation()?;
    Ok(b.finish()?)
}

fn text(b: &mut StreamBuilder<Vec<u8>>, s: Option<&str>) -> Result<(), HeaderError> {
    match s {
        Some(s) => b.string(s).map(|_| ())?,
        None => b.null()?,
    }
    Ok(())
}

fn list(b: &mut StreamBuilder<Vec<u8>>, files: &[Option<String>]) -> Result<(), HeaderError> {
    b.begin_object(&ARRAY_LIST)?;
    b.field_int(files.len() as i32)?;
    b.block_int(files.len() as i32)?;
    for f in files {
        text(b, f.as_deref())?;
    }
    b.end_annotation()?;
    Ok(())
}

impl Cx<'_> {
    /// The sink's bucket as BucketingSink's `bucket-states`, for the native operator proxy
    /// (`flink-1.10`, `flink-1.2`); `None` when the state names no file.
    pub(super) fn bucketing_sink(&self, chain: usize, h: &StateHandle) -> Option<FileResult> {
        let loc = self.location(Some(chain), FileKind::ManagedOperatorState);
        match self.bucket(h, &loc) {
            Ok(None) => None,
            Ok(Some((dir, bucket))) => Some(self.bucket_file(loc, h, &dir, &bucket)),
            Err(e) => Some(Err(e)),
        }
    }

    fn bucket(
        &self,
        h: &StateHandle,
        loc: &FileLocation,
    ) -> Result<Option<(String, Bucket)>, Error> {
        let (graph, place) = self.java_state(h, "RollingSink state", loc)?;
        let bucket = bucket(&graph)
            .map_err(|e| not_migratable(loc)(format!("RollingSink state in {place}: {e}")))?;
        Ok(bucket.directory().map(|d| (d, bucket)))
    }

    fn bucket_file(
        &self,
        loc: FileLocation,
        h: &StateHandle,
        dir: &str,
        bucket: &Bucket,
    ) -> FileResult {
        let header = native::list_state_header(BUCKET_STATES).map_err(Error::header(&loc))?;
        let offset = header.len() as u64;
        let element = element(dir, bucket).map_err(Error::header(&loc))?;
        let pending: usize = bucket.per_checkpoint.iter().map(|(_, f)| f.len()).sum();
        let handle = format!(
            "RollingSink bucket {dir} as BucketingSink state: in progress {} ({} valid bytes), {} pending, {pending} pending for {} checkpoint(s) ({})",
            bucket.current_file.as_deref().unwrap_or("none"),
            bucket.valid_length,
            bucket.pending.len(),
            bucket.per_checkpoint.len(),
            handle_classes(h)
        );
        let mut file = self.file(
            loc,
            handle,
            vec![Piece::bytes(header), Piece::bytes(element)],
            offset,
        );
        file.list_state = Some(BUCKET_STATES);
        Ok(file)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bucket(current: Option<&str>, pending: &[&str]) -> Bucket {
        Bucket {
            current_file: current.map(str::to_string),
            valid_length: 6,
            pending: pending.iter().map(|s| Some(s.to_string())).collect(),
            per_checkpoint: Vec::new(),
            map_shape: (0, 16),
        }
    }

    #[test]
    fn the_bucket_is_the_parent_of_its_files() {
        let dir = |c, p: &[&str]| bucket(c, p).directory();
        assert_eq!(
            dir(Some("/out/2017-01-09--18/part-0-4"), &[]).as_deref(),
            Some("/out/2017-01-09--18")
        );
        assert_eq!(
            dir(None, &["hdfs://nn:8020/out/b/part-0-1"]).as_deref(),
            Some("hdfs://nn:8020/out/b")
        );
        assert_eq!(dir(Some("/part-0"), &[]).as_deref(), Some("/"));
        assert_eq!(dir(Some("file:/part-0"), &[]).as_deref(), Some("file:/"));
        assert_eq!(
            dir(Some("hdfs://nn/part-0"), &[]).as_deref(),
            Some("hdfs://nn/")
        );
        assert_eq!(dir(None, &[]), None, "no file: no state");
    }

    #[test]
    fn the_element_is_a_state_of_one_bucket() {
        use crate::source::MemSource;
        let mut b = bucket(Some("/o/d/part-0-4"), &["/o/d/part-0-3"]);
        b.per_checkpoint = vec![(7, vec![Some("/o/d/part-0-1".into()), None])];
        let bytes = element("/o/d", &b).unwrap();
        let src = std::sync::Arc::new(MemSource::new("e", bytes.clone()));
        let g =
            crate::javaser::parse_stream(src, 0, bytes.len() as u64, &Default::default()).unwrap();
        let state = g.object(g.roots().next().unwrap()).unwrap().unwrap();
        assert!(state.class_name().is(BUCKETING_SINK_STATE.name));
        let map = g
            .object(state.field("bucketStates").unwrap())
            .unwrap()
            .unwrap();
        let entries = map.hash_map_entries().unwrap();
        assert_eq!(
            g.string_value(entries[0].0).unwrap().as_deref(),
            Some("/o/d")
        );
        let bs = g.object(entries[0].1).unwrap().unwrap();
        assert_eq!(bs.field("currentFileValidLength"), Some(Value::Long(6)));
        let pending = strings(&g, bs.field("pendingFiles").unwrap(), "p").unwrap();
        assert_eq!(pending, [Some("/o/d/part-0-3".to_string())]);
        let per = g
            .object(bs.field("pendingFilesPerCheckpoint").unwrap())
            .unwrap()
            .unwrap();
        let per = per.hash_map_entries().unwrap();
        assert_eq!(strings(&g, per[0].1, "p").unwrap(), b.per_checkpoint[0].1);
    }
}
