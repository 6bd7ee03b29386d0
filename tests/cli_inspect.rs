//! `savepointfs inspect` driven through the real binary on the real fixtures.

mod common;

use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};

fn inspect(args: &[&str], file: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_savepointfs"))
        .arg("inspect")
        .args(args)
        .arg(file)
        .output()
        .expect("run savepointfs")
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

const VERTICES: [&str; 5] = [
    "b6f2d694289c3a40c7b6f325a615a3cf",
    "c4e49e546d86951780eded4825c37bcc",
    "072c4efc280f5df0bfc5743297a438e7",
    "9bef6223241ae84abda5b38d06a82622",
    "945350bceda4bf93ffcce1f8cb34a22f",
];
const SERIALIZED: &str = "org.apache.flink.runtime.state.memory.SerializedStateHandle";
const MEM_VALUE: &str = "org.apache.flink.runtime.state.memory.MemValueState$Snapshot";

#[test]
fn json_describes_the_memory_backend_savepoint() {
    let Some(fx) = common::shared_fixtures() else {
        return;
    };
    let out = inspect(&["--json"], &common::mem11(&fx));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc = json(&out);
    assert_eq!(doc["format"], "flink-1.1");
    assert_eq!(doc["version"], 0);
    assert_eq!(doc["checkpoint_id"], 10);
    assert_eq!(doc["errors"], 0);
    let tasks = doc["tasks"].as_array().unwrap();
    let vertices: Vec<&str> = tasks
        .iter()
        .map(|t| t["vertex"].as_str().unwrap())
        .collect();
    assert_eq!(vertices, VERTICES);
    let parallelism: Vec<u64> = tasks
        .iter()
        .map(|t| t["parallelism"].as_u64().unwrap())
        .collect();
    assert_eq!(parallelism, [4, 1, 4, 4, 4]);
    let chains: Vec<u64> = tasks
        .iter()
        .map(|t| t["chain_length"].as_u64().unwrap())
        .collect();
    assert_eq!(chains, [1, 1, 1, 1, 2]);

    // The source: one subtask, function state "Here be dragons!" (23 bytes).
    let source = &tasks[1]["subtasks"][0];
    assert_eq!(source["index"], 0);
    assert_eq!(source["blob_length"], 637);
    assert_eq!(source["state_size"], 23);
    let f = &source["chain"][0]["function_state"];
    assert_eq!(f["class"], SERIALIZED);
    assert_eq!(f["size"], 23);
    assert!(f.get("path").is_none(), "inline state has no path");
    assert_eq!(source["keyed_state_size"], Value::Null);
    assert_eq!(source["chain"][0]["operator_state"], Value::Null);

    // Keyed state: subtask 2 of the keyed-state-setting flatMap holds keys 0 and 1.
    let setter = &tasks[2]["subtasks"];
    let indices: Vec<u64> = setter
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["index"].as_u64().unwrap())
        .collect();
    assert_eq!(indices, [1, 2, 3]);
    let s2 = &setter[1];
    let kv = &s2["chain"][0]["kv_states"][0];
    assert_eq!(kv["name"], "state-name");
    assert_eq!(kv["class"], MEM_VALUE);
    assert_eq!(kv["size"], 41);
    assert_eq!(kv["backend"], "memory");
    assert_eq!(kv["kind"], "value");
    assert_eq!(s2["keyed_state_size"], 41);
    assert_eq!(s2["chain"][0]["function_state"], Value::Null);

    // The custom operator: a null chained sink, then the head with all three kinds.
    let op = &tasks[4]["subtasks"][1];
    assert_eq!(op["chain"][0]["present"], false);
    assert_eq!(op["chain"][0]["index"], 0);
    let headop = &op["chain"][1];
    assert_eq!(headop["index"], 1);
    assert_eq!(headop["function_state"]["size"], 233);
    let o = &headop["operator_state"];
    assert_eq!(
        o["class"],
        "org.apache.flink.runtime.state.AbstractStateBackend$DataInputViewHandle"
    );
    assert_eq!(o["size"], 21);
    assert_eq!(
        o["inner"]["class"],
        "org.apache.flink.runtime.state.memory.ByteStreamStateHandle"
    );
    assert_eq!(op["state_size"], 279);
    assert_eq!(op["keyed_state_size"], 25);

    // Every subtask: decoded sizes match the recorded stateSize, all migratable.
    let mut n = 0;
    for t in tasks {
        for s in t["subtasks"].as_array().unwrap() {
            assert_eq!(s["handle_size_sum"], s["state_size"]);
            assert_eq!(s["migratable"], true);
            assert!(s.get("error").is_none());
            n += 1;
        }
    }
    assert_eq!(n, 16);
}

