//! The savepoint file (legacy-formats.md §1.2) and the external state files, both streamed: a
//! blob's length is written as a placeholder and patched once the blob is complete.

use super::blob::{BlobCtx, write_blob};
use super::plan::{Plan, plan, tag};
use super::{SynthError, SynthSpec, SynthSummary};
use crate::javaser::builder::StreamBuilder;
use crate::prng::{Prng, hex};
use crate::v0::{MAGIC, VERSION_V0};
use std::fs::File;
use std::io::{self, BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

const BUFFER: usize = 1 << 20;

/// The savepoint being written, with its position (for patching blob lengths).
struct SavepointFile {
    out: BufWriter<File>,
    pos: u64,
    path: PathBuf,
}

impl Write for SavepointFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.out.write(buf)?;
        self.pos += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

impl SavepointFile {
    fn put(&mut self, bytes: &[u8]) -> Result<(), SynthError> {
        self.write_all(bytes)
            .map_err(|e| SynthError::io(&self.path, e))
    }

    fn patch(&mut self, at: u64, bytes: &[u8]) -> Result<(), SynthError> {
        let end = self.pos;
        let r = (|| {
            self.out.seek(SeekFrom::Start(at))?;
            self.out.write_all(bytes)?;
            self.out.seek(SeekFrom::Start(end)).map(|_| ())
        })();
        r.map_err(|e| SynthError::io(&self.path, e))
    }
}

/// External state files, named as `FsStateBackend` names them:
/// `<dir>/<job id>/chk-<checkpoint id>/<random UUID>`, referenced by `file:` URIs.
pub struct ExternalFiles {
    base: PathBuf,
    job_hex: String,
    dir: PathBuf,
    created: bool,
    names: Prng,
    pub count: u64,
    pub bytes: u64,
}

impl ExternalFiles {
    fn new(base: PathBuf, job_id: &[u8; 16], checkpoint_id: i64, seed: u64) -> Self {
        let job_hex = hex(job_id);
        let dir = base.join(&job_hex).join(format!("chk-{checkpoint_id}"));
        ExternalFiles {
            base,
            job_hex,
            dir,
            created: false,
            names: Prng::derive(seed, &[tag::FILES]),
            count: 0,
            bytes: 0,
        }
    }

    /// Creates a new file, fills it with `body` (which must write exactly `size` bytes)
    /// and returns its URI.
    pub fn write(
        &mut self,
        size: u64,
        body: impl FnOnce(&mut dyn Write) -> Result<(), SynthError>,
    ) -> Result<String, SynthError> {
        if !self.created {
            std::fs::create_dir_all(&self.dir).map_err(|e| SynthError::io(&self.dir, e))?;
            self.created = true;
        }
        let path = self.dir.join(self.names.uuid());
        let file = File::create(&path).map_err(|e| SynthError::io(&path, e))?;
        let mut w = CountingFile {
            out: BufWriter::with_capacity(BUFFER, file),
            count: 0,
        };
        body(&mut w)?;
        w.out.flush().map_err(|e| SynthError::io(&path, e))?;
        if w.count != size {
            return Err(SynthError::Spec(format!(
                "internal error: {} has {} bytes, planned {size}",
                path.display(),
                w.count
            )));
        }
        self.count += 1;
        self.bytes += size;
        Ok(file_uri(&path))
    }

    /// Where a semi-async RocksDB snapshot says its backup is (shaped like Flink 1.1's
    /// `<dir>/<job id>/<operator>/dummy_state/chk-<id>`); nothing is created there.
    pub fn backup_uri(&self, vertex: u32, subtask: u32, checkpoint_id: i64) -> String {
        let p = self
            .base
            .join(&self.job_hex)
            .join(format!("StreamFlatMap_{vertex}_{subtask}"))
            .join("dummy_state")
            .join(format!("chk-{checkpoint_id}"));
        file_uri(&p)
    }
}

struct CountingFile {
    out: BufWriter<File>,
    count: u64,
}

impl Write for CountingFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.out.write(buf)?;
        self.count += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// `file:` + the absolute path, percent-encoding what a URI path cannot hold as is.
pub fn file_uri(path: &Path) -> String {
    let mut s = String::from("file:");
    for &b in path.to_string_lossy().as_bytes() {
        if b.is_ascii_alphanumeric() || b"/-._~!$&'()*+,;=:@".contains(&b) {
            s.push(b as char);
        } else {
            s.push_str(&format!("%{b:02X}"));
        }
    }
    s
}

/// Writes the savepoint `out` (and its external files) for `spec`.
pub fn generate(spec: &SynthSpec, out: &Path) -> Result<SynthSummary, SynthError> {
    let plan = plan(spec)?;
    let external = spec
        .external_dir_for(out)
        .map_err(|e| SynthError::io(out, e))?;
    let mut files = ExternalFiles::new(external, &plan.job_id, spec.checkpoint_id, spec.seed);
    let file = File::create(out).map_err(|e| SynthError::io(out, e))?;
    let mut sp = SavepointFile {
        out: BufWriter::with_capacity(BUFFER, file),
        pos: 0,
        path: out.to_path_buf(),
    };
    let total = write_savepoint(&mut sp, &plan, spec, &mut files)?;
    sp.flush().map_err(|e| SynthError::io(out, e))?;
    if total != spec.state_bytes {
        return Err(SynthError::Spec(format!(
            "internal error: wrote {total} state bytes, planned {}",
            spec.state_bytes
        )));
    }
    Ok(SynthSummary {
        savepoint: out.to_path_buf(),
        file_size: sp.pos,
        state_bytes: total,
        subtasks: plan.vertices.iter().map(|v| v.subtasks.len() as u64).sum(),
        keys_per_state: plan.keys_per_state,
        external_files: files.count,
        external_bytes: files.bytes,
        external_dir: files.created.then(|| files.dir.clone()),
        uids: uid_lines(&plan),
    })
}

/// The uid synthetic savepoints give chain entry `k` of vertex `v` (not a chain head).
pub(super) fn entry_uid(vertex: u32, k: usize) -> String {
    format!("synth-{vertex}-{k}")
}

/// `VERTEX/chain-K=synth-V-K` for each chain position below the head that holds state.
fn uid_lines(plan: &Plan) -> Vec<String> {
    let mut out = Vec::new();
    for v in &plan.vertices {
        let chain = v.subtasks.iter().map(|s| s.chain.len()).max().unwrap_or(0);
        for k in 0..chain.saturating_sub(1) {
            if v.subtasks
                .iter()
                .any(|s| s.chain.get(k).is_some_and(Option::is_some))
            {
                out.push(format!(
                    "{}/chain-{k}={}",
                    hex(&v.id),
                    entry_uid(v.index, k)
                ));
            }
        }
    }
    out
}

/// The V0 framing around the blobs; returns the sum of the stateSizes written.
fn write_savepoint(
    sp: &mut SavepointFile,
    plan: &Plan,
    spec: &SynthSpec,
    files: &mut ExternalFiles,
) -> Result<u64, SynthError> {
    sp.put(&MAGIC.to_be_bytes())?;
    sp.put(&VERSION_V0.to_be_bytes())?;
    sp.put(&spec.checkpoint_id.to_be_bytes())?;
    sp.put(&(plan.vertices.len() as i32).to_be_bytes())?;
    let mut total = 0u64;
    for v in &plan.vertices {
        // JobVertexID: lowerPart then upperPart, i.e. its 16 bytes in text order.
        sp.put(&v.id)?;
        sp.put(&(spec.parallelism as i32).to_be_bytes())?;
        sp.put(&(v.subtasks.len() as i32).to_be_bytes())?;
        for st in &v.subtasks {
            sp.put(&(st.index as i32).to_be_bytes())?;
            let length_at = sp.pos;
            sp.put(&0i32.to_be_bytes())?;
            let start = sp.pos;
            let target = format!(
                "{} (vertex {} subtask {})",
                sp.path.display(),
                hex(&v.id),
                st.index
            );
            let mut cx = BlobCtx {
                plan,
                files: &mut *files,
                seed: spec.seed,
                checkpoint_id: spec.checkpoint_id,
                vertex: v.index,
                subtask: st.index,
                target: target.clone(),
            };
            let mut b = StreamBuilder::new(&mut *sp, target.clone(), start)?;
            write_blob(&mut b, &mut cx, st)?;
            b.finish()?;
            let len = i32::try_from(sp.pos - start).map_err(|_| {
                SynthError::Spec(format!(
                    "{target}: blob of {} bytes is over 2 GiB",
                    sp.pos - start
                ))
            })?;
            sp.patch(length_at, &len.to_be_bytes())?;
            let state_size = st.state_size()?;
            total += state_size;
            sp.put(&(state_size as i64).to_be_bytes())?;
            sp.put(&st.duration.to_be_bytes())?;
        }
        // numKvStates: always 0 in Flink 1.1 files (legacy-formats.md §1.4).
        sp.put(&0i32.to_be_bytes())?;
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_uris_escape_what_a_uri_path_cannot_hold() {
        assert_eq!(file_uri(Path::new("/tmp/a b/c%d")), "file:/tmp/a%20b/c%25d");
        assert_eq!(file_uri(Path::new("/x/é")), "file:/x/%C3%A9");
        let parsed = crate::v0::ExternalPath::parse(&file_uri(Path::new("/tmp/a b/é"))).unwrap();
        assert_eq!(parsed.local, Some(PathBuf::from("/tmp/a b/é")));
    }
}
