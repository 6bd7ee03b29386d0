//! The virtual tree over the real 1.1 fixture, without FUSE: layout, sizes, stable inode
//! numbers, and a `_metadata` that describes exactly the files in the tree.

mod common;

use savepointfs::convert::{ExternalPolicy, Target};
use savepointfs::source::{FileSource, MemSource, Source};
use savepointfs::tree::{Entry, ROOT, Tree, TreeOptions};
use savepointfs::v1;
use std::collections::BTreeMap;
use std::sync::Arc;

fn open(fx: &std::path::Path, cache_bytes: usize) -> Tree {
    let source: Arc<dyn Source> = Arc::new(FileSource::open(common::mem11(fx)).unwrap());
    let opts = TreeOptions {
        cache_bytes,
        metadata_root: "file:/mnt/sp".into(),
        policy: ExternalPolicy::default(),
        target: Target::Migration,
        keyed_layout: None,
        key_serializer: None,
        rocksdb_namespaces: Vec::new(),
        relative_paths: false,
        operator_ids: Default::default(),
        operators: Default::default(),
        windows: Default::default(),
        forms: savepointfs::tree::Forms::All,
        rescale: Default::default(),
        spill_dir: std::env::temp_dir(),
    };
    Tree::open(source, opts).unwrap()
}

/// Every node as path → entry, depth first.
fn walk(tree: &Tree) -> BTreeMap<String, Entry> {
    let mut out = BTreeMap::new();
    let mut stack = vec![(String::new(), ROOT)];
    while let Some((path, ino)) = stack.pop() {
        for e in tree.children(ino).unwrap() {
            let p = format!("{path}/{}", e.name);
            if e.is_dir {
                stack.push((p.clone(), e.ino));
            }
            out.insert(p, e);
        }
    }
    out
}

fn read(tree: &Tree, ino: u64) -> Vec<u8> {
    let f = tree.open_file(ino).unwrap();
    let mut b = vec![0u8; f.stream.len() as usize];
    f.stream.read_at(0, &mut b).unwrap();
    b
}

#[test]
fn layout_sizes_and_inode_numbers() {
    let Some(fx) = common::shared_fixtures() else {
        return;
    };
    let tree = open(&fx, 1 << 20);
    let all = walk(&tree);
    let vertices: Vec<&String> = all
        .keys()
        .filter(|p| p.matches('/').count() == 1 && !p.contains('_') && !p.ends_with(".json"))
        .collect();
    assert_eq!(vertices.len(), 5);
    assert!(
        all.contains_key(
            "/b6f2d694289c3a40c7b6f325a615a3cf/subtask-1/chain-0/legacy-operator-state"
        )
    );
    // 945350bc...: chain [null sink, custom operator]: only chain-1 exists.
    let custom: Vec<&String> = all
        .keys()
        .filter(|p| p.starts_with("/945350bc") && p.contains("/subtask-0/"))
        .collect();
    assert!(custom.iter().all(|p| !p.contains("chain-0")), "{custom:?}");
    assert!(all.contains_key(&format!(
        "/{}/subtask-0/chain-1/operator-state",
        &custom[0][1..33]
    )));
    let files: Vec<(&String, &Entry)> = all.iter().filter(|(_, e)| !e.is_dir).collect();
    for (path, e) in &files {
        assert_eq!(
            read(&tree, e.ino).len() as u64,
            e.size,
            "{path}: stat size equals the bytes read"
        );
        assert_eq!(tree.resolve(path).unwrap(), **e);
    }
    assert_eq!(
        files
            .iter()
            .filter(|(p, _)| p.ends_with("/keyed-state"))
            .count(),
        9
    );
    assert_eq!(
        files
            .iter()
            .filter(|(p, _)| p.ends_with("/legacy-operator-state"))
            .count(),
        16
    );
    // Same savepoint, same inode numbers, whatever was cached.
    let again = walk(&open(&fx, 0));
    assert_eq!(all, again);
}

