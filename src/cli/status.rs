//! `savepointfs status MOUNTPOINT`: is a mount alive, dead or absent?
//!
//! The kernel keeps answering `stat` and lookups of a mount whose daemon was killed
//! from its caches (entries live 24 h), so a plain `ls` cannot tell a dead mount from a
//! live one. `statfs` always reaches the daemon: it is the probe here, bounded by a
//! timeout so that a wedged daemon is reported too, not waited for.

use super::mount::absolute_unresolved;
use super::{CliResult, Failure};
use savepointfs::text::escape_controls;
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(clap::Args)]
pub struct StatusArgs {
    /// The mount point to check.
    pub mountpoint: PathBuf,
}

/// statfs `f_type` of every FUSE mount.
const FUSE_SUPER_MAGIC: i64 = 0x6573_5546;
/// The FUSE root inode number, as `stat` shows it.
const FUSE_ROOT_ID: u64 = 1;
/// How long a live daemon may take to answer `statfs`.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(5);
/// Exit status of a mount that is there but does not answer (dead or wedged).
const EXIT_DEAD: i32 = 3;

/// Exit 0 and one line when the mount answers; 1 when nothing is mounted there; 3 when
/// a FUSE mount is there but its daemon is gone or does not answer.
pub fn run(args: StatusArgs) -> CliResult {
    let path = absolute_unresolved(&args.mountpoint)?;
    let shown = escape_controls(&path.display().to_string()).into_owned();
    let Some((fstype, source)) = mount_row(&path) else {
        return Err(Failure::other(format!("{shown}: not mounted")));
    };
    let source = escape_controls(&String::from_utf8_lossy(&source)).into_owned();
    if !fstype.starts_with("fuse") {
        return Err(Failure::other(format!(
            "{shown}: a {fstype} mount, not FUSE"
        )));
    }
    let (tx, rx) = std::sync::mpsc::channel();
    let p = path.clone();
    std::thread::spawn(move || {
        let _ = tx.send(probe(&p));
    });
    let dead = |why: String| Failure {
        message: format!(
            "{shown}: dead {fstype} mount of {source} ({why}); `savepointfs umount {shown}` removes it"
        ),
        code: EXIT_DEAD,
    };
    match rx.recv_timeout(ANSWER_TIMEOUT) {
        Ok(Ok(())) => {
            println!("{shown}: alive ({fstype} mount of {source})");
            Ok(())
        }
        Ok(Err(why)) => Err(dead(why)),
        Err(_) => Err(dead(format!(
            "no answer to statfs within {ANSWER_TIMEOUT:?}"
        ))),
    }
}

pub(super) fn probe(path: &Path) -> Result<(), String> {
    let c = CString::new(path.as_os_str().as_bytes()).map_err(|e| e.to_string())?;
    // SAFETY: `c` is a valid C string; `st` a valid out-buffer.
    let f_type = unsafe {
        let mut st: libc::statfs = std::mem::zeroed();
        if libc::statfs(c.as_ptr(), &mut st) != 0 {
            return Err(format!("statfs: {}", std::io::Error::last_os_error()));
        }
        st.f_type as i64
    };
    if f_type != FUSE_SUPER_MAGIC {
        return Err(format!(
            "statfs shows file system type {f_type:#x}, not FUSE"
        ));
    }
    let ino = std::os::unix::fs::MetadataExt::ino(
        &std::fs::metadata(path).map_err(|e| format!("stat: {e}"))?,
    );
    if ino != FUSE_ROOT_ID {
        return Err(format!("stat shows inode {ino}, not the FUSE root"));
    }
    Ok(())
}

/// The file system type mounted exactly at `path`, per /proc/self/mountinfo.
pub(super) fn mount_entry(path: &Path) -> Option<String> {
    mount_row(path).map(|(fstype, _)| fstype)
}

/// The type and source (`fsname`) of the newest mount exactly at `path`.
fn mount_row(path: &Path) -> Option<(String, Vec<u8>)> {
    let table = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    let want = path.as_os_str().as_bytes();
    table.lines().rev().find_map(|line| {
        let mut fields = line.split(' ');
        let point = fields.nth(4)?;
        let mut tail = line.split(" - ").nth(1)?.split(' ');
        let fstype = tail.next()?;
        let source = tail.next().unwrap_or("");
        (unescape_mountinfo(point) == want)
            .then(|| (fstype.to_string(), unescape_mountinfo(source)))
    })
}

/// mountinfo writes space, tab, newline and backslash as `\ooo`.
fn unescape_mountinfo(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let octal = b
            .get(i + 1..i + 4)
            .filter(|d| d.iter().all(|c| (b'0'..=b'7').contains(c)));
        match (b[i], octal) {
            (b'\\', Some(d)) => {
                out.push((d[0] - b'0') * 64 + (d[1] - b'0') * 8 + (d[2] - b'0'));
                i += 4;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mountinfo_escapes() {
        assert_eq!(
            unescape_mountinfo(r"/mnt/a\040b\134c"),
            b"/mnt/a b\\c".to_vec()
        );
        assert_eq!(unescape_mountinfo(r"/x\04"), b"/x\\04".to_vec());
    }

    #[test]
    fn root_of_the_file_system_is_a_mount() {
        assert!(mount_entry(Path::new("/")).is_some());
        assert!(mount_entry(Path::new("/surely/not/a/mount/point")).is_none());
    }
}
