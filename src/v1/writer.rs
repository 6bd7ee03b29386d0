//! Writes V1 savepoints (legacy-formats.md §4) byte for byte as Flink 1.2 lays them out.
//!
//! [`write()`] serializes a whole [`Savepoint`]. [`Encoder`] is the same writer one field
//! group at a time, for callers that must not hold inline state in memory: write an
//! operator or key-group handle's head, then stream its delegate's bytes with
//! [`Encoder::byte_stream_from`]. Both refuse what the [reader](super::read) would
//! refuse (bad parallelism, subtask indices, key-group ranges, duplicate names, strings
//! over 65,535 bytes), so whatever they write reads back.

use super::error::{Error, ErrorKind, Part, Result, Where};
use super::model::*;
use super::{MAGIC, VERSION};
use crate::javaser::mutf8;
use std::collections::HashSet;
use std::io::{BufWriter, Read, Write};

/// The `source_name` of writer errors.
pub const WRITER_NAME: &str = "V1 writer";

/// Writes `savepoint` to `out`; returns the number of bytes written.
pub fn write(savepoint: &Savepoint, out: &mut impl Write) -> Result<u64> {
    let mut enc = Encoder::new(BufWriter::new(out));
    if savepoint.version != VERSION as u32 {
        let version = savepoint.version;
        return Err(enc.err(ErrorKind::WriteVersion { version }));
    }
    enc.header(savepoint.checkpoint_id, savepoint.tasks.len())?;
    for task in &savepoint.tasks {
        enc.task_header(
            task.vertex,
            task.parallelism,
            task.max_parallelism,
            task.chain_length,
            task.subtasks.len(),
        )?;
        for (index, st) in &task.subtasks {
            enc.subtask_start(*index, st.duration)?;
            enc.at.part = Part::ChainCount("legacy operator state");
            enc.chain_count(st.legacy.len())?;
            for (k, h) in st.legacy.iter().enumerate() {
                enc.enter(Slot::Legacy(k));
                enc.stream_handle(h.as_ref())?;
            }
            let operator_lists = [
                (
                    &st.managed_operator,
                    "managed operator state",
                    Slot::ManagedOperator as fn(usize) -> Slot,
                ),
                (&st.raw_operator, "raw operator state", Slot::RawOperator),
            ];
            for (list, name, slot) in operator_lists {
                enc.at.part = Part::ChainCount(name);
                enc.chain_count(list.len())?;
                for (k, h) in list.iter().enumerate() {
                    enc.enter(slot(k));
                    enc.operator_handle(h.as_ref())?;
                }
            }
            enc.enter(Slot::ManagedKeyed);
            enc.key_groups_handle(st.managed_keyed.as_ref())?;
            enc.enter(Slot::RawKeyed);
            enc.key_groups_handle(st.raw_keyed.as_ref())?;
        }
    }
    let written = enc.position();
    let mut buf = enc.out;
    buf.flush()
        .map_err(|e| Error::new(ErrorKind::Io(e), written, WRITER_NAME, &Where::default()))?;
    Ok(written)
}

/// A field-group writer for V1 files. The caller writes the counts it declares: a task
/// header announces its subtasks, a chain count its handles, a handle head its delegate.
pub struct Encoder<W: Write> {
    out: W,
    pos: u64,
    at: Where,
    tasks: u32,
    subtasks: u32,
    /// Parallelism of the current task, and the subtask indices written so far.
    parallelism: i32,
    seen: HashSet<i32>,
    /// A handle head was written and its (non-null) delegate must follow.
    want_delegate: bool,
}

impl<W: Write> Encoder<W> {
    pub fn new(out: W) -> Self {
        Encoder {
            out,
            pos: 0,
            at: Where::default(),
            tasks: 0,
            subtasks: 0,
            parallelism: 0,
            seen: HashSet::new(),
            want_delegate: false,
        }
    }

    /// Bytes written so far.
    pub fn position(&self) -> u64 {
        self.pos
    }

    pub fn into_inner(self) -> W {
        self.out
    }

