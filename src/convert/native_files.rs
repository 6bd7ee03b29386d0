//! The native keyed stream a Flink 1.2-1.10 restores (`managed-keyed-state`,
//! native-formats.md §7.3): the head operator's keyed state as one key-group stream in
//! the heap or the RocksDB layout, from heap or RocksDB snapshots.

use super::error::{Error, FileLocation};
use super::heap_reframe::{HeapStateData, heap_records};
use super::subtask::{Cx, FileResult, Keyed, KeyedLayout, kv_classes, not_migratable};
use super::{FileKind, keys, native, relayout, rocks};
use crate::source::{Source, Span};
use crate::stream::Piece;
use crate::v0::{ChainEntry, HeapSnapshot, StateHandle, StateKind};
use std::sync::Arc;

impl Cx<'_> {
    /// Native: the head operator's keyed state as one key-group stream (§7.3), in the
    /// source's layout or, where keys and values can be measured, the other one.
    pub(super) fn managed_keyed_state(&self) -> Option<FileResult> {
        self.keyed_file(FileKind::ManagedKeyedState, |k, loc| {
            let source_layout = if k.rocks.is_some() {
                KeyedLayout::RocksDb
            } else {
                KeyedLayout::Heap
            };
            let layout = self.opts.keyed_layout.unwrap_or(source_layout);
            let built = match k.rocks {
                Some(h) => self.rocks_keyed(h, k.key_group, layout, loc),
                None => self.heap_keyed(k.entry, k.key_group, layout, loc),
            };
            let handle = format!(
                "key group {} of {} in the {} layout",
                k.key_group,
                kv_classes(k.entry),
                layout.name()
            );
            (built, handle)
        })
    }

    /// Header and body from heap snapshots.
    fn heap_keyed(
        &self,
        entry: &ChainEntry,
        key_group: u32,
        layout: KeyedLayout,
        loc: &FileLocation,
    ) -> Keyed {
        let fail = not_migratable(loc);
        let heaps = native::heap_states(entry).map_err(Error::header(loc))?;
        let header = native::heap_header(&self.model.graph, &heaps).map_err(Error::header(loc))?;
        if layout == KeyedLayout::Heap {
            let data_piece = |h: &HeapSnapshot| -> Result<(Piece, i32), Error> {
                // An evicting window's records gain their tags (records.rs); what cannot
                // be measured to tag them is refused, never written untagged.
                let piece = if super::records::holds_records(&self.model.graph, h) {
                    let state =
                        self.heap_state_data(&h.state_name, h, "re-framing records", loc)?;
                    let data = super::records::tagged_heap_data(&state)
                        .map_err(|e| fail(format!("state {:?}: {e}", h.state_name)))?;
                    Piece::bytes(data)
                } else {
                    self.bytes_piece(h.data.clone(), loc)?
                };
                let namespaces = native::first_int(&piece).map_err(|e| {
                    fail(format!(
                        "state {:?}: cannot read its namespace count: {e}",
                        h.state_name
                    ))
                })?;
                Ok((piece, namespaces))
            };
            return Ok(Some((
                header,
                native::heap_body(&heaps, key_group, &data_piece)?,
            )));
        }
        // The RocksDB body is the canonical records' framing: re-framed on read, with
        // memory bounded by checkpoints, not entries (heap_reframe.rs).
        let mut states = Vec::with_capacity(heaps.len());
        for (name, h) in &heaps {
            states.push(self.heap_state_data(name, h, "the RocksDB layout", loc)?);
        }
        let records = heap_records(states, key_group, self.parallelism).map_err(fail)?;
        Ok(records.map(|r| (header, vec![r])))
    }

    /// A heap state's data with its codecs, for re-framing as records in `layout`; a
    /// list state's values become delimited element lists, as RocksDB-style layouts
    /// hold them.
    pub(super) fn heap_state_data(
        &self,
        name: &str,
        h: &HeapSnapshot,
        layout: &str,
        loc: &FileLocation,
    ) -> Result<HeapStateData, Error> {
        let graph = &self.model.graph;
        let codec = |node| {
            keys::Codec::of(graph, node).map_err(|s| not_migratable(loc)(format!(
                "state {name:?}: {layout} needs every key, namespace and value measured, and {s} cannot be read"
            )))
        };
        let value = codec(h.state_serializer)?;
        let list = match (&h.kind, &value) {
            (StateKind::List, keys::Codec::List(element)) => Some((**element).clone()),
            (StateKind::List, _) => {
                let class = graph
                    .class_name_of(h.state_serializer)
                    .map(|n| n.lossy())
                    .unwrap_or_default();
                return Err(not_migratable(loc)(format!(
                    "list state {name:?} whose serializer is {class}, not an ArrayListSerializer"
                )));
            }
            _ => None,
        };
        let (source, span) = self.bytes_range(h.data.clone(), loc)?;
        Ok(HeapStateData {
            source,
            span,
            key: codec(h.key_serializer)?,
            namespace: codec(h.namespace_serializer)?,
            value,
            list,
        })
    }

    /// A RocksDB fully-async snapshot, indexed (keys measured with `codec` where given) and
    /// with the user's namespace declarations applied; `None` without records.
    pub(super) fn rocks_snapshot(
        &self,
        state_handle: &StateHandle,
        codec: Option<&keys::Codec>,
        loc: &FileLocation,
    ) -> Result<Option<rocks::RocksSnapshot>, Error> {
        let fail = not_migratable(loc);
        let (source, span) = self.bytes_range(state_handle.bytes(), loc)?;
        let mut snapshot = rocks::RocksSnapshot::open_keyed(source, span, codec)
            .map_err(|e| fail(format!("RocksDB snapshot: {e}")))?;
        snapshot
            .declare(&self.opts.rocksdb_namespaces)
            .map_err(&fail)?;
        // An evicting window's records would need a tag each, which this path does not add.
        let record = crate::classnames::STREAM_RECORD_SERIALIZER.as_bytes();
        if let Some(c) = (snapshot.columns.iter()).find(|c| {
            c.value_serializer
                .windows(record.len())
                .any(|w| w == record)
        }) {
            return Err(fail(format!(
                "state {:?} holds Flink 1.1 stream records (an evicting window's contents) in a RocksDB snapshot; re-framing them for Flink 1.2+ is done for heap snapshots only",
                c.name
            )));
        }
        Ok((!snapshot.is_empty()).then_some(snapshot))
    }

    /// Header and body from a RocksDB fully-async snapshot; `None` without records
    /// (Flink skips a key group at offset 0, so a subtask without records gets no handle).
    fn rocks_keyed(
        &self,
        state_handle: &StateHandle,
        key_group: u32,
        layout: KeyedLayout,
        loc: &FileLocation,
    ) -> Keyed {
        let fail = not_migratable(loc);
        let Some(key_serializer) = &self.opts.key_serializer else {
            return Err(super::error::needs_key_serializer(loc));
        };
        let codec = keys::codec_of_stream(key_serializer).ok();
        let Some(snapshot) = self.rocks_snapshot(state_handle, codec.as_ref(), loc)? else {
            return Ok(None);
        };
        let header = snapshot
            .header(key_serializer, layout == KeyedLayout::Heap)
            .map_err(Error::header(loc))?;
        if layout == KeyedLayout::Heap {
            return Ok(Some((
                header,
                relayout::rocks_to_heap(&snapshot, key_group, &list_elements(&snapshot))
                    .map_err(fail)?,
            )));
        }
        Ok(Some((
            header,
            vec![rocks_records(snapshot, key_group, self.parallelism, loc)?],
        )))
    }
}

/// A RocksDB snapshot's records re-encoded as key group `key_group` (on read), with
/// max parallelism = the task's parallelism (every key of 1.1 subtask i is in group i).
pub(super) fn rocks_records(
    snapshot: rocks::RocksSnapshot,
    key_group: u32,
    parallelism: u32,
    loc: &FileLocation,
) -> Result<Piece, Error> {
    let region = Arc::new(snapshot)
        .key_group_region(key_group, parallelism)
        .map_err(not_migratable(loc))?;
    let len = region.len();
    Ok(Piece::range(region, Span::new(0, len)))
}

/// The element codec of each list state of a RocksDB snapshot (its descriptor's
/// serializer), `None` for other states and for elements that cannot be measured.
fn list_elements(snapshot: &rocks::RocksSnapshot) -> Vec<Option<keys::Codec>> {
    snapshot
        .columns
        .iter()
        .map(|c| {
            (c.type_ordinal == 2)
                .then(|| keys::codec_of_stream(&c.value_serializer).ok())
                .flatten()
        })
        .collect()
}
