//! Options shared by every command that serves the converted tree (ls, cat, convert,
//! verify, mount), and opening the tree from them.

use super::Failure;
use savepointfs::convert::aligned::WindowSpec;
use savepointfs::convert::key_serializer::KeySerializer;
use savepointfs::convert::operators::Operator;
use savepointfs::convert::refile::RescaleRequest;
use savepointfs::convert::rocks::NamespaceDecl;
use savepointfs::convert::{ExternalPolicy, KeyedLayout, Target};
use savepointfs::source::{FileSource, Source};
use savepointfs::tree::{Forms, Tree, TreeOptions};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A chain entry (vertex id, chain index) and the operator id it is given.
pub type EntryId = (([u8; 16], usize), [u8; 16]);
/// A chain entry and the operator `--operator` says it is (`None`: generic).
pub type OperatorChoice = (([u8; 16], usize), Option<Operator>);
/// A chain entry and the aligned window operator `--window` says it is.
pub type WindowChoice = (([u8; 16], usize), WindowSpec);

#[derive(clap::Args, Clone, Debug)]
pub struct TreeArgs {
    /// The Flink 1.1 savepoint file.
    pub savepoint: PathBuf,
    /// Rewrite external state paths: URI or path prefix = local directory (repeatable).
    #[arg(long = "map", value_name = "PREFIX=DIR", value_parser = ExternalPolicy::parse_map)]
    pub maps: Vec<(String, PathBuf)>,
    /// Directories external state files may be served from (repeatable; default: the
    /// savepoint's own directory).
    #[arg(long = "allow-root", value_name = "DIR")]
    pub allow_roots: Vec<PathBuf>,
    /// Bound on cached decoded subtasks (e.g. 256MiB).
    #[arg(long, value_name = "BYTES", value_parser = parse_size, default_value = "256MiB")]
    pub cache_size: u64,
    /// Which Flink `_metadata` is for: flink-2.3 (stock Flink 1.13-2.3, proven on 1.20
    /// and 2.3), flink-1.10 (native, stock Flink 1.4-1.10), flink-1.2 (native, Flink
    /// 1.2/1.3) or migration (Flink 1.2's own in-memory form).
    #[arg(long, value_name = "TARGET", value_parser = Target::parse, default_value = Target::DEFAULT.name())]
    pub target: Target,
    /// The uid of a stateful chain entry that is not its chain's head, whose operator id
    /// Flink derives from it (repeatable): VERTEX/chain-K=UID.
    #[arg(long = "uid", value_name = "VERTEX/chain-K=UID", value_parser = parse_uid)]
    pub uids: Vec<EntryId>,
    /// The operator id (32 hex digits, as set with setUidHash) of such an entry (repeatable):
    /// VERTEX/chain-K=HEX.
    #[arg(long = "operator-id", value_name = "VERTEX/chain-K=HEX", value_parser = parse_operator_id)]
    pub operator_ids: Vec<EntryId>,
    /// A file of `--uid` values, one `VERTEX/chain-K=UID` per line (`#` starts a comment).
    #[arg(long = "uid-file", value_name = "FILE")]
    pub uid_file: Option<PathBuf>,
    /// The built-in operator a chain entry is, where its state cannot show it
    /// (repeatable): VERTEX/chain-K=KIND, KIND one of monitoring-function (a bare Long
    /// function state that is ContinuousFileMonitoringFunction's) or generic (convert the
    /// entry as a user function, whatever it looks like).
    #[arg(long = "operator", value_name = "VERTEX/chain-K=KIND", value_parser = parse_operator)]
    pub operators: Vec<OperatorChoice>,
    /// An aligned processing-time window operator of Flink 1.1 (every keyed `timeWindow` in
    /// processing time with reduce or apply), converted into a WindowOperator with its
    /// windows and timers (one per vertex): VERTEX/chain-K=tumbling:SIZE|sliding:SIZE:SLIDE,
    /// reduce|apply,key=SERIALIZER,value=SERIALIZER (sizes in ms; serializers as
    /// --key-serializer takes them; the file records none of this).
    #[arg(long = "window", value_name = "VERTEX/chain-K=SPEC", value_parser = parse_window)]
    pub windows: Vec<WindowChoice>,
    /// Layout of native keyed state; must match the restoring job's backend (default:
    /// heap for memory/filesystem savepoints, rocksdb for RocksDB ones).
    #[arg(long, value_name = "heap|rocksdb", value_parser = KeyedLayout::parse)]
    pub keyed_layout: Option<KeyedLayout>,
    /// Key serializer of RocksDB savepoints (Flink 1.1's RocksDB backend does not record
    /// it), or for flink-2.3 the restoring job's key type where its bytes are the same
    /// (`long` for a job keyed by `v -> v.f0` where 1.1 stored Tuple1<Long>): long, int,
    /// string, tuple1-long, tuple1-int, tuple1-string, or java:FILE (a Java-serialized
    /// TypeSerializer).
    #[arg(long, value_name = "SERIALIZER", value_parser = KeySerializer::parse)]
    pub key_serializer: Option<KeySerializer>,
    /// The namespace serializer of a RocksDB state, which Flink 1.1 did not record:
    /// STATE=void|time-window|global-window (repeatable). Time windows are recognised from
    /// the records' bytes; a global window (one byte, like Void) must be declared.
    #[arg(long = "rocksdb-namespace", value_name = "STATE=KIND", value_parser = NamespaceDecl::parse)]
    pub rocksdb_namespaces: Vec<NamespaceDecl>,
    /// Which converted files the tree shows: target (what the target's `_metadata`
    /// names, and savepoint.json: a copy is exactly a savepoint directory) or all (every
    /// form, for every target).
    #[arg(long, value_name = "target|all", value_parser = Forms::parse, default_value = "target")]
    pub forms: Forms,
    /// Re-file every key into its key group for this max parallelism (Java hashCode,
    /// then Flink's murmur step), for --target flink-2.3 (default: each vertex's old
    /// parallelism, which is what Flink 1.1 keyed by).
    #[arg(long, value_name = "N")]
    pub max_parallelism: Option<u32>,
    /// Subtasks of every vertex in the converted savepoint (default: the old
    /// parallelism; at most the max parallelism). Key groups are split over them as
    /// Flink assigns them, operator state as Flink's round-robin split.
    #[arg(long, value_name = "P")]
    pub parallelism: Option<u32>,
    /// Where re-filing writes its scratch file (about the size of the keyed state;
    /// unlinked at once). Default: $TMPDIR, else /tmp.
    #[arg(long, value_name = "DIR")]
    pub spill_dir: Option<PathBuf>,
}