    fn err(&self, kind: ErrorKind) -> Error {
        Error::new(kind, self.pos, WRITER_NAME, &self.at)
    }

    fn put(&mut self, bytes: &[u8]) -> Result<()> {
        self.out
            .write_all(bytes)
            .map_err(|e| self.err(ErrorKind::Io(e)))?;
        self.pos += bytes.len() as u64;
        Ok(())
    }

    fn int(&mut self, v: i32) -> Result<()> {
        self.put(&v.to_be_bytes())
    }

    fn long(&mut self, v: i64) -> Result<()> {
        self.put(&v.to_be_bytes())
    }

    /// A count as a Java int.
    fn len(&mut self, what: &'static str, n: usize) -> Result<()> {
        let v = i32::try_from(n).map_err(|_| {
            self.err(ErrorKind::TooLarge {
                what,
                len: n as u64,
            })
        })?;
        self.int(v)
    }

    /// `writeUTF`: refuses more than 65,535 encoded bytes rather than truncating.
    fn utf(&mut self, what: &'static str, s: &str) -> Result<()> {
        let bytes = mutf8::encode(s);
        let len = u16::try_from(bytes.len()).map_err(|_| {
            self.err(ErrorKind::UtfTooLong {
                what,
                len: bytes.len(),
            })
        })?;
        self.put(&len.to_be_bytes())?;
        self.put(&bytes)
    }

    /// Magic, version, checkpoint id and the number of task states that will follow.
    pub fn header(&mut self, checkpoint_id: i64, num_tasks: usize) -> Result<()> {
        self.at = Where::default();
        self.put(&MAGIC.to_be_bytes())?;
        self.int(VERSION)?;
        self.long(checkpoint_id)?;
        self.len("number of task states", num_tasks)
    }

    /// One task state's header; `num_subtasks` subtask records must follow.
    pub fn task_header(
        &mut self,
        vertex: VertexId,
        parallelism: i32,
        max_parallelism: i32,
        chain_length: i32,
        num_subtasks: usize,
    ) -> Result<()> {
        self.at = Where {
            task: Some((self.tasks, Some(vertex))),
            part: Part::TaskHeader,
            ..Where::default()
        };
        self.tasks += 1;
        self.subtasks = 0;
        if parallelism < 0 {
            return Err(self.err(ErrorKind::NegativeParallelism { parallelism }));
        }
        if parallelism > max_parallelism {
            let kind = ErrorKind::ParallelismAboveMax {
                parallelism,
                max_parallelism,
            };
            return Err(self.err(kind));
        }
        if chain_length <= 0 {
            return Err(self.err(ErrorKind::ChainLength { chain_length }));
        }
        self.parallelism = parallelism;
        self.seen.clear();
        self.put(&vertex.0)?;
        self.int(parallelism)?;
        self.int(max_parallelism)?;
        self.int(chain_length)?;
        self.len("number of subtask states", num_subtasks)
    }

    /// A subtask record's index and duration; its chain lists and keyed handles follow.
    pub fn subtask_start(&mut self, index: i32, duration: i64) -> Result<()> {
        self.at.subtask = Some((self.subtasks, Some(index)));
        self.at.part = Part::SubtaskIndex;
        self.subtasks += 1;
        if !(0..self.parallelism).contains(&index) {
            let parallelism = self.parallelism;
            return Err(self.err(ErrorKind::SubtaskIndex { index, parallelism }));
        }
        if !self.seen.insert(index) {
            return Err(self.err(ErrorKind::DuplicateSubtask { index }));
        }
        self.int(index)?;
        self.long(duration)
    }

    /// The length of a chain list (legacy, managed operator or raw operator).
    pub fn chain_count(&mut self, n: usize) -> Result<()> {
        self.len("chain list length", n)
    }

    /// Names the slot the next handle fills (for error locations only).
    pub fn enter(&mut self, slot: Slot) {
        self.at.part = Part::Handle(slot);
        self.at.state = None;
        self.at.delegate = false;
    }

