//! The tree, driven without FUSE by random operation sequences, against a reference
//! model: the directory `convert` wrote for the same savepoint and options (as
//! mountpoint-s3 tests its core). Lookups, stats, listings, reads at random offsets
//! (also past the end), paths that do not exist and concurrent readers, over synthetic
//! savepoints of every backend, with a roomy cache and with one far too small for the
//! tree. Seeded; a failing sequence is shrunk to a minimal one and printed with its seed.
//!
//! Short by default (CI); longer by hand:
//! `TREE_MODEL_OPS=20000 TREE_MODEL_SEEDS=10 cargo test --release --test tree_model`.

mod common;

use common::mount::{run, synth};
use savepointfs::convert::{ExternalPolicy, OperatorIds, Target};
use savepointfs::prng::Prng;
use savepointfs::source::{FileSource, Source};
use savepointfs::tree::{Forms, Tree, TreeOptions};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

/// What `convert` wrote: every file's bytes and every directory, by tree path.
struct Model {
    files: BTreeMap<String, Vec<u8>>,
    dirs: BTreeSet<String>,
}

impl Model {
    fn load(root: &Path) -> Model {
        let mut m = Model {
            files: BTreeMap::new(),
            dirs: BTreeSet::from([String::new()]),
        };
        let mut stack = vec![(root.to_path_buf(), String::new())];
        while let Some((dir, rel)) = stack.pop() {
            for e in std::fs::read_dir(&dir).unwrap() {
                let e = e.unwrap();
                let name = e.file_name().into_string().unwrap();
                let path = if rel.is_empty() {
                    name
                } else {
                    format!("{rel}/{name}")
                };
                if e.file_type().unwrap().is_dir() {
                    m.dirs.insert(path.clone());
                    stack.push((e.path(), path));
                } else {
                    m.files.insert(path, std::fs::read(e.path()).unwrap());
                }
            }
        }
        m
    }

    fn children(&self, dir: &str) -> BTreeSet<String> {
        let prefix = if dir.is_empty() {
            String::new()
        } else {
            format!("{dir}/")
        };
        self.files
            .keys()
            .chain(self.dirs.iter())
            .filter_map(|p| p.strip_prefix(&prefix))
            .filter(|rest| !rest.is_empty() && !rest.contains('/'))
            .map(str::to_string)
            .collect()
    }
}

#[derive(Clone, Debug)]
enum Op {
    Stat(String),
    List(String),
    Read {
        path: String,
        offset: u64,
        len: usize,
    },
    Missing(String),
    /// Reads from several threads at once.
    Concurrent(Vec<(String, u64, usize)>),
    /// Decodes ahead from a directory (as the mount's worker does once it is listed)
    /// while its siblings are listed and sized on another thread.
    Ahead(String),
}

/// How the tree is opened, as the CLI would for the same savepoint and options.
struct Setup {
    savepoint: std::path::PathBuf,
    target: Target,
    key_serializer: Option<&'static str>,
    operator_ids: OperatorIds,
    cache_bytes: usize,
    forms: Forms,
    rescale: savepointfs::convert::refile::RescaleRequest,
}

impl Setup {
    fn open(&self) -> Tree {
        let source: Arc<dyn Source> = Arc::new(FileSource::open(&self.savepoint).unwrap());
        let dir = self.savepoint.parent().unwrap().to_path_buf();
        let opts = TreeOptions {
            cache_bytes: self.cache_bytes,
            metadata_root: "file:/nowhere".into(),
            // As the CLI: relative where the target can, unless a root is given.
            relative_paths: self.target == Target::Flink23,
            operator_ids: self.operator_ids.clone(),
            operators: Default::default(),
            windows: Default::default(),
            policy: ExternalPolicy::new(Vec::new(), &[dir]).unwrap(),
            target: self.target,
            keyed_layout: None,
            rocksdb_namespaces: Vec::new(),
            key_serializer: self.key_serializer.map(|k| {
                savepointfs::convert::key_serializer::KeySerializer::parse(k)
                    .unwrap()
                    .stream()
                    .unwrap()
            }),
            forms: self.forms,
            rescale: self.rescale,
            spill_dir: std::env::temp_dir(),
        };
        Tree::open(source, opts).unwrap()
    }
}

