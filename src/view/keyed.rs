//! One keyed state of a subtask as JSON Lines, read from the subtask's canonical keyed
//! stream (`managed-keyed-state-v6`: every record says its key and value length) and
//! decoded with the serializer snapshots of its header. One line per record:
//! `{"key_group":G,"key":K,"namespace":N,"value":V}`; a key, namespace or value we cannot
//! decode is its byte span in that file (`{"bytes":HEX,"file":…,"offset":O,"length":L}`).
//!
//! Lines are generated, never stored: a first pass (on the first `stat`) counts each
//! state's bytes and keeps a checkpoint every [`STRIDE`] lines, so a read regenerates at
//! most that many lines before its offset; a cursor continues sequential reads.

use crate::convert::KeyedInfo;
use crate::keygroup::{END_OF_KEY_GROUP, LAST_IN_STATE};
use crate::modern::decode::{Decoder, hex};
use crate::modern::proxy::{KeyedStateType, TIMER_TIME_LEN};
use crate::scan::Scan;
use crate::source::Source;
use serde_json::{Value, json};
use std::io::{self, Write};
use std::sync::{Arc, Mutex};

/// Lines between checkpoints.
const STRIDE: u64 = 256;

/// A position in the canonical stream: a record start and the state its run is of.
#[derive(Clone, Copy, Debug)]
struct At {
    input: u64,
    state: u16,
}

/// A line start of one state's view: its output offset and the record it is made from.
#[derive(Clone, Copy, Debug)]
struct Checkpoint {
    out: u64,
    at: At,
}

/// The views of every keyed state of one subtask.
pub struct KeyedViews {
    stream: Arc<dyn Source>,
    /// The file the stream is, as spans name it.
    file: String,
    info: Arc<KeyedInfo>,
    /// The key's decoder, and per state its namespace's and value's (a list state's
    /// value decoder reads one element: the canonical value is delimited elements).
    key: Decoder,
    decoders: Vec<StateDecoders>,
    /// Where the records start (the header's length); `None`: no records.
    body: Option<At>,
    /// Per state: the view's length and its checkpoints.
    sizes: Vec<u64>,
    checkpoints: Vec<Vec<Checkpoint>>,
    /// Per state: where the last read stopped (a line start), for sequential reads.
    cursors: Mutex<Vec<Option<Checkpoint>>>,
}

