//! Peak memory of whole commands on inputs built to blow it up. One test, alone in its
//! binary: a child's peak RSS (from wait4) starts from the test process's own, so
//! nothing else may run beside it.

mod cli_support;
mod common;

use cli_support::*;
use std::process::{Command, Stdio};

#[test]
fn memory_is_bounded_by_constants_not_by_input() {
    memory_stays_bounded_whatever_the_input_repeats();
    heap_state_in_the_rocksdb_layout_takes_bounded_memory();
}

/// Runs `savepointfs ARGS`, returning its exit code, stderr and peak RSS in KiB (of
/// that child alone, from wait4).
fn peak_rss(args: &[&str]) -> (Option<i32>, String, u64) {
    #[allow(clippy::zombie_processes)] // reaped by wait4 below, for its rusage
    let child = Command::new(BIN)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id() as libc::pid_t;
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.unwrap(), &mut err).unwrap();
    let mut status = 0;
    // SAFETY: zeroed rusage is valid; waiting for our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    assert_eq!(unsafe { libc::wait4(pid, &mut status, 0, &mut usage) }, pid);
    let code = libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status));
    (code, err, usage.ru_maxrss as u64)
}

/// Writes a Java stream holding one `Object[]` of `n` copies of `element`, in pieces:
/// the test process must stay small, since a spawned child's peak RSS starts from it.
fn object_array(path: &std::path::Path, n: usize, element: &[u8]) {
    use std::io::Write;
    let s = common::object_array_head(n);
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    f.write_all(&s).unwrap();
    for _ in 0..n {
        f.write_all(element).unwrap();
    }
    f.flush().unwrap();
}

/// Memory is bounded by a constant, not by what the input declares or repeats: the
/// decoded graph by `--graph-memory` (64 MiB of nulls took 1 GiB, 51 MiB of empty
/// strings 2.4 GiB), and `dump` writes as it walks (1 MiB of nulls took 1.5 GiB).
/// The bound is 48 MiB: the default 24 MiB graph plus the process itself.
fn memory_stays_bounded_whatever_the_input_repeats() {
    let dir = tempfile::tempdir().unwrap();
    let nulls = dir.path().join("nulls");
    let empties = dir.path().join("empties");
    let small = dir.path().join("small-nulls");
    object_array(&nulls, 64 << 20, &[0x70]);
    object_array(&empties, 17 << 20, &[0x74, 0, 0]);
    object_array(&small, 1 << 20, &[0x70]);
    for f in [&nulls, &empties] {
        let f = f.to_str().unwrap();
        for json in [false, true] {
            let mut args = vec!["dump", f];
            if json {
                args.push("--json");
            }
            let (code, err, kib) = peak_rss(&args);
            assert_eq!(code, Some(2), "{args:?}: {err}");
            assert!(
                err.contains("bytes of decoded graph") && err.contains("offset"),
                "{err}"
            );
            assert!(kib < 48 << 10, "{args:?}: peak RSS {kib} KiB");
        }
    }
    // Within the bound it decodes, and the output streams (28 MB of text).
    let s = small.to_str().unwrap();
    for args in [vec!["dump", s], vec!["dump", s, "--json"]] {
        let (code, err, kib) = peak_rss(&args);
        assert_eq!(code, Some(0), "{args:?}: {err}");
        assert!(kib < 48 << 10, "{args:?}: peak RSS {kib} KiB");
    }
    // The bound is the user's to raise: 4 Mi nulls need 64 MiB of graph.
    let mid = dir.path().join("mid-nulls");
    object_array(&mid, 4 << 20, &[0x70]);
    let m = mid.to_str().unwrap();
    let (code, err, _) = peak_rss(&["dump", m]);
    assert_eq!(code, Some(2), "{err}");
    let (code, err, _) = peak_rss(&["dump", m, "--graph-memory", "128MiB"]);
    assert_eq!(code, Some(0), "{err}");
}

/// Heap state in Flink 1.10's RocksDB layout is re-framed on read with memory bounded
/// by checkpoints, not held per entry (64 MiB of heap state took about 450 MiB; 256 MiB
/// took 1.86 GiB).
fn heap_state_in_the_rocksdb_layout_takes_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    let sp = common::mount::synth(
        dir.path(),
        "sp",
        &["--backend", "memory", "--state-bytes", "64MiB"],
    );
    let uids = common::uid_file(&sp);
    let (s, u) = (sp.to_str().unwrap(), uids.to_str().unwrap());
    let out = dir.path().join("out");
    let (code, err, kib) = peak_rss(&[
        "convert",
        s,
        out.to_str().unwrap(),
        "--minimal",
        "--target",
        "flink-1.10",
        "--keyed-layout",
        "rocksdb",
        "--uid-file",
        u,
    ]);
    assert_eq!(code, Some(0), "{err}");
    assert!(kib < 32 << 10, "peak RSS {kib} KiB");
    let keyed: u64 = common::walk_files(&out)
        .iter()
        .filter(|p| p.ends_with("managed-keyed-state"))
        .map(|p| std::fs::metadata(p).unwrap().len())
        .sum();
    assert!(keyed > 40 << 20, "{keyed} bytes of keyed state written");
}