/// The ids the CLI derives from `synth --uid-file` lines `VERTEX/chain-K=UID`.
fn operator_ids(uid_file: &Path) -> OperatorIds {
    let mut ids = OperatorIds::new();
    for line in std::fs::read_to_string(uid_file).unwrap().lines() {
        let (entry, uid) = line.split_once('=').unwrap();
        let (vertex, chain) = entry.split_once("/chain-").unwrap();
        let vertex = savepointfs::ids::parse_hex16(vertex).unwrap();
        let id = savepointfs::modern::operator_id_of_uid(uid);
        ids.insert((vertex, chain.parse().unwrap()), id);
    }
    ids
}

/// Checks one operation against the model; `Err` says what differed.
fn check(tree: &Arc<Tree>, model: &Model, op: &Op) -> Result<(), String> {
    match op {
        Op::Stat(path) => {
            let e = tree
                .resolve(path)
                .map_err(|e| format!("stat {path}: {e}"))?;
            match model.files.get(path) {
                Some(bytes) if e.is_dir || e.size != bytes.len() as u64 => Err(format!(
                    "stat {path}: dir {} size {}, model: file of {}",
                    e.is_dir,
                    e.size,
                    bytes.len()
                )),
                None if !e.is_dir => Err(format!("stat {path}: a file, model: a directory")),
                _ => Ok(()),
            }
        }
        Op::List(path) => {
            let e = tree
                .resolve(path)
                .map_err(|e| format!("list {path}: {e}"))?;
            let names: BTreeSet<String> = tree
                .list(e.ino)
                .map_err(|e| format!("list {path}: {e}"))?
                .into_iter()
                .map(|l| l.name)
                .collect();
            let want = model.children(path);
            if names != want {
                return Err(format!("list {path}: {names:?}, model: {want:?}"));
            }
            // With sizes (readdirplus): each as the model has it.
            for c in tree
                .children(e.ino)
                .map_err(|e| format!("children {path}: {e}"))?
            {
                let p = if path.is_empty() {
                    c.name.clone()
                } else {
                    format!("{path}/{}", c.name)
                };
                if let Some(bytes) = model.files.get(&p)
                    && c.size != bytes.len() as u64
                {
                    return Err(format!(
                        "children {path}: {p} size {}, model {}",
                        c.size,
                        bytes.len()
                    ));
                }
            }
            Ok(())
        }
        Op::Read { path, offset, len } => read(tree, model, path, *offset, *len),
        Op::Missing(path) => match tree.resolve(path) {
            Ok(e) => Err(format!(
                "{path} resolves to {e:?}, the model has no such path"
            )),
            Err(_) => Ok(()),
        },
        Op::Ahead(dir) => {
            let e = tree.resolve(dir).map_err(|e| format!("ahead {dir}: {e}"))?;
            let parent = dir.rsplit_once('/').map_or("", |(p, _)| p);
            let siblings: Vec<String> = model
                .children(parent)
                .into_iter()
                .map(|n| {
                    if parent.is_empty() {
                        n
                    } else {
                        format!("{parent}/{n}")
                    }
                })
                .filter(|p| model.dirs.contains(p))
                .collect();
            std::thread::scope(|s| {
                let worker = s.spawn(|| {
                    for at in tree.subtasks_after(e.ino, 8) {
                        tree.warm(at);
                    }
                });
                let listed = siblings
                    .iter()
                    .try_for_each(|p| check(tree, model, &Op::List(p.clone())));
                worker
                    .join()
                    .map_err(|_| "decoding ahead panicked".to_string())?;
                listed
            })
        }
        Op::Concurrent(reads) => std::thread::scope(|s| {
            let handles: Vec<_> = reads
                .iter()
                .map(|(p, o, n)| s.spawn(move || read(tree, model, p, *o, *n)))
                .collect();
            handles
                .into_iter()
                .try_for_each(|h| h.join().map_err(|_| "reader panicked".to_string())?)
        }),
    }
}

fn read(tree: &Tree, model: &Model, path: &str, offset: u64, len: usize) -> Result<(), String> {
    let e = tree
        .resolve(path)
        .map_err(|e| format!("read {path}: {e}"))?;
    let f = tree
        .open_file(e.ino)
        .map_err(|e| format!("open {path}: {e}"))?;
    let mut buf = vec![0u8; len];
    let n = f
        .stream
        .read_at_most(offset, &mut buf)
        .map_err(|e| format!("read {path} at {offset}: {e}"))?;
    let bytes = &model.files[path];
    let start = (offset as usize).min(bytes.len());
    let want = &bytes[start..(start + len).min(bytes.len())];
    if &buf[..n] != want {
        let at = buf[..n].iter().zip(want).position(|(a, b)| a != b);
        return Err(format!(
            "read {path} [{offset}, +{len}): {n} bytes, model {}; first difference at {at:?}",
            want.len()
        ));
    }
    Ok(())
}

