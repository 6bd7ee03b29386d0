//! Rescaling at the upgrade without a Flink at hand: `--max-parallelism N --parallelism P`
//! output read back by a parser of the canonical savepoint layout written here (not the
//! crate's): every record sits in the key group its key hashes to, each key group in the
//! subtask Flink assigns it, `_metadata` names every group's offset, and the records
//! are exactly those of the conversion without rescaling. Real restores are in
//! `modern_restore.rs`.

mod cli_support;
mod common;

use cli_support::*;
use std::collections::BTreeSet;
use std::path::Path;

/// (state id, key and namespace bytes, value bytes) of one record.
type Record = (u16, Vec<u8>, Vec<u8>);

fn be32(b: &[u8], at: usize) -> usize {
    u32::from_be_bytes(b[at..at + 4].try_into().unwrap()) as usize
}

fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes(b[at..at + 2].try_into().unwrap())
}

/// Flink's `KeyGroupRangeAssignment.computeKeyGroupRangeForOperatorIndex`.
fn range(max_p: usize, p: usize, i: usize) -> (usize, usize) {
    ((i * max_p).div_ceil(p), ((i + 1) * max_p).div_ceil(p) - 1)
}

/// Every record of a converted directory, with its key group, checking the layout:
/// each keyed handle's offsets point at key groups of the subtask's range whose records
/// carry that group's prefix, flag each state's last record, and end with `ffff`.
fn records(dir: &Path) -> (Vec<(usize, Record)>, usize) {
    let out = ok(
        run(["inspect", "--json", dir.join("_metadata").to_str().unwrap()]),
        "inspect",
    );
    let meta: serde_json::Value = serde_json::from_slice(&out).unwrap();
    let mut all = Vec::new();
    let mut max_p = 0;
    for op in meta["operators"].as_array().unwrap() {
        let n = op["max_parallelism"].as_u64().unwrap() as usize;
        let p = op["parallelism"].as_u64().unwrap() as usize;
        for sub in op["subtasks"].as_array().unwrap() {
            let index = sub[0].as_u64().unwrap() as usize;
            let keyed = &sub[1]["managed_keyed"];
            if keyed.is_null() {
                continue;
            }
            max_p = n;
            let start = keyed["start"].as_u64().unwrap() as usize;
            let offsets: Vec<usize> = keyed["offsets"]
                .as_array()
                .unwrap()
                .iter()
                .map(|o| o.as_u64().unwrap() as usize)
                .collect();
            let (lo, hi) = range(n, p, index);
            assert_eq!(
                (start, start + offsets.len() - 1),
                (lo, hi),
                "subtask {index} of {p}"
            );
            let bytes =
                std::fs::read(dir.join(keyed["delegate"]["path"].as_str().unwrap())).unwrap();
            let prefix = if n > 128 { 2 } else { 1 };
            for (i, &at) in offsets.iter().enumerate() {
                if at == 0 {
                    continue;
                }
                let group = start + i;
                let mut pos = at;
                let mut state = be16(&bytes, pos);
                pos += 2;
                while state != 0xFFFF {
                    let klen = be32(&bytes, pos);
                    let key = &bytes[pos + 4..pos + 4 + klen];
                    pos += 4 + klen;
                    let vlen = be32(&bytes, pos);
                    let value = bytes[pos + 4..pos + 4 + vlen].to_vec();
                    pos += 4 + vlen;
                    let last = key[0] & 0x80 != 0;
                    let mut g = vec![key[0] & 0x7F];
                    g.extend_from_slice(&key[1..prefix]);
                    let g = g.iter().fold(0usize, |a, &b| a << 8 | b as usize);
                    assert_eq!(g, group, "record prefix in key group {group}");
                    all.push((group, (state, key[prefix..].to_vec(), value)));
                    if last {
                        state = be16(&bytes, pos);
                        pos += 2;
                    }
                }
            }
        }
    }
    (all, max_p)
}

/// The key group of a `Long` or `Tuple1<Long>` key (Java `Long.hashCode`, then murmur).
fn group_of(key: &[u8], max_p: u32) -> usize {
    let v = i64::from_be_bytes(key[..8].try_into().unwrap());
    let hash = (v ^ ((v as u64) >> 32) as i64) as i32;
    savepointfs::keygroup::assign_to_key_group(hash, max_p) as usize
}

use common::convert_minimal as convert;

