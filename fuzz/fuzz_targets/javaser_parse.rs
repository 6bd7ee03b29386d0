//! Arbitrary bytes through the Java serialization reader (whole stream and first
//! object), then the typed access helpers over whatever parsed.
#![no_main]

/// Shared with the hostile-input tests.
#[path = "../../tests/hostile/walk.rs"]
mod walk;

use libfuzzer_sys::fuzz_target;
use savepointfs::javaser::{self, Limits};
use savepointfs::source::MemSource;
use std::sync::Arc;

fuzz_target!(|data: &[u8]| {
    let len = data.len() as u64;
    let src = Arc::new(MemSource::new("fuzz input", data.to_vec()));
    if let Ok(g) = javaser::parse_stream(src.clone(), 0, len, &Limits::default()) {
        assert_eq!(g.len, len);
        walk::walk(&g);
    }
    if let Ok(g) = javaser::parse_first_object(src, 0, len, &Limits::default()) {
        assert!(g.len <= len);
        walk::walk(&g);
    }
});
