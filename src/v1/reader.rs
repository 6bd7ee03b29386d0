//! Reads a V1 savepoint (legacy-formats.md §4) into the [`model`](super::model).
//!
//! Hostile input is expected (legacy-formats.md §5.5): every count is checked against the bytes
//! that remain, times the smallest size one element can take, before anything is
//! allocated; Flink's own reader checks (parallelism, chain length, subtask index,
//! type codes, key-group range) are errors here too, and so are trailing bytes and
//! strings that would not survive a write back unchanged. Errors carry the source name,
//! the offset of the field at fault and its place in the structure.

use super::cursor::Cursor;
use super::error::{ErrorKind, Part, Result, Where};
use super::model::*;
use super::{MAGIC, MIN_SUBTASK_BYTES, MIN_TASK_BYTES, VERSION};
use crate::source::Source;
use std::collections::HashSet;

/// Smallest encoding of one operator state entry: UTF length, mode, offset count.
const MIN_OPERATOR_STATE_BYTES: u64 = 2 + 1 + 4;

/// Parses a whole V1 savepoint; the body must end exactly at the end of the source.
pub fn read(source: &dyn Source) -> Result<Savepoint> {
    let mut r = Cursor::new(source);
    let magic = r.u32("magic")?;
    if magic != MAGIC {
        return Err(r.err_at(0, ErrorKind::BadMagic { found: magic }));
    }
    let version = r.i32("version")?;
    match version {
        0 => return Err(r.err_at(4, ErrorKind::Version0)),
        VERSION => {}
        v if v > 1 => return Err(r.err_at(4, ErrorKind::NewerVersion { version: v })),
        v => return Err(r.err_at(4, ErrorKind::UnknownVersion { version: v })),
    }
    let checkpoint_id = r.i64("checkpoint id")?;
    let num_tasks = r.count("number of task states", MIN_TASK_BYTES)?;
    let mut tasks = Vec::with_capacity(num_tasks.min(1024));
    for t in 0..num_tasks {
        r.at = Where {
            task: Some((t as u32, None)),
            part: Part::TaskHeader,
            ..Where::default()
        };
        tasks.push(read_task(&mut r, t as u32)?);
    }
    r.at = Where {
        part: Part::End,
        ..Where::default()
    };
    let rest = r.remaining();
    if rest != 0 {
        return Err(r.err(ErrorKind::TrailingBytes { count: rest }));
    }
    Ok(Savepoint {
        version: VERSION as u32,
        checkpoint_id,
        tasks,
    })
}

fn read_task(r: &mut Cursor, t: u32) -> Result<TaskState> {
    let mut id = [0u8; 16];
    r.take(&mut id, "job vertex id")?;
    let vertex = VertexId(id);
    r.at.task = Some((t, Some(vertex)));
    let parallelism_at = r.pos;
    let parallelism = r.i32("parallelism")?;
    let max_parallelism = r.i32("max parallelism")?;
    let chain_at = r.pos;
    let chain_length = r.i32("chain length")?;
    if parallelism < 0 {
        return Err(r.err_at(
            parallelism_at,
            ErrorKind::NegativeParallelism { parallelism },
        ));
    }
    if parallelism > max_parallelism {
        let kind = ErrorKind::ParallelismAboveMax {
            parallelism,
            max_parallelism,
        };
        return Err(r.err_at(parallelism_at, kind));
    }
    if chain_length <= 0 {
        return Err(r.err_at(chain_at, ErrorKind::ChainLength { chain_length }));
    }
    let num_subtasks = r.count("number of subtask states", MIN_SUBTASK_BYTES)?;
    let mut subtasks = Vec::with_capacity(num_subtasks.min(1024));
    let mut seen = HashSet::new();
    for s in 0..num_subtasks {
        r.at.subtask = Some((s as u32, None));
        r.at.part = Part::SubtaskIndex;
        let index_at = r.pos;
        let index = r.i32("subtask index")?;
        if !(0..parallelism).contains(&index) {
            let kind = ErrorKind::SubtaskIndex { index, parallelism };
            return Err(r.err_at(index_at, kind));
        }
        if !seen.insert(index) {
            return Err(r.err_at(index_at, ErrorKind::DuplicateSubtask { index }));
        }
        r.at.subtask = Some((s as u32, Some(index)));
        subtasks.push((index, read_subtask(r)?));
    }
    Ok(TaskState {
        vertex,
        parallelism,
        max_parallelism,
        chain_length,
        subtasks,
    })
}

