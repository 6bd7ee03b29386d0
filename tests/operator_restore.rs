//! Flink's own window migration tests, rerun in a real Flink 1.10.3 and 2.3.0 on our
//! conversion of Flink 1.1's operator snapshots (`scripts/flink-operator-check`,
//! operators.md §4): the restored windows fire at the test's watermarks (or at once, for
//! past processing timers) and emit exactly the test's records, on both state backends,
//! and on 2.3 after rescaling; aligned windows (given `--window`) fire as WindowOperators;
//! evicting windows keep their elements. The controls show the check would see a lost or
//! moved timer, a wrong value, and panes left where no later Flink reads them.

mod common;

use common::mount::{Mounted, fuse_available, run};
use common::operators::*;
use std::path::Path;
use std::process::Command;

const SCENARIOS: [&str; 5] = [
    "reduce-event-time",
    "apply-event-time",
    "reduce-processing-time",
    "apply-processing-time",
    // No state to carry (operators.md §4.1.6): merging sessions and the count trigger
    // work from a savepoint that holds none.
    "session-with-stateful-trigger-mint",
];

#[test]
fn flink_1_10_fires_restored_window_timers_on_the_heap_backend() {
    let Some(fx) = setup() else { return };
    let dir = tempfile::tempdir().unwrap();
    for scenario in SCENARIOS {
        let out = converted(&fx, dir.path(), scenario, &for_1_10("heap"), scenario);
        assert_ok(scenario, &out, "heap", F110);
    }
    // From the live mount too: the same files, converted on read.
    if fuse_available() {
        let sp = dir.path().join("reduce-event-time.savepoint");
        let m = Mounted::new(&sp, &["--target", "flink-1.10"]);
        assert_ok("reduce-event-time", m.path(), "heap", F110);
    }

    // Control 1: the timers lost (both counts zero, same length, as if nobody read them):
    // nothing fires at watermark 2999, nor ever.
    let lost = converted(
        &fx,
        dir.path(),
        "reduce-event-time",
        &for_1_10("heap"),
        "lost",
    );
    let raw = file_of(&lost, "raw-keyed-state");
    let mut bytes = std::fs::read(&raw).unwrap();
    let header = 4 + 2 + "window-timers".len() + 228 + 158;
    assert_eq!(
        &bytes[header..header + 4],
        &[0, 0, 0, 3],
        "three event timers"
    );
    bytes[header..].fill(0);
    std::fs::write(&raw, bytes).unwrap();
    assert_caught(
        "reduce-event-time",
        &lost,
        "heap",
        F110,
        "expected [(key1,3)@2999, (key2,3)@2999] at output 0, got [WM 2999",
    );

    // Control 1b: the generic recipe (`--operator generic`) leaves the timers in raw
    // operator state, which Flink 1.10's WindowOperator ignores: nothing fires at 2999.
    let generic = generic_recipe("reduce-event-time");
    let args = ["--target", "flink-1.10", "--operator", &generic];
    let out = converted(&fx, dir.path(), "reduce-event-time", &args, "generic");
    assert!(file_of(&out, "chain-0/operator-state").exists());
    assert_caught(
        "reduce-event-time",
        &out,
        "heap",
        F110,
        "expected [(key1,3)@2999, (key2,3)@2999] at output 0, got [WM 2999",
    );

    // Control 2: a window's value patched (key1's sum 3 → 7) is what comes out.
    let patched = converted(
        &fx,
        dir.path(),
        "reduce-event-time",
        &for_1_10("heap"),
        "patched",
    );
    // The value Tuple2("key1", 3): Flink's String (length + 1, then the chars), an int.
    patch(
        &file_of(&patched, "managed-keyed-state"),
        b"\x05key1\x00\x00\x00\x03",
        b"\x05key1\x00\x00\x00\x07",
    );
    assert_caught(
        "reduce-event-time",
        &patched,
        "heap",
        F110,
        "got [(key1,7)@2999, (key2,3)@2999]",
    );
}

