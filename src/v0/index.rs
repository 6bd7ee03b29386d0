//! The outer index of a Flink 1.1 savepoint file (legacy-formats.md §1.2): header, task states,
//! subtask entries. Opening reads only the framing fields with small positional reads and
//! skips every blob, so the cost grows with the number of subtasks, never with state size.

use super::error::{Error, Location, Result};
use crate::source::{Source, Span};
use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;

/// `FsSavepointStore`'s magic number, shared by Flink 1.1 and 1.2 savepoint files.
pub const MAGIC: u32 = 0x4960_672D;
/// Format version written by Flink 1.1 (`SavepointV0`).
pub const VERSION_V0: u32 = 0;
/// Format version written by Flink 1.2 (`SavepointV1`).
pub const VERSION_V1: u32 = 1;

/// magic + version + checkpointId + numTaskStates.
const HEADER_LEN: u64 = 20;
/// Smallest task state: vertex 16 + parallelism 4 + numSubtaskStates 4 + numKvStates 4.
const MIN_TASK_LEN: u64 = 28;
/// Smallest subtask entry: index 4 + length 4 + stateSize 8 + duration 8 (legacy-formats.md §5.5).
const MIN_SUBTASK_LEN: u64 = 24;

pub use crate::ids::VertexId;

/// One subtask entry of a task state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubtaskEntry {
    /// The subtask index, validated to lie in `[0, parallelism)`.
    pub index: u32,
    /// Where the entry (its index field) starts in the file.
    pub offset: u64,
    /// The Java-serialized state (absolute file span), `None` for the ‑1 null encoding.
    pub blob: Option<Span>,
    /// Sum of the handle sizes as Flink 1.1 computed them (legacy-formats.md §2.6).
    pub state_size: i64,
    /// Milliseconds from checkpoint trigger to acknowledgement.
    pub duration: i64,
}

/// One task state: a job vertex and the subtasks that acknowledged with state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskEntry {
    /// Position of the task state in the file (0-based).
    pub position: usize,
    /// Where the task state starts in the file.
    pub offset: u64,
    pub vertex: VertexId,
    pub parallelism: u32,
    /// In file order (Flink writes ascending subtask index).
    pub subtasks: Vec<SubtaskEntry>,
}

impl TaskEntry {
    pub fn subtask(&self, index: u32) -> Option<&SubtaskEntry> {
        self.subtasks.iter().find(|s| s.index == index)
    }

    pub fn location(&self) -> Location {
        Location::task(self.position, self.vertex)
    }
}

/// The outer index of a Flink 1.1 savepoint, with the source its spans point into.
pub struct SavepointIndex {
    source: Arc<dyn Source>,
    checkpoint_id: i64,
    tasks: Vec<TaskEntry>,
}

impl fmt::Debug for SavepointIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SavepointIndex")
            .field("source", &self.source.name())
            .field("checkpoint_id", &self.checkpoint_id)
            .field("tasks", &self.tasks)
            .finish()
    }
}

/// Reads the format version at offset 4 after checking the magic number, without
/// interpreting anything else (lets a caller choose between the V0 and V1 readers).
pub fn format_version(source: &dyn Source) -> Result<u32> {
    let mut r = Framing::new(source);
    let loc = Location::default();
    if source.len() < 8 {
        return Err(r.problem(
            0,
            &loc,
            format!(
                "file is {} bytes, too short for a savepoint header (magic and version, 8 bytes)",
                source.len()
            ),
        ));
    }
    let magic = r.u32("magic number", &loc)?;
    if magic != MAGIC {
        return Err(Error::BadMagic {
            source_name: source.name(),
            found: magic,
        });
    }
    r.u32("format version", &loc)
}

impl SavepointIndex {
    /// Reads and validates the framing of a Flink 1.1 savepoint (legacy-formats.md §1.2–1.4).
    pub fn open(source: Arc<dyn Source>) -> Result<SavepointIndex> {
        match format_version(&*source)? {
            VERSION_V0 => {}
            VERSION_V1 => {
                return Err(Error::AlreadyV1 {
                    source_name: source.name(),
                });
            }
            version => {
                return Err(Error::UnsupportedVersion {
                    source_name: source.name(),
                    version,
                });
            }
        }
        let (checkpoint_id, tasks) = read_tasks(&*source)?;
        Ok(SavepointIndex {
            source,
            checkpoint_id,
            tasks,
        })
    }

    pub fn source(&self) -> &Arc<dyn Source> {
        &self.source
    }

    pub fn checkpoint_id(&self) -> i64 {
        self.checkpoint_id
    }

    /// Task states in file order.
    pub fn tasks(&self) -> &[TaskEntry] {
        &self.tasks
    }

    pub fn task(&self, vertex: &VertexId) -> Option<&TaskEntry> {
        self.tasks.iter().find(|t| t.vertex == *vertex)
    }

