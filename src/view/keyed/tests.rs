//! Views of a hand-laid canonical stream: every line, any read offset, undecodable spans.

use super::*;
use crate::classnames as names;
use crate::modern::Snapshot;
use crate::modern::proxy::KeyedStateMeta;
use crate::source::MemSource;

fn long() -> Snapshot {
    Snapshot::of_singleton(names::LONG_SERIALIZER).unwrap()
}

/// Two states: 0 a Long value state, 1 a list of Longs; keys are Longs, no namespace.
fn info() -> Arc<KeyedInfo> {
    let void = Snapshot::of_singleton(names::VOID_NAMESPACE_SERIALIZER).unwrap();
    Arc::new(KeyedInfo {
        key: long(),
        key_codec: Ok(crate::convert::keys::Codec::Long),
        states: vec![
            KeyedStateMeta {
                name: "v".into(),
                kind: KeyedStateType::Value,
                value: long(),
                namespace: void.clone(),
            },
            KeyedStateMeta {
                name: "l".into(),
                kind: KeyedStateType::List,
                value: crate::convert::snapshots::list_state_snapshot(long()),
                namespace: void,
            },
        ],
        max_parallelism: 4,
    })
}

fn record(out: &mut Vec<u8>, group: u8, last: bool, key: i64, value: &[u8]) {
    out.extend(10i32.to_be_bytes());
    out.push(group | if last { LAST_IN_STATE } else { 0 });
    out.extend(key.to_be_bytes());
    out.push(0); // VoidNamespace
    out.extend((value.len() as i32).to_be_bytes());
    out.extend(value);
}

/// Key group 1: state 0 keys 1..=n (value k), state 1 key 7 (a list [1, 2]); key group 3:
/// state 0 key 9 with a value of 3 bytes, which does not decode.
fn stream(n: i64) -> Vec<u8> {
    let mut s = b"HEADER".to_vec();
    s.extend(0u16.to_be_bytes());
    for k in 1..=n {
        record(&mut s, 1, k == n, k, &(k * 10).to_be_bytes());
    }
    s.extend(1u16.to_be_bytes());
    let list = [
        1i64.to_be_bytes().to_vec(),
        vec![b','],
        2i64.to_be_bytes().to_vec(),
    ]
    .concat();
    record(&mut s, 1, true, 7, &list);
    s.extend(END_OF_KEY_GROUP.to_be_bytes());
    s.extend(0u16.to_be_bytes());
    record(&mut s, 3, true, 9, &[1, 2, 3]);
    s.extend(END_OF_KEY_GROUP.to_be_bytes());
    s
}

fn views(n: i64) -> KeyedViews {
    let src: Arc<dyn Source> = Arc::new(MemSource::new("ks", stream(n)));
    KeyedViews::build(src, "managed-keyed-state-v6".into(), 6, info()).unwrap()
}

fn whole(v: &KeyedViews, state: usize) -> String {
    let mut buf = vec![0u8; v.len(state) as usize];
    v.read_at(state, 0, &mut buf).unwrap();
    String::from_utf8(buf).unwrap()
}

#[test]
fn every_record_is_one_line_and_undecodable_values_are_spans() {
    let v = views(3);
    let lines: Vec<serde_json::Value> = whole(&v, 0)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 4);
    assert_eq!(
        lines[0],
        json!({"key_group": 1, "key": 1, "namespace": null, "value": 10})
    );
    assert_eq!(lines[2]["value"], 30);
    // Offset of the 3 value bytes: header 6, id 2, three records of 26, id 2, the list
    // record (4 + 10 + 4 + 17), end mark 2, id 2, then the record's 4 + 10 + 4.
    let at = 6 + 2 + 3 * 26 + 2 + 35 + 2 + 2 + 18;
    assert_eq!(
        lines[3],
        json!({"key_group": 3, "key": 9, "namespace": null,
               "value": {"bytes": "010203", "file": "managed-keyed-state-v6", "offset": at, "length": 3}})
    );
    assert_eq!(
        whole(&v, 1),
        "{\"key_group\":1,\"key\":7,\"namespace\":null,\"value\":[1,2]}\n"
    );
    assert_eq!(
        v.states().collect::<Vec<_>>(),
        [("v", v.len(0)), ("l", v.len(1))]
    );
}

/// Reads at every offset and length agree with the whole view, across checkpoints and
/// with the sequential cursor; a read past the end fails.
#[test]
fn reads_at_any_offset_agree_with_the_whole() {
    let v = views(2 * STRIDE as i64 + 5);
    let all = whole(&v, 0).into_bytes();
    assert_eq!(all.len() as u64, v.len(0));
    for (offset, len) in [
        (0, 1),
        (5, 100),
        (all.len() - 7, 7),
        (all.len() / 2, 4000),
        (1, all.len() - 1),
    ] {
        let mut buf = vec![0u8; len];
        v.read_at(0, offset as u64, &mut buf).unwrap();
        assert_eq!(buf, all[offset..offset + len], "{offset}+{len}");
    }
    // Sequential reads of 1000 bytes rebuild the whole.
    let mut seq = Vec::new();
    while seq.len() < all.len() {
        let mut buf = vec![0u8; 1000.min(all.len() - seq.len())];
        v.read_at(0, seq.len() as u64, &mut buf).unwrap();
        seq.extend(buf);
    }
    assert_eq!(seq, all);
    assert!(v.read_at(0, all.len() as u64 - 1, &mut [0u8; 2]).is_err());
}

#[test]
fn a_damaged_stream_is_an_error_naming_it() {
    let mut s = stream(2);
    s.truncate(s.len() - 10);
    let src: Arc<dyn Source> = Arc::new(MemSource::new("ks", s));
    let e = KeyedViews::build(src, "f".into(), 6, info()).err().unwrap();
    assert!(e.to_string().contains("ks"), "{e}");
}