#[test]
fn flink_1_10_fires_restored_window_timers_on_the_rocksdb_backend() {
    let Some(fx) = setup() else { return };
    let dir = tempfile::tempdir().unwrap();
    for scenario in SCENARIOS {
        let out = converted(&fx, dir.path(), scenario, &for_1_10("rocksdb"), scenario);
        assert_ok(scenario, &out, "rocksdb", F110);
    }
}

#[test]
fn flink_2_3_fires_restored_window_timers_on_both_backends() {
    let Some(fx) = setup() else { return };
    let dir = tempfile::tempdir().unwrap();
    for scenario in SCENARIOS {
        // One conversion for both backends: the canonical savepoint layout.
        let out = converted(
            &fx,
            dir.path(),
            scenario,
            &["--target", "flink-2.3"],
            scenario,
        );
        for backend in ["heap", "rocksdb"] {
            assert_ok(scenario, &out, backend, F23);
        }
    }

    // Control: key1's timer moved from 2999 to 6000 (the time is stored sign-flipped
    // before the key): its window is no longer due at its end, and never fires.
    let moved = converted(
        &fx,
        dir.path(),
        "reduce-event-time",
        &["--target", "flink-2.3"],
        "moved",
    );
    patch(
        &file_of(&moved, "managed-keyed-state-v6"),
        b"\x80\x00\x00\x00\x00\x00\x0b\xb7\x05key1",
        b"\x80\x00\x00\x00\x00\x00\x17\x70\x05key1",
    );
    assert_caught(
        "reduce-event-time",
        &moved,
        "heap",
        F23,
        "got [(key2,3)@2999, WM 2999]",
    );
}

#[test]
fn flink_2_3_fires_restored_window_timers_after_rescaling() {
    let Some(fx) = setup() else { return };
    let dir = tempfile::tempdir().unwrap();
    // Re-filed for 128 key groups over 2 subtasks: the timers go with their keys.
    let rescale = [
        "--target",
        "flink-2.3",
        "--max-parallelism",
        "128",
        "--parallelism",
        "2",
    ];
    let wide = [
        "--flink",
        "2.3",
        "--parallelism",
        "2",
        "--max-parallelism",
        "128",
    ];
    for scenario in ["reduce-event-time", "apply-processing-time"] {
        let out = converted(&fx, dir.path(), scenario, &rescale, scenario);
        assert_ok(scenario, &out, "rocksdb", &wide);
    }
    // Control: a re-filed window value patched comes out.
    let patched = converted(&fx, dir.path(), "reduce-event-time", &rescale, "patched");
    patch(
        &file_of(&patched, "managed-keyed-state-v6"),
        b"\x05key1\x00\x00\x00\x03",
        b"\x05key1\x00\x00\x00\x07",
    );
    let (code, text) = check("reduce-event-time", &patched, "rocksdb", &wide);
    assert_eq!(code, Some(3), "{text}");
    // (Records and watermarks compared apart: two subtasks.)
    assert!(
        text.contains("got [(key1,7)@2999, (key2,2)@5999, (key2,3)@2999]"),
        "{text}"
    );
}

/// `--window` for the aligned scenario's one chain entry: Flink's test ran it with 3 s
/// tumbling windows, String keys and `Tuple2<String, Integer>` elements (operators.md §4.2).
/// The `-sliding` scenarios read the same panes as 6 s windows sliding by 3 s.
fn window_spec(scenario: &str) -> String {
    let vertex = savepointfs::ids::hex(&savepointfs::modern::operator_id_of_uid(scenario));
    let function = match scenario.starts_with("aggr-aligned") {
        true => "reduce",
        false => "apply",
    };
    let assigner = match scenario.ends_with("-sliding") {
        true => "sliding:6000:3000",
        false => "tumbling:3000",
    };
    format!("{vertex}/chain-0={assigner},{function},key=string,value=tuple2-string-int")
}

