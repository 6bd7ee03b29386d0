//! Whatever the reader accepts, the writer gives back byte for byte.
#![no_main]

use libfuzzer_sys::fuzz_target;
use savepointfs::javaser::{self, Limits, WriteOptions};
use savepointfs::source::MemSource;
use std::sync::Arc;

fuzz_target!(|data: &[u8]| {
    let len = data.len() as u64;
    let src = Arc::new(MemSource::new("fuzz input", data.to_vec()));
    let Ok(g) = javaser::parse_stream(src, 0, len, &Limits::default()) else {
        return;
    };
    let chunks = javaser::write_stream(&g, &WriteOptions::default())
        .unwrap_or_else(|e| panic!("writer refused a parsed graph: {e}"));
    let out = chunks.to_vec(&**g.source()).expect("chunks read back");
    assert!(out == data, "write(parse(x)) != x");
});
