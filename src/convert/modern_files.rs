//! The files a Flink ≥ 1.13 restores (docs/modern-formats.md §4): keyed state as keyed
//! proxy v6 + serializer snapshots + the canonical savepoint layout (the RocksDB full
//! snapshot layout, which every modern backend restores), and `Checkpointed` function
//! state as operator proxy v5 `_default_` + the 1.1 bytes verbatim.

use super::FileKind;
use super::error::{Error, FileLocation, SerializerError, needs_key_serializer};
use super::heap_reframe::heap_records;
use super::native_files::rocks_records;
use super::operators::Operator;
use super::snapshots::{self, Role, snapshot_of_stream};
use super::subtask::{
    Cx, FileResult, Keyed, KeyedInfo, KeyedSource, handle_classes, kv_classes, not_migratable,
};
use super::timers::with_timers;
use super::{native, rocks};
use crate::modern::proxy::{self, Distribution, KeyedStateMeta, KeyedStateType};
use crate::modern::snapshot::{JAVA_SERIALIZER, Snapshot};
use crate::stream::Piece;
use crate::v0::{StateHandle, StateKind};

/// The state kind a modern header names for a 1.1 state.
fn state_type(kind: StateKind) -> KeyedStateType {
    match kind {
        StateKind::Value => KeyedStateType::Value,
        StateKind::Reducing => KeyedStateType::Reducing,
        StateKind::List => KeyedStateType::List,
        // Flink >= 1.14 has no folding state: the fold's accumulator is carried as an
        // aggregating state's (README: the job registers an AggregatingStateDescriptor).
        StateKind::Folding => KeyedStateType::Aggregating,
    }
}

