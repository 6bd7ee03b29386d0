use super::*;

const KEY: &str = "string";
const VALUE: &str = "tuple2-string-int";

fn spec(assigner: &str, function: &str) -> WindowSpec {
    WindowSpec::parse(&format!("{assigner},{function},key={KEY},value={VALUE}")).unwrap()
}

/// Flink's `StringValue` bytes of a short ASCII string (length + 1, then the chars).
fn string(s: &str) -> Vec<u8> {
    let mut b = vec![s.len() as u8 + 1];
    b.extend(s.as_bytes());
    b
}

fn tuple(k: &str, n: i32) -> Vec<u8> {
    let mut b = string(k);
    b.extend(n.to_be_bytes());
    b
}

/// Operator bytes: next evaluation, next slide, the panes (oldest first) of (key, aggregate).
fn operator_bytes(next_eval: i64, next_slide: i64, panes: &[Vec<(Vec<u8>, Vec<u8>)>]) -> Vec<u8> {
    let mut b = next_eval.to_be_bytes().to_vec();
    b.extend(next_slide.to_be_bytes());
    b.extend(PANES_MAGIC.to_be_bytes());
    b.extend((panes.len() as u32).to_be_bytes());
    for p in panes {
        b.extend(PANE_MAGIC.to_be_bytes());
        b.extend((p.len() as u32).to_be_bytes());
        for (k, v) in p {
            b.extend(k);
            b.extend(v);
        }
    }
    b
}

fn list(elements: &[Vec<u8>]) -> Vec<u8> {
    let mut b = (elements.len() as i32).to_be_bytes().to_vec();
    for e in elements {
        b.extend(e);
    }
    b
}

fn codecs(s: &WindowSpec) -> (Codec, Codec) {
    let key = crate::convert::keys::codec_of_stream(&s.key.stream().unwrap()).unwrap();
    let value = crate::convert::keys::codec_of_stream(&s.value.stream().unwrap()).unwrap();
    match s.function {
        WindowFunction::Reduce => (key, value),
        WindowFunction::Apply => (key, Codec::List(Box::new(value))),
    }
}

fn windows_of(s: &WindowSpec, b: &[u8]) -> Result<Windows, String> {
    let (key, aggregate) = codecs(s);
    windows(b, &parse_panes(b, &key, &aggregate)?, s)
}

#[test]
fn specs_parse_and_refuse_what_they_lack() {
    let s = spec("tumbling:3000", "reduce");
    assert_eq!(
        (s.size, s.slide, s.function),
        (3000, 3000, WindowFunction::Reduce)
    );
    let s = spec("sliding:3000:1000", "apply");
    assert_eq!((s.size, s.slide, s.pane()), (3000, 1000, 1000));
    assert_eq!(spec("sliding:3000:2000", "apply").pane(), 1000);
    for bad in [
        "tumbling:3000,reduce,key=string",
        "tumbling:3000,key=string,value=long",
        "tumbling:0,reduce,key=string,value=long",
        "sliding:1000:3000,reduce,key=string,value=long",
        "hopping:1000,reduce,key=string,value=long",
        "tumbling:1000,reduce,key=float,value=long",
        "tumbling:1000,fold,key=string,value=long",
    ] {
        let e = WindowSpec::parse(bad).unwrap_err();
        assert!(e.contains(bad) && e.contains("tumbling:SIZE"), "{e}");
    }
}

#[test]
fn the_fixtures_layout_gives_one_window_per_tumbling_pane() {
    // aggr-aligned (operators.md §2.1): 3000, 3000, one pane: key2→("key2",3), key1→("key1",2).
    let s = spec("tumbling:3000", "reduce");
    let pane = vec![
        (string("key2"), tuple("key2", 3)),
        (string("key1"), tuple("key1", 2)),
    ];
    let b = operator_bytes(3000, 3000, &[pane]);
    let w = windows_of(&s, &b).unwrap();
    assert_eq!(w.len(), 1);
    assert_eq!(w[0].0, (0, 3000));
    assert_eq!(w[0].1[0], (string("key2"), tuple("key2", 3)));
    assert_eq!(w[0].1[1], (string("key1"), tuple("key1", 2)));
    // The heap data and the timers, byte for byte.
    let data = heap_data(&w).unwrap();
    let mut want = 1i32.to_be_bytes().to_vec();
    want.extend(0i64.to_be_bytes());
    want.extend(3000i64.to_be_bytes());
    want.extend(2i32.to_be_bytes());
    for (k, n) in [("key2", 3), ("key1", 2)] {
        want.extend(string(k));
        want.extend(tuple(k, n));
    }
    assert_eq!(data, want);
    let t = timer_bytes(&w).unwrap();
    let mut want = vec![0, 0, 0, 0, 0, 0, 0, 2];
    for k in ["key2", "key1"] {
        want.extend(string(k));
        want.extend(0i64.to_be_bytes());
        want.extend(3000i64.to_be_bytes());
        want.extend(2999i64.to_be_bytes());
    }
    want.extend(1i32.to_be_bytes());
    want.extend(2999i64.to_be_bytes());
    want.extend(2i32.to_be_bytes());
    assert_eq!(t, want);
}

