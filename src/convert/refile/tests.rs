//! Re-filing against a model: small canonical streams written here, re-filed, and read
//! back record by record.

use super::*;
use crate::classnames::LONG_SERIALIZER;
use crate::keygroup::JavaKey;
use crate::modern::proxy::KeyedStateType;
use crate::modern::snapshot::VOID_NAMESPACE_SERIALIZER;
use crate::source::MemSource;
use crate::stream::MultiStream;
use std::collections::BTreeSet;

fn meta(name: &str) -> KeyedStateMeta {
    KeyedStateMeta {
        name: name.into(),
        kind: KeyedStateType::Value,
        value: Snapshot::of_singleton(LONG_SERIALIZER).unwrap(),
        namespace: Snapshot::of_singleton(VOID_NAMESPACE_SERIALIZER).unwrap(),
    }
}

fn info(states: &[&str], codec: Codec, max_parallelism: u32) -> KeyedInfo {
    KeyedInfo {
        key: Snapshot::of_singleton(LONG_SERIALIZER).unwrap(),
        key_codec: Ok(codec),
        states: states.iter().map(|s| meta(s)).collect(),
        max_parallelism,
    }
}

/// One key group (`group` of `max_p`) in the canonical layout: per state, its
/// (key, value) records with a void namespace byte, the last flagged.
fn group_stream(group: u32, max_p: u32, states: &[Vec<(i64, Vec<u8>)>]) -> Arc<MultiStream> {
    let prefix = keygroup::prefix(group, max_p).unwrap();
    let mut b = Vec::new();
    let with: Vec<usize> = (0..states.len())
        .filter(|&s| !states[s].is_empty())
        .collect();
    b.extend_from_slice(&with.first().map_or(0xFFFF, |&s| s as u16).to_be_bytes());
    for (i, &s) in with.iter().enumerate() {
        for (j, (k, v)) in states[s].iter().enumerate() {
            let mut p = prefix;
            if j + 1 == states[s].len() {
                p.mark_last();
            }
            b.extend_from_slice(&((p.len() + 9) as u32).to_be_bytes());
            b.extend_from_slice(p.bytes());
            b.extend_from_slice(&k.to_be_bytes());
            b.push(0);
            b.extend_from_slice(&(v.len() as u32).to_be_bytes());
            b.extend_from_slice(v);
        }
        let next = with.get(i + 1).map_or(0xFFFF, |&n| n as u16);
        b.extend_from_slice(&next.to_be_bytes());
    }
    Arc::new(MultiStream::new("model", [Piece::bytes(b)]))
}

/// Reads back a new subtask's body: (group, state, key, value) per record, checking
/// the framing against the offsets.
fn read_back(r: &Refiled, index: u32) -> Vec<(u32, u16, i64, Vec<u8>)> {
    let Some((pieces, offsets)) = r.subtask(index) else {
        return Vec::new();
    };
    let stream = MultiStream::new("out", pieces);
    let mut bytes = vec![0u8; stream.len() as usize];
    stream.read_at(0, &mut bytes).unwrap();
    let n = r.rescale().max_parallelism;
    let plen = if n > 128 { 2 } else { 1 };
    let mut out = Vec::new();
    for (i, &at) in offsets.offsets.iter().enumerate() {
        if at == 0 {
            continue;
        }
        let group = offsets.first_key_group + i as u32;
        let mut pos = at as usize;
        let mut state = u16::from_be_bytes([bytes[pos], bytes[pos + 1]]);
        pos += 2;
        while state != 0xFFFF {
            let klen = u32::from_be_bytes(bytes[pos..pos + 4].try_into().unwrap()) as usize;
            let key = &bytes[pos + 4..pos + 4 + klen];
            pos += 4 + klen;
            let mut g = [0u8; 2];
            g[2 - plen..].copy_from_slice(&key[..plen]);
            g[2 - plen] &= 0x7F;
            assert_eq!(u16::from_be_bytes(g) as u32, group);
            let k = i64::from_be_bytes(key[plen..plen + 8].try_into().unwrap());
            let vlen = u32::from_be_bytes(bytes[pos..pos + 4].try_into().unwrap()) as usize;
            out.push((group, state, k, bytes[pos + 4..pos + 4 + vlen].to_vec()));
            pos += 4 + vlen;
            if key[0] & 0x80 != 0 {
                state = u16::from_be_bytes([bytes[pos], bytes[pos + 1]]);
                pos += 2;
            }
        }
    }
    out
}

fn location() -> FileLocation {
    FileLocation::new(crate::v0::Location::default(), "managed-keyed-state-v6")
}

/// Adds one key group's stream (its records from offset 0).
fn add(
    builder: &mut RefileBuilder,
    stream: &Arc<MultiStream>,
    info: &KeyedInfo,
) -> Result<(), Error> {
    builder.add(&Input {
        stream,
        body: 0,
        info,
        location: &location(),
    })
}