    /// Whether some state may live outside the savepoint file: the recorded state sizes
    /// (which count an external file's length) exceed the bytes the file's own subtask
    /// entries hold. A memory-backend savepoint holds all of its state, so never. Only a
    /// hint (the sizes are the writer's word): it decides whether opens are worth a
    /// round trip for passing external files through, never what is served.
    pub fn may_reference_external_state(&self) -> bool {
        let (recorded, held) = self.subtasks().fold((0u64, 0u64), |(r, h), (_, s)| {
            (
                r.saturating_add(s.state_size.max(0) as u64),
                h.saturating_add(s.blob.map_or(0, |b| b.len)),
            )
        });
        recorded > held
    }

    /// Every (task, subtask) pair in file order.
    pub fn subtasks(&self) -> impl Iterator<Item = (&TaskEntry, &SubtaskEntry)> {
        self.tasks
            .iter()
            .flat_map(|t| t.subtasks.iter().map(move |s| (t, s)))
    }
}

fn read_tasks(source: &dyn Source) -> Result<(i64, Vec<TaskEntry>)> {
    let mut r = Framing::new(source);
    let header = Location::default();
    if r.len < HEADER_LEN {
        return Err(r.problem(
            0,
            &header,
            format!(
                "file is {} bytes, too short for a savepoint header ({HEADER_LEN} bytes)",
                r.len
            ),
        ));
    }
    r.pos = 8;
    let checkpoint_id = r.i64("checkpoint id", &header)?;
    let count_at = r.pos;
    let num_tasks = r.i32("number of task states", &header)?;
    if num_tasks < 0 || num_tasks as u64 * MIN_TASK_LEN > r.remaining() {
        return Err(r.problem(
            count_at,
            &header,
            format!(
                "number of task states {num_tasks} does not fit the {} remaining bytes ({MIN_TASK_LEN} bytes at least each)",
                r.remaining()
            ),
        ));
    }
    let mut tasks: Vec<TaskEntry> = Vec::with_capacity(num_tasks as usize);
    for position in 0..num_tasks as usize {
        let later_tasks = (num_tasks as usize - position - 1) as u64 * MIN_TASK_LEN;
        let task = read_task(&mut r, position, later_tasks)?;
        if let Some(first) = tasks.iter().find(|t| t.vertex == task.vertex) {
            return Err(r.problem(
                task.offset,
                &task.location(),
                format!(
                    "vertex {} appears twice (also task {})",
                    task.vertex, first.position
                ),
            ));
        }
        tasks.push(task);
    }
    if r.pos != r.len {
        return Err(r.problem(
            r.pos,
            &header,
            format!("{} trailing bytes after the last task state", r.len - r.pos),
        ));
    }
    Ok((checkpoint_id, tasks))
}

/// One task state; `later_tasks` is the minimum size of the task states after it.
fn read_task(r: &mut Framing, position: usize, later_tasks: u64) -> Result<TaskEntry> {
    let offset = r.pos;
    // The vertex is not known yet: name the task by position.
    let loc = Location {
        field: format!("task {position}"),
        ..Location::default()
    };
    let vertex = VertexId(r.bytes::<16>("job vertex id", &loc)?);
    let loc = Location::task(position, vertex);
    let par_at = r.pos;
    let parallelism = r.i32("parallelism", &loc)?;
    if parallelism < 1 {
        return Err(r.problem(
            par_at,
            &loc,
            format!("parallelism {parallelism} is not positive"),
        ));
    }
    let parallelism = parallelism as u32;
    let count_at = r.pos;
    let count = r.i32("number of subtask states", &loc)?;
    let fits = count >= 0 && (count as u64 * MIN_SUBTASK_LEN + 4 + later_tasks) <= r.remaining();
    if !fits {
        return Err(r.problem(
            count_at,
            &loc,
            format!(
                "number of subtask states {count} does not fit the {} remaining bytes ({MIN_SUBTASK_LEN} bytes at least each)",
                r.remaining()
            ),
        ));
    }
    if count as u64 > parallelism as u64 {
        return Err(r.problem(
            count_at,
            &loc,
            format!("{count} subtask states for parallelism {parallelism}"),
        ));
    }
    let mut subtasks = Vec::with_capacity(count as usize);
    let mut seen = HashSet::new();
    for entry in 0..count as usize {
        let later = (count as usize - entry - 1) as u64 * MIN_SUBTASK_LEN + 4 + later_tasks;
        let s = read_subtask(r, &loc, entry, parallelism, later)?;
        if !seen.insert(s.index) {
            let mut at = loc.clone();
            at.entry = Some(entry);
            at.subtask = Some(s.index);
            return Err(r.problem(s.offset, &at, "duplicate subtask index".into()));
        }
        subtasks.push(s);
    }
    let kv_at = r.pos;
    let kv = r.i32("number of key-group states", &loc)?;
    if kv != 0 {
        return Err(r.problem(
            kv_at,
            &loc,
            format!(
                "number of key-group (kv) states is {kv}: Flink 1.1 always writes 0, and its writer and readers disagree on the layout of these entries (legacy-formats.md §1.4)"
            ),
        ));
    }
    Ok(TaskEntry {
        position,
        offset,
        vertex,
        parallelism,
        subtasks,
    })
}