#[test]
fn aligned_windows_restore_as_window_operators_on_every_target_and_backend() {
    let Some(fx) = setup() else { return };
    let dir = tempfile::tempdir().unwrap();
    for scenario in ["aggr-aligned", "accum-aligned"] {
        let spec = window_spec(scenario);
        for (layout, backend) in [("heap", "heap"), ("rocksdb", "rocksdb")] {
            let mut args = for_1_10(layout).to_vec();
            args.extend(["--window", &spec]);
            let out = converted(
                &fx,
                dir.path(),
                scenario,
                &args,
                &format!("{scenario}-{layout}-1.10"),
            );
            assert_ok(scenario, &out, backend, F110);
        }
        let args = ["--target", "flink-2.3", "--window", &spec];
        let out = converted(&fx, dir.path(), scenario, &args, &format!("{scenario}-2.3"));
        for backend in ["heap", "rocksdb"] {
            assert_ok(scenario, &out, backend, F23);
        }
    }
    // Sliding windows: the pane is in two windows still to fire, each with its timer.
    for scenario in ["aggr-aligned-sliding", "accum-aligned-sliding"] {
        let spec = window_spec(scenario);
        let mut args = for_1_10("heap").to_vec();
        args.extend(["--window", &spec]);
        let out = converted(
            &fx,
            dir.path(),
            scenario,
            &args,
            &format!("{scenario}-1.10"),
        );
        assert_ok(scenario, &out, "heap", F110);
        let args = ["--target", "flink-2.3", "--window", &spec];
        let out = converted(&fx, dir.path(), scenario, &args, &format!("{scenario}-2.3"));
        assert_ok(scenario, &out, "rocksdb", F23);
    }
    // From the live mount too, `--window` given to `mount`.
    if fuse_available() {
        let sp = dir.path().join("aggr-aligned.savepoint");
        let spec = window_spec("aggr-aligned");
        let m = Mounted::new(&sp, &["--target", "flink-2.3", "--window", &spec]);
        assert_ok("aggr-aligned", m.path(), "heap", F23);
    }
    // Re-filed for 128 key groups over 2 subtasks: the windows and timers go with their keys.
    let spec = window_spec("accum-aligned");
    let args = [
        "--target",
        "flink-2.3",
        "--window",
        &spec,
        "--max-parallelism",
        "128",
        "--parallelism",
        "2",
    ];
    let out = converted(&fx, dir.path(), "accum-aligned", &args, "rescaled");
    let wide = [
        "--flink",
        "2.3",
        "--parallelism",
        "2",
        "--max-parallelism",
        "128",
    ];
    assert_ok("accum-aligned", &out, "heap", &wide);

    // Control 1: a window's value patched (key2's sum 3 → 5) is what comes out.
    let spec = window_spec("aggr-aligned");
    let mut args = for_1_10("heap").to_vec();
    args.extend(["--window", &spec]);
    let patched = converted(&fx, dir.path(), "aggr-aligned", &args, "patched");
    patch(
        &file_of(&patched, "managed-keyed-state"),
        b"\x05key2\x00\x00\x00\x03",
        b"\x05key2\x00\x00\x00\x05",
    );
    assert_caught(
        "aggr-aligned",
        &patched,
        "heap",
        F110,
        "got [(key1,2)@2999, (key2,5)@2999]",
    );

    // Control 2: the generic recipe (the panes left in raw operator state, which the
    // WindowOperator ignores) restores an operator with no windows: nothing fires.
    let generic = converted(
        &fx,
        dir.path(),
        "aggr-aligned",
        &[
            "--target",
            "flink-1.10",
            "--operator",
            &generic_recipe("aggr-aligned"),
        ],
        "generic",
    );
    assert_nothing_comes_out("aggr-aligned", &generic);
}