#[test]
fn records_land_in_their_key_groups_and_subtasks() {
    let dir = tempfile::tempdir().unwrap();
    // Old: 3 subtasks = 3 key groups; state "b" only in the second input's header.
    let old_p = 3;
    let mut expected = BTreeSet::new();
    let mut builder = RefileBuilder::new(Rescale::new(200, 7).unwrap(), dir.path()).unwrap();
    for g in 0..old_p {
        let keys: Vec<i64> = (0..400)
            .filter(|k| JavaKey::Long(*k).key_group(old_p) == g)
            .collect();
        let a: Vec<(i64, Vec<u8>)> = keys
            .iter()
            .map(|&k| (k, k.to_be_bytes().to_vec()))
            .collect();
        // A value larger than the bucket budget takes the direct path.
        let big = if g == 1 {
            vec![(7777, vec![0xAB; LARGE_VALUE + 5])]
        } else {
            Vec::new()
        };
        let states = if g == 1 { vec![a, big] } else { vec![a] };
        let names: &[&str] = if g == 1 { &["a", "b"] } else { &["a"] };
        for (s, recs) in states.iter().enumerate() {
            for (k, v) in recs {
                expected.insert((s as u16, *k, v.clone()));
            }
        }
        let stream = group_stream(g, old_p, &states);
        let info = info(names, Codec::Long, old_p);
        add(&mut builder, &stream, &info).unwrap();
    }
    let r = builder.finish().unwrap().unwrap();
    let mut got = BTreeSet::new();
    for i in 0..7 {
        let (lo, hi) = r.rescale().range(i).unwrap();
        for (group, state, k, v) in read_back(&r, i) {
            assert!((lo..=hi).contains(&group), "group {group} in subtask {i}");
            assert_eq!(JavaKey::Long(k).key_group(200), group, "key {k}");
            assert!(got.insert((state, k, v)), "record of key {k} twice");
        }
    }
    assert_eq!(got, expected);
    assert_eq!(
        r.records_per_key_group().iter().sum::<u64>(),
        expected.len() as u64
    );
}

#[test]
fn keys_without_a_known_hash_are_refused_naming_the_serializer() {
    let dir = tempfile::tempdir().unwrap();
    let mut builder = RefileBuilder::new(Rescale::new(8, 2).unwrap(), dir.path()).unwrap();
    let stream = group_stream(0, 2, &[vec![(1, vec![1])]]);
    let info = info(&["a"], Codec::Opaque(8), 2);
    let e = add(&mut builder, &stream, &info).unwrap_err();
    let text = e.to_string();
    assert!(
        text.contains("hashCode") && text.contains("LongSerializer"),
        "{text}"
    );
}

#[test]
fn states_declared_two_ways_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut builder = RefileBuilder::new(Rescale::new(8, 2).unwrap(), dir.path()).unwrap();
    let stream = group_stream(0, 2, &[vec![(1, vec![1])]]);
    let first = info(&["a"], Codec::Long, 2);
    add(&mut builder, &stream, &first).unwrap();
    let mut other = info(&["a"], Codec::Long, 2);
    other.states[0].kind = KeyedStateType::Reducing;
    let e = add(&mut builder, &stream, &other).unwrap_err();
    assert!(e.to_string().contains("state \"a\" differs"), "{e}");
}

#[test]
fn damaged_input_names_its_offset() {
    let dir = tempfile::tempdir().unwrap();
    let whole = group_stream(0, 2, &[vec![(1, vec![1; 10]), (2, vec![2; 10])]]);
    let mut bytes = vec![0u8; whole.len() as usize];
    whole.read_at(0, &mut bytes).unwrap();
    let info = info(&["a"], Codec::Long, 2);
    // Truncated inside the second record; then a state id no header declares.
    let mut bad_id = bytes.clone();
    bad_id[0..2].copy_from_slice(&5u16.to_be_bytes());
    for (bytes, needle) in [
        (bytes[..30].to_vec(), "offset"),
        (bad_id, "state id 5 at offset 0"),
    ] {
        let stream = Arc::new(MultiStream::new(
            "model",
            [Piece::range(
                Arc::new(MemSource::new("model", bytes.clone())),
                Span::new(0, bytes.len() as u64),
            )],
        ));
        let mut builder = RefileBuilder::new(Rescale::new(8, 2).unwrap(), dir.path()).unwrap();
        let e = add(&mut builder, &stream, &info).unwrap_err();
        assert!(e.to_string().contains(needle), "{e}");
    }
}

#[test]
fn requests_resolve_per_vertex() {
    let r = RescaleRequest {
        max_parallelism: Some(128),
        parallelism: None,
    };
    assert_eq!(
        r.for_vertex(4).unwrap(),
        Some(Rescale::new(128, 4).unwrap())
    );
    assert_eq!(RescaleRequest::default().for_vertex(4).unwrap(), None);
    let same = RescaleRequest {
        max_parallelism: Some(4),
        parallelism: Some(4),
    };
    assert_eq!(same.for_vertex(4).unwrap(), None);
    let wide = RescaleRequest {
        max_parallelism: None,
        parallelism: Some(5),
    };
    assert!(wide.for_vertex(4).unwrap_err().contains("parallelism 5"));
}
