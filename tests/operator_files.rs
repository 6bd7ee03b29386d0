//! Flink's own source and sink migration tests, rerun in a real Flink 1.10.3 and 2.3.0
//! on our conversion of Flink 1.1's operator snapshots (`scripts/flink-operator-check`,
//! operators.md §5–7): the file monitoring function resumes from its modification time,
//! the file reader reads each restored split once, a RollingSink's bucket and Kafka
//! offsets are read as BucketingSink and the consumer read them (stand-ins, Flink 1.10).
//! The controls show the check would see a function that starts over and splits,
//! buckets or offsets left where no later Flink reads them.

mod common;

use common::mount::run;
use common::operators::*;

#[test]
fn the_file_reader_reads_each_restored_split_once_on_every_target_and_backend() {
    let Some(fx) = setup() else { return };
    let dir = tempfile::tempdir().unwrap();
    for (target, flink) in [("flink-1.10", F110), ("flink-2.3", F23)] {
        let out = converted(&fx, dir.path(), READER, &["--target", target], target);
        for backend in ["heap", "rocksdb"] {
            assert_ok(READER, &out, backend, flink);
        }
    }
    // Control: the generic recipe leaves the splits in raw operator state, which the
    // reader of Flink 1.10 ignores: nothing is read.
    let generic = generic_recipe(READER);
    let args = ["--target", "flink-1.10", "--operator", &generic];
    let out = converted(&fx, dir.path(), READER, &args, "generic");
    assert_nothing_comes_out(READER, &out);
}

#[test]
fn a_rolling_sinks_bucket_restores_as_bucketing_sink_state_in_flink_1_10() {
    let Some(fx) = setup() else { return };
    let dir = tempfile::tempdir().unwrap();
    // A stand-in reads `bucket-states` as Flink 1.10's BucketingSink does (the connector
    // is not in the offline jars): the bucket of Flink's test, as its validator wants it.
    let out = converted(
        &fx,
        dir.path(),
        ROLLING_SINK,
        &["--target", "flink-1.10"],
        "1.10",
    );
    assert_ok(ROLLING_SINK, &out, "heap", F110);
    // Control: the generic recipe's `_default_` holds a RollingSink$BucketState, a class
    // later Flink does not have: the restore fails.
    let generic = generic_recipe(ROLLING_SINK);
    let args = ["--target", "flink-1.10", "--operator", &generic];
    let out = converted(&fx, dir.path(), ROLLING_SINK, &args, "generic");
    let (code, text) = check(ROLLING_SINK, &out, "heap", F110);
    assert_eq!(code, Some(2), "{text}");
    assert!(
        text.contains("ClassNotFoundException: org.apache.flink.streaming.connectors.fs.RollingSink$BucketState"),
        "{text}"
    );
    // Flink 2.3 has no BucketingSink: refused, saying which Flink to use.
    let sp = dir.path().join(format!("{ROLLING_SINK}.savepoint"));
    let c = run(&[
        "convert",
        sp.to_str().unwrap(),
        dir.path().join("2.3").to_str().unwrap(),
        "--target",
        "flink-2.3",
    ]);
    let err = String::from_utf8_lossy(&c.stderr);
    assert_eq!(c.status.code(), Some(2), "{err}");
    assert!(
        err.contains(
            "managed-operator-state-v5: cannot be migrated: RollingSink state: BucketingSink"
        ) && err.contains("convert with --target flink-1.10"),
        "{err}"
    );
}

#[test]
fn the_file_monitoring_function_resumes_from_its_modification_time() {
    let Some(fx) = setup() else { return };
    let dir = tempfile::tempdir().unwrap();
    let vertex = savepointfs::ids::hex(&savepointfs::modern::operator_id_of_uid(MONITORING));
    let operator = format!("{vertex}/chain-0=monitoring-function");
    for (target, flink) in [("flink-1.10", F110), ("flink-2.3", F23)] {
        let args = ["--target", target, "--operator", &operator];
        let out = converted(&fx, dir.path(), MONITORING, &args, target);
        // Only the file newer than the restored time is read (operators.md §6.4).
        assert_ok(MONITORING, &out, "heap", flink);
    }
    // Control: without --operator the Long is a user's ListCheckpointed state, which the
    // function does not read: it starts over and reads the older file again.
    let generic = converted(&fx, dir.path(), MONITORING, &for_1_10("heap"), "generic");
    let (code, text) = check(MONITORING, &generic, "heap", F110);
    assert_eq!(code, Some(3), "{text}");
    assert!(text.contains("got [read before the savepoint]"), "{text}");
}

#[test]
fn kafka_offsets_restore_in_flink_1_10_and_are_named_where_they_cannot_go() {
    let Some(fx) = setup() else { return };
    let dir = tempfile::tempdir().unwrap();
    let Some(snapshot) = common::kafka_snapshot(&fx, dir.path()) else {
        return;
    };
    const KAFKA: &str = "kafka-consumer";
    let sp = dir.path().join("kafka.savepoint");
    let w = run(&[
        "wrap",
        snapshot.to_str().unwrap(),
        sp.to_str().unwrap(),
        "--uid",
        KAFKA,
    ]);
    assert!(w.status.success(), "{}", String::from_utf8_lossy(&w.stderr));
    let convert = |name: &str, extra: &[&str]| {
        let out = dir.path().join(name);
        let mut args = vec!["convert", sp.to_str().unwrap(), out.to_str().unwrap()];
        args.extend_from_slice(extra);
        let c = run(&args);
        assert!(c.status.success(), "{}", String::from_utf8_lossy(&c.stderr));
        out
    };
    // A stand-in consumer reads the offsets as Flink 1.10's does (operators.md §2.6).
    let out = convert("ok", &["--target", "flink-1.10"]);
    assert_ok(KAFKA, &out, "heap", F110);
    // Control: the generic recipe hands the consumer the 1.1 HashMap, which it cannot
    // read as its Tuple2 elements (the job fails).
    let generic = generic_recipe(KAFKA);
    let out = convert(
        "generic",
        &["--target", "flink-1.10", "--operator", &generic],
    );
    let (code, text) = check(KAFKA, &out, "heap", F110);
    assert_eq!(code, Some(2), "{text}");
    assert!(text.contains("ClassCastException"), "{text}");
    // Flink >= 1.11 reads only a Kryo union state: refused, with the offsets named.
    let v = run(&["verify", sp.to_str().unwrap(), "--target", "flink-2.3"]);
    let err = String::from_utf8_lossy(&v.stdout).to_string() + &String::from_utf8_lossy(&v.stderr);
    assert!(!v.status.success());
    assert!(
        err.contains("FlinkKafkaConsumer offsets abc-13=16768, def-7=987654321")
            && err.contains("setStartFromSpecificOffsets"),
        "{err}"
    );
}
