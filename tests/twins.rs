//! Byte identity with Flink 1.2's own snapshots of the same window scenarios (the "twins"
//! in `../shared/fixtures/flink-1.2/operator-snapshots/`, operators.md §2.2, [B12]): what
//! we write for flink-1.10 from Flink 1.1's snapshot is what Flink 1.2 wrote after its
//! legacy restore; the timers only in another order (1.2 kept them in a HashSet).

mod common;

use common::mount::run;
use std::path::{Path, PathBuf};

/// The streams of an `OperatorSnapshotUtil` file (operators.md §2.3), as Flink's test
/// harness writes them: managed operator state (its state name, offsets and stream), raw
/// and managed keyed state (one key-group handle each: its stream and key group 0's
/// offset); `None` where the file has none.
struct Twin {
    managed_operator: Option<(String, Vec<u64>, Vec<u8>)>,
    raw_keyed: Option<(Vec<u8>, u64)>,
    managed_keyed: Option<(Vec<u8>, u64)>,
}

struct Reader<'a>(&'a [u8], usize);

impl Reader<'_> {
    fn take(&mut self, n: usize) -> &[u8] {
        let s = &self.0[self.1..self.1 + n];
        self.1 += n;
        s
    }
    fn int(&mut self) -> i32 {
        i32::from_be_bytes(self.take(4).try_into().unwrap())
    }
    fn byte(&mut self) -> u8 {
        self.take(1)[0]
    }
    fn utf(&mut self) -> String {
        let n = u16::from_be_bytes(self.take(2).try_into().unwrap()) as usize;
        String::from_utf8(self.take(n).to_vec()).unwrap()
    }
    fn long(&mut self) -> u64 {
        u64::from_be_bytes(self.take(8).try_into().unwrap())
    }
    /// A list count: -1 is none.
    fn count(&mut self) -> Option<i32> {
        Some(self.int()).filter(|&n| n >= 0)
    }
    /// A stream handle: null or an in-memory byte stream (what the harness writes).
    fn stream(&mut self) -> Option<Vec<u8>> {
        match self.byte() {
            0 => None,
            1 => {
                self.utf();
                let n = self.int() as usize;
                Some(self.take(n).to_vec())
            }
            c => panic!("stream handle code {c} at {}", self.1 - 1),
        }
    }
    /// A list of key-group handles, of which there is one here, if any: its stream, and
    /// where key group 0 starts in it.
    fn keyed(&mut self) -> Option<(Vec<u8>, u64)> {
        assert_eq!(self.count()?, 1, "one keyed handle");
        assert_eq!(self.byte(), 3, "a key-groups handle");
        assert_eq!((self.int(), self.int()), (0, 1), "key group 0 of 1");
        let offset = self.long();
        Some((self.stream().unwrap(), offset))
    }
    /// A list of operator handles, of which there is one here with one state, if any.
    fn operator(&mut self) -> Option<(String, Vec<u64>, Vec<u8>)> {
        assert_eq!(self.count()?, 1, "one operator handle");
        assert_eq!(self.byte(), 4, "an operator state handle");
        assert_eq!(self.int(), 1, "one state");
        let name = self.utf();
        assert_eq!(self.byte(), 0, "SPLIT_DISTRIBUTE");
        let n = self.int() as usize;
        let offsets = (0..n).map(|_| self.long()).collect();
        Some((name, offsets, self.stream().unwrap()))
    }
}

fn twin(path: &Path) -> Twin {
    let bytes = std::fs::read(path).unwrap();
    let mut r = Reader(&bytes, 0);
    assert_eq!(r.int(), 0);
    assert!(r.stream().is_none(), "no legacy stream");
    assert_eq!(r.int(), -1, "no raw operator state");
    let managed_operator = r.operator();
    let raw_keyed = r.keyed();
    let managed_keyed = r.keyed();
    assert_eq!(r.1, bytes.len(), "nothing after");
    Twin {
        managed_operator,
        raw_keyed,
        managed_keyed,
    }
}

