//! The RocksDB snapshot reader and its re-encoding against streams built here.

use super::*;
use crate::source::MemSource;
use crate::v0::rocksdb::check_stream;

/// Two columns of real descriptors with these mapping bytes and a record in each.
fn stream(mappings: [u8; 2]) -> Vec<u8> {
    let mut b = 2i32.to_be_bytes().to_vec();
    for (mapping, name) in mappings.iter().zip(["a", "b"]) {
        b.push(*mapping);
        b.extend(
            crate::synth::objects::column_stream(
                name,
                crate::synth::KeyedKind::Value,
                crate::synth::ValueType::Long,
            )
            .unwrap(),
        );
    }
    for column in [0u8, 1] {
        let key = [0, 0, 0, 0, 0, 0, 0, 7, 0x2A, 0];
        b.push(column);
        b.extend((key.len() as i32).to_be_bytes());
        b.extend(key);
        b.extend(8i32.to_be_bytes());
        b.extend(42i64.to_be_bytes());
    }
    b
}

/// `verify` and the conversion read the framing alike: every stream one of them
/// refuses, the other refuses too (they used to disagree on column mapping bytes).
#[test]
fn verify_and_conversion_judge_the_framing_alike() {
    let whole = stream([0, 1]);
    // Mappings that are not 0, 1, ...: what the old `verify` passed and the
    // conversion refused.
    let mut damaged = vec![whole.clone(), stream([1, 0]), stream([0, 0])];
    let mut unknown_column = whole.clone();
    let last_record = whole.len() - (1 + 4 + 10 + 4 + 8);
    unknown_column[last_record] = 5;
    damaged.push(unknown_column);
    for cut in (0..whole.len()).step_by(7) {
        damaged.push(whole[..cut].to_vec());
    }
    let mut judged = 0;
    for bytes in damaged {
        let n = bytes.len() as u64;
        let src: Arc<dyn Source> = Arc::new(MemSource::new("s", bytes));
        let verify = check_stream(src.clone(), Span::new(0, n));
        let convert = RocksSnapshot::open(src, Span::new(0, n));
        assert_eq!(
            verify.is_ok(),
            convert.is_ok(),
            "verify: {:?}, conversion: {:?}",
            verify.as_ref().err(),
            convert.as_ref().err()
        );
        judged += usize::from(verify.is_err());
    }
    assert!(judged > 10, "{judged} damaged streams refused");
    let n = whole.len() as u64;
    let src: Arc<dyn Source> = Arc::new(MemSource::new("s", whole));
    assert_eq!(
        check_stream(src.clone(), Span::new(0, n)).unwrap(),
        crate::v0::rocksdb::Summary {
            columns: 2,
            records: 2
        }
    );
    assert_eq!(
        RocksSnapshot::open(src, Span::new(0, n))
            .unwrap()
            .record_count(),
        2
    );
}

/// Above 128 key groups every key gets a two-byte prefix (one byte longer than its
/// 1.1 form), the last-record flag on its first byte; any range read equals the
/// whole stream's bytes there.
#[test]
fn two_byte_key_group_prefixes_above_128_key_groups() {
    let whole = stream([0, 1]);
    let n = whole.len() as u64;
    let src: Arc<dyn Source> = Arc::new(MemSource::new("s", whole));
    let snap = Arc::new(RocksSnapshot::open(src, Span::new(0, n)).unwrap());
    let record = |prefix: &[u8]| {
        let mut r = ((8 + prefix.len() + 1) as i32).to_be_bytes().to_vec();
        r.extend(prefix);
        r.extend(7i64.to_be_bytes());
        r.push(0); // Void namespace
        r.extend(8i32.to_be_bytes());
        r.extend(42i64.to_be_bytes());
        r
    };
    for (group, max_p, prefix) in [
        (3u32, 4u32, vec![0x83u8]),
        (150, 200, vec![0x80, 0x96]),
        (300, 32768, vec![0x81, 0x2c]),
    ] {
        let region = snap.key_group_region(group, max_p).unwrap();
        let mut want = vec![0, 0];
        want.extend(record(&prefix));
        want.extend([0, 1]);
        want.extend(record(&prefix));
        want.extend([0xff, 0xff]);
        assert_eq!(region.len(), want.len() as u64, "{group}/{max_p}");
        let mut got = vec![0u8; want.len()];
        region.read_at(0, &mut got).unwrap();
        assert_eq!(got, want, "{group}/{max_p}");
        for start in 0..want.len() {
            for len in [1, 3, 11] {
                let end = (start + len).min(want.len());
                let mut part = vec![0u8; end - start];
                region.read_at(start as u64, &mut part).unwrap();
                assert_eq!(part, want[start..end], "{group}/{max_p} [{start}, {end})");
            }
        }
    }
    assert!(snap.key_group_region(200, 200).is_err());
}

