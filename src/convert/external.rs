//! External state files are named by untrusted strings inside the savepoint. Before any
//! is read it is rewritten by `--map`, resolved (symlinks too) and confined to the
//! allowed roots, then opened once through a path with no symlinks, never blocking, and
//! checked as an open regular file; every read goes to that descriptor, so swapping the
//! file or a directory on its path afterwards changes nothing we serve.

use crate::source::Source;
use crate::v0::ExternalPath;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// Why an external state file cannot be served.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ExternalProblem {
    #[error("{path} is outside the allowed roots ({roots}); add --allow-root to serve it")]
    NotAllowed { path: String, roots: String },
    #[error("{uri} is not a local file (no --map PREFIX=DIR matches it)")]
    NotLocal { uri: String },
    #[error("{path}: {reason}")]
    Unreadable { path: String, reason: String },
}

/// `--map` and `--allow-root`: where external state may come from.
#[derive(Clone, Debug, Default)]
pub struct ExternalPolicy {
    /// (URI or path prefix, local directory), tried in order.
    pub maps: Vec<(String, PathBuf)>,
    /// Canonical directories external files must resolve into.
    pub allowed_roots: Vec<PathBuf>,
}

impl ExternalPolicy {
    /// A policy whose roots are canonicalised now (a root that does not exist is an error).
    pub fn new(maps: Vec<(String, PathBuf)>, roots: &[PathBuf]) -> io::Result<Self> {
        let allowed_roots = roots
            .iter()
            .map(|r| {
                r.canonicalize().map_err(|e| {
                    io::Error::new(e.kind(), format!("allowed root {}: {e}", r.display()))
                })
            })
            .collect::<io::Result<_>>()?;
        Ok(ExternalPolicy {
            maps,
            allowed_roots,
        })
    }

    /// Parses `PREFIX=DIR`.
    pub fn parse_map(s: &str) -> Result<(String, PathBuf), String> {
        match s.split_once('=') {
            Some((prefix, dir)) if !prefix.is_empty() && !dir.is_empty() => {
                Ok((prefix.to_string(), PathBuf::from(dir)))
            }
            _ => Err(format!("--map wants PREFIX=DIR, got {s:?}")),
        }
    }

    /// The local candidate for an external location, after `--map`.
    fn candidate(&self, ext: &ExternalPath) -> Result<PathBuf, ExternalProblem> {
        for (prefix, dir) in &self.maps {
            for form in [&ext.uri, &ext.display] {
                // Whole path components only: `file:/data` maps `file:/data/x`, not
                // `file:/database/x`.
                let rest = form
                    .strip_prefix(prefix.as_str())
                    .filter(|r| r.is_empty() || r.starts_with('/') || prefix.ends_with('/'));
                if let Some(rest) = rest {
                    return Ok(dir.join(rest.trim_start_matches('/')));
                }
            }
        }
        ext.local.clone().ok_or_else(|| ExternalProblem::NotLocal {
            uri: ext.uri.clone(),
        })
    }

    /// Resolves, confines and measures an external file.
    pub fn resolve(&self, ext: &ExternalPath) -> Result<ExternalFile, ExternalProblem> {
        let candidate = self.candidate(ext)?;
        let unreadable = |reason: String| ExternalProblem::Unreadable {
            path: candidate.display().to_string(),
            reason,
        };
        let canonical = candidate
            .canonicalize()
            .map_err(|e| unreadable(e.to_string()))?;
        if !self
            .allowed_roots
            .iter()
            .any(|root| canonical.starts_with(root))
        {
            let roots = self
                .allowed_roots
                .iter()
                .map(|r| r.display().to_string())
                .collect::<Vec<_>>()
                .join(", ");
            return Err(ExternalProblem::NotAllowed {
                path: canonical.display().to_string(),
                roots,
            });
        }
        let file =
            crate::source::open_regular(&canonical, true).map_err(|e| unreadable(e.to_string()))?;
        let len = file
            .metadata()
            .map_err(|e| unreadable(e.to_string()))?
            .len();
        Ok(ExternalFile {
            path: canonical,
            len,
            file,
        })
    }
}