#[test]
fn metadata_names_every_converted_file_with_its_size() {
    let Some(fx) = common::shared_fixtures() else {
        return;
    };
    let tree = open(&fx, 1 << 20);
    let all = walk(&tree);
    let meta = read(&tree, tree.resolve("/_metadata").unwrap().ino);
    let sp = v1::read(&MemSource::new("_metadata", meta)).unwrap();
    assert_eq!(sp.checkpoint_id, 10);
    assert_eq!(sp.tasks.len(), 5);
    let mut named = 0;
    for task in &sp.tasks {
        assert_eq!(task.max_parallelism, task.parallelism);
        for (index, st) in &task.subtasks {
            assert_eq!(st.legacy.len(), task.chain_length as usize);
            assert!(
                st.managed_operator
                    .iter()
                    .chain(&st.raw_operator)
                    .all(Option::is_none)
            );
            assert!(st.raw_keyed.is_none());
            let mut handles: Vec<&v1::StreamHandle> = st.legacy.iter().flatten().collect();
            if let Some(k) = &st.managed_keyed {
                assert_eq!((k.start, k.offsets.as_slice()), (*index, &[0i64][..]));
                handles.push(&k.delegate);
            }
            for h in handles {
                let v1::StreamHandle::File { size, path } = h else {
                    panic!("file handles")
                };
                let rel = path
                    .strip_prefix("file:/mnt/sp")
                    .expect("under the metadata root");
                assert_eq!(all[rel].size as i64, *size, "{rel}");
                named += 1;
            }
        }
    }
    assert_eq!(named, 16 + 9);
}

#[test]
fn cache_is_bounded_and_eviction_keeps_open_files_readable() {
    let Some(fx) = common::shared_fixtures() else {
        return;
    };
    let tree = open(&fx, 4096);
    let path = "/b6f2d694289c3a40c7b6f325a615a3cf/subtask-1/keyed-state";
    let e = tree.resolve(path).unwrap();
    let f = tree.open_file(e.ino).unwrap();
    walk(&tree); // converts every subtask through a 4 KiB cache
    let (_, bytes) = tree.cache_usage();
    assert!(
        bytes <= 4096 || tree.cache_usage().0 == 1,
        "cache holds {bytes} bytes"
    );
    let mut b = vec![0u8; e.size as usize];
    f.stream.read_at(0, &mut b).unwrap();
    assert_eq!(&b[..4], &[0xac, 0xed, 0x00, 0x05]);
    assert_eq!(
        b,
        read(&tree, e.ino),
        "re-decoded after eviction: same bytes"
    );
}

#[test]
fn xattrs_name_the_source_and_the_handle() {
    let Some(fx) = common::shared_fixtures() else {
        return;
    };
    let tree = open(&fx, 1 << 20);
    let all = walk(&tree);
    let (path, e) = all
        .iter()
        .find(|(p, _)| p.ends_with("chain-1/operator-state"))
        .unwrap();
    let x: BTreeMap<_, _> = tree.xattrs(e.ino).unwrap().into_iter().collect();
    assert!(
        x["user.savepointfs.source"].starts_with("savepoint@"),
        "{path}: {x:?}"
    );
    assert!(
        x["user.savepointfs.handle"].contains(
            "DataInputViewHandle(org.apache.flink.runtime.state.memory.ByteStreamStateHandle)"
        ),
        "{x:?}"
    );
    let legacy = &all[&path.replace("operator-state", "legacy-operator-state")];
    let x: BTreeMap<_, _> = tree.xattrs(legacy.ino).unwrap().into_iter().collect();
    assert!(
        x["user.savepointfs.source"].starts_with("generated(1) savepoint@"),
        "{x:?}"
    );
}

#[test]
fn lookups_take_only_the_canonical_names() {
    let Some(fx) = common::shared_fixtures() else {
        return;
    };
    let tree = open(&fx, 1 << 20);
    let vertex = "b6f2d694289c3a40c7b6f325a615a3cf";
    assert!(
        tree.resolve(&format!("/{vertex}/subtask-1"))
            .unwrap()
            .is_dir
    );
    for bad in [
        "/B6F2D694289C3A40C7B6F325A615A3CF",
        "/b6f2d694289c3a40c7b6f325a615a3c",
        &format!("/{vertex}/subtask-01"),
        &format!("/{vertex}/subtask-+1"),
        &format!("/{vertex}/subtask-4"),
        &format!("/{vertex}/subtask-1/chain-00"),
        "/_metadata/x",
    ] {
        assert!(tree.resolve(bad).is_err(), "{bad} resolved");
    }
}