/// A timer section of a raw keyed stream: `int n, n × (String key "keyN", TimeWindow, long)`
/// split into its 29-byte timers, sorted; and what follows.
fn timers(bytes: &[u8]) -> (Vec<&[u8]>, &[u8]) {
    let n = i32::from_be_bytes(bytes[..4].try_into().unwrap()) as usize;
    let mut timers: Vec<&[u8]> = bytes[4..4 + 29 * n].chunks(29).collect();
    assert!(
        timers.iter().all(|t| t.starts_with(b"\x05key")),
        "keys keyN"
    );
    timers.sort();
    (timers, &bytes[4 + 29 * n..])
}

/// `wrap` a 1.1 operator snapshot (its vertex id derived from `uid`) and `convert` it
/// with `args`: the output directory and the vertex's directory there.
fn wrap_and_convert(snapshot: &Path, dir: &Path, uid: &str, args: &[&str]) -> (PathBuf, PathBuf) {
    let sp = dir.join(uid);
    let out = dir.join(format!("{uid}.out"));
    let (snap, sp_s, out_s) = (
        snapshot.to_str().unwrap(),
        sp.to_str().unwrap(),
        out.to_str().unwrap(),
    );
    let convert = [&["convert", sp_s, out_s][..], args].concat();
    for args in [&["wrap", snap, sp_s, "--uid", uid][..], &convert] {
        let o = run(args);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let vertex = savepointfs::ids::hex(&savepointfs::modern::operator_id_of_uid(uid));
    (out.clone(), out.join(vertex))
}

#[test]
fn window_streams_equal_flink_1_2s_own() {
    let Some(fx) = common::shared_fixtures() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    for scenario in [
        "reduce-event-time",
        "apply-event-time",
        "reduce-processing-time",
        "apply-processing-time",
    ] {
        let name = |v: &str| format!("win-op-migration-test-{scenario}-flink{v}-snapshot");
        let snapshot = fx.join("flink-1.1/operator-snapshots").join(name("1.1"));
        let (out, _) =
            wrap_and_convert(&snapshot, dir.path(), scenario, &["--target", "flink-1.10"]);
        let file = |kind: &str| {
            let p = common::walk_files(&out)
                .into_iter()
                .find(|p| p.ends_with(format!("subtask-0/{kind}")))
                .unwrap_or_else(|| panic!("{scenario}: no {kind}"));
            std::fs::read(p).unwrap()
        };
        let twin = twin(&fx.join("flink-1.2/operator-snapshots").join(name("1.2")));
        let (raw_keyed, timers_at) = twin.raw_keyed.unwrap();
        assert_eq!(timers_at, 0, "timers have no header of their own");
        let (managed_keyed, group_at) = twin.managed_keyed.unwrap();
        assert!(group_at > 0, "after the keyed backend's header");
        // Managed keyed state: every byte (the serializers re-emitted, the data verbatim).
        assert!(
            file("managed-keyed-state") == managed_keyed,
            "{scenario}: managed keyed state differs from Flink 1.2's ({} vs {} B)",
            file("managed-keyed-state").len(),
            managed_keyed.len()
        );
        // Raw keyed state: the timer service header, then event and processing timers.
        let ours = file("raw-keyed-state");
        assert_eq!(ours.len(), raw_keyed.len(), "{scenario}");
        let header = 4 + 2 + "window-timers".len() + 228 + 158;
        assert_eq!(ours[..header], raw_keyed[..header], "{scenario}");
        let (our_event, our_rest) = timers(&ours[header..]);
        let (their_event, their_rest) = timers(&raw_keyed[header..]);
        assert_eq!(our_event, their_event, "{scenario}: event timers");
        let (our_proc, our_end) = timers(our_rest);
        let (their_proc, their_end) = timers(their_rest);
        assert_eq!(our_proc, their_proc, "{scenario}: processing timers");
        assert!(our_end.is_empty() && their_end.is_empty());
        // Event time: key1 [0, 3000), key2 [0, 3000) and [3000, 6000); processing time:
        // key2 and key3 [3000, 6000) (operators.md §4.1.1, §4.1.3).
        let want = if scenario.ends_with("-event-time") {
            (3, 0)
        } else {
            (0, 2)
        };
        assert_eq!((our_event.len(), our_proc.len()), want, "{scenario}");
    }
}

#[test]
fn monitoring_state_equals_flink_1_2s_own_but_for_the_time() {
    let Some(fx) = common::shared_fixtures() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let snapshot = fx.join(
        "flink-1.1/operator-snapshots/monitoring-function-migration-test-1482144479339-flink1.1-snapshot",
    );
    let vertex = savepointfs::ids::hex(&savepointfs::modern::operator_id_of_uid("monitoring"));
    let operator = format!("{vertex}/chain-0=monitoring-function");
    let args = ["--target", "flink-1.10", "--operator", &operator];
    let (out, vertex_dir) = wrap_and_convert(&snapshot, dir.path(), "monitoring", &args);
    let ours = std::fs::read(vertex_dir.join("subtask-0/chain-0/managed-operator-state")).unwrap();
    let twin = twin(&fx.join(
        "flink-1.2/operator-snapshots/monitoring-function-migration-test-1493116191000-flink1.2-snapshot",
    ));
    let (name, offsets, theirs) = twin.managed_operator.unwrap();
    assert_eq!(name, "file-monitoring-state");
    assert_eq!(offsets, [260], "operators.md §2.4");
    assert_eq!(ours.len(), theirs.len());
    assert_eq!(ours[..260], theirs[..260], "the header, every byte");
    // The times the two test runs recorded (in their file names).
    assert_eq!(ours[260..], 1482144479339i64.to_be_bytes());
    assert_eq!(theirs[260..], 1493116191000i64.to_be_bytes());
    // _metadata names the state and its offset.
    let metadata = std::fs::read(out.join("_metadata")).unwrap();
    let named = b"file-monitoring-state";
    assert!(metadata.windows(named.len()).any(|w| w == named));
}

#[test]
fn kafka_offsets_equal_flink_1_2s_own() {
    let Some(fx) = common::shared_fixtures() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let Some(snapshot) = common::kafka_snapshot(&fx, dir.path()) else {
        return;
    };
    let (out, vertex_dir) =
        wrap_and_convert(&snapshot, dir.path(), "kafka", &["--target", "flink-1.10"]);
    let ours = std::fs::read(vertex_dir.join("subtask-0/chain-0/managed-operator-state")).unwrap();
    let twin = twin(
        &fx.join("flink-1.2/operator-snapshots/kafka-consumer-migration-test-flink1.2-snapshot"),
    );
    let (name, offsets, theirs) = twin.managed_operator.unwrap();
    assert_eq!(
        (name.as_str(), &offsets[..]),
        ("_default_", &[155, 538][..])
    );
    // Every byte: the `_default_` header, then each Tuple2(partition, offset) stream.
    assert!(ours == theirs, "{} vs {} bytes", ours.len(), theirs.len());
    // _metadata names both elements' offsets, per operator (V2) and per chain (V1).
    let metadata = std::fs::read(out.join("_metadata")).unwrap();
    let v1 = dir.path().join("v1");
    let o = run(&[
        "convert",
        dir.path().join("kafka").to_str().unwrap(),
        v1.to_str().unwrap(),
        "--target",
        "flink-1.2",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for metadata in [metadata, std::fs::read(v1.join("_metadata")).unwrap()] {
        for o in &offsets {
            let o = (*o as i64).to_be_bytes();
            assert!(metadata.windows(8).any(|w| w == o), "offset {o:?}");
        }
    }
}

#[test]
fn aligned_windows_have_the_headers_flink_1_2_wrote_for_the_same_window_operator() {
    let Some(fx) = common::shared_fixtures() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    // The aligned operators record no serializer: `--window` names them, and the window
    // operator they become is the one Flink 1.2 wrote for the processing-time scenario
    // with the same function (reduce / apply over Tuple2<String, Integer> keyed by String).
    for (aligned, function, same) in [
        ("aggr-aligned", "reduce", "reduce-processing-time"),
        ("accum-aligned", "apply", "apply-processing-time"),
    ] {
        let vertex = savepointfs::ids::hex(&savepointfs::modern::operator_id_of_uid(aligned));
        let spec =
            format!("{vertex}/chain-0=tumbling:3000,{function},key=string,value=tuple2-string-int");
        let snapshot = fx
            .join("flink-1.1/operator-snapshots")
            .join(format!("win-op-migration-test-{aligned}-flink1.1-snapshot"));
        let args = ["--target", "flink-1.10", "--window", &spec];
        let (_, vertex_dir) = wrap_and_convert(&snapshot, dir.path(), aligned, &args);
        let ours = std::fs::read(vertex_dir.join("subtask-0/managed-keyed-state")).unwrap();
        let twin = twin(
            &fx.join("flink-1.2/operator-snapshots")
                .join(format!("win-op-migration-test-{same}-flink1.2-snapshot")),
        );
        let (theirs, header) = twin.managed_keyed.unwrap();
        let header = header as usize;
        assert_eq!(ours[..header], theirs[..header], "{aligned}: the header");
        // Then key group 0, state 0 with namespaces: one window (0, 3000) of two keys.
        let mut body = vec![0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1];
        body.extend(0i64.to_be_bytes());
        body.extend(3000i64.to_be_bytes());
        body.extend(2i32.to_be_bytes());
        assert_eq!(ours[header..header + body.len()], body[..], "{aligned}");
    }
}

#[test]
fn file_reader_splits_equal_flink_1_2s_own_given_its_modification_times() {
    use savepointfs::convert::file_reader;
    use savepointfs::source::{FileSource, Source, Span};
    let Some(fx) = common::shared_fixtures() else {
        return;
    };
    // The 1.1 snapshot's operator bytes, parsed as the conversion parses them.
    let path = fx.join("flink-1.1/operator-snapshots/reader-migration-test-flink1.1-snapshot");
    let source: std::sync::Arc<dyn Source> = std::sync::Arc::new(FileSource::open(&path).unwrap());
    let all = Span::new(0, source.len());
    let snapshot = savepointfs::v0::OperatorSnapshot::decode(source.clone(), all).unwrap();
    let savepointfs::v0::Bytes::Span(ops) = snapshot.entry.operator_state.unwrap().bytes() else {
        panic!("inline operator bytes");
    };
    let state = file_reader::parse(source, ops.start, ops.len).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let dir = || tmp.path();
    assert_eq!(state.pending.len(), 3);
    let mut splits = state.pending.clone();
    splits.extend(state.current.clone());
    // Flink 1.2's `splits`: the same header as ours, and each element is the split of
    // that number written with the time Flink 1.2 gave it (0, 10, 10, 11 there).
    let (out, _) = wrap_and_convert(&path, dir(), "reader", &["--target", "flink-1.10"]);
    let ours = std::fs::read(
        common::walk_files(&out)
            .into_iter()
            .find(|p| p.ends_with("chain-0/managed-operator-state"))
            .unwrap(),
    )
    .unwrap();
    let twin =
        twin(&fx.join("flink-1.2/operator-snapshots/reader-migration-test-flink1.2-snapshot"));
    let (name, offsets, stream) = twin.managed_operator.unwrap();
    assert_eq!(name, file_reader::READER_STATE);
    let header = offsets[0] as usize;
    assert_eq!(ours[..header], stream[..header], "the header");
    assert_eq!(ours.len(), stream.len(), "four splits of the same size");
    let mut ends = offsets[1..].to_vec();
    ends.push(stream.len() as u64);
    for (&at, &end) in offsets.iter().zip(&ends) {
        let theirs = &stream[at as usize..end as usize];
        let src: std::sync::Arc<dyn Source> =
            std::sync::Arc::new(savepointfs::source::MemSource::new("twin", theirs.to_vec()));
        let len = src.len();
        let g = savepointfs::javaser::parse_stream(src, 0, len, &Default::default()).unwrap();
        let o = g.object(g.roots().next().unwrap()).unwrap().unwrap();
        use savepointfs::javaser::Value;
        let (Some(Value::Int(number)), Some(Value::Long(time))) =
            (o.field("splitNumber"), o.field("modificationTime"))
        else {
            panic!("a twin split without its number or time");
        };
        let split = splits.iter().find(|s| s.number == number).unwrap();
        let ours = file_reader::split_stream(split, time, None).unwrap();
        assert!(ours == theirs, "split #{number} at mod time {time} differs");
    }
}

#[test]
fn bucketing_sink_state_is_written_as_flink_1_2_wrote_it() {
    use savepointfs::convert::rolling_sink::{self, Bucket};
    use savepointfs::javaser::{Graph, Value};
    use savepointfs::source::{MemSource, Source};
    let Some(fx) = common::shared_fixtures() else {
        return;
    };
    // Flink 1.2's BucketingSink state of its own test: its one bucket read back, then
    // written by us: every byte of the element, and the same header as our conversion.
    let twin = twin(
        &fx.join("flink-1.2/operator-snapshots/bucketing-sink-migration-test-flink1.2-snapshot"),
    );
    let (name, offsets, stream) = twin.managed_operator.unwrap();
    assert_eq!(
        (name.as_str(), offsets.len()),
        (rolling_sink::BUCKET_STATES, 1)
    );
    let theirs = &stream[offsets[0] as usize..];
    let src: std::sync::Arc<dyn Source> =
        std::sync::Arc::new(MemSource::new("twin", theirs.to_vec()));
    let len = src.len();
    let g = savepointfs::javaser::parse_stream(src, 0, len, &Default::default()).unwrap();
    let strings = |g: &Graph, v: Value| -> Vec<Option<String>> {
        let list = g.object(v).unwrap().unwrap();
        list.array_list_elements()
            .unwrap()
            .into_iter()
            .map(|s| g.string_value(s).unwrap())
            .collect()
    };
    let state = g.object(g.roots().next().unwrap()).unwrap().unwrap();
    let map = g
        .object(state.field("bucketStates").unwrap())
        .unwrap()
        .unwrap();
    let (dir, bs) = map.hash_map_entries().unwrap()[0];
    let dir = g.string_value(dir).unwrap().unwrap();
    let bs = g.object(bs).unwrap().unwrap();
    let per = g
        .object(bs.field("pendingFilesPerCheckpoint").unwrap())
        .unwrap()
        .unwrap();
    let Some(Value::Long(valid)) = bs.field("currentFileValidLength") else {
        panic!()
    };
    let bucket = Bucket {
        current_file: g.string_value(bs.field("currentFile").unwrap()).unwrap(),
        valid_length: valid,
        pending: strings(&g, bs.field("pendingFiles").unwrap()),
        per_checkpoint: per
            .hash_map_entries()
            .unwrap()
            .into_iter()
            .map(|(k, v)| {
                let Ok(Value::Long(id)) = g.object(k).unwrap().unwrap().boxed() else {
                    panic!()
                };
                (id, strings(&g, v))
            })
            .collect(),
        map_shape: (12, 16),
    };
    assert_eq!(
        bucket.directory().as_deref(),
        Some(dir.as_str()),
        "the bucket is the file's parent"
    );
    let ours = rolling_sink::element(&dir, &bucket).unwrap();
    assert!(
        ours == theirs,
        "the element differs ({} vs {} B)",
        ours.len(),
        theirs.len()
    );

    // Our conversion of Flink 1.1's RollingSink snapshot: the same header, one element.
    let snapshot =
        fx.join("flink-1.1/operator-snapshots/rolling-sink-migration-test-flink1.1-snapshot");
    let tmp = tempfile::tempdir().unwrap();
    let (out, _) = wrap_and_convert(
        &snapshot,
        tmp.path(),
        "rolling-sink",
        &["--target", "flink-1.10"],
    );
    let converted = std::fs::read(
        common::walk_files(&out)
            .into_iter()
            .find(|p| p.ends_with("chain-0/managed-operator-state"))
            .unwrap(),
    )
    .unwrap();
    let header = offsets[0] as usize;
    assert_eq!(converted[..header], stream[..header], "the header");
    // The same shape as the twin's: only the six paths (the bucket, the in-progress file
    // and four pending ones) are longer, by the difference of the two test directories.
    let ours_dir = "/var/folders/z5/fxvg1j6s6mn94nsf8b1yc8s80000gn/T/junit2927527303216950257/junit5645682027227039270/2017-01-09--18";
    let longer = 6 * (ours_dir.len() - dir.len());
    assert_eq!(converted.len() - header, theirs.len() + longer);
    let at = |b: &[u8], s: &str| b.windows(s.len()).filter(|w| *w == s.as_bytes()).count();
    assert_eq!(
        at(&converted, ours_dir),
        6,
        "every path in the fixture's bucket"
    );
}