#[test]
fn table_mentions_every_vertex() {
    let Some(fx) = common::shared_fixtures() else {
        return;
    };
    let out = inspect(&[], &common::mem11(&fx));
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    for v in VERTICES {
        assert!(text.contains(v), "{v} missing from:\n{text}");
    }
    assert!(text.contains("checkpoint 10"), "{text}");
    assert!(text.contains("MemValueState$Snapshot 41 B"), "{text}");
    assert!(text.contains("(no state)"), "{text}");
    // One line per task, one per subtask, one per chain entry (16 subtasks, 20 entries).
    assert_eq!(text.lines().count(), 1 + 5 + 16 + 20, "{text}");
}

#[test]
fn a_flink_1_2_savepoint_is_shown_from_its_v1_model() {
    let Some(fx) = common::shared_fixtures() else {
        return;
    };
    let v1 = fx.join("flink-1.2/savepoints/stateful-udf-migration-itcase-flink1.2-savepoint");
    let out = inspect(&["--json"], &v1);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["format"], "flink-1.2");
    assert_eq!(doc["checkpoint_id"], 10);
    assert_eq!(doc["tasks"].as_array().unwrap().len(), 6);
    // Flink 1.2 wrote its own legacy streams here: the layout of our migration target.
    assert_eq!(doc["target"], "migration");
    let text = inspect(&[], &v1);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("Flink 1.2 savepoint metadata") && text.contains("max parallelism 4"),
        "{text}"
    );
    // A directory holding `_metadata` is read through it (as a mount point is).
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        fx.join("flink-1.2/savepoints/nonKeyed-flink1.2-metadata"),
        dir.path().join("_metadata"),
    )
    .unwrap();
    let out = inspect(&["--json"], dir.path());
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // Flink 1.2's own native job: one null legacy slot per operator, like our flink-1.2 target.
    assert_eq!(
        (doc["checkpoint_id"].as_i64(), doc["target"].as_str()),
        (Some(41), Some("flink-1.2"))
    );
}

#[test]
fn bad_input_files_fail_with_status_2() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk");
    std::fs::write(&junk, b"not a savepoint at all").unwrap();
    let out = inspect(&[], &junk);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("magic number"));
    let out = inspect(&[], &dir.path().join("missing"));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot open"));
}

#[test]
fn a_damaged_subtask_is_reported_and_the_rest_still_printed() {
    let Some(fx) = common::shared_fixtures() else {
        return;
    };
    let mut bytes = std::fs::read(common::mem11(&fx)).unwrap();
    let blobs = common::v0_blobs(&bytes);
    // Subtask 2 of the keyed-state-setting flatMap: break the root object's type code.
    let (_, _, off, _) = blobs
        .iter()
        .find(|(v, i, _, _)| v == VERTICES[2] && *i == 2)
        .unwrap()
        .clone();
    bytes[off + 4] = 0x00;
    let dir = tempfile::tempdir().unwrap();
    let damaged = dir.path().join("damaged-savepoint");
    std::fs::write(&damaged, &bytes).unwrap();

    let out = inspect(&["--json"], &damaged);
    assert_eq!(out.status.code(), Some(2));
    let doc = json(&out);
    assert_eq!(doc["errors"], 1);
    let mut errors = Vec::new();
    for t in doc["tasks"].as_array().unwrap() {
        for s in t["subtasks"].as_array().unwrap() {
            match s.get("error") {
                Some(e) => errors.push((t["vertex"].clone(), s["index"].clone(), e.clone())),
                None => assert!(s["chain"].is_array(), "undamaged subtasks are decoded"),
            }
        }
    }
    assert_eq!(errors.len(), 1);
    let (vertex, index, message) = &errors[0];
    assert_eq!(
        (vertex.as_str(), index.as_u64()),
        (Some(VERTICES[2]), Some(2))
    );
    let message = message.as_str().unwrap();
    assert!(
        message.contains(&format!("offset {}", off + 4)),
        "{message}"
    );
    assert!(message.contains("subtask 2"), "{message}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("1 subtask blob(s)"));

    let out = inspect(&[], &damaged);
    assert_eq!(out.status.code(), Some(2));
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.matches("ERROR:").count(), 1, "{text}");
    for v in VERTICES {
        assert!(text.contains(v), "{v} missing from:\n{text}");
    }

    // --shallow reads only the index, so the damage inside the blob goes unnoticed.
    let out = inspect(&["--json", "--shallow"], &damaged);
    assert_eq!(out.status.code(), Some(0));
    let doc = json(&out);
    assert_eq!(doc["shallow"], true);
    let t = &doc["tasks"][2];
    assert_eq!(t["chain_length"], Value::Null);
    assert!(t["subtasks"][1].get("chain").is_none());
    assert_eq!(t["subtasks"][1]["blob_length"], 1937);
}
