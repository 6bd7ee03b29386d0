//! `savepointfs dump` end to end: the real binary on the real Flink 1.1 savepoint, its
//! nested streams, and broken copies of it.

mod common;

use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};

/// The source operator's vertex (max parallelism 1: one subtask, holding "Here be dragons!").
const SOURCE_VERTEX: &str = "c4e49e546d86951780eded4825c37bcc";

fn dump(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_savepointfs"))
        .arg("dump")
        .args(args)
        .output()
        .expect("run savepointfs")
}

fn stdout(out: &Output) -> String {
    assert!(
        out.status.success(),
        "dump failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).expect("UTF-8 output")
}

fn json(out: &Output) -> Value {
    serde_json::from_str(&stdout(out)).expect("dump --json prints JSON")
}

/// Bad input: exit status 2 and exactly one line on stderr, which is returned.
fn input_error(out: &Output) -> String {
    assert_eq!(
        out.status.code(),
        Some(2),
        "exit status; stdout: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(err.lines().count(), 1, "one line on stderr: {err:?}");
    assert!(!err.contains("panicked"), "{err}");
    err
}

/// A subtask blob: (vertex hex, subtask index, offset, length).
type Blob = (String, i32, usize, usize);

fn savepoint(fx: &Path) -> (String, Vec<u8>, Vec<Blob>) {
    let path = common::mem11(fx);
    let bytes = std::fs::read(&path).expect("read savepoint");
    let blobs = common::v0_blobs(&bytes);
    (path.to_str().unwrap().to_owned(), bytes, blobs)
}

fn source_blob(blobs: &[Blob]) -> (usize, usize) {
    let b = blobs
        .iter()
        .find(|b| b.0 == SOURCE_VERTEX)
        .expect("source subtask");
    (b.2, b.3)
}

#[test]
fn a_v0_savepoint_lists_its_16_blobs() {
    let Some(fx) = common::shared_fixtures() else {
        return;
    };
    let (path, _, blobs) = savepoint(&fx);
    assert_eq!(blobs.len(), 16);

    let text = stdout(&dump(&[&path]));
    assert!(
        text.contains("Flink 1.1 savepoint (version 0), checkpoint 10, 5 tasks, 16 subtask blobs"),
        "{text}"
    );
    for (vertex, index, off, len) in &blobs {
        let row = text
            .lines()
            .find(|l| {
                let w: Vec<&str> = l.split_whitespace().collect();
                w.len() == 4 && w[0] == vertex && w[1].starts_with(&format!("{index}/"))
            })
            .unwrap_or_else(|| panic!("no row for {vertex} subtask {index}:\n{text}"));
        let w: Vec<&str> = row.split_whitespace().collect();
        assert_eq!(
            (w[2], w[3]),
            (&*off.to_string(), &*len.to_string()),
            "{row}"
        );
    }

    let doc = json(&dump(&[&path, "--json"]));
    assert_eq!(doc["checkpoint_id"], 10);
    let listed: Vec<(String, i64, u64, u64)> = doc["blobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b["vertex"].as_str().unwrap().to_owned(),
                b["subtask"].as_i64().unwrap(),
                b["offset"].as_u64().unwrap(),
                b["length"].as_u64().unwrap(),
            )
        })
        .collect();
    let expected: Vec<(String, i64, u64, u64)> = blobs
        .iter()
        .map(|(v, i, o, l)| (v.clone(), *i as i64, *o as u64, *l as u64))
        .collect();
    assert_eq!(listed, expected);
}

