//! ContinuousFileMonitoringFunction (operators.md §6): Flink 1.1 kept its global
//! modification time as `Checkpointed<Long>` function state, a bare `java.lang.Long`
//! that nothing tells apart from a user's `Long`, so only `--operator
//! VERTEX/chain-K=monitoring-function` says it is one. Flink 1.2+ restores it from its own
//! list state `file-monitoring-state` (`LongSerializer`, at most one element); through
//! `_default_`, as the generic recipe writes it, the function would start from nothing
//! and read every file again.

use super::FileKind;
use super::error::{Error, HeaderError};
use super::native;
use super::subtask::{Cx, FileResult, handle_classes, not_migratable};
use crate::javaser::Value;
use crate::modern::Utf;
use crate::modern::proxy::{self, Distribution};
use crate::modern::snapshot::Snapshot;
use crate::stream::Piece;
use crate::v0::StateHandle;

/// The function's list state in Flink 1.2+.
pub const MONITORING_STATE: &str = "file-monitoring-state";

/// The version-1 operator proxy for one SPLIT_DISTRIBUTE list state with a
/// Java-serialized `LongSerializer` and one element (operators.md §2.4: 260 bytes, as
/// Flink 1.2 wrote it).
fn native_header() -> Result<Vec<u8>, HeaderError> {
    let mut h = Vec::with_capacity(264);
    h.extend_from_slice(&1i32.to_be_bytes());
    h.extend_from_slice(&1i16.to_be_bytes());
    h.put_utf(MONITORING_STATE)?;
    h.push(0); // SPLIT_DISTRIBUTE
    h.extend_from_slice(&native::singleton_stream(
        &crate::v0::classes::LONG_SERIALIZER,
    )?);
    h.extend_from_slice(&1i32.to_be_bytes());
    Ok(h)
}

impl Cx<'_> {
    /// The function's modification time as `file-monitoring-state`, for a file of
    /// `kind` (the native operator proxy, or proxy v5 with a `LongSerializer` snapshot).
    pub(super) fn monitoring_state(
        &self,
        chain: usize,
        h: &StateHandle,
        kind: FileKind,
    ) -> FileResult {
        let loc = self.location(Some(chain), kind);
        let fail = not_migratable(&loc);
        const WHAT: &str = "ContinuousFileMonitoringFunction state";
        let (graph, place) = self.java_state(h, WHAT, &loc)?;
        let not_long = |what: String| {
            fail(format!(
                "{WHAT}: {what} in {place}, where its modification time (a java.lang.Long) should be"
            ))
        };
        let root = graph
            .roots()
            .next()
            .ok_or_else(|| not_long("an empty stream".into()))?;
        let time = match graph.object(root) {
            Ok(Some(o)) if o.is_a("java.lang.Long") => match o.boxed() {
                Ok(Value::Long(t)) => t,
                other => return Err(not_long(format!("a Long holding {other:?}"))),
            },
            Ok(Some(o)) => return Err(not_long(format!("a {}", o.class_name().lossy()))),
            Ok(None) => return Err(not_long("null".into())),
            Err(e) => return Err(not_long(e.to_string())),
        };
        let header = match kind {
            FileKind::ManagedOperatorStateV5 => {
                let long = Snapshot::of_singleton(crate::classnames::LONG_SERIALIZER)
                    .ok_or_else(|| fail("no LongSerializer snapshot".into()))?;
                proxy::operator_header(MONITORING_STATE, Distribution::SplitDistribute, &long)
                    .map_err(Error::format(&loc))?
            }
            _ => native_header().map_err(Error::header(&loc))?,
        };
        let offset = header.len() as u64;
        let handle = format!(
            "ContinuousFileMonitoringFunction modification time {time} ({})",
            handle_classes(h)
        );
        let pieces = vec![
            Piece::bytes(header),
            Piece::bytes(time.to_be_bytes().to_vec()),
        ];
        let mut file = self.file(loc, handle, pieces, offset);
        file.list_state = Some(MONITORING_STATE);
        Ok(file)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_native_header_is_flink_1_2s_260_bytes() {
        let h = native_header().unwrap();
        assert_eq!(h.len(), 260, "operators.md §2.4");
        assert_eq!(&h[..8], &[0, 0, 0, 1, 0, 1, 0, 21]);
        assert_eq!(&h[8..29], MONITORING_STATE.as_bytes());
        assert_eq!(&h[h.len() - 4..], &[0, 0, 0, 1], "one element");
    }
}