/// A random operation, mostly on paths the model has.
fn random_op(rng: &mut Prng, model: &Model, files: &[&String], dirs: &[&String]) -> Op {
    let file = |rng: &mut Prng| files[rng.below(files.len() as u64) as usize].clone();
    let span = |rng: &mut Prng, path: &str| {
        let len = model.files[path].len() as u64;
        let offset = match rng.below(4) {
            0 => 0,
            1 => len.saturating_sub(rng.below(64)),
            2 => len + rng.below(16),
            _ => rng.below(len + 1),
        };
        let most = if rng.below(8) == 0 { 1 << 20 } else { 4096 };
        (offset, 1 + rng.below(most) as usize)
    };
    match rng.below(11) {
        10 => Op::Ahead(dirs[rng.below(dirs.len() as u64) as usize].clone()),
        0 | 1 => Op::Stat(if rng.below(2) == 0 {
            file(rng)
        } else {
            dirs[rng.below(dirs.len() as u64) as usize].clone()
        }),
        2 => Op::List(dirs[rng.below(dirs.len() as u64) as usize].clone()),
        3 => {
            let base = dirs[rng.below(dirs.len() as u64) as usize];
            let junk = [
                "nope",
                "subtask-99999",
                "chain-7",
                "00000000000000000000000000000000",
                "..",
            ];
            let name = junk[rng.below(junk.len() as u64) as usize];
            let path = if base.is_empty() {
                name.to_string()
            } else {
                format!("{base}/{name}")
            };
            if model.files.contains_key(&path) || model.dirs.contains(&path) || name == ".." {
                Op::Stat(base.clone())
            } else {
                Op::Missing(path)
            }
        }
        4 => Op::Concurrent(
            (0..2 + rng.below(6))
                .map(|_| {
                    let p = file(rng);
                    let (o, n) = span(rng, &p);
                    (p, o, n)
                })
                .collect(),
        ),
        _ => {
            let path = file(rng);
            let (offset, len) = span(rng, &path);
            Op::Read { path, offset, len }
        }
    }
}

/// The first failing op of a sequence run on a fresh tree, if any.
fn first_failure(setup: &Setup, model: &Model, ops: &[Op]) -> Option<(usize, String)> {
    let tree = Arc::new(setup.open());
    ops.iter()
        .enumerate()
        .find_map(|(i, op)| check(&tree, model, op).err().map(|e| (i, e)))
}

/// Delta debugging: drops ever smaller chunks while the sequence still fails.
fn shrink(setup: &Setup, model: &Model, mut ops: Vec<Op>) -> Vec<Op> {
    let mut chunk = ops.len() / 2;
    while chunk >= 1 {
        let mut i = 0;
        while i < ops.len() {
            let mut fewer = ops.clone();
            fewer.drain(i..(i + chunk).min(ops.len()));
            if !fewer.is_empty() && first_failure(setup, model, &fewer).is_some() {
                ops = fewer;
            } else {
                i += chunk;
            }
        }
        chunk /= 2;
    }
    ops
}