#[test]
fn every_key_is_re_filed_into_its_key_group_and_nothing_is_lost() {
    let dir = tempfile::tempdir().unwrap();
    let cases: &[(&str, &[&str], &[&str])] = &[
        (
            "memory",
            &[],
            &["--max-parallelism", "128", "--parallelism", "5"],
        ),
        (
            "filesystem",
            &[],
            &["--max-parallelism", "1024", "--parallelism", "7"],
        ),
        (
            "rocksdb",
            &["--key-serializer", "tuple1-long"],
            &["--max-parallelism", "300", "--parallelism", "2"],
        ),
        ("memory", &[], &["--parallelism", "2"]),
    ];
    for (n, (backend, convert_args, rescale)) in cases.iter().enumerate() {
        let sp = common::mount::synth(
            dir.path(),
            &format!("sp{n}"),
            &[
                "--backend",
                backend,
                "--parallelism",
                "3",
                "--vertices",
                "2",
                "--chain",
                "1",
                "--keyed-states",
                "2",
                "--state-kind=value,list",
                "--keys",
                "500",
                "--state-bytes",
                "256KiB",
            ],
        );
        let what = format!("{backend} {rescale:?}");
        let plain = dir.path().join(format!("plain{n}"));
        convert(&sp, &plain, convert_args);
        let rescaled = dir.path().join(format!("rescaled{n}"));
        let mut args = convert_args.to_vec();
        args.extend_from_slice(rescale);
        convert(&sp, &rescaled, &args);
        let (before, old_p) = records(&plain);
        let (after, new_max) = records(&rescaled);
        assert_eq!(
            old_p, 3,
            "{what}: the plain conversion keeps max parallelism 3"
        );
        assert!(after.len() >= 1000, "{what}: {} records", after.len());
        for (group, (_, key, _)) in &after {
            assert_eq!(
                *group,
                group_of(key, new_max as u32),
                "{what}: a misfiled key"
            );
        }
        // verify reports the same spread, key group by key group.
        let mut verify = vec!["verify", sp.to_str().unwrap(), "--histogram"];
        verify.extend_from_slice(convert_args);
        verify.extend_from_slice(rescale);
        let report = text(&ok(run(verify), "verify"));
        let mut counts = vec![0u64; new_max];
        for (group, _) in &after {
            counts[*group] += 1;
        }
        let want = counts
            .iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join(" ");
        assert!(
            report.contains(&format!("records per key group: {want}\n")),
            "{what}: {report}"
        );
        assert!(
            report.contains(&format!(
                "{} records re-filed into {new_max} key groups",
                after.len()
            )),
            "{what}: {report}"
        );
        let set = |r: Vec<(usize, Record)>| -> BTreeSet<Record> {
            r.into_iter().map(|(_, r)| r).collect()
        };
        let (before, after) = (set(before), set(after));
        assert_eq!(before.len(), after.len(), "{what}: record count");
        assert!(before == after, "{what}: the same records, re-filed");
    }
}

#[test]
fn rescaling_is_refused_where_it_cannot_be_written() {
    let dir = tempfile::tempdir().unwrap();
    let sp = common::mount::synth(
        dir.path(),
        "sp",
        &["--parallelism", "3", "--vertices", "1", "--chain", "1"],
    );
    let s = sp.to_str().unwrap();
    let out = dir.path().join("out");
    let o = out.to_str().unwrap();
    let refused = |args: &[&str], needle: &str| {
        let mut all = vec!["convert", s, o];
        all.extend_from_slice(args);
        let r = run(all);
        assert!(!r.status.success(), "{args:?} must be refused");
        let err = text(&r.stderr);
        assert!(err.contains(needle), "{args:?}: {err}");
        assert!(!out.exists(), "nothing written");
    };
    refused(
        &["--max-parallelism", "128", "--target", "flink-1.10"],
        "flink-2.3 only",
    );
    refused(
        &["--max-parallelism", "4", "--parallelism", "5"],
        "parallelism 5",
    );
    refused(&["--max-parallelism", "40000"], "32768");
    refused(&["--max-parallelism", "0"], "max parallelism 0");
}

#[test]
fn the_spill_file_leaves_nothing_behind_and_a_bad_spill_dir_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let sp = common::mount::synth(
        dir.path(),
        "sp",
        &["--parallelism", "3", "--vertices", "1", "--chain", "1"],
    );
    let spill = dir.path().join("spill");
    std::fs::create_dir(&spill).unwrap();
    let out = dir.path().join("out");
    let args = [
        "--max-parallelism",
        "64",
        "--spill-dir",
        spill.to_str().unwrap(),
    ];
    convert(&sp, &out, &args);
    assert_eq!(
        std::fs::read_dir(&spill).unwrap().count(),
        0,
        "the spill file is unlinked"
    );
    let r = run([
        "convert",
        sp.to_str().unwrap(),
        dir.path().join("out2").to_str().unwrap(),
        "--max-parallelism",
        "64",
        "--spill-dir",
        "/nonexistent/spill",
    ]);
    assert!(!r.status.success());
    let err = text(&r.stdout) + &text(&r.stderr);
    assert!(err.contains("/nonexistent/spill"), "{err}");
}