    /// A stream handle, or the null code.
    pub fn stream_handle(&mut self, h: Option<&StreamHandle>) -> Result<()> {
        match h {
            None if self.want_delegate => Err(self.err(ErrorKind::NullDelegate)),
            None => self.put(&[code::NULL]),
            Some(StreamHandle::ByteStream { name, data }) => {
                self.byte_stream_from(name, data.len() as u64, &mut &data[..])
            }
            Some(StreamHandle::File { size, path }) => {
                if *size < -1 {
                    return Err(self.err(ErrorKind::FileSize { size: *size }));
                }
                if path.is_empty() {
                    return Err(self.err(ErrorKind::EmptyPath));
                }
                self.want_delegate = false;
                self.put(&[code::FILE])?;
                self.long(*size)?;
                self.utf("file handle path", path)
            }
        }
    }

    /// An inline byte-stream handle whose `len` bytes are copied from `data`, so big
    /// inline state never has to sit in memory. Fails if `data` ends early.
    pub fn byte_stream_from(&mut self, name: &str, len: u64, data: &mut dyn Read) -> Result<()> {
        let n = i32::try_from(len).map_err(|_| {
            self.err(ErrorKind::TooLarge {
                what: "byte stream length",
                len,
            })
        })?;
        self.want_delegate = false;
        self.put(&[code::BYTE_STREAM])?;
        self.utf("byte stream handle name", name)?;
        self.int(n)?;
        let start = self.pos;
        let copied = std::io::copy(&mut data.take(len), &mut self.out)
            .map_err(|e| self.err(ErrorKind::Io(e)))?;
        self.pos += copied;
        if copied != len {
            let kind = ErrorKind::ShortData {
                expected: len,
                got: copied,
            };
            return Err(Error::new(kind, start, WRITER_NAME, &self.at));
        }
        Ok(())
    }

    /// An operator state handle, or the null code.
    pub fn operator_handle(&mut self, h: Option<&OperatorHandle>) -> Result<()> {
        match h {
            None => self.put(&[code::NULL]),
            Some(h) => {
                self.operator_handle_head(&h.states)?;
                self.stream_handle(Some(&h.delegate))
            }
        }
    }

    /// Type code and named states of an operator state handle; the delegate stream
    /// handle must be written next.
    pub fn operator_handle_head(&mut self, states: &[OperatorStateEntry]) -> Result<()> {
        let mut names = HashSet::new();
        for (k, st) in states.iter().enumerate() {
            if !names.insert(st.name.as_str()) {
                self.at.state = Some(k as u32);
                let name = st.name.clone();
                return Err(self.err(ErrorKind::DuplicateStateName { name }));
            }
        }
        self.put(&[code::OPERATOR_STATE])?;
        self.len("number of operator states", states.len())?;
        for (k, st) in states.iter().enumerate() {
            self.at.state = Some(k as u32);
            self.utf("operator state name", &st.name)?;
            self.put(&[st.mode.code() as u8])?;
            self.len("number of operator state offsets", st.offsets.len())?;
            for &o in &st.offsets {
                self.long(o)?;
            }
        }
        self.at.state = None;
        self.at.delegate = true;
        self.want_delegate = true;
        Ok(())
    }

    /// A key-groups handle, or the null code.
    pub fn key_groups_handle(&mut self, h: Option<&KeyGroupsHandle>) -> Result<()> {
        match h {
            None => self.put(&[code::NULL]),
            Some(h) => {
                self.key_groups_head(h.start, &h.offsets)?;
                self.stream_handle(Some(&h.delegate))
            }
        }
    }