impl Cx<'_> {
    /// The key snapshot: the 1.1 one, or the restoring job's key type from
    /// `--key-serializer` where its bytes and key groups are the same.
    fn key_snapshot(
        &self,
        recorded: Option<Snapshot>,
        loc: &FileLocation,
    ) -> Result<Snapshot, Error> {
        let fail = not_migratable(loc);
        let named = match &self.opts.key_serializer {
            Some(s) => Some(
                snapshot_of_stream(s, "--key-serializer", Role::Key)
                    .map_err(Error::serializer(loc, ""))?,
            ),
            None => None,
        };
        match (recorded, named) {
            (Some(r), None) => Ok(r),
            (None, Some(n)) => Ok(n),
            (Some(r), Some(n)) if snapshots::same_key_bytes(&r, &n) => Ok(n),
            (Some(r), Some(n)) => Err(fail(format!(
                "--key-serializer {} would re-type keys written by {}, which changes their bytes or key groups",
                n.describe(),
                r.describe()
            ))),
            (None, None) => Err(needs_key_serializer(loc)),
        }
    }

    /// Proxy v6 + canonical savepoint layout for the head operator's keyed state (and
    /// a WindowOperator's timers, which modern Flink keeps in the keyed backend).
    pub(super) fn managed_keyed_state_v6(
        &self,
        operators: &[Option<Operator>],
    ) -> Option<FileResult> {
        let mut info = None;
        let file = self.keyed_file(FileKind::ManagedKeyedStateV6, |k, loc| {
            let timers =
                operators.get(k.entry.index).copied().flatten() == Some(Operator::WindowWithTimers);
            let built = match k.rocks {
                Some(h) => self.rocks_v6(h, k, timers, loc, &mut info),
                None => self.heap_v6(k, timers, loc, &mut info),
            };
            let handle = format!(
                "key group {} of {} in the canonical savepoint layout",
                k.key_group,
                kv_classes(k.entry)
            );
            (built, handle)
        });
        file.map(|f| {
            f.map(|mut f| {
                f.keyed = info.map(std::sync::Arc::new);
                f
            })
        })
    }

    fn heap_v6(
        &self,
        k: &KeyedSource<'_>,
        timers: bool,
        loc: &FileLocation,
        info: &mut Option<KeyedInfo>,
    ) -> Keyed {
        let (entry, key_group) = (k.entry, k.key_group);
        let fail = not_migratable(loc);
        let heaps = native::heap_states(entry).map_err(Error::header(loc))?;
        let graph = &self.model.graph;
        let first = heaps[0].1;
        let recorded = snapshots::snapshot_of(graph, first.key_serializer, Role::Key)
            .map_err(Error::serializer(loc, "key serializer"))?;
        let key = self.key_snapshot(Some(recorded), loc)?;
        let mut metas = Vec::with_capacity(heaps.len());
        let mut states = Vec::with_capacity(heaps.len());
        for (name, h) in &heaps {
            let of = |node, role, what: &str| {
                snapshots::snapshot_of(graph, node, role).map_err(Error::serializer(
                    loc,
                    format!("state {name:?}: {what} serializer"),
                ))
            };
            // A list state's serializer is 1.1's `ArrayListSerializer(element)`; the
            // header names Flink's `ListSerializer` of the element.
            let value = match h.kind {
                StateKind::List => {
                    let element =
                        snapshots::list_element(graph, h.state_serializer).ok_or_else(|| {
                            fail(format!(
                                "list state {name:?} without its element serializer"
                            ))
                        })?;
                    snapshots::list_state_snapshot(of(element, Role::Value, "list element")?)
                }
                _ => of(h.state_serializer, Role::Value, "value")?,
            };
            metas.push(KeyedStateMeta {
                name: name.to_string(),
                kind: state_type(h.kind),
                value,
                namespace: of(h.namespace_serializer, Role::Namespace, "namespace")?,
            });
            states.push(self.heap_state_data(name, h, "the canonical layout", loc)?);
        }
        let timers = match timers {
            true => self.timers_v6(entry, &key, &mut metas, key_group, None, loc)?,
            false => None,
        };
        let header = proxy::keyed_header(&key, &metas).map_err(Error::format(loc))?;
        let key_codec = states[0].key.clone();
        let records = heap_records(states, key_group, self.parallelism).map_err(fail)?;
        *info = Some(KeyedInfo {
            key,
            key_codec: Ok(key_codec),
            states: metas,
            max_parallelism: self.parallelism,
        });
        let body = with_timers(records.into_iter().collect(), timers).map_err(fail)?;
        Ok((!body.is_empty()).then_some((header, body)))
    }

    fn rocks_v6(
        &self,
        state_handle: &StateHandle,
        k: &KeyedSource<'_>,
        timers: bool,
        loc: &FileLocation,
        info: &mut Option<KeyedInfo>,
    ) -> Keyed {
        let key_group = k.key_group;
        let fail = not_migratable(loc);
        let key = self.key_snapshot(None, loc)?;
        let key_codec = match &self.opts.key_serializer {
            Some(s) => super::keys::codec_of_stream(s),
            None => Err(SerializerError::malformed("--key-serializer", "not given")),
        };
        let Some(snapshot) = self.rocks_snapshot(state_handle, key_codec.as_ref().ok(), loc)?
        else {
            return Ok(None);
        };
        let mut metas = Vec::with_capacity(snapshot.columns.len());
        for c in &snapshot.columns {
            let kind = match c.type_ordinal {
                1 => StateKind::Value,
                2 => StateKind::List,
                3 => StateKind::Reducing,
                4 => StateKind::Folding,
                t => return Err(fail(format!("state {:?}: unknown state type {t}", c.name))),
            };
            let what = format!("state {:?}: value serializer", c.name);
            // A list state's descriptor names the element serializer; its values are
            // already delimited element lists, as the canonical layout holds them.
            let value = snapshot_of_stream(&c.value_serializer, &what, Role::Value)
                .map_err(Error::serializer(loc, ""))?;
            let value = match kind {
                StateKind::List => snapshots::list_state_snapshot(value),
                _ => value,
            };
            metas.push(KeyedStateMeta {
                name: c.name.clone(),
                kind: state_type(kind),
                value,
                namespace: Snapshot::of_singleton(match c.namespace {
                    rocks::ColumnNamespace::Void => {
                        crate::modern::snapshot::VOID_NAMESPACE_SERIALIZER
                    }
                    rocks::ColumnNamespace::TimeWindow => crate::classnames::TIME_WINDOW_SERIALIZER,
                    rocks::ColumnNamespace::GlobalWindow => {
                        crate::classnames::GLOBAL_WINDOW_SERIALIZER
                    }
                })
                .ok_or_else(|| fail("no namespace serializer snapshot".into()))?,
            });
        }
        // The pass over the database above found the window namespace.
        let window = (snapshot.columns.iter())
            .find(|c| c.name == crate::v0::operators::WINDOW_CONTENTS)
            .map(|c| c.namespace);
        let timers = match timers {
            true => self.timers_v6(k.entry, &key, &mut metas, key_group, window, loc)?,
            false => None,
        };
        let header = proxy::keyed_header(&key, &metas).map_err(Error::format(loc))?;
        *info = Some(KeyedInfo {
            key,
            key_codec,
            states: metas,
            max_parallelism: self.parallelism,
        });
        let records = rocks_records(snapshot, key_group, self.parallelism, loc)?;
        Ok(Some((
            header,
            with_timers(vec![records], timers).map_err(fail)?,
        )))
    }

    /// Operator proxy v5 `_default_` + the function state's Java stream verbatim.
    pub(super) fn managed_operator_state_v5(&self, chain: usize, h: &StateHandle) -> FileResult {
        let loc = self.location(Some(chain), FileKind::ManagedOperatorStateV5);
        let fail = not_migratable(&loc);
        let java = Snapshot::of_singleton(JAVA_SERIALIZER)
            .ok_or_else(|| fail("no JavaSerializer snapshot".into()))?;
        let header = proxy::operator_header(
            native::DEFAULT_OPERATOR_STATE,
            Distribution::SplitDistribute,
            &java,
        )
        .map_err(Error::format(&loc))?;
        let offset = header.len() as u64;
        let element = self.handle_piece(h, &loc)?;
        let handle = format!("ListCheckpointed({})", handle_classes(h));
        Ok(self.file(loc, handle, vec![Piece::bytes(header), element], offset))
    }
}