/// Sizes for the model's reports go through the same door as reads: nothing outside the
/// allowed roots is stat-ed or walked.
impl crate::v0::Measure for ExternalPolicy {
    fn file_size(&self, path: &ExternalPath) -> Option<u64> {
        self.resolve(path).ok().map(|f| f.len)
    }

    /// A local directory inside the roots, walked without following symlinks; `None`
    /// past 10,000 entries.
    fn tree_size(&self, path: &ExternalPath) -> Option<u64> {
        fn walk(p: &Path, budget: &mut usize, total: &mut u64) -> Option<()> {
            let meta = std::fs::symlink_metadata(p).ok()?;
            *budget = budget.checked_sub(1)?;
            if meta.is_file() {
                *total += meta.len();
            } else if meta.is_dir() {
                for e in std::fs::read_dir(p).ok()? {
                    walk(&e.ok()?.path(), budget, total)?;
                }
            }
            Some(())
        }
        let dir = self.candidate(path).ok()?.canonicalize().ok()?;
        if !self.allowed_roots.iter().any(|root| dir.starts_with(root)) {
            return None;
        }
        let (mut budget, mut total) = (10_000, 0);
        walk(&dir, &mut budget, &mut total)?;
        Some(total)
    }
}

/// A resolved external file, open, of known length.
pub struct ExternalFile {
    path: PathBuf,
    len: u64,
    file: File,
}