#[test]
fn the_source_blob_shows_classes_handles_and_the_serialized_byte_array() {
    let Some(fx) = common::shared_fixtures() else {
        return;
    };
    let (path, _, blobs) = savepoint(&fx);
    let (off, len) = source_blob(&blobs);
    let text = stdout(&dump(&[&path, "--offset", &off.to_string()]));
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].ends_with(&format!(
            "Java serialization stream at offset {off}, {len} bytes"
        )),
        "{text}"
    );
    // The root object sits right after the 4-byte header, its descriptor one byte later.
    let root = lines
        .iter()
        .find(|l| {
            l.contains(
                "object @0x7e0002 org.apache.flink.streaming.runtime.tasks.StreamTaskStateList",
            )
        })
        .unwrap_or_else(|| panic!("root object line:\n{text}"));
    assert_eq!(
        root.split_whitespace().next(),
        Some(&*(off + 4).to_string())
    );
    let desc = "class desc @0x7e0000 org.apache.flink.streaming.runtime.tasks.StreamTaskStateList uid 1 flags 0x02 SERIALIZABLE";
    let desc_line = lines
        .iter()
        .find(|l| l.contains(desc))
        .unwrap_or_else(|| panic!("descriptor line:\n{text}"));
    assert_eq!(
        desc_line.split_whitespace().next(),
        Some(&*(off + 5).to_string())
    );
    assert!(
        text.contains("class desc @0x7e0009 org.apache.flink.runtime.state.memory.SerializedStateHandle uid 4145685722538475769"),
        "{text}"
    );
    // StreamTaskState declares operatorState with the type string functionState defined.
    assert!(
        text.contains("field operatorState: -> @0x7e0006 (string \"Lorg/apache/flink/runtime/state/StateHandle;\")"),
        "{text}"
    );
    assert!(
        text.contains("serializedData = array @0x7e000e [B length 23"),
        "{text}"
    );
    assert!(text.contains("ac ed 00 05 74 00 10 48 65 72 65"), "{text}");
}