fn read_subtask(
    r: &mut Framing,
    task: &Location,
    entry: usize,
    parallelism: u32,
    later: u64,
) -> Result<SubtaskEntry> {
    let mut loc = task.clone();
    loc.entry = Some(entry);
    let offset = r.pos;
    let index = r.i32("subtask index", &loc)?;
    if index < 0 || index as u32 >= parallelism {
        return Err(r.problem(
            offset,
            &loc,
            format!("subtask index {index} is outside [0, {parallelism})"),
        ));
    }
    let index = index as u32;
    loc.subtask = Some(index);
    let len_at = r.pos;
    let length = r.i32("blob length", &loc)?;
    // The blob is followed by stateSize and duration, then whatever the later entries need.
    let room = r.remaining().saturating_sub(16 + later);
    let blob = match length {
        -1 => None,
        n if n < -1 => {
            return Err(r.problem(
                len_at,
                &loc,
                format!("negative blob length {n} (only -1, null, is allowed)"),
            ));
        }
        n if n as u64 > room => {
            return Err(r.problem(
                len_at,
                &loc,
                format!("blob length {n} runs past the end of the file ({room} bytes available)"),
            ));
        }
        n => {
            let span = Span::new(r.pos, n as u64);
            r.pos += n as u64;
            Some(span)
        }
    };
    let state_size = r.i64("state size", &loc)?;
    let duration = r.i64("duration", &loc)?;
    Ok(SubtaskEntry {
        index,
        offset,
        blob,
        state_size,
        duration,
    })
}

/// Reads big-endian framing fields one small `read_at` at a time.
/// Forward reader of the framing. A subtask's trailing fields and the next subtask's
/// header are adjacent, so a small read-ahead window serves them with one `pread` per
/// subtask; a blob is skipped by moving `pos` past it, never read.
struct Framing<'s> {
    src: &'s dyn Source,
    pos: u64,
    len: u64,
    window: [u8; WINDOW],
    window_start: u64,
    window_len: usize,
}

/// Bytes read ahead: a subtask's stateSize, duration and the next entry's index and
/// length (24 bytes), or a task header, fit.
const WINDOW: usize = 64;

impl<'s> Framing<'s> {
    fn new(src: &'s dyn Source) -> Self {
        Framing {
            src,
            pos: 0,
            len: src.len(),
            window: [0; WINDOW],
            window_start: 0,
            window_len: 0,
        }
    }

    fn remaining(&self) -> u64 {
        self.len.saturating_sub(self.pos)
    }

    fn problem(&self, offset: u64, loc: &Location, problem: String) -> Error {
        Error::Framing {
            source_name: self.src.name(),
            offset,
            location: Box::new(loc.clone()),
            problem,
        }
    }

    fn bytes<const N: usize>(&mut self, what: &'static str, loc: &Location) -> Result<[u8; N]> {
        if (N as u64) > self.remaining() {
            return Err(self.problem(
                self.pos,
                loc,
                format!(
                    "truncated {what}: needs {N} bytes, {} remain",
                    self.remaining()
                ),
            ));
        }
        let in_window = self.pos >= self.window_start
            && self.pos + N as u64 <= self.window_start + self.window_len as u64;
        if !in_window {
            let n = (self.remaining().min(WINDOW as u64) as usize).max(N);
            self.src
                .read_at(self.pos, &mut self.window[..n])
                .map_err(|error| Error::Io {
                    source_name: self.src.name(),
                    offset: self.pos,
                    what,
                    error,
                })?;
            self.window_start = self.pos;
            self.window_len = n;
        }
        let at = (self.pos - self.window_start) as usize;
        let mut buf = [0u8; N];
        buf.copy_from_slice(&self.window[at..at + N]);
        self.pos += N as u64;
        Ok(buf)
    }

    fn u32(&mut self, what: &'static str, loc: &Location) -> Result<u32> {
        self.bytes::<4>(what, loc).map(u32::from_be_bytes)
    }
    fn i32(&mut self, what: &'static str, loc: &Location) -> Result<i32> {
        self.bytes::<4>(what, loc).map(i32::from_be_bytes)
    }
    fn i64(&mut self, what: &'static str, loc: &Location) -> Result<i64> {
        self.bytes::<8>(what, loc).map(i64::from_be_bytes)
    }
}

#[cfg(test)]
#[path = "index_tests.rs"]
pub(crate) mod tests;
