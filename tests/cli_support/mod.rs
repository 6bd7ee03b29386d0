//! Driving the real `savepointfs` binary for the offline-command tests (`ls`, `cat`,
//! `convert`, `verify`, `synth`), and reading its outputs back.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub const BIN: &str = env!("CARGO_BIN_EXE_savepointfs");

pub fn run<I, S>(args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    Command::new(BIN)
        .args(args)
        .output()
        .expect("run savepointfs")
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Asserts success and returns stdout.
pub fn ok(out: Output, what: &str) -> Vec<u8> {
    assert!(
        out.status.success(),
        "{what}: exit {:?}\nstderr: {}",
        out.status.code(),
        text(&out.stderr)
    );
    out.stdout
}

/// A synthetic Flink 1.1 savepoint `dir/sp/savepoint` (external state, if any, under
/// `dir/sp/state`, inside the default allowed root).
pub fn synth(dir: &Path, backend: &str, state_bytes: &str, extra: &[&str]) -> PathBuf {
    let sp_dir = dir.join("sp");
    std::fs::create_dir_all(&sp_dir).unwrap();
    let sp = sp_dir.join("savepoint");
    let mut args = vec![
        "synth".to_string(),
        sp.display().to_string(),
        "--backend".into(),
        backend.into(),
        "--state-bytes".into(),
        state_bytes.into(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    args.extend([
        "--uid-file".to_string(),
        uid_file(&sp).display().to_string(),
    ]);
    ok(run(&args), &format!("synth {backend} {extra:?}"));
    sp
}

pub use crate::common::{uid_args, uid_file};

/// `file:` + an absolute directory, as `convert` names its output by default.
pub fn file_uri(dir: &Path) -> String {
    format!("file:{}", std::path::absolute(dir).unwrap().display())
}

/// One line of `ls -l`: `TYPE SIZE INODE NAME`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LsLine {
    pub kind: char,
    pub size: u64,
    pub ino: u64,
    pub path: String,
}

pub fn parse_ls_long(stdout: &[u8]) -> Vec<LsLine> {
    text(stdout)
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            assert_eq!(f.len(), 4, "ls -l line {l:?}");
            assert_eq!(f[0].len(), 1, "type column of {l:?}");
            LsLine {
                kind: f[0].chars().next().unwrap(),
                size: f[1].parse().unwrap_or_else(|_| panic!("size in {l:?}")),
                ino: f[2].parse().unwrap_or_else(|_| panic!("inode in {l:?}")),
                path: f[3].to_string(),
            }
        })
        .collect()
}

/// `ls -R -l` of the whole tree; `tree_args` go after the savepoint (e.g. `--target`).
pub fn ls_all(sp: &Path, root: &str, tree_args: &[&str]) -> Output {
    let mut args = vec![
        "ls".to_string(),
        "-R".into(),
        "-l".into(),
        sp.display().to_string(),
    ];
    args.extend(tree_args.iter().map(|s| s.to_string()));
    args.extend(["--metadata-root".into(), root.to_string()]);
    args.extend(uid_args(sp));
    run(&args)
}

pub fn cat(sp: &Path, path: &str, root: &str, tree_args: &[&str]) -> Output {
    let mut args = vec!["cat".to_string(), sp.display().to_string(), path.into()];
    args.extend(tree_args.iter().map(|s| s.to_string()));
    args.extend(["--metadata-root".into(), root.to_string()]);
    args.extend(uid_args(sp));
    run(&args)
}

pub fn convert(sp: &Path, out: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "convert".to_string(),
        sp.display().to_string(),
        out.display().to_string(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    args.extend(uid_args(sp));
    run(&args)
}

/// Every regular file under `dir`, relative path → bytes.
pub fn read_tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(base: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let e = e.unwrap();
            let p = e.path();
            if e.file_type().unwrap().is_dir() {
                walk(base, &p, out);
            } else {
                let rel = p.strip_prefix(base).unwrap().display().to_string();
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// Every directory under `dir`, as relative paths.
pub fn dirs(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            if e.file_type().unwrap().is_dir() {
                out.push(e.path().strip_prefix(dir).unwrap().display().to_string());
                stack.push(e.path());
            }
        }
    }
    out.sort();
    out
}
