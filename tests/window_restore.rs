//! Flink's own window migration tests, rerun in a real Flink 1.10.3 on our conversion of
//! Flink 1.1's operator snapshots (`scripts/flink-operator-check`, operators.md §4.1): the
//! restored windows fire at the test's watermarks (or at once, for past processing
//! timers) and emit exactly the test's records, on both state backends. The controls show
//! the check would see a lost timer and a wrong value.

mod common;

use common::mount::{Mounted, fuse_available, run};
use std::path::{Path, PathBuf};
use std::process::Command;

const SCENARIOS: [&str; 4] = [
    "reduce-event-time",
    "apply-event-time",
    "reduce-processing-time",
    "apply-processing-time",
];

/// `wrap` the scenario's 1.1 snapshot (uid = scenario) and `convert` it for flink-1.10
/// into `dir/NAME`.
fn converted(fx: &Path, dir: &Path, scenario: &str, layout: &str, name: &str) -> PathBuf {
    let snapshot = fx.join(format!(
        "flink-1.1/operator-snapshots/win-op-migration-test-{scenario}-flink1.1-snapshot"
    ));
    let sp = dir.join(format!("{scenario}.savepoint"));
    if !sp.exists() {
        let w = run(&[
            "wrap",
            snapshot.to_str().unwrap(),
            sp.to_str().unwrap(),
            "--uid",
            scenario,
        ]);
        assert!(w.status.success(), "{}", String::from_utf8_lossy(&w.stderr));
    }
    let out = dir.join(name);
    let c = run(&[
        "convert",
        sp.to_str().unwrap(),
        out.to_str().unwrap(),
        "--target",
        "flink-1.10",
        "--keyed-layout",
        layout,
    ]);
    assert!(c.status.success(), "{}", String::from_utf8_lossy(&c.stderr));
    out
}

/// Runs the check; (exit code, its output).
fn check(scenario: &str, dir: &Path, backend: &str) -> (Option<i32>, String) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/flink-operator-check");
    let out = Command::new(script)
        .args([scenario, dir.to_str().unwrap(), "--backend", backend])
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code(), text)
}

fn assert_ok(scenario: &str, dir: &Path, backend: &str) {
    let (code, text) = check(scenario, dir, backend);
    assert_eq!(code, Some(0), "{scenario} ({backend}):\n{text}");
    assert!(
        text.contains(&format!("OK {scenario} ({backend})")),
        "{text}"
    );
}

fn setup() -> Option<PathBuf> {
    let fx = common::shared_fixtures()?;
    common::flink_tool("flinkrestore")?;
    Some(fx)
}

fn patch(file: &Path, from: &[u8], to: &[u8]) {
    let mut bytes = std::fs::read(file).unwrap();
    let at = bytes
        .windows(from.len())
        .position(|w| w == from)
        .unwrap_or_else(|| panic!("{from:02x?} not in {}", file.display()));
    bytes[at..at + to.len()].copy_from_slice(to);
    std::fs::write(file, bytes).unwrap();
}

#[test]
fn flink_1_10_fires_restored_window_timers_on_the_heap_backend() {
    let Some(fx) = setup() else { return };
    let dir = tempfile::tempdir().unwrap();
    for scenario in SCENARIOS {
        assert_ok(
            scenario,
            &converted(&fx, dir.path(), scenario, "heap", scenario),
            "heap",
        );
    }
    // From the live mount too: the same files, converted on read.
    if fuse_available() {
        let sp = dir.path().join("reduce-event-time.savepoint");
        let m = Mounted::new(&sp, &["--target", "flink-1.10"]);
        assert_ok("reduce-event-time", m.path(), "heap");
    }

    // Control 1: the timers lost (both counts zero, same length, as if nobody read them):
    // nothing fires at watermark 2999, nor ever.
    let lost = converted(&fx, dir.path(), "reduce-event-time", "heap", "lost");
    let raw = common::walk_files(&lost)
        .into_iter()
        .find(|p| p.ends_with("subtask-0/raw-keyed-state"))
        .unwrap();
    let mut bytes = std::fs::read(&raw).unwrap();
    let header = 4 + 2 + "window-timers".len() + 228 + 158;
    assert_eq!(
        &bytes[header..header + 4],
        &[0, 0, 0, 3],
        "three event timers"
    );
    bytes[header..].fill(0);
    std::fs::write(&raw, bytes).unwrap();
    let (code, text) = check("reduce-event-time", &lost, "heap");
    assert_eq!(code, Some(3), "{text}");
    assert!(
        text.contains("expected [(key1,3)@2999, (key2,3)@2999] at output 0, got [WM 2999"),
        "{text}"
    );

    // Control 2: a window's value patched (key1's sum 3 → 7) is what comes out.
    let patched = converted(&fx, dir.path(), "reduce-event-time", "heap", "patched");
    let keyed = common::walk_files(&patched)
        .into_iter()
        .find(|p| p.ends_with("subtask-0/managed-keyed-state"))
        .unwrap();
    // The value Tuple2("key1", 3): Flink's String (length + 1, then the chars), an int.
    patch(
        &keyed,
        b"\x05key1\x00\x00\x00\x03",
        b"\x05key1\x00\x00\x00\x07",
    );
    let (code, text) = check("reduce-event-time", &patched, "heap");
    assert_eq!(code, Some(3), "{text}");
    assert!(
        text.contains("got [(key1,7)@2999, (key2,3)@2999]"),
        "{text}"
    );
}

#[test]
fn flink_1_10_fires_restored_window_timers_on_the_rocksdb_backend() {
    let Some(fx) = setup() else { return };
    let dir = tempfile::tempdir().unwrap();
    for scenario in SCENARIOS {
        assert_ok(
            scenario,
            &converted(&fx, dir.path(), scenario, "rocksdb", scenario),
            "rocksdb",
        );
    }
}