#[test]
fn aligned_windows_are_refused_until_named_and_when_the_name_does_not_fit() {
    let Some(fx) = setup() else { return };
    let dir = tempfile::tempdir().unwrap();
    let snapshot = fx
        .join("flink-1.1/operator-snapshots/win-op-migration-test-aggr-aligned-flink1.1-snapshot");
    let sp = dir.path().join("aggr.savepoint");
    let w = run(&[
        "wrap",
        snapshot.to_str().unwrap(),
        sp.to_str().unwrap(),
        "--uid",
        "aggr-aligned",
    ]);
    assert!(w.status.success());
    let convert = |args: &[&str]| {
        let out = dir.path().join("out");
        let _ = std::fs::remove_dir_all(&out);
        let mut all = vec![
            "convert",
            sp.to_str().unwrap(),
            out.to_str().unwrap(),
            "--target",
            "flink-2.3",
        ];
        all.extend_from_slice(args);
        let c = run(&all);
        (
            c.status.code(),
            String::from_utf8_lossy(&c.stderr).to_string(),
        )
    };
    // Without --window: refused, saying how to name it.
    let (code, err) = convert(&[]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("its buffered panes") && err.contains("--window VERTEX/chain-K="),
        "{err}"
    );
    // The wrong function: the panes do not decode as lists, and the error says where.
    let spec = window_spec("aggr-aligned").replace("reduce", "apply");
    let (code, err) = convert(&["--window", &spec]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("aligned window operator (--window): ")
            && err.contains("aggr.savepoint (operator bytes at ")
            && err.contains("offset 32: pane 0 entry 0: its value"),
        "{err}"
    );
    // The wrong key type: a String's bytes read as a long leave bytes over.
    let spec = window_spec("aggr-aligned").replace("key=string", "key=long");
    let (code, err) = convert(&["--window", &spec]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("pane 0"), "{err}");
    // Named right: converted, nothing refused.
    let (code, err) = convert(&["--window", &window_spec("aggr-aligned")]);
    assert_eq!(code, Some(0), "{err}");
}

