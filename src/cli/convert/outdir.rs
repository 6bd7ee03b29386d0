//! OUTDIR: refusing to clobber, the hidden temporary sibling the tree is written into,
//! removing those left by killed runs, and the final (atomic) rename into place.

use super::{ConvertArgs, io_failure};
use crate::cli::Failure;
use std::ffi::CString;
use std::fs::{self, File};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

pub const TMP_TAG: &str = "savepointfs-tmp-";
const OLD_TAG: &str = "savepointfs-old-";

/// OUTDIR, made absolute, and where its siblings go.
pub struct Target {
    pub abs: PathBuf,
    parent: PathBuf,
    name: String,
}

impl Target {
    pub fn new(outdir: &Path) -> Result<Target, Failure> {
        let abs = std::path::absolute(outdir).map_err(|e| io_failure(outdir, e))?;
        let (Some(parent), Some(name)) = (abs.parent(), abs.file_name()) else {
            return Err(Failure::other(format!(
                "{}: OUTDIR must name a directory to create (not / or ..)",
                outdir.display()
            )));
        };
        fs::create_dir_all(parent).map_err(|e| io_failure(parent, e))?;
        Ok(Target {
            parent: parent.to_path_buf(),
            name: name.to_string_lossy().into_owned(),
            abs,
        })
    }

    /// Refuses to start when the file system OUTDIR goes on has less room than the
    /// files need (rounded up to 4 KiB blocks): a tree of sparse or huge external
    /// files would otherwise fill the disk and fail half-way.
    pub fn check_free_space(&self, files: impl Iterator<Item = u64>) -> Result<(), Failure> {
        let needed: u64 = files.map(|n| n.div_ceil(4096).saturating_mul(4096)).sum();
        let c = CString::new(self.parent.as_os_str().as_bytes())
            .map_err(|e| Failure::other(format!("{}: {e}", self.parent.display())))?;
        // SAFETY: `c` is a valid C string and `st` a valid out-buffer.
        let free = unsafe {
            let mut st: libc::statvfs = std::mem::zeroed();
            if libc::statvfs(c.as_ptr(), &mut st) != 0 {
                return Err(io_failure(&self.parent, io::Error::last_os_error()));
            }
            (st.f_bavail as u64).saturating_mul(st.f_frsize as u64)
        };
        if needed > free {
            return Err(Failure::other(format!(
                "{}: the converted tree needs {needed} bytes but its file system has {free} \
                 free; nothing was written (convert with --minimal to write only what \
                 _metadata names, or to a larger file system)",
                self.abs.display()
            )));
        }
        Ok(())
    }

    /// `.NAME.<tag><pid>` next to OUTDIR.
    pub fn sibling(&self, tag: &str) -> PathBuf {
        self.parent
            .join(format!(".{}.{tag}{}", self.name, std::process::id()))
    }