/// One column of `keys` (each a full `K ‖ 2A ‖ NS` key) with value 42.
fn column_of(keys: &[Vec<u8>]) -> Arc<dyn Source> {
    let mut b = 1i32.to_be_bytes().to_vec();
    b.push(0);
    b.extend(
        crate::synth::objects::column_stream(
            "w",
            crate::synth::KeyedKind::Value,
            crate::synth::ValueType::Long,
        )
        .unwrap(),
    );
    for key in keys {
        b.push(0);
        b.extend((key.len() as i32).to_be_bytes());
        b.extend(key);
        b.extend(8i32.to_be_bytes());
        b.extend(42i64.to_be_bytes());
    }
    Arc::new(MemSource::new("s", b))
}

/// A time-window key is found from its bytes with the key serializer, and re-encoded
/// as `kg ‖ K ‖ window` (the separator dropped); without the key serializer, or with
/// a wrong one, nothing is guessed.
#[test]
fn time_window_namespaces_are_found_from_the_keys() {
    let window = |k: i64, start: i64| {
        let mut key = k.to_be_bytes().to_vec();
        key.push(0x2A);
        key.extend(start.to_be_bytes());
        key.extend((start + 1000).to_be_bytes());
        key
    };
    // The same key in two windows, then another key: sorted as RocksDB lists them.
    let src = column_of(&[window(7, 0), window(7, 1000), window(9, 0)]);
    let n = src.len();
    let long = crate::convert::keys::Codec::Long;
    let snap =
        Arc::new(RocksSnapshot::open_keyed(src.clone(), Span::new(0, n), Some(&long)).unwrap());
    assert_eq!(snap.columns[0].namespace, ColumnNamespace::TimeWindow);
    let region = snap.key_group_region(3, 8).unwrap();
    let mut out = vec![0u8; region.len() as usize];
    region.read_at(0, &mut out).unwrap();
    let mut want = 0u16.to_be_bytes().to_vec();
    for (i, key) in [window(7, 0), window(7, 1000), window(9, 0)]
        .iter()
        .enumerate()
    {
        want.extend(25u32.to_be_bytes());
        want.push(if i == 2 { 0x83 } else { 3 });
        want.extend(&key[..8]);
        want.extend(&key[9..]);
        want.extend(8u32.to_be_bytes());
        want.extend(42i64.to_be_bytes());
    }
    want.extend(0xFFFFu16.to_be_bytes());
    assert_eq!(out, want);
    let e = RocksSnapshot::open(src.clone(), Span::new(0, n))
        .err()
        .unwrap();
    assert!(e.to_string().contains("without the key serializer"), "{e}");
    let int = crate::convert::keys::Codec::Int;
    let e = RocksSnapshot::open_keyed(src, Span::new(0, n), Some(&int))
        .err()
        .unwrap();
    assert!(e.to_string().contains("2A separator"), "{e}");
    // Out of order, and two namespace kinds in one state.
    for keys in [
        vec![window(9, 0), window(7, 0)],
        vec![
            window(7, 0),
            [9i64.to_be_bytes().to_vec(), vec![0x2A, 0]].concat(),
        ],
    ] {
        let src = column_of(&keys);
        let n = src.len();
        assert!(RocksSnapshot::open_keyed(src, Span::new(0, n), Some(&long)).is_err());
    }
}

/// A declared global window turns a 1-byte `00` namespace into `GlobalWindow`; a
/// declaration the bytes contradict is refused, naming the state.
#[test]
fn namespace_declarations_must_agree_with_the_records() {
    let void_key = |k: i64| [k.to_be_bytes().to_vec(), vec![0x2A, 0]].concat();
    let src = column_of(&[void_key(1), void_key(2)]);
    let n = src.len();
    let long = crate::convert::keys::Codec::Long;
    let open = || RocksSnapshot::open_keyed(src.clone(), Span::new(0, n), Some(&long)).unwrap();
    let decl = |s: &str| vec![NamespaceDecl::parse(s).unwrap()];
    let mut snap = open();
    let name = snap.columns[0].name.clone();
    snap.declare(&decl(&format!("{name}=global-window")))
        .unwrap();
    assert_eq!(snap.columns[0].namespace, ColumnNamespace::GlobalWindow);
    // Another state's declaration leaves this one alone.
    let mut snap = open();
    snap.declare(&decl("other=global-window")).unwrap();
    assert_eq!(snap.columns[0].namespace, ColumnNamespace::Void);
    let e = open()
        .declare(&decl(&format!("{name}=time-window")))
        .unwrap_err();
    assert!(
        e.contains("is declared time-window (--rocksdb-namespace) but its records hold 1-byte namespaces (void)"),
        "{e}"
    );
    for bad in ["state", "state=window", "=void-ish"] {
        assert!(NamespaceDecl::parse(bad).is_err(), "{bad}");
    }
    // `=` may sit in a state name: the last one splits.
    assert_eq!(decl("a=b=void")[0].state, "a=b");
}
