//! Running one of Flink's operator migration tests on a converted savepoint
//! (`scripts/flink-operator-check`): the conversions, the check and its controls, shared
//! by `tests/operator_restore.rs` (windows) and `tests/operator_files.rs` (sources and
//! sinks).
#![allow(dead_code)]

use super::mount::run;
use std::path::{Path, PathBuf};
use std::process::Command;

/// `wrap` the scenario's 1.1 snapshot (uid = scenario) and `convert` it into `dir/NAME`
/// with `args` (the target and its options).
pub fn converted(fx: &Path, dir: &Path, scenario: &str, args: &[&str], name: &str) -> PathBuf {
    let file = match scenario {
        MONITORING => "monitoring-function-migration-test-1482144479339-flink1.1-snapshot".into(),
        READER => "reader-migration-test-flink1.1-snapshot".into(),
        ROLLING_SINK => "rolling-sink-migration-test-flink1.1-snapshot".into(),
        // The aligned snapshots read as sliding windows are the same files.
        _ => format!(
            "win-op-migration-test-{}-flink1.1-snapshot",
            scenario.strip_suffix("-sliding").unwrap_or(scenario)
        ),
    };
    let snapshot = fx.join("flink-1.1/operator-snapshots").join(file);
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
    let mut all = vec!["convert", sp.to_str().unwrap(), out.to_str().unwrap()];
    all.extend_from_slice(args);
    let c = run(&all);
    assert!(c.status.success(), "{}", String::from_utf8_lossy(&c.stderr));
    out
}

/// The conversion for Flink 1.10 with the backend's keyed layout.
pub fn for_1_10(layout: &str) -> [&str; 4] {
    ["--target", "flink-1.10", "--keyed-layout", layout]
}

/// Runs the check on Flink `flink` (`--flink` and any options after it); (exit code,
/// its output).
pub fn check(scenario: &str, dir: &Path, backend: &str, flink: &[&str]) -> (Option<i32>, String) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/flink-operator-check");
    let out = Command::new(script)
        .args([scenario, dir.to_str().unwrap(), "--backend", backend])
        .args(flink)
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code(), text)
}

pub fn assert_ok(scenario: &str, dir: &Path, backend: &str, flink: &[&str]) {
    let (code, text) = check(scenario, dir, backend, flink);
    assert_eq!(code, Some(0), "{scenario} ({backend}):\n{text}");
    assert!(
        text.contains(&format!("OK {scenario} ({backend})")),
        "{text}"
    );
}

/// A control on Flink 1.10 whose state is lost: no record comes out, within 3 s (the
/// check waits that long, not its usual 30 s, for output that never comes).
pub fn assert_nothing_comes_out(scenario: &str, dir: &Path) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/flink-operator-check");
    let out = Command::new(script)
        .args([scenario, dir.to_str().unwrap(), "--flink", "1.10"])
        .env("OPERATOR_CHECK_WAIT_MS", "3000")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(3), "{text}");
    assert!(text.contains("at output 0, got []"), "{text}");
}

pub fn setup() -> Option<PathBuf> {
    let fx = super::shared_fixtures()?;
    super::flink_tool("flinkrestore")?;
    Some(fx)
}

pub fn patch(file: &Path, from: &[u8], to: &[u8]) {
    let mut bytes = std::fs::read(file).unwrap();
    let at = bytes
        .windows(from.len())
        .position(|w| w == from)
        .unwrap_or_else(|| panic!("{from:02x?} not in {}", file.display()));
    bytes[at..at + to.len()].copy_from_slice(to);
    std::fs::write(file, bytes).unwrap();
}

pub const MONITORING: &str = "monitoring-function";
pub const READER: &str = "reader";
pub const ROLLING_SINK: &str = "rolling-sink";
pub const F110: &[&str] = &["--flink", "1.10"];
pub const F23: &[&str] = &["--flink", "2.3"];

/// The single file of kind `kind` under `dir`.
pub fn file_of(dir: &Path, kind: &str) -> PathBuf {
    super::walk_files(dir)
        .into_iter()
        .find(|p| p.ends_with(format!("subtask-0/{kind}")))
        .unwrap_or_else(|| panic!("no {kind} in {}", dir.display()))
}

/// `--operator VERTEX/chain-0=generic` for the wrapped snapshot of `uid`: convert its one
/// entry by the generic recipe, whatever its state shows (the controls).
pub fn generic_recipe(uid: &str) -> String {
    let vertex = savepointfs::ids::hex(&savepointfs::modern::operator_id_of_uid(uid));
    format!("{vertex}/chain-0=generic")
}

/// A control: the check sees other output than the test's (exit 3), and says `what`.
pub fn assert_caught(scenario: &str, dir: &Path, backend: &str, flink: &[&str], what: &str) {
    let (code, text) = check(scenario, dir, backend, flink);
    assert_eq!(code, Some(3), "{text}");
    assert!(text.contains(what), "{text}");
}
