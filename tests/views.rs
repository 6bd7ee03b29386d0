//! Decoded views end to end: every `SUBTASK/state/STATE.jsonl` line of a synthetic
//! savepoint, read offline and through a real mount, equals what `synth --manifest` says
//! it wrote (key, namespace and value as plain JSON) — for each source backend, every
//! state kind, windows, POJOs and re-filed trees; the usual tools read the mount.

mod common;

use common::mount::{self, Mounted};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

fn ok(out: std::process::Output, what: &str) -> Vec<u8> {
    assert!(
        out.status.success(),
        "{what}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// The manifest's value lines, canonical.
fn manifest_lines(manifest: &Path) -> BTreeSet<String> {
    std::fs::read_to_string(manifest)
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| serde_json::from_str::<Value>(l).unwrap().to_string())
        .collect()
}

/// A view line as a manifest line: the view's vertex and state, its key, namespace and value.
fn as_manifest(vertex: &str, state: &str, line: &str) -> String {
    let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
    assert!(v["key_group"].is_u64(), "{line}");
    serde_json::json!({
        "vertex": vertex, "state": state, "key": v["key"], "namespace": v["namespace"], "value": v["value"],
    })
    .to_string()
}

/// Every view line of a savepoint, read with `ls` and `cat` (`extra`: tree options).
fn offline_lines(sp: &Path, extra: &[&str]) -> BTreeSet<String> {
    let run = |args: &[&str]| {
        let mut all = vec![args[0], sp.to_str().unwrap()];
        all.extend_from_slice(&args[1..]);
        all.extend_from_slice(extra);
        ok(mount::run(&all), &format!("{all:?}"))
    };
    let listing = String::from_utf8(run(&["ls", "", "-R"])).unwrap();
    let mut lines = BTreeSet::new();
    for path in listing
        .lines()
        .filter(|p| p.contains("/state/") && p.ends_with(".jsonl"))
    {
        let vertex = path.split('/').next().unwrap();
        let state = path.rsplit('/').next().unwrap().trim_end_matches(".jsonl");
        let text = String::from_utf8(run(&["cat", path])).unwrap();
        for l in text.lines() {
            assert!(lines.insert(as_manifest(vertex, state, l)), "twice: {l}");
        }
    }
    lines
}

fn synth(dir: &Path, name: &str, extra: &[&str]) -> (std::path::PathBuf, std::path::PathBuf) {
    let manifest = dir.join(format!("{name}.manifest"));
    let mut args = vec![
        "--chain",
        "1",
        "--vertices",
        "2",
        "--parallelism",
        "3",
        "--keyed-states",
        "4",
        "--state-kind=value,list,reducing,folding",
        "--keys",
        "60",
        "--state-bytes",
        "256KiB",
        "--manifest",
        manifest.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    (mount::synth(dir, name, &args), manifest)
}

#[test]
fn keyed_views_equal_what_synth_wrote() {
    let dir = tempfile::tempdir().unwrap();
    for (name, synth_args, tree_args) in [
        ("memory", vec!["--backend", "memory"], vec![]),
        (
            "filesystem-windows",
            vec![
                "--backend",
                "filesystem",
                "--namespace",
                "time-window",
                "--key-type",
                "string",
            ],
            vec![],
        ),
        (
            "rocksdb-windows",
            vec![
                "--backend",
                "rocksdb",
                "--namespace",
                "time-window",
                "--key-type",
                "tuple2-long-string",
                "--value-type",
                "string",
            ],
            vec!["--key-serializer", "java:KS"],
        ),
        (
            "pojo-global-window",
            vec![
                "--backend",
                "memory",
                "--key-type",
                "pojo",
                "--value-type",
                "pojo",
                "--namespace",
                "global-window",
            ],
            vec![],
        ),
    ] {
        let ks = dir.path().join(format!("{name}.ks"));
        let ks_arg = format!("--key-serializer-out={}", ks.display());
        let mut s = synth_args.clone();
        s.push(&ks_arg);
        let (sp, manifest) = synth(dir.path(), name, &s);
        let ks_spec = format!("java:{}", ks.display());
        let tree: Vec<&str> = tree_args
            .iter()
            .map(|a| if *a == "java:KS" { ks_spec.as_str() } else { a })
            .collect();
        let want = manifest_lines(&manifest);
        assert_eq!(offline_lines(&sp, &tree), want, "{name}");
        // Re-filed for other key groups and subtasks: the same lines (POJO keys cannot be).
        if name != "pojo-global-window" {
            let mut rescaled = tree.clone();
            rescaled.extend(["--max-parallelism", "128", "--parallelism", "5"]);
            assert_eq!(offline_lines(&sp, &rescaled), want, "{name} re-filed");
        }
    }
}

/// Through a real mount: sizes are exact before the first read, and `jq`, `less`, `cp`,
/// `tar` (and `rsync` where installed) read the views as the offline commands do; the
/// function state view is the JSON `dump --json` prints.
#[test]
fn the_usual_tools_read_the_mounted_views() {
    if !mount::fuse_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (sp, manifest) = synth(dir.path(), "sp", &["--backend", "filesystem"]);
    let m = Mounted::new(&sp, &[]);
    let views: Vec<_> = common::walk_files(m.path())
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl" || e == "json"))
        .filter(|p| p.file_name().is_some_and(|n| n != "savepoint.json"))
        .collect();
    assert!(views.iter().any(|p| p.ends_with("function-state.json")));
    let mut lines = 0;
    for v in &views {
        let size = std::fs::metadata(v).unwrap().len();
        let rel = v.strip_prefix(m.path()).unwrap().to_str().unwrap();
        let offline = ok(mount::run(&["cat", sp.to_str().unwrap(), rel]), rel);
        assert_eq!(
            size,
            offline.len() as u64,
            "{rel}: stat before the first read"
        );
        assert_eq!(std::fs::read(v).unwrap(), offline, "{rel}");
        let jq = ok(
            Command::new("jq")
                .args(["-c", "."])
                .arg(v)
                .output()
                .unwrap(),
            "jq",
        );
        if rel.ends_with(".jsonl") {
            lines += String::from_utf8(jq).unwrap().lines().count();
            let less = ok(Command::new("less").arg(v).output().unwrap(), "less");
            assert_eq!(less, offline, "less {rel}");
        }
    }
    assert_eq!(lines, manifest_lines(&manifest).len());
    let copy = dir.path().join("copy");
    ok(
        Command::new("cp")
            .arg("-r")
            .arg(m.path())
            .arg(&copy)
            .output()
            .unwrap(),
        "cp -r",
    );
    let tar = dir.path().join("t.tar");
    ok(
        Command::new("tar")
            .arg("cf")
            .arg(&tar)
            .arg("-C")
            .arg(m.path())
            .arg(".")
            .output()
            .unwrap(),
        "tar",
    );
    let listed = String::from_utf8(ok(
        Command::new("tar").arg("tvf").arg(&tar).output().unwrap(),
        "tar t",
    ))
    .unwrap();
    for v in &views {
        let rel = v.strip_prefix(m.path()).unwrap();
        assert_eq!(
            std::fs::read(copy.join(rel)).unwrap(),
            std::fs::read(v).unwrap()
        );
        assert!(listed.contains(rel.to_str().unwrap()), "{rel:?} in the tar");
    }
    if Command::new("rsync").arg("--version").output().is_ok() {
        let synced = dir.path().join("synced");
        ok(
            Command::new("rsync")
                .arg("-a")
                .arg(format!("{}/", m.path().display()))
                .arg(&synced)
                .output()
                .unwrap(),
            "rsync",
        );
        for v in &views {
            let rel = v.strip_prefix(m.path()).unwrap();
            assert_eq!(
                std::fs::read(synced.join(rel)).unwrap(),
                std::fs::read(v).unwrap()
            );
        }
    } else {
        eprintln!("NOTICE: rsync not installed; its check is skipped");
    }
}

/// `cat --json` of a subtask prints each keyed state's lines with its `"state"`, of a
/// chain entry its function state's JSON; `ls --json` lists exact sizes; a path without a
/// view says so.
#[test]
fn cat_and_ls_json_offline() {
    let dir = tempfile::tempdir().unwrap();
    let (sp, manifest) = synth(dir.path(), "sp", &["--backend", "memory"]);
    let sp = sp.to_str().unwrap();
    let listing =
        String::from_utf8(ok(mount::run(&["ls", sp, "--json", "-R"]), "ls --json")).unwrap();
    let nodes: Vec<Value> = listing
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let mut lines = BTreeSet::new();
    let mut function_views = 0;
    for n in &nodes {
        let path = n["path"].as_str().unwrap();
        if n["type"] == "file" {
            let bytes = ok(mount::run(&["cat", sp, path]), path);
            assert_eq!(n["size"].as_u64(), Some(bytes.len() as u64), "{path}");
        }
        if n["type"] == "dir" && path.matches('/').count() == 1 && path.contains("/subtask-") {
            let vertex = path.split('/').next().unwrap();
            let has_keyed = nodes.iter().any(|m| m["path"] == format!("{path}/state"));
            let out = mount::run(&["cat", "--json", sp, path]);
            if !has_keyed {
                assert!(!out.status.success());
                assert!(String::from_utf8_lossy(&out.stderr).contains("no decoded view"));
                continue;
            }
            for l in String::from_utf8(out.stdout).unwrap().lines() {
                let v: Value = serde_json::from_str(l).unwrap();
                let state = v["state"].as_str().unwrap();
                lines.insert(as_manifest(vertex, state, l));
            }
        }
        if path.ends_with("/function-state.json") {
            let chain = path.trim_end_matches("/function-state.json");
            let via_chain = ok(mount::run(&["cat", "--json", sp, chain]), chain);
            let direct = ok(mount::run(&["cat", sp, path]), path);
            assert_eq!(via_chain, direct);
            let doc: Value = serde_json::from_slice(&direct).unwrap();
            assert!(doc["contents"].is_array(), "{doc}");
            function_views += 1;
        }
    }
    assert_eq!(lines, manifest_lines(&manifest));
    assert!(function_views > 0);
}