impl TreeArgs {
    /// `--window`, at most one per vertex (a task has one keyed backend).
    fn windows(&self) -> Result<savepointfs::convert::WindowSpecs, Failure> {
        let mut specs = savepointfs::convert::WindowSpecs::new();
        for (entry, spec) in &self.windows {
            if specs.keys().any(|(v, _)| *v == entry.0) {
                return Err(Failure::input(format!(
                    "two --window for vertex {}: a task has one keyed backend, so one window operator",
                    savepointfs::ids::hex(&entry.0)
                )));
            }
            specs.insert(*entry, spec.clone());
        }
        Ok(specs)
    }

    /// Opens the tree; `metadata_root` is the URI prefix `_metadata` names files under,
    /// and `relative` says it was not given, so targets with relative handles use them.
    pub fn open(&self, metadata_root: String, relative: bool) -> Result<Tree, Failure> {
        let source = FileSource::open(&self.savepoint)
            .map_err(|e| Failure::input(format!("{}: {e}", self.savepoint.display())))?;
        let mut roots = self.allow_roots.clone();
        if roots.is_empty() {
            roots.push(savepoint_dir(&self.savepoint));
        }
        let policy = ExternalPolicy::new(self.maps.clone(), &roots).map_err(Failure::input)?;
        let spill_dir = self.spill_dir.clone().unwrap_or_else(std::env::temp_dir);
        if (self.max_parallelism.is_some() || self.parallelism.is_some()) && !spill_dir.is_dir() {
            return Err(Failure::input(format!(
                "--spill-dir {}: not a directory (re-filing writes its scratch file there)",
                spill_dir.display()
            )));
        }
        let opts = TreeOptions {
            cache_bytes: usize::try_from(self.cache_size).unwrap_or(usize::MAX),
            metadata_root,
            relative_paths: relative,
            operator_ids: self.operator_ids()?,
            operators: self.operators.iter().copied().collect(),
            windows: self.windows()?,
            policy,
            target: self.target,
            keyed_layout: self.keyed_layout,
            key_serializer: match &self.key_serializer {
                Some(k) => Some(k.stream().map_err(Failure::input)?),
                None => None,
            },
            rocksdb_namespaces: self.rocksdb_namespaces.clone(),
            forms: self.forms,
            rescale: RescaleRequest {
                max_parallelism: self.max_parallelism,
                parallelism: self.parallelism,
            },
            spill_dir,
        };
        let source: Arc<dyn Source> = Arc::new(source);
        Tree::open(source, opts).map_err(Failure::input)
    }
}