impl KeyedViews {
    /// Indexes the views of `stream` (a canonical keyed stream whose records start at
    /// `body`) with one pass over it.
    pub fn build(
        stream: Arc<dyn Source>,
        file: String,
        body: u64,
        info: Arc<KeyedInfo>,
    ) -> io::Result<KeyedViews> {
        let n = info.states.len();
        let decoders = info
            .states
            .iter()
            .map(|s| {
                let element = match (s.kind, &s.value.body) {
                    (KeyedStateType::List, crate::modern::Body::Composite { nested, .. })
                        if nested.len() == 1 =>
                    {
                        Some(Decoder::of(&nested[0]))
                    }
                    _ => None,
                };
                StateDecoders {
                    namespace: Decoder::of(&s.namespace),
                    list: element.is_some(),
                    value: element.unwrap_or_else(|| Decoder::of(&s.value)),
                    timer: s.kind == KeyedStateType::PriorityQueue,
                }
            })
            .collect();
        let mut v = KeyedViews {
            stream,
            file,
            key: Decoder::of(&info.key),
            decoders,
            info,
            body: None,
            sizes: vec![0; n],
            checkpoints: vec![Vec::new(); n],
            cursors: Mutex::new(vec![None; n]),
        };
        if body >= v.stream.len() {
            return Ok(v);
        }
        let first = u16::from_be_bytes(take2(&mut Scan::new(&*v.stream, body, v.stream.len()))?);
        let start = At {
            input: body + 2,
            state: first,
        };
        v.body = Some(start);
        let mut lines = vec![0u64; n];
        let mut sizes = vec![0u64; n];
        let mut checkpoints = vec![Vec::new(); n];
        let mut line = Vec::new();
        v.walk(start, &mut |at, record: &Record<'_>| {
            v.state(at.state, record.at)?;
            let s = at.state as usize;
            if lines[s].is_multiple_of(STRIDE) {
                checkpoints[s].push(Checkpoint { out: sizes[s], at });
            }
            line.clear();
            v.line(at.state, record, &mut line);
            sizes[s] += line.len() as u64;
            lines[s] += 1;
            Ok(true)
        })?;
        v.sizes = sizes;
        v.checkpoints = checkpoints;
        Ok(v)
    }

    /// The states, in header order: (name, view length).
    pub fn states(&self) -> impl Iterator<Item = (&str, u64)> {
        self.info
            .states
            .iter()
            .zip(&self.sizes)
            .map(|(s, &n)| (s.name.as_str(), n))
    }

    /// The name of the stream the views decode.
    pub fn stream_name(&self) -> String {
        self.stream.name()
    }

    /// Memory this index holds (its checkpoints, and what the stream it keeps alive
    /// holds), for the cache's bound.
    pub fn held_bytes(&self) -> usize {
        let cps: usize = self.checkpoints.iter().map(Vec::len).sum();
        256 + cps * std::mem::size_of::<Checkpoint>()
            + self.sizes.len() * 48
            + self.stream.held_bytes()
    }

    pub fn len(&self, state: usize) -> u64 {
        self.sizes.get(state).copied().unwrap_or(0)
    }

    fn state(&self, id: u16, at: u64) -> io::Result<&crate::modern::proxy::KeyedStateMeta> {
        self.info.states.get(id as usize).ok_or_else(|| {
            bad(format!(
                "{}: offset {at}: state id {id} is not in the header",
                self.stream.name()
            ))
        })
    }

    /// Walks records from `from` (a record start) to the end, calling `f` with each
    /// record's position until it returns `false`.
    fn walk(
        &self,
        from: At,
        f: &mut dyn FnMut(At, &Record<'_>) -> io::Result<bool>,
    ) -> io::Result<()> {
        let prefix = if self.info.max_parallelism > 128 {
            2
        } else {
            1
        };
        let mut at = from;
        let scan = &mut Scan::new(&*self.stream, at.input, self.stream.len());
        let mut key = Vec::new();
        loop {
            let start = scan.pos();
            let klen = scan.len("key length", start)? as usize;
            if klen < prefix {
                return Err(bad(format!(
                    "{}: offset {start}: a key of {klen} bytes, shorter than its key-group prefix",
                    self.stream.name()
                )));
            }
            key.clear();
            key.extend_from_slice(scan.take(klen)?);
            let value_at = scan.pos() + 4;
            let vlen = scan.len("value length", start)? as usize;
            let value = scan.take(vlen)?;
            let last = key[0] & LAST_IN_STATE != 0;
            let group = key[..prefix].iter().enumerate().fold(0u32, |g, (i, &b)| {
                g << 8 | u32::from(if i == 0 { b & !LAST_IN_STATE } else { b })
            });
            let record = Record {
                at: start,
                group,
                key: &key[prefix..],
                key_at: start + 4 + prefix as u64,
                value,
                value_at,
            };
            if !f(at, &record)? {
                return Ok(());
            }
            if last {
                let next = u16::from_be_bytes(take2(scan)?);
                if next == END_OF_KEY_GROUP {
                    if scan.at_end() {
                        return Ok(());
                    }
                    at.state = u16::from_be_bytes(take2(scan)?);
                } else {
                    at.state = next;
                }
            }
            at.input = scan.pos();
        }
    }

    /// One record's JSON line (with its newline).
    fn line(&self, state: u16, r: &Record<'_>, out: &mut Vec<u8>) {
        let Some(d) = self.decoders.get(state as usize) else {
            return;
        };
        // A timer: `"time"` (its sign bit flipped back) in place of a value.
        let timer = match r.key.split_first_chunk::<TIMER_TIME_LEN>() {
            Some((time, rest)) if d.timer => Some((i64::from_be_bytes(*time) ^ i64::MIN, rest)),
            _ => None,
        };
        let key_bytes = timer.map_or(r.key, |(_, rest)| rest);
        // Written straight into `out` (writing into a Vec cannot fail); what does not
        // decode is rolled back and shown as its byte span.
        out.extend_from_slice(b"{\"key_group\":");
        let _ = write!(out, "{}", r.group);
        out.extend_from_slice(b",\"key\":");
        let at = out.len();
        let mut rest = key_bytes;
        let decoded = self.key.write(&mut rest, out).and_then(|()| {
            out.extend_from_slice(b",\"namespace\":");
            d.namespace.write_all(rest, out)
        });
        if decoded.is_err() {
            out.truncate(at);
            let _ = serde_json::to_writer(&mut *out, &self.span(r.key, r.key_at));
            out.extend_from_slice(b",\"namespace\":null");
        }
        if let Some((time, _)) = timer {
            let _ = writeln!(out, ",\"time\":{time}}}");
            return;
        }
        out.extend_from_slice(b",\"value\":");
        let at = out.len();
        let decoded = match d.list {
            true => d.value.write_delimited(r.value, out),
            false => d.value.write_all(r.value, out),
        };
        if decoded.is_err() {
            out.truncate(at);
            let _ = serde_json::to_writer(&mut *out, &self.span(r.value, r.value_at));
        }
        out.extend_from_slice(b"}\n");
    }

    fn span(&self, bytes: &[u8], at: u64) -> Value {
        json!({"bytes": hex(bytes), "file": self.file, "offset": at, "length": bytes.len()})
    }

    /// Fills `buf` from offset `offset` of state `state`'s view.
    pub fn read_at(&self, state: usize, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        let len = self.len(state);
        if offset.checked_add(buf.len() as u64).is_none_or(|e| e > len) {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("view of state {state}: read past the end"),
            ));
        }
        if buf.is_empty() {
            return Ok(());
        }
        let cps = &self.checkpoints[state];
        let idx = cps.partition_point(|c| c.out <= offset).saturating_sub(1);
        let mut from = cps[idx];
        if let Ok(cursors) = self.cursors.lock()
            && let Some(c) = cursors[state]
            && c.out <= offset
            && c.out >= from.out
        {
            from = c;
        }
        let mut out = from.out;
        let mut filled = 0usize;
        let mut line = Vec::new();
        let mut resume = None;
        self.walk(from.at, &mut |at, r| {
            if at.state as usize != state {
                return Ok(true);
            }
            if filled == buf.len() {
                resume = Some(Checkpoint { out, at });
                return Ok(false);
            }
            line.clear();
            self.line(at.state, r, &mut line);
            let end = out + line.len() as u64;
            let want = offset + filled as u64;
            if end > want {
                let skip = want.saturating_sub(out) as usize;
                let n = (line.len() - skip).min(buf.len() - filled);
                buf[filled..filled + n].copy_from_slice(&line[skip..skip + n]);
                filled += n;
            }
            out = end;
            Ok(true)
        })?;
        if filled < buf.len() {
            return Err(bad(format!(
                "{}: the view of state {state} ended {} bytes early (the stream changed?)",
                self.stream.name(),
                buf.len() - filled
            )));
        }
        if let (Some(r), Ok(mut cursors)) = (resume, self.cursors.lock()) {
            cursors[state] = Some(r);
        }
        Ok(())
    }
}

/// How one state's records decode.
struct StateDecoders {
    namespace: Decoder,
    value: Decoder,
    /// The value is delimited elements, `value` reads one.
    list: bool,
    /// A timer queue: the key holds the time before the key and namespace.
    timer: bool,
}

/// One canonical record.
struct Record<'a> {
    at: u64,
    group: u32,
    /// Key and namespace, after the key-group prefix.
    key: &'a [u8],
    key_at: u64,
    value: &'a [u8],
    value_at: u64,
}

fn take2(scan: &mut Scan<'_>) -> io::Result<[u8; 2]> {
    let b = scan.take(2)?;
    Ok([b[0], b[1]])
}

fn bad(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

/// One state's view as a [`Source`], for the tree to serve.
pub struct StateView {
    pub views: Arc<KeyedViews>,
    pub state: usize,
    pub name: String,
}

impl Source for StateView {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn len(&self) -> u64 {
        self.views.len(self.state)
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        self.views.read_at(self.state, offset, buf)
    }
}

#[cfg(test)]
mod tests;