fn read_subtask(r: &mut Cursor) -> Result<SubtaskState> {
    r.at.part = Part::Duration;
    let duration = r.i64("duration")?;

    r.at.part = Part::ChainCount("legacy operator state");
    let n = r.count("number of legacy operator state handles", 1)?;
    let mut legacy = Vec::with_capacity(n.min(1024));
    for k in 0..n {
        r.at.part = Part::Handle(Slot::Legacy(k));
        legacy.push(read_stream_handle(r)?);
    }
    let managed_operator = read_operator_chain(r, "managed operator state", Slot::ManagedOperator)?;
    let raw_operator = read_operator_chain(r, "raw operator state", Slot::RawOperator)?;
    r.at.part = Part::Handle(Slot::ManagedKeyed);
    let managed_keyed = read_key_groups_handle(r)?;
    r.at.part = Part::Handle(Slot::RawKeyed);
    let raw_keyed = read_key_groups_handle(r)?;
    Ok(SubtaskState {
        duration,
        legacy,
        managed_operator,
        raw_operator,
        managed_keyed,
        raw_keyed,
    })
}

fn read_operator_chain(
    r: &mut Cursor,
    list: &'static str,
    slot: fn(usize) -> Slot,
) -> Result<Vec<Option<OperatorHandle>>> {
    r.at.part = Part::ChainCount(list);
    let n = r.count("number of operator state handles", 1)?;
    let mut out = Vec::with_capacity(n.min(1024));
    for k in 0..n {
        r.at.part = Part::Handle(slot(k));
        out.push(read_operator_handle(r)?);
    }
    Ok(out)
}

/// Type byte read unsigned, as Flink's `read()` does.
fn read_stream_handle(r: &mut Cursor) -> Result<Option<StreamHandle>> {
    let type_at = r.pos;
    match r.u8("stream handle type")? {
        code::NULL => Ok(None),
        code::BYTE_STREAM => {
            let name = r.utf("byte stream handle name")?;
            let len_at = r.pos;
            let len = r.i32("byte stream length")?;
            if len < 0 {
                let kind = ErrorKind::NegativeCount {
                    what: "byte stream length",
                    count: len.into(),
                };
                return Err(r.err_at(len_at, kind));
            }
            let mut data = vec![0u8; r.fits(len_at, "byte stream length", len.into(), 1)?];
            r.take(&mut data, "byte stream data")?;
            Ok(Some(StreamHandle::ByteStream { name, data }))
        }
        code::FILE => {
            let size_at = r.pos;
            let size = r.i64("file handle size")?;
            if size < -1 {
                return Err(r.err_at(size_at, ErrorKind::FileSize { size }));
            }
            let path_at = r.pos;
            let path = r.utf("file handle path")?;
            if path.is_empty() {
                return Err(r.err_at(path_at, ErrorKind::EmptyPath));
            }
            Ok(Some(StreamHandle::File { size, path }))
        }
        c => Err(r.err_at(type_at, ErrorKind::UnknownStreamType { code: c })),
    }
}