impl TreeArgs {
    /// `--uid`, `--operator-id` and the lines of `--uid-file`; one id per chain entry.
    fn operator_ids(&self) -> Result<savepointfs::convert::OperatorIds, Failure> {
        let mut all = self.uids.clone();
        if let Some(f) = &self.uid_file {
            let text = std::fs::read_to_string(f)
                .map_err(|e| Failure::input(format!("--uid-file {}: {e}", f.display())))?;
            for (n, line) in text.lines().enumerate() {
                let line = line.split('#').next().unwrap_or("").trim();
                if line.is_empty() {
                    continue;
                }
                let entry = parse_uid(line).map_err(|e| {
                    Failure::input(format!("--uid-file {} line {}: {e}", f.display(), n + 1))
                })?;
                all.push(entry);
            }
        }
        all.extend(self.operator_ids.iter().copied());
        let mut ids = savepointfs::convert::OperatorIds::new();
        for (entry, id) in all {
            if ids.insert(entry, id).is_some_and(|old| old != id) {
                return Err(Failure::input(format!(
                    "two different operator ids for {}/chain-{}",
                    savepointfs::ids::hex(&entry.0),
                    entry.1
                )));
            }
        }
        Ok(ids)
    }
}

fn savepoint_dir(savepoint: &Path) -> PathBuf {
    match savepoint.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// `VERTEX/chain-K` as (vertex id, chain index).
fn parse_entry(s: &str) -> Result<([u8; 16], usize), String> {
    let bad = || format!("{s:?}: expected VERTEX/chain-K (32 hex digits, then the chain index)");
    let (vertex, chain) = s.split_once('/').ok_or_else(bad)?;
    let k = chain
        .strip_prefix("chain-")
        .and_then(|k| k.parse().ok())
        .ok_or_else(bad)?;
    Ok((parse_hex16(vertex).ok_or_else(bad)?, k))
}

use savepointfs::ids::parse_hex16;

fn parse_uid(s: &str) -> Result<EntryId, String> {
    let (entry, uid) = s
        .split_once('=')
        .ok_or_else(|| format!("{s:?}: expected VERTEX/chain-K=UID"))?;
    Ok((
        parse_entry(entry)?,
        savepointfs::modern::operator_id_of_uid(uid),
    ))
}

fn parse_operator(s: &str) -> Result<OperatorChoice, String> {
    let (entry, kind) = s
        .split_once('=')
        .ok_or_else(|| format!("{s:?}: expected VERTEX/chain-K=KIND"))?;
    Ok((parse_entry(entry)?, Operator::parse_override(kind)?))
}

fn parse_window(s: &str) -> Result<WindowChoice, String> {
    let (entry, spec) = s
        .split_once('=')
        .ok_or_else(|| format!("{s:?}: expected VERTEX/chain-K=SPEC"))?;
    Ok((parse_entry(entry)?, WindowSpec::parse(spec)?))
}

fn parse_operator_id(s: &str) -> Result<EntryId, String> {
    let (entry, hex) = s
        .split_once('=')
        .ok_or_else(|| format!("{s:?}: expected VERTEX/chain-K=HEX"))?;
    let id = parse_hex16(hex).ok_or_else(|| format!("{hex:?}: an operator id is 32 hex digits"))?;
    Ok((parse_entry(entry)?, id))
}

/// `file:` + the absolute form of a local directory: what Flink's `Path.toString()` shows.
pub fn file_uri(dir: &Path) -> Result<String, Failure> {
    let abs =
        std::path::absolute(dir).map_err(|e| Failure::other(format!("{}: {e}", dir.display())))?;
    Ok(format!("file:{}", abs.display()))
}

pub use savepointfs::size::parse_size;
