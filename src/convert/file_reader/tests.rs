use super::*;
use crate::javaser::builder::StreamBuilder;
use crate::source::MemSource;

fn split(n: i32, path: &str, start: i64, length: i64) -> Split {
    Split {
        number: n,
        hostnames: Some(Vec::new()),
        path: Some(path.into()),
        start,
        length,
    }
}

/// A 1.1 FileInputSplit object written into `b`.
fn write_split(b: &mut StreamBuilder<Vec<u8>>, s: &Split) {
    b.begin_object(&FILE_INPUT_SPLIT).unwrap();
    b.field_int(s.number).unwrap();
    b.begin_object_array(&STRING_ARRAY, 0).unwrap();
    b.field_long(s.length).unwrap();
    b.field_long(s.start).unwrap();
    crate::v0::classes::path(b, s.path.as_deref().unwrap()).unwrap();
}

fn write_current(b: &mut StreamBuilder<Vec<u8>>, current: Option<&Split>) {
    match current {
        Some(c) => write_split(b, c),
        None => b.null().unwrap(),
    }
}

/// The 1.1 reader's bytes: current split, raw count, pending splits, a null format
/// state. The objects after the raw int continue the stream (its handles run on): they
/// are cut from one stream holding every object.
fn reader_bytes(current: Option<&Split>, pending: &[Split], raw_count: i32) -> Vec<u8> {
    let mut b = StreamBuilder::new(Vec::new(), "reader", 0).unwrap();
    write_current(&mut b, current);
    let first = b.finish().unwrap();
    let mut b = StreamBuilder::new(Vec::new(), "reader", 0).unwrap();
    write_current(&mut b, current);
    for p in pending {
        write_split(&mut b, p);
    }
    b.null().unwrap();
    let all = b.finish().unwrap();
    let mut out = first.clone();
    out.extend(raw_count.to_be_bytes());
    out.extend(&all[first.len()..]);
    out
}

fn parsed(bytes: &[u8]) -> Result<ReaderState, String> {
    let src = Arc::new(MemSource::new("reader", bytes.to_vec()));
    parse(src, 0, bytes.len() as u64)
}

#[test]
fn the_interleaved_stream_parses_into_its_splits() {
    let current = split(3, "test/test1", 0, 100);
    let pending = [
        split(2, "test/test2", 101, 200),
        split(1, "test/test2", 0, 100),
        split(0, "test/test3", 0, 100),
    ];
    let s = parsed(&reader_bytes(Some(&current), &pending, 3)).unwrap();
    assert_eq!(s.current, Some(current));
    assert_eq!(s.pending, pending);
    assert_eq!(s.format_state, Value::Null);
    // Modification times: Flink 1.2's rule with the clock at 0.
    let labels: Vec<String> = elements(&s).unwrap().into_iter().map(|(l, _)| l).collect();
    assert_eq!(
        labels,
        [
            "#3 test/test1+0@3",
            "#2 test/test2+101@2",
            "#1 test/test2+0@1",
            "#0 test/test3+0@0"
        ]
    );
    // No current split, no pending ones: no splits.
    let s = parsed(&reader_bytes(None, &[], 0)).unwrap();
    assert!(elements(&s).unwrap().is_empty());
}

#[test]
fn a_wrong_count_or_trailing_bytes_are_refused() {
    let current = split(3, "a", 0, 1);
    let pending = [split(2, "b", 0, 1)];
    // Two announced, one written: the null format state is read as the second split.
    let e = parsed(&reader_bytes(Some(&current), &pending, 2)).unwrap_err();
    assert!(
        e.contains("truncated") || e.contains("null pending split"),
        "{e}"
    );
    let e = parsed(&reader_bytes(Some(&current), &pending, -1)).unwrap_err();
    assert!(
        e.contains("negative or unreadable pending split count"),
        "{e}"
    );
    let mut more = reader_bytes(Some(&current), &pending, 1);
    more.push(0x70);
    let e = parsed(&more).unwrap_err();
    assert!(e.contains("1 bytes after the format state"), "{e}");
    let cut = reader_bytes(Some(&current), &pending, 1);
    let e = parsed(&cut[..cut.len() - 3]).unwrap_err();
    assert!(e.contains("offset"), "{e}");
    // A huge count ends at the end of the bytes, not in an allocation.
    let e = parsed(&reader_bytes(Some(&current), &pending, i32::MAX)).unwrap_err();
    assert!(e.contains("offset"), "{e}");
}

#[test]
fn a_split_stream_is_a_timestamped_split_extending_the_file_split() {
    let s = split(7, "file:/data/in.txt", 10, 20);
    let bytes = split_stream(&s, 42, None).unwrap();
    let src = Arc::new(MemSource::new("s", bytes.clone()));
    let g = javaser::parse_stream(src, 0, bytes.len() as u64, &Limits::default()).unwrap();
    let root = g.roots().next().unwrap();
    let o = g.object(root).unwrap().unwrap();
    assert!(o.class_name().is(TIMESTAMPED_FILE_INPUT_SPLIT.name));
    assert!(o.is_a(FILE_INPUT_SPLIT.name));
    assert_eq!(o.field("modificationTime"), Some(Value::Long(42)));
    assert_eq!(o.field("splitState"), Some(Value::Null));
    assert_eq!(o.field("splitNumber"), Some(Value::Int(7)));
    assert_eq!(o.field("start"), Some(Value::Long(10)));
    assert_eq!(o.field("length"), Some(Value::Long(20)));
    // A 1.2 split is not taken for a 1.1 one.
    let e = super::split(&g, root).unwrap_err();
    assert!(
        e.contains("where a org.apache.flink.core.fs.FileInputSplit"),
        "{e}"
    );
}
