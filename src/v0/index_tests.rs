//! Tests of the outer index: synthetic files (and the builder other tests reuse), every
//! invalid framing, and the cost of opening a file with huge blobs.

use super::*;
use crate::source::{FileSource, MemSource};
use std::sync::atomic::{AtomicU64, Ordering};

/// Counts the bytes read through it, to prove what opening costs.
pub(crate) struct CountingSource<S> {
    pub inner: S,
    pub bytes_read: AtomicU64,
    pub reads: AtomicU64,
}

impl<S: Source> Source for CountingSource<S> {
    fn len(&self) -> u64 {
        self.inner.len()
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> std::io::Result<()> {
        self.bytes_read
            .fetch_add(buf.len() as u64, Ordering::Relaxed);
        self.reads.fetch_add(1, Ordering::Relaxed);
        self.inner.read_at(offset, buf)
    }
    fn name(&self) -> String {
        self.inner.name()
    }
}

/// A V0 file builder: tasks of (vertex byte, parallelism, subtasks of (index, blob)).
pub(crate) struct Builder {
    pub out: Vec<u8>,
}

impl Builder {
    pub fn new(version: u32, checkpoint: i64, tasks: i32) -> Self {
        let mut out = Vec::new();
        out.extend_from_slice(&MAGIC.to_be_bytes());
        out.extend_from_slice(&version.to_be_bytes());
        out.extend_from_slice(&checkpoint.to_be_bytes());
        out.extend_from_slice(&tasks.to_be_bytes());
        Builder { out }
    }
    pub fn task(&mut self, vertex: u8, parallelism: i32, subtasks: i32) -> &mut Self {
        self.out.extend_from_slice(&[vertex; 16]);
        self.out.extend_from_slice(&parallelism.to_be_bytes());
        self.out.extend_from_slice(&subtasks.to_be_bytes());
        self
    }
    pub fn subtask(&mut self, index: i32, blob: Option<&[u8]>, size: i64) -> &mut Self {
        self.out.extend_from_slice(&index.to_be_bytes());
        match blob {
            None => self.out.extend_from_slice(&(-1i32).to_be_bytes()),
            Some(b) => {
                self.out.extend_from_slice(&(b.len() as i32).to_be_bytes());
                self.out.extend_from_slice(b);
            }
        }
        self.out.extend_from_slice(&size.to_be_bytes());
        self.out.extend_from_slice(&7i64.to_be_bytes());
        self
    }
    pub fn end_task(&mut self, kv: i32) -> &mut Self {
        self.out.extend_from_slice(&kv.to_be_bytes());
        self
    }
    pub fn source(&self) -> Arc<dyn Source> {
        Arc::new(MemSource::new("synthetic", self.out.clone()))
    }
}

fn open(b: &Builder) -> Result<SavepointIndex> {
    SavepointIndex::open(b.source())
}

fn framing_problem(r: Result<SavepointIndex>) -> (u64, Location, String) {
    match r {
        Err(Error::Framing {
            offset,
            location,
            problem,
            ..
        }) => (offset, *location, problem),
        other => panic!("expected a framing error, got {other:?}"),
    }
}

#[test]
fn reads_a_well_formed_index_in_file_order() {
    let mut b = Builder::new(0, 10, 2);
    b.task(0xb6, 4, 2)
        .subtask(0, Some(b"abc"), 3)
        .subtask(3, None, 0)
        .end_task(0);
    b.task(0x01, 1, 0).end_task(0);
    let idx = open(&b).unwrap();
    assert_eq!(idx.checkpoint_id(), 10);
    let t = &idx.tasks()[0];
    assert_eq!(t.vertex.to_string(), "b6".repeat(16));
    assert_eq!(t.parallelism, 4);
    assert_eq!(t.offset, 20);
    assert_eq!(t.subtasks[0].index, 0);
    assert_eq!(t.subtasks[0].offset, 44);
    assert_eq!(t.subtasks[0].blob, Some(Span::new(52, 3)));
    assert_eq!(t.subtasks[0].state_size, 3);
    assert_eq!(t.subtasks[0].duration, 7);
    assert_eq!(t.subtasks[1].index, 3);
    assert_eq!(t.subtasks[1].blob, None);
    assert_eq!(idx.tasks()[1].vertex, VertexId([1; 16]));
    assert!(idx.tasks()[1].subtasks.is_empty());
    assert_eq!(idx.subtasks().count(), 2);
    assert_eq!(
        idx.task(&VertexId::from_hex(&"B6".repeat(16)).unwrap())
            .unwrap()
            .position,
        0
    );
}

#[test]
fn external_state_is_suspected_only_where_recorded_sizes_exceed_the_blobs() {
    let file = |sizes: &[(&[u8], i64)]| {
        let mut b = Builder::new(0, 1, 1);
        b.task(1, sizes.len() as i32, sizes.len() as i32);
        for (i, (blob, size)) in sizes.iter().enumerate() {
            b.subtask(i as i32, Some(blob), *size);
        }
        b.end_task(0);
        open(&b).unwrap().may_reference_external_state()
    };
    // Inline state: a blob holds its bytes and the Java framing around them.
    assert!(!file(&[(b"framing+abc", 3), (b"xyz", 3)]));
    // A file handle: a short path, the file's length recorded.
    assert!(file(&[(b"framing+abc", 3), (b"/state/f", 1 << 20)]));
    // Hostile sizes neither overflow nor count below zero.
    assert!(file(&[(b"a", i64::MAX), (b"b", i64::MAX)]));
    assert!(!file(&[(b"a", -5), (b"b", i64::MIN)]));
}

#[test]
fn rejects_wrong_magic_and_other_versions() {
    let mut b = Builder::new(0, 1, 0);
    b.out[0] = 0x48;
    match open(&b) {
        Err(Error::BadMagic { found, .. }) => assert_eq!(found, 0x4860_672D),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        open(&Builder::new(1, 1, 0)),
        Err(Error::AlreadyV1 { .. })
    ));
    let e = open(&Builder::new(7, 1, 0)).unwrap_err();
    assert!(matches!(e, Error::UnsupportedVersion { version: 7, .. }));
    assert!(e.to_string().contains("version 7"), "{e}");
    let (off, _, p) = framing_problem(SavepointIndex::open(Arc::new(MemSource::new(
        "t",
        vec![0x49, 0x60],
    ))));
    assert_eq!(off, 0);
    assert!(p.contains("too short"), "{p}");
}

