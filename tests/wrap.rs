//! `savepointfs wrap`: Flink 1.1's own operator snapshots (one `StreamTaskState` each,
//! written by its test harnesses) as one-vertex savepoints that every command takes.

mod common;

use common::mount::run;
use std::path::Path;

fn ok(out: std::process::Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn wrap(snapshot: &Path, out: &Path, uid: &str) {
    ok(
        run(&[
            "wrap",
            snapshot.to_str().unwrap(),
            out.to_str().unwrap(),
            "--uid",
            uid,
        ]),
        "wrap",
    );
}

#[test]
fn every_operator_snapshot_wraps_into_a_savepoint_that_verifies() {
    let Some(fx) = common::shared_fixtures() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let snapshots = common::operator_snapshots(&fx);
    assert_eq!(snapshots.len(), 11);
    for snap in &snapshots {
        let name = snap.file_name().unwrap().to_str().unwrap();
        let out = dir.path().join(name);
        wrap(snap, &out, name);
        // The vertex is the operator id Flink derives from the uid.
        let vertex = savepointfs::ids::hex(&savepointfs::modern::operator_id_of_uid(name));
        let inspect = ok(
            run(&["inspect", "--json", out.to_str().unwrap()]),
            "inspect",
        );
        assert!(inspect.contains(&vertex), "{name}: {vertex}");
        // Flink 1.2's migration form carries every operator.
        let sp = out.to_str().unwrap();
        ok(
            run(&["verify", sp, "--target", "migration"]),
            &format!("verify {name}"),
        );
        // The native forms refuse what they would lose, naming the operator (operators.md
        // §2.5), on the targets that cannot carry it; the others convert.
        let refused = [
            ("rolling-sink-", "RollingSink state", &["flink-2.3"][..]),
            (
                "-aligned-",
                "an aligned processing-time window operator state",
                &["flink-2.3", "flink-1.10"][..],
            ),
        ]
        .into_iter()
        .find(|(part, _, _)| name.contains(part));
        // inspect names the detected operator (those that convert by their own rules too:
        // windows with timers, the file reader).
        let own_rules = name.contains("-event-time-")
            || name.contains("-processing-time-")
            || name.starts_with("reader-");
        assert_eq!(
            inspect.contains("\"operator\": "),
            refused.is_some() || own_rules,
            "{name}: {inspect}"
        );
        for target in ["flink-2.3", "flink-1.10"] {
            let v = run(&["verify", sp, "--target", target]);
            let text = String::from_utf8_lossy(&v.stderr).to_string()
                + &String::from_utf8_lossy(&v.stdout);
            match refused.filter(|(_, _, on)| on.contains(&target)) {
                Some((_, why, _)) => {
                    assert!(!v.status.success(), "{name} {target}: {text}");
                    assert!(text.contains(why), "{name} {target}: {text}");
                }
                None => assert!(v.status.success(), "{name} {target}: {text}"),
            }
            // A bare Long cannot be told apart: a warning, not a refusal.
            let warned = text.contains(
                "a bare Long function state: if this is ContinuousFileMonitoringFunction",
            );
            assert_eq!(
                warned,
                name.starts_with("monitoring-function"),
                "{name}: {text}"
            );
            // Nor can an empty HashMap, which may be a Kafka consumer's.
            let warned =
                text.contains("an empty HashMap function state: if this is FlinkKafkaConsumer");
            assert_eq!(warned, name.starts_with("kafka-consumer"), "{name}: {text}");
        }
    }
    // Named, the empty Kafka offsets are no state at all (the consumer starts from the
    // group's offsets, as in 1.1), on every target, without a warning.
    let kafka = dir
        .path()
        .join("kafka-consumer-migration-test-flink1.1-empty-state-snapshot");
    let vertex = savepointfs::ids::hex(&savepointfs::modern::operator_id_of_uid(
        "kafka-consumer-migration-test-flink1.1-empty-state-snapshot",
    ));
    let named = format!("{vertex}/chain-0=kafka");
    for target in ["flink-1.10", "flink-2.3"] {
        let k = kafka.to_str().unwrap();
        let args = ["--target", target, "--operator", &named];
        let v = ok(run(&[&["verify", k][..], &args].concat()), "verify kafka");
        assert!(v.contains(" 0 warning(s): ok"), "{v}");
        let listing = ok(run(&[&["ls", k, "-R"][..], &args].concat()), "ls kafka");
        assert!(!listing.contains("managed-operator-state"), "{listing}");
    }
    // The reduce window operator's timers for flink-1.10: Flink 1.2's own raw keyed
    // stream of the same scenario, but for the order of its three timers (HashSet order).
    let out = dir.path().join("reduce-1.10");
    let sp = dir
        .path()
        .join("win-op-migration-test-reduce-event-time-flink1.1-snapshot");
    ok(
        run(&[
            "convert",
            sp.to_str().unwrap(),
            out.to_str().unwrap(),
            "--target",
            "flink-1.10",
        ]),
        "convert",
    );
    let sub = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.is_dir())
        .unwrap()
        .join("subtask-0");
    let raw = std::fs::read(sub.join("raw-keyed-state")).unwrap();
    assert_eq!(raw.len(), 500, "operators.md §3.2: 500 B");
    assert_eq!(&raw[..4], &[0, 0, 0, 1]);
    assert_eq!(&raw[4..19], b"\x00\x0dwindow-timers");
    // Three event timers of 29 bytes (key 5, window 16, time 8), no processing timers.
    assert_eq!(&raw[500 - 4 - 87 - 4..500 - 87 - 4], &[0, 0, 0, 3]);
    assert_eq!(&raw[496..], &[0, 0, 0, 0]);
    let metadata = std::fs::read(out.join("_metadata")).unwrap();
    let named = |f: &str| metadata.windows(f.len()).any(|w| w == f.as_bytes());
    assert!(named("raw-keyed-state"), "the timers are named");
    assert!(!named("operator-state"), "and not as raw operator state");
    // The tree holds what `_metadata` names: the operator bytes only under --forms all.
    for target in ["flink-1.10", "flink-2.3"] {
        let files = |forms: &str| {
            let args = [
                "ls",
                sp.to_str().unwrap(),
                "-R",
                "--target",
                target,
                "--forms",
                forms,
            ];
            ok(run(&args), "ls")
        };
        assert!(!files("target").contains("operator-state\n"), "{target}");
        assert!(
            files("all").contains("chain-0/operator-state\n"),
            "{target}"
        );
    }
    // The reduce window operator's contents, decoded: Flink's bytes, key by key.
    let out = dir
        .path()
        .join("win-op-migration-test-reduce-event-time-flink1.1-snapshot");
    let listing = ok(run(&["ls", out.to_str().unwrap(), "-R"]), "ls");
    let view = listing
        .lines()
        .find(|l| l.ends_with("state/window-contents.jsonl"))
        .unwrap();
    // (The contents convert; only the timers cannot.)
    let lines = ok(run(&["cat", out.to_str().unwrap(), view]), "cat");
    let want = [
        r#"{"key_group":0,"key":"key1","namespace":{"end":3000,"start":0},"value":["key1",3]}"#,
        r#"{"key_group":0,"key":"key2","namespace":{"end":3000,"start":0},"value":["key2",3]}"#,
        r#"{"key_group":0,"key":"key2","namespace":{"end":6000,"start":3000},"value":["key2",2]}"#,
    ];
    assert_eq!(lines.lines().collect::<Vec<_>>(), want);
}

