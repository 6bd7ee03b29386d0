//! Parse throughput of the Java serialization reader (run by `scripts/bench-parse`, which
//! also times javaobj-py3 on the same corpus):
//!
//! - the fixture corpus: all 27 Java streams of the Flink 1.1 fixtures, from memory,
//!   parsed over and over for about a second;
//! - a 256 MiB stream made of 1 MiB `byte[]` values, from a file in the page cache:
//!   array bodies are spans, so the reader only touches their headers.
//!
//! Options: `--corpus-out DIR` writes the corpus streams there (so another parser can
//! read the very same bytes); `--json` adds one machine-readable result line.

#[path = "../tests/common/mod.rs"]
mod common;

use savepointfs::javaser::{self, Limits};
use savepointfs::source::{FileSource, MemSource, Source};
use std::hint::black_box;
use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

const RUN_FOR: Duration = Duration::from_secs(1);
const ARRAY_BYTES: usize = 1 << 20;
const ARRAYS: usize = 256;
/// serialVersionUID the JVM computes for `byte[]` (legacy-formats.md §5.4).
const BYTE_ARRAY_UID: i64 = -5984413125824719648;

struct Measured {
    bytes_per_run: u64,
    runs: u64,
    elapsed: Duration,
}

impl Measured {
    fn mb_per_s(&self) -> f64 {
        (self.bytes_per_run * self.runs) as f64 / self.elapsed.as_secs_f64() / 1e6
    }
}

/// Repeats `run` (which parses `bytes_per_run` bytes) until `RUN_FOR` has passed.
fn measure(bytes_per_run: u64, mut run: impl FnMut()) -> Measured {
    run(); // warm-up: page cache, allocator
    let start = Instant::now();
    let mut runs = 0;
    while start.elapsed() < RUN_FOR {
        run();
        runs += 1;
    }
    Measured {
        bytes_per_run,
        runs,
        elapsed: start.elapsed(),
    }
}

fn corpus(fixtures: &std::path::Path, out: Option<&str>) -> Measured {
    let streams: Vec<_> = common::all_streams(fixtures)
        .into_iter()
        .map(|(label, bytes, off, len)| {
            let src: Arc<dyn Source> = Arc::new(MemSource::new(label, bytes));
            (src, off as u64, (off + len) as u64)
        })
        .collect();
    assert_eq!(
        streams.len(),
        27,
        "11 operator snapshots and 16 subtask blobs"
    );
    if let Some(dir) = out {
        for (i, (src, start, end)) in streams.iter().enumerate() {
            let bytes = &src.as_slice().expect("in memory")[*start as usize..*end as usize];
            std::fs::write(format!("{dir}/stream-{i:02}.ser"), bytes).expect("write corpus");
        }
    }
    let total: u64 = streams.iter().map(|(_, s, e)| e - s).sum();
    let limits = Limits::default();
    measure(total, || {
        for (src, start, end) in &streams {
            let g = javaser::parse_stream(src.clone(), *start, *end, &limits).expect("parses");
            black_box(g.nodes.len());
        }
    })
}

/// Header, then `ARRAYS` top-level `byte[]` of `ARRAY_BYTES` each; the class
/// descriptor is written with the first and referenced by the others.
fn write_big_stream(path: &std::path::Path) -> u64 {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).expect("create"));
    let body: Vec<u8> = (0..ARRAY_BYTES).map(|i| (i * 31 % 251) as u8).collect();
    let mut head = vec![0xAC, 0xED, 0x00, 0x05];
    for i in 0..ARRAYS {
        head.push(0x75);
        if i == 0 {
            head.extend_from_slice(&[0x72, 0x00, 0x02, b'[', b'B']);
            head.extend_from_slice(&BYTE_ARRAY_UID.to_be_bytes());
            head.extend_from_slice(&[0x02, 0x00, 0x00, 0x78, 0x70]);
        } else {
            head.extend_from_slice(&[0x71, 0x00, 0x7E, 0x00, 0x00]);
        }
        head.extend_from_slice(&(ARRAY_BYTES as i32).to_be_bytes());
        f.write_all(&head).expect("write");
        f.write_all(&body).expect("write");
        head.clear();
    }
    f.flush().expect("flush");
    std::fs::metadata(path).expect("stat").len()
}

fn big_stream() -> Measured {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("byte-arrays.ser");
    let len = write_big_stream(&path);
    let src: Arc<dyn Source> = Arc::new(FileSource::open(&path).expect("open"));
    let limits = Limits::default();
    let check = javaser::parse_stream(src.clone(), 0, len, &limits).expect("parses");
    assert_eq!(check.len, len);
    assert_eq!(
        check.nodes.len(),
        ARRAYS + 1,
        "one descriptor and the arrays"
    );
    measure(len, || {
        let g = javaser::parse_stream(src.clone(), 0, len, &limits).expect("parses");
        black_box(g.nodes.len());
    })
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let corpus_out = args
        .iter()
        .position(|a| a == "--corpus-out")
        .and_then(|i| args.get(i + 1))
        .map(String::as_str);
    let Some(fixtures) = common::shared_fixtures() else {
        std::process::exit(1);
    };
    let c = corpus(&fixtures, corpus_out);
    let b = big_stream();
    println!(
        "{:<40} {:>12} {:>8} {:>9} {:>11}",
        "workload", "bytes/parse", "parses", "time s", "MB/s"
    );
    for (name, m) in [
        ("fixture corpus, 27 streams (memory)", &c),
        ("256 MiB of 1 MiB byte[] (FileSource)", &b),
    ] {
        println!(
            "{:<40} {:>12} {:>8} {:>9.3} {:>11.1}",
            name,
            m.bytes_per_run,
            m.runs,
            m.elapsed.as_secs_f64(),
            m.mb_per_s()
        );
    }
    if args.iter().any(|a| a == "--json") {
        println!(
            "{{\"corpus_bytes\": {}, \"corpus_runs\": {}, \"corpus_secs\": {}, \
             \"big_bytes\": {}, \"big_runs\": {}, \"big_secs\": {}}}",
            c.bytes_per_run,
            c.runs,
            c.elapsed.as_secs_f64(),
            b.bytes_per_run,
            b.runs,
            b.elapsed.as_secs_f64()
        );
    }
}