#[test]
fn json_has_the_documented_structure_and_leads_to_the_nested_stream() {
    let Some(fx) = common::shared_fixtures() else {
        return;
    };
    let (path, bytes, blobs) = savepoint(&fx);
    let (off, len) = source_blob(&blobs);
    let doc = json(&dump(&[&path, "--offset", &off.to_string(), "--json"]));
    assert_eq!(doc["stream"]["offset"], off);
    assert_eq!(doc["stream"]["length"], len);
    let root = &doc["contents"][0];
    assert_eq!(root["type"], "object");
    assert_eq!(root["handle"], "0x7e0002");
    assert_eq!(root["offset"], off + 4);
    assert_eq!(root["end"], off + len);
    assert_eq!(root["class"]["type"], "class_desc");
    assert_eq!(
        root["class"]["name"],
        "org.apache.flink.streaming.runtime.tasks.StreamTaskStateList"
    );
    assert_eq!(root["class"]["uid"], 1);
    assert_eq!(
        root["class"]["flag_names"],
        serde_json::json!(["SERIALIZABLE"])
    );

    let states = &root["class_data"][0]["fields"][0];
    assert_eq!(
        (&states["name"], &states["type"]),
        (&"states".into(), &"[".into())
    );
    let states = &states["value"];
    assert_eq!(
        (&states["type"], &states["length"]),
        (&"array".into(), &1.into())
    );
    let state = &states["elements"][0];
    assert_eq!(
        state["class"]["name"],
        "org.apache.flink.streaming.runtime.tasks.StreamTaskState"
    );
    let fields = state["class_data"][0]["fields"].as_array().unwrap();
    let names: Vec<&str> = fields.iter().map(|f| f["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["functionState", "kvStates", "operatorState"]);
    assert_eq!(fields[1]["value"]["type"], "null");
    let handle = &fields[0]["value"];
    assert_eq!(
        handle["class"]["name"],
        "org.apache.flink.runtime.state.memory.SerializedStateHandle"
    );
    // Hierarchy top-most first: AbstractCloseableHandle (no fields), then the handle.
    let data = handle["class_data"].as_array().unwrap();
    assert_eq!(
        data[0]["class_name"],
        "org.apache.flink.runtime.state.AbstractCloseableHandle"
    );
    let array = &data[1]["fields"][0]["value"];
    assert_eq!(array["element"], "B");
    assert_eq!(array["length"], 23);
    assert_eq!(array["data_length"], 23);
    let data_offset = array["data_offset"].as_u64().unwrap() as usize;
    assert_eq!(
        &bytes[data_offset..data_offset + 4],
        &[0xAC, 0xED, 0x00, 0x05]
    );
    assert!(
        array["hex_preview"]
            .as_str()
            .unwrap()
            .starts_with("aced0005")
    );

    let nested = stdout(&dump(&[&path, "--offset", &data_offset.to_string()]));
    assert!(
        nested.contains("string @0x7e0000 \"Here be dragons!\""),
        "{nested}"
    );
    let doc = json(&dump(&[
        &path,
        "--offset",
        &data_offset.to_string(),
        "--json",
    ]));
    assert_eq!(doc["stream"]["length"], 23);
    assert_eq!(doc["contents"][0]["value"], "Here be dragons!");
}

#[test]
fn length_bounds_the_stream_and_must_be_used_whole() {
    let Some(fx) = common::shared_fixtures() else {
        return;
    };
    let (path, _, blobs) = savepoint(&fx);
    let (off, len) = source_blob(&blobs);
    let doc = json(&dump(&[
        &path,
        "--offset",
        &off.to_string(),
        "--length",
        &len.to_string(),
        "--json",
    ]));
    assert_eq!(doc["stream"]["length"], len);
    // One byte more takes in the next entry's first byte: not stream contents.
    let err = input_error(&dump(&[
        &path,
        "--offset",
        &off.to_string(),
        "--length",
        &(len + 1).to_string(),
    ]));
    assert!(err.contains(&format!("offset {}", off + len)), "{err}");
}

#[test]
fn broken_input_exits_2_with_one_line_naming_file_and_offset() {
    let Some(fx) = common::shared_fixtures() else {
        return;
    };
    let (_, bytes, blobs) = savepoint(&fx);
    let (off, len) = source_blob(&blobs);
    let dir = tempfile::tempdir().unwrap();

    // The savepoint cut 10 bytes before the source blob ends.
    let cut = dir.path().join("cut-savepoint");
    std::fs::write(&cut, &bytes[..off + len - 10]).unwrap();
    let cut_s = cut.to_str().unwrap();
    let err = input_error(&dump(&[cut_s, "--offset", &off.to_string()]));
    assert!(err.contains(cut_s), "{err}");
    assert!(err.contains("truncated"), "{err}");
    let at: u64 = err
        .split("offset ")
        .nth(1)
        .and_then(|s| s.split(':').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no offset in {err}"));
    assert!((off as u64..(off + len - 10) as u64).contains(&at), "{err}");
    // Listing the cut file fails in the framing, at the blob that runs past the end.
    let err = input_error(&dump(&[cut_s]));
    assert!(err.contains(&format!("offset {}", off - 4)), "{err}");
    assert!(err.contains("blob length"), "{err}");

    // Garbage: no stream header at offset 0.
    let garbage = dir.path().join("garbage");
    std::fs::write(&garbage, [0x42u8; 64]).unwrap();
    let err = input_error(&dump(&[garbage.to_str().unwrap()]));
    assert!(err.contains("garbage: offset 0:"), "{err}");
    assert!(err.contains("expected 0xaced0005"), "{err}");
    let err = input_error(&dump(&[garbage.to_str().unwrap(), "--offset", "65"]));
    assert!(err.contains("offset 65"), "{err}");

    // A Flink 1.2 savepoint has no V0 blobs to list.
    let v1 = fx.join("flink-1.2/savepoints/nonKeyed-flink1.2-metadata");
    let err = input_error(&dump(&[v1.to_str().unwrap()]));
    assert!(
        err.contains("offset 4: savepoint format version 1"),
        "{err}"
    );

    // A missing file is unreadable input too.
    let err = input_error(&dump(&[dir.path().join("absent").to_str().unwrap()]));
    assert!(err.contains("cannot open"), "{err}");
}
