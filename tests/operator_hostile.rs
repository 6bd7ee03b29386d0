//! The built-in operators' own parsers against hostile input (aligned window panes, the
//! file reader's interleaved stream, RollingSink buckets): every single-byte change of
//! the wrapped 1.1 snapshots, converted for every target through the whole tree (every
//! file listed and read), gives files or errors, never a panic or a hang.

mod common;

use savepointfs::convert::aligned::WindowSpec;
use savepointfs::convert::{ExternalPolicy, Target};
use savepointfs::source::{MemSource, Source};
use savepointfs::tree::{ROOT, Tree, TreeOptions};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Opens the tree of `bytes` for `target` (aligned windows named as Flink's test ran
/// them) and reads every file; how many files read and how many refused.
fn convert_all(
    bytes: &[u8],
    target: Target,
    windows: &savepointfs::convert::WindowSpecs,
) -> (usize, usize) {
    let source: Arc<dyn Source> = Arc::new(MemSource::new("mutant", bytes.to_vec()));
    let opts = TreeOptions {
        cache_bytes: 1 << 20,
        metadata_root: "file:/mnt/sp".into(),
        policy: ExternalPolicy::default(),
        target,
        keyed_layout: None,
        key_serializer: None,
        rocksdb_namespaces: Vec::new(),
        relative_paths: false,
        operator_ids: Default::default(),
        operators: Default::default(),
        windows: windows.clone(),
        forms: savepointfs::tree::Forms::All,
        rescale: Default::default(),
        spill_dir: std::env::temp_dir(),
    };
    let Ok(tree) = Tree::open(source, opts) else {
        return (0, 1);
    };
    let (mut read, mut refused) = (0, 0);
    let mut stack = vec![ROOT];
    while let Some(ino) = stack.pop() {
        let Ok(children) = tree.children(ino) else {
            refused += 1;
            continue;
        };
        for e in children {
            if e.is_dir {
                stack.push(e.ino);
                continue;
            }
            match tree.open_file(e.ino) {
                Ok(f) => {
                    let mut b = vec![0u8; f.stream.len().min(1 << 20) as usize];
                    match f.stream.read_at(0, &mut b) {
                        Ok(()) => read += 1,
                        Err(_) => refused += 1,
                    }
                }
                Err(_) => refused += 1,
            }
        }
    }
    (read, refused)
}

#[test]
fn every_byte_changed_in_the_operators_state_gives_files_or_errors() {
    let Some(fx) = common::shared_fixtures() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let snapshots = fx.join("flink-1.1/operator-snapshots");
    for (name, uid, window) in [
        (
            "win-op-migration-test-aggr-aligned-flink1.1-snapshot",
            "aggr-aligned",
            Some("reduce"),
        ),
        (
            "win-op-migration-test-accum-aligned-flink1.1-snapshot",
            "accum-aligned",
            Some("apply"),
        ),
        ("reader-migration-test-flink1.1-snapshot", "reader", None),
        (
            "rolling-sink-migration-test-flink1.1-snapshot",
            "rolling-sink",
            None,
        ),
    ] {
        let sp = dir.path().join(uid);
        let w = common::mount::run(&[
            "wrap",
            snapshots.join(name).to_str().unwrap(),
            sp.to_str().unwrap(),
            "--uid",
            uid,
        ]);
        assert!(w.status.success());
        let bytes = std::fs::read(&sp).unwrap();
        let vertex = savepointfs::modern::operator_id_of_uid(uid);
        let mut windows = savepointfs::convert::WindowSpecs::new();
        if let Some(f) = window {
            let spec = WindowSpec::parse(&format!(
                "tumbling:3000,{f},key=string,value=tuple2-string-int"
            ))
            .unwrap();
            windows.insert((vertex, 0), spec);
        }
        // The unchanged savepoint converts on every target that has the operator. Flink
        // 2.3 has no BucketingSink: its file is refused (shown with every form), and on
        // that target so is the `_metadata` naming it.
        for target in [Target::Flink23, Target::Flink110] {
            let (read, refused) = convert_all(&bytes, target, &windows);
            assert!(read > 0, "{uid} {target:?}");
            let expected = match (uid, target) {
                ("rolling-sink", Target::Flink23) => 2,
                ("rolling-sink", _) => 1,
                _ => 0,
            };
            assert_eq!(refused, expected, "{uid} {target:?}");
        }
        // Every byte changed (its bits flipped in turn), on a modern and a native target.
        let (mut files, mut errors, mut slowest) = (0, 0, Duration::ZERO);
        for at in 0..bytes.len() {
            let mut m = bytes.clone();
            m[at] ^= 1 << (at % 8);
            for target in [Target::Flink23, Target::Flink110] {
                let t = Instant::now();
                let (read, refused) = convert_all(&m, target, &windows);
                slowest = slowest.max(t.elapsed());
                files += read;
                errors += refused;
            }
        }
        eprintln!(
            "{uid}: {} mutants, {files} files read, {errors} refused; slowest {slowest:?}",
            bytes.len()
        );
        assert!(slowest < Duration::from_secs(2), "{uid}: {slowest:?}");
    }
}