    /// Type code, range and offsets of a key-groups handle; the delegate stream handle
    /// must be written next.
    pub fn key_groups_head(&mut self, start: i32, offsets: &[i64]) -> Result<()> {
        let num = i32::try_from(offsets.len()).map_err(|_| {
            self.err(ErrorKind::TooLarge {
                what: "number of key groups",
                len: offsets.len() as u64,
            })
        })?;
        if num > 0 && (start < 0 || i64::from(start) + i64::from(num) - 1 > i64::from(i32::MAX)) {
            return Err(self.err(ErrorKind::KeyGroupRange { start, num }));
        }
        self.put(&[code::KEY_GROUPS])?;
        self.int(start)?;
        self.int(num)?;
        for &o in offsets {
            self.long(o)?;
        }
        self.at.delegate = true;
        self.want_delegate = true;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::MemSource;

    fn unhex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// One subtask holding every handle kind: byte stream, file, operator state (with
    /// both modes of null around it), key groups, and nulls of each family.
    fn handmade() -> Savepoint {
        let st = SubtaskState {
            duration: -1,
            legacy: vec![
                Some(StreamHandle::ByteStream {
                    name: "ab".into(),
                    data: vec![1, 2],
                }),
                None,
                Some(StreamHandle::File {
                    size: 5,
                    path: "file:/x".into(),
                }),
            ],
            managed_operator: vec![
                Some(OperatorHandle {
                    states: vec![OperatorStateEntry {
                        name: "s".into(),
                        mode: Mode::Broadcast,
                        offsets: vec![0, 3],
                    }],
                    delegate: StreamHandle::File {
                        size: 9,
                        path: "/p".into(),
                    },
                }),
                None,
            ],
            raw_operator: vec![],
            managed_keyed: Some(KeyGroupsHandle {
                start: 2,
                offsets: vec![4],
                delegate: StreamHandle::ByteStream {
                    name: "k".into(),
                    data: vec![0xff],
                },
            }),
            raw_keyed: None,
        };
        Savepoint {
            version: 1,
            checkpoint_id: 7,
            tasks: vec![TaskState {
                vertex: VertexId(core::array::from_fn(|i| i as u8)),
                parallelism: 2,
                max_parallelism: 4,
                chain_length: 2,
                subtasks: vec![(1, st)],
            }],
        }
    }

    /// legacy-formats.md §4.2–4.4, written out by hand.
    const HANDMADE_HEX: &str = "
        4960672d 00000001 0000000000000007 00000001
        000102030405060708090a0b0c0d0e0f 00000002 00000004 00000002 00000001
        00000001 ffffffffffffffff
        00000003
          01 0002 6162 00000002 0102
          00
          02 0000000000000005 0007 66696c653a2f78
        00000002
          04 00000001 0001 73 01 00000002 0000000000000000 0000000000000003
             02 0000000000000009 0002 2f70
          00
        00000000
        03 00000002 00000001 0000000000000004 01 0001 6b 00000001 ff
        00";

    #[test]
    fn handmade_model_gives_the_bytes_of_the_spec() {
        let mut out = Vec::new();
        let n = write(&handmade(), &mut out).unwrap();
        assert_eq!(out, unhex(HANDMADE_HEX));
        assert_eq!(n, out.len() as u64);
        let back = crate::v1::read(&MemSource::new("handmade", out)).unwrap();
        assert_eq!(back, handmade());
    }

    #[test]
    fn over_long_utf_is_an_error_not_a_truncation() {
        let mut sp = handmade();
        // 65,535 encoded bytes is the limit and still fine.
        sp.tasks[0].subtasks[0].1.legacy[0] = Some(StreamHandle::ByteStream {
            name: "x".repeat(65_535),
            data: vec![],
        });
        write(&sp, &mut Vec::new()).unwrap();
        // NUL takes two bytes in modified UTF-8: 32,768 of them are 65,536 bytes.
        sp.tasks[0].subtasks[0].1.legacy[0] = Some(StreamHandle::ByteStream {
            name: "\0".repeat(32_768),
            data: vec![],
        });
        let e = write(&sp, &mut Vec::new()).unwrap_err();
        assert!(
            matches!(e.kind, ErrorKind::UtfTooLong { len: 65_536, .. }),
            "{e}"
        );
        // magic..task header (20 + 32) + index + duration + count + type byte.
        assert_eq!(e.offset, 52 + 4 + 8 + 4 + 1);
        assert_eq!(e.source_name, WRITER_NAME);
        assert!(
            e.location
                .contains("subtask record 0 (index 1), legacy operator state [0]"),
            "{e}"
        );

        let mut sp = handmade();
        sp.tasks[0].subtasks[0].1.managed_operator[0]
            .as_mut()
            .unwrap()
            .states[0]
            .name = "é".repeat(40_000);
        let e = write(&sp, &mut Vec::new()).unwrap_err();
        assert!(
            matches!(e.kind, ErrorKind::UtfTooLong { len: 80_000, .. }),
            "{e}"
        );
        assert!(
            e.location
                .contains("managed operator state [0], operator state entry 0"),
            "{e}"
        );
    }

    #[test]
    fn refuses_models_the_reader_would_refuse() {
        type Case = (fn(&mut Savepoint), fn(&ErrorKind) -> bool);
        let cases: Vec<Case> = vec![
            (
                |sp| sp.version = 2,
                |k| matches!(k, ErrorKind::WriteVersion { version: 2 }),
            ),
            (
                |sp| sp.tasks[0].parallelism = 5,
                |k| matches!(k, ErrorKind::ParallelismAboveMax { .. }),
            ),
            (
                |sp| sp.tasks[0].chain_length = 0,
                |k| matches!(k, ErrorKind::ChainLength { .. }),
            ),
            (
                |sp| sp.tasks[0].subtasks[0].0 = 2,
                |k| matches!(k, ErrorKind::SubtaskIndex { index: 2, .. }),
            ),
            (
                |sp| {
                    let dup = sp.tasks[0].subtasks[0].clone();
                    sp.tasks[0].subtasks.push(dup);
                },
                |k| matches!(k, ErrorKind::DuplicateSubtask { index: 1 }),
            ),
            (
                |sp| {
                    sp.tasks[0].subtasks[0]
                        .1
                        .managed_keyed
                        .as_mut()
                        .unwrap()
                        .start = -1
                },
                |k| matches!(k, ErrorKind::KeyGroupRange { start: -1, num: 1 }),
            ),
            (
                |sp| {
                    let h = sp.tasks[0].subtasks[0].1.managed_operator[0]
                        .as_mut()
                        .unwrap();
                    let dup = h.states[0].clone();
                    h.states.push(dup);
                },
                |k| matches!(k, ErrorKind::DuplicateStateName { .. }),
            ),
            (
                |sp| {
                    sp.tasks[0].subtasks[0].1.legacy[2] = Some(StreamHandle::File {
                        size: -2,
                        path: "p".into(),
                    })
                },
                |k| matches!(k, ErrorKind::FileSize { size: -2 }),
            ),
        ];
        for (i, (mutate, expect)) in cases.into_iter().enumerate() {
            let mut sp = handmade();
            mutate(&mut sp);
            let e = write(&sp, &mut Vec::new()).unwrap_err();
            assert!(expect(&e.kind), "case {i}: {e}");
        }
    }

    #[test]
    fn encoder_streams_inline_data_and_catches_short_input() {
        let mut enc = Encoder::new(Vec::new());
        enc.key_groups_head(0, &[0]).unwrap();
        // A null delegate cannot follow a head.
        assert!(matches!(
            enc.stream_handle(None).unwrap_err().kind,
            ErrorKind::NullDelegate
        ));
        let big = vec![7u8; 100_000];
        enc.byte_stream_from("big", big.len() as u64, &mut &big[..])
            .unwrap();
        let out = enc.into_inner();
        assert_eq!(
            &out[..18],
            &unhex("03 00000000 00000001 0000000000000000 01")[..]
        );
        assert_eq!(&out[18..27], &unhex("0003 626967 000186a0")[..]);
        assert_eq!(&out[27..], &big[..]);

        let mut enc = Encoder::new(Vec::new());
        let e = enc
            .byte_stream_from("n", 10, &mut &[1u8, 2, 3][..])
            .unwrap_err();
        assert!(
            matches!(
                e.kind,
                ErrorKind::ShortData {
                    expected: 10,
                    got: 3
                }
            ),
            "{e}"
        );
        assert_eq!(e.offset, 1 + 3 + 4);
        let e = Encoder::new(Vec::new())
            .byte_stream_from("n", 1 << 31, &mut std::io::empty())
            .unwrap_err();
        assert!(matches!(e.kind, ErrorKind::TooLarge { .. }), "{e}");
    }
}