#[test]
fn what_is_not_an_operator_snapshot_is_refused_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let sp = common::mount::synth(dir.path(), "sp", &[]);
    let out = dir.path().join("out");
    let refused = run(&[
        "wrap",
        sp.to_str().unwrap(),
        out.to_str().unwrap(),
        "--uid",
        "u",
    ]);
    assert!(!refused.status.success());
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(
        err.contains(sp.to_str().unwrap()) && err.contains("offset"),
        "{err}"
    );
    assert!(!out.exists());
    // A Java stream of something else.
    let other = dir.path().join("string.ser");
    std::fs::write(&other, [0xAC, 0xED, 0, 5, 0x74, 0, 1, b'x']).unwrap();
    let refused = run(&[
        "wrap",
        other.to_str().unwrap(),
        out.to_str().unwrap(),
        "--uid",
        "u",
    ]);
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(
        err.contains("not a org.apache.flink.streaming.runtime.tasks.StreamTaskState"),
        "{err}"
    );
    assert!(!out.exists());
}

#[test]
fn an_operator_named_for_state_of_another_kind_is_refused_naming_file_and_offset() {
    let Some(fx) = common::shared_fixtures() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let snapshots = fx.join("flink-1.1/operator-snapshots");
    // (snapshot, the kind it is named as, what the error says it found)
    for (file, kind, found) in [
        (
            "kafka-consumer-migration-test-flink1.1-empty-state-snapshot",
            "monitoring-function",
            "ContinuousFileMonitoringFunction state: a java.util.HashMap in ",
        ),
        (
            "monitoring-function-migration-test-1482144479339-flink1.1-snapshot",
            "kafka",
            ": a java.lang.Long, not a java.util.HashMap",
        ),
    ] {
        let sp = dir.path().join(kind);
        wrap(&snapshots.join(file), &sp, kind);
        let vertex = savepointfs::ids::hex(&savepointfs::modern::operator_id_of_uid(kind));
        let named = format!("{vertex}/chain-0={kind}");
        let s = sp.to_str().unwrap();
        let v = run(&["verify", s, "--target", "flink-1.10", "--operator", &named]);
        let text =
            String::from_utf8_lossy(&v.stdout).to_string() + &String::from_utf8_lossy(&v.stderr);
        assert!(!v.status.success(), "{text}");
        assert!(
            text.contains(found) && text.contains(&format!("{s} at offset ")),
            "{kind}: {text}"
        );
    }
}
