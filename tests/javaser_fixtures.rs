//! The Java serialization reader and writer against every stream Flink 1.1 wrote in
//! the shared fixtures.

mod common;

use savepointfs::javaser::{self, Limits};
use savepointfs::source::MemSource;
use std::sync::Arc;

#[test]
fn every_fixture_stream_parses_to_its_last_byte() {
    let Some(fx) = common::shared_fixtures() else {
        return;
    };
    let streams = common::all_streams(&fx);
    assert_eq!(
        streams.len(),
        11 + 16,
        "11 operator snapshots and 16 subtask blobs"
    );
    for (label, bytes, off, len) in streams {
        let src = Arc::new(MemSource::new(label.clone(), bytes));
        let g = javaser::parse_stream(src, off as u64, (off + len) as u64, &Limits::default())
            .unwrap_or_else(|e| panic!("{label}: {e}"));
        assert_eq!(g.len, len as u64, "{label}");
        assert_eq!(g.roots().count(), 1, "{label}: one root object");
    }
}