impl ExternalFile {
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Source for ExternalFile {
    fn len(&self) -> u64 {
        self.len
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        crate::source::past_end(
            &|| self.path.display().to_string(),
            offset,
            buf.len(),
            self.len,
        )?;
        self.file.read_exact_at(buf, offset).map_err(|e| {
            let what = if e.kind() == io::ErrorKind::UnexpectedEof {
                "shrank since it was measured".to_string()
            } else {
                e.to_string()
            };
            io::Error::new(
                e.kind(),
                format!(
                    "{}: {what} (reading {} bytes at {offset})",
                    self.path.display(),
                    buf.len()
                ),
            )
        })
    }

    fn name(&self) -> String {
        self.path.display().to_string()
    }

    fn backing_file(&self) -> Option<&File> {
        Some(&self.file)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ext(uri: &str) -> ExternalPath {
        ExternalPath::parse(uri).expect("valid uri")
    }

    #[test]
    fn confines_to_allowed_roots_after_resolving_symlinks() {
        let dir = tempfile::tempdir().unwrap();
        let inside = dir.path().join("inside");
        let outside = dir.path().join("outside");
        std::fs::create_dir_all(&inside).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(inside.join("a"), b"12345").unwrap();
        std::fs::write(outside.join("b"), b"x").unwrap();
        std::os::unix::fs::symlink(outside.join("b"), inside.join("link")).unwrap();
        let policy = ExternalPolicy::new(vec![], std::slice::from_ref(&inside)).unwrap();

        let ok = policy
            .resolve(&ext(&format!("file:{}", inside.join("a").display())))
            .unwrap();
        assert_eq!(ok.len(), 5);
        let mut buf = [0u8; 3];
        ok.read_at(2, &mut buf).unwrap();
        assert_eq!(&buf, b"345");
        assert!(ok.read_at(3, &mut buf).is_err());

        let via_link = policy.resolve(&ext(&format!("file:{}", inside.join("link").display())));
        assert!(
            matches!(via_link, Err(ExternalProblem::NotAllowed { .. })),
            "{:?}",
            via_link.err()
        );
        let dotdot = policy.resolve(&ext(&format!("file:{}/../outside/b", inside.display())));
        assert!(matches!(dotdot, Err(ExternalProblem::NotAllowed { .. })));
        let missing = policy.resolve(&ext(&format!("file:{}", inside.join("nope").display())));
        assert!(matches!(missing, Err(ExternalProblem::Unreadable { .. })));
    }

    /// The check-then-open race: a checked file swapped for a symlink out of the root
    /// (or for a FIFO) before the first read is not followed; the descriptor opened at
    /// the check serves the checked file.
    #[test]
    fn a_file_swapped_after_the_check_is_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let inside = dir.path().join("inside");
        std::fs::create_dir_all(&inside).unwrap();
        std::fs::write(dir.path().join("secret"), b"SECRET").unwrap();
        let policy = ExternalPolicy::new(vec![], std::slice::from_ref(&inside)).unwrap();
        for swap in ["symlink", "fifo"] {
            let state = inside.join(format!("state-{swap}"));
            std::fs::write(&state, b"state!").unwrap();
            let f = policy
                .resolve(&ext(&format!("file:{}", state.display())))
                .unwrap();
            std::fs::remove_file(&state).unwrap();
            if swap == "symlink" {
                std::os::unix::fs::symlink(dir.path().join("secret"), &state).unwrap();
            } else {
                let c = std::ffi::CString::new(state.to_str().unwrap()).unwrap();
                // SAFETY: a valid C string.
                assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
            }
            let mut buf = [0u8; 6];
            f.read_at(0, &mut buf).unwrap();
            assert_eq!(&buf, b"state!", "{swap}");
            // Resolving again sees the swap and refuses it at once (a FIFO is never opened
            // for a blocking read).
            let again = policy.resolve(&ext(&format!("file:{}", state.display())));
            assert!(again.is_err(), "{swap}");
        }
    }

    /// A directory on the checked path that becomes a symlink is refused at open.
    #[test]
    fn no_component_may_be_a_symlink_at_open() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("real")).unwrap();
        std::fs::write(dir.path().join("real/f"), b"x").unwrap();
        std::os::unix::fs::symlink(dir.path().join("real"), dir.path().join("link")).unwrap();
        assert!(crate::source::open_regular(&dir.path().join("real/f"), true).is_ok());
        let e = crate::source::open_regular(&dir.path().join("link/f"), true).unwrap_err();
        assert!(e.to_string().contains("symbolic link"), "{e}");
        // Without the restriction (the savepoint itself may be reached through links).
        assert!(crate::source::open_regular(&dir.path().join("link/f"), false).is_ok());
    }

    /// Report sizes: only what the policy allows is looked at.
    #[test]
    fn sizes_are_measured_inside_the_roots_only() {
        use crate::v0::Measure;
        let dir = tempfile::tempdir().unwrap();
        let inside = dir.path().join("inside");
        std::fs::create_dir_all(inside.join("d")).unwrap();
        std::fs::write(inside.join("f"), b"12345").unwrap();
        std::fs::write(inside.join("d/g"), b"123").unwrap();
        std::fs::write(dir.path().join("secret"), b"123456789").unwrap();
        let policy = ExternalPolicy::new(vec![], std::slice::from_ref(&inside)).unwrap();
        let at = |p: &Path| ext(&format!("file:{}", p.display()));
        assert_eq!(policy.file_size(&at(&inside.join("f"))), Some(5));
        assert_eq!(policy.file_size(&at(&inside.join("nope"))), None);
        assert_eq!(
            policy.file_size(&at(&inside)),
            None,
            "a directory is not a file"
        );
        assert_eq!(policy.tree_size(&at(&inside)), Some(8));
        assert_eq!(policy.file_size(&at(&dir.path().join("secret"))), None);
        assert_eq!(policy.tree_size(&at(dir.path())), None, "not walked");
    }

    #[test]
    fn maps_remote_prefixes_to_local_copies() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("chk-10")).unwrap();
        std::fs::write(dir.path().join("chk-10/state"), b"abc").unwrap();
        let remote = ext("hdfs://namenode:8020/flink/ckpt/chk-10/state");
        let strict = ExternalPolicy::new(vec![], &[dir.path().to_path_buf()]).unwrap();
        assert!(matches!(
            strict.resolve(&remote),
            Err(ExternalProblem::NotLocal { .. })
        ));
        let map = ExternalPolicy::parse_map(&format!(
            "hdfs://namenode:8020/flink/ckpt={}",
            dir.path().display()
        ))
        .unwrap();
        let mapped = ExternalPolicy::new(vec![map], &[dir.path().to_path_buf()]).unwrap();
        assert_eq!(mapped.resolve(&remote).unwrap().len(), 3);
        assert!(ExternalPolicy::parse_map("no-equals").is_err());
        // A prefix matches whole path components only.
        let sibling = ext("hdfs://namenode:8020/flink/ckpt-old/chk-10/state");
        assert!(matches!(
            mapped.resolve(&sibling),
            Err(ExternalProblem::NotLocal { .. })
        ));
    }
}