#[test]
fn sliding_lists_are_concatenated_oldest_pane_first() {
    // size 3000, slide 1000: panes [1000,2000) and [2000,3000); the next evaluation at
    // 3000, so the windows still to fire end at 3000, 4000 (both panes) and 5000.
    let s = spec("sliding:3000:1000", "apply");
    let a = list(&[tuple("k", 1)]);
    let b2 = list(&[tuple("k", 2), tuple("k", 3)]);
    let panes = [vec![(string("k"), a)], vec![(string("k"), b2)]];
    let w = windows_of(&s, &operator_bytes(3000, 3000, &panes)).unwrap();
    let ends: Vec<_> = w.iter().map(|(w, _)| *w).collect();
    assert_eq!(ends, [(0, 3000), (1000, 4000), (2000, 5000)]);
    let both = list(&[tuple("k", 1), tuple("k", 2), tuple("k", 3)]);
    assert_eq!(w[0].1, [(string("k"), both.clone())]);
    assert_eq!(w[1].1, [(string("k"), both)]);
    assert_eq!(
        w[2].1,
        [(string("k"), list(&[tuple("k", 2), tuple("k", 3)]))]
    );
}

#[test]
fn a_sliding_reduce_over_two_filled_panes_is_refused() {
    let s = spec("sliding:3000:1000", "reduce");
    let panes = [
        vec![(string("k"), tuple("k", 1))],
        vec![(string("k"), tuple("k", 2))],
    ];
    let e = windows_of(&s, &operator_bytes(3000, 3000, &panes)).unwrap_err();
    assert!(
        e.contains("window [0, 3000)") && e.contains("ReduceFunction"),
        "{e}"
    );
    // One filled pane per key and window is carried.
    let panes = [
        vec![(string("a"), tuple("a", 1))],
        vec![(string("b"), tuple("b", 2))],
    ];
    let w = windows_of(&s, &operator_bytes(3000, 3000, &panes)).unwrap();
    assert_eq!(w[0].1.len(), 2);
}

#[test]
fn bad_bytes_are_refused_with_their_offset() {
    let s = spec("tumbling:3000", "reduce");
    let good = operator_bytes(3000, 3000, &[vec![(string("key1"), tuple("key1", 2))]]);
    let (key, aggregate) = codecs(&s);
    let err = |b: &[u8]| parse_panes(b, &key, &aggregate).unwrap_err();
    assert!(
        err(&good[..10]).starts_with("offset 8: the next slide time"),
        "{}",
        err(&good[..10])
    );
    let mut magic = good.clone();
    magic[16] ^= 1;
    assert!(
        err(&magic).starts_with("offset 16: not the aligned"),
        "{}",
        err(&magic)
    );
    let mut panes = good.clone();
    panes[20..24].copy_from_slice(&u32::MAX.to_be_bytes());
    assert!(err(&panes).contains("panes cannot fit"), "{}", err(&panes));
    let mut entries = good.clone();
    entries[28..32].copy_from_slice(&0x7fff_ffffu32.to_be_bytes());
    assert!(
        err(&entries).contains("declares 2147483647 entries"),
        "{}",
        err(&entries)
    );
    let e = err(&good[..good.len() - 1]);
    assert!(e.starts_with("offset 32: pane 0 entry 0: its value"), "{e}");
    // The wrong function: a list length read as a string leaves bytes over, or fails.
    let apply = spec("tumbling:3000", "apply");
    let (k, a) = codecs(&apply);
    assert!(parse_panes(&good, &k, &a).is_err());
    // Trailing bytes.
    let mut more = good.clone();
    more.push(0);
    assert!(
        err(&more).contains("1 bytes after the last pane"),
        "{}",
        err(&more)
    );
}

#[test]
fn hostile_times_are_refused_not_wrapped() {
    let s = spec("tumbling:3000", "reduce");
    let b = operator_bytes(
        i64::MIN,
        i64::MIN + 1,
        &[vec![(string("k"), tuple("k", 1))]],
    );
    assert!(windows_of(&s, &b).unwrap_err().contains("overflow"));
    // A pane no window still to fire contains.
    let b = operator_bytes(9000, 3000, &[vec![(string("k"), tuple("k", 1))]]);
    assert!(
        windows_of(&s, &b)
            .unwrap_err()
            .contains("in no window still to fire")
    );
}

#[test]
fn the_serializers_are_one_stream_of_three_objects() {
    for function in ["reduce", "apply"] {
        let s = spec("tumbling:3000", function);
        let bytes = serializers(&s).unwrap();
        let src = Arc::new(crate::source::MemSource::new("s", bytes.clone()));
        let g = javaser::parse_stream(src, 0, bytes.len() as u64, &Limits::default()).unwrap();
        let names: Vec<String> = g
            .roots()
            .map(|v| g.class_name_of(v.node().unwrap()).unwrap().lossy())
            .collect();
        assert_eq!(names[0], crate::classnames::STRING_SERIALIZER);
        assert_eq!(names[1], crate::classnames::TIME_WINDOW_SERIALIZER);
        let state = match function {
            "reduce" => crate::classnames::TUPLE_SERIALIZER,
            _ => crate::classnames::ARRAY_LIST_SERIALIZER,
        };
        assert_eq!(names[2], state);
    }
}
