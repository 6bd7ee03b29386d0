//! RocksDB records as heap state (native-formats.md §7.3.4); the other way, heap entries as
//! RocksDB records, is `heap_reframe.rs`. The bulk bytes (keys, values, list elements)
//! stay ranges of the source; the per-entry framing is generated, so memory grows with
//! the number of entries. A RocksDB list value (elements joined by the merge operator's
//! `,`) is split with its element serializer and framed as the heap's `int n` + elements;
//! window namespaces are grouped as the heap snapshot groups them.

use super::keys::Codec;
use super::rocks::RocksSnapshot;
use crate::source::{Source, Span};
use crate::stream::Piece;
use crate::v0::rocksdb::LIST_DELIMITER;
use std::collections::HashMap;
use std::sync::Arc;

/// A list value larger than this is refused rather than read whole to be split.
const MAX_LIST_VALUE: u64 = 64 << 20;

/// One state's entries of one namespace, in record order.
struct NamespaceEntries {
    namespace: Vec<u8>,
    count: u64,
    pieces: Vec<Piece>,
}

/// The heap body (from the key-group int on) built from RocksDB records: per state,
/// `short j, 01, int namespaces`, per namespace its bytes, `int n` and n × (K, V); or
/// `short j, 00` without entries. `elements[j]` is list state `j`'s element codec.
pub fn rocks_to_heap(
    snap: &RocksSnapshot,
    key_group: u32,
    elements: &[Option<Codec>],
) -> Result<Vec<Piece>, String> {
    for (j, c) in snap.columns.iter().enumerate() {
        if c.type_ordinal == 2 && elements.get(j).is_none_or(Option::is_none) {
            return Err(format!(
                "state {:?} is list state whose element serializer cannot be measured, so its RocksDB values (elements joined by a delimiter) have no heap form",
                c.name
            ));
        }
    }
    let source = snap.source().clone();
    let mut per_state: Vec<Vec<NamespaceEntries>> =
        snap.columns.iter().map(|_| Vec::new()).collect();
    let mut where_ns: Vec<HashMap<Vec<u8>, usize>> = vec![HashMap::new(); snap.columns.len()];
    let mut ns = Vec::new();
    snap.for_each_record(|r| {
        let column = r.column as usize;
        let ns_len = snap.columns[column].namespace.byte_len();
        ns.resize(ns_len, 0);
        // K ‖ 2A ‖ NS: the namespace follows the key and its separator.
        source.read_at(r.key.end() + 1, &mut ns)?;
        let groups = &mut per_state[column];
        let at = *where_ns[column].entry(ns.clone()).or_insert_with(|| {
            groups.push(NamespaceEntries {
                namespace: ns.clone(),
                count: 0,
                pieces: Vec::new(),
            });
            groups.len() - 1
        });
        let group = &mut groups[at];
        group.count += 1;
        group.pieces.push(Piece::range(source.clone(), r.key));
        match elements.get(column) {
            Some(Some(codec)) if snap.columns[column].type_ordinal == 2 => {
                split_list(&source, r.value, codec, &mut group.pieces)?
            }
            _ => group.pieces.push(Piece::range(source.clone(), r.value)),
        }
        Ok(())
    })
    .map_err(|e| format!("RocksDB snapshot: {e}"))?;
    let mut pieces = vec![Piece::bytes((key_group as i32).to_be_bytes().to_vec())];
    for (j, groups) in per_state.into_iter().enumerate() {
        let mut head = (j as i16).to_be_bytes().to_vec();
        if groups.is_empty() {
            head.push(0);
            pieces.push(Piece::bytes(head));
            continue;
        }
        head.push(1);
        head.extend_from_slice(&count_i32(groups.len() as u64)?.to_be_bytes());
        pieces.push(Piece::bytes(head));
        for g in groups {
            let mut head = g.namespace;
            head.extend_from_slice(&count_i32(g.count)?.to_be_bytes());
            pieces.push(Piece::bytes(head));
            pieces.extend(g.pieces);
        }
    }
    Ok(pieces)
}

fn count_i32(n: u64) -> Result<i32, String> {
    i32::try_from(n).map_err(|_| format!("{n} entries in one state"))
}

/// A RocksDB list value `e1 , e2 , … en` as `int n` and the elements' ranges.
fn split_list(
    source: &Arc<dyn Source>,
    value: Span,
    element: &Codec,
    out: &mut Vec<Piece>,
) -> std::io::Result<()> {
    let bad = |what: String| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "{}: offset {}: list value: {what}",
                source.name(),
                value.start
            ),
        )
    };
    if value.len > MAX_LIST_VALUE {
        return Err(bad(format!(
            "{} bytes (at most {MAX_LIST_VALUE} are split into heap elements)",
            value.len
        )));
    }
    let mut bytes = vec![0u8; value.len as usize];
    source.read_at(value.start, &mut bytes)?;
    let mut spans = Vec::new();
    let mut rest: &[u8] = &bytes;
    while !rest.is_empty() {
        let before = rest.len();
        element
            .read(&mut rest)
            .map_err(|e| bad(format!("element {}: {e}", spans.len())))?;
        let start = value.start + (bytes.len() - before) as u64;
        spans.push(Span::new(start, (before - rest.len()) as u64));
        match rest {
            [] => {}
            [LIST_DELIMITER, more @ ..] if !more.is_empty() => rest = more,
            _ => {
                return Err(bad(format!(
                    "element {} is not followed by the `,` delimiter",
                    spans.len() - 1
                )));
            }
        }
    }
    let n = i32::try_from(spans.len()).map_err(|_| bad("too many elements".into()))?;
    out.push(Piece::bytes(n.to_be_bytes().to_vec()));
    out.extend(spans.into_iter().map(|s| Piece::range(source.clone(), s)));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::MemSource;

    fn split(value: &[u8]) -> std::io::Result<Vec<u8>> {
        let source: Arc<dyn Source> = Arc::new(MemSource::new("v", value.to_vec()));
        let mut pieces = Vec::new();
        split_list(
            &source,
            Span::new(0, value.len() as u64),
            &Codec::Long,
            &mut pieces,
        )?;
        let stream = crate::stream::MultiStream::new("heap", pieces);
        let mut out = vec![0u8; stream.len() as usize];
        stream.read_at(0, &mut out)?;
        Ok(out)
    }

    /// `e1 , e2` becomes `int 2, e1, e2`; a missing or trailing delimiter and a cut
    /// element are errors naming the offset.
    #[test]
    fn list_values_are_split_at_their_delimiters() {
        let (a, b) = (7i64.to_be_bytes(), (-1i64).to_be_bytes());
        let value = [&a[..], &[LIST_DELIMITER], &b[..]].concat();
        assert_eq!(
            split(&value).unwrap(),
            [&2i32.to_be_bytes()[..], &a, &b].concat()
        );
        assert_eq!(split(&a).unwrap(), [&1i32.to_be_bytes()[..], &a].concat());
        for (bad, why) in [
            (
                [&a[..], b";", &b[..]].concat(),
                "element 0 is not followed by the `,` delimiter",
            ),
            (
                [&a[..], &[LIST_DELIMITER]].concat(),
                "element 0 is not followed",
            ),
            (a[..5].to_vec(), "element 0:"),
        ] {
            let e = split(&bad).unwrap_err().to_string();
            assert!(
                e.contains(why) && e.contains("v: offset 0: list value"),
                "{e}"
            );
        }
    }
}