#[test]
fn rejects_every_invalid_framing_with_its_location() {
    // Non-zero kv count.
    let mut b = Builder::new(0, 1, 1);
    b.task(2, 1, 1).subtask(0, Some(b"x"), 1).end_task(1);
    let (off, loc, p) = framing_problem(open(&b));
    assert_eq!(off, b.out.len() as u64 - 4);
    assert_eq!(loc.task, Some((0, VertexId([2; 16]))));
    assert!(p.contains("kv"), "{p}");

    // Index outside [0, parallelism).
    let mut b = Builder::new(0, 1, 1);
    b.task(2, 2, 1).subtask(2, Some(b"x"), 1).end_task(0);
    let (off, loc, p) = framing_problem(open(&b));
    assert_eq!((off, loc.entry), (44, Some(0)));
    assert!(p.contains("outside [0, 2)"), "{p}");
    let mut b = Builder::new(0, 1, 1);
    b.task(2, 2, 1).subtask(-1, Some(b"x"), 1).end_task(0);
    assert!(framing_problem(open(&b)).2.contains("-1"));

    // Duplicate index.
    let mut b = Builder::new(0, 1, 1);
    b.task(2, 2, 2)
        .subtask(1, Some(b"x"), 1)
        .subtask(1, Some(b"y"), 1)
        .end_task(0);
    let (off, loc, p) = framing_problem(open(&b));
    assert_eq!((off, loc.subtask, loc.entry), (44 + 25, Some(1), Some(1)));
    assert!(p.contains("duplicate"), "{p}");

    // Negative length other than -1, and a length past the end.
    let mut b = Builder::new(0, 1, 1);
    b.task(2, 1, 1).subtask(0, Some(b"abcd"), 1).end_task(0);
    let mut neg = Builder { out: b.out.clone() };
    neg.out[48..52].copy_from_slice(&(-2i32).to_be_bytes());
    let (off, loc, p) = framing_problem(open(&neg));
    assert_eq!((off, loc.subtask), (48, Some(0)));
    assert!(p.contains("negative blob length -2"), "{p}");
    let mut long = Builder { out: b.out.clone() };
    long.out[48..52].copy_from_slice(&5i32.to_be_bytes());
    let (off, _, p) = framing_problem(open(&long));
    assert_eq!(off, 48);
    assert!(p.contains("past the end"), "{p}");

    // Trailing bytes.
    let mut trailing = Builder { out: b.out.clone() };
    trailing.out.push(0);
    let (off, _, p) = framing_problem(open(&trailing));
    assert_eq!(off, b.out.len() as u64);
    assert!(p.contains("1 trailing"), "{p}");

    // Counts too large for the remaining bytes, checked before allocating.
    let mut huge = Builder { out: b.out.clone() };
    huge.out[16..20].copy_from_slice(&i32::MAX.to_be_bytes());
    let (off, loc, p) = framing_problem(open(&huge));
    assert_eq!((off, loc), (16, Location::default()));
    assert!(p.contains("2147483647"), "{p}");
    let mut huge = Builder { out: b.out.clone() };
    huge.out[40..44].copy_from_slice(&1_000_000i32.to_be_bytes());
    let (off, loc, _) = framing_problem(open(&huge));
    assert_eq!((off, loc.task.map(|t| t.0)), (40, Some(0)));
    let mut neg = Builder { out: b.out.clone() };
    neg.out[40..44].copy_from_slice(&(-1i32).to_be_bytes());
    assert_eq!(framing_problem(open(&neg)).0, 40);

    // More entries than the parallelism allows, and a non-positive parallelism.
    let mut b2 = Builder::new(0, 1, 1);
    b2.task(2, 1, 2)
        .subtask(0, Some(b"x"), 1)
        .subtask(0, Some(b"y"), 1)
        .end_task(0);
    assert!(framing_problem(open(&b2)).2.contains("parallelism 1"));
    let mut b3 = Builder::new(0, 1, 1);
    b3.task(2, 0, 0).end_task(0);
    assert_eq!(framing_problem(open(&b3)).0, 36);

    // The same vertex twice.
    let mut b4 = Builder::new(0, 1, 2);
    b4.task(2, 1, 0).end_task(0).task(2, 1, 0).end_task(0);
    let (off, loc, p) = framing_problem(open(&b4));
    assert_eq!((off, loc.task.map(|t| t.0)), (48, Some(1)));
    assert!(p.contains("twice"), "{p}");
}

