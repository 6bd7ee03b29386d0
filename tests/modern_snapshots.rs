//! Serializer snapshots: for every serializer a Flink 1.1 job could have used, the bytes
//! we write from its Java-serialized form equal the bytes Flink 1.20.5 and 2.3.0 write
//! for it. The reference comes from Flink in the test (`tests/java/SnapshotReference.java`,
//! compiled against each release's flink-dist), never from pasted constants.

mod common;

use savepointfs::convert::snapshots::{Role, snapshot_of_stream};
use std::path::{Path, PathBuf};
use std::process::Command;

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// flink-dist of a modern release, fetched by the shared set-up (once, cached).
fn flink_dist(version: &str) -> Option<PathBuf> {
    common::flink_tool("flinkrestore")?;
    let setup =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/tools/flinkrestore/setup.sh");
    let ok = Command::new(&setup).arg(version).output().unwrap();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let cache = std::env::var_os("MODERN_FLINK_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap()).join(".cache/modern-flink")
        });
    let jar = cache.join(format!("{version}/lib/flink-dist-{version}.jar"));
    assert!(jar.is_file(), "{} after set-up", jar.display());
    Some(jar)
}

/// (label, Java-serialized serializer, Flink's snapshot bytes) from the harness.
fn reference(jar: &Path) -> Vec<(String, Vec<u8>, Vec<u8>)> {
    let classes = tempfile::tempdir().unwrap();
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/java/SnapshotReference.java");
    let javac = Command::new("javac")
        .args(["-nowarn", "-cp"])
        .arg(jar)
        .arg("-d")
        .arg(classes.path())
        .arg(&src)
        .output()
        .unwrap();
    assert!(
        javac.status.success(),
        "{}",
        String::from_utf8_lossy(&javac.stderr)
    );
    let cp = format!("{}:{}", classes.path().display(), jar.display());
    let run = Command::new("java")
        .args([
            "--add-opens=java.base/java.lang=ALL-UNNAMED",
            "--add-opens=java.base/java.util=ALL-UNNAMED",
            "-cp",
            &cp,
            "SnapshotReference",
        ])
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    String::from_utf8(run.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            assert_eq!(f.len(), 3, "{l}");
            (f[0].to_string(), unhex(f[1]), unhex(f[2]))
        })
        .collect()
}

fn check(version: &str) {
    let Some(jar) = flink_dist(version) else {
        return;
    };
    let rows = reference(&jar);
    assert!(rows.len() >= 33, "{} rows", rows.len());
    let mut equal = 0;
    for (label, java, flink) in &rows {
        let role = if label == "VoidNamespace" {
            Role::Namespace
        } else {
            Role::Value
        };
        let ours = snapshot_of_stream(java, label, role);
        if label == "Kryo" {
            // Not carried: refused by name, never guessed.
            let e = ours.unwrap_err();
            let savepointfs::convert::SerializerError::Stream { problem, .. } = &e else {
                panic!("{e:?}")
            };
            assert!(problem.contains("KryoSerializer"), "{e}");
            continue;
        }
        let ours = ours.unwrap_or_else(|e| panic!("Flink {version} {label}: {e}"));
        assert_eq!(
            ours.to_bytes().unwrap(),
            *flink,
            "Flink {version} {label}: {}",
            ours.describe()
        );
        equal += 1;
    }
    assert_eq!(equal, rows.len() - 1, "every serializer but the Kryo one");
}

#[test]
fn snapshots_equal_flink_1_20s() {
    check("1.20.5");
}

#[test]
fn snapshots_equal_flink_2_3s() {
    check("2.3.0");
}

/// What Flink 1.1 wrote itself: every serializer in the real fixture savepoint's keyed
/// state maps to a snapshot, and the result is what Flink 1.20 writes for the same types
/// (Tuple1<Long> keys, Long values, VoidNamespace).
#[test]
fn the_fixtures_serializers_have_flinks_snapshots() {
    let Some(fx) = common::shared_fixtures() else {
        return;
    };
    let Some(jar) = flink_dist("1.20.5") else {
        return;
    };
    let rows = reference(&jar);
    let flink = |label: &str| rows.iter().find(|r| r.0 == label).unwrap().2.clone();
    let out = tempfile::tempdir().unwrap();
    let conv = out.path().join("c");
    let o = Command::new(env!("CARGO_BIN_EXE_savepointfs"))
        .arg("convert")
        .arg(common::mem11(&fx))
        .arg(&conv)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let file = std::fs::read(
        conv.join("072c4efc280f5df0bfc5743297a438e7/subtask-1/managed-keyed-state-v6"),
    )
    .unwrap();
    // Proxy v6: version, no compression, then the key snapshot.
    assert_eq!(&file[..5], &[0, 0, 0, 6, 0]);
    let key = flink("Tuple1<Long>");
    assert_eq!(&file[5..5 + key.len()], &key[..], "key snapshot");
    let rest = &file[5 + key.len()..];
    for label in ["Long", "VoidNamespace"] {
        let want = flink(label);
        assert!(
            rest.windows(want.len()).any(|w| w == want),
            "{label} snapshot in the header"
        );
    }
}