/// The checker and the shrinker themselves: with one byte of the model's largest file
/// flipped, a random sequence fails and shrinks to the one read of that byte.
fn negative_control(setup: &Setup, model: &Model, files: &[&String], dirs: &[&String]) {
    let largest = files.iter().max_by_key(|f| model.files[**f].len()).unwrap();
    let mut files_flipped = model.files.clone();
    let bytes = files_flipped.get_mut(*largest).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0x40;
    let flipped = Model {
        files: files_flipped,
        dirs: model.dirs.clone(),
    };
    let mut rng = Prng::new(1);
    let mut ops: Vec<Op> = (0..200)
        .map(|_| random_op(&mut rng, model, files, dirs))
        .collect();
    ops.push(Op::Read {
        path: (*largest).clone(),
        offset: at as u64 - 3,
        len: 8,
    });
    assert!(
        first_failure(setup, model, &ops).is_none(),
        "passes on the true model"
    );
    let (_, why) = first_failure(setup, &flipped, &ops).expect("a flipped byte is caught");
    assert!(why.contains(largest.as_str()), "{why}");
    let minimal = shrink(setup, &flipped, ops);
    assert!(minimal.len() <= 2, "shrunk to {minimal:#?}");
}

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[test]
fn the_tree_answers_like_the_converted_directory() {
    let ops_per_run = env_or("TREE_MODEL_OPS", 300) as usize;
    let seeds = env_or("TREE_MODEL_SEEDS", 2);
    let dir = tempfile::tempdir().unwrap();
    let mut total = 0;
    for (backend, key_serializer, extra) in [
        (
            "memory",
            None,
            &["--parallelism", "3", "--state-kind", "list"][..],
        ),
        (
            "filesystem",
            None,
            &["--chain", "3", "--state-kind", "reducing"][..],
        ),
        (
            "rocksdb",
            Some("tuple1-long"),
            &["--state-kind", "list"][..],
        ),
    ] {
        let mut args = vec!["--backend", backend, "--state-bytes", "192KiB"];
        args.extend_from_slice(extra);
        let sp = synth(dir.path(), &format!("sp-{backend}"), &args);
        let uids = common::uid_file(&sp);
        // Each target, and flink-2.3 re-filed for max parallelism 64 over 5 subtasks.
        for (target, rescale) in [
            (Target::Flink23, None),
            (Target::Flink110, None),
            (Target::Flink23, Some((64, 5))),
        ] {
            let target_name = match (target, rescale) {
                (Target::Flink23, None) => "flink-2.3",
                (Target::Flink23, Some(_)) => "flink-2.3-rescaled",
                _ => "flink-1.10",
            };
            let out = dir.path().join(format!("out-{backend}-{target_name}"));
            let mut conv = vec![
                "convert".to_string(),
                sp.display().to_string(),
                out.display().to_string(),
                "--target".into(),
                target.name().into(),
                "--uid-file".into(),
                uids.display().to_string(),
            ];
            if let Some(k) = key_serializer {
                conv.extend(["--key-serializer".into(), k.into()]);
            }
            if let Some((n, p)) = rescale {
                conv.extend([
                    "--max-parallelism".into(),
                    n.to_string(),
                    "--parallelism".into(),
                    p.to_string(),
                ]);
            }
            if target == Target::Flink110 {
                // `_metadata` names files under OUTDIR for this target: name the same root.
                conv.extend(["--metadata-root".into(), "file:/nowhere".into()]);
            }
            // Every form for one target, the target's forms (the default) for the other.
            let forms = if target == Target::Flink23 && rescale.is_none() {
                conv.extend(["--forms".into(), "all".into()]);
                Forms::All
            } else {
                Forms::Target
            };
            let o = run(&conv.iter().map(String::as_str).collect::<Vec<_>>());
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
            let model = Model::load(&out);
            let files: Vec<&String> = model.files.keys().collect();
            let dirs: Vec<&String> = model.dirs.iter().collect();
            assert!(files.len() > 10, "{backend}: {} files", files.len());
            for cache_bytes in [TreeOptions::DEFAULT_CACHE_BYTES, 16 << 10] {
                let setup = Setup {
                    savepoint: sp.clone(),
                    target,
                    key_serializer,
                    operator_ids: operator_ids(&uids),
                    cache_bytes,
                    forms,
                    rescale: savepointfs::convert::refile::RescaleRequest {
                        max_parallelism: rescale.map(|r| r.0),
                        parallelism: rescale.map(|r| r.1),
                    },
                };
                if cache_bytes == TreeOptions::DEFAULT_CACHE_BYTES && target == Target::Flink23 {
                    negative_control(&setup, &model, &files, &dirs);
                }
                for seed in 0..seeds {
                    let mut rng = Prng::new(seed * 7919 + cache_bytes as u64);
                    let ops: Vec<Op> = (0..ops_per_run)
                        .map(|_| random_op(&mut rng, &model, &files, &dirs))
                        .collect();
                    total += ops.len();
                    if let Some((_, why)) = first_failure(&setup, &model, &ops) {
                        let minimal = shrink(&setup, &model, ops);
                        let (_, last) = first_failure(&setup, &model, &minimal).unwrap_or((0, why));
                        panic!(
                            "{backend} {target_name} cache {cache_bytes} seed {seed}: {last}\nminimal sequence ({} ops): {minimal:#?}",
                            minimal.len()
                        );
                    }
                }
            }
        }
    }
    assert!(total >= 12 * ops_per_run, "{total} operations");
}