#[test]
fn every_prefix_of_a_valid_file_is_an_error() {
    let mut b = Builder::new(0, 1, 2);
    b.task(2, 3, 2)
        .subtask(0, Some(b"abc"), 3)
        .subtask(2, None, 0)
        .end_task(0)
        .task(3, 1, 1)
        .subtask(0, Some(b""), 0)
        .end_task(0);
    open(&b).unwrap();
    for n in 0..b.out.len() {
        let src = Arc::new(MemSource::new("prefix", b.out[..n].to_vec()));
        assert!(SavepointIndex::open(src).is_err(), "prefix {n}");
    }
}

/// Opening a savepoint whose blobs hold 2 GiB reads only the framing: a sparse file
/// costs no disk, and a counting source shows the bytes actually read.
#[test]
fn open_reads_only_the_framing_of_huge_blobs() {
    const GIB: u64 = 1 << 30;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sparse-savepoint");
    let mut head = Builder::new(0, 3, 1);
    head.task(9, 2, 2);
    let mut bytes = head.out.clone();
    // Subtask 0: a 1 GiB blob of zeros (a hole), then stateSize and duration.
    bytes.extend_from_slice(&0i32.to_be_bytes());
    bytes.extend_from_slice(&(GIB as i32).to_be_bytes());
    let blob0 = bytes.len() as u64;
    let after0 = blob0 + GIB;
    let mut tail0 = Vec::new();
    tail0.extend_from_slice(&GIB.to_be_bytes());
    tail0.extend_from_slice(&1i64.to_be_bytes());
    tail0.extend_from_slice(&1i32.to_be_bytes());
    tail0.extend_from_slice(&((GIB - 1) as i32).to_be_bytes());
    let blob1 = after0 + tail0.len() as u64;
    let after1 = blob1 + GIB - 1;
    let mut tail1 = Vec::new();
    tail1.extend_from_slice(&(GIB - 1).to_be_bytes());
    tail1.extend_from_slice(&2i64.to_be_bytes());
    tail1.extend_from_slice(&0i32.to_be_bytes());
    {
        use std::os::unix::fs::FileExt;
        let f = std::fs::File::create(&path).unwrap();
        f.write_all_at(&bytes, 0).unwrap();
        f.write_all_at(&tail0, after0).unwrap();
        f.write_all_at(&tail1, after1).unwrap();
        f.set_len(after1 + tail1.len() as u64).unwrap();
    }
    let counting = Arc::new(CountingSource {
        inner: FileSource::open(&path).unwrap(),
        bytes_read: AtomicU64::new(0),
        reads: AtomicU64::new(0),
    });
    let idx = SavepointIndex::open(counting.clone()).unwrap();
    let t = &idx.tasks()[0];
    assert_eq!(t.subtasks[0].blob, Some(Span::new(blob0, GIB)));
    assert_eq!(t.subtasks[1].blob, Some(Span::new(blob1, GIB - 1)));
    assert_eq!(t.subtasks[1].state_size, (GIB - 1) as i64);
    let read = counting.bytes_read.load(Ordering::Relaxed);
    assert!(read < 1 << 20, "open read {read} bytes");
    // The framing with a 64-byte read-ahead: the format check, the header window, and
    // about one window per subtask entry (its trailing fields and the next header).
    assert!(read <= 8 + 64 * (2 + 2), "open read {read} bytes");
}
