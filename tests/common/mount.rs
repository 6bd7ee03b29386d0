//! Real FUSE mounts for end-to-end tests: a guard that always unmounts (even when the
//! test fails), and the loud skip when this machine cannot mount (a failure in CI).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_savepointfs")
}

fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// Skips loudly (or fails under CI=true) when `/dev/fuse` or `fusermount3` is unusable.
pub fn fuse_available() -> bool {
    let dev = Path::new("/dev/fuse").exists();
    let helper = Command::new("fusermount3").arg("-V").output().is_ok();
    // SAFETY: geteuid cannot fail.
    let root = unsafe { libc::geteuid() } == 0;
    let dev_usable = std::fs::File::options()
        .read(true)
        .write(true)
        .open("/dev/fuse")
        .is_ok();
    if dev && (dev_usable && root || helper) {
        return true;
    }
    let why = format!(
        "FUSE unusable here (/dev/fuse present: {dev}, openable: {dev_usable}, fusermount3: {helper})"
    );
    if ci() {
        panic!("CI=true but {why}");
    }
    eprintln!("NOTICE: skipping mount test: {why}");
    false
}

/// Java for the flinkcheck oracle, or a loud skip (a failure under CI=true).
pub fn flinkcheck() -> Option<PathBuf> {
    super::flink_tool("flinkcheck")
}

/// Runs `savepointfs ARGS`.
pub fn run(args: &[&str]) -> Output {
    Command::new(bin())
        .args(args)
        .output()
        .expect("run savepointfs")
}

/// A mounted savepoint in a fresh temporary directory; dropping it always unmounts.
pub struct Mounted {
    dir: tempfile::TempDir,
}

impl Mounted {
    /// `savepointfs mount SAVEPOINT DIR EXTRA...` (the daemon form); panics unless it
    /// exits 0 with the mount in place.
    pub fn new(savepoint: &Path, extra: &[&str]) -> Mounted {
        let m = Mounted::unmounted();
        let out = m.mount(savepoint, extra);
        assert!(
            out.status.success(),
            "mount failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(is_mounted(m.path()), "exit 0 but not in the mount table");
        m
    }

    /// A guard over an empty mount point (for tests that mount by other means).
    pub fn unmounted() -> Mounted {
        let dir = tempfile::Builder::new()
            .prefix("savepointfs-mnt")
            .tempdir()
            .expect("tempdir");
        Mounted { dir }
    }

    pub fn mount(&self, savepoint: &Path, extra: &[&str]) -> Output {
        let mut args = vec![
            "mount",
            savepoint.to_str().unwrap(),
            self.path().to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        let uids = super::uid_file(savepoint);
        if uids.is_file() {
            args.extend(["--uid-file", uids.to_str().unwrap()]);
        }
        run(&args)
    }

    /// The canonical mount point (what `_metadata` names by default).
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn uri(&self) -> String {
        format!("file:{}", self.path().canonicalize().unwrap().display())
    }
}

impl Drop for Mounted {
    fn drop(&mut self) {
        let p = self.path().to_path_buf();
        for _ in 0..3 {
            if !is_mounted(&p) {
                return;
            }
            let _ = Command::new("fusermount3")
                .args(["-u", "-z", "-q", "--"])
                .arg(&p)
                .output();
            if is_mounted(&p) {
                let _ = Command::new("umount").arg("-l").arg(&p).output();
            }
        }
        if is_mounted(&p) {
            eprintln!("WARNING: could not unmount {}", p.display());
        }
    }
}

/// Whether `path` is a mount point now (per /proc/self/mountinfo; never stats it).
pub fn is_mounted(path: &Path) -> bool {
    let want = path.to_str().unwrap().replace(' ', "\\040");
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .any(|l| l.split(' ').nth(4) == Some(want.as_str()))
}

/// The pid of the `savepointfs mount` process serving `mountpoint`.
pub fn daemon_pid(mountpoint: &Path) -> Option<i32> {
    let want = mountpoint.to_str()?;
    std::fs::read_dir("/proc").ok()?.flatten().find_map(|e| {
        let pid: i32 = e.file_name().to_str()?.parse().ok()?;
        let cmd = std::fs::read(e.path().join("cmdline")).ok()?;
        let args: Vec<&[u8]> = cmd.split(|&b| b == 0).collect();
        let ours = args.iter().any(|a| *a == b"mount")
            && args.contains(&want.as_bytes())
            && args.first().is_some_and(|a| a.ends_with(b"savepointfs"));
        let zombie = std::fs::read_to_string(e.path().join("stat"))
            .map(|s| {
                s.rsplit(')')
                    .next()
                    .unwrap_or("")
                    .trim_start()
                    .starts_with('Z')
            })
            .unwrap_or(true);
        (ours && !zombie).then_some(pid)
    })
}

pub fn alive(pid: i32) -> bool {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"));
    stat.is_ok_and(|s| {
        !s.rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z')
    })
}

/// Polls `f` every 10 ms until it holds or `limit` passes.
pub fn wait_until(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    f()
}

/// `savepointfs synth OUT ARGS...` into `dir`; returns the savepoint's path.
pub fn synth(dir: &Path, name: &str, args: &[&str]) -> PathBuf {
    let out = dir.join(name);
    let uids = super::uid_file(&out);
    let mut all = vec!["synth", out.to_str().unwrap()];
    all.extend_from_slice(args);
    all.extend(["--uid-file", uids.to_str().unwrap()]);
    let o = run(&all);
    assert!(
        o.status.success(),
        "synth: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    out
}

/// Every file and directory below `root`: relative path → (is_dir, size, inode).
pub fn walk(root: &Path) -> std::collections::BTreeMap<String, (bool, u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    let mut out = std::collections::BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let e = e.unwrap();
            let m = std::fs::symlink_metadata(e.path()).unwrap();
            let rel = e
                .path()
                .strip_prefix(root)
                .unwrap()
                .to_str()
                .unwrap()
                .to_string();
            if m.is_dir() {
                stack.push(e.path());
            }
            out.insert(rel, (m.is_dir(), m.len(), m.ino()));
        }
    }
    out
}

/// `getxattr(path, name)` as text.
pub fn xattr(p: &Path, name: &str) -> std::io::Result<String> {
    let c = std::ffi::CString::new(p.to_str().unwrap()).unwrap();
    let n = std::ffi::CString::new(name).unwrap();
    let mut buf = vec![0u8; 65536];
    // SAFETY: valid C strings and buffer.
    let r = unsafe { libc::getxattr(c.as_ptr(), n.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    if r < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(String::from_utf8_lossy(&buf[..r as usize]).into_owned())
}
