//! The independent cross-check: `scripts/crosscheck-javaobj` parses every Java stream of
//! the 1.1 fixtures with javaobj-py3 and compares it with `savepointfs dump --json`.
//! Without javaobj it skips loudly, except under CI=true, where it fails
//! (`pip install -r scripts/requirements-crosscheck.txt` provides it).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/crosscheck-javaobj")
}

/// Whether `python3` can import javaobj; skips (or fails in CI) when it cannot.
fn javaobj_available() -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import javaobj.v2.core"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            !std::env::var("CI").is_ok_and(|v| v == "true"),
            "CI=true but python3 cannot import javaobj: pip install -r scripts/requirements-crosscheck.txt"
        );
        eprintln!(
            "NOTICE: skipping the javaobj cross-check: python3 cannot import javaobj \
             (pip install -r scripts/requirements-crosscheck.txt)"
        );
    }
    ok
}

fn run(fixtures: &Path, extra: &[&str]) -> Output {
    Command::new("python3")
        .arg(script())
        .args(["--binary", env!("CARGO_BIN_EXE_savepointfs"), "--fixtures"])
        .arg(fixtures)
        .args(extra)
        .output()
        .expect("run python3")
}

fn show(out: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn every_fixture_stream_agrees_with_javaobj() {
    let Some(fx) = common::shared_fixtures() else {
        return;
    };
    if !javaobj_available() {
        return;
    }
    let out = run(&fx, &[]);
    assert!(out.status.success(), "{}", show(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    // `crosscheck: N streams, M values compared, D differences`
    let summary = stdout
        .lines()
        .find_map(|l| l.strip_prefix("crosscheck: "))
        .unwrap_or_else(|| panic!("no summary line\n{}", show(&out)));
    let numbers: Vec<u64> = summary
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|w| w.parse().ok())
        .collect();
    let [streams, values, differences] = numbers[..] else {
        panic!("summary {summary:?}");
    };
    // 11 operator snapshots, 16 subtask blobs, the 17 streams nested in their byte[]s, and
    // the 9 keyed-state files our writer produces for the savepoint.
    assert!(streams >= 11 + 16 + 17 + 9, "{summary}");
    assert!(values > 1000, "{summary}");
    assert_eq!(differences, 0, "{}", show(&out));
}

#[test]
fn the_crosscheck_reports_mutated_output() {
    let Some(fx) = common::shared_fixtures() else {
        return;
    };
    if !javaobj_available() {
        return;
    }
    let out = run(&fx, &["--self-test"]);
    assert!(out.status.success(), "{}", show(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    // `self-test: K mutations, K detected`, after one line per caught mutation.
    let last = stdout.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("self-test: ") && last.ends_with(" detected"),
        "{}",
        show(&out)
    );
    let numbers: Vec<u64> = last
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|w| w.parse().ok())
        .collect();
    assert_eq!(numbers.len(), 2, "{last}");
    assert!(
        numbers[0] >= 8,
        "every mutation kind must find a target: {last}"
    );
    assert_eq!(numbers[0], numbers[1], "{}", show(&out));
}