/// Type byte read signed (`readByte()`).
fn read_operator_handle(r: &mut Cursor) -> Result<Option<OperatorHandle>> {
    let type_at = r.pos;
    let c = r.u8("operator state handle type")? as i8;
    match c as u8 {
        code::NULL => return Ok(None),
        code::OPERATOR_STATE => {}
        _ => return Err(r.err_at(type_at, ErrorKind::UnknownOperatorType { code: c })),
    }
    let m = r.count("number of operator states", MIN_OPERATOR_STATE_BYTES)?;
    let mut states: Vec<OperatorStateEntry> = Vec::with_capacity(m.min(1024));
    let mut names = HashSet::new();
    for k in 0..m {
        r.at.state = Some(k as u32);
        let name_at = r.pos;
        let name = r.utf("operator state name")?;
        if !names.insert(name.clone()) {
            return Err(r.err_at(name_at, ErrorKind::DuplicateStateName { name }));
        }
        let mode_at = r.pos;
        let mode_code = r.u8("operator state mode")? as i8;
        let Some(mode) = Mode::from_code(mode_code) else {
            return Err(r.err_at(mode_at, ErrorKind::UnknownMode { code: mode_code }));
        };
        let offsets = r.longs("number of operator state offsets", "operator state offset")?;
        states.push(OperatorStateEntry {
            name,
            mode,
            offsets,
        });
    }
    r.at.state = None;
    let delegate = read_delegate(r)?;
    Ok(Some(OperatorHandle { states, delegate }))
}

/// Type byte read signed (`readByte()`).
fn read_key_groups_handle(r: &mut Cursor) -> Result<Option<KeyGroupsHandle>> {
    let type_at = r.pos;
    let c = r.u8("keyed state handle type")? as i8;
    match c as u8 {
        code::NULL => return Ok(None),
        code::KEY_GROUPS => {}
        _ => return Err(r.err_at(type_at, ErrorKind::UnknownKeyGroupsType { code: c })),
    }
    let start_at = r.pos;
    let start = r.i32("start key group")?;
    let num_at = r.pos;
    let num = r.i32("number of key groups")?;
    // Flink: KeyGroupRange.of(start, start + num - 1) in int arithmetic, then
    // `new long[num]` and a length check against the range.
    if num > 0 && (start < 0 || i64::from(start) + i64::from(num) - 1 > i64::from(i32::MAX)) {
        return Err(r.err_at(start_at, ErrorKind::KeyGroupRange { start, num }));
    }
    let n = r.fits(num_at, "number of key groups", num.into(), 8)?;
    let offsets = r.longs_n(n, "key group offset")?;
    let delegate = read_delegate(r)?;
    Ok(Some(KeyGroupsHandle {
        start,
        offsets,
        delegate,
    }))
}