    /// Refuses a non-empty OUTDIR without --force, anything that is not a directory,
    /// and (even with --force) a directory holding the savepoint or its external state.
    pub fn check_replaceable(&self, args: &ConvertArgs) -> Result<(), Failure> {
        let meta = match fs::symlink_metadata(&self.abs) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(io_failure(&self.abs, e)),
            Ok(m) => m,
        };
        let shown = args.outdir.display();
        if meta.file_type().is_symlink() {
            return Err(Failure::input(format!(
                "{shown}: is a symbolic link; give the directory it points to"
            )));
        }
        if !meta.is_dir() {
            return Err(Failure::input(format!(
                "{shown}: exists and is not a directory"
            )));
        }
        let empty = fs::read_dir(&self.abs)
            .map_err(|e| io_failure(&self.abs, e))?
            .next()
            .is_none();
        if empty {
            return Ok(());
        }
        if !args.force {
            return Err(Failure::input(format!(
                "{shown}: exists and is not empty; use --force to replace it"
            )));
        }
        let canonical = self
            .abs
            .canonicalize()
            .map_err(|e| io_failure(&self.abs, e))?;
        let savepoint_dir = args
            .tree
            .savepoint
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let precious = std::iter::once(args.tree.savepoint.as_path())
            .chain(args.tree.allow_roots.iter().map(PathBuf::as_path))
            .chain(args.tree.allow_roots.is_empty().then_some(savepoint_dir));
        for p in precious {
            if p.canonicalize().is_ok_and(|c| c.starts_with(&canonical)) {
                return Err(Failure::input(format!(
                    "{shown}: refusing to replace it: it holds {}, which the conversion reads",
                    p.display()
                )));
            }
        }
        Ok(())
    }

    /// Removes temporary siblings left by runs that no longer exist.
    pub fn remove_stale(&self) {
        let Ok(entries) = fs::read_dir(&self.parent) else {
            return;
        };
        let prefix = format!(".{}.", self.name);
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let Some(rest) = name.strip_prefix(&prefix) else {
                continue;
            };
            let pid = [TMP_TAG, OLD_TAG]
                .iter()
                .find_map(|tag| rest.strip_prefix(tag))
                .and_then(|p| p.parse::<i32>().ok());
            if pid.is_some_and(|p| p > 0 && !process_alive(p)) {
                match fs::remove_dir_all(e.path()) {
                    Ok(()) => eprintln!(
                        "savepointfs: removed {}, left by an interrupted run",
                        e.path().display()
                    ),
                    Err(err) => eprintln!(
                        "savepointfs: cannot remove stale {}: {err}",
                        e.path().display()
                    ),
                }
            }
        }
    }

    /// Puts the finished tree at OUTDIR and syncs the parent directory.
    pub fn replace_with(&self, tmp: &Path) -> io::Result<()> {
        match fs::rename(tmp, &self.abs) {
            Ok(()) => {}
            // A non-empty OUTDIR (--force): swap the two, then drop the old one.
            Err(e)
                if e.raw_os_error() == Some(libc::ENOTEMPTY)
                    || e.raw_os_error() == Some(libc::EEXIST) =>
            {
                match exchange(tmp, &self.abs) {
                    Ok(()) => fs::remove_dir_all(tmp)?,
                    // No RENAME_EXCHANGE on this file system: move the old one aside.
                    Err(x) if matches!(x.raw_os_error(), Some(libc::EINVAL | libc::ENOSYS)) => {
                        let old = self.sibling(OLD_TAG);
                        fs::rename(&self.abs, &old)?;
                        fs::rename(tmp, &self.abs)?;
                        fs::remove_dir_all(&old)?;
                    }
                    Err(x) => return Err(x),
                }
            }
            Err(e) => return Err(e),
        }
        File::open(&self.parent)?.sync_all()
    }
}

/// Atomically exchanges two paths (Linux `renameat2(RENAME_EXCHANGE)`).
fn exchange(a: &Path, b: &Path) -> io::Result<()> {
    let c = |p: &Path| {
        CString::new(p.as_os_str().as_bytes())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains NUL"))
    };
    let (a, b) = (c(a)?, c(b)?);
    // SAFETY: both are valid NUL-terminated paths; AT_FDCWD resolves them as given.
    let r = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            a.as_ptr(),
            libc::AT_FDCWD,
            b.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

fn process_alive(pid: i32) -> bool {
    // SAFETY: signal 0 only checks that the process exists.
    let r = unsafe { libc::kill(pid, 0) };
    r == 0 || io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(dir: &Path, name: &str) -> Target {
        match Target::new(&dir.join(name)) {
            Ok(t) => t,
            Err(f) => panic!("{}", f.message),
        }
    }

    #[test]
    fn removes_only_its_own_leftovers_of_dead_runs() {
        let dir = tempfile::tempdir().unwrap();
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead = child.id();
        child.wait().unwrap();
        let alive = std::process::id();
        let mk = |n: String| {
            fs::create_dir(dir.path().join(&n)).unwrap();
            fs::write(dir.path().join(&n).join("f"), b"x").unwrap();
            dir.path().join(n)
        };
        let stale = mk(format!(".out.{TMP_TAG}{dead}"));
        let stale_old = mk(format!(".out.{OLD_TAG}{dead}"));
        let running = mk(format!(".out.{TMP_TAG}{alive}"));
        let other = mk(format!(".other.{TMP_TAG}{dead}"));
        target(dir.path(), "out").remove_stale();
        assert!(!stale.exists() && !stale_old.exists());
        assert!(running.exists(), "a live run's directory stays");
        assert!(other.exists(), "another OUTDIR's directory stays");
    }

    #[test]
    fn replaces_missing_empty_and_full_directories() {
        let dir = tempfile::tempdir().unwrap();
        for existing in [None, Some(false), Some(true)] {
            let t = target(dir.path(), "out");
            let _ = fs::remove_dir_all(&t.abs);
            if let Some(full) = existing {
                fs::create_dir(&t.abs).unwrap();
                if full {
                    fs::write(t.abs.join("old"), b"old").unwrap();
                }
            }
            let tmp = t.sibling(TMP_TAG);
            fs::create_dir(&tmp).unwrap();
            fs::write(tmp.join("new"), b"new").unwrap();
            t.replace_with(&tmp).unwrap();
            assert!(!tmp.exists(), "{existing:?}");
            assert_eq!(fs::read(t.abs.join("new")).unwrap(), b"new");
            assert!(!t.abs.join("old").exists(), "{existing:?}");
        }
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["out"], "no siblings left");
    }
}
