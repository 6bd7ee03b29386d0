//! RocksDB records as heap state (native-formats.md §7.3.4); the other way, heap entries as
//! RocksDB records, is `heap_reframe.rs`. Possible only where no state is list state:
//! a RocksDB list value (elements joined by a delimiter) has no heap form. The bulk
//! bytes (keys, values) stay ranges of the source; the per-entry framing is generated,
//! so memory grows with the number of entries.

use super::rocks::RocksSnapshot;
use crate::stream::Piece;

/// The heap body (from the key-group int on) built from RocksDB records: per state,
/// `short j, 01, int 1, 00 (Void namespace), int n, n × (K, V)`, or `short j, 00`.
pub fn rocks_to_heap(snap: &RocksSnapshot, key_group: u32) -> Result<Vec<Piece>, String> {
    if let Some(c) = snap.columns.iter().find(|c| c.type_ordinal == 2) {
        return Err(format!(
            "state {:?} is list state: RocksDB keeps its elements joined by a delimiter, which has no heap form",
            c.name
        ));
    }
    let counts = snap.counts();
    let source = snap.source().clone();
    let mut per_state: Vec<Vec<Piece>> = vec![Vec::new(); snap.columns.len()];
    snap.for_each_record(|r| {
        per_state[r.column as usize].push(Piece::range(source.clone(), r.key));
        per_state[r.column as usize].push(Piece::range(source.clone(), r.value));
        Ok(())
    })
    .map_err(|e| format!("RocksDB snapshot: {e}"))?;
    let mut pieces = vec![Piece::bytes((key_group as i32).to_be_bytes().to_vec())];
    for (j, (records, count)) in per_state.into_iter().zip(counts).enumerate() {
        let mut head = (j as i16).to_be_bytes().to_vec();
        if count == 0 {
            head.push(0);
            pieces.push(Piece::bytes(head));
            continue;
        }
        let n = i32::try_from(count).map_err(|_| format!("{count} entries in one state"))?;
        head.push(1);
        head.extend_from_slice(&1i32.to_be_bytes());
        head.push(0); // the Void namespace
        head.extend_from_slice(&n.to_be_bytes());
        pieces.push(Piece::bytes(head));
        pieces.extend(records);
    }
    Ok(pieces)
}