/// The stream an operator or key-group handle points into. A null delegate is legal
/// in Flink's format but not in its handle constructors, so it is an error here.
fn read_delegate(r: &mut Cursor) -> Result<StreamHandle> {
    r.at.delegate = true;
    let at = r.pos;
    let h = read_stream_handle(r)?;
    let Some(h) = h else {
        return Err(r.err_at(at, ErrorKind::NullDelegate));
    };
    r.at.delegate = false;
    Ok(h)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::MemSource;
    use crate::v1::Error;

    /// Big-endian byte builder for hand-made inputs.
    #[derive(Default)]
    struct B(Vec<u8>);
    impl B {
        fn u8(mut self, v: u8) -> Self {
            self.0.push(v);
            self
        }
        fn i32(mut self, v: i32) -> Self {
            self.0.extend(v.to_be_bytes());
            self
        }
        fn i64(mut self, v: i64) -> Self {
            self.0.extend(v.to_be_bytes());
            self
        }
        fn utf(mut self, s: &str) -> Self {
            self.0.extend((s.len() as u16).to_be_bytes());
            self.0.extend(s.as_bytes());
            self
        }
        fn raw(mut self, b: &[u8]) -> Self {
            self.0.extend(b);
            self
        }
        /// Room for the minimum-size checks of enclosing counts (never reached).
        fn pad(self) -> Self {
            self.raw(&[0; 32])
        }
        /// Header with one task (vertex 16 × 0xaa), then the subtask count.
        fn one_task(p: i32, max_p: i32, chain: i32, subtasks: i32) -> Self {
            B::default()
                .i32(MAGIC as i32)
                .i32(1)
                .i64(5)
                .i32(1)
                .raw(&[0xaa; 16])
                .i32(p)
                .i32(max_p)
                .i32(chain)
                .i32(subtasks)
        }
        /// `one_task(1, 1, 1, 1)`, subtask 0, duration -1: the legacy count comes next (at 64).
        fn one_subtask() -> Self {
            B::one_task(1, 1, 1, 1).i32(0).i64(-1)
        }
    }

    fn err(b: B) -> Error {
        read(&MemSource::new("mem", b.0)).expect_err("should fail")
    }

    const VERTEX: &str = "vertex aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

    #[test]
    fn minimal_file_reads_and_empty_subtask_is_26_bytes() {
        let ok = B::one_subtask().i32(0).i32(0).i32(0).u8(0).u8(0);
        assert_eq!(ok.0.len(), 52 + MIN_SUBTASK_BYTES as usize);
        let sp = read(&MemSource::new("mem", ok.0)).unwrap();
        assert_eq!(sp.checkpoint_id, 5);
        assert_eq!(sp.tasks[0].subtasks[0].0, 0);
        assert_eq!(sp.tasks[0].subtasks[0].1.duration, -1);
    }

    #[test]
    fn header_errors_name_version_and_magic() {
        let e = err(B::default().i32(0x12345678).i32(1));
        assert!(
            matches!(e.kind, ErrorKind::BadMagic { found: 0x12345678 }),
            "{e}"
        );
        let e = err(B::default().i32(MAGIC as i32).i32(0).i64(0).i32(0));
        assert_eq!(
            (e.offset, e.to_string().contains("use the V0 reader")),
            (4, true),
            "{e}"
        );
        let e = err(B::default().i32(MAGIC as i32).i32(2).i64(0).i32(0));
        assert!(
            e.to_string()
                .contains("Flink ≥1.3 format version 2 not supported"),
            "{e}"
        );
        let e = err(B::default().i32(MAGIC as i32));
        assert!(
            matches!(
                e.kind,
                ErrorKind::Truncated {
                    what: "version",
                    need: 4,
                    have: 0
                }
            ),
            "{e}"
        );
        assert_eq!(e.source_name, "mem");
    }

    #[test]
    fn huge_task_count_is_refused_before_allocating() {
        let e = err(B::default().i32(MAGIC as i32).i32(1).i64(0).i32(i32::MAX));
        let expected = ErrorKind::CountPastEnd {
            what: "number of task states",
            count: i32::MAX as i64,
            min_each: 32,
            remaining: 0,
        };
        assert_eq!(e.kind.to_string(), expected.to_string());
        assert_eq!(e.offset, 16);
        assert_eq!(e.location, "savepoint header");
        let e = err(B::one_task(1, 1, 1, 2).raw(&[0; 51]));
        assert!(
            matches!(
                e.kind,
                ErrorKind::CountPastEnd {
                    count: 2,
                    min_each: 26,
                    remaining: 51,
                    ..
                }
            ),
            "{e}"
        );
        assert_eq!(e.offset, 48);
        assert_eq!(e.location, format!("task 0 ({VERTEX}), task header"));
    }

    #[test]
    fn huge_byte_stream_length_is_refused_before_allocating() {
        let e = err(B::one_subtask()
            .i32(1)
            .u8(1)
            .utf("n")
            .i32(i32::MAX)
            .raw(&[0; 32]));
        assert!(
            matches!(
                e.kind,
                ErrorKind::CountPastEnd {
                    what: "byte stream length",
                    remaining: 32,
                    ..
                }
            ),
            "{e}"
        );
        assert_eq!(e.offset, 64 + 4 + 1 + 3);
        assert_eq!(
            e.location,
            format!("task 0 ({VERTEX}), subtask record 0 (index 0), legacy operator state [0]")
        );
        let e = err(B::one_subtask().i32(1).u8(1).utf("n").i32(-1).pad());
        assert!(
            matches!(e.kind, ErrorKind::NegativeCount { count: -1, .. }),
            "{e}"
        );
    }

    #[test]
    fn utf_length_past_the_end_is_truncation_at_the_length_field() {
        let e = err(B::one_subtask()
            .i32(1)
            .u8(2)
            .i64(10)
            .raw(&[0xff, 0xff, b'a']));
        assert!(
            matches!(
                e.kind,
                ErrorKind::Truncated {
                    need: 65535,
                    have: 1,
                    ..
                }
            ),
            "{e}"
        );
        assert_eq!(e.offset, 64 + 4 + 1 + 8);
        // Malformed and non-canonical (overlong 'A') strings are refused too.
        let e = err(B::one_subtask().i32(1).u8(2).i64(10).raw(&[0, 1, 0xff]));
        assert!(matches!(e.kind, ErrorKind::BadUtf { len: 1 }), "{e}");
        let e = err(B::one_subtask()
            .i32(1)
            .u8(2)
            .i64(10)
            .raw(&[0, 2, 0xc1, 0x81]));
        assert!(
            matches!(e.kind, ErrorKind::NonCanonicalUtf { len: 2 }),
            "{e}"
        );
        let e = err(B::one_subtask().i32(1).u8(2).i64(10).raw(&[0, 0]));
        assert!(matches!(e.kind, ErrorKind::EmptyPath), "{e}");
        let e = err(B::one_subtask().i32(1).u8(2).i64(-2).utf("p"));
        assert!(matches!(e.kind, ErrorKind::FileSize { size: -2 }), "{e}");
    }

    #[test]
    fn task_checks_of_flink_are_errors_at_the_field() {
        let e = err(B::one_task(5, 4, 1, 0));
        assert!(
            matches!(
                e.kind,
                ErrorKind::ParallelismAboveMax {
                    parallelism: 5,
                    max_parallelism: 4
                }
            ),
            "{e}"
        );
        assert_eq!(e.offset, 36);
        let e = err(B::one_task(-1, 4, 1, 0));
        assert!(
            matches!(e.kind, ErrorKind::NegativeParallelism { .. }),
            "{e}"
        );
        let e = err(B::one_task(1, 1, 0, 0));
        assert!(
            matches!(e.kind, ErrorKind::ChainLength { chain_length: 0 }),
            "{e}"
        );
        assert_eq!(e.offset, 44);
        let e = err(B::one_task(1, 1, 1, 1).i32(1).raw(&[0; 22]));
        assert!(
            matches!(
                e.kind,
                ErrorKind::SubtaskIndex {
                    index: 1,
                    parallelism: 1
                }
            ),
            "{e}"
        );
        assert_eq!(
            (e.offset, e.location.as_str()),
            (
                52,
                &*format!("task 0 ({VERTEX}), subtask record 0, subtask index")
            )
        );
        let empty = [0u8; 22];
        let e = err(B::one_task(2, 2, 1, 2)
            .i32(1)
            .raw(&empty)
            .i32(1)
            .raw(&empty));
        assert!(
            matches!(e.kind, ErrorKind::DuplicateSubtask { index: 1 }),
            "{e}"
        );
        assert_eq!(e.offset, 52 + 26);
    }

    #[test]
    fn unknown_type_codes_signed_and_unsigned_as_flink_reads_them() {
        let e = err(B::one_subtask().i32(1).u8(0x80).pad());
        assert!(
            matches!(e.kind, ErrorKind::UnknownStreamType { code: 128 }),
            "{e}"
        );
        assert_eq!(e.offset, 68);
        let e = err(B::one_subtask().i32(0).i32(1).u8(0x84).pad());
        assert!(
            matches!(e.kind, ErrorKind::UnknownOperatorType { code: -124 }),
            "{e}"
        );
        assert!(e.location.ends_with("managed operator state [0]"), "{e}");
        let e = err(B::one_subtask().i32(0).i32(0).i32(1).u8(3).pad());
        assert!(
            matches!(e.kind, ErrorKind::UnknownOperatorType { code: 3 }),
            "{e}"
        );
        assert!(e.location.ends_with("raw operator state [0]"), "{e}");
        let e = err(B::one_subtask().i32(0).i32(0).i32(0).u8(0).u8(0xff).pad());
        assert!(
            matches!(e.kind, ErrorKind::UnknownKeyGroupsType { code: -1 }),
            "{e}"
        );
        assert!(e.location.ends_with("raw keyed state"), "{e}");
        assert_eq!(e.offset, 77);
    }

    #[test]
    fn operator_and_key_group_payload_checks() {
        let op = |b: B| b.i32(0).i32(1).u8(4);
        let e = err(op(B::one_subtask()).i32(1).utf("s").u8(2).pad());
        assert!(matches!(e.kind, ErrorKind::UnknownMode { code: 2 }), "{e}");
        assert!(
            e.location
                .ends_with("managed operator state [0], operator state entry 0"),
            "{e}"
        );
        let e = err(op(B::one_subtask())
            .i32(2)
            .utf("s")
            .u8(0)
            .i32(0)
            .utf("s")
            .u8(0)
            .i32(0)
            .u8(0));
        assert!(
            matches!(e.kind, ErrorKind::DuplicateStateName { .. }),
            "{e}"
        );
        let e = err(op(B::one_subtask())
            .i32(1)
            .utf("s")
            .u8(0)
            .i32(0)
            .u8(0)
            .pad());
        assert!(matches!(e.kind, ErrorKind::NullDelegate), "{e}");
        assert!(
            e.location.ends_with("managed operator state [0], delegate"),
            "{e}"
        );
        let e = err(op(B::one_subtask())
            .i32(1)
            .utf("s")
            .u8(0)
            .i32(i32::MAX)
            .pad());
        assert!(
            matches!(e.kind, ErrorKind::CountPastEnd { min_each: 8, .. }),
            "{e}"
        );

        let kg = |b: B| b.i32(0).i32(0).i32(0).u8(3);
        let e = err(kg(B::one_subtask()).i32(-1).i32(1).i64(0).u8(0).u8(0).pad());
        assert!(
            matches!(e.kind, ErrorKind::KeyGroupRange { start: -1, num: 1 }),
            "{e}"
        );
        let e = err(kg(B::one_subtask())
            .i32(i32::MAX)
            .i32(2)
            .i64(0)
            .i64(0)
            .u8(0)
            .u8(0));
        assert!(matches!(e.kind, ErrorKind::KeyGroupRange { .. }), "{e}");
        let e = err(kg(B::one_subtask()).i32(0).i32(i32::MAX).pad());
        assert!(
            matches!(
                e.kind,
                ErrorKind::CountPastEnd {
                    what: "number of key groups",
                    ..
                }
            ),
            "{e}"
        );
        assert_eq!(e.offset, 76 + 1 + 4);
        // An empty range with any start reads (and writes back) as it is.
        let ok = kg(B::one_subtask())
            .i32(7)
            .i32(0)
            .u8(1)
            .utf("d")
            .i32(0)
            .u8(0);
        let sp = read(&MemSource::new("mem", ok.0)).unwrap();
        let h = sp.tasks[0].subtasks[0].1.managed_keyed.as_ref().unwrap();
        assert_eq!((h.start, h.offsets.len()), (7, 0));
    }

    #[test]
    fn trailing_bytes_are_an_error() {
        let e = err(B::default().i32(MAGIC as i32).i32(1).i64(0).i32(0).u8(0));
        assert!(
            matches!(e.kind, ErrorKind::TrailingBytes { count: 1 }),
            "{e}"
        );
        assert_eq!((e.offset, e.location.as_str()), (20, "end of file"));
    }
}