#[test]
fn evicting_windows_restore_with_their_elements_re_framed() {
    let Some(fx) = setup() else { return };
    let dir = tempfile::tempdir().unwrap();
    // No fixture holds an EvictingWindowOperator: the apply-event-time snapshot with its
    // element serializer in 1.1's StreamRecordSerializer (tests/common).
    let snapshot = dir.path().join("evicting-snapshot");
    common::evicting_snapshot(&fx, &snapshot);
    let sp = dir.path().join("evicting.savepoint");
    let uid = "apply-event-time-evicting";
    let w = run(&[
        "wrap",
        snapshot.to_str().unwrap(),
        sp.to_str().unwrap(),
        "--uid",
        uid,
    ]);
    assert!(w.status.success(), "{}", String::from_utf8_lossy(&w.stderr));
    let convert = |args: &[&str], name: &str| {
        let out = dir.path().join(name);
        let mut all = vec!["convert", sp.to_str().unwrap(), out.to_str().unwrap()];
        all.extend_from_slice(args);
        let c = run(&all);
        assert!(c.status.success(), "{}", String::from_utf8_lossy(&c.stderr));
        out
    };
    // Every element comes back (an evictor keeping 100 emits apply-event-time's sums),
    // and each is an element of its own (an evictor keeping the last 2 sums 2 of them).
    let runs = [
        (for_1_10("heap").to_vec(), "heap", F110),
        (for_1_10("rocksdb").to_vec(), "rocksdb", F110),
        (vec!["--target", "flink-2.3"], "heap", F23),
        (vec!["--target", "flink-2.3"], "rocksdb", F23),
    ];
    for (i, (args, backend, flink)) in runs.iter().enumerate() {
        let out = convert(args, &format!("out-{i}"));
        for scenario in [uid, "apply-event-time-evicting-2"] {
            let (code, text) = check(
                scenario,
                &out,
                backend,
                &[*flink, &["--uid", uid][..]].concat(),
            );
            assert_eq!(code, Some(0), "{scenario} {args:?} ({backend}):\n{text}");
        }
    }
    // Control: one element's tag patched from "no timestamp" (01) to "timestamp" (00):
    // Flink reads its value's bytes as a timestamp, and the window comes out wrong or
    // the restore fails.
    let patched = convert(&for_1_10("heap"), "patched");
    patch(
        &file_of(&patched, "managed-keyed-state"),
        b"\x01\x05key1\x00\x00\x00\x01",
        b"\x00\x05key1\x00\x00\x00\x01",
    );
    let (code, text) = check(uid, &patched, "heap", &["--flink", "1.10", "--uid", uid]);
    assert!(matches!(code, Some(2 | 3)), "{text}");
    // Views decode the re-framed elements.
    let out = dir.path().join("out-2");
    let view = common::walk_files(&out)
        .into_iter()
        .find(|p| p.ends_with("state/window-contents.jsonl"))
        .unwrap();
    let text = std::fs::read_to_string(view).unwrap();
    assert!(
        text.contains(r#""value":[["key1",1],["key1",1],["key1",1]]"#),
        "{text}"
    );
}

/// A canonical keyed stream's records after its header: (state id, key with its
/// last-in-state flag cleared, value), sorted (Flink writes them in hash-map order).
fn records(stream: &[u8], header: usize) -> Vec<(u16, Vec<u8>, Vec<u8>)> {
    let mut at = header;
    let mut take = |n: usize| {
        let s = &stream[at..at + n];
        at += n;
        s.to_vec()
    };
    let u32_of = |b: Vec<u8>| u32::from_be_bytes(b.try_into().unwrap()) as usize;
    let mut out = Vec::new();
    let mut state = u16::from_be_bytes(take(2).try_into().unwrap());
    while state != 0xFFFF {
        let klen = u32_of(take(4));
        let mut key = take(klen);
        let value = {
            let vlen = u32_of(take(4));
            take(vlen)
        };
        let last = key[0] & 0x80 != 0;
        key[0] &= 0x7F;
        out.push((state, key, value));
        if last {
            state = u16::from_be_bytes(take(2).try_into().unwrap());
        }
    }
    assert_eq!(at, stream.len(), "the end mark ends the stream");
    out.sort();
    out
}

#[test]
fn flink_2_3_writes_the_same_keyed_stream_for_the_same_window_job() {
    let Some(fx) = setup() else { return };
    let dir = tempfile::tempdir().unwrap();
    let ours = converted(
        &fx,
        dir.path(),
        "reduce-event-time",
        &["--target", "flink-2.3"],
        "ours",
    );
    let ours = std::fs::read(file_of(&ours, "managed-keyed-state-v6")).unwrap();
    // Flink 2.3 runs the 1.1 test's writer input (timers pending) and takes a savepoint.
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/flink-operator-check");
    let theirs = dir.path().join("theirs");
    let w = Command::new(script)
        .args([
            "--write",
            "reduce-event-time",
            theirs.to_str().unwrap(),
            "--flink",
            "2.3",
        ])
        .output()
        .unwrap();
    assert!(w.status.success(), "{}", String::from_utf8_lossy(&w.stdout));
    let metadata = common::walk_files(&theirs)
        .into_iter()
        .find(|p| p.ends_with("_metadata"))
        .unwrap();
    let metadata = std::fs::read(metadata).unwrap();
    // The state is small, so Flink keeps the stream inline: find it by its start, and
    // its length in the byte-stream handle before it.
    let start = metadata
        .windows(64)
        .position(|w| w == &ours[..64])
        .expect("a keyed stream that starts like ours");
    let len = u32::from_be_bytes(metadata[start - 4..start].try_into().unwrap()) as usize;
    let theirs = &metadata[start..start + len];
    assert_eq!(ours.len(), theirs.len());
    // The header ends after the last timer queue's window serializer snapshot.
    let last = b"TimeWindowSerializerSnapshot\x00\x00\x00\x03";
    let header = ours.windows(last.len()).rposition(|w| w == last).unwrap() + last.len();
    assert!(
        ours[..header] == theirs[..header],
        "the header, every byte (states, serializer snapshots, timer queues)"
    );
    let (ours, theirs) = (records(&ours, header), records(theirs, header));
    assert_eq!(ours, theirs, "the same records, window contents and timers");
    assert_eq!(
        ours.iter().filter(|r| r.0 == 2).count(),
        3,
        "three event timers"
    );
}
