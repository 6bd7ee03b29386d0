//! Regression tests for hostile and unlucky inputs found by trying the product as an
//! attacker would: none may hang, block or read outside what the user allowed.

mod cli_support;

use cli_support::*;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Every command given a FIFO as the savepoint fails at once with "not a regular file"
/// (it used to block in `open()` forever, waiting for a writer).
#[test]
fn a_fifo_as_the_savepoint_fails_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("savepoint");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: a valid C string.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let f = fifo.to_str().unwrap();
    let out = dir.path().join("out");
    let mnt = dir.path().join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    for args in [
        vec!["inspect", f],
        vec!["ls", f],
        vec!["cat", f, "_metadata"],
        vec!["convert", f, out.to_str().unwrap()],
        vec!["verify", f],
        vec!["dump", f],
        vec!["mount", f, mnt.to_str().unwrap()],
    ] {
        let start = Instant::now();
        let mut child = Command::new(BIN)
            .args(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let status = loop {
            if let Some(s) = child.try_wait().unwrap() {
                break s;
            }
            if start.elapsed() > Duration::from_secs(10) {
                child.kill().unwrap();
                panic!("{args:?} blocked on a FIFO");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut err = String::new();
        std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
        assert_eq!(status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains("not a regular file"), "{args:?}: {err}");
    }
}
